//! `/api/links` and the link rules on `POST /whep` (PIN, start time, single use), with
//! `oneshot` requests against an in-memory state and a manual clock.

mod common;

use axum::http::StatusCode;
use common::{api, fixture, oneshot, state_with_clock, whep_post, Auth, TestResult, OFFER, T0};
use deskbeam_proto::token::{LinkClaims, AUDIENCE_LINK, ISSUER};
use deskbeam_proto::Scope;
use serde_json::json;

const SDP: Option<&str> = Some("application/sdp");

fn link_body() -> serde_json::Value {
    json!({ "ttl_secs": 600, "scope": "view", "max_viewers": 2 })
}

#[tokio::test]
async fn links_need_a_valid_host_token() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let reply = oneshot(&state, api("GET", "/api/links", Auth::None, None)?).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code()?, "missing_token");
    for bad in ["garbage", f.link.token.as_str()] {
        let reply = oneshot(&state, api("GET", "/api/links", Auth::Bearer(bad), None)?).await?;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.code()?, "invalid_token");
    }
    let reply = oneshot(
        &state,
        api("POST", "/api/links", Auth::None, Some(link_body()))?,
    )
    .await?;
    assert_eq!(reply.code()?, "missing_token");
    Ok(())
}

#[tokio::test]
async fn host_creates_lists_and_revokes_links() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let auth = Auth::Bearer(&f.host_token);
    let body = json!({
        "ttl_secs": 600, "scope": "control", "max_viewers": 3, "label": "Support call",
        "pin": "4711", "single_use": true, "starts_at": T0 + 60
    });
    let reply = oneshot(&state, api("POST", "/api/links", auth, Some(body))?).await?;
    assert_eq!(reply.status, StatusCode::CREATED);
    let created = reply.json()?;
    let id = created["id"].as_str().ok_or("no id")?.to_string();
    let url = created["url"].as_str().ok_or("no url")?;
    assert!(url.starts_with("http://deskbeam.test/view#"), "{url}");
    assert_eq!(created["scope"], "control");
    assert_eq!(created["label"], "Support call");
    assert_eq!(created["starts_at"], T0 + 60);
    assert_eq!(created["expires_at"], T0 + 660);
    assert_eq!(created["has_pin"], true);
    assert_eq!(created["single_use"], true);
    assert_eq!(created["revoked_at"], serde_json::Value::Null);
    assert_eq!(
        (created["used"].clone(), created["viewers"].clone()),
        (json!(false), json!(0))
    );
    assert!(
        !reply.body.windows(4).any(|w| w == b"4711"),
        "the PIN is never echoed"
    );
    // Only hashes are stored.
    let record = state.store().get_link(&id)?.ok_or("not stored")?;
    let token = url.rsplit('#').next().ok_or("no token")?;
    assert_eq!(
        record.secret_hash.as_deref(),
        Some(deskbeam_server::secrets::sha256_hex(token.as_bytes()).as_str())
    );
    assert!(record
        .pin_hash
        .as_deref()
        .is_some_and(|h| h.starts_with("$argon2id$")));

    let reply = oneshot(&state, api("GET", "/api/links", auth, None)?).await?;
    let links = reply.json()?["links"]
        .as_array()
        .cloned()
        .ok_or("no list")?;
    assert_eq!(links.len(), 2, "the fixture's link and the new one");
    assert!(
        links.iter().all(|l| l["url"].is_null()),
        "no URL after creation"
    );

    let path = format!("/api/links/{id}");
    let reply = oneshot(&state, api("DELETE", &path, auth, None)?).await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()?["revoked_at"], T0);
    Ok(())
}

#[tokio::test]
async fn another_hosts_link_is_not_found() -> TestResult {
    let (state, _) = state_with_clock()?;
    let mine = fixture(&state, 60, 1)?;
    let theirs = fixture(&state, 60, 1)?;
    let path = format!("/api/links/{}", theirs.link.link_id);
    let reply = oneshot(
        &state,
        api("DELETE", &path, Auth::Bearer(&mine.host_token), None)?,
    )
    .await?;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code()?, "not_found");
    assert!(state
        .store()
        .get_link(&theirs.link.link_id)?
        .is_some_and(|l| !l.is_revoked()));
    let body =
        json!({ "ttl_secs": 60, "scope": "view", "max_viewers": 1, "host_id": theirs.host_id });
    let reply = oneshot(
        &state,
        api(
            "POST",
            "/api/links",
            Auth::Bearer(&mine.host_token),
            Some(body),
        )?,
    )
    .await?;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.code()?, "forbidden");
    Ok(())
}

