//! Who is asking: host tokens for agents, link tokens for viewers, checked against the store.

use axum::http::HeaderMap;
use deskbeam_proto::token::{HostClaims, LinkClaims};

use crate::audit::{kinds, Event};
use crate::error::ApiError;
use crate::secrets;
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

/// The client's address: the TCP peer, or with `--trust-proxy` the address the proxy appended
/// last to `X-Forwarded-For` (the only entry a client cannot forge through that proxy).
pub fn client_address(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<String> {
    if state.trust_proxy() {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
            .next_back();
        if let Some(ip) = forwarded {
            return Some(ip.to_string());
        }
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string())
}

/// Header carrying a link's PIN on `POST /whep`.
pub const PIN_HEADER: &str = "x-deskbeam-pin";

/// Checks the bearer link token (signature, audience, that it is the token issued for its link)
/// and the link's rules: not revoked, started and not expired, single use not spent, the PIN.
pub fn authorize_viewer(
    state: &AppState,
    headers: &HeaderMap,
    address: Option<&str>,
) -> Result<Viewer, ApiError> {
    let token = bearer_token(headers)?;
    let now = state.now_unix();
    let claims = state.keys().verify_link_untimed(token)?;
    let link = state.store().get_link(&claims.jti)?.ok_or_else(|| {
        tracing::info!(link_id = %claims.jti, "link token for a link the store does not know");
        ApiError::InvalidToken
    })?;
    if link.host_id != claims.sub || link.scope != claims.scope {
        tracing::warn!(link_id = %link.id, "link token disagrees with its link record");
        return Err(ApiError::InvalidToken);
    }
    let fingerprint = secrets::sha256_hex(token.as_bytes());
    if link
        .secret_hash
        .as_deref()
        .is_some_and(|h| !secrets::constant_time_eq(h, &fingerprint))
    {
        tracing::warn!(link_id = %link.id, "link token is not the one issued for its link");
        return Err(ApiError::InvalidToken);
    }
    if link.is_revoked() {
        return Err(ApiError::LinkRevoked);
    }
    if now >= link.expires_at.min(claims.exp) {
        return Err(ApiError::TokenExpired);
    }
    if now < link.starts_at.max(claims.nbf) {
        return Err(ApiError::LinkNotStarted);
    }
    if link.single_use && link.used {
        return Err(ApiError::LinkUsed);
    }
    check_pin(state, &link, headers, address, now)?;
    Ok(Viewer {
        claims,
        link,
        token: token.to_string(),
    })
}

/// The PIN rule: required when the link has one; 5 wrong ones lock it for 15 minutes.
fn check_pin(
    state: &AppState,
    link: &LinkRecord,
    headers: &HeaderMap,
    address: Option<&str>,
    now: u64,
) -> Result<(), ApiError> {
    let Some(hash) = &link.pin_hash else {
        return Ok(());
    };
    let limiter = state.pin_limiter();
    limiter
        .check(&link.id, now)
        .map_err(|l| ApiError::PinLocked {
            retry_after: l.retry_after,
        })?;
    let pin = headers
        .get(PIN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or(ApiError::PinRequired)?;
    if secrets::verify_secret(pin, hash) {
        limiter.succeed(&link.id);
        return Ok(());
    }
    let event = |kind| {
        Event::new(kind)
            .actor("viewer")
            .host(&link.host_id)
            .link(&link.id)
            .address(address.map(str::to_string))
    };
    match limiter.fail(&link.id, now) {
        Some(locked) => {
            tracing::warn!(link_id = %link.id, address, "too many wrong PINs; PIN locked");
            state.audit(event(kinds::PIN_LOCKED));
            Err(ApiError::PinLocked {
                retry_after: locked.retry_after,
            })
        }
        None => {
            tracing::info!(link_id = %link.id, address, "wrong PIN");
            state.audit(event(kinds::PIN_FAILED));
            Err(ApiError::PinInvalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ConnectInfo;
    use axum::http::Extensions;
    use std::sync::Arc;

    fn state(trust_proxy: bool) -> Result<AppState, crate::StateError> {
        let clock = Arc::new(crate::ManualClock::new(1));
        Ok(AppState::in_memory("http://x", clock)?.with_trust_proxy(trust_proxy))
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() -> Result<(), Box<dyn std::error::Error>>
    {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7".parse()?);
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(std::net::SocketAddr::from((
            [10, 0, 0, 2],
            4000,
        ))));
        let peer = client_address(&state(false)?, &headers, &extensions);
        assert_eq!(peer.as_deref(), Some("10.0.0.2"));
        let proxied = client_address(&state(true)?, &headers, &extensions);
        assert_eq!(
            proxied.as_deref(),
            Some("198.51.100.7"),
            "the entry our proxy appended"
        );
        headers.insert("x-forwarded-for", "garbage".parse()?);
        let fallback = client_address(&state(true)?, &headers, &extensions);
        assert_eq!(fallback.as_deref(), Some("10.0.0.2"));
        assert_eq!(
            client_address(&state(false)?, &headers, &Extensions::new()),
            None
        );
        Ok(())
    }
}
