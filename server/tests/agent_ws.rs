//! The agent WebSocket and WHEP over real sockets: a served instance on 127.0.0.1:0, a fake
//! agent speaking the signaling protocol through tokio-tungstenite, and raw HTTP/1.1 viewers.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{fixture, state_with_clock, Fixture, TestResult, ANSWER, OFFER};
use deskbeam_proto::signal::{AgentMessage, ServerMessage};
use deskbeam_proto::{Scope, PROTOCOL_VERSION};
use deskbeam_server::AppState;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);

/// A served instance, stopped when dropped.
struct Server {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn start(state: &AppState) -> TestResult<Server> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(deskbeam_server::serve(
        listener,
        state.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(Server { addr, _stop: stop })
}

/// Opens the agent socket; the inner `Err` is the server's refusal (e.g. an HTTP 401).
async fn try_connect(
    addr: SocketAddr,
    token: Option<&str>,
) -> TestResult<Result<Ws, tungstenite::Error>> {
    let mut request = format!("ws://{addr}/api/agent").into_client_request()?;
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    Ok(tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws))
}

async fn connect(addr: SocketAddr, token: Option<&str>) -> TestResult<Ws> {
    Ok(try_connect(addr, token).await??)
}

async fn send(ws: &mut Ws, msg: &AgentMessage) -> TestResult {
    ws.send(Message::text(msg.to_json())).await?;
    Ok(())
}

/// Next signaling frame; `None` when the server closed the connection.
async fn recv(ws: &mut Ws) -> TestResult<Option<ServerMessage>> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await? {
            Some(Ok(Message::Text(t))) => return Ok(Some(ServerMessage::decode(t.as_str())?)),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(None),
            Some(Ok(other)) => return Err(format!("unexpected frame {other:?}").into()),
        }
    }
}

async fn expect(ws: &mut Ws) -> TestResult<ServerMessage> {
    recv(ws).await?.ok_or_else(|| "connection closed".into())
}

fn hello(version: u32) -> AgentMessage {
    AgentMessage::Hello {
        version,
        name: "test-pc".into(),
        agent: "fake-agent/0".into(),
        session: "session-1".into(),
        viewers: Vec::new(),
    }
}

/// Connects as the fixture's host and completes the handshake.
async fn agent(server: &Server, f: &Fixture) -> TestResult<Ws> {
    let mut ws = connect(server.addr, Some(&f.host_token)).await?;
    send(&mut ws, &hello(PROTOCOL_VERSION)).await?;
    match expect(&mut ws).await? {
        ServerMessage::Welcome { host_id, .. } if host_id == f.host_id => Ok(ws),
        other => Err(format!("expected welcome, got {other:?}").into()),
    }
}

/// A raw HTTP/1.1 reply.
#[derive(Debug)]
struct Http {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Http {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn code(&self) -> TestResult<String> {
        let body: deskbeam_proto::api::ErrorBody = serde_json::from_str(&self.body)?;
        Ok(body.error.code)
    }
}

/// One request on a fresh connection (`Connection: close`), read to the end.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> TestResult<Http> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    stream
        .write_all(format!("{head}\r\n{body}").as_bytes())
        .await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await??;
    let text = String::from_utf8(raw)?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .ok_or("no status")?
        .parse()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Http {
        status,
        headers,
        body: body.to_string(),
    })
}

fn post_offer(server: &Server, token: &str) -> tokio::task::JoinHandle<TestResult<Http>> {
    let (addr, token) = (server.addr, token.to_string());
    tokio::spawn(async move { http(addr, "POST", "/whep", Some(&token), OFFER).await })
}

/// Waits for the next `Offer` and returns its viewer id.
async fn expect_offer(ws: &mut Ws, f: &Fixture) -> TestResult<String> {
    match expect(ws).await? {
        ServerMessage::Offer {
            viewer_id,
            sdp,
            scope,
            link_id,
            link_token,
            expires_at,
            ..
        } => {
            assert_eq!(sdp, OFFER);
            assert_eq!(scope, Scope::View);
            assert_eq!(link_id, f.link.link_id);
            assert_eq!(link_token, f.link.token);
            assert_eq!(expires_at, f.link.expires_at);
            Ok(viewer_id)
        }
        other => Err(format!("expected offer, got {other:?}").into()),
    }
}

