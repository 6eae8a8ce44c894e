//! WebRTC for one viewer: answer its offer, stream the shared encode to it, watch its health.
//!
//! Each viewer gets its own `PeerConnection` with one send-only H.264 track (Constrained
//! Baseline, packetization-mode 1). Frames come from the pipeline's [`FrameFeed`]; PLI/FIR from
//! the viewer become keyframe requests on the shared encoder (rate-limited per viewer).

mod audio;
mod keyframe;
mod rtp_out;

pub use audio::{offers_audio, opus_codec};
pub use keyframe::{is_keyframe_request, KeyframeRequestForwarder};
pub use rtp_out::{h264_payloads, RtpPacketizer, RTP_MTU};

use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::interceptor::Slot;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpHeaderExtensionCapability, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::{mpsc, oneshot};
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState, Registry, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::pipeline::FrameFeed;

/// The one codec Deskbeam sends. Chromium rejects High profile; this is what every browser decodes.
pub const H264_FMTP: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
const H264_PAYLOAD_TYPE: u8 = 102;
/// How long a viewer may take to connect after its answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound on waiting for our own ICE candidates (host candidates are immediate).
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);
/// A viewer cannot make the shared encoder emit keyframes more often than this.
const KEYFRAME_MIN_INTERVAL: Duration = Duration::from_millis(500);

/// Errors while setting up a viewer's connection.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the offer is not valid SDP: {0}")]
    BadOffer(String),
    #[error("the offer has nothing we can send H.264 on: {0}")]
    Negotiation(String),
    #[error("WebRTC setup failed: {0}")]
    Setup(String),
}

/// Network settings for viewer connections.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Local UDP addresses to gather host candidates on (`0.0.0.0:0` = every interface).
    pub udp_addrs: Vec<String>,
    /// STUN/TURN servers (from the server's offer, with TURN credentials minted for this viewer).
    pub ice_servers: Vec<deskbeam_proto::ice::IceServer>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self { udp_addrs: vec!["0.0.0.0:0".into(), "127.0.0.1:0".into()], ice_servers: Vec::new() }
    }
}

/// The H.264 codec parameters we register and send.
pub fn h264_codec() -> RTCRtpCodecParameters {
    let fb = |typ: &str, parameter: &str| RTCPFeedback { typ: typ.into(), parameter: parameter.into() };
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: "video/H264".into(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: H264_FMTP.into(),
            rtcp_feedback: vec![fb("ccm", "fir"), fb("nack", ""), fb("nack", "pli")],
        },
        payload_type: H264_PAYLOAD_TYPE,
    }
}

enum PcEvent {
    Connected,
    /// ICE consent lapsed (no traffic for 5 s); it may still come back.
    Disconnected,
    Ended(String),
}

/// How long a disconnected viewer may take to come back before it is ended: with ICE's 5 s
/// without traffic, a viewer that vanished (killed browser, pulled cable) is freed within 8 s.
pub const RECONNECT_GRACE: Duration = Duration::from_secs(3);

struct Events {
    tx: mpsc::UnboundedSender<PcEvent>,
    gathered: mpsc::UnboundedSender<()>,
    channels: mpsc::UnboundedSender<Arc<dyn DataChannel>>,
    /// The viewer's own tracks (its microphone).
    tracks: mpsc::UnboundedSender<Arc<dyn webrtc::media_stream::track_remote::TrackRemote>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(());
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(%state, "viewer connection state");
        let event = match state {
            RTCPeerConnectionState::Connected => PcEvent::Connected,
            RTCPeerConnectionState::Failed => PcEvent::Ended("connection failed".into()),
            RTCPeerConnectionState::Disconnected => PcEvent::Disconnected,
            RTCPeerConnectionState::Closed => PcEvent::Ended("connection closed".into()),
            _ => return,
        };
        let _ = self.tx.send(event);
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let _ = self.channels.send(channel);
    }

    async fn on_track(&self, track: Arc<dyn webrtc::media_stream::track_remote::TrackRemote>) {
        let _ = self.tracks.send(track);
    }
}

/// A live viewer connection. Dropping it does not stop it: call [`ViewerConnection::close`].
pub struct ViewerConnection {
    close: Option<oneshot::Sender<String>>,
    /// Resolves with the reason once the viewer has gone (for any reason).
    pub ended: oneshot::Receiver<String>,
    /// Data channels the viewer opens (remote input arrives on `input`).
    pub channels: mpsc::UnboundedReceiver<Arc<dyn DataChannel>>,
}

impl ViewerConnection {
    /// Take the handle that ends the connection (to keep it apart from `ended`).
    pub fn take_close(&mut self) -> Option<oneshot::Sender<String>> {
        self.close.take()
    }

    /// Ask the connection to end; `ended` resolves once it has.
    pub fn close(&mut self, reason: &str) {
        if let Some(tx) = self.close.take() {
            let _ = tx.send(reason.to_string());
        }
    }
}

