//! Validated settings for `deskbeam-agent share`.

use std::time::Duration;

use deskbeam_proto::Scope;
use url::Url;

use crate::transport::TransportConfig;

/// Shortest and longest link lifetime the agent asks for.
pub const MIN_TTL: Duration = Duration::from_secs(1);
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Everything `share` needs, checked once.
#[derive(Clone)]
pub struct ShareConfig {
    /// The server's base URL (`http://…` or `https://…`).
    pub server: Url,
    /// Host token; never printed (see the `Debug` impl).
    pub token: String,
    pub ttl: Duration,
    pub scope: Scope,
    pub max_viewers: u32,
    /// Name of this machine as viewers see it.
    pub name: String,
    pub fps: u32,
    pub bitrate_bps: u32,
    pub transport: TransportConfig,
}

impl std::fmt::Debug for ShareConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareConfig")
            .field("server", &self.server.as_str())
            .field("token", &"<redacted>")
            .field("ttl", &self.ttl)
            .field("scope", &self.scope)
            .field("max_viewers", &self.max_viewers)
            .field("name", &self.name)
            .field("fps", &self.fps)
            .field("bitrate_bps", &self.bitrate_bps)
            .field("transport", &self.transport)
            .finish()
    }
}

/// A setting that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--server must be an http:// or https:// URL, got {0:?}")]
    ServerUrl(String),
    #[error("a host token is required (--token or DESKBEAM_TOKEN)")]
    MissingToken,
    #[error("--ttl must be between 1s and 30days, got {0:?}")]
    Ttl(Duration),
    #[error("--max-viewers must be between 1 and 100, got {0}")]
    MaxViewers(u32),
    #[error("--fps must be between 1 and 120, got {0}")]
    Fps(u32),
    #[error("--bitrate must be between 100 kbps and 50 Mbps, got {0} bps")]
    Bitrate(u32),
}

impl ShareConfig {
    /// Checks every field; the only way the rest of the agent sees a config.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        server: &str,
        token: &str,
        ttl: Duration,
        scope: Scope,
        max_viewers: u32,
        name: String,
        fps: u32,
        bitrate_bps: u32,
        transport: TransportConfig,
    ) -> Result<Self, ConfigError> {
        let server = Url::parse(server)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| ConfigError::ServerUrl(server.to_string()))?;
        if token.trim().is_empty() {
            return Err(ConfigError::MissingToken);
        }
        if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
            return Err(ConfigError::Ttl(ttl));
        }
        if !(1..=100).contains(&max_viewers) {
            return Err(ConfigError::MaxViewers(max_viewers));
        }
        if !(1..=120).contains(&fps) {
            return Err(ConfigError::Fps(fps));
        }
        if !(100_000..=50_000_000).contains(&bitrate_bps) {
            return Err(ConfigError::Bitrate(bitrate_bps));
        }
        let token = token.trim().to_string();
        Ok(Self { server, token, ttl, scope, max_viewers, name, fps, bitrate_bps, transport })
    }

    /// The agent WebSocket endpoint on the server.
    pub fn agent_url(&self) -> Url {
        let mut url = self.server.clone();
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        // Both schemes are "special" in the URL standard, so switching between them always works.
        let _ = url.set_scheme(scheme);
        let base = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base}/api/agent"));
        url.set_query(None);
        url.set_fragment(None);
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(server: &str) -> Result<ShareConfig, ConfigError> {
        ShareConfig::new(server, "tok", Duration::from_secs(3600), Scope::View, 5, "pc".into(), 30, 4_000_000, TransportConfig::default())
    }

    #[test]
    fn builds_the_agent_url() {
        assert_eq!(cfg("http://127.0.0.1:8080").expect("ok").agent_url().as_str(), "ws://127.0.0.1:8080/api/agent");
        assert_eq!(cfg("https://x.example/base/").expect("ok").agent_url().as_str(), "wss://x.example/base/api/agent");
    }

    #[test]
    fn rejects_bad_settings_and_hides_the_token() {
        assert!(matches!(cfg("ftp://x"), Err(ConfigError::ServerUrl(_))));
        assert!(matches!(cfg("nonsense"), Err(ConfigError::ServerUrl(_))));
        let bad_ttl = ShareConfig::new("http://a", "t", Duration::ZERO, Scope::View, 5, "pc".into(), 30, 4_000_000, TransportConfig::default());
        assert_eq!(bad_ttl.err(), Some(ConfigError::Ttl(Duration::ZERO)));
        let no_token = ShareConfig::new("http://a", " ", Duration::from_secs(5), Scope::View, 5, "pc".into(), 30, 4_000_000, TransportConfig::default());
        assert_eq!(no_token.err(), Some(ConfigError::MissingToken));
        let debug = format!("{:?}", cfg("http://a").expect("ok"));
        assert!(!debug.contains("tok\""), "{debug}");
    }
}
