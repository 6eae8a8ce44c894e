//! TURN REST API credentials: `username = <expiry>:<id>`, `password = base64(HMAC-SHA1(secret,
//! username))`. The server mints them for holders of a valid link or host token; the relay (or an
//! external coturn with `use-auth-secret`) recomputes the password from the same secret.

use std::io;
use std::path::{Path, PathBuf};

use base64::Engine;
use deskbeam_proto::ice::{IceServer, IceServerList};
use hmac::{Hmac, Mac};
use rand::RngCore;

use crate::files;

/// File in the data dir holding the shared TURN secret (text, 0600).
pub const SECRET_FILE: &str = "turn-secret";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("could not read or create the TURN secret {path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("the TURN secret file {0} is empty")]
    Empty(PathBuf),
}

/// The shared secret of the TURN REST API. Never printed by `Debug`.
#[derive(Clone)]
pub struct TurnSecret(Vec<u8>);

impl std::fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TurnSecret(<redacted>)")
    }
}

impl TurnSecret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// Reads `<data_dir>/turn-secret`, creating a random one (0600) on first use. Its text is
    /// what an external coturn takes as `static-auth-secret`.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SecretError> {
        let path = data_dir.join(SECRET_FILE);
        let err = |source| SecretError::File { path: path.clone(), source };
        match std::fs::read_to_string(&path) {
            Ok(text) => return Self::from_text(&path, &text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let text: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        match files::write_new_private_file(&path, text.as_bytes()) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "created the TURN secret");
                Self::from_text(&path, &text)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(err)?;
                Self::from_text(&path, &text)
            }
            Err(e) => Err(err(e)),
        }
    }

    fn from_text(path: &Path, text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SecretError::Empty(path.to_path_buf()));
        }
        Ok(Self(text.as_bytes().to_vec()))
    }

    /// The password that goes with `username`: base64(HMAC-SHA1(secret, username)).
    pub fn password(&self, username: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(username.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    /// A keyed tag over `data` (stateless nonces).
    pub fn tag(&self, data: &[u8]) -> [u8; 20] {
        let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&self.0) else {
            return [0; 20];
        };
        mac.update(b"deskbeam-turn-nonce");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

/// The expiry (unix seconds) a REST API username carries, if it has the `expiry:id` shape.
pub fn username_expiry(username: &str) -> Option<u64> {
    let (expiry, id) = username.split_once(':')?;
    if id.is_empty() {
        return None;
    }
    expiry.parse().ok()
}

/// The id part of a REST API username (what per-user limits count).
pub fn username_id(username: &str) -> &str {
    username.split_once(':').map_or(username, |(_, id)| id)
}

/// Mints ICE server lists with fresh TURN credentials.
#[derive(Debug, Clone)]
pub struct IceIssuer {
    secret: TurnSecret,
    /// `stun:`/`turn:` URLs handed out (the embedded relay's, or an external coturn's).
    urls: Vec<String>,
    ttl_secs: u64,
}

impl IceIssuer {
    pub fn new(secret: TurnSecret, urls: Vec<String>, ttl_secs: u64) -> Self {
        Self { secret, urls, ttl_secs }
    }

    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// ICE servers for `id` (a viewer or host id), valid for new allocations until `now + ttl`.
    pub fn issue(&self, id: &str, now: u64) -> IceServerList {
        let expires_at = now.saturating_add(self.ttl_secs);
        let username = format!("{expires_at}:{id}");
        let (turn, stun): (Vec<String>, Vec<String>) =
            self.urls.iter().cloned().partition(|u| u.starts_with("turn:") || u.starts_with("turns:"));
        let mut ice_servers = Vec::new();
        if !stun.is_empty() {
            ice_servers.push(IceServer { urls: stun, username: None, credential: None });
        }
        if !turn.is_empty() {
            let credential = Some(self.secret.password(&username));
            ice_servers.push(IceServer { urls: turn, username: Some(username), credential });
        }
        IceServerList { ice_servers, expires_at }
    }
}

/// The `Link` header values of draft-ietf-wish-whep for `list` (one per URL).
pub fn link_headers(list: &IceServerList) -> Vec<String> {
    let mut out = Vec::new();
    for server in &list.ice_servers {
        for url in &server.urls {
            let mut value = format!("<{url}>; rel=\"ice-server\"");
            if let (Some(user), Some(cred)) = (&server.username, &server.credential) {
                value.push_str(&format!("; username=\"{user}\"; credential=\"{cred}\"; credential-type=\"password\""));
            }
            out.push(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_the_rest_api_hmac() {
        // Reference value: printf '%s' 1700000000:alice | openssl dgst -sha1 -hmac secret -binary | base64
        let secret = TurnSecret::new(b"secret".to_vec());
        assert_eq!(secret.password("1700000000:alice"), "d8soP47RbdIKLDUOpnJPVQyq5Ts=");
        assert_ne!(TurnSecret::new(b"other".to_vec()).password("1700000000:alice"), secret.password("1700000000:alice"));
    }

    #[test]
    fn usernames_carry_their_expiry_and_id() {
        assert_eq!(username_expiry("1700000000:viewer-1"), Some(1_700_000_000));
        assert_eq!(username_expiry("1700000000:"), None);
        assert_eq!(username_expiry("alice"), None);
        assert_eq!(username_expiry("soon:alice"), None);
        assert_eq!(username_id("17:viewer-1"), "viewer-1");
    }

    #[test]
    fn issued_lists_split_stun_and_turn_and_expire() {
        let issuer = IceIssuer::new(
            TurnSecret::new(b"s".to_vec()),
            vec!["stun:h:3478".into(), "turn:h:3478?transport=udp".into(), "turn:h:3478?transport=tcp".into()],
            600,
        );
        let list = issuer.issue("v1", 1000);
        assert_eq!(list.expires_at, 1600);
        assert_eq!(list.ice_servers.len(), 2);
        assert_eq!(list.ice_servers[0].username, None);
        let turn = &list.ice_servers[1];
        assert_eq!(turn.urls.len(), 2);
        assert_eq!(turn.username.as_deref(), Some("1600:v1"));
        assert_eq!(turn.credential, Some(TurnSecret::new(b"s".to_vec()).password("1600:v1")));
        let links = link_headers(&list);
        assert_eq!(links[0], "<stun:h:3478>; rel=\"ice-server\"");
        assert!(links[1].starts_with("<turn:h:3478?transport=udp>; rel=\"ice-server\"; username=\"1600:v1\"; credential=\""));
    }

    #[test]
    fn the_secret_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("deskbeam-turn-secret-{}", uuid::Uuid::new_v4().simple()));
        let _ = std::fs::create_dir_all(&dir);
        let a = TurnSecret::load_or_create(&dir).map(|s| s.password("x")).ok();
        let b = TurnSecret::load_or_create(&dir).map(|s| s.password("x")).ok();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(a.is_some());
        assert_eq!(a, b);
    }
}
