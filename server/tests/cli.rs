//! The binary's command line: `host-token`, bad flags, and a clean exit on SIGTERM.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestResult;

const BIN: &str = env!("CARGO_BIN_EXE_deskbeam-server");

fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!(
        "deskbeam-cli-test-{}",
        uuid::Uuid::new_v4().simple()
    ))
}

#[test]
fn host_token_prints_only_the_token() -> TestResult {
    let dir = temp_dir();
    let out = Command::new(BIN)
        .args(["host-token", "--data-dir"])
        .arg(&dir)
        .args(["--name", "pc"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout)?;
    let token = stdout.trim_end();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_eq!(token.split('.').count(), 3, "{token}");
    let state = deskbeam_server::AppState::open(&dir, "http://a.test")?;
    assert!(state.keys().verify_host(token).is_ok());
    // The token never reaches the logs.
    assert!(!String::from_utf8_lossy(&out.stderr).contains(token));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn bad_flags_fail_with_a_clear_message() -> TestResult {
    for args in [
        &["--bogus"][..],
        &["--listen", "not-an-address"],
        &["--public-url", "ftp://x"],
        &["host-token", "--listen", "1"],
    ] {
        let out = Command::new(BIN).args(args).output()?;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error:") && stderr.contains("--help"),
            "{args:?}: {stderr}"
        );
    }
    Ok(())
}

fn healthz(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    Some(reply)
}

#[cfg(unix)]
#[test]
fn serves_and_stops_on_sigterm() -> TestResult {
    let dir = temp_dir();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut child = Command::new(BIN)
        .args(["--listen", &addr.to_string(), "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Process start-up has no signal to wait on: poll the health endpoint.
    let deadline = Instant::now() + Duration::from_secs(20);
    let reply = loop {
        if let Some(reply) = healthz(addr) {
            break reply;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("server never answered /healthz".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.ends_with("ok"),
        "{reply}"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("server did not stop on SIGTERM".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
