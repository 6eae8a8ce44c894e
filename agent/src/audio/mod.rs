//! The host's audio for viewers: capture, one Opus encode for every viewer, and the fan-out.
//!
//! - [`AudioSource`]: 20 ms frames of 48 kHz mono PCM; [`pulse::PulseSource`] (PulseAudio or
//!   PipeWire's PulseAudio server: a microphone or a sink's monitor) and [`ToneSource`] (a test
//!   double).
//! - [`AudioFeed`]: the capture thread mixes its sources, encodes Opus once and broadcasts the
//!   packets; each viewer's audio track subscribes (see `transport::audio`).
//!
//! **Audio never delays video:** it travels on its own track with its own clock; nothing waits
//! for the other. A host without audio devices shares its screen without audio.

pub mod pulse;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::broadcast;

/// Opus at 48 kHz, as WebRTC always negotiates it.
pub const SAMPLE_RATE: u32 = 48_000;
/// One 20 ms frame of mono samples.
pub const FRAME_SAMPLES: usize = 960;
/// Opus bitrate for speech and system sounds.
const OPUS_BITRATE: i32 = 48_000;
/// Encoded packets kept for a slow viewer before it skips ahead (0.2 s).
const FEED_CAPACITY: usize = 10;

/// Errors of audio capture and coding.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot open audio device {device}: {reason}")]
    Open { device: String, reason: String },
    #[error("audio device failed: {0}")]
    Device(String),
    #[error("Opus: {0}")]
    Codec(String),
}

/// Something that yields the host's sound, one frame at a time (blocking for it, in real time).
pub trait AudioSource: Send {
    /// Fills `frame` ([`FRAME_SAMPLES`] samples, mono, 48 kHz).
    fn read_frame(&mut self, frame: &mut [i16]) -> Result<(), AudioError>;
}

/// Somewhere to play a viewer's voice, one frame at a time.
pub trait AudioSink: Send {
    fn play_frame(&mut self, frame: &[i16]) -> Result<(), AudioError>;
}

/// Keeps everything played: the test double.
#[derive(Clone, Default)]
pub struct RecordingSink(pub Arc<std::sync::Mutex<Vec<i16>>>);

impl AudioSink for RecordingSink {
    fn play_frame(&mut self, frame: &[i16]) -> Result<(), AudioError> {
        if let Ok(mut all) = self.0.lock() {
            all.extend_from_slice(frame);
        }
        Ok(())
    }
}

/// Opens the sink a viewer's voice plays on (PulseAudio's default output in the agent).
pub type SinkOpener = Arc<dyn Fn(&str) -> Result<Box<dyn AudioSink>, AudioError> + Send + Sync>;

/// The default: each viewer's voice is its own stream on the default output (the sound server
/// mixes them).
pub fn pulse_sinks() -> SinkOpener {
    Arc::new(|what: &str| Ok(Box::new(pulse::PulseSink::open(None, what)?) as Box<dyn AudioSink>))
}

/// Decodes one viewer's Opus packets and plays them, on its own thread, until `packets` closes.
/// Packets that arrive while the sink is busy wait in the channel; a sink that fails ends it.
pub fn play_packets(packets: std::sync::mpsc::Receiver<Bytes>, mut sink: Box<dyn AudioSink>) -> Result<(), AudioError> {
    let mut decoder = opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono).map_err(codec)?;
    std::thread::Builder::new()
        .name("deskbeam-voice".into())
        .spawn(move || {
            // Opus frames are at most 120 ms.
            let mut pcm = vec![0i16; 5760];
            while let Ok(packet) = packets.recv() {
                let n = match decoder.decode(&packet, &mut pcm, false) {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::debug!(error = %e, "undecodable Opus packet from a viewer");
                        continue;
                    }
                };
                if let Err(e) = sink.play_frame(&pcm[..n]) {
                    tracing::warn!(error = %e, "cannot play a viewer's voice");
                    return;
                }
            }
        })
        .map_err(|e| AudioError::Device(e.to_string()))?;
    Ok(())
}

/// A sine tone, paced like a device (one frame per 20 ms): the test double.
pub struct ToneSource {
    freq: f64,
    amplitude: f64,
    n: u64,
    start: Option<Instant>,
}

impl ToneSource {
    pub fn new(freq: f64, amplitude: f64) -> Self {
        Self { freq, amplitude, n: 0, start: None }
    }
}

