//! The relay's state machine: allocations, permissions, channels, credentials, limits.
//!
//! Sans-IO: the driver hands in what arrived (from a client on the listening port, or from a peer
//! on an allocation's relay socket) with the time, and sends what comes back. Binding and closing
//! relay sockets go through the [`RelayPorts`] trait. Implements the UDP-relay part of RFC 8656
//! (Allocate, Refresh, CreatePermission, ChannelBind, Send/Data indications, ChannelData) with
//! long-term credentials from the TURN REST API scheme.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::crypto::RTCCryptoProvider;
use rtc::stun::attributes::{ATTR_NONCE, ATTR_REALM, ATTR_USERNAME};
use rtc::stun::message::{
    Message, CLASS_INDICATION, CLASS_REQUEST, METHOD_ALLOCATE, METHOD_BINDING, METHOD_CHANNEL_BIND,
    METHOD_CREATE_PERMISSION, METHOD_REFRESH, METHOD_SEND,
};
use rtc::turn::proto::data::Data;
use rtc::turn::proto::lifetime::Lifetime;
use rtc::turn::proto::reqtrans::RequestedTransport;
use rtc::turn::proto::PROTO_UDP;

use super::credentials::{username_expiry, username_id, TurnSecret};
use super::limits::{RelayLimits, TokenBucket};
use super::wire;

const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);
const MAX_LIFETIME: Duration = Duration::from_secs(3600);
const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
const NONCE_LIFETIME: Duration = Duration::from_secs(3600);

/// How a client reached the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

/// A client's end of the 5-tuple (the server's end is the listening port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client {
    pub transport: Transport,
    pub addr: SocketAddr,
}

pub type AllocId = u64;

/// What the driver must do.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    ToClient { client: Client, data: Vec<u8> },
    ToPeer { alloc: AllocId, peer: SocketAddr, data: Vec<u8> },
}

/// Relay sockets, one per allocation (the side effect behind Allocate and expiry).
pub trait RelayPorts {
    /// Binds a UDP socket for `alloc` and starts reading it; returns its address.
    fn bind(&mut self, alloc: AllocId) -> std::io::Result<SocketAddr>;
    /// Closes `alloc`'s socket.
    fn close(&mut self, alloc: AllocId);
}

/// Counters for tests, logs and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    pub allocations: usize,
    pub allocations_total: u64,
    pub rejected_auth: u64,
    pub rejected_quota: u64,
    /// Payload bytes relayed client → peer and peer → client.
    pub bytes_to_peers: u64,
    pub bytes_to_clients: u64,
    /// Packets dropped: no permission, over the bandwidth limit, unknown channel.
    pub dropped: u64,
}

struct Allocation {
    client: Client,
    username: String,
    key: Vec<u8>,
    relay: SocketAddr,
    expires: Instant,
    allocate_tid: [u8; 12],
    permissions: HashMap<IpAddr, Instant>,
    channels: HashMap<u16, (SocketAddr, Instant)>,
    bucket: TokenBucket,
}

impl Allocation {
    fn permitted(&self, ip: IpAddr, now: Instant) -> bool {
        self.permissions.get(&ip).is_some_and(|t| *t > now)
    }

    fn channel_for(&self, peer: SocketAddr, now: Instant) -> Option<u16> {
        self.channels.iter().find(|(_, (p, t))| *p == peer && *t > now).map(|(n, _)| *n)
    }
}

struct Auth {
    username: String,
    key: Vec<u8>,
}

/// The relay's whole state.
pub struct RelayCore {
    secret: TurnSecret,
    realm: String,
    limits: RelayLimits,
    crypto: Arc<dyn RTCCryptoProvider>,
    started: Instant,
    allocations: HashMap<AllocId, Allocation>,
    by_client: HashMap<Client, AllocId>,
    next_id: AllocId,
    stats: RelayStats,
}

