//! A viewer's audio: the host's Opus packets from the shared [`AudioFeed`] on its track (one RTP
//! packet per 20 ms frame), and the viewer's microphone played on the host. Only when the
//! viewer's offer has an audio m-line, so a WHEP player without audio is answered exactly as
//! before. Audio runs on its own tasks and tracks: it never holds video back.

use std::sync::Arc;

use rtc::media_stream::MediaStreamTrack;
use rtc::rtp::header::Header;
use rtc::rtp::Packet;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use tokio::sync::broadcast::error::RecvError;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::RtpSender;

use crate::audio::{play_packets, AudioFeed, SinkOpener, FRAME_SAMPLES};

const OPUS_PAYLOAD_TYPE: u8 = 111;

/// Opus as every browser offers it (stereo signalling, mono content, in-band FEC).
pub fn opus_codec() -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: "audio/opus".into(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
            rtcp_feedback: Vec::new(),
        },
        payload_type: OPUS_PAYLOAD_TYPE,
    }
}

/// Does this offer have room for audio?
pub fn offers_audio(offer_sdp: &str) -> bool {
    offer_sdp.lines().any(|l| l.starts_with("m=audio "))
}

/// The host's audio going to one viewer.
pub struct AudioOut {
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    feed: AudioFeed,
}

/// Prepares the audio section (before the offer is applied) when the viewer offers one: the
/// host's track when there is host audio (send and receive), else a receive-only transceiver
/// for the viewer's microphone.
pub async fn add_track(pc: &Arc<dyn PeerConnection>, feed: Option<AudioFeed>, offer_sdp: &str) -> Result<Option<AudioOut>, String> {
    if !offers_audio(offer_sdp) {
        return Ok(None);
    }
    let Some(feed) = feed else {
        let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, ..Default::default() };
        pc.add_transceiver_from_kind(RtpCodecKind::Audio, Some(init)).await.map_err(|e| e.to_string())?;
        return Ok(None);
    };
    let ssrc = super::rand_u32();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "deskbeam".into(),
        "host-audio".into(),
        "host-audio".into(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            codec: opus_codec().rtp_codec,
            ..Default::default()
        }],
    )));
    let sender = pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await.map_err(|e| e.to_string())?;
    Ok(Some(AudioOut { track, sender, ssrc, feed }))
}

impl AudioOut {
    /// Streams until the feed ends (or the task is aborted with the connection).
    pub async fn stream(self: Arc<Self>) {
        let payload_type = match self.sender.get_parameters().await {
            Ok(p) => p.rtp_parameters.codecs.first().map(|c| c.payload_type).unwrap_or(OPUS_PAYLOAD_TYPE),
            Err(_) => OPUS_PAYLOAD_TYPE,
        };
        let mut frames = self.feed.subscribe();
        let (mut sequence, mut timestamp) = (super::rand_u32() as u16, super::rand_u32());
        loop {
            let frame = match frames.recv().await {
                Ok(f) => f,
                // Late frames are dropped, never queued: audio stays live.
                Err(RecvError::Lagged(n)) => {
                    timestamp = timestamp.wrapping_add(FRAME_SAMPLES as u32 * n as u32);
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let header = Header { version: 2, marker: false, payload_type, sequence_number: sequence, timestamp, ssrc: self.ssrc, ..Default::default() };
            if let Err(e) = self.track.write_rtp(Packet { header, payload: frame.data }).await {
                tracing::debug!(error = %e, "audio RTP write failed");
            }
            sequence = sequence.wrapping_add(1);
            timestamp = timestamp.wrapping_add(FRAME_SAMPLES as u32);
        }
    }
}

/// Plays the viewer's audio tracks as they arrive (each on its own sink), until the connection
/// is gone. Without a sink (`None`) they are received and dropped.
pub async fn play_incoming(mut tracks: tokio::sync::mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>, open: Option<SinkOpener>) {
    while let Some(track) = tracks.recv().await {
        if track.kind().await != RtpCodecKind::Audio {
            continue;
        }
        let Some(open) = open.clone() else { continue };
        tokio::spawn(async move {
            let sink = match tokio::task::spawn_blocking(move || open("viewer voice")).await {
                Ok(Ok(sink)) => sink,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "the viewer's microphone cannot be played here");
                    return;
                }
                Err(_) => return,
            };
            let (tx, rx) = std::sync::mpsc::channel();
            if let Err(e) = play_packets(rx, sink) {
                tracing::warn!(error = %e, "the viewer's microphone cannot be played here");
                return;
            }
            tracing::info!("playing the viewer's microphone");
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                    if tx.send(packet.payload).is_err() {
                        return;
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_offers_with_an_audio_section_get_audio() {
        assert!(offers_audio("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
        assert!(!offers_audio("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=x:m=audio\r\n"));
    }
}
