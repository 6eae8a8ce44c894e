//! Remote control end to end on Xvfb: a viewer with a `control` link moves, clicks and types
//! into an xterm through the real agent and server; a `view` link cannot; a viewer that drops
//! mid-keypress leaves no key stuck; the host's consent prompt decides.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use deskbeam_proto::input::{AgentInput, ControlState, MouseButton, ViewerInput};
use deskbeam_tests::procs::tempdir::TempDir;
use deskbeam_tests::procs::{Proc, TestServer};
use deskbeam_tests::receiver::Receiver;
use deskbeam_tests::whep::{post_offer, token_from_link};
use deskbeam_tests::xvfb::Xvfb;
use deskbeam_tests::{init_tracing, require_tools};

const W: u32 = 1024;
const H: u32 = 768;

/// Key events a US keyboard produces for `text` (what a browser would send).
fn key_events(text: &str) -> Vec<ViewerInput> {
    let mut out = Vec::new();
    for c in text.chars() {
        let (code, shift) = match c {
            'a'..='z' => (format!("Key{}", c.to_ascii_uppercase()), false),
            'A'..='Z' => (format!("Key{c}"), true),
            '0'..='9' => (format!("Digit{c}"), false),
            ' ' => ("Space".into(), false),
            '.' => ("Period".into(), false),
            '>' => ("Period".into(), true),
            '/' => ("Slash".into(), false),
            '-' => ("Minus".into(), false),
            '_' => ("Minus".into(), true),
            '\n' => ("Enter".into(), false),
            other => panic!("no key for {other:?}"),
        };
        let text = (c != '\n').then(|| c.to_string());
        if shift {
            out.push(ViewerInput::Key { code: "ShiftLeft".into(), down: true, text: None });
        }
        out.push(ViewerInput::Key { code: code.clone(), down: true, text: text.clone() });
        out.push(ViewerInput::Key { code, down: false, text });
        if shift {
            out.push(ViewerInput::Key { code: "ShiftLeft".into(), down: false, text: None });
        }
    }
    out
}

/// A child process killed when the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn connect(server: &TestServer, link: &str) -> Receiver {
    let token = token_from_link(link).expect("token");
    let mut viewer = Receiver::offer_with_input().await.expect("offer");
    let resp = post_offer(server.addr, token, &viewer.offer).await.expect("POST");
    assert_eq!(resp.status, 201, "{}", resp.body);
    viewer.accept(resp.body).await.expect("answer");
    viewer
        .wait_agent_input(Duration::from_secs(20), |m| matches!(m, AgentInput::Control { .. }))
        .await
        .expect("the agent announces the control state when the channel opens");
    viewer
}

async fn take_control(viewer: &mut Receiver) {
    viewer.send_input(&ViewerInput::RequestControl).await.expect("send");
    viewer
        .wait_agent_input(Duration::from_secs(10), |m| matches!(m, AgentInput::Control { state: ControlState::Granted, .. }))
        .await
        .expect("control granted");
}

