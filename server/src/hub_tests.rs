//! Unit tests of the hub's routing decisions (no sockets, no tasks).

use super::*;
use deskbeam_proto::signal::LiveViewer;

fn offer(viewer: &str, link: &str, max: u32) -> OfferRequest {
    OfferRequest {
        viewer_id: viewer.into(),
        host_id: "h".into(),
        link_id: link.into(),
        max_viewers: max,
        expires_at: 100,
        scope: Scope::View,
        address: Some("10.0.0.1".into()),
        since: 50,
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
    let reg = hub.register("h", "s", tx);
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
    let reg = hub.register("h", "s", tx);
    drop(hub.begin_offer(&offer("v", "l", 1)));
    assert_eq!(
        hub.resolve_offer("h", reg.conn_id, "v", answer("sdp")),
        Resolved::Abandoned
    );
    assert_eq!(hub.viewer("v"), None);
    assert_eq!(hub.viewer_count("l"), 0);
}

/// A host "h" of agent session `session` with one active viewer "active" on link "l".
fn hub_with_viewer(session: &str) -> (Hub, Registration, mpsc::Receiver<ServerMessage>) {
    let hub = Hub::new();
    let (tx, rx) = mpsc::channel(16);
    let reg = hub.register("h", session, tx);
    let _active = hub.begin_offer(&offer("active", "l", 5));
    assert_eq!(
        hub.resolve_offer("h", reg.conn_id, "active", answer("sdp")),
        Resolved::Delivered
    );
    (hub, reg, rx)
}

fn live(id: &str) -> LiveViewer {
    LiveViewer {
        viewer_id: id.into(),
        link_id: "l".into(),
        since: 50,
    }
}

#[test]
fn disconnect_fails_offers_and_keeps_viewers_detached() {
    let (hub, reg, _rx) = hub_with_viewer("s");
    let routed = hub.begin_offer(&offer("waiting", "l", 5));
    hub.unregister("h", reg.conn_id, 1000);
    assert!(!hub.is_online("h"));
    let outcome = routed.ok().map(|mut r| r.outcome.try_recv().ok());
    assert_eq!(outcome, Some(Some(OfferOutcome::HostOffline)));
    // Still watching (media is direct), still counted against the link, waiting for its agent.
    assert!(hub.is_detached("active"));
    assert_eq!(hub.viewer_count("l"), 1);
    assert!(hub.drop_detached(1000 + DETACHED_GRACE_SECS - 1).is_empty());
    let dropped = hub.drop_detached(1000 + DETACHED_GRACE_SECS);
    assert_eq!(dropped.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["active"]);
    assert_eq!(hub.viewer("active"), None);
}

#[test]
fn same_session_resumes_its_viewers() {
    let (hub, reg, _rx) = hub_with_viewer("s");
    let _gone = hub.begin_offer(&offer("gone", "l", 5));
    assert_eq!(hub.resolve_offer("h", reg.conn_id, "gone", answer("sdp")), Resolved::Delivered);
    hub.unregister("h", reg.conn_id, 1000);
    let (tx, _rx2) = mpsc::channel(4);
    let again = hub.register("h", "s", tx);
    assert!(again.dropped.is_empty());
    // The agent still streams to "active" and to one the server never knew; "gone" left meanwhile.
    let out = hub.resume("h", again.conn_id, &[live("active"), live("stranger")]);
    assert_eq!(out.resumed, ["active"]);
    assert_eq!(out.unknown, [live("stranger")]);
    assert_eq!(out.gone.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["gone"]);
    assert!(!hub.is_detached("active"));
    assert_eq!(hub.viewer("active").map(|v| v.conn_id), Some(again.conn_id));
    // Resumed viewers are this connection's again: no grace sweep ends them.
    assert!(hub.drop_detached(u64::MAX).is_empty());
    let kicked = hub.remove_viewer("active").and_then(|(_, agent)| agent);
    assert!(kicked.is_some(), "a kick reaches the reconnected agent");
}

#[test]
fn viewers_ended_while_detached_are_closed_on_resume() {
    let (hub, reg, _rx) = hub_with_viewer("s");
    hub.unregister("h", reg.conn_id, 1000);
    // Kicked while the agent is away: nobody to tell yet.
    assert!(matches!(hub.remove_viewer("active"), Some((_, None))));
    let (tx, _rx2) = mpsc::channel(4);
    let again = hub.register("h", "s", tx);
    let out = hub.resume("h", again.conn_id, &[live("active")]);
    assert_eq!(out.closed, [live("active")]);
    assert!(out.resumed.is_empty() && out.unknown.is_empty());
}

#[test]
fn another_session_drops_the_old_viewers() {
    let (hub, reg, _rx) = hub_with_viewer("s");
    hub.unregister("h", reg.conn_id, 1000);
    let (tx, _rx2) = mpsc::channel(4);
    let restarted = hub.register("h", "s2", tx);
    assert_eq!(restarted.dropped.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["active"]);
    assert_eq!(hub.viewer("active"), None);
    // A live replacement by another session drops the old connection's viewers too.
    let (hub, _reg, mut rx) = hub_with_viewer("s");
    let (tx, _rx2) = mpsc::channel(4);
    let other = hub.register("h", "", tx);
    assert_eq!(other.dropped.len(), 1);
    assert!(matches!(rx.try_recv(), Ok(ServerMessage::Error { code, .. }) if code == REPLACED));
}

#[test]
fn adopt_only_for_the_current_connection() {
    let hub = Hub::new();
    let (tx, _rx) = mpsc::channel(4);
    let reg = hub.register("h", "s", tx);
    let viewer = |conn_id| ActiveViewer {
        host_id: "h".into(),
        conn_id,
        link_id: "l".into(),
        expires_at: 100,
        scope: Scope::View,
        address: None,
        since: 50,
    };
    assert!(!hub.adopt("v", viewer(reg.conn_id + 1)));
    assert!(hub.adopt("v", viewer(reg.conn_id)));
    assert!(!hub.adopt("v", viewer(reg.conn_id)), "adopted twice");
    assert_eq!(hub.viewer_count("l"), 1);
}

#[test]
fn second_connection_replaces_the_first() {
    let hub = Hub::new();
    let (tx1, mut rx1) = mpsc::channel(4);
    let first = hub.register("h", "s", tx1);
    let (tx2, _rx2) = mpsc::channel(4);
    let second = hub.register("h", "s", tx2);
    assert_ne!(first.conn_id, second.conn_id);
    assert!(matches!(rx1.try_recv(), Ok(ServerMessage::Error { code, .. }) if code == REPLACED));
    // The old connection's cleanup must not unregister the new one.
    hub.unregister("h", first.conn_id, 0);
    assert!(hub.is_online("h"));
}

#[test]
fn expiry_removes_only_expired_viewers() {
    let hub = Hub::new();
    let (tx, _rx) = mpsc::channel(4);
    let reg = hub.register("h", "s", tx);
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
        .map(|r| (r.viewer_id, r.agent.is_some()))
        .collect();
    assert_eq!(expired, vec![("soon".to_string(), true)]);
    assert!(hub.viewer("late").is_some());
}

#[test]
fn cancel_offer_frees_the_slot() {
    let hub = Hub::new();
    let (tx, _rx) = mpsc::channel(4);
    hub.register("h", "s", tx);
    assert!(hub.begin_offer(&offer("v", "l", 1)).is_ok());
    assert!(hub.cancel_offer("v").is_some());
    assert!(hub.cancel_offer("v").is_none());
    assert!(hub.begin_offer(&offer("v2", "l", 1)).is_ok());
}

#[test]
fn revoking_a_link_takes_out_its_viewers_and_offers() {
    let hub = Hub::new();
    let (tx, _rx) = mpsc::channel(4);
    let reg = hub.register("h", "s", tx);
    let _a = hub.begin_offer(&offer("active", "l", 5));
    hub.resolve_offer("h", reg.conn_id, "active", answer("sdp"));
    let waiting = hub.begin_offer(&offer("waiting", "l", 5));
    let _other = hub.begin_offer(&offer("other", "l2", 5));
    hub.resolve_offer("h", reg.conn_id, "other", answer("sdp"));
    let mut removed: Vec<(String, bool, bool)> = hub
        .remove_link_viewers("l", "link_revoked")
        .into_iter()
        .map(|r| (r.viewer_id, r.viewer.is_some(), r.agent.is_some()))
        .collect();
    removed.sort();
    assert_eq!(
        removed,
        vec![
            ("active".into(), true, true),
            ("waiting".into(), false, true)
        ]
    );
    let outcome = waiting.ok().map(|mut r| r.outcome.try_recv().ok());
    assert!(matches!(
        outcome,
        Some(Some(OfferOutcome::Rejected { code, .. })) if code == "link_revoked"
    ));
    let listed = hub.viewers_of_hosts(&["h".to_string()]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, "other");
    assert_eq!(listed[0].1.address.as_deref(), Some("10.0.0.1"));
    assert!(hub.viewers_of_hosts(&["x".to_string()]).is_empty());
}
