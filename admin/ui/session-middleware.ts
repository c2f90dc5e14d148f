/**
 * The admin UI's session middleware: every page after login needs a live session, a principal built
 * from it (admin/auth/session-principal.ts ends the session of a suspended or removed person on the
 * spot), and on every POST a valid CSRF token bound to the session. Sets the `UiVariables`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import * as actions from '../actions';
import { sessionPrincipal } from '../auth/session-principal';
import type { AdminEnv } from '../env';
import { actionContext, cerbosFor, type AdminVariables } from '../middleware';
import { csrfToken, csrfValid, currentSession, type Session } from '../session';
import { formOf } from './forms';
import type { PageContext } from './layout';

export type UiVariables = AdminVariables & { session: Session; page: PageContext };
export type UiEnv = { Bindings: AdminEnv; Variables: UiVariables };
export type UiContext = Context<UiEnv>;

function sessionEnded(c: Context) {
  if (c.req.method === 'GET') return c.redirect('/ui/login');
  return c.text('Your session has ended. Log in again.', 401);
}

export function sessionAuth(): MiddlewareHandler<UiEnv> {
  return async function sessionAuth(c, next) {
    const session = await currentSession(c, c.var.db);
    if (!session) return sessionEnded(c);
    c.set('session', session);
    c.set('cerbos', cerbosFor(c.env));
    const principal = await sessionPrincipal(c.var.db, c.env, session);
    if (!principal) return sessionEnded(c);
    c.set('principal', principal);
    const email = typeof principal.attr.email === 'string' && principal.attr.email ? principal.attr.email : null;
    c.set('page', { actor: email ?? session.actor, csrf: await csrfToken(c.env, session), path: c.req.path });
    if (c.req.method === 'POST') {
      const form = await formOf(c);
      if (!(await csrfValid(c.env, session, form._csrf))) {
        await actions.recordAction(actionContext(c), `ui${c.req.path.replace(/^\/ui/, '').replace(/\//g, '.')}`, 'denied', { type: 'csrf', id: null });
        return c.text('This form is missing its security token (CSRF). Reload the page and try again.', 403);
      }
    }
    await next();
  };
}
