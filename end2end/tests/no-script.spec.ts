import { expect, test } from '@playwright/test';
import { codeFrom, mailSeen, waitForMail } from './helpers';

// Pages are server-rendered and forms post to their server functions, so the dashboard
// works before (and without) the WebAssembly bundle.
test.use({ javaScriptEnabled: false });

test('without JavaScript an admin signs in, saves settings and sees a refused change explained', async ({ page }) => {
  const email = process.env.E2E_ADMIN_EMAIL ?? '';
  const before = mailSeen();
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(process.env.E2E_PASSWORD ?? '');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Enter your sign-in code' })).toBeVisible();
  await page.getByLabel('Code from the email').fill(codeFrom(await waitForMail(email, before)));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('heading', { name: 'E2E Mailboxes' })).toBeVisible();

  await page.goto('/w/e2e/settings');
  await page.getByLabel('Blacklisted addresses').fill('PO Box 1, Nowhere');
  await page.getByRole('button', { name: 'Save blacklist' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await expect(page.getByLabel('Blacklisted addresses')).toHaveValue('PO Box 1, Nowhere');

  await page.getByLabel('Accepted photo ID types (comma-separated)').first().fill('passport, social_security_card');
  await page.getByRole('button', { name: 'Save usps1583' }).click();
  await expect(page.getByRole('alert').filter({ hasText: /never accepted/ })).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toHaveCount(0);

  // A form whose answer is a secret waits for the script: its button stays disabled.
  await page.goto('/w/e2e/tokens');
  await expect(page.getByRole('button', { name: 'Create token' })).toBeDisabled();
});
