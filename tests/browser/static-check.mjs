#!/usr/bin/env node
// @ts-check
/**
 * Checks the viewer (web/) and view.mjs in Debian Chromium without the Rust server: a small
 * node HTTP server mimics its routes and headers (`/view`, `/assets/*`, the CSP) and plays WHEP.
 * `POST /whep` either answers with a canned error or relays the offer to a "sender" page in a
 * second browser that streams a canvas (left half red, right half blue or blinking) over WebRTC.
 *
 *   node tests/browser/static-check.mjs      (exit 0 when every check passes, 1 otherwise)
 */

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const WEB = join(HERE, '..', '..', 'web');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'";
const EXPIRED = 'This link has expired. Ask the host for a new one.';
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
];

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class CheckError extends Error {}
/** @param {unknown} cond @param {string} what @returns {asserts cond} */
function check(cond, what) {
  if (!cond) throw new CheckError(what);
}

/** A JWT-shaped link token (unsigned: the viewer only reads the payload). @param {object} claims */
function token(claims) {
  const b64 = (/** @type {object} */ o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'EdDSA', typ: 'JWT' })}.${b64(claims)}.c2lnbmF0dXJl`;
}
const now = () => Math.floor(Date.now() / 1000);
/** @param {number} ttl @param {string} [scope] */
const linkToken = (ttl, scope = 'view') =>
  token({ iss: 'deskbeam', aud: 'deskbeam-link', sub: 'host-1', jti: `link-${Math.random()}`, scope, iat: now(), nbf: now() - 5, exp: now() + ttl });

// ---- Fake server ----------------------------------------------------------------------------

/** @typedef {{method: string, path: string, auth: string, type: string, body: string}} Seen */
/** @typedef {{status: number, code: string} | {relay: true}} WhepMode */

/** @param {(offer: string) => Promise<string>} answer */
async function startServer(answer) {
  const files = {
    '/view': ['index.html', 'text/html; charset=utf-8'],
    '/assets/viewer.js': ['viewer.js', 'text/javascript; charset=utf-8'],
    '/assets/viewer.css': ['viewer.css', 'text/css; charset=utf-8'],
  };
  /** @type {Seen[]} */ const seen = [];
  const state = { /** @type {WhepMode} */ mode: { status: 503, code: 'host_offline' }, next: 1 };
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString();
    const headers = { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' };
    /** @param {number} status @param {string} code */
    const fail = (status, code) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code, message: `fake ${code}` } }));
    };
    const file = /** @type {Record<string, string[]>} */ (files)[path];
    if (req.method === 'GET' && file) {
      res.writeHead(200, { ...headers, 'Content-Type': file[1] });
      return res.end(await readFile(join(WEB, file[0])));
    }
    if (req.method === 'GET' && path === '/sender') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      return res.end('<!doctype html><title>sender</title>');
    }
    if (!path.startsWith('/whep')) return fail(404, 'not_found');
    seen.push({ method: req.method ?? '', path, auth: req.headers.authorization ?? '', type: req.headers['content-type'] ?? '', body });
    if (req.method === 'DELETE') return void res.writeHead(200, headers).end();
    if (req.method !== 'POST' || path !== '/whep') return fail(405, 'method_not_allowed');
    if (req.headers['content-type'] !== 'application/sdp') return fail(415, 'unsupported_media_type');
    if (!/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(req.headers.authorization ?? '')) return fail(401, 'invalid_token');
    const mode = state.mode;
    if (!('relay' in mode)) return fail(mode.status, mode.code);
    try {
      const sdp = await answer(body);
      res.writeHead(201, { ...headers, 'Content-Type': 'application/sdp', Location: `/whep/v${state.next++}` });
      res.end(sdp);
    } catch (e) {
      fail(400, 'bad_sdp');
      console.error('sender could not answer:', e);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = server.address();
  check(address && typeof address === 'object', 'server address');
  const base = `http://127.0.0.1:${address.port}`;
  return {
    base, seen, state,
    posts: () => seen.filter((s) => s.method === 'POST'),
    deletes: () => seen.filter((s) => s.method === 'DELETE'),
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

// ---- Sender: a canvas streamed over WebRTC from its own page --------------------------------

/** Installs the sender in a page: `answer(offer)`, `blink(on)`, `hangUp()`. @param {import('playwright-core').Page} page */
async function startSender(page) {
  await page.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 360;
    const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    const w = /** @type {any} */ (window);
    w.blink = false;
    let frame = 0;
    setInterval(() => {
      frame++;
      ctx.fillStyle = '#ff0000';
      ctx.fillRect(0, 0, 320, 360);
      ctx.fillStyle = w.blink && Math.floor(frame / 18) % 2 ? '#00ff00' : '#0000ff';
      ctx.fillRect(320, 0, 320, 360);
      ctx.fillStyle = frame % 2 ? '#fff' : '#000'; // keeps frames coming
      ctx.fillRect(0, 0, 4, 4);
    }, 33);
    const stream = canvas.captureStream(30);
    w.answer = async (/** @type {string} */ offer) => {
      w.pc?.close();
      const pc = new RTCPeerConnection({ iceServers: [] });
      w.pc = pc;
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      const [transceiver] = pc.getTransceivers();
      transceiver.direction = 'sendonly';
      await transceiver.sender.replaceTrack(stream.getVideoTracks()[0]);
      await pc.setLocalDescription(await pc.createAnswer());
      await new Promise((resolve) => {
        const done = () => pc.iceGatheringState === 'complete' && resolve(undefined);
        pc.addEventListener('icegatheringstatechange', done);
        setTimeout(resolve, 2000);
        done();
      });
      return /** @type {RTCSessionDescription} */ (pc.localDescription).sdp;
    };
    w.hangUp = () => w.pc?.close();
  });
}

