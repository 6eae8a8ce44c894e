//! Ten viewers on one agent: one encoder feeds them all, and every keyframe it makes reaches
//! every viewer (the fan-out never leaves one behind on a healthy link).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deskbeam_agent::capture::{FrameSource, SyntheticScreen};
use deskbeam_agent::encode::{Encoder, EncoderSettings, H264Encoder};
use deskbeam_agent::pipeline::{Pipeline, PipelineSettings};
use deskbeam_agent::transport::{answer_offer, TransportConfig, ViewerConnection};
use deskbeam_tests::init_tracing;
use deskbeam_tests::receiver::Receiver;

const VIEWERS: usize = 10;
const FORCED_KEYFRAMES: u64 = 5;

fn loopback() -> TransportConfig {
    TransportConfig { udp_addrs: vec!["127.0.0.1:0".into()], ..TransportConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_viewers_share_one_encode_and_each_gets_every_keyframe() {
    init_tracing();
    let screen = SyntheticScreen::new(320, 240, [40, 120, 200]);
    screen.set_animated(true);
    let encoders = Arc::new(AtomicUsize::new(0));
    let (s, made) = (screen.clone(), Arc::clone(&encoders));
    let pipeline = Pipeline::start(
        Box::new(move || Ok(Box::new(s.source()) as Box<dyn FrameSource>)),
        Box::new(move || {
            made.fetch_add(1, Ordering::SeqCst);
            Box::new(H264Encoder::new(EncoderSettings { bitrate_bps: 1_000_000, max_fps: 30.0 })) as Box<dyn Encoder>
        }),
        PipelineSettings { fps: 30 },
    )
    .expect("pipeline starts");

    let mut viewers: Vec<(Receiver, ViewerConnection)> = Vec::new();
    for _ in 0..VIEWERS {
        let viewer = Receiver::offer_undecoded().await.expect("offer");
        let (answer, conn) = answer_offer(&viewer.offer, pipeline.feed(), &loopback()).await.expect("answer");
        viewer.accept(answer).await.expect("accept");
        viewers.push((viewer, conn));
    }
    // Everyone streams (each joined on a keyframe of its own).
    for (i, (viewer, _)) in viewers.iter().enumerate() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while viewer.keyframes.load(Ordering::Relaxed) == 0 {
            assert!(tokio::time::Instant::now() < deadline, "viewer {i} never got a keyframe");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Count the encoder's keyframes and each viewer's over the same span.
    let made_before = pipeline.stats.keyframes.load(Ordering::Relaxed);
    let before: Vec<u64> = viewers.iter().map(|(v, _)| v.keyframes.load(Ordering::Relaxed)).collect();
    for _ in 0..FORCED_KEYFRAMES {
        pipeline.feed().request_keyframe();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await; // let the last ones land
    let made_keyframes = pipeline.stats.keyframes.load(Ordering::Relaxed) - made_before;
    let got: Vec<u64> = viewers.iter().zip(&before).map(|((v, _), b)| v.keyframes.load(Ordering::Relaxed) - b).collect();
    eprintln!("encoder keyframes {made_keyframes}, per viewer {got:?}");
    assert!(made_keyframes >= FORCED_KEYFRAMES, "the encoder made {made_keyframes} keyframes");
    assert!(got.iter().all(|n| *n == made_keyframes), "every viewer gets every keyframe: made {made_keyframes}, got {got:?}");
    assert_eq!(encoders.load(Ordering::SeqCst), 1, "one encoder for {VIEWERS} viewers");
    for (viewer, mut conn) in viewers {
        conn.close("test over");
        viewer.close().await;
    }
}
