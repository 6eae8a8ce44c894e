//! In-memory registry of connected agents, offers waiting for an answer, and active viewers.
//!
//! The hub decides routing (which agent gets an offer, whether a link is full, what a disconnect
//! or an expiry ends) under one short-lived lock; it never awaits. Drivers (the agent WebSocket,
//! the WHEP handlers, the expiry sweeper) do the waiting and the socket I/O around it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use deskbeam_proto::signal::{ServerMessage, ViewerId};
use deskbeam_proto::Scope;
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
    pub scope: Scope,
    /// Client address of the WHEP request.
    pub address: Option<String>,
    /// When the offer arrived (Unix seconds).
    pub since: u64,
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
    pub scope: Scope,
    pub address: Option<String>,
    pub since: u64,
}

/// A viewer (or a still-pending offer) taken out of the hub, and where to send its close.
#[derive(Debug)]
pub struct Removed {
    pub viewer_id: ViewerId,
    /// `None` for an offer that was still waiting for its answer.
    pub viewer: Option<ActiveViewer>,
    pub agent: Option<AgentSender>,
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
    /// Viewers of another agent session of this host, which ended with it.
    pub dropped: Vec<(ViewerId, ActiveViewer)>,
}

#[derive(Debug)]
struct AgentHandle {
    conn_id: u64,
    /// The agent run's session id (empty: an agent that cannot resume).
    session: String,
    tx: AgentSender,
    kick: Arc<Notify>,
}

/// A viewer whose agent connection dropped: it keeps watching (media does not go through the
/// server) until the same agent session comes back, or the grace runs out.
#[derive(Debug, Clone)]
pub(crate) struct Detached {
    pub(crate) session: String,
    /// Unix seconds at which its connection dropped.
    pub(crate) at: u64,
}

#[derive(Debug)]
struct PendingOffer {
    conn_id: u64,
    viewer: ActiveViewer,
    reply: oneshot::Sender<OfferOutcome>,
}

#[derive(Debug, Default)]
struct HubState {
    agents: HashMap<String, AgentHandle>,
    pending: HashMap<ViewerId, PendingOffer>,
    viewers: HashMap<ViewerId, ActiveViewer>,
    /// Viewers (also in `viewers`, with `conn_id` 0) whose agent is reconnecting.
    detached: HashMap<ViewerId, Detached>,
    /// Detached viewers ended meanwhile (kicked, revoked, expired): closed when the agent is back.
    closed: HashMap<ViewerId, Detached>,
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

    /// The sender of the connection serving `viewer`, if that connection is still the host's.
    fn agent_of(&self, viewer: &ActiveViewer) -> Option<AgentSender> {
        self.agents
            .get(&viewer.host_id)
            .filter(|a| a.conn_id == viewer.conn_id)
            .map(|a| a.tx.clone())
    }

    fn viewers_of_link(&self, link_id: &str) -> usize {
        let pending = self
            .pending
            .values()
            .filter(|p| p.viewer.link_id == link_id)
            .count();
        pending
            + self
                .viewers
                .values()
                .filter(|v| v.link_id == link_id)
                .count()
    }

    /// Removes a viewer; one whose agent is away is remembered, to be closed when it returns.
    fn take_viewer(&mut self, viewer_id: &str) -> Option<ActiveViewer> {
        let viewer = self.viewers.remove(viewer_id)?;
        if let Some(d) = self.detached.remove(viewer_id) {
            self.closed.insert(viewer_id.to_string(), d);
        }
        Some(viewer)
    }

