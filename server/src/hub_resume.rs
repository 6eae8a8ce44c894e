//! Agent reconnection: viewers outlive their agent's WebSocket.
//!
//! Media flows straight from the agent to its viewers, so when the agent's signaling connection
//! drops (network blip, server restart) the viewers keep watching. The hub keeps them, detached,
//! for [`DETACHED_GRACE_SECS`]; the agent's next `hello` names the viewers it still streams to and
//! [`Hub::resume`] takes them back, so kicks, revocation, expiry and viewer limits keep working.
//! A different agent session (the agent restarted) means the old viewers are gone.

use deskbeam_proto::signal::{LiveViewer, ViewerId};

use super::{ActiveViewer, Detached, Hub, HubState};

/// How long viewers of a disconnected agent are kept for it to come back.
pub const DETACHED_GRACE_SECS: u64 = 60;

/// What [`Hub::resume`] made of an agent's list of live viewers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resume {
    /// Taken back as they were.
    pub resumed: Vec<ViewerId>,
    /// Ended by the server while the agent was away: the agent must close them.
    pub closed: Vec<LiveViewer>,
    /// Not known here (the server restarted): the caller checks their links, then adopts or closes.
    pub unknown: Vec<LiveViewer>,
    /// Kept for this session but no longer streamed to by the agent: they left meanwhile.
    pub gone: Vec<(ViewerId, ActiveViewer)>,
}

impl HubState {
    /// Detaches (`conn_id` 0) the viewers of one connection and fails its pending offers.
    pub(super) fn detach_connection(&mut self, host_id: &str, conn_id: u64, session: &str, now: u64) {
        self.fail_pending(host_id, conn_id);
        for (id, viewer) in self.viewers.iter_mut() {
            if viewer.host_id == host_id && viewer.conn_id == conn_id {
                viewer.conn_id = 0;
                let detached = Detached {
                    session: session.to_string(),
                    at: now,
                };
                self.detached.insert(id.clone(), detached);
            }
        }
    }

    /// Removes the detached viewers (and remembered closes) of `host_id` from sessions other than
    /// `session`; an empty session never resumes anything.
    pub(super) fn drop_other_sessions(&mut self, host_id: &str, session: &str) -> Vec<(ViewerId, ActiveViewer)> {
        let of_host = |viewers: &std::collections::HashMap<ViewerId, ActiveViewer>, id: &ViewerId| {
            viewers.get(id).is_some_and(|v| v.host_id == host_id)
        };
        let stale: Vec<ViewerId> = self
            .detached
            .iter()
            .filter(|(id, d)| (session.is_empty() || d.session != session) && of_host(&self.viewers, id))
            .map(|(id, _)| id.clone())
            .collect();
        let mut dropped = Vec::new();
        for id in stale {
            self.detached.remove(&id);
            if let Some(v) = self.viewers.remove(&id) {
                dropped.push((id, v));
            }
        }
        self.closed.retain(|_, d| !session.is_empty() && d.session == session);
        dropped
    }
}

impl Hub {
    /// Reconciles an agent's `hello` list of live viewers with what the hub kept for its session.
    pub fn resume(&self, host_id: &str, conn_id: u64, live: &[LiveViewer]) -> Resume {
        let mut guard = self.state();
        let state = &mut *guard;
        let mut out = Resume::default();
        let session = match state.agents.get(host_id) {
            Some(a) if a.conn_id == conn_id => a.session.clone(),
            _ => return out, // replaced meanwhile: the newer connection resumes
        };
        for viewer in live {
            let known = state.viewers.get_mut(&viewer.viewer_id).filter(|v| v.host_id == host_id);
            if let Some(v) = known {
                v.conn_id = conn_id;
                state.detached.remove(&viewer.viewer_id);
                out.resumed.push(viewer.viewer_id.clone());
            } else if state.closed.remove(&viewer.viewer_id).is_some() {
                out.closed.push(viewer.clone());
            } else {
                out.unknown.push(viewer.clone());
            }
        }
        let left: Vec<ViewerId> = state
            .detached
            .iter()
            .filter(|(id, d)| d.session == session && state.viewers.get(*id).is_some_and(|v| v.host_id == host_id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in left {
            state.detached.remove(&id);
            if let Some(v) = state.viewers.remove(&id) {
                out.gone.push((id, v));
            }
        }
        out
    }

    /// Takes in a viewer the agent still streams to but the hub never knew (the server
    /// restarted), once the caller has checked its link. No-op if the connection was replaced.
    pub fn adopt(&self, viewer_id: &str, viewer: ActiveViewer) -> bool {
        let mut state = self.state();
        let current = state
            .agents
            .get(&viewer.host_id)
            .is_some_and(|a| a.conn_id == viewer.conn_id);
        if !current || state.viewers.contains_key(viewer_id) {
            return false;
        }
        state.viewers.insert(viewer_id.to_string(), viewer);
        true
    }

    /// Ends the viewers whose agent has been away for [`DETACHED_GRACE_SECS`] (and forgets old
    /// remembered closes); returns the viewers that ended.
    pub fn drop_detached(&self, now_unix: u64) -> Vec<(ViewerId, ActiveViewer)> {
        let mut guard = self.state();
        let state = &mut *guard;
        let due = |d: &Detached| d.at.saturating_add(DETACHED_GRACE_SECS) <= now_unix;
        let stale: Vec<ViewerId> = state
            .detached
            .iter()
            .filter(|(_, d)| due(d))
            .map(|(id, _)| id.clone())
            .collect();
        state.closed.retain(|_, d| !due(d));
        let mut dropped = Vec::new();
        for id in stale {
            state.detached.remove(&id);
            if let Some(v) = state.viewers.remove(&id) {
                dropped.push((id, v));
            }
        }
        dropped
    }

    /// Ends a connection for good (its host token was revoked): no resume, its viewers end now.
    pub fn forget(&self, host_id: &str, conn_id: u64) -> Vec<(ViewerId, ActiveViewer)> {
        let mut guard = self.state();
        let state = &mut *guard;
        if state.agents.get(host_id).is_some_and(|a| a.conn_id == conn_id) {
            state.agents.remove(host_id);
        }
        state.fail_pending(host_id, conn_id);
        let ended: Vec<ViewerId> = state
            .viewers
            .iter()
            .filter(|(_, v)| v.host_id == host_id && v.conn_id == conn_id)
            .map(|(id, _)| id.clone())
            .collect();
        ended.into_iter().filter_map(|id| state.viewers.remove(&id).map(|v| (id, v))).collect()
    }

    /// Whether a viewer is waiting for its agent to reconnect.
    pub fn is_detached(&self, viewer_id: &str) -> bool {
        self.state().detached.contains_key(viewer_id)
    }
}
