//! Router tests with `oneshot`: no server, no agent, an injected clock.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{fixture, oneshot, state_with_clock, whep_post, TestResult, OFFER};

const SDP: Option<&str> = Some("application/sdp");

#[tokio::test]
async fn post_without_token_is_missing_token() -> TestResult {
    let (state, _) = state_with_clock()?;
    let reply = oneshot(&state, whep_post(None, SDP, OFFER)?).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code()?, "missing_token");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    // CORS headers are on errors too, so a browser can read them.
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    Ok(())
}

#[tokio::test]
async fn post_with_expired_token_is_token_expired() -> TestResult {
    let (state, clock) = state_with_clock()?;
    let f = fixture(&state, 30, 1)?;
    clock.advance(30);
    let reply = oneshot(&state, whep_post(Some(&f.link.token), SDP, OFFER)?).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code()?, "token_expired");
    Ok(())
}

#[tokio::test]
async fn post_with_foreign_token_is_invalid_token() -> TestResult {
    let (state, _) = state_with_clock()?;
    let (other, _) = state_with_clock()?;
    let f = fixture(&other, 60, 1)?;
    let reply = oneshot(&state, whep_post(Some(&f.link.token), SDP, OFFER)?).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code()?, "invalid_token");
    // Not a JWT at all: same answer.
    let reply = oneshot(&state, whep_post(Some("not.a.jwt"), SDP, OFFER)?).await?;
    assert_eq!(reply.code()?, "invalid_token");
    Ok(())
}

#[tokio::test]
async fn post_with_host_token_is_invalid_token() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let reply = oneshot(&state, whep_post(Some(&f.host_token), SDP, OFFER)?).await?;
    assert_eq!(reply.code()?, "invalid_token");
    Ok(())
}

#[tokio::test]
async fn post_on_revoked_link_is_link_revoked() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    assert!(state.store().revoke_link(&f.link.link_id, common::T0)?);
    let reply = oneshot(&state, whep_post(Some(&f.link.token), SDP, OFFER)?).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code()?, "link_revoked");
    Ok(())
}

#[tokio::test]
async fn post_with_wrong_content_type_is_415() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    for ct in [Some("application/json"), Some("text/plain"), None] {
        let reply = oneshot(&state, whep_post(Some(&f.link.token), ct, OFFER)?).await?;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert_eq!(reply.code()?, "unsupported_media_type");
    }
    Ok(())
}

#[tokio::test]
async fn post_with_huge_body_is_413() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let huge = format!("{OFFER}a={}\r\n", "x".repeat(70 * 1024));
    let reply = oneshot(&state, whep_post(Some(&f.link.token), SDP, huge)?).await?;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.code()?, "payload_too_large");
    Ok(())
}

#[tokio::test]
async fn post_with_garbage_sdp_is_bad_sdp() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let garbage: [Vec<u8>; 3] = [
        b"hello".to_vec(),
        vec![0xff, 0x00, 0xfe],
        b"v=0\r\nm=audio 9 RTP/AVP 0\r\n".to_vec(),
    ];
    for body in garbage {
        let reply = oneshot(&state, whep_post(Some(&f.link.token), SDP, body)?).await?;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.code()?, "bad_sdp");
    }
    Ok(())
}

#[tokio::test]
async fn post_while_host_offline_is_503() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let reply = oneshot(
        &state,
        whep_post(
            Some(&f.link.token),
            Some("application/sdp; charset=utf-8"),
            OFFER,
        )?,
    )
    .await?;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.code()?, "host_offline");
    Ok(())
}

#[tokio::test]
async fn options_answers_cors_preflight() -> TestResult {
    let (state, _) = state_with_clock()?;
    for path in ["/whep", "/whep/abc"] {
        let request = Request::options(path)
            .header("origin", "https://player.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .body(Body::empty())?;
        let reply = oneshot(&state, request).await?;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        let methods = reply
            .header("access-control-allow-methods")
            .unwrap_or_default();
        for m in ["POST", "DELETE", "PATCH", "OPTIONS"] {
            assert!(methods.contains(m), "{methods}");
        }
        let headers = reply
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            headers.contains("authorization") && headers.contains("content-type"),
            "{headers}"
        );
        assert_eq!(
            reply.header("access-control-expose-headers"),
            Some("Location, Link")
        );
        assert_eq!(reply.header("accept-post"), Some("application/sdp"));
    }
    Ok(())
}

