//! Shared helpers for the server's integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use deskbeam_proto::api::ErrorBody;
use deskbeam_proto::Scope;
use deskbeam_server::links::{CreatedLink, LinkRequest};
use deskbeam_server::{app, AppState, ManualClock};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A start time that looks like a real Unix time.
pub const T0: u64 = 1_700_000_000;

/// A plausible browser offer (one recvonly H.264 video section).
pub const OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
c=IN IP4 0.0.0.0\r\n\
a=mid:0\r\n\
a=recvonly\r\n\
a=rtpmap:96 H264/90000\r\n\
a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n";

pub const ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n";

pub fn state_with_clock() -> TestResult<(AppState, Arc<ManualClock>)> {
    let clock = Arc::new(ManualClock::new(T0));
    let state = AppState::in_memory("http://deskbeam.test", clock.clone())?;
    Ok((state, clock))
}

/// A host with a token, and a link to it.
pub struct Fixture {
    pub host_id: String,
    pub host_token: String,
    pub link: CreatedLink,
}

pub fn fixture(state: &AppState, ttl_secs: u64, max_viewers: u32) -> TestResult<Fixture> {
    let host = state.issue_host_token("test-pc")?;
    let req = LinkRequest::basic(Scope::View, ttl_secs, max_viewers);
    let link = state.create_link(&host.host_id, &req, "test")?;
    Ok(Fixture {
        host_id: host.host_id,
        host_token: host.token,
        link,
    })
}

pub fn whep_post(
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> TestResult<Request<Body>> {
    let mut builder = Request::post("/whep");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    Ok(builder.body(body.into())?)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The stable error code of a JSON error body.
    pub fn code(&self) -> TestResult<String> {
        let body: ErrorBody = serde_json::from_slice(&self.body)?;
        Ok(body.error.code)
    }
}

/// Runs one request through the router, with no server.
pub async fn oneshot(state: &AppState, request: Request<Body>) -> TestResult<Reply> {
    let response = app(state.clone()).oneshot(request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// How an API request authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    /// Session cookie value, and the CSRF token to send (if any).
    Session(&'a str, Option<&'a str>),
}

/// A JSON API request.
pub fn api(
    method: &str,
    path: &str,
    auth: Auth<'_>,
    body: Option<serde_json::Value>,
) -> TestResult<Request<Body>> {
    let mut builder = Request::builder().method(method).uri(path);
    match auth {
        Auth::None => {}
        Auth::Bearer(token) => builder = builder.header("authorization", format!("Bearer {token}")),
        Auth::Session(cookie, csrf) => {
            builder = builder.header("cookie", format!("other=1; deskbeam_session={cookie}"));
            if let Some(csrf) = csrf {
                builder = builder.header("x-csrf-token", csrf);
            }
        }
    }
    let body = match body {
        Some(json) => {
            builder = builder.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    Ok(builder.body(body)?)
}

impl Reply {
    pub fn json(&self) -> TestResult<serde_json::Value> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// A logged-in user: the session cookie value and the CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    pub set_cookie: String,
}

pub async fn login(state: &AppState, name: &str, password: &str) -> TestResult<Session> {
    let body = serde_json::json!({ "name": name, "password": password });
    let reply = oneshot(state, api("POST", "/api/login", Auth::None, Some(body))?).await?;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let set_cookie = reply.header("set-cookie").ok_or("no cookie")?.to_string();
    let cookie = set_cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("deskbeam_session="))
        .ok_or("bad cookie")?
        .to_string();
    let csrf = reply.json()?["csrf_token"]
        .as_str()
        .ok_or("no csrf")?
        .to_string();
    Ok(Session {
        cookie,
        csrf,
        set_cookie,
    })
}
