//! Real capture: Xvfb + scrap + the agent and server binaries over real sockets. A receiving
//! WebRTC peer watches through WHEP with the printed link and sees the root window's colour.

use std::time::{Duration, Instant};

use deskbeam_tests::procs::TestServer;
use deskbeam_tests::receiver::Receiver;
use deskbeam_tests::whep::{post_offer, request, token_from_link};
use deskbeam_tests::xvfb::Xvfb;
use deskbeam_tests::{init_tracing, require_tools};

const TOLERANCE: u8 = 14;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_window_colour_reaches_a_whep_viewer_and_changes_follow_within_a_second() {
    init_tracing();
    if !require_tools("real capture", &["Xvfb", "xsetroot", "xdpyinfo"]) {
        return;
    }
    let x = Xvfb::start(90, 1280, 720).expect("Xvfb");
    x.set_root_color([200, 30, 30]).expect("paint");
    let server = TestServer::start().expect("server");
    let (_agent, link) = server.share(&x.display, &[]).expect("agent prints a link");
    assert!(link.starts_with(&format!("{}/view#", server.url())), "link {link}");
    let token = token_from_link(&link).expect("token in the fragment");

    let mut viewer = Receiver::offer().await.expect("offer");
    let resp = post_offer(server.addr, token, &viewer.offer).await.expect("WHEP POST");
    assert_eq!(resp.status, 201, "WHEP answer: {}", resp.body);
    assert_eq!(resp.header("content-type"), Some("application/sdp"));
    let location = resp.header("location").expect("Location header").to_string();
    viewer.accept(resp.body).await.expect("answer");

    let frame = viewer.wait_for_color(0.5, 0.5, [200, 30, 30], TOLERANCE, Duration::from_secs(30)).await.expect("red screen");
    assert_eq!((frame.width, frame.height), (1280, 720));

    // Paint again: the viewer must see it within a second (the idle agent is not sending).
    for color in [[30, 160, 60], [20, 40, 220]] {
        tokio::time::sleep(Duration::from_millis(300)).await;
        while viewer.frames.try_recv().is_ok() {}
        let painted = Instant::now();
        x.set_root_color(color).expect("paint");
        let seen = viewer.wait_for_color(0.5, 0.5, color, TOLERANCE, Duration::from_secs(1)).await;
        assert!(seen.is_ok(), "colour {color:?} not seen within 1 s: {:?}", seen.err());
        eprintln!("colour {color:?} seen after {:?}", painted.elapsed());
    }

    // WHEP DELETE ends the viewer.
    let auth = format!("Bearer {token}");
    let del = request(server.addr, "DELETE", &location, &[("Authorization", &auth)], b"").await.expect("DELETE");
    assert_eq!(del.status, 200, "{}", del.body);
    viewer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_link_is_refused_with_a_clear_error() {
    init_tracing();
    if !require_tools("expired link", &["Xvfb", "xdpyinfo"]) {
        return;
    }
    let x = Xvfb::start(110, 320, 240).expect("Xvfb");
    let server = TestServer::start().expect("server");
    let (_agent, link) = server.share(&x.display, &["--ttl", "1s"]).expect("link");
    let token = token_from_link(&link).expect("token");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let viewer = Receiver::offer().await.expect("offer");
    let resp = post_offer(server.addr, token, &viewer.offer).await.expect("POST");
    assert_eq!(resp.status, 401);
    let body: serde_json::Value = serde_json::from_str(&resp.body).expect("JSON error body");
    assert_eq!(body["error"]["code"], "token_expired", "{body}");
}
