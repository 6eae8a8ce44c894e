//! Text chat between the host and its viewers, on the per-viewer WebRTC data channel `chat`
//! (ordered, reliable), opened by the viewer in its WHEP offer next to `input`.
//!
//! Encoding: one JSON text message each, `{"v":1,"t":"<type>",…}`, the same framing and version
//! as [`crate::input`]. Messages are plain text: receivers show them as text, never as markup.
//! The agent numbers every message it relays (`seq`), so every participant sees one order.

use serde::{Deserialize, Serialize};

use crate::input::INPUT_VERSION;

/// Label of the data channel the viewer opens in its offer.
pub const CHAT_CHANNEL: &str = "chat";
/// Longest chat text, in characters.
pub const MAX_CHAT_CHARS: usize = 1000;
/// Largest chat message accepted on the wire (the longest text, escaped, plus framing).
pub const MAX_CHAT_BYTES: usize = 8 * 1024;

/// What a viewer sends on the `chat` channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ViewerChat {
    /// Say this to everyone (the host and every viewer).
    Say { text: String },
    /// Sent once the viewer's channel is open: the agent answers with `joined` (the viewer's
    /// name) again, in case the browser dropped the one sent before it reported the channel open.
    Hello,
}

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ChatRole {
    /// The person at the shared computer.
    Host,
    /// Someone watching through a link.
    Viewer,
}

/// What the agent sends on the `chat` channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum AgentChat {
    /// On connect: the name others see for this viewer (from its link's label).
    Joined { name: String },
    /// A message, in the order the agent relayed it.
    Message {
        /// Position in the conversation (1, 2, …), the same for every participant.
        #[cfg_attr(test, ts(type = "number"))]
        seq: u64,
        from: String,
        role: ChatRole,
        text: String,
        /// When the agent relayed it, Unix milliseconds.
        #[cfg_attr(test, ts(type = "number"))]
        at: u64,
        /// Whether this participant wrote it.
        mine: bool,
    },
    /// A message was refused (too long, empty, too many, malformed); the channel stays open.
    Rejected { code: String, message: String },
}

/// Why a chat message could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatDecodeError {
    TooLarge(usize),
    NotJson(String),
    UnsupportedVersion(u64),
    Malformed(String),
}

impl std::fmt::Display for ChatDecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(n) => write!(f, "chat message of {n} bytes exceeds {MAX_CHAT_BYTES}"),
            Self::NotJson(e) => write!(f, "not a JSON object: {e}"),
            Self::UnsupportedVersion(v) => write!(f, "chat protocol version {v} is not supported (this agent speaks {INPUT_VERSION})"),
            Self::Malformed(e) => write!(f, "malformed chat message: {e}"),
        }
    }
}

impl std::error::Error for ChatDecodeError {}

#[derive(Deserialize)]
struct VersionOnly {
    v: u64,
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ChatDecodeError> {
    if bytes.len() > MAX_CHAT_BYTES {
        return Err(ChatDecodeError::TooLarge(bytes.len()));
    }
    let version: VersionOnly = serde_json::from_slice(bytes).map_err(|e| ChatDecodeError::NotJson(e.to_string()))?;
    if version.v != u64::from(INPUT_VERSION) {
        return Err(ChatDecodeError::UnsupportedVersion(version.v));
    }
    serde_json::from_slice(bytes).map_err(|e| ChatDecodeError::Malformed(e.to_string()))
}

/// Reads one viewer chat message. Never panics, whatever the bytes. The text itself (length,
/// emptiness) is checked by the agent.
pub fn decode_viewer_chat(bytes: &[u8]) -> Result<ViewerChat, ChatDecodeError> {
    decode(bytes)
}

/// Reads one agent chat message (used by tests and non-browser viewers).
pub fn decode_agent_chat(bytes: &[u8]) -> Result<AgentChat, ChatDecodeError> {
    decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::encode;

    #[test]
    fn round_trips_with_version_and_tag() {
        let say = ViewerChat::Say { text: "<b>hi</b>".into() };
        assert_eq!(encode(&say), r#"{"v":1,"t":"say","text":"<b>hi</b>"}"#);
        assert_eq!(decode_viewer_chat(encode(&say).as_bytes()), Ok(say));
        let m = AgentChat::Message { seq: 3, from: "Alice".into(), role: ChatRole::Viewer, text: "ok".into(), at: 1_700_000_000_000, mine: false };
        assert_eq!(
            encode(&m),
            r#"{"v":1,"t":"message","seq":3,"from":"Alice","role":"viewer","text":"ok","at":1700000000000,"mine":false}"#
        );
        assert_eq!(decode_agent_chat(encode(&m).as_bytes()), Ok(m));
    }

    #[test]
    fn refuses_other_versions_garbage_and_oversize() {
        assert_eq!(decode_viewer_chat(br#"{"v":2,"t":"say","text":"x"}"#), Err(ChatDecodeError::UnsupportedVersion(2)));
        assert!(matches!(decode_viewer_chat(b"\xff"), Err(ChatDecodeError::NotJson(_))));
        assert!(matches!(decode_viewer_chat(br#"{"v":1,"t":"shout","text":"x"}"#), Err(ChatDecodeError::Malformed(_))));
        assert!(matches!(decode_viewer_chat(br#"{"v":1,"t":"say","text":5}"#), Err(ChatDecodeError::Malformed(_))));
        let big = format!(r#"{{"v":1,"t":"say","text":"{}"}}"#, "a".repeat(MAX_CHAT_BYTES));
        assert!(matches!(decode_viewer_chat(big.as_bytes()), Err(ChatDecodeError::TooLarge(_))));
    }
}
