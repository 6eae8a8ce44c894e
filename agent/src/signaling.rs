//! The agent's one outbound WebSocket to the server, and the viewers it brokers.
//!
//! The connection is re-established with backoff when it drops; viewers already connected keep
//! streaming meanwhile (their media does not go through the server). The agent enforces link
//! expiry on its own clock, whatever the server does.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use deskbeam_proto::signal::{AgentMessage, LiveViewer, ServerMessage, ViewerId};
use deskbeam_proto::PROTOCOL_VERSION;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::auth::{now_unix, LinkVerifier};
use crate::audio::ViewerAudio;
use crate::chat::ChatService;
use crate::config::ShareConfig;
use crate::input::service::AuditEvent;
use crate::input::ControlService;
use crate::pipeline::FrameFeed;
use crate::transport::{answer_offer_with_audio, TransportError};

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
const PING_INTERVAL: Duration = Duration::from_secs(20);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Time for a closing notice to reach a viewer before its connection goes.
const CLOSE_GRACE: Duration = Duration::from_millis(150);

/// Things the agent tells its owner (the CLI prints them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    Connected { host_id: String },
    LinkCreated { url: String, expires_at: u64 },
    ViewerJoined { viewer_id: String, scope: String },
    ViewerLeft { viewer_id: String, reason: String },
    Disconnected { reason: String },
}

/// Errors that stop the agent (everything else is retried).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the server rejected the host token (HTTP {0}); create a new one with `deskbeam-server host-token`")]
    Unauthorized(u16),
    #[error("the server speaks protocol version {server}, this agent {PROTOCOL_VERSION}: {message}")]
    Version { server: String, message: String },
    #[error("the server refused to create a link: {0}")]
    Link(String),
}

/// Why one connection ended.
enum Ended {
    Shutdown,
    Retry(String),
    Fatal(AgentError),
}

/// A viewer the agent is streaming to.
struct Viewer {
    close: oneshot::Sender<String>,
    expires_at: u64,
    link_id: String,
    /// Unix seconds at which it joined.
    since: u64,
}

/// Internal messages from viewer tasks to the connection loop.
enum Internal {
    Send(AgentMessage),
    Joined { viewer_id: ViewerId, close: oneshot::Sender<String>, expires_at: u64, link_id: String },
    Gone { viewer_id: ViewerId, reason: String },
}

