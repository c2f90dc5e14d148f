/**
 * CPU time of the stream taps per MB (issue 14, item 4), measured in-process on the gateway's own
 * tap code: a normal stream (many ~200-byte chunks of small events) and one huge event without any
 * boundary, for each tap. The cost must be linear: the huge event is measured at two sizes, and the
 * per-MB figure of the larger must stay close to the smaller's. `tsx scripts/bench/stream-cpu.ts`
 * prints the figures alone; `npm run bench` puts them in BENCHMARKS.md.
 */
import { createMessagesStreamTap } from '../../worker/formats/anthropic-messages';
import { createChatStreamTap } from '../../worker/formats/openai-chat';
import type { StreamTap } from '../../worker/formats/types';

export interface StreamCpuFigure {
  tap: string;
  /** ms of CPU per MB for a stream of ordinary events. */
  normal_ms_per_mb: number;
  /** ms per MB for one event of `huge_mb` MB arriving in 64 KiB reads. */
  huge_ms_per_mb: number;
  /** ms per MB for one event twice that size (linear: about the same as huge_ms_per_mb). */
  huge2x_ms_per_mb: number;
  huge_mb: number;
}

const encoder = new TextEncoder();

function normalStream(kind: string, mb: number): Uint8Array[] {
  const event =
    kind === 'anthropic'
      ? 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"The quick brown fox jumps over"}}\n\n'
      : `data: {"id":"chatcmpl-B1","object":"chat.completion.chunk","created":1764300000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"The quick brown fox"},"logprobs":null,"finish_reason":null}]${kind === 'openai-strip' ? ',"usage":null' : ''}}\n\n`;
  const bytes = encoder.encode(event);
  return Array.from({ length: Math.ceil((mb * 1024 * 1024) / bytes.length) }, () => bytes.slice());
}

function hugeEvent(mb: number): Uint8Array[] {
  const piece = encoder.encode(`data: {"x":"${'a'.repeat(65_536 - 13)}`);
  const chunks = Array.from({ length: Math.ceil((mb * 1024 * 1024) / piece.length) }, () => piece.slice());
  chunks.push(encoder.encode('"}\n\n'));
  return chunks;
}

const makeTap = (kind: string): StreamTap => (kind === 'anthropic' ? createMessagesStreamTap() : createChatStreamTap(kind === 'openai-strip'));

/**
 * Median ms per MB over `rounds` samples. CPU time is counted by the kernel in ticks of a few
 * milliseconds, about what one pass over an 8 MB event takes: a sample repeats the pass until it
 * has used at least 100 ms, so a tick more or less is noise of a few per cent, not of half.
 */
function msPerMb(kind: string, chunks: Uint8Array[], rounds: number): number {
  const mb = chunks.reduce((n, c) => n + c.length, 0) / (1024 * 1024);
  const runs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // CPU time, not wall time: on a shared machine waiting for a core is not the tap's cost.
    const t0 = process.cpuUsage();
    let passes = 0;
    let usedMs = 0;
    do {
      const tap = makeTap(kind);
      for (const c of chunks) tap.push(c);
      tap.finish();
      passes++;
      const used = process.cpuUsage(t0);
      usedMs = (used.user + used.system) / 1000;
    } while (usedMs < 100);
    runs.push(usedMs / passes / mb);
  }
  runs.sort((a, b) => a - b);
  return runs[Math.floor(runs.length / 2)]!;
}

export function measureStreamCpu(opts: { hugeMb?: number; rounds?: number } = {}): StreamCpuFigure[] {
  const hugeMb = opts.hugeMb ?? 8;
  const rounds = opts.rounds ?? 5;
  // The oversized-event log line would print once per run: keep the benchmark's output readable.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    return ['openai', 'openai-strip', 'anthropic'].map((tap) => {
      msPerMb(tap, normalStream(tap, 2), 3); // warm up the JIT
      msPerMb(tap, hugeEvent(2), 3);
      return {
        tap,
        normal_ms_per_mb: msPerMb(tap, normalStream(tap, 8), rounds),
        huge_ms_per_mb: msPerMb(tap, hugeEvent(hugeMb), rounds),
        huge2x_ms_per_mb: msPerMb(tap, hugeEvent(hugeMb * 2), rounds),
        huge_mb: hugeMb,
      };
    });
  } finally {
    console.warn = warn;
  }
}

if (process.argv[1]?.endsWith('stream-cpu.ts')) {
  for (const f of measureStreamCpu()) {
    console.log(
      `${f.tap.padEnd(13)} normal stream ${f.normal_ms_per_mb.toFixed(2)} ms/MB; one ${f.huge_mb} MB event ${f.huge_ms_per_mb.toFixed(2)} ms/MB, ${f.huge_mb * 2} MB ${f.huge2x_ms_per_mb.toFixed(2)} ms/MB`,
    );
  }
}
