//! `deskbeam-load`: many agents and WHEP negotiations against a real `deskbeam-server` on
//! loopback; prints connect time, negotiation percentiles, errors, and the server's memory
//! (VmRSS, VmHWM) and CPU. No assertions; numbers only (`make bench` runs 1000/1000).
//!
//! By default it starts its own server (the `deskbeam-server` next to this binary) with a temp
//! data dir. `--addr A --data-dir D --pid P` points it at a server already running on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use deskbeam_tests::load::{self, LoadConfig, LoadServer};
use deskbeam_tests::procstat::raise_open_file_limit;

#[derive(Debug, Parser)]
#[command(name = "deskbeam-load", about = "Load a Deskbeam server with fake agents and WHEP viewers")]
struct Cli {
    /// Fake agents to connect (one host each).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    agents: u64,
    /// WHEP negotiations to run (spread over the agents).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    negotiations: u64,
    /// Connections or requests in flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1000))]
    concurrency: u64,
    /// A running server on loopback (with --data-dir and --pid) instead of starting one.
    #[arg(long, requires_all = ["data_dir", "pid"])]
    addr: Option<SocketAddr>,
    /// The running server's data dir (hosts are enrolled there).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The running server's process id (for memory and CPU).
    #[arg(long)]
    pid: Option<u32>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into())).with_writer(std::io::stderr).init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deskbeam-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = LoadConfig { agents: cli.agents as usize, negotiations: cli.negotiations as usize, concurrency: cli.concurrency as usize };
    let limit = raise_open_file_limit();
    println!("open file limit of the load generator: {limit:?}");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = match (cli.addr, cli.data_dir, cli.pid) {
        (Some(addr), Some(data_dir), Some(pid)) => {
            anyhow::ensure!(addr.ip().is_loopback(), "the load generator only targets loopback, not {addr}");
            runtime.block_on(load::run(addr, &data_dir, pid, config))?
        }
        _ => {
            let server = LoadServer::start()?;
            runtime.block_on(load::run(server.addr, server.data_dir.path(), server.proc.pid(), config))?
        }
    };
    report.print(&config);
    Ok(())
}
