/**
 * UI page: routes — virtual models `route/<name>` with their targets, strategy, attempts and
 * timeout; the create form and delete buttons only for those who may (org admins).
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import * as actions from '../../actions';
import { createRoute, deleteRoute, listRoutes } from '../../domain/routes';
import { actionContext } from '../../middleware';
import { route, type AdminRoute } from '../../route-table';
import { createRouteSchema } from '../../schemas';
import { can, orgsWhereCreate, withAnswers } from '../can';
import { formOf, parse, problem, statusOf, type FormValues } from '../forms';
import { ActionButton, Csrf, ErrorBox, fmtTime, Layout } from '../layout';
import type { UiContext, UiEnv } from '../session-middleware';

/**
 * Targets as typed in the form, one per line: `model [weight] [provider key id]`, e.g.
 * `openai/gpt-4o-mini 3 9b2c…`. Anything malformed is left for the schema to name.
 */
export function targetsFromText(text: string): unknown[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((line) => {
      const [model, ...rest] = line.split(/\s+/);
      const weight = rest.find((r) => r.length <= 12 && Number.isFinite(Number(r)));
      const key = rest.find((r) => r !== weight);
      return { model, ...(weight ? { weight: Number(weight) } : {}), ...(key ? { provider_key_id: key } : {}) };
    });
}

async function routesPage(c: UiContext, error: string | null = null, values: FormValues = {}, status: ContentfulStatusCode = 200) {
  const ctx = actionContext(c);
  const [orgRows, list] = await Promise.all([actions.listOrgs(ctx), listRoutes(ctx)]);
  const orgName = new Map(orgRows.map((o) => [o.id, o.name]));
  const [createIn, rows] = await Promise.all([
    orgsWhereCreate(c, 'route', orgRows),
    withAnswers(list, (r) => can(c, { kind: 'route', id: r.id, orgId: r.org_id }, 'delete')),
  ]);
  return c.html(
    <Layout title="Routes" page={c.var.page}>
      <p class="muted">
        A route is a model name of your own, <code>route/&lt;name&gt;</code>, that tries its targets in order (fallback) or by weight, with
        retries on connection errors, timeouts, 429 and 5xx — only before the first byte reaches the client.
      </p>
      {createIn.length ? (
        <div class="card">
          <h2>Add a route</h2>
          <ErrorBox message={error} />
          <form method="post" action="/ui/routes">
            <Csrf token={c.var.page.csrf} />
            <label for="rt-org">Organisation</label>
            <select id="rt-org" name="org_id">{createIn.map((o) => <option value={o.id} selected={values.org_id === o.id}>{o.name}</option>)}</select>
            <label for="rt-name">Name (clients call it as route/&lt;name&gt;)</label>
            <input type="text" id="rt-name" name="name" value={values.name ?? ''} required />
            <label for="rt-strategy">Strategy</label>
            <select id="rt-strategy" name="strategy">
              <option value="fallback" selected={values.strategy !== 'weighted'}>fallback — in order</option>
              <option value="weighted" selected={values.strategy === 'weighted'}>weighted — drawn by weight, then the rest</option>
            </select>
            <label for="rt-targets">Targets, one per line: model [weight] [provider key id]</label>
            <textarea id="rt-targets" name="targets" rows={4} required>{values.targets ?? ''}</textarea>
            <label for="rt-attempts">Max attempts (empty: one per target)</label>
            <input type="number" id="rt-attempts" name="max_attempts" min="1" max="10" value={values.max_attempts ?? ''} />
            <label for="rt-timeout">Timeout per attempt, ms (empty: the gateway's)</label>
            <input type="number" id="rt-timeout" name="timeout_ms" min="100" max="600000" value={values.timeout_ms ?? ''} />
            <p><button type="submit">Add route</button></p>
          </form>
        </div>
      ) : (
        <ErrorBox message={error} />
      )}
      <table data-testid="routes-table">
        <thead><tr><th>model</th><th>organisation</th><th>strategy</th><th>targets</th><th>attempts</th><th>timeout</th><th>updated</th><th></th></tr></thead>
        <tbody>
          {rows.map(({ item: r, may: mayDelete }) => (
            <tr>
              <td><code>{r.model}</code></td><td>{orgName.get(r.org_id) ?? r.org_id}</td><td>{r.strategy}</td>
              <td>
                {r.targets.map((t) => (
                  <div><code>{t.model}</code>{r.strategy === 'weighted' ? ` ×${t.weight}` : ''}{t.provider_key_id ? ` (key ${t.provider_key_id.slice(0, 8)}…)` : ''}</div>
                ))}
              </td>
              <td>{r.max_attempts}</td><td>{r.timeout_ms === null ? 'default' : `${r.timeout_ms} ms`}</td><td>{fmtTime(r.updated_at)}</td>
              <td>
                {mayDelete ? (
                  <ActionButton action={`/ui/routes/${r.id}/delete`} csrf={c.var.page.csrf} label="Delete" danger confirm={`Delete the route "${r.name}"? Clients calling ${r.model} will get 404.`} />
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>,
    status,
  );
}

export const ROUTE_ROUTES: AdminRoute<UiEnv>[] = [
  route('GET', '/routes', 'route', 'list', (c) => routesPage(c)),
  route('POST', '/routes', 'route', 'create', async (c) => {
    const form = await formOf(c);
    const parsed = parse(createRouteSchema, {
      org_id: form.org_id,
      name: form.name,
      strategy: form.strategy,
      targets: targetsFromText(form.targets ?? ''),
      ...(form.max_attempts ? { max_attempts: Number(form.max_attempts) } : {}),
      ...(form.timeout_ms ? { timeout_ms: Number(form.timeout_ms) } : {}),
    });
    if (!parsed.ok) return routesPage(c, parsed.message, form, 400);
    try {
      await createRoute(actionContext(c), parsed.value);
    } catch (e) {
      return routesPage(c, problem(e), form, statusOf(e));
    }
    return c.redirect('/ui/routes', 303);
  }),
  route('POST', '/routes/:id/delete', 'route', 'delete', async (c) => {
    try {
      await deleteRoute(actionContext(c), c.req.param('id') ?? '');
    } catch (e) {
      return routesPage(c, problem(e), {}, statusOf(e));
    }
    return c.redirect('/ui/routes', 303);
  }),
];
