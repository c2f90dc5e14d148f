/**
 * What SCIM state means for access, in one place:
 *
 * - Role (issue 9, "group membership maps to roles"): a SCIM user's role in the organisation comes
 *   from the SCIM groups they are in, through the `role_mapping` of the organisation's SSO
 *   connections (OIDC or SAML: any connection of that organisation). A mapping key matches a
 *   group's `displayName` (Okta pushes group names) or its `externalId` (Entra ID sends the group's
 *   object id there, the same value its `groups` claim carries). The most powerful mapped role wins
 *   (org_admin > developer > auditor); with no mapped group the connections' `default_role` applies
 *   (the least powerful, if several differ); with neither the person has no membership and cannot
 *   sign in — the same rule as an SSO login.
 * - Deprovisioning (DESIGN §7): `active: false` or DELETE ends access at once, in the same
 *   transaction as the audit rows: every virtual key, admin API token and SCIM token the person
 *   owns revoked (KV is written right after the commit), and their sessions ended when they lose
 *   their account (below). When this organisation is the
 *   person's only one (and they are no platform admin) the user is suspended, kept for the audit
 *   trail; otherwise only their membership here ends — one organisation's IdP cannot lock a person
 *   out of another organisation.
 * - Reactivation (`active: true`) restores sign-in (status and membership), never the revoked keys.
 */
import { and, eq, inArray, isNull, ne, sql } from 'drizzle-orm';
import { recordAction, type ActionContext } from '../domain/change';
import { endSessionsOf, revokeScimTokensMadeBy } from '../domain/users';
import type { DbTransaction } from '../db/client';
import { apiTokens, orgMemberships, scimGroupMembers, scimGroups, scimUsers, ssoConnectionDomains, ssoConnections, users, virtualKeys, type OrgRole } from '../db/schema';
import { ROLE_PRECEDENCE } from '../sso/oidc/config';

type VirtualKeyRow = typeof virtualKeys.$inferSelect;

const isRole = (v: unknown): v is OrgRole => typeof v === 'string' && (ROLE_PRECEDENCE as readonly string[]).includes(v);

/** The role SCIM gives a user in an organisation, or null (no membership). */
export async function derivedRole(tx: DbTransaction, orgId: string, userId: string): Promise<OrgRole | null> {
  const connections = await tx.select({ mapping: ssoConnections.role_mapping, defaultRole: ssoConnections.default_role }).from(ssoConnections).where(eq(ssoConnections.org_id, orgId));
  const groups = await tx
    .select({ name: scimGroups.display_name, externalId: scimGroups.external_id })
    .from(scimGroupMembers)
    .innerJoin(scimGroups, eq(scimGroups.id, scimGroupMembers.group_id))
    .where(and(eq(scimGroupMembers.user_id, userId), eq(scimGroups.org_id, orgId)));
  const mapped = new Set<OrgRole>();
  for (const { mapping } of connections) {
    for (const g of groups) {
      for (const key of [g.name, g.externalId]) {
        // Own properties only: a group named like an Object.prototype member maps to nothing.
        // eslint-disable-next-line security/detect-object-injection -- guarded by Object.hasOwn
        const role = key !== null && Object.hasOwn(mapping, key) ? mapping[key] : undefined;
        if (isRole(role)) mapped.add(role);
      }
    }
  }
  const best = ROLE_PRECEDENCE.find((r) => mapped.has(r));
  if (best) return best;
  const defaults = new Set(connections.map((c) => c.defaultRole).filter(isRole));
  return [...ROLE_PRECEDENCE].reverse().find((r) => defaults.has(r)) ?? null;
}

async function bumpVersion(tx: DbTransaction, userId: string): Promise<void> {
  await tx.update(users).set({ version: sql`${users.version} + 1` }).where(eq(users.id, userId));
}

/**
 * Whether an email address is this organisation's to give (README, SCIM): `own` when its domain is
 * one of the organisation's SSO connection domains; `foreign` when another organisation's connection
 * claims the domain, or this organisation has connection domains and this is not one of them;
 * `unclaimed` when this organisation has no connection domains and no one claims the domain.
 */
export async function emailDomainVerdict(tx: DbTransaction, orgId: string, email: string): Promise<'own' | 'foreign' | 'unclaimed'> {
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  const [owner] = await tx
    .select({ orgId: ssoConnections.org_id })
    .from(ssoConnectionDomains)
    .innerJoin(ssoConnections, eq(ssoConnections.id, ssoConnectionDomains.connection_id))
    .where(eq(ssoConnectionDomains.domain, domain))
    .limit(1);
  if (owner) return owner.orgId === orgId ? 'own' : 'foreign';
  const [any] = await tx
    .select({ domain: ssoConnectionDomains.domain })
    .from(ssoConnectionDomains)
    .innerJoin(ssoConnections, eq(ssoConnections.id, ssoConnectionDomains.connection_id))
    .where(eq(ssoConnections.org_id, orgId))
    .limit(1);
  return any ? 'foreign' : 'unclaimed';
}

/** Whether the person is a member of the organisation (any role). */
export async function isMember(tx: DbTransaction, orgId: string, userId: string): Promise<boolean> {
  const rows = await tx.select({ orgId: orgMemberships.org_id }).from(orgMemberships).where(and(eq(orgMemberships.user_id, userId), eq(orgMemberships.org_id, orgId))).limit(1);
  return rows.length > 0;
}

/** Whether this organisation alone decides the person's account status (see the header). */
export async function soleOrganisation(tx: DbTransaction, orgId: string, userId: string): Promise<boolean> {
  const [user] = await tx.select({ platformAdmin: users.platform_admin }).from(users).where(eq(users.id, userId)).limit(1);
  if (!user || user.platformAdmin) return false;
  const elsewhere = await tx
    .select({ orgId: orgMemberships.org_id })
    .from(orgMemberships)
    .where(and(eq(orgMemberships.user_id, userId), ne(orgMemberships.org_id, orgId)))
    .limit(1);
  return elsewhere.length === 0;
}

