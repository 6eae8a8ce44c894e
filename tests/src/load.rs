//! Server load: many fake agents on the real signaling WebSocket and many WHEP negotiations
//! against a real `deskbeam-server` on loopback, with the server's memory and CPU read from
//! `/proc`. Bounded in count (the caller's numbers) and in time (every step has a deadline).
//! Used by the `deskbeam-load` binary (`make bench`) and the `load` integration test.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use crate::fake_agent::{viewer_offer, FakeAgent};
use crate::procs::{bin, free_port, tempdir::TempDir, Proc};
use crate::procstat::ProcStat;
use crate::whep;

/// Longest any single request or connection attempt may take before it counts as an error.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// How much load to make.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    pub agents: usize,
    pub negotiations: usize,
    /// Agent connections or WHEP requests in flight at once.
    pub concurrency: usize,
}

/// A real server on a free loopback port with a fresh data dir, logging warnings only.
pub struct LoadServer {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub data_dir: TempDir,
}

impl LoadServer {
    pub fn start() -> anyhow::Result<Self> {
        let data_dir = TempDir::new()?;
        let addr = free_port()?;
        let mut cmd = Command::new(bin("deskbeam-server")?);
        cmd.env("RUST_LOG", "warn").args(["--listen", &addr.to_string(), "--data-dir"]).arg(data_dir.path());
        let proc = Proc::spawn(cmd)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(addr).is_err() {
            anyhow::ensure!(Instant::now() < deadline, "the server did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self { proc, addr, data_dir })
    }
}

/// Enrols `count` hosts with one `deskbeam-server host-token --count` run.
pub fn enrol_hosts(data_dir: &Path, count: usize) -> anyhow::Result<Vec<String>> {
    let out = Command::new(bin("deskbeam-server")?)
        .args(["host-token", "--name", "load", "--count", &count.to_string(), "--data-dir"])
        .arg(data_dir)
        .output()?;
    anyhow::ensure!(out.status.success(), "host-token --count failed: {}", String::from_utf8_lossy(&out.stderr));
    let tokens: Vec<String> = String::from_utf8(out.stdout)?.lines().map(str::to_string).collect();
    anyhow::ensure!(tokens.len() == count, "asked for {count} host tokens, got {}", tokens.len());
    Ok(tokens)
}

/// Nearest-rank percentiles of a set of durations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        let at = |q: f64| -> Duration {
            if samples.is_empty() {
                return Duration::ZERO;
            }
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[rank - 1]
        };
        Self { p50: at(0.50), p95: at(0.95), p99: at(0.99), max: at(1.0) }
    }
}

/// What a load run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub enrol: Duration,
    pub agents_connected: usize,
    pub agents_still_connected: usize,
    pub connect_wall: Duration,
    pub connect: Percentiles,
    pub negotiations_ok: usize,
    pub negotiation_wall: Duration,
    pub negotiation: Percentiles,
    pub offers_answered: u64,
    pub deletes_ok: usize,
    /// Failure kind → count (agents, negotiations and deletes).
    pub errors: BTreeMap<String, usize>,
    pub idle: ProcStat,
    pub with_agents: ProcStat,
    pub with_viewers: ProcStat,
    pub end: ProcStat,
    /// The server answered `/healthz` after everything.
    pub healthy_after: bool,
}

