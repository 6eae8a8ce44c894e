// @ts-check
/**
 * Deskbeam browser viewer: opens `/view#<link token>`, negotiates a receive-only H.264 stream
 * over WHEP (non-trickle) and shows it. Layout, top to bottom:
 * - wire types (JSDoc mirrors of `proto/src/token.rs` and `proto/src/api.rs`);
 * - pure logic: token, error rules, the connection state machine (`transition`), backoff, stats;
 *   no DOM, no network, exported for the browser tests;
 * - `Session`: one RTCPeerConnection and its WHEP resource; `Viewer`: drives the state machine;
 * - `Ui`: toolbar, shortcuts, banner (with the PIN form), stats overlay, countdown.
 * Remote control (the `input` data channel, its toolbar and input capture) lives in input.js.
 * **Invariant:** state changes only through `Viewer.dispatch`; only `Ui.render` writes it to the
 * page (`body[data-state]`, `#message`, `window.deskbeam.state`).
 */

import { $, INPUT_CHANNEL, Remote, computeStats, emptyStats, formatStat } from './input.js';
import { CHAT_CHANNEL, Chat } from './chat.js';
import { Voice } from './voice.js';

// Wire types (mirrors of the Rust `proto` crate; keep in step with it)

/** @typedef {'idle'|'connecting'|'connected'|'reconnecting'|'pin'|'expired'|'revoked'|'locked'|'kicked'|'error'|'ended'} ViewerState */
/** @typedef {{scope: string|null, exp: number|null, nbf: number|null}} LinkClaims (the parts of proto's LinkClaims used here) */
/** @typedef {{code: string, message: string}} ViewerError */
/**
 * @typedef {{type: 'start'|'connected'|'expired'|'leave'|'pin'} | {type: 'lost', reason: string}
 *   | {type: 'closing', reason: string} | {type: 'failed', code: string, status: number, message: string,
 *   startsAt?: number|null}} ViewerEvent `pin`: a PIN was entered; `closing`: the agent's notice, then it ends us
 */
/** @typedef {{state: ViewerState, message: string, retry: boolean, error: ViewerError|null, retryAt?: number}} Decision
 *  `retryAt`: unix seconds to retry at instead of the backoff (a link that starts later) */
/** @typedef {import('./input.js').ViewerStats} ViewerStats */
/** @typedef {{state: ViewerState, lastError: ViewerError|null, stats: ViewerStats, chat?: import('./chat.js').ChatGlobal,
 *   voice?: import('./voice.js').VoiceGlobal}
 *   & import('./input.js').RemoteGlobal} DeskbeamGlobal */

// Pure logic

export const MESSAGES = Object.freeze({
  incomplete: 'This link is incomplete. Ask the host to send you the whole link again.',
  expired: 'This link has expired. Ask the host for a new one.',
  connecting: 'Connecting to the shared computer…',
  connected: 'Connected',
  lost: 'The connection was interrupted — reconnecting…',
  unreachable: 'Could not reach the shared computer — retrying…',
  server: 'The Deskbeam server had a problem — retrying…',
  left: 'You left the session.',
});

const FORMAT = 'This browser and the shared computer could not agree on a video format. ' +
  'Try an up-to-date Chrome, Edge, Firefox or Safari.';
/** What each server error code means here: a final state, or 'retry' (with backoff). */
/** @type {Readonly<Record<string, {next: ViewerState|'retry', message: string}>>} */
const ERROR_RULES = Object.freeze({
  missing_token: { next: 'error', message: MESSAGES.incomplete },
  invalid_token: { next: 'error', message: 'This link is not valid. Check that you copied all of it, or ask the host for a new one.' },
  token_expired: { next: 'expired', message: MESSAGES.expired },
  link_revoked: { next: 'revoked', message: 'This link was revoked by the host.' },
  link_used: { next: 'error', message: 'This link has already been used.' },
  pin_required: { next: 'pin', message: 'This link is protected by a PIN. Enter the PIN the host gave you.' },
  pin_invalid: { next: 'pin', message: 'Wrong PIN. Check it and try again.' },
  pin_locked: { next: 'locked', message: 'Too many wrong PINs; try again later.' },
  link_full: { next: 'retry', message: 'This link already has as many viewers as it allows — retrying…' },
  host_offline: { next: 'retry', message: 'The shared computer is not connected right now — retrying…' },
  agent_timeout: { next: 'retry', message: 'The shared computer did not answer in time — retrying…' },
  bad_sdp: { next: 'error', message: FORMAT },
  unsupported_media_type: { next: 'error', message: FORMAT },
  version_mismatch: { next: 'error', message: 'This page is out of date. Reload it to get the current viewer.' },
  network: { next: 'retry', message: 'Cannot reach the Deskbeam server — retrying…' },
});

