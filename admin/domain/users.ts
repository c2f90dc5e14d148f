/**
 * People and their organisation memberships (DESIGN §7). Users are created by an admin (Members
 * page / API), just in time by an SSO login, or (next) by SCIM. Every change that affects what a
 * user may do bumps `users.version`, the principal version in the Cerbos decision cache.
 */
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { GatewayError } from '../../lib/errors';
import type { Membership, PrincipalUser } from '../auth/principal';
import type { DbTransaction, Queryable } from '../db/client';
import { adminSessions, orgMemberships, orgs, scimTokens, scimUsers, ssoConnectionDomains, userIdentities, users, virtualKeys, type OrgRole } from '../db/schema';
import { syncVirtualKey } from '../kv-sync';
import { revokeInCounters } from '../limits';
import { appendAdminAction } from '../audit-log';
import { change, publishToEdge, recordAction, type ActionContext, type RequestMeta } from './change';

export type UserRow = typeof users.$inferSelect;

/** Emails compare case-insensitively; they are stored lower-cased (a CHECK constraint holds it). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function publicUser(row: UserRow) {
  return {
    id: row.id,
    email: row.email,
    display_name: row.display_name,
    status: row.status,
    platform_admin: row.platform_admin,
    created_at: row.created_at,
    last_login_at: row.last_login_at,
    last_login_mfa: row.last_login_mfa,
    limits: row.limits ?? null,
  };
}

export async function findUserByEmail(db: Queryable, email: string): Promise<UserRow | null> {
  const [row] = await db.select().from(users).where(eq(users.email, normalizeEmail(email))).limit(1);
  return row ?? null;
}

export async function findUser(db: Queryable, id: string): Promise<UserRow | null> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row ?? null;
}

export async function membershipsOf(db: Queryable, userId: string): Promise<Membership[]> {
  const rows = await db.select({ orgId: orgMemberships.org_id, role: orgMemberships.role }).from(orgMemberships).where(eq(orgMemberships.user_id, userId));
  return rows;
}

/**
 * What a session needs on every request, in one round trip: the user (if active) and their
 * memberships. Null when the user is gone, suspended, or belongs to no organisation (and is no
 * platform admin): the caller ends the session.
 */
export async function activeUserWithMemberships(db: Queryable, userId: string): Promise<{ user: PrincipalUser; memberships: Membership[] } | null> {
  const rows = await db
    .select({ user: users, orgId: orgMemberships.org_id, role: orgMemberships.role })
    .from(users)
    .leftJoin(orgMemberships, eq(orgMemberships.user_id, users.id))
    .where(eq(users.id, userId));
  const user = rows[0]?.user;
  if (!user || user.status !== 'active') return null;
  const memberships = rows.flatMap((r) => (r.orgId && r.role ? [{ orgId: r.orgId, role: r.role }] : []));
  if (memberships.length === 0 && !user.platform_admin) return null;
  return { user, memberships };
}

async function bumpVersion(tx: Queryable, userId: string): Promise<void> {
  await tx.update(users).set({ version: sql`${users.version} + 1` }).where(eq(users.id, userId));
}

// ── SSO provisioning (called by the OIDC/SAML login after the IdP's answer was verified) ──

export interface SsoLogin {
  orgId: string;
  connectionId: string;
  /** The IdP's stable subject (`sub`). */
  subject: string;
  email: string;
  displayName: string | null;
  /** The role for a just-in-time user or membership (from role_mapping or default_role). */
  role: OrgRole;
  jit: boolean;
  /** Whether this login showed MFA (recorded as last_login_mfa). */
  mfa: boolean;
}

export type ProvisionRefusal = 'no_user' | 'suspended' | 'not_member' | 'identity_conflict' | 'linked_email_outside' | 'scim_deprovisioned';

/**
 * Finds (or, with `jit`, creates) the user behind a verified SSO login, links the IdP subject to
 * them, and records the login time and MFA. The user is found by (connection, subject) first, then
 * by email; a subject already linked to a different user than the email names is refused.
 * With `jit: false` only existing users that are members of the organisation may sign in.
 */