impl AudioSource for ToneSource {
    fn read_frame(&mut self, frame: &mut [i16]) -> Result<(), AudioError> {
        let start = *self.start.get_or_insert_with(Instant::now);
        let due = start + std::time::Duration::from_secs_f64(self.n as f64 / f64::from(SAMPLE_RATE));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        for s in frame.iter_mut() {
            let t = self.n as f64 / f64::from(SAMPLE_RATE);
            *s = (self.amplitude * (2.0 * std::f64::consts::PI * self.freq * t).sin() * f64::from(i16::MAX)) as i16;
            self.n += 1;
        }
        Ok(())
    }
}

/// Adds `other` into `mix`, saturating.
pub fn mix_into(mix: &mut [i16], other: &[i16]) {
    for (m, o) in mix.iter_mut().zip(other) {
        *m = m.saturating_add(*o);
    }
}

/// One encoded 20 ms Opus frame.
#[derive(Debug, Clone)]
pub struct OpusFrame {
    pub data: Bytes,
    pub captured_at: Instant,
}

/// Opus encoding of mono frames.
pub struct OpusEncoder(opus::Encoder);

impl OpusEncoder {
    pub fn new() -> Result<Self, AudioError> {
        let mut enc = opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::LowDelay).map_err(codec)?;
        enc.set_bitrate(opus::Bitrate::Bits(OPUS_BITRATE)).map_err(codec)?;
        Ok(Self(enc))
    }

    pub fn encode(&mut self, frame: &[i16]) -> Result<Bytes, AudioError> {
        let mut out = [0u8; 1500];
        let n = self.0.encode(frame, &mut out).map_err(codec)?;
        Ok(Bytes::copy_from_slice(&out[..n]))
    }
}

fn codec(e: opus::Error) -> AudioError {
    AudioError::Codec(e.to_string())
}

/// Handle to the capture thread's Opus packets. Cloned into each viewer's connection; the thread
/// stops when the last handle is dropped.
#[derive(Clone)]
pub struct AudioFeed {
    tx: broadcast::Sender<OpusFrame>,
    _running: Arc<Running>,
}

struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl std::fmt::Debug for AudioFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AudioFeed({} listening)", self.tx.receiver_count())
    }
}

impl AudioFeed {
    /// Starts capturing from `sources` (mixed) on a thread. Encodes only while someone listens.
    pub fn start(mut sources: Vec<Box<dyn AudioSource>>) -> Result<Self, AudioError> {
        let mut encoder = OpusEncoder::new()?;
        let (tx, _) = broadcast::channel(FEED_CAPACITY);
        let running = Arc::new(AtomicBool::new(true));
        let (thread_tx, flag) = (tx.clone(), running.clone());
        std::thread::Builder::new()
            .name("deskbeam-audio".into())
            .spawn(move || {
                let (mut mix, mut frame) = (vec![0i16; FRAME_SAMPLES], vec![0i16; FRAME_SAMPLES]);
                while flag.load(Ordering::Acquire) {
                    mix.fill(0);
                    let captured_at = Instant::now();
                    for source in sources.iter_mut() {
                        if let Err(e) = source.read_frame(&mut frame) {
                            tracing::warn!(error = %e, "audio capture stopped; sharing continues without audio");
                            return;
                        }
                        mix_into(&mut mix, &frame);
                    }
                    if thread_tx.receiver_count() == 0 {
                        continue;
                    }
                    match encoder.encode(&mix) {
                        Ok(data) => {
                            let _ = thread_tx.send(OpusFrame { data, captured_at });
                        }
                        Err(e) => tracing::debug!(error = %e, "Opus encode failed"),
                    }
                }
            })
            .map_err(|e| AudioError::Device(e.to_string()))?;
        Ok(Self { tx, _running: Arc::new(Running(running)) })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<OpusFrame> {
        self.tx.subscribe()
    }
}

/// The audio side of every viewer connection.
#[derive(Clone, Default)]
pub struct ViewerAudio {
    /// The host's sound, sent to viewers whose offer has audio.
    pub outgoing: Option<AudioFeed>,
    /// Where viewers' microphones play.
    pub incoming: Option<SinkOpener>,
}

/// Which devices to capture, from `--mic` and `--system-audio`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSettings {
    /// `None`: no microphone; `Some(None)`: the default one; `Some(Some(name))`: that source.
    pub mic: Option<Option<String>>,
    /// Also send what the host's computer plays (the default sink's monitor).
    pub system_audio: bool,
}

impl AudioSettings {
    /// Parses `--mic NAME|default|none`.
    pub fn parse_mic(value: &str) -> Option<Option<String>> {
        match value.trim() {
            "none" | "" => None,
            "default" => Some(None),
            name => Some(Some(name.to_string())),
        }
    }

