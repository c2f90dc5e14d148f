/** GET /v1/models: the models the calling key may use, in OpenAI's ListModelsResponse shape. */
import type { Context } from 'hono';
import { modelAllowed } from '../../lib/models';
import { PROVIDERS } from '../../lib/kv/records';
import type { Env } from '../env';
import type { KeyAuthVariables } from '../middleware/key-auth';
import type { RequestContextVariables } from '../middleware/request-context';
import { providers } from '../providers';
import type { ProviderKeyStore } from '../upstream';

export function listModels(providerKeys: ProviderKeyStore) {
  return async function models(
    c: Context<{ Bindings: Env; Variables: RequestContextVariables & KeyAuthVariables }>,
  ): Promise<Response> {
  const key = c.get('virtualKey');
  const configured = await Promise.all(
    PROVIDERS.map(async (name) => {
      // eslint-disable-next-line security/detect-object-injection -- name comes from the constant PROVIDERS list
      const adapter = providers[name];
      if (!adapter.requiresKey) return true;
      return (await providerKeys.get(c.env, key.org_id, name, c.get('config').keyCacheTtlMs)).length > 0;
    }),
  );
  // eslint-disable-next-line security/detect-object-injection -- i indexes the array built from PROVIDERS, and name comes from PROVIDERS
  const data = PROVIDERS.filter((_, i) => configured[i]).flatMap((name) =>
    // eslint-disable-next-line security/detect-object-injection -- name comes from the constant PROVIDERS list
    providers[name].knownModels
      .map((m) => `${name}/${m}`)
      .filter((id) => modelAllowed(id, key.models))
      .map((id) => ({ id, object: 'model' as const, created: 0, owned_by: name })),
  );
  return c.json({ object: 'list', data }, 200, { 'cache-control': 'no-store' });
}
}
