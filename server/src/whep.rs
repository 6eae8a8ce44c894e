//! WHEP (draft-ietf-wish-whep) for viewers: `POST /whep` with an SDP offer and a link token,
//! `DELETE /whep/{id}` to leave; plus CORS and the link-expiry sweeper.
//!
//! Any standard WHEP player can watch with only the link token. Trickle ICE is not supported:
//! the agent returns a complete answer.
//!
//! ICE servers: the `201 Created` carries them as `Link: <url>; rel="ice-server"` headers (the
//! WHEP draft's way, for standard players, which learn them after their first offer), and
//! `GET /whep/ice-servers` returns them as JSON to a holder of a valid link token, so the Deskbeam
//! viewer configures its `RTCPeerConnection` before gathering. TURN credentials are minted per
//! request and expire on their own.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use deskbeam_proto::api::codes;
use deskbeam_proto::signal::ServerMessage;
use tracing::Instrument;

use crate::audit::{kinds, Event};
use crate::auth::{authorize_viewer, client_address, Viewer};
use crate::closing::deliver;
pub use crate::closing::{close_expired_viewers, run_expiry_sweeper, SWEEP_EVERY};
use crate::error::ApiError;
use crate::hub::{self, Hub, OfferError, OfferOutcome, OfferRequest};
use crate::state::AppState;
use crate::tokens::bearer_token;

/// Largest SDP offer accepted.
pub const MAX_OFFER_BYTES: usize = 64 * 1024;

const SDP: &str = "application/sdp";
static ACCEPT_POST: HeaderName = HeaderName::from_static("accept-post");

/// The `/whep` routes, with CORS on every response.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/whep", post(create_session).options(preflight))
        .route("/whep/ice-servers", get(ice_servers).options(preflight))
        .route(
            "/whep/{id}",
            delete(delete_session).patch(no_trickle).options(preflight),
        )
        .layer(middleware::from_fn(cors))
}

/// A plausibility check of an SDP offer (the agent does the real parsing).
pub use deskbeam_proto::sdp::{check_offer_sdp, SdpError};

/// True for `Content-Type: application/sdp`, parameters allowed.
pub fn is_sdp_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(SDP))
}

async fn read_offer(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<axum::body::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_OFFER_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    axum::body::to_bytes(body, MAX_OFFER_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)
}

/// `POST /whep`: route the viewer's offer to the host's agent and return its answer.
async fn create_session(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    if !is_sdp_content_type(&headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let offer = read_offer(&headers, body).await?;
    let address = client_address(&state, &headers, &parts.extensions);
    let viewer = authorize_viewer(&state, &headers, address.as_deref())?;
    let sdp = check_offer_sdp(&offer).map_err(|e| ApiError::BadSdp(e.to_string()))?;
    let viewer_id = uuid::Uuid::new_v4().simple().to_string();
    let span = tracing::info_span!(
        "viewer",
        %viewer_id,
        link_id = %viewer.link.id,
        host_id = %viewer.link.host_id,
    );
    let answer = negotiate(&state, &viewer, &viewer_id, sdp.to_string(), address)
        .instrument(span)
        .await?;
    let location = format!("/whep/{viewer_id}");
    let mut response = (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, SDP.to_string()),
            (header::LOCATION, location),
        ],
        answer,
    )
        .into_response();
    let servers = state.ice_servers(&format!("v-{viewer_id}"));
    add_ice_links(response.headers_mut(), &servers);
    Ok(response)
}

/// `GET /whep/ice-servers`: STUN/TURN servers with fresh TURN credentials, for a viewer holding
/// a valid link token (and its PIN), before it builds its `RTCPeerConnection`.
async fn ice_servers(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let address = client_address(&state, &parts.headers, &parts.extensions);
    let viewer = authorize_viewer(&state, &parts.headers, address.as_deref())?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    tracing::debug!(link_id = %viewer.link.id, "ICE servers issued to a viewer");
    let servers = state.ice_servers(&format!("v-{id}"));
    let mut response = (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(servers.clone()),
    )
        .into_response();
    add_ice_links(response.headers_mut(), &servers);
    Ok(response)
}

fn add_ice_links(headers: &mut HeaderMap, servers: &deskbeam_proto::ice::IceServerList) {
    for link in crate::turn::credentials::link_headers(servers) {
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.append(header::LINK, value);
        }
    }
}

/// Withdraws the offer if the request ends before the agent resolved it (timeout, client gone).
struct PendingGuard<'a> {
    hub: &'a Hub,
    viewer_id: &'a str,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Some(agent) = self.hub.cancel_offer(self.viewer_id) {
            tracing::info!("offer withdrawn before the agent answered");
            let _ = agent.try_send(hub::close_viewer(self.viewer_id, "offer withdrawn"));
        }
    }
}

