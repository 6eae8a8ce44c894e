//! PulseAudio capture (also PipeWire, through its PulseAudio server) with the blocking "simple"
//! API: a microphone, or a sink's monitor for what the computer plays.

use libpulse_binding::sample::{Format, Spec};
use libpulse_binding::stream::Direction;
use libpulse_simple_binding::Simple;

use super::{AudioError, AudioSink, AudioSource, SAMPLE_RATE};

/// PulseAudio's name for the monitor of the default output.
pub const DEFAULT_MONITOR: &str = "@DEFAULT_MONITOR@";
/// Shown in the host's sound settings.
const APP_NAME: &str = "Deskbeam";

/// One capture stream (48 kHz mono s16).
pub struct PulseSource {
    stream: Simple,
    bytes: Vec<u8>,
}

impl PulseSource {
    /// Opens `device` (a source name, e.g. `alsa_input…` or `<sink>.monitor`), or the default
    /// source when `None`.
    pub fn open(device: Option<&str>) -> Result<Self, AudioError> {
        let spec = Spec { format: Format::S16le, channels: 1, rate: SAMPLE_RATE };
        // Small fragments: the default buffering adds up to two seconds of delay.
        let attr = libpulse_binding::def::BufferAttr {
            maxlength: u32::MAX,
            tlength: u32::MAX,
            prebuf: u32::MAX,
            minreq: u32::MAX,
            fragsize: (super::FRAME_SAMPLES * 2) as u32,
        };
        let stream = Simple::new(None, APP_NAME, Direction::Record, device, "screen share audio", &spec, None, Some(&attr))
            .map_err(|e| AudioError::Open { device: device.unwrap_or("default").to_string(), reason: e.to_string().unwrap_or_default() })?;
        Ok(Self { stream, bytes: Vec::new() })
    }
}

impl AudioSource for PulseSource {
    fn read_frame(&mut self, frame: &mut [i16]) -> Result<(), AudioError> {
        self.bytes.resize(frame.len() * 2, 0);
        self.stream.read(&mut self.bytes).map_err(|e| AudioError::Device(e.to_string().unwrap_or_default()))?;
        for (s, b) in frame.iter_mut().zip(self.bytes.chunks_exact(2)) {
            *s = i16::from_le_bytes([b[0], b[1]]);
        }
        Ok(())
    }
}

/// One playback stream (48 kHz mono s16) on the default output, or on `device`.
pub struct PulseSink {
    stream: Simple,
    bytes: Vec<u8>,
}

impl PulseSink {
    pub fn open(device: Option<&str>, what: &str) -> Result<Self, AudioError> {
        let spec = Spec { format: Format::S16le, channels: 1, rate: SAMPLE_RATE };
        // About 60 ms of buffer: enough for scheduling hiccups, short enough for a conversation.
        let attr = libpulse_binding::def::BufferAttr {
            maxlength: u32::MAX,
            tlength: (super::FRAME_SAMPLES * 2 * 3) as u32,
            prebuf: u32::MAX,
            minreq: u32::MAX,
            fragsize: u32::MAX,
        };
        let stream = Simple::new(None, APP_NAME, Direction::Playback, device, what, &spec, None, Some(&attr))
            .map_err(|e| AudioError::Open { device: device.unwrap_or("default output").to_string(), reason: e.to_string().unwrap_or_default() })?;
        Ok(Self { stream, bytes: Vec::new() })
    }
}

impl AudioSink for PulseSink {
    fn play_frame(&mut self, frame: &[i16]) -> Result<(), AudioError> {
        self.bytes.clear();
        self.bytes.extend(frame.iter().flat_map(|s| s.to_le_bytes()));
        self.stream.write(&self.bytes).map_err(|e| AudioError::Device(e.to_string().unwrap_or_default()))
    }
}

/// An audio source the host can pick with `--mic` (monitors are what `--system-audio` uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub name: String,
    pub description: String,
    pub is_monitor: bool,
}

/// Lists the sound server's capture sources (never starts a sound server).
pub fn list_sources() -> Result<Vec<SourceInfo>, AudioError> {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use libpulse_binding::callbacks::ListResult;
    use libpulse_binding::context::{Context, FlagSet, State};
    use libpulse_binding::mainloop::standard::{IterateResult, Mainloop};

    let unavailable = |reason: &str| AudioError::Open { device: "sound server".into(), reason: reason.into() };
    let mut mainloop = Mainloop::new().ok_or_else(|| unavailable("no main loop"))?;
    let mut context = Context::new(&mainloop, APP_NAME).ok_or_else(|| unavailable("no context"))?;
    context.connect(None, FlagSet::NOAUTOSPAWN, None).map_err(|e| unavailable(&e.to_string().unwrap_or_default()))?;
    loop {
        if !matches!(mainloop.iterate(true), IterateResult::Success(_)) {
            return Err(unavailable("main loop stopped"));
        }
        match context.get_state() {
            State::Ready => break,
            State::Failed | State::Terminated => return Err(unavailable("no PulseAudio or PipeWire server is running")),
            _ => {}
        }
    }
    let found = Rc::new(RefCell::new(Vec::new()));
    let done = Rc::new(Cell::new(false));
    let (sink, flag) = (found.clone(), done.clone());
    let _op = context.introspect().get_source_info_list(move |item| match item {
        ListResult::Item(info) => sink.borrow_mut().push(SourceInfo {
            name: info.name.as_deref().unwrap_or_default().to_string(),
            description: info.description.as_deref().unwrap_or_default().to_string(),
            is_monitor: info.monitor_of_sink.is_some(),
        }),
        ListResult::End | ListResult::Error => flag.set(true),
    });
    while !done.get() {
        if !matches!(mainloop.iterate(true), IterateResult::Success(_)) {
            return Err(unavailable("main loop stopped"));
        }
    }
    context.disconnect();
    let list = found.borrow().clone();
    Ok(list)
}
