#!/usr/bin/env node
// @ts-check
/**
 * Glass-to-glass latency through the real viewer page: opens a Deskbeam viewer link in headless
 * Debian Chromium (playwright-core; it never downloads a browser) while the shared X screen shows
 * the wall clock as a row of black/white cells (painted by `deskbeam-g2g`, see
 * tests/src/bin/deskbeam-g2g/pattern.rs for the layout). For every frame the page presents,
 * `video.requestVideoFrameCallback` draws the row into a canvas, decodes it and compares it with
 * the same clock (CLOCK_REALTIME on both sides, same machine).
 *
 *   node tests/browser/g2g.mjs --url URL [--seconds 20] [--screen WxH] [--timeout-ms 45000]
 *        [--jitter-buffer-target MS] [--raf-check] [--chromium PATH]
 *
 * The glass is the frame's `expectedDisplayTime` (when the browser expects it to be visible; never
 * taken earlier than its `presentationTime`, which headless Chromium sometimes reports later),
 * moved from the page's monotonic clock to wall-clock milliseconds with an offset measured
 * against `Date.now()` to a fraction of a millisecond. Latency = glass − painted time. Also split at
 * `receiveTime` (the last packet of the frame arrived) and `presentationTime` (the frame reached
 * the compositor): painted → received is the agent and the network, received → presented the
 * browser's jitter buffer, decoder and renderer, presented → glass the compositor's frame.
 * The callback's own time (`now`, "toCallback") is when the page's rendering first has the frame;
 * --raf-check confirms it. Chromium composites video off the main thread, so with its default
 * render-time pacing the callback runs up to a frame after `expectedDisplayTime`, while in its
 * zero-playout-delay mode `expectedDisplayTime` lies one to two frames after the callback. Both
 * are reported; the headline stays the browser's own display estimate.
 * --screen      the shared screen's size, so a scaled video is read at the right place (default:
 *               the video's own size).
 * --raf-check   also draws the video on every animation frame and notes when each time first
 *               shows there ("rafSeen"): a check on the browser's own timestamps that needs no
 *               frame metadata.
 * --jitter-buffer-target sets `RTCRtpReceiver.jitterBufferTarget` (ms) on the page's receiver as
 *               soon as its track arrives, to compare with the viewer's own setting.
 *
 * Prints one JSON line: {"ok":true,"latency":{p50,p95,p99,min,max,n},"toReceive":{…},
 * "receiveToPresent":{…},"presentToGlass":{…},"toCallback":{painted → the rVFC callback ran},
 * "rafSeen":{…}|null,"raw":{the same six as arrays of ms},"decoded",
 * "rejected","repeats","future","clockDriftMs","video":{width,height},"browser":{decodeMs,
 * jitterBufferMs,jitterBufferTargetMs,jitterBufferMinimumMs,processingMs,fps,framesDropped},
 * "extensions":{"offered":[RTP header extension URIs],"answered":[…]}}
 * (times in ms; `rejected`: frames whose row did not read cleanly; `repeats`: the same time as
 * the frame before; `future`: a time ahead of the clock, which would mean the clocks disagree).
 * On failure {"ok":false,"reason",…} and exit 1; bad flags exit 2. The browser is always closed
 * and its temporary profile deleted, also on SIGINT/SIGTERM.
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

/** The pattern's layout in screen pixels (pattern.rs). */
const LAYOUT = Object.freeze({ cell: 32, origin: 32, timeBits: 24, checkBits: 8 });

/**
 * @typedef {{url: string, seconds: number, screen: {width: number, height: number}|null,
 *   timeoutMs: number, jitterBufferTarget: number|null, rafCheck: boolean, chromium: string}} Config
 */

class UsageError extends Error {}

