/** UI page: organisations — the ones the principal may see; a creation form for those who may create one. */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import * as actions from '../../actions';
import { actionContext } from '../../middleware';
import { route, type AdminRoute } from '../../route-table';
import { createOrgSchema } from '../../schemas';
import { can, withAnswers } from '../can';
import { formOf, parse, problem, statusOf, type FormValues } from '../forms';
import { Csrf, ErrorBox, fmtTime, Layout } from '../layout';
import type { UiContext, UiEnv } from '../session-middleware';

async function orgsPage(c: UiContext, error: string | null = null, values: FormValues = {}, status: ContentfulStatusCode = 200) {
  const [rows, mayCreate] = await Promise.all([actions.listOrgs(actionContext(c)), can(c, { kind: 'org' }, 'create')]);
  const withEvidence = await withAnswers(rows, (o) => can(c, { kind: 'evidence', orgId: o.id }, 'export'));
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
        <thead><tr><th>name</th><th>id</th><th>created</th><th>evidence</th></tr></thead>
        <tbody>
          {withEvidence.map(({ item: o, may }) => (
            <tr>
              <td>{o.name}</td><td><code>{o.id}</code></td><td>{fmtTime(o.created_at)}</td>
              <td>{may ? <a class="button secondary" href={`/api/v1/evidence?org_id=${o.id}`} download title="Signed export for a security review: inventories, access review, the last 90 days of the admin audit log">Export evidence</a> : '—'}</td>
            </tr>
          ))}
        </tbody>
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
