//! A receive-only WebRTC peer that plays the viewer: it offers, takes the agent's answer, and
//! turns the H.264 it receives back into RGB frames (openh264 decoder on its own thread).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::packetizer::Depacketizer;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use deskbeam_proto::chat::{decode_agent_chat, AgentChat, ViewerChat, CHAT_CHANNEL};
use deskbeam_proto::input::{decode_agent_input, encode, AgentInput, ViewerInput, INPUT_CHANNEL};
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState, Registry, SettingEngineBuilder,
};

/// One decoded picture, as packed RGB.
#[derive(Clone)]
pub struct DecodedFrame {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
    pub decoded_at: Instant,
}

impl DecodedFrame {
    /// Average colour of a `size`×`size` block centred at fractions (`fx`, `fy`) of the picture.
    pub fn block(&self, fx: f64, fy: f64, size: usize) -> [u8; 3] {
        let cx = ((self.width as f64 * fx) as usize).min(self.width.saturating_sub(1));
        let cy = ((self.height as f64 * fy) as usize).min(self.height.saturating_sub(1));
        let (x0, y0) = (cx.saturating_sub(size / 2), cy.saturating_sub(size / 2));
        let (x1, y1) = ((x0 + size).min(self.width), (y0 + size).min(self.height));
        let mut sum = [0u64; 3];
        let mut n = 0u64;
        for y in y0..y1 {
            for x in x0..x1 {
                let i = (y * self.width + x) * 3;
                for (c, s) in sum.iter_mut().enumerate() {
                    *s += u64::from(self.rgb[i + c]);
                }
                n += 1;
            }
        }
        let n = n.max(1);
        [(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8]
    }
}

/// Connection events seen by the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverEvent {
    Connected,
    Ended(String),
}

struct Handler {
    bytes: Arc<std::sync::atomic::AtomicU64>,
    keyframes: Arc<std::sync::atomic::AtomicU64>,
    gathered: mpsc::UnboundedSender<()>,
    events: mpsc::UnboundedSender<ReceiverEvent>,
    access_units: std::sync::mpsc::Sender<Bytes>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(());
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let e = match state {
            RTCPeerConnectionState::Connected => ReceiverEvent::Connected,
            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed | RTCPeerConnectionState::Disconnected => {
                ReceiverEvent::Ended(state.to_string())
            }
            _ => return,
        };
        let _ = self.events.send(e);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let tx = self.access_units.clone();
        let bytes = self.bytes.clone();
        let keyframes = self.keyframes.clone();
        tokio::spawn(async move {
            let mut depacketizer = H264Packet::default();
            let mut au = BytesMut::new();
            while let Some(event) = track.poll().await {
                let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
                bytes.fetch_add(packet.payload.len() as u64, std::sync::atomic::Ordering::Relaxed);
                if let Ok(nal) = depacketizer.depacketize(&packet.payload) {
                    au.extend_from_slice(&nal);
                }
                if packet.header.marker && !au.is_empty() {
                    if has_idr(&au) {
                        keyframes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    if tx.send(au.split().freeze()).is_err() {
                        break;
                    }
                }
            }
        });
    }
}

/// The viewer side of a test connection.
pub struct Receiver {
    pc: Arc<dyn PeerConnection>,
    pub offer: String,
    pub frames: mpsc::UnboundedReceiver<DecodedFrame>,
    pub events: mpsc::UnboundedReceiver<ReceiverEvent>,
    /// The `input` data channel, when the receiver opened one.
    pub input: Option<Arc<dyn DataChannel>>,
    /// Messages the agent sent on the `input` channel.
    pub agent_input: mpsc::UnboundedReceiver<AgentInput>,
    /// RTP payload bytes received so far (video bitrate).
    pub bytes: Arc<std::sync::atomic::AtomicU64>,
    /// IDR access units received so far.
    pub keyframes: Arc<std::sync::atomic::AtomicU64>,
    /// The `chat` data channel, when the receiver opened one.
    pub chat: Option<Arc<dyn DataChannel>>,
    /// Messages the agent sent on the `chat` channel.
    pub agent_chat: mpsc::UnboundedReceiver<AgentChat>,
}

