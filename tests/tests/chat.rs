//! Chat end to end through the real agent and server: two viewers on labelled links and the
//! host's terminal talk to each other, in one order, under their link labels; bad messages are
//! refused with `rejected` and the channel stays open. In headless Chromium, two viewer pages and
//! the host chat through the real chat panel, and markup in a message stays text.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use deskbeam_proto::chat::{AgentChat, ChatRole, MAX_CHAT_CHARS};
use deskbeam_tests::{init_tracing, require_tools};
use serde_json::Value;
use deskbeam_tests::procs::{bin, TestServer};
use deskbeam_tests::receiver::Receiver;
use deskbeam_tests::whep::{post_offer, token_from_link};

const WAIT: Duration = Duration::from_secs(20);

/// `deskbeam-agent link create --label <label>` for the same host; returns the link.
fn labelled_link(server: &TestServer, token: &str, label: &str) -> String {
    let out = Command::new(bin("deskbeam-agent").expect("agent binary"))
        .env("DESKBEAM_TOKEN", token)
        .args(["link", "create", "--label", label, "--server", &server.url()])
        .output()
        .expect("agent runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    stdout.lines().find_map(|l| l.strip_prefix("link:")).map(|l| l.trim().to_string()).expect("a link line")
}

/// Connects a viewer with the chat channel and waits for its name.
async fn join(server: &TestServer, link: &str) -> (Receiver, String) {
    let token = token_from_link(link).expect("token");
    let mut viewer = Receiver::offer_with_chat().await.expect("offer");
    let resp = post_offer(server.addr, token, &viewer.offer).await.expect("POST");
    assert_eq!(resp.status, 201, "{}", resp.body);
    viewer.accept(resp.body).await.expect("answer");
    let joined = viewer.wait_chat(WAIT, |m| matches!(m, AgentChat::Joined { .. })).await.expect("the agent names the viewer");
    let AgentChat::Joined { name } = joined else { unreachable!() };
    (viewer, name)
}

/// The next chat message (skipping nothing else: the agent sends only messages after `joined`).
async fn next_message(viewer: &mut Receiver) -> (u64, String, ChatRole, String, bool) {
    match viewer.wait_chat(WAIT, |m| matches!(m, AgentChat::Message { .. })).await.expect("a message") {
        AgentChat::Message { seq, from, role, text, mine, .. } => (seq, from, role, text, mine),
        other => panic!("not a message: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_viewers_and_the_host_chat_in_one_order_under_their_labels() {
    init_tracing();
    let server = TestServer::start().expect("server");
    let token = server.host_token().expect("host token");
    let extra = ["--source", "synthetic", "--name", "helpdesk"];
    let (mut agent, _own_link) = server.share_full(":0", &token, &extra, true).expect("sharing");
    let (mut alice, alice_name) = join(&server, &labelled_link(&server, &token, "Alice")).await;
    let (mut bob, bob_name) = join(&server, &labelled_link(&server, &token, "Bob")).await;
    assert_eq!((alice_name.as_str(), bob_name.as_str()), ("Alice", "Bob"));
    assert!(agent.stderr_contains("Bob joined the chat", WAIT));

    // Text travels as-is (markup is the page's problem to show as text), to everyone, in order.
    alice.say("hello <b>Bob</b>").await.expect("say");
    let (seq, from, role, text, mine) = next_message(&mut bob).await;
    assert_eq!((from.as_str(), role, text.as_str(), mine), ("Alice", ChatRole::Viewer, "hello <b>Bob</b>", false));
    assert_eq!(next_message(&mut alice).await, (seq, from, role, text, true), "the author sees its own message, same seq");
    assert!(agent.stderr_contains("Alice: hello <b>Bob</b>", WAIT), "the host's terminal shows it");

    agent.write_stdin("> on my way").expect("type at the agent");
    for viewer in [&mut alice, &mut bob] {
        let (host_seq, from, role, text, mine) = next_message(viewer).await;
        assert_eq!((from.as_str(), role, text.as_str(), mine), ("helpdesk", ChatRole::Host, "on my way", false));
        assert!(host_seq > seq);
    }

    for word in ["one", "two", "three"] {
        bob.say(word).await.expect("say");
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (seq, _, _, text, _) = next_message(&mut alice).await;
        seen.push((seq, text));
    }
    assert_eq!(seen.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(), ["one", "two", "three"]);
    assert!(seen.windows(2).all(|w| w[1].0 > w[0].0), "increasing sequence numbers: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_and_malformed_messages_are_rejected_and_the_channel_stays_open() {
    init_tracing();
    let server = TestServer::start().expect("server");
    let token = server.host_token().expect("host token");
    let (_agent, link) = server.share_full(":0", &token, &["--source", "synthetic"], false).expect("sharing");
    let (mut viewer, name) = join(&server, &link).await;
    assert!(name.starts_with("viewer "), "an unlabelled link gives a short-id name: {name}");

    let too_long = "x".repeat(MAX_CHAT_CHARS + 1);
    let cases: [(String, &str); 5] = [
        (deskbeam_proto::input::encode(&deskbeam_proto::chat::ViewerChat::Say { text: too_long }), "too_long"),
        (r#"{"v":1,"t":"say"}"#.into(), "bad_message"),
        (r#"{"v":7,"t":"say","text":"hi"}"#.into(), "bad_message"),
        ("<script>alert(1)</script>".into(), "bad_message"),
        ("y".repeat(20 * 1024), "bad_message"),
    ];
    for (raw, code) in cases {
        viewer.send_chat_raw(&raw).await.expect("send");
        let reply = viewer.wait_chat(WAIT, |m| matches!(m, AgentChat::Rejected { .. })).await.expect("a rejection");
        assert!(matches!(&reply, AgentChat::Rejected { code: c, .. } if c == code), "{reply:?} for {code}");
    }
    viewer.say("still here").await.expect("say");
    let (_, from, _, text, mine) = next_message(&mut viewer).await;
    assert_eq!((from, text.as_str(), mine), (name.clone(), "still here", true));

    // A viewer that missed `joined` (a browser can drop it before reporting the channel open) asks again.
    viewer.send_chat_raw(r#"{"v":1,"t":"hello"}"#).await.expect("hello");
    let again = viewer.wait_chat(WAIT, |m| matches!(m, AgentChat::Joined { .. })).await.expect("joined again");
    assert_eq!(again, AgentChat::Joined { name });
}

/// Headless Chromium and playwright-core are here (or the test is skipped, loudly).
fn browser_ready(test: &str) -> bool {
    if !require_tools(test, &["node", "chromium"]) {
        return false;
    }
    let modules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/node_modules/playwright-core");
    if !modules.exists() {
        let msg = format!("{test}: playwright-core is not installed (cd tests/browser && npm ci)");
        if std::env::var("DESKBEAM_REQUIRE_ALL").is_ok_and(|v| v == "1") {
            panic!("{msg}");
        }
        eprintln!("\n!!!!!!!! SKIPPED {msg} !!!!!!!!\n");
        return false;
    }
    true
}

#[test]
fn chromium_viewers_and_the_host_chat_through_the_viewer_page() {
    init_tracing();
    if !browser_ready("browser chat") {
        return;
    }
    let server = TestServer::start().expect("server");
    let token = server.host_token().expect("host token");
    let (mut agent, _own_link) = server.share_full(":0", &token, &["--source", "synthetic", "--name", "helpdesk"], true).expect("sharing");
    let (alice, bob) = (labelled_link(&server, &token, "Alice"), labelled_link(&server, &token, "Bob"));
    let trap = r#"<img src=x onerror="window.pwned=true">look"#;
    let mut child = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/chat.mjs"))
        .args(["--url", &alice, "--url", &bob, "--say-a", trap, "--say-b", "hello from Bob", "--expect", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut result = Value::Null;
    while let Some(Ok(line)) = lines.next() {
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["ready"] == Value::Bool(true) {
            assert_eq!(v["names"], serde_json::json!(["Alice", "Bob"]));
            agent.write_stdin("> host here").expect("type at the agent");
        } else if v.get("ok").is_some() {
            result = v;
            break;
        }
    }
    let _ = child.wait();
    assert_eq!(result["ok"], Value::Bool(true), "{result}");
    let pages = result["pages"].as_array().expect("pages");
    let order = |page: &Value| -> Vec<(u64, String, String)> {
        page["messages"].as_array().map(|m| m.iter().map(|m| (m["seq"].as_u64().unwrap_or(0), m["from"].to_string(), m["text"].to_string())).collect()).unwrap_or_default()
    };
    assert_eq!(order(&pages[0]), order(&pages[1]), "both pages show one order");
    let texts: Vec<String> = pages[0]["messages"].as_array().expect("messages").iter().map(|m| m["text"].as_str().unwrap_or("").to_string()).collect();
    for want in [trap, "hello from Bob", "host here"] {
        assert!(texts.iter().any(|t| t == want), "{want:?} missing from {texts:?}");
    }
    for page in pages {
        assert_eq!(page["markup"], 0, "message text became markup: {page}");
        assert_eq!(page["pwned"], false);
        let shown: Vec<&str> = page["shown"].as_array().expect("shown").iter().map(|s| s["text"].as_str().unwrap_or("")).collect();
        assert_eq!(shown, texts.iter().map(String::as_str).collect::<Vec<_>>(), "the log shows the messages as sent, in order");
    }
    let host = pages[0]["messages"].as_array().expect("messages").iter().find(|m| m["role"] == "host").expect("the host's line");
    assert_eq!(host["from"], "helpdesk");
}
