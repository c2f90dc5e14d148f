/**
 * Internal service tokens: how the admin Worker proves itself to the gateway (DESIGN §7: "Admin →
 * gateway calls use a short-lived signed service token (jose), never a shared secret").
 *
 * A token is a JWT (RFC 7519) signed with ES256 (ECDSA P-256, RFC 7518 §3.4) by the admin Worker's
 * private key; the gateway holds only public keys, so a leaked gateway configuration cannot mint
 * tokens. Claims, all required and all checked:
 *   iss  "routero-admin"      who signed (RFC 7519 §4.1.1)
 *   aud  "routero-gateway"    who may accept it (§4.1.3): a token for anything else is refused
 *   sub  "service:admin"      the principal Cerbos authorizes (policies/gateway_internal.yaml)
 *   iat, exp                  exp − iat ≤ 60 s, and exp is checked with 5 s of clock skew (§4.1.4)
 *   jti                       unique id (§4.1.7): the gateway accepts each jti once per isolate
 *   route                     "METHOD /path" the token was minted for: a token for "Test
 *                             connection" of one provider key opens nothing else
 *
 * Keys are JWKs (RFC 7517) with a `kid`; the gateway takes a JWK Set so a new signing key can be
 * added before the old one is removed (README "Internal service tokens").
 */
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';

export const SERVICE_TOKEN_ISSUER = 'routero-admin';
export const SERVICE_TOKEN_AUDIENCE = 'routero-gateway';
export const SERVICE_PRINCIPAL = 'service:admin';
export const SERVICE_TOKEN_ALG = 'ES256';
/** Longest lifetime a token may claim (exp − iat), seconds. */
export const SERVICE_TOKEN_MAX_LIFETIME_S = 60;
/** Lifetime the admin Worker gives its tokens, seconds. */
export const SERVICE_TOKEN_LIFETIME_S = 30;
/** Clock skew tolerated between the Workers, seconds. */
export const SERVICE_TOKEN_SKEW_S = 5;
/**
 * The host the admin Worker addresses the gateway by through its service binding. It is not a
 * public name: Cloudflare routes a request from the internet to the Worker only for the Worker's
 * own hostnames, so a request naming this host came through the binding. The gateway answers its
 * internal routes only for this host (and only with a valid token).
 */
export const INTERNAL_GATEWAY_HOST = 'routero-gateway.internal';

