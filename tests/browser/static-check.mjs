#!/usr/bin/env node
// @ts-check
/**
 * Checks the viewer (web/) and view.mjs in Debian Chromium without the Rust server: a small
 * node HTTP server mimics its routes and headers (`/view`, `/assets/*`, the CSP) and plays WHEP.
 * `POST /whep` either answers with a canned error or relays the offer to a "sender" page in a
 * second browser that streams a canvas (left half red, right half blue or blinking) over WebRTC
 * and plays the agent's side of the `input` data channel (control, pong, `rejected`), recording
 * every message the viewer sends.
 *
 *   node tests/browser/static-check.mjs [WORD]   (exit 0 when every check passes, 1 otherwise;
 *                                                 WORD: only the checks whose name contains it)
 */

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { webFile } from './fake-api.mjs';

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
    const file = path === '/view' ? ['index.html', 'text/html; charset=utf-8'] : webFile(path);
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

/**
 * Installs the sender in a page: `answer(offer)`, `blink(on)`, `hangUp()`, and a fake agent on
 * the viewer's `input` channel: `agent = {policy: 'auto'|'deny'|'prompt', canRequest}` says how
 * it answers `request_control`, `decide(allow)` answers a prompt, `received` holds what the
 * current viewer sent (with `at`, ms since the channel opened) and `channelInfo` how it was made.
 * @param {import('playwright-core').Page} page
 */
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
    w.agent = { policy: 'auto', canRequest: true };
    /** Plays the agent on one viewer's `input` channel. @param {RTCDataChannel} ch */
    const fakeAgent = (ch) => {
      w.received = [];
      w.channelInfo = { label: ch.label, ordered: ch.ordered, maxRetransmits: ch.maxRetransmits, maxPacketLifeTime: ch.maxPacketLifeTime };
      let state = 'free';
      let opened = 0;
      const send = (/** @type {object} */ m) => ch.send(JSON.stringify({ v: 1, ...m }));
      const control = (/** @type {string} */ next, /** @type {string|undefined} */ reason) => {
        state = next;
        send({ t: 'control', state, can_request: w.agent.canRequest, ...(state === 'granted' ? { holder: 'viewer 1' } : {}), ...(reason ? { reason } : {}) });
      };
      w.control = control;
      w.decide = (/** @type {boolean} */ allow) => control(allow ? 'granted' : 'free', allow ? undefined : 'the host declined');
      const open = () => { opened = performance.now(); control('free'); };
      if (ch.readyState === 'open') open(); else ch.onopen = open;
      ch.onmessage = (e) => {
        const m = JSON.parse(e.data);
        w.received.push({ ...m, at: Math.round(performance.now() - opened) });
        if (m.t === 'ping') send({ t: 'pong' });
        else if (m.t === 'hello') control(state); // the state again (the one sent on open can be lost)
        else if (m.t === 'request_control') {
          if (!w.agent.canRequest) control(state, 'this link is view-only');
          else if (w.agent.policy === 'auto') control('granted');
          else if (w.agent.policy === 'deny') control('free', 'the host does not allow remote control');
          else control('pending');
        } else if (m.t === 'release_control') {
          if (state === 'granted') control('free', 'control released');
        } else if (state !== 'granted') {
          send({ t: 'rejected', code: 'no_control', message: 'this viewer does not have control' });
        }
      };
    };
    w.answer = async (/** @type {string} */ offer) => {
      w.pc?.close();
      const pc = new RTCPeerConnection({ iceServers: [] });
      w.pc = pc;
      pc.ondatachannel = (e) => { if (w.pc === pc && e.channel.label === 'input') fakeAgent(e.channel); };
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      const transceiver = /** @type {RTCRtpTransceiver} */ (pc.getTransceivers().find((t) => t.receiver.track.kind === 'video'));
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

/** What the fake agent got from the current viewer. @param {import('playwright-core').Page} sender @returns {Promise<any[]>} */
const received = (sender) => sender.evaluate(() => /** @type {any} */ (window).received ?? []);
/** @param {import('playwright-core').Page} sender @param {object} agent */
const setAgent = (sender, agent) => sender.evaluate((a) => { /** @type {any} */ (window).agent = a; }, agent);
const INPUT_TYPES = ['move', 'button', 'wheel', 'key', 'paste'];
/** Input events only (no ping, request or release). @param {any[]} list */
const inputsOf = (list) => list.filter((m) => INPUT_TYPES.includes(m.t));
/** @typedef {{left: number, top: number, width: number, height: number}} Rect */
/** The picture inside the letterboxed video element (object-fit: contain). @param {import('playwright-core').Page} page @returns {Promise<Rect>} */
const picture = (page) => page.evaluate(() => {
  const video = /** @type {HTMLVideoElement} */ (document.querySelector('video'));
  const box = video.getBoundingClientRect();
  const scale = Math.min(box.width / video.videoWidth, box.height / video.videoHeight);
  const [width, height] = [video.videoWidth * scale, video.videoHeight * scale];
  return { left: box.left + (box.width - width) / 2, top: box.top + (box.height - height) / 2, width, height };
});
/** @param {Rect} r @param {number} fx @param {number} fy @returns {[number, number]} */
const at = (r, fx, fy) => [r.left + fx * r.width, r.top + fy * r.height];
/** @param {import('playwright-core').Page} page @param {string} control */
async function waitControl(page, control) {
  // The data channel opens after ICE and DTLS between two Chromiums: allow for a loaded machine.
  try {
    await page.waitForSelector(`body[data-control="${control}"]`, { state: 'attached', timeout: 30_000 });
  } catch {
    const s = await status(page);
    throw new CheckError(`wanted control ${control} within 30 s, still ${JSON.stringify(s.global.control)} (state ${s.state})`);
  }
}

/**
 * Each press (button down) must come right after a move to the point clicked.
 * @param {any[]} messages @param {Array<[number, number, string]>} clicks fx, fy, button @param {string} what
 */
function checkClicks(messages, clicks, what) {
  /** @type {any} */ let lastMove = null;
  /** @type {any[]} */ const presses = [];
  for (const m of messages) {
    if (m.t === 'move') lastMove = m;
    if (m.t === 'button') presses.push({ ...m, move: lastMove });
  }
  const want = clicks.flatMap(([, , b]) => [`${b} down`, `${b} up`]);
  const got = presses.map((p) => `${p.b} ${p.down ? 'down' : 'up'}`);
  check(JSON.stringify(got) === JSON.stringify(want), `${what}: buttons ${got.join(', ')}; wanted ${want.join(', ')}`);
  clicks.forEach(([fx, fy], i) => {
    const { move } = presses[2 * i];
    check(move && Math.abs(move.x - fx) < 0.003 && Math.abs(move.y - fy) < 0.003, `${what}: press ${i} at ${JSON.stringify(move)}, wanted ${fx},${fy}`);
  });
}

/** @param {any[]} messages @returns {string[]} "KeyA down a" */
const keysOf = (messages) => messages.filter((m) => m.t === 'key').map((m) => `${m.code} ${m.down ? 'down' : 'up'}${m.text === undefined ? '' : ` ${m.text}`}`);

// ---- Checks ---------------------------------------------------------------------------------

/**
 * @typedef {{server: Awaited<ReturnType<typeof startServer>>, browser: import('playwright-core').Browser,
 *   sender: import('playwright-core').Page,
 *   newPage: (options?: import('playwright-core').BrowserContextOptions) => Promise<import('playwright-core').Page>}} Env
 */

/** @type {Array<[string, (env: Env) => Promise<void>]>} */
const CHECKS = [
  ['pure logic (state machine, backoff, token, errors, formatting)', async ({ newPage, server }) => {
    const page = await newPage();
    await page.goto(`${server.base}/view`);
    const failures = await page.evaluate(async () => {
      const m = await import('/assets/viewer.js');
      const m2 = await import('/assets/input.js');
      const { computeStats } = m2;
      /** @type {string[]} */ const bad = [];
      const eq = (/** @type {any} */ a, /** @type {any} */ b, /** @type {string} */ what) => {
        if (JSON.stringify(a) !== JSON.stringify(b)) bad.push(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
      };
      eq([0, 1, 2, 3, 4, 9].map(m.backoffMs), [1000, 2000, 4000, 8000, 15000, 15000], 'backoff');
      eq(m.tokenFromHash('#a.b.c'), 'a.b.c', 'hash');
      eq(m.tokenFromHash('#token=a.b.c'), 'a.b.c', 'hash token=');
      eq(m.tokenFromHash(''), null, 'empty hash');
      for (const junk of ['', 'x', 'a.%%%.c', 'a.bnVsbA.c', 'a.WzFd.c', 'a.__-_.c']) eq(m.decodeClaims(junk), null, `claims ${junk}`);
      eq(m.decodeClaims('x.eyJzY29wZSI6InZpZXciLCJleHAiOjEyM30.y'), { scope: 'view', exp: 123, nbf: null }, 'claims');
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
      const stats = computeStats([
        { id: 'i', type: 'inbound-rtp', kind: 'video', frameWidth: 640, frameHeight: 360, framesPerSecond: 30,
          bytesReceived: 2000, timestamp: 2000, packetsLost: 1, codecId: 'c' },
        { id: 'c', type: 'codec', mimeType: 'video/H264' },
        { id: 't', type: 'transport', selectedCandidatePairId: 'p' },
        { id: 'p', type: 'candidate-pair', currentRoundTripTime: 0.0123, localCandidateId: 'l', remoteCandidateId: 'r' },
        { id: 'l', type: 'local-candidate', candidateType: 'relay', protocol: 'udp', relayProtocol: 'tcp' },
        { id: 'r', type: 'remote-candidate', candidateType: 'host', protocol: 'udp' },
      ], { bytes: 1000, timestamp: 1000 }).stats;
      eq([stats.width, stats.height, stats.fps, stats.bitrateKbps, stats.rttMs, stats.packetsLost, stats.codec, stats.path],
        [640, 360, 30, 8, 12, 1, 'H264', 'relayed (tcp)'], 'stats');
      eq(m2.mediaPath({ candidateType: 'host', protocol: 'udp' }, { candidateType: 'prflx' }), 'direct (udp)', 'direct path');
      eq(m2.mediaPath({ candidateType: 'host', protocol: 'udp' }, { candidateType: 'relay' }), 'relayed (udp)', 'peer relayed');
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
    check(/^m=application \d+ UDP\/DTLS\/SCTP webrtc-datachannel/m.test(p.body), 'offer has a data channel section (m=application)');
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
  ['input logic (picture rectangle, buttons, wheel, keys, paste, touch, agent messages)', async ({ newPage, server }) => {
    const page = await newPage();
    await page.goto(`${server.base}/view`);
    const failures = await page.evaluate(async () => {
      const m = await import('/assets/input.js');
      /** @type {string[]} */ const bad = [];
      const eq = (/** @type {any} */ a, /** @type {any} */ b, /** @type {string} */ what) => {
        if (JSON.stringify(a) !== JSON.stringify(b)) bad.push(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
      };
      const letterbox = m.contentRect({ left: 0, top: 50, width: 1000, height: 650 }, 640, 360);
      eq(letterbox, { left: 0, top: 93.75, width: 1000, height: 562.5 }, 'letterboxed');
      eq(m.contentRect({ left: 10, top: 0, width: 1280, height: 360 }, 640, 360), { left: 330, top: 0, width: 640, height: 360 }, 'pillarboxed');
      eq(m.contentRect({ left: 0, top: 0, width: 100, height: 100 }, 0, 0), null, 'no frame yet');
      eq(m.toScreen(250, 375, letterbox), { x: 0.25, y: 0.5, inside: true }, 'point');
      eq(m.toScreen(-5, 60, letterbox), { x: 0, y: 0, inside: false }, 'bar, clamped');
      eq(m.toScreen(1000, 656.25, letterbox), { x: 1, y: 1, inside: true }, 'corner');
      eq([0, 1, 2, 3, 4, 5].map(m.buttonName), ['left', 'middle', 'right', 'back', 'forward', null], 'buttons');
      eq(m.wheelMessage({ deltaX: 0, deltaY: 120, deltaMode: 0 }), { t: 'wheel', dx: 0, dy: 120, mode: 'pixel' }, 'wheel px');
      eq(m.wheelMessage({ deltaX: -1, deltaY: 0, deltaMode: 1 }), { t: 'wheel', dx: -1, dy: 0, mode: 'line' }, 'wheel line');
      eq(m.wheelMessage({ deltaX: 0, deltaY: 1, deltaMode: 2 }), { t: 'wheel', dx: 0, dy: 3, mode: 'line' }, 'wheel page');
      eq(m.wheelMessage({ deltaX: 0, deltaY: 1e9, deltaMode: 0 })?.dy, 10000, 'wheel clamped');
      eq(m.wheelMessage({ deltaX: 0, deltaY: 0, deltaMode: 0 }), null, 'no wheel');
      eq(m.keyMessage('KeyA', 'a', true), { t: 'key', code: 'KeyA', down: true, text: 'a' }, 'key a');
      eq(m.keyMessage('Enter', 'Enter', false), { t: 'key', code: 'Enter', down: false }, 'key Enter');
      eq(m.keyMessage('KeyE', '😀', true)?.text, '😀', 'one code point, two UTF-16 units');
      eq(m.keyMessage('BracketLeft', 'Dead', true), { t: 'key', code: 'BracketLeft', down: true }, 'dead key');
      eq(m.keyMessage('', 'Unidentified', true), null, 'nothing');
      eq(m.encode({ t: 'ping' }), '{"v":1,"t":"ping"}', 'framing');
      eq(m.pasteMessage(''), null, 'empty paste');
      eq([...(m.pasteMessage('é'.repeat(5000))?.text ?? '')].length, 4096, 'paste cut to 4096 chars');
      const emoji = m.pasteMessage('😀'.repeat(5000));
      const bytes = new TextEncoder().encode(m.encode(/** @type {any} */ (emoji))).length;
      if (!emoji || bytes > 16384 || [...emoji.text].length < 3000) bad.push(`4-byte paste: ${bytes} bytes`);
      const control = { v: 1, t: 'control', state: 'taken', can_request: true, holder: 'bob' };
      eq(m.parseAgentMessage(JSON.stringify(control)), { t: 'control', state: 'taken', can_request: true, holder: 'bob' }, 'control');
      eq(m.parseAgentMessage(JSON.stringify({ ...control, v: 2 })), null, 'other version');
      eq(m.parseAgentMessage(JSON.stringify({ ...control, state: 'mine' })), null, 'bad state');
      eq(m.parseAgentMessage('{"v":1,"t":"rejected","code":"no_control","message":"x"}'), { t: 'rejected', code: 'no_control', message: 'x' }, 'rejected');
      eq(m.parseAgentMessage('{"v":1,"t":"pong"}'), { t: 'pong' }, 'pong');
      for (const junk of ['', 'null', '[]', '{"v":1,"t":"boom"}', new ArrayBuffer(2)]) eq(m.parseAgentMessage(junk), null, `junk ${String(junk)}`);
      const t = new m.Touches();
      t.down(1, 10, 10, 0);
      eq(t.up(1, 100), { x: 10, y: 10 }, 'tap');
      t.down(1, 10, 10, 0);
      eq(t.up(1, 900), null, 'long press is no tap');
      t.down(1, 10, 10, 0);
      t.move(1, 40, 10);
      eq(t.up(1, 100), null, 'a drag is no tap');
      t.down(1, 0, 100, 0);
      t.down(2, 100, 100, 0);
      eq([t.move(1, 0, 90), t.move(2, 100, 90)], [{ dx: -0, dy: 5 }, { dx: -0, dy: 5 }], 'two fingers up scroll down');
      eq([t.up(1, 50), t.up(2, 60)], [null, null], 'a pan is no tap');
      const view = (/** @type {any} */ v) => m.controlLabel({ state: 'free', canRequest: true, holder: null, reason: null, seq: 1, ...v });
      eq([view({}), view({ state: 'granted' }), view({ state: 'taken', holder: 'bob' }), view({ canRequest: false }), view({ state: 'none' })],
        ['', 'You have control', 'bob has control', 'View only', ''], 'chip');
      return bad;
    });
    check(failures.length === 0, failures.join('; '));
  }],

  ['remote control: request, pending, granted; mouse, keys, wheel, paste; release; ping', async ({ newPage, server, sender }) => {
    server.state.mode = { relay: true };
    await setAgent(sender, { policy: 'prompt', canRequest: true });
    const page = await newPage();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    await page.addInitScript(() => { // the viewer's own log of what it sent, with times
      const w = /** @type {any} */ (window);
      w.sentLog = [];
      const send = RTCDataChannel.prototype.send;
      RTCDataChannel.prototype.send = function (/** @type {any} */ data) {
        if (this.label === 'input') w.sentLog.push({ at: performance.now(), m: JSON.parse(String(data)) });
        return send.call(this, data);
      };
      const keyboard = /** @type {any} */ (navigator).keyboard;
      w.locks = [];
      if (keyboard) Object.assign(keyboard, { lock: async () => { w.locks.push('lock'); }, unlock: () => { w.locks.push('unlock'); } });
    });
    await page.setViewportSize({ width: 1000, height: 700 });
    await page.goto(`${server.base}/view#${linkToken(3600, 'control')}`);
    await waitState(page, 'connected', 15000);
    await page.waitForFunction(() => document.querySelector('video')?.videoWidth === 640);
    await waitControl(page, 'free');
    const channel = await sender.evaluate(() => /** @type {any} */ (window).channelInfo);
    check(channel.label === 'input' && channel.ordered && channel.maxRetransmits === null && channel.maxPacketLifeTime === null,
      `an ordered, reliable "input" channel: ${JSON.stringify(channel)}`);
    const request = page.locator('[data-testid="request-control"]');
    const release = page.locator('[data-testid="release-control"]');
    check(await request.isEnabled() && (await request.innerText()).trim() === 'Request control', 'Request control button');
    check(!(await release.isVisible()) && !(await page.isVisible('#control-status')) && !(await page.isVisible('#scope')), 'free: no chip, no release');
    const rect = await picture(page);
    check(rect.top > 60 && Math.abs(rect.width - 1000) < 1, `letterboxed picture ${JSON.stringify(rect)}`);

    // Without control, clicks and keys stay here.
    await page.mouse.click(...at(rect, 0.5, 0.5));
    await page.keyboard.press('s');
    check(await page.isVisible('#stats'), '"s" still toggles the stats without control');
    await page.keyboard.press('s');

    await request.click();
    await waitControl(page, 'pending');
    check(await request.isDisabled() && (await request.innerText()).trim() === 'Waiting for the host…', 'pending: button disabled, waiting');
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'control-pending.png') });
    check((await page.textContent('#control-status')) === 'Waiting for the host…', 'pending chip (shown on phones)');
    await sender.evaluate(() => /** @type {any} */ (window).decide(true));
    await waitControl(page, 'granted');
    check((await page.textContent('#control-status')) === 'You have control', 'granted chip');
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'control-granted.png') });
    check(!(await request.isVisible()) && await release.isVisible(), 'granted: release button instead of request');
    const global = (await status(page)).global;
    check(global.control.state === 'granted' && global.control.canRequest === true && global.control.holder === 'viewer 1', JSON.stringify(global.control));
    check(await page.evaluate(() => getComputedStyle(/** @type {Element} */ (document.querySelector('video'))).touchAction) === 'none', 'touch-action: none');
    check(inputsOf(await received(sender)).length === 0, `no input before control: ${JSON.stringify(await received(sender))}`);

    // Mouse: clicks at fractions of the picture, one in the letterbox bar (ignored), a right
    // click (no context menu here), and a drag out of the picture (clamped to its edge).
    await page.evaluate(() => document.addEventListener('contextmenu', (e) => { /** @type {any} */ (window).menu = e.defaultPrevented ? 'prevented' : 'shown'; }));
    let mark = (await received(sender)).length;
    for (const [fx, fy] of [[0.25, 0.5], [0.8, 0.1]]) {
      await page.mouse.move(...at(rect, fx, fy), { steps: 3 });
      await page.mouse.click(...at(rect, fx, fy));
    }
    await page.mouse.click(rect.left + 300, rect.top - 20);
    await page.mouse.click(...at(rect, 0.5, 0.5), { button: 'right' });
    await page.mouse.move(...at(rect, 0.6, 0.6));
    await page.mouse.down();
    await page.mouse.move(rect.left + 700, rect.top + rect.height + 30, { steps: 8 });
    await page.mouse.up();
    await sleep(300);
    let got = (await received(sender)).slice(mark);
    checkClicks(got, [[0.25, 0.5, 'left'], [0.8, 0.1, 'left'], [0.5, 0.5, 'right'], [0.6, 0.6, 'left']], 'mouse');
    check(await page.evaluate(() => /** @type {any} */ (window).menu) === 'prevented', 'context menu prevented');
    const moves = got.filter((m) => m.t === 'move');
    check(moves.every((m) => m.x >= 0 && m.x <= 1 && m.y >= 0 && m.y <= 1), 'moves within 0..1');
    const lastUp = got.findLastIndex((m) => m.t === 'button');
    const dragEnd = got.slice(0, lastUp).findLast((m) => m.t === 'move');
    check(dragEnd.y === 1 && Math.abs(dragEnd.x - 0.7) < 0.003, `drag out of the picture clamps: ${JSON.stringify(dragEnd)}`);
    // At most one move per 8 ms, except the position sent right before a button or wheel event.
    const log = await page.evaluate(() => /** @type {any} */ (window).sentLog);
    for (let i = 1; i < log.length; i++) {
      const [a, b, next] = [log[i - 1], log[i], log[i + 1]];
      if (b.m.t !== 'move' || next?.m.t === 'button' || next?.m.t === 'wheel') continue;
      const prevMove = log.slice(0, i).findLast((/** @type {any} */ e) => e.m.t === 'move');
      if (prevMove) check(b.at - prevMove.at >= 7.5, `moves ${(b.at - prevMove.at).toFixed(1)} ms apart (after ${a.m.t})`);
    }

    // 1:1 mode, scrolled: the point under the mouse is still the point sent.
    await page.click('[data-action="size"]');
    await page.setViewportSize({ width: 500, height: 400 });
    await page.evaluate(() => { const stage = /** @type {HTMLElement} */ (document.getElementById('stage')); stage.scrollLeft = 100; stage.scrollTop = 10; });
    check(await page.evaluate(() => document.getElementById('stage')?.clientWidth === 500), 'the toolbar does not widen the page');
    const actual = await picture(page);
    check(actual.width === 640 && actual.left < -50, `scrolled 1:1 picture ${JSON.stringify(actual)}`);
    mark = (await received(sender)).length;
    await page.mouse.click(...at(actual, 0.6, 0.5));
    await sleep(200);
    checkClicks((await received(sender)).slice(mark), [[0.6, 0.5, 'left']], '1:1 scrolled');
    await page.click('[data-action="size"]');
    await page.setViewportSize({ width: 1000, height: 700 });

    // Full screen while granted locks the keyboard (where the browser allows), leaving unlocks.
    await page.click('[data-action="fullscreen"]');
    const lastLock = (/** @type {string} */ call) => page.waitForFunction((c) => /** @type {any} */ (window).locks.at(-1) === c, call, { timeout: 3000 })
      .then(() => true, () => false);
    check(await lastLock('lock'), 'keyboard locked in full screen');
    await page.evaluate(() => document.exitFullscreen());
    check(await lastLock('unlock'), 'keyboard unlocked after full screen');

    // Keys go to the remote screen (the viewer's own "s" shortcut stands down).
    mark = (await received(sender)).length;
    await page.keyboard.type('aB');
    await page.keyboard.press('Enter');
    await page.keyboard.press('s');
    await page.keyboard.down('ControlLeft');
    await page.keyboard.down('KeyX');
    await page.mouse.move(...at(rect, 0.5, 0.5));
    await page.mouse.down();
    await page.evaluate(() => window.dispatchEvent(new Event('blur'))); // lets go of all that
    await page.keyboard.up('KeyX');
    await page.keyboard.up('ControlLeft');
    await page.mouse.up();
    await sleep(300);
    got = (await received(sender)).slice(mark);
    check(!(await page.isVisible('#stats')), '"s" went to the remote screen');
    check(JSON.stringify(keysOf(got)) === JSON.stringify(['KeyA down a', 'KeyA up a', 'KeyB down B', 'KeyB up B', 'Enter down', 'Enter up',
      'KeyS down s', 'KeyS up s', 'ControlLeft down', 'KeyX down x', 'ControlLeft up', 'KeyX up']), `keys: ${keysOf(got).join(', ')}`);
    check(JSON.stringify(got.filter((m) => m.t === 'button').map((m) => m.down)) === '[true,false]', 'blur releases the held button once');

    // Wheel, and paste: Ctrl+V pastes the local clipboard as text (the V itself is not sent).
    mark = (await received(sender)).length;
    await page.mouse.wheel(0, 120);
    await page.evaluate(() => navigator.clipboard.writeText('clip board'));
    await page.keyboard.press('Control+V');
    await page.evaluate(() => {
      const data = new DataTransfer();
      data.setData('text/plain', 'é'.repeat(5000));
      document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    });
    await sleep(300);
    got = (await received(sender)).slice(mark);
    const wheels = got.filter((m) => m.t === 'wheel');
    check(wheels.length === 1 && wheels[0].dy === 120 && wheels[0].dx === 0 && wheels[0].mode === 'pixel', `wheel ${JSON.stringify(wheels)}`);
    check(JSON.stringify(keysOf(got)) === '["ControlLeft down","ControlLeft up"]', `paste keys: ${keysOf(got).join(', ')}`);
    const pastes = got.filter((m) => m.t === 'paste').map((m) => m.text);
    check(pastes.length === 2 && pastes[0] === 'clip board' && pastes[1] === 'é'.repeat(4096), `pastes ${pastes.map((p) => p.length)}`);

    // Release: the request button comes back, the agent's reason shows, input stops.
    await release.click();
    await waitControl(page, 'free');
    check((await page.textContent('#toast')) === 'Control released' && await page.isVisible('#toast'), 'toast with the reason');
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'control-released.png') });
    check(await request.isVisible() && await request.isEnabled(), 'request button back');
    mark = (await received(sender)).length;
    await page.mouse.click(...at(rect, 0.5, 0.5));
    await page.keyboard.press('KeyQ');
    await sleep(300);
    check((await received(sender)).some((m) => m.t === 'release_control'), 'release_control sent');
    got = (await received(sender)).slice(mark);
    check(inputsOf(got).length === 0, `input after release: ${JSON.stringify(got)}`);

    // Keep-alive: a ping 10 s after the channel opened, answered by a pong.
    await sender.waitForFunction(() => /** @type {any} */ (window).received.some((/** @type {any} */ m) => m.t === 'ping'), undefined, { timeout: 12_000 });
    const ping = (await received(sender)).find((m) => m.t === 'ping');
    check(ping.at >= 9500 && ping.at <= 11_500, `first ping after ${ping.at} ms`);

    // Leaving ends the channel: no control state any more.
    await page.click('[data-action="leave"]');
    await waitControl(page, 'none');
    check(!(await request.isVisible()) && !(await page.isVisible('#control-status')), 'no control UI after leaving');
  }],

  ['touch: a tap clicks there, a two-finger pan scrolls', async ({ newPage, server, sender }) => {
    server.state.mode = { relay: true };
    await setAgent(sender, { policy: 'auto', canRequest: true });
    const page = await newPage({ viewport: { width: 390, height: 760 }, hasTouch: true });
    await page.goto(`${server.base}/view#${linkToken(3600, 'control')}`);
    await waitState(page, 'connected', 15000);
    await page.waitForFunction(() => document.querySelector('video')?.videoWidth === 640);
    await waitControl(page, 'free');
    check(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling with the control button');
    await page.tap('[data-testid="request-control"]');
    await waitControl(page, 'granted');
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'control-phone.png') });
    const rect = await picture(page);
    const mark = (await received(sender)).length;
    await page.touchscreen.tap(...at(rect, 0.3, 0.6));
    const cdp = await page.context().newCDPSession(page);
    const [cx, cy] = at(rect, 0.5, 0.5);
    const fingers = (/** @type {number} */ dy) => [{ x: cx - 40, y: cy + dy, id: 0 }, { x: cx + 40, y: cy + dy, id: 1 }];
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: fingers(0) });
    for (let i = 1; i <= 5; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: fingers(-10 * i) });
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await sleep(300);
    const got = (await received(sender)).slice(mark);
    checkClicks(got, [[0.3, 0.6, 'left']], 'tap');
    const wheels = got.filter((m) => m.t === 'wheel');
    const sum = (/** @type {string} */ k) => wheels.reduce((s, m) => s + m[k], 0);
    check(wheels.length > 0 && wheels.every((m) => m.mode === 'pixel') && Math.abs(sum('dy') - 50) < 1 && Math.abs(sum('dx')) < 1,
      `two-finger pan: ${JSON.stringify(wheels)}`);
  }],

  ['view-only link: "View only", no request button; view.mjs --mode view-input is refused', async ({ newPage, server, sender }) => {
    server.state.mode = { relay: true };
    await setAgent(sender, { policy: 'auto', canRequest: false });
    const page = await newPage();
    await page.goto(`${server.base}/view#${linkToken(3600, 'view')}`);
    await waitState(page, 'connected', 15000);
    await waitControl(page, 'free');
    check((await page.textContent('#control-status')) === 'View only', 'View only chip');
    check(!(await page.isVisible('[data-testid="request-control"]')) && !(await page.isVisible('[data-testid="release-control"]')), 'no control buttons');
    check((await status(page)).global.control.canRequest === false, 'canRequest false');
    await page.evaluate(() => /** @type {any} */ (window).deskbeam.debugSend({ t: 'key', code: 'KeyA', down: true }));
    await page.waitForSelector('#toast:not([hidden])', { timeout: 5000 });
    check((await page.textContent('#toast')) === 'This viewer does not have control', 'rejected shows as a toast');
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'view-only.png') });
    await page.close(); // one viewer at a time for the fake agent
    const run = await viewMjs(['--url', `${server.base}/view#${linkToken(3600, 'view')}`, '--mode', 'view-input',
      '--click', '0.25,0.75', '--type', 'hi', '--enter', '--hold-ms', '800']);
    const [line] = run.lines;
    check(run.code === 0 && line?.ok && line.sent === 9 && line.control === 'free', `view.mjs: ${JSON.stringify(run.lines)} ${run.stderr}`);
    check(line.rejected === 9 && line.lastRejected === 'no_control', `rejections ${JSON.stringify(line)}`);
    const got = inputsOf(await received(sender));
    check(got.length === 9 && got[0].t === 'move' && got[0].x === 0.25 && got[0].y === 0.75, `agent got ${JSON.stringify(got)}`);
    check(JSON.stringify(keysOf(got)) === '["KeyH down h","KeyH up h","KeyI down i","KeyI up i","Enter down","Enter up"]', keysOf(got).join(', '));
  }],

  ['view.mjs --mode control: real clicks and typing reach the agent as normalized input', async ({ server, sender }) => {
    server.state.mode = { relay: true };
    await setAgent(sender, { policy: 'auto', canRequest: true });
    const run = await viewMjs(['--url', `${server.base}/view#${linkToken(3600, 'control')}`, '--mode', 'control',
      '--click', '0.25,0.5', '--click', '0.75,0.25;0.5,0.05', '--type', 'hi', '--enter', '--timeout-ms', '20000']);
    const [line] = run.lines;
    check(run.code === 0 && line?.ok && line.control === 'granted' && line.state === 'connected' && line.typed === 'hi', `view.mjs: ${JSON.stringify(run.lines)} ${run.stderr}`);
    check(line.clicked.length === 3 && line.clicked[0].fx === 0.25 && typeof line.clicked[0].clientX === 'number', JSON.stringify(line.clicked));
    console.log(`       (view.mjs control: ${JSON.stringify(line)})`);
    const all = await received(sender);
    check(all[0]?.t === 'hello' && all[1]?.t === 'request_control', `first messages ${JSON.stringify(all.slice(0, 2))}`);
    const got = inputsOf(all);
    // The last one lands where the "Connected" note still shows: it must not swallow the click.
    checkClicks(got, [[0.25, 0.5, 'left'], [0.75, 0.25, 'left'], [0.5, 0.05, 'left']], 'view.mjs clicks');
    check(JSON.stringify(keysOf(got)) === '["KeyH down h","KeyH up h","KeyI down i","KeyI up i","Enter down","Enter up"]', keysOf(got).join(', '));
  }],

  ['view.mjs --mode control-denied: the host declines', async ({ server, sender }) => {
    server.state.mode = { relay: true };
    await setAgent(sender, { policy: 'prompt', canRequest: true });
    await sender.evaluate(() => { /** @type {any} */ (window).received = []; });
    const pending = viewMjs(['--url', `${server.base}/view#${linkToken(3600, 'control')}`, '--mode', 'control-denied', '--timeout-ms', '20000']);
    await sender.waitForFunction(() => /** @type {any} */ (window).received.some((/** @type {any} */ m) => m.t === 'request_control'),
      undefined, { timeout: 20_000 });
    await sleep(300);
    await sender.evaluate(() => /** @type {any} */ (window).decide(false));
    const run = await pending;
    const [line] = run.lines;
    check(run.code === 0 && line?.ok && line.control === 'free' && line.reason === 'the host declined' && line.toast === 'The host declined',
      `view.mjs: ${JSON.stringify(run.lines)} ${run.stderr}`);
  }],
];

async function main() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
  const senderPage = await browser.newPage();
  const server = await startServer((offer) => senderPage.evaluate((o) => /** @type {any} */ (window).answer(o), offer));
  await senderPage.goto(`${server.base}/sender`);
  await startSender(senderPage);
  let failed = 0;
  const only = process.argv[2] ?? '';
  const checks = CHECKS.filter(([name]) => name.includes(only));
  for (const [name, run] of checks) {
    const contexts = [await browser.newContext()];
    /** @type {string[]} */ const problems = [];
    /** @param {import('playwright-core').BrowserContextOptions} [options] a context of its own */
    const newPage = async (options) => {
      if (options) contexts.push(await browser.newContext(options));
      const page = await /** @type {import('playwright-core').BrowserContext} */ (options ? contexts.at(-1) : contexts[0]).newPage();
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
      for (const context of contexts) await context.close();
    }
  }
  await browser.close();
  await server.close();
  console.log(failed ? `${failed} of ${checks.length} checks failed` : `all ${checks.length} checks passed`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
