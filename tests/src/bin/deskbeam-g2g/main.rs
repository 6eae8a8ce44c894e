//! `make bench`, glass-to-glass part: how long until a picture drawn on the shared X screen is on
//! the glass of a real browser viewer.
//!
//! For each screen size: Xvfb, the real `deskbeam-server` and `deskbeam-agent` (release build,
//! default settings), a painter that shows the wall clock as a row of black/white cells at 60 Hz
//! ([`pattern`], [`painter`]), and headless Chromium opening the viewer link through
//! `tests/browser/g2g.mjs`, which reads the pattern off every presented frame
//! (`requestVideoFrameCallback`) and compares it with the same clock. Prints p50/p95/p99 and the
//! split at the moment the browser received the frame. Numbers only, no pass/fail.

mod painter;
mod pattern;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::Parser;
use deskbeam_tests::procs::TestServer;
use deskbeam_tests::xvfb::Xvfb;
use serde_json::Value;

use crate::painter::Painter;

/// Glass-to-glass latency through the real viewer page in headless Chromium.
#[derive(Parser, Debug)]
struct Args {
    /// Screen sizes to measure, WxH.
    #[arg(long = "size", default_values = ["1920x1080", "1280x720"], value_parser = parse_size)]
    sizes: Vec<(u32, u32)>,
    /// Seconds of measurement per size (after the first frame).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=600))]
    seconds: u32,
    /// How often the painter changes the pattern.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=240))]
    paint_hz: u32,
    /// Sets `jitterBufferTarget` (ms) on the page's video receiver, to compare with the default.
    #[arg(long)]
    jitter_buffer_target: Option<u32>,
    /// Extra `deskbeam-agent share` arguments, e.g. `--agent-arg=--fps --agent-arg=60`.
    #[arg(long = "agent-arg", allow_hyphen_values = true)]
    agent_args: Vec<String>,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once('x').ok_or_else(|| format!("not WxH: {s:?}"))?;
    let n = |v: &str| v.parse::<u32>().ok().filter(|n| (320..=7680).contains(n) && n % 2 == 0);
    match (n(w), n(h)) {
        (Some(w), Some(h)) if w >= pattern::CELL as u32 * pattern::CELLS as u32 + 64 => Ok((w, h)),
        _ => Err(format!("bad size {s:?} (even numbers, at least 1216 wide for the pattern)")),
    }
}

fn driver() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/g2g.mjs")
}

/// One size: everything started, measured, stopped. Returns g2g.mjs's result line.
fn measure(args: &Args, (w, h): (u32, u32)) -> anyhow::Result<Value> {
    let x = Xvfb::start(190, w, h)?;
    x.set_root_color([96, 96, 96])?;
    let painter = Painter::start(&x.display, args.paint_hz)?;
    let server = TestServer::start()?;
    let extra: Vec<&str> = args.agent_args.iter().map(String::as_str).collect();
    let (_agent, link) = server.share(&x.display, &extra)?;
    let mut cmd = Command::new("node");
    cmd.arg(driver()).args(["--url", &link, "--seconds", &args.seconds.to_string(), "--screen", &format!("{w}x{h}")]);
    if let Some(ms) = args.jitter_buffer_target {
        cmd.args(["--jitter-buffer-target", &ms.to_string()]);
    }
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).output()?;
    let painted = painter.painted.load(std::sync::atomic::Ordering::Relaxed);
    drop(painter);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or("");
    let mut result: Value = serde_json::from_str(line).map_err(|e| anyhow::anyhow!("g2g.mjs said {text:?} ({e})"))?;
    anyhow::ensure!(result.get("ok") == Some(&Value::Bool(true)), "g2g.mjs failed: {line}");
    result["painted"] = painted.into();
    Ok(result)
}

/// "p50 / p95 / p99" of a `{p50, p95, p99}` object in ms.
fn percentiles(v: &Value) -> String {
    let p = |k: &str| v.get(k).and_then(Value::as_f64).map_or("  -  ".to_string(), |ms| format!("{ms:5.1}"));
    format!("p50 {} ms   p95 {} ms   p99 {} ms", p("p50"), p("p95"), p("p99"))
}

fn print(size: (u32, u32), seconds: u32, r: &Value) {
    let count = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
    let label = format!("glass-to-glass, Chromium, {}x{}", size.0, size.1);
    println!("{label:<44} {}", percentiles(&r["latency"]));
    println!("{:<44} {}", "  painted -> frame received (network side)", percentiles(&r["toReceive"]));
    println!("{:<44} {}", "  frame received -> on glass (browser side)", percentiles(&r["receiveToGlass"]));
    println!(
        "{:<44} {} frames read in {seconds} s, {} rejected (unreadable), {} repeats, {} painted",
        "  frames", count("decoded"), count("rejected"), count("repeats"), count("painted"),
    );
    let ms = |k: &str| r["browser"].get(k).and_then(Value::as_f64).map_or("-".to_string(), |v| format!("{v:.1} ms"));
    println!(
        "{:<44} decode {}, jitter buffer {} (target {}, minimum {}), fps {}",
        "  browser (getStats averages)", ms("decodeMs"), ms("jitterBufferMs"), ms("jitterBufferTargetMs"),
        ms("jitterBufferMinimumMs"), r["browser"].get("fps").and_then(Value::as_f64).map_or("-".into(), |v| format!("{v:.1}")),
    );
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into())).with_writer(std::io::stderr).init();
    let args = Args::parse();
    let target = args.jitter_buffer_target.map_or(String::new(), |ms| format!(", jitterBufferTarget {ms} ms"));
    let agent = if args.agent_args.is_empty() { String::new() } else { format!(", agent {}", args.agent_args.join(" ")) };
    println!("\nGlass-to-glass through the viewer page (headless Chromium), pattern painted at {} Hz{target}{agent}", args.paint_hz);
    for &size in &args.sizes {
        match measure(&args, size) {
            Ok(result) => print(size, args.seconds, &result),
            Err(e) => println!("glass-to-glass, Chromium, {}x{}: not measured: {e:#}", size.0, size.1),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}
