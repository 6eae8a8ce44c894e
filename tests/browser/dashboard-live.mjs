// Drives the real dashboard against a running Deskbeam server (used by tests/tests/dashboard.rs):
// sign in, create a PIN link, see it listed, revoke it, find both in the audit log.
// Usage: node dashboard-live.mjs --base http://127.0.0.1:PORT --user NAME --password PW
// Prints one JSON line; exit 0 on success.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deskbeam-dash-'));
const result = { ok: false };
const ctx = await chromium.launchPersistentContext(dir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await ctx.newPage();
  page.on('dialog', (d) => d.accept());
  await page.goto(`${args.base}/dashboard`);
  await page.waitForURL(/\/login/, { timeout: 15000 });
  await page.fill('input[type=password]', 'wrong password 123');
  await page.fill('input[name=name], #name', args.user);
  await page.keyboard.press('Enter');
  await page.waitForTimeout(800);
  result.wrongPasswordStaysOnLogin = page.url().includes('/login');
  await page.fill('input[type=password]', args.password);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/dashboard/, { timeout: 15000 });

  await page.click('#new-link-toggle');
  await page.fill('#link-label', 'live check');
  await page.check('#link-pin');
  await page.click('#create-link');
  await page.waitForFunction(() => (document.querySelector('#created-url')?.value ?? '').includes('/view#'), null, { timeout: 15000 });
  result.url = await page.inputValue('#created-url');
  result.pin = await page.inputValue('#created-pin');
  await page.click('#created-done').catch(() => {});
  await page.waitForSelector('#links-table :text("live check")', { timeout: 15000 });
  await page.click('button[aria-label="Revoke live check"]');
  await page.waitForFunction(() => document.querySelector('#links-table')?.textContent?.toLowerCase().includes('revoked'), null, { timeout: 15000 });
  result.revokedShown = true;
  await page.click('#audit-refresh').catch(() => {});
  await page.waitForFunction(() => /link_revoked/.test(document.querySelector('#audit-table')?.textContent ?? ''), null, { timeout: 15000 });
  const audit = await page.textContent('#audit-table');
  result.audit = ['login_failed', 'login_ok', 'link_created', 'link_revoked'].filter((k) => audit.includes(k));
  result.ok = true;
} catch (e) {
  result.error = String(e);
} finally {
  await ctx.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
