// @ts-check
/**
 * Remote control in the viewer: the `input` data channel (its messages are declared in
 * `protocol.d.ts`, generated from `proto/src/input.rs`), the control toolbar, and the capture of
 * pointer, wheel, keyboard, paste and touch input over the video. Layout:
 * - pure logic: where the picture sits in the video element, pointer → normalized point, the
 *   button/wheel/key/paste messages, touch gestures, reading the agent's messages; no DOM,
 *   exported for the browser tests;
 * - `ControlUi`: request/release buttons, the "who has control" chip, toasts;
 * - `Remote`: owns the channel (framing, keep-alive, test hook) and the capture listeners.
 * It also reads the connection statistics for viewer.js's stats overlay (`computeStats`, pure):
 * like the pointer mapping, a reading of the video the viewer shows, kept here so viewer.js stays small.
 * **Invariant:** input events (anything but ping/request/release) are sent only while the agent's
 * last `control` message said `granted`; `debugSend`, a test hook, is the one exception. Only
 * `ControlUi.render` writes the control state to the page (`body[data-control]`,
 * `window.deskbeam.control`).
 */

/** @typedef {import('./protocol').ViewerInput} ViewerInput */
/** @typedef {import('./protocol').AgentInput} AgentInput */
/** @typedef {import('./protocol').ControlState} ControlState */
/** @typedef {import('./protocol').MouseButton} MouseButton */
/** @typedef {import('./protocol').Framed<ViewerInput>} FramedInput */
/** @typedef {{left: number, top: number, width: number, height: number}} Rect */
/** @typedef {{x: number, y: number, inside: boolean}} ScreenPoint normalized, clamped to 0..1 */
/** @typedef {{width: number|null, height: number|null, fps: number|null, bitrateKbps: number|null,
 *   rttMs: number|null, packetsLost: number|null, framesDecoded: number|null, jitterMs: number|null,
 *   codec: string|null, decoder: string|null, path: string|null}} ViewerStats
 *  `path`: how the media arrives, "direct (udp)" or "relayed (tcp)", from the selected candidate pair */
/** @typedef {{bytes: number, timestamp: number}} StatsSample */
/**
 * @typedef {{state: ControlState|'none', canRequest: boolean, holder: string|null,
 *   reason: string|null, seq: number}} ControlView `seq` counts the agent's control messages
 */
/**
 * @typedef {{control?: ControlView, rejected?: {count: number, last: {code: string, message: string}|null},
 *   debugSend?: (message: object) => boolean}} RemoteGlobal what this module adds to `window.deskbeam`
 */

// Protocol constants: typed by the generated declarations, so a change there fails the check.
/** @type {typeof import('./protocol').INPUT_CHANNEL} */
export const INPUT_CHANNEL = 'input';
/** @type {typeof import('./protocol').INPUT_VERSION} */
const INPUT_VERSION = 1;
/** @type {typeof import('./protocol').MAX_PASTE_CHARS} */
const MAX_PASTE_CHARS = 4096;
/** @type {typeof import('./protocol').MAX_INPUT_BYTES} */
const MAX_INPUT_BYTES = 16384;

const MOVE_INTERVAL_MS = 8;
const PING_INTERVAL_MS = 10_000;
const TOAST_MS = 4000;
const TAP_SLOP_PX = 10;
const TAP_MAX_MS = 500;
/** The agent refuses larger wheel deltas. */
const MAX_WHEEL = 10_000;

// Pure logic

/**
 * Where the picture is inside the video element's box: `object-fit: contain` centres it and
 * letterboxes the rest. In 1:1 mode the box has the picture's own aspect, so this is the box.
 * Client coordinates, so scrolling (1:1 mode) is already accounted for.
 * @param {Rect} box @param {number} videoWidth @param {number} videoHeight
 * @returns {Rect|null} null before the first frame
 */
