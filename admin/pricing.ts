/**
 * Prices an event with @pydantic/genai-prices, a maintained price library, at the moment it is
 * stored — so price data stays out of the gateway bundle. An unknown model costs null, never 0.
 */
import { calcPrice } from '@pydantic/genai-prices';
import type { AuditEvent } from '../lib/audit/event';
import { parseModelName } from '../lib/models';

export function priceEvent(event: AuditEvent): number | null {
  if (!event.model || event.input_tokens === null || event.output_tokens === null) return null;
  const ref = parseModelName(event.model);
  if (!ref || ref.provider === 'mock') return null;
  try {
    const result = calcPrice(
      {
        input_tokens: event.input_tokens,
        output_tokens: event.output_tokens,
        ...(event.cache_read_tokens ? { cache_read_tokens: event.cache_read_tokens } : {}),
        ...(event.cache_write_tokens ? { cache_write_tokens: event.cache_write_tokens } : {}),
      },
      ref.model,
      { providerId: ref.provider },
    );
    return result ? Number(result.total_price) : null;
  } catch {
    return null;
  }
}
