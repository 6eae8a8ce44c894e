//! Remote control: viewer input over the `input` data channel, validated and injected into the
//! X server, with one controller at a time granted by the host.
//!
//! - [`keymap`]: `KeyboardEvent.code` → X11 keysym.
//! - [`translate`]: events → actions, held-key tracking, release on loss of control.
//! - [`control`]: the arbiter (who controls), consent policy, rate limiting.
//! - [`sink`]: the `InputSink` trait (enigo/XTEST, recording) and the injector thread.
//! - [`service`]: the control actor and the per-viewer channel task.
//! - [`console`]: the host's terminal: consent prompts, revoke, stop.

pub mod console;
pub mod control;
pub mod keymap;
pub mod service;
pub mod sink;
pub mod translate;

pub use control::ConsentPolicy;
pub use service::ControlService;
pub use sink::{EnigoSink, Injector, InputSink, RecordingSink};
