#!/usr/bin/env node
// @ts-check
/**
 * Checks the host pages (web/login.html, dashboard.html, dashboard.js) and the viewer's link
 * rules (PIN, `closing` notices, links revoked, not started or used) in Debian Chromium, against
 * fake-api.mjs: no Rust server. Offers that pass the link rules are answered by a "sender" page
 * streaming a canvas, which also plays the agent on the `input` channel (control, pong, and
 * `closing` on demand).
 *
 *   node tests/browser/dashboard-check.mjs [WORD]   (exit 0 when every check passes, 1 otherwise;
 *                                                    WORD: only the checks whose name contains it)
 */

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { PIN_TRIES, startFakeApi } from './fake-api.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
];

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => Math.floor(Date.now() / 1000);

class CheckError extends Error {}
/** @param {unknown} cond @param {string} what @returns {asserts cond} */
function check(cond, what) {
  if (!cond) throw new CheckError(what);
}

/** @typedef {import('playwright-core').Page} Page */
/** @typedef {Awaited<ReturnType<typeof startFakeApi>>} Server */

/** A sender page: answers offers with a canvas stream and plays the agent (`closing(reason)`). @param {Page} page */
async function startSender(page) {
  await page.evaluate(() => {
    const canvas = Object.assign(document.createElement('canvas'), { width: 320, height: 180 });
    const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    let frame = 0;
    setInterval(() => {
      ctx.fillStyle = frame++ % 2 ? '#c00' : '#d00';
      ctx.fillRect(0, 0, 320, 180);
    }, 33);
    const stream = canvas.captureStream(30);
    const w = /** @type {any} */ (window);
    w.answer = async (/** @type {string} */ offer) => {
      w.pc?.close();
      const pc = new RTCPeerConnection({ iceServers: [] });
      w.pc = pc;
      pc.ondatachannel = (e) => {
        const ch = e.channel;
        if (ch.label !== 'input') return; // the agent's notices travel on the input channel
        w.ch = ch;
        const send = (/** @type {object} */ m) => ch.send(JSON.stringify({ v: 1, ...m }));
        const open = () => send({ t: 'control', state: 'free', can_request: false });
        if (ch.readyState === 'open') open(); else ch.onopen = open;
        ch.onmessage = (m) => {
          const t = JSON.parse(m.data).t;
          if (t === 'ping') send({ t: 'pong' });
          else if (t === 'hello') open(); // the state again (the one sent on open can be lost)
        };
      };
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
    // What the agent does when it ends a viewer: the notice, then the connection goes.
    w.closing = (/** @type {string} */ reason) => {
      w.ch.send(JSON.stringify({ v: 1, t: 'closing', reason }));
      setTimeout(() => w.pc.close(), 300);
    };
    w.hangUp = () => w.pc?.close();
  });
}

/** Runs view.mjs; returns its exit code and parsed stdout lines. @param {string[]} args @returns {Promise<{code: number|null, lines: any[], stderr: string}>} */
function viewMjs(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(HERE, 'view.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => resolve({ code, lines: out.split('\n').filter(Boolean).map((l) => JSON.parse(l)), stderr: err }));
  });
}

/** @param {Page} page */
const viewerStatus = (page) => page.evaluate(() => ({
  state: document.body.dataset.state,
  message: document.getElementById('message')?.textContent ?? '',
  lastError: /** @type {any} */ (window).deskbeam?.lastError ?? null,
}));

/** @param {Page} page @param {string} state @param {number} [ms] */
async function waitState(page, state, ms = 10_000) {
  try {
    await page.waitForSelector(`body[data-state="${state}"]`, { state: 'attached', timeout: ms });
  } catch {
    const s = await viewerStatus(page);
    throw new CheckError(`wanted state ${state} within ${ms} ms, still ${s.state}: ${s.message}`);
  }
  return viewerStatus(page);
}

/** @param {Page} page @param {string} path @param {number} [ms] */
async function waitPath(page, path, ms = 5000) {
  await page.waitForURL((u) => u.pathname === path, { timeout: ms }).catch(() => {
    throw new CheckError(`wanted ${path}, at ${page.url()}`);
  });
}

