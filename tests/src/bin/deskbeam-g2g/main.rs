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
    /// Seconds of measurement per run (after the first frame).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=600))]
    seconds: u32,
    /// Runs per size, each with a fresh Xvfb, agent and browser, pooled. The painter, the agent's
    /// capture tick and the browser's frame clock are all periodic, so one run sees one fixed
    /// phase between them; several runs sample several.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    runs: u32,
    /// How often the painter changes the pattern.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=240))]
    paint_hz: u32,
    /// Sets `jitterBufferTarget` (ms) on the page's video receiver, to compare with the default.
    #[arg(long)]
    jitter_buffer_target: Option<u32>,
    /// Also note when each time first shows in an animation frame (a check on the frame metadata).
    #[arg(long)]
    raf_check: bool,
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

/// The first display number from `from` with neither a lock file nor a socket. Displays whose
/// Xvfb was killed keep both, and other runs' ranges may be full of them.
fn first_free_display(from: u32) -> u32 {
    let taken = |n: u32| {
        std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists() || std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
    };
    (from..from + 1000).find(|&n| !taken(n)).unwrap_or(from)
}

fn driver() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/g2g.mjs")
}

/// One size: everything started, measured, stopped. Returns g2g.mjs's result line.
fn measure(args: &Args, (w, h): (u32, u32)) -> anyhow::Result<Value> {
    let x = Xvfb::start(first_free_display(400), w, h)?;
    x.set_root_color([96, 96, 96])?;
    let painter = Painter::start(&x.display, args.paint_hz)?;
    let server = TestServer::start()?;
    let extra: Vec<&str> = args.agent_args.iter().map(String::as_str).collect();
    let (_agent, link) = server.share(&x.display, &extra)?;
    let mut cmd = Command::new("node");
    cmd.arg(driver()).args(["--url", &link, "--seconds", &args.seconds.to_string(), "--screen", &format!("{w}x{h}")]);
    if args.raf_check {
        cmd.arg("--raf-check");
    }
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
    result["loadavg"] = load_average().into();
    Ok(result)
}

/// The figures of several runs of one size, pooled.
#[derive(Default)]
struct Pool {
    latency: Vec<f64>,
    to_receive: Vec<f64>,
    receive_to_present: Vec<f64>,
    present_to_glass: Vec<f64>,
    to_callback: Vec<f64>,
    raf_seen: Vec<f64>,
    run_p50: Vec<f64>,
    decoded: u64,
    rejected: u64,
    repeats: u64,
    future: u64,
    painted: u64,
    browser: Vec<Value>,
    loadavg: Vec<f64>,
    extensions: Option<Value>,
}

impl Pool {
    fn add(&mut self, r: &Value) {
        let raw = |k: &str| -> Vec<f64> { r["raw"][k].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default() };
        let count = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
        let mut latency = raw("latency");
        self.run_p50.push(percentile(&mut latency, 0.5));
        self.latency.extend(latency);
        self.to_receive.extend(raw("toReceive"));
        self.receive_to_present.extend(raw("receiveToPresent"));
        self.present_to_glass.extend(raw("presentToGlass"));
        self.to_callback.extend(raw("toCallback"));
        self.raf_seen.extend(raw("rafSeen"));
        self.decoded += count("decoded");
        self.rejected += count("rejected");
        self.repeats += count("repeats");
        self.future += count("future");
        self.painted += count("painted");
        self.browser.push(r["browser"].clone());
        self.loadavg.extend(r.get("loadavg").and_then(Value::as_f64));
        self.extensions = Some(r["extensions"].clone());
    }

