//! A WHEP client that is not ours watches with only the link: aiortc (Python) POSTs its offer to
//! `/whep` with the link token and must see the colour Xvfb shows.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use deskbeam_tests::procs::TestServer;
use deskbeam_tests::xvfb::Xvfb;
use deskbeam_tests::{color_close, init_tracing, require_tools};
use serde_json::Value;

/// The test's own virtualenv (made by `make test`), else the system python.
fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("whep/.venv/bin/python");
    if venv.exists() { venv } else { PathBuf::from("python3") }
}

fn aiortc_installed() -> bool {
    let ok = Command::new(python()).args(["-c", "import aiortc, av"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok {
        let msg = "aiortc is not installed (python3 -m pip install aiortc; make test does)";
        if std::env::var("DESKBEAM_REQUIRE_ALL").is_ok_and(|v| v == "1") {
            panic!("{msg}");
        }
        eprintln!("\n!!!!!!!! SKIPPED WHEP interop: {msg} !!!!!!!!\n");
    }
    ok
}

#[test]
fn an_independent_whep_player_watches_with_only_the_link() {
    init_tracing();
    if !require_tools("WHEP interop", &["Xvfb", "xsetroot", "xdpyinfo"]) || !aiortc_installed() {
        return;
    }
    let x = Xvfb::start(270, 640, 480).expect("Xvfb");
    x.set_root_color([180, 40, 160]).expect("paint");
    let server = TestServer::start().expect("server");
    let (_agent, link) = server.share(&x.display, &[]).expect("link");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("whep/aiortc_viewer.py");
    let out = Command::new(python()).arg(script).args(["--url", &link, "--timeout", "30"]).stderr(Stdio::inherit()).output().expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = text.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
    assert!(out.status.success(), "aiortc viewer failed: {text}");
    assert_eq!((v["width"].as_u64(), v["height"].as_u64()), (Some(640), Some(480)), "{v}");
    let rgb = [v["r"].as_u64().unwrap_or(0) as u8, v["g"].as_u64().unwrap_or(0) as u8, v["b"].as_u64().unwrap_or(0) as u8];
    assert!(color_close(rgb, [180, 40, 160], 20), "aiortc saw {rgb:?}");
    assert_eq!(v["delete_status"].as_u64(), Some(200), "WHEP DELETE: {v}");
}
