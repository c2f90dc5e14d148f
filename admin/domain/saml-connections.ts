/**
 * SAML 2.0 SSO connections (DESIGN §7): an organisation's SAML identity provider, entered as IdP
 * metadata XML or as entity id + SSO URL + signing certificate. Stored in `sso_connections` beside
 * the OIDC ones (protocol `saml`; its domains in the same one-connection-per-domain table). Our SP
 * entity id and ACS URL are fixed at creation from the admin origin, so what the IdP was configured
 * with keeps matching whatever host a later request arrives on. No secret: the IdP's certificate
 * is public and we do not sign AuthnRequests.
 */
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '../db/client';
import { ssoConnectionDomains, ssoConnections } from '../db/schema';
import { idpUrlProblem } from '../sso/oidc/config';
import { DEFAULT_MFA_CONTEXTS, type SamlConnection } from '../sso/saml/config';
import { publicKeyPemOfCertificate } from '../sso/saml/certificate';
import { normalizeCertificate, parseIdpMetadata } from '../sso/saml/metadata';
import { change, type ActionContext } from './change';
import { accessRules, freeDomains, loginRules, requireOrg } from './sso-connections';

type ConnectionRow = typeof ssoConnections.$inferSelect;

export const samlPaths = (origin: string, id: string) => ({
  entityId: `${origin}/sso/saml/${id}/metadata`,
  metadataUrl: `${origin}/sso/saml/${id}/metadata`,
  acsUrl: `${origin}/sso/saml/${id}/acs`,
  loginUrl: `${origin}/sso/saml/${id}/start`,
});

/** A SAML URI value (entity id, AuthnContextClassRef, attribute name): printable, no spaces. */
const uriField = z.string().regex(/^[\x21-\x7E]{1,500}$/, 'must be a URI without spaces');

export function createSamlConnectionSchema(allowPrivate: boolean) {
  const urlField = z
    .string()
    .max(2000)
    .superRefine((v, ctx) => {
      const problem = idpUrlProblem(v, allowPrivate);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
  return z
    .strictObject({
      idp_metadata_xml: z.string().max(200_000, 'must be at most 200,000 characters').optional(),
      idp_entity_id: uriField.optional(),
      idp_sso_url: urlField.optional(),
      idp_certificate_pem: z.string().max(20_000).optional(),
      ...accessRules,
      groups_attribute: z.string().regex(/^[\x21-\x7E]{1,300}$/, 'must be an attribute name').default('groups'),
      require_mfa: z.boolean({ error: 'must be true or false' }).default(true),
      mfa_contexts: z.array(uriField).max(30).optional(),
      jit: z.boolean({ error: 'must be true or false' }).default(true),
    })
    .transform((input, ctx) => {
      let idp: { entityId: string; ssoUrl: string; certificates: string[] };
      if (input.idp_metadata_xml !== undefined) {
        if (input.idp_entity_id !== undefined || input.idp_sso_url !== undefined || input.idp_certificate_pem !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['idp_metadata_xml'], message: 'give either idp_metadata_xml or idp_entity_id, idp_sso_url and idp_certificate_pem, not both' });
          return z.NEVER;
        }
        try {
          idp = parseIdpMetadata(input.idp_metadata_xml);
        } catch (e) {
          ctx.addIssue({ code: 'custom', path: ['idp_metadata_xml'], message: e instanceof Error ? e.message : 'is not usable IdP metadata' });
          return z.NEVER;
        }
        const problem = idpUrlProblem(idp.ssoUrl, allowPrivate);
        if (problem) {
          ctx.addIssue({ code: 'custom', path: ['idp_metadata_xml'], message: `SingleSignOnService ${problem}` });
          return z.NEVER;
        }
      } else {
        for (const field of ['idp_entity_id', 'idp_sso_url', 'idp_certificate_pem'] as const) {
          // eslint-disable-next-line security/detect-object-injection -- field is one of three literal keys
          if (input[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'is required (or give idp_metadata_xml)' });
        }
        if (input.idp_entity_id === undefined || input.idp_sso_url === undefined || input.idp_certificate_pem === undefined) return z.NEVER;
        const cert = normalizeCertificate(input.idp_certificate_pem);
        if ('problem' in cert) {
          ctx.addIssue({ code: 'custom', path: ['idp_certificate_pem'], message: cert.problem });
          return z.NEVER;
        }
        idp = { entityId: input.idp_entity_id, ssoUrl: input.idp_sso_url, certificates: [cert.pem] };
      }
      const mfaContexts = input.mfa_contexts?.length ? [...new Set(input.mfa_contexts)] : [...DEFAULT_MFA_CONTEXTS];
      return {
        idp,
        allowed_domains: input.allowed_domains,
        role_mapping: input.role_mapping,
        default_role: input.default_role,
        groups_attribute: input.groups_attribute,
        require_mfa: input.require_mfa,
        mfa_contexts: mfaContexts,
        jit: input.jit,
      };
    });
}

