//! The HTTP surface: every route, the 404/405 fallbacks, the per-request trace span and the
//! request deadline.

use axum::body::Body;
use axum::http::{header, HeaderValue, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::ApiError;
use crate::serve::REQUEST_TIMEOUT;
use crate::state::AppState;
use crate::{agent_ws, api, assets, whep};

/// The whole application, ready for `axum::serve` or `oneshot` tests.
pub fn app(state: AppState) -> Router {
    // The span names method and path only: no headers (Authorization) and no query string.
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<Body>| {
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    Router::new()
        .route("/api/agent", get(agent_ws::agent_socket))
        .merge(api::routes())
        .merge(whep::routes())
        .merge(assets::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(request_deadline))
        .layer(trace)
        .with_state(state)
}

/// Ends a request that takes longer than [`REQUEST_TIMEOUT`] (a body trickling in, say) with
/// `408 request_timeout`; the handler's future is dropped, which releases what it held.
async fn request_deadline(request: Request<Body>, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::info!("request timed out");
            let mut response = ApiError::RequestTimeout.into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}
