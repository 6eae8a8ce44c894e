//! Serving connections: the accept loop, HTTP/1.1 with WebSocket upgrades, and the deadlines
//! that keep slow or silent clients (slowloris) from holding connections and tasks forever.
//!
//! - A client has [`HEADER_READ_TIMEOUT`] to send a request's headers, on a new connection and
//!   between keep-alive requests; then the connection is closed.
//! - A request (reading its body, and the handler) has [`REQUEST_TIMEOUT`], checked in
//!   [`crate::app`]; a WebSocket upgrade answers at once, so the agent's socket is not bound by it.
//!
//! `axum::serve` sets neither (hyper's header timeout needs a timer it does not install), hence
//! this small loop, which otherwise does what `axum::serve` does: client addresses as
//! `ConnectInfo<SocketAddr>`, and a graceful shutdown that drains requests in flight.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tower::ServiceExt;

/// Longest a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a request may take, body and handler included (WHEP waits up to 15 s for an agent).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections from `listener` and serves `app` on each until `shutdown` completes,
/// then stops accepting and drains the connections it has (at most [`DRAIN_TIMEOUT`]).
pub async fn serve_connections<L>(
    mut listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // Every connection task holds a `stop` receiver: sending tells them to finish gracefully,
    // and `closed()` completes once the last one has ended.
    let (stop, _) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(addr));
                request.map(Body::new)
            });
        let connection = builder
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
            .with_upgrades();
        let mut stopping = stop.subscribe();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%addr, error = %e, "connection ended with an error");
            }
            drop(stopping);
        });
    }
    drop(listener);
    let _ = stop.send(());
    if tokio::time::timeout(DRAIN_TIMEOUT, stop.closed())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
}
