//! The relay core driven by hand-built TURN messages: no sockets, an injected clock.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::crypto::RTCCryptoProvider;
use rtc::stun::attributes::{ATTR_NONCE, ATTR_REALM, ATTR_USERNAME};
use rtc::stun::error_code::ErrorCodeAttribute;
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{
    Message, MessageType, Setter, CLASS_INDICATION, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, METHOD_ALLOCATE,
    METHOD_CHANNEL_BIND, METHOD_CREATE_PERMISSION, METHOD_REFRESH, METHOD_SEND,
};
use rtc::stun::textattrs::TextAttribute;
use rtc::turn::proto::channum::ChannelNumber;
use rtc::turn::proto::data::Data;
use rtc::turn::proto::lifetime::Lifetime;
use rtc::turn::proto::peeraddr::PeerAddress;
use rtc::turn::proto::relayaddr::RelayedAddress;
use rtc::turn::proto::reqtrans::RequestedTransport;
use rtc::turn::proto::PROTO_UDP;

use super::core::{Client, Output, RelayCore, RelayPorts, Transport};
use super::credentials::TurnSecret;
use super::limits::RelayLimits;
use super::wire;

const REALM: &str = "deskbeam";
const UNIX: u64 = 1_700_000_000;

#[derive(Default)]
struct FakePorts {
    open: BTreeSet<u64>,
}

impl RelayPorts for FakePorts {
    fn bind(&mut self, alloc: u64) -> std::io::Result<SocketAddr> {
        self.open.insert(alloc);
        Ok(SocketAddr::from(([10, 0, 0, 1], 50_000 + alloc as u16)))
    }
    fn close(&mut self, alloc: u64) {
        self.open.remove(&alloc);
    }
}

struct Harness {
    core: RelayCore,
    ports: FakePorts,
    crypto: Arc<dyn RTCCryptoProvider>,
    secret: TurnSecret,
    now: Instant,
}

fn client(port: u16) -> Client {
    Client { transport: Transport::Udp, addr: SocketAddr::from(([10, 1, 0, 2], port)) }
}

fn peer() -> SocketAddr {
    SocketAddr::from(([198, 51, 100, 7], 40_000))
}

impl Harness {
    fn new(limits: RelayLimits) -> Self {
        let crypto = rtc::crypto::default_provider().expect("crypto provider");
        let secret = TurnSecret::new(b"test-secret".to_vec());
        let now = Instant::now();
        let core = RelayCore::new(secret.clone(), REALM.into(), limits, Arc::clone(&crypto), now);
        Self { core, ports: FakePorts::default(), crypto, secret, now }
    }

    fn send(&mut self, c: Client, data: &[u8]) -> Vec<Output> {
        self.core.handle_client(c, data, self.now, UNIX, &mut self.ports)
    }

    /// Sends a request and returns the decoded reply.
    fn ask(&mut self, c: Client, data: &[u8]) -> Message {
        let out = self.send(c, data);
        match out.as_slice() {
            [Output::ToClient { client, data }] if *client == c => wire::decode(data).expect("a STUN reply"),
            other => panic!("expected one reply, got {other:?}"),
        }
    }

    fn request(&self, method: rtc::stun::message::Method, attrs: Vec<Box<dyn Setter>>, auth: Option<(&str, &str, &str)>) -> Vec<u8> {
        let mut m = Message::new();
        m.new_transaction_id().expect("tid");
        m.set_type(MessageType::new(method, CLASS_REQUEST));
        m.write_header();
        for a in attrs {
            a.add_to(&mut m).expect("attr");
        }
        if let Some((user, password, nonce)) = auth {
            for (t, v) in [(ATTR_USERNAME, user), (ATTR_REALM, REALM), (ATTR_NONCE, nonce)] {
                TextAttribute::new(t, v.into()).add_to(&mut m).expect("text");
            }
            MessageIntegrity::new_long_term_integrity_with_provider(user.into(), REALM.into(), password.into(), self.crypto.crypto())
                .expect("key")
                .add_to(&mut m)
                .expect("integrity");
        }
        m.raw
    }

    /// The nonce the relay gives `c` (nonces are bound to the client's address).
    fn nonce_for(&mut self, c: Client) -> String {
        let first = self.request(METHOD_ALLOCATE, vec![transport()], None);
        wire::text(&self.ask(c, &first), ATTR_NONCE).expect("nonce")
    }

