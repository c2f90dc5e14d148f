/**
 * The evidence export (issue 12): what a security review asks for about one organisation, in one
 * signed file. `GET /api/v1/evidence?org_id=&from=&to=` answers a tar archive:
 *
 *   evidence.json            inventories, access review, audit summary and chain verification,
 *                            policy version, security configuration
 *   admin-audit-log.jsonl    the organisation's admin audit rows in the period, one JSON per line
 *   admin-audit-log.csv      the same rows as CSV
 *   SHA256SUMS               sha256sum lines for the three files above
 *   SHA256SUMS.sig           Ed25519 signature of SHA256SUMS (EVIDENCE_SIGNING_KEY, an operator secret)
 *   evidence-signing-key.pem the public key (check it against the one the operator published)
 *   README.txt               how to verify
 *
 * No secret, no hash of a secret, no ciphertext and no content is ever selected: every query names
 * its columns.
 */
import { and, asc, eq, gte, inArray, lte, max } from 'drizzle-orm';
import { base64ToBytes, bytesToBase64, bytesToHex, sha256Hex } from '../lib/crypto/encoding';
import { GatewayError } from '../lib/errors';
import { POLICY_BUNDLE } from '../policies/version';
import { verifyAuditLog } from './audit-anchor';
import type { Queryable } from './db/client';
import { adminAuditLog, apiTokens, auditEvents, orgMemberships, orgs, providerKeys, ssoConnectionDomains, ssoConnections, userIdentities, users, virtualKeys } from './db/schema';
import type { AdminEnv } from './env';
import { tar } from './evidence-tar';
import { ABSOLUTE_LIFETIME_MS, IDLE_TIMEOUT_MS } from './session';

export const EVIDENCE_FORMAT = 'routero-evidence/1';
const DAY = 86_400_000;

export interface EvidenceRequest {
  orgId: string;
  from: Date;
  to: Date;
  /** Who asked (the principal's id), recorded in the document. */
  requestedBy: string;
  now?: Date;
}

const iso = (v: Date | string | null | undefined) => (v == null ? null : new Date(v).toISOString());
const ageDays = (from: Date | string, now: Date) => Math.floor((now.getTime() - new Date(from).getTime()) / DAY);

/** The period asked for: `to` defaults to now, `from` to 90 days before `to`; at most 400 days. */
export function evidencePeriod(q: { from?: string; to?: string }, now = new Date()): { from: Date; to: Date } {
  // A date without a time means the whole day: `to=2026-03-31` includes the 31st.
  const to = q.to ? (/^\d{4}-\d{2}-\d{2}$/.test(q.to) ? new Date(Date.parse(q.to) + DAY - 1) : new Date(q.to)) : now;
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - 90 * DAY);
  if (from > to) throw new GatewayError('invalid_request', 'from must not be after to.', { param: 'from' });
  if (to.getTime() - from.getTime() > 400 * DAY) throw new GatewayError('invalid_request', 'The period may span at most 400 days.', { param: 'from' });
  return { from, to };
}

