//! Deskbeam agent: shares this machine's screen with viewers in a browser.
//!
//! # Layout
//! - [`frame`]: raw BGRX screen frames.
//! - [`capture`]: the `FrameSource` trait; X11 (scrap) and synthetic sources.
//! - [`encode`]: the `Encoder` trait; BGRX → I420 → H.264 (openh264).
//! - [`pipeline`]: the capture/encode thread and the fan-out to viewers (one encode for all).
//! - [`transport`]: WebRTC per viewer: answer an offer, stream RTP, keyframe requests.
//! - [`signaling`]: the outbound WebSocket to the server; routes offers to `transport`.
//! - [`input`]: remote control: input events, control arbitration, consent, injection.
//! - [`chat`]: text chat between the host's terminal and every viewer.
//! - [`audio`]: the host's audio (PulseAudio capture, Opus) for viewers' audio tracks.
//! - [`auth`]: the agent's own check of a viewer's link token.
//! - [`links`]: the `link create|list|revoke` client of the server's links API.
//! - [`config`]: validated settings for `share`.

pub mod audio;
pub mod auth;
pub mod capture;
pub mod chat;
pub mod config;
pub mod encode;
pub mod frame;
pub mod input;
pub mod links;
pub mod pipeline;
pub mod signaling;
pub mod transport;

pub use config::ShareConfig;
pub use signaling::run;