    /// Allocates for `c` with REST credentials for `id`; returns (username, password, nonce).
    fn allocate(&mut self, c: Client, id: &str) -> (String, String, String) {
        let user = format!("{}:{id}", UNIX + 60);
        let password = self.secret.password(&user);
        let first = self.request(METHOD_ALLOCATE, vec![transport()], None);
        let challenge = self.ask(c, &first);
        assert_eq!(code(&challenge), Some(401));
        let nonce = wire::text(&challenge, ATTR_NONCE).expect("nonce");
        assert_eq!(wire::text(&challenge, ATTR_REALM).as_deref(), Some(REALM));
        let req = self.request(METHOD_ALLOCATE, vec![transport()], Some((&user, &password, &nonce)));
        let ok = self.ask(c, &req);
        assert_eq!(ok.typ, MessageType::new(METHOD_ALLOCATE, CLASS_SUCCESS_RESPONSE), "{:?}", code(&ok));
        (user, password, nonce)
    }
}

fn transport() -> Box<dyn Setter> {
    Box::new(RequestedTransport { protocol: PROTO_UDP })
}

fn peer_attr(p: SocketAddr) -> Box<dyn Setter> {
    Box::new(PeerAddress { ip: p.ip(), port: p.port() })
}

fn code(m: &Message) -> Option<u16> {
    wire::get::<ErrorCodeAttribute>(m).map(|e| e.code.0)
}

fn indication(payload: &[u8], to: SocketAddr) -> Vec<u8> {
    let mut m = Message::new();
    m.new_transaction_id().expect("tid");
    m.set_type(MessageType::new(METHOD_SEND, CLASS_INDICATION));
    m.write_header();
    PeerAddress { ip: to.ip(), port: to.port() }.add_to(&mut m).expect("peer");
    Data(payload.to_vec()).add_to(&mut m).expect("data");
    m.raw
}

#[test]
fn allocation_needs_the_servers_credentials() {
    let mut h = Harness::new(RelayLimits::default());
    let (user, password, _) = h.allocate(client(1), "viewer-1");
    assert_eq!(h.core.stats().allocations, 1);
    assert_eq!(h.ports.open.len(), 1);
    assert!(!password.is_empty() && user.ends_with(":viewer-1"));

    // A password not derived from the server's secret is refused.
    let nonce = h.nonce_for(client(2));
    let wrong = h.request(METHOD_ALLOCATE, vec![transport()], Some((&user, "guessed", &nonce)));
    assert_eq!(code(&h.ask(client(2), &wrong)), Some(401));
    // So is a username whose expiry has passed, even with the right HMAC.
    let old = format!("{}:viewer-1", UNIX - 1);
    let old_pw = h.secret.password(&old);
    let nonce = h.nonce_for(client(3));
    let expired = h.request(METHOD_ALLOCATE, vec![transport()], Some((&old, &old_pw, &nonce)));
    assert_eq!(code(&h.ask(client(3), &expired)), Some(401));
    // A nonce given to another client, or a forged one, is stale.
    let other = h.request(METHOD_ALLOCATE, vec![transport()], Some((&user, &password, &nonce)));
    assert_eq!(code(&h.ask(client(4), &other)), Some(438));
    let forged = h.request(METHOD_ALLOCATE, vec![transport()], Some((&user, &password, "0-0000000000000000")));
    assert_eq!(code(&h.ask(client(4), &forged)), Some(438));
    assert_eq!(h.core.stats().allocations, 1);
    assert_eq!(h.core.stats().rejected_auth, 2);
}

#[test]
fn the_success_response_names_the_relay_and_is_signed() {
    let mut h = Harness::new(RelayLimits::default());
    let user = format!("{}:v", UNIX + 60);
    let password = h.secret.password(&user);
    let challenge = h.ask(client(1), &h.request(METHOD_ALLOCATE, vec![transport()], None));
    let nonce = wire::text(&challenge, ATTR_NONCE).expect("nonce");
    let req = h.request(METHOD_ALLOCATE, vec![transport()], Some((&user, &password, &nonce)));
    let ok = h.ask(client(1), &req);
    let relayed: RelayedAddress = wire::get(&ok).expect("relayed address");
    assert_eq!(SocketAddr::new(relayed.ip, relayed.port), SocketAddr::from(([10, 0, 0, 1], 50_001)));
    let key = wire::long_term_key(&user, REALM, &password, h.crypto.crypto()).expect("key");
    assert!(wire::integrity_ok(&ok, &key, h.crypto.crypto()));
    // The same request again (a retransmission) gets the same answer, not a mismatch.
    let again = h.ask(client(1), &req);
    assert_eq!(again.typ.class, CLASS_SUCCESS_RESPONSE);
    assert_eq!(h.core.stats().allocations, 1);
}

