// @ts-check
/**
 * Chat in the viewer: the `chat` data channel (messages declared in `protocol.d.ts`, generated
 * from `proto/src/chat.rs`) and the chat panel. Layout:
 * - pure logic: framing what the viewer says, reading the agent's messages, the time label;
 *   no DOM, exported for the browser tests;
 * - `Chat`: owns the channel and the panel (toggle button, log, form, unread count).
 * **Invariant:** message text and names reach the page only through `textContent`, never as
 * markup. The agent's order (`seq`) is the order shown.
 */

/** @typedef {import('./protocol').ViewerChat} ViewerChat */
/** @typedef {import('./protocol').AgentChat} AgentChat */
/** @typedef {Extract<AgentChat, {t: 'message'}>} ChatMessage */
/** @typedef {import('./protocol').Framed<ViewerChat>} FramedChat */
/**
 * @typedef {{name: string|null, messages: ChatMessage[], rejected: {code: string, message: string}[],
 *   open: boolean}} ChatGlobal what this module adds to `window.deskbeam.chat` (for tests)
 */

// Protocol constants: typed by the generated declarations, so a change there fails the check.
/** @type {typeof import('./protocol').CHAT_CHANNEL} */
export const CHAT_CHANNEL = 'chat';
/** @type {typeof import('./protocol').INPUT_VERSION} */
const CHAT_VERSION = 1;
/** @type {typeof import('./protocol').MAX_CHAT_CHARS} */
export const MAX_CHAT_CHARS = 1000;

/** Messages kept on the page; older ones scroll away for good. */
const MAX_SHOWN = 500;

// Pure logic

/**
 * What the viewer typed → the framed message, or null when there is nothing to say. Longer text
 * is cut to MAX_CHAT_CHARS code points (the agent refuses longer).
 * @param {string} text @returns {string|null}
 */
export function sayMessage(text) {
  const trimmed = [...text.trim()].slice(0, MAX_CHAT_CHARS).join('');
  if (trimmed === '') return null;
  /** @type {FramedChat} */
  const framed = { v: CHAT_VERSION, t: 'say', text: trimmed };
  return JSON.stringify(framed);
}

/** Asks the agent for this viewer's name again: a browser can drop the `joined` that arrives
 * before it reports the channel open. @returns {string} */
export function helloMessage() {
  /** @type {FramedChat} */
  const framed = { v: CHAT_VERSION, t: 'hello' };
  return JSON.stringify(framed);
}

/** One message from the agent, checked; null for anything this viewer does not understand. @param {unknown} data @returns {AgentChat|null} */
export function parseChatMessage(data) {
  /** @type {any} */ let m;
  try { m = typeof data === 'string' ? JSON.parse(data) : null; } catch { return null; }
  if (typeof m !== 'object' || m === null || m.v !== CHAT_VERSION) return null;
  const isText = (/** @type {unknown} */ v) => typeof v === 'string';
  switch (m.t) {
    case 'joined': return isText(m.name) ? { t: 'joined', name: m.name } : null;
    case 'message': {
      const ok = Number.isSafeInteger(m.seq) && isText(m.from) && isText(m.text) && Number.isFinite(m.at) &&
        (m.role === 'host' || m.role === 'viewer') && typeof m.mine === 'boolean';
      return ok ? { t: 'message', seq: m.seq, from: m.from, role: m.role, text: m.text, at: m.at, mine: m.mine } : null;
    }
    case 'rejected': return { t: 'rejected', code: isText(m.code) ? m.code : '', message: isText(m.message) ? m.message : '' };
    default: return null;
  }
}

