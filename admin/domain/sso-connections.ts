/**
 * SSO connections (DESIGN §7): one organisation's identity provider, OIDC here and SAML 2.0 in
 * saml-connections.ts. Managed by org_admin and platform_admin through the API and the UI; read by
 * the sign-in flows (admin/sso/oidc/, admin/sso/saml/).
 *
 * The client secret is sealed with the same KEK ring as provider keys (AES-256-GCM, purpose
 * `sso-client-secret`); the AAD binds it to the connection's id, org, issuer and client id, so a
 * row whose issuer was changed in the database no longer decrypts: the secret can only ever be
 * sent to the IdP it was entered for. It is never returned.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import { loadKeyRing, openSecret, sealSecret, type KeyRing, type SecretBinding } from '../../lib/crypto/aes-gcm';
import { GatewayError } from '../../lib/errors';
import type { Queryable } from '../db/client';
import { oidcLoginStates, ORG_ROLES, orgs, samlLoginRequests, ssoConnectionDomains, ssoConnections } from '../db/schema';
import type { AdminEnv } from '../env';
import { DEFAULT_SCOPES, idpUrlProblem, type OidcConnection, type SsoRole } from '../sso/oidc/config';
import { LoginRefused } from '../sso/refusal';
import { authorize, authorizeOrHide, change, type ActionContext } from './change';
import { publicSamlConnection } from './saml-connections';

type ConnectionRow = typeof ssoConnections.$inferSelect;

/** The path the IdP sends people back to; registered at the IdP as `<admin origin>/sso/oidc/callback`. */
export const OIDC_CALLBACK_PATH = '/sso/oidc/callback';

export const domainField = z
  .string()
  .trim()
  .toLowerCase()
  // eslint-disable-next-line security/detect-unsafe-regex -- length capped at 253 by the lookahead and every label ends at a dot: no ambiguous repetition
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/, 'must be an email domain such as example.com');
/** RFC 6749 §3.3 scope-token / OIDC Core §3.1.2.1 acr value: printable ASCII without spaces or quotes. */
const tokenField = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/, 'must be a single token without spaces');

/** Who may sign in through a connection, and as what: the same for OIDC and SAML. */
export const accessRules = {
  allowed_domains: z.array(domainField, { error: 'must be a list of email domains' }).min(1, 'must name at least one email domain').max(50),
  role_mapping: z
    .record(z.string().min(1).max(500), z.enum(ORG_ROLES, { error: `must be one of: ${ORG_ROLES.join(', ')}` }))
    .refine((m) => Object.keys(m).length <= 200, 'must have at most 200 entries')
    .default({}),
  default_role: z.enum(ORG_ROLES, { error: `must be one of: ${ORG_ROLES.join(', ')}` }).nullable().default(null),
};

