//! The agent's own check of a viewer's link token: signature (the server's Ed25519 key from
//! `welcome`), algorithm, issuer, audience, expiry, and that it opens this host. A compromised
//! or buggy server therefore cannot grant control (or viewing) on its own.

use std::time::{SystemTime, UNIX_EPOCH};

use deskbeam_proto::token::{LinkClaims, AUDIENCE_LINK, ISSUER};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// Why a link token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkCheckError {
    #[error("the server's public key is unusable")]
    BadKey,
    #[error("the link token is invalid")]
    Invalid,
    #[error("the link has expired")]
    Expired,
    #[error("the link is not valid yet")]
    NotYetValid,
    #[error("the link is for another host or link")]
    Mismatch,
}

/// Verifies link tokens with the server's public key.
#[derive(Clone)]
pub struct LinkVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for LinkVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkVerifier(EdDSA)")
    }
}

impl LinkVerifier {
    /// From the SPKI PEM the server sends in `welcome`.
    pub fn from_public_pem(pem: &str) -> Result<Self, LinkCheckError> {
        let key = DecodingKey::from_ed_pem(pem.as_bytes()).map_err(|_| LinkCheckError::BadKey)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[AUDIENCE_LINK]);
        validation.set_issuer(&[ISSUER]);
        // Expiry is checked below against our own clock, with no leeway.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        Ok(Self { key, validation })
    }

    /// Checks `token` for host `host_id` and link `link_id` at `now` (unix seconds).
    pub fn verify_at(&self, token: &str, host_id: &str, link_id: &str, now: u64) -> Result<LinkClaims, LinkCheckError> {
        let data = jsonwebtoken::decode::<LinkClaims>(token, &self.key, &self.validation).map_err(|_| LinkCheckError::Invalid)?;
        let claims = data.claims;
        if now >= claims.exp {
            return Err(LinkCheckError::Expired);
        }
        if now < claims.nbf {
            return Err(LinkCheckError::NotYetValid);
        }
        if claims.sub != host_id || claims.jti != link_id {
            return Err(LinkCheckError::Mismatch);
        }
        Ok(claims)
    }

    pub fn verify(&self, token: &str, host_id: &str, link_id: &str) -> Result<LinkClaims, LinkCheckError> {
        self.verify_at(token, host_id, link_id, now_unix())
    }
}

/// Unix seconds now (0 if the clock is before 1970). Token times are in these units.
pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
