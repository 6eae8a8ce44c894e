//! The capture → encode loop on its own thread, fanned out to every viewer.
//!
//! **Architecture invariant:** one encoder serves all viewers. Frames leave through a
//! `tokio::sync::broadcast` channel of capacity [`FANOUT_CAPACITY`]: a viewer that falls behind
//! loses the oldest frames (and asks for a keyframe) instead of building a queue, so latency never
//! grows with time. The loop captures right before it encodes, so a frame is never stale on entry.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::capture::{CaptureError, FrameSource, SourceFactory};
use crate::encode::{EncodedFrame, Encoder};
use crate::frame::Frame;

/// How many encoded frames a slow viewer may lag before it starts losing them.
pub const FANOUT_CAPACITY: usize = 4;
/// Longest wait for a change before the capture thread looks anyway (settle refreshes, the
/// source's own safety net).
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// Slices of that wait, after each of which keyframe requests and stops are checked.
const WAIT_SLICE: Duration = Duration::from_millis(15);

/// Builds an encoder on the pipeline thread.
pub type EncoderFactory = Box<dyn FnOnce() -> Box<dyn Encoder> + Send>;

/// Pipeline settings.
#[derive(Debug, Clone, Copy)]
pub struct PipelineSettings {
    /// Screen polling and encoding rate.
    pub fps: u32,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self { fps: 30 }
    }
}

/// Counters the pipeline keeps (read by benchmarks and logs).
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub captured: AtomicU64,
    pub unchanged: AtomicU64,
    pub encoded: AtomicU64,
    pub keyframes: AtomicU64,
    pub bytes: AtomicU64,
    pub capture_us: AtomicU64,
    pub encode_us: AtomicU64,
}

/// What the loop should do with a freshly captured frame. Plain logic, tested below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nobody is watching: do not even capture.
    Idle,
    /// Screen unchanged and no keyframe wanted: send nothing.
    Skip,
    /// Encode; `keyframe` forces an IDR.
    Encode { keyframe: bool },
}

/// Decide the loop's next step.
pub fn decide(viewers: usize, changed: bool, keyframe_wanted: bool) -> Step {
    match (viewers, changed, keyframe_wanted) {
        (0, _, _) => Step::Idle,
        (_, _, true) => Step::Encode { keyframe: true },
        (_, true, false) => Step::Encode { keyframe: false },
        (_, false, false) => Step::Skip,
    }
}

/// After the screen settles, the same picture is encoded again at these delays: it sharpens what
/// the rate control blurred during motion, repairs a last frame lost beyond NACK, and lets
/// receivers whose jitter buffer waits for a following frame (aiortc) show the last one.
pub const REFRESH_AFTER: [Duration; 2] = [Duration::from_millis(150), Duration::from_millis(1000)];

/// Is a settle refresh due, `since_change` after the last change with `done` refreshes sent?
pub fn refresh_due(since_change: Duration, done: usize) -> bool {
    REFRESH_AFTER.get(done).is_some_and(|at| since_change >= *at)
}

/// A handle on the running pipeline. Dropping it stops the thread.
pub struct Pipeline {
    frames: broadcast::Sender<Arc<EncodedFrame>>,
    keyframe: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    pub stats: Arc<PipelineStats>,
    thread: Option<JoinHandle<()>>,
}

/// Everything a viewer needs from the pipeline: frames and a way to ask for a keyframe.
#[derive(Clone)]
pub struct FrameFeed {
    frames: broadcast::Sender<Arc<EncodedFrame>>,
    keyframe: Arc<AtomicBool>,
}

impl FrameFeed {
    /// Subscribe to encoded frames; also asks for a keyframe so the new viewer can start.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EncodedFrame>> {
        let rx = self.frames.subscribe();
        self.request_keyframe();
        rx
    }

    pub fn request_keyframe(&self) {
        self.keyframe.store(true, Ordering::Release);
    }
}

