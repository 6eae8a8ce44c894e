//! Revocation, kick, single use and agent audit events over real sockets: a served instance on
//! 127.0.0.1:0, a fake agent (tokio-tungstenite) and raw HTTP/1.1 clients.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{fixture, state_with_clock, Fixture, TestResult, ANSWER, OFFER};
use deskbeam_proto::signal::{AgentMessage, AuditKind, ServerMessage};
use deskbeam_proto::PROTOCOL_VERSION;
use deskbeam_server::AppState;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Server {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn start(state: &AppState) -> TestResult<Server> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    tokio::spawn(deskbeam_server::serve(listener, state.clone(), shutdown));
    Ok(Server { addr, _stop: stop })
}

async fn send(ws: &mut Ws, msg: &AgentMessage) -> TestResult {
    ws.send(Message::text(msg.to_json())).await?;
    Ok(())
}

/// The next signaling frame within `wait`.
async fn next_frame(ws: &mut Ws, wait: Duration) -> TestResult<ServerMessage> {
    loop {
        match tokio::time::timeout(wait, ws.next()).await? {
            Some(Ok(Message::Text(t))) => return Ok(ServerMessage::decode(t.as_str())?),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => return Err(format!("unexpected {other:?}").into()),
        }
    }
}

async fn agent(server: &Server, f: &Fixture) -> TestResult<Ws> {
    let mut request = format!("ws://{}/api/agent", server.addr).into_client_request()?;
    let bearer = format!("Bearer {}", f.host_token);
    request
        .headers_mut()
        .insert("authorization", bearer.parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    let hello = AgentMessage::Hello {
        version: PROTOCOL_VERSION,
        name: "pc".into(),
        agent: "fake".into(),
        session: "session-1".into(),
        viewers: Vec::new(),
    };
    send(&mut ws, &hello).await?;
    match next_frame(&mut ws, Duration::from_secs(5)).await? {
        ServerMessage::Welcome { .. } => Ok(ws),
        other => Err(format!("expected welcome, got {other:?}").into()),
    }
}

/// A raw HTTP/1.1 reply: status and body.
struct Http {
    status: u16,
    body: String,
}

async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &str,
) -> TestResult<Http> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        let len = body.len();
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {len}\r\n"
        ));
    }
    stream
        .write_all(format!("{head}\r\n{body}").as_bytes())
        .await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await??;
    let text = String::from_utf8(raw)?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let status = head.split(' ').nth(1).ok_or("no status")?.parse()?;
    Ok(Http {
        status,
        body: body.to_string(),
    })
}

/// Starts a viewer's WHEP POST; the agent answers it. Returns the viewer id and the reply.
async fn admit(server: &Server, ws: &mut Ws, token: &str) -> TestResult<(String, Http)> {
    let (addr, bearer) = (server.addr, format!("Bearer {token}"));
    let post = tokio::spawn(async move {
        http(
            addr,
            "POST",
            "/whep",
            &[("Authorization", &bearer)],
            "application/sdp",
            OFFER,
        )
        .await
    });
    let viewer_id = match next_frame(ws, Duration::from_secs(5)).await? {
        ServerMessage::Offer { viewer_id, .. } => viewer_id,
        other => return Err(format!("expected offer, got {other:?}").into()),
    };
    let answer = AgentMessage::Answer {
        viewer_id: viewer_id.clone(),
        sdp: ANSWER.into(),
    };
    send(ws, &answer).await?;
    Ok((viewer_id, post.await??))
}

/// Waits (at most 2 s) for `CloseViewer` and returns (viewer id, reason, time taken).
async fn expect_close(ws: &mut Ws) -> TestResult<(String, String, Duration)> {
    let started = Instant::now();
    match next_frame(ws, Duration::from_secs(2)).await? {
        ServerMessage::CloseViewer { viewer_id, reason } => {
            Ok((viewer_id, reason, started.elapsed()))
        }
        other => Err(format!("expected close_viewer, got {other:?}").into()),
    }
}

#[tokio::test]
async fn revoking_a_link_closes_its_viewers_within_2_s() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 600, 2)?;
    let server = start(&state).await?;
    let mut ws = agent(&server, &f).await?;
    let (viewer_id, reply) = admit(&server, &mut ws, &f.link.token).await?;
    assert_eq!(reply.status, 201, "{}", reply.body);

    let bearer = format!("Bearer {}", f.host_token);
    let auth = [("Authorization", bearer.as_str())];
    let listed = http(server.addr, "GET", "/api/viewers", &auth, "", "").await?;
    let listed: serde_json::Value = serde_json::from_str(&listed.body)?;
    assert_eq!(listed["viewers"][0]["id"], viewer_id.as_str());
    assert_eq!(listed["viewers"][0]["address"], "127.0.0.1");
    assert_eq!(listed["viewers"][0]["link_id"], f.link.link_id.as_str());

    let path = format!("/api/links/{}", f.link.link_id);
    let revoked = http(server.addr, "DELETE", &path, &auth, "", "").await?;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let (closed, reason, took) = expect_close(&mut ws).await?;
    assert_eq!(
        (closed.as_str(), reason.as_str()),
        (viewer_id.as_str(), "link revoked")
    );
    assert!(took < Duration::from_secs(2));
    assert!(state.hub().viewer(&viewer_id).is_none());
    let kinds: Vec<String> = state
        .store()
        .list_audit(0, 100)?
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in [
        "link_created",
        "viewer_joined",
        "link_revoked",
        "viewer_left",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing in {kinds:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn kicking_a_viewer_closes_only_that_viewer() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 600, 2)?;
    let server = start(&state).await?;
    let mut ws = agent(&server, &f).await?;
    let (first, _) = admit(&server, &mut ws, &f.link.token).await?;
    let (second, _) = admit(&server, &mut ws, &f.link.token).await?;
    let bearer = format!("Bearer {}", f.host_token);
    let path = format!("/api/viewers/{first}");
    let kicked = http(
        server.addr,
        "DELETE",
        &path,
        &[("Authorization", &bearer)],
        "",
        "",
    )
    .await?;
    assert_eq!(kicked.status, 200, "{}", kicked.body);
    let (closed, reason, _) = expect_close(&mut ws).await?;
    assert_eq!(
        (closed, reason.as_str()),
        (first.clone(), "removed by the host")
    );
    assert!(state.hub().viewer(&first).is_none());
    assert!(state.hub().viewer(&second).is_some());
    let again = http(
        server.addr,
        "DELETE",
        &path,
        &[("Authorization", &bearer)],
        "",
        "",
    )
    .await?;
    assert_eq!(again.status, 404);
    Ok(())
}

