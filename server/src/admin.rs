//! The administrative commands of the binary (`host-token`, `user`, `audit export`) as library
//! functions on a data dir, so `main` stays thin and tests can call them.

use std::io::Write;
use std::path::Path;

use crate::accounts::AccountError;
use crate::api::audit::to_json_lines;
use crate::api::types::AuditEvent;
use crate::audit::{kinds, Event};
use crate::state::{AppState, StateError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("no host token with id {0:?}")]
    NoSuchToken(String),
    #[error("--count must be between 1 and {MAX_HOST_TOKEN_COUNT}, not {0}")]
    BadCount(u32),
    #[error("could not write the output: {0}")]
    Io(#[from] std::io::Error),
}

fn open(data_dir: &Path) -> Result<AppState, StateError> {
    AppState::open(data_dir, "")
}

/// Creates a host (bound to `user` when given) and returns its agent token.
pub fn create_host_token(
    data_dir: &Path,
    name: &str,
    user: Option<&str>,
) -> Result<String, AdminError> {
    let state = open(data_dir)?;
    let owner = match user {
        Some(user) => Some(
            state
                .store()
                .get_user_by_name(user)?
                .ok_or_else(|| AdminError::NoSuchUser(user.to_string()))?
                .id,
        ),
        None => None,
    };
    Ok(state.issue_owned_host_token(name, owner.as_deref())?.token)
}

/// Most hosts one `host-token --count` may enrol (load tests, fleet provisioning).
pub const MAX_HOST_TOKEN_COUNT: u32 = 10_000;

/// Enrols `count` hosts named `<name>-<n>` (n from 1) in one store session and writes one token
/// per line to `out`. Much faster than `count` processes, each opening the store.
pub fn create_host_tokens(
    data_dir: &Path,
    name: &str,
    count: u32,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    if count == 0 || count > MAX_HOST_TOKEN_COUNT {
        return Err(AdminError::BadCount(count));
    }
    let state = open(data_dir)?;
    for n in 1..=count {
        let issued = state.issue_owned_host_token(&format!("{name}-{n}"), None)?;
        writeln!(out, "{}", issued.token)?;
    }
    Ok(())
}

/// One line per host token: `jti host_id host_name owner created_at active|revoked`.
pub fn list_host_tokens(data_dir: &Path, out: &mut impl Write) -> Result<(), AdminError> {
    let state = open(data_dir)?;
    let hosts = state.store().list_hosts()?;
    let users = state.store().list_users()?;
    for token in state.store().list_host_tokens()? {
        let host = hosts.iter().find(|h| h.id == token.host_id);
        let owner = host
            .and_then(|h| h.owner.as_ref())
            .and_then(|id| users.iter().find(|u| &u.id == id))
            .map_or("-", |u| u.name.as_str());
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}",
            token.jti,
            token.host_id,
            host.map_or("-", |h| h.name.as_str()),
            owner,
            token.created_at,
            if token.revoked { "revoked" } else { "active" }
        )?;
    }
    Ok(())
}

/// Revokes a host token; its agent can no longer connect.
pub fn revoke_host_token(data_dir: &Path, jti: &str) -> Result<(), AdminError> {
    let state = open(data_dir)?;
    let host_id = state
        .store()
        .list_host_tokens()?
        .into_iter()
        .find(|t| t.jti == jti)
        .map(|t| t.host_id)
        .ok_or_else(|| AdminError::NoSuchToken(jti.to_string()))?;
    state.store().revoke_host_token(jti)?;
    tracing::info!(jti, host_id, "host token revoked");
    state.audit(
        Event::new(kinds::HOST_TOKEN_REVOKED)
            .actor("cli")
            .host(host_id)
            .detail(serde_json::json!({ "jti": jti })),
    );
    Ok(())
}

/// Creates a user; `password` is the first line the caller read (newline stripped).
pub fn add_user(data_dir: &Path, name: &str, password: &str) -> Result<(), AdminError> {
    let state = open(data_dir)?;
    let user = state.add_user(name, password)?;
    tracing::info!(user = %user.name, "user created");
    Ok(())
}

/// One line per user: `name created_at totp|-`.
pub fn list_users(data_dir: &Path, out: &mut impl Write) -> Result<(), AdminError> {
    let state = open(data_dir)?;
    for user in state.store().list_users()? {
        let totp = if user.totp_secret.is_some() {
            "totp"
        } else {
            "-"
        };
        writeln!(out, "{}\t{}\t{}", user.name, user.created_at, totp)?;
    }
    Ok(())
}

/// Turns on TOTP for a user; returns the `otpauth://` URI to show once.
pub fn enable_totp(data_dir: &Path, name: &str) -> Result<String, AdminError> {
    Ok(open(data_dir)?.enable_totp(name)?)
}

/// Writes the whole audit log as JSON lines.
pub fn export_audit(data_dir: &Path, out: &mut impl Write) -> Result<(), AdminError> {
    let state = open(data_dir)?;
    let mut after = 0;
    loop {
        let page = state.store().list_audit(after, 1000)?;
        let Some(last) = page.last().map(|e| e.id) else {
            return Ok(());
        };
        after = last;
        let events: Vec<AuditEvent> = page.into_iter().map(AuditEvent::from).collect();
        out.write_all(to_json_lines(&events).as_bytes())?;
    }
}
