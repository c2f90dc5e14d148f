/**
 * A real OpenID Provider for the tests: the certified `oidc-provider` package, on loopback only,
 * with a minimal login interaction (a form with a username field, no password) so tests can sign
 * in as people who did or did not use multi-factor authentication.
 *
 * - The issuer is `http://localhost:<port>` while the admin Worker runs on `http://127.0.0.1:<port>`:
 *   the two are different sites, so the browser treats the IdP → callback redirect as cross-site,
 *   exactly as with a real IdP (SameSite cookies behave as in production).
 * - Clients are registered per test with Dynamic Client Registration (RFC 7591), the same protocol
 *   a real IdP offers.
 * - `amr` / `acr` come from the account and are set through the interaction result
 *   (`login: { accountId, amr, acr }`), which oidc-provider copies into the ID Token.
 * - `tamper` lets a test make the token endpoint answer with a forged ID Token (re-signed with a key
 *   the IdP never published, or carrying another nonce), to prove the relying party refuses it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

export interface IdpAccount {
  sub: string;
  email: string;
  name: string;
  groups: string[];
  amr: string[];
  acr?: string;
  email_verified?: boolean;
}

/** What the token endpoint should do to the ID Token it issues (null: nothing). */
export type IdTokenTamper = null | 'unpublished-key' | 'wrong-nonce';

export interface TestIdp {
  issuer: string;
  accounts: Map<string, IdpAccount>;
  tamper: IdTokenTamper;
  /** Token endpoint requests answered so far (successful or not). */
  tokenRequests: number;
  registerClient(redirectUri: string): Promise<{ clientId: string; clientSecret: string }>;
  /**
   * Plays the browser at the IdP: follows the authorization URL, fills the login form with
   * `username`, and returns the URL the IdP redirects back to (the RP's callback, with code and state).
   */
  signIn(authorizationUrl: string, username: string): Promise<URL>;
  close(): Promise<void>;
}

export const ACR_VALUES = ['urn:routero:test:loa:1', 'urn:routero:test:loa:2'];

export const DEFAULT_ACCOUNTS: Record<string, IdpAccount> = {
  alice: { sub: 'sub-alice', email: 'alice@acme.test', name: 'Alice Admin', groups: ['routero-admins', 'staff'], amr: ['pwd', 'otp'] },
  dave: { sub: 'sub-dave', email: 'dave@acme.test', name: 'Dave Developer', groups: ['engineering'], amr: ['pwd', 'hwk'] },
  paul: { sub: 'sub-paul', email: 'paul@acme.test', name: 'Paul Password', groups: ['routero-admins'], amr: ['pwd'] },
  olga: { sub: 'sub-olga', email: 'olga@other.test', name: 'Olga Outsider', groups: ['routero-admins'], amr: ['pwd', 'otp'] },
  ann: { sub: 'sub-ann', email: 'ann@acme.test', name: 'Ann Acr', groups: [], amr: ['pwd'], acr: 'urn:routero:test:loa:2' },
};

