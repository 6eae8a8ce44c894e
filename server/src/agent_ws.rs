//! `GET /api/agent`: the agent's signaling WebSocket (driver around the [`Hub`](crate::hub::Hub)).
//!
//! One task reads frames and turns each into hub calls and replies; one writer task owns the
//! socket's sending half and drains an mpsc outbox, so nothing else ever touches the socket.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use deskbeam_proto::api::codes;
use deskbeam_proto::signal::{AgentMessage, LiveViewer, ServerMessage, MAX_FRAME_BYTES};
use deskbeam_proto::PROTOCOL_VERSION;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, Notify};
use tracing::Instrument;

use crate::audit::{self, kinds, Event, Throttle};
use crate::auth::authorize_host;
use crate::error::ApiError;
use crate::closing::{self, deliver};
use crate::hub::{self, ActiveViewer, AgentSender, OfferOutcome, Resolved};
use crate::links::LinkRequest;
use crate::state::AppState;
use crate::store::LinkRecord;
use deskbeam_proto::token::HostClaims;

/// Frames queued for one agent before senders wait.
const OUTBOX: usize = 64;
/// Initial read buffer of an agent's socket; it grows for larger frames (up to the limit).
const AGENT_READ_BUFFER: usize = 8 * 1024;
/// Time the agent has to say hello after the upgrade.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// The server pings this often…
const PING_EVERY: Duration = Duration::from_secs(30);
/// …and drops a connection silent for this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How often a connection re-checks that its host token was not revoked.
const TOKEN_RECHECK: Duration = Duration::from_secs(5);

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

/// The upgrade handler: authenticate first (401 JSON before any upgrade), then switch protocols.
pub async fn agent_socket(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let claims = match authorize_host(&state, &headers) {
        Ok(claims) => claims,
        Err(e) => return e.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return ApiError::BadRequest(rejection.body_text()).into_response(),
    };
    let span = tracing::info_span!("agent", host_id = %claims.sub);
    // Signaling frames are small (an SDP is a few KiB): a 128 KiB read buffer per connected
    // agent (the default) would be most of the server's memory with many agents.
    ws.read_buffer_size(AGENT_READ_BUFFER)
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| run_connection(socket, state, claims).instrument(span))
}

/// One registered agent connection, as the reader sees it.
struct Conn {
    state: AppState,
    host_id: String,
    /// Id of the host token the connection opened with (re-checked for revocation).
    jti: String,
    conn_id: u64,
    tx: AgentSender,
    /// Limits `input_rejected` audit rows per viewer.
    throttle: std::sync::Mutex<Throttle>,
}

async fn run_connection(socket: WebSocket, state: AppState, claims: HostClaims) {
    let HostClaims {
        sub: host_id, jti, ..
    } = claims;
    let (mut sink, mut stream) = socket.split();
    let hello = match handshake(&mut stream).await {
        Ok(hello) => hello,
        Err(Some(refusal)) => {
            tracing::info!("agent refused at hello");
            let _ = sink.send(text(&refusal)).await;
            let _ = sink.send(Message::Close(None)).await;
            return;
        }
        Err(None) => return,
    };
    let (tx, rx) = mpsc::channel(OUTBOX);
    let welcome = ServerMessage::Welcome {
        version: PROTOCOL_VERSION,
        host_id: host_id.clone(),
        link_public_key: state.keys().public_key_pem().to_string(),
    };
    // Queued before registering, so it is the first frame even if an offer races in.
    let _ = tx.try_send(welcome);
    let registration = state.hub().register(&host_id, &hello.session, tx.clone());
    tracing::info!(name = hello.name, conn_id = registration.conn_id, "agent connected");
    audit_left(&state, &host_id, registration.dropped, "agent restarted");
    let (done_tx, done_rx) = oneshot::channel();
    let writer = tokio::spawn(write_loop(sink, rx, done_rx).in_current_span());

    let conn = Conn {
        state,
        host_id,
        jti,
        conn_id: registration.conn_id,
        tx,
        throttle: std::sync::Mutex::new(Throttle::default()),
    };
    resume_viewers(&conn, &hello.viewers).await;
    let departure = read_loop(&conn, &mut stream, registration.kick).await;

    let hub = conn.state.hub();
    match departure {
        Departure::Revoked | Departure::Stopped => {
            let reason = if departure == Departure::Revoked { "host token revoked" } else { "sharing stopped" };
            audit_left(&conn.state, &conn.host_id, hub.forget(&conn.host_id, conn.conn_id), reason);
        }
        // Its viewers keep watching, detached, until this agent session reconnects or the grace ends.
        Departure::Lost => hub.unregister(&conn.host_id, conn.conn_id, conn.state.now_unix()),
    }
    drop(conn);
    let _ = done_tx.send(());
    let _ = writer.await;
    tracing::info!("agent disconnected");
}