impl Receiver {
    /// Builds a recv-only H.264 peer on loopback and creates its (complete, non-trickle) offer.
    pub async fn offer() -> anyhow::Result<Self> {
        Self::build(false, false).await
    }

    /// Like [`Receiver::offer`], with the `input` and `chat` data channels.
    pub async fn offer_with_chat() -> anyhow::Result<Self> {
        Self::build(true, true).await
    }

    /// Says `text` on the chat channel.
    pub async fn say(&self, text: &str) -> anyhow::Result<()> {
        self.send_chat_raw(&encode(&ViewerChat::Say { text: text.to_string() })).await
    }

    /// Sends raw text on the chat channel (for hostile-input tests).
    pub async fn send_chat_raw(&self, text: &str) -> anyhow::Result<()> {
        let dc = self.chat.as_ref().ok_or_else(|| anyhow::anyhow!("no chat channel"))?;
        dc.send_text(text).await?;
        Ok(())
    }

    /// Waits for a chat message from the agent matching `pred`.
    pub async fn wait_chat(&mut self, timeout: Duration, pred: impl Fn(&AgentChat) -> bool) -> anyhow::Result<AgentChat> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.agent_chat.recv()).await {
                Ok(Some(m)) if pred(&m) => return Ok(m),
                Ok(Some(_)) => {}
                Ok(None) => anyhow::bail!("chat channel closed"),
                Err(_) => anyhow::bail!("no matching chat message within {timeout:?}"),
            }
        }
    }

    /// Like [`Receiver::offer`], with an `input` data channel for remote control.
    pub async fn offer_with_input() -> anyhow::Result<Self> {
        Self::build(true, false).await
    }

    /// Sends one input event (framed with the protocol version).
    pub async fn send_input(&self, event: &ViewerInput) -> anyhow::Result<()> {
        self.send_raw(&encode(event)).await
    }

    /// Sends raw text on the input channel (for hostile-input tests).
    pub async fn send_raw(&self, text: &str) -> anyhow::Result<()> {
        let dc = self.input.as_ref().ok_or_else(|| anyhow::anyhow!("no input channel"))?;
        dc.send_text(text).await?;
        Ok(())
    }

    /// Waits for an agent message matching `pred`.
    pub async fn wait_agent_input(&mut self, timeout: Duration, pred: impl Fn(&AgentInput) -> bool) -> anyhow::Result<AgentInput> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.agent_input.recv()).await {
                Ok(Some(m)) if pred(&m) => return Ok(m),
                Ok(Some(_)) => {}
                Ok(None) => anyhow::bail!("input channel closed"),
                Err(_) => anyhow::bail!("no matching agent message within {timeout:?}"),
            }
        }
    }

    /// A video-only peer that counts what arrives without decoding it (for load tests, where ten
    /// decoders would take the CPU the agent is measured on).
    pub async fn offer_undecoded() -> anyhow::Result<Self> {
        Self::build_with(false, false, false).await
    }

    async fn build(with_input: bool, with_chat: bool) -> anyhow::Result<Self> {
        Self::build_with(with_input, with_chat, true).await
    }

    async fn build_with(with_input: bool, with_chat: bool, decode: bool) -> anyhow::Result<Self> {
        let mut media = MediaEngine::default();
        media.register_default_codecs()?;
        let registry = register_default_interceptors(Registry::new(), &mut media)?;
        let (gathered_tx, mut gathered_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (au_tx, au_rx) = std::sync::mpsc::channel();
        let (frames_tx, frames_rx) = mpsc::unbounded_channel();
        if decode {
            std::thread::spawn(move || decode_loop(au_rx, frames_tx));
        } else {
            std::thread::spawn(move || while au_rx.recv().is_ok() {});
        }
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .build();
        let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let keyframes = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler { bytes: bytes.clone(), keyframes: keyframes.clone(), gathered: gathered_tx, events: events_tx, access_units: au_tx }))
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        pc.add_transceiver_from_kind(
            RtpCodecKind::Video,
            Some(RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() }),
        )
        .await?;
        let (agent_tx, agent_input) = mpsc::unbounded_channel();
        let input = if with_input {
            let dc = pc.create_data_channel(INPUT_CHANNEL, None).await?;
            tokio::spawn(read_channel(Arc::clone(&dc), |b| decode_agent_input(b).ok(), agent_tx));
            Some(dc)
        } else {
            None
        };
        let (chat_tx, agent_chat) = mpsc::unbounded_channel();
        let chat = if with_chat {
            let dc = pc.create_data_channel(CHAT_CHANNEL, None).await?;
            tokio::spawn(read_channel(Arc::clone(&dc), |b| decode_agent_chat(b).ok(), chat_tx));
            Some(dc)
        } else {
            None
        };
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        let _ = tokio::time::timeout(Duration::from_secs(5), gathered_rx.recv()).await;
        let offer = pc.local_description().await.ok_or_else(|| anyhow::anyhow!("no local description"))?.sdp;
        Ok(Self { pc, offer, frames: frames_rx, events: events_rx, input, agent_input, bytes, keyframes, chat, agent_chat })
    }

    pub async fn accept(&self, answer: String) -> anyhow::Result<()> {
        self.pc.set_remote_description(RTCSessionDescription::answer(answer)?).await?;
        Ok(())
    }

    /// Waits for a decoded frame whose block at (`fx`, `fy`) matches `want` within `tolerance`.
    /// Returns the matching frame, or the last one seen in the error.
    pub async fn wait_for_color(&mut self, fx: f64, fy: f64, want: [u8; 3], tolerance: u8, timeout: Duration) -> anyhow::Result<DecodedFrame> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last: Option<[u8; 3]> = None;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.frames.recv()).await;
            match frame {
                Ok(Some(f)) => {
                    let got = f.block(fx, fy, 16);
                    if crate::color_close(got, want, tolerance) {
                        return Ok(f);
                    }
                    last = Some(got);
                }
                Ok(None) => anyhow::bail!("decoder stopped; last colour {last:?}"),
                Err(_) => anyhow::bail!("no frame with colour {want:?} within {timeout:?}; last colour {last:?}"),
            }
        }
    }

    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

