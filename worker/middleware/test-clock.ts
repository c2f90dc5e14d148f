/**
 * TEST ONLY: the time a request's virtual-key checks use, named by the test in the
 * `x-routero-test-now` header (ms since the epoch). Honoured only when the operator set
 * ROUTERO_TEST_CLOCK=true AND the gateway is not in production (ROUTERO_ENV=development or test):
 * the test stack sets both (scripts/stack.ts `testClock`); `npm start` and a deploy set neither, and
 * a deployed Worker is production by default, so the header is ignored there whatever it says.
 */
import type { Env, GatewayConfig } from '../env';

export const TEST_CLOCK_HEADER = 'x-routero-test-now';

export function testClockNow(env: Env, config: GatewayConfig | undefined, headers?: Headers): number | null {
  if (env.ROUTERO_TEST_CLOCK !== 'true' || !config || config.production) return null;
  const raw = headers?.get(TEST_CLOCK_HEADER);
  if (!raw || !/^\d{1,15}$/.test(raw)) return null;
  return Number(raw);
}
