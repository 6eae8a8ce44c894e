//! Viewer links: the rules for creating one (TTL, viewer limit, label, PIN, start time), and
//! minting its token and URL. Only the SHA-256 of the token and an Argon2id hash of the PIN are
//! stored.

use deskbeam_proto::token::{LinkClaims, AUDIENCE_LINK, ISSUER};
use deskbeam_proto::Scope;

use crate::audit::{kinds, Event};
use crate::secrets::{self, HashError};
use crate::state::AppState;
use crate::store::{LinkRecord, StoreError};
use crate::tokens::TokenError;

/// Shortest link lifetime.
pub const MIN_TTL_SECS: u64 = 1;
/// Longest link lifetime: 30 days.
pub const MAX_TTL_SECS: u64 = 30 * 24 * 60 * 60;
/// Most viewers one link may admit at once.
pub const MAX_VIEWERS_LIMIT: u32 = 100;
/// Longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 80;
/// PIN length range, in digits.
pub const PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=12;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("ttl_secs must be between {MIN_TTL_SECS} and {MAX_TTL_SECS}, got {0}")]
    BadTtl(u64),
    #[error("max_viewers must be between 1 and {MAX_VIEWERS_LIMIT}, got {0}")]
    BadMaxViewers(u32),
    #[error("label must be at most {MAX_LABEL_CHARS} characters without control characters")]
    BadLabel,
    #[error("pin must be 4 to 12 digits")]
    BadPin,
    #[error("starts_at must be within {MAX_TTL_SECS} seconds from now")]
    BadStart,
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl LinkError {
    /// True when the request was at fault (not the server).
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            Self::BadTtl(_)
                | Self::BadMaxViewers(_)
                | Self::BadLabel
                | Self::BadPin
                | Self::BadStart
        )
    }
}

/// What a host asks for. `Debug` leaves out the PIN.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkRequest {
    pub scope: Scope,
    pub ttl_secs: u64,
    pub max_viewers: u32,
    pub label: Option<String>,
    pub pin: Option<String>,
    pub single_use: bool,
    /// Not valid before (Unix seconds); `None` (or a past time) means now.
    pub starts_at: Option<u64>,
}

impl LinkRequest {
    /// A plain link: no label, PIN or start time; reusable.
    pub fn basic(scope: Scope, ttl_secs: u64, max_viewers: u32) -> Self {
        Self {
            scope,
            ttl_secs,
            max_viewers,
            label: None,
            pin: None,
            single_use: false,
            starts_at: None,
        }
    }
}

impl std::fmt::Debug for LinkRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkRequest")
            .field("scope", &self.scope)
            .field("ttl_secs", &self.ttl_secs)
            .field("max_viewers", &self.max_viewers)
            .field("label", &self.label)
            .field("has_pin", &self.pin.is_some())
            .field("single_use", &self.single_use)
            .field("starts_at", &self.starts_at)
            .finish()
    }
}

/// A freshly minted link. `Debug` leaves out the token.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedLink {
    pub link_id: String,
    pub token: String,
    pub url: String,
    pub expires_at: u64,
    pub record: LinkRecord,
}

impl std::fmt::Debug for CreatedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedLink")
            .field("link_id", &self.link_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Checks a request against the link rules at time `now`.
pub fn validate(req: &LinkRequest, now: u64) -> Result<(), LinkError> {
    if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&req.ttl_secs) {
        return Err(LinkError::BadTtl(req.ttl_secs));
    }
    if !(1..=MAX_VIEWERS_LIMIT).contains(&req.max_viewers) {
        return Err(LinkError::BadMaxViewers(req.max_viewers));
    }
    if let Some(label) = &req.label {
        if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
            return Err(LinkError::BadLabel);
        }
    }
    if let Some(pin) = &req.pin {
        if !PIN_DIGITS.contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LinkError::BadPin);
        }
    }
    if req
        .starts_at
        .is_some_and(|t| t > now.saturating_add(MAX_TTL_SECS))
    {
        return Err(LinkError::BadStart);
    }
    Ok(())
}

/// The viewer page URL carrying `token` in its fragment (never sent to a server by browsers).
pub fn viewer_url(public_url: &str, token: &str) -> String {
    format!("{}/view#{token}", public_url.trim_end_matches('/'))
}

/// The record and claims of a new link, valid from its start (now by default) for `ttl_secs`.
/// The record still lacks `secret_hash` and `pin_hash`.
pub fn plan(host_id: &str, req: &LinkRequest, now: u64) -> (LinkRecord, LinkClaims) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let starts_at = req.starts_at.map_or(now, |t| t.max(now));
    let expires_at = starts_at.saturating_add(req.ttl_secs);
    let record = LinkRecord {
        id: id.clone(),
        host_id: host_id.to_string(),
        scope: req.scope,
        created_at: now,
        starts_at,
        expires_at,
        max_viewers: req.max_viewers,
        label: req.label.clone().filter(|l| !l.is_empty()),
        single_use: req.single_use,
        used: false,
        pin_hash: None,
        secret_hash: None,
        revoked_at: None,
    };
    let claims = LinkClaims {
        iss: ISSUER.to_string(),
        aud: AUDIENCE_LINK.to_string(),
        sub: host_id.to_string(),
        jti: id,
        scope: req.scope,
        iat: now,
        nbf: starts_at,
        exp: expires_at,
        label: record.label.clone(),
    };
    (record, claims)
}