/**
 * Classifies a failed WHEP request. Unknown codes: 5xx and network trouble are retried, other 4xx
 * are final and show the server's own (human) message.
 * @param {string} code @param {number} status @param {string} serverMessage
 * @param {number|null} [startsAt] when a `link_not_started` link starts (unix seconds), if known
 * @returns {{next: ViewerState|'retry', message: string}}
 */
export function classifyError(code, status, serverMessage, startsAt) {
  if (code === 'link_not_started') {
    const when = startsAt && new Date(startsAt * 1000).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
    return { next: 'retry', message: when ? `This link is not active yet (starts at ${when}).` : 'This link is not active yet — retrying…' };
  }
  const rule = ERROR_RULES[code];
  if (rule) return rule;
  if (status === 0 || status >= 500) return { next: 'retry', message: MESSAGES.server };
  return { next: 'error', message: serverMessage || `The server refused the connection (${code}).` };
}

/** The agent's `closing` reasons: the state, message and error code each ends the viewer with. */
/** @type {Readonly<Record<string, [ViewerState, string, string]>>} */
const CLOSING = Object.freeze({
  'link revoked': ['revoked', ERROR_RULES.link_revoked.message, 'link_revoked'],
  'link expired': ['expired', MESSAGES.expired, 'token_expired'],
  'removed by the host': ['kicked', 'The host removed you from this session.', 'removed'],
  'sharing stopped': ['ended', 'The host stopped sharing.', 'sharing_stopped'],
});

/** Events each state reacts to; anything else is ignored (e.g. late events of an old session). */
/** @type {Readonly<Record<ViewerState, ReadonlyArray<ViewerEvent['type']>>>} */
const ACCEPTS = Object.freeze({
  idle: ['start', 'failed', 'expired'],
  connecting: ['connected', 'lost', 'failed', 'expired', 'leave', 'closing'],
  connected: ['lost', 'failed', 'expired', 'leave', 'closing'],
  reconnecting: ['connected', 'lost', 'failed', 'expired', 'leave', 'closing'],
  pin: ['pin', 'expired'],
  error: ['start', 'expired'],
  ended: ['start', 'expired'],
  kicked: ['start', 'expired'],
  expired: [], revoked: [], locked: [], // final
});

/**
 * The connection state machine: what happens to `state` on `event`.
 * @param {{state: ViewerState, everConnected: boolean}} machine
 * @param {ViewerEvent} event
 * @returns {Decision | null} null when the event does not apply in this state
 */
export function transition(machine, event) {
  if (!ACCEPTS[machine.state].includes(event.type)) return null;
  const retrying = machine.everConnected ? 'reconnecting' : 'connecting';
  switch (event.type) {
    case 'start': case 'pin': return { state: 'connecting', message: MESSAGES.connecting, retry: false, error: null };
    case 'connected': return { state: 'connected', message: MESSAGES.connected, retry: false, error: null };
    case 'lost': {
      const message = machine.everConnected ? MESSAGES.lost : MESSAGES.unreachable;
      return { state: retrying, message, retry: true, error: { code: event.reason, message } };
    }
    case 'failed': {
      const { next, message } = classifyError(event.code, event.status, event.message, event.startsAt);
      const error = { code: event.code, message };
      if (next === 'retry') return { state: retrying, message, retry: true, retryAt: event.startsAt ?? undefined, error };
      return { state: next, message, retry: false, error };
    }
    case 'closing': {
      const [state, message, code] = CLOSING[event.reason] ??
        ['ended', `The host ended this session${event.reason ? ` (${event.reason})` : ''}.`, 'closed'];
      return { state, message, retry: false, error: { code, message } };
    }
    case 'expired': {
      const message = MESSAGES.expired;
      return { state: 'expired', message, retry: false, error: { code: 'token_expired', message } };
    }
    case 'leave': return { state: 'ended', message: MESSAGES.left, retry: false, error: null };
  }
}

