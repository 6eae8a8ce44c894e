//! Link management end to end: `deskbeam-agent link create|list|revoke` against the real server,
//! PIN and single-use links through WHEP, and revocation disconnecting viewers within 2 s with
//! the reason on their input channel.

use std::time::{Duration, Instant};

use deskbeam_proto::input::AgentInput;
use deskbeam_tests::procs::TestServer;
use deskbeam_tests::receiver::{Receiver, ReceiverEvent};
use deskbeam_tests::whep::{post_offer, request, token_from_link};
use deskbeam_tests::xvfb::Xvfb;
use deskbeam_tests::{init_tracing, require_tools};

/// `deskbeam-agent link <args>`; (success, stdout+stderr).
fn agent_link(server: &TestServer, token: &str, args: &[&str]) -> (bool, String) {
    let (ok, out, err) = server.agent_cli(token, &[&["link"], args].concat());
    (ok, out + &err)
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(key)).map(str::trim)
}

async fn post_with_pin(server: &TestServer, token: &str, offer: &str, pin: Option<&str>) -> deskbeam_tests::whep::Response {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Content-Type", "application/sdp"), ("Authorization", auth.as_str())];
    if let Some(p) = pin {
        headers.push(("X-Deskbeam-Pin", p));
    }
    request(server.addr, "POST", "/whep", &headers, offer.as_bytes()).await.expect("POST")
}

fn error_code(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| v["error"]["code"].as_str().map(String::from)).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_and_single_use_links_from_the_agent_cli() {
    init_tracing();
    if !require_tools("link CLI", &["Xvfb", "xdpyinfo"]) {
        return;
    }
    let x = Xvfb::start(230, 320, 240).expect("Xvfb");
    let server = TestServer::start().expect("server");
    let token = server.host_token().expect("host token");
    let (_agent, _link) = server.share_with_token(&x.display, &token, &[]).expect("sharing");

    let (ok, out) = agent_link(&server, &token, &["create", "--ttl", "30m", "--scope", "control", "--max-viewers", "2", "--pin", "--single-use", "--label", "support call"]);
    assert!(ok, "{out}");
    let link = field(&out, "link:").expect("link line").to_string();
    let pin = field(&out, "pin:").expect("pin line").to_string();
    let id = field(&out, "id:").expect("id line").to_string();
    assert!(!link.contains(&pin), "the PIN is not part of the link");
    let link_token = token_from_link(&link).expect("token");

    let (ok, listed) = agent_link(&server, &token, &["list"]);
    assert!(ok && listed.contains(&id) && listed.contains("support call") && listed.contains("pin,single-use"), "{listed}");

    let viewer = Receiver::offer().await.expect("offer");
    let r = post_with_pin(&server, link_token, &viewer.offer, None).await;
    assert_eq!((r.status, error_code(&r.body)), (401, "pin_required".to_string()), "{}", r.body);
    let r = post_with_pin(&server, link_token, &viewer.offer, Some("000000000000")).await;
    assert_eq!((r.status, error_code(&r.body)), (401, "pin_invalid".to_string()), "{}", r.body);
    let r = post_with_pin(&server, link_token, &viewer.offer, Some(&pin)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    viewer.accept(r.body).await.expect("answer");

    let second = Receiver::offer().await.expect("offer");
    let r = post_with_pin(&server, link_token, &second.offer, Some(&pin)).await;
    assert_eq!((r.status, error_code(&r.body)), (401, "link_used".to_string()), "single use: {}", r.body);

    // A wrong host token is refused with a clear message and a failing exit.
    let (ok, out) = agent_link(&server, "not-a-token", &["list"]);
    assert!(!ok && out.contains("401"), "{out}");
    viewer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_link_disconnects_its_viewers_within_two_seconds_and_says_why() {
    init_tracing();
    if !require_tools("link revocation", &["Xvfb", "xdpyinfo"]) {
        return;
    }
    let x = Xvfb::start(250, 320, 240).expect("Xvfb");
    x.set_root_color([10, 120, 10]).expect("paint");
    let server = TestServer::start().expect("server");
    let token = server.host_token().expect("host token");
    let (agent, _) = server.share_with_token(&x.display, &token, &[]).expect("sharing");
    let (ok, out) = agent_link(&server, &token, &["create", "--ttl", "1h", "--label", "to revoke"]);
    assert!(ok, "{out}");
    let link = field(&out, "link:").expect("link").to_string();
    let id = field(&out, "id:").expect("id").to_string();

    let mut viewer = Receiver::offer_with_input().await.expect("offer");
    let r = post_offer(server.addr, token_from_link(&link).expect("token"), &viewer.offer).await.expect("POST");
    assert_eq!(r.status, 201, "{}", r.body);
    viewer.accept(r.body).await.expect("answer");
    viewer.wait_for_color(0.5, 0.5, [10, 120, 10], 14, Duration::from_secs(20)).await.expect("watching");
    viewer.wait_agent_input(Duration::from_secs(10), |m| matches!(m, AgentInput::Control { .. })).await.expect("input channel open");

    let revoked_at = Instant::now();
    let (ok, out) = agent_link(&server, &token, &["revoke", &id]);
    assert!(ok, "{out}");
    let closing = viewer.wait_agent_input(Duration::from_secs(2), |m| matches!(m, AgentInput::Closing { .. })).await.expect("closing notice within 2 s");
    assert_eq!(closing, AgentInput::Closing { reason: "link revoked".into() });
    // The agent has torn the connection down (it stops sending at once) within 2 s.
    let left = revoked_at + Duration::from_secs(2);
    assert!(agent.stderr_contains("reason=link revoked", left.saturating_duration_since(Instant::now())), "the agent ended the viewer");
    eprintln!("revocation to disconnect: {:?}", revoked_at.elapsed());
    let (ok, watching, _) = server.agent_cli(&token, &["viewers"]);
    assert!(ok && watching.trim().is_empty(), "nobody is watching any more: {watching}");
    // The viewer's side notices too (ICE/DTLS teardown), later.
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(e) = viewer.events.recv().await {
            if matches!(e, ReceiverEvent::Ended(_)) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ended, Ok(true), "connection ended");

    // The link no longer admits anyone, with a clear code.
    let again = Receiver::offer().await.expect("offer");
    let r = post_offer(server.addr, token_from_link(&link).expect("token"), &again.offer).await.expect("POST");
    assert_eq!((r.status, error_code(&r.body)), (401, "link_revoked".to_string()));
}