/// Runs the agent until `shutdown` resolves or a fatal error.
pub async fn run(
    config: ShareConfig,
    feed: FrameFeed,
    services: Services,
    audit: mpsc::UnboundedReceiver<AuditEvent>,
    events: mpsc::UnboundedSender<AgentEvent>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let mut state = AgentState {
        config,
        feed,
        control: services.control,
        chat: services.chat,
        audio: services.audio,
        events,
        viewers: HashMap::new(),
        link_created: false,
        next_request: 1,
        identity: None,
        session: uuid::Uuid::new_v4().simple().to_string(),
        connected: false,
    };
    let (internal_tx, mut internal_rx) = mpsc::unbounded_channel();
    // Control events go to the server's audit log (dropped while disconnected).
    let audit_tx = internal_tx.clone();
    tokio::spawn(async move {
        let mut audit = audit;
        while let Some((event, viewer_id, detail)) = audit.recv().await {
            if audit_tx.send(Internal::Send(AgentMessage::Audit { event, viewer_id, detail })).is_err() {
                break;
            }
        }
    });
    tokio::pin!(shutdown);
    let mut backoff = FIRST_BACKOFF;
    let result = loop {
        let ended = state.connection(&internal_tx, &mut internal_rx, &mut shutdown).await;
        if std::mem::take(&mut state.connected) {
            backoff = FIRST_BACKOFF; // it worked before: try again soon
        }
        match ended {
            Ended::Shutdown => break Ok(()),
            Ended::Fatal(e) => break Err(e),
            Ended::Retry(reason) => {
                let delay = jittered(backoff, random_u32());
                tracing::warn!(%reason, retry_in = ?delay, viewers = state.viewers.len(), "server connection lost");
                let _ = state.events.send(AgentEvent::Disconnected { reason });
                tokio::select! {
                    _ = &mut shutdown => break Ok(()),
                    _ = tokio::time::sleep(delay) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    };
    let leaving: Vec<ViewerId> = state.viewers.keys().cloned().collect();
    for id in leaving {
        state.end_viewer(&id, "sharing stopped");
    }
    // Let the closing notices reach the viewers before the runtime goes away.
    tokio::time::sleep(CLOSE_GRACE * 2).await;
    result
}

/// `backoff` spread over ±50%, so that agents cut off together do not come back together.
fn jittered(backoff: Duration, random: u32) -> Duration {
    let factor = 0.5 + f64::from(random) / f64::from(u32::MAX);
    backoff.mul_f64(factor)
}

fn random_u32() -> u32 {
    let b = *uuid::Uuid::new_v4().as_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

struct AgentState {
    config: ShareConfig,
    /// This run's id, sent in every `hello`: the server resumes our viewers when we reconnect.
    session: String,
    /// Set once a connection got its `welcome` (the backoff starts over).
    connected: bool,
    feed: FrameFeed,
    control: ControlService,
    chat: ChatService,
    audio: ViewerAudio,
    /// Host id and the server's link-signing key, from `welcome`.
    identity: Option<(String, LinkVerifier)>,
    events: mpsc::UnboundedSender<AgentEvent>,
    viewers: HashMap<ViewerId, Viewer>,
    link_created: bool,
    next_request: u64,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl AgentState {
    async fn connect(&self) -> Result<(Ws, String, String), Ended> {
        let mut request = self.config.agent_url().as_str().into_client_request().map_err(|e| Ended::Retry(e.to_string()))?;
        let auth = HeaderValue::from_str(&format!("Bearer {}", self.config.token))
            .map_err(|_| Ended::Fatal(AgentError::Unauthorized(0)))?;
        request.headers_mut().insert("authorization", auth);
        let ws_config = WebSocketConfig::default().max_message_size(Some(deskbeam_proto::signal::MAX_FRAME_BYTES));
        let (mut ws, _) = match tokio_tungstenite::connect_async_with_config(request, Some(ws_config), true).await {
            Ok(ok) => ok,
            Err(WsError::Http(resp)) if matches!(resp.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                return Err(Ended::Fatal(AgentError::Unauthorized(resp.status().as_u16())));
            }
            Err(e) => return Err(Ended::Retry(format!("cannot reach {}: {e}", self.config.server))),
        };
        let hello = AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            name: self.config.name.clone(),
            agent: concat!("deskbeam-agent/", env!("CARGO_PKG_VERSION")).into(),
            session: self.session.clone(),
            viewers: self.live_viewers(),
        };
        ws.send(Message::text(hello.to_json())).await.map_err(|e| Ended::Retry(e.to_string()))?;
        let welcome = tokio::time::timeout(HELLO_TIMEOUT, next_server_message(&mut ws))
            .await
            .map_err(|_| Ended::Retry("no welcome from the server".into()))?;
        match welcome {
            Some(ServerMessage::Welcome { host_id, link_public_key, .. }) => Ok((ws, host_id, link_public_key)),
            Some(ServerMessage::Error { code, message, .. }) if code == "version_mismatch" => {
                Err(Ended::Fatal(AgentError::Version { server: "another".into(), message }))
            }
            Some(ServerMessage::Error { code, message, .. }) => Err(Ended::Retry(format!("{code}: {message}"))),
            Some(other) => Err(Ended::Retry(format!("unexpected first message {other:?}"))),
            None => Err(Ended::Retry("connection closed during hello".into())),
        }
    }

    /// The viewers we stream to, for the server to take back after a reconnection.
    fn live_viewers(&self) -> Vec<LiveViewer> {
        let mut live: Vec<LiveViewer> = self
            .viewers
            .iter()
            .map(|(id, v)| LiveViewer { viewer_id: id.clone(), link_id: v.link_id.clone(), since: v.since })
            .collect();
        live.sort_by(|a, b| (a.since, &a.viewer_id).cmp(&(b.since, &b.viewer_id)));
        live
    }

    async fn connection(
        &mut self,
        internal_tx: &mpsc::UnboundedSender<Internal>,
        internal_rx: &mut mpsc::UnboundedReceiver<Internal>,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Ended {
        let (mut ws, host_id, public_key) = tokio::select! {
            r = self.connect() => match r { Ok(ok) => ok, Err(e) => return e },
            _ = &mut *shutdown => return Ended::Shutdown,
        };
        match LinkVerifier::from_public_pem(&public_key) {
            Ok(v) => self.identity = Some((host_id.clone(), v)),
            Err(e) => return Ended::Retry(format!("unusable server key: {e}")),
        }
        self.connected = true;
        tracing::info!(%host_id, server = %self.config.server, viewers = self.viewers.len(), "connected to the server");
        let _ = self.events.send(AgentEvent::Connected { host_id });
        if !self.link_created {
            let request = self.create_link_request();
            if let Err(e) = ws.send(Message::text(request.to_json())).await {
                return Ended::Retry(e.to_string());
            }
        }
        let mut ping = tokio::time::interval(PING_INTERVAL);
        let mut expiry = tokio::time::interval(Duration::from_secs(1));
        loop {
            let outgoing = tokio::select! {
                _ = &mut *shutdown => {
                    let _ = ws.close(None).await;
                    return Ended::Shutdown;
                }
                msg = next_server_message(&mut ws) => match msg {
                    Some(msg) => match self.on_server_message(msg, internal_tx) {
                        Ok(reply) => reply,
                        Err(ended) => return ended,
                    },
                    None => return Ended::Retry("the server closed the connection".into()),
                },
                Some(internal) = internal_rx.recv() => self.on_internal(internal),
                _ = ping.tick() => Some(AgentMessage::Ping { nonce: now_unix() }),
                _ = expiry.tick() => { self.expire_viewers(); None }
            };
            if let Some(msg) = outgoing {
                if let Err(e) = ws.send(Message::text(msg.to_json())).await {
                    return Ended::Retry(e.to_string());
                }
            }
        }
    }

    fn create_link_request(&mut self) -> AgentMessage {
        let request_id = self.next_request;
        self.next_request += 1;
        AgentMessage::CreateLink {
            request_id,
            scope: self.config.scope,
            ttl_secs: self.config.ttl.as_secs().max(1),
            max_viewers: self.config.max_viewers,
        }
    }

    fn on_server_message(&mut self, msg: ServerMessage, internal_tx: &mpsc::UnboundedSender<Internal>) -> Result<Option<AgentMessage>, Ended> {
        match msg {
            ServerMessage::LinkCreated { url, expires_at, .. } => {
                self.link_created = true;
                let _ = self.events.send(AgentEvent::LinkCreated { url, expires_at });
            }
            ServerMessage::Offer { viewer_id, sdp, link_id, link_token, ice_servers, .. } => {
                // Our own check of the viewer's token: the server's word is not enough.
                let claims = match &self.identity {
                    Some((host_id, verifier)) => verifier.verify(&link_token, host_id, &link_id),
                    None => Err(crate::auth::LinkCheckError::BadKey),
                };
                let claims = match claims {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(%viewer_id, error = %e, "refusing an offer whose link token does not check out");
                        let code = if e == crate::auth::LinkCheckError::Expired { "token_expired" } else { "invalid_token" };
                        return Ok(Some(AgentMessage::OfferRejected { viewer_id, code: code.into(), message: e.to_string() }));
                    }
                };
                let _ = self.events.send(AgentEvent::ViewerJoined { viewer_id: viewer_id.clone(), scope: claims.scope.to_string() });
                let name = viewer_name(claims.label.as_deref(), &viewer_id);
                let viewer = NewViewer {
                    viewer_id,
                    link_id,
                    sdp,
                    expires_at: claims.exp,
                    may_control: claims.scope == deskbeam_proto::Scope::Control,
                    name,
                };
                let services = Services { control: self.control.clone(), chat: self.chat.clone(), audio: self.audio.clone() };
                let transport = crate::transport::TransportConfig { ice_servers, ..self.config.transport.clone() };
                spawn_viewer(viewer, self.feed.clone(), transport, services, internal_tx.clone());
            }
            ServerMessage::CloseViewer { viewer_id, reason } => self.end_viewer(&viewer_id, &reason),
            ServerMessage::Error { request_id: Some(_), code, message } if !self.link_created => {
                return Err(Ended::Fatal(AgentError::Link(format!("{code}: {message}"))));
            }
            ServerMessage::Error { code, message, .. } => tracing::warn!(%code, %message, "server reported an error"),
            ServerMessage::Welcome { .. } | ServerMessage::Pong { .. } => {}
        }
        Ok(None)
    }

    fn on_internal(&mut self, internal: Internal) -> Option<AgentMessage> {
        match internal {
            Internal::Send(msg) => Some(msg),
            Internal::Joined { viewer_id, close, expires_at, link_id } => {
                self.viewers.insert(viewer_id, Viewer { close, expires_at, link_id, since: now_unix() });
                None
            }
            Internal::Gone { viewer_id, reason } => {
                self.viewers.remove(&viewer_id);
                let _ = self.events.send(AgentEvent::ViewerLeft { viewer_id: viewer_id.clone(), reason: reason.clone() });
                Some(AgentMessage::ViewerGone { viewer_id, reason })
            }
        }
    }

    fn expire_viewers(&mut self) {
        let now = now_unix();
        let expired: Vec<ViewerId> = self.viewers.iter().filter(|(_, v)| v.expires_at <= now).map(|(id, _)| id.clone()).collect();
        for id in expired {
            tracing::info!(viewer_id = %id, "link expired; ending the viewer");
            self.end_viewer(&id, "link expired");
        }
    }

    /// Tells the viewer why (on its input channel), then closes its connection shortly after.
    fn end_viewer(&mut self, viewer_id: &str, reason: &str) {
        let Some(v) = self.viewers.remove(viewer_id) else { return };
        self.control.closing(viewer_id, reason);
        let reason = reason.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(CLOSE_GRACE).await;
            let _ = v.close.send(reason);
        });
    }
}

/// An offer the agent has accepted, with what the verified token allows.
struct NewViewer {
    viewer_id: ViewerId,
    link_id: String,
    sdp: String,
    expires_at: u64,
    may_control: bool,
    /// What the host and other viewers call it: its link's label, else a short id.
    name: String,
}

/// The name a viewer goes by (in chat and in the host's prompts).
fn viewer_name(label: Option<&str>, viewer_id: &str) -> String {
    match label.map(str::trim).filter(|l| !l.is_empty()) {
        Some(label) => label.to_string(),
        None => format!("viewer {}", viewer_id.chars().take(6).collect::<String>()),
    }
}

/// What serves each viewer besides the screen: control and chat on its data channels, the
/// host's audio (if any) on an audio track.
#[derive(Clone)]
pub struct Services {
    pub control: ControlService,
    pub chat: ChatService,
    pub audio: ViewerAudio,
}

/// Answers one offer off the connection loop, then reports the viewer's end.
fn spawn_viewer(viewer: NewViewer, feed: FrameFeed, transport: crate::transport::TransportConfig, services: Services, tx: mpsc::UnboundedSender<Internal>) {
    let NewViewer { viewer_id, link_id, sdp, expires_at, may_control, name } = viewer;
    let Services { control, chat, audio } = services;
    tokio::spawn(async move {
        match answer_offer_with_audio(&sdp, feed, audio, &transport).await {
            Ok((answer, mut conn)) => {
                let Some(close) = conn.take_close() else { return };
                let mut channels = std::mem::replace(&mut conn.channels, mpsc::unbounded_channel().1);
                let id = viewer_id.clone();
                tokio::spawn(async move {
                    while let Some(channel) = channels.recv().await {
                        let label = channel.label().await.unwrap_or_default();
                        let (id, name) = (id.clone(), name.clone());
                        if label == deskbeam_proto::input::INPUT_CHANNEL {
                            let control = control.clone();
                            tokio::spawn(async move { control.serve(channel, id, name, may_control).await });
                        } else if label == deskbeam_proto::chat::CHAT_CHANNEL {
                            let chat = chat.clone();
                            tokio::spawn(async move { chat.serve(channel, id, name).await });
                        }
                    }
                });
                let _ = tx.send(Internal::Joined { viewer_id: viewer_id.clone(), close, expires_at, link_id });
                let _ = tx.send(Internal::Send(AgentMessage::Answer { viewer_id: viewer_id.clone(), sdp: answer }));
                let reason = conn.ended.await.unwrap_or_else(|_| "ended".into());
                let _ = tx.send(Internal::Gone { viewer_id, reason });
            }
            Err(e) => {
                tracing::warn!(%viewer_id, error = %e, "cannot answer a viewer's offer");
                let code = match e {
                    TransportError::BadOffer(_) | TransportError::Negotiation(_) => "bad_sdp",
                    TransportError::Setup(_) => "internal",
                };
                let _ = tx.send(Internal::Send(AgentMessage::OfferRejected { viewer_id, code: code.into(), message: e.to_string() }));
            }
        }
    });
}

/// The next decodable message from the server, skipping (and logging) anything malformed.
/// `None` when the connection is gone.
async fn next_server_message(ws: &mut Ws) -> Option<ServerMessage> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(text)) => match ServerMessage::decode(text.as_str()) {
                Ok(msg) => return Some(msg),
                Err(e) => tracing::warn!(error = %e, "ignoring a malformed message from the server"),
            },
            Ok(Message::Close(_)) => return None,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "server connection error");
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_spread_around_its_value() {
        let base = Duration::from_secs(4);
        assert_eq!(jittered(base, 0), Duration::from_secs(2));
        assert_eq!(jittered(base, u32::MAX), Duration::from_secs(6));
        let mid = jittered(base, u32::MAX / 2);
        assert!(mid > Duration::from_millis(3900) && mid < Duration::from_millis(4100), "{mid:?}");
    }

    #[test]
    fn viewer_names_come_from_the_label() {
        assert_eq!(viewer_name(Some("  Ana "), "abcdef123"), "Ana");
        assert_eq!(viewer_name(Some(" "), "abcdef123"), "viewer abcdef");
        assert_eq!(viewer_name(None, "ab"), "viewer ab");
    }
}
