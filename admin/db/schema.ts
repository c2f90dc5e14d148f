/** Postgres schema (drizzle). Tables are described in migrations/README.md. */
import { sql } from 'drizzle-orm';
import type { AuditAttempt } from '../../lib/audit/event';
import type { Limits } from '../../lib/limits';
import { bigint, boolean, check, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const orgs = pgTable('orgs', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  /** Model patterns a developer's keys may use (`["*"]` = all); org admins are not limited by it. */
  allowed_models: jsonb('allowed_models').$type<string[]>().notNull().default(sql`'["*"]'::jsonb`),
  /** Limits on all the organisation's keys together (lib/limits.ts); null: none. */
  limits: jsonb('limits').$type<Limits>(),
  /** Budget alert thresholds in percent; null: the default 50, 80, 100. */
  budget_alert_thresholds: jsonb('budget_alert_thresholds').$type<number[]>(),
  created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * People who sign in to the admin Worker (DESIGN §7). `email` is stored lower-cased and is unique.
 * `version` is bumped on every change that affects authorization (status, memberships, platform
 * admin): it is the principal's version in the Cerbos decision cache, so a stale allow cannot
 * outlive a change.
 */
export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    email: text('email').notNull(),
    display_name: text('display_name'),
    status: text('status', { enum: ['active', 'suspended'] }).notNull().default('active'),
    platform_admin: boolean('platform_admin').notNull().default(false),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    last_login_at: timestamp('last_login_at', { withTimezone: true }),
    /** Whether the last login showed multi-factor authentication; null before the first login. */
    last_login_mfa: boolean('last_login_mfa'),
    version: integer('version').notNull().default(1),
    /** Limits on all of this person's keys together (lib/limits.ts); null: none. */
    limits: jsonb('limits').$type<Limits>(),
  },
  (t) => [uniqueIndex('users_email_idx').on(t.email), check('users_email_lower', sql`${t.email} = lower(${t.email})`)],
);

/** The subject (`sub`) a user has at an identity provider connection; one user may have several. */
export const userIdentities = pgTable(
  'user_identities',
  {
    user_id: uuid('user_id').notNull().references(() => users.id),
    connection_id: text('connection_id').notNull(),
    subject: text('subject').notNull(),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('user_identities_connection_subject_idx').on(t.connection_id, t.subject), index('user_identities_user_idx').on(t.user_id)],
);

export const ORG_ROLES = ['org_admin', 'developer', 'auditor'] as const;
export type OrgRole = (typeof ORG_ROLES)[number];

/** A user's role in one organisation. Roles become Cerbos derived roles (policies/derived_roles.yaml). */
export const orgMemberships = pgTable(
  'org_memberships',
  {
    user_id: uuid('user_id').notNull().references(() => users.id),
    org_id: uuid('org_id').notNull().references(() => orgs.id),
    role: text('role', { enum: ORG_ROLES }).notNull(),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('org_memberships_user_org_idx').on(t.user_id, t.org_id), index('org_memberships_org_idx').on(t.org_id)],
);

/**
 * Routes: a virtual model `route/<name>` an org admin defines as ordered (`fallback`) or weighted
 * targets; published to KV as `rt:<org id>:<name>` (lib/kv/records.ts RouteRecord).
 */
export const routes = pgTable(
  'routes',
  {
    id: uuid('id').primaryKey(),
    org_id: uuid('org_id').notNull().references(() => orgs.id),
    name: text('name').notNull(),
    strategy: text('strategy').$type<'fallback' | 'weighted'>().notNull(),
    targets: jsonb('targets').$type<Array<{ model: string; provider_key_id: string | null; weight: number }>>().notNull(),
    max_attempts: integer('max_attempts').notNull(),
    timeout_ms: integer('timeout_ms'),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updated_at: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('routes_org_name_idx').on(t.org_id, t.name)],
);