#[tokio::test]
async fn missing_or_revoked_host_token_is_refused_before_upgrade() -> TestResult {
    let (state, _) = state_with_clock()?;
    let server = start(&state).await?;
    match try_connect(server.addr, None).await? {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
            let body = String::from_utf8(response.body().clone().unwrap_or_default())?;
            assert!(body.contains("missing_token"), "{body}");
        }
        other => return Err(format!("expected a 401, got {:?}", other.map(|_| ())).into()),
    }
    let f = fixture(&state, 60, 1)?;
    let claims = state.keys().verify_host(&f.host_token)?;
    assert!(state.store().revoke_host_token(&claims.jti)?);
    match try_connect(server.addr, Some(&f.host_token)).await? {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => return Err(format!("expected a 401, got {:?}", other.map(|_| ())).into()),
    }
    Ok(())
}

#[tokio::test]
async fn hello_gets_welcome_with_the_link_key() -> TestResult {
    let (state, _) = state_with_clock()?;
    let server = start(&state).await?;
    let f = fixture(&state, 60, 1)?;
    let mut ws = connect(server.addr, Some(&f.host_token)).await?;
    send(&mut ws, &hello(PROTOCOL_VERSION)).await?;
    let welcome = expect(&mut ws).await?;
    let expected = ServerMessage::Welcome {
        version: PROTOCOL_VERSION,
        host_id: f.host_id.clone(),
        link_public_key: state.keys().public_key_pem().to_string(),
    };
    assert_eq!(welcome, expected);
    assert!(state.hub().is_online(&f.host_id));
    send(&mut ws, &AgentMessage::Ping { nonce: 42 }).await?;
    assert_eq!(expect(&mut ws).await?, ServerMessage::Pong { nonce: 42 });
    Ok(())
}

#[tokio::test]
async fn version_mismatch_is_refused_and_closed() -> TestResult {
    let (state, _) = state_with_clock()?;
    let server = start(&state).await?;
    let f = fixture(&state, 60, 1)?;
    let mut ws = connect(server.addr, Some(&f.host_token)).await?;
    send(&mut ws, &hello(PROTOCOL_VERSION + 1)).await?;
    match expect(&mut ws).await? {
        ServerMessage::Error {
            code,
            request_id: None,
            ..
        } => assert_eq!(code, "version_mismatch"),
        other => return Err(format!("expected an error, got {other:?}").into()),
    }
    assert_eq!(recv(&mut ws).await?, None);
    assert!(!state.hub().is_online(&f.host_id));
    Ok(())
}

#[tokio::test]
async fn create_link_returns_a_viewer_url_and_validates_limits() -> TestResult {
    let (state, _) = state_with_clock()?;
    let server = start(&state).await?;
    let f = fixture(&state, 60, 1)?;
    let mut ws = agent(&server, &f).await?;
    send(
        &mut ws,
        &AgentMessage::CreateLink {
            request_id: 7,
            scope: Scope::Control,
            ttl_secs: 600,
            max_viewers: 2,
        },
    )
    .await?;
    let (link_id, url) = match expect(&mut ws).await? {
        ServerMessage::LinkCreated {
            request_id: 7,
            link_id,
            url,
            expires_at,
        } => {
            assert_eq!(expires_at, state.now_unix() + 600);
            (link_id, url)
        }
        other => return Err(format!("expected link_created, got {other:?}").into()),
    };
    assert!(url.starts_with("http://deskbeam.test/view#"), "{url}");
    let token = url.split_once('#').map(|(_, t)| t).ok_or("no fragment")?;
    let claims = state.keys().verify_link(token, state.now_unix())?;
    assert_eq!(
        (claims.jti.as_str(), claims.sub.as_str(), claims.scope),
        (link_id.as_str(), f.host_id.as_str(), Scope::Control)
    );
    let stored = state.store().get_link(&link_id)?.ok_or("link not stored")?;
    assert_eq!(stored.max_viewers, 2);

    let bad = [(0, 1), (31 * 24 * 3600, 1), (60, 0), (60, 101)];
    for (i, (ttl_secs, max_viewers)) in bad.into_iter().enumerate() {
        let request_id = 100 + i as u64;
        send(
            &mut ws,
            &AgentMessage::CreateLink {
                request_id,
                scope: Scope::View,
                ttl_secs,
                max_viewers,
            },
        )
        .await?;
        match expect(&mut ws).await? {
            ServerMessage::Error {
                request_id: Some(id),
                code,
                ..
            } => {
                assert_eq!((id, code.as_str()), (request_id, "bad_request"));
            }
            other => return Err(format!("expected an error, got {other:?}").into()),
        }
    }
    Ok(())
}

