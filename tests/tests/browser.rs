//! Real browser: headless Debian Chromium (driven by playwright-core through
//! `tests/browser/view.mjs`) opens the viewer link; the test reads the video's pixels through a
//! canvas and checks them against what Xvfb shows. Also: an expired link shows the expiry message.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deskbeam_tests::procs::TestServer;
use deskbeam_tests::xvfb::Xvfb;
use deskbeam_tests::{color_close, init_tracing, require_tools};
use serde_json::Value;

const TOLERANCE: u8 = 20;

fn driver() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/view.mjs")
}

fn browser_ready(test: &str) -> bool {
    if !require_tools(test, &["Xvfb", "xsetroot", "xdpyinfo", "node", "chromium"]) {
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

fn sample_rgb(line: &Value) -> Option<[u8; 3]> {
    let s = line.get("samples")?.get(0)?;
    let c = |k: &str| s.get(k).and_then(Value::as_f64).map(|v| v.round() as u8);
    Some([c("r")?, c("g")?, c("b")?])
}

#[test]
fn chromium_shows_the_shared_screen_and_follows_changes() {
    init_tracing();
    if !browser_ready("browser viewer") {
        return;
    }
    let x = Xvfb::start(130, 1280, 720).expect("Xvfb");
    x.set_root_color([210, 40, 40]).expect("paint");
    let server = TestServer::start().expect("server");
    let (_agent, link) = server.share(&x.display, &[]).expect("link");

    let mut child = Command::new("node")
        .arg(driver())
        .args(["--url", &link, "--mode", "pixels", "--samples", "0.5,0.5", "--timeout-ms", "45000", "--watch-ms", "20000", "--poll-ms", "150"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();

    let mut want = [210, 40, 40];
    let mut changed_at: Option<Instant> = None;
    let mut seen_first = false;
    let mut last = Value::Null;
    let ok = loop {
        let Some(Ok(line)) = lines.next() else { break false };
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v.get("ok") == Some(&Value::Bool(false)) {
            last = v;
            break false;
        }
        let Some(rgb) = sample_rgb(&v) else { continue };
        last = v.clone();
        if !color_close(rgb, want, TOLERANCE) {
            continue;
        }
        if !seen_first {
            seen_first = true;
            assert_eq!(v["width"], 1280, "video size: {v}");
            assert_eq!(v["height"], 720, "video size: {v}");
            want = [30, 170, 70];
            x.set_root_color(want).expect("paint");
            changed_at = Some(Instant::now());
        } else {
            eprintln!("browser saw the new colour after {:?}", changed_at.map(|t| t.elapsed()));
            break true;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "browser never showed {want:?}; last report: {last}");
}

#[test]
fn chromium_shows_the_expiry_message_for_an_expired_link() {
    init_tracing();
    if !browser_ready("browser expiry") {
        return;
    }
    let x = Xvfb::start(150, 320, 240).expect("Xvfb");
    let server = TestServer::start().expect("server");
    let (_agent, link) = server.share(&x.display, &["--ttl", "1s"]).expect("link");
    std::thread::sleep(Duration::from_millis(2100));
    let out = Command::new("node")
        .arg(driver())
        .args(["--url", &link, "--mode", "expired", "--timeout-ms", "30000"])
        .stderr(Stdio::inherit())
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = text.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
    assert!(out.status.success(), "driver failed: {text}");
    assert_eq!(v["state"], "expired", "{v}");
    let message = v["message"].as_str().unwrap_or_default().to_lowercase();
    assert!(message.contains("expired"), "message: {message}");
}

#[test]
fn chromium_with_a_control_link_clicks_and_types_into_the_desktop() {
    init_tracing();
    if !browser_ready("browser control") || !require_tools("browser control", &["xterm", "xdotool"]) {
        return;
    }
    let x = Xvfb::start(210, 1024, 768).expect("Xvfb");
    let dir = deskbeam_tests::procs::tempdir::TempDir::new().expect("temp dir");
    let mut term = x.xterm(dir.path()).expect("xterm");
    let server = TestServer::start().expect("server");
    let (_agent, link) = server.share(&x.display, &["--scope", "control", "--consent", "auto"]).expect("link");

    let out = Command::new("node")
        .arg(driver())
        .args(["--url", &link, "--mode", "control", "--click", "0.25,0.125", "--type", "echo from_chromium > browser.txt", "--enter", "--timeout-ms", "45000", "--hold-ms", "1500"])
        .stderr(Stdio::inherit())
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let _ = term.kill();
    assert!(out.status.success(), "driver failed: {text}");
    let v: Value = text.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
    assert_eq!(v["control"], "granted", "{v}");

    let content = std::fs::read_to_string(dir.path().join("browser.txt")).unwrap_or_default();
    assert_eq!(content.trim(), "from_chromium", "typed through the browser");
    let (px, py) = x.pointer();
    // The click landed where the browser clicked (a pixel or two of rounding in the page).
    assert!((px - 256).abs() <= 3 && (py - 96).abs() <= 3, "pointer at ({px},{py}), want about (256,96)");
    let _ = term.wait();
}
