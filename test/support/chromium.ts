/**
 * Headless Chromium for the UI tests (`chromium` at /usr/bin/chromium, or CHROMIUM_PATH), and the
 * steps every SSO browser test takes: the login page's "Sign in with SSO" form, the IdP's login form.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** From the admin login page through "Sign in with SSO" to the test IdP's form, signed in there as `username`. */
export async function signInThroughSso(page: Page, adminUrl: string, email: string, idpOrigin: string, username: string): Promise<void> {
  await page.goto(`${adminUrl}/ui/login`);
  await page.fill('#sso_email', email);
  await page.click('button:has-text("Sign in with SSO")');
  await page.waitForURL((u) => u.origin === idpOrigin);
  await page.fill('#username', username);
  await page.click('button:has-text("Sign in")');
}