export async function provisionSsoUser(
  db: Queryable,
  login: SsoLogin,
  audit?: RequestMeta,
): Promise<{ user: UserRow; memberships: Membership[]; created: boolean } | { refused: ProvisionRefusal }> {
  const email = normalizeEmail(login.email);
  return db.transaction(async (tx) => {
    const [linked] = await tx
      .select({ user: users })
      .from(userIdentities)
      .innerJoin(users, eq(users.id, userIdentities.user_id))
      .where(and(eq(userIdentities.connection_id, login.connectionId), eq(userIdentities.subject, login.subject)))
      .limit(1);
    let user = linked?.user ?? (await findUserByEmail(tx, email));
    let created = false;
    if (linked && linked.user.email !== email) {
      const other = await findUserByEmail(tx, email);
      if (other && other.id !== linked.user.id) return { refused: 'identity_conflict' as const };
      // The subject's user now has another address (renamed since). This connection speaks only for
      // its own domains: a user whose address is elsewhere is not its to sign in, whatever the link.
      const linkedDomain = linked.user.email.slice(linked.user.email.lastIndexOf('@') + 1);
      const [own] = await tx
        .select({ domain: ssoConnectionDomains.domain })
        .from(ssoConnectionDomains)
        .where(and(eq(ssoConnectionDomains.connection_id, login.connectionId), eq(ssoConnectionDomains.domain, linkedDomain)))
        .limit(1);
      if (!own) return { refused: 'linked_email_outside' as const };
    }
    if (!user) {
      if (!login.jit) return { refused: 'no_user' as const };
      const [inserted] = await tx.insert(users).values({ id: crypto.randomUUID(), email, display_name: login.displayName, platform_admin: false }).returning();
      user = inserted ?? null;
      created = true;
    }
    if (!user) return { refused: 'no_user' as const };
    if (user.status !== 'active') return { refused: 'suspended' as const };
    if (!linked) {
      await tx.insert(userIdentities).values({ user_id: user.id, connection_id: login.connectionId, subject: login.subject }).onConflictDoNothing();
    }
    const [membership] = await tx
      .select()
      .from(orgMemberships)
      .where(and(eq(orgMemberships.user_id, user.id), eq(orgMemberships.org_id, login.orgId)))
      .limit(1);
    if (!membership) {
      if (!login.jit) return { refused: 'not_member' as const };
      // The organisation's SCIM deactivated this person here: a login must not give back what
      // provisioning took away (only the IdP's SCIM `active: true`, or an admin, does).
      const [scim] = await tx.select({ active: scimUsers.active }).from(scimUsers).where(and(eq(scimUsers.org_id, login.orgId), eq(scimUsers.user_id, user.id))).limit(1);
      if (scim && !scim.active) return { refused: 'scim_deprovisioned' as const };
      await tx.insert(orgMemberships).values({ user_id: user.id, org_id: login.orgId, role: login.role });
      await bumpVersion(tx, user.id);
      if (audit) {
        await appendAdminAction(tx, {
          actor: user.id,
          actor_user_id: user.id,
          actor_email: email,
          login_method: 'sso_jit',
          mfa: login.mfa,
          org_id: login.orgId,
          action: created ? 'user.provision' : 'member.provision',
          target_type: 'member',
          target_id: user.id,
          outcome: 'allowed',
          client_ip: audit.clientIp,
          user_agent: audit.userAgent,
          request_id: audit.requestId,
        });
      }
    }
    const [updated] = await tx
      .update(users)
      .set({ last_login_at: new Date(), last_login_mfa: login.mfa, ...(login.displayName && !user.display_name ? { display_name: login.displayName } : {}) })
      .where(eq(users.id, user.id))
      .returning();
    return { user: updated!, memberships: await membershipsOf(tx, user.id), created };
  });
}

// ── admin actions on members ──

async function requireOrg(tx: Queryable, orgId: string): Promise<void> {
  const [row] = await tx.select({ id: orgs.id }).from(orgs).where(eq(orgs.id, orgId)).limit(1);
  if (!row) throw new GatewayError('not_found', `Organisation ${orgId} does not exist.`, { param: 'org_id' });
}

