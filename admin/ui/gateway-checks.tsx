/** UI pieces for what the gateway reports through the service binding: a connection test, the deep health check. */
import type { FC } from 'hono/jsx';
import type { ConnectionTest, DeepHealth } from '../domain/gateway-checks';
import { Badge, fmtTime } from './layout';

const ms = (v: number | null) => (v === null ? '—' : `${v} ms`);

export const ConnectionResult: FC<{ name: string; result: ConnectionTest }> = ({ name, result }) => (
  <div class={result.ok ? 'card' : 'error'} role="status" data-testid="connection-result" data-ok={String(result.ok)}>
    <b>{`Test connection — ${name}: `}</b>
    <Badge value={result.ok ? 'ok' : 'failed'} />
    {` upstream HTTP ${result.status ?? '—'} · ${ms(result.latency_ms)}`}
    {result.error ? <p data-testid="connection-error">{result.error}</p> : null}
  </div>
);

export const DeepHealthPanel: FC<{ health: DeepHealth; keyNames: Map<string, string> }> = ({ health, keyNames }) => (
  <div class="card" data-testid="deep-health" data-status={health.status}>
    <h2>Gateway health <Badge value={health.status} /></h2>
    <p class="muted">{`Checked by the gateway at ${fmtTime(health.checked_at)}, through the admin Worker's service binding.`}</p>
    <table>
      <thead><tr><th>check</th><th>status</th><th>latency</th><th>detail</th></tr></thead>
      <tbody>
        <tr data-check="kv"><td>Workers KV</td><td><Badge value={health.kv.ok ? 'ok' : 'failed'} /></td><td>{ms(health.kv.latency_ms)}</td><td>{health.kv.error ?? ''}</td></tr>
        <tr data-check="cerbos"><td>Cerbos</td><td><Badge value={health.cerbos.ok ? 'ok' : 'failed'} /></td><td>{ms(health.cerbos.latency_ms)}</td><td>{health.cerbos.error ?? ''}</td></tr>
        <tr data-check="keks">
          <td>Key-encryption keys</td><td><Badge value={health.keks.ok ? 'ok' : 'failed'} /></td><td></td>
          <td>{`active v${health.keks.active_version}, loaded ${health.keks.loaded_versions.map((v) => `v${v}`).join(', ')}`}{health.keks.error ? ` — ${health.keks.error}` : ''}</td>
        </tr>
        {health.provider_keys.map((p) => (
          <tr data-check="provider-key" data-provider-key-id={p.provider_key_id}>
            <td>{`Provider key ${keyNames.get(p.provider_key_id) ?? p.provider_key_id} (${p.provider})`}</td>
            <td><Badge value={p.ok ? 'ok' : 'failed'} /></td><td>{ms(p.latency_ms)}</td>
            <td>{p.ok ? `upstream HTTP ${p.status}` : p.error ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
    {health.provider_keys_truncated ? <p class="muted">Only the first 50 provider keys were probed.</p> : null}
  </div>
);