/** States where nothing happens until the viewer acts (never, for expired/revoked/locked). @param {ViewerState} state */
export function isStopped(state) {
  return !['idle', 'connecting', 'connected', 'reconnecting'].includes(state);
}

/** Delay before retry number `attempt` (0-based): 1 s, 2 s, 4 s, 8 s, then 15 s. @param {number} attempt */
export function backoffMs(attempt) {
  return Math.min(15_000, 1000 * 2 ** Math.max(0, Math.min(attempt, 10)));
}

/** The link token from the URL fragment (`#<token>`; `#token=<token>` also accepted). @param {string} hash */
export function tokenFromHash(hash) {
  let raw = hash.startsWith('#') ? hash.slice(1) : hash;
  try { raw = decodeURIComponent(raw); } catch { /* keep it as it is */ }
  raw = raw.trim();
  if (raw.startsWith('token=')) raw = raw.slice('token='.length);
  return raw === '' ? null : raw;
}

/**
 * Reads the claims of a JWT without verifying it (the server does that): only for display and
 * for not bothering the server with a link that has plainly expired. Never throws.
 * @param {string} token @returns {LinkClaims|null}
 */
export function decodeClaims(token) {
  try {
    const part = token.split('.')[1];
    if (!part || !/^[A-Za-z0-9_-]+$/.test(part)) return null;
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    return {
      scope: typeof value.scope === 'string' ? value.scope : null,
      exp: Number.isFinite(value.exp) ? value.exp : null,
      nbf: Number.isFinite(value.nbf) ? value.nbf : null,
    };
  } catch {
    return null;
  }
}

/** "42 s", "4:05", "2 h 05 min", "3 d 4 h". @param {number} seconds */
export function formatRemaining(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)}:${pad(s % 60)}`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** @param {any} v @returns {number|null} */
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** @param {any} v @returns {string|null} */
const str = (v) => (typeof v === 'string' ? v : null);

// WHEP I/O

const ICE_GATHERING_MAX_MS = 1500;
const DISCONNECT_GRACE_MS = 3000;
const CONNECT_TIMEOUT_MS = 15_000;

/** Resolves once ICE gathering is complete, or after `maxMs`. @param {RTCPeerConnection} pc @param {number} maxMs */
function iceGatheringDone(pc, maxMs) {
  return new Promise((resolve) => {
    const check = () => { if (pc.iceGatheringState === 'complete') resolve(undefined); };
    pc.addEventListener('icegatheringstatechange', check);
    setTimeout(resolve, maxMs);
    check();
  });
}

/** Puts H.264 (packetization-mode=1) first in the offer: the host sends only H.264. @param {RTCRtpTransceiver} transceiver */
function preferH264(transceiver) {
  try {
    const codecs = RTCRtpReceiver.getCapabilities('video')?.codecs ?? [];
    const isH264 = (/** @type {RTCRtpCodec} */ c) =>
      c.mimeType.toLowerCase() === 'video/h264' && /packetization-mode=1/.test(c.sdpFmtpLine ?? '');
    if (codecs.some(isH264)) {
      transceiver.setCodecPreferences([...codecs.filter(isH264), ...codecs.filter((c) => !isH264(c))]);
    }
  } catch { /* the browser's default order will do */ }
}

/** @typedef {{ok: false, code: string, status: number, message: string, startsAt?: number|null}} Failure */
/**
 * @param {string} token @param {string|null} pin sent as `X-Deskbeam-Pin` @param {string} offer
 * @returns {Promise<{ok: true, answer: string, location: string} | Failure>}
 */
async function postOffer(token, pin, offer) {
  let res;
  try {
    /** @type {Record<string, string>} */
    const headers = { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` };
    if (pin) headers['X-Deskbeam-Pin'] = pin;
    res = await fetch('/whep', { method: 'POST', headers, body: offer, cache: 'no-store' });
  } catch {
    return { ok: false, code: 'network', status: 0, message: '' };
  }
  const text = await res.text().catch(() => '');
  const location = res.headers.get('Location');
  if (res.status === 201 && location && text.startsWith('v=')) {
    const url = new URL(location, res.url);
    return { ok: true, answer: text, location: url.pathname + url.search };
  }
  /** @type {any} */ let body = null;
  try { body = JSON.parse(text); } catch { /* not the JSON error body (a proxy's page, say) */ }
  const code = str(body?.error?.code) ?? `http_${res.status}`;
  return { ok: false, code, status: res.status, message: str(body?.error?.message) ?? '', startsAt: num(body?.error?.starts_at) };
}