    /// The PulseAudio source names to open (`None` = the default source).
    pub fn devices(&self) -> Vec<Option<String>> {
        let mut out = Vec::new();
        if let Some(mic) = &self.mic {
            out.push(mic.clone());
        }
        if self.system_audio {
            out.push(Some(pulse::DEFAULT_MONITOR.to_string()));
        }
        out
    }
}

/// Opens the configured devices and starts the feed. `None` (with one log line saying why) when
/// no audio was asked for or none can be opened: the screen is shared without audio.
pub fn start_host_audio(settings: &AudioSettings) -> Option<AudioFeed> {
    let devices = settings.devices();
    if devices.is_empty() {
        tracing::info!("no audio to send (use --mic or --system-audio)");
        return None;
    }
    let mut sources: Vec<Box<dyn AudioSource>> = Vec::new();
    for device in &devices {
        match pulse::PulseSource::open(device.as_deref()) {
            Ok(s) => sources.push(Box::new(s)),
            Err(e) => {
                tracing::warn!(error = %e, "no audio: sharing the screen without it");
                return None;
            }
        }
    }
    match AudioFeed::start(sources) {
        Ok(feed) => {
            tracing::info!(devices = ?devices, "sending the host's audio to viewers");
            Some(feed)
        }
        Err(e) => {
            tracing::warn!(error = %e, "no audio: sharing the screen without it");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mic_flag_and_devices() {
        assert_eq!(AudioSettings::parse_mic("none"), None);
        assert_eq!(AudioSettings::parse_mic("default"), Some(None));
        assert_eq!(AudioSettings::parse_mic("alsa_input.usb"), Some(Some("alsa_input.usb".into())));
        let s = AudioSettings { mic: Some(None), system_audio: true };
        assert_eq!(s.devices(), vec![None, Some(pulse::DEFAULT_MONITOR.to_string())]);
        assert!(AudioSettings { mic: None, system_audio: false }.devices().is_empty());
    }

    #[test]
    fn viewer_packets_are_decoded_into_the_sink() {
        let mut enc = OpusEncoder::new().expect("encoder");
        let mut tone = ToneSource::new(880.0, 0.3);
        let sink = RecordingSink::default();
        let (tx, rx) = std::sync::mpsc::channel();
        play_packets(rx, Box::new(sink.clone())).expect("player");
        let mut frame = vec![0i16; FRAME_SAMPLES];
        for _ in 0..25 {
            tone.read_frame(&mut frame).expect("tone");
            tx.send(enc.encode(&frame).expect("encode")).expect("send");
        }
        drop(tx);
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while sink.0.lock().map(|p| p.len()).unwrap_or(0) < 25 * FRAME_SAMPLES && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let played = sink.0.lock().expect("lock").clone();
        assert_eq!(played.len(), 25 * FRAME_SAMPLES);
        let steady = &played[4800..];
        let freq = steady.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count() as f64 / 2.0 / (steady.len() as f64 / 48_000.0);
        assert!((freq - 880.0).abs() < 15.0, "played {freq} Hz");
    }

    #[test]
    fn mixing_saturates_instead_of_wrapping() {
        let mut mix = [30_000i16, -30_000, 5];
        mix_into(&mut mix, &[10_000, -10_000, 5]);
        assert_eq!(mix, [i16::MAX, i16::MIN, 10]);
    }

    #[test]
    fn the_feed_encodes_a_tone_into_opus_that_decodes_back() {
        let feed = AudioFeed::start(vec![Box::new(ToneSource::new(440.0, 0.3))]).expect("feed");
        let mut rx = feed.subscribe();
        let mut decoder = opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono).expect("decoder");
        let mut pcm = Vec::new();
        while pcm.len() < SAMPLE_RATE as usize / 2 {
            let frame = match rx.blocking_recv() {
                Ok(f) => f,
                Err(broadcast::error::RecvError::Lagged(n)) => panic!("lagged by {n} frames"),
                Err(e) => panic!("feed ended: {e}"),
            };
            let mut out = vec![0i16; FRAME_SAMPLES];
            let n = decoder.decode(&frame.data, &mut out, false).expect("decode");
            pcm.extend_from_slice(&out[..n]);
        }
        let crossings = pcm[4800..].windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        let seconds = (pcm.len() - 4800) as f64 / f64::from(SAMPLE_RATE);
        let freq = crossings as f64 / 2.0 / seconds;
        assert!((freq - 440.0).abs() < 10.0, "decoded tone at {freq} Hz");
    }
}
