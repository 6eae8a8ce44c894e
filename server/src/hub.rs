//! In-memory registry of connected agents, offers waiting for an answer, and active viewers.
//!
//! The hub decides routing (which agent gets an offer, whether a link is full, what a disconnect
//! or an expiry ends) under one short-lived lock; it never awaits. Drivers (the agent WebSocket,
//! the WHEP handlers, the expiry sweeper) do the waiting and the socket I/O around it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use deskbeam_proto::signal::{ServerMessage, ViewerId};
use tokio::sync::{mpsc, oneshot, Notify};

/// Channel to one agent connection's writer task.
pub type AgentSender = mpsc::Sender<ServerMessage>;

/// Code sent to an agent connection that a newer connection of the same host replaced.
pub const REPLACED: &str = deskbeam_proto::api::codes::REPLACED;

/// How an offer ended, as seen by the WHEP request waiting for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferOutcome {
    Answer(String),
    Rejected { code: String, message: String },
    HostOffline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("host is not connected")]
    HostOffline,
    #[error("link has reached its viewer limit")]
    LinkFull,
}

/// What a viewer's offer needs to be routed.
#[derive(Debug, Clone)]
pub struct OfferRequest {
    pub viewer_id: ViewerId,
    pub host_id: String,
    pub link_id: String,
    pub max_viewers: u32,
    pub expires_at: u64,
}

/// A routed offer: where to send it and where its outcome will arrive.
#[derive(Debug)]
pub struct RoutedOffer {
    pub agent: AgentSender,
    pub outcome: oneshot::Receiver<OfferOutcome>,
}

/// A viewer whose offer was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveViewer {
    pub host_id: String,
    pub conn_id: u64,
    pub link_id: String,
    pub expires_at: u64,
}

/// What resolving an offer did.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    /// The waiting request got the outcome.
    Delivered,
    /// No such pending offer for this connection (late, foreign or already cancelled).
    Unknown,
    /// The request had gone away; an answered viewer was removed again and must be closed.
    Abandoned,
}

/// A connection's membership, returned by [`Hub::register`].
#[derive(Debug)]
pub struct Registration {
    pub conn_id: u64,
    /// Notified when this connection must close (replaced, or server shutdown).
    pub kick: Arc<Notify>,
}

#[derive(Debug)]
struct AgentHandle {
    conn_id: u64,
    tx: AgentSender,
    kick: Arc<Notify>,
}

#[derive(Debug)]
struct PendingOffer {
    host_id: String,
    conn_id: u64,
    link_id: String,
    expires_at: u64,
    reply: oneshot::Sender<OfferOutcome>,
}

#[derive(Debug, Default)]
struct HubState {
    agents: HashMap<String, AgentHandle>,
    pending: HashMap<ViewerId, PendingOffer>,
    viewers: HashMap<ViewerId, ActiveViewer>,
}

#[derive(Debug, Default)]
pub struct Hub {
    state: Mutex<HubState>,
    next_conn: AtomicU64,
}

impl HubState {
    fn agent_tx(&self, host_id: &str) -> Option<AgentSender> {
        self.agents.get(host_id).map(|a| a.tx.clone())
    }

    fn viewers_of_link(&self, link_id: &str) -> usize {
        let pending = self
            .pending
            .values()
            .filter(|p| p.link_id == link_id)
            .count();
        pending
            + self
                .viewers
                .values()
                .filter(|v| v.link_id == link_id)
                .count()
    }