export function createOidcConnectionSchema(allowPrivate: boolean) {
  return z.strictObject({
    issuer: z
      .string({ error: 'is required' })
      .max(2000)
      .superRefine((v, ctx) => {
        const problem = idpUrlProblem(v, allowPrivate);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    client_id: z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(500),
    client_secret: z.string({ error: 'is required' }).min(1, 'must not be empty').max(4096),
    ...accessRules,
    groups_claim: z.string().regex(/^[A-Za-z0-9_.:/-]{1,100}$/, 'must be a claim name').default('groups'),
    scopes: z
      .array(tokenField)
      .max(20)
      .refine((s) => s.includes('openid'), 'must include openid')
      .default(DEFAULT_SCOPES),
    require_mfa: z.boolean({ error: 'must be true or false' }).default(true),
    acr_values: z.array(tokenField).max(20).default([]),
    jit: z.boolean({ error: 'must be true or false' }).default(true),
  });
}

export type CreateOidcConnection = z.infer<ReturnType<typeof createOidcConnectionSchema>>;

export function ssoSecretBinding(row: Pick<ConnectionRow, 'id' | 'org_id' | 'issuer' | 'client_id'>): SecretBinding {
  return { purpose: 'sso-client-secret', recordId: row.id, orgId: row.org_id, provider: `${row.issuer} ${row.client_id}` };
}

export function publicConnection(row: ConnectionRow, domains: string[], origin: string) {
  if (row.protocol === 'saml') return publicSamlConnection(row, domains);
  return {
    id: row.id,
    org_id: row.org_id,
    protocol: row.protocol,
    issuer: row.issuer,
    client_id: row.client_id,
    allowed_domains: domains,
    role_mapping: row.role_mapping,
    default_role: row.default_role,
    groups_claim: row.groups_claim,
    scopes: row.scopes,
    require_mfa: row.require_mfa,
    acr_values: row.acr_values,
    jit: row.jit,
    redirect_uri: `${origin}${OIDC_CALLBACK_PATH}`,
    login_url: `${origin}/sso/oidc/${row.id}/start`,
    created_at: row.created_at,
  };
}

export async function domainsOf(db: Queryable, ids: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return out;
  const rows = await db.select().from(ssoConnectionDomains).where(inArray(ssoConnectionDomains.connection_id, ids)).orderBy(ssoConnectionDomains.domain);
  for (const r of rows) out.get(r.connection_id)?.push(r.domain);
  return out;
}

export async function keyRing(env: AdminEnv): Promise<KeyRing> {
  try {
    return await loadKeyRing(env.ROUTERO_KEKS);
  } catch (e) {
    throw new GatewayError('unavailable', 'The admin service is not configured to store secrets.', { reason: e instanceof Error ? e.message : 'KEK load failed' });
  }
}

/**
 * The connection's domains, deduplicated, refused with 409 if one already signs in elsewhere: a
 * domain signs in through one connection only, otherwise one organisation's IdP could claim
 * another's people. (The primary key holds this under concurrency too.)
 */
export async function freeDomains(tx: Queryable, requested: string[]): Promise<string[]> {
  const domains = [...new Set(requested)];
  const taken = await tx.select({ domain: ssoConnectionDomains.domain }).from(ssoConnectionDomains).where(inArray(ssoConnectionDomains.domain, domains));
  if (taken.length) {
    throw new GatewayError('invalid_request', `Invalid request: 'allowed_domains': ${taken.map((t) => t.domain).join(', ')} already signs in through another SSO connection.`, {
      param: 'allowed_domains',
      status: 409,
    });
  }
  return domains;
}

/** Requires an existing organisation (404 otherwise). */
export async function requireOrg(tx: Queryable, orgId: string): Promise<void> {
  const [org] = await tx.select({ id: orgs.id }).from(orgs).where(eq(orgs.id, orgId)).limit(1);
  if (!org) throw new GatewayError('not_found', `Organisation ${orgId} does not exist.`, { param: 'org_id' });
}

export async function createOidcConnection(ctx: ActionContext, orgId: string, input: CreateOidcConnection, origin: string) {
  const id = crypto.randomUUID();
  return change(ctx, { action: 'sso_connection.create', cerbosAction: 'create', resource: { kind: 'sso_connection', orgId } }, async (tx) => {
    await requireOrg(tx, orgId);
    const domains = await freeDomains(tx, input.allowed_domains);
    const base = { id, org_id: orgId, issuer: input.issuer, client_id: input.client_id };
    const sealed = await sealSecret(await keyRing(ctx.env), ssoSecretBinding(base), input.client_secret);
    const [row] = await tx
      .insert(ssoConnections)
      .values({
        ...base,
        protocol: 'oidc',
        ...sealed,
        role_mapping: input.role_mapping,
        default_role: input.default_role,
        groups_claim: input.groups_claim,
        scopes: input.scopes,
        require_mfa: input.require_mfa,
        acr_values: input.acr_values,
        jit: input.jit,
      })
      .returning();
    await tx.insert(ssoConnectionDomains).values(domains.map((domain) => ({ domain, connection_id: id })));
    return { result: publicConnection(row!, domains.sort(), origin), targetId: id };
  });
}

export async function listSsoConnections(ctx: ActionContext, orgId: string, origin: string) {
  await authorize(ctx, { kind: 'sso_connection', orgId }, 'list');
  const rows = await ctx.db.select().from(ssoConnections).where(eq(ssoConnections.org_id, orgId)).orderBy(ssoConnections.created_at);
  const domains = await domainsOf(ctx.db, rows.map((r) => r.id));
  return rows.map((r) => publicConnection(r, domains.get(r.id) ?? [], origin));
}

/** One connection (either protocol); a denial answers like a missing connection. */
export async function getSsoConnection(ctx: ActionContext, id: string, origin: string) {
  const notFound = new GatewayError('not_found', `SSO connection ${id} does not exist.`);
  const [row] = z.uuid().safeParse(id).success ? await ctx.db.select().from(ssoConnections).where(eq(ssoConnections.id, id)).limit(1) : [];
  if (!row) throw notFound;
  await authorizeOrHide(ctx, { kind: 'sso_connection', id, orgId: row.org_id }, 'read', notFound);
  return publicConnection(row, (await domainsOf(ctx.db, [id])).get(id) ?? [], origin);
}

export async function deleteSsoConnection(ctx: ActionContext, id: string, origin: string) {
  const notFound = new GatewayError('not_found', `SSO connection ${id} does not exist.`);
  const [row] = z.uuid().safeParse(id).success ? await ctx.db.select().from(ssoConnections).where(eq(ssoConnections.id, id)).limit(1) : [];
  if (!row) throw notFound;
  const domains = (await domainsOf(ctx.db, [id])).get(id) ?? [];
  // One decision; a denial answers like a missing connection, so other organisations' ids cannot be probed.
  return change(ctx, { action: 'sso_connection.delete', cerbosAction: 'delete', resource: { kind: 'sso_connection', id, orgId: row.org_id }, hideAs: notFound }, async (tx) => {
    await tx.delete(oidcLoginStates).where(eq(oidcLoginStates.connection_id, id));
    await tx.delete(samlLoginRequests).where(eq(samlLoginRequests.connection_id, id));
    await tx.delete(ssoConnections).where(eq(ssoConnections.id, id));
    return { result: { ...publicConnection(row, domains, origin), deleted: true } };
  });
}

// ── for the sign-in flow (no principal yet: these read only what the login needs) ──

/** What every sign-in needs of a connection, whatever its protocol: who it signs in and as what. */
export async function loginRules(db: Queryable, row: ConnectionRow) {
  return {
    id: row.id,
    orgId: row.org_id,
    allowedDomains: (await domainsOf(db, [row.id])).get(row.id) ?? [],
    roleMapping: row.role_mapping as Record<string, SsoRole>,
    defaultRole: (row.default_role as SsoRole | null) ?? null,
    requireMfa: row.require_mfa,
    jit: row.jit,
  };
}

export interface LoginConnection {
  connection: OidcConnection;
  clientSecret(): Promise<string>;
}

export async function loadOidcConnection(db: Queryable, env: AdminEnv, id: string): Promise<LoginConnection | null> {
  if (!z.uuid().safeParse(id).success) return null;
  const [row] = await db.select().from(ssoConnections).where(and(eq(ssoConnections.id, id), eq(ssoConnections.protocol, 'oidc'))).limit(1);
  if (!row) return null;
  return {
    connection: {
      ...(await loginRules(db, row)),
      issuer: row.issuer,
      clientId: row.client_id,
      groupsClaim: row.groups_claim,
      scopes: row.scopes,
      acrValues: row.acr_values,
    },
    clientSecret: async () => {
      try {
        if (row.kek_version === null || row.iv === null || row.ciphertext === null) throw new Error('no sealed client secret');
        return await openSecret(await loadKeyRing(env.ROUTERO_KEKS), ssoSecretBinding(row), { kek_version: row.kek_version, iv: row.iv, ciphertext: row.ciphertext });
      } catch (e) {
        // A missing KEK version or a row altered in the database: this connection cannot sign anyone in.
        throw new LoginRefused('connection_unavailable', `client secret cannot be opened: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}

/** The connection that signs in this email's domain, if any ("Sign in with SSO"), and its protocol. */
export async function connectionForEmail(db: Queryable, email: string): Promise<{ id: string; protocol: 'oidc' | 'saml' } | null> {
  const at = email.lastIndexOf('@');
  if (at < 1) return null;
  const domain = email.slice(at + 1).trim().toLowerCase();
  const [row] = await db
    .select({ id: ssoConnectionDomains.connection_id, protocol: ssoConnections.protocol })
    .from(ssoConnectionDomains)
    .innerJoin(ssoConnections, eq(ssoConnections.id, ssoConnectionDomains.connection_id))
    .where(eq(ssoConnectionDomains.domain, domain))
    .limit(1);
  return row ?? null;
}

/** KEK rotation: re-seals every SSO client secret under the active KEK. Returns how many changed. */
export async function reencryptSsoSecrets(db: Queryable, ring: KeyRing): Promise<{ reencrypted: number; total: number }> {
  // SAML connections hold no secret.
  const rows = await db.select().from(ssoConnections).where(eq(ssoConnections.protocol, 'oidc'));
  let reencrypted = 0;
  for (const row of rows) {
    if (row.kek_version === ring.active || row.kek_version === null || row.iv === null || row.ciphertext === null) continue;
    const binding = ssoSecretBinding(row);
    const sealed = await sealSecret(ring, binding, await openSecret(ring, binding, { kek_version: row.kek_version, iv: row.iv, ciphertext: row.ciphertext }));
    await db.update(ssoConnections).set(sealed).where(eq(ssoConnections.id, row.id));
    reencrypted++;
  }
  return { reencrypted, total: rows.length };
}
