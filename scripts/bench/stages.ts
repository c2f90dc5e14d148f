/**
 * Where the gateway's CPU goes, per request and per pipeline stage, from a V8 CPU profile of the
 * gateway isolate under load (workerd's inspector; `profileGateway` in profile.ts).
 *
 * Each sample is charged to a stage by walking its stack from the leaf towards the root and taking
 * the first frame a rule claims. Frames are told apart by the source file esbuild names above each
 * module in an unminified bundle (`// worker/exchange.ts`) and by function name; shared helpers
 * (zod, hashing, the LRU, logging) claim nothing, so their time goes to the stage that called them.
 * Native frames are named only by function; `fetch` is the upstream call, the others go to their
 * caller. `(garbage collector)` and `(program)` (the runtime outside JavaScript: HTTP parsing,
 * streams, other isolates on the same thread) are reported as they are: no stage can claim them.
 */

export const STAGES = [
  'routing & middleware',
  'body read',
  'parse',
  'validate',
  'key lookup',
  'plan',
  'policy',
  'limits',
  'provider-key decrypt',
  'request build',
  'upstream fetch',
  'response handling',
  'audit event',
  'pipeline glue',
  'garbage collection',
  'runtime (outside JS)',
] as const;
export type Stage = (typeof STAGES)[number];

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface StageRow {
  stage: Stage;
  /** CPU µs per request charged to the stage. */
  us_per_request: number;
  /** Share of the gateway isolate's busy time (idle excluded). */
  pct: number;
}

export interface StageBreakdown {
  requests: number;
  /** Busy (non-idle) CPU µs per request, all stages. */
  busy_us_per_request: number;
  rows: StageRow[];
  /** The heaviest functions by self time, for the next profile reader. */
  top_self: Array<{ name: string; pct: number }>;
  /** The heaviest functions by self time within each stage (µs per request). */
  by_stage: Partial<Record<Stage, Array<{ name: string; us_per_request: number }>>>;
}

/** Source-file rules: the stage a frame of that file belongs to, or null to defer to its caller. */
type Rule = (file: string, fn: string) => Stage | null | undefined;

const RULES: Rule[] = [
  (file, fn) => (file === 'worker/body.ts' ? (fn === 'parseJsonBody' ? 'parse' : 'body read') : undefined),
  (file, fn) => (file === 'worker/pipeline/parse.ts' ? (fn === 'parseRequest' ? 'parse' : 'validate') : undefined),
  (file, fn) => (file === 'lib/models.ts' ? (fn === 'modelNameProblem' ? 'validate' : 'plan') : undefined),
  (file) => (file === 'worker/middleware/key-auth.ts' || file === 'lib/crypto/virtual-key.ts' || file === 'lib/net/cidr.ts' ? 'key lookup' : undefined),
  (file) => (file === 'worker/pipeline/authorize.ts' || file.startsWith('lib/authz/') ? 'policy' : undefined),
  (file) => (file === 'lib/crypto/aes-gcm.ts' ? 'provider-key decrypt' : undefined),
  (file, fn) => {
    if (file !== 'worker/upstream.ts') return undefined;
    if (fn === 'openUpstream') return 'provider-key decrypt';
    if (fn === 'checkCallUrl') return 'request build';
    if (fn === 'upstreamError' || fn === 'redact' || fn === 'upstreamMessage') return 'response handling';
    return 'plan';
  },
  (file) => (file === 'worker/pipeline/plan.ts' || file === 'worker/providers/index.ts' || file === 'worker/translate/index.ts' || file === 'lib/providers/catalog.ts' ? 'plan' : undefined),
  (file) => (file === 'worker/pipeline/reserve.ts' || file.startsWith('worker/limits/') || file === 'lib/limits.ts' ? 'limits' : undefined),
  (file) => (file === 'worker/pipeline/attempts.ts' || file.startsWith('worker/providers/') ? 'request build' : undefined),
  (file, fn) => {
    if (file !== 'worker/exchange.ts') return undefined;
    return fn === 'headers' || fn === 'UpstreamExchange' || fn === 'pause' ? 'upstream fetch' : 'response handling';
  },
  (file) =>
    file === 'worker/pipeline/respond.ts' || file === 'worker/stream.ts' || file.startsWith('worker/formats/') || file === 'worker/redact.ts' || file === 'worker/pipeline/translated-stream.ts'
      ? 'response handling'
      : undefined,
  (file) => (file === 'worker/audit.ts' || file.startsWith('lib/audit/') || file === 'lib/error-rate.ts' ? 'audit event' : undefined),
  (file) => (file === 'worker/pipeline/index.ts' ? 'pipeline glue' : undefined),
  (file) =>
    file.startsWith('node_modules/hono/') || file === 'worker/index.ts' || file === 'worker/middleware/request-context.ts' || file === 'worker/env.ts' || file === 'worker/middleware/test-clock.ts'
      ? 'routing & middleware'
      : undefined,
];

