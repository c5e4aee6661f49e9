import { expect, test, type Page } from '@playwright/test';

// The applicant's capture page, audited by axe-core (WCAG 2 A/AA and best practices) at a
// phone's width and a desktop's: the consent step, the photo-ID step and a link that is
// no longer valid. The context bypasses the page's CSP only so that axe's script can be
// injected; the CSP itself is checked by the API tests (capture::) and csp.spec.ts.

const base = process.env.BASE_URL ?? 'http://127.0.0.1:8080';
const token = process.env.E2E_TOKEN ?? '';

test.skip(!token, 'needs E2E_TOKEN (scripts/test sets it)');

async function api(method: string, url: string, body?: unknown) {
  const response = await fetch(`${base}/api/v1${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: response.status === 204 ? null : await response.json() };
}

async function newLink(reference: string) {
  const created = await api('POST', '/usps1583/verifications', {
    reference,
    applicant: {
      first_name: 'Ada', last_name: 'Lovelace', date_of_birth: '1990-12-10',
      address: { line1: '12 Main Street', city: 'Springfield', state: 'IL', postal_code: '62701', country: 'US' },
    },
    photo_id: { type: 'drivers_license', country: 'US' },
    proof_of_address: { type: 'lease', country: 'US' },
  });
  expect(created.status).toBe(201);
  const link = await api('POST', `/usps1583/verifications/${created.json.id}/capture-links`, {});
  expect(link.status).toBe(201);
  return { verification: created.json.id as string, id: link.json.id as string, url: link.json.url as string };
}

async function audit(page: Page, what: string) {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const result = await page.evaluate(() => (window as any).axe.run({ runOnly: ['wcag2a', 'wcag2aa', 'best-practice'] }));
  const violations = result.violations.map((v: any) => `${v.id}: ${v.nodes.map((n: any) => n.target.join(' ')).join(', ')}`);
  expect(violations, `${what} at ${page.viewportSize()?.width} px`).toEqual([]);
}

for (const width of [360, 1280]) {
  test(`the capture page is axe-clean at ${width} px`, async ({ browser }) => {
    const context = await browser.newContext({ bypassCSP: true, viewport: { width, height: 800 } });
    const page = await context.newPage();
    const link = await newLink(`a11y-${width}`);
    await page.goto(link.url);
    await expect(page.locator('h1')).toBeVisible();
    await audit(page, 'the consent step');
    await page.getByLabel('I agree to have my documents and selfie checked.').check();
    await page.getByRole('button', { name: 'Start' }).click();
    await expect(page.locator('input[type=file]').first()).toBeAttached();
    await audit(page, 'the photo ID step');
    expect((await api('DELETE', `/usps1583/verifications/${link.verification}/capture-links/${link.id}`)).status).toBe(204);
    await page.goto(link.url);
    await audit(page, 'a link that is no longer valid');
    await context.close();
  });
}