/** "14:05" in the viewer's own time zone. @param {number} atMs Unix milliseconds */
export function timeLabel(atMs) {
  return new Date(atMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// UI

/** @param {string} tag @param {string} className @param {string} [text] */
function el(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class Chat {
  /** @param {{chat?: ChatGlobal}} global `window.deskbeam` */
  constructor(global) {
    this.panel = /** @type {HTMLElement} */ (document.getElementById('chat'));
    this.log = /** @type {HTMLOListElement} */ (document.getElementById('chat-log'));
    this.form = /** @type {HTMLFormElement} */ (document.getElementById('chat-form'));
    this.input = /** @type {HTMLInputElement} */ (document.getElementById('chat-input'));
    this.toggleButton = /** @type {HTMLButtonElement} */ (document.querySelector('[data-testid="chat-toggle"]'));
    this.badge = /** @type {HTMLElement} */ (document.getElementById('chat-unread'));
    /** @type {RTCDataChannel|null} */ this.channel = null;
    this.unread = 0;
    this.lastSeq = 0;
    /** @type {ChatGlobal} */ this.state = { name: null, messages: [], rejected: [], open: false };
    global.chat = this.state;
    this.input.maxLength = MAX_CHAT_CHARS;
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
    this.toggleButton.addEventListener('click', () => this.setOpen(!this.state.open));
    this.setOpen(false);
  }

  /** Takes over the `chat` channel of a new peer connection. @param {RTCDataChannel} channel */
  attach(channel) {
    this.detach();
    this.channel = channel;
    channel.onopen = () => {
      if (this.channel !== channel) return;
      this.syncEnabled();
      try {
        channel.send(helloMessage());
      } catch { /* closing under our feet; onclose follows */ }
    };
    channel.onmessage = (e) => { if (this.channel === channel) this.onMessage(e.data); };
    channel.onclose = () => { if (this.channel === channel) this.detach(); };
  }

  /** The connection is gone: nothing can be sent until the next one. The log stays. */
  detach() {
    this.channel = null;
    this.syncEnabled();
  }

  syncEnabled() {
    const open = this.channel?.readyState === 'open';
    this.input.disabled = !open;
    this.input.placeholder = open ? `Message as ${this.state.name ?? 'you'}` : 'Chat is available once connected';
  }

  /** @param {boolean} open */
  setOpen(open) {
    this.state.open = open;
    this.panel.hidden = !open;
    this.toggleButton.setAttribute('aria-pressed', String(open));
    if (open) {
      this.unread = 0;
      this.input.focus();
    }
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = String(this.unread);
  }

  send() {
    const framed = sayMessage(this.input.value);
    const channel = this.channel;
    if (!framed || channel?.readyState !== 'open') return;
    try {
      channel.send(framed);
      this.input.value = '';
    } catch { /* closing under our feet; onclose follows and the text stays in the box */ }
  }

  /** @param {unknown} data */
  onMessage(data) {
    const m = parseChatMessage(data);
    if (m?.t === 'joined') {
      this.state.name = m.name;
      this.syncEnabled();
    } else if (m?.t === 'message' && m.seq > this.lastSeq) {
      this.lastSeq = m.seq;
      this.show(m);
    } else if (m?.t === 'rejected') {
      this.state.rejected.push({ code: m.code, message: m.message });
      this.append(el('li', 'chat-note', `Not sent: ${m.message || m.code}`));
    }
  }

  /** @param {ChatMessage} m */
  show(m) {
    this.state.messages.push(m);
    if (this.state.messages.length > MAX_SHOWN) this.state.messages.shift();
    const item = el('li', `chat-message ${m.role}${m.mine ? ' mine' : ''}`);
    item.dataset.seq = String(m.seq);
    const head = el('div', 'chat-head');
    head.append(el('span', 'chat-from', m.mine ? `${m.from} (you)` : m.from), el('time', 'chat-time', timeLabel(m.at)));
    head.lastElementChild?.setAttribute('datetime', new Date(m.at).toISOString());
    item.append(head, el('p', 'chat-text', m.text));
    this.append(item);
    if (!this.state.open && !m.mine) {
      this.unread += 1;
      this.setOpen(false);
    }
  }

  /** @param {HTMLElement} item */
  append(item) {
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.log.append(item);
    while (this.log.childElementCount > MAX_SHOWN) this.log.firstElementChild?.remove();
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }
}
