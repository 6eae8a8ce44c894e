//! X Damage: the X server tells us when the screen changed, so an idle desktop is not even
//! copied out of the X server. Without the extension the source falls back to polling.

use x11rb::connection::Connection;
use x11rb::protocol::damage::{ConnectionExt as _, ReportLevel};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;

use std::os::fd::AsFd;
use std::time::Instant;

use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// Watches the root window (and everything drawn on it) for changes.
pub struct DamageWatcher {
    conn: RustConnection,
    damage: u32,
    /// A change was reported and not yet taken.
    pending: bool,
}

impl DamageWatcher {
    /// Connects to `$DISPLAY` and starts watching. `Err` if the server lacks DAMAGE.
    pub fn open() -> Result<Self, String> {
        let (conn, screen) = x11rb::connect(None).map_err(|e| e.to_string())?;
        let root = conn.setup().roots.get(screen).map(|s| s.root).ok_or("no X screen")?;
        conn.damage_query_version(1, 1).map_err(|e| e.to_string())?.reply().map_err(|e| e.to_string())?;
        let damage = conn.generate_id().map_err(|e| e.to_string())?;
        conn.damage_create(damage, root, ReportLevel::NON_EMPTY).map_err(|e| e.to_string())?;
        conn.flush().map_err(|e| e.to_string())?;
        Ok(Self { conn, damage, pending: false })
    }

    /// Reads the events that arrived; a broken connection counts as a change (so the caller
    /// captures, and polls on).
    fn drain(&mut self) {
        loop {
            match self.conn.poll_for_event() {
                Ok(Some(Event::DamageNotify(_))) => self.pending = true,
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(_) => {
                    self.pending = true;
                    return;
                }
            }
        }
    }

    /// Has anything been drawn since the last call? Re-arms the watch before returning true, so
    /// a change that happens while the caller captures is reported next time.
    pub fn take(&mut self) -> bool {
        self.drain();
        if !std::mem::take(&mut self.pending) {
            return false;
        }
        let _ = self.conn.damage_subtract(self.damage, x11rb::NONE, x11rb::NONE);
        let _ = self.conn.flush();
        true
    }

    /// Blocks until something is drawn (true) or `deadline` passes (false), without taking the
    /// change: the next [`DamageWatcher::take`] still reports it.
    pub fn wait(&mut self, deadline: Instant) -> bool {
        loop {
            self.drain();
            if self.pending {
                return true;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
                return false;
            };
            let timeout = Timespec::try_from(left).unwrap_or(Timespec { tv_sec: 0, tv_nsec: 1_000_000 });
            let fd = self.conn.stream().as_fd();
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            if poll(&mut fds, Some(&timeout)).is_err() {
                std::thread::sleep(left);
                return false;
            }
        }
    }
}