export const providerKeys = pgTable(
  'provider_keys',
  {
    id: uuid('id').primaryKey(),
    org_id: uuid('org_id').notNull().references(() => orgs.id),
    provider: text('provider').notNull(),
    name: text('name').notNull(),
    base_url: text('base_url'),
    /** AES-256-GCM ciphertext of the provider's API key; AAD binds it to (id, org_id, provider, kek_version). */
    kek_version: integer('kek_version').notNull(),
    iv: text('iv').notNull(),
    ciphertext: text('ciphertext').notNull(),
    /** Last four characters of the secret, for recognising a key in lists. */
    last4: text('last4').notNull(),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    deleted_at: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [index('provider_keys_org_provider_idx').on(t.org_id, t.provider)],
);

/**
 * Admin API tokens (automation): `rtat_<id>_<secret>`. Only SHA-256 of the secret is kept — the
 * secret is 256 random bits, so a fast hash is as safe as a slow one and keeps every API call free
 * of bcrypt (decision 0008). Each token acts with one role in one organisation, and never with more
 * than the person who created it still holds (checked on every use).
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    org_id: uuid('org_id').notNull().references(() => orgs.id),
    name: text('name').notNull(),
    role: text('role').$type<OrgRole>().notNull(),
    secret_sha256: text('secret_sha256').notNull(),
    /** The person who made it (null for the master key); the token never outranks them. */
    created_by_user_id: uuid('created_by_user_id').references(() => users.id),
    created_by: text('created_by').notNull(),
    expires_at: timestamp('expires_at', { withTimezone: true }),
    revoked_at: timestamp('revoked_at', { withTimezone: true }),
    last_used_at: timestamp('last_used_at', { withTimezone: true }),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('api_tokens_org_idx').on(t.org_id)],
);

export const virtualKeys = pgTable(
  'virtual_keys',
  {
    id: text('id').primaryKey(),
    org_id: uuid('org_id').notNull().references(() => orgs.id),
    name: text('name').notNull(),
    /** bcrypt hash of the key's secret part; never returned by any API. */
    secret_hash: text('secret_hash').notNull(),
    models: jsonb('models').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    cidrs: jsonb('cidrs').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    expires_at: timestamp('expires_at', { withTimezone: true }),
    revoked_at: timestamp('revoked_at', { withTimezone: true }),
    version: integer('version').notNull().default(1),
    /**
     * Rotation (POST /api/v1/keys/:id/rotate): bcrypt hash of the secret the last rotation replaced,
     * accepted at the gateway until previous_secret_expires_at; null without a grace period.
     */
    previous_secret_hash: text('previous_secret_hash'),
    previous_secret_expires_at: timestamp('previous_secret_expires_at', { withTimezone: true }),
    rotated_at: timestamp('rotated_at', { withTimezone: true }),
    /** The person who made the key; null for keys made with the master key or an API token. */
    owner_user_id: uuid('owner_user_id').references(() => users.id),
    /** Limits on this key alone (lib/limits.ts); null: none. */
    limits: jsonb('limits').$type<Limits>(),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('virtual_keys_org_idx').on(t.org_id), index('virtual_keys_owner_idx').on(t.owner_user_id)],
);

/** One row per data-plane request: metadata only, never content. */
/**
 * Gateway request metadata. Partitioned by month on started_at (migration 0012: native Postgres
 * range partitioning, a DEFAULT partition for anything outside the monthly ones); the primary key
 * therefore includes started_at. Monthly partitions are created ahead and dropped after
 * AUDIT_RETENTION_MONTHS by the admin Worker's daily cron (admin/event-partitions.ts).
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: uuid('id').notNull(),
    request_id: text('request_id').notNull(),
    started_at: timestamp('started_at', { withTimezone: true }).notNull(),
    finished_at: timestamp('finished_at', { withTimezone: true }).notNull(),
    org_id: uuid('org_id'),
    key_id: text('key_id'),
    provider: text('provider'),
    model: text('model'),
    endpoint: text('endpoint').notNull(),
    stream: boolean('stream').notNull(),
    status: integer('status').notNull(),
    error_type: text('error_type'),
    /**
     * bigint: an upstream may report counts past int4's 2,147,483,647 (one did: 3,000,000,000), and
     * a refused insert must never hold other events back. 'number' mode is exact: the gateway and
     * the consumer keep counts within `MAX_TOKEN_COUNT` (10^12, far below 2^53).
     */
    input_tokens: bigint('input_tokens', { mode: 'number' }),
    output_tokens: bigint('output_tokens', { mode: 'number' }),
    cache_read_tokens: bigint('cache_read_tokens', { mode: 'number' }),
    cache_write_tokens: bigint('cache_write_tokens', { mode: 'number' }),
    /** USD; null when the model has no known price (never 0 for unknown). */
    cost_usd: numeric('cost_usd', { precision: 20, scale: 10 }),
    latency_ms: bigint('latency_ms', { mode: 'number' }).notNull(),
    ttfb_ms: bigint('ttfb_ms', { mode: 'number' }),
    /** Reasoning (thinking) tokens, part of output_tokens where the provider reports them. */
    reasoning_tokens: bigint('reasoning_tokens', { mode: 'number' }),
    /** The route's name when the client called `route/<name>`. */
    route: text('route'),
    /** Upstream calls made (retries and fallbacks included); 0 when the request never reached one. */
    attempt_count: integer('attempt_count').notNull().default(0),
    /** Each upstream call: target, provider key id, upstream status, error type, latency (never content). */
    attempts: jsonb('attempts').$type<AuditAttempt[]>().notNull().default(sql`'[]'::jsonb`),
    stored_at: timestamp('stored_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'audit_events_pkey', columns: [t.started_at, t.id] }),
    index('audit_events_org_started_idx').on(t.org_id, t.started_at),
    index('audit_events_key_started_idx').on(t.key_id, t.started_at),
  ],
);

