//! The management UI against the real server in headless Chromium: sign in (a wrong password is
//! refused), create a PIN link, see it listed, revoke it, find it all in the audit log.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use deskbeam_tests::procs::{bin, TestServer};
use deskbeam_tests::{init_tracing, require_tools};
use serde_json::Value;

#[test]
fn a_user_signs_in_creates_and_revokes_a_link_in_the_dashboard() {
    init_tracing();
    if !require_tools("dashboard", &["node", "chromium"]) {
        return;
    }
    let server = TestServer::start().expect("server");
    let mut add = Command::new(bin("deskbeam-server").expect("server binary"))
        .args(["user", "add", "alice", "--data-dir"])
        .arg(server.data_dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("user add");
    add.stdin.as_mut().expect("stdin").write_all(b"correct horse battery\n").expect("password");
    assert!(add.wait().expect("user add").success());
    let host = Command::new(bin("deskbeam-server").expect("server binary"))
        .args(["host-token", "--user", "alice", "--name", "desk", "--data-dir"])
        .arg(server.data_dir.path())
        .output()
        .expect("host-token");
    assert!(host.status.success());

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/dashboard-live.mjs");
    let out = Command::new("node")
        .arg(script)
        .args(["--base", &server.url(), "--user", "alice", "--password", "correct horse battery"])
        .stderr(Stdio::inherit())
        .output()
        .expect("node");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = text.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
    assert!(out.status.success(), "dashboard check failed: {text}");
    assert_eq!(v["wrongPasswordStaysOnLogin"], true, "{v}");
    assert!(v["url"].as_str().unwrap_or_default().starts_with(&format!("{}/view#", server.url())), "{v}");
    let pin = v["pin"].as_str().unwrap_or_default();
    assert!(pin.len() >= 4 && pin.chars().all(|c| c.is_ascii_digit()), "pin {pin:?}");
    assert!(!v["url"].as_str().unwrap_or_default().contains(pin), "the PIN is not in the URL");
    let audit: Vec<&str> = v["audit"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    for kind in ["login_ok", "link_created", "link_revoked"] {
        assert!(audit.contains(&kind), "audit shows {kind}: {audit:?}");
    }
}
