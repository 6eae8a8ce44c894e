//! Voice end to end with a private PulseAudio daemon: it plays a 440 Hz tone into a null sink,
//! the real agent (`--system-audio`) captures the sink's monitor and sends Opus, and a viewer
//! peer decodes it and finds the tone; the other way, a viewer speaks an 880 Hz tone and the
//! agent plays it on the host's output, where the test hears it; and headless Chromium's viewer
//! page, with a fake microphone, is heard on the host the same way. A host whose sound server is missing still shares its
//! screen, without audio and with one log line saying so.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use deskbeam_tests::audio_peer::{rms, tone_bytes, tone_frequency, AudioPeer};
use deskbeam_tests::procs::{bin, Proc, TestServer};
use deskbeam_tests::pulse::{Pulse, SINK};
use deskbeam_tests::receiver::Receiver;
use deskbeam_tests::whep::{post_offer, token_from_link};
use deskbeam_tests::{init_tracing, require_tools};

/// The agent sharing a synthetic screen with `extra` flags and `PULSE_SERVER=pulse_server`.
fn share(server: &TestServer, pulse_server: &str, extra: &[&str]) -> (Proc, String) {
    let mut cmd = Command::new(bin("deskbeam-agent").expect("agent binary"));
    cmd.env("DESKBEAM_TOKEN", server.host_token().expect("host token"))
        .env("PULSE_SERVER", pulse_server)
        .args(["share", "--server", &server.url(), "--ice-addr", "127.0.0.1:0", "--source", "synthetic"])
        .args(extra);
    let agent = Proc::spawn(cmd).expect("agent runs");
    let link = agent.wait_line("link:", Duration::from_secs(60)).expect("link");
    (agent, link)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tone_played_on_the_host_reaches_the_viewer() {
    init_tracing();
    if !require_tools("voice", &["pulseaudio", "pactl", "pacat"]) {
        return;
    }
    let pulse = Pulse::start().expect("pulseaudio");
    let server = TestServer::start().expect("server");
    let (agent, link) = share(&server, &pulse.server(), &["--system-audio"]);
    assert!(agent.stderr_contains("sending the host's audio", Duration::from_secs(10)), "the agent opened the monitor");

    let mut viewer = AudioPeer::offer().await.expect("offer");
    let resp = post_offer(server.addr, token_from_link(&link).expect("token"), &viewer.offer).await.expect("POST");
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert!(resp.body.contains("opus"), "the answer carries Opus audio");
    viewer.accept(resp.body).await.expect("answer");

    let mut player = pulse.play(SINK, tone_bytes(440.0, 8.0, 0.5)).expect("pacat");
    let heard = viewer.record_sound(0.05, Duration::from_millis(1500), Duration::from_secs(20)).await;
    let _ = player.kill();
    let _ = player.wait();
    let (samples, _) = heard.expect("the tone reaches the viewer");
    // Skip the onset (Opus and the jitter of starting) and measure the steady tone.
    let freq = tone_frequency(&samples[samples.len() / 4..]);
    assert!((freq - 440.0).abs() < 15.0, "the viewer hears {freq:.1} Hz");
    viewer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_without_a_sound_server_shares_its_screen_without_audio() {
    init_tracing();
    let server = TestServer::start().expect("server");
    let (agent, link) = share(&server, "unix:/nonexistent/deskbeam/pulse", &["--system-audio", "--mic", "default"]);
    assert!(agent.stderr_contains("no audio: sharing the screen without it", Duration::from_secs(10)));
    let mut viewer = Receiver::offer().await.expect("offer");
    let resp = post_offer(server.addr, token_from_link(&link).expect("token"), &viewer.offer).await.expect("POST");
    assert_eq!(resp.status, 201, "{}", resp.body);
    viewer.accept(resp.body).await.expect("answer");
    let frame = tokio::time::timeout(Duration::from_secs(20), viewer.frames.recv()).await;
    assert!(matches!(frame, Ok(Some(_))), "the screen is shared");
    viewer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_speaking_880_hz_is_played_on_the_host() {
    init_tracing();
    if !require_tools("voice", &["pulseaudio", "pactl", "parec"]) {
        return;
    }
    let pulse = Pulse::start().expect("pulseaudio");
    let server = TestServer::start().expect("server");
    let (agent, link) = share(&server, &pulse.server(), &[]);
    let viewer = AudioPeer::offer_speaking(880.0).await.expect("offer");
    let resp = post_offer(server.addr, token_from_link(&link).expect("token"), &viewer.offer).await.expect("POST");
    assert_eq!(resp.status, 201, "{}", resp.body);
    viewer.accept(resp.body).await.expect("answer");
    assert!(agent.stderr_contains("playing the viewer's microphone", Duration::from_secs(20)));
    let monitor = format!("{SINK}.monitor");
    let mut heard = None;
    for _ in 0..10 {
        let samples = tokio::task::block_in_place(|| pulse.record(&monitor, 1.0)).expect("parec");
        if rms(&samples[24_000..]) > 0.05 {
            heard = Some(samples);
            break;
        }
    }
    let samples = heard.expect("the viewer's tone plays on the host's output");
    let freq = tone_frequency(&samples[24_000..]);
    assert!((freq - 880.0).abs() < 20.0, "the host plays {freq:.1} Hz");
    viewer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_with_a_fake_microphone_is_heard_on_the_host() {
    init_tracing();
    if !require_tools("browser voice", &["pulseaudio", "pactl", "parec", "node", "chromium"]) {
        return;
    }
    let pulse = Pulse::start().expect("pulseaudio");
    let server = TestServer::start().expect("server");
    let (agent, link) = share(&server, &pulse.server(), &[]);
    let mut page = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/voice.mjs"))
        .args(["--url", &link, "--hold-ms", "10000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    assert!(agent.stderr_contains("playing the viewer's microphone", Duration::from_secs(45)), "the page's microphone reaches the agent");
    let monitor = format!("{SINK}.monitor");
    let mut loudest = 0.0f64;
    for _ in 0..4 {
        let samples = tokio::task::block_in_place(|| pulse.record(&monitor, 1.5)).expect("parec");
        loudest = loudest.max(rms(&samples));
        if loudest > 0.003 {
            break;
        }
    }
    let line = BufReader::new(page.stdout.take().expect("stdout")).lines().next().and_then(Result::ok).unwrap_or_default();
    let _ = page.wait();
    let result: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
    assert_eq!(result["ok"], true, "{line}");
    assert!(result["maxLevel"].as_f64().unwrap_or(0.0) > 0.0, "the page's level meter moved: {line}");
    assert!(loudest > 0.003, "the fake microphone's beeps play on the host (loudest RMS {loudest})");
}

#[test]
fn devices_lists_the_sound_servers_sources() {
    init_tracing();
    if !require_tools("voice devices", &["pulseaudio", "pactl"]) {
        return;
    }
    let pulse = Pulse::start().expect("pulseaudio");
    let out = Command::new(bin("deskbeam-agent").expect("agent binary")).env("PULSE_SERVER", pulse.server()).arg("devices").output().expect("agent runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.lines().any(|l| l.starts_with(&format!("monitor\t{SINK}.monitor\t"))), "{listing}");
    let none = Command::new(bin("deskbeam-agent").expect("agent binary")).env("PULSE_SERVER", "unix:/nonexistent/pulse").arg("devices").output().expect("agent runs");
    assert!(!none.status.success() && String::from_utf8_lossy(&none.stderr).contains("sound server"), "without a sound server it says so");
}