/** @param {string[]} argv @returns {Config} */
function parseArgs(argv) {
  /** @type {Config} */
  const config = { url: '', seconds: 20, screen: null, timeoutMs: 45_000, jitterBufferTarget: null, rafCheck: false, chromium: '/usr/bin/chromium' };
  const whole = (/** @type {string} */ flag, /** @type {string} */ v, /** @type {number} */ min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs a whole number >= ${min}, got ${v}`);
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
      case '--seconds': config.seconds = whole(flag, value(), 1); break;
      case '--timeout-ms': config.timeoutMs = whole(flag, value(), 1); break;
      case '--jitter-buffer-target': config.jitterBufferTarget = whole(flag, value(), 0); break;
      case '--chromium': config.chromium = value(); break;
      case '--raf-check': config.rafCheck = true; break;
      case '--screen': {
        const m = /^([0-9]+)x([0-9]+)$/.exec(value());
        if (!m) throw new UsageError(`--screen needs WxH, got ${argv[i]}`);
        config.screen = { width: Number(m[1]), height: Number(m[2]) };
        break;
      }
      default: throw new UsageError(`unknown argument ${flag}`);
    }
  }
  if (!config.url) throw new UsageError('--url is required');
  try { new URL(config.url); } catch { throw new UsageError(`--url is not a URL: ${config.url}`); }
  return config;
}

/** @param {unknown} record */
function emit(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

/**
 * Runs in the page before the viewer's script: keeps every RTCPeerConnection it makes (for
 * getStats) and, when asked, sets the video receiver's jitterBufferTarget as its track arrives.
 * @param {number|null} target
 */
function hookPeerConnections(target) {
  const w = /** @type {any} */ (window);
  const Native = w.RTCPeerConnection;
  w.g2gPeers = [];
  w.RTCPeerConnection = class extends Native {
    /** @param {any[]} args */
    constructor(...args) {
      super(...args);
      w.g2gPeers.push(this);
      if (target !== null) {
        this.addEventListener('track', (/** @type {RTCTrackEvent} */ e) => { e.receiver.jitterBufferTarget = target; });
      }
    }
  };
}

/**
 * Runs in the page: measures for `seconds`, returns the raw samples and getStats deltas.
 * @param {{seconds: number, layout: typeof LAYOUT, screen: {width: number, height: number}|null, rafCheck: boolean}} arg
 */
async function measureInPage({ seconds, layout, screen, rafCheck }) {
  const { cell, origin, timeBits, checkBits } = layout;
  const cells = 2 + timeBits + checkBits;
  const modulus = 2 ** timeBits;
  const video = /** @type {HTMLVideoElement} */ (document.querySelector('video'));
  const canvas = document.createElement('canvas');
  canvas.width = cell * cells;
  canvas.height = cell;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d', { willReadFrequently: true }));

  /** Wall-clock ms minus performance.now(), to well under a millisecond: Date.now() floors, so the largest difference seen is the closest. */
  const wallOffset = () => {
    let best = -Infinity;
    for (let i = 0; i < 20_000; i++) best = Math.max(best, Date.now() - performance.now());
    return best;
  };
  /** Wall-clock ms `wall` minus the painted time (ms modulo 2^24), as a signed difference. */
  const signedAge = (/** @type {number} */ wall, /** @type {number} */ painted) => {
    const d = ((wall % modulus) - painted + modulus) % modulus;
    return d > modulus / 2 ? d - modulus : d;
  };
  const crc8 = (/** @type {number[]} */ bytes) => {
    let crc = 0;
    for (const b of bytes) {
      crc ^= b;
      for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
    }
    return crc;
  };
  /** The painted time (ms modulo 2^24), or null when any cell is unclear or the check fails. */
  const decode = (/** @type {CanvasRenderingContext2D} */ from = ctx) => {
    const data = from.getImageData(0, 0, canvas.width, canvas.height).data;
    const bits = [];
    for (let c = 0; c < cells; c++) {
      let sum = 0;
      let n = 0;
      for (let y = cell / 4; y < (cell * 3) / 4; y++) {
        for (let x = c * cell + cell / 4; x < c * cell + (cell * 3) / 4; x++) {
          const i = (y * canvas.width + x) * 4;
          sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
          n++;
        }
      }
      const luma = sum / n;
      if (luma > 64 && luma < 192) return null;
      bits.push(luma >= 192 ? 1 : 0);
    }
    if (bits[0] !== 1 || bits[1] !== 0) return null;
    const value = bits.slice(2, 2 + timeBits).reduce((v, b) => v * 2 + b, 0);
    const check = bits.slice(2 + timeBits).reduce((v, b) => v * 2 + b, 0);
    return crc8([(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff]) === check ? value : null;
  };
  const inbound = async () => {
    const pcs = /** @type {RTCPeerConnection[]} */ (/** @type {any} */ (window).g2gPeers ?? []);
    for (const pc of pcs.slice().reverse()) {
      if (pc.connectionState === 'closed') continue;
      for (const s of (await pc.getStats()).values()) if (s.type === 'inbound-rtp' && s.kind === 'video') return s;
    }
    return null;
  };

  const offsetBefore = wallOffset();
  const statsBefore = await inbound();
  /** @type {{latency: number, toReceive: number|null, toPresent: number, toCallback: number}[]} */
  const samples = [];
  let rejected = 0, repeats = 0, future = 0, last = -1;
  const scale = screen ? video.videoWidth / screen.width : 1;
  /** painted → the first animation frame whose video showed it (only with rafCheck). @type {number[]} */
  const rafSeen = [];
  const measureEnd = performance.now() + seconds * 1000;
  if (rafCheck) {
    const rafCanvas = document.createElement('canvas');
    Object.assign(rafCanvas, { width: canvas.width, height: canvas.height });
    const rafCtx = /** @type {CanvasRenderingContext2D} */ (rafCanvas.getContext('2d', { willReadFrequently: true }));
    let rafLast = -1;
    const onAnimationFrame = (/** @type {number} */ now) => {
      rafCtx.drawImage(video, origin * scale, origin * scale, cell * cells * scale, cell * scale, 0, 0, rafCanvas.width, rafCanvas.height);
      const painted = decode(rafCtx);
      if (painted !== null && painted !== rafLast) {
        rafLast = painted;
        const age = signedAge(now + offsetBefore, painted);
        if (age >= 0) rafSeen.push(age);
      }
      if (performance.now() < measureEnd) requestAnimationFrame(onAnimationFrame);
    };
    requestAnimationFrame(onAnimationFrame);
  }
  await new Promise((resolve) => {
    const end = measureEnd;
    /** @type {VideoFrameRequestCallback} */
    const onFrame = (now, meta) => {
      ctx.drawImage(video, origin * scale, origin * scale, cell * cells * scale, cell * scale, 0, 0, canvas.width, canvas.height);
      const painted = decode();
      if (painted === null) rejected++;
      else if (painted === last) repeats++;
      else {
        last = painted;
        // Not before the compositor has the frame (headless Chromium sometimes expects it earlier).
        const glass = Math.max(meta.expectedDisplayTime, meta.presentationTime) + offsetBefore;
        const since = (/** @type {number} */ wall) => signedAge(wall, painted);
        const latency = since(glass);
        if (latency < 0) future++;
        else {
          const toReceive = meta.receiveTime === undefined ? null : since(meta.receiveTime + offsetBefore);
          samples.push({ latency, toReceive, toPresent: since(meta.presentationTime + offsetBefore), toCallback: since(now + offsetBefore) });
        }
      }
      if (performance.now() < end) video.requestVideoFrameCallback(onFrame);
      else resolve(undefined);
    };
    video.requestVideoFrameCallback(onFrame);
  });
  const statsAfter = await inbound();
  const pc = /** @type {RTCPeerConnection|undefined} */ (/** @type {any} */ (window).g2gPeers?.at(-1));
  const extmaps = (/** @type {string|undefined} */ sdp) => (sdp ?? '').split(/\r?\n/).filter((l) => l.startsWith('a=extmap:')).map((l) => l.split(' ')[1]);
  return {
    extensions: { offered: extmaps(pc?.localDescription?.sdp), answered: extmaps(pc?.remoteDescription?.sdp) },
    samples, rafSeen, rejected, repeats, future, drift: wallOffset() - offsetBefore,
    video: { width: video.videoWidth, height: video.videoHeight },
    statsBefore: statsBefore && JSON.parse(JSON.stringify(statsBefore)), statsAfter: statsAfter && JSON.parse(JSON.stringify(statsAfter)),
  };
}

/** Nearest-rank percentiles of `values` (ms), rounded to 0.1 ms. @param {number[]} values */
function summary(values) {
  if (values.length === 0) return null;
  const sorted = values.slice().sort((a, b) => a - b);
  const at = (/** @type {number} */ p) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] * 10) / 10;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), min: at(0), max: at(1), n: sorted.length };
}

/**
 * Averages per frame over the measurement from two inbound-rtp readings (ms).
 * @param {any} a @param {any} b
 */
function browserStats(a, b) {
  if (!a || !b) return null;
  const d = (/** @type {string} */ k) => (Number(b[k]) || 0) - (Number(a[k]) || 0);
  const perFrame = (/** @type {string} */ k, /** @type {string} */ count) => (d(count) > 0 ? Math.round((d(k) / d(count)) * 1e4) / 10 : null);
  return {
    decodeMs: perFrame('totalDecodeTime', 'framesDecoded'),
    jitterBufferMs: perFrame('jitterBufferDelay', 'jitterBufferEmittedCount'),
    jitterBufferTargetMs: perFrame('jitterBufferTargetDelay', 'jitterBufferEmittedCount'),
    jitterBufferMinimumMs: perFrame('jitterBufferMinimumDelay', 'jitterBufferEmittedCount'),
    processingMs: perFrame('totalProcessingDelay', 'framesDecoded'),
    fps: d('timestamp') > 0 ? Math.round((d('framesDecoded') / d('timestamp')) * 1e4) / 10 : null,
    framesDropped: d('framesDropped'),
  };
}

/** @param {import('playwright-core').Page} page @param {number} deadline */
async function waitForPicture(page, deadline) {
  for (;;) {
    const status = await page.evaluate(() => ({
      state: document.body?.dataset.state ?? null,
      frames: document.querySelector('video')?.getVideoPlaybackQuality().totalVideoFrames ?? 0,
    })).catch(() => null);
    if (status?.state === 'connected' && status.frames > 0) return;
    if (status?.state && ['expired', 'revoked', 'locked', 'kicked', 'error', 'ended', 'pin'].includes(status.state)) {
      throw new Error(`the viewer settled in state "${status.state}"`);
    }
    if (Date.now() >= deadline) throw new Error(`no picture in time (state ${status?.state})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** @param {Config} config */
async function run(config) {
  const deadline = Date.now() + config.timeoutMs;
  const profile = await mkdtemp(join(tmpdir(), 'deskbeam-g2g-'));
  /** @type {import('playwright-core').BrowserContext | undefined} */
  let context;
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
    await context.addInitScript(hookPeerConnections, config.jitterBufferTarget);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => process.stderr.write(`g2g page error: ${err.message}\n`));
    await page.goto(config.url, { waitUntil: 'domcontentloaded', timeout: Math.max(1, deadline - Date.now()) });
    await waitForPicture(page, deadline);
    await page.waitForTimeout(1000); // past the first keyframe and the decoder's start-up
    const raw = await page.evaluate(measureInPage, { seconds: config.seconds, layout: LAYOUT, screen: config.screen, rafCheck: config.rafCheck });
    const toReceive = raw.samples.flatMap((s) => (s.toReceive === null ? [] : [s.toReceive]));
    const receiveToPresent = raw.samples.flatMap((s) => (s.toReceive === null ? [] : [s.toPresent - s.toReceive]));
    const presentToGlass = raw.samples.map((s) => s.latency - s.toPresent);
    const toCallback = raw.samples.map((s) => s.toCallback);
    const tenths = (/** @type {number[]} */ v) => v.map((x) => Math.round(x * 10) / 10);
    emit({
      ok: true, seconds: config.seconds, latency: summary(raw.samples.map((s) => s.latency)),
      toReceive: summary(toReceive), receiveToPresent: summary(receiveToPresent), presentToGlass: summary(presentToGlass),
      toCallback: summary(toCallback), rafSeen: summary(raw.rafSeen),
      raw: { latency: tenths(raw.samples.map((s) => s.latency)), toReceive: tenths(toReceive), receiveToPresent: tenths(receiveToPresent), presentToGlass: tenths(presentToGlass), toCallback: tenths(toCallback), rafSeen: tenths(raw.rafSeen) },
      decoded: raw.samples.length, rejected: raw.rejected, repeats: raw.repeats, future: raw.future,
      clockDriftMs: Math.round(raw.drift * 100) / 100, video: raw.video, browser: browserStats(raw.statsBefore, raw.statsAfter),
      extensions: raw.extensions,
    });
    return 0;
  } catch (err) {
    emit({ ok: false, reason: err instanceof Error ? err.message.split('\n')[0] : String(err) });
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
    process.stderr.write(`g2g.mjs: ${err.message}\n`);
    return 2;
  }
  return run(config);
}

process.exitCode = await main();
