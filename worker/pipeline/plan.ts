/**
 * Stage 2, plan: the model name → the targets to try, in order. `provider/model` is one target;
 * `route/<name>` is the organisation's route from KV (fallback order, or a weighted draw). Each
 * target gets its provider key chosen here, still encrypted: authorization looks at it next.
 */
import { BoundedLru } from '../../lib/cache/lru';
import { GatewayError } from '../../lib/errors';
import { kvKeys, routeRecordSchema, type RouteRecord, type VirtualKeyRecord } from '../../lib/kv/records';
import { log } from '../../lib/log';
import { modelAllowed, parseModelName } from '../../lib/models';
import type { UpstreamFormat } from '../../lib/providers/catalog';
import type { Env, GatewayConfig } from '../env';
import { providerFor } from '../providers';
import type { ProviderAdapter } from '../providers/types';
import { translationFor } from '../translate';
import { selectUpstream, type ProviderKeyStore } from '../upstream';
import type { ClientFormat, ParsedRequest, Plan, Target } from './types';

/** The model-name prefix of routes: `route/prod-chat`. */
export const ROUTE_PREFIX = 'route/';

const FORMAT_PATH: Record<ClientFormat, string> = { openai: '/v1/chat/completions', anthropic: '/v1/messages' };

/** Routes cached per isolate like provider keys: bounded, keyed by server-side ids, short TTL. */
export class RouteStore {
  private readonly cache = new BoundedLru<RouteRecord | 'none'>({ maxEntries: 1_000, ttlMs: 30_000 });

  async get(env: Env, orgId: string, name: string, ttlMs: number): Promise<RouteRecord | null> {
    const kvKey = kvKeys.route(orgId, name);
    const hit = this.cache.get(kvKey);
    if (hit) return hit === 'none' ? null : hit;
    const parsed = routeRecordSchema.safeParse(await env.ROUTERO_KV.get(kvKey, 'json'));
    // A missing route is not cached: a route just created works at once.
    if (!parsed.success) return null;
    this.cache.set(kvKey, parsed.data, ttlMs);
    return parsed.data;
  }
}

export interface PlanDeps {
  env: Env;
  config: GatewayConfig;
  providerKeys: ProviderKeyStore;
  routes: RouteStore;
  random?: () => number;
}

/** Can this adapter serve a client in `format`: natively, or through a translation in this build? */
function reachable(adapter: ProviderAdapter, format: ClientFormat): boolean {
  if (adapter.info.formats.includes(format)) return true;
  return translationFor(format, adapter.info.formats[0]!) !== undefined;
}

function wrongEndpoint(model: string, adapter: ProviderAdapter, format: ClientFormat): GatewayError {
  const served = adapter.info.formats
    .filter((f: UpstreamFormat): f is ClientFormat => f === 'openai' || f === 'anthropic')
    // eslint-disable-next-line security/detect-object-injection -- f is a ClientFormat, a key of the constant FORMAT_PATH
    .map((f) => FORMAT_PATH[f]);
  // eslint-disable-next-line security/detect-object-injection -- format is a ClientFormat, a key of the constant FORMAT_PATH
  const here = FORMAT_PATH[format];
  return new GatewayError(
    'invalid_request',
    served.length > 0 ? `The model '${model}' is served on ${served.join(', ')}, not ${here}.` : `The model '${model}' cannot be called on ${here} yet.`,
    { param: 'model' },
  );
}

function unknownModel(model: string): GatewayError {
  return new GatewayError('not_found', `The model '${model}' does not exist. Name models as provider/model, e.g. openai/gpt-4o-mini.`, {
    code: 'model_not_found',
    param: 'model',
  });
}

function outOfScope(model: string, key: VirtualKeyRecord): GatewayError {
  return new GatewayError('permission', `This API key may not use the model '${model}'.`, {
    code: 'model_not_allowed',
    reason: `model ${model} outside scope of key ${key.id}`,
  });
}