export type CreateSamlConnection = z.infer<ReturnType<typeof createSamlConnectionSchema>>;

export function publicSamlConnection(row: ConnectionRow, domains: string[]) {
  const acsUrl = row.saml?.acs_url ?? '';
  return {
    id: row.id,
    org_id: row.org_id,
    protocol: 'saml' as const,
    idp_entity_id: row.issuer,
    idp_sso_url: row.saml?.idp_sso_url ?? '',
    idp_certificates: row.saml?.idp_certificates ?? [],
    sp_entity_id: row.client_id,
    acs_url: acsUrl,
    metadata_url: acsUrl.replace(/\/acs$/, '/metadata'),
    login_url: acsUrl.replace(/\/acs$/, '/start'),
    allowed_domains: domains,
    role_mapping: row.role_mapping,
    default_role: row.default_role,
    groups_attribute: row.groups_claim,
    require_mfa: row.require_mfa,
    mfa_contexts: row.acr_values,
    jit: row.jit,
    idp_initiated: false,
    created_at: row.created_at,
  };
}

export async function createSamlConnection(ctx: ActionContext, orgId: string, input: CreateSamlConnection, origin: string) {
  const id = crypto.randomUUID();
  const paths = samlPaths(origin, id);
  return change(ctx, { action: 'sso_connection.create', cerbosAction: 'create', resource: { kind: 'sso_connection', orgId } }, async (tx) => {
    await requireOrg(tx, orgId);
    const domains = await freeDomains(tx, input.allowed_domains);
    const [row] = await tx
      .insert(ssoConnections)
      .values({
        id,
        org_id: orgId,
        protocol: 'saml',
        issuer: input.idp.entityId,
        client_id: paths.entityId,
        saml: { idp_sso_url: input.idp.ssoUrl, idp_certificates: input.idp.certificates, acs_url: paths.acsUrl },
        role_mapping: input.role_mapping,
        default_role: input.default_role,
        groups_claim: input.groups_attribute,
        scopes: [],
        require_mfa: input.require_mfa,
        acr_values: input.mfa_contexts,
        jit: input.jit,
      })
      .returning();
    await tx.insert(ssoConnectionDomains).values(domains.map((domain) => ({ domain, connection_id: id })));
    return { result: publicSamlConnection(row!, domains.sort()), targetId: id };
  });
}

/** For the sign-in flow (no principal yet): the SAML connection with this id, if any. */
export async function loadSamlConnection(db: Queryable, id: string): Promise<SamlConnection | null> {
  if (!z.uuid().safeParse(id).success) return null;
  const [row] = await db.select().from(ssoConnections).where(and(eq(ssoConnections.id, id), eq(ssoConnections.protocol, 'saml'))).limit(1);
  if (!row?.saml) return null;
  return {
    ...(await loginRules(db, row)),
    idpEntityId: row.issuer,
    idpSsoUrl: row.saml.idp_sso_url,
    idpKeys: row.saml.idp_certificates.flatMap((pem) => {
      try {
        return [publicKeyPemOfCertificate(pem)];
      } catch {
        return [];
      }
    }),
    spEntityId: row.client_id,
    acsUrl: row.saml.acs_url,
    groupsAttribute: row.groups_claim,
    mfaContexts: row.acr_values,
  };
}

