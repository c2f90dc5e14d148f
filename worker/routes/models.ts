/**
 * GET /v1/models: the models the calling key may use, in OpenAI's ListModelsResponse shape — each
 * provider's known models where the organisation has a provider key for it (Workers AI: where the
 * gateway has its AI binding), and the organisation's routes (`route/<name>`), each filtered by
 * the key's model scope. Any other model name of a configured provider is still routed.
 */
import type { Context } from 'hono';
import { kvKeys } from '../../lib/kv/records';
import { modelAllowed } from '../../lib/models';
import type { Env } from '../env';
import type { KeyAuthVariables } from '../middleware/key-auth';
import type { RequestContextVariables } from '../middleware/request-context';
import { ROUTE_PREFIX } from '../pipeline/plan';
import { providerAdapters } from '../providers';
import { hasWorkersAiBinding } from '../providers/workers-ai';
import type { ProviderKeyStore } from '../upstream';

type Model = { id: string; object: 'model'; created: 0; owned_by: string };

async function routeNames(env: Env, orgId: string): Promise<string[]> {
  const prefix = kvKeys.route(orgId, '');
  const names: string[] = [];
  let cursor: string | undefined;
  // Bounded: an organisation's routes fit in a few pages.
  for (let page = 0; page < 5; page++) {
    const list = await env.ROUTERO_KV.list({ prefix, ...(cursor ? { cursor } : {}) });
    for (const k of list.keys) names.push(k.name.slice(prefix.length));
    if (list.list_complete) break;
    cursor = list.cursor;
  }
  return names;
}

export function listModels(providerKeys: ProviderKeyStore) {
  return async function models(
    c: Context<{ Bindings: Env; Variables: RequestContextVariables & KeyAuthVariables }>,
  ): Promise<Response> {
    const key = c.get('virtualKey');
    const ttl = c.get('config').keyCacheTtlMs;
    const lists = await Promise.all(
      providerAdapters.map(async ({ info }): Promise<Model[]> => {
        if (info.name === 'workers-ai' && !hasWorkersAiBinding()) return [];
        if (info.requiresKey && (await providerKeys.get(c.env, key.org_id, info.name, ttl)).length === 0) return [];
        return info.knownModels
          .map((m) => `${info.name}/${m}`)
          .filter((id) => modelAllowed(id, key.models))
          .map((id) => ({ id, object: 'model', created: 0, owned_by: info.name }));
      }),
    );
    const routes = (await routeNames(c.env, key.org_id))
      .map((name) => `${ROUTE_PREFIX}${name}`)
      .filter((id) => modelAllowed(id, key.models))
      .map((id): Model => ({ id, object: 'model', created: 0, owned_by: 'route' }));
    return c.json({ object: 'list', data: [...lists.flat(), ...routes] }, 200, { 'cache-control': 'no-store' });
  };
}
