// @ts-check
/**
 * The host's pages: sign-in (`/login`) and the dashboard (`/dashboard`), told apart by
 * `body[data-page]`. Layout, top to bottom:
 * - API types (JSDoc mirrors of the server's JSON bodies; keep in step with it);
 * - pure logic: times, link durations and requests, flags, PINs, error texts; no DOM, no network,
 *   exported for the browser tests;
 * - `Api`: fetch with the session cookie and the CSRF header; errors become `ApiError`;
 * - the sign-in page; the dashboard: `LinksPanel`, `ViewersPanel`, `AuditPanel`, `Toasts`.
 * **Invariant:** every request goes through `Api.request`, which adds `X-CSRF-Token` to every
 * non-GET one; page text is set with `textContent` only (labels come from users).
 */

// API types (server/src/api/types.rs: `LinkInfo.url` only in the reply that created the link;
// `starts_at` is the creation time for a link that starts at once)

/** @typedef {{name: string}} User */
/** @typedef {{user: User, csrf_token: string}} Session */
/** @typedef {'view'|'control'} Scope */
/**
 * @typedef {{id: string, url: string|null, scope: Scope, label: string|null, created_at: number,
 *   starts_at: number|null, expires_at: number, max_viewers: number, single_use: boolean, has_pin: boolean,
 *   revoked_at: number|null, used: boolean, viewers: number}} LinkInfo
 */
/** @typedef {{id: string, link_id: string, link_label: string|null, address: string|null, since: number, scope: string}} ViewerInfo */
/**
 * @typedef {{id: number, at: number, kind: string, actor: string|null, host_id: string|null,
 *   link_id: string|null, viewer_id: string|null, address: string|null, detail: unknown}} AuditEvent
 *   `detail`: any JSON (text, or an object such as {"reason": "…"})
 */
/**
 * @typedef {{ttl_secs: number, scope: Scope, max_viewers: number, label?: string, pin?: string,
 *   single_use?: boolean, starts_at?: number, host_id?: string}} NewLink body of POST /api/links
 */
/** @typedef {{id: string, name: string, created_at: number, online: boolean}} HostInfo one of GET /api/hosts */

// Pure logic

export const REFRESH_MS = 2000;
/** Audit events shown at first, and added by each "Load more". */
export const AUDIT_PAGE = 200;
/** Audit events asked for per request (the server's most). */
export const AUDIT_FETCH = 1000;
const TOAST_MS = 5000;
const MAX_TTL_MINUTES = 30 * 24 * 60;

