import type { Env as GatewayEnv } from '../../worker/env';

declare global {
  namespace Cloudflare {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging
    interface Env extends GatewayEnv {}
  }
}