export function contentRect(box, videoWidth, videoHeight) {
  if (!(videoWidth > 0 && videoHeight > 0 && box.width > 0 && box.height > 0)) return null;
  const scale = Math.min(box.width / videoWidth, box.height / videoHeight);
  const width = videoWidth * scale;
  const height = videoHeight * scale;
  return { left: box.left + (box.width - width) / 2, top: box.top + (box.height - height) / 2, width, height };
}

/** A client point → normalized screen point (clamped; `inside` false in the bars). @param {number} clientX @param {number} clientY @param {Rect} rect @returns {ScreenPoint} */
export function toScreen(clientX, clientY, rect) {
  const fx = (clientX - rect.left) / rect.width;
  const fy = (clientY - rect.top) / rect.height;
  const unit = (/** @type {number} */ v) => Math.round(Math.min(1, Math.max(0, v)) * 1e5) / 1e5;
  return { x: unit(fx), y: unit(fy), inside: fx >= 0 && fx <= 1 && fy >= 0 && fy <= 1 };
}

/** @type {ReadonlyArray<MouseButton>} `MouseEvent.button` order */
const BUTTONS = ['left', 'middle', 'right', 'back', 'forward'];
/** The `MouseEvent.buttons` bit of each `MouseEvent.button` (middle and right swap places). */
const BUTTON_BITS = [1, 4, 2, 8, 16];

/** `MouseEvent.button` → the protocol's name, or null. @param {number} button @returns {MouseButton|null} */
export function buttonName(button) {
  return BUTTONS[button] ?? null;
}

/** @param {number} v */
const clampWheel = (v) => (Number.isFinite(v) ? Math.max(-MAX_WHEEL, Math.min(MAX_WHEEL, v)) : 0);

/**
 * A wheel event → message: pixels as pixels, lines as lines, pages as three lines each.
 * @param {{deltaX: number, deltaY: number, deltaMode: number}} e @returns {ViewerInput|null} null for no movement
 */
export function wheelMessage(e) {
  const k = e.deltaMode === 2 ? 3 : 1;
  const dx = clampWheel(e.deltaX * k);
  const dy = clampWheel(e.deltaY * k);
  if (dx === 0 && dy === 0) return null;
  return { t: 'wheel', dx, dy, mode: e.deltaMode === 0 ? 'pixel' : 'line' };
}

/**
 * A key event → message; `text` is the produced character when `key` is one code point.
 * @param {string} code @param {string} key @param {boolean} down @returns {ViewerInput|null} null if it names nothing
 */
export function keyMessage(code, key, down) {
  const text = [...key].length === 1 ? key : undefined;
  if (!code && text === undefined) return null;
  return text === undefined ? { t: 'key', code, down } : { t: 'key', code, down, text };
}

/** @param {ViewerInput} message @returns {string} */
export function encode(message) {
  /** @type {FramedInput} */
  const framed = { v: INPUT_VERSION, ...message };
  return JSON.stringify(framed);
}

/**
 * Pasted text → message, cut to MAX_PASTE_CHARS code points and to what fits MAX_INPUT_BYTES.
 * @param {string} text @returns {ViewerInput|null} null for nothing to paste
 */
export function pasteMessage(text) {
  let chars = [...text].slice(0, MAX_PASTE_CHARS);
  const size = () => new TextEncoder().encode(encode({ t: 'paste', text: chars.join('') })).length;
  while (chars.length > 0 && size() > MAX_INPUT_BYTES) chars = chars.slice(0, Math.floor(chars.length * 0.9));
  return chars.length === 0 ? null : { t: 'paste', text: chars.join('') };
}

const STATES = ['free', 'pending', 'granted', 'taken'];

/** One message from the agent, checked; null for anything this viewer does not understand. @param {unknown} data @returns {AgentInput|null} */
export function parseAgentMessage(data) {
  /** @type {any} */ let m;
  try { m = typeof data === 'string' ? JSON.parse(data) : null; } catch { return null; }
  if (typeof m !== 'object' || m === null || m.v !== INPUT_VERSION) return null;
  const text = (/** @type {unknown} */ v) => (typeof v === 'string' ? v : undefined);
  switch (m.t) {
    case 'control':
      if (!STATES.includes(m.state) || typeof m.can_request !== 'boolean') return null;
      return { t: 'control', state: m.state, can_request: m.can_request, holder: text(m.holder), reason: text(m.reason) };
    case 'rejected': return { t: 'rejected', code: text(m.code) ?? '', message: text(m.message) ?? '' };
    case 'pong': return { t: 'pong' };
    case 'closing': return { t: 'closing', reason: text(m.reason) ?? '' };
    default: return null;
  }
}