#[tokio::test]
async fn bad_link_bodies_are_400_413_415() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let auth = Auth::Bearer(&f.host_token);
    let label = "x".repeat(81);
    for body in [
        json!({ "ttl_secs": 0, "scope": "view", "max_viewers": 1 }),
        json!({ "ttl_secs": 60, "scope": "view", "max_viewers": 0 }),
        json!({ "ttl_secs": 60, "scope": "admin", "max_viewers": 1 }),
        json!({ "ttl_secs": 60, "scope": "view", "max_viewers": 1, "pin": "12" }),
        json!({ "ttl_secs": 60, "scope": "view", "max_viewers": 1, "pin": "12ab" }),
        json!({ "ttl_secs": 60, "scope": "view", "max_viewers": 1, "label": label }),
        json!({ "scope": "view", "max_viewers": 1 }),
    ] {
        let reply = oneshot(&state, api("POST", "/api/links", auth, Some(body.clone()))?).await?;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.code()?, "bad_request");
    }
    let big =
        json!({ "ttl_secs": 60, "scope": "view", "max_viewers": 1, "label": "y".repeat(17_000) });
    let reply = oneshot(&state, api("POST", "/api/links", auth, Some(big))?).await?;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let mut request = api("POST", "/api/links", auth, None)?;
    request
        .headers_mut()
        .insert("content-type", "text/plain".parse()?);
    let reply = oneshot(&state, request).await?;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    Ok(())
}

/// Creates a link through the API; returns (id, token).
async fn api_link(
    state: &deskbeam_server::AppState,
    host_token: &str,
    body: serde_json::Value,
) -> TestResult<(String, String)> {
    let reply = oneshot(
        state,
        api("POST", "/api/links", Auth::Bearer(host_token), Some(body))?,
    )
    .await?;
    assert_eq!(reply.status, StatusCode::CREATED);
    let json = reply.json()?;
    let url = json["url"].as_str().ok_or("no url")?;
    let token = url.rsplit('#').next().ok_or("no token")?.to_string();
    Ok((json["id"].as_str().ok_or("no id")?.to_string(), token))
}

fn with_pin(token: &str, pin: Option<&str>) -> TestResult<axum::http::Request<axum::body::Body>> {
    let mut request = whep_post(Some(token), SDP, OFFER)?;
    if let Some(pin) = pin {
        request.headers_mut().insert("x-deskbeam-pin", pin.parse()?);
    }
    Ok(request)
}

#[tokio::test]
async fn pin_required_invalid_then_locked_for_15_minutes() -> TestResult {
    let (state, clock) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let mut body = link_body();
    body["pin"] = json!("123456");
    body["ttl_secs"] = json!(3600);
    let (id, token) = api_link(&state, &f.host_token, body).await?;
    let reply = oneshot(&state, with_pin(&token, None)?).await?;
    assert_eq!(
        (reply.status, reply.code()?),
        (StatusCode::UNAUTHORIZED, "pin_required".into())
    );
    for _ in 0..4 {
        let reply = oneshot(&state, with_pin(&token, Some("987654"))?).await?;
        assert_eq!(
            (reply.status, reply.code()?),
            (StatusCode::UNAUTHORIZED, "pin_invalid".into())
        );
    }
    let reply = oneshot(&state, with_pin(&token, Some("987654"))?).await?;
    assert_eq!(
        (reply.status, reply.code()?),
        (StatusCode::TOO_MANY_REQUESTS, "pin_locked".into())
    );
    assert_eq!(reply.header("retry-after"), Some("900"));
    // Even the right PIN is refused while locked.
    clock.advance(899);
    let reply = oneshot(&state, with_pin(&token, Some("123456"))?).await?;
    assert_eq!(reply.code()?, "pin_locked");
    clock.advance(1);
    // Past every link check: only the missing agent stops it now.
    let reply = oneshot(&state, with_pin(&token, Some("123456"))?).await?;
    assert_eq!(reply.code()?, "host_offline");
    let events = state.store().list_audit(0, 100)?;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "pin_failed").count(), 4);
    assert!(kinds.contains(&"pin_locked"));
    assert!(events
        .iter()
        .all(|e| !e.detail.to_string().contains("987654")));
    assert!(events
        .iter()
        .any(|e| e.link_id.as_deref() == Some(id.as_str())));
    Ok(())
}

