import { expect, test, type Page } from '@playwright/test';
import * as fs from 'node:fs';

// The newcomer's first minutes, exactly as the README tells them: `bash scripts/run`
// (scripts/test starts it the same way, with no SMTP server), sign in as the printed
// demo user, read the code on the sandbox mailbox page, land in the demo workspace and
// open a sample case that waits for review. The screenshots of this walk are the
// README's tour (docs/tour/), so they stay current.
const base = process.env.E2E_NEWCOMER_URL ?? '';
const tour = (name: string) => `../docs/tour/${name}.png`;

/** Each filter label sits on the same line as its control. */
async function labelsBesideControls(page: Page) {
  for (const id of ['queue-q', 'queue-flow', 'queue-from', 'queue-to', 'queue-decision', 'queue-rule']) {
    const label = await page.locator(`label[for="${id}"]`).boundingBox();
    const control = await page.locator(`#${id}`).boundingBox();
    expect(label && control, id).toBeTruthy();
    const labelMiddle = label!.y + label!.height / 2;
    expect(labelMiddle, `${id}: the label is beside its control`).toBeGreaterThan(control!.y);
    expect(labelMiddle, `${id}: the label is beside its control`).toBeLessThan(control!.y + control!.height);
  }
}

test('a newcomer signs in with the code from the sandbox mailbox and reviews a sample case', async ({ page }) => {
  test.skip(!base, 'E2E_NEWCOMER_URL is set by scripts/test');
  const output = fs.readFileSync(process.env.E2E_NEWCOMER_OUTPUT ?? '', 'utf8');
  const email = output.match(/email:\s+(\S+)/)![1];
  const password = output.match(/password:\s+(\S+)/)![1];
  expect(output).toContain('/sandbox/mailbox');

  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Enter your sign-in code' })).toBeVisible();

  // The sign-in page points to the mailbox; the code is in the newest mail.
  const mailbox = await page.context().newPage();
  await mailbox.goto(`${base}/login`);
  await mailbox.getByRole('link', { name: 'sandbox mailbox' }).click();
  await expect(mailbox.getByRole('heading', { name: 'Sandbox mailbox' })).toBeVisible();
  await mailbox.screenshot({ path: tour('sandbox-mailbox'), fullPage: true });
  await mailbox.getByRole('link', { name: 'Your Attest sign-in code' }).first().click();
  const body = (await mailbox.getByTestId('mail-body').textContent()) ?? '';
  const code = body.match(/sign-in code is (\d{6})/)![1];
  await mailbox.close();

  await page.getByLabel('Code from the email').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(/\/w\/demo$/);
  await expect(page.getByRole('heading', { name: 'Demo Mailboxes' })).toBeVisible();
  await page.screenshot({ path: tour('overview'), fullPage: true });

  await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Verifications' }).click();
  await expect(page.getByRole('heading', { name: 'Review queue' })).toBeVisible();
  const queue = page.getByRole('table', { name: 'Verifications' });
  await expect(queue.getByRole('link', { name: /Katherine/ })).toBeVisible();
  await labelsBesideControls(page);
  await page.screenshot({ path: tour('queue'), fullPage: true });
  await page.setViewportSize({ width: 360, height: 800 });
  await labelsBesideControls(page);
  await page.screenshot({ path: tour('queue-360'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  // A case waiting for review: its failed rule, its images and its history.
  await queue.getByRole('link', { name: /Katherine/ }).click();
  await expect(page.getByRole('heading', { name: /Katherine/ })).toBeVisible();
  const failed = page.getByRole('table', { name: 'Rules' }).getByRole('row', { name: /name_mismatch/ });
  await expect(failed.getByText('fail')).toBeVisible();
  const image = page.getByRole('img', { name: 'drivers_license (front)' });
  await expect(image).toBeVisible();
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(300);
  const history = page.getByRole('list', { name: 'History' });
  await expect(history.getByText('rules.evaluated')).toBeVisible();
  await expect(history.getByText('verification.needs_review')).toBeVisible();
  await page.screenshot({ path: tour('detail'), fullPage: true });

  await page.goto(`${base}/w/demo/webhooks`);
  await expect(page.getByRole('table', { name: 'Endpoints' }).getByText('http://127.0.0.1:9/demo-receiver')).toBeVisible();
  await page.screenshot({ path: tour('webhooks'), fullPage: true });
  await page.goto(`${base}/w/demo/settings`);
  await page.screenshot({ path: tour('settings'), fullPage: true });
});