/** "just now", "in 5 min", "3 h ago", "in 2 d". @param {number} at unix seconds @param {number} now unix seconds */
export function relativeTime(at, now) {
  const d = Math.round(at - now);
  const a = Math.abs(d);
  if (a < 45) return 'just now';
  const text = a < 3600 ? `${Math.round(a / 60)} min` : a < 86_400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86_400)} d`;
  return d > 0 ? `in ${text}` : `${text} ago`;
}

/** Local date and time, short. @param {number} at unix seconds */
export function localTime(at) {
  return new Date(at * 1000).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

/** A link's lifecycle now. @param {LinkInfo} link @param {number} now @returns {'revoked'|'expired'|'used'|'scheduled'|'active'} */
export function linkStatus(link, now) {
  if (link.revoked_at !== null) return 'revoked';
  if (link.expires_at <= now) return 'expired';
  if (link.single_use && link.used && link.viewers === 0) return 'used';
  if (link.starts_at !== null && link.starts_at > now) return 'scheduled';
  return 'active';
}

/** The badges in the Flags column. @param {LinkInfo} link @param {number} now @returns {string[]} */
export function linkFlags(link, now) {
  const flags = [];
  if (link.has_pin) flags.push('PIN');
  if (link.single_use) flags.push('single use');
  if (link.used) flags.push('used');
  if (link.revoked_at !== null) flags.push('revoked');
  else if (link.expires_at <= now) flags.push('expired');
  return flags;
}

/** A random PIN of `digits` digits, uniformly (no modulo bias). @param {number} [digits] */
export function randomPin(digits = 6) {
  let pin = '';
  while (pin.length < digits) {
    for (const byte of crypto.getRandomValues(new Uint8Array(digits))) {
      if (byte < 250 && pin.length < digits) pin += String(byte % 10);
    }
  }
  return pin;
}

/**
 * The new-link form's values → the POST body, or what is wrong with them.
 * @param {{label: string, scope: string, duration: string, minutes: string, maxViewers: string,
 *   startsAt: string, pin: string|null, singleUse: boolean, host?: string}} form `startsAt`: a datetime-local
 *   value; `host`: the picked host's id ("" or absent when the account has one host)
 * @param {number} now unix seconds
 * @returns {{ok: true, body: NewLink} | {ok: false, error: string}}
 */
export function linkRequest(form, now) {
  const minutes = form.duration === 'custom' ? Number(form.minutes) : Number(form.duration) / 60;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_TTL_MINUTES) {
    return { ok: false, error: `Choose how long the link is valid: 1 to ${MAX_TTL_MINUTES} minutes.` };
  }
  const max = Number(form.maxViewers);
  if (!Number.isInteger(max) || max < 1 || max > 100) return { ok: false, error: 'Max viewers must be a whole number from 1 to 100.' };
  if (form.scope !== 'view' && form.scope !== 'control') return { ok: false, error: 'Choose the access.' };
  /** @type {NewLink} */
  const body = { ttl_secs: minutes * 60, scope: form.scope, max_viewers: max };
  if (form.label.trim()) body.label = form.label.trim();
  if (form.pin) body.pin = form.pin;
  if (form.singleUse) body.single_use = true;
  if (form.host) body.host_id = form.host;
  if (form.startsAt) {
    const at = Math.floor(new Date(form.startsAt).getTime() / 1000);
    if (!Number.isFinite(at)) return { ok: false, error: 'The start time is not a valid date.' };
    if (at > now + 60) body.starts_at = at; // "now" or a moment ago: start now
  }
  return { ok: true, body };
}

/** What a failed sign-in means for the person at the keyboard. @param {string} code @param {number|null} retryAfter seconds */
export function loginMessage(code, retryAfter) {
  switch (code) {
    case 'invalid_credentials': return 'Wrong name or password.';
    case 'totp_required': return 'Enter the code from your authenticator app.';
    case 'totp_invalid': return 'That authenticator code is not right. Try the current one.';
    case 'login_locked': return `Too many attempts. Try again ${retryAfter ? `in ${Math.ceil(retryAfter / 60)} min` : 'later'}.`;
    case 'network': return 'Cannot reach the Deskbeam server. Check your connection.';
    default: return 'Sign-in failed. Try again.';
  }
}

/** An audit event's `detail` as text: `{"reason": "x", "n": 2}` → "reason: x, n: 2". @param {unknown} detail @returns {string} */
export function detailText(detail) {
  if (detail === null || detail === undefined || detail === '') return '';
  if (typeof detail !== 'object') return String(detail);
  if (Array.isArray(detail)) return detail.map(detailText).join(', ');
  return Object.entries(detail).filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
}

/** The Details column of an audit event. @param {AuditEvent} e */
export function auditDetails(e) {
  return [detailText(e.detail), e.link_id && `link ${e.link_id}`, e.viewer_id && `viewer ${e.viewer_id}`, e.address, e.host_id && `host ${e.host_id}`]
    .filter(Boolean).join(' · ');
}

/** Newest (highest id) first; the same event twice (overlapping pages) once. @param {AuditEvent[]} events */
export function sortEvents(events) {
  return [...new Map(events.map((e) => [e.id, e])).values()].sort((a, b) => b.id - a.id);
}

// API

export class ApiError extends Error {
  /** @param {number} status 0: no answer @param {string} code @param {string} message @param {number|null} [retryAfter] */
  constructor(status, code, message, retryAfter = null) {
    super(message);
    /** @type {number} */ this.status = status;
    /** @type {string} */ this.code = code;
    /** @type {number|null} */ this.retryAfter = retryAfter;
  }
}

class Api {
  constructor() {
    this.csrf = '';
    /** Called on 401 (signed out, session over). @type {() => void} */
    this.onSignedOut = () => {};
  }

  /**
   * One API call; the parsed JSON reply, or an ApiError. A `csrf_failed` answer (a stale token)
   * fetches the current token and tries once more.
   * @param {string} method @param {string} path @param {object} [body] @param {boolean} [retried] @returns {Promise<any>}
   */
  async request(method, path, body, retried = false) {
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && this.csrf) headers['X-CSRF-Token'] = this.csrf;
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'network', 'Cannot reach the Deskbeam server.');
    }
    /** @type {any} */ let json = null;
    try { json = await res.json(); } catch { /* empty or not JSON */ }
    if (res.ok) return json;
    const code = typeof json?.error?.code === 'string' ? json.error.code : `http_${res.status}`;
    const message = typeof json?.error?.message === 'string' ? json.error.message : `The server answered ${res.status}.`;
    const retryAfter = Number(res.headers.get('Retry-After')) || null;
    if (code === 'csrf_failed' && !retried) {
      await this.me();
      return this.request(method, path, body, true);
    }
    if (res.status === 401 && path !== '/api/login') this.onSignedOut();
    throw new ApiError(res.status, code, message, retryAfter);
  }

  /** @returns {Promise<Session>} */
  async me() {
    const session = await this.request('GET', '/api/me');
    this.csrf = session.csrf_token;
    return session;
  }
}

// Page helpers

/** The page's element for `selector`, which must be a `type`. @template {Element} T @param {string} selector @param {new () => T} type @returns {T} */
function $(selector, type) {
  const el = document.querySelector(selector);
  if (!(el instanceof type)) throw new Error(`page is missing ${selector}`);
  return el;
}

/**
 * A new element: `attrs` are properties (`className`, `title`…) and `data-*`/`aria-*` attributes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag @param {Record<string, string|boolean>} [attrs] @param {...(Node|string)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role') node.setAttribute(k, String(v));
    else Object.assign(node, { [k]: v });
  }
  node.append(...children);
  return node;
}

/** Unix seconds now. */
const nowSecs = () => Date.now() / 1000;

/** A time cell: relative text, the local time as tooltip. @param {number|null} at @param {string} [none] */
function timeCell(at, none = '—') {
  if (at === null) return el('td', { className: 'muted' }, none);
  return el('td', { title: localTime(at) }, el('time', { dateTime: new Date(at * 1000).toISOString() }, relativeTime(at, nowSecs())));
}

/**
 * Shows `rows()` in `tbody`, or the empty note. Only when `key` (the data, the minute) changed: a
 * refresh every 2 s must not take the focus or the pointer's button away.
 * @param {HTMLTableSectionElement} tbody @param {HTMLElement} empty @param {string} key @param {() => HTMLTableRowElement[]} build
 */
function fillTable(tbody, empty, key, build) {
  if (tbody.dataset.key === key) return;
  tbody.dataset.key = key;
  const rows = build();
  tbody.replaceChildren(...rows);
  empty.hidden = rows.length > 0;
  /** @type {HTMLElement} */ (tbody.closest('.table-wrap')).hidden = rows.length === 0;
}

/** Copies text: the async clipboard where allowed, else the selection of `input`. @param {HTMLInputElement} input */
async function copyText(input) {
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();
    if (!document.execCommand('copy')) throw new Error('copy refused');
  }
}

class Toasts {
  constructor() {
    this.box = $('#toasts', HTMLElement);
  }

  /** @param {string} text @param {'info'|'error'} [kind] */
  show(text, kind = 'info') {
    const toast = el('div', { className: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
    this.box.append(toast);
    setTimeout(() => toast.remove(), TOAST_MS);
  }

  /** @param {unknown} err @param {string} doing what failed, "Could not revoke the link" */
  error(err, doing) {
    this.show(`${doing}: ${err instanceof ApiError ? err.message : String(err)}`, 'error');
  }
}

// Sign-in page

/** @param {Api} api */
async function loginPage(api) {
  const form = $('#login-form', HTMLFormElement);
  const [name, password, totp] = ['#name', '#password', '#totp'].map((s) => $(s, HTMLInputElement));
  const totpRow = $('#totp-row', HTMLElement);
  const error = $('#login-error', HTMLElement);
  const submit = $('#login-submit', HTMLButtonElement);
  const showError = (/** @type {string} */ text) => { Object.assign(error, { textContent: text, hidden: text === '' }); };
  try { // already signed in: straight on
    await api.me();
    location.replace('/dashboard');
    return;
  } catch { /* not signed in: the form it is */ }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!name.value.trim() || !password.value) return showError('Enter your name and password.');
    /** @type {{name: string, password: string, totp?: string}} */
    const body = { name: name.value.trim(), password: password.value };
    if (!totpRow.hidden && totp.value.trim()) body.totp = totp.value.trim();
    submit.disabled = true;
    showError('');
    try {
      await api.request('POST', '/api/login', body);
      location.assign('/dashboard');
    } catch (err) {
      const code = err instanceof ApiError ? err.code : 'network';
      showError(loginMessage(code, err instanceof ApiError ? err.retryAfter : null));
      if (code === 'totp_required' || code === 'totp_invalid') {
        totpRow.hidden = false;
        totp.required = true;
        Object.assign(totp, { value: '' }).focus();
      } else if (code === 'invalid_credentials') {
        Object.assign(password, { value: '' }).focus();
      }
    } finally {
      submit.disabled = false;
    }
  });
}

// Dashboard

class LinksPanel {
  /** @param {Api} api @param {Toasts} toasts @param {() => void} changed after a create or revoke */
  constructor(api, toasts, changed) {
    this.api = api;
    this.toasts = toasts;
    this.changed = changed;
    this.form = $('#new-link', HTMLFormElement);
    this.toggle = $('#new-link-toggle', HTMLButtonElement);
    this.error = $('#new-link-error', HTMLElement);
    this.tbody = $('#links-table tbody', HTMLTableSectionElement);
    this.empty = $('#links-empty', HTMLElement);
    /** @type {LinkInfo[]} */ this.links = [];
    this.bind();
  }

  bind() {
    const duration = $('#link-duration', HTMLSelectElement);
    const single = $('#link-single', HTMLInputElement);
    const max = $('#link-max', HTMLInputElement);
    this.toggle.addEventListener('click', () => this.open(!!this.form.hidden));
    $('#new-link-cancel', HTMLButtonElement).addEventListener('click', () => this.open(false));
    duration.addEventListener('change', () => { $('#custom-row', HTMLElement).hidden = duration.value !== 'custom'; });
    single.addEventListener('change', () => { if (single.checked) max.value = '1'; max.disabled = single.checked; });
    this.form.addEventListener('submit', (e) => { e.preventDefault(); void this.create(); });
    $('#created-done', HTMLButtonElement).addEventListener('click', () => { $('#created', HTMLElement).hidden = true; });
    document.addEventListener('click', (e) => {
      const button = e.target instanceof Element ? e.target.closest('button[data-copy]') : null;
      if (!(button instanceof HTMLButtonElement)) return;
      copyText($(`#${button.dataset.copy}`, HTMLInputElement)).then(
        () => this.toasts.show('Copied to the clipboard.'), (err) => this.toasts.error(err, 'Could not copy'));
    });
  }

  /**
   * Fills the host picker, shown only when the account has several hosts (then the server needs
   * to be told which one). Keeps the choice; else picks the first host that is online.
   */
  async loadHosts() {
    const row = $('#host-row', HTMLElement);
    const select = $('#link-host', HTMLSelectElement);
    /** @type {HostInfo[]} */ let hosts = [];
    try {
      hosts = (await this.api.request('GET', '/api/hosts')).hosts ?? [];
    } catch { /* no picker: the server says if it needs a host */ }
    const chosen = select.value;
    select.replaceChildren(...hosts.map((h) => {
      const option = document.createElement('option');
      option.value = h.id;
      option.textContent = h.online ? h.name : `${h.name} (offline)`;
      return option;
    }));
    const keep = hosts.find((h) => h.id === chosen) ?? hosts.find((h) => h.online) ?? hosts[0];
    if (keep) select.value = keep.id;
    row.hidden = hosts.length < 2;
  }

  /** @param {boolean} open */
  open(open) {
    if (open) void this.loadHosts();
    this.form.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
    this.error.hidden = true;
    if (open) $('#link-label', HTMLInputElement).focus();
  }

  async create() {
    const value = (/** @type {string} */ id) => $(`#${id}`, HTMLInputElement).value;
    const wantPin = $('#link-pin', HTMLInputElement).checked;
    const request = linkRequest({
      label: value('link-label'), duration: $('#link-duration', HTMLSelectElement).value, minutes: value('link-minutes'),
      scope: new FormData(this.form).get('scope')?.toString() ?? '', maxViewers: value('link-max'),
      startsAt: value('link-start'), pin: wantPin ? randomPin() : null, singleUse: $('#link-single', HTMLInputElement).checked,
      host: $('#host-row', HTMLElement).hidden ? '' : $('#link-host', HTMLSelectElement).value,
    }, nowSecs());
    if (!request.ok) return void Object.assign(this.error, { textContent: request.error, hidden: false });
    const button = $('#create-link', HTMLButtonElement);
    button.disabled = true;
    try {
      /** @type {LinkInfo} */
      const link = await this.api.request('POST', '/api/links', request.body);
      this.showCreated(link, request.body.pin ?? null);
      this.form.reset();
      $('#link-max', HTMLInputElement).disabled = false;
      $('#custom-row', HTMLElement).hidden = true;
      this.open(false);
      this.links = [link, ...this.links.filter((l) => l.id !== link.id)];
      this.render();
      this.changed();
    } catch (err) {
      Object.assign(this.error, { textContent: err instanceof ApiError ? err.message : String(err), hidden: false });
    } finally {
      button.disabled = false;
    }
  }

  /** The URL, and the PIN apart from it: shown once, never stored. @param {LinkInfo} link @param {string|null} pin */
  showCreated(link, pin) {
    $('#created-url', HTMLInputElement).value = link.url ?? '';
    $('#created-pin', HTMLInputElement).value = pin ?? '';
    $('#created-pin-row', HTMLElement).hidden = pin === null;
    $('#created', HTMLElement).hidden = false;
  }

  async refresh() {
    /** @type {{links: LinkInfo[]}} */
    const { links } = await this.api.request('GET', '/api/links');
    this.links = links;
    this.render();
  }

  render() {
    const now = nowSecs();
    const links = [...this.links].sort((a, b) => b.created_at - a.created_at);
    fillTable(this.tbody, this.empty, JSON.stringify([links, Math.floor(now / 30)]), () => links.map((link) => {
      const status = linkStatus(link, now);
      const live = status === 'active' || status === 'scheduled';
      const revoke = el('button', { type: 'button', className: 'danger small', textContent: 'Revoke', 'aria-label': `Revoke ${link.label ?? 'link'}` });
      revoke.addEventListener('click', () => void this.revoke(link));
      return (el('tr', { 'data-link-id': link.id, 'data-status': status },
        el('td', {}, link.label ?? el('span', { className: 'muted' }, 'no label')),
        el('td', {}, link.scope === 'control' ? 'Control' : 'View only'),
        el('td', { className: 'num' }, `${link.viewers} / ${link.max_viewers}`),
        timeCell(link.starts_at !== null && link.starts_at > link.created_at + 5 ? link.starts_at : null, 'now'),
        timeCell(link.expires_at),
        el('td', {}, ...linkFlags(link, now).map((f) => el('span', { className: `flag flag-${f.replace(' ', '-')}` }, f))),
        el('td', { className: 'actions' }, live ? revoke : '')));
    }));
  }

  /** @param {LinkInfo} link */
  async revoke(link) {
    const name = link.label ? `"${link.label}"` : 'this link';
    if (!confirm(`Revoke ${name}? Everyone watching through it is disconnected, and it stops working.`)) return;
    try {
      /** @type {LinkInfo} */
      const revoked = await this.api.request('DELETE', `/api/links/${encodeURIComponent(link.id)}`);
      this.links = this.links.map((l) => (l.id === link.id ? revoked : l));
      this.render();
      this.toasts.show('Link revoked.');
      this.changed();
    } catch (err) {
      this.toasts.error(err, 'Could not revoke the link');
    }
  }
}