// ---- Helpers --------------------------------------------------------------------------------

/** Runs view.mjs; returns its exit code and parsed stdout lines. @param {string[]} args */
function viewMjs(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(HERE, 'view.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => {
      const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      resolve({ code, lines, stderr: err });
    });
  });
}

/** @param {import('playwright-core').Page} page */
const status = (page) => page.evaluate(() => ({
  state: document.body.dataset.state,
  message: document.getElementById('message')?.textContent ?? '',
  global: /** @type {any} */ (window).deskbeam,
}));

/** @param {import('playwright-core').Page} page @param {string} state @param {number} ms */
async function waitState(page, state, ms) {
  try {
    await page.waitForSelector(`body[data-state="${state}"]`, { state: 'attached', timeout: ms });
  } catch {
    const s = await status(page);
    throw new CheckError(`wanted state ${state} within ${ms} ms, still ${s.state}: ${s.message}`);
  }
}

/** @param {{r: number, g: number, b: number}} s @param {'red'|'green'|'blue'} want */
function isColour(s, want) {
  const [hi, lo1, lo2] = want === 'red' ? [s.r, s.g, s.b] : want === 'green' ? [s.g, s.r, s.b] : [s.b, s.r, s.g];
  return hi > 190 && lo1 < 70 && lo2 < 70;
}

// ---- Checks ---------------------------------------------------------------------------------

/**
 * @typedef {{server: Awaited<ReturnType<typeof startServer>>, browser: import('playwright-core').Browser,
 *   sender: import('playwright-core').Page, newPage: () => Promise<import('playwright-core').Page>}} Env
 */

