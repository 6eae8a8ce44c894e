//! Remote-control messages on the per-viewer WebRTC data channel `input` (ordered, reliable).
//!
//! Encoding: one JSON text message per event, `{"v":1,"t":"<type>",…}`. JSON was measured
//! against a packed binary layout (`make bench`, BENCHMARKS.md): a pointer move is 33–44 bytes
//! instead of 10, ≈5 KB/s at 120 moves per second, and decodes in under a microsecond, while
//! staying debuggable and letting the browser's types be generated from these definitions
//! (`web/protocol.d.ts`, checked by a test).
//!
//! Decoding is two-step: the version is read first so a future version is refused as such, then
//! the event itself. Validation of values (ranges, key codes, sizes) is the agent's job.

use serde::{Deserialize, Serialize};

/// Version of the input protocol.
pub const INPUT_VERSION: u32 = 1;
/// Largest input message accepted (a paste of a few KiB plus framing).
pub const MAX_INPUT_BYTES: usize = 16 * 1024;
/// Longest text a single paste may carry (characters).
pub const MAX_PASTE_CHARS: usize = 4096;
/// Label of the data channel the viewer opens in its offer.
pub const INPUT_CHANNEL: &str = "input";

/// Mouse buttons, as `MouseEvent.button` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum MouseButton {
    Left,
    Middle,
    Right,
    Back,
    Forward,
}

/// Units of a wheel event (`WheelEvent.deltaMode`: pixel or line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum WheelMode {
    Pixel,
    Line,
}

/// What a viewer sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ViewerInput {
    /// Absolute pointer position in normalized coordinates of the shared screen (0..=1).
    Move { x: f64, y: f64 },
    Button { b: MouseButton, down: bool },
    /// Scroll; positive `dy` scrolls down, positive `dx` right.
    Wheel { dx: f64, dy: f64, mode: WheelMode },
    /// A physical key (`KeyboardEvent.code`), with the text it produced on the viewer's layout.
    Key {
        code: String,
        down: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(optional))]
        text: Option<String>,
    },
    /// Type this text as-is.
    Paste { text: String },
    /// Keep-alive; the agent answers `pong`.
    Ping,
    /// Sent once the viewer's channel is open: the agent answers with the current `control`
    /// state. The agent also sends that state unasked when the channel opens, but a browser can
    /// drop a message that arrives before it reports the channel open.
    Hello,
    /// Ask the host for control (needs a `control` link).
    RequestControl,
    /// Give control back.
    ReleaseControl,
}

/// Where control stands, from one viewer's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ControlState {
    /// Nobody controls the screen.
    Free,
    /// This viewer asked; the host is deciding.
    Pending,
    /// This viewer controls the screen.
    Granted,
    /// Another viewer controls the screen.
    Taken,
}

/// What the agent sends back on the `input` channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum AgentInput {
    /// Control changed (or on connect). `can_request` is false on a view-only link.
    Control {
        state: ControlState,
        can_request: bool,
        /// Label of the viewer holding control, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(optional))]
        holder: Option<String>,
        /// Why it changed (denied, revoked by the host, …), for the viewer to show.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(optional))]
        reason: Option<String>,
    },
    /// A message was refused; the channel stays open.
    Rejected { code: String, message: String },
    Pong,
    /// The agent is ending this viewer (link revoked or expired, kicked, sharing stopped).
    Closing { reason: String },
}

/// Why an input message could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputDecodeError {
    TooLarge(usize),
    NotJson(String),
    UnsupportedVersion(u64),
    Malformed(String),
}

impl std::fmt::Display for InputDecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(n) => write!(f, "message of {n} bytes exceeds {MAX_INPUT_BYTES}"),
            Self::NotJson(e) => write!(f, "not a JSON object: {e}"),
            Self::UnsupportedVersion(v) => write!(f, "input protocol version {v} is not supported (this agent speaks {INPUT_VERSION})"),
            Self::Malformed(e) => write!(f, "malformed event: {e}"),
        }
    }
}

impl std::error::Error for InputDecodeError {}

#[derive(Deserialize)]
struct VersionOnly {
    v: u64,
}

#[derive(Serialize)]
struct Framed<'a, T> {
    v: u32,
    #[serde(flatten)]
    msg: &'a T,
}

/// Reads one viewer message. Never panics, whatever the bytes.
pub fn decode_viewer_input(bytes: &[u8]) -> Result<ViewerInput, InputDecodeError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(InputDecodeError::TooLarge(bytes.len()));
    }
    let version: VersionOnly = serde_json::from_slice(bytes).map_err(|e| InputDecodeError::NotJson(e.to_string()))?;
    if version.v != u64::from(INPUT_VERSION) {
        return Err(InputDecodeError::UnsupportedVersion(version.v));
    }
    serde_json::from_slice(bytes).map_err(|e| InputDecodeError::Malformed(e.to_string()))
}

/// Writes one message with its version tag.
pub fn encode<T: Serialize>(msg: &T) -> String {
    serde_json::to_string(&Framed { v: INPUT_VERSION, msg }).unwrap_or_default()
}

/// Reads one agent message (used by tests and non-browser viewers).
pub fn decode_agent_input(bytes: &[u8]) -> Result<AgentInput, InputDecodeError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(InputDecodeError::TooLarge(bytes.len()));
    }
    let version: VersionOnly = serde_json::from_slice(bytes).map_err(|e| InputDecodeError::NotJson(e.to_string()))?;
    if version.v != u64::from(INPUT_VERSION) {
        return Err(InputDecodeError::UnsupportedVersion(version.v));
    }
    serde_json::from_slice(bytes).map_err(|e| InputDecodeError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_version_and_tag() {
        let m = ViewerInput::Key { code: "KeyA".into(), down: true, text: Some("a".into()) };
        let s = encode(&m);
        assert_eq!(s, r#"{"v":1,"t":"key","code":"KeyA","down":true,"text":"a"}"#);
        assert_eq!(decode_viewer_input(s.as_bytes()), Ok(m));
        let mv = encode(&ViewerInput::Move { x: 0.5, y: 0.25 });
        assert_eq!(mv, r#"{"v":1,"t":"move","x":0.5,"y":0.25}"#);
        let a = AgentInput::Control { state: ControlState::Granted, can_request: true, holder: None, reason: None };
        assert_eq!(decode_agent_input(encode(&a).as_bytes()), Ok(a));
    }

    #[test]
    fn refuses_other_versions_garbage_and_oversize() {
        assert_eq!(decode_viewer_input(br#"{"v":2,"t":"ping"}"#), Err(InputDecodeError::UnsupportedVersion(2)));
        assert!(matches!(decode_viewer_input(b"\xff\x00"), Err(InputDecodeError::NotJson(_))));
        assert!(matches!(decode_viewer_input(br#"{"t":"ping"}"#), Err(InputDecodeError::NotJson(_))));
        assert!(matches!(decode_viewer_input(br#"{"v":1,"t":"warp"}"#), Err(InputDecodeError::Malformed(_))));
        assert!(matches!(decode_viewer_input(br#"{"v":1,"t":"move","x":"a","y":0}"#), Err(InputDecodeError::Malformed(_))));
        let big = vec![b' '; MAX_INPUT_BYTES + 1];
        assert_eq!(decode_viewer_input(&big), Err(InputDecodeError::TooLarge(MAX_INPUT_BYTES + 1)));
    }
}