class ViewersPanel {
  /** @param {Api} api @param {Toasts} toasts @param {() => void} changed after a kick */
  constructor(api, toasts, changed) {
    this.api = api;
    this.toasts = toasts;
    this.changed = changed;
    this.tbody = $('#viewers-table tbody', HTMLTableSectionElement);
    this.empty = $('#viewers-empty', HTMLElement);
    this.count = $('#viewers-count', HTMLElement);
  }

  async refresh() {
    /** @type {{viewers: ViewerInfo[]}} */
    const { viewers } = await this.api.request('GET', '/api/viewers');
    this.count.textContent = viewers.length ? `${viewers.length} watching` : '';
    fillTable(this.tbody, this.empty, JSON.stringify([viewers, Math.floor(nowSecs() / 30)]), () => viewers.map((v) => {
      const kick = el('button', { type: 'button', className: 'danger small', textContent: 'Kick', 'aria-label': `Kick ${v.address ?? 'viewer'}` });
      kick.addEventListener('click', () => void this.kick(v, kick));
      return (el('tr', { 'data-viewer-id': v.id },
        el('td', {}, v.link_label ?? el('span', { className: 'muted' }, 'no label')),
        el('td', { className: 'mono' }, v.address ?? '—'),
        el('td', {}, v.scope === 'control' ? 'Control' : 'View only'),
        timeCell(v.since),
        el('td', { className: 'actions' }, kick)));
    }));
  }

