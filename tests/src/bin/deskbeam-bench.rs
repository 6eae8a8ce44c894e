//! `make bench`: prints Deskbeam's performance figures at 1920x1080. No assertions; numbers only.
//!
//! 1. Stage times per frame: X11 capture (Xvfb + scrap), BGRX→I420, H.264 encode.
//! 2. Sustained pipeline rate with full-screen motion.
//! 3. The real agent binary on Xvfb with one WHEP viewer: time to first frame, glass-to-glass
//!    latency (paint the root window → decoded colour), and CPU, bitrate and fps for a static
//!    desktop, typing, scrolling text and full-screen repaints — each beside ffmpeg x11grab +
//!    libx264 ultrafast/zerolatency on the same screen, as a CPU ratio.
//! 4. Input latency: a pointer move on the data channel until the X server has it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskbeam_agent::capture::{FrameSource, SyntheticScreen, X11Source};
use deskbeam_agent::encode::{bgrx_to_i420, Encoder, EncoderSettings, H264Encoder};
use deskbeam_agent::pipeline::{Pipeline, PipelineSettings};
use deskbeam_proto::input::{AgentInput, ControlState, ViewerInput};
use deskbeam_tests::procs::TestServer;
use deskbeam_tests::receiver::Receiver;
use deskbeam_tests::whep::{post_offer, token_from_link};
use deskbeam_tests::xvfb::Xvfb;

const W: u32 = 1920;
const H: u32 = 1080;

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let i = ((samples.len() - 1) as f64 * p).round() as usize;
    samples[i]
}

fn report(name: &str, mut ms: Vec<f64>) {
    let n = ms.len();
    let p50 = percentile(&mut ms, 0.5);
    let p95 = percentile(&mut ms, 0.95);
    println!("{name:<38} median {p50:>7.2} ms   p95 {p95:>7.2} ms   (n={n})");
}

/// CPU time (user+system) of a process in seconds, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based) → 11 and 12 after the comm field.
    (ticks(11) + ticks(12)) / 100.0
}

fn stage_times(display: &str) -> anyhow::Result<()> {
    std::env::set_var("DISPLAY", display);
    let mut x11 = X11Source::open()?;
    let mut capture = Vec::new();
    for _ in 0..120 {
        let t = Instant::now();
        let _ = x11.capture()?;
        capture.push(t.elapsed().as_secs_f64() * 1e3);
    }
    report("capture 1920x1080 (scrap/XShm)", capture);

    let screen = SyntheticScreen::new(W, H, [40, 90, 160]);
    screen.set_animated(true);
    let mut src = screen.source();
    let mut convert = Vec::new();
    let mut buf = Vec::new();
    for _ in 0..120 {
        let f = src.capture()?;
        let t = Instant::now();
        bgrx_to_i420(&f, W, H, &mut buf)?;
        convert.push(t.elapsed().as_secs_f64() * 1e3);
    }
    report("convert BGRX->I420 (yuv)", convert);

    let mut enc = H264Encoder::new(EncoderSettings::default());
    let mut encode = Vec::new();
    let mut bytes = 0usize;
    for i in 0..150 {
        let f = src.capture()?;
        if let Some(e) = enc.encode(&f, i == 0)? {
            if i > 0 {
                encode.push(e.encode_time.as_secs_f64() * 1e3);
                bytes += e.data.len();
            }
        }
    }
    println!("{:<38} {:.0} bytes/frame", "encoded size, moving box", bytes as f64 / 149.0);
    report("encode H.264 (openh264), moving box", encode);
    Ok(())
}

fn sustained_rate() -> anyhow::Result<()> {
    let screen = SyntheticScreen::new(W, H, [40, 90, 160]);
    screen.set_animated(true);
    let s = screen.clone();
    let pipeline = Pipeline::start(
        Box::new(move || Ok(Box::new(s.source()) as Box<dyn FrameSource>)),
        Box::new(|| Box::new(H264Encoder::new(EncoderSettings { bitrate_bps: 8_000_000, max_fps: 60.0 })) as Box<dyn Encoder>),
        PipelineSettings { fps: 60 },
    )?;
    let rt = tokio::runtime::Runtime::new()?;
    let encoded = rt.block_on(async {
        let mut rx = pipeline.feed().subscribe();
        let start = Instant::now();
        let mut n = 0u32;
        while start.elapsed() < Duration::from_secs(5) {
            match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
                Ok(Ok(_)) => n += 1,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(k))) => n += k as u32,
                _ => break,
            }
        }
        n as f64 / start.elapsed().as_secs_f64()
    });
    println!("{:<38} {encoded:.1} fps (target 60, moving box, synthetic source)", "sustained pipeline rate");
    let captured = pipeline.stats.captured.load(Ordering::Relaxed).max(1);
    let cap_us = pipeline.stats.capture_us.load(Ordering::Relaxed) as f64 / captured as f64;
    println!("{:<38} {:.2} ms per frame", "  of which synthetic capture", cap_us / 1e3);
    Ok(())
}

