//! The X11 screen through scrap (XShm). scrap always returns a frame: change detection is the
//! pipeline's job.

use std::time::{Duration, Instant};

use super::damage::DamageWatcher;
use super::{CaptureError, FrameSource};
use crate::frame::Frame;

/// Even with X Damage, the screen is compared in full this often (a safety net; cheap).
const FULL_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Captures the primary screen of the X display in `$DISPLAY`.
pub struct X11Source {
    capturer: scrap::Capturer,
    width: u32,
    height: u32,
    damage: Option<DamageWatcher>,
    last_full_check: Instant,
}

impl X11Source {
    pub fn open() -> Result<Self, CaptureError> {
        let display = scrap::Display::primary().map_err(CaptureError::Open)?;
        let capturer = scrap::Capturer::new(display).map_err(CaptureError::Open)?;
        let (width, height) = (capturer.width() as u32, capturer.height() as u32);
        let damage = match DamageWatcher::open() {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::info!(error = %e, "X Damage unavailable; polling the screen instead");
                None
            }
        };
        tracing::info!(width, height, damage = damage.is_some(), "capturing the X11 screen");
        Ok(Self { capturer, width, height, damage, last_full_check: Instant::now() })
    }
}

impl FrameSource for X11Source {
    fn capture(&mut self) -> Result<Frame, CaptureError> {
        let (width, height) = (self.width, self.height);
        let frame = self.capturer.frame().map_err(CaptureError::Read)?;
        let captured_at = Instant::now();
        // scrap's X11 frames are BGRX with no row padding.
        let data = frame.to_vec();
        Ok(Frame::new(width, height, width * 4, data, captured_at)?)
    }

    fn capture_if_changed(&mut self, last: Option<&Frame>) -> Result<Option<Frame>, CaptureError> {
        if let (Some(watcher), Some(_)) = (&mut self.damage, last) {
            // Nothing drawn: skip the copy entirely, but compare in full now and then.
            if !watcher.take() && self.last_full_check.elapsed() < FULL_CHECK_EVERY {
                return Ok(None);
            }
        }
        self.last_full_check = Instant::now();
        let (width, height) = (self.width, self.height);
        let frame = self.capturer.frame().map_err(CaptureError::Read)?;
        let captured_at = Instant::now();
        if let Some(l) = last {
            // Compare the shared-memory image in place: an idle screen costs no copy.
            if l.width == width && l.height == height && l.stride == width * 4 && l.data.as_slice() == &frame[..] {
                return Ok(None);
            }
        }
        Ok(Some(Frame::new(width, height, width * 4, frame.to_vec(), captured_at)?))
    }

    fn wait_for_change(&mut self, deadline: Instant) -> bool {
        match &mut self.damage {
            Some(watcher) => watcher.wait(deadline) || self.last_full_check.elapsed() >= FULL_CHECK_EVERY,
            None => true,
        }
    }
}
