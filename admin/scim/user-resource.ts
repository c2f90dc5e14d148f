/**
 * The SCIM User resource (RFC 7643 §4.1) ⇄ our rows. Incoming bodies (POST, PUT, and the result of
 * applying a PATCH) go through one parser, so every route accepts the same shapes, including what
 * real clients send: Entra ID's `active: "False"` (a string), Okta's full user on PUT, enterprise
 * extension attributes (kept as sent). `password` is never stored: sign-in is through the IdP.
 */
import { z } from 'zod';
import { invalidField } from '../../lib/errors';
import type { scimUsers } from '../db/schema';
import { SCHEMA } from './discovery';
import { scimBadRequest } from './errors';
import { assertNoPrototypeKeys } from './patch';

export type ScimUserRow = typeof scimUsers.$inferSelect;

/** RFC 7643 §2.3.2 says booleans are JSON booleans; Entra ID sends "True"/"False" in PATCH values. */
const scimBoolean = z.union([z.boolean(), z.string().regex(/^(true|false)$/i, 'must be true or false').transform((v) => v.toLowerCase() === 'true')], {
  error: 'must be true or false',
});

const shortText = (max: number) => z.string({ error: 'must be a string' }).max(max, `must be at most ${max} characters`);

const emailSchema = z.looseObject({
  value: shortText(320).optional(),
  type: shortText(50).optional(),
  primary: scimBoolean.optional(),
});

export const scimUserInput = z.looseObject({
  userName: shortText(300)
    .transform((v) => v.trim())
    .pipe(z.string().min(1, 'must not be empty')),
  externalId: shortText(300).nullish(),
  active: scimBoolean.optional(),
  displayName: shortText(300).nullish(),
  emails: z.array(emailSchema).max(20, 'must have at most 20 entries').nullish(),
});
export type ScimUserInput = z.infer<typeof scimUserInput>;

/** Attributes that are ours to set or that we never keep. */
const NOT_KEPT = new Set(['schemas', 'id', 'meta', 'userName', 'externalId', 'active', 'password', 'groups']);
const MAX_ATTRIBUTES_BYTES = 16_384;

export function parseScimUser(raw: unknown): { input: ScimUserInput; attributes: Record<string, unknown>; email: string } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw scimBadRequest('invalidSyntax', 'The body must be a JSON object (a SCIM User).');
  assertNoPrototypeKeys(raw, 'The user');
  const result = scimUserInput.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const err = invalidField(issue.path, issue.message);
    throw scimBadRequest('invalidValue', err.message);
  }
  const attributes = Object.fromEntries(Object.entries(raw as Record<string, unknown>).filter(([k]) => !NOT_KEPT.has(k)));
  if (attributes.emails === null) delete attributes.emails;
  if (JSON.stringify(attributes).length > MAX_ATTRIBUTES_BYTES) throw scimBadRequest('invalidValue', `The user's attributes are larger than ${MAX_ATTRIBUTES_BYTES} bytes.`);
  return { input: result.data, attributes, email: signInEmail(result.data) };
}

/**
 * The address the person signs in with: the primary email, else the work email, else the first,
 * else userName when it is an address (Okta's and Entra ID's default userName is the email/UPN).
 */
function signInEmail(input: ScimUserInput): string {
  const emails = (input.emails ?? []).filter((e) => typeof e.value === 'string' && e.value.includes('@'));
  const chosen = emails.find((e) => e.primary === true) ?? emails.find((e) => e.type?.toLowerCase() === 'work') ?? emails[0];
  const email = (chosen?.value ?? (input.userName.includes('@') ? input.userName : '')).trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 320) {
    throw scimBadRequest('invalidValue', 'The user needs an email address: a work or primary email, or a userName that is an email address.');
  }
  return email;
}

export function userLocation(base: string, id: string): string {
  return `${base}/Users/${id}`;
}

export function toScimUser(row: ScimUserRow, groups: { id: string; displayName: string }[], base: string) {
  const extension = Object.hasOwn(row.attributes, SCHEMA.enterpriseUser);
  return {
    ...row.attributes,
    schemas: extension ? [SCHEMA.user, SCHEMA.enterpriseUser] : [SCHEMA.user],
    id: row.user_id,
    ...(row.external_id !== null ? { externalId: row.external_id } : {}),
    userName: row.user_name,
    active: row.active,
    groups: groups.map((g) => ({ value: g.id, display: g.displayName, $ref: `${base}/Groups/${g.id}` })),
    meta: { resourceType: 'User', created: row.created_at.toISOString(), lastModified: row.updated_at.toISOString(), location: userLocation(base, row.user_id) },
  };
}
