/**
 * UI pages: virtual keys — the list (policy-filtered: a developer sees only their own), the
 * creation form (the key is shown once, in a copy box), a key's page with its recent usage, and
 * revocation after a confirmation page. Links and forms appear only where Cerbos allows them.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { GatewayError } from '../../../lib/errors';
import * as actions from '../../actions';
import { planFilter } from '../../auth/plan';
import { actionContext } from '../../middleware';
import { eventVisibility, lastUsedByKey, listEvents } from '../../queries';
import { route, type AdminRoute } from '../../route-table';
import { createKeySchema, listQuerySchema } from '../../schemas';
import { parseWith } from '../../validation';
import { can, orgsWhereCreate, withAnswers } from '../can';
import { EventsTable } from '../events-table';
import { formOf, lines, parse, problem, statusOf, utcFromLocalInput, type FormValues } from '../forms';
import { Badge, Csrf, ErrorBox, fmtCost, fmtTime, Layout, ShownOnce } from '../layout';
import { keyOwners, orgNames, userEmails } from '../names';
import { describeLimits } from './limits';
import type { UiContext, UiEnv } from '../session-middleware';

/** A malformed id is simply a key that does not exist (404), as before. */
const keyParam = (c: UiContext) => c.req.param('id') ?? '';

async function mayRevoke(c: UiContext, key: { id: string; org_id: string }, owner: string | null | undefined) {
  return can(c, { kind: 'virtual_key', id: key.id, orgId: key.org_id, ownerUserId: owner ?? null }, 'revoke');
}

