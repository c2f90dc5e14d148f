import { raw } from 'hono/html';
import type { FC, PropsWithChildren } from 'hono/jsx';

export interface PageContext {
  actor: string | null;
  csrf: string;
  path: string;
}

const NAV: Array<[string, string]> = [
  ['/ui', 'Overview'],
  ['/ui/keys', 'Virtual keys'],
  ['/ui/provider-keys', 'Provider keys'],
  ['/ui/routes', 'Routes'],
  ['/ui/orgs', 'Organisations'],
  ['/ui/limits', 'Limits'],
  ['/ui/members', 'Members'],
  ['/ui/api-tokens', 'API tokens'],
  ['/ui/sso', 'SSO'],
  ['/ui/scim', 'SCIM'],
  ['/ui/requests', 'Requests'],
  ['/ui/audit', 'Audit log'],
  ['/ui/api', 'API'],
];

/** Hidden CSRF field for every state-changing form. */
export const Csrf: FC<{ token: string }> = ({ token }) => <input type="hidden" name="_csrf" value={token} />;

export const Layout: FC<PropsWithChildren<{ title: string; page: PageContext }>> = ({ title, page, children }) => (
  <>
  {raw('<!DOCTYPE html>')}
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${title} · Routero admin`}</title>
      <link rel="stylesheet" href="/ui/static/app.css" />
      <script src="/ui/static/app.js" defer></script>
    </head>
    <body>
      <header>
        <span class="brand">Routero</span>
        {page.actor ? (
          <nav>
            {NAV.map(([href, label]) => (
              <a href={href} class={page.path === href || (href !== '/ui' && page.path.startsWith(href)) ? 'active' : ''}>
                {label}
              </a>
            ))}
          </nav>
        ) : null}
        {page.actor ? (
          <form method="post" action="/ui/logout">
            <Csrf token={page.csrf} />
            <span class="muted">{page.actor} · </span>
            <button class="secondary" type="submit">Log out</button>
          </form>
        ) : null}
      </header>
      <main>
        <h1>{title}</h1>
        {children}
      </main>
    </body>
  </html>
  </>
);

/**
 * One button that posts to `action` with the CSRF token (and an optional organisation), asking for
 * confirmation first when `confirm` is set: row actions such as revoke, delete, suspend.
 */
export const ActionButton: FC<{ action: string; csrf: string; label: string; orgId?: string; confirm?: string; danger?: boolean }> = ({ action, csrf, label, orgId, confirm, danger }) => (
  <form class="inline" method="post" action={action} data-confirm={confirm}>
    <Csrf token={csrf} />
    {orgId ? <input type="hidden" name="org_id" value={orgId} /> : null}
    <button class={danger ? 'danger' : 'secondary'} type="submit">{label}</button>
  </form>
);

/** A secret shown this once (a new virtual key or API token), with a copy button. */
export const ShownOnce: FC<{ id: string; secret: string; what: string }> = ({ id, secret, what }) => (
  <>
    <div class="warning">Copy this {what} now. You will not see it again: Routero keeps only a hash of it.</div>
    <div class="secret">
      <code id={id} data-testid={id}>{secret}</code>
      <button type="button" data-copy={id}>Copy</button>
    </div>
  </>
);

export const ErrorBox: FC<{ message?: string | null }> = ({ message }) => (message ? <div class="error" role="alert">{message}</div> : null);

export const Badge: FC<{ value: string }> = ({ value }) => <span class={`badge ${value}`}>{value}</span>;

export function fmtTime(v: Date | string | null | undefined): string {
  if (!v) return '—';
  const d = typeof v === 'string' ? new Date(v) : v;
  return d.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function fmtCost(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return `$${v < 0.01 && v > 0 ? v.toFixed(6) : v.toFixed(4)}`;
}
