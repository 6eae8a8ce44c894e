// @ts-check
/**
 * An in-memory stand-in for the Deskbeam server's host API and viewer endpoints, for
 * dashboard-check.mjs: the pages (`/login`, `/dashboard`, `/view`, `/assets/*`, with the real CSP),
 * sign-in with a session cookie, CSRF tokens, TOTP and lock-out, links (PIN, single use, start
 * time, revoke), viewers (kick), the audit log (paging, JSON lines) and `POST /whep` with the
 * link rules (PIN, revoked, not started, used), relaying good offers to `answer(offer)`.
 * Every request is recorded in `seen`; `failNext` makes one API call fail on purpose. Shapes follow
 * server/src/api/types.rs: `url` only in the reply that created a link, `starts_at` always set,
 * the audit log oldest first (`after=ID`: higher ids; `limit` 100 by default, 1000 at most).
 */

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'";
const FILES = {
  '/login': ['login.html', 'text/html; charset=utf-8'],
  '/dashboard': ['dashboard.html', 'text/html; charset=utf-8'],
  '/view': ['index.html', 'text/html; charset=utf-8'],
};
const TYPES = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/**
 * The page or asset at `path`: `[file in web/, content type]`, or undefined. Assets are every
 * script and style sheet in web/ (the server embeds them all; `server/tests/router.rs` checks).
 * @param {string} path @returns {string[]|undefined}
 */
export function webFile(path) {
  const page = /** @type {Record<string, string[]>} */ (FILES)[path];
  if (page) return page;
  const asset = /^\/assets\/([\w-]+)\.(js|css)$/.exec(path);
  if (!asset || !existsSync(join(WEB, `${asset[1]}.${asset[2]}`))) return undefined;
  return [`${asset[1]}.${asset[2]}`, /** @type {Record<string, string>} */ (TYPES)[asset[2]]];
}
export const USERS = {
  alice: { password: 'correct horse', totp: null },
  bob: { password: 'battery staple', totp: '123456' },
  carol: { password: 'locked out', totp: null, locked: true },
};
export const PIN_TRIES = 3;

/** @typedef {{method: string, path: string, query: string, csrf: string|null, pin: string|null, body: any, status: number}} Seen */
/**
 * @typedef {{id: string, url: string, scope: string, label: string|null, created_at: number, starts_at: number|null,
 *   expires_at: number, max_viewers: number, single_use: boolean, has_pin: boolean, revoked_at: number|null,
 *   used: boolean, viewers: number, pin: string|null, token: string, pinFailures: number}} Link
 */

const now = () => Math.floor(Date.now() / 1000);

