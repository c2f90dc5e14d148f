/**
 * UI page: the management API reference, generated from the same OpenAPI description served at
 * /api/openapi.json. It shows no data of anyone's — the same document is public at
 * /api/openapi.json — so it is an open route (behind the session only to keep the UI in one piece).
 */
import { buildOpenApi } from '../../openapi';
import { openRoute, type AdminRoute } from '../../route-table';
import { Layout } from '../layout';
import type { UiContext, UiEnv } from '../session-middleware';

function apiReferencePage(c: UiContext) {
  const doc = buildOpenApi();
  return c.html(
    <Layout title="Management API" page={c.var.page}>
      <p>
        Machine-readable description: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI {doc.openapi}). Every call needs{' '}
        <code>Authorization: Bearer &lt;token&gt;</code>: an admin API token (see API tokens) or, for bootstrapping, the master key.
      </p>
      {Object.entries(doc.paths).flatMap(([p, ops]) =>
        Object.entries(ops).map(([method, op]) => (
          <div class="card">
            <h2><code>{`${method.toUpperCase()} ${p}`}</code></h2>
            <p>{op.summary}</p>
            {op.parameters?.length ? <p class="muted">{`Parameters: ${op.parameters.map((x) => `${x.name} (${x.in})`).join(', ')}`}</p> : null}
            {op.requestBody ? <pre>{JSON.stringify(op.requestBody.content['application/json'].schema, null, 2)}</pre> : null}
          </div>
        )),
      )}
    </Layout>,
  );
}

export const API_REFERENCE_ROUTES: AdminRoute<UiEnv>[] = [
  openRoute('GET', '/api', 'documentation only, the same as the public /api/openapi.json', apiReferencePage),
];
