//! In-process pipeline: synthetic screen → openh264 → WebRTC (agent transport) → a receiving
//! WebRTC peer → openh264 decoder → pixels compared with the source.

use std::time::Duration;

use deskbeam_agent::capture::{FrameSource, SyntheticScreen};
use deskbeam_agent::encode::{Encoder, EncoderSettings, H264Encoder};
use deskbeam_agent::pipeline::{Pipeline, PipelineSettings};
use deskbeam_agent::transport::{answer_offer, TransportConfig};
use deskbeam_tests::receiver::{Receiver, ReceiverEvent};
use deskbeam_tests::{color_close, init_tracing};

const W: u32 = 640;
const H: u32 = 480;
const TOLERANCE: u8 = 12;

fn start(screen: &SyntheticScreen) -> Pipeline {
    let s = screen.clone();
    Pipeline::start(
        Box::new(move || Ok(Box::new(s.source()) as Box<dyn FrameSource>)),
        Box::new(|| Box::new(H264Encoder::new(EncoderSettings { bitrate_bps: 2_000_000, max_fps: 30.0 })) as Box<dyn Encoder>),
        PipelineSettings { fps: 30 },
    )
    .expect("pipeline starts")
}

fn loopback() -> TransportConfig {
    TransportConfig { udp_addrs: vec!["127.0.0.1:0".into()], ice_servers: Vec::new() }
}

/// Peak signal-to-noise ratio (dB) of a decoded RGB frame against a solid/quadrant source.
fn psnr(frame: &deskbeam_tests::receiver::DecodedFrame, expected: impl Fn(usize, usize) -> [u8; 3]) -> f64 {
    let mut se = 0f64;
    for y in 0..frame.height {
        for x in 0..frame.width {
            let want = expected(x, y);
            let i = (y * frame.width + x) * 3;
            for (c, w) in want.iter().enumerate() {
                let d = f64::from(frame.rgb[i + c]) - f64::from(*w);
                se += d * d;
            }
        }
    }
    let mse = se / (frame.width * frame.height * 3) as f64;
    if mse == 0.0 { 99.0 } else { 10.0 * (255.0f64 * 255.0 / mse).log10() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_frames_arrive_decoded_with_their_colours_and_follow_changes() {
    init_tracing();
    let quads = [[220, 30, 30], [30, 200, 40], [40, 60, 210], [230, 230, 40]];
    let screen = SyntheticScreen::new(W, H, [0, 0, 0]);
    screen.set_quadrants(quads);
    let pipeline = start(&screen);

    let mut viewer = Receiver::offer().await.expect("receiver offer");
    let (answer, _conn) = answer_offer(&viewer.offer, pipeline.feed(), &loopback()).await.expect("agent answers");
    assert!(answer.contains("profile-level-id=42e01f"), "answer advertises Constrained Baseline: {answer}");
    assert!(answer.contains("packetization-mode=1"));
    viewer.accept(answer).await.expect("answer accepted");

    // Geometry and colour: each quadrant where it belongs.
    let frame = viewer.wait_for_color(0.25, 0.25, quads[0], TOLERANCE, Duration::from_secs(20)).await.expect("first picture");
    assert_eq!((frame.width, frame.height), (W as usize, H as usize));
    for (i, (fx, fy)) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)].into_iter().enumerate() {
        let got = frame.block(fx, fy, 32);
        assert!(color_close(got, quads[i], TOLERANCE), "quadrant {i}: got {got:?}, want {:?}", quads[i]);
    }
    let quality = psnr(&frame, |x, y| quads[usize::from(x >= W as usize / 2) + 2 * usize::from(y >= H as usize / 2)]);
    assert!(quality > 30.0, "PSNR {quality:.1} dB");

    // A change of content mid-stream reaches the viewer.
    screen.set_color([250, 120, 10]);
    let changed = viewer.wait_for_color(0.5, 0.5, [250, 120, 10], TOLERANCE, Duration::from_secs(5)).await.expect("new colour");
    let quality = psnr(&changed, |_, _| [250, 120, 10]);
    assert!(quality > 30.0, "PSNR after change {quality:.1} dB");

    viewer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_viewers_share_one_encoder_and_a_late_joiner_starts_with_a_keyframe() {
    init_tracing();
    let screen = SyntheticScreen::new(320, 240, [20, 20, 200]);
    let pipeline = start(&screen);

    let mut first = Receiver::offer().await.expect("offer");
    let (answer, _c1) = answer_offer(&first.offer, pipeline.feed(), &loopback()).await.expect("answer");
    first.accept(answer).await.expect("accept");
    first.wait_for_color(0.5, 0.5, [20, 20, 200], TOLERANCE, Duration::from_secs(20)).await.expect("first viewer sees it");

    // The screen is still: the second viewer must still get a picture (a fresh keyframe).
    let mut second = Receiver::offer().await.expect("offer");
    let (answer, _c2) = answer_offer(&second.offer, pipeline.feed(), &loopback()).await.expect("answer");
    second.accept(answer).await.expect("accept");
    second.wait_for_color(0.5, 0.5, [20, 20, 200], TOLERANCE, Duration::from_secs(20)).await.expect("late joiner sees it");

    screen.set_color([200, 200, 200]);
    first.wait_for_color(0.5, 0.5, [200, 200, 200], TOLERANCE, Duration::from_secs(5)).await.expect("change on viewer 1");
    second.wait_for_color(0.5, 0.5, [200, 200, 200], TOLERANCE, Duration::from_secs(5)).await.expect("change on viewer 2");
    let encoded = pipeline.stats.encoded.load(std::sync::atomic::Ordering::Relaxed);
    let captured = pipeline.stats.captured.load(std::sync::atomic::Ordering::Relaxed);
    // One encoder for both viewers, and a still screen is not re-encoded every tick.
    assert!(encoded < captured, "encoded {encoded} of {captured} captured frames");
    first.close().await;
    second.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_viewer_ends_its_connection_with_a_reason() {
    init_tracing();
    let screen = SyntheticScreen::new(160, 120, [0, 128, 0]);
    let pipeline = start(&screen);
    let mut viewer = Receiver::offer().await.expect("offer");
    let (answer, mut conn) = answer_offer(&viewer.offer, pipeline.feed(), &loopback()).await.expect("answer");
    viewer.accept(answer).await.expect("accept");
    viewer.wait_for_color(0.5, 0.5, [0, 128, 0], TOLERANCE, Duration::from_secs(20)).await.expect("picture");
    conn.close("kicked by test");
    let reason = tokio::time::timeout(Duration::from_secs(10), &mut conn.ended).await.expect("ends in time").expect("reason");
    assert_eq!(reason, "kicked by test");
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(e) = viewer.events.recv().await {
            if matches!(e, ReceiverEvent::Ended(_)) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ended, Ok(true), "the viewer notices the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_offers_are_rejected_without_harm() {
    init_tracing();
    let screen = SyntheticScreen::new(160, 120, [0, 0, 0]);
    let pipeline = start(&screen);
    for bad in ["", "hello", "v=0\r\n", "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"] {
        assert!(answer_offer(bad, pipeline.feed(), &loopback()).await.is_err(), "offer {bad:?} must be rejected");
    }
}
