/**
 * Which translation joins a client's wire format to an upstream's (DESIGN §9). OpenAI Chat
 * Completions is the hub: a pairing with its own folder (`translate/<client>-<upstream>/`) is used
 * directly; otherwise client → openai and openai → upstream are chained, so an Anthropic client
 * reaches Gemini through `anthropic-openai` + `openai-gemini`. Same formats: no translation at all.
 */
import type { UpstreamFormat } from '../../lib/providers/catalog';
import type { ClientFormat } from '../pipeline/types';
import { anthropicOpenai } from './anthropic-openai';
import { openaiAnthropic } from './openai-anthropic';
import { openaiBedrock } from './openai-bedrock';
import { openaiGemini } from './openai-gemini';
import { doneEvent } from './support';
import type { StreamTranslator, TranslateContext, Translation, WireEvent } from './types';

type Pairing = `${ClientFormat}-${UpstreamFormat}`;

/** The translator folders present in this build; a pairing missing here is answered with a clear 400. */
const PAIRINGS: ReadonlyMap<Pairing, Translation> = new Map<Pairing, Translation>([
  ['openai-anthropic', openaiAnthropic],
  ['anthropic-openai', anthropicOpenai],
  ['openai-gemini', openaiGemini],
  ['openai-bedrock', openaiBedrock],
]);

/** `outer` turns hub (OpenAI) into the client's format; `inner` turns the upstream's into the hub. */
function chain(outer: Translation, inner: Translation): Translation {
  return {
    request: (body, ctx) => inner.request(outer.request(body, ctx), ctx),
    response: (body, ctx) => outer.response(inner.response(body, ctx), ctx),
    error: (status, body, ctx) => outer.error(status, inner.error(status, body, ctx), ctx),
    stream(ctx: TranslateContext): StreamTranslator {
      // The hub stream is an OpenAI stream with usage (the outer translator reads the usage chunk),
      // and ends with `[DONE]` when complete: translators for OpenAI clients leave that marker to
      // whoever frames the stream (decision 0019), and here that is the outer translator.
      const hub = inner.stream({ ...ctx, includeUsage: true });
      const client = outer.stream(ctx);
      const forward = (events: WireEvent[]): WireEvent[] => events.flatMap((e) => client.push(e));
      return {
        push: (event) => forward(hub.push(event)),
        end: () => {
          const tail = hub.end();
          if (hub.outcome().complete) tail.push(doneEvent());
          return [...forward(tail), ...client.end()];
        },
        // The upstream's own counts, read nearest to the upstream.
        usage: () => hub.usage(),
        outcome: () => {
          const a = hub.outcome();
          const b = client.outcome();
          return { complete: a.complete && b.complete, upstreamErrorType: a.upstreamErrorType ?? b.upstreamErrorType };
        },
      };
    },
  };
}

/**
 * The translation from `client` to `upstream`: null when they are the same format (pass-through),
 * undefined when this build has no way between them.
 */
export function translationFor(client: ClientFormat, upstream: UpstreamFormat): Translation | null | undefined {
  if (client === upstream) return null;
  const direct = PAIRINGS.get(`${client}-${upstream}`);
  if (direct) return direct;
  if (client === 'openai' || upstream === 'openai') return undefined;
  const outer = PAIRINGS.get(`${client}-openai`);
  const inner = PAIRINGS.get(`openai-${upstream}`);
  return outer && inner ? chain(outer, inner) : undefined;
}
