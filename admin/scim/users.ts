/**
 * SCIM Users (RFC 7644 §3.3–3.6) for one organisation. Every change is one Cerbos decision on
 * `scim_user` (only the organisation's SCIM token may) and commits with its audit row, actor
 * `scim:<token id>` (admin/domain/change.ts). Access follows from the result (./access.ts):
 * deactivation or DELETE deprovisions at once; KV is written right after the commit.
 */
import { and, asc, count, eq, inArray } from 'drizzle-orm';
import { GatewayError } from '../../lib/errors';
import { change, authorize, authorizeOrHide, publishToEdge } from '../domain/change';
import { findUserByEmail } from '../domain/users';
import type { DbTransaction, Queryable } from '../db/client';
import { scimGroupMembers, scimGroups, scimUsers, users } from '../db/schema';
import { syncVirtualKey } from '../kv-sync';
import { revokeInCounters } from '../limits';
import { deprovision, emailDomainVerdict, isMember, soleOrganisation, syncActiveAccess, type Deprovisioned } from './access';
import type { ScimContext, Page } from './context';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, listResponse } from './discovery';
import { scimBadRequest, scimNotFound } from './errors';
import { parseScimFilter } from './filter';
import { applyPatch, USER_ATTRIBUTES } from './patch';
import { parseScimUser, toScimUser, type ScimUserRow } from './user-resource';

const userNotFound = (id: string) => scimNotFound(`User ${id}`);

async function groupsOf(db: Queryable, orgId: string, userIds: string[]): Promise<Map<string, { id: string; displayName: string }[]>> {
  const out = new Map<string, { id: string; displayName: string }[]>();
  if (userIds.length === 0) return out;
  const rows = await db
    .select({ userId: scimGroupMembers.user_id, id: scimGroups.id, displayName: scimGroups.display_name })
    .from(scimGroupMembers)
    .innerJoin(scimGroups, eq(scimGroups.id, scimGroupMembers.group_id))
    .where(and(eq(scimGroups.org_id, orgId), inArray(scimGroupMembers.user_id, userIds)))
    .orderBy(asc(scimGroups.display_name));
  for (const r of rows) out.set(r.userId, [...(out.get(r.userId) ?? []), { id: r.id, displayName: r.displayName }]);
  return out;
}

async function findLink(db: Queryable, orgId: string, userId: string): Promise<ScimUserRow | null> {
  const [row] = await db.select().from(scimUsers).where(and(eq(scimUsers.org_id, orgId), eq(scimUsers.user_id, userId))).limit(1);
  return row ?? null;
}

async function render(s: ScimContext, db: Queryable, row: ScimUserRow) {
  return toScimUser(row, (await groupsOf(db, s.orgId, [row.user_id])).get(row.user_id) ?? [], s.base);
}

/** Writes the revoked keys to KV after the commit; a lasting failure is a 503 the IdP retries. */
async function publishRevocations(s: ScimContext, result: Deprovisioned | null): Promise<void> {
  if (!result) return;
  let ok = true;
  for (const key of result.revokedKeys) {
    ok = (await publishToEdge(`vk:${key.id}`, s.ctx.meta.requestId, () => syncVirtualKey(s.ctx.env.ROUTERO_KV, key))) && ok;
    // A key with limits is checked in its counters on every request: refused there at once.
    ok = (await revokeInCounters(s.ctx.env, key.id, s.ctx.meta.requestId)) && ok;
  }
  if (!ok) throw new GatewayError('unavailable', 'The user was deprovisioned, but the edge was not updated yet; retry shortly.');
}

export async function getScimUser(s: ScimContext, id: string) {
  await authorizeOrHide(s.ctx, { kind: 'scim_user', id, orgId: s.orgId }, 'read', userNotFound(id));
  const row = await findLink(s.ctx.db, s.orgId, id);
  if (!row) throw userNotFound(id);
  return render(s, s.ctx.db, row);
}