/// Records viewers that ended with their agent session.
pub fn audit_left(state: &AppState, host_id: &str, viewers: Vec<(String, ActiveViewer)>, reason: &str) {
    for (viewer_id, v) in viewers {
        tracing::info!(%viewer_id, reason, "viewer ended with its agent");
        state.audit(
            Event::new(kinds::VIEWER_LEFT)
                .actor("server")
                .host(host_id)
                .link(v.link_id)
                .viewer(viewer_id)
                .address(v.address)
                .detail(serde_json::json!({ "reason": reason })),
        );
    }
}

/// Takes back the viewers the agent says it still streams to; closes those that ended meanwhile
/// or whose link no longer admits them.
async fn resume_viewers(conn: &Conn, live: &[LiveViewer]) {
    let hub = conn.state.hub();
    let outcome = hub.resume(&conn.host_id, conn.conn_id, live);
    if !outcome.resumed.is_empty() {
        tracing::info!(viewers = outcome.resumed.len(), "agent session resumed");
    }
    audit_left(&conn.state, &conn.host_id, outcome.gone, "left while the host was away");
    for viewer in outcome.closed {
        let reason = link_verdict(conn, &viewer).err().unwrap_or(closing::REASON_KICKED);
        deliver(&conn.tx, hub::close_viewer(&viewer.viewer_id, reason)).await;
    }
    for viewer in outcome.unknown {
        match link_verdict(conn, &viewer) {
            Ok(link) => {
                let active = ActiveViewer {
                    host_id: conn.host_id.clone(),
                    conn_id: conn.conn_id,
                    link_id: link.id,
                    expires_at: link.expires_at,
                    scope: link.scope,
                    address: None,
                    since: viewer.since,
                };
                if hub.adopt(&viewer.viewer_id, active) {
                    tracing::info!(viewer_id = %viewer.viewer_id, "viewer taken over after a server restart");
                }
            }
            Err(reason) => deliver(&conn.tx, hub::close_viewer(&viewer.viewer_id, reason)).await,
        }
    }
}

/// Whether a live viewer's link still admits it: `Err` is the reason to close it.
fn link_verdict(conn: &Conn, viewer: &LiveViewer) -> Result<LinkRecord, &'static str> {
    let link = match conn.state.store().get_link(&viewer.link_id) {
        Ok(Some(link)) if link.host_id == conn.host_id => link,
        Ok(_) => return Err("unknown link"),
        Err(e) => {
            tracing::warn!(error = %e, "could not check a resumed viewer's link; closing it");
            return Err("link unavailable");
        }
    };
    if link.is_revoked() {
        Err(closing::REASON_REVOKED)
    } else if link.expires_at <= conn.state.now_unix() {
        Err(closing::REASON_EXPIRED)
    } else {
        Ok(link)
    }
}

/// What a valid `hello` told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub name: String,
    pub session: String,
    pub viewers: Vec<LiveViewer>,
}

/// Waits for `Hello` with our protocol version. `Err(Some(frame))` is the refusal to send;
/// `Err(None)` means the peer left or stayed silent.
async fn handshake(stream: &mut Stream) -> Result<Hello, Option<ServerMessage>> {
    let first = loop {
        match tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => break t.as_str().to_string(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Binary(_)))) => break String::new(),
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => return Err(None),
            Err(_) => {
                tracing::info!("no hello in time");
                return Err(None);
            }
        }
    };
    check_hello(&first).map_err(Some)
}

/// The hello rule: the first frame must be a `Hello` of [`PROTOCOL_VERSION`]; anything else
/// means the peer does not speak this protocol version.
// The refusal is built once per connection attempt; boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub fn check_hello(frame: &str) -> Result<Hello, ServerMessage> {
    match AgentMessage::decode(frame) {
        Ok(AgentMessage::Hello {
            version,
            name,
            session,
            viewers,
            ..
        }) if version == PROTOCOL_VERSION => Ok(Hello {
            name,
            session,
            viewers,
        }),
        Ok(AgentMessage::Hello { version, .. }) => {
            tracing::info!(version, "agent speaks another protocol version");
            Err(version_mismatch(&format!(
                "server speaks protocol {PROTOCOL_VERSION}, agent {version}"
            )))
        }
        _ => Err(version_mismatch(&format!(
            "expected hello with protocol version {PROTOCOL_VERSION}"
        ))),
    }
}

fn version_mismatch(message: &str) -> ServerMessage {
    ServerMessage::Error {
        request_id: None,
        code: codes::VERSION_MISMATCH.to_string(),
        message: message.to_string(),
    }
}