async fn negotiate(
    state: &AppState,
    viewer: &Viewer,
    viewer_id: &str,
    sdp: String,
    address: Option<String>,
) -> Result<String, ApiError> {
    let link = &viewer.link;
    let request = OfferRequest {
        viewer_id: viewer_id.to_string(),
        host_id: link.host_id.clone(),
        link_id: link.id.clone(),
        max_viewers: link.max_viewers,
        expires_at: link.expires_at,
        scope: link.scope,
        address,
        since: state.now_unix(),
    };
    let routed = state.hub().begin_offer(&request).map_err(|e| match e {
        OfferError::HostOffline => ApiError::HostOffline,
        OfferError::LinkFull => ApiError::LinkFull,
    })?;
    let _guard = PendingGuard {
        hub: state.hub(),
        viewer_id,
    };
    let offer = ServerMessage::Offer {
        viewer_id: viewer_id.to_string(),
        sdp,
        scope: link.scope,
        link_id: link.id.clone(),
        link_token: viewer.token.clone(),
        expires_at: link.expires_at,
        ice_servers: state.ice_servers(&format!("a-{viewer_id}")).ice_servers,
    };
    let exchange = async {
        routed
            .agent
            .send(offer)
            .await
            .map_err(|_| ApiError::HostOffline)?;
        routed.outcome.await.map_err(|_| ApiError::HostOffline)
    };
    let outcome = tokio::time::timeout(state.offer_timeout(), exchange)
        .await
        .map_err(|_| {
            tracing::warn!("agent did not answer in time");
            ApiError::AgentTimeout
        })??;
    match outcome {
        OfferOutcome::Answer(answer) => {
            admit(state, viewer, viewer_id, request.address).await?;
            Ok(answer)
        }
        OfferOutcome::Rejected { code, .. } if code == codes::LINK_REVOKED => {
            Err(ApiError::LinkRevoked)
        }
        OfferOutcome::Rejected { code, .. } if code == codes::BAD_SDP => Err(ApiError::BadSdp(
            "the host could not use this offer".to_string(),
        )),
        OfferOutcome::Rejected { code, .. } => Err(ApiError::AgentRejected(code)),
        OfferOutcome::HostOffline => Err(ApiError::HostOffline),
    }
}

/// The agent answered: spend a single-use link (only the first viewer wins) and record the join.
async fn admit(
    state: &AppState,
    viewer: &Viewer,
    viewer_id: &str,
    address: Option<String>,
) -> Result<(), ApiError> {
    let link = &viewer.link;
    if link.single_use {
        if !state.store().mark_link_used(&link.id)? {
            tracing::info!("single-use link spent by a concurrent viewer");
            if let Some((_, Some(agent))) = state.hub().remove_viewer(viewer_id) {
                deliver(&agent, hub::close_viewer(viewer_id, "link already used")).await;
            }
            return Err(ApiError::LinkUsed);
        }
        state.audit(
            Event::new(kinds::LINK_USED)
                .actor("viewer")
                .host(&link.host_id)
                .link(&link.id)
                .viewer(viewer_id)
                .address(address.clone()),
        );
    }
    tracing::info!("viewer admitted");
    state.audit(
        Event::new(kinds::VIEWER_JOINED)
            .actor("viewer")
            .host(&link.host_id)
            .link(&link.id)
            .viewer(viewer_id)
            .address(address)
            .detail(serde_json::json!({ "scope": link.scope.as_str() })),
    );
    Ok(())
}

/// `DELETE /whep/{id}`: the viewer leaves. Needs the link token the session was opened with.
async fn delete_session(
    State(state): State<AppState>,
    Path(viewer_id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer_token(&headers)?;
    let claims = state.keys().verify_link(token, state.now_unix())?;
    let owned = state
        .hub()
        .viewer(&viewer_id)
        .is_some_and(|v| v.link_id == claims.jti);
    if !owned {
        return Err(ApiError::NotFound);
    }
    if let Some((viewer, agent)) = state.hub().remove_viewer(&viewer_id) {
        tracing::info!(viewer_id, link_id = %claims.jti, "viewer left");
        state.audit(
            Event::new(kinds::VIEWER_LEFT)
                .actor("viewer")
                .host(&viewer.host_id)
                .link(&viewer.link_id)
                .viewer(&viewer_id)
                .address(viewer.address)
                .detail(serde_json::json!({ "reason": "viewer left" })),
        );
        if let Some(agent) = agent {
            deliver(&agent, hub::close_viewer(&viewer_id, "viewer left")).await;
        }
    }
    Ok(StatusCode::OK)
}

/// `PATCH /whep/{id}`: trickle ICE is not supported.
async fn no_trickle() -> Response {
    let mut response = ApiError::MethodNotAllowed.into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("DELETE"));
    response
}

async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(ACCEPT_POST.clone(), HeaderValue::from_static(SDP))],
    )
        .into_response()
}

/// CORS for browsers on other origins: the link token travels in `Authorization`, never in
/// cookies, so a wildcard origin grants nothing extra.
async fn cors(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, PATCH, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, X-Deskbeam-Pin"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location, Link"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdp_plausibility() {
        let good =
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n";
        assert_eq!(check_offer_sdp(good.as_bytes()), Ok(good));
        assert_eq!(check_offer_sdp(&[0xff, 0xfe]), Err(SdpError::NotUtf8));
        assert_eq!(check_offer_sdp(b"hello"), Err(SdpError::NoVersion));
        assert_eq!(
            check_offer_sdp(b"v=0\r\nm=audio 9 RTP/AVP 0\r\n"),
            Err(SdpError::NoVideo)
        );
    }

    #[test]
    fn content_type_allows_parameters() {
        let mut h = HeaderMap::new();
        assert!(!is_sdp_content_type(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/SDP; charset=utf-8"),
        );
        assert!(is_sdp_content_type(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!is_sdp_content_type(&h));
    }
}
