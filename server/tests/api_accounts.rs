//! Accounts over the router: login, cookies, CSRF, per-user host scoping, lockout, TOTP.

mod common;

use axum::http::StatusCode;
use common::{api, fixture, login, oneshot, state_with_clock, Auth, TestResult, T0};
use deskbeam_server::AppState;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// A user "alice" owning one host (returns its id).
fn alice(state: &AppState) -> TestResult<String> {
    state.add_user("alice", PASSWORD)?;
    let user = state.store().get_user_by_name("alice")?.ok_or("no alice")?;
    Ok(state
        .issue_owned_host_token("alice-pc", Some(&user.id))?
        .host_id)
}

fn link_body() -> serde_json::Value {
    json!({ "ttl_secs": 600, "scope": "view", "max_viewers": 1 })
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_me_works() -> TestResult {
    let (state, _) = state_with_clock()?;
    alice(&state)?;
    let s = login(&state, "alice", PASSWORD).await?;
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(s.set_cookie.contains(part), "{}", s.set_cookie);
    }
    assert!(!s.set_cookie.contains("Secure"), "plain HTTP");
    assert_eq!(s.cookie.len(), 43, "256 bits, base64url");
    // Only the hash of the cookie is stored.
    let hash = deskbeam_server::secrets::sha256_hex(s.cookie.as_bytes());
    assert!(state.store().get_session(&hash)?.is_some());
    assert!(state.store().get_session(&s.cookie)?.is_none());
    let reply = oneshot(
        &state,
        api("GET", "/api/me", Auth::Session(&s.cookie, None), None)?,
    )
    .await?;
    assert_eq!(reply.status, StatusCode::OK);
    let me = reply.json()?;
    assert_eq!(
        (me["user"]["name"].clone(), me["csrf_token"].clone()),
        (json!("alice"), json!(s.csrf))
    );
    let reply = oneshot(
        &state,
        api("GET", "/api/me", Auth::Session("forged", None), None)?,
    )
    .await?;
    assert_eq!(
        (reply.status, reply.code()?),
        (StatusCode::UNAUTHORIZED, "missing_token".into())
    );
    Ok(())
}

#[tokio::test]
async fn cookie_writes_need_the_csrf_token() -> TestResult {
    let (state, _) = state_with_clock()?;
    alice(&state)?;
    let s = login(&state, "alice", PASSWORD).await?;
    for csrf in [None, Some("wrong")] {
        let request = api(
            "POST",
            "/api/links",
            Auth::Session(&s.cookie, csrf),
            Some(link_body()),
        )?;
        let reply = oneshot(&state, request).await?;
        assert_eq!(
            (reply.status, reply.code()?),
            (StatusCode::FORBIDDEN, "csrf_failed".into())
        );
    }
    let auth = Auth::Session(&s.cookie, Some(&s.csrf));
    let reply = oneshot(&state, api("POST", "/api/links", auth, Some(link_body()))?).await?;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    // Reads need no CSRF token.
    let reply = oneshot(
        &state,
        api("GET", "/api/links", Auth::Session(&s.cookie, None), None)?,
    )
    .await?;
    assert_eq!(reply.json()?["links"].as_array().map(Vec::len), Some(1));
    let reply = oneshot(
        &state,
        api("POST", "/api/logout", Auth::Session(&s.cookie, None), None)?,
    )
    .await?;
    assert_eq!(reply.code()?, "csrf_failed");
    let reply = oneshot(&state, api("POST", "/api/logout", auth, None)?).await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply
        .header("set-cookie")
        .is_some_and(|c| c.contains("Max-Age=0")));
    let reply = oneshot(&state, api("GET", "/api/links", auth, None)?).await?;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "the session is gone"
    );
    Ok(())
}

