/**
 * The OpenID Connect relying party: Authorization Code flow with PKCE (RFC 7636, S256), `state`
 * (RFC 6749 §10.12) and `nonce` (OIDC Core §3.1.2.1), using oauth4webapi for the protocol and jose
 * for the ID Token signature.
 *
 * Why the signature is checked here: oauth4webapi validates the ID Token's claims (iss, aud, exp,
 * iat, nonce, azp) but, following OIDC Core §3.1.3.7 step 6, skips the signature of a token that
 * came straight from the token endpoint over TLS. We verify it anyway against the IdP's published
 * JWKS (OIDC Core §3.1.3.7 steps 1–2 for the general case): it costs one cached key fetch and it
 * refuses a token signed by any key the IdP never published, whatever the transport.
 */
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { DEFAULT_SCOPES, idpUrlProblem, type OidcConnection } from './config';
import { LoginRefused } from '../refusal';

export interface RpOptions {
  /** ALLOW_PRIVATE_UPSTREAMS: permits http and loopback IdPs (local stack and tests only). */
  allowPrivate: boolean;
}

/** What the callback needs to finish a login; kept server-side between start and callback. */
export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
}

/** Asymmetric algorithms only: an HMAC-signed ID Token would be forgeable by anyone holding the client secret. */
const ID_TOKEN_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
const DISCOVERY_TTL_MS = 10 * 60_000;
/** Clock difference tolerated between us and the IdP for exp/iat (seconds). */
const CLOCK_TOLERANCE_S = 60;

const discoveryCache = new Map<string, { as: oauth.AuthorizationServer; at: number }>();
const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function requestOptions(opts: RpOptions) {
  return opts.allowPrivate ? { [oauth.allowInsecureRequests]: true } : {};
}

function checkedUrl(raw: unknown, what: string, opts: RpOptions): URL {
  const problem = typeof raw === 'string' ? idpUrlProblem(raw, opts.allowPrivate) : 'is missing';
  if (problem) throw new LoginRefused('connection_unavailable', `discovery ${what} ${problem}`);
  return new URL(raw as string);
}

/** OIDC Discovery 1.0 §4: `<issuer>/.well-known/openid-configuration`, whose `issuer` must equal ours. */
export async function discover(issuer: string, opts: RpOptions): Promise<oauth.AuthorizationServer> {
  const cacheKey = `${opts.allowPrivate}|${issuer}`;
  const cached = discoveryCache.get(cacheKey);
  if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.as;
  const issuerUrl = checkedUrl(issuer, 'issuer', opts);
  let as: oauth.AuthorizationServer;
  try {
    const res = await oauth.discoveryRequest(issuerUrl, { algorithm: 'oidc', signal: AbortSignal.timeout(10_000), ...requestOptions(opts) });
    as = await oauth.processDiscoveryResponse(issuerUrl, res);
  } catch (e) {
    throw new LoginRefused('connection_unavailable', `discovery of ${issuer} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  for (const [what, value] of [['authorization_endpoint', as.authorization_endpoint], ['token_endpoint', as.token_endpoint], ['jwks_uri', as.jwks_uri]] as const) {
    checkedUrl(value, what, opts);
  }
  discoveryCache.set(cacheKey, { as, at: Date.now() });
  return as;
}

/** Starts a login: the IdP URL to send the browser to, and what the callback must remember. */
export async function beginLogin(connection: OidcConnection, redirectUri: string, opts: RpOptions): Promise<{ url: URL; pending: PendingLogin }> {
  const as = await discover(connection.issuer, opts);
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const pending: PendingLogin = { state: oauth.generateRandomState(), nonce: oauth.generateRandomNonce(), codeVerifier, redirectUri };
  const url = new URL(as.authorization_endpoint!);
  const params: Record<string, string> = {
    client_id: connection.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: (connection.scopes.length ? connection.scopes : DEFAULT_SCOPES).join(' '),
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  };
  // OIDC Core §3.1.2.1: acr_values asks the IdP for these assurance levels (voluntary unless the
  // IdP enforces them; we check the `acr` it returns either way).
  if (connection.acrValues.length) params.acr_values = connection.acrValues.join(' ');
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return { url, pending };
}

function clientAuth(as: oauth.AuthorizationServer, secret: string): oauth.ClientAuth {
  // RFC 8414 §2: without token_endpoint_auth_methods_supported the default is client_secret_basic.
  const methods = as.token_endpoint_auth_methods_supported;
  if (!methods || methods.includes('client_secret_basic')) return oauth.ClientSecretBasic(secret);
  return oauth.ClientSecretPost(secret);
}

function jwksFor(as: oauth.AuthorizationServer, opts: RpOptions) {
  const uri = checkedUrl(as.jwks_uri, 'jwks_uri', opts);
  let jwks = jwksCache.get(uri.href);
  if (!jwks) {
    jwks = createRemoteJWKSet(uri, { timeoutDuration: 10_000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
    jwksCache.set(uri.href, jwks);
  }
  return jwks;
}

/**
 * Finishes a login at the callback: checks the authorization response against the pending login,
 * redeems the code once (with the PKCE verifier), and returns the ID Token's verified claims.
 */
export async function finishLogin(
  connection: OidcConnection,
  clientSecret: string,
  pending: PendingLogin,
  callbackUrl: URL,
  opts: RpOptions,
): Promise<JWTPayload> {
  const as = await discover(connection.issuer, opts);
  const client: oauth.Client = { client_id: connection.clientId };

  // RFC 6749 §4.1.2: state must match; RFC 9207: `iss` must match when the IdP sends it.
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(as, client, callbackUrl, pending.state);
  } catch (e) {
    if (e instanceof oauth.AuthorizationResponseError) throw new LoginRefused('idp_error', `authorization error ${e.error}: ${e.error_description ?? ''}`);
    throw new LoginRefused('state_invalid', `authorization response rejected: ${e instanceof Error ? e.message : String(e)}`);
  }

  let result: oauth.TokenEndpointResponse;
  try {
    const res = await oauth.authorizationCodeGrantRequest(as, client, clientAuth(as, clientSecret), params, pending.redirectUri, pending.codeVerifier, {
      signal: AbortSignal.timeout(10_000),
      ...requestOptions(opts),
    });
    result = await oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: pending.nonce, requireIdToken: true });
  } catch (e) {
    // invalid_grant: the code was used before, expired, or belongs to another client/verifier.
    if (e instanceof oauth.ResponseBodyError) throw new LoginRefused('code_rejected', `token endpoint: ${e.error} ${e.error_description ?? ''}`);
    // RFC 6749 §5.2 invalid_client (401 + WWW-Authenticate): our client id or secret is wrong.
    if (e instanceof oauth.WWWAuthenticateChallengeError) throw new LoginRefused('connection_unavailable', `token endpoint refused client authentication (${e.status})`);
    throw new LoginRefused('token_invalid', `token response rejected: ${e instanceof Error ? e.message : String(e)}`);
  }

  try {
    const { payload } = await jwtVerify(result.id_token!, jwksFor(as, opts), {
      issuer: as.issuer,
      audience: connection.clientId,
      algorithms: ID_TOKEN_ALGS,
      requiredClaims: ['sub', 'iat', 'exp', 'nonce'],
      clockTolerance: CLOCK_TOLERANCE_S,
    });
    // Already compared by oauth4webapi; compared again on the claims we actually use.
    if (payload.nonce !== pending.nonce) throw new Error('nonce mismatch');
    return payload;
  } catch (e) {
    const what = e instanceof joseErrors.JOSEError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    throw new LoginRefused('token_invalid', `ID token verification failed: ${what}`);
  }
}