/** Spreadsheet-safe CSV: quoted when needed, and a leading = + - @ is neutralised (formula injection). */
function csvCell(v: unknown): string {
  if (v == null) return '';
  let s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function buildEvidenceDocument(db: Queryable, env: AdminEnv, req: EvidenceRequest) {
  const now = req.now ?? new Date();
  const [org] = await db.select({ id: orgs.id, name: orgs.name, allowed_models: orgs.allowed_models, created_at: orgs.created_at }).from(orgs).where(eq(orgs.id, req.orgId));
  if (!org) throw new GatewayError('not_found', 'No such organisation.');

  const keys = await db
    .select({ id: virtualKeys.id, name: virtualKeys.name, owner_user_id: virtualKeys.owner_user_id, owner_email: users.email, models: virtualKeys.models, cidrs: virtualKeys.cidrs, expires_at: virtualKeys.expires_at, revoked_at: virtualKeys.revoked_at, created_at: virtualKeys.created_at })
    .from(virtualKeys)
    .leftJoin(users, eq(users.id, virtualKeys.owner_user_id))
    .where(eq(virtualKeys.org_id, req.orgId))
    .orderBy(asc(virtualKeys.created_at));
  const lastUsed = keys.length
    ? await db.select({ key_id: auditEvents.key_id, at: max(auditEvents.started_at) }).from(auditEvents).where(and(eq(auditEvents.org_id, req.orgId), inArray(auditEvents.key_id, keys.map((k) => k.id)))).groupBy(auditEvents.key_id)
    : [];
  const lastUsedBy = new Map(lastUsed.map((r) => [r.key_id, r.at]));

  const provider = await db
    .select({ id: providerKeys.id, provider: providerKeys.provider, name: providerKeys.name, base_url: providerKeys.base_url, kek_version: providerKeys.kek_version, created_at: providerKeys.created_at, deleted_at: providerKeys.deleted_at })
    .from(providerKeys)
    .where(eq(providerKeys.org_id, req.orgId))
    .orderBy(asc(providerKeys.created_at));

  const members = await db
    .select({ user_id: users.id, email: users.email, display_name: users.display_name, role: orgMemberships.role, status: users.status, member_since: orgMemberships.created_at, last_login_at: users.last_login_at, last_login_mfa: users.last_login_mfa })
    .from(orgMemberships)
    .innerJoin(users, eq(users.id, orgMemberships.user_id))
    .where(eq(orgMemberships.org_id, req.orgId))
    .orderBy(asc(users.email));
  const connections = await db
    .select({ id: ssoConnections.id, protocol: ssoConnections.protocol, issuer: ssoConnections.issuer, require_mfa: ssoConnections.require_mfa, acr_values: ssoConnections.acr_values, jit: ssoConnections.jit, default_role: ssoConnections.default_role, created_at: ssoConnections.created_at })
    .from(ssoConnections)
    .where(eq(ssoConnections.org_id, req.orgId));
  const domains = connections.length ? await db.select({ domain: ssoConnectionDomains.domain, connection_id: ssoConnectionDomains.connection_id }).from(ssoConnectionDomains).where(inArray(ssoConnectionDomains.connection_id, connections.map((c) => c.id))) : [];
  const identities = members.length
    ? await db.select({ user_id: userIdentities.user_id, connection_id: userIdentities.connection_id }).from(userIdentities).where(inArray(userIdentities.user_id, members.map((m) => m.user_id)))
    : [];
  const orgConnectionIds = new Set(connections.map((c) => c.id));
  const tokens = await db
    .select({ id: apiTokens.id, name: apiTokens.name, role: apiTokens.role, created_by: apiTokens.created_by, expires_at: apiTokens.expires_at, revoked_at: apiTokens.revoked_at, last_used_at: apiTokens.last_used_at, created_at: apiTokens.created_at })
    .from(apiTokens)
    .where(eq(apiTokens.org_id, req.orgId))
    .orderBy(asc(apiTokens.created_at));

  const auditRows = await db
    .select({ seq: adminAuditLog.seq, id: adminAuditLog.id, at: adminAuditLog.at, actor: adminAuditLog.actor, actor_user_id: adminAuditLog.actor_user_id, actor_email: adminAuditLog.actor_email, login_method: adminAuditLog.login_method, mfa: adminAuditLog.mfa, action: adminAuditLog.action, target_type: adminAuditLog.target_type, target_id: adminAuditLog.target_id, outcome: adminAuditLog.outcome, client_ip: adminAuditLog.client_ip, user_agent: adminAuditLog.user_agent, request_id: adminAuditLog.request_id, hash: adminAuditLog.hash })
    .from(adminAuditLog)
    .where(and(eq(adminAuditLog.org_id, req.orgId), gte(adminAuditLog.at, req.from.toISOString()), lte(adminAuditLog.at, req.to.toISOString())))
    .orderBy(asc(adminAuditLog.seq));
  const chain = await verifyAuditLog(db, env.ROUTERO_KV);

  const rows = auditRows.map((r) => ({ ...r, at: iso(r.at) }));
  const columns = Object.keys(rows[0] ?? { seq: 0, id: 0, at: 0, actor: 0, actor_user_id: 0, actor_email: 0, login_method: 0, mfa: 0, action: 0, target_type: 0, target_id: 0, outcome: 0, client_ip: 0, user_agent: 0, request_id: 0, hash: 0 });
  const jsonl = rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
  // eslint-disable-next-line security/detect-object-injection -- c is one of the selected column names
  const csv = [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell((r as Record<string, unknown>)[c])).join(','))].join('\r\n') + '\r\n';

  const document = {
    format: EVIDENCE_FORMAT,
    generated_at: now.toISOString(),
    requested_by: req.requestedBy,
    organisation: { id: org.id, name: org.name, created_at: iso(org.created_at), allowed_models: org.allowed_models },
    period: { from: req.from.toISOString(), to: req.to.toISOString() },
    virtual_keys: keys.map((k) => ({
      id: k.id,
      name: k.name,
      owner: k.owner_user_id ? { user_id: k.owner_user_id, email: k.owner_email } : null,
      scopes: { models: k.models },
      cidrs: k.cidrs,
      expires_at: iso(k.expires_at),
      revoked_at: iso(k.revoked_at),
      status: k.revoked_at ? 'revoked' : k.expires_at && new Date(k.expires_at) <= now ? 'expired' : 'active',
      created_at: iso(k.created_at),
      last_used_at: iso(lastUsedBy.get(k.id) ?? null),
      // Keys are never re-keyed in place (rotation makes a new key), so the secret is as old as the key.
      secret_age_days: ageDays(k.created_at, now),
    })),
    provider_keys: provider.map((p) => ({ ...p, created_at: iso(p.created_at), deleted_at: iso(p.deleted_at), age_days: ageDays(p.created_at, now) })),
    access_review: {
      members: members.map((m) => {
        const via = identities.filter((i) => i.user_id === m.user_id && orgConnectionIds.has(i.connection_id)).map((i) => i.connection_id);
        return {
          user_id: m.user_id,
          email: m.email,
          display_name: m.display_name,
          role: m.role,
          suspended: m.status === 'suspended',
          member_since: iso(m.member_since),
          sso_connection_ids: via,
          last_login_at: iso(m.last_login_at),
          mfa_at_last_login: m.last_login_mfa,
        };
      }),
      api_tokens: tokens.map((t) => ({ ...t, expires_at: iso(t.expires_at), revoked_at: iso(t.revoked_at), last_used_at: iso(t.last_used_at), created_at: iso(t.created_at) })),
      sso_connections: connections.map((c) => ({ ...c, created_at: iso(c.created_at), domains: domains.filter((d) => d.connection_id === c.id).map((d) => d.domain) })),
    },
    admin_audit: {
      rows_in_period: rows.length,
      files: { jsonl: 'admin-audit-log.jsonl', csv: 'admin-audit-log.csv' },
      chain_verification: { ok: chain.ok, rows: chain.rows, problems: chain.problems, head: chain.head, anchors: { checked: chain.anchors.checked, latest: chain.anchors.latest, first_mismatch: chain.anchors.first_mismatch } },
    },
    policy_version: { sha256: POLICY_BUNDLE.sha256, files: POLICY_BUNDLE.files },
    security_configuration: securityConfiguration(env, connections),
  };
  return { document, jsonl, csv };
}