fn bad_request(request_id: Option<u64>, message: &str) -> ServerMessage {
    ServerMessage::Error {
        request_id,
        code: codes::BAD_REQUEST.to_string(),
        message: message.to_string(),
    }
}

fn text(msg: &ServerMessage) -> Message {
    Message::Text(msg.to_json().into())
}

/// True while the connection's host token is still valid (not revoked from the CLI).
fn token_still_valid(conn: &Conn) -> bool {
    match conn.state.store().host_token_valid(&conn.jti) {
        Ok(Some(host_id)) => host_id == conn.host_id,
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "could not re-check the host token; keeping the connection");
            true
        }
    }
}

/// Why an agent connection ended.
#[derive(Debug, PartialEq, Eq)]
enum Departure {
    /// Dropped, silent, replaced or shut down: the agent may come back.
    Lost,
    /// The agent closed the connection: it stopped sharing, its viewers are gone.
    Stopped,
    /// Its host token was revoked: it may not come back.
    Revoked,
}

async fn read_loop(conn: &Conn, stream: &mut Stream, kick: Arc<Notify>) -> Departure {
    let mut recheck = tokio::time::interval(TOKEN_RECHECK);
    recheck.tick().await;
    let mut deadline = tokio::time::Instant::now() + IDLE_TIMEOUT;
    loop {
        let next = tokio::select! {
            _ = kick.notified() => {
                tracing::info!("connection closed by the server (replaced or shutting down)");
                return Departure::Lost;
            }
            _ = recheck.tick() => {
                if !token_still_valid(conn) {
                    tracing::warn!("host token revoked; closing the agent connection");
                    return Departure::Revoked;
                }
                continue;
            }
            next = tokio::time::timeout_at(deadline, stream.next()) => next,
        };
        deadline = tokio::time::Instant::now() + IDLE_TIMEOUT;
        let reply = match next {
            Err(_) => {
                tracing::warn!("agent silent for too long; dropping it");
                return Departure::Lost;
            }
            Ok(Some(Ok(Message::Close(_)))) => return Departure::Stopped,
            Ok(None) => return Departure::Lost,
            Ok(Some(Err(e))) => {
                tracing::info!(error = %e, "agent socket error");
                return Departure::Lost;
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => None,
            Ok(Some(Ok(Message::Binary(b)))) => {
                tracing::warn!(len = b.len(), "binary frame from agent ignored");
                Some(bad_request(None, "frames must be JSON text"))
            }
            Ok(Some(Ok(Message::Text(t)))) => match AgentMessage::decode(t.as_str()) {
                Ok(msg) => handle(conn, msg),
                Err(_) => {
                    // The content may carry anything (even a token): log only its size.
                    tracing::warn!(len = t.len(), "undecodable frame from agent");
                    Some(bad_request(None, "could not decode frame"))
                }
            },
        };
        if let Some(reply) = reply {
            if conn.tx.send(reply).await.is_err() {
                return Departure::Lost;
            }
        }
    }
}

/// Applies one agent message; returns the reply to send, if any.
fn handle(conn: &Conn, msg: AgentMessage) -> Option<ServerMessage> {
    let hub = conn.state.hub();
    match msg {
        AgentMessage::Hello { .. } => Some(bad_request(None, "hello was already received")),
        AgentMessage::Ping { nonce } => Some(ServerMessage::Pong { nonce }),
        AgentMessage::CreateLink {
            request_id,
            scope,
            ttl_secs,
            max_viewers,
        } => {
            let req = LinkRequest::basic(scope, ttl_secs, max_viewers);
            Some(create_link(conn, request_id, &req))
        }
        AgentMessage::Answer { viewer_id, sdp } => {
            let outcome = OfferOutcome::Answer(sdp);
            resolve(conn, &viewer_id, outcome)
        }
        AgentMessage::OfferRejected {
            viewer_id,
            code,
            message,
        } => {
            tracing::info!(viewer_id, code, message, "agent rejected an offer");
            resolve(conn, &viewer_id, OfferOutcome::Rejected { code, message })
        }
        AgentMessage::ViewerGone { viewer_id, reason } => {
            let gone = hub.viewer_gone(&conn.host_id, conn.conn_id, &viewer_id);
            tracing::info!(
                viewer_id,
                reason,
                known = gone.is_some(),
                "agent reports viewer gone"
            );
            if let Some(v) = gone {
                conn.state.audit(
                    Event::new(kinds::VIEWER_LEFT)
                        .actor(format!("host:{}", conn.host_id))
                        .host(&conn.host_id)
                        .link(v.link_id)
                        .viewer(viewer_id)
                        .address(v.address)
                        .detail(serde_json::json!({ "reason": clip(&reason) })),
                );
            }
            None
        }
        AgentMessage::Audit {
            event,
            viewer_id,
            detail,
        } => {
            record_agent_event(conn, event, viewer_id, &detail);
            None
        }
    }
}

/// At most this many characters of agent-supplied text reach the audit log.
const MAX_DETAIL_CHARS: usize = 500;

fn clip(text: &str) -> String {
    text.chars().take(MAX_DETAIL_CHARS).collect()
}

/// Records an agent's audit event; `input_rejected` at most once per viewer per 10 s. A viewer
/// id that is not one of this host's viewers is recorded as given but without a link.
fn record_agent_event(
    conn: &Conn,
    event: deskbeam_proto::signal::AuditKind,
    viewer_id: Option<String>,
    detail: &str,
) {
    let kind = audit::agent_kind(event);
    let now = conn.state.now_unix();
    if event == deskbeam_proto::signal::AuditKind::InputRejected {
        let key = viewer_id.clone().unwrap_or_default();
        let mut throttle = conn
            .throttle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !throttle.allow(&key, now) {
            return;
        }
    }
    tracing::info!(kind, viewer_id, "agent audit event");
    let mut e = Event::new(kind)
        .actor(format!("host:{}", conn.host_id))
        .host(&conn.host_id)
        .detail(serde_json::json!({ "detail": clip(detail) }));
    if let Some(id) = viewer_id {
        let viewer = conn.state.hub().viewer(&id);
        if let Some(v) = viewer.filter(|v| v.host_id == conn.host_id) {
            e = e.link(v.link_id).address(v.address);
        }
        e = e.viewer(clip(&id));
    }
    conn.state.audit(e);
}

fn create_link(conn: &Conn, request_id: u64, req: &LinkRequest) -> ServerMessage {
    let actor = format!("host:{}", conn.host_id);
    match conn.state.create_link(&conn.host_id, req, &actor) {
        Ok(link) => ServerMessage::LinkCreated {
            request_id,
            link_id: link.link_id,
            url: link.url,
            expires_at: link.expires_at,
        },
        Err(e) if e.is_bad_request() => bad_request(Some(request_id), &e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "could not create a link");
            ServerMessage::Error {
                request_id: Some(request_id),
                code: codes::INTERNAL.to_string(),
                message: "could not create the link".to_string(),
            }
        }
    }
}

