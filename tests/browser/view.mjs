#!/usr/bin/env node
// @ts-check
/**
 * Opens a Deskbeam viewer link in headless Debian Chromium (through playwright-core; it never
 * downloads a browser) and reports what the page shows, as JSON lines on stdout. Used by the
 * Rust end-to-end tests.
 *
 *   node tests/browser/view.mjs --url URL [--mode pixels|expired|ended|offline|control|control-denied|view-input]
 *        [--timeout-ms 30000] [--samples "x1,y1;x2,y2" ...] [--watch-ms N [--poll-ms M]]
 *        [--click fx,fy ...] [--type TEXT] [--enter] [--hold-ms 500] [--pin DIGITS] [--chromium PATH]
 *
 * --pin   when the viewer asks for a PIN (state "pin"), types DIGITS into its form and submits it,
 *         once: if it asks again (wrong PIN) or there is no --pin, that is a failure. Any mode.
 *
 * pixels  (default) waits for body[data-state=connected] and a rendered frame, draws the video at
 *         its native size into a canvas and averages a 16x16 block at each sample point (x, y are
 *         fractions 0..1 of width/height; default the centre). Prints one line:
 *         {"ok":true,"width":W,"height":H,"samples":[{"x","y","px","py","r","g","b"}],"state","stats"}
 *         With --watch-ms N it prints such a line (plus "t_ms") every --poll-ms (default 500) for N ms.
 * expired waits for state "expired"; prints {"ok":true,"state":"expired","message":"<#message text>"}.
 * offline waits for a frame and prints {"ok":true,"state":"connected"}; then waits until the page
 *         says the host is offline (lastError host_offline) and prints {"ok":true,"state",
 *         "code":"host_offline","message","video":"hidden"|"visible"} (is the last picture still up?).
 * ended   waits for any state the viewer ends in without retrying on its own: revoked, expired,
 *         kicked, ended or locked (not error); prints {"ok":true,"state":S,"message":"<#message text>"}.
 * control waits for a frame, clicks "Request control" and waits for body[data-control=granted];
 *         then, with the real mouse, clicks each --click point (fractions of the picture, not of
 *         the letterboxed element), types --type TEXT (page.keyboard.type, 20 ms apart) and presses
 *         Enter if --enter. Prints {"ok":true,"state":"connected","control":"granted",
 *         "clicked":[{"fx","fy","clientX","clientY"}],"typed":TEXT|null,"enter":bool}, then waits
 *         --hold-ms (default 500) so the input is delivered before the page closes.
 * control-denied clicks "Request control" and waits for the agent's answer other than
 *         pending/granted; prints {"ok":true,"control":"free"|"taken","reason":"…"|null,"toast":"…"|null}.
 * view-input does not ask for control: it sends what --click/--type/--enter would (default: a
 *         click in the centre) as raw messages through window.deskbeam.debugSend, waits --hold-ms
 *         and prints {"ok":true,"sent":N,"control":state,"rejected":count,"lastRejected":code|null}
 *         (rejected: `rejected` answers the agent sent this page).
 *
 * On failure (timeout, or the viewer settled in another final state) it prints
 * {"ok":false,"reason","state","lastError","message","console":[last 20 console lines]} and exits 1;
 * bad flags exit 2. Page console errors go to stderr. The browser is always closed and its
 * temporary profile deleted, also on SIGINT/SIGTERM.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
];
const FINAL_STATES = ['expired', 'revoked', 'locked', 'kicked', 'error', 'ended'];
/** Where --mode ended may settle: the viewer stopped for a reason it shows (not an error). */
const ENDED_STATES = ['revoked', 'expired', 'kicked', 'ended', 'locked'];
const BLOCK = 16;

/** @typedef {{x: number, y: number}} Point */
/** @typedef {'pixels'|'expired'|'ended'|'control'|'control-denied'|'view-input'} Mode */
/**
 * @typedef {{url: string, mode: Mode, timeoutMs: number, samples: Point[], watchMs: number,
 *   pollMs: number, clicks: Point[], type: string|null, enter: boolean, holdMs: number,
 *   pin: string|null, chromium: string}} Config
 */