function securityConfiguration(env: AdminEnv, connections: Array<{ id: string; require_mfa: boolean }>) {
  const num = (v: string | undefined, fallback: number) => (v && Number.isFinite(Number(v)) ? Number(v) : fallback);
  return {
    gateway: {
      key_cache_ttl_seconds: Math.min(30, Math.max(1, num(env.KEY_CACHE_TTL_SECONDS, 30))),
      policy_cache_ttl_seconds: Math.min(60, Math.max(0, num(env.POLICY_CACHE_TTL_SECONDS, 10))),
      max_body_bytes: num(env.MAX_BODY_BYTES, 4 * 1024 * 1024),
      allow_private_upstreams: env.ALLOW_PRIVATE_UPSTREAMS === 'true',
    },
    admin: {
      session_idle_timeout_seconds: IDLE_TIMEOUT_MS / 1000,
      session_absolute_lifetime_seconds: ABSOLUTE_LIFETIME_MS / 1000,
      master_key_ui_login: env.MASTER_KEY_UI_LOGIN !== 'false',
      failed_login_limit: { attempts: 5, window_seconds: 900 },
      admin_policy_cache_ttl_seconds: 5,
      audit_anchor_interval_seconds: 300,
      audit_retention_months: env.AUDIT_RETENTION_MONTHS ? num(env.AUDIT_RETENTION_MONTHS, 0) || null : null,
    },
    sso: connections.map((c) => ({ connection_id: c.id, require_mfa: c.require_mfa })),
  };
}

