//! Token signing and verification: what is accepted, and every way a token is refused.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{fixture, state_with_clock, TestResult, T0};
use deskbeam_proto::token::{LinkClaims, AUDIENCE_LINK, ISSUER};
use deskbeam_proto::Scope;
use deskbeam_server::tokens::{Keys, TokenError};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

fn claims(exp: u64) -> LinkClaims {
    LinkClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE_LINK.into(),
        sub: "host".into(),
        jti: "link".into(),
        scope: Scope::Control,
        iat: T0,
        nbf: T0,
        exp,
        label: None,
    }
}

#[test]
fn link_token_round_trips() -> TestResult {
    let keys = Keys::generate()?;
    let token = keys.sign_link(&claims(T0 + 60))?;
    assert_eq!(keys.verify_link(&token, T0)?, claims(T0 + 60));
    assert_eq!(keys.verify_link(&token, T0 + 59)?, claims(T0 + 60));
    Ok(())
}

#[test]
fn expired_link_token_is_token_expired() -> TestResult {
    let (state, clock) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    assert!(state
        .keys()
        .verify_link(&f.link.token, state.now_unix())
        .is_ok());
    clock.advance(60);
    let result = state.keys().verify_link(&f.link.token, state.now_unix());
    assert!(matches!(result, Err(TokenError::Expired)), "{result:?}");
    Ok(())
}

#[test]
fn not_yet_valid_token_is_invalid() -> TestResult {
    let keys = Keys::generate()?;
    let token = keys.sign_link(&claims(T0 + 60))?;
    assert!(matches!(
        keys.verify_link(&token, T0 - 1),
        Err(TokenError::Invalid)
    ));
    Ok(())
}

#[test]
fn token_from_a_foreign_key_is_invalid() -> TestResult {
    let ours = Keys::generate()?;
    let theirs = Keys::generate()?;
    let token = theirs.sign_link(&claims(T0 + 60))?;
    assert!(matches!(
        ours.verify_link(&token, T0),
        Err(TokenError::Invalid)
    ));
    Ok(())
}

#[test]
fn hs256_with_the_public_key_as_secret_is_invalid() -> TestResult {
    let keys = Keys::generate()?;
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(T0 + 60),
        &EncodingKey::from_secret(keys.public_key_pem().as_bytes()),
    )?;
    assert!(matches!(
        keys.verify_link(&forged, T0),
        Err(TokenError::Invalid)
    ));
    Ok(())
}

#[test]
fn alg_none_is_invalid() -> TestResult {
    let keys = Keys::generate()?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(T0 + 60))?);
    for forged in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        assert!(
            matches!(keys.verify_link(&forged, T0), Err(TokenError::Invalid)),
            "{forged}"
        );
    }
    Ok(())
}

#[test]
fn garbage_and_empty_tokens() -> TestResult {
    let keys = Keys::generate()?;
    assert!(matches!(keys.verify_link("", T0), Err(TokenError::Missing)));
    for garbage in ["x", "a.b.c", "....", "\u{0}"] {
        assert!(
            matches!(keys.verify_link(garbage, T0), Err(TokenError::Invalid)),
            "{garbage:?}"
        );
    }
    Ok(())
}

#[test]
fn tokens_do_not_cross_audiences() -> TestResult {
    let (state, _clock) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let as_link = state.keys().verify_link(&f.host_token, state.now_unix());
    assert!(matches!(as_link, Err(TokenError::Invalid)), "{as_link:?}");
    let as_host = state.keys().verify_host(&f.link.token);
    assert!(matches!(as_host, Err(TokenError::Invalid)), "{as_host:?}");
    assert_eq!(state.keys().verify_host(&f.host_token)?.sub, f.host_id);
    Ok(())
}

#[test]
fn public_key_pem_is_spki() -> TestResult {
    let keys = Keys::generate()?;
    let pem = keys.public_key_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    // Anyone holding the PEM (an agent) can verify with jsonwebtoken's own constructor.
    let decoding = jsonwebtoken::DecodingKey::from_ed_pem(pem.as_bytes())?;
    let token = keys.sign_link(&claims(T0 + 60))?;
    let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE_LINK]);
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<LinkClaims>(&token, &decoding, &validation)?;
    assert_eq!(data.claims.jti, "link");
    Ok(())
}