/**
 * The server's STUN/TURN servers, with TURN credentials minted for this link token (and PIN),
 * fetched before ICE gathers: WHEP's `Link` headers only arrive with the answer, too late for a
 * non-trickle offer. Any failure means no ICE servers; the offer itself then reports the error.
 * @param {string} token @param {string|null} pin @returns {Promise<RTCIceServer[]>}
 */
async function fetchIceServers(token, pin) {
  /** @type {Record<string, string>} */
  const headers = { Authorization: `Bearer ${token}` };
  if (pin) headers['X-Deskbeam-Pin'] = pin;
  try {
    const res = await fetch('/whep/ice-servers', { headers, cache: 'no-store' });
    if (!res.ok) return [];
    /** @type {import('./protocol').IceServerList} */
    const body = await res.json();
    return Array.isArray(body?.ice_servers) ? body.ice_servers : [];
  } catch {
    return [];
  }
}

/** Ends a viewer resource; survives page unload. @param {string} location @param {string} token */
function deleteResource(location, token) {
  fetch(location, { method: 'DELETE', keepalive: true, headers: { Authorization: `Bearer ${token}` } })
    .catch(() => { /* the server also drops viewers whose connection dies */ });
}

/** @typedef {{onTrack: (t: MediaStreamTrack) => void, onChannel: (c: RTCDataChannel) => void, onConnected: () => void,
 *   onLost: (reason: string) => void, onAudio: (t: RTCRtpTransceiver) => void}} Handlers */
/**
 * One negotiation: a peer connection and (once created) its WHEP resource. Reports at most one
 * `onLost`; after `close()` it reports nothing.
 */
class Session {
  /** @param {string} token @param {string|null} pin @param {Handlers} handlers */
  constructor(token, pin, handlers) {
    this.token = token;
    this.pin = pin;
    this.handlers = handlers;
    this.pc = new RTCPeerConnection({ iceServers: [] });
    /** @type {string|null} */ this.location = null;
    this.closed = false;
    this.lost = false;
    /** @type {number|undefined} */ this.graceTimer = undefined;
    /** @type {number|undefined} */ this.connectTimer = undefined;
    /** @type {import('./input.js').StatsSample|null} */ this.lastSample = null;
  }

  /** @returns {Promise<{ok: true} | Failure>} */
  async negotiate() {
    const { pc } = this;
    const transceiver = pc.addTransceiver('video', { direction: 'recvonly' });
    preferH264(transceiver);
    this.handlers.onChannel(pc.createDataChannel(INPUT_CHANNEL)); // before the offer, so it is in it
    this.handlers.onChannel(pc.createDataChannel(CHAT_CHANNEL));
    this.handlers.onAudio(pc.addTransceiver('audio', { direction: 'sendrecv' })); // host sound in, microphone out
    pc.ontrack = (e) => { if (!this.closed) this.handlers.onTrack(e.track); };
    pc.onconnectionstatechange = () => this.onConnectionState();
    try {
      const iceServers = await fetchIceServers(this.token, this.pin);
      if (iceServers.length > 0) pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
      await pc.setLocalDescription(await pc.createOffer());
      await iceGatheringDone(pc, ICE_GATHERING_MAX_MS);
      if (this.closed) return { ok: true };
      const result = await postOffer(this.token, this.pin, pc.localDescription?.sdp ?? '');
      if (!result.ok) return result;
      this.location = result.location;
      if (this.closed) { // left or expired while the server was answering
        deleteResource(result.location, this.token);
        return { ok: true };
      }
      await pc.setRemoteDescription({ type: 'answer', sdp: result.answer });
    } catch (e) { // createOffer / setLocalDescription / setRemoteDescription refused an SDP
      return { ok: false, code: 'bad_sdp', status: 0, message: String(e) };
    }
    const dtls = transceiver.receiver.transport;
    if (dtls) dtls.onstatechange = () => {
      if (dtls.state === 'closed' || dtls.state === 'failed') this.reportLost(`dtls_${dtls.state}`);
    };
    this.connectTimer = setTimeout(() => this.reportLost('connect_timeout'), CONNECT_TIMEOUT_MS);
    return { ok: true };
  }