/** Line → source file of an unminified esbuild bundle, from its `// path` module comments. */
export function moduleMap(bundle: string): (line: number) => string {
  const starts: Array<{ line: number; file: string }> = [];
  bundle.split('\n').forEach((text, i) => {
    const m = /^\/\/ ((?:node_modules|worker|lib)\/\S+\.(?:m?js|ts))$/.exec(text);
    if (m) starts.push({ line: i, file: m[1]! });
  });
  return (line) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found = '';
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]!.line <= line) {
        found = starts[mid]!.file;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}

function frameStage(frame: CallFrame, fileOf: (line: number) => string): Stage | null {
  if (frame.functionName === '(garbage collector)') return 'garbage collection';
  if (frame.functionName === '(program)' || frame.functionName === '(root)') return 'runtime (outside JS)';
  if (!frame.url) return frame.functionName === 'fetch' ? 'upstream fetch' : null; // native: its caller decides
  const file = fileOf(frame.lineNumber);
  for (const rule of RULES) {
    const stage = rule(file, frame.functionName);
    if (stage !== undefined) return stage;
  }
  return null;
}

/** Charges every sampled µs of `profile` to a stage; `requests` served while it was recorded. */
export function attributeProfile(profile: CpuProfile, bundle: string, requests: number): StageBreakdown {
  const fileOf = moduleMap(bundle);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, Stage | 'idle'>();
  const resolve = (id: number): Stage | 'idle' => {
    const known = stageOf.get(id);
    if (known) return known;
    const node = byId.get(id)!;
    let stage: Stage | 'idle';
    if (node.callFrame.functionName === '(idle)') stage = 'idle';
    else {
      const own = frameStage(node.callFrame, fileOf);
      const up = parent.get(id);
      stage = own ?? (up === undefined ? 'runtime (outside JS)' : resolve(up));
      // A native leaf directly under the root (microtask runner, stream callbacks) is the runtime's.
      if (stage === 'idle') stage = 'runtime (outside JS)';
    }
    stageOf.set(id, stage);
    return stage;
  };
  const time = new Map<Stage, number>();
  const self = new Map<string, number>();
  const stageSelf = new Map<Stage, Map<string, number>>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const dt = Math.max(0, profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0);
    const stage = resolve(id);
    if (stage === 'idle') return;
    busy += dt;
    time.set(stage, (time.get(stage) ?? 0) + dt);
    const f = byId.get(id)!.callFrame;
    const name = `${f.functionName || '(anonymous)'}${f.url ? ` ${fileOf(f.lineNumber)}` : ''}`;
    self.set(name, (self.get(name) ?? 0) + dt);
    const inStage = stageSelf.get(stage) ?? new Map<string, number>();
    inStage.set(name, (inStage.get(name) ?? 0) + dt);
    stageSelf.set(stage, inStage);
  });
  const n = Math.max(1, requests);
  return {
    requests,
    busy_us_per_request: busy / n,
    rows: STAGES.map((stage) => ({ stage, us_per_request: (time.get(stage) ?? 0) / n, pct: busy ? ((time.get(stage) ?? 0) / busy) * 100 : 0 })),
    top_self: [...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, t]) => ({ name, pct: busy ? (t / busy) * 100 : 0 })),
    by_stage: Object.fromEntries(
      [...stageSelf].map(([stage, m]) => [
        stage,
        [...m]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 6)
          .map(([name, t]) => ({ name, us_per_request: t / n })),
      ]),
    ),
  };
}
