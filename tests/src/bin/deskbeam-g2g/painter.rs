//! Paints the timestamp pattern on an X display at a fixed rate, on its own thread.
//!
//! An override-redirect window covers just the pattern row. Each tick draws the row into an
//! off-screen pixmap and copies it to the window in one `CopyArea` request, so the X server never
//! shows a half-drawn row (another client's capture sees the old row or the new one). The time
//! painted is read from the wall clock (`SystemTime`, CLOCK_REALTIME) right before drawing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, CreateGCAux, CreateWindowAux, Gcontext, Pixmap, Rectangle, Window, WindowClass};
use x11rb::rust_connection::RustConnection;

use crate::pattern::{cells, CELL, CELLS, ORIGIN};

/// A running painter; stops (and closes its window) on drop.
pub struct Painter {
    stop: Arc<AtomicBool>,
    /// Rows painted so far.
    pub painted: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

struct Canvas {
    conn: RustConnection,
    window: Window,
    pixmap: Pixmap,
    white: Gcontext,
    black: Gcontext,
}

impl Painter {
    /// Opens `display` and paints `rate_hz` times a second until dropped.
    pub fn start(display: &str, rate_hz: u32) -> anyhow::Result<Self> {
        let canvas = Canvas::open(display)?;
        let stop = Arc::new(AtomicBool::new(false));
        let painted = Arc::new(AtomicU64::new(0));
        let (stop2, painted2) = (stop.clone(), painted.clone());
        let interval = Duration::from_secs(1) / rate_hz.max(1);
        let thread = std::thread::Builder::new().name("g2g-painter".into()).spawn(move || {
            let mut next = Instant::now();
            while !stop2.load(Ordering::Relaxed) {
                if let Err(e) = canvas.paint(unix_ms()) {
                    tracing::warn!(error = %e, "painting the pattern failed");
                    return;
                }
                painted2.fetch_add(1, Ordering::Relaxed);
                next += interval;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
        })?;
        Ok(Self { stop, painted, thread: Some(thread) })
    }
}

impl Drop for Painter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Milliseconds since the Unix epoch (CLOCK_REALTIME, the clock `Date.now()` reads).
fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Canvas {
    fn open(display: &str) -> anyhow::Result<Self> {
        let (conn, screen) = x11rb::connect(Some(display))?;
        let screen = conn.setup().roots.get(screen).ok_or_else(|| anyhow::anyhow!("no X screen"))?.clone();
        let (width, height) = (CELL * CELLS as u16, CELL);
        let window = conn.generate_id()?;
        let aux = CreateWindowAux::new().override_redirect(1).background_pixel(screen.black_pixel);
        conn.create_window(screen.root_depth, window, screen.root, ORIGIN, ORIGIN, width, height, 0, WindowClass::INPUT_OUTPUT, 0, &aux)?;
        let pixmap = conn.generate_id()?;
        conn.create_pixmap(screen.root_depth, pixmap, window, width, height)?;
        let white = conn.generate_id()?;
        conn.create_gc(white, window, &CreateGCAux::new().foreground(screen.white_pixel).graphics_exposures(0))?;
        let black = conn.generate_id()?;
        conn.create_gc(black, window, &CreateGCAux::new().foreground(screen.black_pixel).graphics_exposures(0))?;
        conn.map_window(window)?;
        conn.get_input_focus()?.reply()?; // a round trip: the window is up
        Ok(Self { conn, window, pixmap, white, black })
    }

    /// Shows the row for `unix_ms`: draw off screen, then one copy to the window.
    fn paint(&self, unix_ms: u64) -> anyhow::Result<()> {
        let row = cells(unix_ms);
        let rect = |i: usize| Rectangle { x: (i as u16 * CELL) as i16, y: 0, width: CELL, height: CELL };
        let whites: Vec<Rectangle> = (0..CELLS).filter(|&i| row[i]).map(rect).collect();
        let blacks: Vec<Rectangle> = (0..CELLS).filter(|&i| !row[i]).map(rect).collect();
        self.conn.poly_fill_rectangle(self.pixmap, self.white, &whites)?;
        self.conn.poly_fill_rectangle(self.pixmap, self.black, &blacks)?;
        self.conn.copy_area(self.pixmap, self.window, self.white, 0, 0, 0, 0, CELL * CELLS as u16, CELL)?;
        self.conn.flush()?;
        // Drain errors and events without blocking (a lost display ends the thread on the next write).
        while let Some(event) = self.conn.poll_for_event()? {
            tracing::debug!(?event, "painter event");
        }
        Ok(())
    }
}