function html(res: http.ServerResponse, status: number, body: string) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html><head><title>Test IdP</title></head><body>${body}</body></html>`);
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return new URLSearchParams(body);
}

export async function startTestIdp(opts: { accounts?: Record<string, IdpAccount> } = {}): Promise<TestIdp> {
  const accounts = new Map(Object.entries(opts.accounts ?? DEFAULT_ACCOUNTS));
  const bySub = () => new Map([...accounts.values()].map((a) => [a.sub, a]));

  // The IdP's published signing key, and one it never publishes (for forged tokens).
  const published = await generateKeyPair('RS256', { extractable: true });
  const publishedJwk: JWK = { ...(await exportJWK(published.privateKey)), kid: 'test-idp-key-1', alg: 'RS256', use: 'sig' };
  const rogue = await generateKeyPair('RS256');

  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://localhost:${port}`;
  // `localhost` may resolve to ::1 first; answer there too (still loopback only).
  const server6 = http.createServer();
  await new Promise<void>((resolve) => {
    server6.once('error', () => resolve());
    server6.listen(port, '::1', resolve);
  });

  const provider = new Provider(issuer, {
    jwks: { keys: [publishedJwk] },
    cookies: { keys: [crypto.randomUUID()] },
    acrValues: ACR_VALUES,
    claims: { openid: ['sub', 'acr', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    // Put the scope's claims into the ID Token, as Okta, Entra ID and Google do for email/profile.
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // First-party test clients: consent is implied, so only the login prompt is shown.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const session = ctx.oidc.session;
      const client = ctx.oidc.client;
      if (!session?.accountId || !client) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(String(ctx.oidc.params?.scope ?? 'openid'));
      grant.addOIDCClaims(['sub', 'email', 'email_verified', 'name', 'groups']);
      await grant.save();
      return grant;
    },
    async findAccount(_ctx, id) {
      const account = bySub().get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        claims: () => ({ sub: id, email: account.email, email_verified: account.email_verified ?? true, name: account.name, groups: account.groups }),
      };
    },
    ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 600, Session: 600, Grant: 600 },
  });

  const idp: TestIdp = {
    issuer,
    accounts,
    tamper: null,
    tokenRequests: 0,
    async registerClient(redirectUri) {
      const res = await fetch(`${issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }),
      });
      const body = (await res.json()) as { client_id?: string; client_secret?: string };
      if (res.status !== 201 || !body.client_id || !body.client_secret) throw new Error(`client registration failed: ${res.status} ${JSON.stringify(body)}`);
      return { clientId: body.client_id, clientSecret: body.client_secret };
    },
    signIn: (url, username) => signInOverHttp(issuer, url, username),
    async close() {
      server.closeAllConnections();
      server6.closeAllConnections();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => server6.close(r))]);
    },
  };

  // Token endpoint post-processing: count requests and, when asked, forge the ID Token.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token') return;
    idp.tokenRequests++;
    const body = ctx.body as { id_token?: unknown } | undefined;
    if (!idp.tamper || typeof body?.id_token !== 'string') return;
    const claims = decodeJwt(body.id_token);
    const header = decodeProtectedHeader(body.id_token);
    if (idp.tamper === 'unpublished-key') {
      // Same claims, same `kid`: only the signature gives it away.
      body.id_token = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: header.kid }).sign(rogue.privateKey);
    } else {
      body.id_token = await new SignJWT({ ...claims, nonce: 'a-nonce-this-login-never-sent' })
        .setProtectedHeader({ alg: 'RS256', kid: header.kid })
        .sign(published.privateKey);
    }
  });

  const callback = provider.callback();
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer);
    const m = /^\/interaction\/([^/]+)(\/login)?$/.exec(url.pathname);
    if (!m) return callback(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (req.method === 'GET') {
        return html(res, 200, `<h1>Test IdP sign-in</h1><form method="post" action="/interaction/${escapeHtml(details.uid)}/login">
          <label for="username">Username</label><input id="username" name="username" autofocus>
          <button type="submit">Sign in</button></form>`);
      }
      const username = (await readForm(req)).get('username') ?? '';
      const account = accounts.get(username);
      if (!account) return html(res, 401, `<p class="error">Unknown user ${escapeHtml(username)}</p>`);
      // The interaction result carries how the person authenticated (RFC 8176 amr, OIDC acr).
      await provider.interactionFinished(req, res, { login: { accountId: account.sub, amr: account.amr, ...(account.acr ? { acr: account.acr } : {}) } }, { mergeWithLastSubmission: false });
    } catch (e) {
      html(res, 400, `<p class="error">${escapeHtml(e instanceof Error ? e.message : String(e))}</p>`);
    }
  };
  server.on('request', (req, res) => void handle(req, res));
  server6.on('request', (req, res) => void handle(req, res));
  return idp;
}

/** A minimal user agent: manual redirects, a cookie jar for the IdP's origin, one form post. */
async function signInOverHttp(issuer: string, authorizationUrl: string, username: string): Promise<URL> {
  const jar = new Map<string, string>();
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const remember = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  };
  let url = new URL(authorizationUrl);
  let form: URLSearchParams | null = null;
  for (let hops = 0; hops < 20; hops++) {
    if (url.origin !== new URL(issuer).origin) return url;
    const res = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { cookie: cookieHeader(), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ?? undefined,
    });
    remember(res);
    form = null;
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url);
      continue;
    }
    const text = await res.text();
    const action = /<form method="post" action="([^"]+)"/.exec(text)?.[1];
    if (res.status !== 200 || !action) throw new Error(`IdP answered ${res.status}: ${text.slice(0, 300)}`);
    url = new URL(action, url);
    form = new URLSearchParams({ username });
  }
  throw new Error('too many redirects at the IdP');
}