/**
 * Touch gestures, in client pixels: a short, still, lone touch is a tap; two fingers moving
 * together scroll (wheel pixels, moving the content with the fingers).
 */
export class Touches {
  constructor() {
    /** @type {Map<number, {x: number, y: number}>} */ this.points = new Map();
    /** @type {{x: number, y: number, t: number}|null} */ this.start = null;
    this.tapPossible = false;
  }

  /** @param {number} id @param {number} x @param {number} y @param {number} t ms */
  down(id, x, y, t) {
    if (this.points.size === 0) Object.assign(this, { start: { x, y, t }, tapPossible: true });
    else this.tapPossible = false;
    this.points.set(id, { x, y });
  }

  /** @param {number} id @param {number} x @param {number} y @returns {{dx: number, dy: number}|null} scroll, for a two-finger pan */
  move(id, x, y) {
    const p = this.points.get(id);
    if (!p) return null;
    const { dx, dy } = { dx: x - p.x, dy: y - p.y };
    Object.assign(p, { x, y });
    if (this.start && Math.hypot(x - this.start.x, y - this.start.y) > TAP_SLOP_PX) this.tapPossible = false;
    if (this.points.size !== 2 || (dx === 0 && dy === 0)) return null;
    // Each finger moves the pair's centre by half its own move; fingers up scroll down.
    return { dx: -dx / 2, dy: -dy / 2 };
  }

  /** @param {number} id @param {number} t ms @returns {{x: number, y: number}|null} where a tap ended here */
  up(id, t) {
    if (!this.points.delete(id) || this.points.size > 0 || !this.tapPossible || !this.start) return null;
    this.tapPossible = false;
    return t - this.start.t <= TAP_MAX_MS ? { x: this.start.x, y: this.start.y } : null;
  }

  /** @param {number} id */
  cancel(id) {
    this.points.delete(id);
    this.tapPossible = false;
  }
}

// Connection statistics (pure): getStats() → the numbers of the viewer's stats overlay

/** @returns {ViewerStats} */
export function emptyStats() {
  return { width: null, height: null, fps: null, bitrateKbps: null, rttMs: null, packetsLost: null,
    framesDecoded: null, jitterMs: null, codec: null, decoder: null, path: null };
}

/** @param {any} v @returns {number|null} */
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** @param {any} v @returns {string|null} */
const str = (v) => (typeof v === 'string' ? v : null);
/** @param {number|null} v @param {number} k */
const scaled = (v, k) => (v === null ? null : Math.round(v * k));

/**
 * Turns one getStats() report (as a list of entries) into the viewer's stats.
 * @param {any[]} entries @param {StatsSample|null} prev sample of the previous call
 * @returns {{stats: ViewerStats, sample: StatsSample|null}}
 */
