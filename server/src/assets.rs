//! The viewer page, the login and dashboard pages and their assets (embedded at build time), the
//! landing page and `/healthz`, all with strict security headers.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

const VIEWER_HTML: &str = include_str!("../../web/index.html");
const VIEWER_JS: &str = include_str!("../../web/viewer.js");
const VIEWER_CSS: &str = include_str!("../../web/viewer.css");
const INPUT_JS: &str = include_str!("../../web/input.js");
const CHAT_JS: &str = include_str!("../../web/chat.js");
const VOICE_JS: &str = include_str!("../../web/voice.js");
const LOGIN_HTML: &str = include_str!("../../web/login.html");
const DASHBOARD_HTML: &str = include_str!("../../web/dashboard.html");
const DASHBOARD_JS: &str = include_str!("../../web/dashboard.js");
const DASHBOARD_CSS: &str = include_str!("../../web/dashboard.css");

/// No inline script or style anywhere: the CSP below forbids both.
const LANDING_HTML: &str = "<!doctype html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>Deskbeam</title>
<link rel=\"stylesheet\" href=\"/assets/viewer.css\">
</head>
<body>
<main>
<h1>Deskbeam</h1>
<p>This server relays Deskbeam screen shares. To watch a screen, open the viewer link the host
sent you (it looks like <code>/view#&hellip;</code>).</p>
</main>
</body>
</html>
";

pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| page("text/html; charset=utf-8", LANDING_HTML)))
        .route(
            "/view",
            get(|| page("text/html; charset=utf-8", VIEWER_HTML)),
        )
        .route(
            "/assets/viewer.js",
            get(|| page("text/javascript; charset=utf-8", VIEWER_JS)),
        )
        .route(
            "/assets/input.js",
            get(|| page("text/javascript; charset=utf-8", INPUT_JS)),
        )
        .route(
            "/assets/voice.js",
            get(|| page("text/javascript; charset=utf-8", VOICE_JS)),
        )
        .route(
            "/assets/chat.js",
            get(|| page("text/javascript; charset=utf-8", CHAT_JS)),
        )
        .route(
            "/assets/viewer.css",
            get(|| page("text/css; charset=utf-8", VIEWER_CSS)),
        )
        .route(
            "/login",
            get(|| page("text/html; charset=utf-8", LOGIN_HTML)),
        )
        .route(
            "/dashboard",
            get(|| page("text/html; charset=utf-8", DASHBOARD_HTML)),
        )
        .route(
            "/assets/dashboard.js",
            get(|| page("text/javascript; charset=utf-8", DASHBOARD_JS)),
        )
        .route(
            "/assets/dashboard.css",
            get(|| page("text/css; charset=utf-8", DASHBOARD_CSS)),
        )
        .route("/healthz", get(|| page("text/plain; charset=utf-8", "ok")))
        .layer(middleware::from_fn(security_headers))
}

async fn page(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