const memberNotFound = (userId: string) => new GatewayError('not_found', `Member ${userId} does not exist in this organisation.`);

export async function listMembers(db: Queryable, orgId: string) {
  const rows = await db
    .select({ user: users, role: orgMemberships.role, since: orgMemberships.created_at })
    .from(orgMemberships)
    .innerJoin(users, eq(users.id, orgMemberships.user_id))
    .where(eq(orgMemberships.org_id, orgId))
    .orderBy(users.email);
  return rows.map((r) => ({ ...publicUser(r.user), org_id: orgId, role: r.role, member_since: r.since }));
}

/** Adds a person to an organisation by email; creates the user when the email is new. */
export function addMember(ctx: ActionContext, orgId: string, input: { email: string; role: OrgRole; display_name?: string | null }) {
  return change(ctx, { action: 'member.add', cerbosAction: 'create', resource: { kind: 'member', orgId } }, async (tx) => {
    await requireOrg(tx, orgId);
    const email = normalizeEmail(input.email);
    const user = (await findUserByEmail(tx, email)) ?? (await tx.insert(users).values({ id: crypto.randomUUID(), email, display_name: input.display_name ?? null, platform_admin: false }).returning())[0];
    const inserted = await tx.insert(orgMemberships).values({ user_id: user!.id, org_id: orgId, role: input.role }).onConflictDoNothing().returning();
    if (inserted.length === 0) {
      throw new GatewayError('invalid_request', `${email} is already a member of this organisation; change their role instead.`, { param: 'email', status: 409 });
    }
    await bumpVersion(tx, user!.id);
    return { result: { ...publicUser(user!), org_id: orgId, role: input.role }, targetId: user!.id };
  });
}

export function changeMemberRole(ctx: ActionContext, orgId: string, userId: string, role: OrgRole) {
  return change(
    ctx,
    { action: 'member.change_role', cerbosAction: 'update', resource: { kind: 'member', id: userId, orgId }, hideAs: memberNotFound(userId) },
    async (tx) => {
      const [row] = await tx
        .update(orgMemberships)
        .set({ role })
        .where(and(eq(orgMemberships.user_id, userId), eq(orgMemberships.org_id, orgId)))
        .returning();
      if (!row) throw memberNotFound(userId);
      await bumpVersion(tx, userId);
      const user = await findUser(tx, userId);
      return { result: { ...publicUser(user!), org_id: orgId, role } };
    },
  );
}

export function removeMember(ctx: ActionContext, orgId: string, userId: string) {
  return change(
    ctx,
    { action: 'member.remove', cerbosAction: 'delete', resource: { kind: 'member', id: userId, orgId }, hideAs: memberNotFound(userId) },
    async (tx) => {
      const removed = await tx
        .delete(orgMemberships)
        .where(and(eq(orgMemberships.user_id, userId), eq(orgMemberships.org_id, orgId)))
        .returning();
      if (removed.length === 0) throw memberNotFound(userId);
      await bumpVersion(tx, userId);
      const revokedScimTokens = await revokeScimTokensMadeBy(ctx, tx, userId, orgId);
      return { result: { user_id: userId, org_id: orgId, removed: true, revoked_scim_tokens: revokedScimTokens } };
    },
  );
}

/** Ends every open session of a user (suspension, or losing their last membership). */
export async function endSessionsOf(tx: Queryable, userId: string): Promise<number> {
  const ended = await tx
    .update(adminSessions)
    .set({ ended_at: new Date() })
    .where(and(eq(adminSessions.user_id, userId), isNull(adminSessions.ended_at)))
    .returning({ id: adminSessions.id });
  return ended.length;
}

/**
 * Revokes the SCIM tokens a person made (all of them, or one organisation's), each with its audit
 * row: a token must not keep provisioning an organisation after its maker lost their access there.
 */
