//! Faults Deskbeam survives, on real sockets with the real binaries: the agent's WebSocket
//! dropping, the server crashing and restarting, a viewer vanishing without a word, the agent
//! dying under a watching browser.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deskbeam_proto::input::AgentInput;
use deskbeam_tests::procs::{bin, Proc, TestServer};
use deskbeam_tests::proxy::CutProxy;
use deskbeam_tests::receiver::Receiver;
use deskbeam_tests::whep::{post_offer, token_from_link};
use deskbeam_tests::{init_tracing, require_tools};

/// Starts `deskbeam-agent share --source synthetic` against `server_url` (which may be a proxy).
fn share_synthetic(server_url: &str, token: &str) -> (Proc, String) {
    let mut cmd = Command::new(bin("deskbeam-agent").expect("agent binary"));
    cmd.stdin(Stdio::null())
        .env("DESKBEAM_TOKEN", token)
        .env("RUST_LOG", "info")
        .args(["share", "--source", "synthetic", "--consent", "deny", "--server", server_url, "--ice-addr", "127.0.0.1:0"]);
    let agent = Proc::spawn(cmd).expect("agent starts");
    let link = agent.wait_line("link:", Duration::from_secs(30)).expect("agent prints its link");
    (agent, link.trim_start_matches("link:").trim().to_string())
}

/// A connected viewer: the receiving peer and its WHEP viewer id.
struct Viewer {
    rx: Receiver,
    id: String,
}

async fn watch(server: &TestServer, link: &str) -> Viewer {
    let token = token_from_link(link).expect("token in the link");
    let rx = Receiver::offer_with_chat().await.expect("offer");
    let r = post_offer(server.addr, token, &rx.offer).await.expect("POST /whep");
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.header("location").and_then(|l| l.rsplit('/').next()).expect("Location").to_string();
    rx.accept(r.body.clone()).await.expect("answer");
    let mut viewer = Viewer { rx, id };
    frames_flow(&mut viewer, "first frames").await;
    viewer
}

/// Waits for a few fresh decoded frames (the synthetic screen moves all the time).
async fn frames_flow(viewer: &mut Viewer, what: &str) {
    while viewer.rx.frames.try_recv().is_ok() {}
    for _ in 0..3 {
        let frame = tokio::time::timeout(Duration::from_secs(20), viewer.rx.frames.recv()).await;
        assert!(matches!(frame, Ok(Some(_))), "{what}: no frame");
    }
}

/// Waits for the agent's `closing` notice on the viewer's input channel.
async fn closing_reason(viewer: &mut Viewer) -> String {
    let got = viewer.rx.wait_agent_input(Duration::from_secs(10), |m| matches!(m, AgentInput::Closing { .. })).await;
    match got {
        Ok(AgentInput::Closing { reason }) => reason,
        other => panic!("no closing notice: {other:?}"),
    }
}