impl LoadReport {
    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }

    pub fn print(&self, config: &LoadConfig) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mib = |kib: u64| kib as f64 / 1024.0;
        let pct = |cpu: Duration, wall: Duration| 100.0 * cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9);
        println!("load: {} agents, {} WHEP negotiations, {} in flight", config.agents, config.negotiations, config.concurrency);
        println!("  enrol {} hosts (host-token --count): {:.2} s", config.agents, self.enrol.as_secs_f64());
        println!("  agents connected: {}/{} in {:.2} s (hello → link_created p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms)",
            self.agents_connected, config.agents, self.connect_wall.as_secs_f64(), ms(self.connect.p50), ms(self.connect.p99), ms(self.connect.max));
        let n = &self.negotiation;
        println!("  negotiations ok: {}/{} in {:.2} s ({:.0}/s); POST → 201 p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.negotiations_ok, config.negotiations, self.negotiation_wall.as_secs_f64(),
            self.negotiations_ok as f64 / self.negotiation_wall.as_secs_f64().max(1e-9), ms(n.p50), ms(n.p95), ms(n.p99), ms(n.max));
        println!("  offers answered by agents: {}; deletes ok: {}; agents still connected: {}", self.offers_answered, self.deletes_ok, self.agents_still_connected);
        println!("  errors: {}", if self.errors.is_empty() { "none".to_string() } else { format!("{:?}", self.errors) });
        println!("  server RSS: idle {:.1} MiB, {} agents {:.1} MiB, +{} viewers {:.1} MiB, end {:.1} MiB; peak (VmHWM) {:.1} MiB",
            mib(self.idle.rss_kib), self.agents_connected, mib(self.with_agents.rss_kib), self.negotiations_ok, mib(self.with_viewers.rss_kib), mib(self.end.rss_kib), mib(self.end.hwm_kib));
        println!("  server CPU: connecting {:.2} s ({:.0} % of one core), negotiating {:.2} s ({:.0} %); threads {}, open fds with agents {}",
            (self.with_agents.cpu - self.idle.cpu).as_secs_f64(), pct(self.with_agents.cpu - self.idle.cpu, self.connect_wall),
            (self.with_viewers.cpu - self.with_agents.cpu).as_secs_f64(), pct(self.with_viewers.cpu - self.with_agents.cpu, self.negotiation_wall),
            self.end.threads, self.with_agents.open_fds);
        println!("  server healthy afterwards: {}", if self.healthy_after { "yes" } else { "NO" });
    }
}

/// Runs the whole scenario against `server` (whose process is `pid`): enrol, connect agents,
/// negotiate, delete, check health. Failures are counted in the report, not returned.
pub async fn run(addr: SocketAddr, data_dir: &Path, pid: u32, config: LoadConfig) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(config.agents > 0 && config.concurrency > 0, "need at least one agent and one request in flight");
    let mut report = LoadReport { idle: ProcStat::read(pid)?, ..LoadReport::default() };
    let started = Instant::now();
    let tokens = enrol_hosts(data_dir, config.agents)?;
    report.enrol = started.elapsed();

    let per_link = config.negotiations.div_ceil(config.agents).clamp(1, 100) as u32;
    let agents = connect_agents(addr, &tokens, per_link, config.concurrency, &mut report).await;
    report.with_agents = ProcStat::read(pid)?;
    anyhow::ensure!(!agents.is_empty(), "no agent could connect: {:?}", report.errors);

    let resources = negotiate(addr, &agents, config, &mut report).await;
    report.with_viewers = ProcStat::read(pid)?;
    delete_viewers(addr, resources, config.concurrency, &mut report).await;

    report.offers_answered = agents.iter().map(FakeAgent::offers_answered).sum();
    report.agents_still_connected = agents.iter().filter(|a| a.is_connected()).count();
    report.healthy_after = healthz(addr).await;
    report.end = ProcStat::read(pid)?;
    Ok(report)
}

async fn connect_agents(addr: SocketAddr, tokens: &[String], per_link: u32, concurrency: usize, report: &mut LoadReport) -> Vec<FakeAgent> {
    let started = Instant::now();
    let results: Vec<(Duration, anyhow::Result<FakeAgent>)> = stream::iter(tokens)
        .map(|token| async move {
            let t0 = Instant::now();
            let agent = tokio::time::timeout(STEP_TIMEOUT, FakeAgent::connect(addr, token, per_link))
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("timed out")));
            (t0.elapsed(), agent)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    report.connect_wall = started.elapsed();
    let mut agents = Vec::new();
    let mut times = Vec::new();
    for (took, result) in results {
        match result {
            Ok(agent) => {
                times.push(took);
                agents.push(agent);
            }
            Err(e) => report.error(format!("agent: {e}")),
        }
    }
    report.agents_connected = agents.len();
    report.connect = Percentiles::of(times);
    agents
}

