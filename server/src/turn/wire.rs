//! Building and reading the TURN messages the relay sends and receives (STUN encoding from
//! `rtc::stun`, TURN attributes from `rtc::turn`). No state, no sockets.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rtc::crypto::RTCCrypto;
use rtc::stun::attributes::ATTR_MESSAGE_INTEGRITY;
use rtc::stun::error_code::{ErrorCode, ErrorCodeAttribute};
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{
    Getter, Message, MessageType, Setter, CLASS_ERROR_RESPONSE, CLASS_INDICATION, CLASS_SUCCESS_RESPONSE,
    METHOD_DATA,
};
use rtc::stun::textattrs::TextAttribute;
use rtc::stun::xoraddr::XorMappedAddress;
use rtc::turn::proto::chandata::ChannelData;
use rtc::turn::proto::channum::ChannelNumber;
use rtc::turn::proto::data::Data;
use rtc::turn::proto::peeraddr::PeerAddress;

/// Largest datagram the relay reads or forwards.
pub const MAX_PACKET: usize = 65_536;

/// Decodes a STUN message; `None` for anything malformed.
pub fn decode(data: &[u8]) -> Option<Message> {
    if !rtc::stun::message::is_stun_message(data) {
        return None;
    }
    let mut m = Message::new();
    m.raw = data.to_vec();
    m.decode().ok()?;
    Some(m)
}

/// A text attribute (USERNAME, REALM, NONCE), if present and UTF-8.
pub fn text(m: &Message, attr: rtc::stun::attributes::AttrType) -> Option<String> {
    TextAttribute::get_from_as(m, attr).ok().map(|t| t.text)
}

pub fn has_integrity(m: &Message) -> bool {
    m.contains(ATTR_MESSAGE_INTEGRITY)
}

/// Checks MESSAGE-INTEGRITY with the long-term `key`.
pub fn integrity_ok(m: &Message, key: &[u8], crypto: &dyn RTCCrypto) -> bool {
    let mut copy = Message::new();
    copy.raw = m.raw.clone();
    copy.decode().is_ok() && MessageIntegrity::check(&mut copy, key, crypto).is_ok()
}

/// MD5(username:realm:password), the long-term credential key.
pub fn long_term_key(username: &str, realm: &str, password: &str, crypto: &dyn RTCCrypto) -> Option<Vec<u8>> {
    MessageIntegrity::long_term_integrity_key(username.into(), realm.into(), password.into(), crypto).ok()
}

pub fn peer_address(m: &Message) -> Option<SocketAddr> {
    let mut peer = PeerAddress::default();
    peer.get_from(m).ok()?;
    Some(SocketAddr::new(peer.ip, peer.port))
}

pub fn get<G: Getter + Default>(m: &Message) -> Option<G> {
    let mut value = G::default();
    value.get_from(m).ok()?;
    Some(value)
}

/// A response to `request` of class `class`, with `attrs`, signed with `key` when given.
pub fn response(
    request: &Message,
    success: bool,
    attrs: Vec<Box<dyn Setter + '_>>,
    key: Option<&[u8]>,
    crypto: &dyn RTCCrypto,
) -> Option<Vec<u8>> {
    let class = if success { CLASS_SUCCESS_RESPONSE } else { CLASS_ERROR_RESPONSE };
    let mut m = Message::new();
    m.transaction_id = request.transaction_id;
    m.set_type(MessageType::new(request.typ.method, class));
    m.write_header();
    for a in attrs {
        a.add_to(&mut m).ok()?;
    }
    if let Some(key) = key {
        MessageIntegrity::new_raw_integrity_with_provider(key.to_vec(), crypto).add_to(&mut m).ok()?;
    }
    Some(m.raw)
}

pub fn error_code(code: u16, reason: &str) -> Box<dyn Setter> {
    Box::new(ErrorCodeAttribute { code: ErrorCode(code), reason: reason.as_bytes().to_vec() })
}

pub fn text_attr(attr: rtc::stun::attributes::AttrType, value: &str) -> Box<dyn Setter> {
    Box::new(TextAttribute::new(attr, value.to_string()))
}

pub fn xor_mapped(addr: SocketAddr) -> Box<dyn Setter> {
    Box::new(XorMappedAddress { ip: addr.ip(), port: addr.port() })
}

pub fn xor_relayed(addr: SocketAddr) -> Box<dyn Setter> {
    Box::new(rtc::turn::proto::relayaddr::RelayedAddress { ip: addr.ip(), port: addr.port() })
}

pub fn lifetime(d: Duration) -> Box<dyn Setter> {
    Box::new(rtc::turn::proto::lifetime::Lifetime(d))
}

/// A Data indication carrying `payload` from `peer`.
pub fn data_indication(peer: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    let mut m = Message::new();
    m.new_transaction_id().ok()?;
    m.set_type(MessageType::new(METHOD_DATA, CLASS_INDICATION));
    m.write_header();
    PeerAddress { ip: peer.ip(), port: peer.port() }.add_to(&mut m).ok()?;
    Data(payload.to_vec()).add_to(&mut m).ok()?;
    Some(m.raw)
}

/// A ChannelData message (padded to 4 bytes, as TCP requires and UDP allows).
pub fn channel_data(number: u16, payload: &[u8]) -> Vec<u8> {
    let mut c = ChannelData { data: payload.to_vec(), number: ChannelNumber(number), raw: Vec::new() };
    c.encode();
    c.raw
}

