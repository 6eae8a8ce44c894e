//! X Damage: the X server tells us when the screen changed, so an idle desktop is not even
//! copied out of the X server. Without the extension the source falls back to polling.

use x11rb::connection::Connection;
use x11rb::protocol::damage::{ConnectionExt as _, ReportLevel};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;

/// Watches the root window (and everything drawn on it) for changes.
pub struct DamageWatcher {
    conn: RustConnection,
    damage: u32,
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
        Ok(Self { conn, damage })
    }

    /// Has anything been drawn since the last call? Re-arms the watch before returning true, so
    /// a change that happens while the caller captures is reported next time.
    pub fn take(&self) -> bool {
        let mut damaged = false;
        loop {
            match self.conn.poll_for_event() {
                Ok(Some(Event::DamageNotify(_))) => damaged = true,
                Ok(Some(_)) => {}
                Ok(None) => break,
                // A broken connection: report a change so the caller captures (and polls on).
                Err(_) => return true,
            }
        }
        if damaged {
            let _ = self.conn.damage_subtract(self.damage, x11rb::NONE, x11rb::NONE);
            let _ = self.conn.flush();
        }
        damaged
    }
}
