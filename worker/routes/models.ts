/** GET /v1/models: the models the calling key may use, in OpenAI's ListModelsResponse shape. */
import type { Context } from 'hono';
import { modelAllowed } from '../../lib/models';
import type { Env } from '../env';
import type { KeyAuthVariables } from '../middleware/key-auth';
import type { RequestContextVariables } from '../middleware/request-context';
import { providerAdapters } from '../providers';
import type { ProviderKeyStore } from '../upstream';

export function listModels(providerKeys: ProviderKeyStore) {
  return async function models(
    c: Context<{ Bindings: Env; Variables: RequestContextVariables & KeyAuthVariables }>,
  ): Promise<Response> {
    const key = c.get('virtualKey');
    const ttl = c.get('config').keyCacheTtlMs;
    const lists = await Promise.all(
      providerAdapters.map(async ({ info }) => {
        if (info.requiresKey && (await providerKeys.get(c.env, key.org_id, info.name, ttl)).length === 0) return [];
        return info.knownModels
          .map((m) => `${info.name}/${m}`)
          .filter((id) => modelAllowed(id, key.models))
          .map((id) => ({ id, object: 'model' as const, created: 0, owned_by: info.name }));
      }),
    );
    return c.json({ object: 'list', data: lists.flat() }, 200, { 'cache-control': 'no-store' });
  };
}