  /** @param {ViewerInfo} viewer @param {HTMLButtonElement} button */
  async kick(viewer, button) {
    button.disabled = true;
    try {
      await this.api.request('DELETE', `/api/viewers/${encodeURIComponent(viewer.id)}`);
      this.toasts.show(`${viewer.address ?? 'The viewer'} was removed.`);
      await this.refresh();
      this.changed();
    } catch (err) {
      button.disabled = false;
      this.toasts.error(err, 'Could not remove the viewer');
    }
  }
}

/**
 * The audit log, newest first. The server pages oldest first (`after=ID`: the events with a
 * higher id), so this walks forward from the newest event it has: the whole log once, then only
 * what is new (every refresh). "Load more" shows AUDIT_PAGE more of the older events it holds.
 */
class AuditPanel {
  /** @param {Api} api @param {Toasts} toasts */
  constructor(api, toasts) {
    this.api = api;
    this.toasts = toasts;
    this.tbody = $('#audit-table tbody', HTMLTableSectionElement);
    this.empty = $('#audit-empty', HTMLElement);
    this.more = $('#audit-more', HTMLButtonElement);
    /** @type {AuditEvent[]} newest first */ this.events = [];
    /** The highest id fetched: where the next request goes on. */
    this.cursor = 0;
    this.shown = AUDIT_PAGE;
    /** @type {Promise<void>|null} the walk under way: refreshes join it */ this.loading = null;
    this.more.addEventListener('click', () => { this.shown += AUDIT_PAGE; this.render(); });
    $('#audit-refresh', HTMLButtonElement).addEventListener('click', () => void this.loadNew().catch((e) => this.toasts.error(e, 'Could not load the audit log')));
  }

