//! The on-disk state: SQLite records and the signing key survive a restart; revocation bites.

mod common;

use std::path::PathBuf;

use common::TestResult;
use deskbeam_proto::Scope;
use deskbeam_server::links::LinkRequest;
use deskbeam_server::store::{SqliteStore, Store};
use deskbeam_server::AppState;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!(
            "deskbeam-store-test-{}",
            uuid::Uuid::new_v4().simple()
        )))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn data_and_key_survive_reopen() -> TestResult {
    let dir = TempDir::new();
    let data_dir = dir.0.join("nested").join("data");
    let (host, link) = {
        let state = AppState::open(&data_dir, "http://a.test")?;
        let host = state.issue_host_token("pc")?;
        let link = state.create_link(
            &host.host_id,
            &LinkRequest::basic(Scope::Control, 60, 3),
            "test",
        )?;
        (host, link)
    };
    let state = AppState::open(&data_dir, "http://a.test")?;
    // Same key: tokens minted before the restart still verify.
    let claims = state.keys().verify_host(&host.token)?;
    assert_eq!(
        state.store().host_token_valid(&claims.jti)?,
        Some(host.host_id.clone())
    );
    let link_claims = state.keys().verify_link(&link.token, state.now_unix())?;
    let stored = state
        .store()
        .get_link(&link_claims.jti)?
        .ok_or("link lost")?;
    assert_eq!(
        (stored.host_id.as_str(), stored.scope, stored.max_viewers),
        (host.host_id.as_str(), Scope::Control, 3)
    );
    assert_eq!(
        state.store().get_host(&host.host_id)?.map(|h| h.name),
        Some("pc".to_string())
    );
    Ok(())
}

#[test]
fn revoked_host_token_stays_revoked_after_reopen() -> TestResult {
    let dir = TempDir::new();
    let token = deskbeam_server::create_host_token(&dir.0, "pc")?;
    let jti = {
        let store = SqliteStore::open(&dir.0)?;
        let state = AppState::open(&dir.0, "http://a.test")?;
        let claims = state.keys().verify_host(&token)?;
        assert!(store.host_token_valid(&claims.jti)?.is_some());
        assert!(store.revoke_host_token(&claims.jti)?);
        claims.jti
    };
    let store = SqliteStore::open(&dir.0)?;
    assert_eq!(store.host_token_valid(&jti)?, None);
    Ok(())
}

#[cfg(unix)]
#[test]
fn data_dir_and_key_file_are_private() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let data_dir = dir.0.join("data");
    deskbeam_server::create_host_token(&data_dir, "pc")?;
    let mode =
        |p: PathBuf| -> TestResult<u32> { Ok(std::fs::metadata(p)?.permissions().mode() & 0o777) };
    assert_eq!(mode(data_dir.clone())?, 0o700);
    assert_eq!(mode(data_dir.join("link-signing-key.pem"))?, 0o600);
    let pem = std::fs::read_to_string(data_dir.join("link-signing-key.pem"))?;
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(data_dir.join("deskbeam.db").is_file());
    Ok(())
}

#[test]
fn corrupt_key_file_is_an_error_not_a_panic() -> TestResult {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0)?;
    std::fs::write(
        dir.0.join("link-signing-key.pem"),
        "-----BEGIN PRIVATE KEY-----\nnope\n",
    )?;
    assert!(AppState::open(&dir.0, "http://a.test").is_err());
    Ok(())
}