    /// Ends everything that belonged to one agent connection.
    fn drop_connection(&mut self, host_id: &str, conn_id: u64) {
        let failed: Vec<ViewerId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.host_id == host_id && p.conn_id == conn_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in failed {
            if let Some(p) = self.pending.remove(&id) {
                let _ = p.reply.send(OfferOutcome::HostOffline);
            }
        }
        self.viewers
            .retain(|_, v| !(v.host_id == host_id && v.conn_id == conn_id));
    }
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, HubState> {
        // Every mutation below completes without panicking points, so a poisoned lock still
        // guards consistent maps.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a connection for `host_id`. A previous connection of the same host is told it
    /// was replaced and kicked; its offers fail with `host_offline` and its viewers are dropped.
    pub fn register(&self, host_id: &str, tx: AgentSender) -> Registration {
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
        let kick = Arc::new(Notify::new());
        let handle = AgentHandle {
            conn_id,
            tx,
            kick: kick.clone(),
        };
        let old = {
            let mut state = self.state();
            let old = state.agents.insert(host_id.to_string(), handle);
            if let Some(old) = &old {
                state.drop_connection(host_id, old.conn_id);
            }
            old
        };
        if let Some(old) = old {
            tracing::info!(
                host_id,
                old_conn = old.conn_id,
                conn_id,
                "agent connection replaced"
            );
            let _ = old.tx.try_send(ServerMessage::Error {
                request_id: None,
                code: REPLACED.to_string(),
                message: "another connection for this host took over".to_string(),
            });
            old.kick.notify_one();
        }
        Registration { conn_id, kick }
    }

    /// Forgets a closed connection (no-op for the host's entry if a newer one replaced it).
    pub fn unregister(&self, host_id: &str, conn_id: u64) {
        let mut state = self.state();
        if state
            .agents
            .get(host_id)
            .is_some_and(|a| a.conn_id == conn_id)
        {
            state.agents.remove(host_id);
        }
        state.drop_connection(host_id, conn_id);
    }

    pub fn is_online(&self, host_id: &str) -> bool {
        self.state().agents.contains_key(host_id)
    }

    /// The sender of the host's current connection, if it is connected.
    pub fn agent(&self, host_id: &str) -> Option<AgentSender> {
        self.state().agent_tx(host_id)
    }

    /// Reserves a viewer slot on the link and registers the offer as pending.
    pub fn begin_offer(&self, req: &OfferRequest) -> Result<RoutedOffer, OfferError> {
        let mut state = self.state();
        let (agent, conn_id) = match state.agents.get(&req.host_id) {
            Some(a) => (a.tx.clone(), a.conn_id),
            None => return Err(OfferError::HostOffline),
        };
        let max = usize::try_from(req.max_viewers).unwrap_or(usize::MAX);
        if state.viewers_of_link(&req.link_id) >= max {
            return Err(OfferError::LinkFull);
        }
        let (reply, outcome) = oneshot::channel();
        let pending = PendingOffer {
            host_id: req.host_id.clone(),
            conn_id,
            link_id: req.link_id.clone(),
            expires_at: req.expires_at,
            reply,
        };
        state.pending.insert(req.viewer_id.clone(), pending);
        Ok(RoutedOffer { agent, outcome })
    }

    /// Delivers an agent's reply to the offer it names, if that offer was sent to this
    /// connection. An answer makes the viewer active.
    pub fn resolve_offer(
        &self,
        host_id: &str,
        conn_id: u64,
        viewer_id: &str,
        outcome: OfferOutcome,
    ) -> Resolved {
        let mut state = self.state();
        let ours = state
            .pending
            .get(viewer_id)
            .is_some_and(|p| p.host_id == host_id && p.conn_id == conn_id);
        let Some(pending) = ours.then(|| state.pending.remove(viewer_id)).flatten() else {
            return Resolved::Unknown;
        };
        let answered = matches!(outcome, OfferOutcome::Answer(_));
        if answered {
            let viewer = ActiveViewer {
                host_id: pending.host_id,
                conn_id,
                link_id: pending.link_id,
                expires_at: pending.expires_at,
            };
            state.viewers.insert(viewer_id.to_string(), viewer);
        }
        if pending.reply.send(outcome).is_err() {
            if answered {
                state.viewers.remove(viewer_id);
            }
            return Resolved::Abandoned;
        }
        Resolved::Delivered
    }

    /// Withdraws a still-pending offer (timeout, or the viewer went away). Returns the agent's
    /// sender so the caller can tell it to drop the viewer.
    pub fn cancel_offer(&self, viewer_id: &str) -> Option<AgentSender> {
        let mut state = self.state();
        let pending = state.pending.remove(viewer_id)?;
        state
            .agents
            .get(&pending.host_id)
            .filter(|a| a.conn_id == pending.conn_id)
            .map(|a| a.tx.clone())
    }

    pub fn viewer(&self, viewer_id: &str) -> Option<ActiveViewer> {
        self.state().viewers.get(viewer_id).cloned()
    }

    /// Removes an active viewer; also returns the sender of the agent serving it, if connected.
    pub fn remove_viewer(&self, viewer_id: &str) -> Option<(ActiveViewer, Option<AgentSender>)> {
        let mut state = self.state();
        let viewer = state.viewers.remove(viewer_id)?;
        let tx = state
            .agents
            .get(&viewer.host_id)
            .filter(|a| a.conn_id == viewer.conn_id)
            .map(|a| a.tx.clone());
        Some((viewer, tx))
    }

    /// The agent reported a viewer gone: remove it if it was this connection's.
    pub fn viewer_gone(&self, host_id: &str, conn_id: u64, viewer_id: &str) -> bool {
        let mut state = self.state();
        let ours = state
            .viewers
            .get(viewer_id)
            .is_some_and(|v| v.host_id == host_id && v.conn_id == conn_id);
        if ours {
            state.viewers.remove(viewer_id);
        }
        ours
    }

    /// Viewers and pending offers counted against a link's `max_viewers`.
    pub fn viewer_count(&self, link_id: &str) -> usize {
        self.state().viewers_of_link(link_id)
    }

    /// Removes the viewers whose link expired at or before `now_unix`, with their agent senders.
    pub fn expire(&self, now_unix: u64) -> Vec<(ViewerId, Option<AgentSender>)> {
        let mut state = self.state();
        let expired: Vec<ViewerId> = state
            .viewers
            .iter()
            .filter(|(_, v)| v.expires_at <= now_unix)
            .map(|(id, _)| id.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|id| {
                let viewer = state.viewers.remove(&id)?;
                let tx = state.agent_tx(&viewer.host_id);
                Some((id, tx))
            })
            .collect()
    }

    /// Server shutdown: fail every pending offer and kick every agent connection.
    pub fn close_all(&self) {
        let mut state = self.state();
        for (_, pending) in state.pending.drain() {
            let _ = pending.reply.send(OfferOutcome::HostOffline);
        }
        state.viewers.clear();
        for agent in state.agents.values() {
            agent.kick.notify_one();
        }
    }
}

/// The `CloseViewer` frame for a viewer, with a reason for the agent's log.
pub fn close_viewer(viewer_id: &str, reason: &str) -> ServerMessage {
    ServerMessage::CloseViewer {
        viewer_id: viewer_id.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(viewer: &str, link: &str, max: u32) -> OfferRequest {
        OfferRequest {
            viewer_id: viewer.into(),
            host_id: "h".into(),
            link_id: link.into(),
            max_viewers: max,
            expires_at: 100,
        }
    }

    fn answer(sdp: &str) -> OfferOutcome {
        OfferOutcome::Answer(sdp.into())
    }

    #[test]
    fn offer_needs_a_connected_host() {
        let hub = Hub::new();
        assert_eq!(
            hub.begin_offer(&offer("v", "l", 1)).err(),
            Some(OfferError::HostOffline)
        );
    }

    #[test]
    fn answer_makes_the_viewer_active_and_counts_against_the_link() {
        let hub = Hub::new();
        let (tx, _rx) = mpsc::channel(4);
        let reg = hub.register("h", tx);
        let mut routed = hub
            .begin_offer(&offer("v1", "l", 1))
            .map_err(|e| e.to_string());
        assert!(routed.is_ok());
        // The pending offer already holds the only slot.
        assert_eq!(
            hub.begin_offer(&offer("v2", "l", 1)).err(),
            Some(OfferError::LinkFull)
        );
        assert!(hub.begin_offer(&offer("v3", "other", 1)).is_ok());
        // A foreign connection id cannot answer it.
        assert_eq!(
            hub.resolve_offer("h", reg.conn_id + 9, "v1", answer("x")),
            Resolved::Unknown
        );
        assert_eq!(
            hub.resolve_offer("h", reg.conn_id, "v1", answer("sdp")),
            Resolved::Delivered
        );
        if let Ok(r) = routed.as_mut() {
            assert_eq!(r.outcome.try_recv().ok(), Some(answer("sdp")));
        }
        assert_eq!(hub.viewer("v1").map(|v| v.link_id), Some("l".to_string()));
        assert_eq!(hub.viewer_count("l"), 1);
        assert!(hub.remove_viewer("v1").is_some());
        assert_eq!(hub.viewer_count("l"), 0);
    }

    #[test]
    fn abandoned_answer_is_undone() {
        let hub = Hub::new();
        let (tx, _rx) = mpsc::channel(4);
        let reg = hub.register("h", tx);
        drop(hub.begin_offer(&offer("v", "l", 1)));
        assert_eq!(
            hub.resolve_offer("h", reg.conn_id, "v", answer("sdp")),
            Resolved::Abandoned
        );
        assert_eq!(hub.viewer("v"), None);
        assert_eq!(hub.viewer_count("l"), 0);
    }

    #[test]
    fn disconnect_fails_offers_and_drops_viewers() {
        let hub = Hub::new();
        let (tx, _rx) = mpsc::channel(4);
        let reg = hub.register("h", tx);
        let _active = hub.begin_offer(&offer("active", "l", 5));
        assert_eq!(
            hub.resolve_offer("h", reg.conn_id, "active", answer("sdp")),
            Resolved::Delivered
        );
        assert!(hub.viewer("active").is_some());
        let routed = hub.begin_offer(&offer("waiting", "l", 5));
        hub.unregister("h", reg.conn_id);
        assert!(!hub.is_online("h"));
        assert_eq!(hub.viewer("active"), None);
        let outcome = routed.ok().map(|mut r| r.outcome.try_recv().ok());
        assert_eq!(outcome, Some(Some(OfferOutcome::HostOffline)));
    }

    #[test]
    fn second_connection_replaces_the_first() {
        let hub = Hub::new();
        let (tx1, mut rx1) = mpsc::channel(4);
        let first = hub.register("h", tx1);
        let (tx2, _rx2) = mpsc::channel(4);
        let second = hub.register("h", tx2);
        assert_ne!(first.conn_id, second.conn_id);
        assert!(
            matches!(rx1.try_recv(), Ok(ServerMessage::Error { code, .. }) if code == REPLACED)
        );
        // The old connection's cleanup must not unregister the new one.
        hub.unregister("h", first.conn_id);
        assert!(hub.is_online("h"));
    }

    #[test]
    fn expiry_removes_only_expired_viewers() {
        let hub = Hub::new();
        let (tx, _rx) = mpsc::channel(4);
        let reg = hub.register("h", tx);
        let mut late = offer("late", "l2", 1);
        late.expires_at = 200;
        let _soon = hub.begin_offer(&offer("soon", "l1", 1));
        let _late = hub.begin_offer(&late);
        assert_eq!(
            hub.resolve_offer("h", reg.conn_id, "soon", answer("a")),
            Resolved::Delivered
        );
        assert_eq!(
            hub.resolve_offer("h", reg.conn_id, "late", answer("b")),
            Resolved::Delivered
        );
        assert!(hub.expire(99).is_empty());
        let expired: Vec<_> = hub
            .expire(100)
            .into_iter()
            .map(|(id, tx)| (id, tx.is_some()))
            .collect();
        assert_eq!(expired, vec![("soon".to_string(), true)]);
        assert!(hub.viewer("late").is_some());
    }

    #[test]
    fn cancel_offer_frees_the_slot() {
        let hub = Hub::new();
        let (tx, _rx) = mpsc::channel(4);
        hub.register("h", tx);
        assert!(hub.begin_offer(&offer("v", "l", 1)).is_ok());
        assert!(hub.cancel_offer("v").is_some());
        assert!(hub.cancel_offer("v").is_none());
        assert!(hub.begin_offer(&offer("v2", "l", 1)).is_ok());
    }
}
