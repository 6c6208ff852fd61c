// Browser test of the admin UI (driven by TestAdminBrowser in
// admin_browser_test.go): Debian's Chromium through playwright-core, against
// a running `dxhub serve`. Every step saves a screenshot into $ARTIFACTS.
//
// Env: BASE (hub URL), SUB_A (tenant A's dead-lettered submission), TENANT_A,
// TENANT_B, USER_A/PASS_A, USER_B/PASS_B, ARTIFACTS, CHROMIUM, PROFILE_DIR.
'use strict';
const { chromium } = require('playwright-core');
const path = require('path');

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`environment variable ${k} is not set`);
  return v;
};
const BASE = env('BASE'), SUB_A = env('SUB_A'), TENANT_A = env('TENANT_A'), TENANT_B = env('TENANT_B');
const ARTIFACTS = env('ARTIFACTS');
let shot = 0;

function check(cond, msg) {
  if (!cond) throw new Error('check failed: ' + msg);
}

async function screenshot(page, name) {
  shot++;
  const file = path.join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`step ${shot}: ${name} (${page.url()}) -> ${path.basename(file)}`);
}

async function launch(profile) {
  // A fresh user data directory per operator: nothing is shared.
  const ctx = await chromium.launchPersistentContext(path.join(env('PROFILE_DIR'), profile), {
    executablePath: env('CHROMIUM'),
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  ctx.setDefaultTimeout(20000);
  const page = ctx.pages()[0] || await ctx.newPage();
  return { ctx, page };
}

async function login(page, user, pass) {
  await page.goto(BASE + '/admin/');
  check(page.url().startsWith(BASE + '/admin/login'), 'not logged in: the UI sends us to the login page, got ' + page.url());
  // Keyboard first: the skip link is the first thing Tab reaches.
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('href')) === '#main',
    'the first Tab stop is the skip link');
  // Fields are found by their visible labels (no label, no test).
  await page.getByLabel('Account name').fill(user);
  await page.getByLabel('Password').fill(pass);
  await screenshot(page, `login-${user}`);
  await page.getByLabel('Password').press('Enter'); // submit with the keyboard
  await page.waitForURL(BASE + '/admin/t/**');
  check((await page.getByTestId('user').textContent()) === user, 'header names the logged-in account');
}

async function tenantA() {
  const { ctx, page } = await launch('operator-a');
  try {
    // Wrong password first: a generic message tied to the fields.
    await page.goto(BASE + '/admin/login');
    await page.getByLabel('Account name').fill(env('USER_A'));
    await page.getByLabel('Password').fill('definitely not it');
    await page.getByRole('button', { name: 'Log in' }).click();
    const alert = page.getByRole('alert');
    check((await alert.textContent()).trim() === 'Wrong name or password.', 'generic wrong-login message');
    check(await page.getByLabel('Password').getAttribute('aria-describedby') === 'login-error', 'error is associated with the field');
    await screenshot(page, 'wrong-password');

    await login(page, env('USER_A'), env('PASS_A'));
    await screenshot(page, 'overview-a');

    await page.getByRole('navigation', { name: /Pages of/ }).getByRole('link', { name: 'Dead letters' }).click();
    await page.waitForURL(`${BASE}/admin/t/${TENANT_A}/deadletters`);
    const row = page.getByRole('row').filter({ hasText: SUB_A });
    check(await row.count() === 1, 'the dead-lettered submission is listed');
    check((await row.textContent()).includes('no route'), 'the dead letter shows its reason');
    await screenshot(page, 'deadletters-a');

    // A POST without the CSRF token is refused (the session cookie is sent).
    const forged = await ctx.request.post(`${BASE}/admin/t/${TENANT_A}/deadletters/${SUB_A}/retry`, {
      form: { reason: 'forged' }, maxRedirects: 0,
    });
    check(forged.status() === 403, `POST without CSRF token: status ${forged.status()}, want 403`);
    check((await forged.text()).includes('security token missing'), 'refused because of the missing token');
    console.log('POST without CSRF token refused with 403');

    // Retry with the keyboard: focus the button, press Enter.
    await row.getByRole('button', { name: `Retry ${SUB_A}` }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`${BASE}/admin/t/${TENANT_A}/submissions/${SUB_A}?done=retried`);
    check((await page.getByRole('status').textContent()).includes('queued again'), 'confirmation after retry');
    await screenshot(page, 'retried-a');

    // The hub delivers it (the route is fixed): reload until the status says so.
    let status = '';
    for (let i = 0; i < 100; i++) {
      status = (await page.getByTestId('status').textContent()).trim();
      if (status.includes('delivered')) break;
      await page.waitForTimeout(100);
      await page.reload();
    }
    check(status.includes('delivered'), `status after retry: ${status}`);
    const history = await page.getByRole('table', { name: /Status events/ }).textContent();
    check(history.includes('dead letter retried by admin ' + env('USER_A')), 'history names the operator');
    await screenshot(page, 'delivered-a');

    await page.getByRole('navigation', { name: /Pages of/ }).getByRole('link', { name: 'Routes in use' }).click();
    const routes = await page.getByRole('table', { name: /^Routes:/ }).textContent();
    check(routes.includes('ags:' + TENANT_A) && routes.includes('built-in mailbox'), 'the route the retry used is listed');
    check(!routes.includes('ags:' + TENANT_B), "no route of tenant B");
    await screenshot(page, 'routes-a');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(BASE + '/admin/login?out=1');
    await page.goto(`${BASE}/admin/t/${TENANT_A}/submissions/${SUB_A}`);
    check(page.url().startsWith(BASE + '/admin/login'), 'after logout the detail page needs a login again');
    await screenshot(page, 'logged-out-a');
  } finally {
    await ctx.close();
  }
}

async function tenantB() {
  const { ctx, page } = await launch('operator-b');
  try {
    await login(page, env('USER_B'), env('PASS_B'));
    check(page.url() === `${BASE}/admin/t/${TENANT_B}/`, 'operator B lands on tenant B');
    await screenshot(page, 'overview-b');

    await page.getByRole('link', { name: 'Submissions', exact: true }).click();
    const list = await page.getByRole('table').textContent();
    check(!list.includes(SUB_A), "tenant A's submission is not in B's list");
    await page.getByLabel('Reference or submission ID').fill(SUB_A);
    await page.getByRole('button', { name: 'Filter' }).click();
    check(await page.getByRole('row').filter({ hasText: SUB_A }).count() === 0, "searching for A's ID finds nothing");
    check((await page.getByRole('table').textContent()).includes('No submissions match'), 'empty result');
    await screenshot(page, 'search-b');

    await page.getByRole('link', { name: 'Dead letters' }).click();
    check(!(await page.locator('main').textContent()).includes(SUB_A), "A's dead letter is not in B's list");
    await screenshot(page, 'deadletters-b');

    for (const url of [`${BASE}/admin/t/${TENANT_B}/submissions/${SUB_A}`, `${BASE}/admin/t/${TENANT_A}/submissions/${SUB_A}`,
      `${BASE}/admin/t/${TENANT_A}/`]) {
      const resp = await page.goto(url);
      check(resp.status() === 404, `${url}: status ${resp.status()}, want 404`);
      check(!(await page.locator('main').textContent()).includes('dead'), '404 page reveals nothing');
    }
    await screenshot(page, 'direct-url-404-b');
  } finally {
    await ctx.close();
  }
}

(async () => {
  await tenantA();
  await tenantB();
  console.log('browser test passed');
})().catch((e) => {
  console.error(e && e.stack || e);
  process.exit(1);
});
