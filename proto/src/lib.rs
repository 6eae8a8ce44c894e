//! Deskbeam wire types: everything that crosses a process boundary.
//!
//! Layout:
//! - [`signal`]: the agent ⇄ server WebSocket protocol (JSON text frames).
//! - [`token`]: claims carried by host and link tokens (JWT, EdDSA).
//! - [`api`]: the JSON bodies of the server's HTTP API, including the error body.
//! - [`input`]: remote-control events on the viewer's `input` data channel.
//! - [`sdp`]: the plausibility check of an SDP offer handed to WHEP.
//! - [`chat`]: text chat between the host and viewers on the `chat` data channel.
//! - [`ice`]: STUN/TURN servers and short-lived TURN credentials for agents and viewers.
//! - `bindings` (tests): generates the browser's TypeScript declarations, `web/protocol.d.ts`.
//!
//! **Architecture invariant:** serde lives here and nowhere else decides what the wire looks like.
//! Every message is tagged with [`PROTOCOL_VERSION`] at the start of a connection; a peer that
//! speaks another major version is refused with a clear error instead of being misread.

pub mod api;
pub mod chat;
pub mod ice;
#[cfg(test)]
mod bindings;
pub mod input;
pub mod sdp;
pub mod signal;
pub mod token;

/// Version of the agent ⇄ server protocol. Bump on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// What a viewer may do through a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Watch the screen.
    View,
    /// Watch and drive mouse and keyboard (granted by the host).
    Control,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::View => "view",
            Scope::Control => "control",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "view" => Ok(Scope::View),
            "control" => Ok(Scope::Control),
            other => Err(format!("unknown scope {other:?} (expected \"view\" or \"control\")")),
        }
    }
}