/** Signs in through the form. @param {Page} page @param {Server} server */
async function signIn(page, server, name = 'alice', password = 'correct horse') {
  await page.goto(`${server.base}/login`);
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.click('#login-submit');
  await waitPath(page, '/dashboard');
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 5000 });
}

/** @param {Page} page @param {string} text */
async function waitToast(page, text) {
  await page.waitForSelector(`.toast:has-text(${JSON.stringify(text)})`, { timeout: 5000 }).catch(async () => {
    throw new CheckError(`no toast "${text}"; toasts: ${JSON.stringify(await page.locator('.toast').allTextContents())}`);
  });
}

/** Every write the server saw carried the session's CSRF token (no 403). @param {Server} server */
function checkCsrf(server) {
  const bad = server.writes().filter((s) => s.path !== '/api/login' && (s.csrf === null || s.status === 403));
  check(bad.length === 0, `writes without a good X-CSRF-Token: ${JSON.stringify(bad.map((s) => `${s.method} ${s.path}`))}`);
}

/** @typedef {{server: Server, sender: Page, newPage: (options?: import('playwright-core').BrowserContextOptions) => Promise<Page>}} Env */

/** @type {Array<[string, (env: Env) => Promise<void>]>} */
const CHECKS = [
  ['pure logic (relative times, link requests, PINs, flags, sign-in texts)', async ({ newPage, server }) => {
    const page = await newPage();
    await page.goto(`${server.base}/login`);
    const bad = await page.evaluate(async () => {
      const m = await import('/assets/dashboard.js');
      /** @type {string[]} */ const out = [];
      const eq = (/** @type {any} */ a, /** @type {any} */ b, /** @type {string} */ what) => {
        if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
      };
      eq([m.relativeTime(1010, 1000), m.relativeTime(1300, 1000), m.relativeTime(1000 - 7200, 1000), m.relativeTime(1000 + 3 * 86400, 1000)],
        ['just now', 'in 5 min', '2 h ago', 'in 3 d'], 'relativeTime');
      const form = { label: ' Call ', scope: 'control', duration: '28800', minutes: '', maxViewers: '2', startsAt: '', pin: '123456', singleUse: true };
      eq(m.linkRequest(form, 0), { ok: true, body: { ttl_secs: 28800, scope: 'control', max_viewers: 2, label: 'Call', pin: '123456', single_use: true } }, 'linkRequest');
      eq(m.linkRequest({ ...form, duration: 'custom', minutes: '45', pin: null, singleUse: false, label: '' }, 0).body,
        { ttl_secs: 2700, scope: 'control', max_viewers: 2 }, 'custom minutes');
      eq(m.linkRequest({ ...form, duration: 'custom', minutes: '0' }, 0).ok, false, 'zero minutes refused');
      eq(m.linkRequest({ ...form, host: 'h2' }, 0).body?.host_id, 'h2', 'the picked host');
      eq('host_id' in (m.linkRequest({ ...form, host: '' }, 0).body ?? {}), false, 'no host picked: none sent');
      eq(m.linkRequest({ ...form, maxViewers: '1.5' }, 0).ok, false, 'fractional viewers refused');
      const start = new Date(Date.now() + 7200_000);
      const local = new Date(start.getTime() - start.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
      eq(Math.abs((m.linkRequest({ ...form, startsAt: local }, Date.now() / 1000).body?.starts_at ?? 0) - start.getTime() / 1000) < 60, true, 'starts_at');
      const pins = Array.from({ length: 200 }, () => m.randomPin());
      eq(pins.every((p) => /^[0-9]{6}$/.test(p)), true, 'pins are 6 digits');
      eq(new Set(pins).size > 190, true, 'pins differ');
      const link = { revoked_at: null, expires_at: 2000, starts_at: null, has_pin: true, single_use: true, used: true, viewers: 0 };
      eq(m.linkFlags(link, 1000), ['PIN', 'single use', 'used'], 'flags');
      eq(m.linkStatus(link, 1000), 'used', 'status used');
      eq(m.linkStatus({ ...link, revoked_at: 5 }, 1000), 'revoked', 'status revoked');
      eq(m.linkStatus({ ...link, used: false, starts_at: 1500 }, 1000), 'scheduled', 'status scheduled');
      eq(m.loginMessage('login_locked', 120), 'Too many attempts. Try again in 2 min.', 'locked text');
      eq(m.sortEvents([{ id: 1, at: 5 }, { id: 3, at: 7 }, { id: 2, at: 7 }, { id: 1, at: 5 }]).map((e) => e.id), [3, 2, 1], 'sortEvents');
      eq([m.detailText({ reason: 'x', has_pin: true, n: null }), m.detailText('t'), m.detailText(null)], ['reason: x, has pin: true', 't', ''], 'detailText');
      return out;
    });
    check(bad.length === 0, bad.join('; '));
  }],

  ['viewer link rules (pure): PIN, closing reasons, not started, used', async ({ newPage, server }) => {
    const page = await newPage();
    await page.goto(`${server.base}/view`);
    const bad = await page.evaluate(async () => {
      const m = await import('/assets/viewer.js');
      /** @type {string[]} */ const out = [];
      const eq = (/** @type {any} */ a, /** @type {any} */ b, /** @type {string} */ what) => {
        if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
      };
      const t = (/** @type {string} */ state, /** @type {any} */ event, everConnected = false) => {
        const d = m.transition({ state, everConnected }, event);
        return d && [d.state, d.retry, d.error?.code ?? null];
      };
      const failed = (/** @type {string} */ code, status = 401, startsAt = null) => ({ type: 'failed', code, status, message: '', startsAt });
      eq(t('connecting', failed('pin_required')), ['pin', false, 'pin_required'], 'pin_required');
      eq(t('connecting', failed('pin_invalid')), ['pin', false, 'pin_invalid'], 'pin_invalid');
      eq(t('connecting', failed('pin_locked', 429)), ['locked', false, 'pin_locked'], 'pin_locked');
      eq(t('pin', { type: 'pin' }), ['connecting', false, null], 'PIN entered');
      eq(t('pin', { type: 'lost', reason: 'x' }), null, 'pin waits for the PIN');
      eq(t('locked', { type: 'start' }), null, 'locked is final');
      eq(t('connecting', failed('link_used')), ['error', false, 'link_used'], 'link_used');
      eq(t('reconnecting', failed('link_revoked'), true), ['revoked', false, 'link_revoked'], 'revoked on reconnect');
      const later = m.transition({ state: 'connecting', everConnected: false }, failed('link_not_started', 401, 1_900_000_000));
      eq([later?.state, later?.retry, later?.retryAt, later?.message.startsWith('This link is not active yet (starts at ')],
        ['connecting', true, 1_900_000_000, true], 'not started');
      eq(t('connecting', failed('link_not_started')), ['connecting', true, 'link_not_started'], 'not started, time unknown');
      for (const [reason, state] of [['link revoked', 'revoked'], ['link expired', 'expired'], ['removed by the host', 'kicked'],
        ['sharing stopped', 'ended'], ['something new', 'ended']]) {
        eq(t('connected', { type: 'closing', reason }, true)?.slice(0, 2), [state, false], `closing ${reason}`);
      }
      eq(t('kicked', { type: 'lost', reason: 'x' }), null, 'kicked: no reconnect');
      eq(t('kicked', { type: 'start' })?.[0], 'connecting', 'kicked: Rejoin');
      eq(['pin', 'locked', 'kicked'].map(m.isStopped), [true, true, true], 'stopped states');
      eq(m.decodeClaims('x.eyJleHAiOjEyMywibmJmIjo0NX0.y'), { scope: null, exp: 123, nbf: 45 }, 'nbf claim');
      return out;
    });
    check(bad.length === 0, bad.join('; '));
  }],

  ['sign-in: /dashboard sends you to /login; wrong password; TOTP; lock-out; success', async ({ newPage, server }) => {
    const page = await newPage();
    await page.goto(`${server.base}/dashboard`);
    await waitPath(page, '/login');
    check(await page.evaluate(() => document.activeElement?.id) === 'name', 'name field focused');
    check(!(await page.isVisible('#totp')), 'no TOTP field at first');
    await page.fill('#name', 'alice');
    await page.fill('#password', 'nope');
    await page.click('#login-submit');
    await page.waitForSelector('#login-error:has-text("Wrong name or password.")', { timeout: 5000 });
    await page.fill('#name', 'carol');
    await page.fill('#password', 'locked out');
    await page.press('#password', 'Enter');
    await page.waitForSelector('#login-error:has-text("Too many attempts. Try again in 2 min.")', { timeout: 5000 });
    await page.fill('#name', 'bob');
    await page.fill('#password', 'battery staple');
    await page.click('#login-submit');
    await page.waitForSelector('#totp:visible', { timeout: 5000 });
    check((await page.textContent('#login-error'))?.includes('authenticator'), 'asks for the code');
    check(await page.evaluate(() => document.activeElement?.id) === 'totp', 'TOTP field focused');
    await page.fill('#totp', '000000');
    await page.click('#login-submit');
    await page.waitForSelector('#login-error:has-text("not right")', { timeout: 5000 });
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'login-totp.png') });
    await page.fill('#password', 'battery staple');
    await page.fill('#totp', '123456');
    await page.click('#login-submit');
    await waitPath(page, '/dashboard');
    await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 5000 });
    check((await page.textContent('#user')) === 'bob', 'user name shown');
    const login = server.seen.filter((s) => s.path === '/api/login').at(-1);
    check(login?.body?.totp === '123456' && login.body.name === 'bob', `login body ${JSON.stringify(login?.body)}`);
    await page.goto(`${server.base}/login`); // signed in already: straight on
    await waitPath(page, '/dashboard');
  }],

  ['links: empty state, create with PIN + single use (URL and PIN apart), custom + start time, revoke', async ({ newPage, server }) => {
    const page = await newPage({ permissions: ['clipboard-read', 'clipboard-write'] });
    await signIn(page, server);
    check(await page.isVisible('#links-empty') && !(await page.isVisible('#links-table')), 'empty state');
    await page.click('#new-link-toggle');
    check(!(await page.isVisible('#host-row')) && await page.isVisible('#link-label'), 'one host: no picker');
    await page.fill('#link-label', 'Support call');
    await page.check('input[name="scope"][value="control"]');
    await page.selectOption('#link-duration', '28800');
    await page.fill('#link-max', '3');
    await page.check('#link-pin');
    await page.check('#link-single');
    check(await page.inputValue('#link-max') === '1' && await page.isDisabled('#link-max'), 'single use: one viewer');
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'dashboard-new-link.png') });
    await page.click('#create-link');
    await page.waitForSelector('#created:visible', { timeout: 5000 });
    const post = server.writes().find((s) => s.method === 'POST' && s.path === '/api/links');
    const b = post?.body;
    check(b && b.ttl_secs === 28800 && b.scope === 'control' && b.max_viewers === 1 && b.label === 'Support call' &&
      b.single_use === true && /^[0-9]{6}$/.test(b.pin) && b.starts_at === undefined && !('host_id' in b), `POST body ${JSON.stringify(b)}`);
    const url = await page.inputValue('#created-url');
    const pin = await page.inputValue('#created-pin');
    const link = [...server.links.values()].at(-1);
    check(link && url === link.url && pin === b.pin && !url.includes(pin), `created ${url} / ${pin}`);
    await page.click('button[data-copy="created-url"]');
    await waitToast(page, 'Copied');
    check(await page.evaluate(() => navigator.clipboard.readText()) === url, 'link copied');
    const row = page.locator(`tr[data-link-id="${link.id}"]`);
    await row.waitFor({ timeout: 5000 });
    const cells = await row.locator('td').allTextContents();
    check(cells[0] === 'Support call' && cells[1] === 'Control' && cells[2] === '0 / 1' && cells[3] === 'now' &&
      cells[4] === 'in 8 h' && cells[5].includes('PIN') && cells[5].includes('single use'), `row ${JSON.stringify(cells)}`);
    await page.click('#created-done');

    // Custom minutes and a later start.
    await page.click('#new-link-toggle');
    await page.selectOption('#link-duration', 'custom');
    await page.fill('#link-minutes', '45');
    const start = new Date(Date.now() + 2 * 3600_000 + 120_000);
    await page.fill('#link-start', new Date(start.getTime() - start.getTimezoneOffset() * 60_000).toISOString().slice(0, 16));
    await page.click('#create-link');
    await page.waitForSelector('#created:visible', { timeout: 5000 });
    check(!(await page.isVisible('#created-pin-row')), 'no PIN row without a PIN');
    const second = server.writes().filter((s) => s.method === 'POST' && s.path === '/api/links').at(-1)?.body;
    check(second.ttl_secs === 2700 && second.scope === 'view' && Math.abs(second.starts_at - start.getTime() / 1000) < 60 && second.pin === undefined,
      `second body ${JSON.stringify(second)}`);
    const scheduled = [...server.links.values()].at(-1);
    check((await page.locator(`tr[data-link-id="${scheduled?.id}"] td`).nth(3).textContent()) === 'in 2 h', 'starts in 2 h');
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'dashboard-links.png'), fullPage: true });

    // Revoke: dismissing the question does nothing; accepting revokes.
    page.once('dialog', (d) => void d.dismiss());
    await row.locator('button:has-text("Revoke")').click();
    await sleep(300);
    check(!server.writes().some((s) => s.method === 'DELETE'), 'dismissed: no DELETE');
    page.once('dialog', (d) => void d.accept());
    await row.locator('button:has-text("Revoke")').click();
    await page.waitForSelector(`tr[data-link-id="${link.id}"][data-status="revoked"]`, { timeout: 5000 });
    check(server.writes().some((s) => s.method === 'DELETE' && s.path === `/api/links/${link.id}`), 'DELETE sent');
    check((await row.locator('td').nth(5).textContent())?.includes('revoked') && await row.locator('button').count() === 0, 'revoked flag, no button');
    await waitToast(page, 'Link revoked.');
    // A failing revoke shows an error toast.
    server.state.failNext = { method: 'DELETE', path: '/api/links/', status: 500, code: 'internal' };
    page.once('dialog', (d) => void d.accept());
    await page.locator(`tr[data-link-id="${scheduled?.id}"] button:has-text("Revoke")`).click();
    await waitToast(page, 'Could not revoke the link: fake internal');
    checkCsrf(server);
  }],

  ['watching now: refreshes every 2 s, kick sends DELETE; audit: newest first, load more, live, export', async ({ newPage, server }) => {
    for (let i = 0; i < 1100; i++) server.record(i % 2 ? 'viewer_joined' : 'control_granted', i % 3 ? null : 'alice', { detail: `event ${i}` });
    const link = server.addLink({ label: 'Demo' });
    const page = await newPage();
    const mark = server.seen.length;
    await signIn(page, server);
    check(await page.isVisible('#viewers-empty'), 'nobody watching');
    server.viewers.push({ id: 'v1', link_id: link.id, link_label: 'Demo', address: '203.0.113.7', since: now() - 300, scope: 'view' });
    await page.waitForSelector('tr[data-viewer-id="v1"]', { timeout: 3500 });
    const cells = await page.locator('tr[data-viewer-id="v1"] td').allTextContents();
    check(cells[0] === 'Demo' && cells[1] === '203.0.113.7' && cells[3] === '5 min ago', `viewer row ${JSON.stringify(cells)}`);
    await page.click('tr[data-viewer-id="v1"] button:has-text("Kick")');
    await page.waitForSelector('#viewers-empty:visible', { timeout: 5000 });
    check(server.writes().some((s) => s.method === 'DELETE' && s.path === '/api/viewers/v1' && s.status === 200), 'kick DELETE');
    await waitToast(page, '203.0.113.7 was removed.');

    // The log: walked forward from after=0 in pages of 1000, shown newest first, 200 at a time.
    const rows = page.locator('#audit-table tbody tr');
    const queries = server.seen.slice(mark).filter((s) => s.path === '/api/audit').map((s) => s.query);
    check(queries[0] === '?after=0&limit=1000' && queries[1] === '?after=1000&limit=1000', `audit queries ${JSON.stringify(queries.slice(0, 3))}`);
    const kick = await page.waitForSelector('#audit-table tbody tr:first-child:has-text("viewer_kicked")', { timeout: 3500 }).catch(() => null);
    check(kick, 'the kick shows at the top of the log');
    check((await rows.first().locator('td').nth(3).textContent())?.startsWith('reason: removed by the host'), 'detail object as text');
    check(await rows.count() === 200, `${await rows.count()} rows at first`);
    check(await rows.first().getAttribute('data-event-id') === String(server.audit.length), 'newest first');
    const known = server.audit.length;
    const live = server.seen.length;
    server.record('link_revoked', 'alice', { detail: 'live' });
    await page.waitForSelector(`#audit-table tbody tr:first-child[data-event-id="${known + 1}"]`, { timeout: 3500 });
    const since = server.seen.slice(live).filter((s) => s.path === '/api/audit').map((s) => s.query);
    check(since.includes(`?after=${known}&limit=1000`) && since.every((q) => Number(/after=(\d+)/.exec(q)?.[1]) >= known),
      `refreshes ask only for new events: ${JSON.stringify(since)}`);
    await page.click('#audit-more');
    check(await rows.count() === 400, `${await rows.count()} rows after one "Load more"`);
    while (await page.isVisible('#audit-more')) await page.click('#audit-more');
    check(await rows.count() === server.audit.length && await rows.last().getAttribute('data-event-id') === '1', 'all, oldest last');
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'dashboard-audit.png') });
    await page.setViewportSize({ width: 390, height: 800 });
    check(await page.evaluate(() => document.documentElement.scrollWidth) <= 390, 'phone width: tables scroll in their boxes, not the page');
    await page.setViewportSize({ width: 1280, height: 720 });
    check(await page.getAttribute('#audit-export', 'href') === '/api/audit.jsonl', 'export link');
    const exported = await page.evaluate(async () => { const r = await fetch('/api/audit.jsonl'); return { status: r.status, text: await r.text() }; });
    check(exported.status === 200 && exported.text.trim().split('\n').length === server.audit.length, 'export answers JSON lines');
    checkCsrf(server);
  }],

  ['several hosts: a host picker (offline ones marked), the picked host goes with the new link', async ({ newPage, server }) => {
    const one = server.state.hosts;
    server.state.hosts = [
      { id: 'host-1', name: 'desk', created_at: 1, online: false },
      { id: 'host-2', name: 'laptop', created_at: 2, online: true },
    ];
    try {
      const page = await newPage();
      await signIn(page, server);
      await page.click('#new-link-toggle');
      await page.waitForSelector('#host-row:visible', { timeout: 5000 });
      const options = await page.locator('#link-host option').allTextContents();
      check(JSON.stringify(options) === '["desk (offline)","laptop"]', `options ${JSON.stringify(options)}`);
      check(await page.inputValue('#link-host') === 'host-2', 'the online host is picked first');
      await page.selectOption('#link-host', 'host-1');
      await page.click('#create-link');
      await page.waitForSelector('#created:visible', { timeout: 5000 });
      const post = server.writes().filter((s) => s.method === 'POST' && s.path === '/api/links').at(-1);
      check(post?.body?.host_id === 'host-1' && post.status === 201, `POST ${JSON.stringify(post)}`);
    } finally {
      server.state.hosts = one;
    }
  }],

  ['sign out: POST /api/logout with the CSRF token, back to /login, session gone', async ({ newPage, server }) => {
    const page = await newPage();
    await signIn(page, server);
    const csrf = server.seen.filter((s) => s.path === '/api/me' && s.status === 200).length;
    check(csrf > 0, 'GET /api/me');
    await page.click('#logout');
    await waitPath(page, '/login');
    const logout = server.writes().find((s) => s.path === '/api/logout');
    check(logout?.status === 204 && logout.csrf !== null, `logout ${JSON.stringify(logout)}`);
    await page.goto(`${server.base}/dashboard`);
    await waitPath(page, '/login');
    checkCsrf(server);
  }],

  ['viewer PIN: asks, "Wrong PIN", right PIN connects, digits do not trigger shortcuts', async ({ newPage, server }) => {
    const link = server.addLink({ pin: '4821' });
    const page = await newPage();
    await page.goto(link.url);
    let s = await waitState(page, 'pin');
    check(s.lastError?.code === 'pin_required' && s.message.includes('PIN'), JSON.stringify(s));
    check(await page.isVisible('#pin-form') && await page.evaluate(() => document.activeElement?.id) === 'pin', 'PIN form, focused');
    await page.keyboard.type('1fs1');
    check(!(await page.isVisible('#stats')) && (await page.inputValue('#pin')) === '11', 'typing in the PIN field is not a shortcut');
    await page.fill('#pin', '1111');
    await page.press('#pin', 'Enter');
    await page.waitForFunction(() => document.getElementById('message')?.textContent?.startsWith('Wrong PIN'), undefined, { timeout: 5000 });
    s = await waitState(page, 'pin');
    check(s.lastError?.code === 'pin_invalid' && (await page.inputValue('#pin')) === '', `wrong PIN: ${JSON.stringify(s)}`);
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'viewer-pin.png') });
    await page.fill('#pin', '4821');
    await page.click('[data-testid="pin-submit"]');
    await waitState(page, 'connected', 15_000);
    check(JSON.stringify(server.offers().map((o) => o.pin)) === '[null,"1111","4821"]', `PIN headers ${JSON.stringify(server.offers().map((o) => o.pin))}`);
  }],

  ['viewer PIN: too many wrong PINs → locked, no more tries', async ({ newPage, server }) => {
    const link = server.addLink({ pin: '4821' });
    const page = await newPage();
    await page.goto(link.url);
    for (let i = 0; i < PIN_TRIES; i++) {
      await waitState(page, 'pin');
      await page.fill('#pin', `000${i}`);
      await page.press('#pin', 'Enter');
      await page.waitForFunction(() => document.body.dataset.state !== 'pin', undefined, { timeout: 3000 }).catch(() => {});
    }
    const s = await waitState(page, 'locked');
    check(s.message === 'Too many wrong PINs; try again later.' && s.lastError?.code === 'pin_locked', JSON.stringify(s));
    const before = server.offers().length;
    await sleep(2500);
    check(server.offers().length === before && !(await page.isVisible('#pin-form')), 'locked: no form, no retries');
  }],

  ['viewer closing notices: revoked, expired, kicked (Rejoin), sharing stopped; no reconnect', async ({ newPage, server, sender }) => {
    const cases = [
      ['link revoked', 'revoked', 'This link was revoked by the host.', false],
      ['link expired', 'expired', 'This link has expired. Ask the host for a new one.', false],
      ['removed by the host', 'kicked', 'The host removed you from this session.', true],
      ['sharing stopped', 'ended', 'The host stopped sharing.', true],
    ];
    for (const [reason, state, message, rejoin] of cases) {
      const link = server.addLink();
      const page = await newPage();
      await page.goto(link.url);
      await waitState(page, 'connected', 15_000);
      // The input channel opens after the picture on a loaded machine; the notice travels on it.
      await page.waitForFunction(() => document.body.dataset.control !== 'none', undefined, { timeout: 15_000 }).catch(async () => {
        const channel = await sender.evaluate(() => ({ pc: /** @type {any} */ (window).pc?.connectionState, ch: /** @type {any} */ (window).ch?.readyState }));
        throw new CheckError(`${reason}: the input channel never carried the control state (sender ${JSON.stringify(channel)}, viewer ${JSON.stringify(await viewerStatus(page))})`);
      });
      const before = server.offers().length;
      await sender.evaluate((r) => /** @type {any} */ (window).closing(r), reason);
      const s = await waitState(page, /** @type {string} */ (state), 5000);
      check(s.message === message && s.lastError?.message === message, `${reason}: ${JSON.stringify(s)}`);
      await sleep(2500);
      check(server.offers().length === before, `${reason}: reconnected (${server.offers().length - before} offers)`);
      check((await viewerStatus(page)).state === state, `${reason}: left state ${state}`);
      check(await page.isVisible('[data-action="retry"]') === rejoin, `${reason}: Rejoin button ${rejoin ? 'missing' : 'shown'}`);
      if (state === 'kicked') {
        check((await page.textContent('[data-action="retry"]')) === 'Rejoin', 'Rejoin label');
        if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, 'viewer-kicked.png') });
        await page.click('[data-action="retry"]');
        await waitState(page, 'connected', 15_000);
        await page.close();
      }
    }
  }],

  ['viewer: link revoked while reconnecting; link used; link not started (waits for starts_at)', async ({ newPage, server, sender }) => {
    const link = server.addLink();
    const page = await newPage();
    await page.goto(link.url);
    await waitState(page, 'connected', 15_000);
    link.revoked_at = now();
    await sender.evaluate(() => /** @type {any} */ (window).hangUp());
    const s = await waitState(page, 'revoked', 15_000);
    check(s.message === 'This link was revoked by the host.' && s.lastError?.code === 'link_revoked', JSON.stringify(s));

    const used = server.addLink({ single_use: true, used: true });
    const page2 = await newPage();
    await page2.goto(used.url);
    const u = await waitState(page2, 'error');
    check(u.message === 'This link has already been used.' && !(await page2.isVisible('[data-action="retry"]')), JSON.stringify(u));

    const later = server.addLink({ starts_at: now() + 4 });
    const before = server.offers().length;
    const page3 = await newPage();
    await page3.goto(later.url);
    await page3.waitForFunction(() => document.getElementById('message')?.textContent?.startsWith('This link is not active yet (starts at '),
      undefined, { timeout: 5000 });
    const w = await viewerStatus(page3);
    check(w.state === 'connecting' && w.lastError?.code === 'link_not_started', JSON.stringify(w));
    await waitState(page3, 'connected', 15_000);
    check(server.offers().length - before === 2, `not started: ${server.offers().length - before} offers (want one, then one at the start)`);
  }],

  ['view.mjs --pin and --mode ended', async ({ server, sender }) => {
    const link = server.addLink({ pin: '246810' });
    const ok = await viewMjs(['--url', link.url, '--pin', '246810', '--timeout-ms', '20000']);
    check(ok.code === 0 && ok.lines[0]?.ok && ok.lines[0].width === 320, `--pin: ${JSON.stringify(ok.lines)} ${ok.stderr}`);
    const wrong = await viewMjs(['--url', server.addLink({ pin: '246810' }).url, '--pin', '1357', '--timeout-ms', '20000']);
    check(wrong.code === 1 && wrong.lines[0]?.reason.startsWith('the PIN was refused'), `wrong --pin: ${JSON.stringify(wrong.lines)}`);
    const none = await viewMjs(['--url', server.addLink({ pin: '246810' }).url, '--timeout-ms', '20000']);
    check(none.code === 1 && none.lines[0]?.reason.startsWith('the link asks for a PIN'), `no --pin: ${JSON.stringify(none.lines)}`);
    const kicked = server.addLink({ pin: '1234' });
    const pending = viewMjs(['--url', kicked.url, '--pin', '1234', '--mode', 'ended', '--timeout-ms', '25000']);
    const deadline = Date.now() + 20_000;
    while (!(await sender.evaluate(() => /** @type {any} */ (window).ch?.readyState === 'open')) || server.offers().at(-1)?.pin !== '1234') {
      check(Date.now() < deadline, 'view.mjs never connected');
      await sleep(200);
    }
    await sleep(500);
    await sender.evaluate(() => /** @type {any} */ (window).closing('removed by the host'));
    const run = await pending;
    check(run.code === 0 && JSON.stringify(run.lines) === JSON.stringify([{ ok: true, state: 'kicked', message: 'The host removed you from this session.' }]),
      `--mode ended: ${JSON.stringify(run.lines)} ${run.stderr}`);
  }],
];

async function main() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
  const senderPage = await browser.newPage();
  const server = await startFakeApi((offer) => senderPage.evaluate((o) => /** @type {any} */ (window).answer(o), offer));
  await senderPage.goto(`${server.base}/sender`);
  await startSender(senderPage);
  let failed = 0;
  const only = process.argv[2] ?? '';
  const checks = CHECKS.filter(([name]) => name.includes(only));
  for (const [name, run] of checks) {
    /** @type {import('playwright-core').BrowserContext[]} */ const contexts = [];
    /** @type {string[]} */ const problems = [];
    /** @param {import('playwright-core').BrowserContextOptions} [options] each page its own context (cookies) */
    const newPage = async (options) => {
      contexts.push(await browser.newContext(options));
      const page = await /** @type {import('playwright-core').BrowserContext} */ (contexts.at(-1)).newPage();
      page.on('console', (m) => {
        // Error statuses the fake server sends on purpose show up as "Failed to load resource".
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      return page;
    };
    try {
      await run({ server, sender: senderPage, newPage });
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