export async function listScimUsers(s: ScimContext, filterText: string | undefined, page: Page) {
  await authorize(s.ctx, { kind: 'scim_user', orgId: s.orgId }, 'list');
  const filter = parseScimFilter(filterText);
  const inOrg = eq(scimUsers.org_id, s.orgId);
  let rows: ScimUserRow[];
  let total: number;
  // The lookups IdPs make before every create ("does userName X exist?") use an index.
  const fast =
    filter?.simpleEq?.attr === 'username'
      ? eq(scimUsers.user_name_key, filter.simpleEq.value)
      : filter?.simpleEq?.attr === 'externalid'
        ? eq(scimUsers.external_id, filter.simpleEq.value)
        : filter?.simpleEq?.attr === 'id'
          ? eq(scimUsers.user_id, /^[0-9a-f-]{36}$/i.test(filter.simpleEq.value) ? filter.simpleEq.value.toLowerCase() : '00000000-0000-0000-0000-000000000000')
          : null;
  if (!filter || fast) {
    const where = fast ? and(inOrg, fast) : inOrg;
    total = (await s.ctx.db.select({ n: count() }).from(scimUsers).where(where))[0]?.n ?? 0;
    rows = page.count === 0 ? [] : await s.ctx.db.select().from(scimUsers).where(where).orderBy(asc(scimUsers.created_at), asc(scimUsers.user_id)).limit(page.count).offset(page.startIndex - 1);
  } else {
    // Any other filter is evaluated over the SCIM representation (one organisation's users).
    const all = await s.ctx.db.select().from(scimUsers).where(inOrg).orderBy(asc(scimUsers.created_at), asc(scimUsers.user_id));
    const groups = await groupsOf(s.ctx.db, s.orgId, all.map((r) => r.user_id));
    const matching = all.filter((r) => filter.matches(toScimUser(r, groups.get(r.user_id) ?? [], s.base)));
    total = matching.length;
    rows = matching.slice(page.startIndex - 1, page.startIndex - 1 + page.count);
  }
  const groups = await groupsOf(s.ctx.db, s.orgId, rows.map((r) => r.user_id));
  return listResponse(
    rows.map((r) => toScimUser(r, groups.get(r.user_id) ?? [], s.base)),
    total,
    page.startIndex,
  );
}

export const USER_PAGE = { max: MAX_PAGE_SIZE, fallback: DEFAULT_PAGE_SIZE };

const duplicateUserName = (userName: string) => scimBadRequest('uniqueness', `A user with userName "${userName.slice(0, 300)}" already exists.`);

/**
 * The users row a new SCIM user becomes (README, SCIM): null for a new person, whose address must
 * be this organisation's to give; an existing person only when they are already a member here or
 * their address is in this organisation's SSO connection domains, and not linked here already.
 */
async function claimEmail(tx: DbTransaction, orgId: string, email: string): Promise<string | null> {
  const verdict = await emailDomainVerdict(tx, orgId, email);
  const existing = await findUserByEmail(tx, email);
  if (!existing) {
    if (verdict === 'foreign') throw emailOutside(email);
    return null;
  }
  const linked = await findLink(tx, orgId, existing.id);
  if (linked) throw scimBadRequest('uniqueness', `Another user of this organisation already has the email ${email}.`);
  if (verdict !== 'own' && !(await isMember(tx, orgId, existing.id))) {
    throw scimBadRequest('uniqueness', `The email ${email} belongs to a Routero user outside this organisation.`);
  }
  return existing.id;
}

const emailOutside = (email: string) =>
  scimBadRequest('invalidValue', `The email ${email.slice(0, 320)} is not in an email domain of this organisation's SSO connections.`);

/**
 * POST /Users. A person Routero already knows by that email (added by an admin, or signed in by
 * SSO) is linked rather than duplicated: the IdP becomes the source of their status and role here.
 */
export async function createScimUser(s: ScimContext, body: unknown) {
  const { input, attributes, email } = parseScimUser(body);
  const active = input.active ?? true;
  const result = await change(s.ctx, { action: 'scim.user.create', cerbosAction: 'create', resource: { kind: 'scim_user', orgId: s.orgId } }, async (tx) => {
    const key = input.userName.toLowerCase();
    const [taken] = await tx.select({ id: scimUsers.user_id }).from(scimUsers).where(and(eq(scimUsers.org_id, s.orgId), eq(scimUsers.user_name_key, key))).limit(1);
    if (taken) throw duplicateUserName(input.userName);
    let userId = await claimEmail(tx, s.orgId, email);
    if (!userId) {
      userId = crypto.randomUUID();
      await tx.insert(users).values({ id: userId, email, display_name: displayNameOf(input, attributes), platform_admin: false });
    }
    const [row] = await tx
      .insert(scimUsers)
      .values({ org_id: s.orgId, user_id: userId, user_name: input.userName, user_name_key: key, external_id: input.externalId ?? null, active, attributes })
      .returning();
    const deprovisioned = active ? (await syncActiveAccess(tx, s.orgId, userId, { reactivate: true }), null) : await deprovision(s.ctx, tx, s.orgId, userId);
    return { result: { row: row!, deprovisioned }, targetId: userId };
  });
  await publishRevocations(s, result.deprovisioned);
  return render(s, s.ctx.db, result.row);
}

function displayNameOf(input: { displayName?: string | null }, attributes: Record<string, unknown>): string | null {
  if (input.displayName) return input.displayName.slice(0, 200);
  const name = attributes.name;
  if (name && typeof name === 'object') {
    const n = name as Record<string, unknown>;
    if (typeof n.formatted === 'string' && n.formatted) return n.formatted.slice(0, 200);
    const parts = [n.givenName, n.familyName].filter((p): p is string => typeof p === 'string' && p !== '');
    if (parts.length > 0) return parts.join(' ').slice(0, 200);
  }
  return null;
}