export function computeStats(entries, prev) {
  const byId = new Map(entries.map((e) => [e.id, e]));
  const inbound = entries.find((e) => e.type === 'inbound-rtp' && (e.kind ?? e.mediaType) === 'video');
  const transport = entries.find((e) => e.type === 'transport' && e.selectedCandidatePairId);
  const pair = (transport && byId.get(transport.selectedCandidatePairId)) ??
    entries.find((e) => e.type === 'candidate-pair' && (e.selected || (e.nominated && e.state === 'succeeded')));
  const stats = emptyStats();
  stats.rttMs = scaled(num(pair?.currentRoundTripTime), 1000);
  stats.path = mediaPath(byId.get(pair?.localCandidateId), byId.get(pair?.remoteCandidateId));
  if (!inbound) return { stats, sample: null };
  Object.assign(stats, {
    width: num(inbound.frameWidth), height: num(inbound.frameHeight), fps: num(inbound.framesPerSecond),
    packetsLost: num(inbound.packetsLost), framesDecoded: num(inbound.framesDecoded),
    jitterMs: scaled(num(inbound.jitter), 1000), decoder: str(inbound.decoderImplementation),
    codec: str(byId.get(inbound.codecId)?.mimeType)?.replace(/^video\//, '') ?? null,
  });
  const bytes = num(inbound.bytesReceived);
  const timestamp = num(inbound.timestamp);
  if (bytes === null || timestamp === null) return { stats, sample: null };
  if (prev && timestamp > prev.timestamp && bytes >= prev.bytes) {
    stats.bitrateKbps = Math.round(((bytes - prev.bytes) * 8) / (timestamp - prev.timestamp));
  }
  return { stats, sample: { bytes, timestamp } };
}

/**
 * "relayed" when either end of the selected pair is a TURN relay candidate, else "direct"; the
 * transport is that of our leg (to the relay when relayed, so a UDP-blocked viewer shows "tcp").
 * @param {any} local @param {any} remote @returns {string|null}
 */
export function mediaPath(local, remote) {
  if (!local) return null;
  const relayed = local.candidateType === 'relay' || remote?.candidateType === 'relay';
  const transport = str(local.candidateType === 'relay' ? (local.relayProtocol ?? local.protocol) : local.protocol);
  return `${relayed ? 'relayed' : 'direct'}${transport ? ` (${transport})` : ''}`;
}

/** @param {ViewerStats} s @param {string} key */
export function formatStat(s, key) {
  const units = /** @type {Record<string, string>} */ ({ fps: ' fps', bitrateKbps: ' kbps', rttMs: ' ms', jitterMs: ' ms' });
  if (key === 'resolution') return s.width && s.height ? `${s.width} × ${s.height}` : '—';
  const value = s[/** @type {keyof ViewerStats} */ (key)];
  return value === null || value === undefined ? '—' : `${value}${units[key] ?? ''}`;
}

// UI

/** The page's element for `selector`, which must be a `type`. @template {Element} T @param {string} selector @param {new () => T} type @returns {T} */
export function $(selector, type) {
  const el = document.querySelector(selector);
  if (!(el instanceof type)) throw new Error(`viewer page is missing ${selector}`);
  return el;
}

/** @type {ControlView} */
const NO_CONTROL = Object.freeze({ state: 'none', canRequest: false, holder: null, reason: null, seq: 0 });

/** What the chip says: who has control. @param {ControlView} v */
export function controlLabel(v) {
  if (v.state === 'granted') return 'You have control';
  if (v.state === 'taken') return `${v.holder ?? 'Another viewer'} has control`;
  if (v.state === 'pending') return 'Waiting for the host…';
  return v.state !== 'none' && !v.canRequest ? 'View only' : '';
}

class ControlUi {
  /** @param {RemoteGlobal} global @param {{request: () => void, release: () => void}} actions */
  constructor(global, actions) {
    this.global = global;
    this.requestButton = $('[data-testid="request-control"]', HTMLButtonElement);
    this.releaseButton = $('[data-testid="release-control"]', HTMLButtonElement);
    this.requestLabel = $('[data-testid="request-control"] .label', HTMLElement);
    this.chip = $('#control-status', HTMLElement);
    this.toastBox = $('#toast', HTMLElement);
    /** A request is on its way: no second one until the agent answers. */
    this.asked = false;
    /** @type {number|undefined} */ this.toastTimer = undefined;
    this.requestButton.addEventListener('click', () => actions.request());
    this.releaseButton.addEventListener('click', () => actions.release());
  }

  /** @param {ControlView} view */
  render(view) {
    document.body.dataset.control = view.state;
    this.global.control = { ...view };
    const waiting = view.state === 'pending' || this.asked;
    const label = waiting ? 'Waiting for the host…' : 'Request control';
    Object.assign(this.requestButton, { hidden: view.state === 'none' || view.state === 'granted' || !view.canRequest, disabled: waiting });
    this.requestButton.setAttribute('aria-label', label);
    this.requestLabel.textContent = label;
    this.releaseButton.hidden = view.state !== 'granted';
    this.chip.textContent = controlLabel(view);
    this.chip.hidden = this.chip.textContent === '';
    this.chip.classList.toggle('mine', view.state === 'granted');
    this.chip.classList.toggle('pending', view.state === 'pending');
  }

  /** Shows a short note over the screen for a few seconds. @param {string} text */
  toast(text) {
    this.toastBox.textContent = text.charAt(0).toUpperCase() + text.slice(1);
    this.toastBox.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { this.toastBox.hidden = true; }, TOAST_MS);
  }
}

