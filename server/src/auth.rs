//! Who is asking: host tokens for agents, link tokens for viewers, checked against the store.

use axum::http::HeaderMap;
use deskbeam_proto::token::{HostClaims, LinkClaims};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::LinkRecord;
use crate::tokens::bearer_token;

/// An authenticated viewer request. `Debug` leaves out the token.
#[derive(Clone)]
pub struct Viewer {
    pub claims: LinkClaims,
    pub link: LinkRecord,
    /// The raw token, forwarded to the agent for its own check. Never logged.
    pub token: String,
}

impl std::fmt::Debug for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Viewer")
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

/// Checks the bearer host token: signature and audience, then that the store still knows it.
pub fn authorize_host(state: &AppState, headers: &HeaderMap) -> Result<HostClaims, ApiError> {
    let token = bearer_token(headers)?;
    let claims = state.keys().verify_host(token)?;
    match state.store().host_token_valid(&claims.jti)? {
        Some(host_id) if host_id == claims.sub => Ok(claims),
        Some(_) => {
            tracing::warn!(host_id = %claims.sub, "host token names another host than its record");
            Err(ApiError::InvalidToken)
        }
        None => {
            tracing::info!(host_id = %claims.sub, "revoked or unknown host token");
            Err(ApiError::InvalidToken)
        }
    }
}

/// Checks the bearer link token: signature, audience and time; then that its link exists, is
/// the host's, and is not revoked.
pub fn authorize_viewer(state: &AppState, headers: &HeaderMap) -> Result<Viewer, ApiError> {
    let token = bearer_token(headers)?;
    let now = state.now_unix();
    let claims = state.keys().verify_link(token, now)?;
    let link = state.store().get_link(&claims.jti)?.ok_or_else(|| {
        tracing::info!(link_id = %claims.jti, "link token for a link the store does not know");
        ApiError::InvalidToken
    })?;
    if link.host_id != claims.sub || link.scope != claims.scope {
        tracing::warn!(link_id = %link.id, "link token disagrees with its link record");
        return Err(ApiError::InvalidToken);
    }
    if link.revoked {
        return Err(ApiError::LinkRevoked);
    }
    if now >= link.expires_at {
        return Err(ApiError::TokenExpired);
    }
    Ok(Viewer {
        claims,
        link,
        token: token.to_string(),
    })
}
