//! A fake agent that speaks the real signaling protocol over the real WebSocket, with no screen,
//! encoder or WebRTC stack: `hello` → `welcome`, `create_link` → `link_created`, then it answers
//! every `offer` with a syntactically valid SDP answer derived from the offer. The server only
//! relays SDP, so this is all it needs to negotiate. Used by the load generator and the hostile
//! input tests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deskbeam_proto::signal::{AgentMessage, ServerMessage};
use deskbeam_proto::{Scope, PROTOCOL_VERSION};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The agent's WebSocket to the server.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest wait for any one server reply during setup.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens `GET /api/agent` with a host token (no hello sent yet).
pub async fn open_socket(addr: SocketAddr, host_token: &str) -> anyhow::Result<Socket> {
    let mut request = format!("ws://{addr}/api/agent").into_client_request()?;
    request.headers_mut().insert("Authorization", HeaderValue::from_str(&format!("Bearer {host_token}"))?);
    let (socket, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(socket)
}

/// Sends one signaling message.
pub async fn send(socket: &mut Socket, message: &AgentMessage) -> anyhow::Result<()> {
    socket.send(Message::text(message.to_json())).await?;
    Ok(())
}

/// The next signaling message from the server (WebSocket pings are answered by the library).
pub async fn receive(socket: &mut Socket) -> anyhow::Result<ServerMessage> {
    loop {
        let frame = tokio::time::timeout(REPLY_TIMEOUT, socket.next())
            .await
            .map_err(|_| anyhow::anyhow!("no frame from the server within {REPLY_TIMEOUT:?}"))?
            .ok_or_else(|| anyhow::anyhow!("the server closed the connection"))??;
        match frame {
            Message::Text(text) => return Ok(ServerMessage::decode(text.as_str())?),
            Message::Close(close) => anyhow::bail!("the server closed the connection: {close:?}"),
            _ => continue,
        }
    }
}

/// A connected fake agent with one view link, answering offers on its own task.
pub struct FakeAgent {
    /// The token of its viewer link (what a WHEP client sends as bearer).
    pub link_token: String,
    offers: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeAgent {
    /// Connects, says hello, creates a link for `max_viewers` and starts answering offers.
    pub async fn connect(addr: SocketAddr, host_token: &str, max_viewers: u32) -> anyhow::Result<Self> {
        let mut socket = open_socket(addr, host_token).await?;
        let hello = AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            name: "load".into(),
            agent: "deskbeam-tests".into(),
            session: new_session_id(),
            viewers: Vec::new(),
        };
        send(&mut socket, &hello).await?;
        match receive(&mut socket).await? {
            ServerMessage::Welcome { .. } => {}
            other => anyhow::bail!("expected welcome, got {other:?}"),
        }
        let create = AgentMessage::CreateLink { request_id: 1, scope: Scope::View, ttl_secs: 3600, max_viewers };
        send(&mut socket, &create).await?;
        let link_token = loop {
            match receive(&mut socket).await? {
                ServerMessage::LinkCreated { url, .. } => break token_of(&url)?,
                ServerMessage::Error { code, message, .. } => anyhow::bail!("create_link refused: {code}: {message}"),
                _ => continue,
            }
        };
        let offers = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(answer_offers(socket, offers.clone()));
        Ok(Self { link_token, offers, task })
    }

    /// Offers answered so far.
    pub fn offers_answered(&self) -> u64 {
        self.offers.load(Ordering::Relaxed)
    }

    /// Is the signaling connection still open?
    pub fn is_connected(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A session id unique to this fake agent run.
fn new_session_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("fake-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn token_of(url: &str) -> anyhow::Result<String> {
    crate::whep::token_from_link(url).map(str::to_string).ok_or_else(|| anyhow::anyhow!("no token in the link"))
}

async fn answer_offers(mut socket: Socket, offers: Arc<AtomicU64>) {
    while let Some(Ok(frame)) = socket.next().await {
        let Message::Text(text) = frame else { continue };
        let Ok(ServerMessage::Offer { viewer_id, sdp, .. }) = ServerMessage::decode(text.as_str()) else { continue };
        let answer = AgentMessage::Answer { viewer_id, sdp: answer_for(&sdp) };
        if send(&mut socket, &answer).await.is_err() {
            return;
        }
        offers.fetch_add(1, Ordering::Relaxed);
    }
}

/// A syntactically valid answer to `offer`: the same media sections, in order, each accepting
/// its first format, send-only, with this side's ICE credentials, fingerprint and one host
/// candidate.
pub fn answer_for(offer: &str) -> String {
    let mut answer = String::from("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    let mut mids = Vec::new();
    let mut sections = String::new();
    for line in offer.lines() {
        if let Some(media) = line.strip_prefix("m=") {
            let fields: Vec<&str> = media.split_whitespace().collect();
            let (kind, proto, format) = match fields.as_slice() {
                [kind, _port, proto, format, ..] => (*kind, *proto, *format),
                _ => continue,
            };
            sections.push_str(&format!(
                "m={kind} 9 {proto} {format}\r\nc=IN IP4 127.0.0.1\r\na=ice-ufrag:fake\r\na=ice-pwd:fakefakefakefakefakefake\r\n\
                 a=fingerprint:sha-256 {FINGERPRINT}\r\na=setup:active\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"
            ));
            if kind != "application" {
                sections.push_str("a=sendonly\r\na=rtcp-mux\r\n");
            }
        } else if let Some(mid) = line.strip_prefix("a=mid:") {
            sections.push_str(&format!("a=mid:{mid}\r\n"));
            mids.push(mid.to_string());
        }
    }
    if !mids.is_empty() {
        answer.push_str(&format!("a=group:BUNDLE {}\r\n", mids.join(" ")));
    }
    answer.push_str(&sections);
    answer
}

const FINGERPRINT: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

/// A WHEP offer as a browser would send it (video receive-only and the `input` data channel);
/// `n` makes its ICE credentials unique.
pub fn viewer_offer(n: u64) -> String {
    format!(
        "v=0\r\no=- {n} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
         m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtcp-mux\r\n\
         a=ice-ufrag:u{n:x}\r\na=ice-pwd:p{n:x}pppppppppppppppppppppp\r\na=fingerprint:sha-256 {FINGERPRINT}\r\na=setup:actpass\r\n\
         a=rtpmap:96 H264/90000\r\na=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
         m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sctp-port:5000\r\n\
         a=ice-ufrag:u{n:x}\r\na=ice-pwd:p{n:x}pppppppppppppppppppppp\r\na=fingerprint:sha-256 {FINGERPRINT}\r\na=setup:actpass\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_mirrors_the_offers_sections() {
        let answer = answer_for(&viewer_offer(7));
        assert!(answer.starts_with("v=0\r\n"), "{answer}");
        assert!(answer.contains("a=group:BUNDLE 0 1\r\n"), "{answer}");
        assert!(answer.contains("m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"), "{answer}");
        assert!(answer.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"), "{answer}");
        assert_eq!(answer.matches("a=setup:active").count(), 2);
    }
}