// Remote: the channel and the capture

/** @param {EventTarget|null} target */
function isTextField(target) {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement || (target instanceof HTMLElement && target.isContentEditable);
}

/** Ctrl/Cmd+V, Shift+Insert: left to the browser, which then fires `paste`. @param {KeyboardEvent} e */
function isPasteShortcut(e) {
  const v = e.code === 'KeyV' || e.key.toLowerCase() === 'v';
  return (v && (e.ctrlKey || e.metaKey) && !e.altKey) || (e.code === 'Insert' && e.shiftKey);
}

/** @typedef {{lock?: (codes?: string[]) => Promise<void>, unlock?: () => void}} KeyboardLock */

export class Remote {
  /** @param {HTMLVideoElement} video @param {RemoteGlobal} global */
  constructor(video, global) {
    this.video = video;
    this.global = global;
    this.ui = new ControlUi(global, { request: () => this.request(), release: () => this.release() });
    /** @type {RTCDataChannel|null} */ this.channel = null;
    /** @type {ControlView} */ this.view = NO_CONTROL;
    /** The agent says it is about to end this viewer, and why. @type {(reason: string) => void} */
    this.onClosing = () => {};
    /** @type {number|undefined} */ this.pingTimer = undefined;
    /** @type {number|undefined} */ this.moveTimer = undefined;
    this.lastMoveAt = -Infinity;
    /** @type {ScreenPoint|null} */ this.pendingMove = null;
    /** @type {ScreenPoint|null} */ this.lastMove = null;
    /** Key codes and buttons this viewer pressed on the remote screen and has not released. */
    /** @type {Set<string>} */ this.keys = new Set();
    /** @type {Set<MouseButton>} */ this.buttons = new Set();
    this.touches = new Touches();
    global.rejected = { count: 0, last: null };
    // Test hook: sends whatever it is given, control or not (the agent must refuse it).
    global.debugSend = (message) => this.send(/** @type {ViewerInput} */ (message));
    this.ui.render(this.view);
    this.listen();
  }

