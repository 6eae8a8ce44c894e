//! Link tokens as the agent checks them (`LinkVerifier`): arbitrary text, tokens signed over
//! fuzzed claims with the server's key or another key, and single-byte mutations of those.
//!
//! Properties: nothing panics; every accepted token carries a valid Ed25519 signature by the
//! server's key over its exact header and payload (checked independently with ed25519-dalek)
//! and claims that pass every rule (issuer, audience, host, link, not before, expiry); a token
//! signed by the key over valid claims is accepted; one signed by another key never is.
#![no_main]

use std::sync::OnceLock;

use base64::engine::{general_purpose::GeneralPurposeConfig, DecodePaddingMode, GeneralPurpose};
use base64::Engine;
use deskbeam_fuzz::auth::LinkVerifier;
use deskbeam_proto::token::{LinkClaims, AUDIENCE_HOST, AUDIENCE_LINK, ISSUER};
use deskbeam_proto::Scope;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, SigningKey, Verifier};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;

const HOST: &str = "host-1";
const LINK: &str = "link-1";
const NOW: u64 = 1_800_000_000;

struct Keys {
    server: SigningKey,
    server_encoding: EncodingKey,
    other_encoding: EncodingKey,
    verifier: LinkVerifier,
}

fn encoding_key(key: &SigningKey) -> EncodingKey {
    let pem = key.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 of a fixed key");
    EncodingKey::from_ed_pem(pem.as_bytes()).expect("a fixed Ed25519 key")
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let server = SigningKey::from_bytes(&[7; 32]);
        let public = server.verifying_key().to_public_key_pem(LineEnding::LF).expect("SPKI of a fixed key");
        Keys {
            server_encoding: encoding_key(&server),
            other_encoding: encoding_key(&SigningKey::from_bytes(&[9; 32])),
            verifier: LinkVerifier::from_public_pem(&public).expect("the verifier takes the server's key"),
            server,
        }
    })
}

fn pick<'a>(byte: u8, choices: &[&'a str]) -> &'a str {
    choices[usize::from(byte) % choices.len()]
}

/// Claims steered by the input: right or wrong issuer, audience, host, link and times.
fn claims_from(b: &[u8; 8], label: &[u8]) -> LinkClaims {
    let offset = |x: u8| (i64::from(x) - 128) * 60;
    LinkClaims {
        iss: pick(b[0], &[ISSUER, ISSUER, "evil", ""]).to_string(),
        aud: pick(b[1], &[AUDIENCE_LINK, AUDIENCE_LINK, AUDIENCE_HOST, "x"]).to_string(),
        sub: pick(b[2], &[HOST, HOST, "host-2", ""]).to_string(),
        jti: pick(b[3], &[LINK, LINK, "link-2", ""]).to_string(),
        scope: if b[4] & 1 == 0 { Scope::View } else { Scope::Control },
        iat: NOW,
        nbf: NOW.saturating_add_signed(offset(b[5])),
        exp: NOW.saturating_add_signed(offset(b[6])),
        label: (b[7] & 1 == 1).then(|| String::from_utf8_lossy(label).into_owned()),
    }
}

fn follows_the_rules(c: &LinkClaims) -> bool {
    c.iss == ISSUER && c.aud == AUDIENCE_LINK && c.sub == HOST && c.jti == LINK && c.nbf <= NOW && NOW < c.exp
}

/// The verifier's decision must agree with an independent signature check and the rules.
fn check(token: &str) -> bool {
    let Ok(claims) = keys().verifier.verify_at(token, HOST, LINK, NOW) else { return false };
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true).with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let (signed, signature) = token.rsplit_once('.').expect("an accepted token has a signature part");
    let signature = lenient.decode(signature).expect("an accepted signature is base64url");
    let signature = Signature::from_slice(&signature).expect("an accepted signature is 64 bytes");
    assert!(keys().server.verifying_key().verify(signed.as_bytes(), &signature).is_ok(), "accepted a token the server's key did not sign: {token}");
    assert!(follows_the_rules(&claims), "accepted claims that break a rule: {claims:?}");
    true
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        check(&String::from_utf8_lossy(rest));
        return;
    }
    let Some((steer, rest)) = rest.split_first_chunk::<8>() else { return };
    let claims = claims_from(steer, rest.get(..rest.len().min(40)).unwrap_or_default());
    let by_server = mode & 2 == 0;
    let key = if by_server { &keys().server_encoding } else { &keys().other_encoding };
    let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, key).expect("signing fixed-shape claims");
    let accepted = check(&token);
    assert_eq!(accepted, by_server && follows_the_rules(&claims), "wrong decision for {claims:?} signed by the server: {by_server}");
    // One byte changed anywhere: accepted only if it still verifies (checked in `check`).
    if let [position, byte, ..] = rest {
        let mut bytes = token.into_bytes();
        let at = usize::from(*position) * 7 % bytes.len();
        bytes[at] = *byte;
        if let Ok(mutated) = String::from_utf8(bytes) {
            check(&mutated);
        }
    }
});
