//! Hostile input against the real server binary on real sockets: oversize, truncated and
//! malformed HTTP bodies and requests, malformed and oversize agent WebSocket frames, slowloris
//! clients, and a viewer whose offer is answered but which never completes ICE. Each time the
//! server must answer with a clean JSON error (stable code) or close that one connection, and
//! keep serving everybody else.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use deskbeam_proto::api::codes;
use deskbeam_proto::signal::{AgentMessage, ServerMessage, MAX_FRAME_BYTES};
use deskbeam_proto::{Scope, PROTOCOL_VERSION};
use deskbeam_tests::fake_agent::{self, viewer_offer, FakeAgent};
use deskbeam_tests::load::{enrol_hosts, error_code, healthz, LoadServer};
use deskbeam_tests::procs::{bin, Proc};
use deskbeam_tests::whep::{post_offer, request};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Status and body of the first response the server writes, or `None` if it closed (or reset)
/// without one. Gives up after `wait`.
async fn raw_exchange(addr: SocketAddr, bytes: &[u8], half_close: bool, wait: Duration) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    // The server may answer and close before reading everything: write errors are expected.
    let _ = stream.write_all(bytes).await;
    if half_close {
        let _ = stream.shutdown().await;
    }
    let mut raw = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(response) = complete_response(&raw) {
            return Some(response);
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => raw.extend_from_slice(&chunk[..n]),
            _ => return complete_response(&raw),
        }
    }
}

/// A whole `Content-Length` response at the start of `raw`.
fn complete_response(raw: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    (body.len() >= length).then(|| (status, body[..length].to_string()))
}