/// Answers a viewer's offer. Returns the complete (non-trickle) SDP answer and the connection,
/// which streams from `feed` once ICE and DTLS are up.
pub async fn answer_offer(offer_sdp: &str, feed: FrameFeed, config: &TransportConfig) -> Result<(String, ViewerConnection), TransportError> {
    answer_offer_with_audio(offer_sdp, feed, crate::audio::ViewerAudio::default(), config).await
}

/// Like [`answer_offer`], with audio when the offer has an audio section: the host's sound goes
/// out (if there is some) and the viewer's microphone is played (if there is somewhere to).
pub async fn answer_offer_with_audio(
    offer_sdp: &str,
    feed: FrameFeed,
    audio: crate::audio::ViewerAudio,
    config: &TransportConfig,
) -> Result<(String, ViewerConnection), TransportError> {
    let offer = RTCSessionDescription::offer(offer_sdp.to_string()).map_err(|e| TransportError::BadOffer(e.to_string()))?;
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (gathered_tx, mut gathered_rx) = mpsc::unbounded_channel();
    let (channels_tx, channels_rx) = mpsc::unbounded_channel();
    let (tracks_tx, tracks_rx) = mpsc::unbounded_channel();
    let pc = build_peer(config, Events { tx: events_tx, gathered: gathered_tx, channels: channels_tx, tracks: tracks_tx }).await?;
    tokio::spawn(audio::play_incoming(tracks_rx, audio.incoming.clone()));

    let ssrc: u32 = rand_u32();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "deskbeam".into(),
        "screen".into(),
        "screen".into(),
        RtpCodecKind::Video,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec: h264_codec().rtp_codec,
            ..Default::default()
        }],
    )));
    let negotiate = async {
        let sender = pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await.map_err(setup)?;
        let audio = audio::add_track(&pc, audio.outgoing, offer_sdp).await.map_err(setup)?;
        pc.set_remote_description(offer).await.map_err(|e| TransportError::Negotiation(e.to_string()))?;
        let answer = pc.create_answer(None).await.map_err(|e| TransportError::Negotiation(e.to_string()))?;
        pc.set_local_description(answer).await.map_err(setup)?;
        let _ = tokio::time::timeout(GATHER_TIMEOUT, gathered_rx.recv()).await;
        let local = pc.local_description().await.ok_or_else(|| TransportError::Setup("no local description".into()))?;
        Ok::<_, TransportError>((sender, audio, local.sdp))
    };
    let (sender, audio, answer_sdp) = match negotiate.await {
        Ok(v) => v,
        Err(e) => {
            let _ = pc.close().await;
            return Err(e);
        }
    };
    if !answer_sdp.contains("H264") {
        let _ = pc.close().await;
        return Err(TransportError::Negotiation("the viewer does not accept H.264 (42e01f)".into()));
    }

    let (close_tx, close_rx) = oneshot::channel();
    let (ended_tx, ended_rx) = oneshot::channel();
    let playout_delay = rtp_out::extension_id(&answer_sdp, rtp_out::PLAYOUT_DELAY_URI);
    let session = Session { pc, track, sender, ssrc, feed, audio: audio.map(Arc::new), playout_delay };
    tokio::spawn(async move {
        let reason = session.run(events_rx, close_rx).await;
        let _ = ended_tx.send(reason);
    });
    Ok((answer_sdp, ViewerConnection { close: Some(close_tx), ended: ended_rx, channels: channels_rx }))
}

fn setup(e: impl std::fmt::Display) -> TransportError {
    TransportError::Setup(e.to_string())
}

fn rand_u32() -> u32 {
    let b = *uuid::Uuid::new_v4().as_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

async fn build_peer(config: &TransportConfig, events: Events) -> Result<Arc<dyn PeerConnection>, TransportError> {
    let mut media = MediaEngine::default();
    media.register_codec(h264_codec(), RtpCodecKind::Video).map_err(setup)?;
    media.register_codec(opus_codec(), RtpCodecKind::Audio).map_err(setup)?;
    let playout_delay = RTCRtpHeaderExtensionCapability { uri: rtp_out::PLAYOUT_DELAY_URI.into() };
    media.register_header_extension(playout_delay, RtpCodecKind::Video, None).map_err(setup)?;
    let registry = register_default_interceptors(Registry::new(), &mut media).map_err(setup)?;
    let registry = registry.with(Slot::from(14_000), KeyframeRequestForwarder::default());
    // No mDNS: it needs a multicast route, and browsers' mDNS-only offers still connect through
    // peer-reflexive candidates learned from their connectivity checks.
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().with_ice_servers(ice_servers(&config.ice_servers)).build())
        .with_media_engine(media)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(events))
        .with_udp_addrs(config.udp_addrs.clone())
        .build()
        .await
        .map_err(setup)?;
    Ok(Arc::new(pc))
}

/// The server's ICE servers in webrtc-rs form. webrtc-rs relays over UDP TURN only (it skips
/// `?transport=tcp` URLs itself); a UDP-blocked viewer still reaches our relay candidate through
/// its own TURN-over-TCP allocation.
fn ice_servers(servers: &[deskbeam_proto::ice::IceServer]) -> Vec<webrtc::peer_connection::RTCIceServer> {
    servers
        .iter()
        .map(|s| webrtc::peer_connection::RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        })
        .collect()
}

