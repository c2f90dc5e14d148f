/**
 * SCIM Groups (RFC 7643 §4.2, RFC 7644 §3.3–3.6) for one organisation. A group's members are SCIM
 * users of the same organisation; its displayName (or externalId) maps to a role through
 * role_mapping (./access.ts), so every change recomputes the access of the members it touched.
 */
import { and, asc, count, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import { invalidField } from '../../lib/errors';
import { authorize, authorizeOrHide, change } from '../domain/change';
import type { DbTransaction, Queryable } from '../db/client';
import { scimGroupMembers, scimGroups, scimUsers, users } from '../db/schema';
import { syncActiveAccess } from './access';
import type { Page, ScimContext } from './context';
import { SCHEMA, listResponse } from './discovery';
import { scimBadRequest, scimNotFound } from './errors';
import { parseScimFilter } from './filter';
import { applyPatch, assertNoPrototypeKeys, GROUP_ATTRIBUTES } from './patch';

type GroupRow = typeof scimGroups.$inferSelect;
const groupNotFound = (id: string) => scimNotFound(`Group ${id}`);
const MAX_MEMBERS = 10_000;

const groupInput = z.looseObject({
  displayName: z
    .string({ error: 'must be a string' })
    .max(300, 'must be at most 300 characters')
    .transform((v) => v.trim())
    .pipe(z.string().min(1, 'must not be empty')),
  externalId: z.string({ error: 'must be a string' }).max(300).nullish(),
  members: z
    .array(z.looseObject({ value: z.string({ error: 'must be a user id' }).max(100) }))
    .max(MAX_MEMBERS)
    .nullish(),
});

function parseGroup(raw: unknown) {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw scimBadRequest('invalidSyntax', 'The body must be a JSON object (a SCIM Group).');
  assertNoPrototypeKeys(raw, 'The group');
  const r = groupInput.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw scimBadRequest('invalidValue', invalidField(issue.path, issue.message).message);
  }
  return r.data;
}

async function membersOfGroups(db: Queryable, groupIds: string[]) {
  const out = new Map<string, { value: string; display: string }[]>();
  if (groupIds.length === 0) return out;
  const rows = await db
    .select({ groupId: scimGroupMembers.group_id, userId: scimGroupMembers.user_id, display: users.display_name, email: users.email })
    .from(scimGroupMembers)
    .innerJoin(users, eq(users.id, scimGroupMembers.user_id))
    .where(inArray(scimGroupMembers.group_id, groupIds))
    .orderBy(asc(users.email));
  for (const r of rows) out.set(r.groupId, [...(out.get(r.groupId) ?? []), { value: r.userId, display: r.display ?? r.email }]);
  return out;
}

function toScimGroup(row: GroupRow, members: { value: string; display: string }[] | null, base: string) {
  return {
    schemas: [SCHEMA.group],
    id: row.id,
    ...(row.external_id !== null ? { externalId: row.external_id } : {}),
    displayName: row.display_name,
    ...(members ? { members: members.map((m) => ({ ...m, $ref: `${base}/Users/${m.value}` })) } : {}),
    meta: { resourceType: 'Group', created: row.created_at.toISOString(), lastModified: row.updated_at.toISOString(), location: `${base}/Groups/${row.id}` },
  };
}

/** `excludedAttributes=members` (Entra ID asks for groups without their members). */
function wantsMembers(excluded: string | undefined): boolean {
  return !(excluded ?? '')
    .split(',')
    .map((a) => a.trim().toLowerCase())
    .includes('members');
}

async function findGroup(db: Queryable, orgId: string, id: string): Promise<GroupRow | null> {
  const [row] = await db.select().from(scimGroups).where(and(eq(scimGroups.org_id, orgId), eq(scimGroups.id, id))).limit(1);
  return row ?? null;
}

export async function getScimGroup(s: ScimContext, id: string, excluded?: string) {
  await authorizeOrHide(s.ctx, { kind: 'scim_group', id, orgId: s.orgId }, 'read', groupNotFound(id));
  const row = await findGroup(s.ctx.db, s.orgId, id);
  if (!row) throw groupNotFound(id);
  const members = wantsMembers(excluded) ? ((await membersOfGroups(s.ctx.db, [id])).get(id) ?? []) : null;
  return toScimGroup(row, members, s.base);
}