#[test]
fn data_flows_only_to_permitted_peers() {
    let mut h = Harness::new(RelayLimits::default());
    let c = client(1);
    let (user, password, nonce) = h.allocate(c, "v");
    // No permission yet: nothing leaves, nothing comes back.
    assert!(h.send(c, &indication(b"early", peer())).is_empty());
    assert!(h.core.handle_peer(1, peer(), b"early", h.now).is_empty());

    let perm = h.request(METHOD_CREATE_PERMISSION, vec![peer_attr(peer())], Some((&user, &password, &nonce)));
    assert_eq!(h.ask(c, &perm).typ.class, CLASS_SUCCESS_RESPONSE);
    assert_eq!(h.send(c, &indication(b"hello", peer())), vec![Output::ToPeer { alloc: 1, peer: peer(), data: b"hello".to_vec() }]);
    let back = h.core.handle_peer(1, peer(), b"world", h.now);
    let [Output::ToClient { client: to, data }] = back.as_slice() else { panic!("{back:?}") };
    assert_eq!(*to, c);
    let m = wire::decode(data).expect("data indication");
    assert_eq!(wire::get::<Data>(&m).map(|d| d.0), Some(b"world".to_vec()));

    // Permissions last five minutes.
    h.now += Duration::from_secs(301);
    h.core.expire(h.now, &mut h.ports);
    assert!(h.send(c, &indication(b"late", peer())).is_empty());
    assert_eq!(h.core.stats().bytes_to_peers, 5);
    assert_eq!(h.core.stats().bytes_to_clients, 5);
}

#[test]
fn channels_carry_data_both_ways() {
    let mut h = Harness::new(RelayLimits::default());
    let c = client(1);
    let (user, password, nonce) = h.allocate(c, "v");
    let bind = h.request(METHOD_CHANNEL_BIND, vec![Box::new(ChannelNumber(0x4001)), peer_attr(peer())], Some((&user, &password, &nonce)));
    assert_eq!(h.ask(c, &bind).typ.class, CLASS_SUCCESS_RESPONSE);
    let out = h.send(c, &wire::channel_data(0x4001, b"media"));
    assert_eq!(out, vec![Output::ToPeer { alloc: 1, peer: peer(), data: b"media".to_vec() }]);
    let back = h.core.handle_peer(1, peer(), b"rtcp", h.now);
    assert_eq!(back, vec![Output::ToClient { client: c, data: wire::channel_data(0x4001, b"rtcp") }]);
    // An unbound channel goes nowhere; another client cannot use this allocation's channel.
    assert!(h.send(c, &wire::channel_data(0x4002, b"x")).is_empty());
    assert!(h.send(client(9), &wire::channel_data(0x4001, b"x")).is_empty());
    // The same channel for another peer is refused.
    let other = SocketAddr::from(([198, 51, 100, 8], 1));
    let rebind = h.request(METHOD_CHANNEL_BIND, vec![Box::new(ChannelNumber(0x4001)), peer_attr(other)], Some((&user, &password, &nonce)));
    assert_eq!(code(&h.ask(c, &rebind)), Some(400));
}

#[test]
fn the_servers_own_loopback_is_not_a_peer() {
    let mut h = Harness::new(RelayLimits::default());
    let c = client(1);
    let (user, password, nonce) = h.allocate(c, "v");
    let local = SocketAddr::from(([127, 0, 0, 1], 53));
    let perm = h.request(METHOD_CREATE_PERMISSION, vec![peer_attr(local)], Some((&user, &password, &nonce)));
    assert_eq!(code(&h.ask(c, &perm)), Some(403));
    let bind = h.request(METHOD_CHANNEL_BIND, vec![Box::new(ChannelNumber(0x4001)), peer_attr(local)], Some((&user, &password, &nonce)));
    assert_eq!(code(&h.ask(c, &bind)), Some(403));
    assert!(h.send(c, &indication(b"x", local)).is_empty());
}

#[test]
fn private_peers_need_turn_allow_private_and_metadata_is_never_a_peer() {
    let lan = SocketAddr::from(([192, 168, 1, 20], 50_000));
    let metadata = SocketAddr::from(([169, 254, 169, 254], 80));
    for (allow, want) in [(false, Some(403)), (true, None)] {
        let mut h = Harness::new(RelayLimits { allow_private_peers: allow, ..RelayLimits::default() });
        let c = client(1);
        let (user, password, nonce) = h.allocate(c, "v");
        let perm = h.request(METHOD_CREATE_PERMISSION, vec![peer_attr(lan)], Some((&user, &password, &nonce)));
        assert_eq!(code(&h.ask(c, &perm)), want, "private peer, allow_private_peers = {allow}");
        let bind = h.request(METHOD_CHANNEL_BIND, vec![Box::new(ChannelNumber(0x4002)), peer_attr(lan)], Some((&user, &password, &nonce)));
        assert_eq!(code(&h.ask(c, &bind)), want, "channel to a private peer, allow_private_peers = {allow}");
        assert_eq!(h.send(c, &indication(b"x", lan)).is_empty(), !allow);
        let meta = h.request(METHOD_CREATE_PERMISSION, vec![peer_attr(metadata)], Some((&user, &password, &nonce)));
        assert_eq!(code(&h.ask(c, &meta)), Some(403), "link-local, allow_private_peers = {allow}");
    }
}