/**
 * Replaces a user with a full new representation (PUT, and PATCH after the operations were applied
 * to the current one). `active` going false deprovisions, going true restores sign-in.
 */
async function replaceUser(s: ScimContext, id: string, action: string, next: (current: ScimUserRow, tx: DbTransaction) => Promise<unknown>) {
  const result = await change(
    s.ctx,
    { action, cerbosAction: 'update', resource: { kind: 'scim_user', id, orgId: s.orgId }, hideAs: userNotFound(id) },
    async (tx) => {
      const current = await findLink(tx, s.orgId, id);
      if (!current) throw userNotFound(id);
      const { input, attributes, email } = parseScimUser(await next(current, tx));
      const key = input.userName.toLowerCase();
      if (key !== current.user_name_key) {
        const [taken] = await tx.select({ id: scimUsers.user_id }).from(scimUsers).where(and(eq(scimUsers.org_id, s.orgId), eq(scimUsers.user_name_key, key))).limit(1);
        if (taken) throw duplicateUserName(input.userName);
      }
      // The sign-in email is global: only an organisation that is the person's only one may change
      // it, so one organisation's IdP cannot rename a person who also works in another, and only to
      // an address in its own SSO connection domains, so it cannot give its user someone else's
      // address (README, SCIM). With no connection domains the address is kept as it is.
      if (await soleOrganisation(tx, s.orgId, id)) {
        const [user] = await tx.select({ email: users.email }).from(users).where(eq(users.id, id)).limit(1);
        let nextEmail = user?.email ?? email;
        if (user && email !== user.email) {
          const verdict = await emailDomainVerdict(tx, s.orgId, email);
          if (verdict === 'foreign') throw emailOutside(email);
          if (verdict === 'own') {
            const other = await findUserByEmail(tx, email);
            if (other && other.id !== id) throw scimBadRequest('uniqueness', `The email ${email} belongs to another Routero user.`);
            nextEmail = email;
          }
        }
        await tx.update(users).set({ email: nextEmail, display_name: displayNameOf(input, attributes) }).where(eq(users.id, id));
      }
      const active = input.active ?? current.active;
      const [row] = await tx
        .update(scimUsers)
        .set({ user_name: input.userName, user_name_key: key, external_id: input.externalId ?? null, active, attributes, updated_at: new Date() })
        .where(and(eq(scimUsers.org_id, s.orgId), eq(scimUsers.user_id, id)))
        .returning();
      let deprovisioned: Deprovisioned | null = null;
      if (current.active && !active) deprovisioned = await deprovision(s.ctx, tx, s.orgId, id);
      else if (active) await syncActiveAccess(tx, s.orgId, id, { reactivate: !current.active });
      return { result: { row: row!, deprovisioned } };
    },
  );
  await publishRevocations(s, result.deprovisioned);
  return render(s, s.ctx.db, result.row);
}

export function putScimUser(s: ScimContext, id: string, body: unknown) {
  return replaceUser(s, id, 'scim.user.replace', async () => body);
}

export function patchScimUser(s: ScimContext, id: string, body: unknown) {
  return replaceUser(s, id, 'scim.user.patch', async (current, tx) => {
    const resource = toScimUser(current, (await groupsOf(tx, s.orgId, [id])).get(id) ?? [], s.base);
    // Entra ID's `"False"` for `active` survives the patch as a string; parseScimUser coerces it.
    return applyPatch(resource, body, USER_ATTRIBUTES);
  });
}

/** DELETE /Users/:id (RFC 7644 §3.6): gone for SCIM (404 after), deprovisioned, kept for the audit trail. */
export async function deleteScimUser(s: ScimContext, id: string) {
  const result = await change(
    s.ctx,
    { action: 'scim.user.delete', cerbosAction: 'delete', resource: { kind: 'scim_user', id, orgId: s.orgId }, hideAs: userNotFound(id) },
    async (tx) => {
      const current = await findLink(tx, s.orgId, id);
      if (!current) throw userNotFound(id);
      const deprovisioned = await deprovision(s.ctx, tx, s.orgId, id);
      const orgGroups = tx.select({ id: scimGroups.id }).from(scimGroups).where(eq(scimGroups.org_id, s.orgId));
      await tx.delete(scimGroupMembers).where(and(eq(scimGroupMembers.user_id, id), inArray(scimGroupMembers.group_id, orgGroups)));
      await tx.delete(scimUsers).where(and(eq(scimUsers.org_id, s.orgId), eq(scimUsers.user_id, id)));
      return { result: deprovisioned };
    },
  );
  await publishRevocations(s, result);
}