export async function revokeScimTokensMadeBy(ctx: ActionContext, tx: DbTransaction, userId: string, orgId?: string): Promise<string[]> {
  const revoked = await tx
    .update(scimTokens)
    .set({ revoked_at: sql`now()` })
    .where(and(eq(scimTokens.created_by_user_id, userId), isNull(scimTokens.revoked_at), orgId ? eq(scimTokens.org_id, orgId) : undefined))
    .returning({ id: scimTokens.id, orgId: scimTokens.org_id });
  for (const token of revoked) await recordAction({ ...ctx, db: tx }, 'scim_token.revoke', 'allowed', { type: 'scim_token', id: token.id, orgId: token.orgId });
  return revoked.map((t) => t.id);
}

async function revokeKeysOwnedBy(tx: DbTransaction, userId: string) {
  return tx
    .update(virtualKeys)
    .set({ revoked_at: sql`coalesce(${virtualKeys.revoked_at}, now())`, version: sql`${virtualKeys.version} + 1` })
    .where(and(eq(virtualKeys.owner_user_id, userId), isNull(virtualKeys.revoked_at)))
    .returning();
}

/**
 * Suspends a user, at once (DESIGN §7): status `suspended`, every key they own revoked in Postgres
 * (in the same transaction as the audit row) and then in KV, every session ended. The policy lets
 * an org_admin suspend only people whose every membership is in organisations they administer.
 */
export async function suspendUser(ctx: ActionContext, userId: string) {
  const notFound = new GatewayError('not_found', `User ${userId} does not exist.`);
  const target = await findUser(ctx.db, userId);
  const orgIds = target ? (await membershipsOf(ctx.db, userId)).map((m) => m.orgId) : [];
  const result = await change(
    ctx,
    { action: 'user.suspend', cerbosAction: 'suspend', resource: { kind: 'user', id: userId, attr: { org_ids: orgIds } }, hideAs: notFound },
    async (tx) => {
      if (!target) throw notFound;
      const [row] = await tx.update(users).set({ status: 'suspended', version: sql`${users.version} + 1` }).where(eq(users.id, userId)).returning();
      const revoked = await revokeKeysOwnedBy(tx, userId);
      const sessionsEnded = await endSessionsOf(tx, userId);
      const revokedScimTokens = await revokeScimTokensMadeBy(ctx, tx, userId);
      return { result: { user: row!, revoked, sessionsEnded, revokedScimTokens } };
    },
  );
  let edgeOk = true;
  for (const key of result.revoked) {
    await revokeInCounters(ctx.env, key.id, ctx.meta.requestId);
    edgeOk = (await publishToEdge(`vk:${key.id}`, ctx.meta.requestId, () => syncVirtualKey(ctx.env.ROUTERO_KV, key))) && edgeOk;
  }
  if (!edgeOk) {
    throw new GatewayError('unavailable', 'The user is suspended and their keys are revoked in the database, but the edge was not updated yet; run kv:rebuild.');
  }
  return { ...publicUser(result.user), revoked_keys: result.revoked.map((k) => k.id), revoked_scim_tokens: result.revokedScimTokens, sessions_ended: result.sessionsEnded };
}

export async function reactivateUser(ctx: ActionContext, userId: string) {
  const notFound = new GatewayError('not_found', `User ${userId} does not exist.`);
  const orgIds = (await membershipsOf(ctx.db, userId)).map((m) => m.orgId);
  return change(
    ctx,
    { action: 'user.reactivate', cerbosAction: 'suspend', resource: { kind: 'user', id: userId, attr: { org_ids: orgIds } }, hideAs: notFound },
    async (tx) => {
      const [row] = await tx.update(users).set({ status: 'active', version: sql`${users.version} + 1` }).where(eq(users.id, userId)).returning();
      if (!row) throw notFound;
      return { result: publicUser(row) };
    },
  );
}

/** Users by id, for showing names instead of bare ids. */
export async function emailsById(db: Queryable, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.select({ id: users.id, email: users.email }).from(users).where(inArray(users.id, ids));
  return new Map(rows.map((r) => [r.id, r.email]));
}
