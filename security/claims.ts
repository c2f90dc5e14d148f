/**
 * The security claims Routero makes, one entry each. A claim is proven only by tests that carry its
 * tag (`claim('<id>', 'test title')` from test/support/claims.ts, i.e. `[claim:<id>]` in the test
 * name) and passed in the last run: `npm run evidence` builds SECURITY.md from the vitest JSON
 * results and fails when a claim has no passing test. Adding a claim is adding one entry here and
 * tagging the tests that prove it.
 *
 * Plain data with no imports: the workerd tests import it too.
 */
export interface Claim {
  /** Stable id used in test tags. */
  id: string;
  /** The claim in one sentence, as a security questionnaire would ask it. */
  title: string;
  /** How it is enforced. */
  mechanism: string;
  /** What it does not cover, bounds, trade-offs. */
  limits: string;
}

export const CLAIMS = [
  {
    id: 'metadata-only',
    title: 'Only metadata is stored; prompt and response content never is.',
    mechanism:
      'The gateway streams bytes between client and provider and records one metadata event per request (who, which key, model, status, token counts, timings). The event schema has no content field and the consumer drops unknown fields, so content cannot ride along; canary prompts are searched for in Postgres, KV, queue state and every log.',
    limits: 'Model names and error codes chosen by clients are stored (capped and cleaned). Providers themselves may log content under their own terms.',
  },
  {
    id: 'provider-keys-encrypted',
    title: 'Provider API keys are encrypted with AES-256-GCM and never returned.',
    mechanism:
      'Provider keys are sealed with AES-256-GCM under a versioned key-encryption key (ROUTERO_KEKS, a Worker secret), with the record id as additional authenticated data so a ciphertext moved to another record does not open. The admin API and UI never return the key; upstream error bodies are redacted of every echoed form of it.',
    limits: 'The gateway must decrypt keys to call providers, so anyone holding ROUTERO_KEKS and the KV contents can read them. KEK rotation re-encrypts on demand (`npm run kek:reencrypt`).',
  },
  {
    id: 'virtual-keys-hashed',
    title: 'Virtual keys are stored as bcrypt hashes and shown once.',
    mechanism:
      'A virtual key is a public id plus a secret of at least 128 bits; only a bcrypt hash of the secret is stored. It is shown once, at creation. An unknown key id costs the same bcrypt comparison as a wrong secret, so existence cannot be probed by timing.',
    limits: 'A lost key cannot be recovered, only replaced. The gateway keeps verified keys in an isolate cache for KEY_CACHE_TTL_SECONDS (at most 30 s).',
  },
  {
    id: 'scoped-keys',
    title: 'Keys are scoped to models, can expire, and can be revoked.',
    mechanism:
      'Each virtual key carries its allowed models, an optional expiry and a revocation flag in the KV read model; the gateway refuses (401/403) a key out of scope, expired or revoked. Suspending a person revokes every key they own.',
    limits: 'Revocation is bounded by the isolate cache: a revoked key can keep working for up to KEY_CACHE_TTL_SECONDS (default and maximum 30 s) plus KV propagation (up to 60 s across Cloudflare locations).',
  },
  {
    id: 'key-cidr',
    title: 'A key can be restricted to client networks (CIDR allowlist).',
    mechanism:
      'Keys may carry IPv4/IPv6 CIDR allowlists, checked against CF-Connecting-IP. A production Worker refuses to serve a request without Cloudflare’s request.cf object, so the address is Cloudflare’s word, not a client header.',
    limits: 'Client addresses behind a shared NAT or proxy are indistinguishable.',
  },
  {
    id: 'sso-mfa',
    title: 'People sign in with SSO (OIDC), and MFA can be enforced.',
    mechanism:
      'OIDC Authorization Code with PKCE, state, nonce and a browser-binding cookie; ID tokens are verified against the IdP’s published keys. With require_mfa, a login whose amr/acr does not show MFA is refused and audited.',
    limits: 'MFA evidence is what the IdP asserts (amr/acr); Routero cannot check how the IdP verified it.',
  },
  {
    id: 'saml-sso',
    title: 'People can sign in with SAML 2.0 (Okta, Entra ID); only signed assertions are accepted and MFA can be enforced.',
    mechanism:
      'The admin Worker is a SAML service provider (@node-saml/node-saml plus its own checks): a Response must answer an AuthnRequest this browser started (InResponseTo, single use), carry exactly one assertion signed with RSA-SHA256 or stronger by the configured IdP certificate, name our audience, recipient and destination, be within its validity window (60 s skew) and not be a replay (assertion ids kept until they expire). Everything read comes from the signed bytes, so signature-wrapping payloads change nothing. With require_mfa, the AuthnContextClassRef must be one of the connection\u2019s MFA contexts; refusals are audited.',
    limits: 'MFA evidence is what the IdP asserts. IdP-initiated login, single logout and encrypted assertions are not supported.',
  },
  {
    id: 'scim-deprovisioning',
    title: 'Deprovisioning through SCIM ends a person\u2019s access at once: sessions, API tokens and every key they own.',
    mechanism:
      'SCIM 2.0 (RFC 7643/7644) with per-organisation bearer tokens (SHA-256 at rest). active:false or DELETE suspends the person (kept for the audit trail), ends every session, revokes their API tokens and virtual keys in Postgres in one transaction with its audit rows (actor scim:<token id>), then writes the revocations to KV and to the limit counters before answering.',
    limits: 'A virtual key without limits that an isolate verified in the last KEY_CACHE_TTL_SECONDS keeps working until that cache entry expires (measured: about 30 s with the default), plus KV propagation across Cloudflare locations; a key with limits is refused on its next request.',
  },
  {
    id: 'signed-service-tokens',
    title: 'The admin Worker calls the gateway with short-lived signed service tokens, never a shared secret.',
    mechanism:
      'Internal calls (Test connection, deep health) go through a service binding with an ES256 token (jose) naming issuer, audience, subject service:admin, the route, a jti and an expiry of at most 60 s. The gateway holds only the public keys, refuses forged, expired, wrong-audience, misrouted or replayed tokens with 401, and asks Cerbos about the service principal like any other.',
    limits: 'The one-use jti check is per isolate: within its 60 s life a token could be replayed to another isolate, to repeat the same test or health check.',
  },
  {
    id: 'spend-limits',
    title: 'Rate, token, concurrency and spend limits hold under concurrency and fail closed.',
    mechanism:
      'Limits on keys, users and organisations are counted in Durable Objects (one per limited subject, SQLite-backed): each request reserves before the upstream call and settles with the real usage (released on error or abort). Parallel requests cannot race past a limit. When a counter cannot be reached, a limited key is refused with 503.',
    limits: 'Spend can exceed a budget by at most the requests in flight beyond their reservation (measured: one request in 50 parallel requests). Keys without limits are not counted.',
  },
  {
    id: 'policy-every-action',
    title: 'Every request and every admin action is a policy decision (deny by default).',
    mechanism:
      'Gateway requests and every admin route are authorized by the Cerbos PDP; the admin route table names each route’s decision and refuses to answer a route that skipped it. When Cerbos cannot be reached the answer is 503, never allow.',
    limits: 'Gateway decisions are cached per isolate for POLICY_CACHE_TTL_SECONDS (default 10 s, at most 60 s): a policy change takes that long to apply everywhere.',
  },
  {
    id: 'admin-audit-log',
    title: 'Every admin action is in a tamper-evident audit log.',
    mechanism:
      'Each admin change commits in one transaction with its audit row; rows are numbered without gaps and hash-chained (SHA-256 of the previous hash and the row); a trigger refuses UPDATE and DELETE. A cron trigger anchors the chain head (seq, hash, time) in KV, outside Postgres, so a history rewritten by someone able to disable the trigger is reported with the first anchor it no longer matches.',
    limits: 'Rows written after the last anchor (at most one cron interval, 5 minutes) are protected only by the chain. Someone who can write both Postgres and KV can rewrite both.',
  },
  {
    id: 'evidence-export',
    title: 'Auditors get a signed evidence export without secrets.',
    mechanism:
      'GET /api/v1/evidence returns inventories, the access review, the admin audit log for a period with its chain verification, the policy version and the security configuration, signed with the operator’s Ed25519 key (EVIDENCE_SIGNING_KEY). It contains no secret, no hash of a secret and no content.',
    limits: 'The signature proves the export came from the deployment holding the key, not that the data in Postgres was never changed before export (see the anchored audit log).',
  },
  {
    id: 'secure-development',
    title: 'Secure development practices are enforced in CI.',
    mechanism:
      'Every change runs the type check, ESLint with eslint-plugin-security at zero warnings, dependency-cruiser import boundaries (the gateway never imports the admin Worker or a Postgres driver), secretlint over every file, a lockfile integrity check, the Cerbos policy tests generated from the role matrix, generated Env type drift, unit, workerd and end-to-end tests with real components, and this claim table. Dependencies never run install scripts (decision 0009).',
    limits: 'Static analysis finds patterns, not every vulnerability; dependencies are pinned by the lockfile but not audited against advisories in CI (no network).',
  },
] as const satisfies readonly Claim[];

export type ClaimId = (typeof CLAIMS)[number]['id'];
