//! Ending viewers from the server's side: link revocation, a host kicking a viewer, link expiry
//! (the sweeper). Each tells the agent `CloseViewer` at once and records who left and why.

use std::time::Duration;

use deskbeam_proto::api::codes;
use deskbeam_proto::signal::ServerMessage;

use crate::audit::{kinds, Event};
use crate::hub::{self, AgentSender, Removed};
use crate::state::AppState;
use crate::store::{LinkRecord, StoreError};

/// How often the expiry sweeper runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How long a control frame may wait for room in an agent's outbox.
const DELIVER_TIMEOUT: Duration = Duration::from_secs(2);

/// Reasons sent to the agent (and shown to the viewer by it).
pub const REASON_REVOKED: &str = "link revoked";
pub const REASON_EXPIRED: &str = "link expired";
pub const REASON_KICKED: &str = "removed by the host";

/// Sends a control frame to an agent, waiting briefly for room in its outbox.
pub async fn deliver(agent: &AgentSender, msg: ServerMessage) {
    match tokio::time::timeout(DELIVER_TIMEOUT, agent.send(msg)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => tracing::debug!("agent gone before a control frame could be sent"),
        Err(_) => tracing::warn!("agent outbox full; control frame dropped"),
    }
}

/// Tells the agents to close `removed` viewers and records each one's departure.
async fn close_removed(state: &AppState, removed: &[Removed], reason: &str, actor: &str) {
    for r in removed {
        tracing::info!(viewer_id = %r.viewer_id, reason, "closing viewer");
        if let Some(agent) = &r.agent {
            deliver(agent, hub::close_viewer(&r.viewer_id, reason)).await;
        }
        if let Some(v) = &r.viewer {
            state.audit(
                Event::new(kinds::VIEWER_LEFT)
                    .actor(actor)
                    .host(&v.host_id)
                    .link(&v.link_id)
                    .viewer(&r.viewer_id)
                    .address(v.address.clone())
                    .detail(serde_json::json!({ "reason": reason })),
            );
        }
    }
}

/// Revokes a link and ends its viewers. Returns the updated record (`None`: no such link).
pub async fn revoke_link(
    state: &AppState,
    link_id: &str,
    actor: &str,
) -> Result<Option<LinkRecord>, StoreError> {
    let was = state.store().get_link(link_id)?;
    let Some(was) = was else { return Ok(None) };
    state.store().revoke_link(link_id, state.now_unix())?;
    if !was.is_revoked() {
        tracing::info!(link_id, host_id = %was.host_id, "link revoked");
        state.audit(
            Event::new(kinds::LINK_REVOKED)
                .actor(actor)
                .host(&was.host_id)
                .link(link_id),
        );
    }
    let removed = state
        .hub()
        .remove_link_viewers(link_id, codes::LINK_REVOKED);
    close_removed(state, &removed, REASON_REVOKED, actor).await;
    state.store().get_link(link_id)
}

/// Ends one active viewer at the host's request. Returns whether it was there.
pub async fn kick_viewer(state: &AppState, viewer_id: &str, actor: &str) -> bool {
    let Some((viewer, agent)) = state.hub().remove_viewer(viewer_id) else {
        return false;
    };
    state.audit(
        Event::new(kinds::VIEWER_KICKED)
            .actor(actor)
            .host(&viewer.host_id)
            .link(&viewer.link_id)
            .viewer(viewer_id)
            .address(viewer.address.clone()),
    );
    let removed = [Removed {
        viewer_id: viewer_id.to_string(),
        viewer: Some(viewer),
        agent,
    }];
    close_removed(state, &removed, REASON_KICKED, actor).await;
    true
}

/// Ends the viewers whose link has expired; returns how many.
pub async fn close_expired_viewers(state: &AppState) -> usize {
    let expired = state.hub().expire(state.now_unix());
    close_removed(state, &expired, REASON_EXPIRED, "server").await;
    expired.len()
}

/// Ends the viewers whose agent stayed away longer than the grace; returns how many.
pub fn drop_detached_viewers(state: &AppState) -> usize {
    let dropped = state.hub().drop_detached(state.now_unix());
    let n = dropped.len();
    for (viewer_id, v) in dropped {
        let host_id = v.host_id.clone();
        crate::agent_ws::audit_left(state, &host_id, vec![(viewer_id, v)], "agent disconnected");
    }
    n
}

/// Runs [`close_expired_viewers`] and [`drop_detached_viewers`] every [`SWEEP_EVERY`], forever.
pub async fn run_expiry_sweeper(state: AppState) {
    let mut ticker = tokio::time::interval(SWEEP_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        close_expired_viewers(&state).await;
        drop_detached_viewers(&state);
    }
}
