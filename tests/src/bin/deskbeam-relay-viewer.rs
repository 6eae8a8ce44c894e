//! `deskbeam-relay-viewer --server ADDR --token T --udp-addr IP:0 [--frames N] [--timeout-secs S]`:
//! watches one stream with the server's ICE servers. Prints `streaming` once the first frames are
//! in, then `report: {json}` (selected candidate pair, bytes, frames). The relay tests run it
//! inside a network namespace.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The server's HTTP address as this namespace reaches it.
    #[arg(long)]
    server: std::net::SocketAddr,
    /// Link token (taken from the environment by default, so it stays out of `ps`).
    #[arg(long, env = "DESKBEAM_LINK_TOKEN", hide_env_values = true)]
    token: String,
    /// Local address to gather host candidates on.
    #[arg(long)]
    udp_addr: String,
    #[arg(long, default_value_t = 30)]
    frames: u64,
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

fn main() -> ExitCode {
    deskbeam_tests::init_tracing();
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("deskbeam-relay-viewer: {e}");
            return ExitCode::FAILURE;
        }
    };
    let timeout = Duration::from_secs(args.timeout_secs);
    let streaming = || println!("streaming");
    match runtime.block_on(deskbeam_tests::relay_view::watch(args.server, &args.token, &args.udp_addr, args.frames, timeout, streaming)) {
        Ok(report) => {
            println!("report: {}", report.to_json());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("deskbeam-relay-viewer: {e:#}");
            ExitCode::FAILURE
        }
    }
}