#[tokio::test]
async fn a_link_is_refused_before_its_start() -> TestResult {
    let (state, clock) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let mut body = link_body();
    body["starts_at"] = json!(T0 + 100);
    let (_, token) = api_link(&state, &f.host_token, body).await?;
    let reply = oneshot(&state, whep_post(Some(&token), SDP, OFFER)?).await?;
    assert_eq!(
        (reply.status, reply.code()?),
        (StatusCode::UNAUTHORIZED, "link_not_started".into())
    );
    clock.advance(100);
    let reply = oneshot(&state, whep_post(Some(&token), SDP, OFFER)?).await?;
    assert_eq!(reply.code()?, "host_offline");
    clock.advance(600);
    let reply = oneshot(&state, whep_post(Some(&token), SDP, OFFER)?).await?;
    assert_eq!(reply.code()?, "token_expired");
    Ok(())
}

#[tokio::test]
async fn a_used_single_use_link_is_refused() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let mut body = link_body();
    body["single_use"] = json!(true);
    let (id, token) = api_link(&state, &f.host_token, body).await?;
    let reply = oneshot(&state, whep_post(Some(&token), SDP, OFFER)?).await?;
    assert_eq!(reply.code()?, "host_offline", "unused: passes");
    assert!(state.store().mark_link_used(&id)?);
    let reply = oneshot(&state, whep_post(Some(&token), SDP, OFFER)?).await?;
    assert_eq!(
        (reply.status, reply.code()?),
        (StatusCode::UNAUTHORIZED, "link_used".into())
    );
    Ok(())
}

#[tokio::test]
async fn only_the_issued_token_opens_a_link() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    // Same link, validly signed, but not the token the server handed out.
    let claims = LinkClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE_LINK.into(),
        sub: f.host_id.clone(),
        jti: f.link.link_id.clone(),
        scope: Scope::View,
        iat: T0 - 1,
        nbf: T0,
        exp: T0 + 60,
        label: None,
    };
    let twin = state.keys().sign_link(&claims)?;
    let reply = oneshot(&state, whep_post(Some(&twin), SDP, OFFER)?).await?;
    assert_eq!(reply.code()?, "invalid_token");
    Ok(())
}

#[tokio::test]
async fn revoked_link_via_api_is_link_revoked_on_whep() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let path = format!("/api/links/{}", f.link.link_id);
    let reply = oneshot(
        &state,
        api("DELETE", &path, Auth::Bearer(&f.host_token), None)?,
    )
    .await?;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = oneshot(&state, whep_post(Some(&f.link.token), SDP, OFFER)?).await?;
    assert_eq!(reply.code()?, "link_revoked");
    Ok(())
}

#[tokio::test]
async fn cors_allows_the_pin_header() -> TestResult {
    let (state, _) = state_with_clock()?;
    let reply = oneshot(&state, api("OPTIONS", "/whep", Auth::None, None)?).await?;
    let allowed = reply
        .header("access-control-allow-headers")
        .unwrap_or_default();
    assert!(
        allowed.to_ascii_lowercase().contains("x-deskbeam-pin"),
        "{allowed}"
    );
    Ok(())
}

#[tokio::test]
async fn viewers_list_is_empty_and_unknown_kick_is_404() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let auth = Auth::Bearer(&f.host_token);
    let reply = oneshot(&state, api("GET", "/api/viewers", auth, None)?).await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()?, json!({ "viewers": [] }));
    let reply = oneshot(&state, api("DELETE", "/api/viewers/nope", auth, None)?).await?;
    assert_eq!(
        (reply.status, reply.code()?),
        (StatusCode::NOT_FOUND, "not_found".into())
    );
    let reply = oneshot(&state, api("GET", "/api/viewers", Auth::None, None)?).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    Ok(())
}
