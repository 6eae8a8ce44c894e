//! Signing and verifying host and link tokens (JWT, EdDSA with one Ed25519 key per server).
//!
//! **Invariant:** verification pins `alg: EdDSA`, the issuer and the audience, and decides
//! `exp`/`nbf` against the injected [`Clock`](crate::clock::Clock) time with zero leeway.
//! Tokens and key material never reach a log line or a `Debug` string.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use axum::http::{header, HeaderMap};
use deskbeam_proto::token::{HostClaims, LinkClaims, AUDIENCE_HOST, AUDIENCE_LINK, ISSUER};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;

use crate::files;

/// Name of the signing key file inside the data dir.
pub const KEY_FILE: &str = "link-signing-key.pem";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("token expired")]
    Expired,
    #[error("token invalid")]
    Invalid,
    #[error("signing key is unusable: {0}")]
    Key(String),
    #[error("signing key file {path}: {source}")]
    KeyFile { path: PathBuf, source: io::Error },
    #[error("could not sign a token: {0}")]
    Sign(String),
}

/// The server's signing key, and the matching verification key.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_pem: String,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("alg", &"EdDSA")
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// A fresh random key (tests and first start).
    pub fn generate() -> Result<Self, TokenError> {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        Self::from_signing_key(&signing)
    }

    /// Loads a PKCS#8 PEM private key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, TokenError> {
        let signing =
            SigningKey::from_pkcs8_pem(pem).map_err(|e| TokenError::Key(e.to_string()))?;
        Self::from_signing_key(&signing)
    }

    fn from_signing_key(signing: &SigningKey) -> Result<Self, TokenError> {
        let private_pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let public_pem = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let encoding = EncodingKey::from_ed_pem(private_pem.as_bytes())
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let decoding = DecodingKey::from_ed_pem(public_pem.as_bytes())
            .map_err(|e| TokenError::Key(e.to_string()))?;
        Ok(Self {
            encoding,
            decoding,
            public_pem,
        })
    }

    /// Reads `<data_dir>/link-signing-key.pem`, creating it (mode 0600) on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, TokenError> {
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(pem) => return Self::from_pkcs8_pem(&pem),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(TokenError::KeyFile { path, source }),
        }
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        match files::write_new_private_file(&path, pem.as_bytes()) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "created link signing key");
                Self::from_signing_key(&signing)
            }
            // Another process created it between our read and our write: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let pem = std::fs::read_to_string(&path)
                    .map_err(|source| TokenError::KeyFile { path, source })?;
                Self::from_pkcs8_pem(&pem)
            }
            Err(source) => Err(TokenError::KeyFile { path, source }),
        }
    }

    /// SPKI PEM of the verification key (sent to agents in `Welcome`).
    pub fn public_key_pem(&self) -> &str {
        &self.public_pem
    }

    pub fn sign_host(&self, claims: &HostClaims) -> Result<String, TokenError> {
        self.sign(claims)
    }

    pub fn sign_link(&self, claims: &LinkClaims) -> Result<String, TokenError> {
        self.sign(claims)
    }

    fn sign<T: serde::Serialize>(&self, claims: &T) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// Checks a host token's signature, issuer and audience. Revocation is the store's business.
    pub fn verify_host(&self, token: &str) -> Result<HostClaims, TokenError> {
        self.verify(token, AUDIENCE_HOST)
    }

    /// Checks a link token's signature, issuer, audience, and `nbf <= now < exp`.
    pub fn verify_link(&self, token: &str, now_unix: u64) -> Result<LinkClaims, TokenError> {
        let claims: LinkClaims = self.verify(token, AUDIENCE_LINK)?;
        check_time_window(claims.nbf, claims.exp, now_unix)?;
        Ok(claims)
    }

    /// Checks a link token's signature, issuer and audience only; the caller decides time
    /// against the link record (to tell "not started" from "expired").
    pub fn verify_link_untimed(&self, token: &str) -> Result<LinkClaims, TokenError> {
        self.verify(token, AUDIENCE_LINK)
    }

    fn verify<T: DeserializeOwned>(&self, token: &str, audience: &str) -> Result<T, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        let data = jsonwebtoken::decode::<T>(token, &self.decoding, &validation(audience))
            .map_err(|e| {
                tracing::debug!(reason = ?e.kind(), audience, "token rejected");
                TokenError::Invalid
            })?;
        Ok(data.claims)
    }
}

/// The validation rules: algorithm, issuer and audience pinned; time is checked by the caller
/// against the injected clock, so jsonwebtoken's own clock and leeway are switched off.
fn validation(audience: &str) -> Validation {
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_audience(&[audience]);
    v.set_issuer(&[ISSUER]);
    v.set_required_spec_claims(&["iss", "aud", "sub"]);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.leeway = 0;
    v
}

/// Zero-leeway time window: valid from `nbf` (inclusive) until `exp` (exclusive).
pub fn check_time_window(nbf: u64, exp: u64, now_unix: u64) -> Result<(), TokenError> {
    if now_unix >= exp {
        return Err(TokenError::Expired);
    }
    if now_unix < nbf {
        return Err(TokenError::Invalid);
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` header. Missing, empty, non-ASCII or
/// another scheme all count as missing.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, TokenError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(TokenError::Missing)?;
    let value = value.to_str().map_err(|_| TokenError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(TokenError::Missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(TokenError::Missing);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn time_window_has_no_leeway() {
        assert!(check_time_window(10, 20, 10).is_ok());
        assert!(check_time_window(10, 20, 19).is_ok());
        assert!(matches!(
            check_time_window(10, 20, 20),
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            check_time_window(10, 20, 9),
            Err(TokenError::Invalid)
        ));
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert!(matches!(bearer_token(&h), Err(TokenError::Missing)));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(matches!(bearer_token(&h), Err(TokenError::Missing)));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert!(matches!(bearer_token(&h), Err(TokenError::Missing)));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc.def"),
        );
        assert_eq!(bearer_token(&h).ok(), Some("abc.def"));
    }

    #[test]
    fn debug_hides_key_material() -> Result<(), TokenError> {
        let keys = Keys::generate()?;
        let shown = format!("{keys:?}");
        assert!(
            !shown.contains("PRIVATE") && !shown.contains("PUBLIC") && shown.len() < 40,
            "{shown}"
        );
        assert!(keys
            .public_key_pem()
            .starts_with("-----BEGIN PUBLIC KEY-----"));
        Ok(())
    }
}
