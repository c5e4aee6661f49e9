import { expect, type Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Waits until the WASM bundle has hydrated the server-rendered page. */
export async function hydrated(page: Page) {
  await expect(page.locator('#root')).toHaveAttribute('data-hydrated', 'true');
}

const maildir = process.env.E2E_MAILDIR ?? '';

/** Names of the messages the SMTP sink has stored so far. */
export function mailSeen(): Set<string> {
  const dir = path.join(maildir, 'new');
  return new Set(fs.existsSync(dir) ? fs.readdirSync(dir) : []);
}

/** Waits for a message to `to` that was not in `before`; returns its raw text. */
export async function waitForMail(to: string, before: Set<string>, timeoutMs = 15_000): Promise<string> {
  const dir = path.join(maildir, 'new');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (fs.existsSync(dir)) {
      for (const name of fs.readdirSync(dir)) {
        if (before.has(name)) continue;
        const text = fs.readFileSync(path.join(dir, name), 'utf8');
        if (new RegExp(`^To: .*${to.replace(/[.@]/g, '\\$&')}`, 'mi').test(text)) return text;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no mail to ${to} arrived at the SMTP sink`);
}

/** The 6-digit sign-in code of a mail (in its body: never in the subject). */
export function codeFrom(mail: string): string {
  const match = mail.match(/sign-in code is (\d{6})/);
  if (!match) throw new Error(`no sign-in code in:\n${mail}`);
  return match[1];
}

/** Email and password on the sign-in page (no waiting for what follows). */
export async function submitPassword(page: Page, email: string, password: string) {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in through the real form, reading the emailed code from the SMTP sink. */
export async function signIn(page: Page, email: string, password: string) {
  const before = mailSeen();
  await submitPassword(page, email, password);
  await expect(page.getByRole('heading', { name: 'Enter your sign-in code' })).toBeVisible();
  const code = codeFrom(await waitForMail(email, before));
  await hydrated(page);
  await page.getByLabel('Code from the email').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  // Every end-to-end user belongs to one workspace: signing in lands in it.
  await expect(page).toHaveURL(/\/w\/e2e$/);
  await expect(page.getByRole('heading', { name: 'E2E Mailboxes' })).toBeVisible();
}
