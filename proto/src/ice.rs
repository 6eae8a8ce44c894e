//! ICE servers (STUN/TURN) the server hands to agents and viewers.
//!
//! TURN credentials follow the TURN REST API scheme: `username` is `<expiry unix secs>:<id>` and
//! `credential` is base64(HMAC-SHA1(shared secret, username)), so they expire on their own and
//! never carry the relay's secret.

use serde::{Deserialize, Serialize};

/// One entry of `RTCConfiguration.iceServers`, in the browser's field names.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp|tcp`.
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("credential", &self.credential.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Body of `GET /whep/ice-servers`: what a viewer configures its `RTCPeerConnection` with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct IceServerList {
    pub ice_servers: Vec<IceServer>,
    /// Unix seconds after which the TURN credentials no longer open a new allocation.
    #[cfg_attr(test, ts(type = "number"))]
    pub expires_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_left_out_and_debug_hides_the_credential() {
        let stun = IceServer { urls: vec!["stun:h:3478".into()], username: None, credential: None };
        assert_eq!(serde_json::to_string(&stun).ok().as_deref(), Some(r#"{"urls":["stun:h:3478"]}"#));
        let turn = IceServer { urls: vec!["turn:h:3478".into()], username: Some("9:a".into()), credential: Some("c2VjcmV0".into()) };
        assert!(!format!("{turn:?}").contains("c2VjcmV0"));
        let back: IceServer = serde_json::from_str(&serde_json::to_string(&turn).unwrap_or_default()).unwrap_or(stun);
        assert_eq!(back, turn);
    }
}
