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
