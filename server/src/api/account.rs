//! `POST /api/login`, `POST /api/logout`, `GET /api/me`: the session cookie and its CSRF token.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use super::types::{LoginBody, Me, UserInfo};
use super::{authenticate, json_reply, read_json, Principal, SESSION_COOKIE};
use crate::accounts::{Attempt, SESSION_SECS};
use crate::audit::{kinds, Event};
use crate::auth::client_address;
use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;
use crate::store::{SessionRecord, UserRecord};

fn me(user: &UserRecord, session: &SessionRecord) -> Me {
    Me {
        user: UserInfo {
            id: user.id.clone(),
            name: user.name.clone(),
            totp: user.totp_secret.is_some(),
        },
        csrf_token: session.csrf_token.clone(),
    }
}

/// The `Set-Cookie` value for `value` living `max_age` seconds (0 deletes it).
pub fn session_cookie_header(state: &AppState, value: &str, max_age: u64) -> String {
    let secure = if state.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    )
}

fn with_cookie(mut response: Response, cookie: &str) -> Result<Response, ApiError> {
    let value =
        HeaderValue::from_str(cookie).map_err(|_| ApiError::Internal("bad cookie".into()))?;
    response.headers_mut().insert(header::SET_COOKIE, value);
    Ok(response)
}

/// `POST /api/login` {name, password, totp?} → {user, csrf_token} and the session cookie.
pub async fn login(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let body: LoginBody = read_json(&parts, body).await?;
    let address = client_address(&state, &parts.headers, &parts.extensions);
    let attempt = Attempt {
        name: &body.name,
        password: &body.password,
        totp: body.totp.as_deref(),
        address: address.as_deref(),
    };
    let opened = state.login(&attempt)?;
    let reply = json_reply(StatusCode::OK, &me(&opened.user, &opened.session));
    with_cookie(
        reply,
        &session_cookie_header(&state, &opened.cookie_value, SESSION_SECS),
    )
}

/// `POST /api/logout`: ends the session (needs the CSRF token) and clears the cookie.
pub async fn logout(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let Principal::User { user, session } = authenticate(&state, &parts)? else {
        return Err(ApiError::BadRequest(
            "only a user session can log out".into(),
        ));
    };
    state.store().delete_session(&session.id_hash)?;
    tracing::info!(user = %user.name, "logout");
    state.audit(
        Event::new(kinds::LOGOUT)
            .actor(format!("user:{}", user.name))
            .address(client_address(&state, &parts.headers, &parts.extensions)),
    );
    let reply = json_reply(StatusCode::OK, &serde_json::json!({ "ok": true }));
    with_cookie(reply, &session_cookie_header(&state, "", 0))
}

/// `GET /api/me`: the logged-in user and the session's CSRF token.
pub async fn me_handler(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    match authenticate(&state, &parts)? {
        Principal::User { user, session } => Ok(json_reply(StatusCode::OK, &me(&user, &session))),
        Principal::Host { .. } => Err(ApiError::BadRequest("not a user session".into())),
    }
}

/// Compares a presented session cookie value to a stored hash (tests and tools).
pub fn cookie_matches(value: &str, session: &SessionRecord) -> bool {
    secrets::constant_time_eq(&secrets::sha256_hex(value.as_bytes()), &session.id_hash)
}