#[tokio::test]
async fn garbage_frames_get_an_error_and_the_connection_stays_up() -> TestResult {
    let (state, _) = state_with_clock()?;
    let server = start(&state).await?;
    let f = fixture(&state, 60, 1)?;
    let mut ws = agent(&server, &f).await?;
    for garbage in [
        Message::text("{not json"),
        Message::text(r#"{"type":"launch_missiles"}"#),
        Message::binary(vec![1, 2]),
    ] {
        ws.send(garbage).await?;
        match expect(&mut ws).await? {
            ServerMessage::Error {
                code,
                request_id: None,
                ..
            } => assert_eq!(code, "bad_request"),
            other => return Err(format!("expected an error, got {other:?}").into()),
        }
    }
    send(&mut ws, &AgentMessage::Ping { nonce: 9 }).await?;
    assert_eq!(expect(&mut ws).await?, ServerMessage::Pong { nonce: 9 });
    assert!(state.hub().is_online(&f.host_id));
    Ok(())
}

#[tokio::test]
async fn whep_round_trip_viewer_limit_and_delete() -> TestResult {
    let (state, _) = state_with_clock()?;
    let server = start(&state).await?;
    let f = fixture(&state, 600, 1)?;
    let mut ws = agent(&server, &f).await?;

    let pending = post_offer(&server, &f.link.token);
    let viewer_id = expect_offer(&mut ws, &f).await?;
    send(
        &mut ws,
        &AgentMessage::Answer {
            viewer_id: viewer_id.clone(),
            sdp: ANSWER.into(),
        },
    )
    .await?;
    let reply = pending.await??;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/sdp"));
    assert_eq!(
        reply.header("location"),
        Some(format!("/whep/{viewer_id}").as_str())
    );
    assert_eq!(
        reply.header("access-control-expose-headers"),
        Some("Location, Link")
    );
    assert_eq!(reply.body, ANSWER);

    // max_viewers = 1: the second viewer is refused without bothering the agent.
    let second = http(server.addr, "POST", "/whep", Some(&f.link.token), OFFER).await?;
    assert_eq!((second.status, second.code()?.as_str()), (403, "link_full"));

    // Another link's token cannot end this viewer.
    let other = state.create_link(
        &f.host_id,
        &deskbeam_server::links::LinkRequest::basic(Scope::View, 60, 1),
        "test",
    )?;
    let path = format!("/whep/{viewer_id}");
    let foreign = http(server.addr, "DELETE", &path, Some(&other.token), "").await?;
    assert_eq!(foreign.status, 404);

    let deleted = http(server.addr, "DELETE", &path, Some(&f.link.token), "").await?;
    assert_eq!(deleted.status, 200);
    match expect(&mut ws).await? {
        ServerMessage::CloseViewer {
            viewer_id: closed, ..
        } => assert_eq!(closed, viewer_id),
        other => return Err(format!("expected close_viewer, got {other:?}").into()),
    }
    assert_eq!(state.hub().viewer_count(&f.link.link_id), 0);
    let again = http(server.addr, "DELETE", &path, Some(&f.link.token), "").await?;
    assert_eq!(again.status, 404);
    Ok(())
}

#[tokio::test]
async fn rejected_offers_map_to_400_and_502() -> TestResult {
    let (state, _) = state_with_clock()?;
    let server = start(&state).await?;
    let f = fixture(&state, 600, 1)?;
    let mut ws = agent(&server, &f).await?;
    for (code, status, api_code) in [
        ("bad_sdp", 400, "bad_sdp"),
        ("no_common_codec", 502, "agent_rejected"),
    ] {
        let pending = post_offer(&server, &f.link.token);
        let viewer_id = expect_offer(&mut ws, &f).await?;
        let msg = AgentMessage::OfferRejected {
            viewer_id,
            code: code.into(),
            message: "nope".into(),
        };
        send(&mut ws, &msg).await?;
        let reply = pending.await??;
        assert_eq!((reply.status, reply.code()?.as_str()), (status, api_code));
        // A rejected offer does not hold a viewer slot.
        assert_eq!(state.hub().viewer_count(&f.link.link_id), 0);
    }
    Ok(())
}

#[tokio::test]
async fn agent_disconnect_fails_the_pending_offer() -> TestResult {
    let (state, _) = state_with_clock()?;
    let server = start(&state).await?;
    let f = fixture(&state, 600, 1)?;
    let mut ws = agent(&server, &f).await?;
    let pending = post_offer(&server, &f.link.token);
    expect_offer(&mut ws, &f).await?;
    ws.close(None).await?;
    let reply = pending.await??;
    assert_eq!(
        (reply.status, reply.code()?.as_str()),
        (503, "host_offline")
    );
    Ok(())
}

#[tokio::test]
async fn silent_agent_times_out_and_is_told_to_drop_the_viewer() -> TestResult {
    let (state, _) = state_with_clock()?;
    let state = state.with_offer_timeout(Duration::from_millis(200));
    let server = start(&state).await?;
    let f = fixture(&state, 600, 1)?;
    let mut ws = agent(&server, &f).await?;
    let pending = post_offer(&server, &f.link.token);
    let viewer_id = expect_offer(&mut ws, &f).await?;
    let reply = pending.await??;
    assert_eq!(
        (reply.status, reply.code()?.as_str()),
        (504, "agent_timeout")
    );
    match expect(&mut ws).await? {
        ServerMessage::CloseViewer {
            viewer_id: closed, ..
        } => assert_eq!(closed, viewer_id),
        other => return Err(format!("expected close_viewer, got {other:?}").into()),
    }
    // A late answer changes nothing.
    send(
        &mut ws,
        &AgentMessage::Answer {
            viewer_id: viewer_id.clone(),
            sdp: ANSWER.into(),
        },
    )
    .await?;
    send(&mut ws, &AgentMessage::Ping { nonce: 1 }).await?;
    assert_eq!(expect(&mut ws).await?, ServerMessage::Pong { nonce: 1 });
    assert_eq!(state.hub().viewer(&viewer_id), None);
    Ok(())
}

#[tokio::test]
async fn expired_link_closes_its_viewers() -> TestResult {
    let (state, clock) = state_with_clock()?;
    let server = start(&state).await?;
    let f = fixture(&state, 60, 1)?;
    let mut ws = agent(&server, &f).await?;
    let pending = post_offer(&server, &f.link.token);
    let viewer_id = expect_offer(&mut ws, &f).await?;
    send(
        &mut ws,
        &AgentMessage::Answer {
            viewer_id: viewer_id.clone(),
            sdp: ANSWER.into(),
        },
    )
    .await?;
    assert_eq!(pending.await??.status, 201);

    clock.advance(60);
    // Run the sweep by hand; the server's own 1 s sweeper may race us, but only one of us can
    // remove the viewer, so the agent hears exactly one CloseViewer either way.
    deskbeam_server::whep::close_expired_viewers(&state).await;
    match expect(&mut ws).await? {
        ServerMessage::CloseViewer {
            viewer_id: closed,
            reason,
        } => {
            assert_eq!(
                (closed.as_str(), reason.as_str()),
                (viewer_id.as_str(), "link expired")
            );
        }
        other => return Err(format!("expected close_viewer, got {other:?}").into()),
    }
    assert_eq!(state.hub().viewer(&viewer_id), None);
    Ok(())
}

#[tokio::test]
async fn second_connection_replaces_the_first() -> TestResult {
    let (state, _) = state_with_clock()?;
    let server = start(&state).await?;
    let f = fixture(&state, 600, 1)?;
    let mut first = agent(&server, &f).await?;
    let mut second = agent(&server, &f).await?;
    match expect(&mut first).await? {
        ServerMessage::Error { code, .. } => assert_eq!(code, "replaced"),
        other => return Err(format!("expected replaced, got {other:?}").into()),
    }
    assert_eq!(recv(&mut first).await?, None);
    // Offers now go to the second connection.
    let pending = post_offer(&server, &f.link.token);
    let viewer_id = expect_offer(&mut second, &f).await?;
    send(
        &mut second,
        &AgentMessage::Answer {
            viewer_id,
            sdp: ANSWER.into(),
        },
    )
    .await?;
    assert_eq!(pending.await??.status, 201);
    Ok(())
}
