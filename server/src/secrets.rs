//! Secret handling in one place: random tokens, SHA-256 fingerprints, Argon2id password and PIN
//! hashes, constant-time comparison. Nothing here logs or prints a secret.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
#[error("could not hash a secret: {0}")]
pub struct HashError(String);

/// A fresh random 256-bit value, base64url without padding (session ids, CSRF tokens).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Argon2id (default parameters, random salt) PHC string of `secret`.
pub fn hash_secret(secret: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// True when `secret` matches the PHC string `hash`; a malformed hash never matches.
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => {
            tracing::warn!("stored secret hash is malformed");
            false
        }
    }
}

/// Compares two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() -> Result<(), HashError> {
        let a = hash_secret("1234")?;
        let b = hash_secret("1234")?;
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$") && !a.contains("1234"));
        assert!(verify_secret("1234", &a));
        assert!(!verify_secret("1235", &a));
        assert!(!verify_secret("1234", "garbage"));
        Ok(())
    }

    #[test]
    fn helpers() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(random_token().len(), 43);
        assert_ne!(random_token(), random_token());
        assert!(constant_time_eq("ab", "ab"));
        assert!(!constant_time_eq("ab", "ac") && !constant_time_eq("ab", "abc"));
    }
}
