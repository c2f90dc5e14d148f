/**
 * UI page: the admin audit log (policy-filtered to the principal's organisations), with target
 * names where they resolve; the hash-chain check is offered to those who may run it.
 */
import * as actions from '../../actions';
import { verifyAuditLog } from '../../audit-anchor';
import { planFilter } from '../../auth/plan';
import { actionContext } from '../../middleware';
import { auditLogPage, auditVisibility } from '../../queries';
import { route, type AdminRoute } from '../../route-table';
import { auditLogQuerySchema } from '../../schemas';
import { can } from '../can';
import { nonEmptyQuery, parse } from '../forms';
import { Badge, ErrorBox, fmtTime, Layout } from '../layout';
import { auditTargetNames } from '../names';
import type { UiContext, UiEnv } from '../session-middleware';

/**
 * A person by their email; `master` and `api_token:<id>` by that name, with the email of the
 * person a token acts for, so a token's action is never shown as the person's own.
 */
function actorName(r: { actor: string; actor_user_id: string | null; actor_email: string | null }): string {
  if (!r.actor_email) return r.actor;
  return r.actor === r.actor_user_id ? r.actor_email : `${r.actor} for ${r.actor_email}`;
}

async function auditPage(c: UiContext) {
  const parsed = parse(auditLogQuerySchema, nonEmptyQuery(c, ['verify']));
  const q = parsed.ok ? parsed.value : auditLogQuerySchema.parse({});
  const allowed = await planFilter(actionContext(c), 'admin_audit', 'list', auditVisibility);
  const chain = c.req.query('verify') ? await actions.authorize(actionContext(c), { kind: 'admin_audit' }, 'verify').then(() => verifyAuditLog(c.var.db, c.env.ROUTERO_KV)) : null;
  const mayVerify = chain ? true : await can(c, { kind: 'admin_audit' }, 'verify');
  const page = await auditLogPage(c.var.db, q, allowed);
  const names = await auditTargetNames(c.var.db, page.data);
  const next = new URLSearchParams({ ...nonEmptyQuery(c, ['cursor', 'verify']), ...(page.next_cursor ? { cursor: String(page.next_cursor) } : {}) });
  const target = (r: (typeof page.data)[number]) => {
    if (!r.target_type) return '—';
    const name = r.target_id ? names.get(`${r.target_type}:${r.target_id}`) : undefined;
    return name ? `${r.target_type} ${name} (${r.target_id})` : `${r.target_type} ${r.target_id ?? ''}`;
  };
  return c.html(
    <Layout title="Admin audit log" page={c.var.page}>
      {parsed.ok ? null : <ErrorBox message={parsed.message} />}
      {chain ? (
        chain.ok ? <div class="notice">{`Chain verified: ${chain.rows} rows, no gaps, every hash matches; ${chain.anchors.checked} anchors outside Postgres match${chain.anchors.latest ? ` (latest: row ${chain.anchors.latest.seq} at ${chain.anchors.latest.anchored_at})` : ' (none taken yet)'}.`}</div> : <div class="error">{`Chain broken: ${chain.problems.map((p) => `#${p.seq} ${p.problem}`).join('; ')}`}</div>
      ) : mayVerify ? (
        <p><a class="button secondary" href="/ui/audit?verify=1">Verify the hash chain</a></p>
      ) : null}
      <form class="filters" method="get" action="/ui/audit">
        <div><label for="a-action">Action</label><input type="text" id="a-action" name="action" value={q.action ?? ''} /></div>
        <div><label for="a-outcome">Outcome</label><select id="a-outcome" name="outcome"><option value="">all</option>{['allowed', 'denied', 'failed'].map((o) => <option value={o} selected={q.outcome === o}>{o}</option>)}</select></div>
        <button class="secondary" type="submit">Filter</button>
      </form>
      <table data-testid="audit-table">
        <thead><tr><th>#</th><th>time</th><th>actor</th><th>action</th><th>target</th><th>outcome</th><th>client</th><th>request</th></tr></thead>
        <tbody>
          {page.data.map((r) => (
            <tr>
              <td>{r.seq}</td><td>{fmtTime(r.at)}</td><td>{`${actorName(r)} (${r.login_method}${r.mfa ? ', MFA' : ''})`}</td><td>{r.action}</td><td>{target(r)}</td>
              <td><Badge value={r.outcome} /></td><td>{r.client_ip ?? '—'}<br /><span class="muted">{(r.user_agent ?? '').slice(0, 60)}</span></td><td><code>{r.request_id.slice(0, 13)}</code></td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.next_cursor ? <p class="pager"><a href={`/ui/audit?${next.toString()}`}>Older entries →</a></p> : null}
    </Layout>,
  );
}

export const AUDIT_ROUTES: AdminRoute<UiEnv>[] = [route('GET', '/audit', 'admin_audit', 'list', auditPage)];
