//! H.264 encoding behind the [`Encoder`] trait: BGRX → I420 (`yuv`) → openh264 in
//! screen-content real-time mode, Constrained Baseline, bitrate rate control.

use std::time::{Duration, Instant};

use bytes::Bytes;
use openh264::encoder::{
    BitRate, Complexity, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Profile, RateControlMode,
    SpsPpsStrategy, UsageType,
};
use openh264::formats::YUVSlices;
use openh264::OpenH264API;
use yuv::{YuvConversionMode, YuvPlanarImageMut, YuvRange, YuvStandardMatrix};

use crate::frame::Frame;

/// One encoded picture: an Annex-B access unit (start codes included).
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    pub data: Bytes,
    pub keyframe: bool,
    pub width: u32,
    pub height: u32,
    /// When the source pixels were captured.
    pub captured_at: Instant,
    /// Time spent converting and encoding.
    pub convert_time: Duration,
    pub encode_time: Duration,
    /// `data` split into RTP payloads, by whichever viewer sends the frame first; every other
    /// viewer reuses the split (see `transport::rtp_out`).
    pub rtp_payloads: std::sync::OnceLock<Vec<Bytes>>,
}

/// Errors from an encoder.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("encoder initialisation failed: {0}")]
    Init(String),
    #[error("colour conversion failed: {0}")]
    Convert(String),
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// Turns frames into H.264 access units.
pub trait Encoder: Send {
    /// Encodes `frame`; `keyframe` forces an IDR. Returns `None` if the encoder skipped it.
    fn encode(&mut self, frame: &Frame, keyframe: bool) -> Result<Option<EncodedFrame>, EncodeError>;
}

/// Encoder settings.
#[derive(Debug, Clone, Copy)]
pub struct EncoderSettings {
    pub bitrate_bps: u32,
    pub max_fps: f32,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self { bitrate_bps: 4_000_000, max_fps: 30.0 }
    }
}

/// openh264 with a reusable I420 buffer. Re-initialises itself when the screen size changes.
pub struct H264Encoder {
    settings: EncoderSettings,
    inner: Option<(u32, u32, openh264::encoder::Encoder)>,
    /// Reused I420 buffer.
    yuv: Vec<u8>,
}

impl H264Encoder {
    pub fn new(settings: EncoderSettings) -> Self {
        Self { settings, inner: None, yuv: Vec::new() }
    }

