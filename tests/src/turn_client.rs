//! A minimal TURN client over UDP (Allocate with long-term credentials, ChannelBind, ChannelData),
//! enough to load the relay in the benchmark without a WebRTC stack on each end.

use std::net::SocketAddr;
use std::time::Duration;

use rtc::stun::attributes::{ATTR_NONCE, ATTR_REALM, ATTR_USERNAME};
use rtc::stun::error_code::ErrorCodeAttribute;
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{Getter, Message, MessageType, Setter, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, METHOD_ALLOCATE, METHOD_CHANNEL_BIND};
use rtc::stun::textattrs::TextAttribute;
use rtc::turn::proto::channum::ChannelNumber;
use rtc::turn::proto::peeraddr::PeerAddress;
use rtc::turn::proto::relayaddr::RelayedAddress;
use rtc::turn::proto::reqtrans::RequestedTransport;
use rtc::turn::proto::PROTO_UDP;
use tokio::net::UdpSocket;

const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// One allocation on the relay, owned by `socket`.
pub struct TurnClient {
    pub socket: UdpSocket,
    pub relayed: SocketAddr,
    auth: (String, String, String, String),
}

fn request(method: rtc::stun::message::Method, attrs: Vec<Box<dyn Setter>>, auth: Option<&(String, String, String, String)>) -> anyhow::Result<Vec<u8>> {
    let mut m = Message::new();
    m.new_transaction_id()?;
    m.set_type(MessageType::new(method, CLASS_REQUEST));
    m.write_header();
    for a in attrs {
        a.add_to(&mut m)?;
    }
    if let Some((user, password, realm, nonce)) = auth {
        for (t, v) in [(ATTR_USERNAME, user), (ATTR_REALM, realm), (ATTR_NONCE, nonce)] {
            TextAttribute::new(t, v.clone()).add_to(&mut m)?;
        }
        let provider = rtc::crypto::default_provider().map_err(|e| anyhow::anyhow!("{e}"))?;
        MessageIntegrity::new_long_term_integrity_with_provider(user.clone(), realm.clone(), password.clone(), provider.crypto())?.add_to(&mut m)?;
    }
    Ok(m.raw)
}

async fn ask(socket: &UdpSocket, data: &[u8]) -> anyhow::Result<Message> {
    socket.send(data).await?;
    let mut buf = vec![0u8; 2048];
    let n = tokio::time::timeout(REPLY_TIMEOUT, socket.recv(&mut buf)).await??;
    let mut m = Message::new();
    m.raw = buf[..n].to_vec();
    m.decode()?;
    Ok(m)
}

fn error_code(m: &Message) -> Option<u16> {
    let mut e = ErrorCodeAttribute::default();
    e.get_from(m).ok().map(|_| e.code.0)
}

impl TurnClient {
    /// Allocates on `server` with a TURN REST API `username`/`password`.
    pub async fn allocate(server: SocketAddr, local_ip: std::net::IpAddr, username: &str, password: &str) -> anyhow::Result<Self> {
        let socket = UdpSocket::bind(SocketAddr::new(local_ip, 0)).await?;
        socket.connect(server).await?;
        let transport = || -> Box<dyn Setter> { Box::new(RequestedTransport { protocol: PROTO_UDP }) };
        let challenge = ask(&socket, &request(METHOD_ALLOCATE, vec![transport()], None)?).await?;
        anyhow::ensure!(error_code(&challenge) == Some(401), "expected a 401 challenge");
        let realm = TextAttribute::get_from_as(&challenge, ATTR_REALM)?.text;
        let nonce = TextAttribute::get_from_as(&challenge, ATTR_NONCE)?.text;
        let auth = (username.to_string(), password.to_string(), realm, nonce);
        let ok = ask(&socket, &request(METHOD_ALLOCATE, vec![transport()], Some(&auth))?).await?;
        anyhow::ensure!(ok.typ.class == CLASS_SUCCESS_RESPONSE, "allocate failed: {:?}", error_code(&ok));
        let mut relayed = RelayedAddress::default();
        relayed.get_from(&ok)?;
        Ok(Self { socket, relayed: SocketAddr::new(relayed.ip, relayed.port), auth })
    }

    /// Binds channel `number` to `peer` (which also permits it).
    pub async fn bind_channel(&self, number: u16, peer: SocketAddr) -> anyhow::Result<()> {
        let attrs: Vec<Box<dyn Setter>> = vec![Box::new(ChannelNumber(number)), Box::new(PeerAddress { ip: peer.ip(), port: peer.port() })];
        let ok = ask(&self.socket, &request(METHOD_CHANNEL_BIND, attrs, Some(&self.auth))?).await?;
        anyhow::ensure!(ok.typ.class == CLASS_SUCCESS_RESPONSE, "channel bind failed: {:?}", error_code(&ok));
        Ok(())
    }
}
