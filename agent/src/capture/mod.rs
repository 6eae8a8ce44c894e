//! Screen capture behind the [`FrameSource`] trait: the X11 screen (scrap) and a synthetic
//! screen for tests and benchmarks.
//!
//! A source is created *on* the capture thread (scrap's capturer is not `Send`), so the pipeline
//! takes a [`SourceFactory`] rather than a source.

#[cfg(target_os = "linux")]
mod damage;
mod synthetic;
#[cfg(target_os = "linux")]
mod x11;

#[cfg(target_os = "linux")]
pub use damage::DamageWatcher;
pub use synthetic::{SyntheticScreen, SyntheticSource};
#[cfg(target_os = "linux")]
pub use x11::X11Source;

use crate::frame::{Frame, FrameError};

/// Errors from a capture source.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open the display: {0} (is DISPLAY set and the X server running?)")]
    Open(std::io::Error),
    #[error("capture failed: {0}")]
    Read(std::io::Error),
    #[error("captured an invalid frame: {0}")]
    Frame(#[from] FrameError),
}

/// Something that yields screen images on demand. Called from one dedicated thread.
pub trait FrameSource {
    /// Reads the screen as it is now. May block for up to a frame interval.
    fn capture(&mut self) -> Result<Frame, CaptureError>;

    /// Reads the screen, or `None` if it shows exactly the pixels of `last`. Sources that can
    /// compare in place (X11) skip copying an unchanged screen.
    fn capture_if_changed(&mut self, last: Option<&Frame>) -> Result<Option<Frame>, CaptureError> {
        let frame = self.capture()?;
        Ok(match last {
            Some(l) if l.same_pixels(&frame) => None,
            _ => Some(frame),
        })
    }

    /// Waits until the screen may have changed (true) or `deadline` passes (false). Sources that
    /// are told about changes (X Damage) block here, so a change is captured the moment it is
    /// drawn instead of on the next tick; the others answer "maybe" at once.
    fn wait_for_change(&mut self, deadline: std::time::Instant) -> bool {
        let _ = deadline;
        true
    }
}

/// Builds a source on the capture thread.
pub type SourceFactory = Box<dyn FnOnce() -> Result<Box<dyn FrameSource>, CaptureError> + Send>;
