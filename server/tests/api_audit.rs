//! `/api/audit`, `/api/audit.jsonl`, the OpenAPI document and the dashboard pages.

mod common;

use axum::http::StatusCode;
use common::{api, fixture, oneshot, state_with_clock, Auth, TestResult};
use serde_json::json;

#[tokio::test]
async fn a_host_sees_its_own_events_paged() -> TestResult {
    let (state, _) = state_with_clock()?;
    let mine = fixture(&state, 60, 1)?;
    let theirs = fixture(&state, 60, 1)?;
    let auth = Auth::Bearer(&mine.host_token);
    let reply = oneshot(&state, api("GET", "/api/audit", auth, None)?).await?;
    assert_eq!(reply.status, StatusCode::OK);
    let events = reply.json()?["events"]
        .as_array()
        .cloned()
        .ok_or("no events")?;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["host_enrolled", "link_created"]);
    assert!(events.iter().all(|e| e["host_id"] == json!(mine.host_id)));
    assert!(!events.iter().any(|e| e["host_id"] == json!(theirs.host_id)));
    let first = events[0]["id"].as_i64().ok_or("no id")?;
    let path = format!("/api/audit?after={first}&limit=1");
    let reply = oneshot(&state, api("GET", &path, auth, None)?).await?;
    let page = reply.json()?["events"]
        .as_array()
        .cloned()
        .ok_or("no events")?;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["kind"], "link_created");
    assert_eq!(page[0]["actor"], "test");
    assert_eq!(page[0]["detail"]["scope"], "view");
    let reply = oneshot(&state, api("GET", "/api/audit?after=x", auth, None)?).await?;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = oneshot(&state, api("GET", "/api/audit", Auth::None, None)?).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn jsonl_export_is_one_event_per_line() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 60, 1)?;
    let reply = oneshot(
        &state,
        api("GET", "/api/audit.jsonl", Auth::Bearer(&f.host_token), None)?,
    )
    .await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/x-ndjson"));
    let text = String::from_utf8(reply.body.to_vec())?;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 2);
    assert!(!text.contains(&f.host_token) && !text.contains(&f.link.token));
    Ok(())
}

/// Every `.route("/api/…")` literal in the router's sources.
fn api_routes() -> Vec<String> {
    let sources = [
        include_str!("../src/app.rs"),
        include_str!("../src/api/mod.rs"),
    ];
    let mut routes = Vec::new();
    for source in sources {
        for piece in source.split(".route(\"").skip(1) {
            if let Some(path) = piece.split('"').next().filter(|p| p.starts_with("/api/")) {
                routes.push(path.to_string());
            }
        }
    }
    routes
}

#[tokio::test]
async fn openapi_documents_every_api_route() -> TestResult {
    let (state, _) = state_with_clock()?;
    let reply = oneshot(&state, api("GET", "/api/openapi.json", Auth::None, None)?).await?;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json()?;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().ok_or("no paths")?;
    let routes = api_routes();
    assert!(routes.len() >= 11, "{routes:?}");
    for route in routes {
        assert!(paths.contains_key(&route), "{route} is not in openapi.json");
    }
    for path in ["/whep", "/whep/{id}"] {
        assert!(paths.contains_key(path));
    }
    Ok(())
}

#[tokio::test]
async fn dashboard_pages_have_the_security_headers() -> TestResult {
    let (state, _) = state_with_clock()?;
    for (path, kind) in [
        ("/login", "text/html"),
        ("/dashboard", "text/html"),
        ("/assets/dashboard.js", "text/javascript"),
        ("/assets/dashboard.css", "text/css"),
    ] {
        let reply = oneshot(&state, api("GET", path, Auth::None, None)?).await?;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with(kind)),
            "{path}"
        );
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert_eq!(reply.header("x-frame-options"), Some("DENY"));
    }
    Ok(())
}