/**
 * Audit events the consumer could not store, set aside instead of dropped: an event that failed the
 * schema beyond salvage, or a row Postgres refused even after cleaning. Metadata only: `raw` keeps
 * the event's known fields (text cleaned of NUL and lone surrogates, capped), never an unknown field.
 */
export const auditQuarantine = pgTable(
  'audit_quarantine',
  {
    id: uuid('id').primaryKey(),
    /** `<queue>:<queue message id>`: a redelivered message is set aside once. */
    message_key: text('message_key').notNull().unique(),
    request_id: text('request_id'),
    queue: text('queue').notNull(),
    reason: text('reason').notNull(),
    raw: jsonb('raw').$type<Record<string, unknown>>(),
    received_at: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('audit_quarantine_received_idx').on(t.received_at)],
);

/**
 * Admin sessions. The cookie carries a signed token (jose, HS256) naming the session id; the row
 * lets logout end a session for good, and records idle time.
 */
export const adminSessions = pgTable('admin_sessions', {
  id: text('id').primaryKey(),
  actor: text('actor').notNull(),
  /** The signed-in person; null for the master key (break-glass). */
  user_id: uuid('user_id').references(() => users.id),
  login_method: text('login_method').notNull(),
  /** Whether the login showed multi-factor authentication. */
  mfa: boolean('mfa').notNull().default(false),
  created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  last_seen_at: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
  expires_at: timestamp('expires_at', { withTimezone: true }).notNull(),
  ended_at: timestamp('ended_at', { withTimezone: true }),
});

/**
 * Every management action, append-only and hash-chained: `hash` = SHA-256 over the row's content
 * and the previous row's hash, so a modified or deleted row breaks the chain (`npm run audit:verify`).
 * A trigger refuses UPDATE and DELETE.
 */
export const adminAuditLog = pgTable(
  'admin_audit_log',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    id: uuid('id').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'string' }).notNull(),
    actor: text('actor').notNull(),
    login_method: text('login_method').notNull(),
    action: text('action').notNull(),
    target_type: text('target_type'),
    target_id: text('target_id'),
    outcome: text('outcome').notNull(),
    client_ip: text('client_ip'),
    user_agent: text('user_agent'),
    request_id: text('request_id').notNull(),
    /** Who acted, beyond `actor`: the user's id and email (null for master and API tokens). */
    actor_user_id: uuid('actor_user_id'),
    actor_email: text('actor_email'),
    /** Whether the actor's login showed MFA; null for rows written before this was recorded. */
    mfa: boolean('mfa'),
    /** The organisation the action concerned, when there is one. */
    org_id: uuid('org_id'),
    /** 1: hash over the original columns; 2: also over actor_user_id, actor_email, mfa, org_id. */
    hash_version: integer('hash_version').notNull().default(1),
    prev_hash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [index('admin_audit_log_at_idx').on(t.at), index('admin_audit_log_ip_action_idx').on(t.client_ip, t.action, t.at)],
);

/**
 * Failed-authentication counters for the master key (issue 8 finding 4): one row per (scope,
 * client address), counted with a single `INSERT … ON CONFLICT DO UPDATE … RETURNING`, so
 * concurrent attempts are serialised by the row lock and cannot all pass the limit.
 */
export const authFailureCounters = pgTable('auth_failure_counters', {
  key: text('key').primaryKey(),
  window_start: timestamp('window_start', { withTimezone: true }).notNull(),
  failures: integer('failures').notNull(),
});

