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
import { createKeySchema, listQuerySchema, rotateKeySchema } from '../../schemas';
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

async function mayRotate(c: UiContext, key: { id: string; org_id: string }, owner: string | null | undefined) {
  return can(c, { kind: 'virtual_key', id: key.id, orgId: key.org_id, ownerUserId: owner ?? null }, 'rotate');
}

/** Grace periods offered in the UI (the API takes any number of seconds up to 7 days). */
const GRACE_CHOICES: Array<[number, string]> = [
  [0, 'none: the old secret stops at once'],
  [3600, '1 hour'],
  [24 * 3600, '24 hours'],
  [7 * 24 * 3600, '7 days'],
];

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
  const [orgs, revocable, rotatable] = await Promise.all([
    orgNames(c.var.db, [key.org_id]),
    key.status === 'active' ? mayRevoke(c, key, owner) : false,
    key.status === 'active' ? mayRotate(c, key, owner) : false,
  ]);
  const totals = events.data.reduce((a, e) => ({ tokens: a.tokens + (e.input_tokens ?? 0) + (e.output_tokens ?? 0), cost: a.cost + (e.cost_usd ?? 0) }), { tokens: 0, cost: 0 });
  return c.html(
    <Layout title={`Virtual key: ${key.name}`} page={c.var.page}>
      <div class="card">
        <p>id <code>{key.id}</code> · <Badge value={key.status} /> · created {fmtTime(key.created_at)} · expires {fmtTime(key.expires_at)}</p>
        <p>Models: {key.models.join(', ')} · Networks: {key.cidrs.length ? key.cidrs.join(', ') : 'any'}</p>
        <p>Limits: {describeLimits(key.limits)} (<a href="/ui/limits">limits and budgets</a>)</p>
        {key.rotated_at ? (
          <p data-testid="rotation">
            {`Secret rotated ${fmtTime(key.rotated_at)}`}
            {key.previous_secret_expires_at ? ` · the previous secret works until ${fmtTime(key.previous_secret_expires_at)}` : ''}
          </p>
        ) : null}
        {revocable || rotatable ? (
          <p>
            {rotatable ? <a class="button secondary" href={`/ui/keys/${key.id}/rotate`}>Rotate secret…</a> : null}{' '}
            {revocable ? <a class="button secondary" href={`/ui/keys/${key.id}/revoke`}>Revoke…</a> : null}
          </p>
        ) : null}
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

async function rotatePage(c: UiContext, error: string | null = null, status: ContentfulStatusCode = 200) {
  const key = await actions.findVirtualKey(actionContext(c), keyParam(c));
  const owner = (await keyOwners(c.var.db, [key.id])).get(key.id);
  if (!(await mayRotate(c, key, owner))) throw new GatewayError('permission', 'You may not rotate this virtual key.');
  return c.html(
    <Layout title="Rotate virtual key" page={c.var.page}>
      <div class="card">
        <ErrorBox message={error} />
        <p>
          Rotate <b>{key.name}</b> (<code>{key.id}</code>)? It gets a new secret, shown once; its id, models, networks, owner and usage
          history stay. The current secret keeps working for the grace period you choose, so applications can switch without an outage.
        </p>
        <form method="post" action={`/ui/keys/${key.id}/rotate`}>
          <Csrf token={c.var.page.csrf} />
          <label for="r-grace">The current secret keeps working for</label>
          <select id="r-grace" name="grace_seconds">{GRACE_CHOICES.map(([v, l]) => <option value={String(v)} selected={v === 3600}>{l}</option>)}</select>
          <p><button type="submit">Rotate secret</button> <a href={`/ui/keys/${key.id}`}>Cancel</a></p>
        </form>
      </div>
    </Layout>,
    status,
  );
}

async function rotateKey(c: UiContext) {
  const form = await formOf(c);
  const parsed = parse(rotateKeySchema, { grace_seconds: /^\d{1,7}$/.test(form.grace_seconds ?? '') ? Number(form.grace_seconds) : form.grace_seconds });
  if (!parsed.ok) return rotatePage(c, parsed.message, 400);
  let rotated: Awaited<ReturnType<typeof actions.rotateVirtualKey>>;
  try {
    rotated = await actions.rotateVirtualKey(actionContext(c), keyParam(c), parsed.value.grace_seconds);
  } catch (e) {
    if (e instanceof GatewayError && (e.kind === 'not_found' || e.kind === 'permission')) throw e;
    return rotatePage(c, problem(e), statusOf(e));
  }
  return c.html(
    <Layout title="Your rotated virtual key" page={c.var.page}>
      <div class="card">
        <ShownOnce id="new-key" secret={rotated.key} what="key" />
        {rotated.warning ? <div class="error" role="alert">{rotated.warning}</div> : null}
        <p data-testid="grace">
          {rotated.previous_secret_expires_at
            ? `The previous secret keeps working until ${fmtTime(rotated.previous_secret_expires_at)}; after that it is refused.`
            : 'The previous secret is refused from now on.'}
        </p>
        <p>Name: {rotated.name} · id <code>{rotated.id}</code> · models: {rotated.models.join(', ')}</p>
        <p><a href={`/ui/keys/${rotated.id}`}>Back to the key</a></p>
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
  route('GET', '/keys/:id/rotate', 'virtual_key', 'rotate', (c) => rotatePage(c)),
  route('POST', '/keys/:id/rotate', 'virtual_key', 'rotate', rotateKey),
  route('POST', '/keys/:id/revoke', 'virtual_key', 'revoke', async (c) => {
    await actions.revokeVirtualKey(actionContext(c), keyParam(c));
    return c.redirect('/ui/keys', 303);
  }),
];
