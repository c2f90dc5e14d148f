/**
 * The OIDC relying party (admin/sso/oidc/) against a real OpenID Provider (oidc-provider on
 * loopback): the whole Authorization Code + PKCE exchange, and every way a login must be refused.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateKek, KeyRingError, loadKeyRing, openSecret, sealSecret } from '../../lib/crypto/aes-gcm';
import { ssoSecretBinding } from '../../admin/domain/sso-connections';
import { beginLogin, finishLogin, type RpOptions } from '../../admin/sso/oidc/client';
import type { OidcConnection } from '../../admin/sso/oidc/config';
import { identityFromClaims } from '../../admin/sso/oidc/identity';
import { mfaEvidence } from '../../admin/sso/oidc/mfa';
import { LoginRefused, type RefusalReason } from '../../admin/sso/refusal';
import { ACR_VALUES, startTestIdp, type TestIdp } from '../support/oidc-idp';
import { claim } from '../support/claims';

const REDIRECT_URI = 'http://127.0.0.1:9/sso/oidc/callback';
const LOCAL: RpOptions = { allowPrivate: true };

let idp: TestIdp;
let connection: OidcConnection;
let secret: string;

beforeAll(async () => {
  idp = await startTestIdp();
});
afterAll(() => idp?.close());

beforeEach(async () => {
  idp.tamper = null;
  const client = await idp.registerClient(REDIRECT_URI);
  secret = client.clientSecret;
  connection = {
    id: crypto.randomUUID(),
    orgId: crypto.randomUUID(),
    issuer: idp.issuer,
    clientId: client.clientId,
    allowedDomains: ['acme.test'],
    roleMapping: { 'routero-admins': 'org_admin', auditors: 'auditor' },
    defaultRole: 'developer',
    groupsClaim: 'groups',
    scopes: ['openid', 'email', 'profile', 'groups'],
    requireMfa: true,
    acrValues: [],
    jit: true,
  };
});

async function login(username: string, conn = connection) {
  const { url, pending } = await beginLogin(conn, REDIRECT_URI, LOCAL);
  const callback = await idp.signIn(url.toString(), username);
  return { pending, callback, claims: () => finishLogin(conn, secret, pending, callback, LOCAL) };
}

async function refusal(p: Promise<unknown>): Promise<RefusalReason> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!(e instanceof LoginRefused)) throw new Error(`expected a refusal, got ${String(e)}`);
  return e.reason;
}

describe('OIDC relying party against oidc-provider', () => {
  it('sends Authorization Code + PKCE S256 with state and nonce, and no acr_values unless configured', async () => {
    const { url, pending } = await beginLogin(connection, REDIRECT_URI, LOCAL);
    expect(url.origin).toBe(idp.issuer);
    const q = url.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('code_challenge')).not.toBe(pending.codeVerifier);
    expect(q.get('state')).toBe(pending.state);
    expect(q.get('nonce')).toBe(pending.nonce);
    expect(q.get('scope')).toBe('openid email profile groups');
    expect(q.has('acr_values')).toBe(false);
    expect(q.toString()).not.toContain(secret);
  });

  it(claim('sso-mfa', 'signs in a person who used MFA, with the role their group maps to'), async () => {
    const { claims } = await login('alice');
    const identity = identityFromClaims(connection, await claims());
    expect(identity).toEqual({ subject: 'sub-alice', email: 'alice@acme.test', displayName: 'Alice Admin', role: 'org_admin', mfa: true });
  });

  it('gives the default role to a person in no mapped group', async () => {
    const { claims } = await login('dave');
    expect(identityFromClaims(connection, await claims())).toMatchObject({ email: 'dave@acme.test', role: 'developer', mfa: true });
  });

  it(claim('sso-mfa', 'refuses a person who signed in with a password only, and lets them in when MFA is not required'), async () => {
    const { claims } = await login('paul');
    const verified = await claims();
    expect(verified.amr).toEqual(['pwd']);
    expect(() => identityFromClaims(connection, verified)).toThrow(LoginRefused);
    expect(await refusal(Promise.resolve().then(() => identityFromClaims(connection, verified)))).toBe('mfa_required');
    expect(identityFromClaims({ ...connection, requireMfa: false }, verified)).toMatchObject({ email: 'paul@acme.test', mfa: false });
  });

  it('accepts a configured acr as MFA, requesting it with acr_values', async () => {
    const conn = { ...connection, acrValues: [ACR_VALUES[1]!] };
    const { url } = await beginLogin(conn, REDIRECT_URI, LOCAL);
    expect(url.searchParams.get('acr_values')).toBe(ACR_VALUES[1]);
    const { claims } = await login('ann', conn);
    const verified = await claims();
    expect(verified.acr).toBe(ACR_VALUES[1]);
    expect(identityFromClaims(conn, verified)).toMatchObject({ email: 'ann@acme.test', mfa: true });
    // The same login without that acr configured shows no MFA.
    expect(await refusal(Promise.resolve().then(() => identityFromClaims(connection, verified)))).toBe('mfa_required');
  });

  it('refuses an email outside the allowed domains', async () => {
    const { claims } = await login('olga');
    expect(await refusal(claims().then((c) => identityFromClaims(connection, c)))).toBe('domain_not_allowed');
  });

  it('refuses a tampered state before redeeming the code', async () => {
    const { pending, callback } = await login('alice');
    const before = idp.tokenRequests;
    const tampered = new URL(callback);
    tampered.searchParams.set('state', `${pending.state}x`);
    expect(await refusal(finishLogin(connection, secret, pending, tampered, LOCAL))).toBe('state_invalid');
    expect(idp.tokenRequests).toBe(before);
  });

  it('refuses a replayed code: the IdP will not redeem it twice', async () => {
    const { pending, callback, claims } = await login('alice');
    await claims();
    expect(await refusal(finishLogin(connection, secret, pending, callback, LOCAL))).toBe('code_rejected');
  });

  it('refuses an ID token signed by a key the IdP never published (same kid)', async () => {
    const { claims } = await login('alice');
    idp.tamper = 'unpublished-key';
    const before = idp.tokenRequests;
    expect(await refusal(claims())).toBe('token_invalid');
    expect(idp.tokenRequests).toBe(before + 1);
  });

  it('refuses an ID token with another nonce, even when properly signed', async () => {
    const { claims } = await login('alice');
    idp.tamper = 'wrong-nonce';
    expect(await refusal(claims())).toBe('token_invalid');
  });

  it('refuses when the IdP does not accept our client secret', async () => {
    const { pending, callback } = await login('alice');
    expect(await refusal(finishLogin(connection, 'not-the-secret', pending, callback, LOCAL))).toBe('connection_unavailable');
  });

  it('refuses an http or loopback issuer unless private upstreams are allowed', async () => {
    expect(await refusal(beginLogin(connection, REDIRECT_URI, { allowPrivate: false }))).toBe('connection_unavailable');
  });
});

describe('MFA evidence (RFC 8176 amr, acr)', () => {
  it.each([
    [['mfa'], true],
    [['pwd', 'otp'], true],
    [['pwd', 'hwk'], true],
    [['pin', 'sc'], true],
    [['swk', 'fpt'], true],
    [['pwd'], false],
    [['otp'], false],
    [['hwk', 'user'], false],
    [['pwd', 'kba'], false],
    [['otp', 'sms'], false],
    [[], false],
  ])('amr %j → mfa %s', (amr, expected) => {
    expect(mfaEvidence({ amr }, []).mfa).toBe(expected);
  });

  it('counts acr only when it is one of the configured values', () => {
    expect(mfaEvidence({ amr: ['pwd'], acr: 'phr' }, ['phr']).mfa).toBe(true);
    expect(mfaEvidence({ amr: ['pwd'], acr: 'phr' }, ['phrh']).mfa).toBe(false);
    expect(mfaEvidence({ amr: 'mfa', acr: 1 }, ['1']).mfa).toBe(false);
  });
});

describe('SSO client secret sealing', () => {
  it('opens only for the connection, issuer and client id it was sealed for, and never as a provider key', async () => {
    const ring = await loadKeyRing(`1:${generateKek()}`);
    const row = { id: crypto.randomUUID(), org_id: crypto.randomUUID(), issuer: 'https://idp.example', client_id: 'routero' };
    const sealed = await sealSecret(ring, ssoSecretBinding(row), 'client-secret-value');
    expect(sealed.ciphertext).not.toContain('client-secret-value');
    expect(await openSecret(ring, ssoSecretBinding(row), sealed)).toBe('client-secret-value');
    await expect(openSecret(ring, ssoSecretBinding({ ...row, issuer: 'https://attacker.example' }), sealed)).rejects.toThrow(KeyRingError);
    await expect(openSecret(ring, ssoSecretBinding({ ...row, client_id: 'other' }), sealed)).rejects.toThrow(KeyRingError);
    await expect(openSecret(ring, ssoSecretBinding({ ...row, id: crypto.randomUUID() }), sealed)).rejects.toThrow(KeyRingError);
    const asProviderKey = { ...ssoSecretBinding(row), purpose: 'provider-key' as const };
    await expect(openSecret(ring, asProviderKey, sealed)).rejects.toThrow(KeyRingError);
  });
});

describe('who signs in: email, domain and role from verified claims', () => {
  const conn: OidcConnection = {
    id: 'c',
    orgId: 'o',
    issuer: 'https://idp.example',
    clientId: 'x',
    allowedDomains: ['acme.test'],
    roleMapping: { admins: 'org_admin', devs: 'developer', readers: 'auditor' },
    defaultRole: null,
    groupsClaim: 'roles',
    scopes: [],
    requireMfa: false,
    acrValues: [],
    jit: true,
  };
  const claims = (extra: Record<string, unknown>) => ({ sub: 's', email: 'Pat@ACME.test', ...extra });

  it('lower-cases the email and gives the strongest mapped role, read from the configured claim', () => {
    expect(identityFromClaims(conn, claims({ roles: ['readers', 'devs'] }))).toMatchObject({ email: 'pat@acme.test', role: 'developer' });
    expect(identityFromClaims(conn, claims({ roles: 'admins', groups: ['readers'] })).role).toBe('org_admin');
    expect(identityFromClaims(conn, claims({ groups: ['admins'] })).role).toBeNull();
  });

  it('refuses an email the IdP says is unverified, a missing email, and a look-alike domain', async () => {
    const reason = (c: Record<string, unknown>) => refusal(Promise.resolve().then(() => identityFromClaims(conn, c)));
    expect(await reason(claims({ email_verified: false }))).toBe('email_missing');
    expect(await reason({ sub: 's' })).toBe('email_missing');
    expect(await reason(claims({ email: 'pat@acme.test.evil.example' }))).toBe('domain_not_allowed');
    expect(await reason(claims({ email: 'pat@sub.acme.test' }))).toBe('domain_not_allowed');
    expect(await reason({ email: 'pat@acme.test' })).toBe('token_invalid');
  });
});