#[tokio::test]
async fn patch_is_not_supported() -> TestResult {
    let (state, _) = state_with_clock()?;
    let request = Request::patch("/whep/abc")
        .header("content-type", "application/trickle-ice-sdpfrag")
        .body(Body::empty())?;
    let reply = oneshot(&state, request).await?;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("DELETE"));
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    Ok(())
}

#[tokio::test]
async fn delete_needs_token_and_a_known_viewer() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let reply = oneshot(&state, Request::delete("/whep/abc").body(Body::empty())?).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code()?, "missing_token");
    let request = Request::delete("/whep/abc")
        .header("authorization", format!("Bearer {}", f.link.token))
        .body(Body::empty())?;
    let reply = oneshot(&state, request).await?;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code()?, "not_found");
    Ok(())
}

/// A new script or style sheet in web/ must be embedded too, or the page breaks only when served
/// by the real server (the browser checks' fake servers serve web/ as it is).
#[tokio::test]
async fn every_script_and_style_sheet_in_web_is_served_as_it_is() -> TestResult {
    let (state, _) = state_with_clock()?;
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
    let mut served = 0;
    for entry in std::fs::read_dir(&web)? {
        let path = entry?.path();
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else { continue };
        if ext != "js" && ext != "css" {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let reply = oneshot(&state, Request::get(format!("/assets/{name}")).body(Body::empty())?).await?;
        assert_eq!(reply.status, StatusCode::OK, "web/{name} is not served at /assets/{name}: add it to server/src/assets.rs");
        assert!(reply.body == std::fs::read(&path)?, "/assets/{name} differs from web/{name}");
        served += 1;
    }
    assert!(served >= 7, "found only {served} assets in {}", web.display());
    Ok(())
}

#[tokio::test]
async fn pages_carry_security_headers() -> TestResult {
    let (state, _) = state_with_clock()?;
    let cases = [
        ("/", "text/html"),
        ("/view", "text/html"),
        ("/assets/viewer.js", "text/javascript"),
        ("/assets/viewer.css", "text/css"),
    ];
    for (path, content_type) in cases {
        let reply = oneshot(&state, Request::get(path).body(Body::empty())?).await?;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(
            reply
                .header("content-type")
                .unwrap_or_default()
                .starts_with(content_type),
            "{path}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-cache"));
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(reply.header("x-frame-options"), Some("DENY"));
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert!(!reply.body.is_empty());
    }
    let landing = oneshot(&state, Request::get("/").body(Body::empty())?).await?;
    let html = String::from_utf8_lossy(&landing.body);
    assert!(
        !html.contains("<script") && !html.contains("<style") && !html.contains("style="),
        "{html}"
    );
    Ok(())
}

#[tokio::test]
async fn healthz_and_unknown_routes() -> TestResult {
    let (state, _) = state_with_clock()?;
    let reply = oneshot(&state, Request::get("/healthz").body(Body::empty())?).await?;
    assert_eq!(
        (reply.status, &reply.body[..]),
        (StatusCode::OK, &b"ok"[..])
    );
    let reply = oneshot(&state, Request::get("/nope").body(Body::empty())?).await?;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code()?, "not_found");
    let reply = oneshot(&state, Request::get("/whep").body(Body::empty())?).await?;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.code()?, "method_not_allowed");
    Ok(())
}

#[tokio::test]
async fn agent_endpoint_refuses_before_upgrade() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let reply = oneshot(&state, Request::get("/api/agent").body(Body::empty())?).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code()?, "missing_token");
    // A link token is not a host token.
    let request = Request::get("/api/agent")
        .header("authorization", format!("Bearer {}", f.link.token))
        .body(Body::empty())?;
    assert_eq!(oneshot(&state, request).await?.code()?, "invalid_token");
    // A valid host token without an upgrade is a bad request, not a crash.
    let request = Request::get("/api/agent")
        .header("authorization", format!("Bearer {}", f.host_token))
        .body(Body::empty())?;
    assert_eq!(oneshot(&state, request).await?.code()?, "bad_request");
    Ok(())
}