/// A workload on the shared screen, stopped on drop.
struct Load {
    child: Option<std::process::Child>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const SCENARIOS: [&str; 4] = ["static desktop", "typing in a terminal", "scrolling text", "full-screen repaints"];

fn xterm(display: &str, script: &str) -> Option<std::process::Child> {
    std::process::Command::new("xterm")
        .env("DISPLAY", display)
        .args(["-geometry", "200x60+0+0", "-e", "bash", "-c", script])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()
}

fn start_load(display: &str, scenario: &str) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Load { child: None, stop: stop.clone(), thread: None };
    match scenario {
        "typing in a terminal" => load.child = xterm(display, "while true; do for c in d e s k b e a m ' '; do printf \"$c\"; sleep 0.1; done; done"),
        "scrolling text" => load.child = xterm(display, "while true; do ls -la /usr/lib | head -200; done"),
        "full-screen repaints" => {
            let display = display.to_string();
            load.thread = Some(std::thread::spawn(move || {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let c = format!("#{:02x}{:02x}{:02x}", (i * 7) % 256, (i * 13) % 256, (i * 29) % 256);
                    let _ = std::process::Command::new("xsetroot").env("DISPLAY", &display).args(["-solid", &c]).status();
                    i += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
            }));
        }
        _ => {}
    }
    load
}