/**
 * Brings an active SCIM user's membership in line with their groups. With `reactivate` (the IdP
 * created the person, or moved them from inactive to active) it also lifts a suspension this
 * organisation may lift; a routine update or group change never does, so an IdP's periodic
 * `PUT … "active": true` does not undo a suspension an admin made by hand. Bumps the user's version
 * when anything changed.
 */
export async function syncActiveAccess(tx: DbTransaction, orgId: string, userId: string, opts: { reactivate: boolean }): Promise<{ role: OrgRole | null }> {
  const role = await derivedRole(tx, orgId, userId);
  const [link] = await tx.select({ role: scimUsers.role }).from(scimUsers).where(and(eq(scimUsers.org_id, orgId), eq(scimUsers.user_id, userId))).limit(1);
  let changed = false;
  if (opts.reactivate && (await soleOrganisation(tx, orgId, userId))) {
    const lifted = await tx.update(users).set({ status: 'active' }).where(and(eq(users.id, userId), eq(users.status, 'suspended'))).returning({ id: users.id });
    changed ||= lifted.length > 0;
  }
  const [membership] = await tx.select({ role: orgMemberships.role }).from(orgMemberships).where(and(eq(orgMemberships.user_id, userId), eq(orgMemberships.org_id, orgId))).limit(1);
  if (role && membership?.role !== role) {
    await tx
      .insert(orgMemberships)
      .values({ user_id: userId, org_id: orgId, role })
      .onConflictDoUpdate({ target: [orgMemberships.user_id, orgMemberships.org_id], set: { role } });
    changed = true;
  } else if (!role && membership && link?.role) {
    // SCIM granted this membership and no group grants it any more. A membership an admin gave by
    // hand (link.role null) is left alone.
    await tx.delete(orgMemberships).where(and(eq(orgMemberships.user_id, userId), eq(orgMemberships.org_id, orgId)));
    changed = true;
  }
  await tx.update(scimUsers).set({ role }).where(and(eq(scimUsers.org_id, orgId), eq(scimUsers.user_id, userId)));
  if (changed) await bumpVersion(tx, userId);
  return { role };
}

export interface Deprovisioned {
  suspended: boolean;
  sessionsEnded: number;
  revokedKeys: VirtualKeyRow[];
  revokedApiTokens: string[];
  revokedScimTokens: string[];
}

/**
 * Ends a person's access from this organisation's IdP (see the header), with one audit row per
 * revoked key and token beside the caller's own row. The caller writes KV for `revokedKeys` after
 * the commit.
 */
export async function deprovision(ctx: ActionContext, tx: DbTransaction, orgId: string, userId: string): Promise<Deprovisioned> {
  const sole = await soleOrganisation(tx, orgId, userId);
  if (sole) {
    await tx.update(users).set({ status: 'suspended' }).where(eq(users.id, userId));
  } else {
    await tx.delete(orgMemberships).where(and(eq(orgMemberships.user_id, userId), eq(orgMemberships.org_id, orgId)));
  }
  await bumpVersion(tx, userId);
  // A suspended person loses every key they own; a person leaving one organisation, that one's.
  const scopeKeys = sole ? undefined : eq(virtualKeys.org_id, orgId);
  const revokedKeys = await tx
    .update(virtualKeys)
    .set({ revoked_at: sql`coalesce(${virtualKeys.revoked_at}, now())`, version: sql`${virtualKeys.version} + 1` })
    .where(and(eq(virtualKeys.owner_user_id, userId), isNull(virtualKeys.revoked_at), scopeKeys))
    .returning();
  const scopeTokens = sole ? undefined : eq(apiTokens.org_id, orgId);
  const revokedApiTokens = await tx
    .update(apiTokens)
    .set({ revoked_at: sql`now()` })
    .where(and(eq(apiTokens.created_by_user_id, userId), isNull(apiTokens.revoked_at), scopeTokens))
    .returning({ id: apiTokens.id, orgId: apiTokens.org_id });
  // SCIM tokens the person made stop working too: a departed admin's token must not keep provisioning.
  const revokedScimTokens = await revokeScimTokensMadeBy(ctx, tx, userId, sole ? undefined : orgId);
  // Sessions end only when the person loses their account here; otherwise losing the membership is
  // enough (every request rebuilds the principal's memberships: admin/auth/session-principal.ts), and
  // one organisation's IdP cannot log a person out of the others.
  const sessionsEnded = sole ? await endSessionsOf(tx, userId) : 0;
  const audit = { ...ctx, db: tx };
  for (const key of revokedKeys) await recordAction(audit, 'virtual_key.revoke', 'allowed', { type: 'virtual_key', id: key.id, orgId: key.org_id });
  for (const token of revokedApiTokens) await recordAction(audit, 'api_token.revoke', 'allowed', { type: 'api_token', id: token.id, orgId: token.orgId });
  return { suspended: sole, sessionsEnded, revokedKeys, revokedApiTokens: revokedApiTokens.map((t) => t.id), revokedScimTokens };
}

/** Users whose access may change when a group changes: its members (before and after). */
export async function membersOf(tx: DbTransaction, groupIds: string[]): Promise<string[]> {
  if (groupIds.length === 0) return [];
  const rows = await tx.select({ userId: scimGroupMembers.user_id }).from(scimGroupMembers).where(inArray(scimGroupMembers.group_id, groupIds));
  return [...new Set(rows.map((r) => r.userId))];
}