export async function listScimGroups(s: ScimContext, filterText: string | undefined, page: Page, excluded?: string) {
  await authorize(s.ctx, { kind: 'scim_group', orgId: s.orgId }, 'list');
  const filter = parseScimFilter(filterText);
  const inOrg = eq(scimGroups.org_id, s.orgId);
  const withMembers = wantsMembers(excluded);
  let rows: GroupRow[];
  let total: number;
  const fast = filter?.simpleEq?.attr === 'displayname' ? null : filter?.simpleEq?.attr === 'externalid' ? eq(scimGroups.external_id, filter.simpleEq.value) : null;
  if (!filter || fast) {
    const where = fast ? and(inOrg, fast) : inOrg;
    total = (await s.ctx.db.select({ n: count() }).from(scimGroups).where(where))[0]?.n ?? 0;
    rows = page.count === 0 ? [] : await s.ctx.db.select().from(scimGroups).where(where).orderBy(asc(scimGroups.created_at), asc(scimGroups.id)).limit(page.count).offset(page.startIndex - 1);
  } else {
    // displayName compares case-insensitively (RFC 7643 §4.2 caseExact false): evaluated in memory.
    const all = await s.ctx.db.select().from(scimGroups).where(inOrg).orderBy(asc(scimGroups.created_at), asc(scimGroups.id));
    const members = await membersOfGroups(s.ctx.db, all.map((g) => g.id));
    const matching = all.filter((g) => filter.matches(toScimGroup(g, members.get(g.id) ?? [], s.base)));
    total = matching.length;
    rows = matching.slice(page.startIndex - 1, page.startIndex - 1 + page.count);
  }
  const members = withMembers ? await membersOfGroups(s.ctx.db, rows.map((g) => g.id)) : null;
  return listResponse(
    rows.map((g) => toScimGroup(g, members ? (members.get(g.id) ?? []) : null, s.base)),
    total,
    page.startIndex,
  );
}

/** Member ids must be SCIM users of this organisation (RFC 7644 §3.5.2: otherwise invalidValue). */
async function checkMembers(tx: DbTransaction, orgId: string, ids: string[]): Promise<string[]> {
  const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
  if (unique.length === 0) return [];
  const bad = unique.find((id) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id));
  if (bad) throw scimBadRequest('invalidValue', `Member ${bad.slice(0, 100)} is not a user of this organisation.`);
  const found = await tx.select({ id: scimUsers.user_id }).from(scimUsers).where(and(eq(scimUsers.org_id, orgId), inArray(scimUsers.user_id, unique)));
  const known = new Set(found.map((r) => r.id));
  const missing = unique.find((id) => !known.has(id));
  if (missing) throw scimBadRequest('invalidValue', `Member ${missing} is not a user of this organisation.`);
  return unique;
}

/** Recomputes the access of users whose groups changed; inactive users stay without access. */
async function resync(tx: DbTransaction, orgId: string, userIds: string[]): Promise<void> {
  if (userIds.length === 0) return;
  const active = await tx
    .select({ id: scimUsers.user_id })
    .from(scimUsers)
    .where(and(eq(scimUsers.org_id, orgId), eq(scimUsers.active, true), inArray(scimUsers.user_id, [...new Set(userIds)])));
  for (const { id } of active) await syncActiveAccess(tx, orgId, id, { reactivate: false });
}

const duplicateName = (name: string) => scimBadRequest('uniqueness', `A group named "${name.slice(0, 300)}" already exists.`);

async function nameTaken(tx: DbTransaction, orgId: string, name: string, selfId: string | null): Promise<boolean> {
  const rows = await tx.select({ id: scimGroups.id, name: scimGroups.display_name }).from(scimGroups).where(eq(scimGroups.org_id, orgId));
  return rows.some((r) => r.id !== selfId && r.name.toLowerCase() === name.toLowerCase());
}

export async function createScimGroup(s: ScimContext, body: unknown) {
  const input = parseGroup(body);
  const row = await change(s.ctx, { action: 'scim.group.create', cerbosAction: 'create', resource: { kind: 'scim_group', orgId: s.orgId } }, async (tx) => {
    if (await nameTaken(tx, s.orgId, input.displayName, null)) throw duplicateName(input.displayName);
    const memberIds = await checkMembers(tx, s.orgId, (input.members ?? []).map((m) => m.value));
    const id = crypto.randomUUID();
    const [created] = await tx.insert(scimGroups).values({ id, org_id: s.orgId, display_name: input.displayName, external_id: input.externalId ?? null }).returning();
    if (memberIds.length > 0) await tx.insert(scimGroupMembers).values(memberIds.map((user_id) => ({ group_id: id, user_id })));
    await resync(tx, s.orgId, memberIds);
    return { result: created!, targetId: id };
  });
  return toScimGroup(row, (await membersOfGroups(s.ctx.db, [row.id])).get(row.id) ?? [], s.base);
}

