//! A WHEP viewer that takes the server's ICE servers (`GET /whep/ice-servers`) and reports how
//! its media arrived: the selected candidate pair's types and the RTP it received. Run inside a
//! test network namespace by `deskbeam-relay-viewer`; it does not decode (the relay tests prove
//! the path, the other tests prove the picture).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskbeam_proto::ice::IceServerList;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::statistics::report::RTCStatsReportEntry;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCIceServer, Registry, SettingEngineBuilder, StatsSelector,
};

use crate::whep;

/// What the viewer saw, printed as one JSON line by `deskbeam-relay-viewer`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewReport {
    pub ice_urls: Vec<String>,
    /// RTP payload bytes and complete frames (marker bits) received.
    pub bytes: u64,
    pub frames: u64,
    /// Candidate types of the selected pair (`host`, `srflx`, `prflx`, `relay`, or `unknown`
    /// when the stats do not say).
    pub local_type: String,
    pub remote_type: String,
    /// For a local relay candidate: how we reach the relay.
    pub relay_protocol: String,
}

impl ViewReport {
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "ice_urls": self.ice_urls, "bytes": self.bytes, "frames": self.frames,
            "local_type": self.local_type, "remote_type": self.remote_type, "relay_protocol": self.relay_protocol,
        })
        .to_string()
    }

    pub fn from_json(line: &str) -> anyhow::Result<Self> {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let urls = v["ice_urls"].as_array().map(|a| a.iter().filter_map(|u| u.as_str().map(String::from)).collect()).unwrap_or_default();
        Ok(Self {
            ice_urls: urls,
            bytes: v["bytes"].as_u64().unwrap_or(0),
            frames: v["frames"].as_u64().unwrap_or(0),
            local_type: s("local_type"),
            remote_type: s("remote_type"),
            relay_protocol: s("relay_protocol"),
        })
    }
}

struct Counter {
    bytes: Arc<AtomicU64>,
    frames: Arc<AtomicU64>,
    gathered: tokio::sync::mpsc::UnboundedSender<()>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Counter {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(());
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let (bytes, frames) = (Arc::clone(&self.bytes), Arc::clone(&self.frames));
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                let TrackRemoteEvent::OnRtpPacket(packet) = event else { continue };
                bytes.fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
                if packet.header.marker {
                    frames.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}

/// Frames after which [`watch`] calls its `streaming` callback.
pub const STREAMING_AFTER: u64 = 10;

/// Watches through `server` with `token` from `udp_addr` until `frames` frames arrived (or
/// `timeout`), then reads the selected pair and leaves. `streaming` runs once the first
/// [`STREAMING_AFTER`] frames are in (so a test can measure what flows after that).
pub async fn watch(
    server: SocketAddr,
    token: &str,
    udp_addr: &str,
    frames: u64,
    timeout: Duration,
    streaming: impl FnOnce(),
) -> anyhow::Result<ViewReport> {
    let auth = format!("Bearer {token}");
    let listed = whep::request(server, "GET", "/whep/ice-servers", &[("Authorization", &auth)], b"").await?;
    anyhow::ensure!(listed.status == 200, "GET /whep/ice-servers: {} {}", listed.status, listed.body);
    let list: IceServerList = serde_json::from_str(&listed.body)?;
    let ice_urls: Vec<String> = list.ice_servers.iter().flat_map(|s| s.urls.clone()).collect();
    let ice_servers = list
        .ice_servers
        .into_iter()
        .map(|s| RTCIceServer { urls: s.urls, username: s.username.unwrap_or_default(), credential: s.credential.unwrap_or_default() })
        .collect();

    let mut media = MediaEngine::default();
    media.register_default_codecs()?;
    let registry = register_default_interceptors(Registry::new(), &mut media)?;
    let (gathered_tx, mut gathered_rx) = tokio::sync::mpsc::unbounded_channel();
    let (bytes, frame_count) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let settings = SettingEngineBuilder::new().with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled).build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().with_ice_servers(ice_servers).build())
        .with_media_engine(media)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Counter { bytes: Arc::clone(&bytes), frames: Arc::clone(&frame_count), gathered: gathered_tx }))
        .with_udp_addrs(vec![udp_addr.to_string()])
        .build()
        .await?;
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);
    let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
    pc.add_transceiver_from_kind(RtpCodecKind::Video, Some(init)).await?;
    let offer = pc.create_offer(None).await?;
    pc.set_local_description(offer).await?;
    let _ = tokio::time::timeout(Duration::from_secs(10), gathered_rx.recv()).await;
    let offer = pc.local_description().await.ok_or_else(|| anyhow::anyhow!("no local description"))?.sdp;
    let answer = whep::post_offer(server, token, &offer).await?;
    anyhow::ensure!(answer.status == 201, "POST /whep: {} {}", answer.status, answer.body);
    pc.set_remote_description(rtc::peer_connection::sdp::RTCSessionDescription::answer(answer.body.clone())?).await?;

    let deadline = Instant::now() + timeout;
    let mut streaming = Some(streaming);
    while frame_count.load(Ordering::Relaxed) < frames && Instant::now() < deadline {
        if frame_count.load(Ordering::Relaxed) >= STREAMING_AFTER {
            if let Some(f) = streaming.take() {
                f();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut report = selected_pair(pc.as_ref()).await;
    report.ice_urls = ice_urls;
    report.bytes = bytes.load(Ordering::Relaxed);
    report.frames = frame_count.load(Ordering::Relaxed);
    if let Some(location) = answer.header("location") {
        let _ = whep::request(server, "DELETE", location, &[("Authorization", &auth)], b"").await;
    }
    let _ = pc.close().await;
    Ok(report)
}

async fn selected_pair(pc: &dyn PeerConnection) -> ViewReport {
    let stats = pc.get_stats(Instant::now(), StatsSelector::None).await;
    let selected = stats.transport().map(|t| t.selected_candidate_pair_id.clone()).unwrap_or_default();
    let pair = stats.candidate_pairs().find(|p| p.stats.id == selected).or_else(|| stats.candidate_pairs().find(|p| p.nominated));
    let Some(pair) = pair else {
        let pairs: Vec<String> = stats.candidate_pairs().map(|p| format!("{} {:?} nominated={}", p.stats.id, p.state, p.nominated)).collect();
        eprintln!("no selected candidate pair (transport says {selected:?}; pairs {pairs:?}; ids {:?})", stats.ids().collect::<Vec<_>>());
        return ViewReport::default();
    };
    // webrtc-rs 0.21 names candidates `RTCLocalIceCandidate_<id>` in the report but not in the
    // pair, and reports no remote candidates: look both ways, and say "unknown" when absent.
    let describe = |prefix: &str, id: &str| match stats.get(id).or_else(|| stats.get(&format!("{prefix}{id}"))) {
        Some(RTCStatsReportEntry::LocalCandidate(c) | RTCStatsReportEntry::RemoteCandidate(c)) => {
            (c.candidate_type.to_string().to_lowercase(), format!("{:?}", c.relay_protocol).to_lowercase())
        }
        _ => ("unknown".to_string(), String::new()),
    };
    let (local_type, relay_protocol) = describe("RTCLocalIceCandidate_", &pair.local_candidate_id);
    let (remote_type, _) = describe("RTCRemoteIceCandidate_", &pair.remote_candidate_id);
    ViewReport { local_type, remote_type, relay_protocol, ..ViewReport::default() }
}