/// A negotiated viewer: its WHEP resource and the token that may delete it.
struct Resource {
    location: String,
    token: String,
}

async fn negotiate(addr: SocketAddr, agents: &[FakeAgent], config: LoadConfig, report: &mut LoadReport) -> Vec<Resource> {
    let started = Instant::now();
    let results: Vec<(Duration, Result<Resource, String>)> = stream::iter(0..config.negotiations)
        .map(|i| {
            let token = agents[i % agents.len()].link_token.clone();
            async move {
                let t0 = Instant::now();
                let posted = tokio::time::timeout(STEP_TIMEOUT, whep::post_offer(addr, &token, &viewer_offer(i as u64))).await;
                let took = t0.elapsed();
                let result = match posted {
                    Err(_) => Err("negotiation: timed out".to_string()),
                    Ok(Err(e)) => Err(format!("negotiation: {e}")),
                    Ok(Ok(r)) if r.status == 201 && r.body.starts_with("v=0") => match r.header("location") {
                        Some(location) => Ok(Resource { location: location.to_string(), token }),
                        None => Err("negotiation: 201 without Location".to_string()),
                    },
                    Ok(Ok(r)) => Err(format!("negotiation: HTTP {} {}", r.status, error_code(&r.body))),
                };
                (took, result)
            }
        })
        .buffer_unordered(config.concurrency)
        .collect()
        .await;
    report.negotiation_wall = started.elapsed();
    let mut resources = Vec::new();
    let mut times = Vec::new();
    for (took, result) in results {
        match result {
            Ok(resource) => {
                times.push(took);
                resources.push(resource);
            }
            Err(kind) => report.error(kind),
        }
    }
    report.negotiations_ok = resources.len();
    report.negotiation = Percentiles::of(times);
    resources
}

async fn delete_viewers(addr: SocketAddr, resources: Vec<Resource>, concurrency: usize, report: &mut LoadReport) {
    let results: Vec<Result<(), String>> = stream::iter(resources)
        .map(|r| async move {
            let auth = format!("Bearer {}", r.token);
            match tokio::time::timeout(STEP_TIMEOUT, whep::request(addr, "DELETE", &r.location, &[("Authorization", &auth)], b"")).await {
                Ok(Ok(resp)) if resp.status == 200 => Ok(()),
                Ok(Ok(resp)) => Err(format!("delete: HTTP {} {}", resp.status, error_code(&resp.body))),
                Ok(Err(e)) => Err(format!("delete: {e}")),
                Err(_) => Err("delete: timed out".to_string()),
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for result in results {
        match result {
            Ok(()) => report.deletes_ok += 1,
            Err(kind) => report.error(kind),
        }
    }
}

/// Does the server answer `GET /healthz` with 200 within a few seconds?
pub async fn healthz(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(10), whep::request(addr, "GET", "/healthz", &[], b"")).await,
        Ok(Ok(r)) if r.status == 200
    )
}

/// The stable code of a JSON error body (`{"error":{"code":…}}`), or an empty string.
pub fn error_code(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| v["error"]["code"].as_str().map(String::from)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let ms = |n: u64| Duration::from_millis(n);
        let p = Percentiles::of((1..=100).rev().map(ms).collect());
        assert_eq!((p.p50, p.p95, p.p99, p.max), (ms(50), ms(95), ms(99), ms(100)));
        let one = Percentiles::of(vec![ms(7)]);
        assert_eq!((one.p50, one.p99), (ms(7), ms(7)));
        assert_eq!(Percentiles::of(Vec::new()).max, Duration::ZERO);
    }
}
