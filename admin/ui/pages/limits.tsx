/**
 * UI page: limits and budgets (issue 11) — what is set on organisations and keys, forms to set them
 * on an organisation (with its alert thresholds and webhook), a key or a user, and the budget alert
 * delivery log. The same actions as the API (admin/limits.ts, admin/actions.ts), so the same
 * decisions and audit rows.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { FC } from 'hono/jsx';
import type { Limits } from '../../../lib/limits';
import * as actions from '../../actions';
import { membershipsOf, publicUser } from '../../domain/users';
import { actionContext } from '../../middleware';
import { route, type AdminRoute } from '../../route-table';
import { limitsField, updateOrgSchema, uuidField, virtualKeyIdField } from '../../schemas';
import { listDeliveries } from '../../webhooks';
import { formOf, parse, problem, statusOf, type FormValues } from '../forms';
import { Badge, Csrf, ErrorBox, fmtTime, Layout } from '../layout';
import type { UiContext, UiEnv } from '../session-middleware';

/** "60 rpm · 100000 tpm · 4 at once · $50.00 a month", or "none". */
export function describeLimits(l: Limits | null | undefined): string {
  if (!l) return 'none';
  const parts: string[] = [];
  if (l.rpm !== undefined) parts.push(`${l.rpm} rpm`);
  if (l.tpm !== undefined) parts.push(`${l.tpm} tpm`);
  if (l.concurrency !== undefined) parts.push(`${l.concurrency} at once`);
  if (l.budget_usd !== undefined) parts.push(`$${l.budget_usd.toFixed(2)} a ${l.budget_period ?? 'month'}`);
  return parts.length ? parts.join(' · ') : 'none';
}

/** The form's limit fields → the `limits` value (all empty: null, which removes them). */
function limitsFromForm(form: FormValues): unknown {
  const num = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : Number(v));
  const raw = {
    rpm: num(form.rpm),
    tpm: num(form.tpm),
    concurrency: num(form.concurrency),
    budget_usd: num(form.budget_usd),
    budget_period: form.budget_usd?.trim() ? form.budget_period || undefined : undefined,
  };
  const set = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
  return Object.keys(set).length ? set : null;
}

const LimitFields: FC<{ prefix: string; values: FormValues }> = ({ prefix, values }) => (
  <div class="grid">
    <label for={`${prefix}-rpm`}>Requests per minute</label>
    <input type="number" min="1" step="1" id={`${prefix}-rpm`} name="rpm" value={values.rpm ?? ''} />
    <label for={`${prefix}-tpm`}>Tokens per minute</label>
    <input type="number" min="1" step="1" id={`${prefix}-tpm`} name="tpm" value={values.tpm ?? ''} />
    <label for={`${prefix}-concurrency`}>Concurrent requests</label>
    <input type="number" min="1" step="1" id={`${prefix}-concurrency`} name="concurrency" value={values.concurrency ?? ''} />
    <label for={`${prefix}-budget`}>Budget (USD)</label>
    <input type="number" min="0" step="any" id={`${prefix}-budget`} name="budget_usd" value={values.budget_usd ?? ''} />
    <label for={`${prefix}-period`}>Budget period (UTC)</label>
    <select id={`${prefix}-period`} name="budget_period">
      {['month', 'week', 'day'].map((p) => <option value={p} selected={values.budget_period === p}>{p}</option>)}
    </select>
  </div>
);