/**
 * Single sign-on connections: one organisation's identity provider, OIDC or SAML 2.0. An OIDC
 * client secret is sealed like provider keys (AES-256-GCM, versioned KEK); its AAD binds it to this
 * row's id, org, issuer and client id, so it decrypts only for the IdP it was entered for. SAML
 * connections hold no secret (the IdP's certificate is public), so their sealed columns are null.
 *
 * For SAML: `issuer` is the IdP's entity id, `client_id` our SP entity id (the audience the IdP
 * must address), `groups_claim` the groups attribute, `acr_values` the AuthnContextClassRef values
 * that count as MFA, and `saml` the IdP's SSO URL, signing certificates and our ACS URL.
 */
export const ssoConnections = pgTable(
  'sso_connections',
  {
    id: uuid('id').primaryKey(),
    org_id: uuid('org_id').notNull().references(() => orgs.id),
    protocol: text('protocol', { enum: ['oidc', 'saml'] }).notNull(),
    issuer: text('issuer').notNull(),
    client_id: text('client_id').notNull(),
    /** Sealed OIDC client secret; null for SAML. */
    kek_version: integer('kek_version'),
    iv: text('iv'),
    ciphertext: text('ciphertext'),
    /** SAML only: the IdP's SSO endpoint (HTTP-Redirect binding), its signing certificates (PEM), our ACS URL. */
    saml: jsonb('saml').$type<{ idp_sso_url: string; idp_certificates: string[]; acs_url: string }>(),
    /** IdP group name → org role (`org_admin`, `developer`, `auditor`). */
    role_mapping: jsonb('role_mapping').$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
    /** Role for people in no mapped group; null = such people are refused. */
    default_role: text('default_role'),
    groups_claim: text('groups_claim').notNull().default('groups'),
    scopes: jsonb('scopes').$type<string[]>().notNull(),
    require_mfa: boolean('require_mfa').notNull().default(true),
    /** `acr` values that count as MFA; sent as `acr_values` in the authorization request. */
    acr_values: jsonb('acr_values').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    /** Just-in-time provisioning: create unknown users on first login. */
    jit: boolean('jit').notNull().default(true),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('sso_connections_org_idx').on(t.org_id)],
);

/**
 * Email domains a connection signs in; a domain belongs to one connection only (primary key), so a
 * "Sign in with SSO" email finds exactly one IdP and no organisation can claim another's domain.
 */
export const ssoConnectionDomains = pgTable(
  'sso_connection_domains',
  {
    domain: text('domain').primaryKey(),
    connection_id: uuid('connection_id')
      .notNull()
      .references(() => ssoConnections.id, { onDelete: 'cascade' }),
  },
  (t) => [index('sso_connection_domains_connection_idx').on(t.connection_id)],
);

/**
 * OIDC logins in progress (Authorization Code + PKCE). Each row is used once: the callback deletes
 * it (DELETE … RETURNING), so a replayed callback finds nothing. Rows expire after 10 minutes.
 */
