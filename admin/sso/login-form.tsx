/**
 * "Sign in with SSO" on the login page: the email's domain picks the organisation's connection,
 * OIDC or SAML (POST /sso/oidc/find), which sends the browser on to its identity provider.
 */
import type { FC } from 'hono/jsx';

export const SsoLoginForm: FC = () => (
  <form method="post" action="/sso/oidc/find" data-testid="sso-login">
    <h2>Sign in with SSO</h2>
    <label for="sso_email">Work email</label>
    <input type="email" id="sso_email" name="email" autocomplete="email" required />
    <p class="muted">You will sign in at your organisation's identity provider, with multi-factor authentication if it requires it.</p>
    <button type="submit">Sign in with SSO</button>
  </form>
);
