//! TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), base32 secrets, `otpauth://` URIs.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

/// Seconds per step.
pub const STEP: u64 = 30;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A fresh 160-bit secret, base32 without padding.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base32_encode(&bytes)
}

pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | u32::try_from(value).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// The 6-digit code of `secret` (raw bytes) for step `counter`.
pub fn code(secret: &[u8], counter: u64) -> Option<u32> {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).ok()?;
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest.last()? & 0x0f);
    let bytes: [u8; 4] = digest.get(offset..offset + 4)?.try_into().ok()?;
    Some((u32::from_be_bytes(bytes) & 0x7fff_ffff) % 1_000_000)
}

/// True when `given` is the code of the current step or one step either side.
pub fn verify(secret_base32: &str, given: &str, now_unix: u64) -> bool {
    let given = given.trim();
    if given.len() != 6 || !given.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (Some(secret), Ok(given)) = (base32_decode(secret_base32), given.parse::<u32>()) else {
        return false;
    };
    let step = now_unix / STEP;
    [step.saturating_sub(1), step, step + 1]
        .iter()
        .any(|&c| code(&secret, c) == Some(given))
}

/// The provisioning URI authenticator apps read (usually from a QR code).
pub fn otpauth_uri(account: &str, secret_base32: &str) -> String {
    let label: String = account
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    format!(
        "otpauth://totp/Deskbeam:{label}?secret={secret_base32}&issuer=Deskbeam&algorithm=SHA1&digits=6&period={STEP}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vectors() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", last 6 digits.
        let secret = b"12345678901234567890";
        for (time, want) in [
            (59u64, 287_082),
            (1_111_111_109, 81_804),
            (2_000_000_000, 279_037),
        ] {
            assert_eq!(code(secret, time / STEP), Some(want), "{time}");
        }
    }

    #[test]
    fn base32_round_trip_and_window() {
        let secret = b"12345678901234567890";
        let b32 = base32_encode(secret);
        assert_eq!(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(base32_decode(&b32).as_deref(), Some(&secret[..]));
        assert!(base32_decode("not base32!").is_none());
        assert!(verify(&b32, "287082", 59));
        assert!(verify(&b32, "287082", 59 + STEP), "one step late is fine");
        assert!(!verify(&b32, "287082", 59 + 2 * STEP));
        assert!(!verify(&b32, "28708", 59) && !verify(&b32, "abcdef", 59));
        assert!(otpauth_uri("a b", &b32).starts_with("otpauth://totp/Deskbeam:a%20b?secret=GEZ"));
    }
}