impl Pipeline {
    /// Starts the capture/encode thread.
    pub fn start(source: SourceFactory, encoder: EncoderFactory, settings: PipelineSettings) -> Result<Self, CaptureError> {
        let (frames, _) = broadcast::channel(FANOUT_CAPACITY);
        let keyframe = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(PipelineStats::default());
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let worker = Worker {
            frames: frames.clone(),
            keyframe: keyframe.clone(),
            stop: stop.clone(),
            stats: stats.clone(),
            interval: Duration::from_secs(1) / settings.fps.clamp(1, 120),
        };
        let thread = std::thread::Builder::new()
            .name("deskbeam-capture".into())
            .spawn(move || match source() {
                Ok(source) => {
                    let _ = ready_tx.send(Ok(()));
                    worker.run(source, encoder());
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(CaptureError::Open)?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self { frames, keyframe, stop, stats, thread: Some(thread) }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(CaptureError::Open(std::io::Error::other("capture thread died while starting"))),
        }
    }

    pub fn feed(&self) -> FrameFeed {
        FrameFeed { frames: self.frames.clone(), keyframe: self.keyframe.clone() }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// When the screen last changed and how many settle refreshes followed.
#[derive(Debug, Clone, Copy)]
struct Settle {
    changed_at: Instant,
    refreshes: usize,
}

struct Worker {
    frames: broadcast::Sender<Arc<EncodedFrame>>,
    keyframe: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    stats: Arc<PipelineStats>,
    interval: Duration,
}

impl Worker {
    fn run(self, mut source: Box<dyn FrameSource>, mut encoder: Box<dyn Encoder>) {
        let mut last: Option<Frame> = None;
        let mut settle = Settle { changed_at: Instant::now(), refreshes: REFRESH_AFTER.len() };
        let mut next = Instant::now();
        let mut failures = 0u32;
        while !self.stop.load(Ordering::Acquire) {
            // Never two captures closer than the frame interval…
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            if self.frames.receiver_count() == 0 {
                next = Instant::now() + self.interval;
                continue;
            }
            // …but between changes, capture when the screen changes rather than on a grid.
            self.wait_for_change(source.as_mut(), settle);
            next = Instant::now() + self.interval;
            match self.tick(source.as_mut(), encoder.as_mut(), &mut last, &mut settle) {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(100) {
                        tracing::warn!(error = %e, failures, "capture/encode failed");
                    }
                    // Back off so a dead display does not spin a core.
                    std::thread::sleep(Duration::from_millis(100).min(self.interval * failures));
                }
            }
        }
        tracing::debug!("capture thread stopped");
    }

    /// Waits (in short slices, so a keyframe request or a stop is not kept waiting) until the
    /// source reports a change, or at most [`IDLE_WAIT`], or until a settle refresh is due.
    fn wait_for_change(&self, source: &mut dyn FrameSource, settle: Settle) {
        let now = Instant::now();
        let mut deadline = now + IDLE_WAIT;
        if let Some(at) = REFRESH_AFTER.get(settle.refreshes) {
            deadline = deadline.min(settle.changed_at + *at);
        }
        loop {
            let slice = (Instant::now() + WAIT_SLICE).min(deadline);
            if source.wait_for_change(slice) || Instant::now() >= deadline {
                return;
            }
            if self.keyframe.load(Ordering::Acquire) || self.stop.load(Ordering::Acquire) {
                return;
            }
        }
    }

    fn tick(&self, source: &mut dyn FrameSource, encoder: &mut dyn Encoder, last: &mut Option<Frame>, settle: &mut Settle) -> Result<(), String> {
        let started = Instant::now();
        let fresh = source.capture_if_changed(last.as_ref()).map_err(|e| e.to_string())?;
        self.stats.captured.fetch_add(1, Ordering::Relaxed);
        self.stats.capture_us.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let changed = fresh.is_some();
        if let Some(frame) = fresh {
            *last = Some(frame);
            *settle = Settle { changed_at: started, refreshes: 0 };
        }
        let refresh = !changed && refresh_due(started.saturating_duration_since(settle.changed_at), settle.refreshes);
        if refresh {
            settle.refreshes += 1;
        }
        let keyframe_wanted = self.keyframe.swap(false, Ordering::AcqRel);
        let step = decide(self.frames.receiver_count(), changed || refresh, keyframe_wanted);
        let (Step::Encode { keyframe }, Some(frame)) = (step, last.as_ref()) else {
            self.stats.unchanged.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        // Re-encoding an unchanged screen (a keyframe for a new viewer) is a new picture in time:
        // it must not reuse the RTP timestamp of the frame it repeats.
        let frame = if changed { frame.clone() } else { Frame { captured_at: started, ..frame.clone() } };
        let encoded = encoder.encode(&frame, keyframe).map_err(|e| {
            // Try again with a keyframe next time: the decoder state is unknown now.
            self.keyframe.store(true, Ordering::Release);
            e.to_string()
        })?;
        if let Some(encoded) = encoded {
            self.stats.encoded.fetch_add(1, Ordering::Relaxed);
            self.stats.keyframes.fetch_add(encoded.keyframe as u64, Ordering::Relaxed);
            self.stats.bytes.fetch_add(encoded.data.len() as u64, Ordering::Relaxed);
            let us = (encoded.convert_time + encoded.encode_time).as_micros() as u64;
            self.stats.encode_us.fetch_add(us, Ordering::Relaxed);
            // No receivers left is fine: the next tick idles.
            let _ = self.frames.send(Arc::new(encoded));
        } else if keyframe {
            self.keyframe.store(true, Ordering::Release);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::SyntheticScreen;
    use crate::encode::{EncoderSettings, H264Encoder};

    #[test]
    fn decisions() {
        assert_eq!(decide(0, true, true), Step::Idle);
        assert_eq!(decide(1, false, false), Step::Skip);
        assert_eq!(decide(1, true, false), Step::Encode { keyframe: false });
        assert_eq!(decide(2, false, true), Step::Encode { keyframe: true });
    }

    #[test]
    fn settle_refreshes_come_once_each_then_stop() {
        assert!(!refresh_due(Duration::from_millis(100), 0));
        assert!(refresh_due(Duration::from_millis(150), 0));
        assert!(!refresh_due(Duration::from_millis(500), 1));
        assert!(refresh_due(Duration::from_millis(1000), 1));
        assert!(!refresh_due(Duration::from_secs(60), 2));
    }

    #[tokio::test]
    async fn a_still_screen_settles_then_sends_nothing_until_it_changes() {
        let screen = SyntheticScreen::new(160, 120, [10, 200, 10]);
        let s = screen.clone();
        let pipeline = Pipeline::start(
            Box::new(move || Ok(Box::new(s.source()) as Box<dyn FrameSource>)),
            Box::new(|| Box::new(H264Encoder::new(EncoderSettings::default())) as Box<dyn Encoder>),
            PipelineSettings { fps: 60 },
        )
        .expect("pipeline");
        let mut rx = pipeline.feed().subscribe();
        let first = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("in time").expect("frame");
        assert!(first.keyframe);
        // Two settle refreshes, then nothing while the screen is still.
        for _ in 0..REFRESH_AFTER.len() {
            let r = tokio::time::timeout(Duration::from_secs(3), rx.recv()).await.expect("refresh in time").expect("frame");
            assert!(!r.keyframe && r.captured_at > first.captured_at);
        }
        assert!(tokio::time::timeout(Duration::from_millis(1500), rx.recv()).await.is_err());
        screen.set_color([10, 10, 200]);
        let next = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("in time").expect("frame");
        assert!(next.captured_at > first.captured_at);
        pipeline.feed().request_keyframe();
        let key = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("in time").expect("frame");
        assert!(key.keyframe);
    }
}