async function keysPage(c: UiContext) {
  const ctx = actionContext(c);
  const orgFilter = parseWith(listQuerySchema, { org_id: c.req.query('org_id') || undefined }).org_id;
  const status = c.req.query('status') || '';
  const [orgRows, keys, lastUsed] = await Promise.all([actions.listOrgs(ctx), actions.listVirtualKeys(ctx, orgFilter), lastUsedByKey(c.var.db)]);
  const orgName = new Map(orgRows.map((o) => [o.id, o.name]));
  const soon = Date.now() + 7 * 24 * 3600_000;
  const shown = keys.filter((k) =>
    status === 'expiring' ? k.status === 'active' && k.expires_at !== null && new Date(k.expires_at).getTime() < soon : status ? k.status === status : true,
  );
  const owners = await keyOwners(c.var.db, shown.map((k) => k.id));
  const [emails, createIn, rows] = await Promise.all([
    userEmails(c.var.db, [...owners.values()]),
    orgsWhereCreate(c, 'virtual_key', orgRows),
    withAnswers(shown, (k) => (k.status === 'active' ? mayRevoke(c, k, owners.get(k.id)) : Promise.resolve(false))),
  ]);
  return c.html(
    <Layout title="Virtual keys" page={c.var.page}>
      {createIn.length ? <p><a class="button" href="/ui/keys/new">Create a virtual key</a></p> : null}
      <form class="filters" method="get" action="/ui/keys">
        <div><label for="f-org">Organisation</label><select id="f-org" name="org_id"><option value="">all</option>{orgRows.map((o) => <option value={o.id} selected={o.id === orgFilter}>{o.name}</option>)}</select></div>
        <div><label for="f-status">Status</label><select id="f-status" name="status">{[['', 'all'], ['active', 'active'], ['revoked', 'revoked'], ['expired', 'expired'], ['expiring', 'expiring within 7 days']].map(([v, l]) => <option value={v} selected={v === status}>{l}</option>)}</select></div>
        <button class="secondary" type="submit">Filter</button>
      </form>
      <table data-testid="keys-table">
        <thead><tr><th>name</th><th>id</th><th>organisation</th><th>owner</th><th>status</th><th>models</th><th>expires</th><th>last used</th><th></th></tr></thead>
        <tbody>
          {rows.map(({ item: k, may: revocable }) => {
            const owner = owners.get(k.id);
            return (
              <tr data-key-id={k.id}>
                <td><a href={`/ui/keys/${k.id}`}>{k.name}</a></td><td><code>{k.id}</code></td><td>{orgName.get(k.org_id) ?? k.org_id}</td>
                <td>{owner ? emails.get(owner) ?? owner : <span class="muted">service</span>}</td><td><Badge value={k.status} /></td>
                <td>{k.models.join(', ')}</td><td>{fmtTime(k.expires_at)}</td><td>{fmtTime(lastUsed.get(k.id) ?? null)}</td>
                <td>{revocable ? <a href={`/ui/keys/${k.id}/revoke`}>Revoke</a> : null}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Layout>,
  );
}

async function newKeyPage(c: UiContext, error: string | null = null, values: FormValues = {}, status: ContentfulStatusCode = 200) {
  const createIn = await orgsWhereCreate(c, 'virtual_key', await actions.listOrgs(actionContext(c)));
  if (!createIn.length) throw new GatewayError('permission', 'You may not create virtual keys in any organisation.');
  return c.html(
    <Layout title="Create a virtual key" page={c.var.page}>
      <div class="card">
        <ErrorBox message={error} />
        <form method="post" action="/ui/keys">
          <Csrf token={c.var.page.csrf} />
          <label for="k-org">Organisation</label>
          <select id="k-org" name="org_id">{createIn.map((o) => <option value={o.id} selected={values.org_id === o.id}>{o.name}</option>)}</select>
          <label for="k-name">Name</label>
          <input type="text" id="k-name" name="name" value={values.name ?? ''} required />
          <label for="k-models">Allowed models (one pattern per line, e.g. openai/*; empty = all)</label>
          <textarea id="k-models" name="models">{values.models ?? ''}</textarea>
          <label for="k-expires">Expires (UTC, optional)</label>
          <input type="datetime-local" id="k-expires" name="expires_at" value={values.expires_at ?? ''} />
          <label for="k-cidrs">Allowed client networks (CIDR, one per line; empty = any)</label>
          <textarea id="k-cidrs" name="cidrs">{values.cidrs ?? ''}</textarea>
          <p><button type="submit">Create key</button></p>
        </form>
      </div>
    </Layout>,
    status,
  );
}

async function createKey(c: UiContext) {
  const form = await formOf(c);
  const models = lines(form.models);
  const cidrs = lines(form.cidrs);
  const expiresAt = utcFromLocalInput(form.expires_at);
  const parsed = parse(createKeySchema, {
    org_id: form.org_id,
    name: form.name,
    ...(models.length ? { models } : {}),
    ...(cidrs.length ? { cidrs } : {}),
    ...(expiresAt ? { expires_at: expiresAt } : {}),
  });
  if (!parsed.ok) return newKeyPage(c, parsed.message, form, 400);
  let created: Awaited<ReturnType<typeof actions.createVirtualKey>>;
  try {
    created = await actions.createVirtualKey(actionContext(c), parsed.value);
  } catch (e) {
    return newKeyPage(c, problem(e), form, statusOf(e));
  }
  return c.html(
    <Layout title="Your new virtual key" page={c.var.page}>
      <div class="card">
        <ShownOnce id="new-key" secret={created.key} what="key" />
        <p>Name: {created.name} · id <code>{created.id}</code> · models: {created.models.join(', ')}</p>
        <p><a href="/ui/keys">Back to virtual keys</a></p>
      </div>
    </Layout>,
    201,
  );
}

async function keyPage(c: UiContext) {
  const ctx = actionContext(c);
  const key = await actions.findVirtualKey(ctx, keyParam(c));
  const events = await listEvents(c.var.db, { key_id: key.id, limit: 20 }, await planFilter(ctx, 'event', 'list', eventVisibility));
  const owner = (await keyOwners(c.var.db, [key.id])).get(key.id);
  const [orgs, revocable] = await Promise.all([orgNames(c.var.db, [key.org_id]), key.status === 'active' ? mayRevoke(c, key, owner) : false]);
  const totals = events.data.reduce((a, e) => ({ tokens: a.tokens + (e.input_tokens ?? 0) + (e.output_tokens ?? 0), cost: a.cost + (e.cost_usd ?? 0) }), { tokens: 0, cost: 0 });
  return c.html(
    <Layout title={`Virtual key: ${key.name}`} page={c.var.page}>
      <div class="card">
        <p>id <code>{key.id}</code> · <Badge value={key.status} /> · created {fmtTime(key.created_at)} · expires {fmtTime(key.expires_at)}</p>
        <p>Models: {key.models.join(', ')} · Networks: {key.cidrs.length ? key.cidrs.join(', ') : 'any'}</p>
        <p>Limits: {describeLimits(key.limits)} (<a href="/ui/limits">limits and budgets</a>)</p>
        {revocable ? <p><a class="button secondary" href={`/ui/keys/${key.id}/revoke`}>Revoke…</a></p> : null}
      </div>
      <h2>Recent usage</h2>
      <p class="muted">{`Last ${events.data.length} requests: ${totals.tokens} tokens, ${fmtCost(totals.cost)}`}</p>
      <EventsTable rows={events.data} orgNames={orgs} keyNames={new Map([[key.id, key.name]])} />
    </Layout>,
  );
}

async function revokeConfirmPage(c: UiContext) {
  const key = await actions.findVirtualKey(actionContext(c), keyParam(c));
  const owner = (await keyOwners(c.var.db, [key.id])).get(key.id);
  if (!(await mayRevoke(c, key, owner))) throw new GatewayError('permission', 'You may not revoke this virtual key.');
  return c.html(
    <Layout title="Revoke virtual key" page={c.var.page}>
      <div class="card">
        <p>Revoke <b>{key.name}</b> (<code>{key.id}</code>)? Applications using it will be refused within 30 seconds. This cannot be undone.</p>
        <form method="post" action={`/ui/keys/${key.id}/revoke`}>
          <Csrf token={c.var.page.csrf} />
          <button class="danger" type="submit">Revoke key</button> <a href="/ui/keys">Cancel</a>
        </form>
      </div>
    </Layout>,
  );
}

export const KEY_ROUTES: AdminRoute<UiEnv>[] = [
  route('GET', '/keys', 'virtual_key', 'list', keysPage),
  route('GET', '/keys/new', 'virtual_key', 'create', (c) => newKeyPage(c)),
  route('POST', '/keys', 'virtual_key', 'create', createKey),
  route('GET', '/keys/:id', 'virtual_key', 'read', keyPage),
  route('GET', '/keys/:id/revoke', 'virtual_key', 'revoke', revokeConfirmPage),
  route('POST', '/keys/:id/revoke', 'virtual_key', 'revoke', async (c) => {
    await actions.revokeVirtualKey(actionContext(c), keyParam(c));
    return c.redirect('/ui/keys', 303);
  }),
];