/** @type {ReadonlyArray<string>} */
const MODES = ['pixels', 'expired', 'ended', 'offline', 'control', 'control-denied', 'view-input'];

class UsageError extends Error {}
/** The viewer did not get where it should; `reason` says why. */
class Failure extends Error {}

/** Turns argv into a validated Config. @param {string[]} argv @returns {Config} */
function parseArgs(argv) {
  /** @type {Config} */
  const config = {
    url: '', mode: 'pixels', timeoutMs: 30_000, samples: [], watchMs: 0, pollMs: 500,
    clicks: [], type: null, enter: false, holdMs: 500, pin: null, chromium: '/usr/bin/chromium',
  };
  const int = (/** @type {string} */ flag, /** @type {string|undefined} */ v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} needs a positive integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--url': config.url = value(); break;
      case '--mode': {
        const mode = value();
        if (!MODES.includes(mode)) throw new UsageError(`unknown --mode ${mode} (${MODES.join(', ')})`);
        config.mode = /** @type {Mode} */ (mode);
        break;
      }
      case '--timeout-ms': config.timeoutMs = int(flag, value()); break;
      case '--watch-ms': config.watchMs = int(flag, value()); break;
      case '--poll-ms': config.pollMs = int(flag, value()); break;
      case '--chromium': config.chromium = value(); break;
      case '--click': config.clicks.push(...parsePoints(value())); break;
      case '--type': config.type = value(); break;
      case '--enter': config.enter = true; break;
      case '--pin': {
        const pin = value();
        if (!/^[0-9]{4,12}$/.test(pin)) throw new UsageError(`--pin needs 4 to 12 digits, got ${pin}`);
        config.pin = pin;
        break;
      }
      case '--hold-ms': {
        const v = value();
        config.holdMs = Number(v);
        if (!Number.isInteger(config.holdMs) || config.holdMs < 0) throw new UsageError(`--hold-ms needs a whole number, got ${v}`);
        break;
      }
      case '--samples':
        // "x1,y1;x2,y2" in one argument, or several arguments up to the next flag.
        do config.samples.push(...parsePoints(value())); while (argv[i + 1] && !argv[i + 1].startsWith('--'));
        break;
      default: throw new UsageError(`unknown argument ${flag}`);
    }
  }
  if (!config.url) throw new UsageError('--url is required');
  try { new URL(config.url); } catch { throw new UsageError(`--url is not a URL: ${config.url}`); }
  if (config.samples.length === 0) config.samples.push({ x: 0.5, y: 0.5 });
  return config;
}

