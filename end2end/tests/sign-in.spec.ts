import { expect, test } from '@playwright/test';
import { hydrated, signIn } from './helpers';

const email = process.env.E2E_EMAIL ?? '';
const password = process.env.E2E_PASSWORD ?? '';

test.beforeAll(() => {
  expect(email, 'E2E_EMAIL is set by scripts/test').not.toBe('');
});

test('a signed-out visitor is sent to the sign-in page', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login\?next=%2F|\/login\?next=\//);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
});

test('wrong credentials get one generic message', async ({ page }) => {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Invalid email or password.');

  await page.getByLabel('Email').fill('nobody@e2e.test');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Invalid email or password.');
});

test('a member signs in with the emailed code, lands in their one workspace, and signs out', async ({ page }) => {
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/w\/e2e$/);
  await expect(page.getByTestId('signed-in-as')).toHaveText(email);
  await hydrated(page);
  // The chooser is still there for whoever goes looking.
  await page.goto('/');
  const workspaces = page.getByRole('list', { name: 'Workspaces' });
  await workspaces.getByRole('link', { name: /E2E Mailboxes/ }).click();
  await expect(page).toHaveURL(/\/w\/e2e$/);
  await expect(page.getByRole('heading', { name: 'E2E Mailboxes' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Processing health' })).toBeVisible();
  await expect(page.getByTestId('jobs-queued')).toHaveText(/^\d+$/);

  await page.screenshot({ path: 'artifacts/workspace-home.png', fullPage: true });

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
});