/// Forwards what the agent sends on a data channel, decoded, until it closes.
async fn read_channel<T>(channel: Arc<dyn DataChannel>, decode: impl Fn(&[u8]) -> Option<T>, tx: mpsc::UnboundedSender<T>) {
    while let Some(event) = channel.poll().await {
        match event {
            DataChannelEvent::OnMessage(msg) => {
                if let Some(m) = decode(&msg.data) {
                    if tx.send(m).is_err() {
                        break;
                    }
                }
            }
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
}

fn decode_loop(access_units: std::sync::mpsc::Receiver<Bytes>, frames: mpsc::UnboundedSender<DecodedFrame>) {
    let mut decoder = match openh264::decoder::Decoder::new() {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cannot create the H.264 decoder");
            return;
        }
    };
    use openh264::formats::YUVSource;
    while let Ok(au) = access_units.recv() {
        match decoder.decode(&au) {
            Ok(Some(yuv)) => {
                let (w, h) = yuv.dimensions();
                let mut rgb = vec![0u8; w * h * 3];
                yuv.write_rgb8(&mut rgb);
                let frame = DecodedFrame { width: w, height: h, rgb, decoded_at: Instant::now() };
                if frames.send(frame).is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "decode error"),
        }
    }
}

/// Does an Annex-B access unit hold an IDR slice (NAL type 5)?
pub fn has_idr(au: &[u8]) -> bool {
    au.windows(4).any(|w| w[0] == 0 && w[1] == 0 && w[2] == 1 && w[3] & 0x1f == 5)
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_idr_slices_after_start_codes() {
        assert!(super::has_idr(&[0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x65, 9]));
        assert!(!super::has_idr(&[0, 0, 0, 1, 0x41, 9, 9]));
        assert!(!super::has_idr(&[0x65, 0, 0]));
    }
}