/** "0.25,0.5;0.75,0.5" → points. @param {string} text @returns {Point[]} */
function parsePoints(text) {
  return text.split(';').filter((p) => p.trim() !== '').map((pair) => {
    const [x, y, extra] = pair.split(',').map((v) => Number(v.trim()));
    const ok = extra === undefined && [x, y].every((v) => Number.isFinite(v) && v >= 0 && v <= 1);
    if (!ok) throw new UsageError(`bad point "${pair}" (want x,y with 0 <= x, y <= 1)`);
    return { x, y };
  });
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @param {unknown} record */
function emit(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

/**
 * What the page says about itself (`window.deskbeam`, `#message`).
 * @param {import('playwright-core').Page} page
 */
async function pageStatus(page) {
  return page.evaluate(() => {
    const d = /** @type {any} */ (window).deskbeam;
    return {
      state: d?.state ?? document.body?.dataset.state ?? null,
      lastError: d?.lastError ?? null,
      stats: d?.stats ?? null,
      message: document.getElementById('message')?.textContent ?? null,
    };
  });
}

/** The PIN to type when the viewer asks (--pin; set once by `run`), and whether it was typed. */
const pinEntry = { digits: /** @type {string|null} */ (null), entered: false };

/**
 * If the viewer shows its PIN form, types --pin into it and submits, once; a second request
 * means the PIN was refused.
 * @param {import('playwright-core').Page} page @param {{state: string|null, message: string|null}|null} status
 */
async function answerPin(page, status) {
  if (status?.state !== 'pin') return;
  if (pinEntry.digits === null) throw new Failure(`the link asks for a PIN (pass --pin): ${status.message}`);
  if (pinEntry.entered) throw new Failure(`the PIN was refused: ${status.message}`);
  pinEntry.entered = true;
  await page.fill('#pin', pinEntry.digits);
  await page.press('#pin', 'Enter');
}

/**
 * Polls until the viewer is in `target`; fails early if it settles in another final state.
 * @param {import('playwright-core').Page} page @param {string} target @param {number} deadline
 */
async function waitForState(page, target, deadline) {
  for (;;) {
    const status = await pageStatus(page).catch(() => null);
    if (status?.state === target) return status;
    await answerPin(page, status);
    if (status?.state && FINAL_STATES.includes(status.state)) {
      throw new Failure(`viewer settled in state "${status.state}" while waiting for "${target}"`);
    }
    if (Date.now() >= deadline) throw new Failure(`timed out waiting for state "${target}"`);
    await sleep(100);
  }
}

/**
 * Waits until the video has a size and has presented a frame.
 * @param {import('playwright-core').Page} page @param {number} deadline
 */
async function waitForFrames(page, deadline) {
  const ok = await page.evaluate(async (ms) => {
    const video = document.querySelector('video');
    if (!video) return false;
    let presented = 0;
    const onFrame = () => { presented++; };
    if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(onFrame);
    const start = video.currentTime;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const rendered = presented > 0 || video.getVideoPlaybackQuality().totalVideoFrames > 0 ||
        video.currentTime > start;
      if (video.videoWidth > 0 && video.readyState >= 2 && rendered) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }, Math.max(1, deadline - Date.now()));
  if (!ok) throw new Failure('timed out waiting for a rendered video frame');
}

/**
 * Draws the current frame at native size and averages a block around each point.
 * @param {import('playwright-core').Page} page @param {Point[]} points
 */
async function samplePixels(page, points) {
  return page.evaluate(({ points, block }) => {
    const video = /** @type {HTMLVideoElement} */ (document.querySelector('video'));
    const width = video.videoWidth;
    const height = video.videoHeight;
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d', { willReadFrequently: true }));
    ctx.drawImage(video, 0, 0, width, height);
    const samples = points.map(({ x, y }) => {
      const bw = Math.min(block, width);
      const bh = Math.min(block, height);
      const px = Math.min(width - 1, Math.floor(x * width));
      const py = Math.min(height - 1, Math.floor(y * height));
      const left = Math.max(0, Math.min(width - bw, px - bw / 2));
      const top = Math.max(0, Math.min(height - bh, py - bh / 2));
      const data = ctx.getImageData(left, top, bw, bh).data;
      let r = 0, g = 0, b = 0;
      for (let i = 0; i < data.length; i += 4) { r += data[i]; g += data[i + 1]; b += data[i + 2]; }
      const n = data.length / 4;
      return { x, y, px, py, r: Math.round(r / n), g: Math.round(g / n), b: Math.round(b / n) };
    });
    return { width, height, samples };
  }, { points, block: BLOCK });
}

/** @param {import('playwright-core').Page} page @param {Config} config @param {number} deadline */
async function runPixels(page, config, deadline) {
  await waitForState(page, 'connected', deadline);
  await waitForFrames(page, deadline);
  // The viewer refreshes its stats once a second (bitrate from the second reading on): give it
  // a moment so they are filled in, without failing if they are not.
  await page.waitForFunction(() => /** @type {any} */ (window).deskbeam?.stats?.bitrateKbps != null,
    undefined, { timeout: Math.max(1, Math.min(2500, deadline - Date.now())), polling: 100 }).catch(() => {});
  const snapshot = async () => {
    const pixels = await samplePixels(page, config.samples);
    const { state, stats } = await pageStatus(page);
    return { ok: true, ...pixels, state, stats };
  };
  if (config.watchMs === 0) return emit(await snapshot());
  const start = Date.now();
  for (let next = start; next - start <= config.watchMs; next += config.pollMs) {
    await sleep(next - Date.now());
    emit({ t_ms: Date.now() - start, ...(await snapshot()) });
  }
}

/** @param {import('playwright-core').Page} page @param {number} deadline */
async function runExpired(page, deadline) {
  const { state, message } = await waitForState(page, 'expired', deadline);
  emit({ ok: true, state, message });
}

/**
 * Watches, then waits for the page to say the host is offline (the agent went away under it).
 * @param {import('playwright-core').Page} page @param {number} deadline
 */
async function runOffline(page, deadline) {
  await waitForState(page, 'connected', deadline);
  await waitForFrames(page, deadline);
  emit({ ok: true, state: 'connected' });
  for (;;) {
    const status = await pageStatus(page);
    if (status.lastError?.code === 'host_offline') {
      const video = await page.evaluate(() => {
        const v = document.querySelector('video');
        return v && getComputedStyle(v).visibility === 'visible' ? 'visible' : 'hidden';
      });
      return emit({ ok: true, state: status.state, code: 'host_offline', message: status.message, video });
    }
    if (Date.now() >= deadline) throw new Failure(`timed out waiting for "host offline" (state ${status.state})`);
    await sleep(100);
  }
}

/** Waits until the viewer stops for a reason it shows (ENDED_STATES). @param {import('playwright-core').Page} page @param {number} deadline */
async function runEnded(page, deadline) {
  for (;;) {
    const status = await pageStatus(page).catch(() => null);
    if (status?.state && ENDED_STATES.includes(status.state)) return emit({ ok: true, state: status.state, message: status.message });
    await answerPin(page, status);
    if (status?.state === 'error') throw new Failure(`viewer settled in state "error" while waiting for it to end`);
    if (Date.now() >= deadline) throw new Failure(`timed out waiting for one of ${ENDED_STATES.join(', ')}`);
    await sleep(100);
  }
}

// ---- Remote control ----------------------------------------------------------------------

/** @typedef {{state: string, canRequest: boolean, holder: string|null, reason: string|null, seq: number}} Control */

/** `window.deskbeam.control` ("none" until the input channel is open). @param {import('playwright-core').Page} page */
async function controlStatus(page) {
  return page.evaluate(() => {
    const d = /** @type {any} */ (window).deskbeam;
    return {
      control: /** @type {Control} */ (d?.control ?? { state: 'none', canRequest: false, holder: null, reason: null, seq: 0 }),
      rejected: /** @type {{count: number, last: {code: string}|null}} */ (d?.rejected ?? { count: 0, last: null }),
      toast: document.getElementById('toast')?.hidden === false ? document.getElementById('toast')?.textContent ?? null : null,
    };
  });
}

/**
 * Polls `window.deskbeam.control` until `done` says so.
 * @param {import('playwright-core').Page} page @param {(c: Control) => boolean} done
 * @param {number} deadline @param {string} what
 */
async function waitForControl(page, done, deadline, what) {
  for (;;) {
    const status = await controlStatus(page).catch(() => null);
    if (status && done(status.control)) return status;
    const viewer = await pageStatus(page).catch(() => null);
    await answerPin(page, viewer);
    const state = viewer?.state;
    if (state && FINAL_STATES.includes(state)) throw new Failure(`viewer settled in state "${state}" while waiting for ${what}`);
    if (Date.now() >= deadline) {
      throw new Failure(`timed out waiting for ${what} (control ${JSON.stringify(status?.control ?? null)})`);
    }
    await sleep(100);
  }
}

/** Connected, a frame shown and the agent's first `control` message in. @param {import('playwright-core').Page} page @param {number} deadline */
async function waitForInputChannel(page, deadline) {
  await waitForState(page, 'connected', deadline);
  await waitForFrames(page, deadline);
  return waitForControl(page, (c) => c.state !== 'none', deadline, 'the input channel to open');
}

/** Clicks "Request control" with the real mouse. @param {import('playwright-core').Page} page @param {number} deadline */
async function clickRequest(page, deadline) {
  const button = page.locator('[data-testid="request-control"]');
  if (!(await button.isVisible())) {
    const { control } = await controlStatus(page);
    throw new Failure(`no Request control button (control ${JSON.stringify(control)}; a view-only link?)`);
  }
  await button.click({ timeout: Math.max(1, deadline - Date.now()) });
}

/**
 * The picture's rectangle in client pixels: the video element letterboxes it (object-fit: contain).
 * Computed here, independently of the viewer's own code.
 * @param {import('playwright-core').Page} page
 */
async function pictureRect(page) {
  return page.evaluate(() => {
    const video = /** @type {HTMLVideoElement} */ (document.querySelector('video'));
    const box = video.getBoundingClientRect();
    const scale = Math.min(box.width / video.videoWidth, box.height / video.videoHeight);
    const width = video.videoWidth * scale;
    const height = video.videoHeight * scale;
    return { left: box.left + (box.width - width) / 2, top: box.top + (box.height - height) / 2, width, height };
  });
}

/** @param {import('playwright-core').Page} page @param {Config} config @param {number} deadline */
async function runControl(page, config, deadline) {
  const { control: before } = await waitForInputChannel(page, deadline);
  if (before.state !== 'granted') {
    await clickRequest(page, deadline);
    const answered = (/** @type {Control} */ c) => c.state === 'granted' || (c.seq > before.seq && c.state !== 'pending' && c.reason !== null);
    const { control } = await waitForControl(page, answered, deadline, 'control to be granted');
    if (control.state !== 'granted') throw new Failure(`control was not granted: ${control.reason ?? control.state}`);
  }
  const round = (/** @type {number} */ v) => Math.round(v * 100) / 100;
  const clicked = [];
  for (const { x: fx, y: fy } of config.clicks) {
    const rect = await pictureRect(page);
    const clientX = round(rect.left + fx * rect.width);
    const clientY = round(rect.top + fy * rect.height);
    await page.mouse.move(clientX, clientY, { steps: 4 });
    await page.mouse.click(clientX, clientY);
    clicked.push({ fx, fy, clientX, clientY });
    await sleep(100); // two clicks are two clicks, not a double-click
  }
  if (config.type !== null) {
    // Keys go to the page itself, not to a focused toolbar button.
    await page.evaluate(() => { if (document.activeElement instanceof HTMLElement) document.activeElement.blur(); });
    await page.keyboard.type(config.type, { delay: 20 });
  }
  if (config.enter) await page.keyboard.press('Enter');
  const { control } = await controlStatus(page);
  if (control.state !== 'granted') throw new Failure(`lost control while sending input: ${control.reason ?? control.state}`);
  emit({ ok: true, state: 'connected', control: 'granted', clicked, typed: config.type, enter: config.enter });
  await sleep(config.holdMs);
}

/** @param {import('playwright-core').Page} page @param {number} deadline */
async function runControlDenied(page, deadline) {
  const { control: before } = await waitForInputChannel(page, deadline);
  await clickRequest(page, deadline);
  // A refusal carries its reason; a reason-less state is the answer to the page's `hello`.
  const answered = (/** @type {Control} */ c) => c.state === 'granted' || (c.seq > before.seq && c.state !== 'pending' && c.reason !== null);
  const { control, toast } = await waitForControl(page, answered, deadline, 'the answer to the control request');
  if (control.state === 'granted') throw new Failure('control was granted');
  emit({ ok: true, control: control.state, reason: control.reason, toast });
}

/** `KeyboardEvent.code` of the US key for a character ("" if none: the agent types the text). @param {string} ch */
function usCode(ch) {
  if (/^[a-z]$/i.test(ch)) return `Key${ch.toUpperCase()}`;
  if (/^[0-9]$/.test(ch)) return `Digit${ch}`;
  return ({ ' ': 'Space', '\n': 'Enter', '\t': 'Tab' })[ch] ?? '';
}

/** @param {import('playwright-core').Page} page @param {Config} config @param {number} deadline */
async function runViewInput(page, config, deadline) {
  await waitForInputChannel(page, deadline);
  /** @type {object[]} */
  const messages = [];
  for (const { x, y } of config.clicks.length ? config.clicks : [{ x: 0.5, y: 0.5 }]) {
    messages.push({ t: 'move', x, y }, { t: 'button', b: 'left', down: true }, { t: 'button', b: 'left', down: false });
  }
  for (const ch of config.type ?? '') {
    const code = usCode(ch);
    messages.push({ t: 'key', code, down: true, text: ch }, { t: 'key', code, down: false, text: ch });
  }
  if (config.enter) messages.push({ t: 'key', code: 'Enter', down: true }, { t: 'key', code: 'Enter', down: false });
  const sent = await page.evaluate((list) => {
    const send = /** @type {any} */ (window).deskbeam?.debugSend;
    if (typeof send !== 'function') return -1;
    return list.filter((m) => send(m)).length;
  }, messages);
  if (sent < 0) throw new Failure('the viewer has no window.deskbeam.debugSend');
  await sleep(config.holdMs);
  const { control, rejected } = await controlStatus(page);
  emit({ ok: true, sent, control: control.state, rejected: rejected.count, lastRejected: rejected.last?.code ?? null });
}

/** @param {Config} config @returns {Promise<number>} exit code */
async function run(config) {
  const deadline = Date.now() + config.timeoutMs;
  pinEntry.digits = config.pin;
  const profile = await mkdtemp(join(tmpdir(), 'deskbeam-view-'));
  /** @type {import('playwright-core').BrowserContext | undefined} */
  let context;
  /** @type {string[]} */
  const consoleLines = [];
  /** @type {import('playwright-core').Page | undefined} */
  let page;
  const cleanup = async () => {
    // Leaving the page fires its pagehide handler, which DELETEs the WHEP resource.
    await page?.goto('about:blank', { timeout: 3000 }).catch(() => {});
    await context?.close().catch(() => {});
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  };
  for (const [signal, code] of /** @type {const} */ ([['SIGINT', 130], ['SIGTERM', 143]])) {
    process.once(signal, () => { void cleanup().finally(() => process.exit(code)); });
  }
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: config.chromium, headless: true, args: CHROMIUM_ARGS,
      handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
      timeout: Math.max(1000, deadline - Date.now()),
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (msg) => {
      consoleLines.push(`[${msg.type()}] ${msg.text()}`);
      if (consoleLines.length > 20) consoleLines.shift();
      if (msg.type() === 'error') process.stderr.write(`page console error: ${msg.text()}\n`);
    });
    page.on('pageerror', (err) => {
      consoleLines.push(`[pageerror] ${err.message}`);
      process.stderr.write(`page error: ${err.stack ?? err.message}\n`);
    });
    await page.goto(config.url, { waitUntil: 'domcontentloaded', timeout: Math.max(1, deadline - Date.now()) });
    if (config.mode === 'expired') await runExpired(page, deadline);
    else if (config.mode === 'ended') await runEnded(page, deadline);
    else if (config.mode === 'offline') await runOffline(page, deadline);
    else if (config.mode === 'control') await runControl(page, config, deadline);
    else if (config.mode === 'control-denied') await runControlDenied(page, deadline);
    else if (config.mode === 'view-input') await runViewInput(page, config, deadline);
    else await runPixels(page, config, deadline);
    return 0;
  } catch (err) {
    const reason = err instanceof Failure ? err.message : `error: ${err instanceof Error ? err.message.split('\n')[0] : err}`;
    const status = page ? await pageStatus(page).catch(() => null) : null;
    emit({
      ok: false, reason, state: status?.state ?? null, lastError: status?.lastError ?? null,
      message: status?.message ?? null, console: consoleLines.slice(-20),
    });
    return 1;
  } finally {
    await cleanup();
  }
}

async function main() {
  let config;
  try {
    config = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`view.mjs: ${err.message}\n`);
    return 2;
  }
  return run(config);
}

process.exitCode = await main();