/** A JWT-shaped link token (unsigned: the viewer only reads the payload). @param {object} claims */
export function token(claims) {
  const b64 = (/** @type {object} */ o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'EdDSA', typ: 'JWT' })}.${b64(claims)}.c2lnbmF0dXJl`;
}

/** @param {(offer: string) => Promise<string>} answer the sender's SDP answer to a viewer's offer */
export async function startFakeApi(answer) {
  /** @type {Seen[]} */ const seen = [];
  /** @type {Map<string, {user: string, csrf: string}>} */ const sessions = new Map();
  /** @type {Map<string, Link>} */ const links = new Map();
  /** @type {Array<{id: string, link_id: string, link_label: string|null, address: string, since: number, scope: string}>} */
  const viewers = [];
  /** @type {Array<{id: number, at: number, kind: string, actor: string|null, host_id: string|null, link_id: string|null,
   *   viewer_id: string|null, address: string|null, detail: string|null}>} */
  const audit = [];
  const state = {
    /** @type {{method: string, path: string, status: number, code: string}|null} */ failNext: null,
    nextId: 1, nextResource: 1,
    /** What GET /api/hosts answers (one host: the dashboard shows no picker). */
    hosts: [{ id: 'host-1', name: 'desk', created_at: now() - 86400, online: true }],
  };
  let base = '';

  /** @param {string} kind @param {string|null} actor @param {object} [more] */
  const record = (kind, actor, more = {}) => {
    audit.push({ id: audit.length + 1, at: now(), kind, actor, host_id: 'host-1', link_id: null, viewer_id: null,
      address: null, detail: null, ...more });
  };

  /** Adds a link straight into the store (the viewer checks need no dashboard). @param {Partial<Link>} [fields] */
  const addLink = (fields = {}) => {
    const id = `l${state.nextId++}`;
    const at = now();
    const ttl = 3600;
    const exp = Math.max(at, fields.starts_at ?? at) + ttl;
    // Like the server: `nbf` is when the link starts (the viewer reads it for link_not_started).
    const t = token({ iss: 'deskbeam', aud: 'deskbeam-link', sub: 'host-1', jti: id, scope: fields.scope ?? 'view', iat: at, nbf: fields.starts_at ?? at, exp });
    /** @type {Link} */
    const link = { id, host_id: 'host-1', url: `${base}/view#${t}`, scope: 'view', label: null, created_at: at, starts_at: at, expires_at: exp,
      max_viewers: 1, single_use: false, has_pin: false, revoked_at: null, used: false, viewers: 0, pin: null, token: t,
      pinFailures: 0, ...fields };
    link.has_pin = link.pin !== null;
    links.set(id, link);
    return link;
  };
  /** What the API shows of a link (`url` only when it was just created). @param {Link} l @param {boolean} [created] */
  const info = (l, created = false) => {
    const { pin: _pin, token: _token, pinFailures: _f, ...rest } = l;
    return { ...rest, url: created ? rest.url : null };
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const text = Buffer.concat(chunks).toString();
    /** @type {any} */ let body = null;
    try { body = text && req.headers['content-type'] === 'application/json' ? JSON.parse(text) : text; } catch { body = text; }
    const header = (/** @type {string} */ n) => { const v = req.headers[n]; return typeof v === 'string' ? v : null; };
    /** @type {Seen} */
    const entry = { method, path, query: url.search, csrf: header('x-csrf-token'), pin: header('x-deskbeam-pin'), body, status: 0 };
    seen.push(entry);
    const headers = { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' };
    /** @param {number} status @param {unknown} value @param {Record<string, string>} [extra] */
    const json = (status, value, extra = {}) => {
      entry.status = status;
      res.writeHead(status, { ...headers, 'Content-Type': 'application/json', ...extra });
      res.end(JSON.stringify(value));
    };
    /** @param {number} status @param {string} code @param {Record<string, string>} [extra] headers */
    const fail = (status, code, extra = {}) => json(status, { error: { code, message: `fake ${code.replace(/_/g, ' ')}` } }, extra);

    const file = webFile(path);
    if (method === 'GET' && file) {
      entry.status = 200;
      res.writeHead(200, { ...headers, 'Content-Type': file[1] });
      return res.end(await readFile(join(WEB, file[0])));
    }
    if (method === 'GET' && path === '/sender') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      return res.end('<!doctype html><title>sender</title>');
    }
    if (path.startsWith('/whep')) return whep();
    if (!path.startsWith('/api/')) return fail(404, 'not_found');

    const cookie = /deskbeam_session=([\w-]+)/.exec(header('cookie') ?? '')?.[1] ?? '';
    const session = sessions.get(cookie);
    const f = state.failNext;
    if (f && f.method === method && path.startsWith(f.path)) {
      state.failNext = null;
      return fail(f.status, f.code);
    }
    if (method === 'POST' && path === '/api/login') {
      const user = /** @type {Record<string, {password: string, totp: string|null, locked?: boolean}>} */ (USERS)[body?.name];
      if (user?.locked) return fail(429, 'login_locked', { 'Retry-After': '120' });
      if (!user || user.password !== body?.password) return fail(401, 'invalid_credentials');
      if (user.totp && !body.totp) return fail(401, 'totp_required');
      if (user.totp && body.totp !== user.totp) return fail(401, 'totp_invalid');
      const id = randomBytes(16).toString('hex');
      const csrf = randomBytes(16).toString('hex');
      sessions.set(id, { user: body.name, csrf });
      record('login', body.name);
      return json(200, { user: { id: `u-${body.name}`, name: body.name, totp: !!user.totp }, csrf_token: csrf },
        { 'Set-Cookie': `deskbeam_session=${id}; HttpOnly; SameSite=Strict; Path=/` });
    }
    if (!session) return fail(401, 'unauthorized');
    if (method !== 'GET' && entry.csrf !== session.csrf) return fail(403, 'csrf_failed');
    if (method === 'GET' && path === '/api/me') return json(200, { user: { id: `u-${session.user}`, name: session.user, totp: false }, csrf_token: session.csrf });
    if (method === 'POST' && path === '/api/logout') {
      sessions.delete(cookie);
      entry.status = 204;
      return void res.writeHead(204, { ...headers, 'Set-Cookie': 'deskbeam_session=; Max-Age=0; Path=/' }).end();
    }
    if (method === 'GET' && path === '/api/hosts') return json(200, { hosts: state.hosts });
    if (method === 'GET' && path === '/api/links') return json(200, { links: [...links.values()].map(info) });
    if (method === 'POST' && path === '/api/links') {
      const b = body ?? {};
      if (state.hosts.length > 1 && !state.hosts.some((h) => h.id === b.host_id)) return fail(400, 'bad_request');
      if (!Number.isInteger(b.ttl_secs) || b.ttl_secs <= 0 || !['view', 'control'].includes(b.scope) ||
        !Number.isInteger(b.max_viewers) || (b.pin !== undefined && !/^[0-9]{4,12}$/.test(b.pin))) return fail(400, 'bad_request');
      const link = addLink({ scope: b.scope, label: b.label ?? null, max_viewers: b.max_viewers, single_use: !!b.single_use,
        pin: b.pin ?? null, starts_at: Math.max(now(), b.starts_at ?? 0) });
      link.expires_at = (link.starts_at ?? link.created_at) + b.ttl_secs;
      record('link_created', session.user, { link_id: link.id, detail: { label: link.label, has_pin: link.has_pin } });
      return json(201, info(link, true));
    }
    const linkId = /^\/api\/links\/([\w-]+)$/.exec(path)?.[1];
    if (method === 'DELETE' && linkId) {
      const link = links.get(linkId);
      if (!link) return fail(404, 'not_found');
      link.revoked_at ??= now();
      record('link_revoked', session.user, { link_id: link.id });
      return json(200, info(link));
    }
    if (method === 'GET' && path === '/api/viewers') return json(200, { viewers });
    const viewerId = /^\/api\/viewers\/([\w-]+)$/.exec(path)?.[1];
    if (method === 'DELETE' && viewerId) {
      const i = viewers.findIndex((v) => v.id === viewerId);
      if (i < 0) return fail(404, 'not_found');
      const [gone] = viewers.splice(i, 1);
      record('viewer_kicked', session.user, { viewer_id: gone.id, address: gone.address, detail: { reason: 'removed by the host' } });
      return json(200, gone);
    }
    if (method === 'GET' && path === '/api/audit') {
      const after = Number(url.searchParams.get('after') ?? 0);
      const limit = Math.max(1, Math.min(1000, Number(url.searchParams.get('limit') ?? 100)));
      return json(200, { events: audit.filter((e) => e.id > after).slice(0, limit) });
    }
    if (method === 'GET' && path === '/api/audit.jsonl') {
      entry.status = 200;
      res.writeHead(200, { ...headers, 'Content-Type': 'application/x-ndjson', 'Content-Disposition': 'attachment; filename="audit.jsonl"' });
      return res.end(audit.map((e) => `${JSON.stringify(e)}\n`).join(''));
    }
    return fail(404, 'not_found');

    async function whep() {
      if (method === 'DELETE') { entry.status = 200; return void res.writeHead(200, headers).end(); }
      if (method !== 'POST' || path !== '/whep') return fail(405, 'method_not_allowed');
      const jwt = /^Bearer ([\w-]+\.([\w-]+)\.[\w-]+)$/.exec(header('authorization') ?? '');
      /** @type {any} */ let claims = null;
      try { claims = jwt && JSON.parse(Buffer.from(jwt[2], 'base64url').toString()); } catch { /* below */ }
      const link = links.get(claims?.jti ?? '');
      if (!link) return fail(401, 'invalid_token');
      if (link.revoked_at !== null) return fail(401, 'link_revoked');
      if (link.expires_at <= now()) return fail(401, 'token_expired');
      if (link.starts_at !== null && link.starts_at > now()) return fail(401, 'link_not_started');
      if (link.single_use && link.used) return fail(401, 'link_used');
      if (link.pin !== null) {
        if (link.pinFailures >= PIN_TRIES) return fail(429, 'pin_locked');
        if (entry.pin === null) return fail(401, 'pin_required');
        if (entry.pin !== link.pin) {
          link.pinFailures++;
          return link.pinFailures >= PIN_TRIES ? fail(429, 'pin_locked') : fail(401, 'pin_invalid');
        }
      }
      try {
        const sdp = await answer(text);
        link.used = true;
        entry.status = 201;
        res.writeHead(201, { ...headers, 'Content-Type': 'application/sdp', Location: `/whep/v${state.nextResource++}` });
        res.end(sdp);
      } catch (e) {
        fail(400, 'bad_sdp');
        console.error('sender could not answer:', e);
      }
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('no server address');
  base = `http://127.0.0.1:${address.port}`;
  return {
    base, seen, state, links, viewers, audit, sessions, addLink, record,
    /** Requests to the API that change something (not GET). */
    writes: () => seen.filter((s) => s.method !== 'GET' && s.path.startsWith('/api/')),
    /** Viewer offers (POST /whep). */
    offers: () => seen.filter((s) => s.method === 'POST' && s.path === '/whep'),
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}