// ── signing ──

/** The operator's Ed25519 key: EVIDENCE_SIGNING_KEY is base64 of a PKCS #8 DER private key. */
async function signingKey(env: AdminEnv): Promise<{ key: CryptoKey; publicPem: string }> {
  if (!env.EVIDENCE_SIGNING_KEY) {
    throw new GatewayError('unavailable', 'Evidence export is not configured: set the EVIDENCE_SIGNING_KEY secret.', { reason: 'EVIDENCE_SIGNING_KEY is not set' });
  }
  try {
    const der = base64ToBytes(env.EVIDENCE_SIGNING_KEY.trim());
    const key = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, true, ['sign']);
    const jwk = (await crypto.subtle.exportKey('jwk', key)) as JsonWebKey;
    const x = base64ToBytes((jwk.x ?? '').replace(/-/g, '+').replace(/_/g, '/'));
    // SubjectPublicKeyInfo for Ed25519 (RFC 8410): fixed 12-byte prefix, then the 32-byte key.
    const spki = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, ...x]);
    const b64 = bytesToBase64(spki);
    return { key, publicPem: `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n` };
  } catch {
    throw new GatewayError('unavailable', 'Evidence export is not configured: EVIDENCE_SIGNING_KEY is not a base64 PKCS #8 Ed25519 key.', { reason: 'EVIDENCE_SIGNING_KEY invalid' });
  }
}

export const VERIFY_COMMAND =
  'tar xf routero-evidence.tar && openssl pkeyutl -verify -pubin -inkey evidence-signing-key.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig && sha256sum -c SHA256SUMS';

/** The signed archive, and its name. */
export async function evidenceArchive(db: Queryable, env: AdminEnv, req: EvidenceRequest): Promise<{ filename: string; bytes: Uint8Array<ArrayBuffer>; headSha256: string }> {
  const { key, publicPem } = await signingKey(env);
  const { document, jsonl, csv } = await buildEvidenceDocument(db, env, req);
  const json = `${JSON.stringify(document, null, 2)}\n`;
  const files = [
    { name: 'evidence.json', data: json },
    { name: 'admin-audit-log.jsonl', data: jsonl },
    { name: 'admin-audit-log.csv', data: csv },
  ];
  const sums = (await Promise.all(files.map(async (f) => `${await sha256Hex(f.data)}  ${f.name}\n`))).join('');
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key, new TextEncoder().encode(sums)));
  const fingerprint = bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', base64ToBytes(publicPem.split('\n')[1]!))));
  const readme = [
    `Routero evidence export for organisation ${document.organisation.name} (${document.organisation.id}),`,
    `period ${document.period.from} to ${document.period.to}, generated ${document.generated_at}.`,
    '',
    'Verify (OpenSSL 3, coreutils), with the public key the operator published:',
    `  ${VERIFY_COMMAND}`,
    '',
    `Signing key SHA-256 fingerprint (of the DER public key): ${fingerprint}`,
    'The copy of the public key in this archive is for convenience: compare its fingerprint with the published one.',
    '',
  ].join('\n');
  const bytes = tar(
    [...files, { name: 'SHA256SUMS', data: sums }, { name: 'SHA256SUMS.sig', data: signature }, { name: 'evidence-signing-key.pem', data: publicPem }, { name: 'README.txt', data: readme }],
    req.now ?? new Date(),
  );
  const day = (d: Date) => d.toISOString().slice(0, 10);
  return { filename: `routero-evidence-${req.orgId}-${day(req.from)}-${day(req.to)}.tar`, bytes, headSha256: document.admin_audit.chain_verification.head?.hash ?? '' };
}