struct Session {
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    feed: FrameFeed,
    audio: Option<Arc<audio::AudioOut>>,
    /// The answer's id for the playout-delay extension (asks the browser not to buffer).
    playout_delay: Option<u8>,
}

impl Session {
    /// Waits for the connection, streams until it ends or is closed, then tears it down.
    async fn run(self, mut events: mpsc::UnboundedReceiver<PcEvent>, mut close: oneshot::Receiver<String>) -> String {
        let connected = tokio::select! {
            e = tokio::time::timeout(CONNECT_TIMEOUT, events.recv()) => match e {
                Ok(Some(PcEvent::Connected)) => Ok(()),
                Ok(Some(PcEvent::Ended(r))) => Err(r),
                Ok(Some(PcEvent::Disconnected)) => Err("connection lost".to_string()),
                Ok(None) => Err("connection dropped".to_string()),
                Err(_) => Err("viewer did not connect in time".to_string()),
            },
            r = &mut close => Err(r.unwrap_or_else(|_| "closed".into())),
        };
        let reason = match connected {
            Err(r) => r,
            Ok(()) => {
                tracing::info!("viewer connected");
                self.stream(&mut events, &mut close).await
            }
        };
        let _ = self.pc.close().await;
        tracing::info!(%reason, "viewer ended");
        reason
    }

    async fn stream(&self, events: &mut mpsc::UnboundedReceiver<PcEvent>, close: &mut oneshot::Receiver<String>) -> String {
        let payload_type = match self.sender.get_parameters().await {
            Ok(p) => p.rtp_parameters.codecs.first().map(|c| c.payload_type).unwrap_or(H264_PAYLOAD_TYPE),
            Err(e) => return format!("sender parameters unavailable: {e}"),
        };
        let rtcp = tokio::spawn(forward_keyframe_requests(Arc::clone(&self.track), self.feed.clone()));
        let audio = self.audio.clone().map(|a| tokio::spawn(a.stream()));
        let mut rtp =
            RtpPacketizer::new(self.ssrc, payload_type, Instant::now(), rand_u32() as u16, rand_u32()).with_playout_delay(self.playout_delay);
        let mut frames = self.feed.subscribe();
        let mut waiting_for_key = true;
        // Set while the connection is disconnected: the moment it is given up.
        let lost = tokio::time::sleep(Duration::MAX);
        tokio::pin!(lost);
        let mut disconnected = false;
        let reason = loop {
            tokio::select! {
                frame = frames.recv() => match frame {
                    Ok(frame) => {
                        if waiting_for_key && !frame.keyframe {
                            continue;
                        }
                        waiting_for_key = false;
                        let payloads = frame.rtp_payloads.get_or_init(|| h264_payloads(&frame.data));
                        for packet in rtp.packetize(payloads, frame.captured_at) {
                            if let Err(e) = self.track.write_rtp(packet).await {
                                tracing::debug!(error = %e, "RTP write failed");
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        // Too slow for the live stream: skip ahead and restart from a keyframe.
                        tracing::debug!(skipped = n, "viewer lagged; waiting for a keyframe");
                        waiting_for_key = true;
                        self.feed.request_keyframe();
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break "sharing stopped".to_string(),
                },
                e = events.recv() => match e {
                    Some(PcEvent::Ended(r)) => break r,
                    Some(PcEvent::Disconnected) if !disconnected => {
                        tracing::info!(grace = ?RECONNECT_GRACE, "viewer connection interrupted");
                        disconnected = true;
                        lost.as_mut().reset(tokio::time::Instant::now() + RECONNECT_GRACE);
                    }
                    Some(PcEvent::Disconnected) => {}
                    Some(PcEvent::Connected) => {
                        if disconnected {
                            tracing::info!("viewer connection restored");
                            disconnected = false;
                        }
                    }
                    None => break "connection dropped".to_string(),
                },
                () = &mut lost, if disconnected => break "connection lost".to_string(),
                r = &mut *close => break r.unwrap_or_else(|_| "closed".into()),
            }
        };
        rtcp.abort();
        if let Some(audio) = audio {
            audio.abort();
        }
        reason
    }
}

async fn forward_keyframe_requests(track: Arc<TrackLocalStaticRTP>, feed: FrameFeed) {
    let mut last: Option<Instant> = None;
    while let Some(event) = track.poll().await {
        let TrackLocalEvent::OnRtcpPacket(packets) = event else { continue };
        if !packets.iter().any(|p| is_keyframe_request(p.as_ref())) {
            continue;
        }
        let now = Instant::now();
        if last.is_none_or(|t| now.duration_since(t) >= KEYFRAME_MIN_INTERVAL) {
            last = Some(now);
            tracing::debug!("viewer asked for a keyframe");
            feed.request_keyframe();
        }
    }
}