export const oidcLoginStates = pgTable('oidc_login_states', {
  /** SHA-256 (hex) of the `state` sent to the IdP. */
  id: text('id').primaryKey(),
  connection_id: uuid('connection_id').notNull(),
  /** SHA-256 (hex) of the browser-binding cookie: the callback must come from the browser that started. */
  browser_hash: text('browser_hash').notNull(),
  nonce: text('nonce').notNull(),
  code_verifier: text('code_verifier').notNull(),
  redirect_uri: text('redirect_uri').notNull(),
  expires_at: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/**
 * SCIM bearer tokens (RFC 7644 §2): `rtsc_<id>_<secret>`, one organisation each, made by an
 * org_admin. Only SHA-256 of the 256-bit secret is kept (as for admin API tokens, decision 0008).
 * A token reaches only its organisation's SCIM users and groups.
 */
export const scimTokens = pgTable(
  'scim_tokens',
  {
    id: text('id').primaryKey(),
    org_id: uuid('org_id').notNull().references(() => orgs.id),
    name: text('name').notNull(),
    secret_sha256: text('secret_sha256').notNull(),
    created_by_user_id: uuid('created_by_user_id').references(() => users.id),
    created_by: text('created_by').notNull(),
    revoked_at: timestamp('revoked_at', { withTimezone: true }),
    last_used_at: timestamp('last_used_at', { withTimezone: true }),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('scim_tokens_org_idx').on(t.org_id)],
);

/**
 * A user as one organisation's SCIM client sees them (RFC 7643 §4.1). The SCIM `id` is the user's
 * id; `user_name_key` (userName lower-cased) is unique per organisation (409 `uniqueness`).
 * `attributes` keeps the other core attributes the IdP sent (name, emails, displayName, …).
 * `active` is this organisation's view; deactivation also suspends the user when this is their only
 * organisation (admin/scim/deprovision.ts). `role` is the membership role SCIM last granted.
 */
export const scimUsers = pgTable(
  'scim_users',
  {
    org_id: uuid('org_id').notNull().references(() => orgs.id),
    user_id: uuid('user_id').notNull().references(() => users.id),
    user_name: text('user_name').notNull(),
    user_name_key: text('user_name_key').notNull(),
    external_id: text('external_id'),
    active: boolean('active').notNull().default(true),
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    role: text('role').$type<OrgRole>(),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updated_at: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('scim_users_org_user_idx').on(t.org_id, t.user_id),
    uniqueIndex('scim_users_org_user_name_idx').on(t.org_id, t.user_name_key),
    index('scim_users_org_external_idx').on(t.org_id, t.external_id),
  ],
);

/** SCIM groups of one organisation (RFC 7643 §4.2); `display_name` maps to a role through role_mapping. */
export const scimGroups = pgTable(
  'scim_groups',
  {
    id: uuid('id').primaryKey(),
    org_id: uuid('org_id').notNull().references(() => orgs.id),
    display_name: text('display_name').notNull(),
    external_id: text('external_id'),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updated_at: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('scim_groups_org_name_idx').on(t.org_id, t.display_name)],
);

export const scimGroupMembers = pgTable(
  'scim_group_members',
  {
    group_id: uuid('group_id')
      .notNull()
      .references(() => scimGroups.id, { onDelete: 'cascade' }),
    user_id: uuid('user_id').notNull().references(() => users.id),
  },
  (t) => [uniqueIndex('scim_group_members_idx').on(t.group_id, t.user_id), index('scim_group_members_user_idx').on(t.user_id)],
);

/**
 * SAML AuthnRequests in progress, between `/sso/saml/:id/start` and the ACS: the Response's
 * InResponseTo must name one of these, from the browser that started it, within 10 minutes; the ACS
 * consumes the row (DELETE … RETURNING), so one request yields one login.
 */
export const samlLoginRequests = pgTable('saml_login_requests', {
  /** The AuthnRequest's ID (random, generated by us). */
  id: text('id').primaryKey(),
  connection_id: uuid('connection_id').notNull(),
  /** SHA-256 (hex) of the browser-binding cookie. */
  browser_hash: text('browser_hash').notNull(),
  expires_at: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/**
 * SAML replay cache: every accepted assertion's ID (per connection, hashed) until the assertion
 * expires; inserted with ON CONFLICT DO NOTHING, so of two concurrent uses only one signs in.
 */
export const samlAssertionReplay = pgTable('saml_assertion_replay', {
  /** SHA-256 (hex) of `<connection id> <assertion ID>`. */
  id: text('id').primaryKey(),
  expires_at: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/**
 * Where an organisation's budget alerts go (Standard Webhooks). The signing secret is sealed with
 * the KEK like provider keys (AAD binds it to the organisation).
 */
export const orgWebhooks = pgTable('org_webhooks', {
  org_id: uuid('org_id').primaryKey().references(() => orgs.id),
  url: text('url').notNull(),
  kek_version: integer('kek_version').notNull(),
  iv: text('iv').notNull(),
  ciphertext: text('ciphertext').notNull(),
  created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * One budget alert: a threshold crossed by a subject's spend in one period (unique, so each fires
 * once), and its delivery attempts.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey(),
    org_id: uuid('org_id').notNull().references(() => orgs.id),
    subject_kind: text('subject_kind').notNull(),
    subject_id: text('subject_id').notNull(),
    period_start: timestamp('period_start', { withTimezone: true }).notNull(),
    threshold: integer('threshold').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    last_status: integer('last_status'),
    last_error: text('last_error'),
    created_at: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    delivered_at: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_once_idx').on(t.subject_kind, t.subject_id, t.period_start, t.threshold),
    index('webhook_deliveries_org_idx').on(t.org_id, t.created_at),
  ],
);
