//! A synthetic screen: solid background, optional moving box. Tests change it from outside
//! through a [`SyntheticScreen`] handle.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{CaptureError, FrameSource};
use crate::frame::Frame;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scene {
    rgb: [u8; 3],
    /// Four colours (top-left, top-right, bottom-left, bottom-right) instead of one.
    quadrants: Option<[[u8; 3]; 4]>,
    /// Draw a box that moves every frame (a "changing screen").
    animate: bool,
}

/// Shared control of a synthetic screen.
#[derive(Clone)]
pub struct SyntheticScreen {
    scene: Arc<Mutex<Scene>>,
    width: u32,
    height: u32,
}

impl SyntheticScreen {
    pub fn new(width: u32, height: u32, rgb: [u8; 3]) -> Self {
        Self { scene: Arc::new(Mutex::new(Scene { rgb, quadrants: None, animate: false })), width, height }
    }

    /// Paint the whole screen one colour.
    pub fn set_color(&self, rgb: [u8; 3]) {
        if let Ok(mut s) = self.scene.lock() {
            s.rgb = rgb;
            s.quadrants = None;
        }
    }

    /// Paint the four quarters of the screen: top-left, top-right, bottom-left, bottom-right.
    pub fn set_quadrants(&self, colors: [[u8; 3]; 4]) {
        if let Ok(mut s) = self.scene.lock() {
            s.quadrants = Some(colors);
        }
    }

    /// Make every frame differ from the last (a moving box), or stop.
    pub fn set_animated(&self, animate: bool) {
        if let Ok(mut s) = self.scene.lock() {
            s.animate = animate;
        }
    }

    pub fn source(&self) -> SyntheticSource {
        SyntheticSource { screen: self.clone(), tick: 0, last: None }
    }
}

/// The [`FrameSource`] side of a [`SyntheticScreen`].
pub struct SyntheticSource {
    screen: SyntheticScreen,
    tick: u32,
    last: Option<(Scene, Frame)>,
}

impl FrameSource for SyntheticSource {
    fn capture(&mut self) -> Result<Frame, CaptureError> {
        let scene = self.screen.scene.lock().map(|s| *s).unwrap_or(Scene { rgb: [0, 0, 0], quadrants: None, animate: false });
        let (w, h) = (self.screen.width, self.screen.height);
        self.tick = self.tick.wrapping_add(1);
        if let Some((last_scene, frame)) = &self.last {
            if *last_scene == scene && !scene.animate {
                // Like scrap: a fresh buffer with the same pixels.
                let data = frame.data.as_ref().clone();
                return Ok(Frame::new(w, h, w * 4, data, Instant::now())?);
            }
        }
        let mut data = vec![0u8; (w * h * 4) as usize];
        for (i, px) in data.chunks_exact_mut(4).enumerate() {
            let (x, y) = (i as u32 % w, i as u32 / w);
            let [r, g, b] = match scene.quadrants {
                Some(q) => q[usize::from(x >= w / 2) + 2 * usize::from(y >= h / 2)],
                None => scene.rgb,
            };
            px.copy_from_slice(&[b, g, r, 0]);
        }
        if scene.animate {
            draw_box(&mut data, w, h, self.tick);
        }
        let frame = Frame::new(w, h, w * 4, data, Instant::now())?;
        self.last = Some((scene, frame.clone()));
        Ok(frame)
    }
}

fn draw_box(data: &mut [u8], w: u32, h: u32, tick: u32) {
    let size = (w.min(h) / 4).max(2);
    let x0 = (tick * 8) % (w - size + 1);
    let y0 = (tick * 4) % (h - size + 1);
    for y in y0..y0 + size {
        let row = (y * w * 4) as usize;
        for x in x0..x0 + size {
            let i = row + (x * 4) as usize;
            data[i..i + 4].copy_from_slice(&[255, 255, 255, 0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_and_changes_colour() {
        let screen = SyntheticScreen::new(16, 8, [255, 0, 0]);
        let mut src = screen.source();
        let a = src.capture().expect("frame");
        assert_eq!(a.pixel(3, 3), Some([255, 0, 0]));
        let b = src.capture().expect("frame");
        assert!(a.same_pixels(&b));
        screen.set_color([0, 0, 255]);
        let c = src.capture().expect("frame");
        assert_eq!(c.pixel(3, 3), Some([0, 0, 255]));
        screen.set_quadrants([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]);
        let q = src.capture().expect("frame");
        assert_eq!(q.pixel(0, 0), Some([1, 2, 3]));
        assert_eq!(q.pixel(15, 0), Some([4, 5, 6]));
        assert_eq!(q.pixel(0, 7), Some([7, 8, 9]));
        assert_eq!(q.pixel(15, 7), Some([10, 11, 12]));
        screen.set_animated(true);
        let d = src.capture().expect("frame");
        let e = src.capture().expect("frame");
        assert!(!d.same_pixels(&e));
    }
}