/** PUT and PATCH: the new representation replaces the old; members added or removed get their access recomputed. */
async function replaceGroup(s: ScimContext, id: string, action: string, next: (current: ReturnType<typeof toScimGroup>) => unknown) {
  const row = await change(
    s.ctx,
    { action, cerbosAction: 'update', resource: { kind: 'scim_group', id, orgId: s.orgId }, hideAs: groupNotFound(id) },
    async (tx) => {
      const current = await findGroup(tx, s.orgId, id);
      if (!current) throw groupNotFound(id);
      const before = ((await membersOfGroups(tx, [id])).get(id) ?? []).map((m) => m.value);
      const input = parseGroup(next(toScimGroup(current, before.map((value) => ({ value, display: value })), s.base)));
      if (input.displayName.toLowerCase() !== current.display_name.toLowerCase() && (await nameTaken(tx, s.orgId, input.displayName, id))) throw duplicateName(input.displayName);
      const after = await checkMembers(tx, s.orgId, (input.members ?? []).map((m) => m.value));
      const [updated] = await tx
        .update(scimGroups)
        .set({ display_name: input.displayName, external_id: input.externalId ?? null, updated_at: new Date() })
        .where(eq(scimGroups.id, id))
        .returning();
      const removed = before.filter((u) => !after.includes(u));
      const added = after.filter((u) => !before.includes(u));
      if (removed.length > 0) await tx.delete(scimGroupMembers).where(and(eq(scimGroupMembers.group_id, id), inArray(scimGroupMembers.user_id, removed)));
      if (added.length > 0) await tx.insert(scimGroupMembers).values(added.map((user_id) => ({ group_id: id, user_id })));
      // A renamed group may map to another role: everyone in it is recomputed then.
      const renamed = updated!.display_name !== current.display_name || updated!.external_id !== current.external_id;
      await resync(tx, s.orgId, renamed ? [...before, ...added] : [...removed, ...added]);
      return { result: updated! };
    },
  );
  return row;
}

export async function putScimGroup(s: ScimContext, id: string, body: unknown) {
  const row = await replaceGroup(s, id, 'scim.group.replace', () => body);
  return toScimGroup(row, (await membersOfGroups(s.ctx.db, [id])).get(id) ?? [], s.base);
}

/**
 * Members are compared by `value` alone. Entra ID removes with `{"op":"Remove","path":"members",
 * "value":[{"$ref":null,"value":"<id>"}]}`: compared as whole objects against our
 * `{value, display, $ref}`, nothing would match and the person would keep the group's role. So the
 * member objects on both sides are reduced to `{value}` before the patch is applied.
 */
export function memberValuesOnly(body: unknown): unknown {
  if (!body || typeof body !== 'object' || !Array.isArray((body as { Operations?: unknown }).Operations)) return body;
  const strip = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) && 'value' in v ? { value: (v as { value: unknown }).value } : v);
  const Operations = ((body as { Operations: unknown[] }).Operations).map((op) => {
    if (!op || typeof op !== 'object') return op;
    const o = op as { path?: unknown; value?: unknown };
    if (typeof o.path === 'string' && o.path.trim().toLowerCase() === 'members' && Array.isArray(o.value)) return { ...o, value: o.value.map(strip) };
    if (o.path === undefined && o.value && typeof o.value === 'object' && !Array.isArray(o.value)) {
      const value = Object.fromEntries(Object.entries(o.value).map(([k, v]) => [k, k.toLowerCase() === 'members' && Array.isArray(v) ? v.map(strip) : v]));
      return { ...o, value };
    }
    return op;
  });
  return { ...(body as object), Operations };
}

export async function patchScimGroup(s: ScimContext, id: string, body: unknown, excluded?: string) {
  const row = await replaceGroup(s, id, 'scim.group.patch', (current) => {
    const { members, ...rest } = current;
    return applyPatch({ ...rest, members: (members ?? []).map((m) => ({ value: m.value })) }, memberValuesOnly(body), GROUP_ATTRIBUTES);
  });
  return toScimGroup(row, wantsMembers(excluded) ? ((await membersOfGroups(s.ctx.db, [id])).get(id) ?? []) : null, s.base);
}

export async function deleteScimGroup(s: ScimContext, id: string) {
  await change(s.ctx, { action: 'scim.group.delete', cerbosAction: 'delete', resource: { kind: 'scim_group', id, orgId: s.orgId }, hideAs: groupNotFound(id) }, async (tx) => {
    const current = await findGroup(tx, s.orgId, id);
    if (!current) throw groupNotFound(id);
    const before = ((await membersOfGroups(tx, [id])).get(id) ?? []).map((m) => m.value);
    await tx.delete(scimGroups).where(eq(scimGroups.id, id));
    await resync(tx, s.orgId, before);
    return { result: null };
  });
}
