/** The admin Worker's environment (admin/wrangler.toml). */
export interface AdminEnv {
  // ── bindings ──
  /** Edge read model, written after every Postgres change. */
  ROUTERO_KV: KVNamespace;
  /** The gateway Worker through a service binding: internal calls with a signed service token. */
  GATEWAY?: Fetcher;
  /** The gateway's limit counters (script_name = routero-gateway): revocation and cost settlement. */
  LIMITS?: DurableObjectNamespace;
  /** Producer for budget alert deliveries (consumed by this Worker: admin/webhooks.ts). */
  WEBHOOK_QUEUE?: Queue<{ delivery_id: string }>;
  // ── secrets ──
  /** Bearer token for the management API (`wrangler secret put MASTER_KEY`). */
  MASTER_KEY?: string;
  /** Versioned key-encryption keys; must match the gateway's. */
  ROUTERO_KEKS?: string;
  /** Postgres connection string (Neon in production). Only the admin Worker has it. */
  DATABASE_URL?: string;
  /** Signs admin UI session tokens and CSRF tokens; at least 32 characters. */
  SESSION_SIGNING_KEY?: string;
  /** EC P-256 private JWK (with a kid) that signs internal service tokens to the gateway. */
  INTERNAL_TOKEN_SIGNING_KEY?: string;
  // ── vars ──
  /** Seconds before the first webhook retry (doubling each time; default 2). */
  WEBHOOK_RETRY_BASE_SECONDS?: string;
  /** Ed25519 private key signing evidence exports: base64 of PKCS #8 DER (README "Evidence export"). */
  EVIDENCE_SIGNING_KEY?: string;
  /** Cloudflare Access service token sent to Cerbos (README "Deploying"; decision 0020). */
  CERBOS_ACCESS_CLIENT_ID?: string;
  CERBOS_ACCESS_CLIENT_SECRET?: string;
  // ── vars ──
  /** The gateway's cache TTLs and body limit, mirrored for the evidence export (doctor checks they match). */
  KEY_CACHE_TTL_SECONDS?: string;
  POLICY_CACHE_TTL_SECONDS?: string;
  MAX_BODY_BYTES?: string;
  /** Months of gateway events kept; older monthly partitions are dropped daily. Unset: kept for ever. */
  AUDIT_RETENTION_MONTHS?: string;
  /** Local development only: host:port of the WebSocket-to-TCP proxy in front of Postgres. */
  NEON_WS_PROXY?: string;
  /** Base URL of the Cerbos policy decision point. */
  CERBOS_URL?: string;
  /** "true" lets provider base URLs point at private/loopback addresses (local development, tests). */
  ALLOW_PRIVATE_UPSTREAMS?: string;
  /** "false" switches off logging in to the UI with the master key (the API keeps accepting it). */
  MASTER_KEY_UI_LOGIN?: string;
  /**
   * TEST ONLY: "true" enables `POST /ui/test-login` on a loopback address, which starts a session
   * for an existing user without an identity provider. `npm start` and the tests set it; a
   * deployed Worker must never have it (the route also refuses any non-loopback host).
   */
  ROUTERO_TEST_LOGIN?: string;
}

