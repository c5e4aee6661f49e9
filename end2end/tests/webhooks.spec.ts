import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';
import { hydrated, signIn } from './helpers';

const receiver = process.env.E2E_RECEIVER_URL ?? '';
const receiverLog = process.env.E2E_RECEIVER_LOG ?? '';

function received(): Array<{ id: string; body: { type: string } }> {
  if (!fs.existsSync(receiverLog)) return [];
  return fs.readFileSync(receiverLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test('an admin adds an endpoint, sees the secret once, sends a test event and resends it', async ({ page }) => {
  await signIn(page, process.env.E2E_ADMIN_EMAIL ?? '', process.env.E2E_PASSWORD ?? '');
  await page.goto('/w/e2e/webhooks');
  await hydrated(page);
  const url = `${receiver}/ok`;
  await page.getByLabel('URL').fill(url);
  await page.getByLabel('Description').fill('Playwright receiver');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByTestId('webhook-secret')).toHaveText(/^whsec_/);
  await expect(page.getByText('It will not be shown again')).toBeVisible();
  // Until "Done", a reload would not show the secret either: it never reaches the page's address.
  await page.getByRole('button', { name: 'Done' }).click();

  const endpoints = page.getByRole('table', { name: 'Endpoints' });
  await expect(endpoints.getByText(url)).toBeVisible();
  await expect(page.getByTestId('webhook-secret')).toHaveCount(0);
  await page.getByRole('button', { name: `Send test event to ${url}` }).click();
  const deliveries = page.getByRole('table', { name: 'Deliveries' });
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(deliveries.getByText('succeeded').first()).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  await expect(deliveries.getByText(/HTTP 204/).first()).toBeVisible();
  expect(received().filter((r) => r.body.type === 'webhook.test')).toHaveLength(1);

  await deliveries.getByRole('button', { name: /^Resend / }).first().click();
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(deliveries.getByText(/resend/).first()).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  const tests = received().filter((r) => r.body.type === 'webhook.test');
  expect(tests).toHaveLength(2);
  expect(tests[1].id).toBe(tests[0].id);
  await page.screenshot({ path: 'artifacts/webhooks.png', fullPage: true });
});
