//! Deskbeam server: hands out viewer links, relays WHEP offers from viewers to the sharing
//! agent over its signaling WebSocket, and serves the browser viewer.
//!
//! # Layout
//! - [`app`]: the HTTP router (every route, fallbacks, the per-request trace span).
//! - [`agent_ws`]: `GET /api/agent`, the agent's signaling WebSocket (reader + writer tasks).
//! - [`whep`]: `POST /whep` / `DELETE /whep/{id}` for viewers (link rules, PIN), CORS.
//! - [`api`]: the JSON management API: links, viewers, audit, login/logout/me, OpenAPI.
//! - [`closing`]: ending viewers from the server: revocation, kick, the link-expiry sweeper.
//! - [`assets`]: the embedded viewer, login and dashboard pages, the landing page, `/healthz`.
//! - [`hub`]: in-memory routing state: connected agents, pending offers, active viewers.
//! - [`links`]: link rules (TTL, viewer limit, label, PIN, start) and minting a link's token.
//! - [`auth`]: checking host tokens (agents) and link tokens (viewers) against the store.
//! - [`accounts`]: users, login (password, TOTP, failure limits), sessions.
//! - [`audit`]: the append-only audit trail: event kinds, the builder, the throttle.
//! - [`admin`]: the binary's administrative commands (`host-token`, `user`, `audit export`).
//! - [`limits`]: failure counters with lockout (PINs, logins). [`secrets`]: hashing, random
//!   tokens. [`totp`]: RFC 6238 codes. [`tls`]: HTTPS serving with rustls.
//! - [`tokens`]: the Ed25519 signing key and JWT signing/verification (alg pinned).
//! - [`store`]: the [`store::Store`] trait with SQLite and in-memory implementations.
//! - [`state`]: [`AppState`], what every handler shares.
//! - [`clock`]: the injected [`clock::Clock`] every expiry decision asks.
//! - [`error`]: [`error::ApiError`], the one HTTP error type (stable JSON codes).
//! - [`files`]: private (0700/0600) files and directories in the data dir.
//! - [`serve`]: the accept loop: HTTP/1.1 with upgrades, header and request deadlines.
//! - [`turn`]: ICE servers with short-lived TURN credentials, and the embedded TURN relay.
//!
//! **Architecture invariant:** routing decisions live in [`hub`] and [`links`] as plain code
//! under short locks; sockets and waiting live in [`agent_ws`] and [`whep`]. No token or key
//! material is ever logged.

pub mod accounts;
pub mod admin;
pub mod agent_ws;
pub mod api;
pub mod app;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod closing;
pub mod error;
pub mod files;
pub mod hub;
pub mod limits;
pub mod links;
pub mod secrets;
pub mod serve;
pub mod state;
pub mod store;
pub mod tls;
pub mod tokens;
pub mod totp;
pub mod turn;
pub mod whep;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use app::app;
pub use clock::{Clock, ManualClock, SystemClock};
pub use state::{AppState, IssuedHost, StateError};

/// Validated settings of a server run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Base of viewer links; `http(s)://<bound address>` when `None`.
    pub public_url: Option<String>,
    /// Honour `X-Forwarded-For` for client addresses.
    pub trust_proxy: bool,
    /// Serve HTTPS with these PEM files.
    pub tls: Option<TlsFiles>,
    /// NAT traversal: the embedded relay and the ICE servers handed out.
    pub ice: IceSettings,
}

/// Which STUN/TURN servers agents and viewers get.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceSettings {
    /// Run the embedded TURN relay (UDP and TCP).
    pub relay: Option<turn::TurnConfig>,
    /// URLs handed out; empty with a relay = the relay's own `turn:` URLs at the public host.
    pub urls: Vec<String>,
    /// Lifetime of minted TURN credentials (for new allocations).
    pub credential_ttl_secs: u64,
}

/// A certificate chain and its private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Turn(#[from] turn::TurnError),
    #[error(transparent)]
    TurnSecret(#[from] turn::credentials::SecretError),
}

/// Opens the data dir, binds `config.listen` and serves (HTTPS with `config.tls`) until
/// `shutdown` completes.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let tls = match &config.tls {
        Some(files) => Some(tls::load_config(&files.cert, &files.key)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let bound = listener.local_addr().map_err(ServerError::Serve)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{bound}"));
    if config.public_url.is_none() && bound.ip().is_unspecified() {
        tracing::warn!(%public_url, "listening on all interfaces: pass --public-url so viewer links work");
    }
    let (relay, issuer) = start_ice(&config, &public_url).await?;
    let mut state = AppState::open(&config.data_dir, public_url)?
        .with_trust_proxy(config.trust_proxy)
        .with_secure_cookies(tls.is_some());
    if let Some(issuer) = issuer {
        state = state.with_ice(issuer);
    }
    // The relay stops when `relay` drops, after serving ends.
    let _relay = relay;
    match tls {
        Some(tls) => serve_tls(listener, tls, state, shutdown).await,
        None => serve(listener, state, shutdown).await,
    }
}

/// Starts the embedded relay (if configured) and builds the ICE issuer (if there is any URL).
async fn start_ice(
    config: &Config,
    public_url: &str,
) -> Result<(Option<turn::TurnRelay>, Option<turn::IceIssuer>), ServerError> {
    let ice = &config.ice;
    if ice.relay.is_none() && ice.urls.is_empty() {
        return Ok((None, None));
    }
    files::create_private_dir(&config.data_dir).map_err(|source| StateError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let secret = turn::TurnSecret::load_or_create(&config.data_dir)?;
    let relay = match &ice.relay {
        Some(relay_config) => Some(turn::TurnRelay::start(relay_config, secret.clone()).await?),
        None => None,
    };
    let urls = match &relay {
        Some(r) if ice.urls.is_empty() => turn::relay_urls(&turn::url_host(public_url), r.udp_addr().port()),
        _ => ice.urls.clone(),
    };
    tracing::info!(?urls, "handing out ICE servers");
    let issuer = turn::IceIssuer::new(secret, urls, ice.credential_ttl_secs);
    Ok((relay, Some(issuer)))
}

/// Serves the app on `listener` until `shutdown` completes, then drains in-flight requests.
/// Also runs the link-expiry sweeper. Tests bind port 0 and call this directly.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    serve_on(listener, state, shutdown).await
}

/// [`serve`] over TLS with `config` (see [`tls::load_config`]).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    config: std::sync::Arc<rustls::ServerConfig>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let listener = tls::TlsListener::new(listener, config).map_err(ServerError::Serve)?;
    serve_on(listener, state, shutdown).await
}

async fn serve_on<L>(
    listener: L,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    tracing::info!(%addr, public_url = state.public_url(), "listening");
    let sweeper = tokio::spawn(closing::run_expiry_sweeper(state.clone()));
    let hub_state = state.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down");
        hub_state.hub().close_all();
    };
    serve::serve_connections(listener, app(state), signal).await;
    sweeper.abort();
    Ok(())
}

/// Creates a host in `data_dir`'s store and returns a token for its agent.
pub fn create_host_token(data_dir: &Path, name: &str) -> Result<String, StateError> {
    let state = AppState::open(data_dir, "")?;
    Ok(state.issue_host_token(name)?.token)
}