/// `deskbeam-agent <args> --server URL`; stdout+stderr, asserting success.
fn agent_cli(server: &TestServer, token: &str, args: &[&str]) -> String {
    let (ok, out, err) = server.agent_cli(token, args);
    assert!(ok, "deskbeam-agent {args:?}: {out}{err}");
    out + &err
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_websocket_drop_resumes_the_session_and_keeps_viewers() {
    init_tracing();
    let server = TestServer::start().expect("server");
    let token = server.host_token().expect("host token");
    let proxy = CutProxy::start(server.addr).await.expect("proxy");
    let (agent, link) = share_synthetic(&proxy.url(), &token);
    let mut viewer = watch(&server, &link).await;

    proxy.cut();
    let back = wait_until("agent reconnects", Duration::from_secs(15), || {
        proxy.accepted() >= 2 && agent.stderr_count("connected to the server") >= 2
    });
    eprintln!("agent back {back:?} after the cut");
    assert!(agent.stderr_count("server connection lost") >= 1);
    // Media never went through the server: the picture kept coming, and still does.
    frames_flow(&mut viewer, "after the reconnection").await;
    let listed = agent_cli(&server, &token, &["viewers"]);
    assert!(listed.contains(&viewer.id), "the server lost the viewer: {listed}");
    // The server still controls the viewer through the new connection: a kick reaches it.
    agent_cli(&server, &token, &["kick", &viewer.id]);
    assert_eq!(closing_reason(&mut viewer).await, "removed by the host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_crash_keeps_links_and_viewers() {
    init_tracing();
    let mut server = TestServer::start().expect("server");
    let token = server.host_token().expect("host token");
    let (agent, link) = share_synthetic(&server.url(), &token);
    let mut old = watch(&server, &link).await;

    server.crash_and_restart().expect("server restarts");
    let back = wait_until("agent re-registers", Duration::from_secs(20), || agent.stderr_count("connected to the server") >= 2);
    eprintln!("agent re-registered {back:?} after the restart");
    frames_flow(&mut old, "old viewer during and after the restart").await;

    // The link was not reissued: the same token admits a new viewer.
    let mut new = watch(&server, &link).await;
    let listed = agent_cli(&server, &token, &["viewers"]);
    assert!(listed.contains(&old.id) && listed.contains(&new.id), "viewers after the restart: {listed}");
    // The restarted server took the old viewer back: revoking the link ends both.
    let links = agent_cli(&server, &token, &["link", "list"]);
    let link_id = links.lines().find_map(|l| l.split_whitespace().next().filter(|w| w.len() > 8)).expect("a link id");
    agent_cli(&server, &token, &["link", "revoke", link_id]);
    assert_eq!(closing_reason(&mut old).await, "link revoked");
    assert_eq!(closing_reason(&mut new).await, "link revoked");
}

/// Runs view.mjs in its own process group (so that killing it kills its Chromium too).
fn browser(args: &[&str]) -> Proc {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/view.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(script).args(args).stdin(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    Proc::spawn(cmd).expect("node starts")
}

fn kill_group(proc: &Proc) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", proc.pid())]).status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_browser_is_freed_and_others_keep_watching() {
    init_tracing();
    if !require_tools("vanished viewer", &["node", "chromium"]) {
        return;
    }
    let server = TestServer::start().expect("server");
    let token = server.host_token().expect("host token");
    let (agent, link) = share_synthetic(&server.url(), &token);
    let mut other = watch(&server, &link).await;
    let page = browser(&["--url", &link, "--watch-ms", "120000", "--poll-ms", "1000", "--timeout-ms", "60000"]);
    let first = page.wait_line("{", Duration::from_secs(60)).expect("the browser shows the picture");
    assert!(first.contains(r#""ok":true"#), "{first}");
    let before = agent.stderr_count("viewer ended");

    let killed = Instant::now();
    kill_group(&page);
    // ICE consent lapses after 5 s without traffic, then a 3 s grace: freed within 10 s.
    let freed = wait_until("the agent frees the vanished viewer", Duration::from_secs(20), || agent.stderr_count("viewer ended") > before);
    eprintln!("vanished viewer freed after {:?} (target 10 s)", killed.elapsed());
    assert!(freed < Duration::from_secs(20));
    let listed = wait_until("the server forgets it", Duration::from_secs(5), || {
        let list = agent_cli(&server, &token, &["viewers"]);
        let lines: Vec<&str> = list.lines().filter(|l| !l.trim().is_empty()).collect();
        lines.len() == 1 && lines[0].contains(&other.id)
    });
    eprintln!("server list updated {listed:?} later");
    frames_flow(&mut other, "the other viewer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_dying_shows_host_offline_in_the_browser() {
    init_tracing();
    if !require_tools("host offline", &["node", "chromium"]) {
        return;
    }
    let server = TestServer::start().expect("server");
    let token = server.host_token().expect("host token");
    let (mut agent, link) = share_synthetic(&server.url(), &token);
    let page = browser(&["--url", &link, "--mode", "offline", "--timeout-ms", "60000"]);
    // The page reports once it watches, then again once it says the host is offline.
    let watching = page.wait_line("{", Duration::from_secs(60)).expect("the browser shows the picture");
    assert!(watching.contains(r#""state":"connected""#), "{watching}");
    let died = Instant::now();
    agent.kill_hard();
    let line = page.wait_line("{", Duration::from_secs(40)).expect("the page reports the host offline");
    eprintln!("host offline shown after {:?}: {line}", died.elapsed());
    let report: serde_json::Value = serde_json::from_str(&format!("{{{line}")).expect("JSON line");
    assert_eq!(report["ok"], true, "{line}");
    assert_eq!(report["code"], "host_offline", "{line}");
    assert_eq!(report["video"], "hidden", "the last frame must not stay up as if live: {line}");
}
