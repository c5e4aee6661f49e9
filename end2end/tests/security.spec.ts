import { expect, test } from '@playwright/test';
import { hydrated, signIn, submitPassword } from './helpers';

const password = process.env.E2E_PASSWORD ?? '';
const lockedEmail = process.env.E2E_LOCKED_EMAIL ?? '';

test('five bad passwords lock the account; an admin unlocks it; the user signs in', async ({ browser }) => {
  const userContext = await browser.newContext();
  const user = await userContext.newPage();
  await user.goto('/login');
  await hydrated(user);
  for (let attempt = 1; attempt <= 4; attempt++) {
    await submitPassword(user, lockedEmail, `wrong password ${attempt}`);
    await expect(user.getByRole('alert')).toHaveText('Invalid email or password.');
  }
  await submitPassword(user, lockedEmail, 'wrong password 5');
  await expect(user.getByRole('alert')).toContainText('This account is locked after too many failed sign-ins');
  await expect(user.getByRole('alert')).toContainText('ask an administrator to unlock it');
  await submitPassword(user, lockedEmail, password);
  await expect(user.getByRole('alert')).toContainText('This account is locked');
  await user.screenshot({ path: 'artifacts/locked.png' });

  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await signIn(admin, process.env.E2E_ADMIN_EMAIL ?? '', password);
  await admin.goto('/w/e2e/members');
  await hydrated(admin);
  const row = admin.getByRole('row', { name: new RegExp(lockedEmail) });
  await expect(row.getByText(/locked until/)).toBeVisible();
  await admin.screenshot({ path: 'artifacts/members.png', fullPage: true });
  await row.getByRole('button', { name: `Unlock ${lockedEmail}` }).click();
  await expect(admin.getByRole('row', { name: new RegExp(lockedEmail) }).getByText('active')).toBeVisible();

  await signIn(user, lockedEmail, password);
  await expect(user.getByTestId('signed-in-as')).toHaveText(lockedEmail);

  await admin.goto('/w/e2e/activity?action=member.unlocked');
  await expect(admin.getByRole('table', { name: 'Activity' }).getByText('member.unlocked')).toBeVisible();
  await admin.goto('/w/e2e/activity?action=login.locked');
  await expect(admin.getByRole('table', { name: 'Activity' }).getByText('login.locked')).toBeVisible();
});

test('the challenge page without a sign-in in progress says to log in again', async ({ page }) => {
  await page.goto('/mfa');
  await expect(page.getByRole('heading', { name: 'Sign-in expired' })).toBeVisible();
  await page.getByRole('link', { name: 'Log in again' }).click();
  await expect(page).toHaveURL(/\/login$/);
});
