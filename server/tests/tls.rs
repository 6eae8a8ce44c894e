//! HTTPS with a self-signed certificate made in the test: the server answers over TLS, and a
//! login there sets a `Secure` cookie.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{state_with_clock, TestResult};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

struct Files {
    dir: std::path::PathBuf,
    cert_der: rustls::pki_types::CertificateDer<'static>,
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn self_signed() -> TestResult<Files> {
    let dir = std::env::temp_dir().join(format!("deskbeam-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    std::fs::write(dir.join("cert.pem"), certified.cert.pem())?;
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem())?;
    Ok(Files {
        dir,
        cert_der: certified.cert.der().clone(),
    })
}

async fn https(addr: std::net::SocketAddr, files: &Files, request: &str) -> TestResult<String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(files.cert_der.clone())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = connector
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    tls.write_all(request.as_bytes()).await?;
    let mut reply = Vec::new();
    // A TLS peer may close without close_notify; keep what arrived.
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut reply)).await?;
    Ok(String::from_utf8(reply)?)
}

#[tokio::test]
async fn serves_https_and_marks_cookies_secure() -> TestResult {
    let files = self_signed()?;
    let config =
        deskbeam_server::tls::load_config(&files.dir.join("cert.pem"), &files.dir.join("key.pem"))?;
    let (state, _) = state_with_clock()?;
    let state = state.with_secure_cookies(true);
    state.add_user("alice", "correct horse battery")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(deskbeam_server::serve_tls(
        listener,
        config,
        state,
        async move {
            let _ = stopped.await;
        },
    ));
    let health = https(
        addr,
        &files,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await?;
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok"),
        "{health}"
    );
    let body = r#"{"name":"alice","password":"correct horse battery"}"#;
    let login = format!(
        "POST /api/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply = https(addr, &files, &login).await?;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let cookie = reply
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .ok_or("no cookie")?;
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(addr).await?;
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await?;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), server).await???;
    Ok(())
}

#[test]
fn unusable_files_are_clear_errors() -> TestResult {
    let files = self_signed()?;
    let (cert, key) = (files.dir.join("cert.pem"), files.dir.join("key.pem"));
    let missing = files.dir.join("missing.pem");
    let err = deskbeam_server::tls::load_config(&missing, &key)
        .err()
        .ok_or("accepted")?;
    assert!(err.to_string().contains("certificate"), "{err}");
    let err = deskbeam_server::tls::load_config(&cert, &cert)
        .err()
        .ok_or("accepted")?;
    assert!(err.to_string().contains("private key"), "{err}");
    assert!(!err.to_string().contains("BEGIN"));
    Ok(())
}

/// Kills the child when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_serves_https_with_tls_flags() -> TestResult {
    let files = self_signed()?;
    let bin = env!("CARGO_BIN_EXE_deskbeam-server");
    let half = std::process::Command::new(bin)
        .arg("--tls-cert")
        .arg(files.dir.join("cert.pem"))
        .output()?;
    assert_eq!(half.status.code(), Some(2), "--tls-cert needs --tls-key");
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let _child = Child(
        std::process::Command::new(bin)
            .args(["--listen", &addr.to_string(), "--data-dir"])
            .arg(files.dir.join("data"))
            .arg("--tls-cert")
            .arg(files.dir.join("cert.pem"))
            .arg("--tls-key")
            .arg(files.dir.join("key.pem"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?,
    );
    let request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(reply) = https(addr, &files, request).await {
            assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err("no HTTPS answer from the binary".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
