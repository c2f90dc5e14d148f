/**
 * UI page: provider keys — listed by name, provider and last four characters only (the key is
 * never shown again after it is added); the add form and delete buttons only for those who may.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { PROVIDER_CATALOG } from '../../../lib/providers/catalog';
import { GatewayError } from '../../../lib/errors';
import * as actions from '../../actions';
import { testProviderKeyConnection, type ConnectionTest } from '../../domain/gateway-checks';
import { actionContext } from '../../middleware';
import { route, type AdminRoute } from '../../route-table';
import { createProviderKeySchema } from '../../schemas';
import { can, orgsWhereCreate, withAnswers } from '../can';
import { formOf, parse, problem, statusOf, type FormValues } from '../forms';
import { ConnectionResult } from '../gateway-checks';
import { ActionButton, Csrf, ErrorBox, fmtTime, Layout } from '../layout';
import type { UiContext, UiEnv } from '../session-middleware';

const KEYED_PROVIDER_INFO = PROVIDER_CATALOG.filter((p) => p.requiresKey);

interface Tested {
  name: string;
  result: ConnectionTest;
}

async function providerKeysPage(c: UiContext, error: string | null = null, values: FormValues = {}, status: ContentfulStatusCode = 200, tested: Tested | null = null) {
  const ctx = actionContext(c);
  const [orgRows, keys] = await Promise.all([actions.listOrgs(ctx), actions.listProviderKeys(ctx)]);
  const orgName = new Map(orgRows.map((o) => [o.id, o.name]));
  const [createIn, rows] = await Promise.all([
    orgsWhereCreate(c, 'provider_key', orgRows),
    withAnswers(keys, async (k) => ({
      delete: await can(c, { kind: 'provider_key', id: k.id, orgId: k.org_id }, 'delete'),
      test: await can(c, { kind: 'provider_key', id: k.id, orgId: k.org_id }, 'test'),
    })),
  ]);
  return c.html(
    <Layout title="Provider keys" page={c.var.page}>
      {tested ? <ConnectionResult name={tested.name} result={tested.result} /> : null}
      {createIn.length ? (
        <div class="card">
          <h2>Add a provider key</h2>
          <p class="muted">The key is encrypted (AES-256-GCM) before it is stored and is never shown again — only its last four characters.</p>
          <ErrorBox message={error} />
          <form method="post" action="/ui/provider-keys">
            <Csrf token={c.var.page.csrf} />
            <label for="pk-org">Organisation</label>
            <select id="pk-org" name="org_id">{createIn.map((o) => <option value={o.id} selected={values.org_id === o.id}>{o.name}</option>)}</select>
            <label for="pk-provider">Provider</label>
            <select id="pk-provider" name="provider">{KEYED_PROVIDER_INFO.map((p) => <option value={p.name} selected={values.provider === p.name}>{p.label}</option>)}</select>
            <label for="pk-name">Name</label>
            <input type="text" id="pk-name" name="name" value={values.name ?? ''} required />
            <label for="pk-secret">API key (Bedrock: credentials JSON {'{'}"access_key_id", "secret_access_key", "region"{'}'})</label>
            <input type="password" id="pk-secret" name="secret" autocomplete="off" required />
            <label for="pk-base">Base URL (required for Azure — https://&lt;resource&gt;.openai.azure.com, optionally ?api-version=… — and for vLLM and Ollama; optional otherwise, e.g. another OpenAI-compatible server)</label>
            <input type="url" id="pk-base" name="base_url" value={values.base_url ?? ''} />
            <p><button type="submit">Add provider key</button></p>
          </form>
        </div>
      ) : (
        <ErrorBox message={error} />
      )}
      <table data-testid="provider-keys-table">
        <thead><tr><th>name</th><th>provider</th><th>organisation</th><th>base URL</th><th>key</th><th>created</th><th></th></tr></thead>
        <tbody>
          {rows.map(({ item: k, may }) => (
            <tr data-provider-key-id={k.id}>
              <td>{k.name}</td><td>{k.provider}</td><td>{orgName.get(k.org_id) ?? k.org_id}</td><td>{k.base_url ?? 'default'}</td><td><code>{`…${k.last4}`}</code></td><td>{fmtTime(k.created_at)}</td>
              <td>
                {may.test ? <ActionButton action={`/ui/provider-keys/${k.id}/test`} csrf={c.var.page.csrf} label="Test connection" /> : null}
                {may.delete ? (
                  <ActionButton action={`/ui/provider-keys/${k.id}/delete`} csrf={c.var.page.csrf} label="Delete" danger confirm={`Delete the provider key "${k.name}"? Requests using it will fail.`} />
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

/** The test through the gateway; a gateway that cannot be asked is a failed test with the reason, not an error page. */
async function runTest(c: UiContext, id: string, name: string, justCreated = false): Promise<Tested> {
  try {
    return { name, result: await testProviderKeyConnection(actionContext(c), id) };
  } catch (e) {
    // A missing key is the button's 404; right after creation it can only mean the edge has not got it yet.
    if (e instanceof GatewayError && e.kind === 'not_found' && !justCreated) throw e;
    // Gateway errors carry a message written for people (e.g. "internal calls are not configured").
    const error = e instanceof GatewayError ? e.message : problem(e);
    return { name, result: { provider_key_id: id, provider: '', ok: false, status: null, latency_ms: null, error } };
  }
}

export const PROVIDER_KEY_ROUTES: AdminRoute<UiEnv>[] = [
  route('GET', '/provider-keys', 'provider_key', 'list', (c) => providerKeysPage(c)),
  route('POST', '/provider-keys', 'provider_key', 'create', async (c) => {
    const form = await formOf(c);
    const { secret: _secret, ...keep } = form; // never echo the secret back
    const parsed = parse(createProviderKeySchema(c.env.ALLOW_PRIVATE_UPSTREAMS === 'true'), {
      org_id: form.org_id,
      provider: form.provider,
      name: form.name,
      secret: form.secret,
      base_url: form.base_url ? form.base_url : null,
    });
    if (!parsed.ok) return providerKeysPage(c, parsed.message, keep, 400);
    let created: Awaited<ReturnType<typeof actions.createProviderKey>>;
    try {
      created = await actions.createProviderKey(actionContext(c), parsed.value);
    } catch (e) {
      return providerKeysPage(c, problem(e), keep, statusOf(e));
    }
    // A new key is tested at once (when the person may): a typo in the key shows now, not on the first request.
    if (!(await can(c, { kind: 'provider_key', id: created.id, orgId: created.org_id }, 'test'))) return c.redirect('/ui/provider-keys', 303);
    return providerKeysPage(c, null, {}, 201, await runTest(c, created.id, created.name, true));
  }),
  route('POST', '/provider-keys/:id/test', 'provider_key', 'test', async (c) => {
    const id = c.req.param('id') ?? '';
    try {
      const name = (await actions.listProviderKeys(actionContext(c))).find((k) => k.id === id)?.name ?? id;
      return providerKeysPage(c, null, {}, 200, await runTest(c, id, name));
    } catch (e) {
      return providerKeysPage(c, problem(e), {}, statusOf(e));
    }
  }),
  route('POST', '/provider-keys/:id/delete', 'provider_key', 'delete', async (c) => {
    try {
      await actions.deleteProviderKey(actionContext(c), c.req.param('id') ?? '');
    } catch (e) {
      return providerKeysPage(c, problem(e), {}, statusOf(e));
    }
    return c.redirect('/ui/provider-keys', 303);
  }),
];
