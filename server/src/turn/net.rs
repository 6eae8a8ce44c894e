//! The relay's sockets: the listening UDP socket and TCP listener (same port), one UDP socket
//! per allocation, and the tasks that move bytes between them and [`RelayCore`].
//!
//! The core sits under a `std::sync::Mutex` taken for plain calls only; every `.await` (sending)
//! happens after it is released.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::core::{AllocId, Client, Output, RelayCore, RelayPorts, RelayStats, Transport};
use super::wire::{tcp_frame_len, MAX_PACKET};

/// Frames queued for one TCP client before new ones are dropped (a stalled client must not
/// hold memory).
const TCP_QUEUE: usize = 512;
const EXPIRE_EVERY: Duration = Duration::from_secs(1);

struct RelaySocket {
    socket: Arc<UdpSocket>,
    reader: JoinHandle<()>,
}

pub(super) struct Shared {
    core: Mutex<RelayCore>,
    udp: Arc<UdpSocket>,
    relay_ip: IpAddr,
    relays: Mutex<HashMap<AllocId, RelaySocket>>,
    tcp: Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>,
    max_tcp: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Binds and closes relay sockets for the core.
struct Ports<'a> {
    shared: &'a Arc<Shared>,
}

impl RelayPorts for Ports<'_> {
    fn bind(&mut self, alloc: AllocId) -> std::io::Result<SocketAddr> {
        let std_socket = std::net::UdpSocket::bind(SocketAddr::new(self.shared.relay_ip, 0))?;
        std_socket.set_nonblocking(true)?;
        let socket = Arc::new(UdpSocket::from_std(std_socket)?);
        let addr = socket.local_addr()?;
        let reader = tokio::spawn(read_relay(Arc::downgrade(self.shared), Arc::clone(&socket), alloc));
        lock(&self.shared.relays).insert(alloc, RelaySocket { socket, reader });
        Ok(addr)
    }

    fn close(&mut self, alloc: AllocId) {
        if let Some(r) = lock(&self.shared.relays).remove(&alloc) {
            r.reader.abort();
        }
    }
}

impl Shared {
    pub(super) fn new(core: RelayCore, udp: UdpSocket, relay_ip: IpAddr, max_tcp: usize) -> Arc<Self> {
        Arc::new(Self {
            core: Mutex::new(core),
            udp: Arc::new(udp),
            relay_ip,
            relays: Mutex::new(HashMap::new()),
            tcp: Mutex::new(HashMap::new()),
            max_tcp,
        })
    }

    pub(super) fn stats(&self) -> RelayStats {
        lock(&self.core).stats()
    }

    fn from_client(self: &Arc<Self>, client: Client, data: &[u8]) -> Vec<Output> {
        let mut ports = Ports { shared: self };
        lock(&self.core).handle_client(client, data, Instant::now(), unix_now(), &mut ports)
    }

    async fn dispatch(&self, outputs: Vec<Output>) {
        for out in outputs {
            match out {
                Output::ToClient { client, data } => self.to_client(client, data).await,
                Output::ToPeer { alloc, peer, data } => {
                    let socket = lock(&self.relays).get(&alloc).map(|r| Arc::clone(&r.socket));
                    if let Some(socket) = socket {
                        if let Err(e) = socket.send_to(&data, peer).await {
                            tracing::debug!(error = %e, %peer, "relay send failed");
                        }
                    }
                }
            }
        }
    }

    async fn to_client(&self, client: Client, data: Vec<u8>) {
        match client.transport {
            Transport::Udp => {
                if let Err(e) = self.udp.send_to(&data, client.addr).await {
                    tracing::debug!(error = %e, client = %client.addr, "TURN send failed");
                }
            }
            Transport::Tcp => {
                let tx = lock(&self.tcp).get(&client.addr).cloned();
                // Full queue: the client is not reading; dropping is what UDP would do.
                if let Some(tx) = tx {
                    let _ = tx.try_send(data);
                }
            }
        }
    }
}

/// Reads the listening UDP socket until the task is aborted.
pub(super) async fn serve_udp(shared: Arc<Shared>) {
    let mut buf = vec![0u8; MAX_PACKET];
    loop {
        match shared.udp.recv_from(&mut buf).await {
            Ok((n, addr)) => {
                let client = Client { transport: Transport::Udp, addr };
                let outputs = shared.from_client(client, &buf[..n]);
                shared.dispatch(outputs).await;
            }
            // ICMP errors from earlier sends surface here on Linux; keep serving.
            Err(e) => tracing::debug!(error = %e, "TURN UDP receive error"),
        }
    }
}

/// Accepts TURN-over-TCP clients until the task is aborted.
pub(super) async fn serve_tcp(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "TURN TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if lock(&shared.tcp).len() >= shared.max_tcp {
            tracing::info!(client = %addr, "TURN TCP connection refused: too many");
            continue;
        }
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_tcp_client(Arc::clone(&shared), stream, addr));
    }
}

async fn serve_tcp_client(shared: Arc<Shared>, stream: TcpStream, addr: SocketAddr) {
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_QUEUE);
    lock(&shared.tcp).insert(addr, tx);
    let write = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if writer.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let client = Client { transport: Transport::Tcp, addr };
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_PACKET);
    let mut chunk = vec![0u8; MAX_PACKET];
    'read: loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(len) = tcp_frame_len(&buf) {
            if len > MAX_PACKET + 4 {
                tracing::info!(client = %addr, "TURN TCP frame too large; closing");
                break 'read;
            }
            if buf.len() < len {
                break;
            }
            let frame: Vec<u8> = buf.drain(..len).collect();
            let outputs = shared.from_client(client, &frame);
            shared.dispatch(outputs).await;
        }
    }
    lock(&shared.tcp).remove(&addr);
    write.abort();
    let mut ports = Ports { shared: &shared };
    lock(&shared.core).client_gone(client, &mut ports);
}

/// Reads one allocation's relay socket (peers → client) until the allocation closes.
async fn read_relay(shared: std::sync::Weak<Shared>, socket: Arc<UdpSocket>, alloc: AllocId) {
    let mut buf = vec![0u8; MAX_PACKET];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else { continue };
        let Some(shared) = shared.upgrade() else { return };
        let outputs = lock(&shared.core).handle_peer(alloc, peer, &buf[..n], Instant::now());
        shared.dispatch(outputs).await;
    }
}

/// Expires allocations, permissions and channels once a second.
pub(super) async fn run_expiry(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(EXPIRE_EVERY);
    loop {
        tick.tick().await;
        let mut ports = Ports { shared: &shared };
        lock(&shared.core).expire(Instant::now(), &mut ports);
    }
}

/// Aborts every relay reader (the relay is stopping).
pub(super) fn close_all(shared: &Shared) {
    for (_, r) in lock(&shared.relays).drain() {
        r.reader.abort();
    }
}