/** @type {Array<[string, (env: Env) => Promise<void>]>} */
const CHECKS = [
  ['pure logic (state machine, backoff, token, errors, formatting)', async ({ newPage, server }) => {
    const page = await newPage();
    await page.goto(`${server.base}/view`);
    const failures = await page.evaluate(async () => {
      const m = await import('/assets/viewer.js');
      /** @type {string[]} */ const bad = [];
      const eq = (/** @type {any} */ a, /** @type {any} */ b, /** @type {string} */ what) => {
        if (JSON.stringify(a) !== JSON.stringify(b)) bad.push(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
      };
      eq([0, 1, 2, 3, 4, 9].map(m.backoffMs), [1000, 2000, 4000, 8000, 15000, 15000], 'backoff');
      eq(m.tokenFromHash('#a.b.c'), 'a.b.c', 'hash');
      eq(m.tokenFromHash('#token=a.b.c'), 'a.b.c', 'hash token=');
      eq(m.tokenFromHash(''), null, 'empty hash');
      for (const junk of ['', 'x', 'a.%%%.c', 'a.bnVsbA.c', 'a.WzFd.c', 'a.__-_.c']) eq(m.decodeClaims(junk), null, `claims ${junk}`);
      eq(m.decodeClaims('x.eyJzY29wZSI6InZpZXciLCJleHAiOjEyM30.y'), { scope: 'view', exp: 123 }, 'claims');
      eq(m.formatRemaining(42), '42 s', 'fmt s');
      eq(m.formatRemaining(245), '4:05', 'fmt m');
      eq(m.formatRemaining(7500), '2 h 05 min', 'fmt h');
      const t = (/** @type {string} */ state, /** @type {any} */ event, everConnected = false) =>
        m.transition({ state, everConnected }, event)?.state ?? null;
      eq(t('idle', { type: 'start' }), 'connecting', 'start');
      eq(t('connecting', { type: 'connected' }), 'connected', 'connected');
      eq(t('connected', { type: 'lost', reason: 'x' }, true), 'reconnecting', 'lost');
      eq(t('connecting', { type: 'failed', code: 'host_offline', status: 503, message: '' }), 'connecting', 'offline first');
      eq(t('reconnecting', { type: 'failed', code: 'host_offline', status: 503, message: '' }, true), 'reconnecting', 'offline again');
      eq(t('connecting', { type: 'failed', code: 'link_revoked', status: 401, message: '' }), 'revoked', 'revoked');
      eq(t('connecting', { type: 'failed', code: 'token_expired', status: 401, message: '' }), 'expired', 'expired');
      eq(t('connecting', { type: 'failed', code: 'invalid_token', status: 401, message: '' }), 'error', 'invalid');
      eq(t('connecting', { type: 'failed', code: 'agent_rejected', status: 502, message: '' }), 'connecting', 'unknown 5xx');
      eq(t('connecting', { type: 'failed', code: 'teapot', status: 418, message: 'x' }), 'error', 'unknown 4xx');
      eq(t('expired', { type: 'start' }), null, 'expired is final');
      eq(t('revoked', { type: 'lost', reason: 'x' }), null, 'revoked is final');
      eq(t('connected', { type: 'start' }), null, 'no start while connected');
      eq(t('ended', { type: 'start' }), 'connecting', 'rejoin');
      eq(t('connected', { type: 'expired' }), 'expired', 'expiry while watching');
      eq(m.classifyError('host_offline', 503, '').message, 'The shared computer is not connected right now — retrying…', 'offline text');
      const stats = m.computeStats([
        { id: 'i', type: 'inbound-rtp', kind: 'video', frameWidth: 640, frameHeight: 360, framesPerSecond: 30,
          bytesReceived: 2000, timestamp: 2000, packetsLost: 1, codecId: 'c' },
        { id: 'c', type: 'codec', mimeType: 'video/H264' },
        { id: 't', type: 'transport', selectedCandidatePairId: 'p' },
        { id: 'p', type: 'candidate-pair', currentRoundTripTime: 0.0123 },
      ], { bytes: 1000, timestamp: 1000 }).stats;
      eq([stats.width, stats.height, stats.fps, stats.bitrateKbps, stats.rttMs, stats.packetsLost, stats.codec],
        [640, 360, 30, 8, 12, 1, 'H264'], 'stats');
      return bad;
    });
    check(failures.length === 0, failures.join('; '));
  }],

  ['no token: "This link is incomplete", no request', async ({ newPage, server }) => {
    const page = await newPage();
    const before = server.seen.length;
    await page.goto(`${server.base}/view`);
    await waitState(page, 'error', 5000);
    const s = await status(page);
    check(s.message.includes('This link is incomplete'), `message: ${s.message}`);
    check(s.global.lastError?.code === 'missing_token', `lastError ${JSON.stringify(s.global.lastError)}`);
    check(server.seen.length === before, 'no WHEP request');
    check(!(await page.isVisible('[data-action="retry"]')), 'no "Try again" for an incomplete link');
  }],

  ['expired token: expired without asking the server', async ({ newPage, server }) => {
    const page = await newPage();
    const before = server.seen.length;
    await page.goto(`${server.base}/view#${linkToken(-60)}`);
    await waitState(page, 'expired', 5000);
    const s = await status(page);
    check(s.message === EXPIRED, `message: ${s.message}`);
    await sleep(1500);
    check(server.seen.length === before, 'no WHEP request');
    check((await page.textContent('#expiry')) === 'Link expired', 'countdown says expired');
    const run = await viewMjs(['--url', `${server.base}/view#${linkToken(-5)}`, '--mode', 'expired']);
    check(run.code === 0 && run.lines[0]?.message === EXPIRED, `view.mjs: ${JSON.stringify(run.lines)}`);
    check(server.seen.length === before, 'no WHEP request from view.mjs either');
  }],

  ['view.mjs --mode expired: server says token_expired', async ({ server }) => {
    server.state.mode = { status: 401, code: 'token_expired' };
    const before = server.posts().length;
    const t = linkToken(3600);
    const run = await viewMjs(['--url', `${server.base}/view#${t}`, '--mode', 'expired', '--timeout-ms', '20000']);
    check(run.code === 0, `exit ${run.code}: ${JSON.stringify(run.lines)} ${run.stderr}`);
    check(run.lines.length === 1 && run.lines[0].ok && run.lines[0].state === 'expired' && run.lines[0].message === EXPIRED,
      `output ${JSON.stringify(run.lines)}`);
    const posts = server.posts().slice(before);
    check(posts.length === 1, `${posts.length} POSTs`);
    const [p] = posts;
    check(p.type === 'application/sdp' && p.auth === `Bearer ${t}`, `headers ${p.type} ${p.auth.slice(0, 20)}`);
    check(p.body.startsWith('v=0') && /m=video/.test(p.body) && /a=recvonly/.test(p.body), 'offer is a recvonly video SDP');
    check(/a=candidate/.test(p.body), 'offer carries ICE candidates (non-trickle)');
  }],

  ['view.mjs fails cleanly (exit 1, JSON with lastError) when the link is revoked', async ({ server }) => {
    server.state.mode = { status: 401, code: 'link_revoked' };
    const run = await viewMjs(['--url', `${server.base}/view#${linkToken(3600)}`, '--timeout-ms', '15000']);
    const [line] = run.lines;
    check(run.code === 1 && line && line.ok === false, `exit ${run.code} ${JSON.stringify(run.lines)}`);
    check(line.state === 'revoked' && line.lastError?.code === 'link_revoked' && Array.isArray(line.console), JSON.stringify(line));
  }],

  ['revoked and invalid links stop retrying', async ({ newPage, server }) => {
    for (const [code, state] of [['link_revoked', 'revoked'], ['invalid_token', 'error']]) {
      server.state.mode = { status: 401, code };
      const before = server.posts().length;
      const page = await newPage();
      await page.goto(`${server.base}/view#${linkToken(3600)}`);
      await waitState(page, state, 8000);
      await sleep(2500);
      check(server.posts().length - before === 1, `${code}: ${server.posts().length - before} POSTs`);
    }
  }],

  ['host offline: retries with backoff, then connects', async ({ newPage, server }) => {
    server.state.mode = { status: 503, code: 'host_offline' };
    const before = server.posts().length;
    const page = await newPage();
    await page.goto(`${server.base}/view#${linkToken(3600)}`);
    await sleep(3700);
    const s = await status(page);
    check(s.state === 'connecting', `state ${s.state}`);
    check(s.message === 'The shared computer is not connected right now — retrying…', `message ${s.message}`);
    const tries = server.posts().length - before;
    check(tries >= 2 && tries <= 4, `${tries} POSTs in 3.7 s`);
    server.state.mode = { relay: true };
    await waitState(page, 'connected', 15000);
  }],

  ['view.mjs pixels: colours at sample points', async ({ server, sender }) => {
    server.state.mode = { relay: true };
    await sender.evaluate(() => { /** @type {any} */ (window).blink = false; });
    const deletesBefore = server.deletes().length;
    const run = await viewMjs(['--url', `${server.base}/view#${linkToken(3600)}`, '--samples', '0.25,0.5;0.75,0.5']);
    check(run.code === 0, `exit ${run.code}: ${JSON.stringify(run.lines)} ${run.stderr}`);
    const [line] = run.lines;
    check(line.ok && line.width === 640 && line.height === 360 && line.state === 'connected', JSON.stringify(line));
    check(isColour(line.samples[0], 'red') && isColour(line.samples[1], 'blue'), `samples ${JSON.stringify(line.samples)}`);
    check(line.stats && line.stats.width === 640, `stats ${JSON.stringify(line.stats)}`);
    console.log(`       (view.mjs pixels: ${JSON.stringify(line)})`);
    check(server.deletes().length > deletesBefore, 'view.mjs left with a DELETE');
  }],

  ['view.mjs --watch-ms: one line per poll, sees the colour change', async ({ server, sender }) => {
    server.state.mode = { relay: true };
    await sender.evaluate(() => { /** @type {any} */ (window).blink = true; });
    const run = await viewMjs(['--url', `${server.base}/view#${linkToken(3600)}`, '--samples', '0.75,0.5', '0.25,0.5',
      '--watch-ms', '3000', '--poll-ms', '250']);
    await sender.evaluate(() => { /** @type {any} */ (window).blink = false; });
    check(run.code === 0, `exit ${run.code}: ${run.stderr}`);
    check(run.lines.length >= 10 && run.lines.every((l) => l.ok && typeof l.t_ms === 'number'), `${run.lines.length} lines`);
    const colours = run.lines.map((l) => l.samples[0]);
    check(colours.some((c) => isColour(c, 'blue')) && colours.some((c) => isColour(c, 'green')), JSON.stringify(colours));
    check(run.lines.every((l) => isColour(l.samples[1], 'red')), 'second sample point stays red');
  }],

  ['toolbar and keys: 1:1, stats, full screen, leave, rejoin; phone width', async ({ newPage, server }) => {
    server.state.mode = { relay: true };
    const page = await newPage();
    await page.goto(`${server.base}/view#${linkToken(3600, 'control')}`);
    await waitState(page, 'connected', 15000);
    await page.waitForFunction(() => document.querySelector('video')?.videoWidth === 640);
    check((await page.textContent('#scope')) === 'Control', 'scope badge');
    check(/^Expires in (59:5\d|1 h 00 min)$/.test((await page.textContent('#expiry')) ?? ''), 'countdown');
    await page.keyboard.press('1');
    check(await page.evaluate(() => document.getElementById('stage')?.classList.contains('actual')
      && document.querySelector('video')?.getBoundingClientRect().width === 640), 'actual size');
    await page.keyboard.press('1');
    check(await page.evaluate(() => document.querySelector('video')?.getBoundingClientRect().width === window.innerWidth), 'fit');
    await page.keyboard.press('s');
    await sleep(2200);
    check(await page.isVisible('#stats'), 'stats overlay shown');
    check((await page.textContent('[data-stat="resolution"]')) === '640 × 360', 'stats resolution');
    const stats = (await status(page)).global.stats;
    check(stats.bitrateKbps > 0 && stats.fps > 0 && typeof stats.rttMs === 'number', `stats ${JSON.stringify(stats)}`);
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'connected-stats.png') });
    await page.keyboard.press('f');
    check(await page.evaluate(() => document.fullscreenElement?.id === 'viewport'), 'full screen');
    await page.keyboard.press('f');
    const deletes = server.deletes().length;
    await page.click('[data-action="leave"]');
    await waitState(page, 'ended', 3000);
    await sleep(300);
    check(server.deletes().length === deletes + 1, 'leave sends DELETE');
    await page.click('[data-action="retry"]');
    await waitState(page, 'connected', 15000);
    await page.setViewportSize({ width: 360, height: 640 });
    check(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling on a phone');
    check(!(await page.isVisible('.actions .label')), 'icon-only toolbar on a phone');
  }],

  ['peer hangs up: DELETE old resource, reconnect', async ({ newPage, server, sender }) => {
    server.state.mode = { relay: true };
    const page = await newPage();
    await page.goto(`${server.base}/view#${linkToken(3600)}`);
    await waitState(page, 'connected', 15000);
    const location = `/whep/v${server.state.next - 1}`;
    await sender.evaluate(() => /** @type {any} */ (window).hangUp());
    await waitState(page, 'reconnecting', 15000);
    await waitState(page, 'connected', 20000);
    check(server.deletes().some((d) => d.path === location && d.auth.startsWith('Bearer ')), `DELETE ${location}`);
  }],

  ['link expires while watching: stop, DELETE, expired message', async ({ newPage, server }) => {
    server.state.mode = { relay: true };
    const page = await newPage();
    await page.goto(`${server.base}/view#${linkToken(5)}`);
    await waitState(page, 'connected', 15000);
    const location = `/whep/v${server.state.next - 1}`;
    await waitState(page, 'expired', 10000);
    const s = await status(page);
    check(s.message === EXPIRED, `message ${s.message}`);
    await sleep(300);
    check(server.deletes().some((d) => d.path === location), `DELETE ${location}`);
    check(await page.evaluate(() => document.querySelector('video')?.srcObject === null), 'video stopped');
  }],
];

async function main() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
  const senderPage = await browser.newPage();
  const server = await startServer((offer) => senderPage.evaluate((o) => /** @type {any} */ (window).answer(o), offer));
  await senderPage.goto(`${server.base}/sender`);
  await startSender(senderPage);
  let failed = 0;
  for (const [name, run] of CHECKS) {
    const context = await browser.newContext();
    /** @type {string[]} */ const problems = [];
    const newPage = async () => {
      const page = await context.newPage();
      page.on('console', (m) => {
        // Error statuses the fake server sends on purpose show up as "Failed to load resource".
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      return page;
    };
    try {
      await run({ server, browser, sender: senderPage, newPage });
      check(problems.length === 0, problems.join('; '));
      console.log(`ok     ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAILED ${name}: ${e instanceof CheckError ? e.message : e}`);
    } finally {
      await context.close();
    }
  }
  await browser.close();
  await server.close();
  console.log(failed ? `${failed} of ${CHECKS.length} checks failed` : `all ${CHECKS.length} checks passed`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