fn resolve(conn: &Conn, viewer_id: &str, outcome: OfferOutcome) -> Option<ServerMessage> {
    match conn
        .state
        .hub()
        .resolve_offer(&conn.host_id, conn.conn_id, viewer_id, outcome)
    {
        Resolved::Delivered => None,
        Resolved::Abandoned => {
            tracing::info!(viewer_id, "viewer left before the answer arrived");
            Some(hub::close_viewer(viewer_id, "viewer went away"))
        }
        Resolved::Unknown => {
            tracing::warn!(viewer_id, "reply for an unknown or expired offer");
            None
        }
    }
}

/// Owns the sending half: drains the outbox in order, pings, and closes when told to.
async fn write_loop(
    mut sink: Sink,
    mut rx: mpsc::Receiver<ServerMessage>,
    mut done: oneshot::Receiver<()>,
) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            biased;
            msg = rx.recv() => match msg {
                Some(msg) => {
                    if sink.send(text(&msg)).await.is_err() {
                        return;
                    }
                }
                None => break,
            },
            _ = &mut done => {
                while let Ok(msg) = rx.try_recv() {
                    if sink.send(text(&msg)).await.is_err() {
                        return;
                    }
                }
                break;
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_rules() {
        let hello = |v: u32| {
            AgentMessage::Hello {
                version: v,
                name: "pc".into(),
                agent: "t".into(),
                session: "s1".into(),
                viewers: Vec::new(),
            }
            .to_json()
        };
        assert_eq!(
            check_hello(&hello(PROTOCOL_VERSION)).ok().map(|h| (h.name, h.session)),
            Some(("pc".to_string(), "s1".to_string()))
        );
        // An agent that predates sessions still gets in (and never resumes).
        let old = format!(r#"{{"type":"hello","version":{PROTOCOL_VERSION},"name":"pc","agent":"t"}}"#);
        assert_eq!(check_hello(&old).ok().map(|h| h.session), Some(String::new()));
        for frame in [
            hello(PROTOCOL_VERSION + 1),
            "garbage".to_string(),
            r#"{"type":"ping","nonce":1}"#.into(),
        ] {
            match check_hello(&frame) {
                Err(ServerMessage::Error { code, .. }) => assert_eq!(code, codes::VERSION_MISMATCH),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