/// The reference: ffmpeg x11grab + libx264 ultrafast/zerolatency on the same screen.
/// Returns (CPU % of one core, kbit/s), or None without ffmpeg.
fn ffmpeg_reference(display: &str, secs: u64) -> Option<(f64, f64)> {
    use std::io::Read;
    let mut child = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "x11grab", "-draw_mouse", "0", "-framerate", "30"])
        .args(["-video_size", &format!("{W}x{H}"), "-i", display])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-b:v", "4M", "-maxrate", "4M", "-bufsize", "1M"])
        .args(["-g", "300", "-f", "h264", "pipe:1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let mut out = child.stdout.take()?;
    let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = bytes.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let (c0, b0) = (cpu_seconds(child.id()), bytes.load(Ordering::Relaxed));
    std::thread::sleep(Duration::from_secs(secs));
    let cpu = (cpu_seconds(child.id()) - c0) / secs as f64 * 100.0;
    let kbps = (bytes.load(Ordering::Relaxed) - b0) as f64 * 8.0 / 1000.0 / secs as f64;
    let _ = child.kill();
    let _ = child.wait();
    Some((cpu, kbps))
}

async fn glass_to_glass(x: &Xvfb, viewer: &mut Receiver) -> anyhow::Result<()> {
    let mut latency = Vec::new();
    for i in 0..20u8 {
        let color = if i % 2 == 0 { [200, 60, 20] } else { [20, 60, 200] };
        tokio::time::sleep(Duration::from_millis(250)).await;
        while viewer.frames.try_recv().is_ok() {}
        let t = Instant::now();
        x.set_root_color(color)?;
        if viewer.wait_for_color(0.5, 0.5, color, 14, Duration::from_secs(2)).await.is_ok() {
            latency.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    report("glass-to-glass (xsetroot -> decoded)", latency);
    Ok(())
}

async fn agent_figures(x: &Xvfb) -> anyhow::Result<()> {
    let server = TestServer::start()?;
    let (agent, link) = server.share(&x.display, &[])?;
    let token = token_from_link(&link).ok_or_else(|| anyhow::anyhow!("no token in link"))?;
    x.set_root_color([20, 20, 20])?;

    let idle0 = cpu_seconds(agent.pid());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = (cpu_seconds(agent.pid()) - idle0) / 5.0 * 100.0;
    println!("{:<38} {idle:.1} % of one core", "agent CPU, no viewer");

    let opened = Instant::now();
    let mut viewer = Receiver::offer().await?;
    let resp = post_offer(server.addr, token, &viewer.offer).await?;
    anyhow::ensure!(resp.status == 201, "WHEP failed: {} {}", resp.status, resp.body);
    viewer.accept(resp.body).await?;
    viewer.wait_for_color(0.5, 0.5, [20, 20, 20], 14, Duration::from_secs(30)).await?;
    println!("{:<38} {:.0} ms (offer, WHEP, ICE, DTLS, keyframe, decode)", "link opened -> first decoded frame", opened.elapsed().as_secs_f64() * 1e3);
    glass_to_glass(x, &mut viewer).await?;

    let mut ours = Vec::new();
    for scenario in SCENARIOS {
        x.set_root_color([20, 20, 20])?;
        let load = start_load(&x.display, scenario);
        tokio::time::sleep(Duration::from_secs(2)).await;
        while viewer.frames.try_recv().is_ok() {}
        let (c0, b0) = (cpu_seconds(agent.pid()), viewer.bytes.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_secs(10)).await;
        let cpu = (cpu_seconds(agent.pid()) - c0) / 10.0 * 100.0;
        let kbps = (viewer.bytes.load(Ordering::Relaxed) - b0) as f64 * 8.0 / 1000.0 / 10.0;
        let mut frames = 0usize;
        while viewer.frames.try_recv().is_ok() {
            frames += 1;
        }
        drop(load);
        ours.push((cpu, kbps, frames as f64 / 10.0));
    }
    viewer.close().await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    println!("\n{:<24} {:>14} {:>12} {:>8} | {:>14} {:>12} | {:>9}", "scenario (1080p, 1 viewer)", "deskbeam CPU%", "kbit/s", "fps", "x264 CPU%", "kbit/s", "CPU ratio");
    for (scenario, (cpu, kbps, fps)) in SCENARIOS.iter().zip(ours) {
        let load = start_load(&x.display, scenario);
        std::thread::sleep(Duration::from_secs(1));
        let reference = ffmpeg_reference(&x.display, 10);
        drop(load);
        match reference {
            Some((rcpu, rkbps)) => println!("{scenario:<24} {cpu:>14.1} {kbps:>12.1} {fps:>8.1} | {rcpu:>14.1} {rkbps:>12.1} | {:>9.2}", cpu / rcpu.max(0.01)),
            None => println!("{scenario:<24} {cpu:>14.1} {kbps:>12.1} {fps:>8.1} | (ffmpeg not installed)"),
        }
    }
    Ok(())
}

/// Fan-out: one agent streaming full-screen repaints to 1, 2, 5 and 10 viewers (peers that count
/// packets without decoding). One encode serves them all; each viewer adds only its SRTP and
/// packet cost, which the per-viewer column shows.
async fn fan_out(x: &Xvfb) -> anyhow::Result<()> {
    let server = TestServer::start()?;
    let (agent, link) = server.share(&x.display, &["--max-viewers", "10"])?;
    let token = token_from_link(&link).ok_or_else(|| anyhow::anyhow!("no token in link"))?;
    // A steady load (a new full-screen colour every 50 ms), so that only the viewer count moves.
    let load = start_load(&x.display, "full-screen repaints");
    let mut viewers: Vec<Receiver> = Vec::new();
    let mut one_viewer_cpu = None;
    println!("\n{:<24} {:>14} {:>18} {:>16} {:>10}", "viewers (1080p, repaints)", "agent CPU%", "CPU% per +viewer", "kbit/s per viewer", "keyframes");
    for n in [1usize, 2, 5, 10] {
        while viewers.len() < n {
            let viewer = Receiver::offer_undecoded().await?;
            let resp = post_offer(server.addr, token, &viewer.offer).await?;
            anyhow::ensure!(resp.status == 201, "WHEP failed: {} {}", resp.status, resp.body);
            viewer.accept(resp.body).await?;
            viewers.push(viewer);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let bytes = |v: &[Receiver]| v.iter().map(|r| r.bytes.load(Ordering::Relaxed)).collect::<Vec<_>>();
        let keys = |v: &[Receiver]| v.iter().map(|r| r.keyframes.load(Ordering::Relaxed)).sum::<u64>();
        let (c0, b0, k0) = (cpu_seconds(agent.pid()), bytes(&viewers), keys(&viewers));
        tokio::time::sleep(Duration::from_secs(8)).await;
        let cpu = (cpu_seconds(agent.pid()) - c0) / 8.0 * 100.0;
        let b1 = bytes(&viewers);
        let kbps = b1.iter().zip(&b0).map(|(a, b)| (a - b) as f64).sum::<f64>() * 8.0 / 1000.0 / 8.0 / n as f64;
        let per_viewer = match one_viewer_cpu {
            Some(base) if n > 1 => format!("{:.2}", (cpu - base) / (n - 1) as f64),
            _ => "-".to_string(),
        };
        one_viewer_cpu.get_or_insert(cpu);
        println!("{n:<24} {cpu:>14.1} {per_viewer:>18} {kbps:>16.1} {:>10}", keys(&viewers) - k0);
    }
    drop(load);
    for v in &viewers {
        v.close().await;
    }
    Ok(())
}

/// Input latency: a pointer move sent on the data channel until the X server reports the
/// pointer there (XQueryPointer polling).
async fn input_latency(x: &Xvfb) -> anyhow::Result<()> {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::ConnectionExt;
    let server = TestServer::start()?;
    let (_agent, link) = server.share(&x.display, &["--scope", "control", "--consent", "auto"])?;
    let token = token_from_link(&link).ok_or_else(|| anyhow::anyhow!("no token in link"))?;
    let mut viewer = Receiver::offer_with_input().await?;
    let resp = post_offer(server.addr, token, &viewer.offer).await?;
    anyhow::ensure!(resp.status == 201, "WHEP failed: {} {}", resp.status, resp.body);
    viewer.accept(resp.body).await?;
    viewer.wait_agent_input(Duration::from_secs(20), |m| matches!(m, AgentInput::Control { .. })).await?;
    viewer.send_input(&ViewerInput::RequestControl).await?;
    viewer.wait_agent_input(Duration::from_secs(10), |m| matches!(m, AgentInput::Control { state: ControlState::Granted, .. })).await?;

    let (conn, screen) = x11rb::connect(Some(&x.display))?;
    let root = conn.setup().roots[screen].root;
    let mut samples = Vec::new();
    for i in 0..200u32 {
        let (fx, fy) = (0.1 + 0.8 * f64::from(i % 20) / 20.0, 0.2 + 0.6 * f64::from(i % 7) / 7.0);
        let want = ((fx * f64::from(W - 1)).round() as i16, (fy * f64::from(H - 1)).round() as i16);
        let t = Instant::now();
        viewer.send_input(&ViewerInput::Move { x: fx, y: fy }).await?;
        while t.elapsed() < Duration::from_secs(1) {
            let p = conn.query_pointer(root)?.reply()?;
            if (p.root_x, p.root_y) == want {
                samples.push(t.elapsed().as_secs_f64() * 1e3);
                break;
            }
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    report("input latency (move -> X server pointer)", samples);
    viewer.close().await;
    Ok(())
}

/// The input wire format: size and decode cost of JSON events (vs. a packed binary layout).
fn input_encoding() {
    use deskbeam_proto::input::{decode_viewer_input, encode};
    let mv = encode(&ViewerInput::Move { x: 0.123456, y: 0.654321 });
    let key = encode(&ViewerInput::Key { code: "KeyA".into(), down: true, text: Some("a".into()) });
    let n = 200_000;
    let t = Instant::now();
    let mut ok = 0usize;
    for i in 0..n {
        let m = if i % 2 == 0 { &mv } else { &key };
        ok += usize::from(decode_viewer_input(m.as_bytes()).is_ok());
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    println!("{:<38} move {} B, key {} B (packed binary move: 10 B)", "input event size (JSON)", mv.len(), key.len());
    println!("{:<38} {ns:.0} ns per event ({ok} decoded)", "input event decode (JSON, serde)");
}

fn main() -> anyhow::Result<()> {
    println!("Deskbeam benchmark, {W}x{H}, {} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    input_encoding();
    let x = Xvfb::start(170, W, H)?;
    stage_times(&x.display)?;
    sustained_rate()?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(agent_figures(&x))?;
    rt.block_on(fan_out(&x))?;
    rt.block_on(input_latency(&x))?;
    Ok(())
}
