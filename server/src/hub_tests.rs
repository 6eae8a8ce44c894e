//! Unit tests of the hub's routing decisions (no sockets, no tasks).

use super::*;

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
    let dropped = hub.unregister("h", reg.conn_id);
    assert_eq!(
        dropped
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["active"]
    );
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
    assert!(matches!(rx1.try_recv(), Ok(ServerMessage::Error { code, .. }) if code == REPLACED));
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
        .map(|r| (r.viewer_id, r.agent.is_some()))
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

#[test]
fn revoking_a_link_takes_out_its_viewers_and_offers() {
    let hub = Hub::new();
    let (tx, _rx) = mpsc::channel(4);
    let reg = hub.register("h", tx);
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
