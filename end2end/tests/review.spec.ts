import { expect, test } from '@playwright/test';
import { hydrated, signIn } from './helpers';

const password = process.env.E2E_PASSWORD ?? '';
const reviewId = process.env.E2E_REVIEW_ID ?? '';

test('a reviewer filters the queue, opens a case, sees the failed rule and approves it', async ({ page }) => {
  await signIn(page, process.env.E2E_EMAIL ?? '', password);
  await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Verifications' }).click();
  await expect(page.getByRole('heading', { name: 'Review queue' })).toBeVisible();
  await hydrated(page);
  await page.getByLabel('Search', { exact: true }).fill('grace');
  await page.getByLabel('Failed rule').selectOption('name_mismatch');
  await page.getByRole('button', { name: 'Search' }).click();
  const queue = page.getByRole('table', { name: 'Verifications' });
  await expect(queue.getByRole('link', { name: 'Grace Lovelace' })).toBeVisible();
  await expect(queue.getByText('name_mismatch')).toBeVisible();
  await page.screenshot({ path: 'artifacts/review-queue.png', fullPage: true });

  await queue.getByRole('link', { name: 'Grace Lovelace' }).click();
  await expect(page.getByRole('heading', { name: /Grace Lovelace/ })).toBeVisible();
  const rules = page.getByRole('table', { name: 'Rules' });
  const failed = rules.getByRole('row', { name: /name_mismatch/ });
  await expect(failed.getByText('fail')).toBeVisible();
  await expect(failed.getByText('Grace Hopper')).toBeVisible();
  await hydrated(page);
  const image = page.getByRole('img', { name: 'passport (front)' });
  await expect(image).toBeVisible();
  await page.getByRole('group', { name: 'View passport (front)' }).getByRole('button', { name: 'Zoom in' }).click();
  await expect(image).toHaveAttribute('style', /scale\(1\.25\)/);
  await page.getByRole('group', { name: 'View passport (front)' }).getByRole('button', { name: 'Rotate' }).click();
  await expect(image).toHaveAttribute('style', /rotate\(90deg\)/);
  // The proof of address is a PDF: the viewer shows its first page, rendered.
  const lease = page.getByRole('img', { name: 'lease (front)' });
  await expect(lease).toBeVisible();
  await expect.poll(() => lease.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(300);
  await page.screenshot({ path: 'artifacts/verification-detail.png', fullPage: true });

  await page.getByLabel('Reason', { exact: true }).fill('Married name; certificate checked.');
  await page.getByRole('radio', { name: 'Approve' }).check();
  await page.getByRole('button', { name: 'Submit decision' }).click();
  await expect(page.getByRole('heading', { name: /Grace Lovelace/ }).getByText('approved')).toBeVisible();
  await expect(page.getByRole('list', { name: 'History' }).getByText('verification.approved')).toBeVisible();
  await expect(page.getByText(/Married name; certificate checked\./)).toBeVisible();
  // The decision went out as a webhook event, shown beside the history.
  await expect(page.getByRole('table', { name: 'Webhook events' }).getByText('verification.approved')).toBeVisible();
});

test('a viewer sees the case but no approve button, and a direct decision is refused', async ({ page }) => {
  await signIn(page, process.env.E2E_LOCKED_EMAIL ?? '', password);
  await page.goto(`/w/e2e/verifications/${reviewId}`);
  await expect(page.getByRole('heading', { name: /Grace Lovelace/ })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Submit decision' })).toHaveCount(0);
  await expect(page.getByRole('radio', { name: 'Approve' })).toHaveCount(0);
  await expect(page.getByText('need the documents.view permission')).toBeVisible();
  const response = await page.request.post('/rpc/decide_verification', {
    form: { slug: 'e2e', id: reviewId, decision: 'rejected', reason: 'not mine to decide' },
    headers: { Accept: 'application/json' },
  });
  expect(response.status()).toBe(403);
  expect(await response.json()).toEqual({ kind: 'forbidden' });
  await expect(page.getByRole('img', { name: /passport/ })).toHaveCount(0);
  const image = await page.request.get(`/w/e2e/documents/${process.env.E2E_REVIEW_DOC}/front`);
  expect(image.status()).toBe(403);
});
