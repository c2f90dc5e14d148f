/**
 * The SAML 2.0 service provider of the admin UI (SP-initiated login only):
 *
 *   GET  /sso/saml/:connection_id/metadata   our SP metadata (entity id, ACS URL) for the IdP
 *   GET  /sso/saml/:connection_id/start      → 302 to the IdP with an AuthnRequest (HTTP-Redirect)
 *   POST /sso/saml/:connection_id/acs        the IdP's Response (HTTP-POST) → verified → session → /ui
 *
 * The ACS takes a cross-site form POST from the IdP, so it is outside the UI's CSRF check; what
 * protects it is InResponseTo (a request this browser started here, used once) and the assertion
 * checks (sp.ts), then the replay cache. Refusals and successes are audited as in OIDC (../sign-in.tsx).
 */
import { Hono } from 'hono';
import { log } from '../../../lib/log';
import { loadSamlConnection } from '../../domain/saml-connections';
import type { AdminEnv } from '../../env';
import { database, type AdminVariables } from '../../middleware';
import { mount, openRoute } from '../../route-table';
import { LoginRefused } from '../refusal';
import { auditRefusal, completeSignIn, refusedPage, ssoPageHeaders, type RefusalWhere } from '../sign-in';
import { emailOf, identityFromAssertion, mfaShown } from './identity';
import { acsStore, claimAssertion, consumeRequest, startStore } from './requests';
import { authorizeUrl, spMetadata, verifyResponse } from './sp';

export function samlLoginRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();
  app.use('*', async function securityHeaders(c, next) {
    await next();
    if (!c.res.headers.get('content-type')?.startsWith('application/samlmetadata+xml')) ssoPageHeaders(c);
  });
  app.use('*', database());
  // Open routes (admin/route-table.ts): there is no principal until the ACS has verified the IdP.
  mount(app, [
    openRoute('GET', '/:connection_id/metadata', 'public SP metadata the IdP is configured with (no secret)', async (c) => {
      const connection = await loadSamlConnection(c.var.db, c.req.param('connection_id') ?? '');
      if (!connection) return refusedPage(c, new LoginRefused('connection_unavailable', 'no SAML connection'));
      return c.body(spMetadata(connection), 200, { 'content-type': 'application/samlmetadata+xml; charset=utf-8', 'cache-control': 'public, max-age=300', 'x-content-type-options': 'nosniff' });
    }),

    openRoute('GET', '/:connection_id/start', 'sign-in step before any identity: sends the browser to the IdP', async (c) => {
      const id = c.req.param('connection_id') ?? '';
      const connection = await loadSamlConnection(c.var.db, id);
      try {
        if (!connection) throw new LoginRefused('connection_unavailable', `no SAML connection ${id}`);
        return c.redirect(await authorizeUrl(connection, await startStore(c, c.var.db, connection.id)), 302);
      } catch (e) {
        if (!(e instanceof LoginRefused)) throw e;
        // A flood is logged, not audited row by row (the rows would be the flood).
        if (e.reason === 'busy') log('warn', 'saml start refused', { request_id: c.get('requestId'), reason: e.reason, detail: e.detail, connection_id: connection?.id ?? null });
        else await auditRefusal(c, 'saml', e, { connectionId: connection?.id ?? null, orgId: connection?.orgId ?? null });
        return refusedPage(c, e);
      }
    }),

    openRoute('POST', '/:connection_id/acs', 'the SAML ACS: the signed assertion being verified is the credential', async (c) => {
      const id = c.req.param('connection_id') ?? '';
      let where: RefusalWhere = { connectionId: null, orgId: null };
      try {
        const connection = await loadSamlConnection(c.var.db, id);
        if (!connection) throw new LoginRefused('connection_unavailable', `no SAML connection ${id}`);
        where = { connectionId: connection.id, orgId: connection.orgId };
        const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
        const samlResponse = typeof form.SAMLResponse === 'string' ? form.SAMLResponse.replace(/\s+/g, '') : '';
        if (!samlResponse) throw new LoginRefused('token_invalid', 'POST without SAMLResponse');
        let verified;
        try {
          verified = await verifyResponse(connection, samlResponse, await acsStore(c, c.var.db, connection.id));
        } finally {
          // One AuthnRequest, one attempt: a refused Response uses up its request as well.
          const inResponseTo = /\bInResponseTo="([^"]{1,200})"/.exec(Buffer.from(samlResponse, 'base64').toString('utf8'))?.[1];
          if (inResponseTo && !verified) await consumeRequest(c.var.db, connection.id, inResponseTo);
        }
        // Taken once: of two concurrent posts of one Response, only one gets the request.
        if (!(await consumeRequest(c.var.db, connection.id, verified.inResponseTo))) throw new LoginRefused('state_invalid', `request ${verified.inResponseTo} already used`);
        if (!(await claimAssertion(c.var.db, connection.id, verified.assertionId, verified.expiresAt))) throw new LoginRefused('replayed', `assertion ${verified.assertionId} already used`);
        // Recorded on a refusal below: who the IdP said it was, and whether they used MFA.
        const email = emailOf(verified);
        where.identity = { mfa: mfaShown(connection, verified).mfa, ...(email ? { email: email.trim().toLowerCase() } : {}) };
        const identity = identityFromAssertion(connection, verified);
        where.identity = identity;
        return await completeSignIn(c, 'saml', connection, identity);
      } catch (e) {
        if (!(e instanceof LoginRefused)) throw e;
        await auditRefusal(c, 'saml', e, where);
        return refusedPage(c, e);
      }
    }),
  ]);
  return app;
}
