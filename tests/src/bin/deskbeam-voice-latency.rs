//! `deskbeam-voice-latency`: mouth-to-ear audio latency on loopback. A private PulseAudio plays
//! tone bursts into a null sink (written in real time, 20 ms at a time, through `pacat` with a
//! 20 ms buffer); the real agent (`--system-audio`) captures the monitor and sends Opus; a viewer
//! peer decodes it. Latency = when a burst's first samples were handed to PulseAudio → when the
//! viewer decoded a loud 20 ms frame. Prints the median and p95; asserts nothing.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use deskbeam_tests::audio_peer::{rms, tone_bytes, AudioPeer};
use deskbeam_tests::procs::{bin, Proc, TestServer};
use deskbeam_tests::pulse::{Pulse, SINK};
use deskbeam_tests::whep::{post_offer, token_from_link};

const BURSTS: usize = 30;
const CHUNK: Duration = Duration::from_millis(20);

/// Feeds `pacat` silence with a 300 ms tone every second, paced to real time; sends each tone's
/// start time.
fn speak(pulse: &Pulse, onsets: std::sync::mpsc::Sender<Instant>) -> anyhow::Result<std::process::Child> {
    let (child, mut stdin) = pulse.playback(SINK)?;
    let tone = tone_bytes(440.0, 0.3, 0.5);
    let silence = vec![0u8; 960 * 2];
    std::thread::spawn(move || {
        let start = Instant::now();
        for i in 0u32.. {
            // 50 chunks a second: chunks 25..40 of each second carry the tone.
            let in_second = (i % 50) as usize;
            let chunk = match in_second {
                25..=39 => &tone[(in_second - 25) * 1920..(in_second - 24) * 1920],
                _ => &silence[..],
            };
            std::thread::sleep((start + CHUNK * i).saturating_duration_since(Instant::now()));
            if in_second == 25 && onsets.send(Instant::now()).is_err() {
                return;
            }
            if stdin.write_all(chunk).is_err() {
                return;
            }
        }
    });
    Ok(child)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let pulse = Pulse::start()?;
    let server = TestServer::start()?;
    let mut cmd = Command::new(bin("deskbeam-agent")?);
    cmd.env("DESKBEAM_TOKEN", server.host_token()?)
        .env("PULSE_SERVER", pulse.server())
        .args(["share", "--server", &server.url(), "--ice-addr", "127.0.0.1:0", "--source", "synthetic", "--system-audio"]);
    let agent = Proc::spawn(cmd)?;
    let link = agent.wait_line("link:", Duration::from_secs(30))?;
    let mut viewer = AudioPeer::offer().await?;
    let token = token_from_link(&link).ok_or_else(|| anyhow::anyhow!("no token in the link"))?;
    let resp = post_offer(server.addr, token, &viewer.offer).await?;
    anyhow::ensure!(resp.status == 201, "WHEP: {} {}", resp.status, resp.body);
    viewer.accept(resp.body).await?;
    // Let the connection settle before the first burst.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (tx, onsets) = std::sync::mpsc::channel();
    let mut player = speak(&pulse, tx)?;
    let mut latencies = Vec::new();
    while latencies.len() < BURSTS {
        let onset = tokio::task::block_in_place(|| onsets.recv_timeout(Duration::from_secs(5)))?;
        let heard = loop {
            let chunk = tokio::time::timeout(Duration::from_secs(2), viewer.pcm.recv()).await?.ok_or_else(|| anyhow::anyhow!("audio ended"))?;
            if chunk.at > onset && rms(&chunk.samples) > 0.05 {
                break chunk.at;
            }
        };
        latencies.push(heard.duration_since(onset).as_secs_f64() * 1000.0);
        // Drain the rest of this burst.
        while let Ok(Some(c)) = tokio::time::timeout(Duration::from_millis(400), viewer.pcm.recv()).await {
            if c.at.duration_since(onset) > Duration::from_millis(600) {
                break;
            }
        }
    }
    let _ = player.kill();
    let _ = player.wait();
    viewer.close().await;
    latencies.sort_by(f64::total_cmp);
    println!(
        "voice mouth-to-ear (loopback, PulseAudio monitor → Opus → viewer decode), {} bursts: median {:.1} ms, p95 {:.1} ms, min {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies.first().copied().unwrap_or(f64::NAN),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    Ok(())
}