    fn config(&self) -> EncoderConfig {
        EncoderConfig::new()
            .usage_type(UsageType::ScreenContentRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(self.settings.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(self.settings.max_fps))
            // Frames are only submitted when the screen changed: never drop one of those.
            .skip_frames(false)
            .profile(Profile::Baseline)
            .complexity(Complexity::Low)
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            // Keyframes on demand (viewer join, PLI/FIR), not on a timer.
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            .num_threads(1)
            // Not supported in screen-content mode; say so instead of letting openh264 warn.
            .adaptive_quantization(false)
            .background_detection(false)
            .debug(false)
    }

    /// Makes sure an encoder for `w`×`h` exists (a new size starts a new encoder, hence an IDR).
    fn ensure_encoder(&mut self, w: u32, h: u32) -> Result<(), EncodeError> {
        let stale = !matches!(&self.inner, Some((iw, ih, _)) if *iw == w && *ih == h);
        if stale {
            let enc = openh264::encoder::Encoder::with_api_config(OpenH264API::from_source(), self.config())
                .map_err(|e| EncodeError::Init(e.to_string()))?;
            tracing::info!(width = w, height = h, bitrate = self.settings.bitrate_bps, "H.264 encoder ready");
            self.inner = Some((w, h, enc));
        }
        Ok(())
    }
}

/// I420 needs even dimensions: crop the odd last row/column.
pub fn even_size(width: u32, height: u32) -> (u32, u32) {
    (width & !1, height & !1)
}

/// Converts BGRX rows into a packed I420 buffer (`w*h` luma, then quarter-size U and V).
pub fn bgrx_to_i420(frame: &Frame, w: u32, h: u32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let (y_len, c_len) = ((w * h) as usize, ((w / 2) * (h / 2)) as usize);
    out.resize(y_len + 2 * c_len, 0);
    let (y_plane, rest) = out.split_at_mut(y_len);
    let (u_plane, v_plane) = rest.split_at_mut(c_len);
    let mut image = YuvPlanarImageMut {
        y_plane: yuv::BufferStoreMut::Borrowed(y_plane),
        y_stride: w,
        u_plane: yuv::BufferStoreMut::Borrowed(u_plane),
        u_stride: w / 2,
        v_plane: yuv::BufferStoreMut::Borrowed(v_plane),
        v_stride: w / 2,
        width: w,
        height: h,
    };
    let needed = frame.stride as usize * (h as usize - 1) + w as usize * 4;
    let src = frame.data.get(..needed).ok_or_else(|| EncodeError::Convert("frame buffer too short".into()))?;
    yuv::bgra_to_yuv420(&mut image, src, frame.stride, YuvRange::Limited, YuvStandardMatrix::Bt601, YuvConversionMode::Balanced)
        .map_err(|e| EncodeError::Convert(e.to_string()))
}

impl Encoder for H264Encoder {
    fn encode(&mut self, frame: &Frame, keyframe: bool) -> Result<Option<EncodedFrame>, EncodeError> {
        let (w, h) = even_size(frame.width, frame.height);
        let started = Instant::now();
        bgrx_to_i420(frame, w, h, &mut self.yuv)?;
        let convert_time = started.elapsed();
        self.ensure_encoder(w, h)?;
        let Some((_, _, enc)) = self.inner.as_mut() else { return Err(EncodeError::Init("encoder missing".into())) };
        let (frame_type, data) = encode_i420(enc, &self.yuv, w, h, keyframe)?;
        let encode_time = started.elapsed().saturating_sub(convert_time);
        Ok(match frame_type {
            FrameType::Skip | FrameType::Invalid => None,
            t if data.is_empty() => {
                tracing::debug!(?t, "encoder produced no data");
                None
            }
            t => Some(EncodedFrame {
                data: Bytes::from(data),
                // Only an IDR lets a new decoder start; a scene-change I frame does not.
                keyframe: matches!(t, FrameType::IDR),
                width: w,
                height: h,
                captured_at: frame.captured_at,
                convert_time,
                encode_time,
                rtp_payloads: std::sync::OnceLock::new(),
            }),
        })
    }
}

/// Encodes one packed I420 picture; returns its type and Annex-B bytes.
fn encode_i420(
    enc: &mut openh264::encoder::Encoder,
    yuv: &[u8],
    w: u32,
    h: u32,
    keyframe: bool,
) -> Result<(FrameType, Vec<u8>), EncodeError> {
    let (y_len, c_len) = ((w * h) as usize, ((w / 2) * (h / 2)) as usize);
    let slices = YUVSlices::new(
        (&yuv[..y_len], &yuv[y_len..y_len + c_len], &yuv[y_len + c_len..]),
        (w as usize, h as usize),
        (w as usize, (w / 2) as usize, (w / 2) as usize),
    );
    if keyframe {
        enc.force_intra_frame();
    }
    let stream = enc.encode(&slices).map_err(|e| EncodeError::Encode(e.to_string()))?;
    Ok((stream.frame_type(), stream.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{FrameSource, SyntheticScreen};

    #[test]
    fn first_frame_is_a_keyframe_and_forced_keyframes_work() {
        let screen = SyntheticScreen::new(320, 240, [200, 30, 30]);
        let mut src = screen.source();
        let mut enc = H264Encoder::new(EncoderSettings::default());
        let first = enc.encode(&src.capture().expect("frame"), false).expect("encode").expect("not skipped");
        assert!(first.keyframe);
        assert_eq!((first.width, first.height), (320, 240));
        screen.set_animated(true);
        let p = enc.encode(&src.capture().expect("frame"), false).expect("encode").expect("not skipped");
        assert!(!p.keyframe);
        let k = enc.encode(&src.capture().expect("frame"), true).expect("encode").expect("not skipped");
        assert!(k.keyframe);
        // Annex-B start code.
        assert_eq!(&k.data[..4], &[0, 0, 0, 1]);
    }

    #[test]
    fn odd_sizes_are_cropped_and_resizes_reinitialise() {
        let mut enc = H264Encoder::new(EncoderSettings::default());
        let a = SyntheticScreen::new(101, 77, [0, 0, 0]).source().capture().expect("frame");
        let e = enc.encode(&a, false).expect("encode").expect("frame");
        assert_eq!((e.width, e.height), (100, 76));
        let b = SyntheticScreen::new(64, 48, [0, 0, 0]).source().capture().expect("frame");
        let e = enc.encode(&b, false).expect("encode").expect("frame");
        assert!(e.keyframe, "a new size starts with an IDR");
    }
}
