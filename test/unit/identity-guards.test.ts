/**
 * Identity guards against one organisation's IdP reaching another's people (security review),
 * on a real Postgres (PGlite, in memory) with the project's migrations: a subject link to a user
 * renamed outside the connection's domains, a JIT login after SCIM deactivation, the email-domain
 * verdict SCIM uses, and deprovisioning (SCIM tokens revoked, sessions kept when other orgs remain).
 */
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { and, eq, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { beforeAll, describe, expect, it } from 'vitest';
import { masterPrincipal } from '../../admin/auth/principal';
import type { Database, DbTransaction } from '../../admin/db/client';
import * as schema from '../../admin/db/schema';
import { provisionSsoUser, type SsoLogin } from '../../admin/domain/users';
import { deprovision, emailDomainVerdict } from '../../admin/scim/access';
import { Hono } from 'hono';
import { LoginRefused } from '../../admin/sso/refusal';
import { MAX_PENDING_PER_BROWSER, MAX_STARTS_PER_CONNECTION_MINUTE, SAML_BROWSER_COOKIE, startStore } from '../../admin/sso/saml/requests';
import { REQUEST_TTL_MS } from '../../admin/sso/saml/config';

const { adminSessions, orgMemberships, orgs, samlLoginRequests, scimTokens, scimUsers, ssoConnectionDomains, ssoConnections, userIdentities, users } = schema;

let db: Database;
const orgA = crypto.randomUUID();
const orgB = crypto.randomUUID();
const orgC = crypto.randomUUID();
const connA = crypto.randomUUID();
const connB = crypto.randomUUID();

async function user(email: string, memberOf: string[]): Promise<string> {
  const id = crypto.randomUUID();
  await db.insert(users).values({ id, email, platform_admin: false });
  for (const org of memberOf) await db.insert(orgMemberships).values({ user_id: id, org_id: org, role: 'developer' });
  return id;
}

const login = (over: Partial<SsoLogin>): SsoLogin => ({ orgId: orgA, connectionId: connA, subject: 's', email: 'x@a.example', displayName: null, role: 'developer', jit: true, mfa: true, ...over });

beforeAll(async () => {
  const pg = new PGlite();
  const pgdb = drizzle(pg, { schema });
  await migrate(pgdb, { migrationsFolder: path.join(import.meta.dirname, '..', '..', 'migrations') });
  db = pgdb as unknown as Database;
  await db.insert(orgs).values([
    { id: orgA, name: 'A' },
    { id: orgB, name: 'B' },
    { id: orgC, name: 'C' },
  ]);
  for (const [id, org, domain] of [
    [connA, orgA, 'a.example'],
    [connB, orgB, 'b.example'],
  ] as const) {
    await db.insert(ssoConnections).values({ id, org_id: org, protocol: 'oidc', issuer: `https://${domain}`, client_id: 'c', scopes: ['openid'] });
    await db.insert(ssoConnectionDomains).values({ domain, connection_id: id });
  }
}, 60_000);

describe('SSO provisioning', () => {
  it("refuses a subject whose linked user was renamed outside the connection's domains", async () => {
    const victim = await user('ceo@b.example', [orgB]);
    const attacker = await user('mallory@a.example', [orgA]);
    await db.insert(userIdentities).values({ user_id: attacker, connection_id: connA, subject: 'mallory' });
    // A's IdP sees its user under the old address; the user row now carries another address.
    await db.update(users).set({ email: 'ceo2@b.example' }).where(eq(users.id, attacker));
    await db.insert(orgMemberships).values({ user_id: attacker, org_id: orgB, role: 'org_admin' });
    expect(await provisionSsoUser(db, login({ subject: 'mallory', email: 'mallory@a.example' }))).toEqual({ refused: 'linked_email_outside' });
    // Renamed within the connection's domains, the link still signs in.
    await db.update(users).set({ email: 'mallory.new@a.example' }).where(eq(users.id, attacker));
    const ok = await provisionSsoUser(db, login({ subject: 'mallory', email: 'mallory@a.example' }));
    expect('user' in ok && ok.user.id).toBe(attacker);
    expect(victim).not.toBe(attacker);
  });

  it('does not give back by JIT a membership SCIM deactivated', async () => {
    const gone = await user('gone@a.example', []);
    await db.insert(scimUsers).values({ org_id: orgA, user_id: gone, user_name: 'gone@a.example', user_name_key: 'gone@a.example', active: false });
    expect(await provisionSsoUser(db, login({ subject: 'gone', email: 'gone@a.example' }))).toEqual({ refused: 'scim_deprovisioned' });
    const rows = await db.select().from(orgMemberships).where(eq(orgMemberships.user_id, gone));
    expect(rows).toEqual([]);
  });
});

describe('SCIM access', () => {
  it("tells an organisation's own email domains from others' and from unclaimed ones", async () => {
    const verdict = (org: string, email: string) => db.transaction((tx) => emailDomainVerdict(tx as DbTransaction, org, email));
    expect(await verdict(orgA, 'p@a.example')).toBe('own');
    expect(await verdict(orgA, 'p@b.example')).toBe('foreign');
    expect(await verdict(orgA, 'p@gmail.example')).toBe('foreign');
    expect(await verdict(orgC, 'p@gmail.example')).toBe('unclaimed');
    expect(await verdict(orgC, 'p@a.example')).toBe('foreign');
  });

  const ctx = () => ({ db, principal: masterPrincipal('master_key'), meta: { requestId: 'test', clientIp: null, userAgent: null } }) as never;

  it('deprovisioning revokes the SCIM tokens the person made, and keeps their sessions while other organisations remain', async () => {
    const admin = await user('admin@a.example', [orgA, orgB]);
    for (const [id, org] of [
      ['tokA', orgA],
      ['tokB', orgB],
    ] as const) {
      await db.insert(scimTokens).values({ id, org_id: org, name: id, secret_sha256: 'x', created_by_user_id: admin, created_by: admin });
    }
    await db.insert(adminSessions).values({ id: 'sess-admin', actor: admin, user_id: admin, login_method: 'oidc', expires_at: new Date(Date.now() + 3_600_000) });
    const result = await db.transaction((tx) => deprovision(ctx(), tx as DbTransaction, orgA, admin));
    expect(result.revokedScimTokens).toEqual(['tokA']);
    expect(result.sessionsEnded).toBe(0);
    const live = await db.select({ id: scimTokens.id }).from(scimTokens).where(and(eq(scimTokens.created_by_user_id, admin), isNull(scimTokens.revoked_at)));
    expect(live.map((t) => t.id)).toEqual(['tokB']);
    const [session] = await db.select().from(adminSessions).where(eq(adminSessions.id, 'sess-admin'));
    expect(session!.ended_at).toBeNull();
    // Their last organisation deprovisioning them ends everything.
    const last = await db.transaction((tx) => deprovision(ctx(), tx as DbTransaction, orgB, admin));
    expect(last).toMatchObject({ suspended: true, sessionsEnded: 1, revokedScimTokens: ['tokB'] });
  });
});

describe('SAML /start', () => {
  const app = new Hono().get('/start/:conn', async (c) => {
    try {
      await (await startStore(c, db, c.req.param('conn'))).save(`_${crypto.randomUUID()}`);
      return c.text('ok');
    } catch (e) {
      if (e instanceof LoginRefused) return c.text(e.reason, 429);
      throw e;
    }
  });

  it('keeps a bounded number of pending requests per browser and refuses a flood per connection', async () => {
    const conn = crypto.randomUUID();
    const first = await app.request(`/start/${conn}`);
    const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
    expect(cookie.startsWith(`${SAML_BROWSER_COOKIE}=`)).toBe(true);
    for (let i = 0; i < MAX_PENDING_PER_BROWSER + 5; i++) expect((await app.request(`/start/${conn}`, { headers: { cookie } })).status).toBe(200);
    const pending = await db.select().from(samlLoginRequests).where(eq(samlLoginRequests.connection_id, conn));
    expect(pending.length).toBe(MAX_PENDING_PER_BROWSER);

    // Cookie-less callers each get a new browser: the per-connection cap bounds them.
    const soon = new Date(Date.now() + REQUEST_TTL_MS - 1_000);
    await db.insert(samlLoginRequests).values(Array.from({ length: MAX_STARTS_PER_CONNECTION_MINUTE }, (_, i) => ({ id: `flood-${conn}-${i}`, connection_id: conn, browser_hash: `b${i}`, expires_at: soon })));
    const refused = await app.request(`/start/${conn}`);
    expect(refused.status).toBe(429);
    expect(await refused.text()).toBe('busy');
    // Another connection is unaffected.
    expect((await app.request(`/start/${crypto.randomUUID()}`)).status).toBe(200);
  }, 60_000);
});
