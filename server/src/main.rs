//! `deskbeam-server` binary: flags → [`Config`], then [`deskbeam_server::run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use deskbeam_server::Config;

#[derive(Debug, Parser)]
#[command(
    name = "deskbeam-server",
    version,
    about = "Deskbeam screen-sharing server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the database and the signing key live [default: <user data dir>/deskbeam].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Base URL of viewer links, e.g. https://beam.example.com [default: http://<listen>].
    #[arg(long, value_parser = parse_public_url)]
    public_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a host and print its agent token (only the token) on stdout.
    HostToken {
        /// Name of the host, for humans.
        #[arg(long, default_value = "host")]
        name: String,
    },
}

fn parse_public_url(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !url.contains('#') && !url.contains('?') => {
            Ok(url.to_string())
        }
        _ => Err(format!(
            "{raw:?} is not an http(s) URL without query or fragment"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("deskbeam-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => dirs::data_dir()
            .context("no user data directory; pass --data-dir")?
            .join("deskbeam"),
    };
    if let Some(Command::HostToken { name }) = cli.command {
        let token = deskbeam_server::create_host_token(&data_dir, &name)
            .context("creating a host token")?;
        println!("{token}");
        return Ok(());
    }
    let config = Config {
        listen: cli.listen,
        data_dir,
        public_url: cli.public_url,
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(deskbeam_server::run(config, shutdown_signal()))?;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