/// The channel number and payload of a ChannelData message.
pub fn read_channel_data(data: &[u8]) -> Option<(u16, Vec<u8>)> {
    if !ChannelData::is_channel_data(data) {
        return None;
    }
    let mut c = ChannelData { raw: data.to_vec(), ..Default::default() };
    c.decode().ok()?;
    Some((c.number.0, c.data))
}

pub fn channel_number(m: &Message) -> Option<u16> {
    let n: ChannelNumber = get(m)?;
    n.valid().then_some(n.0)
}

/// Peers a relay on `relay_ip` never sends to, so that a viewer's credentials cannot reach the
/// server's own network through it: nothing unspecified, multicast or broadcast; no loopback or
/// link-local address (cloud metadata services live there) unless the relay itself is on one;
/// no private address (RFC 1918, shared 100.64/10, IPv6 unique-local) unless `allow_private`
/// (`--turn-allow-private`, for a relay that serves a private network). IPv4-mapped IPv6
/// addresses count as the IPv4 address they carry.
pub fn forbidden_peer(ip: IpAddr, relay_ip: IpAddr, allow_private: bool) -> bool {
    let (ip, relay_ip) = (ip.to_canonical(), relay_ip.to_canonical());
    ip.is_unspecified()
        || ip.is_multicast()
        || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
        || (ip.is_loopback() && !relay_ip.is_loopback())
        || (is_link_local(ip) && !is_link_local(relay_ip))
        || (is_private(ip) && !allow_private)
}

/// Whether `ip` (canonical) is a private address: RFC 1918, 100.64/10 (carrier-grade NAT),
/// fc00::/7 (unique-local).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || (v4.octets()[0] == 100 && v4.octets()[1] & 0xC0 == 64),
        IpAddr::V6(v6) => v6.segments()[0] & 0xFE00 == 0xFC00,
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xFFC0 == 0xFE80,
    }
}

/// How many bytes the next TURN-over-TCP frame in `buf` needs: a STUN message's 20-byte header
/// plus its length, or a ChannelData's 4-byte header plus its length padded to 4. `None` until
/// the 4 bytes that say so have arrived.
pub fn tcp_frame_len(buf: &[u8]) -> Option<usize> {
    if buf.len() < 4 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if buf[0] & 0xC0 == 0 {
        Some(20 + len)
    } else {
        Some(4 + len.div_ceil(4) * 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_frames_are_sized_by_their_headers() {
        assert_eq!(tcp_frame_len(&[0x00, 0x01, 0x00]), None);
        assert_eq!(tcp_frame_len(&[0x00, 0x01, 0x00, 0x08]), Some(28));
        assert_eq!(tcp_frame_len(&[0x40, 0x00, 0x00, 0x05]), Some(12));
        assert_eq!(tcp_frame_len(&[0x40, 0x00, 0x00, 0x08]), Some(12));
    }

    #[test]
    fn channel_data_round_trips() {
        let raw = channel_data(0x4001, b"hello");
        assert_eq!(raw.len(), 12);
        assert_eq!(read_channel_data(&raw), Some((0x4001, b"hello".to_vec())));
        assert_eq!(read_channel_data(&[0x40, 0x01, 0x00, 0x09, 1]), None);
    }

    #[test]
    fn loopback_peers_only_for_a_loopback_relay() {
        let (lo, lan) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([10, 0, 0, 1]));
        assert!(forbidden_peer(lo, lan, true));
        assert!(!forbidden_peer(lo, lo, false));
        assert!(!forbidden_peer(lan, lan, true));
        assert!(forbidden_peer(IpAddr::from([224, 0, 0, 251]), lan, true));
        assert!(forbidden_peer(IpAddr::from([255, 255, 255, 255]), lan, true));
        assert!(forbidden_peer(IpAddr::from([0, 0, 0, 0]), lan, true));
    }

    #[test]
    fn private_and_link_local_peers_are_refused_unless_allowed() {
        let public_relay = IpAddr::from([203, 0, 113, 5]);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        for private in ["10.1.0.2", "172.16.0.1", "172.31.255.255", "192.168.1.20", "100.64.0.1", "100.127.255.1", "fd00::1", "::ffff:10.0.0.7"] {
            assert!(forbidden_peer(ip(private), public_relay, false), "{private}");
            assert!(!forbidden_peer(ip(private), public_relay, true), "{private} with --turn-allow-private");
        }
        for link_local in ["169.254.169.254", "fe80::1", "::ffff:169.254.169.254"] {
            assert!(forbidden_peer(ip(link_local), public_relay, true), "{link_local}");
        }
        for public in ["198.51.100.7", "172.32.0.1", "100.128.0.1", "2001:db8::1", "::ffff:198.51.100.7"] {
            assert!(!forbidden_peer(ip(public), public_relay, false), "{public}");
        }
        assert!(forbidden_peer(ip("::ffff:127.0.0.1"), public_relay, true), "a mapped loopback address is loopback");
    }

    #[test]
    fn garbage_is_not_a_message() {
        assert!(decode(b"not stun at all, not even close").is_none());
        let mut header = vec![0u8, 1, 0, 200, 0x21, 0x12, 0xA4, 0x42];
        header.extend_from_slice(&[0; 12]);
        assert!(decode(&header).is_none());
    }
}
