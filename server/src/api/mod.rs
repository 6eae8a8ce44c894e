//! The management API under `/api/` (JSON): links, viewers, audit, login/logout/me and the
//! OpenAPI document. Every request is authenticated as a [`Principal`]: a host (bearer host
//! token) acting on its own links, or a user session (cookie + CSRF token) acting on the user's
//! hosts.
//!
//! Layout: [`links`], [`viewers`], [`audit`], [`account`] hold the handlers; [`types`] the
//! bodies; `openapi.json` (next to this module's parent) documents every route.

pub mod account;
pub mod audit;
pub mod hosts;
pub mod links;
pub mod types;
pub mod viewers;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::de::DeserializeOwned;

use crate::auth::authorize_host;
use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;
use crate::store::{HostRecord, SessionRecord, UserRecord};

/// Largest JSON request body.
pub const MAX_JSON_BYTES: usize = 16 * 1024;
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "deskbeam_session";
/// Header carrying the session's CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The hand-written OpenAPI 3.1 document of every `/api/` route.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Every `/api/` JSON route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/links", post(links::create).get(links::list))
        .route("/api/links/{id}", delete(links::revoke))
        .route("/api/hosts", get(hosts::list))
        .route("/api/viewers", get(viewers::list))
        .route("/api/viewers/{id}", delete(viewers::kick))
        .route("/api/audit", get(audit::list))
        .route("/api/audit.jsonl", get(audit::export))
        .route("/api/login", post(account::login))
        .route("/api/logout", post(account::logout))
        .route("/api/me", get(account::me_handler))
        .route("/api/openapi.json", get(openapi))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Principal {
    /// An agent's host token: acts on that host only.
    Host { host_id: String },
    /// A logged-in user: acts on the hosts bound to the account.
    User {
        user: UserRecord,
        session: SessionRecord,
    },
}

impl Principal {
    /// The actor name recorded in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Self::Host { host_id } => format!("host:{host_id}"),
            Self::User { user, .. } => format!("user:{}", user.name),
        }
    }

    /// The hosts this principal may manage.
    pub fn host_ids(&self, state: &AppState) -> Result<Vec<String>, ApiError> {
        match self {
            Self::Host { host_id } => Ok(vec![host_id.clone()]),
            Self::User { .. } => Ok(self.hosts(state)?.into_iter().map(|h| h.id).collect()),
        }
    }

    /// The records of the hosts this principal may manage, oldest first.
    pub fn hosts(&self, state: &AppState) -> Result<Vec<HostRecord>, ApiError> {
        Ok(state
            .store()
            .list_hosts()?
            .into_iter()
            .filter(|h| match self {
                Self::Host { host_id } => &h.id == host_id,
                Self::User { user, .. } => h.owner.as_deref() == Some(user.id.as_str()),
            })
            .collect())
    }
}

/// Authenticates a request: `Authorization: Bearer <host token>` first, else the session
/// cookie, which on anything but GET/HEAD also needs `X-CSRF-Token`.
pub fn authenticate(state: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        let claims = authorize_host(state, &parts.headers)?;
        return Ok(Principal::Host {
            host_id: claims.sub,
        });
    }
    let (user, session) = session_of(state, &parts.headers)?.ok_or(ApiError::MissingToken)?;
    if parts.method != Method::GET && parts.method != Method::HEAD {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !secrets::constant_time_eq(sent, &session.csrf_token) {
            tracing::warn!(user = %user.name, "cookie request without a valid CSRF token");
            return Err(ApiError::CsrfFailed);
        }
    }
    Ok(Principal::User { user, session })
}

/// The value of the session cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// The live session (and its user) named by the cookie; expired sessions are deleted.
pub fn session_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(UserRecord, SessionRecord)>, ApiError> {
    let Some(cookie) = session_cookie(headers) else {
        return Ok(None);
    };
    let id_hash = secrets::sha256_hex(cookie.as_bytes());
    let Some(session) = state.store().get_session(&id_hash)? else {
        return Ok(None);
    };
    if session.expires_at <= state.now_unix() {
        state.store().delete_session(&id_hash)?;
        return Ok(None);
    }
    Ok(state
        .store()
        .get_user(&session.user_id)?
        .map(|user| (user, session)))
}

/// Reads a JSON body of at most [`MAX_JSON_BYTES`] (`Content-Type: application/json`).
pub async fn read_json<T: DeserializeOwned>(parts: &Parts, body: Body) -> Result<T, ApiError> {
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    // Refuse a declared oversize body at once instead of waiting for its bytes to arrive.
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_JSON_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let bytes = axum::body::to_bytes(body, MAX_JSON_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(json_problem(&e)))
}

/// Describes a JSON error without echoing input (it may hold a password).
fn json_problem(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            // serde's data errors name the field and expected type, not the value.
            let text = e.to_string();
            if text.contains("invalid value") || text.contains("invalid type") {
                format!("a field has the wrong type or value (line {})", e.line())
            } else {
                text
            }
        }
        Category::Syntax | Category::Eof | Category::Io => "the body is not valid JSON".into(),
    }
}

/// `Json(value)` with a status.
pub fn json_reply<T: serde::Serialize>(status: axum::http::StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}
