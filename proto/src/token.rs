//! Claims carried in Deskbeam's JSON Web Tokens.
//!
//! All tokens are signed by the server with Ed25519 (`alg: EdDSA`, pinned on verification). The
//! audience says what kind of token it is, so one kind never works as another.

use serde::{Deserialize, Serialize};

use crate::Scope;

/// Issuer of every Deskbeam token.
pub const ISSUER: &str = "deskbeam";
/// Audience of a host (agent enrolment) token.
pub const AUDIENCE_HOST: &str = "deskbeam-host";
/// Audience of a viewer link token.
pub const AUDIENCE_LINK: &str = "deskbeam-link";

/// A host token: lets an agent connect as one host. Revocable (the server keeps its `jti`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostClaims {
    pub iss: String,
    pub aud: String,
    /// Host id.
    pub sub: String,
    /// Token id (revocation handle).
    pub jti: String,
    pub iat: u64,
}

/// A link token: lets a viewer watch (or control) one host until `exp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    pub iss: String,
    pub aud: String,
    /// Host id the link opens.
    pub sub: String,
    /// Link id.
    pub jti: String,
    pub scope: Scope,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    /// The link's label (who it is for): the name its viewers go by in chat. Signed with the
    /// rest, so a viewer cannot pick another name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}
