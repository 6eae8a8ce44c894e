// @ts-check
/**
 * Voice in the viewer: the host's sound (the audio track the agent sends, played by an audio
 * element) and this viewer's microphone (getUserMedia on the first press of the mic button, sent
 * on the offer's send-receive audio transceiver), with mute and a level meter. Layout:
 * - pure logic: the level of a block of samples, the mic button's label;
 * - `Voice`: owns the transceiver, the microphone stream, the meter and the host's audio.
 * **Invariant:** the microphone is never opened before the viewer presses the button; audio has
 * its own track, so video never waits for it.
 */

/** @typedef {'off'|'on'|'muted'|'denied'} MicState */
/** @typedef {{mic: MicState, level: number, hostAudio: boolean}} VoiceGlobal what this module adds to `window.deskbeam.voice` */

// Pure logic

/** Root mean square of byte time-domain samples (128 = silence), 0..1. @param {Uint8Array} bytes */
export function levelOf(bytes) {
  if (bytes.length === 0) return 0;
  let sum = 0;
  for (const b of bytes) sum += ((b - 128) / 128) ** 2;
  return Math.sqrt(sum / bytes.length);
}

/** @param {MicState} state */
export function micLabel(state) {
  return { off: 'Microphone off', on: 'Microphone on', muted: 'Microphone muted', denied: 'Microphone blocked' }[state];
}

// UI

export class Voice {
  /** @param {{voice?: VoiceGlobal}} global `window.deskbeam` */
  constructor(global) {
    this.button = /** @type {HTMLButtonElement} */ (document.querySelector('[data-testid="mic-toggle"]'));
    this.meter = /** @type {HTMLElement} */ (document.getElementById('mic-level'));
    this.audio = /** @type {HTMLAudioElement} */ (document.getElementById('host-audio'));
    /** @type {RTCRtpTransceiver|null} */ this.transceiver = null;
    /** @type {MediaStream|null} */ this.stream = null;
    /** @type {AudioContext|null} */ this.context = null;
    /** @type {VoiceGlobal} */ this.state = { mic: 'off', level: 0, hostAudio: false };
    global.voice = this.state;
    this.button.addEventListener('click', () => { void this.toggle(); });
    this.render();
  }

  /** The audio transceiver of a new peer connection: the microphone (if on) goes out on it. @param {RTCRtpTransceiver} transceiver */
  attach(transceiver) {
    this.transceiver = transceiver;
    const track = this.stream?.getAudioTracks()[0] ?? null;
    if (track) transceiver.sender.replaceTrack(track).catch(() => { /* the next connection tries again */ });
  }

  /** The connection is gone: the host's sound stops; the microphone stays as the viewer set it. */
  detach() {
    this.transceiver = null;
    this.audio.srcObject = null;
    this.state.hostAudio = false;
  }

  /** Plays the host's sound. @param {MediaStreamTrack} track */
  play(track) {
    this.audio.srcObject = new MediaStream([track]);
    this.audio.play().catch(() => { /* autoplay refused: the first click on the page starts it */ });
    document.addEventListener('click', () => { this.audio.play().catch(() => {}); }, { once: true });
    this.state.hostAudio = true;
  }

  async toggle() {
    if (this.stream) {
      const track = this.stream.getAudioTracks()[0];
      if (track) track.enabled = !track.enabled;
      this.state.mic = track?.enabled ? 'on' : 'muted';
      this.render();
      return;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
    } catch {
      this.state.mic = 'denied';
      this.render();
      return;
    }
    this.state.mic = 'on';
    if (this.transceiver) this.attach(this.transceiver);
    this.startMeter(this.stream);
    this.render();
  }

  /** @param {MediaStream} stream */
  startMeter(stream) {
    try {
      this.context = new AudioContext();
      const analyser = this.context.createAnalyser();
      analyser.fftSize = 512;
      this.context.createMediaStreamSource(stream).connect(analyser);
      const bytes = new Uint8Array(analyser.fftSize);
      const tick = () => {
        analyser.getByteTimeDomainData(bytes);
        this.state.level = this.state.mic === 'on' ? levelOf(bytes) : 0;
        this.meter.style.transform = `scaleX(${Math.min(1, this.state.level * 4).toFixed(3)})`;
        setTimeout(tick, 50);
      };
      tick();
    } catch { /* no Web Audio: no meter, the microphone still works */ }
  }

  render() {
    const { mic } = this.state;
    this.button.setAttribute('aria-pressed', String(mic === 'on'));
    this.button.dataset.mic = mic;
    this.button.title = micLabel(mic);
    this.button.setAttribute('aria-label', micLabel(mic));
    this.button.disabled = mic === 'denied';
  }
}