  onConnectionState() {
    if (this.closed) return;
    const state = this.pc.connectionState;
    if (state === 'connected') {
      clearTimeout(this.connectTimer);
      clearTimeout(this.graceTimer);
      this.graceTimer = undefined;
      this.handlers.onConnected();
    } else if (state === 'disconnected' && this.graceTimer === undefined) {
      this.graceTimer = setTimeout(() => this.reportLost('ice_disconnected'), DISCONNECT_GRACE_MS);
    } else if (state === 'failed') {
      this.reportLost('ice_failed');
    }
  }

  /** @param {string} reason */
  reportLost(reason) {
    if (this.closed || this.lost) return;
    this.lost = true;
    this.handlers.onLost(reason);
  }

  /** @returns {Promise<ViewerStats|null>} */
  async readStats() {
    if (this.closed) return null;
    const entries = [...(await this.pc.getStats()).values()];
    const { stats, sample } = computeStats(entries, this.lastSample);
    if (sample) this.lastSample = sample;
    return stats;
  }

  /** Closes the peer connection and DELETEs the WHEP resource (if any). Idempotent. */
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.graceTimer);
    clearTimeout(this.connectTimer);
    this.pc.close();
    if (this.location) deleteResource(this.location, this.token);
  }
}

// Viewer: drives the state machine

class Viewer {
  /** @param {Ui} ui @param {string} token @param {LinkClaims|null} claims */
  constructor(ui, token, claims) {
    this.ui = ui;
    this.token = token;
    this.claims = claims;
    /** @type {ViewerState} */ this.state = 'idle';
    /** @type {string|null} The PIN entered, sent with every offer (reconnects too). */ this.pin = null;
    this.everConnected = false;
    this.attempt = 0;
    /** @type {Session|null} */ this.session = null;
    /** @type {number|undefined} */ this.retryTimer = undefined;
    setInterval(() => this.tick(), 1000);
  }

  /** @param {ViewerEvent} event @returns {boolean} whether the event applied */
  dispatch(event) {
    const decision = transition({ state: this.state, everConnected: this.everConnected }, event);
    if (!decision) return false;
    this.state = decision.state;
    if (decision.state === 'connected') Object.assign(this, { everConnected: true, attempt: 0 });
    if (isStopped(decision.state)) { this.suspend(); this.ui.reset(); } // DELETE included
    if (decision.state === 'pin' || decision.state === 'locked') this.pin = null;
    if (decision.retry) this.scheduleRetry(decision.retryAt);
    this.ui.render(decision);
    return true;
  }

  start() {
    if (this.expiresIn() <= 0) this.dispatch({ type: 'expired' });
    else if (this.dispatch({ type: 'start' })) void this.connect();
  }

  async connect() {
    this.session?.close();
    const session = new Session(this.token, this.pin, {
      onTrack: (track) => (track.kind === 'audio' ? this.ui.voice.play(track) : this.ui.showTrack(track)),
      onAudio: (transceiver) => this.ui.voice.attach(transceiver),
      onChannel: (channel) => (channel.label === CHAT_CHANNEL ? this.ui.chat : this.ui.remote).attach(channel),
      onConnected: () => { if (this.session === session) this.dispatch({ type: 'connected' }); },
      onLost: (reason) => { if (this.session === session) this.dispatch({ type: 'lost', reason }); },
    });
    this.session = session;
    const result = await session.negotiate();
    if (this.session !== session || result.ok) return;
    const nbf = this.claims?.nbf ?? 0; // a link that starts later: the server's `starts_at`, else `nbf` if ahead
    const later = result.code === 'link_not_started' ? result.startsAt ?? (nbf > Date.now() / 1000 ? nbf : null) : null;
    this.dispatch({ type: 'failed', ...result, startsAt: later });
  }

  /** @param {string} pin digits the viewer typed */
  submitPin(pin) {
    this.pin = pin;
    if (this.dispatch({ type: 'pin' })) void this.connect();
  }

  /** Retries after the backoff, or (for a link that starts later) just after `retryAt`, at most an hour on. @param {number} [retryAt] */
  scheduleRetry(retryAt) {
    this.suspend();
    const base = backoffMs(this.attempt++);
    const delay = retryAt === undefined
      ? Math.min(15_000, Math.max(1000, base * (0.85 + 0.3 * Math.random())))
      : Math.min(3_600_000, Math.max(1000, retryAt * 1000 - Date.now() + 500));
    this.retryTimer = setTimeout(() => { if (!isStopped(this.state)) void this.connect(); }, delay);
  }