#[tokio::test]
async fn a_single_use_link_admits_one_viewer_then_link_used() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 600, 1)?;
    let server = start(&state).await?;
    let mut ws = agent(&server, &f).await?;
    let bearer = format!("Bearer {}", f.host_token);
    let body = json!({ "ttl_secs": 600, "scope": "view", "max_viewers": 5, "single_use": true });
    let created = http(
        server.addr,
        "POST",
        "/api/links",
        &[("Authorization", &bearer)],
        "application/json",
        &body.to_string(),
    )
    .await?;
    assert_eq!(created.status, 201, "{}", created.body);
    let created: serde_json::Value = serde_json::from_str(&created.body)?;
    let url = created["url"].as_str().ok_or("no url")?;
    let token = url.rsplit('#').next().ok_or("no token")?;
    let (viewer_id, reply) = admit(&server, &mut ws, token).await?;
    assert_eq!(reply.status, 201);
    let second = http(
        server.addr,
        "POST",
        "/whep",
        &[("Authorization", &format!("Bearer {token}"))],
        "application/sdp",
        OFFER,
    )
    .await?;
    assert_eq!(second.status, 401);
    assert!(second.body.contains("link_used"), "{}", second.body);
    let events = state.store().list_audit(0, 100)?;
    let used = events
        .iter()
        .find(|e| e.kind == "link_used")
        .ok_or("not audited")?;
    assert_eq!(used.viewer_id.as_deref(), Some(viewer_id.as_str()));
    Ok(())
}

/// A ping's pong proves the frames sent before it were handled.
async fn sync(ws: &mut Ws, nonce: u64) -> TestResult {
    send(ws, &AgentMessage::Ping { nonce }).await?;
    assert_eq!(
        next_frame(ws, Duration::from_secs(5)).await?,
        ServerMessage::Pong { nonce }
    );
    Ok(())
}

#[tokio::test]
async fn agent_audit_events_are_recorded_and_input_rejected_is_throttled() -> TestResult {
    let (state, clock) = state_with_clock()?;
    let f = fixture(&state, 600, 1)?;
    let server = start(&state).await?;
    let mut ws = agent(&server, &f).await?;
    let (viewer_id, _) = admit(&server, &mut ws, &f.link.token).await?;
    let event = |event| AgentMessage::Audit {
        event,
        viewer_id: Some(viewer_id.clone()),
        detail: "x".into(),
    };
    send(&mut ws, &event(AuditKind::ControlGranted)).await?;
    for _ in 0..5 {
        send(&mut ws, &event(AuditKind::InputRejected)).await?;
    }
    sync(&mut ws, 1).await?;
    clock.advance(10);
    send(&mut ws, &event(AuditKind::InputRejected)).await?;
    send(
        &mut ws,
        &AgentMessage::ViewerGone {
            viewer_id: viewer_id.clone(),
            reason: "closed".into(),
        },
    )
    .await?;
    sync(&mut ws, 2).await?;
    let events = state.store().list_audit(0, 100)?;
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count("control_granted"), 1);
    assert_eq!(count("input_rejected"), 2, "one per viewer per 10 s");
    assert_eq!(count("viewer_left"), 1);
    let granted = events
        .iter()
        .find(|e| e.kind == "control_granted")
        .ok_or("missing")?;
    assert_eq!(granted.link_id.as_deref(), Some(f.link.link_id.as_str()));
    assert_eq!(
        granted.actor.as_deref(),
        Some(format!("host:{}", f.host_id).as_str())
    );
    Ok(())
}

#[tokio::test]
async fn revoking_the_host_token_ends_a_live_agent_connection() -> TestResult {
    let (state, _) = state_with_clock()?;
    let f = fixture(&state, 600, 1)?;
    let server = start(&state).await?;
    let mut ws = agent(&server, &f).await?;
    let (viewer_id, _) = admit(&server, &mut ws, &f.link.token).await?;
    let claims = state.keys().verify_host(&f.host_token)?;
    assert!(state.store().revoke_host_token(&claims.jti)?);
    // Re-checked every 5 s: the server closes the socket.
    let ended = tokio::time::timeout(Duration::from_secs(8), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "still connected");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!state.hub().is_online(&f.host_id));
    let events = state.store().list_audit(0, 100)?;
    let left = events
        .iter()
        .find(|e| e.kind == "viewer_left")
        .ok_or("no viewer_left")?;
    assert_eq!(left.viewer_id.as_deref(), Some(viewer_id.as_str()));
    assert_eq!(left.detail["reason"], "host token revoked");
    Ok(())
}