async fn wait_file(path: &PathBuf, timeout: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.is_empty() {
                return Some(s);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn setup(test: &str) -> Option<(Xvfb, TestServer, TempDir)> {
    if !require_tools(test, &["Xvfb", "xdpyinfo", "xterm", "xdotool"]) {
        return None;
    }
    let x = Xvfb::start(190, W, H).expect("Xvfb");
    let server = TestServer::start().expect("server");
    Some((x, server, TempDir::new().expect("temp dir")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_link_moves_clicks_and_types_into_an_xterm() {
    init_tracing();
    let Some((x, server, dir)) = setup("remote control") else { return };
    let _term = Killed(x.xterm(dir.path()).expect("xterm"));
    let (_agent, link) = server.share(&x.display, &["--scope", "control", "--consent", "auto"]).expect("link");
    let mut viewer = connect(&server, &link).await;
    take_control(&mut viewer).await;

    viewer.send_input(&ViewerInput::Move { x: 0.25, y: 0.125 }).await.expect("move");
    viewer.send_input(&ViewerInput::Button { b: MouseButton::Left, down: true }).await.expect("down");
    viewer.send_input(&ViewerInput::Button { b: MouseButton::Left, down: false }).await.expect("up");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let want = ((0.25 * f64::from(W - 1)).round() as i32, (0.125 * f64::from(H - 1)).round() as i32);
    assert_eq!(x.pointer(), want);

    for event in key_events("echo Deskbeam_42 > typed.txt\n") {
        viewer.send_input(&event).await.expect("key");
    }
    let file = dir.path().join("typed.txt");
    let content = wait_file(&file, Duration::from_secs(10)).await;
    assert_eq!(content.as_deref().map(str::trim), Some("Deskbeam_42"), "typed command output");

    // Pasted text arrives too (layout-independent typing).
    viewer.send_input(&ViewerInput::Paste { text: "echo pasted > pasted.txt\n".into() }).await.expect("paste");
    let pasted = wait_file(&dir.path().join("pasted.txt"), Duration::from_secs(10)).await;
    assert_eq!(pasted.as_deref().map(str::trim), Some("pasted"));
    viewer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_link_cannot_control_and_the_agent_logs_the_rejection() {
    init_tracing();
    let Some((x, server, dir)) = setup("view-only input") else { return };
    let _term = Killed(x.xterm(dir.path()).expect("xterm"));
    let (agent, link) = server.share(&x.display, &["--consent", "auto"]).expect("link");
    let mut viewer = connect(&server, &link).await;
    let before = x.pointer();

    viewer.send_input(&ViewerInput::RequestControl).await.expect("send");
    let refused = viewer
        .wait_agent_input(Duration::from_secs(10), |m| matches!(m, AgentInput::Control { reason: Some(_), .. }))
        .await
        .expect("refusal");
    assert!(matches!(refused, AgentInput::Control { state: ControlState::Free, can_request: false, .. }), "{refused:?}");

    viewer.send_input(&ViewerInput::Move { x: 0.9, y: 0.9 }).await.expect("move");
    for event in key_events("echo nope > nope.txt\n") {
        viewer.send_input(&event).await.expect("key");
    }
    let rejected = viewer.wait_agent_input(Duration::from_secs(5), |m| matches!(m, AgentInput::Rejected { .. })).await.expect("rejected");
    assert!(matches!(&rejected, AgentInput::Rejected { code, .. } if code == "no_control"), "{rejected:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(x.pointer(), before, "the pointer did not move");
    assert!(!dir.path().join("nope.txt").exists(), "nothing was typed");
    assert!(agent.stderr_contains("rejected viewer input", Duration::from_secs(5)), "the agent logs the rejection");

    // Garbage on the channel is refused and the channel stays up.
    viewer.send_raw("{not json").await.expect("send");
    viewer.send_raw(r#"{"v":9,"t":"move","x":0,"y":0}"#).await.expect("send");
    viewer.send_input(&ViewerInput::Ping).await.expect("ping");
    viewer.wait_agent_input(Duration::from_secs(5), |m| matches!(m, AgentInput::Pong)).await.expect("still answering");
    // `hello` (sent by the page once its channel is open) gets the current state again.
    viewer.send_input(&ViewerInput::Hello).await.expect("hello");
    let state = viewer.wait_agent_input(Duration::from_secs(5), |m| matches!(m, AgentInput::Control { .. })).await.expect("state");
    assert!(matches!(state, AgentInput::Control { state: ControlState::Free, can_request: false, reason: None, .. }), "{state:?}");
    viewer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_dropping_mid_keypress_leaves_no_modifier_stuck() {
    init_tracing();
    let Some((x, server, dir)) = setup("stuck keys") else { return };
    let _term = Killed(x.xterm(dir.path()).expect("xterm"));
    let (_agent, link) = server.share(&x.display, &["--scope", "control", "--consent", "auto"]).expect("link");
    let mut viewer = connect(&server, &link).await;
    take_control(&mut viewer).await;
    viewer.send_input(&ViewerInput::Move { x: 0.2, y: 0.1 }).await.expect("move");
    viewer.send_input(&ViewerInput::Key { code: "ShiftLeft".into(), down: true, text: None }).await.expect("shift");
    viewer.send_input(&ViewerInput::Key { code: "ControlLeft".into(), down: true, text: None }).await.expect("ctrl");
    tokio::time::sleep(Duration::from_millis(300)).await;
    viewer.close().await;
    drop(viewer);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Type on the host's own keyboard: with Shift or Ctrl stuck this would not be this command.
    let status = Command::new("xdotool")
        .env("DISPLAY", &x.display)
        .args(["type", "--delay", "20", "echo lower > after.txt\n"])
        .status()
        .expect("xdotool");
    assert!(status.success());
    let content = wait_file(&dir.path().join("after.txt"), Duration::from_secs(10)).await;
    assert_eq!(content.as_deref().map(str::trim), Some("lower"), "keys typed after the viewer left are not modified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_answers_the_consent_prompt() {
    init_tracing();
    let Some((x, server, _dir)) = setup("consent prompt") else { return };
    let (mut agent, link): (Proc, String) = server.share_with_stdin(&x.display, &["--scope", "control"], true).expect("link");
    let mut viewer = connect(&server, &link).await;

    viewer.send_input(&ViewerInput::RequestControl).await.expect("send");
    viewer.wait_agent_input(Duration::from_secs(10), |m| matches!(m, AgentInput::Control { state: ControlState::Pending, .. })).await.expect("pending");
    assert!(agent.stderr_contains("asks to control this screen", Duration::from_secs(5)), "the host is asked");
    agent.write_stdin("n").expect("answer");
    let denied = viewer.wait_agent_input(Duration::from_secs(10), |m| matches!(m, AgentInput::Control { reason: Some(_), .. })).await.expect("denied");
    assert!(matches!(denied, AgentInput::Control { state: ControlState::Free, .. }), "{denied:?}");

    viewer.send_input(&ViewerInput::RequestControl).await.expect("send");
    viewer.wait_agent_input(Duration::from_secs(10), |m| matches!(m, AgentInput::Control { state: ControlState::Pending, .. })).await.expect("pending");
    agent.write_stdin("y").expect("answer");
    viewer.wait_agent_input(Duration::from_secs(10), |m| matches!(m, AgentInput::Control { state: ControlState::Granted, .. })).await.expect("granted");

    // The host takes control back with `r`.
    agent.write_stdin("r").expect("revoke");
    let revoked = viewer.wait_agent_input(Duration::from_secs(10), |m| matches!(m, AgentInput::Control { state: ControlState::Free, .. })).await.expect("revoked");
    assert!(matches!(revoked, AgentInput::Control { reason: Some(_), .. }));
    viewer.close().await;
}
