/**
 * The admin route table is data (STYLE: "the admin route table with its authorization decision …
 * live in one place"): each route names the resource kind and the action of its Cerbos decision,
 * from policies/matrix.ts. `mount` registers the routes and refuses to answer (500, logged) any
 * successful request whose handler finished without making that decision, so a route cannot silently
 * skip authorization; test/unit/route-table.test.ts checks that every registered admin route (API
 * and UI) is in a table.
 */
import type { Context, Env, Hono } from 'hono';
import { GatewayError } from '../lib/errors';
import { ROLE_ACTION_MATRIX, type ResourceKind } from '../policies/matrix';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface AdminRoute<E extends Env> {
  method: Method;
  path: string;
  /** The decision every request to this route makes; `null` only with a reason (login, static files). */
  decision: { kind: ResourceKind; action: string } | { none: string };
  handler: (c: Context<E>) => Promise<Response> | Response;
}

export function route<E extends Env, K extends ResourceKind>(
  method: Method,
  path: string,
  kind: K,
  action: keyof (typeof ROLE_ACTION_MATRIX)[K] & string,
  handler: AdminRoute<E>['handler'],
): AdminRoute<E> {
  return { method, path, decision: { kind, action }, handler };
}

/** A route without a policy decision (login, logout, static assets); the reason is documentation. */
export function openRoute<E extends Env>(method: Method, path: string, reason: string, handler: AdminRoute<E>['handler']): AdminRoute<E> {
  return { method, path, decision: { none: reason }, handler };
}

type WithDecisions = Env & { Variables: { decisions: string[] } };

export function mount<E extends WithDecisions>(app: Hono<E>, routes: AdminRoute<E>[]): void {
  for (const r of routes) {
    const expected = 'kind' in r.decision ? `${r.decision.kind}:${r.decision.action}` : null;
    app.on(r.method, r.path, async function authorizedRoute(c) {
      c.set('decisions', []);
      const res = await r.handler(c);
      // Only a success must carry the decision. A refusal or failure (4xx/5xx) changed nothing:
      // thrown, it reaches onError without this check; answered by a UI page that shows its form
      // again with the error (e.g. a 400 for a bad field, found before any decision), the page
      // shows only what its own decisions allowed.
      if (expected && res.status < 400 && !c.get('decisions').includes(expected)) {
        throw new GatewayError('internal', 'The server had an error while processing your request.', {
          reason: `route ${r.method} ${r.path} answered without its authorization decision ${expected} (made: ${c.get('decisions').join(', ') || 'none'})`,
        });
      }
      return res;
    });
  }
}