  /** Takes over the `input` channel of a new peer connection. @param {RTCDataChannel} channel */
  attach(channel) {
    this.detach();
    this.channel = channel;
    channel.onopen = () => {
      // The agent sends the control state when the channel opens, but a browser can drop a
      // message that arrives before it reports the channel open: ask for it once more.
      if (this.channel === channel) this.send({ t: 'hello' });
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ t: 'ping' }), PING_INTERVAL_MS);
    };
    channel.onmessage = (e) => { if (this.channel === channel) this.onMessage(e.data); };
    channel.onclose = () => { if (this.channel === channel) this.detach(); };
  }

  /** The connection is gone (closing the peer connection fires no channel event): no control. */
  detach() {
    clearInterval(this.pingTimer);
    this.channel = null;
    this.setControl(NO_CONTROL);
  }

  /** @param {ControlView} view */
  setControl(view) {
    const lost = this.view.state === 'granted' && view.state !== 'granted';
    this.view = view;
    if (view.state !== 'pending') this.ui.asked = false;
    // The agent releases what a viewer held when its control ends; nothing to send then.
    if (lost) this.forgetHeld();
    this.syncKeyboardLock();
    this.ui.render(view);
  }

  /** @param {unknown} data */
  onMessage(data) {
    const m = parseAgentMessage(data);
    if (m?.t === 'control') {
      const { state, can_request: canRequest, holder, reason } = m;
      this.setControl({ state, canRequest, holder: holder ?? null, reason: reason ?? null, seq: this.view.seq + 1 });
      if (reason) this.ui.toast(reason);
    } else if (m?.t === 'rejected') {
      const rejected = this.global.rejected ?? { count: 0, last: null };
      this.global.rejected = { count: rejected.count + 1, last: { code: m.code, message: m.message } };
      if (this.ui.asked) this.setControl(this.view); // the request itself may have been refused
      this.ui.toast(m.message || m.code);
    } else if (m?.t === 'closing') {
      this.onClosing(m.reason);
    }
  }

  /** Sends one framed message if the channel is open. @param {ViewerInput} message @returns {boolean} */
  send(message) {
    const channel = this.channel;
    if (channel?.readyState !== 'open') return false;
    try {
      channel.send(encode(message));
      return true;
    } catch { // closing under our feet; onclose follows
      return false;
    }
  }

  /** Sends an input event, only while this viewer has control. @param {ViewerInput} message */
  input(message) {
    return this.view.state === 'granted' && this.send(message);
  }

  get granted() {
    return this.view.state === 'granted';
  }

  request() {
    this.ui.asked = this.send({ t: 'request_control' });
    this.ui.render(this.view);
  }

  release() {
    this.releaseHeld();
    this.send({ t: 'release_control' });
  }

  /** Lets go, on the remote screen, of every key and button still down here. */
  releaseHeld() {
    this.releaseKeys();
    this.releaseButtons();
    this.forgetHeld();
  }

  releaseKeys() {
    for (const code of this.keys) this.input({ t: 'key', code, down: false });
    this.keys.clear();
  }

  releaseButtons() {
    for (const b of this.buttons) this.input({ t: 'button', b, down: false });
    this.buttons.clear();
  }

  forgetHeld() {
    this.keys.clear();
    this.buttons.clear();
    this.touches = new Touches();
    clearTimeout(this.moveTimer);
    this.moveTimer = undefined;
    this.pendingMove = null;
  }

  syncKeyboardLock() {
    const keyboard = /** @type {Navigator & {keyboard?: KeyboardLock}} */ (navigator).keyboard;
    if (this.granted && document.fullscreenElement) keyboard?.lock?.().catch(() => { /* not here */ });
    else keyboard?.unlock?.();
  }

  /** @returns {Rect|null} */
  rect() {
    const v = this.video;
    return contentRect(v.getBoundingClientRect(), v.videoWidth, v.videoHeight);
  }

  listen() {
    const v = this.video;
    for (const type of /** @type {const} */ (['pointerdown', 'pointermove', 'pointerup', 'pointercancel'])) {
      v.addEventListener(type, (e) => this.onPointer(e));
    }
    // No text selection, focus change or context menu from clicks meant for the remote screen.
    v.addEventListener('mousedown', (e) => { if (this.granted) e.preventDefault(); });
    v.addEventListener('contextmenu', (e) => { if (this.granted) e.preventDefault(); });
    v.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    // Capture phase on window: runs before the viewer's own shortcuts (1, f, s), which stand down.
    window.addEventListener('keydown', (e) => this.onKey(e, true), true);
    window.addEventListener('keyup', (e) => this.onKey(e, false), true);
    window.addEventListener('paste', (e) => this.onPaste(e), true);
    window.addEventListener('blur', () => this.releaseHeld());
    document.addEventListener('visibilitychange', () => { if (document.hidden) this.releaseHeld(); });
    document.addEventListener('fullscreenchange', () => this.syncKeyboardLock());
  }

  /** Moves go out at most every MOVE_INTERVAL_MS, the latest position winning. @param {ScreenPoint} p */
  queueMove(p) {
    this.pendingMove = p;
    const wait = this.lastMoveAt + MOVE_INTERVAL_MS - performance.now();
    if (wait <= 0) this.sendMove();
    else this.moveTimer ??= setTimeout(() => this.sendMove(), Math.ceil(wait)); // timers truncate to whole ms
  }

  /** Sends the pending position now (before a button or wheel event), if it is news. @param {ScreenPoint|null} [p] */
  flushMove(p = this.pendingMove) {
    this.pendingMove = p;
    const last = this.lastMove;
    if (p && last && p.x === last.x && p.y === last.y) this.pendingMove = null;
    this.sendMove();
  }

  sendMove() {
    clearTimeout(this.moveTimer);
    this.moveTimer = undefined;
    const p = this.pendingMove;
    this.pendingMove = null;
    if (!p || !this.input({ t: 'move', x: p.x, y: p.y })) return;
    this.lastMove = p;
    this.lastMoveAt = performance.now();
  }

  /** @param {PointerEvent} e */
  onPointer(e) {
    if (!this.granted) return;
    if (e.pointerType === 'touch') return this.onTouch(e);
    if (e.type === 'pointercancel') return this.releaseButtons();
    const rect = this.rect();
    if (!rect) return;
    const p = toScreen(e.clientX, e.clientY, rect);
    // A pointermove with a button is a chord: another button went down or up while one is held.
    if (e.type === 'pointermove' && e.button < 0) return this.queueMove(p);
    const b = buttonName(e.button);
    if (!b) return;
    const down = e.type === 'pointerdown' || (e.type === 'pointermove' && (e.buttons & BUTTON_BITS[e.button]) !== 0);
    if (down) {
      if (!p.inside) return; // in the letterbox bars
      if (document.activeElement instanceof HTMLElement) document.activeElement.blur(); // keys to the page
      this.flushMove(p);
      if (this.input({ t: 'button', b, down: true })) this.buttons.add(b);
      try { this.video.setPointerCapture(e.pointerId); } catch { /* pointer already gone */ }
    } else if (this.buttons.delete(b)) {
      this.flushMove(p);
      this.input({ t: 'button', b, down: false });
    }
  }

  /** One-finger tap: click there; two-finger pan: scroll. @param {PointerEvent} e */
  onTouch(e) {
    const t = this.touches;
    if (e.type === 'pointerdown') t.down(e.pointerId, e.clientX, e.clientY, e.timeStamp);
    else if (e.type === 'pointercancel') t.cancel(e.pointerId);
    else if (e.type === 'pointermove') {
      const scroll = t.move(e.pointerId, e.clientX, e.clientY);
      if (scroll) this.input({ t: 'wheel', dx: clampWheel(scroll.dx), dy: clampWheel(scroll.dy), mode: 'pixel' });
    } else {
      const tap = t.up(e.pointerId, e.timeStamp);
      const rect = this.rect();
      const p = tap && rect ? toScreen(tap.x, tap.y, rect) : null;
      if (!p?.inside) return;
      this.flushMove(p);
      this.input({ t: 'button', b: 'left', down: true });
      this.input({ t: 'button', b: 'left', down: false });
    }
  }

  /** @param {WheelEvent} e */
  onWheel(e) {
    if (!this.granted) return;
    e.preventDefault();
    const message = wheelMessage(e);
    if (!message) return;
    this.flushMove();
    this.input(message);
  }

  /** @param {KeyboardEvent} e @param {boolean} down */
  onKey(e, down) {
    if (!this.granted || e.isComposing || e.keyCode === 229 || isTextField(e.target)) return;
    if (down && isPasteShortcut(e)) return; // see onPaste
    e.preventDefault();
    e.stopPropagation();
    if (!down && !this.keys.delete(e.code)) return; // its press went elsewhere (or was a paste)
    const message = keyMessage(e.code, e.key, down);
    if (message && this.input(message) && down) this.keys.add(e.code);
  }

  /** @param {ClipboardEvent} e */
  onPaste(e) {
    if (!this.granted || isTextField(e.target)) return;
    e.preventDefault();
    const message = pasteMessage(e.clipboardData?.getData('text/plain') ?? '');
    if (!message) return;
    this.releaseKeys(); // text typed while Ctrl or Cmd is down there would turn into shortcuts
    this.input(message);
  }
}