#[tokio::test]
async fn a_user_manages_only_their_hosts() -> TestResult {
    let (state, _) = state_with_clock()?;
    let first = alice(&state)?;
    let other = fixture(&state, 60, 1)?;
    let s = login(&state, "alice", PASSWORD).await?;
    let auth = Auth::Session(&s.cookie, Some(&s.csrf));
    let path = format!("/api/links/{}", other.link.link_id);
    let reply = oneshot(&state, api("DELETE", &path, auth, None)?).await?;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let mut body = link_body();
    body["host_id"] = json!(other.host_id);
    let reply = oneshot(&state, api("POST", "/api/links", auth, Some(body))?).await?;
    assert_eq!(
        (reply.status, reply.code()?),
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    // A second host makes host_id necessary.
    let user = state.store().get_user_by_name("alice")?.ok_or("no alice")?;
    state.issue_owned_host_token("alice-laptop", Some(&user.id))?;
    let reply = oneshot(&state, api("POST", "/api/links", auth, Some(link_body()))?).await?;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let mut body = link_body();
    body["host_id"] = json!(first);
    let reply = oneshot(&state, api("POST", "/api/links", auth, Some(body))?).await?;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = reply.json()?["id"].as_str().ok_or("no id")?.to_string();
    let stored = state.store().get_link(&id)?.ok_or("not stored")?;
    assert_eq!(stored.host_id, first);
    let reply = oneshot(&state, api("GET", "/api/links", auth, None)?).await?;
    let links = reply.json()?["links"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(links.len(), 1, "not the other host's link");

    // The dashboard's host picker: both of alice's hosts, not the other one; a host token sees itself.
    let reply = oneshot(&state, api("GET", "/api/hosts", auth, None)?).await?;
    assert_eq!(reply.status, StatusCode::OK);
    let hosts = reply.json()?["hosts"].as_array().cloned().unwrap_or_default();
    let mut names: Vec<_> = hosts.iter().map(|h| (h["name"].as_str().unwrap_or_default().to_string(), h["online"].as_bool())).collect();
    names.sort();
    assert_eq!(names, vec![("alice-laptop".to_string(), Some(false)), ("alice-pc".to_string(), Some(false))]);
    assert!(hosts.iter().any(|h| h["id"] == json!(first)) && !hosts.iter().any(|h| h["id"] == json!(other.host_id)));
    let reply = oneshot(&state, api("GET", "/api/hosts", Auth::Bearer(&other.host_token), None)?).await?;
    let hosts = reply.json()?["hosts"].as_array().cloned().unwrap_or_default();
    assert_eq!(hosts.len(), 1);
    assert_eq!((hosts[0]["id"].clone(), hosts[0]["name"].clone()), (json!(other.host_id), json!("test-pc")));
    let reply = oneshot(&state, api("GET", "/api/hosts", Auth::None, None)?).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    Ok(())
}

fn login_body(name: &str, password: &str) -> serde_json::Value {
    json!({ "name": name, "password": password })
}

#[tokio::test]
async fn five_failures_lock_the_account_for_15_minutes() -> TestResult {
    let (state, clock) = state_with_clock()?;
    alice(&state)?;
    for _ in 0..4 {
        let request = api(
            "POST",
            "/api/login",
            Auth::None,
            Some(login_body("alice", "wrong password")),
        )?;
        let reply = oneshot(&state, request).await?;
        assert_eq!(
            (reply.status, reply.code()?),
            (StatusCode::UNAUTHORIZED, "invalid_credentials".into())
        );
    }
    let request = api(
        "POST",
        "/api/login",
        Auth::None,
        Some(login_body("alice", "wrong password")),
    )?;
    let reply = oneshot(&state, request).await?;
    assert_eq!(
        (reply.status, reply.code()?),
        (StatusCode::TOO_MANY_REQUESTS, "login_locked".into())
    );
    assert_eq!(reply.header("retry-after"), Some("900"));
    let request = api(
        "POST",
        "/api/login",
        Auth::None,
        Some(login_body("alice", PASSWORD)),
    )?;
    assert_eq!(oneshot(&state, request).await?.code()?, "login_locked");
    clock.advance(900);
    login(&state, "alice", PASSWORD).await?;
    let events = state.store().list_audit(0, 100)?;
    let count = |k: &str| events.iter().filter(|e| e.kind == k).count();
    assert_eq!((count("login_failed"), count("login_ok")), (4, 1));
    assert!(count("login_locked") >= 2);
    assert!(events
        .iter()
        .all(|e| !format!("{e:?}").contains("wrong password")));
    assert!(events.iter().all(|e| !format!("{e:?}").contains(PASSWORD)));
    Ok(())
}

#[tokio::test]
async fn twenty_failures_lock_the_address() -> TestResult {
    let (state, _) = state_with_clock()?;
    alice(&state)?;
    for i in 0..19 {
        let request = api(
            "POST",
            "/api/login",
            Auth::None,
            Some(login_body(&format!("u{i}"), "x")),
        )?;
        assert_eq!(
            oneshot(&state, request).await?.code()?,
            "invalid_credentials",
            "{i}"
        );
    }
    let request = api(
        "POST",
        "/api/login",
        Auth::None,
        Some(login_body("u19", "x")),
    )?;
    assert_eq!(oneshot(&state, request).await?.code()?, "login_locked");
    let request = api(
        "POST",
        "/api/login",
        Auth::None,
        Some(login_body("alice", PASSWORD)),
    )?;
    assert_eq!(
        oneshot(&state, request).await?.code()?,
        "login_locked",
        "same address"
    );
    Ok(())
}

#[tokio::test]
async fn totp_is_required_once_enabled() -> TestResult {
    let (state, _) = state_with_clock()?;
    alice(&state)?;
    let uri = state.enable_totp("alice")?;
    let secret = uri
        .split("secret=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .ok_or("no secret")?;
    let raw = deskbeam_server::totp::base32_decode(secret).ok_or("bad base32")?;
    let code = deskbeam_server::totp::code(&raw, T0 / 30).ok_or("no code")?;
    let mut body = login_body("alice", PASSWORD);
    let reply = oneshot(
        &state,
        api("POST", "/api/login", Auth::None, Some(body.clone()))?,
    )
    .await?;
    assert_eq!(
        (reply.status, reply.code()?),
        (StatusCode::UNAUTHORIZED, "totp_required".into())
    );
    body["totp"] = json!(format!("{:06}", (code + 1) % 1_000_000));
    let reply = oneshot(
        &state,
        api("POST", "/api/login", Auth::None, Some(body.clone()))?,
    )
    .await?;
    assert_eq!(reply.code()?, "totp_invalid");
    body["totp"] = json!(format!("{code:06}"));
    let reply = oneshot(&state, api("POST", "/api/login", Auth::None, Some(body))?).await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()?["user"]["totp"], json!(true));
    Ok(())
}

#[tokio::test]
async fn bad_login_bodies_are_400_without_echo() -> TestResult {
    let (state, _) = state_with_clock()?;
    for body in [
        json!({ "name": "a" }),
        json!({ "name": 1, "password": "hunter2hunter2" }),
    ] {
        let reply = oneshot(&state, api("POST", "/api/login", Auth::None, Some(body))?).await?;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(!String::from_utf8_lossy(&reply.body).contains("hunter2"));
    }
    Ok(())
}
