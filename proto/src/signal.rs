//! The agent ⇄ server signaling protocol.
//!
//! The agent holds one outbound WebSocket to `GET /api/agent` (authenticated with its host token
//! in `Authorization: Bearer`). Each text frame is one JSON object with a `type` tag. The first
//! frame from the agent is [`AgentMessage::Hello`]; the server answers [`ServerMessage::Welcome`]
//! or [`ServerMessage::Error`] and closes.

use serde::{Deserialize, Serialize};

use crate::Scope;

/// Largest signaling frame either side accepts (an SDP is a few KiB).
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

/// Identifies one viewer connection (one WHEP resource) for its whole life.
pub type ViewerId = String;

/// Frames sent by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMessage {
    /// First frame of a connection.
    Hello {
        /// [`crate::PROTOCOL_VERSION`] of the agent.
        version: u32,
        /// Human-readable name of the shared machine (shown to viewers).
        name: String,
        /// Agent build, for diagnostics.
        agent: String,
        /// Random id of this agent run, the same on every reconnection: the server resumes the
        /// viewers of a session it knows, and drops at once those of a session that is gone.
        #[serde(default)]
        session: String,
        /// The viewers this agent is still streaming to (after a reconnection, or after the
        /// server restarted): the server takes them back, or tells the agent to close them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        viewers: Vec<LiveViewer>,
    },
    /// Ask the server for a viewer link to this host.
    CreateLink {
        /// Correlates the reply.
        request_id: u64,
        scope: Scope,
        /// Lifetime in seconds.
        ttl_secs: u64,
        max_viewers: u32,
    },
    /// The SDP answer to an [`ServerMessage::Offer`].
    Answer { viewer_id: ViewerId, sdp: String },
    /// The agent could not answer an offer (bad SDP, no common codec…).
    OfferRejected { viewer_id: ViewerId, code: String, message: String },
    /// A viewer's connection ended on the agent's side (closed, failed, timed out).
    ViewerGone { viewer_id: ViewerId, reason: String },
    /// Keep-alive.
    Ping { nonce: u64 },
    /// Something the audit log must record that only the agent sees (control changes).
    Audit { event: AuditKind, viewer_id: Option<ViewerId>, detail: String },
}

/// A viewer the agent streams to, as announced in [`AgentMessage::Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveViewer {
    pub viewer_id: ViewerId,
    /// The link the viewer came through (from its verified token).
    pub link_id: String,
    /// Unix seconds at which it joined.
    pub since: u64,
}

/// Agent-side events for the server's audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    ControlRequested,
    ControlGranted,
    ControlDenied,
    ControlReleased,
    ControlRevoked,
    InputRejected,
}

/// Frames sent by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The agent is registered.
    Welcome {
        version: u32,
        host_id: String,
        /// PEM (SPKI) public key the server signs link tokens with, so the agent can check a
        /// viewer's token itself.
        link_public_key: String,
    },
    /// Reply to [`AgentMessage::CreateLink`].
    LinkCreated {
        request_id: u64,
        link_id: String,
        /// The full viewer URL, `<server>/view#<token>`.
        url: String,
        /// Unix seconds.
        expires_at: u64,
    },
    /// A viewer wants to watch: answer with [`AgentMessage::Answer`].
    Offer {
        viewer_id: ViewerId,
        sdp: String,
        scope: Scope,
        link_id: String,
        /// The viewer's link token, for the agent's own check of signature, expiry and scope.
        link_token: String,
        /// Unix seconds at which the link expires: the agent ends the viewer then.
        expires_at: u64,
        /// STUN/TURN servers for this viewer's connection, with TURN credentials minted for it
        /// (fresh per offer, so a long-running agent never holds expired ones).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<crate::ice::IceServer>,
    },
    /// The viewer left (WHEP DELETE), or its link was revoked or expired.
    CloseViewer { viewer_id: ViewerId, reason: String },
    /// A request failed; `request_id` names it when there is one.
    Error { request_id: Option<u64>, code: String, message: String },
    /// Keep-alive reply.
    Pong { nonce: u64 },
}

impl AgentMessage {
    pub fn to_json(&self) -> String {
        // Serializing these plain enums cannot fail (no maps with non-string keys, no floats).
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ServerMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    TooLarge(usize),
    Malformed(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLarge(n) => write!(f, "frame of {n} bytes exceeds {MAX_FRAME_BYTES}"),
            DecodeError::Malformed(e) => write!(f, "malformed frame: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

fn decode<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, DecodeError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge(text.len()));
    }
    serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))
}

impl AgentMessage {
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode(text)
    }
}

impl ServerMessage {
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_a_type_tag() {
        let m = AgentMessage::CreateLink { request_id: 7, scope: Scope::View, ttl_secs: 60, max_viewers: 2 };
        let json = m.to_json();
        assert!(json.contains(r#""type":"create_link""#), "{json}");
        assert_eq!(AgentMessage::decode(&json), Ok(m));
    }

    #[test]
    fn rejects_garbage_and_oversize_frames() {
        assert!(matches!(ServerMessage::decode("{"), Err(DecodeError::Malformed(_))));
        assert!(matches!(ServerMessage::decode(r#"{"type":"nope"}"#), Err(DecodeError::Malformed(_))));
        let big = "x".repeat(MAX_FRAME_BYTES + 1);
        assert_eq!(ServerMessage::decode(&big), Err(DecodeError::TooLarge(MAX_FRAME_BYTES + 1)));
    }
}
