//! Turns encoded access units into RTP packets with timestamps taken from capture time, so a
//! still screen followed by a change never confuses the viewer's jitter buffer.

use std::time::Instant;

use bytes::Bytes;
use rtc::rtp::codec::h264::H264Payloader;
use rtc::rtp::header::Header;
use rtc::rtp::packetizer::Payloader;
use rtc::rtp::Packet;

/// RTP payload size that fits a 1200-byte path MTU with SRTP and header room.
pub const RTP_MTU: usize = 1188;
const VIDEO_CLOCK_HZ: u64 = 90_000;

/// Splits an Annex-B access unit into H.264 RTP payloads (RFC 6184, packetization mode 1).
/// Stateless across calls: each access unit carries its own SPS/PPS before an IDR, so the split
/// is the same for every viewer and is done once per frame.
pub fn h264_payloads(access_unit: &Bytes) -> Vec<Bytes> {
    match H264Payloader::default().payload(RTP_MTU, access_unit) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot packetize an access unit");
            Vec::new()
        }
    }
}

/// Per-viewer RTP state: SSRC, sequence numbers, the clock origin.
pub struct RtpPacketizer {
    ssrc: u32,
    payload_type: u8,
    sequence: u16,
    origin: Instant,
    base_timestamp: u32,
}

impl RtpPacketizer {
    pub fn new(ssrc: u32, payload_type: u8, origin: Instant, first_sequence: u16, base_timestamp: u32) -> Self {
        Self { ssrc, payload_type, sequence: first_sequence, origin, base_timestamp }
    }

    /// The RTP timestamp for a frame captured at `at` (90 kHz since the origin).
    pub fn timestamp(&self, at: Instant) -> u32 {
        let ticks = at.saturating_duration_since(self.origin).as_micros() as u64 * VIDEO_CLOCK_HZ / 1_000_000;
        self.base_timestamp.wrapping_add(ticks as u32)
    }

    /// Stamps one frame's payloads (from [`h264_payloads`]) with this viewer's SSRC, sequence
    /// numbers and timestamp; the last packet carries the marker bit.
    pub fn packetize(&mut self, payloads: &[Bytes], captured_at: Instant) -> Vec<Packet> {
        let timestamp = self.timestamp(captured_at);
        let last = payloads.len().saturating_sub(1);
        payloads
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, payload)| {
                let sequence_number = self.sequence;
                self.sequence = self.sequence.wrapping_add(1);
                Packet {
                    header: Header {
                        version: 2,
                        marker: i == last,
                        payload_type: self.payload_type,
                        sequence_number,
                        timestamp,
                        ssrc: self.ssrc,
                        ..Default::default()
                    },
                    payload,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_follow_capture_time_and_marker_ends_the_frame() {
        let origin = Instant::now();
        let mut p = RtpPacketizer::new(7, 102, origin, 65535, 1000);
        // Two NAL units, one too large for a packet (FU-A).
        let mut au = vec![0, 0, 0, 1, 0x67, 1, 2, 3, 0, 0, 0, 1, 0x65];
        au.extend(std::iter::repeat_n(0xAB, 3000));
        let packets = p.packetize(&h264_payloads(&Bytes::from(au)), origin + Duration::from_secs(10));
        assert!(packets.len() >= 3);
        assert!(packets.iter().all(|pk| pk.header.timestamp == 1000 + 900_000));
        assert_eq!(packets.iter().filter(|pk| pk.header.marker).count(), 1);
        assert!(packets.last().is_some_and(|pk| pk.header.marker));
        assert_eq!(packets[0].header.sequence_number, 65535);
        assert_eq!(packets[1].header.sequence_number, 0);
        assert!(packets.iter().all(|pk| pk.payload.len() <= RTP_MTU));
    }
}