/** A weighted draw without replacement: the first target by weight, then the rest by weight. */
export function weightedOrder<T extends { weight: number }>(items: readonly T[], random: () => number = Math.random): T[] {
  const left = items.filter((t) => t.weight > 0);
  const out: T[] = [];
  while (left.length > 0) {
    const total = left.reduce((sum, t) => sum + t.weight, 0);
    let r = random() * total;
    let i = 0;
    // eslint-disable-next-line security/detect-object-injection -- i is a numeric index within left
    while (i < left.length - 1 && r >= left[i]!.weight) r -= left[i++]!.weight;
    out.push(left.splice(i, 1)[0]!);
  }
  return out;
}

async function directPlan(deps: PlanDeps, parsed: ParsedRequest, key: VirtualKeyRecord): Promise<Plan> {
  const ref = parseModelName(parsed.model);
  const adapter = ref ? providerFor(ref.provider) : null;
  if (!ref || !adapter) throw unknownModel(parsed.model);
  if (!reachable(adapter, parsed.format)) throw wrongEndpoint(parsed.model, adapter, parsed.format);
  if (!modelAllowed(parsed.model, key.models)) throw outOfScope(parsed.model, key);
  const upstream = await selectUpstream(deps.providerKeys, deps.env, deps.config, adapter, key.org_id, parsed.model);
  return {
    route: null,
    targets: [{ modelName: parsed.model, adapter, upstreamModel: ref.model, baseUrl: upstream.baseUrl, providerKey: upstream.entry }],
    maxAttempts: 1,
    timeoutMs: null,
  };
}

async function routePlan(deps: PlanDeps, parsed: ParsedRequest, key: VirtualKeyRecord, name: string): Promise<Plan> {
  // Scope first: a key may not learn which route names exist (404 vs 403) outside its scope.
  if (!modelAllowed(parsed.model, key.models)) throw outOfScope(parsed.model, key);
  const route = await deps.routes.get(deps.env, key.org_id, name, deps.config.keyCacheTtlMs);
  if (!route) {
    throw new GatewayError('not_found', `The model '${parsed.model}' does not exist: this organisation has no route named '${name}'.`, {
      code: 'model_not_found',
      param: 'model',
    });
  }
  // The key's scope applies to the models a route reaches too: a target outside it is not tried.
  const inScope = route.targets.filter((t) => modelAllowed(t.model, key.models));
  if (inScope.length === 0) throw outOfScope(parsed.model, key);
  const ordered = route.strategy === 'weighted' ? weightedOrder(inScope, deps.random) : inScope;
  const targets: Target[] = [];
  const skipped: string[] = [];
  for (const t of ordered) {
    const ref = parseModelName(t.model);
    const adapter = ref ? providerFor(ref.provider) : null;
    if (!ref || !adapter || !reachable(adapter, parsed.format)) {
      skipped.push(`${t.model}: not callable on ${FORMAT_PATH[parsed.format]}`);
      continue;
    }
    try {
      const upstream = await selectUpstream(deps.providerKeys, deps.env, deps.config, adapter, key.org_id, t.model, t.provider_key_id);
      targets.push({ modelName: t.model, adapter, upstreamModel: ref.model, baseUrl: upstream.baseUrl, providerKey: upstream.entry });
    } catch (e) {
      if (!(e instanceof GatewayError)) throw e;
      skipped.push(`${t.model}: ${e.reason}`);
    }
  }
  if (skipped.length > 0) log('warn', 'route targets skipped', { route: route.id, skipped });
  if (targets.length === 0) {
    throw new GatewayError('not_found', `The route '${name}' has no target that can serve ${FORMAT_PATH[parsed.format]} for this organisation.`, {
      code: 'model_not_found',
      param: 'model',
      reason: `route ${route.id}: ${skipped.join('; ')}`,
    });
  }
  return { route: name, targets, maxAttempts: Math.max(1, route.max_attempts), timeoutMs: route.timeout_ms };
}

export function plan(deps: PlanDeps, parsed: ParsedRequest, key: VirtualKeyRecord): Promise<Plan> {
  if (parsed.model.startsWith(ROUTE_PREFIX)) return routePlan(deps, parsed, key, parsed.model.slice(ROUTE_PREFIX.length));
  return directPlan(deps, parsed, key);
}
