#!/usr/bin/env node
// @ts-check
/**
 * The viewer page's microphone in headless Debian Chromium with a fake capture device
 * (`--use-fake-device-for-media-stream`, a periodic beep; `--use-fake-ui-for-media-stream` grants
 * it). Opens the viewer link, waits for the picture, presses the mic button and keeps talking for
 * --hold-ms. Used by the Rust end-to-end test `tests/tests/voice.rs`.
 *
 *   node tests/browser/voice.mjs --url URL [--hold-ms 6000] [--timeout-ms 45000] [--chromium PATH]
 *
 * Prints {"ok":true,"mic":"on","maxLevel":L,"hostAudio":bool} once it has
 * talked for --hold-ms (maxLevel: the loudest the page's level meter read), or {"ok":false,"reason"}
 * and exits 1.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required',
];

/** @param {string[]} argv */
function parseArgs(argv) {
  const config = { url: '', holdMs: 6000, timeoutMs: 45_000, chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--url') config.url = value;
    else if (flag === '--hold-ms') config.holdMs = Number(value);
    else if (flag === '--timeout-ms') config.timeoutMs = Number(value);
    else if (flag === '--chromium') config.chromium = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!config.url) throw new Error('--url is required');
  return config;
}

/** @param {object} line */
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

async function main() {
  const config = parseArgs(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'deskbeam-voice-'));
  /** @type {import('playwright-core').BrowserContext|null} */
  let context = null;
  try {
    context = await chromium.launchPersistentContext(dir, { executablePath: config.chromium, args: CHROMIUM_ARGS, headless: true });
    const page = await context.newPage();
    await page.goto(config.url);
    await page.waitForFunction(() => /** @type {any} */ (window).deskbeam?.state === 'connected', undefined, { timeout: config.timeoutMs });
    await page.getByTestId('mic-toggle').click();
    await page.waitForFunction(() => /** @type {any} */ (window).deskbeam?.voice?.mic === 'on', undefined, { timeout: config.timeoutMs });
    let maxLevel = 0;
    const until = Date.now() + config.holdMs;
    while (Date.now() < until) {
      maxLevel = Math.max(maxLevel, await page.evaluate(() => /** @type {any} */ (window).deskbeam.voice.level));
      await page.waitForTimeout(50);
    }
    const state = await page.evaluate(() => {
      const w = /** @type {any} */ (window);
      return { mic: w.deskbeam.voice.mic, hostAudio: w.deskbeam.voice.hostAudio };
    });
    print({ ok: true, ...state, maxLevel });
  } catch (e) {
    print({ ok: false, reason: e instanceof Error ? e.message : String(e) });
    process.exitCode = 1;
  } finally {
    await context?.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
