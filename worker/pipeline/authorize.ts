/**
 * Stage 3, authorize: Cerbos `invoke` on each planned target. The decision is about this virtual
 * key calling this model through that provider key, so it comes after the plan: the resource's
 * attributes are the provider-key record's and the adapter's, never the virtual key's
 * (policies/model.yaml). Decisions are cached (lib/authz/cerbos.ts), so a warm request asks no one.
 */
import { PolicyUnavailableError } from '../../lib/authz/cerbos';
import { GatewayError } from '../../lib/errors';
import { alert } from '../../lib/log';
import type { VirtualKeyRecord } from '../../lib/kv/records';
import type { Endpoint } from '../formats/types';
import type { AuxEndpoint } from './single';
import type { GatewayConfig } from '../env';
import type { Plan, Target } from './types';

async function allowed(config: GatewayConfig, key: VirtualKeyRecord, endpoint: Endpoint | AuxEndpoint, target: Target): Promise<boolean> {
  try {
    return await config.cerbos.isAllowed(
      { id: key.id, roles: ['virtual_key'], version: String(key.version), attr: { org_id: key.org_id } },
      {
        kind: 'model',
        id: target.modelName,
        attr: {
          provider: target.adapter.info.name,
          endpoint,
          requires_provider_key: target.adapter.info.requiresKey,
          provider_key_org_id: target.providerKey?.org_id ?? '',
          provider_key_provider: target.providerKey?.provider ?? '',
        },
      },
      'invoke',
    );
  } catch (e) {
    if (e instanceof PolicyUnavailableError) {
      alert('cerbos_unreachable', 'Cerbos could not be asked: request refused (fail closed)', { reason: e.message });
      throw new GatewayError('unavailable', 'The policy service is unavailable; try again shortly.', { reason: e.message });
    }
    throw e;
  }
}

/** The plan with only the targets the policy allows; a 403 when none is. */
export async function authorize(config: GatewayConfig, key: VirtualKeyRecord, endpoint: Endpoint | AuxEndpoint, plan: Plan, requested: string): Promise<Plan> {
  const decisions = await Promise.all(plan.targets.map((t) => allowed(config, key, endpoint, t)));
  // eslint-disable-next-line security/detect-object-injection -- i indexes decisions, built from the same array
  const targets = plan.targets.filter((_, i) => decisions[i]);
  if (targets.length === 0) {
    throw new GatewayError('permission', `This API key may not use the model '${requested}'.`, {
      code: 'model_not_allowed',
      reason: `cerbos denied invoke of ${plan.targets.map((t) => t.modelName).join(', ')} for key ${key.id}`,
    });
  }
  return targets.length === plan.targets.length ? plan : { ...plan, targets };
}
