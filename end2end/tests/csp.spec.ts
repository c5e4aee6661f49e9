import { expect, test } from '@playwright/test';
import { hydrated, signIn } from './helpers';

const password = process.env.E2E_PASSWORD ?? '';

// Every page is served with a strict Content-Security-Policy (scripts only from us and
// the page's own nonce'd bootstrap, WebAssembly allowed to compile). The islands must
// hydrate under it and nothing on the pages may be refused.
test('the islands hydrate under the Content-Security-Policy and nothing is refused', async ({ page }) => {
  const refused: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) refused.push(message.text());
  });
  await signIn(page, process.env.E2E_ADMIN_EMAIL ?? '', password);
  for (const path of ['/account', '/w/e2e/tokens', '/w/e2e/webhooks', '/w/e2e/verifications', '/w/e2e']) {
    const response = await page.goto(path);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp, path).toContain("script-src 'self' 'nonce-");
    expect(csp, path).toContain("frame-ancestors 'none'");
    expect(response?.headers()['cache-control'], path).toBe('no-store');
    await hydrated(page);
  }
  // An island that calls its server function from the browser works under the policy.
  await page.goto('/account');
  await hydrated(page);
  await page.getByLabel('Password', { exact: true }).first().fill(password);
  await page.getByRole('button', { name: 'Set up authenticator app' }).click();
  await expect(page.getByTestId('totp-secret')).toBeVisible();
  expect(refused, refused.join('\n')).toEqual([]);
});
