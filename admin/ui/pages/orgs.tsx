/** UI page: organisations — the ones the principal may see; a creation form for those who may create one. */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import * as actions from '../../actions';
import { actionContext } from '../../middleware';
import { route, type AdminRoute } from '../../route-table';
import { createOrgSchema } from '../../schemas';
import { can } from '../can';
import { formOf, parse, problem, statusOf, type FormValues } from '../forms';
import { Csrf, ErrorBox, fmtTime, Layout } from '../layout';
import type { UiContext, UiEnv } from '../session-middleware';

async function orgsPage(c: UiContext, error: string | null = null, values: FormValues = {}, status: ContentfulStatusCode = 200) {
  const [rows, mayCreate] = await Promise.all([actions.listOrgs(actionContext(c)), can(c, { kind: 'org' }, 'create')]);
  return c.html(
    <Layout title="Organisations" page={c.var.page}>
      {mayCreate ? (
        <div class="card">
          <h2>New organisation</h2>
          <ErrorBox message={error} />
          <form method="post" action="/ui/orgs">
            <Csrf token={c.var.page.csrf} />
            <label for="org-name">Name</label>
            <input type="text" id="org-name" name="name" value={values.name ?? ''} required />
            <p><button type="submit">Create organisation</button></p>
          </form>
        </div>
      ) : (
        <ErrorBox message={error} />
      )}
      <table data-testid="orgs-table">
        <thead><tr><th>name</th><th>id</th><th>created</th></tr></thead>
        <tbody>{rows.map((o) => <tr><td>{o.name}</td><td><code>{o.id}</code></td><td>{fmtTime(o.created_at)}</td></tr>)}</tbody>
      </table>
    </Layout>,
    status,
  );
}

export const ORG_ROUTES: AdminRoute<UiEnv>[] = [
  route('GET', '/orgs', 'org', 'list', (c) => orgsPage(c)),
  route('POST', '/orgs', 'org', 'create', async (c) => {
    const form = await formOf(c);
    const parsed = parse(createOrgSchema, { name: form.name });
    if (!parsed.ok) return orgsPage(c, parsed.message, form, 400);
    try {
      await actions.createOrg(actionContext(c), parsed.value);
    } catch (e) {
      return orgsPage(c, problem(e), form, statusOf(e));
    }
    return c.redirect('/ui/orgs', 303);
  }),
];