impl RelayCore {
    pub fn new(secret: TurnSecret, realm: String, limits: RelayLimits, crypto: Arc<dyn RTCCryptoProvider>, now: Instant) -> Self {
        Self {
            secret,
            realm,
            limits,
            crypto,
            started: now,
            allocations: HashMap::new(),
            by_client: HashMap::new(),
            next_id: 1,
            stats: RelayStats::default(),
        }
    }

    pub fn stats(&self) -> RelayStats {
        RelayStats { allocations: self.allocations.len(), ..self.stats }
    }

    /// Something arrived from `client` on the listening port. `unix` is wall-clock seconds (for
    /// credential expiry).
    pub fn handle_client(&mut self, client: Client, data: &[u8], now: Instant, unix: u64, ports: &mut dyn RelayPorts) -> Vec<Output> {
        if let Some((number, payload)) = wire::read_channel_data(data) {
            return self.channel_data_from_client(client, number, payload, now);
        }
        let Some(m) = wire::decode(data) else { return Vec::new() };
        let reply = |data: Option<Vec<u8>>| data.map(|data| Output::ToClient { client, data }).into_iter().collect();
        match (m.typ.method, m.typ.class) {
            (METHOD_BINDING, CLASS_REQUEST) => reply(self.binding(&m, client)),
            (METHOD_ALLOCATE, CLASS_REQUEST) => reply(self.allocate(&m, client, now, unix, ports)),
            (METHOD_REFRESH, CLASS_REQUEST) => reply(self.refresh(&m, client, now, ports)),
            (METHOD_CREATE_PERMISSION, CLASS_REQUEST) => reply(self.create_permission(&m, client, now)),
            (METHOD_CHANNEL_BIND, CLASS_REQUEST) => reply(self.channel_bind(&m, client, now)),
            (METHOD_SEND, CLASS_INDICATION) => self.send_indication(&m, client, now),
            _ => Vec::new(),
        }
    }

    /// A datagram arrived on `alloc`'s relay socket from `peer`.
    pub fn handle_peer(&mut self, alloc: AllocId, peer: SocketAddr, payload: &[u8], now: Instant) -> Vec<Output> {
        let Some(a) = self.allocations.get_mut(&alloc) else { return Vec::new() };
        if !a.permitted(peer.ip(), now) || !a.bucket.take(payload.len(), now) {
            self.stats.dropped += 1;
            return Vec::new();
        }
        let data = match a.channel_for(peer, now) {
            Some(number) => wire::channel_data(number, payload),
            None => match wire::data_indication(peer, payload) {
                Some(d) => d,
                None => return Vec::new(),
            },
        };
        self.stats.bytes_to_clients += payload.len() as u64;
        vec![Output::ToClient { client: a.client, data }]
    }

    /// A TCP client went away: its allocation goes with it.
    pub fn client_gone(&mut self, client: Client, ports: &mut dyn RelayPorts) {
        if let Some(id) = self.by_client.remove(&client) {
            self.allocations.remove(&id);
            ports.close(id);
            tracing::debug!(alloc = id, "TURN allocation closed with its TCP connection");
        }
    }

    /// Drops expired allocations, permissions and channels.
    pub fn expire(&mut self, now: Instant, ports: &mut dyn RelayPorts) {
        let expired: Vec<AllocId> = self.allocations.iter().filter(|(_, a)| a.expires <= now).map(|(id, _)| *id).collect();
        for id in expired {
            if let Some(a) = self.allocations.remove(&id) {
                self.by_client.remove(&a.client);
                ports.close(id);
                tracing::debug!(alloc = id, "TURN allocation expired");
            }
        }
        for a in self.allocations.values_mut() {
            a.permissions.retain(|_, t| *t > now);
            a.channels.retain(|_, (_, t)| *t > now);
        }
    }

    fn binding(&self, m: &Message, client: Client) -> Option<Vec<u8>> {
        wire::response(m, true, vec![wire::xor_mapped(client.addr)], None, self.crypto.crypto())
    }

