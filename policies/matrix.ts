/**
 * THE role × action matrix of the control plane (DESIGN §7, issue 7). One place: the Cerbos
 * resource policies in this folder implement it, and `npm run test:policies` generates
 * policies/tests/matrix_test.yaml from it (scripts/policy-matrix.ts), so every role × action ×
 * (own org / other org) cell is a Cerbos policy test; the admin route table (admin/routes.ts) names
 * its actions from it.
 *
 * Per resource kind, per action: who may do it.
 *   platform_admin  every organisation
 *   <role>          within an organisation where the person has that role
 *   <role>:own      within that organisation, and only on resources they own (owner_user_id)
 *   scim_client     a SCIM token, within its one organisation
 * Anything not listed is denied.
 */
export const ROLE_ACTION_MATRIX = {
  org: {
    create: ['platform_admin'],
    list: ['platform_admin', 'org_admin', 'developer', 'auditor'],
    read: ['platform_admin', 'org_admin', 'developer', 'auditor'],
    update: ['platform_admin', 'org_admin'],
    // Limits, budgets and alert webhooks of a whole organisation bound its own admins: platform only.
    set_limits: ['platform_admin'],
  },
  member: {
    list: ['platform_admin', 'org_admin', 'auditor'],
    create: ['platform_admin', 'org_admin'],
    update: ['platform_admin', 'org_admin'],
    delete: ['platform_admin', 'org_admin'],
  },
  user: {
    // An org_admin may suspend only people whose every membership is in organisations they administer.
    suspend: ['platform_admin', 'org_admin'],
    // Limits on all of a person's keys: the same rule as suspending them.
    set_limits: ['platform_admin', 'org_admin'],
  },
  provider_key: {
    list: ['platform_admin', 'org_admin', 'auditor'],
    read: ['platform_admin', 'org_admin', 'auditor'],
    create: ['platform_admin', 'org_admin'],
    delete: ['platform_admin', 'org_admin'],
    // "Test connection": a call through the gateway with the key (never shown); those who manage keys.
    test: ['platform_admin', 'org_admin'],
  },
  route: {
    list: ['platform_admin', 'org_admin', 'developer', 'auditor'],
    read: ['platform_admin', 'org_admin', 'developer', 'auditor'],
    create: ['platform_admin', 'org_admin'],
    update: ['platform_admin', 'org_admin'],
    delete: ['platform_admin', 'org_admin'],
  },
  virtual_key: {
    list: ['platform_admin', 'org_admin', 'auditor', 'developer:own'],
    read: ['platform_admin', 'org_admin', 'auditor', 'developer:own'],
    create: ['platform_admin', 'org_admin', 'developer:own'],
    revoke: ['platform_admin', 'org_admin', 'developer:own'],
    rotate: ['platform_admin', 'org_admin', 'developer:own'],
    // A developer may not lift the limits an admin set on their key.
    set_limits: ['platform_admin', 'org_admin'],
  },
  usage: {
    read: ['platform_admin', 'org_admin', 'auditor', 'developer:own'],
  },
  event: {
    list: ['platform_admin', 'org_admin', 'auditor', 'developer:own'],
    read: ['platform_admin', 'org_admin', 'auditor', 'developer:own'],
  },
  admin_audit: {
    list: ['platform_admin', 'org_admin', 'auditor'],
    verify: ['platform_admin'],
    // Copy the chain head to KV now (the cron trigger does it every 5 minutes).
    anchor: ['platform_admin'],
  },
  evidence: {
    // The signed evidence export (inventories, access review, audit log, configuration) of an organisation.
    export: ['platform_admin', 'org_admin', 'auditor'],
  },
  sso_connection: {
    list: ['platform_admin', 'org_admin', 'auditor'],
    read: ['platform_admin', 'org_admin', 'auditor'],
    create: ['platform_admin', 'org_admin'],
    delete: ['platform_admin', 'org_admin'],
  },
  api_token: {
    list: ['platform_admin', 'org_admin', 'auditor'],
    create: ['platform_admin', 'org_admin'],
    revoke: ['platform_admin', 'org_admin'],
  },
  scim_token: {
    list: ['platform_admin', 'org_admin', 'auditor'],
    create: ['platform_admin', 'org_admin'],
    revoke: ['platform_admin', 'org_admin'],
  },
  // SCIM resources: only the organisation's SCIM token (derived role scim_client), not even a platform admin.
  scim_user: {
    list: ['scim_client'],
    read: ['scim_client'],
    create: ['scim_client'],
    update: ['scim_client'],
    delete: ['scim_client'],
  },
  scim_group: {
    list: ['scim_client'],
    read: ['scim_client'],
    create: ['scim_client'],
    update: ['scim_client'],
    delete: ['scim_client'],
  },
  audit_quarantine: {
    // Events the consumer set aside carry no trustworthy organisation: platform admins only.
    list: ['platform_admin'],
  },
  system: {
    rebuild_kv: ['platform_admin'],
    reencrypt: ['platform_admin'],
    // The gateway's deep health check (KV, Cerbos, KEKs, every provider key's reachability).
    health: ['platform_admin'],
  },
} as const satisfies Record<string, Record<string, readonly string[]>>;

export type ResourceKind = keyof typeof ROLE_ACTION_MATRIX;
export type ActionOf<K extends ResourceKind> = keyof (typeof ROLE_ACTION_MATRIX)[K] & string;