    /// Mean over the runs of one `browser` figure.
    fn browser_mean(&self, key: &str) -> String {
        let values: Vec<f64> = self.browser.iter().filter_map(|b| b.get(key).and_then(Value::as_f64)).collect();
        if values.is_empty() {
            return "-".into();
        }
        format!("{:.1}", values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// The 1-minute load average (`/proc/loadavg`): other work on the machine shows in the figures.
fn load_average() -> f64 {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

/// Nearest-rank percentile (`p` in 0..=1) of `ms`; NaN when empty.
fn percentile(ms: &mut [f64], p: f64) -> f64 {
    if ms.is_empty() {
        return f64::NAN;
    }
    ms.sort_by(f64::total_cmp);
    let rank = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len());
    ms[rank - 1]
}

fn percentiles(ms: &mut [f64]) -> String {
    let (p50, p95, p99) = (percentile(ms, 0.5), percentile(ms, 0.95), percentile(ms, 0.99));
    format!("p50 {p50:5.1} ms   p95 {p95:5.1} ms   p99 {p99:5.1} ms")
}

fn print(size: (u32, u32), args: &Args, pool: &mut Pool) {
    let label = format!("glass-to-glass, Chromium, {}x{}", size.0, size.1);
    // The headline is the frame's expectedDisplayTime; the rVFC callback line is when the page's own
    // rendering first has the frame (the two differ by up to two display frames, see BENCHMARKS.md).
    let runs: Vec<String> = pool.run_p50.iter().map(|v| format!("{v:.1}")).collect();
    println!("{label:<46} {}   ({} runs x {} s; p50 per run {})", percentiles(&mut pool.latency), runs.len(), args.seconds, runs.join(" / "));
    println!("{:<46} {}", "  painted -> page shows it (rVFC callback)", percentiles(&mut pool.to_callback));
    if !pool.raf_seen.is_empty() {
        println!("{:<46} {}", "  painted -> first animation frame showing it", percentiles(&mut pool.raf_seen));
    }
    println!("{:<46} {}", "  split: painted -> received (agent, network)", percentiles(&mut pool.to_receive));
    println!("{:<46} {}", "  split: received -> presented (browser)", percentiles(&mut pool.receive_to_present));
    println!("{:<46} {}", "  split: presented -> expected on glass", percentiles(&mut pool.present_to_glass));
    println!(
        "{:<46} {} read, {} rejected (unreadable), {} repeats, {} ahead of the clock, {} painted",
        "  frames", pool.decoded, pool.rejected, pool.repeats, pool.future, pool.painted,
    );
    println!(
        "{:<46} decode {} ms, jitter buffer {} ms (target {} ms, minimum {} ms), {} fps",
        "  browser (getStats, mean per frame)", pool.browser_mean("decodeMs"), pool.browser_mean("jitterBufferMs"),
        pool.browser_mean("jitterBufferTargetMs"), pool.browser_mean("jitterBufferMinimumMs"), pool.browser_mean("fps"),
    );
    let loads: Vec<String> = pool.loadavg.iter().map(|l| format!("{l:.1}")).collect();
    println!("{:<46} {} (1-minute load average at the end of each run)", "  machine load", loads.join(" / "));
    if let Some(ext) = &pool.extensions {
        tracing::info!(offered = %ext["offered"], answered = %ext["answered"], "RTP header extensions");
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into())).with_writer(std::io::stderr).init();
    let args = Args::parse();
    let target = args.jitter_buffer_target.map_or(String::new(), |ms| format!(", jitterBufferTarget {ms} ms"));
    let agent = if args.agent_args.is_empty() { String::new() } else { format!(", agent {}", args.agent_args.join(" ")) };
    println!("\nGlass-to-glass through the viewer page (headless Chromium), pattern painted at {} Hz{target}{agent}", args.paint_hz);
    for &size in &args.sizes {
        let mut pool = Pool::default();
        for run in 1..=args.runs {
            // One more try for a run whose setup failed (a busy machine), then move on.
            for attempt in 1..=2 {
                let outcome = measure(&args, size);
                std::thread::sleep(Duration::from_millis(500));
                match outcome {
                    Ok(result) => {
                        pool.add(&result);
                        break;
                    }
                    Err(e) => {
                        let why = format!("{e:#}");
                        let why = why.lines().next().unwrap_or_default();
                        println!("glass-to-glass, Chromium, {}x{}, run {run} attempt {attempt}: not measured: {why}", size.0, size.1);
                    }
                }
            }
        }
        if !pool.latency.is_empty() {
            print(size, &args, &mut pool);
        }
    }
    Ok(())
}
