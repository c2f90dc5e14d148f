/** UI page: the overview — requests, tokens, spend, errors and latency over a period; top models and keys. */
import { inArray } from 'drizzle-orm';
import { GatewayError } from '../../../lib/errors';
import { planFilter } from '../../auth/plan';
import { providerKeys } from '../../db/schema';
import { deepHealth, type DeepHealth } from '../../domain/gateway-checks';
import { can } from '../can';
import { DeepHealthPanel } from '../gateway-checks';
import { actionContext } from '../../middleware';
import { eventVisibility, overviewSeries, topBy } from '../../queries';
import { route, type AdminRoute } from '../../route-table';
import { Chart } from '../charts';
import { fmtCost, Layout } from '../layout';
import { keyNames } from '../names';
import type { UiContext, UiEnv } from '../session-middleware';

const PERIODS = ['24h', '7d', '30d'] as const;

async function overviewPage(c: UiContext) {
  const period = PERIODS.find((p) => p === c.req.query('period')) ?? '24h';
  const to = new Date();
  const hours = period === '24h' ? 24 : period === '7d' ? 24 * 7 : 24 * 30;
  const from = new Date(to.getTime() - hours * 3600_000);
  const allowed = await planFilter(actionContext(c), 'usage', 'read', eventVisibility);
  const bucket = period === '24h' ? 'hour' : 'day';
  const [series, models, keys] = await Promise.all([
    overviewSeries(c.var.db, from, to, bucket, allowed),
    topBy(c.var.db, from, to, 'model', allowed),
    topBy(c.var.db, from, to, 'key', allowed),
  ]);
  const names = await keyNames(c.var.db, keys.map((k) => k.name));
  const health = await gatewayHealth(c);
  // Every bucket of the period, empty ones included, so the charts keep a steady time axis.
  const stepMs = bucket === 'hour' ? 3600_000 : 24 * 3600_000;
  const byKey = new Map(series.map((s) => [s.bucket, s]));
  const keyOf = (t: number) => new Date(t).toISOString().slice(0, bucket === 'hour' ? 13 : 10) + (bucket === 'hour' ? ':00' : 'T00:00');
  const first = Math.floor(from.getTime() / stepMs) * stepMs + stepMs;
  const filled = Array.from({ length: Math.round(hours / (stepMs / 3600_000)) }, (_, i) => {
    const k = keyOf(first + i * stepMs);
    return byKey.get(k) ?? { bucket: k, requests: 0, errors: 0, tokens: 0, cost_usd: 0, p50_ms: null, p95_ms: null };
  });
  const labels = filled.map((s) => (bucket === 'hour' ? s.bucket.slice(11, 16) : s.bucket.slice(5, 10)));
  const total = filled.reduce(
    (a, s) => ({ requests: a.requests + s.requests, errors: a.errors + s.errors, tokens: a.tokens + s.tokens, cost: a.cost + s.cost_usd }),
    { requests: 0, errors: 0, tokens: 0, cost: 0 },
  );
  const tops: Array<[string, string, typeof models]> = [
    ['Top models', 'model', models],
    ['Top keys', 'key', keys.map((k) => ({ ...k, name: names.get(k.name) ?? k.name }))],
  ];
  return c.html(
    <Layout title="Overview" page={c.var.page}>
      {health.may ? (
        health.error ? (
          <div class="error" role="alert" data-testid="deep-health-error">{`Gateway health: ${health.error}`}</div>
        ) : health.report ? (
          <DeepHealthPanel health={health.report} keyNames={health.names} />
        ) : (
          <form class="filters" method="get" action="/ui">
            <input type="hidden" name="period" value={period} />
            <input type="hidden" name="health" value="deep" />
            <button class="secondary" type="submit">Check gateway health</button>
            <span class="muted">KV, Cerbos, key-encryption keys and every provider key, as the gateway sees them</span>
          </form>
        )
      ) : null}
      <form class="filters" method="get" action="/ui">
        <div>
          <label for="period">Period</label>
          <select id="period" name="period">
            {PERIODS.map((p) => <option value={p} selected={p === period}>{`last ${p}`}</option>)}
          </select>
        </div>
        <button class="secondary" type="submit">Show</button>
      </form>
      <div class="stats" data-testid="overview-stats">
        <div class="stat">Requests<b data-testid="total-requests">{total.requests}</b></div>
        <div class="stat">Tokens<b>{total.tokens}</b></div>
        <div class="stat">Spend<b>{fmtCost(total.cost)}</b></div>
        <div class="stat">Error rate<b>{total.requests ? `${((total.errors / total.requests) * 100).toFixed(1)} %` : '—'}</b></div>
      </div>
      <div class="grid">
        <div class="card"><Chart title="Requests" kind="bar" labels={labels} series={[{ label: 'requests', values: filled.map((s) => s.requests), color: '#2f5bd3' }]} /></div>
        <div class="card"><Chart title="Tokens" kind="bar" labels={labels} series={[{ label: 'tokens', values: filled.map((s) => s.tokens), color: '#7a5af8' }]} /></div>
        <div class="card"><Chart title="Spend" unit="USD" kind="bar" labels={labels} series={[{ label: 'spend', values: filled.map((s) => s.cost_usd), color: '#067647' }]} /></div>
        <div class="card"><Chart title="Error rate" unit="%" kind="line" labels={labels} series={[{ label: 'errors', values: filled.map((s) => (s.requests ? (s.errors / s.requests) * 100 : null)), color: '#b42318' }]} /></div>
        <div class="card"><Chart title="Latency" unit="ms" kind="line" labels={labels} series={[{ label: 'p50', values: filled.map((s) => s.p50_ms), color: '#2f5bd3' }, { label: 'p95', values: filled.map((s) => s.p95_ms), color: '#f79009' }]} /></div>
      </div>
      <div class="grid">
        {tops.map(([title, what, rows]) => (
          <div class="card">
            <h2>{title}</h2>
            <table data-testid={`top-${what}s`}>
              <thead><tr><th>{what}</th><th>requests</th><th>tokens</th><th>spend</th></tr></thead>
              <tbody>
                {rows.map((r) => <tr><td>{r.name}</td><td>{r.requests}</td><td>{r.tokens}</td><td>{fmtCost(r.cost_usd)}</td></tr>)}
              </tbody>
            </table>
          </div>
        ))}
      </div>
    </Layout>,
  );
}

/**
 * The gateway's deep health check, for those who may run it (system:health), when asked
 * (`?health=deep`): it calls every provider once, so it does not run on every page view.
 */
async function gatewayHealth(c: UiContext): Promise<{ may: boolean; report?: DeepHealth; names: Map<string, string>; error?: string }> {
  const names = new Map<string, string>();
  if (!(await can(c, { kind: 'system', id: 'health' }, 'health'))) return { may: false, names };
  if (c.req.query('health') !== 'deep') return { may: true, names };
  try {
    const report = await deepHealth(actionContext(c));
    const ids = report.provider_keys.map((p) => p.provider_key_id);
    if (ids.length) {
      for (const row of await c.var.db.select({ id: providerKeys.id, name: providerKeys.name }).from(providerKeys).where(inArray(providerKeys.id, ids))) names.set(row.id, row.name);
    }
    return { may: true, report, names };
  } catch (e) {
    return { may: true, names, error: e instanceof GatewayError ? e.message : 'the check failed' };
  }
}

export const OVERVIEW_ROUTES: AdminRoute<UiEnv>[] = [route('GET', '/', 'usage', 'read', overviewPage)];