    /// Fails one agent connection's pending offers.
    fn fail_pending(&mut self, host_id: &str, conn_id: u64) {
        let failed: Vec<ViewerId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.viewer.host_id == host_id && p.conn_id == conn_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in failed {
            if let Some(p) = self.pending.remove(&id) {
                let _ = p.reply.send(OfferOutcome::HostOffline);
            }
        }
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

    /// Registers a connection for `host_id` and agent `session`. A previous connection of the
    /// same host is told it was replaced and kicked; its offers fail with `host_offline`. Its
    /// viewers, and those left detached, wait for [`Hub::resume`] if they belong to the same
    /// session, and are dropped (returned in `dropped`) otherwise.
    pub fn register(&self, host_id: &str, session: &str, tx: AgentSender) -> Registration {
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
        let kick = Arc::new(Notify::new());
        let handle = AgentHandle {
            conn_id,
            session: session.to_string(),
            tx,
            kick: kick.clone(),
        };
        let (old, dropped) = {
            let mut state = self.state();
            let old = state.agents.insert(host_id.to_string(), handle);
            if let Some(old) = &old {
                state.detach_connection(host_id, old.conn_id, &old.session, 0);
            }
            let dropped = state.drop_other_sessions(host_id, session);
            (old, dropped)
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
        Registration {
            conn_id,
            kick,
            dropped,
        }
    }

    /// Forgets a closed connection (no-op for the host's entry if a newer one replaced it). Its
    /// pending offers fail; its viewers stay, detached since `now_unix`, for the agent to resume.
    pub fn unregister(&self, host_id: &str, conn_id: u64, now_unix: u64) {
        let mut state = self.state();
        let current = state
            .agents
            .get(host_id)
            .is_some_and(|a| a.conn_id == conn_id);
        if current {
            if let Some(handle) = state.agents.remove(host_id) {
                state.detach_connection(host_id, conn_id, &handle.session, now_unix);
            }
        } else {
            state.fail_pending(host_id, conn_id);
        }
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
            conn_id,
            viewer: ActiveViewer {
                host_id: req.host_id.clone(),
                conn_id,
                link_id: req.link_id.clone(),
                expires_at: req.expires_at,
                scope: req.scope,
                address: req.address.clone(),
                since: req.since,
            },
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
            .is_some_and(|p| p.viewer.host_id == host_id && p.conn_id == conn_id);
        let Some(pending) = ours.then(|| state.pending.remove(viewer_id)).flatten() else {
            return Resolved::Unknown;
        };
        let answered = matches!(outcome, OfferOutcome::Answer(_));
        if answered {
            state
                .viewers
                .insert(viewer_id.to_string(), pending.viewer.clone());
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
            .get(&pending.viewer.host_id)
            .filter(|a| a.conn_id == pending.conn_id)
            .map(|a| a.tx.clone())
    }

    pub fn viewer(&self, viewer_id: &str) -> Option<ActiveViewer> {
        self.state().viewers.get(viewer_id).cloned()
    }

    /// Removes an active viewer; also returns the sender of the agent serving it, if connected.
    pub fn remove_viewer(&self, viewer_id: &str) -> Option<(ActiveViewer, Option<AgentSender>)> {
        let mut state = self.state();
        let viewer = state.take_viewer(viewer_id)?;
        let tx = state.agent_of(&viewer);
        Some((viewer, tx))
    }

    /// The agent reported a viewer gone: remove it if it was this connection's.
    pub fn viewer_gone(
        &self,
        host_id: &str,
        conn_id: u64,
        viewer_id: &str,
    ) -> Option<ActiveViewer> {
        let mut state = self.state();
        let ours = state
            .viewers
            .get(viewer_id)
            .is_some_and(|v| v.host_id == host_id && v.conn_id == conn_id);
        if ours {
            state.viewers.remove(viewer_id)
        } else {
            None
        }
    }

    /// The active viewers of the given hosts, oldest first.
    pub fn viewers_of_hosts(&self, host_ids: &[String]) -> Vec<(ViewerId, ActiveViewer)> {
        let mut list: Vec<(ViewerId, ActiveViewer)> = self
            .state()
            .viewers
            .iter()
            .filter(|(_, v)| host_ids.contains(&v.host_id))
            .map(|(id, v)| (id.clone(), v.clone()))
            .collect();
        list.sort_by(|a, b| (a.1.since, &a.0).cmp(&(b.1.since, &b.0)));
        list
    }

    /// Takes every viewer of a link out of the hub (revocation). Offers still waiting for an
    /// answer fail with `code`, so their WHEP requests end at once too.
    pub fn remove_link_viewers(&self, link_id: &str, code: &str) -> Vec<Removed> {
        let mut state = self.state();
        let pending: Vec<ViewerId> = state
            .pending
            .iter()
            .filter(|(_, p)| p.viewer.link_id == link_id)
            .map(|(id, _)| id.clone())
            .collect();
        let mut removed = Vec::new();
        for viewer_id in pending {
            if let Some(p) = state.pending.remove(&viewer_id) {
                let _ = p.reply.send(OfferOutcome::Rejected {
                    code: code.to_string(),
                    message: "the link was revoked".to_string(),
                });
                let agent = state.agent_of(&p.viewer);
                removed.push(Removed {
                    viewer_id,
                    viewer: None,
                    agent,
                });
            }
        }
        let active: Vec<ViewerId> = state
            .viewers
            .iter()
            .filter(|(_, v)| v.link_id == link_id)
            .map(|(id, _)| id.clone())
            .collect();
        for viewer_id in active {
            if let Some(v) = state.take_viewer(&viewer_id) {
                let agent = state.agent_of(&v);
                removed.push(Removed {
                    viewer_id,
                    viewer: Some(v),
                    agent,
                });
            }
        }
        removed
    }

    /// Viewers and pending offers counted against a link's `max_viewers`.
    pub fn viewer_count(&self, link_id: &str) -> usize {
        self.state().viewers_of_link(link_id)
    }

    /// Removes the viewers whose link expired at or before `now_unix`, with their agent senders.
    pub fn expire(&self, now_unix: u64) -> Vec<Removed> {
        let mut state = self.state();
        let expired: Vec<ViewerId> = state
            .viewers
            .iter()
            .filter(|(_, v)| v.expires_at <= now_unix)
            .map(|(id, _)| id.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|viewer_id| {
                let viewer = state.take_viewer(&viewer_id)?;
                let agent = state.agent_of(&viewer);
                Some(Removed {
                    viewer_id,
                    viewer: Some(viewer),
                    agent,
                })
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
        state.detached.clear();
        state.closed.clear();
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

#[path = "hub_resume.rs"]
mod resume;
pub use resume::{Resume, DETACHED_GRACE_SECS};

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