  /** Fetches every event after the newest one here. */
  loadNew() {
    this.loading ??= this.walk().finally(() => { this.loading = null; });
    return this.loading;
  }

  async walk() {
    for (;;) {
      const query = new URLSearchParams({ after: String(this.cursor), limit: String(AUDIT_FETCH) });
      /** @type {{events: AuditEvent[]}} */
      const { events } = await this.api.request('GET', `/api/audit?${query}`);
      const next = Math.max(this.cursor, ...events.map((e) => e.id));
      this.events = sortEvents([...events, ...this.events]);
      if (events.length < AUDIT_FETCH || next === this.cursor) break; // the end (or a server ignoring `after`)
      this.cursor = next;
    }
    this.cursor = this.events[0]?.id ?? this.cursor;
    this.render();
  }

  render() {
    const shown = this.events.slice(0, this.shown);
    this.more.hidden = this.events.length <= this.shown;
    fillTable(this.tbody, this.empty, JSON.stringify(shown), () => shown.map((e) => el('tr', { 'data-event-id': String(e.id) },
      el('td', { title: relativeTime(e.at, nowSecs()) }, el('time', { dateTime: new Date(e.at * 1000).toISOString() }, localTime(e.at))),
      el('td', {}, el('code', {}, e.kind)),
      el('td', {}, e.actor ?? '—'),
      el('td', { className: 'details' }, auditDetails(e)))));
  }
}

