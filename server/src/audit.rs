//! The audit trail: what is recorded (kinds), the [`Event`] builder, the append through the
//! store, and the per-viewer throttle of noisy agent events.
//!
//! **Invariant:** no token, PIN or password ever goes into an event (ids, names, addresses and
//! reasons only). Writing an event never fails the request that caused it; a store error is logged.

use std::collections::HashMap;

use deskbeam_proto::signal::AuditKind;

use crate::state::AppState;
use crate::store::AuditRecord;

/// Server-side event kinds (agent kinds are their snake_case names).
pub mod kinds {
    pub const LOGIN_OK: &str = "login_ok";
    pub const LOGIN_FAILED: &str = "login_failed";
    pub const LOGIN_LOCKED: &str = "login_locked";
    pub const LOGOUT: &str = "logout";
    pub const HOST_ENROLLED: &str = "host_enrolled";
    pub const HOST_TOKEN_REVOKED: &str = "host_token_revoked";
    pub const LINK_CREATED: &str = "link_created";
    pub const LINK_REVOKED: &str = "link_revoked";
    pub const LINK_USED: &str = "link_used";
    pub const PIN_FAILED: &str = "pin_failed";
    pub const PIN_LOCKED: &str = "pin_locked";
    pub const VIEWER_JOINED: &str = "viewer_joined";
    pub const VIEWER_LEFT: &str = "viewer_left";
    pub const VIEWER_KICKED: &str = "viewer_kicked";
}

/// The audit name of an agent-side event.
pub fn agent_kind(kind: AuditKind) -> &'static str {
    match kind {
        AuditKind::ControlRequested => "control_requested",
        AuditKind::ControlGranted => "control_granted",
        AuditKind::ControlDenied => "control_denied",
        AuditKind::ControlReleased => "control_released",
        AuditKind::ControlRevoked => "control_revoked",
        AuditKind::InputRejected => "input_rejected",
    }
}

/// One event to record; `at` is filled from the state's clock.
#[derive(Debug, Clone, Default)]
pub struct Event {
    kind: &'static str,
    actor: Option<String>,
    host_id: Option<String>,
    link_id: Option<String>,
    viewer_id: Option<String>,
    address: Option<String>,
    detail: Option<serde_json::Value>,
}

impl Event {
    pub fn new(kind: &'static str) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    pub fn host(mut self, host_id: impl Into<String>) -> Self {
        self.host_id = Some(host_id.into());
        self
    }

    pub fn link(mut self, link_id: impl Into<String>) -> Self {
        self.link_id = Some(link_id.into());
        self
    }

    pub fn viewer(mut self, viewer_id: impl Into<String>) -> Self {
        self.viewer_id = Some(viewer_id.into());
        self
    }

    pub fn address(mut self, address: Option<String>) -> Self {
        self.address = address;
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

impl AppState {
    /// Appends `event` to the audit log (errors are logged, never returned).
    pub fn audit(&self, event: Event) {
        let record = AuditRecord {
            id: 0,
            at: self.now_unix(),
            kind: event.kind.to_string(),
            actor: event.actor,
            host_id: event.host_id,
            link_id: event.link_id,
            viewer_id: event.viewer_id,
            address: event.address,
            detail: event.detail.unwrap_or_else(|| serde_json::json!({})),
        };
        if let Err(e) = self.store().append_audit(&record) {
            tracing::error!(error = %e, kind = record.kind, "could not write an audit event");
        }
    }
}

/// Lets one `input_rejected` row per viewer through every [`Throttle::EVERY`] seconds.
#[derive(Debug, Default)]
pub struct Throttle {
    last: HashMap<String, u64>,
}

impl Throttle {
    pub const EVERY: u64 = 10;

    /// True when an event for `key` at `now` should be recorded.
    pub fn allow(&mut self, key: &str, now: u64) -> bool {
        match self.last.get(key) {
            Some(&t) if now < t + Self::EVERY => false,
            _ => {
                if self.last.len() > 10_000 {
                    self.last.retain(|_, t| now < *t + Self::EVERY);
                }
                self.last.insert(key.to_string(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_lets_one_through_per_window() {
        let mut t = Throttle::default();
        assert!(t.allow("v1", 100));
        assert!(!t.allow("v1", 109));
        assert!(t.allow("v2", 109));
        assert!(t.allow("v1", 110));
    }
}
