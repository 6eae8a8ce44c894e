//! `deskbeam-agent link …`: create, list and revoke viewer links through the server's JSON API,
//! authenticated with the host token.

use std::time::Duration;

use deskbeam_proto::api::{CreateLinkRequest, ErrorBody, LinkInfo, LinkList, ViewerInfo, ViewerList};
use url::Url;

/// Errors talking to the links API.
#[derive(Debug, thiserror::Error)]
pub enum LinkApiError {
    #[error("cannot reach the server: {0}")]
    Transport(String),
    #[error("the server refused ({status} {code}): {message}")]
    Refused { status: u16, code: String, message: String },
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

/// A client for `/api/links` with a host token.
pub struct LinkClient {
    base: Url,
    token: String,
    agent: ureq::Agent,
}

impl LinkClient {
    pub fn new(base: Url, token: String) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(15)))
            .http_status_as_error(false)
            .build();
        Self { base, token, agent: config.into() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub fn create(&self, req: &CreateLinkRequest) -> Result<LinkInfo, LinkApiError> {
        let resp = self
            .agent
            .post(&self.url("/api/links"))
            .header("Authorization", &self.bearer())
            .send_json(req)
            .map_err(|e| LinkApiError::Transport(e.to_string()))?;
        decode(resp)
    }

    pub fn list(&self) -> Result<Vec<LinkInfo>, LinkApiError> {
        let resp = self
            .agent
            .get(&self.url("/api/links"))
            .header("Authorization", &self.bearer())
            .call()
            .map_err(|e| LinkApiError::Transport(e.to_string()))?;
        decode::<LinkList>(resp).map(|l| l.links)
    }

    pub fn revoke(&self, id: &str) -> Result<LinkInfo, LinkApiError> {
        let resp = self
            .agent
            .delete(&self.url(&format!("/api/links/{}", path_id(id))))
            .header("Authorization", &self.bearer())
            .call()
            .map_err(|e| LinkApiError::Transport(e.to_string()))?;
        decode(resp)
    }

    /// Who is watching now.
    pub fn viewers(&self) -> Result<Vec<ViewerInfo>, LinkApiError> {
        let resp = self
            .agent
            .get(&self.url("/api/viewers"))
            .header("Authorization", &self.bearer())
            .call()
            .map_err(|e| LinkApiError::Transport(e.to_string()))?;
        decode::<ViewerList>(resp).map(|l| l.viewers)
    }

    /// Disconnects a viewer.
    pub fn kick(&self, id: &str) -> Result<(), LinkApiError> {
        let resp = self
            .agent
            .delete(&self.url(&format!("/api/viewers/{}", path_id(id))))
            .header("Authorization", &self.bearer())
            .call()
            .map_err(|e| LinkApiError::Transport(e.to_string()))?;
        decode::<serde_json::Value>(resp).map(|_| ())
    }
}

/// Ids are hex/uuid: keep only what can be in one, so nothing else reaches the path.
fn path_id(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}

/// One line per viewer for `viewers`.
pub fn format_viewer(v: &ViewerInfo, now: u64) -> String {
    format!(
        "{:<34} {:<8} {:<22} for {:<10} {}",
        v.id,
        v.scope,
        v.address.as_deref().unwrap_or("?"),
        humantime::format_duration(Duration::from_secs(now.saturating_sub(v.since))).to_string(),
        v.link_label.as_deref().unwrap_or(&v.link_id)
    )
}

fn decode<T: serde::de::DeserializeOwned>(mut resp: ureq::http::Response<ureq::Body>) -> Result<T, LinkApiError> {
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().map_err(|e| LinkApiError::Transport(e.to_string()))?;
    if !(200..300).contains(&status) {
        return Err(match serde_json::from_str::<ErrorBody>(&body) {
            Ok(e) => LinkApiError::Refused { status, code: e.error.code, message: e.error.message },
            Err(_) => LinkApiError::Refused { status, code: "http".into(), message: body.chars().take(200).collect() },
        });
    }
    serde_json::from_str(&body).map_err(|e| LinkApiError::Decode(e.to_string()))
}

/// A random PIN of `digits` digits for a link.
pub fn random_pin(digits: usize) -> String {
    let mut out = String::new();
    while out.len() < digits {
        for b in uuid::Uuid::new_v4().as_bytes() {
            // Rejection sampling keeps the digits uniform.
            if *b < 250 && out.len() < digits {
                out.push(char::from(b'0' + b % 10));
            }
        }
    }
    out
}

/// One line per link for `link list`.
pub fn format_link(l: &LinkInfo, now: u64) -> String {
    let state = if l.revoked_at.is_some() {
        "revoked".to_string()
    } else if l.expires_at <= now {
        "expired".to_string()
    } else if l.single_use && l.used {
        "used".to_string()
    } else if l.starts_at > now {
        format!("starts in {}", humantime::format_duration(Duration::from_secs(l.starts_at - now)))
    } else {
        format!("expires in {}", humantime::format_duration(Duration::from_secs(l.expires_at - now)))
    };
    let mut flags = Vec::new();
    if l.has_pin {
        flags.push("pin");
    }
    if l.single_use {
        flags.push("single-use");
    }
    format!(
        "{:<34} {:<8} {:>2}/{:<3} {:<28} {:<12} {}",
        l.id,
        l.scope,
        l.viewers,
        l.max_viewers,
        state,
        flags.join(","),
        l.label.as_deref().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_digits_of_the_asked_length() {
        for n in [4, 6, 12] {
            let p = random_pin(n);
            assert_eq!(p.len(), n);
            assert!(p.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn list_lines_say_what_state_a_link_is_in() {
        let mut l = LinkInfo {
            id: "abc".into(),
            url: None,
            scope: deskbeam_proto::Scope::Control,
            label: Some("support".into()),
            created_at: 0,
            starts_at: 0,
            expires_at: 3600,
            max_viewers: 2,
            single_use: true,
            has_pin: true,
            revoked_at: None,
            used: false,
            viewers: 1,
        };
        let line = format_link(&l, 600);
        assert!(line.contains("expires in 50m") && line.contains("pin,single-use") && line.contains("support"), "{line}");
        l.revoked_at = Some(700);
        assert!(format_link(&l, 800).contains("revoked"));
    }
}