  /** Seconds until the link expires (Infinity if unknown). */
  expiresIn() {
    const exp = this.claims?.exp;
    return typeof exp === 'number' ? exp - Date.now() / 1000 : Infinity;
  }

  /** Every second: expiry countdown and stats. */
  async tick() {
    const left = this.expiresIn();
    if (left !== Infinity) this.ui.showCountdown(left);
    if (left <= 0) this.dispatch({ type: 'expired' });
    const stats = await this.session?.readStats().catch(() => null);
    if (stats) this.ui.showStats(stats);
  }

  /** The page is going away (or into the back/forward cache): close and DELETE now. */
  suspend() {
    clearTimeout(this.retryTimer);
    this.session?.close();
    this.session = null;
    this.ui.remote.detach();
    this.ui.chat.detach();
    this.ui.voice.detach();
  }

  /** The page came back from the back/forward cache: reconnect if it was (re)connecting. */
  resume() {
    if (!isStopped(this.state)) this.dispatch({ type: 'lost', reason: 'page_restored' });
  }
}

// UI

class Ui {
  constructor() {
    this.video = $('#video', HTMLVideoElement);
    this.viewport = $('#viewport', HTMLElement);
    this.stage = $('#stage', HTMLElement);
    this.message = $('#message', HTMLElement);
    this.statsPanel = $('#stats', HTMLElement);
    this.expiry = $('#expiry', HTMLElement);
    this.pinForm = $('#pin-form', HTMLFormElement);
    this.pinInput = $('#pin', HTMLInputElement);
    /** @type {DeskbeamGlobal} */ this.global = { state: 'idle', lastError: null, stats: emptyStats() };
    /** @type {Window & {deskbeam?: DeskbeamGlobal}} */ (window).deskbeam = this.global;
    this.remote = new Remote(this.video, this.global);
    this.chat = new Chat(this.global);
    this.voice = new Voice(this.global);
    this.video.muted = true;
  }

  /** @param {Decision} d */
  render(d) {
    document.body.dataset.state = d.state;
    // The host is gone: its last picture must not stay up as if it were live.
    document.body.toggleAttribute('data-offline', d.error?.code === 'host_offline' && !isStopped(d.state) && d.state !== 'connected');
    Object.assign(this.global, { state: d.state, lastError: d.error });
    this.message.textContent = d.message;
    document.title = `Deskbeam — ${d.state === 'connected' ? 'watching' : d.state}`;
    const hopeless = ['missing_token', 'invalid_token', 'link_used'].includes(d.error?.code ?? ''); // same link, same answer
    const retry = d.state === 'error' && !hopeless ? 'Try again' : ['ended', 'kicked'].includes(d.state) ? 'Rejoin' : '';
    Object.assign($('[data-action="retry"]', HTMLButtonElement), { hidden: retry === '', textContent: retry });
    $('[data-action="leave"]', HTMLButtonElement).disabled = isStopped(d.state);
    this.pinForm.hidden = d.state !== 'pin';
    if (d.state === 'pin') Object.assign(this.pinInput, { value: '' }).focus();
  }

  /** @param {LinkClaims|null} claims */
  showClaims(claims) {
    const scope = $('#scope', HTMLElement);
    scope.textContent = { view: 'View only', control: 'Control' }[claims?.scope ?? ''] ?? '';
    scope.hidden = scope.textContent === '';
    if (claims?.exp != null) this.expiry.title = `Link valid until ${new Date(claims.exp * 1000).toLocaleString()}`;
  }

  /** @param {number} secondsLeft */
  showCountdown(secondsLeft) {
    this.expiry.hidden = false;
    this.expiry.textContent = secondsLeft > 0 ? `Expires in ${formatRemaining(secondsLeft)}` : 'Link expired';
    this.expiry.classList.toggle('soon', secondsLeft < 300);
  }

  /** @param {MediaStreamTrack} track */
  showTrack(track) {
    this.video.srcObject = new MediaStream([track]);
    this.video.play().catch(() => { /* muted autoplay; the next frame starts it */ });
  }