fn post(path: &str, content_type: &str, auth: Option<&str>, length: usize, body: &[u8]) -> Vec<u8> {
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n");
    if let Some(token) = auth {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    [head.as_bytes(), body].concat()
}

/// A server with one fake agent: (server, host token, agent).
async fn server_with_agent() -> (LoadServer, String, FakeAgent) {
    deskbeam_tests::init_tracing();
    let server = LoadServer::start().expect("server");
    let token = enrol_hosts(server.data_dir.path(), 1).expect("host token").remove(0);
    let agent = FakeAgent::connect(server.addr, &token, 10).await.expect("fake agent");
    (server, token, agent)
}

/// The server still answers `/healthz` and still negotiates a WHEP viewer.
async fn still_serving(server: &LoadServer, agent: &FakeAgent) {
    assert!(healthz(server.addr).await, "the server stopped answering /healthz");
    let r = post_offer(server.addr, &agent.link_token, &viewer_offer(99)).await.expect("POST /whep");
    assert_eq!(r.status, 201, "a good viewer is no longer served: {}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_http_bodies_get_clean_json_errors() {
    let (server, host_token, agent) = server_with_agent().await;
    let addr = server.addr;
    let link = agent.link_token.as_str();
    let wait = Duration::from_secs(10);
    let big = vec![b'a'; 200 * 1024];
    let sdp = "application/sdp";
    let json = "application/json";
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("declared oversize offer", post("/whep", sdp, Some(link), 10 << 20, b"v=0"), 413, codes::PAYLOAD_TOO_LARGE),
        ("oversize offer", post("/whep", sdp, Some(link), big.len(), &big), 413, codes::PAYLOAD_TOO_LARGE),
        ("offer without a token", post("/whep", sdp, None, 3, b"v=0"), 401, codes::MISSING_TOKEN),
        ("offer with a forged token", post("/whep", sdp, Some("a.b.c"), 3, b"v=0"), 401, codes::INVALID_TOKEN),
        ("offer that is not SDP", post("/whep", sdp, Some(link), 5, b"hello"), 400, codes::BAD_SDP),
        ("offer that is not UTF-8", post("/whep", sdp, Some(link), 4, b"v=0\xff"), 400, codes::BAD_SDP),
        ("offer as text/plain", post("/whep", "text/plain", Some(link), 3, b"v=0"), 415, codes::UNSUPPORTED_MEDIA_TYPE),
        ("oversize link request", post("/api/links", json, Some(&host_token), big.len(), &big), 413, codes::PAYLOAD_TOO_LARGE),
        ("cut-off JSON", post("/api/links", json, Some(&host_token), 13, br#"{"ttl_secs":1"#), 400, codes::BAD_REQUEST),
        ("JSON of the wrong shape", post("/api/links", json, Some(&host_token), 2, b"[]"), 400, codes::BAD_REQUEST),
        ("binary instead of JSON", post("/api/links", json, Some(&host_token), 3, b"\x00\xff\x01"), 400, codes::BAD_REQUEST),
        ("oversize login", post("/api/login", json, None, big.len(), &big), 413, codes::PAYLOAD_TOO_LARGE),
        ("declared oversize login", post("/api/login", json, None, 1 << 30, b"{"), 413, codes::PAYLOAD_TOO_LARGE),
    ];
    for (what, bytes, status, code) in cases {
        let got = raw_exchange(addr, &bytes, false, wait).await;
        let (got_status, body) = got.unwrap_or_else(|| panic!("{what}: no response"));
        assert_eq!((got_status, error_code(&body).as_str()), (status, code), "{what}: {body}");
    }

    // A body shorter than its Content-Length, then the client stops sending: that connection
    // ends (an error or a close), nothing else does.
    for path in ["/whep", "/api/links", "/api/login"] {
        let bytes = post(path, if path == "/whep" { sdp } else { json }, Some(link), 5000, b"v=0\r\n{");
        if let Some((status, body)) = raw_exchange(addr, &bytes, true, wait).await {
            assert!((400..500).contains(&status), "truncated body to {path}: {status} {body}");
        }
    }
    // Not HTTP at all, a huge header, an absurd Content-Length: hyper's own 4xx or a close.
    let huge_header = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(512 * 1024));
    for (what, bytes) in [
        ("garbage", b"\x16\x03\x01\x02\x00 hello\r\n\r\n".to_vec()),
        ("huge header", huge_header.into_bytes()),
        ("bad length", b"POST /whep HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".to_vec()),
    ] {
        if let Some((status, _)) = raw_exchange(addr, &bytes, false, wait).await {
            assert!((400..500).contains(&status), "{what}: {status}");
        }
    }
    still_serving(&server, &agent).await;
}

/// What the server does next on an agent socket: an error frame (its code), or a close.
async fn next_reply(socket: &mut fake_agent::Socket) -> Result<String, &'static str> {
    loop {
        match tokio::time::timeout(Duration::from_secs(15), socket.next()).await {
            Err(_) => return Err("silence"),
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return Err("closed"),
            Ok(Some(Ok(Message::Text(t)))) => match ServerMessage::decode(t.as_str()) {
                Ok(ServerMessage::Error { code, .. }) => return Ok(code),
                Ok(other) => return Ok(format!("{other:?}")),
                Err(e) => panic!("the server sent an undecodable frame: {e}"),
            },
            Ok(Some(Ok(_))) => continue,
        }
    }
}

fn hello(version: u32) -> Message {
    let hello = AgentMessage::Hello { version, name: "hostile".into(), agent: "tests".into(), session: "hostile".into(), viewers: Vec::new() };
    Message::text(hello.to_json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_agent_frames_get_an_error_or_a_close() {
    let (server, _, agent) = server_with_agent().await;
    let tokens = enrol_hosts(server.data_dir.path(), 6).expect("host tokens");

    // Before hello: garbage, binary, an oversize frame, another protocol version.
    let openers: Vec<(&str, Message)> = vec![
        ("garbage hello", Message::text("{not json")),
        ("binary hello", Message::binary(vec![0u8, 1, 2, 3])),
        ("oversize hello", Message::text("x".repeat(MAX_FRAME_BYTES + 1))),
        ("future version", hello(PROTOCOL_VERSION + 1)),
    ];
    for ((what, frame), token) in openers.into_iter().zip(&tokens) {
        let mut socket = fake_agent::open_socket(server.addr, token).await.expect("upgrade");
        let _ = socket.send(frame).await;
        let reply = next_reply(&mut socket).await;
        assert!(reply.is_err() || reply.as_deref().is_ok_and(|c| !c.starts_with("Welcome")), "{what}: {reply:?}");
    }

    // After a good hello: malformed frames get an error and the connection stays usable.
    let mut socket = fake_agent::open_socket(server.addr, &tokens[4]).await.expect("upgrade");
    socket.send(hello(PROTOCOL_VERSION)).await.expect("hello");
    assert!(next_reply(&mut socket).await.is_ok_and(|w| w.starts_with("Welcome")));
    for junk in ["{", r#"{"type":"warp"}"#, r#"{"type":"create_link","request_id":"x"}"#, "\u{0}\u{1}"] {
        socket.send(Message::text(junk)).await.expect("send");
        assert_eq!(next_reply(&mut socket).await, Ok(codes::BAD_REQUEST.to_string()), "after {junk:?}");
    }
    let create = AgentMessage::CreateLink { request_id: 5, scope: Scope::View, ttl_secs: 60, max_viewers: 1 };
    socket.send(Message::text(create.to_json())).await.expect("create_link");
    let created = next_reply(&mut socket).await.expect("a reply to create_link");
    assert!(created.starts_with("LinkCreated"), "{created}");

    // An oversize frame after hello closes that connection only.
    let mut socket = fake_agent::open_socket(server.addr, &tokens[5]).await.expect("upgrade");
    socket.send(hello(PROTOCOL_VERSION)).await.expect("hello");
    assert!(next_reply(&mut socket).await.is_ok_and(|w| w.starts_with("Welcome")));
    let _ = socket.send(Message::text("y".repeat(MAX_FRAME_BYTES * 2))).await;
    assert_eq!(next_reply(&mut socket).await, Err("closed"));

    // No token, or no upgrade: clean JSON errors.
    let r = request(server.addr, "GET", "/api/agent", &[], b"").await.expect("GET");
    assert_eq!((r.status, error_code(&r.body).as_str()), (401, codes::MISSING_TOKEN), "{}", r.body);
    let auth = format!("Bearer {}", tokens[0]);
    let r = request(server.addr, "GET", "/api/agent", &[("Authorization", &auth)], b"").await.expect("GET");
    assert_eq!((r.status, error_code(&r.body).as_str()), (400, codes::BAD_REQUEST), "{}", r.body);

    assert!(agent.is_connected(), "a well-behaved agent was dropped");
    still_serving(&server, &agent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_while_others_are_served() {
    let (server, _, agent) = server_with_agent().await;
    let addr = server.addr;
    let started = Instant::now();
    let mut slow = tokio::task::JoinSet::new();
    // Headers a byte at a time, forever; a connection that never says anything; a body that
    // never completes. Each reports whether and how the server ended it.
    for i in 0..60 {
        slow.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            match i % 3 {
                0 => {
                    stream.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ").await.map_err(|e| e.to_string())?;
                    for _ in 0..120 {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        if stream.write_all(b"a").await.is_err() {
                            return Ok("cut off".to_string());
                        }
                    }
                }
                1 => {}
                _ => {
                    let head = "POST /whep HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\nContent-Length: 4000\r\n\r\nv=0\r\n";
                    stream.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
                }
            }
            let mut raw = Vec::new();
            match tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut raw)).await {
                Err(_) => Err("still open after 60 s".to_string()),
                Ok(_) => Ok(String::from_utf8_lossy(&raw).lines().next().unwrap_or("closed").to_string()),
            }
        });
    }
    // Meanwhile everybody else is served.
    for n in 0..5 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(healthz(addr).await, "/healthz unanswered under slow clients (round {n})");
        let r = post_offer(addr, &agent.link_token, &viewer_offer(n)).await.expect("POST /whep");
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let mut endings = std::collections::BTreeMap::<String, usize>::new();
    while let Some(joined) = slow.join_next().await {
        let ending = joined.expect("slow client task").unwrap_or_else(|e| panic!("slow client: {e}"));
        *endings.entry(ending).or_default() += 1;
    }
    eprintln!("slow clients ended after {:?}: {endings:?}", started.elapsed());
    assert_eq!(endings.get("HTTP/1.1 408 Request Timeout"), Some(&20), "slow bodies get 408: {endings:?}");
    still_serving(&server, &agent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_never_completes_ice_is_freed() {
    deskbeam_tests::init_tracing();
    let server = LoadServer::start().expect("server");
    let token = enrol_hosts(server.data_dir.path(), 1).expect("host token").remove(0);
    let url = format!("http://{}", server.addr);
    let mut cmd = std::process::Command::new(bin("deskbeam-agent").expect("agent binary"));
    cmd.env("DESKBEAM_TOKEN", &token).args(["share", "--server", &url, "--source", "synthetic", "--ice-addr", "127.0.0.1:0"]);
    let agent = Proc::spawn(cmd).expect("agent");
    let link = agent.wait_line("link:", Duration::from_secs(30)).expect("link");
    let link_token = deskbeam_tests::whep::token_from_link(&link).expect("token in the link").to_string();

    // A syntactically fine offer whose ICE and DTLS never come: no candidates, nobody listening.
    let r = post_offer(server.addr, &link_token, &viewer_offer(1)).await.expect("POST /whep");
    assert_eq!(r.status, 201, "the agent should answer: {}", r.body);
    let auth = format!("Bearer {token}");
    let viewers = || async {
        let r = request(server.addr, "GET", "/api/viewers", &[("Authorization", &auth)], b"").await.expect("GET /api/viewers");
        assert_eq!(r.status, 200, "{}", r.body);
        let list: serde_json::Value = serde_json::from_str(&r.body).expect("JSON");
        list["viewers"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(viewers().await, 1, "the viewer is listed after its answer");
    let deadline = Instant::now() + Duration::from_secs(120);
    while viewers().await > 0 {
        assert!(Instant::now() < deadline, "a viewer that never connected was not freed within 120 s");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(agent.stderr_contains("viewer", Duration::from_secs(1)), "the agent says what happened to the viewer");
    assert!(healthz(server.addr).await);
}
