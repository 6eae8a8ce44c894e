//! NAT traversal: ICE servers with short-lived TURN credentials, and the embedded TURN relay.
//!
//! - [`credentials`]: the TURN REST API scheme (`expiry:id` usernames, HMAC passwords), the
//!   shared secret in the data dir, [`IceIssuer`] (what agents and viewers receive), the WHEP
//!   `Link` header values.
//! - [`core`]: the relay's sans-IO state machine (allocations, permissions, channels, auth,
//!   limits). [`limits`]: counts and the per-allocation token bucket. [`wire`]: message codecs.
//! - `net`: the sockets (UDP and TCP on one port, a UDP socket per allocation).
//!
//! **Architecture invariant:** the relay serves only credentials this server minted (HMAC with
//! its secret) and unexpired at allocation time; credentials are minted only for a valid link or
//! host token. A live allocation keeps refreshing with the key it was opened with.

pub mod core;
pub mod credentials;
pub mod limits;
mod net;
pub mod wire;

#[cfg(test)]
mod core_tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

pub use self::core::RelayStats;
pub use credentials::{IceIssuer, TurnSecret};
pub use limits::RelayLimits;

/// Settings of the embedded relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnConfig {
    /// UDP and TCP address clients reach the relay on.
    pub listen: SocketAddr,
    /// Address relay sockets bind to and advertise (what peers send to).
    pub relay_ip: IpAddr,
    pub realm: String,
    pub limits: RelayLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error("could not listen for TURN on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("no crypto provider for TURN: {0}")]
    Crypto(String),
    #[error("the relay address {0} is unspecified: pass --turn-relay-ip")]
    UnspecifiedRelayIp(IpAddr),
}

/// A running relay; stops when dropped.
pub struct TurnRelay {
    shared: Arc<net::Shared>,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl TurnRelay {
    /// Binds UDP and TCP on `config.listen` and starts relaying.
    pub async fn start(config: &TurnConfig, secret: TurnSecret) -> Result<Self, TurnError> {
        if config.relay_ip.is_unspecified() {
            return Err(TurnError::UnspecifiedRelayIp(config.relay_ip));
        }
        let bind_err = |addr, source| TurnError::Bind { addr, source };
        let udp = tokio::net::UdpSocket::bind(config.listen).await.map_err(|e| bind_err(config.listen, e))?;
        let udp_addr = udp.local_addr().map_err(|e| bind_err(config.listen, e))?;
        // TCP on the same port as UDP (which may have been picked by the OS).
        let tcp_at = SocketAddr::new(config.listen.ip(), udp_addr.port());
        let tcp = tokio::net::TcpListener::bind(tcp_at).await.map_err(|e| bind_err(tcp_at, e))?;
        let tcp_addr = tcp.local_addr().map_err(|e| bind_err(tcp_at, e))?;
        let crypto = rtc::crypto::default_provider().map_err(|e| TurnError::Crypto(e.to_string()))?;
        let core = core::RelayCore::new(secret, config.realm.clone(), config.limits, crypto, Instant::now());
        let shared = net::Shared::new(core, udp, config.relay_ip, config.limits.max_allocations * 2);
        let tasks = vec![
            tokio::spawn(net::serve_udp(Arc::clone(&shared))),
            tokio::spawn(net::serve_tcp(Arc::clone(&shared), tcp)),
            tokio::spawn(net::run_expiry(Arc::clone(&shared))),
        ];
        tracing::info!(%udp_addr, %tcp_addr, relay_ip = %config.relay_ip, "TURN relay listening (UDP and TCP)");
        Ok(Self { shared, udp_addr, tcp_addr, tasks })
    }

    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    pub fn stats(&self) -> RelayStats {
        self.shared.stats()
    }
}

impl Drop for TurnRelay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        net::close_all(&self.shared);
    }
}

/// The host part of `http(s)://host[:port][/…]` (IPv6 brackets kept): where clients reach the
/// embedded relay by default.
pub fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => host.to_string(),
        _ => authority.to_string(),
    }
}

/// The `turn:` URLs of the embedded relay as clients reach it at `host` (UDP and TCP).
pub fn relay_urls(host: &str, port: u16) -> Vec<String> {
    vec![format!("turn:{host}:{port}?transport=udp"), format!("turn:{host}:{port}?transport=tcp")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_is_announced_at_the_public_host() {
        assert_eq!(url_host("https://beam.example.com"), "beam.example.com");
        assert_eq!(url_host("http://10.0.0.1:8080"), "10.0.0.1");
        assert_eq!(url_host("https://beam.example.com:8443/base"), "beam.example.com");
        assert_eq!(url_host("http://[2001:db8::1]:8080"), "[2001:db8::1]");
        assert_eq!(url_host("http://[2001:db8::1]"), "[2001:db8::1]");
        assert_eq!(relay_urls("h", 3478), ["turn:h:3478?transport=udp", "turn:h:3478?transport=tcp"]);
    }
}