impl AppState {
    /// Validates, stores and signs a new link for `host_id`; `actor` is who asked (audit).
    pub fn create_link(
        &self,
        host_id: &str,
        req: &LinkRequest,
        actor: &str,
    ) -> Result<CreatedLink, LinkError> {
        let now = self.now_unix();
        validate(req, now)?;
        let (mut record, claims) = plan(host_id, req, now);
        record.pin_hash = req.pin.as_deref().map(secrets::hash_secret).transpose()?;
        let token = self.keys().sign_link(&claims)?;
        record.secret_hash = Some(secrets::sha256_hex(token.as_bytes()));
        self.store().create_link(&record)?;
        tracing::info!(
            host_id,
            link_id = %record.id,
            scope = %req.scope,
            ttl_secs = req.ttl_secs,
            max_viewers = req.max_viewers,
            single_use = req.single_use,
            has_pin = req.pin.is_some(),
            "link created"
        );
        self.audit(
            Event::new(kinds::LINK_CREATED)
                .actor(actor)
                .host(host_id)
                .link(&record.id)
                .detail(serde_json::json!({
                    "scope": req.scope.as_str(),
                    "label": record.label,
                    "starts_at": record.starts_at,
                    "expires_at": record.expires_at,
                    "max_viewers": record.max_viewers,
                    "single_use": record.single_use,
                    "has_pin": record.pin_hash.is_some(),
                })),
        );
        Ok(CreatedLink {
            url: viewer_url(self.public_url(), &token),
            link_id: record.id.clone(),
            token,
            expires_at: record.expires_at,
            record,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ttl_secs: u64, max_viewers: u32) -> LinkRequest {
        LinkRequest::basic(Scope::View, ttl_secs, max_viewers)
    }

    fn check(r: &LinkRequest) -> Result<(), LinkError> {
        validate(r, 1000)
    }

    #[test]
    fn limits() {
        assert!(check(&req(1, 1)).is_ok());
        assert!(check(&req(MAX_TTL_SECS, MAX_VIEWERS_LIMIT)).is_ok());
        assert!(matches!(check(&req(0, 1)), Err(LinkError::BadTtl(0))));
        assert!(matches!(
            check(&req(MAX_TTL_SECS + 1, 1)),
            Err(LinkError::BadTtl(_))
        ));
        assert!(matches!(
            check(&req(60, 0)),
            Err(LinkError::BadMaxViewers(0))
        ));
        assert!(matches!(
            check(&req(60, 101)),
            Err(LinkError::BadMaxViewers(101))
        ));
    }

    #[test]
    fn labels_pins_and_start() {
        let with = |label: Option<&str>, pin: Option<&str>, starts_at: Option<u64>| {
            let mut r = req(60, 1);
            r.label = label.map(str::to_string);
            r.pin = pin.map(str::to_string);
            r.starts_at = starts_at;
            check(&r)
        };
        assert!(with(Some(&"é".repeat(80)), Some("1234"), Some(5)).is_ok());
        assert!(matches!(
            with(Some(&"a".repeat(81)), None, None),
            Err(LinkError::BadLabel)
        ));
        assert!(matches!(
            with(Some("a\nb"), None, None),
            Err(LinkError::BadLabel)
        ));
        assert!(with(None, Some("123456789012"), None).is_ok());
        for pin in ["123", "1234567890123", "12a4", "", "１２３４"] {
            assert!(
                matches!(with(None, Some(pin), None), Err(LinkError::BadPin)),
                "{pin}"
            );
        }
        assert!(matches!(
            with(None, None, Some(1000 + MAX_TTL_SECS + 1)),
            Err(LinkError::BadStart)
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
    fn a_later_start_moves_the_window() {
        let mut r = req(60, 1);
        r.starts_at = Some(2000);
        let (record, claims) = plan("h", &r, 1000);
        assert_eq!((record.starts_at, record.expires_at), (2000, 2060));
        assert_eq!((claims.nbf, claims.exp, claims.iat), (2000, 2060, 1000));
        r.starts_at = Some(10);
        assert_eq!(
            plan("h", &r, 1000).0.starts_at,
            1000,
            "a past start means now"
        );
    }

    #[test]
    fn url_puts_the_token_in_the_fragment() {
        assert_eq!(viewer_url("http://x:1/", "tok"), "http://x:1/view#tok");
    }
}
