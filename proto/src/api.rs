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
    /// The link has a PIN and the request carried none (`X-Deskbeam-Pin`).
    pub const PIN_REQUIRED: &str = "pin_required";
    /// The PIN was wrong.
    pub const PIN_INVALID: &str = "pin_invalid";
    /// Too many wrong PINs: the link's PIN is locked for a while (429, `Retry-After`).
    pub const PIN_LOCKED: &str = "pin_locked";
    /// The link's start time (`starts_at`) has not come yet.
    pub const LINK_NOT_STARTED: &str = "link_not_started";
    /// A single-use link already admitted its viewer.
    pub const LINK_USED: &str = "link_used";
    /// A cookie-authenticated request without the session's `X-CSRF-Token`.
    pub const CSRF_FAILED: &str = "csrf_failed";
    /// Wrong user name or password.
    pub const INVALID_CREDENTIALS: &str = "invalid_credentials";
    /// The second-factor (TOTP) code was wrong.
    pub const TOTP_INVALID: &str = "totp_invalid";
    /// Too many failed logins for the account or the address (429, `Retry-After`).
    pub const LOGIN_LOCKED: &str = "login_locked";
    /// The account has a second factor and the login carried no code.
    pub const TOTP_REQUIRED: &str = "totp_required";
    /// Authenticated, but the resource belongs to someone else.
    pub const FORBIDDEN: &str = "forbidden";
    /// The request (its body, or the server's work on it) took longer than the server allows.
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
}

/// `POST /api/links`: a new viewer link. `Debug` never shows the PIN.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateLinkRequest {
    pub ttl_secs: u64,
    pub scope: crate::Scope,
    pub max_viewers: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// 4–12 digits the viewer must type; only a hash is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub single_use: bool,
    /// Unix seconds before which the link does not work (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
}

/// A link as the API shows it. `url` (with the token) only comes back when the link is created:
/// the server keeps only a hash of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    pub id: String,
    #[serde(default)]
    pub url: Option<String>,
    pub scope: crate::Scope,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub created_at: u64,
    #[serde(default)]
    pub starts_at: u64,
    pub expires_at: u64,
    #[serde(default)]
    pub max_viewers: u32,
    #[serde(default)]
    pub single_use: bool,
    #[serde(default)]
    pub has_pin: bool,
    #[serde(default)]
    pub revoked_at: Option<u64>,
    #[serde(default)]
    pub used: bool,
    #[serde(default)]
    pub viewers: u32,
}

/// `GET /api/links`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkList {
    pub links: Vec<LinkInfo>,
}

/// A viewer watching now, as `GET /api/viewers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerInfo {
    pub id: String,
    pub link_id: String,
    #[serde(default)]
    pub link_label: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub since: u64,
    pub scope: crate::Scope,
}

/// `GET /api/viewers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerList {
    pub viewers: Vec<ViewerInfo>,
}

/// A host the principal manages, as `GET /api/hosts` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    pub id: String,
    pub name: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Whether its agent is connected now.
    pub online: bool,
}

/// `GET /api/hosts`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostList {
    pub hosts: Vec<HostInfo>,
}

impl std::fmt::Debug for CreateLinkRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateLinkRequest")
            .field("ttl_secs", &self.ttl_secs)
            .field("scope", &self.scope)
            .field("max_viewers", &self.max_viewers)
            .field("label", &self.label)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .field("single_use", &self.single_use)
            .field("starts_at", &self.starts_at)
            .field("host_id", &self.host_id)
            .finish()
    }
}