async function limitsPage(c: UiContext, error: string | null = null, values: FormValues = {}, status: ContentfulStatusCode = 200, notice: string | null = null) {
  const ctx = actionContext(c);
  const [orgs, keys] = await Promise.all([actions.listOrgs(ctx), actions.listVirtualKeys(ctx)]);
  const limitedKeys = keys.filter((k) => k.limits);
  const deliveries = (await Promise.all(orgs.map(async (o) => (await listDeliveries(c.var.db, o.id, 50)).map((d) => ({ ...d, org: o.name }))))).flat();
  deliveries.sort((a, b) => b.created_at.getTime() - a.created_at.getTime());
  return c.html(
    <Layout title="Limits and budgets" page={c.var.page}>
      <ErrorBox message={error} />
      {notice ? <p class="notice" role="status">{notice}</p> : null}
      <h2>Organisations</h2>
      <table data-testid="org-limits-table">
        <thead><tr><th>organisation</th><th>limits</th><th>alert thresholds</th><th>alert webhook</th></tr></thead>
        <tbody>
          {orgs.map((o) => (
            <tr>
              <td>{o.name}</td><td>{describeLimits(o.limits)}</td><td>{(o.budget_alert_thresholds ?? [50, 80, 100]).map((t) => `${t} %`).join(', ')}</td>
              <td>{o.alert_webhook_url ? <code>{o.alert_webhook_url}</code> : <span class="muted">none</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Virtual keys with limits</h2>
      <table data-testid="key-limits-table">
        <thead><tr><th>key</th><th>id</th><th>status</th><th>limits</th></tr></thead>
        <tbody>{limitedKeys.map((k) => <tr><td><a href={`/ui/keys/${k.id}`}>{k.name}</a></td><td><code>{k.id}</code></td><td><Badge value={k.status} /></td><td>{describeLimits(k.limits)}</td></tr>)}</tbody>
      </table>

      <div class="card">
        <h2>Set an organisation's limits and alerts</h2>
        <p class="muted">Only platform admins. Empty fields remove a limit. Alerts are signed per Standard Webhooks.</p>
        <form method="post" action="/ui/limits/org">
          <Csrf token={c.var.page.csrf} />
          <label for="lo-org">Organisation</label>
          <select id="lo-org" name="org_id">{orgs.map((o) => <option value={o.id} selected={values.org_id === o.id}>{o.name}</option>)}</select>
          <LimitFields prefix="lo" values={values.form === 'org' ? values : {}} />
          <label for="lo-thresholds">Alert thresholds (percent, comma separated; empty = 50, 80, 100)</label>
          <input type="text" id="lo-thresholds" name="thresholds" value={values.thresholds ?? ''} />
          <label for="lo-url">Alert webhook URL (empty = keep)</label>
          <input type="url" id="lo-url" name="webhook_url" value={values.webhook_url ?? ''} />
          <label for="lo-secret">Webhook signing secret (whsec_…)</label>
          <input type="password" id="lo-secret" name="webhook_secret" autocomplete="off" />
          <label><input type="checkbox" name="remove_webhook" value="1" /> Remove the alert webhook</label>
          <input type="hidden" name="form" value="org" />
          <p><button type="submit">Save organisation limits</button></p>
        </form>
      </div>
      <div class="card">
        <h2>Set a key's or a person's limits</h2>
        <form method="post" action="/ui/limits/key">
          <Csrf token={c.var.page.csrf} />
          <label for="lk-id">Virtual key id</label>
          <input type="text" id="lk-id" name="key_id" value={values.form === 'key' ? (values.key_id ?? '') : ''} required />
          <LimitFields prefix="lk" values={values.form === 'key' ? values : {}} />
          <input type="hidden" name="form" value="key" />
          <p><button type="submit">Save key limits</button></p>
        </form>
        <form method="post" action="/ui/limits/user">
          <Csrf token={c.var.page.csrf} />
          <label for="lu-id">User id (all the keys they own together)</label>
          <input type="text" id="lu-id" name="user_id" value={values.form === 'user' ? (values.user_id ?? '') : ''} required />
          <LimitFields prefix="lu" values={values.form === 'user' ? values : {}} />
          <input type="hidden" name="form" value="user" />
          <p><button type="submit">Save user limits</button></p>
        </form>
      </div>

      <h2>Budget alert deliveries</h2>
      <table data-testid="webhook-deliveries">
        <thead><tr><th>when</th><th>organisation</th><th>subject</th><th>threshold</th><th>status</th><th>attempts</th><th>last answer</th></tr></thead>
        <tbody>
          {deliveries.map((d) => (
            <tr>
              <td>{fmtTime(d.created_at)}</td><td>{d.org}</td><td>{d.subject.type} <code>{d.subject.id}</code></td><td>{d.threshold_percent} %</td>
              <td><Badge value={d.status} /></td><td>{d.attempts}</td><td>{d.last_status ?? ''} {d.last_error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>,
    status,
  );
}

async function saveOrg(c: UiContext) {
  const form = await formOf(c);
  const org = parse(uuidField('organisation'), form.org_id);
  if (!org.ok) return limitsPage(c, org.message, form, 400);
  const thresholds = (form.thresholds ?? '').split(',').map((t) => t.trim()).filter(Boolean).map(Number);
  const parsed = parse(updateOrgSchema, {
    limits: limitsFromForm(form),
    budget_alert_thresholds: thresholds.length ? thresholds : null,
    ...(form.remove_webhook ? { alert_webhook: null } : form.webhook_url ? { alert_webhook: { url: form.webhook_url, secret: form.webhook_secret ?? '' } } : {}),
  });
  if (!parsed.ok) return limitsPage(c, parsed.message, form, 400);
  try {
    await actions.updateOrg(actionContext(c), org.value, parsed.value);
  } catch (e) {
    return limitsPage(c, problem(e), form, statusOf(e));
  }
  return limitsPage(c, null, {}, 200, 'Organisation limits saved.');
}

async function saveKey(c: UiContext) {
  const form = await formOf(c);
  const id = parse(virtualKeyIdField, form.key_id?.trim());
  const limits = parse(limitsField, limitsFromForm(form));
  if (!id.ok || !limits.ok) return limitsPage(c, !id.ok ? `key_id: ${id.message}` : `limits.${(limits as { message: string }).message}`, form, 400);
  try {
    await actions.updateKeyLimits(actionContext(c), id.value, limits.value);
  } catch (e) {
    return limitsPage(c, problem(e), form, statusOf(e));
  }
  return limitsPage(c, null, {}, 200, 'Key limits saved.');
}

async function saveUser(c: UiContext) {
  const form = await formOf(c);
  const id = parse(uuidField('user'), form.user_id?.trim());
  const limits = parse(limitsField, limitsFromForm(form));
  if (!id.ok || !limits.ok) return limitsPage(c, !id.ok ? `user_id: ${id.message}` : `limits.${(limits as { message: string }).message}`, form, 400);
  try {
    const orgIds = (await membershipsOf(c.var.db, id.value)).map((m) => m.orgId);
    publicUser(await actions.updateUserLimits(actionContext(c), id.value, limits.value, orgIds));
  } catch (e) {
    return limitsPage(c, problem(e), form, statusOf(e));
  }
  return limitsPage(c, null, {}, 200, 'User limits saved.');
}

export const LIMIT_ROUTES: AdminRoute<UiEnv>[] = [
  route('GET', '/limits', 'org', 'list', (c) => limitsPage(c)),
  route('POST', '/limits/org', 'org', 'update', saveOrg),
  route('POST', '/limits/key', 'virtual_key', 'set_limits', saveKey),
  route('POST', '/limits/user', 'user', 'set_limits', saveUser),
];
