//! Raw screen frames as they leave capture: BGRX, tightly packed rows.

use std::sync::Arc;
use std::time::Instant;

/// One captured screen image. Pixels are BGRX (4 bytes each, X ignored), `stride` bytes per row.
#[derive(Clone)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    /// Shared so the pipeline can keep the last frame without copying it.
    pub data: Arc<Vec<u8>>,
    /// When the pixels were read from the screen (the start of glass-to-glass latency).
    pub captured_at: Instant,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("stride", &self.stride)
            .finish_non_exhaustive()
    }
}

/// Why a buffer cannot be a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame {width}x{height} is empty or too small to encode")]
    TooSmall { width: u32, height: u32 },
    #[error("frame {width}x{height} with stride {stride} needs {needed} bytes, got {got}")]
    ShortBuffer { width: u32, height: u32, stride: u32, needed: usize, got: usize },
}

impl Frame {
    /// Checks that `data` really holds a `width`×`height` BGRX image with rows `stride` apart.
    pub fn new(width: u32, height: u32, stride: u32, data: Vec<u8>, captured_at: Instant) -> Result<Self, FrameError> {
        if width < 2 || height < 2 {
            return Err(FrameError::TooSmall { width, height });
        }
        let needed = (stride as usize) * (height as usize - 1) + width as usize * 4;
        if (stride as usize) < width as usize * 4 || data.len() < needed {
            return Err(FrameError::ShortBuffer { width, height, stride, needed, got: data.len() });
        }
        Ok(Self { width, height, stride, data: Arc::new(data), captured_at })
    }

    /// Same pixels as `other` (size and content)? Used to skip encoding an unchanged screen.
    pub fn same_pixels(&self, other: &Frame) -> bool {
        self.width == other.width
            && self.height == other.height
            && self.stride == other.stride
            && (Arc::ptr_eq(&self.data, &other.data) || self.data == other.data)
    }

    /// The BGRX value at (x, y), or `None` outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = y as usize * self.stride as usize + x as usize * 4;
        let p = self.data.get(i..i + 3)?;
        Some([p[2], p[1], p[0]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_short_buffers_and_tiny_frames() {
        let now = Instant::now();
        assert!(matches!(Frame::new(4, 4, 16, vec![0; 63], now), Err(FrameError::ShortBuffer { .. })));
        assert!(matches!(Frame::new(1, 4, 4, vec![0; 16], now), Err(FrameError::TooSmall { .. })));
        assert!(Frame::new(4, 4, 16, vec![0; 64], now).is_ok());
    }

    #[test]
    fn compares_pixels_and_reads_rgb() {
        let now = Instant::now();
        let mut data = vec![0u8; 64];
        data[0..4].copy_from_slice(&[10, 20, 30, 0]);
        let a = Frame::new(4, 4, 16, data.clone(), now).expect("valid");
        let b = Frame::new(4, 4, 16, data, now).expect("valid");
        assert!(a.same_pixels(&b));
        assert_eq!(a.pixel(0, 0), Some([30, 20, 10]));
        assert_eq!(a.pixel(4, 0), None);
        let c = Frame::new(4, 4, 16, vec![1; 64], now).expect("valid");
        assert!(!a.same_pixels(&c));
    }
}