    fn error(&self, m: &Message, code: u16, reason: &str) -> Option<Vec<u8>> {
        wire::response(m, false, vec![wire::error_code(code, reason)], None, self.crypto.crypto())
    }

    /// 401/438 with a fresh nonce and our realm, so the client can (re)authenticate.
    fn challenge(&self, m: &Message, client: Client, code: u16, now: Instant) -> Option<Vec<u8>> {
        let reason = if code == 438 { "Stale Nonce" } else { "Unauthorized" };
        let nonce = self.nonce(client, now);
        let attrs = vec![wire::error_code(code, reason), wire::text_attr(ATTR_REALM, &self.realm), wire::text_attr(ATTR_NONCE, &nonce)];
        wire::response(m, false, attrs, None, self.crypto.crypto())
    }

    /// A stateless nonce: issue time and a tag over it and the client's address.
    fn nonce(&self, client: Client, now: Instant) -> String {
        let issued = now.saturating_duration_since(self.started).as_secs();
        format!("{issued:x}-{}", self.nonce_tag(issued, client))
    }

    fn nonce_tag(&self, issued: u64, client: Client) -> String {
        let mut input = issued.to_be_bytes().to_vec();
        input.extend_from_slice(client.addr.to_string().as_bytes());
        self.secret.tag(&input)[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn nonce_fresh(&self, nonce: &str, client: Client, now: Instant) -> bool {
        let Some((issued, tag)) = nonce.split_once('-') else { return false };
        let Ok(issued) = u64::from_str_radix(issued, 16) else { return false };
        let age = now.saturating_duration_since(self.started).as_secs().saturating_sub(issued);
        age < NONCE_LIFETIME.as_secs() && tag == self.nonce_tag(issued, client)
    }

    /// Checks USERNAME/REALM/NONCE/MESSAGE-INTEGRITY; on failure returns the reply to send.
    fn authenticate(&mut self, m: &Message, client: Client, now: Instant) -> Result<Auth, Option<Vec<u8>>> {
        if !wire::has_integrity(m) {
            return Err(self.challenge(m, client, 401, now));
        }
        let (Some(username), Some(realm), Some(nonce)) =
            (wire::text(m, ATTR_USERNAME), wire::text(m, ATTR_REALM), wire::text(m, ATTR_NONCE))
        else {
            return Err(self.error(m, 400, "Bad Request"));
        };
        if !self.nonce_fresh(&nonce, client, now) {
            return Err(self.challenge(m, client, 438, now));
        }
        let password = self.secret.password(&username);
        let key = wire::long_term_key(&username, &realm, &password, self.crypto.crypto());
        match key {
            Some(key) if realm == self.realm && wire::integrity_ok(m, &key, self.crypto.crypto()) => Ok(Auth { username, key }),
            _ => {
                self.stats.rejected_auth += 1;
                tracing::info!(client = %client.addr, "TURN request with wrong credentials");
                Err(self.challenge(m, client, 401, now))
            }
        }
    }

    fn allocate(&mut self, m: &Message, client: Client, now: Instant, unix: u64, ports: &mut dyn RelayPorts) -> Option<Vec<u8>> {
        let auth = match self.authenticate(m, client, now) {
            Ok(auth) => auth,
            Err(reply) => return reply,
        };
        if let Some(a) = self.by_client.get(&client).and_then(|id| self.allocations.get(id)) {
            // A retransmitted Allocate gets the same success; anything else is a mismatch.
            if a.allocate_tid == m.transaction_id.0 && a.username == auth.username {
                return self.allocate_success(m, a.relay, client, a.expires.saturating_duration_since(now), &auth.key);
            }
            return self.error(m, 437, "Allocation Mismatch");
        }
        if username_expiry(&auth.username).is_none_or(|e| e <= unix) {
            self.stats.rejected_auth += 1;
            tracing::info!(client = %client.addr, "TURN credentials expired or not from this server");
            return self.challenge(m, client, 401, now);
        }
        match wire::get::<RequestedTransport>(m) {
            Some(t) if t.protocol == PROTO_UDP => {}
            Some(_) => return self.error(m, 442, "Unsupported Transport Protocol"),
            None => return self.error(m, 400, "Bad Request"),
        }
        if let Some(reason) = self.over_quota(&auth.username) {
            self.stats.rejected_quota += 1;
            tracing::info!(client = %client.addr, reason, "TURN allocation refused");
            return self.error(m, 486, "Allocation Quota Reached");
        }
        let id = self.next_id;
        self.next_id += 1;
        let relay = match ports.bind(id) {
            Ok(addr) => addr,
            Err(e) => {
                tracing::warn!(error = %e, "cannot bind a TURN relay socket");
                return self.error(m, 508, "Insufficient Capacity");
            }
        };
        let lifetime = requested_lifetime(m);
        let allocation = Allocation {
            client,
            username: auth.username,
            key: auth.key,
            relay,
            expires: now + lifetime,
            allocate_tid: m.transaction_id.0,
            permissions: HashMap::new(),
            channels: HashMap::new(),
            bucket: TokenBucket::new(self.limits.bytes_per_sec, self.limits.burst_bytes, now),
        };
        tracing::info!(alloc = id, client = %client.addr, transport = ?client.transport, %relay, "TURN allocation");
        let reply = self.allocate_success(m, relay, client, lifetime, &allocation.key);
        self.allocations.insert(id, allocation);
        self.by_client.insert(client, id);
        self.stats.allocations_total += 1;
        reply
    }

    fn over_quota(&self, username: &str) -> Option<&'static str> {
        if self.allocations.len() >= self.limits.max_allocations {
            return Some("the relay holds its maximum number of allocations");
        }
        let id = username_id(username);
        let mine = self.allocations.values().filter(|a| username_id(&a.username) == id).count();
        (mine >= self.limits.max_per_user).then_some("these credentials hold their maximum number of allocations")
    }

    fn allocate_success(&self, m: &Message, relay: SocketAddr, client: Client, lifetime: Duration, key: &[u8]) -> Option<Vec<u8>> {
        let attrs = vec![wire::xor_relayed(relay), wire::xor_mapped(client.addr), wire::lifetime(lifetime)];
        wire::response(m, true, attrs, Some(key), self.crypto.crypto())
    }

    /// Authenticates a request on an existing allocation: the client's, with its username.
    fn owned(&mut self, m: &Message, client: Client, now: Instant) -> Result<(AllocId, Vec<u8>), Option<Vec<u8>>> {
        let auth = self.authenticate(m, client, now)?;
        let Some(id) = self.by_client.get(&client).copied() else {
            return Err(self.error(m, 437, "Allocation Mismatch"));
        };
        match self.allocations.get(&id) {
            Some(a) if a.username == auth.username => Ok((id, auth.key)),
            _ => Err(self.error(m, 441, "Wrong Credentials")),
        }
    }

    fn refresh(&mut self, m: &Message, client: Client, now: Instant, ports: &mut dyn RelayPorts) -> Option<Vec<u8>> {
        let (id, key) = match self.owned(m, client, now) {
            Ok(v) => v,
            Err(reply) => return reply,
        };
        let lifetime = requested_lifetime(m);
        if lifetime.is_zero() {
            self.allocations.remove(&id);
            self.by_client.remove(&client);
            ports.close(id);
            tracing::debug!(alloc = id, "TURN allocation released");
        } else if let Some(a) = self.allocations.get_mut(&id) {
            a.expires = now + lifetime;
        }
        wire::response(m, true, vec![wire::lifetime(lifetime)], Some(&key), self.crypto.crypto())
    }

    fn create_permission(&mut self, m: &Message, client: Client, now: Instant) -> Option<Vec<u8>> {
        let (id, key) = match self.owned(m, client, now) {
            Ok(v) => v,
            Err(reply) => return reply,
        };
        let Some(peer) = wire::peer_address(m) else { return self.error(m, 400, "Bad Request") };
        if self.allocations.get(&id).is_some_and(|a| wire::forbidden_peer(peer.ip(), a.relay.ip(), self.limits.allow_private_peers)) {
            self.log_forbidden(peer.ip());
            return self.error(m, 403, "Forbidden");
        }
        if let Some(a) = self.allocations.get_mut(&id) {
            a.permissions.insert(peer.ip(), now + PERMISSION_LIFETIME);
        }
        wire::response(m, true, Vec::new(), Some(&key), self.crypto.crypto())
    }

    fn log_forbidden(&self, peer: IpAddr) {
        if wire::is_private(peer.to_canonical()) && !self.limits.allow_private_peers {
            tracing::info!(%peer, "TURN: refused a private peer address (--turn-allow-private relays inside private networks)");
        } else {
            tracing::debug!(%peer, "TURN: refused a peer address the relay never reaches");
        }
    }

    fn channel_bind(&mut self, m: &Message, client: Client, now: Instant) -> Option<Vec<u8>> {
        let (id, key) = match self.owned(m, client, now) {
            Ok(v) => v,
            Err(reply) => return reply,
        };
        let (Some(number), Some(peer)) = (wire::channel_number(m), wire::peer_address(m)) else {
            return self.error(m, 400, "Bad Request");
        };
        let relay_ip = self.allocations.get(&id)?.relay.ip();
        if wire::forbidden_peer(peer.ip(), relay_ip, self.limits.allow_private_peers) {
            self.log_forbidden(peer.ip());
            return self.error(m, 403, "Forbidden");
        }
        let a = self.allocations.get_mut(&id)?;
        // A channel names one peer and a peer one channel, for the channel's whole life.
        let taken = a.channels.iter().any(|(n, (p, t))| *t > now && ((*n == number) != (*p == peer)));
        if taken {
            return self.error(m, 400, "Bad Request");
        }
        a.channels.insert(number, (peer, now + CHANNEL_LIFETIME));
        a.permissions.insert(peer.ip(), now + PERMISSION_LIFETIME);
        wire::response(m, true, Vec::new(), Some(&key), self.crypto.crypto())
    }

    fn send_indication(&mut self, m: &Message, client: Client, now: Instant) -> Vec<Output> {
        let (Some(peer), Some(Data(payload))) = (wire::peer_address(m), wire::get::<Data>(m)) else { return Vec::new() };
        self.relay_to_peer(client, peer, payload, now)
    }

    fn channel_data_from_client(&mut self, client: Client, number: u16, payload: Vec<u8>, now: Instant) -> Vec<Output> {
        let peer = self
            .by_client
            .get(&client)
            .and_then(|id| self.allocations.get(id))
            .and_then(|a| a.channels.get(&number).filter(|(_, t)| *t > now).map(|(p, _)| *p));
        match peer {
            Some(peer) => self.relay_to_peer(client, peer, payload, now),
            None => {
                self.stats.dropped += 1;
                Vec::new()
            }
        }
    }

    fn relay_to_peer(&mut self, client: Client, peer: SocketAddr, payload: Vec<u8>, now: Instant) -> Vec<Output> {
        let Some(id) = self.by_client.get(&client).copied() else { return Vec::new() };
        let Some(a) = self.allocations.get_mut(&id) else { return Vec::new() };
        if !a.permitted(peer.ip(), now) || !a.bucket.take(payload.len(), now) {
            self.stats.dropped += 1;
            return Vec::new();
        }
        self.stats.bytes_to_peers += payload.len() as u64;
        vec![Output::ToPeer { alloc: id, peer, data: payload }]
    }
}

fn requested_lifetime(m: &Message) -> Duration {
    match wire::get::<Lifetime>(m) {
        Some(Lifetime(d)) => d.min(MAX_LIFETIME),
        None => DEFAULT_LIFETIME,
    }
}
