import { expect, test } from '@playwright/test';
import { hydrated, signIn } from './helpers';

const password = process.env.E2E_PASSWORD ?? '';

test('an admin creates an API token, sees it once, uses it, and revokes it', async ({ page, request }) => {
  await signIn(page, process.env.E2E_ADMIN_EMAIL ?? '', password);
  const workspaceNav = page.getByRole('navigation', { name: 'Workspace' });
  await workspaceNav.getByRole('link', { name: 'API tokens' }).click();
  await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();
  await hydrated(page);

  await page.getByLabel('Name').fill('Playwright CI');
  await page.getByLabel('Expires after (days)').fill('90');
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = page.getByTestId('new-token');
  await expect(secret).toHaveText(/^att_test_/);
  const token = (await secret.textContent())!.trim();
  await expect(page.getByText('It will not be shown again')).toBeVisible();
  // "Done" reloads the page: the list now has the token, and the secret is gone.
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.getByTestId('new-token')).toHaveCount(0);

  const row = page.getByRole('row', { name: /Playwright CI/ });
  await expect(row.getByText('active')).toBeVisible();
  await page.screenshot({ path: 'artifacts/api-tokens.png', fullPage: true });

  const list = await request.get('/api/v1/usps1583/verifications', { headers: { Authorization: `Bearer ${token}` } });
  expect(list.status()).toBe(200);

  await row.getByRole('button', { name: 'Revoke Playwright CI' }).click();
  await expect(page.getByRole('row', { name: /Playwright CI/ }).getByText('revoked')).toBeVisible();
  const refused = await request.get('/api/v1/usps1583/verifications', { headers: { Authorization: `Bearer ${token}` } });
  expect(refused.status()).toBe(401);
  expect(await refused.json()).toEqual({ message: 'Unauthenticated.' });
});

test('a reviewer sees neither the tokens nor the settings page, and is refused them', async ({ page }) => {
  await signIn(page, process.env.E2E_EMAIL ?? '', password);
  await page.goto('/w/e2e');
  const workspaceNav = page.getByRole('navigation', { name: 'Workspace' });
  await expect(workspaceNav.getByRole('link', { name: 'Overview' })).toBeVisible();
  await expect(workspaceNav.getByRole('link', { name: 'API tokens' })).toHaveCount(0);
  await expect(workspaceNav.getByRole('link', { name: 'Settings' })).toHaveCount(0);
  await page.goto('/w/e2e/tokens');
  await expect(page.getByRole('heading', { name: 'Not allowed' })).toBeVisible();
});

test('an admin widens the flow configuration on the settings page', async ({ page, request }) => {
  await signIn(page, process.env.E2E_ADMIN_EMAIL ?? '', password);
  await page.goto('/w/e2e/settings');
  await hydrated(page);
  const poa = page.getByLabel('Accepted proof-of-address types').first();
  await poa.fill('lease, mortgage, utility_bill');
  await page.getByRole('button', { name: 'Save usps1583' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel('Accepted proof-of-address types').first()).toHaveValue('lease, mortgage, utility_bill');
  await page.screenshot({ path: 'artifacts/settings.png', fullPage: true });
});