/** @param {Api} api */
async function dashboardPage(api) {
  api.onSignedOut = () => location.replace('/login');
  let session;
  try {
    session = await api.me();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return; // onSignedOut is on its way
    document.body.dataset.ready = 'error';
    return new Toasts().error(err, 'Could not load the dashboard');
  }
  $('#user', HTMLElement).textContent = session.user.name;
  const toasts = new Toasts();
  const audit = new AuditPanel(api, toasts);
  const afterChange = () => void audit.loadNew().catch(() => { /* the next refresh will tell */ });
  const links = new LinksPanel(api, toasts, () => { void viewers.refresh().catch(() => {}); afterChange(); });
  const viewers = new ViewersPanel(api, toasts, () => { void links.refresh().catch(() => {}); afterChange(); });
  $('#logout', HTMLButtonElement).addEventListener('click', async () => {
    try { await api.request('POST', '/api/logout'); } catch (err) { return toasts.error(err, 'Could not sign out'); }
    location.assign('/login');
  });
  let failing = false; // one toast per outage, not one every 2 s
  const refresh = async () => {
    try {
      await Promise.all([links.refresh(), viewers.refresh(), audit.loadNew()]);
      failing = false;
    } catch (err) {
      if (!failing && !(err instanceof ApiError && err.status === 401)) toasts.error(err, 'Could not refresh');
      failing = true;
    }
  };
  await Promise.all([refresh(), links.loadHosts()]);
  document.body.dataset.ready = 'true';
  setInterval(() => { if (!document.hidden) void refresh(); }, REFRESH_MS);
}

function main() {
  const api = new Api();
  const page = document.body.dataset.page;
  if (page === 'login') void loginPage(api);
  else if (page === 'dashboard') void dashboardPage(api);
}

if (typeof document !== 'undefined' && document.body?.dataset.page) main();
