//! The agent's pure decision code that viewers and the server can reach, compiled from the
//! agent's own source files: the fuzz targets exercise exactly that code without building the
//! agent's capture, encoder and WebRTC stack under instrumentation.

/// The agent's check of a viewer's link token (`agent/src/auth.rs`).
#[path = "../../agent/src/auth.rs"]
pub mod auth;

/// Key codes to keysyms (`agent/src/input/keymap.rs`); `translate` reaches it as `super::keymap`.
#[path = "../../agent/src/input/keymap.rs"]
pub mod keymap;

/// The agent's range checks and translation of input events (`agent/src/input/translate.rs`).
#[path = "../../agent/src/input/translate.rs"]
pub mod translate;
