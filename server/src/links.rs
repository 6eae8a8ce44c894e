//! Viewer links: the rules for creating one, and minting its token and URL.

use deskbeam_proto::token::{LinkClaims, AUDIENCE_LINK, ISSUER};
use deskbeam_proto::Scope;

use crate::state::AppState;
use crate::store::{LinkRecord, StoreError};
use crate::tokens::TokenError;

/// Shortest link lifetime.
pub const MIN_TTL_SECS: u64 = 1;
/// Longest link lifetime: 30 days.
pub const MAX_TTL_SECS: u64 = 30 * 24 * 60 * 60;
/// Most viewers one link may admit at once.
pub const MAX_VIEWERS_LIMIT: u32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("ttl_secs must be between {MIN_TTL_SECS} and {MAX_TTL_SECS}, got {0}")]
    BadTtl(u64),
    #[error("max_viewers must be between 1 and {MAX_VIEWERS_LIMIT}, got {0}")]
    BadMaxViewers(u32),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl LinkError {
    /// True when the request was at fault (not the server).
    pub fn is_bad_request(&self) -> bool {
        matches!(self, Self::BadTtl(_) | Self::BadMaxViewers(_))
    }
}

/// What a host asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkRequest {
    pub scope: Scope,
    pub ttl_secs: u64,
    pub max_viewers: u32,
}

/// A freshly minted link. `Debug` leaves out the token.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedLink {
    pub link_id: String,
    pub token: String,
    pub url: String,
    pub expires_at: u64,
}

impl std::fmt::Debug for CreatedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedLink")
            .field("link_id", &self.link_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Checks a request against the link rules.
pub fn validate(req: &LinkRequest) -> Result<(), LinkError> {
    if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&req.ttl_secs) {
        return Err(LinkError::BadTtl(req.ttl_secs));
    }
    if !(1..=MAX_VIEWERS_LIMIT).contains(&req.max_viewers) {
        return Err(LinkError::BadMaxViewers(req.max_viewers));
    }
    Ok(())
}

/// The viewer page URL carrying `token` in its fragment (never sent to a server by browsers).
pub fn viewer_url(public_url: &str, token: &str) -> String {
    format!("{}/view#{token}", public_url.trim_end_matches('/'))
}

/// The record and claims of a new link, valid from `now` for `ttl_secs`.
pub fn plan(host_id: &str, req: &LinkRequest, now: u64) -> (LinkRecord, LinkClaims) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let expires_at = now.saturating_add(req.ttl_secs);
    let record = LinkRecord {
        id: id.clone(),
        host_id: host_id.to_string(),
        scope: req.scope,
        created_at: now,
        expires_at,
        max_viewers: req.max_viewers,
        revoked: false,
    };
    let claims = LinkClaims {
        iss: ISSUER.to_string(),
        aud: AUDIENCE_LINK.to_string(),
        sub: host_id.to_string(),
        jti: id,
        scope: req.scope,
        iat: now,
        nbf: now,
        exp: expires_at,
    };
    (record, claims)
}

impl AppState {
    /// Validates, stores and signs a new link for `host_id`.
    pub fn create_link(&self, host_id: &str, req: &LinkRequest) -> Result<CreatedLink, LinkError> {
        validate(req)?;
        let (record, claims) = plan(host_id, req, self.now_unix());
        let token = self.keys().sign_link(&claims)?;
        self.store().create_link(&record)?;
        tracing::info!(
            host_id,
            link_id = %record.id,
            scope = %req.scope,
            ttl_secs = req.ttl_secs,
            max_viewers = req.max_viewers,
            "link created"
        );
        Ok(CreatedLink {
            url: viewer_url(self.public_url(), &token),
            link_id: record.id,
            token,
            expires_at: record.expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ttl_secs: u64, max_viewers: u32) -> LinkRequest {
        LinkRequest {
            scope: Scope::View,
            ttl_secs,
            max_viewers,
        }
    }

    #[test]
    fn limits() {
        assert!(validate(&req(1, 1)).is_ok());
        assert!(validate(&req(MAX_TTL_SECS, MAX_VIEWERS_LIMIT)).is_ok());
        assert!(matches!(validate(&req(0, 1)), Err(LinkError::BadTtl(0))));
        assert!(matches!(
            validate(&req(MAX_TTL_SECS + 1, 1)),
            Err(LinkError::BadTtl(_))
        ));
        assert!(matches!(
            validate(&req(60, 0)),
            Err(LinkError::BadMaxViewers(0))
        ));
        assert!(matches!(
            validate(&req(60, 101)),
            Err(LinkError::BadMaxViewers(101))
        ));
    }

    #[test]
    fn plan_ties_record_and_claims_together() {
        let (record, claims) = plan("h", &req(60, 2), 1000);
        assert_eq!(record.id, claims.jti);
        assert_eq!(
            (record.expires_at, claims.exp, claims.nbf, claims.iat),
            (1060, 1060, 1000, 1000)
        );
        assert_eq!(claims.aud, AUDIENCE_LINK);
        assert_eq!(claims.sub, "h");
    }

    #[test]
    fn url_puts_the_token_in_the_fragment() {
        assert_eq!(viewer_url("http://x:1/", "tok"), "http://x:1/view#tok");
    }
}
