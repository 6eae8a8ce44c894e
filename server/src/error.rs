//! `ApiError`: every HTTP error the server returns, as a status and a stable JSON code.
//!
//! Internal causes are logged here and replaced by a generic message; nothing internal leaks.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use deskbeam_proto::api::{codes, ErrorBody, ErrorDetail};

use crate::store::StoreError;
use crate::tokens::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a bearer token is required")]
    MissingToken,
    #[error("the token is not valid")]
    InvalidToken,
    #[error("the token has expired")]
    TokenExpired,
    #[error("the link was revoked")]
    LinkRevoked,
    #[error("the link has reached its viewer limit")]
    LinkFull,
    #[error("the host is not connected")]
    HostOffline,
    #[error("expected Content-Type: application/sdp")]
    UnsupportedMediaType,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the SDP offer is not usable: {0}")]
    BadSdp(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the host did not answer in time")]
    AgentTimeout,
    #[error("the host rejected the offer ({0})")]
    AgentRejected(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("this link needs a PIN")]
    PinRequired,
    #[error("the PIN is wrong")]
    PinInvalid,
    #[error("too many wrong PINs; try again later")]
    PinLocked { retry_after: u64 },
    #[error("the link is not valid yet")]
    LinkNotStarted,
    #[error("the link was already used")]
    LinkUsed,
    #[error("missing or wrong X-CSRF-Token")]
    CsrfFailed,
    #[error("wrong user name or password")]
    InvalidCredentials,
    #[error("the one-time code is wrong")]
    TotpInvalid,
    #[error("too many failed logins; try again later")]
    LoginLocked { retry_after: u64 },
    #[error("a one-time code is required")]
    TotpRequired,
    #[error("not allowed")]
    Forbidden,
    #[error("the request took too long")]
    RequestTimeout,
    /// The cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken | Self::TokenExpired | Self::LinkRevoked => {
                StatusCode::UNAUTHORIZED
            }
            Self::PinRequired
            | Self::PinInvalid
            | Self::LinkNotStarted
            | Self::LinkUsed
            | Self::InvalidCredentials
            | Self::TotpInvalid
            | Self::TotpRequired => StatusCode::UNAUTHORIZED,
            Self::PinLocked { .. } | Self::LoginLocked { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::LinkFull | Self::CsrfFailed | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::HostOffline => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadSdp(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::AgentTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::AgentRejected(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => codes::MISSING_TOKEN,
            Self::InvalidToken => codes::INVALID_TOKEN,
            Self::TokenExpired => codes::TOKEN_EXPIRED,
            Self::LinkRevoked => codes::LINK_REVOKED,
            Self::LinkFull => codes::LINK_FULL,
            Self::HostOffline => codes::HOST_OFFLINE,
            Self::UnsupportedMediaType => codes::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => codes::PAYLOAD_TOO_LARGE,
            Self::BadSdp(_) => codes::BAD_SDP,
            Self::NotFound => codes::NOT_FOUND,
            Self::MethodNotAllowed => codes::METHOD_NOT_ALLOWED,
            Self::AgentTimeout => codes::AGENT_TIMEOUT,
            Self::AgentRejected(_) => codes::AGENT_REJECTED,
            Self::BadRequest(_) => codes::BAD_REQUEST,
            Self::Internal(_) => codes::INTERNAL,
            Self::PinRequired => codes::PIN_REQUIRED,
            Self::PinInvalid => codes::PIN_INVALID,
            Self::PinLocked { .. } => codes::PIN_LOCKED,
            Self::LinkNotStarted => codes::LINK_NOT_STARTED,
            Self::LinkUsed => codes::LINK_USED,
            Self::CsrfFailed => codes::CSRF_FAILED,
            Self::InvalidCredentials => codes::INVALID_CREDENTIALS,
            Self::TotpInvalid => codes::TOTP_INVALID,
            Self::LoginLocked { .. } => codes::LOGIN_LOCKED,
            Self::TotpRequired => codes::TOTP_REQUIRED,
            Self::Forbidden => codes::FORBIDDEN,
            Self::RequestTimeout => codes::REQUEST_TIMEOUT,
        }
    }

    /// The JSON body for this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        } else {
            tracing::debug!(code = self.code(), "request refused");
        }
        let status = self.status();
        let mut response = (status, Json(self.body())).into_response();
        let challenge = match self {
            Self::MissingToken => Some("Bearer"),
            Self::InvalidToken | Self::TokenExpired | Self::LinkRevoked => {
                Some("Bearer error=\"invalid_token\"")
            }
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Self::PinLocked { retry_after } | Self::LoginLocked { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Missing => Self::MissingToken,
            TokenError::Expired => Self::TokenExpired,
            TokenError::Invalid => Self::InvalidToken,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak() {
        let e = ApiError::Internal("disk on fire at /secret/path".into());
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = e.body();
        assert_eq!(body.error.code, "internal");
        assert!(!body.error.message.contains("secret"));
    }

    #[test]
    fn token_errors_map_to_stable_codes() {
        assert_eq!(ApiError::from(TokenError::Missing).code(), "missing_token");
        assert_eq!(ApiError::from(TokenError::Expired).code(), "token_expired");
        assert_eq!(ApiError::from(TokenError::Invalid).code(), "invalid_token");
        assert_eq!(
            ApiError::from(TokenError::Sign("x".into())).code(),
            "internal"
        );
    }
}
