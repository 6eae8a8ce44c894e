//! JSON bodies of the server's HTTP API.

use serde::{Deserialize, Serialize};

/// Every HTTP error the server returns has this body: a stable machine-readable `code` and a
/// message for humans. Codes never change meaning; new ones may be added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// Stable error codes.
pub mod codes {
    pub const MISSING_TOKEN: &str = "missing_token";
    pub const INVALID_TOKEN: &str = "invalid_token";
    pub const TOKEN_EXPIRED: &str = "token_expired";
    pub const LINK_REVOKED: &str = "link_revoked";
    pub const LINK_FULL: &str = "link_full";
    pub const HOST_OFFLINE: &str = "host_offline";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    pub const BAD_SDP: &str = "bad_sdp";
    pub const NOT_FOUND: &str = "not_found";
    pub const AGENT_TIMEOUT: &str = "agent_timeout";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const INTERNAL: &str = "internal";
    pub const VERSION_MISMATCH: &str = "version_mismatch";
    pub const BAD_REQUEST: &str = "bad_request";
    /// The agent answered an offer with `OfferRejected` for a reason other than a bad SDP.
    pub const AGENT_REJECTED: &str = "agent_rejected";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// Sent to an agent connection that a newer connection of the same host replaced.
    pub const REPLACED: &str = "replaced";
}
