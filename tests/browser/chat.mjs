#!/usr/bin/env node
// @ts-check
/**
 * Chat in real viewer pages: opens two viewer links in headless Debian Chromium (two browser
 * contexts, through playwright-core; it never downloads a browser), has each page say something
 * through its chat panel, and waits until both pages show every message, the host's included.
 * Used by the Rust end-to-end test `tests/tests/chat.rs`, which types the host's line at the
 * agent's terminal once this script says it is ready.
 *
 *   node tests/browser/chat.mjs --url URL_A --url URL_B --say-a TEXT --say-b TEXT
 *        [--expect N] [--timeout-ms 45000] [--chromium PATH]
 *
 * Prints JSON lines on stdout: {"ready":true,"names":[nameA,nameB]} once both pages are connected
 * and named; then {"ok":true,"pages":[{"name","messages":[{"seq","from","role","text","mine"}],
 * "shown":[{"from","text"}],"markup":n}]} once both show --expect (default 3) messages, where
 * `shown` is read back from the page's chat log and `markup` counts elements other than the
 * panel's own inside the message texts (must be 0). On failure {"ok":false,"reason"} and exit 1.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/** @param {string[]} argv */
function parseArgs(argv) {
  const config = { urls: /** @type {string[]} */ ([]), say: ['', ''], expect: 3, timeoutMs: 45_000, chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--url') config.urls.push(value);
    else if (flag === '--say-a') config.say[0] = value;
    else if (flag === '--say-b') config.say[1] = value;
    else if (flag === '--expect') config.expect = Number(value);
    else if (flag === '--timeout-ms') config.timeoutMs = Number(value);
    else if (flag === '--chromium') config.chromium = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  if (config.urls.length !== 2 || !config.say[0] || !config.say[1]) throw new Error('two --url, --say-a and --say-b are required');
  return config;
}

/** @param {object} line */
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

/** What one page shows in its chat. @param {import('playwright-core').Page} page */
function readChat(page) {
  return page.evaluate(() => {
    const w = /** @type {any} */ (window);
    const log = document.getElementById('chat-log');
    const shown = [...(log?.querySelectorAll('.chat-message') ?? [])].map((li) => ({
      from: li.querySelector('.chat-from')?.textContent ?? '',
      text: li.querySelector('.chat-text')?.textContent ?? '',
    }));
    const markup = [...(log?.querySelectorAll('.chat-text') ?? [])].reduce((n, p) => n + p.querySelectorAll('*').length, 0);
    const messages = (w.deskbeam?.chat?.messages ?? []).map((/** @type {any} */ m) => ({ seq: m.seq, from: m.from, role: m.role, text: m.text, mine: m.mine }));
    return { name: w.deskbeam?.chat?.name ?? null, messages, shown, markup, pwned: w.pwned === true };
  });
}

async function main() {
  const config = parseArgs(process.argv.slice(2));
  const dirs = await Promise.all(config.urls.map(() => mkdtemp(join(tmpdir(), 'deskbeam-chat-'))));
  /** @type {import('playwright-core').BrowserContext[]} */
  const contexts = [];
  const cleanup = async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  };
  process.on('SIGTERM', () => { void cleanup().then(() => process.exit(1)); });
  try {
    for (const dir of dirs) {
      contexts.push(await chromium.launchPersistentContext(dir, { executablePath: config.chromium, args: CHROMIUM_ARGS, headless: true }));
    }
    const pages = await Promise.all(contexts.map((c, i) => c.newPage().then(async (p) => { await p.goto(config.urls[i]); return p; })));
    const timeout = config.timeoutMs;
    await Promise.all(pages.map((p) => p.waitForFunction(() => {
      const w = /** @type {any} */ (window);
      return w.deskbeam?.state === 'connected' && typeof w.deskbeam?.chat?.name === 'string';
    }, undefined, { timeout })));
    const names = await Promise.all(pages.map((p) => p.evaluate(() => /** @type {any} */ (window).deskbeam.chat.name)));
    print({ ready: true, names });
    for (const [i, page] of pages.entries()) {
      await page.getByTestId('chat-toggle').click();
      await page.getByTestId('chat-input').fill(config.say[i]);
      await page.getByTestId('chat-send').click();
    }
    await Promise.all(pages.map((p) => p.waitForFunction((n) => {
      const w = /** @type {any} */ (window);
      return (w.deskbeam?.chat?.messages?.length ?? 0) >= n && document.querySelectorAll('#chat-log .chat-message').length >= n;
    }, config.expect, { timeout })));
    const result = await Promise.all(pages.map(readChat));
    print({ ok: true, pages: result });
  } catch (e) {
    print({ ok: false, reason: e instanceof Error ? e.message : String(e) });
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

await main();