  /** No connection: no picture, no numbers. */
  reset() {
    this.video.srcObject = null;
    this.showStats(emptyStats());
  }

  /** @param {ViewerStats} stats */
  showStats(stats) {
    this.global.stats = stats;
    if (this.statsPanel.hidden) return;
    for (const cell of this.statsPanel.querySelectorAll('[data-stat]')) {
      if (cell instanceof HTMLElement) cell.textContent = formatStat(stats, cell.dataset.stat ?? '');
    }
  }

  /** @param {string} action @param {boolean} on */
  setPressed(action, on) {
    $(`[data-action="${action}"]`, HTMLButtonElement).setAttribute('aria-pressed', String(on));
  }

  toggleStats() {
    this.statsPanel.hidden = !this.statsPanel.hidden;
    this.setPressed('stats', !this.statsPanel.hidden);
    this.showStats(this.global.stats);
  }

  /** Fit to window (default) ⇄ actual pixels (one video pixel per device pixel, scrollable). */
  toggleActualSize() {
    this.setPressed('size', this.stage.classList.toggle('actual'));
    this.applyActualSize();
  }

  applyActualSize() {
    const actual = this.stage.classList.contains('actual');
    const { videoWidth: w, videoHeight: h } = this.video;
    const dpr = window.devicePixelRatio || 1;
    this.video.style.width = actual && w ? `${w / dpr}px` : '';
    this.video.style.height = actual && h ? `${h / dpr}px` : '';
  }

  /** Full screen for the screen area; on iPhone Safari (only a video element can) for the video. */
  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (this.viewport.requestFullscreen) this.viewport.requestFullscreen().catch(() => {});
    else /** @type {HTMLVideoElement & {webkitEnterFullscreen?: () => void}} */ (this.video).webkitEnterFullscreen?.();
  }

  /** Toolbar buttons (`data-action`) and keys: 1 = actual size, f = full screen, s = stats. @param {Viewer} viewer */
  bind(viewer) {
    /** @type {Record<string, () => void>} */
    const actions = {
      size: () => this.toggleActualSize(), fullscreen: () => this.toggleFullscreen(), stats: () => this.toggleStats(),
      leave: () => viewer.dispatch({ type: 'leave' }), retry: () => viewer.start(),
    };
    const keys = /** @type {Record<string, string>} */ ({ 1: 'size', f: 'fullscreen', s: 'stats' });
    document.addEventListener('click', (e) => {
      const button = e.target instanceof Element ? e.target.closest('button[data-action]') : null;
      if (button instanceof HTMLButtonElement) actions[button.dataset.action ?? '']?.();
    });
    document.addEventListener('keydown', (e) => {
      const run = actions[keys[e.key.toLowerCase()] ?? ''];
      if (!run || e.ctrlKey || e.metaKey || e.altKey || e.repeat || e.target instanceof HTMLInputElement) return;
      e.preventDefault();
      run();
    });
    this.pinForm.addEventListener('submit', (e) => { e.preventDefault(); viewer.submitPin(this.pinInput.value.trim()); });
    this.pinInput.addEventListener('input', () => { this.pinInput.value = this.pinInput.value.replace(/[^0-9]/g, ''); });
    this.remote.onClosing = (reason) => viewer.dispatch({ type: 'closing', reason });
    this.video.addEventListener('resize', () => this.applyActualSize());
    window.addEventListener('resize', () => this.applyActualSize());
    document.addEventListener('fullscreenchange', () => this.setPressed('fullscreen', !!document.fullscreenElement));
    window.addEventListener('pagehide', () => viewer.suspend());
    window.addEventListener('beforeunload', () => viewer.suspend());
    window.addEventListener('pageshow', (e) => { if (e.persisted) viewer.resume(); });
    window.addEventListener('hashchange', () => location.reload()); // another link pasted in
  }
}

// Entry point

function main() {
  const ui = new Ui();
  const token = tokenFromHash(location.hash);
  const claims = token ? decodeClaims(token) : null;
  const viewer = new Viewer(ui, token ?? '', claims);
  ui.bind(viewer);
  ui.showClaims(claims);
  if (claims?.exp != null) ui.showCountdown(viewer.expiresIn());
  if (token) viewer.start();
  else viewer.dispatch({ type: 'failed', code: 'missing_token', status: 0, message: '' });
}

if (typeof document !== 'undefined' && document.getElementById('viewport')) main();