#[test]
fn requests_on_someone_elses_allocation_are_refused() {
    let mut h = Harness::new(RelayLimits::default());
    h.allocate(client(1), "a");
    let (user_a, password_a) = (format!("{}:a", UNIX + 60), h.secret.password(&format!("{}:a", UNIX + 60)));
    let nonce = h.nonce_for(client(2));
    let perm = h.request(METHOD_CREATE_PERMISSION, vec![peer_attr(peer())], Some((&user_a, &password_a, &nonce)));
    assert_eq!(code(&h.ask(client(2), &perm)), Some(437), "no allocation on that 5-tuple");
    let (user_b, password_b, nonce_b) = h.allocate(client(2), "b");
    let refresh_a_as_b = h.request(METHOD_REFRESH, vec![], Some((&user_b, &password_b, &nonce_b)));
    assert_eq!(h.ask(client(2), &refresh_a_as_b).typ.class, CLASS_SUCCESS_RESPONSE);
    let nonce_1 = h.nonce_for(client(1));
    let cross = h.request(METHOD_REFRESH, vec![], Some((&user_b, &password_b, &nonce_1)));
    assert_eq!(code(&h.ask(client(1), &cross)), Some(441));
}

#[test]
fn quotas_limit_allocations_per_relay_and_per_id() {
    let limits = RelayLimits { max_allocations: 3, max_per_user: 2, ..RelayLimits::default() };
    let mut h = Harness::new(limits);
    h.allocate(client(1), "a");
    let (user, password, _) = h.allocate(client(2), "a");
    let nonce = h.nonce_for(client(3));
    let third = h.request(METHOD_ALLOCATE, vec![transport()], Some((&user, &password, &nonce)));
    assert_eq!(code(&h.ask(client(3), &third)), Some(486));
    h.allocate(client(4), "b");
    let user_c = format!("{}:c", UNIX + 60);
    let pw_c = h.secret.password(&user_c);
    let nonce = h.nonce_for(client(5));
    let fourth = h.request(METHOD_ALLOCATE, vec![transport()], Some((&user_c, &pw_c, &nonce)));
    assert_eq!(code(&h.ask(client(5), &fourth)), Some(486));
    assert_eq!(h.core.stats().rejected_quota, 2);
}

#[test]
fn bandwidth_over_the_limit_is_dropped() {
    let limits = RelayLimits { bytes_per_sec: 10_000, burst_bytes: 3_000, ..RelayLimits::default() };
    let mut h = Harness::new(limits);
    let c = client(1);
    let (user, password, nonce) = h.allocate(c, "v");
    let perm = h.request(METHOD_CREATE_PERMISSION, vec![peer_attr(peer())], Some((&user, &password, &nonce)));
    h.ask(c, &perm);
    let packet = vec![0u8; 1000];
    let sent = (0..10).filter(|_| !h.send(c, &indication(&packet, peer())).is_empty()).count();
    assert_eq!(sent, 3);
    h.now += Duration::from_millis(100);
    assert!(!h.send(c, &indication(&packet, peer())).is_empty(), "the bucket refills at its rate");
    assert_eq!(h.core.stats().dropped, 7);
}

#[test]
fn refresh_to_zero_and_expiry_close_the_relay_socket() {
    let mut h = Harness::new(RelayLimits::default());
    let (user, password, nonce) = h.allocate(client(1), "a");
    h.allocate(client(2), "b");
    assert_eq!(h.ports.open.len(), 2);
    let release = h.request(METHOD_REFRESH, vec![Box::new(Lifetime(Duration::ZERO))], Some((&user, &password, &nonce)));
    assert_eq!(h.ask(client(1), &release).typ.class, CLASS_SUCCESS_RESPONSE);
    assert_eq!(h.ports.open.len(), 1);
    h.now += Duration::from_secs(601);
    h.core.expire(h.now, &mut h.ports);
    assert!(h.ports.open.is_empty());
    assert_eq!(h.core.stats().allocations, 0);
}

#[test]
fn a_tcp_client_that_leaves_takes_its_allocation() {
    let mut h = Harness::new(RelayLimits::default());
    let c = Client { transport: Transport::Tcp, addr: SocketAddr::from(([10, 2, 0, 2], 5555)) };
    h.allocate(c, "v");
    h.core.client_gone(c, &mut h.ports);
    assert!(h.ports.open.is_empty());
}

#[test]
fn garbage_never_panics() {
    let mut h = Harness::new(RelayLimits::default());
    let mut seed = 0x2545_f491_u32;
    for len in 0..400usize {
        let mut buf: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        if len >= 8 && len % 3 == 0 {
            buf[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
            buf[0] &= 0x3F;
        }
        let _ = h.send(client(1), &buf);
        let _ = h.core.handle_peer(1, peer(), &buf, h.now);
    }
}
