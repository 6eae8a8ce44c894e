//! A viewer that listens (and may speak): a WebRTC peer whose offer has a receive-only video
//! section and an audio section; it decodes the agent's Opus back to 48 kHz mono PCM, and can
//! send a tone as its microphone. Also the tone analysis the voice tests use.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp::header::Header;
use rtc::rtp::Packet;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, Registry, SettingEngineBuilder,
};

/// Opus always runs at 48 kHz in WebRTC.
pub const RATE: u32 = 48_000;

/// 20 ms of decoded sound and when it arrived.
pub struct PcmChunk {
    pub samples: Vec<i16>,
    pub at: Instant,
}

struct Handler {
    gathered: mpsc::UnboundedSender<()>,
    pcm: mpsc::UnboundedSender<PcmChunk>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(());
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if track.kind().await != RtpCodecKind::Audio {
            return; // the screen: not what this peer is for
        }
        let pcm = self.pcm.clone();
        tokio::spawn(async move {
            let Ok(mut decoder) = opus::Decoder::new(RATE, opus::Channels::Mono) else { return };
            let mut out = vec![0i16; 5760];
            while let Some(event) = track.poll().await {
                let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
                if let Ok(n) = decoder.decode(&packet.payload, &mut out, false) {
                    if pcm.send(PcmChunk { samples: out[..n].to_vec(), at: Instant::now() }).is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// The listening viewer.
pub struct AudioPeer {
    pc: Arc<dyn PeerConnection>,
    pub offer: String,
    pub pcm: mpsc::UnboundedReceiver<PcmChunk>,
}

impl AudioPeer {
    /// A peer that only listens (receive-only audio).
    pub async fn offer() -> anyhow::Result<Self> {
        Self::build(None).await
    }

    /// A peer that also speaks: a `freq` Hz tone as its microphone (send and receive).
    pub async fn offer_speaking(freq: f64) -> anyhow::Result<Self> {
        Self::build(Some(freq)).await
    }

    async fn build(speak: Option<f64>) -> anyhow::Result<Self> {
        let mut media = MediaEngine::default();
        media.register_default_codecs()?;
        let registry = register_default_interceptors(Registry::new(), &mut media)?;
        let (gathered_tx, mut gathered_rx) = mpsc::unbounded_channel();
        let (pcm_tx, pcm) = mpsc::unbounded_channel();
        let settings = SettingEngineBuilder::new().with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled).build();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler { gathered: gathered_tx, pcm: pcm_tx }))
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let video = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
        pc.add_transceiver_from_kind(RtpCodecKind::Video, Some(video)).await?;
        match speak {
            Some(freq) => {
                let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                    "viewer".into(),
                    "mic".into(),
                    "mic".into(),
                    RtpCodecKind::Audio,
                    vec![RTCRtpEncodingParameters {
                        rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(0x5eed), ..Default::default() },
                        codec: RTCRtpCodec { mime_type: "audio/opus".into(), clock_rate: RATE, channels: 2, ..Default::default() },
                        ..Default::default()
                    }],
                )));
                pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await?;
                tokio::spawn(speak_tone(track, freq));
            }
            None => {
                let audio = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
                pc.add_transceiver_from_kind(RtpCodecKind::Audio, Some(audio)).await?;
            }
        }
        let offer = pc.create_offer(None).await?;
        pc.set_local_description(offer).await?;
        let _ = tokio::time::timeout(Duration::from_secs(5), gathered_rx.recv()).await;
        let offer = pc.local_description().await.ok_or_else(|| anyhow::anyhow!("no local description"))?.sdp;
        Ok(Self { pc, offer, pcm })
    }

    pub async fn accept(&self, answer: String) -> anyhow::Result<()> {
        self.pc.set_remote_description(RTCSessionDescription::answer(answer)?).await?;
        Ok(())
    }

    /// Waits until the sound is loud (RMS over `threshold` in one chunk), then collects `length`
    /// of it; returns the samples and when the loud sound began. `None` on silence until `timeout`.
    pub async fn record_sound(&mut self, threshold: f64, length: Duration, timeout: Duration) -> Option<(Vec<i16>, Instant)> {
        let deadline = tokio::time::Instant::now() + timeout;
        let want = (f64::from(RATE) * length.as_secs_f64()) as usize;
        let mut onset = None;
        let mut samples = Vec::new();
        while samples.len() < want {
            let chunk = tokio::time::timeout_at(deadline, self.pcm.recv()).await.ok()??;
            if onset.is_none() && rms(&chunk.samples) >= threshold {
                onset = Some(chunk.at);
            }
            if onset.is_some() {
                samples.extend_from_slice(&chunk.samples);
            }
        }
        onset.map(|t| (samples, t))
    }

    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

/// Sends a tone as 20 ms Opus packets, in real time, until the connection is gone.
async fn speak_tone(track: Arc<TrackLocalStaticRTP>, freq: f64) {
    let Ok(mut encoder) = opus::Encoder::new(RATE, opus::Channels::Mono, opus::Application::LowDelay) else { return };
    let pcm: Vec<i16> = tone_bytes(freq, 1.0, 0.5).chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut out = [0u8; 1500];
    for i in 0u32.. {
        tick.tick().await;
        let start = (i as usize * 960) % pcm.len();
        let Ok(n) = encoder.encode(&pcm[start..start + 960], &mut out) else { return };
        let header = Header { version: 2, payload_type: 111, sequence_number: i as u16, timestamp: i.wrapping_mul(960), ssrc: 0x5eed, ..Default::default() };
        // Before the connection is up, writes fail: keep ticking.
        let _ = track.write_rtp(Packet { header, payload: bytes::Bytes::copy_from_slice(&out[..n]) }).await;
        if i > 50 * 120 {
            return;
        }
    }
}

/// Root mean square, as a fraction of full scale.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| (f64::from(s) / f64::from(i16::MAX)).powi(2)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// The strongest frequency between 100 and 2000 Hz (2 Hz steps, Goertzel over at most one
/// second): robust to the clicks and gaps a loaded machine puts into a stream.
pub fn tone_frequency(samples: &[i16]) -> f64 {
    let samples = &samples[..samples.len().min(RATE as usize)];
    let power = |freq: f64| {
        let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(RATE)).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in samples {
            let s0 = f64::from(x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - coeff * s1 * s2
    };
    (50..=1000).map(|i| f64::from(i) * 2.0).max_by(|a, b| power(*a).total_cmp(&power(*b))).unwrap_or(0.0)
}

/// `seconds` of a sine at `freq` Hz, 48 kHz mono s16le bytes, at `amplitude` of full scale.
pub fn tone_bytes(freq: f64, seconds: f64, amplitude: f64) -> Vec<u8> {
    let n = (f64::from(RATE) * seconds) as usize;
    (0..n)
        .flat_map(|i| {
            let t = i as f64 / f64::from(RATE);
            let s = (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin() * f64::from(i16::MAX)) as i16;
            s.to_le_bytes()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_frequency_and_loudness_of_a_tone() {
        let bytes = tone_bytes(440.0, 1.0, 0.5);
        let samples: Vec<i16> = bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
        assert!((tone_frequency(&samples) - 440.0).abs() < 2.0);
        assert!((rms(&samples) - 0.5 / 2f64.sqrt()).abs() < 0.01);
        assert_eq!(rms(&[]), 0.0);
    }
}