export interface ServiceTokenClaims {
  sub: string;
  jti: string;
  route: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

/** Thrown for every refused token; `reason` is for logs only. */
export class ServiceTokenError extends Error {}

function parseJson(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new ServiceTokenError(`${what} is not JSON`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The admin Worker's signing key: one EC P-256 private JWK with a `kid`. */
export async function loadSigningKey(raw: string | undefined): Promise<{ kid: string; key: CryptoKey }> {
  if (!raw) throw new ServiceTokenError('INTERNAL_TOKEN_SIGNING_KEY is not set');
  const jwk = parseJson(raw, 'INTERNAL_TOKEN_SIGNING_KEY');
  if (!isObject(jwk) || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string' || !jwk.kid) {
    throw new ServiceTokenError('INTERNAL_TOKEN_SIGNING_KEY must be an EC P-256 private JWK with a kid');
  }
  const key = await importJWK(jwk as JWK, SERVICE_TOKEN_ALG);
  if (!(key instanceof CryptoKey)) throw new ServiceTokenError('INTERNAL_TOKEN_SIGNING_KEY did not import as a key');
  return { kid: jwk.kid, key };
}

/**
 * The gateway's verification keys: a JWK Set `{"keys":[…]}` (or one JWK) of EC P-256 public keys,
 * each with a `kid`. A JWK holding private material (`d`) is refused: the gateway must never hold
 * a key that can sign.
 */
export function loadVerificationKeys(raw: string | undefined): ReturnType<typeof createLocalJWKSet> {
  if (!raw) throw new ServiceTokenError('INTERNAL_TOKEN_PUBLIC_KEYS is not set');
  const parsed = parseJson(raw, 'INTERNAL_TOKEN_PUBLIC_KEYS');
  const keys = isObject(parsed) && Array.isArray(parsed.keys) ? (parsed.keys as unknown[]) : [parsed];
  if (keys.length === 0) throw new ServiceTokenError('INTERNAL_TOKEN_PUBLIC_KEYS holds no key');
  for (const k of keys) {
    if (!isObject(k) || k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.kid !== 'string' || !k.kid) {
      throw new ServiceTokenError('INTERNAL_TOKEN_PUBLIC_KEYS must hold EC P-256 public JWKs with a kid');
    }
    if ('d' in k) throw new ServiceTokenError('INTERNAL_TOKEN_PUBLIC_KEYS holds a private key; give the gateway only the public half');
  }
  return createLocalJWKSet({ keys: keys.map((k) => ({ ...(k as JWK), alg: SERVICE_TOKEN_ALG, use: 'sig' })) });
}

/** Mints a token for one call (`route` = "METHOD /path"). */
export async function signServiceToken(signing: { kid: string; key: CryptoKey }, route: string, now: number = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({ route })
    .setProtectedHeader({ alg: SERVICE_TOKEN_ALG, kid: signing.kid, typ: 'JWT' })
    .setIssuer(SERVICE_TOKEN_ISSUER)
    .setAudience(SERVICE_TOKEN_AUDIENCE)
    .setSubject(SERVICE_PRINCIPAL)
    .setIssuedAt(iat)
    .setExpirationTime(iat + SERVICE_TOKEN_LIFETIME_S)
    .setJti(crypto.randomUUID())
    .sign(signing.key);
}

/**
 * Verifies a token for `route`; every refusal is a ServiceTokenError (the caller answers 401).
 * jose checks the signature (ES256 only: `alg: none` and HMAC confusion are refused), iss, aud,
 * exp/nbf with the skew; this adds the lifetime cap, the subject and the route binding.
 */
export async function verifyServiceToken(
  token: string,
  keys: ReturnType<typeof createLocalJWKSet>,
  route: string,
  now: number = Date.now(),
): Promise<ServiceTokenClaims> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      algorithms: [SERVICE_TOKEN_ALG],
      issuer: SERVICE_TOKEN_ISSUER,
      audience: SERVICE_TOKEN_AUDIENCE,
      subject: SERVICE_PRINCIPAL,
      requiredClaims: ['iat', 'exp', 'jti', 'sub'],
      clockTolerance: SERVICE_TOKEN_SKEW_S,
      currentDate: new Date(now),
    }));
  } catch (e) {
    throw new ServiceTokenError(`token refused: ${e instanceof Error ? e.message : 'invalid'}`);
  }
  const { iat, exp, jti, sub } = payload;
  if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > SERVICE_TOKEN_MAX_LIFETIME_S) {
    throw new ServiceTokenError(`token lifetime exceeds ${SERVICE_TOKEN_MAX_LIFETIME_S} s`);
  }
  if (iat > now / 1000 + SERVICE_TOKEN_SKEW_S) throw new ServiceTokenError('token issued in the future');
  if (typeof jti !== 'string' || jti.length < 16 || jti.length > 64) throw new ServiceTokenError('token jti missing or malformed');
  if (payload.route !== route) throw new ServiceTokenError(`token minted for another route`);
  return { sub: sub as string, jti, route, exp };
}

/** A fresh signing keypair as JWKs (dev launcher, `npm run internal-token:keygen`). */
export async function generateServiceKeyPair(kid: string = crypto.randomUUID()): Promise<{ privateJwk: string; publicJwks: string }> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const priv = (await crypto.subtle.exportKey('jwk', pair.privateKey)) as JsonWebKey;
  const pub = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as JsonWebKey;
  const clean = (k: JsonWebKey, withD: boolean) => ({ kty: k.kty, crv: k.crv, x: k.x, y: k.y, ...(withD ? { d: k.d } : {}), kid, alg: SERVICE_TOKEN_ALG });
  return { privateJwk: JSON.stringify(clean(priv, true)), publicJwks: JSON.stringify({ keys: [clean(pub, false)] }) };
}
