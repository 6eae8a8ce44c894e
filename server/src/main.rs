//! `deskbeam-server` binary: flags → [`Config`], then [`deskbeam_server::run`].

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use deskbeam_server::turn::{RelayLimits, TurnConfig};
use deskbeam_server::{admin, Config, IceSettings, TlsFiles};

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
    /// Base URL of viewer links, e.g. https://beam.example.com [default: http(s)://<listen>].
    #[arg(long, value_parser = parse_public_url)]
    public_url: Option<String>,
    /// Take client addresses from X-Forwarded-For (only behind a reverse proxy that sets it).
    #[arg(long)]
    trust_proxy: bool,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    ice: IceArgs,
}

/// NAT traversal: the embedded TURN relay and the ICE servers handed to agents and viewers.
#[derive(Debug, clap::Args)]
struct IceArgs {
    /// Run the embedded TURN relay on this address, UDP and TCP (e.g. 0.0.0.0:3478).
    #[arg(long)]
    turn_listen: Option<SocketAddr>,
    /// Address relay sockets bind to and advertise [default: the --turn-listen address].
    #[arg(long, requires = "turn_listen")]
    turn_relay_ip: Option<std::net::IpAddr>,
    /// TURN realm.
    #[arg(long, default_value = "deskbeam")]
    turn_realm: String,
    /// Relay allocations held at once.
    #[arg(long, default_value_t = 500)]
    turn_max_allocations: usize,
    /// Relayed bits per second per allocation.
    #[arg(long, default_value_t = 40_000_000)]
    turn_max_bitrate: u64,
    /// Let the relay reach peers on private addresses (10/8, 172.16/12, 192.168/16, 100.64/10,
    /// fc00::/7). Off by default, so that a viewer cannot reach the server's own network through
    /// the relay; turn it on when agents and viewers meet on a private network.
    #[arg(long, requires = "turn_listen")]
    turn_allow_private: bool,
    /// STUN/TURN URL handed to agents and viewers (repeatable), e.g. an external coturn's
    /// `turn:turn.example.com:3478?transport=udp` sharing `<data-dir>/turn-secret` as its
    /// static-auth-secret [default with --turn-listen: the relay at the --public-url host].
    #[arg(long = "ice-url")]
    ice_urls: Vec<String>,
    /// Lifetime of TURN credentials, in seconds (they open allocations only until then).
    #[arg(long, default_value_t = 600)]
    turn_credential_ttl: u64,
}

impl IceArgs {
    fn settings(self) -> IceSettings {
        let relay = self.turn_listen.map(|listen| TurnConfig {
            listen,
            relay_ip: self.turn_relay_ip.unwrap_or(listen.ip()),
            realm: self.turn_realm.clone(),
            limits: RelayLimits {
                max_allocations: self.turn_max_allocations,
                bytes_per_sec: self.turn_max_bitrate / 8,
                burst_bytes: (self.turn_max_bitrate / 8).max(500_000),
                allow_private_peers: self.turn_allow_private,
                ..RelayLimits::default()
            },
        });
        IceSettings { relay, urls: self.ice_urls, credential_ttl_secs: self.turn_credential_ttl }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a host and print its agent token (only the token) on stdout; or list/revoke tokens.
    HostToken {
        #[command(subcommand)]
        action: Option<HostTokenAction>,
        /// Name of the host, for humans.
        #[arg(long, default_value = "host")]
        name: String,
        /// Bind the host to this user account (its dashboard manages the host's links).
        #[arg(long)]
        user: Option<String>,
        /// Enrol this many hosts (named <name>-1, <name>-2, …), one token per line.
        #[arg(long, conflicts_with = "user")]
        count: Option<u32>,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Read the audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
}

#[derive(Debug, Subcommand)]
enum HostTokenAction {
    /// List host tokens: id, host id, host name, owner, created at, state.
    List,
    /// Revoke a host token by its id (jti).
    Revoke { jti: String },
}

#[derive(Debug, Subcommand)]
enum UserAction {
    /// Create a user; the password is the first line of stdin (at least 10 characters).
    Add { name: String },
    /// List users.
    List,
    /// Turn on TOTP for a user and print the otpauth:// URI for an authenticator app.
    Totp { name: String },
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Print the whole audit log as JSON lines.
    Export,
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
    if let Some(command) = cli.command {
        return admin(command, &data_dir);
    }
    let tls = match (cli.tls_cert, cli.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let config = Config {
        listen: cli.listen,
        data_dir,
        public_url: cli.public_url,
        trust_proxy: cli.trust_proxy,
        tls,
        ice: cli.ice.settings(),
    };
    raise_open_file_limit();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(deskbeam_server::run(config, shutdown_signal()))?;
    Ok(())
}

/// Lifts the soft limit on open files to the hard limit: every agent WebSocket and every
/// viewer request holds a descriptor, and the usual soft default (1024) caps a server at about
/// a thousand agents.
fn raise_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        tracing::info!(limit = ?limit.current, "open file limit");
        return;
    }
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::info!(from = ?limit.current, to = ?limit.maximum, "raised the open file limit")
        }
        Err(e) => {
            tracing::warn!(error = %e, limit = ?limit.current, "cannot raise the open file limit")
        }
    }
}

/// The administrative subcommands: each opens the data dir, acts, prints, exits.
fn admin(command: Command, data_dir: &Path) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match command {
        Command::HostToken {
            action: None,
            name,
            count: Some(count),
            ..
        } => {
            admin::create_host_tokens(data_dir, &name, count, &mut stdout)
                .context("creating host tokens")?;
        }
        Command::HostToken {
            action: None,
            name,
            user,
            count: None,
        } => {
            let token = admin::create_host_token(data_dir, &name, user.as_deref())
                .context("creating a host token")?;
            writeln!(stdout, "{token}")?;
        }
        Command::HostToken {
            action: Some(HostTokenAction::List),
            ..
        } => {
            admin::list_host_tokens(data_dir, &mut stdout)?;
        }
        Command::HostToken {
            action: Some(HostTokenAction::Revoke { jti }),
            ..
        } => {
            admin::revoke_host_token(data_dir, &jti)?;
            eprintln!("host token {jti} revoked");
        }
        Command::User {
            action: UserAction::Add { name },
        } => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            let password = line.trim_end_matches(['\r', '\n']);
            admin::add_user(data_dir, &name, password)?;
            eprintln!("user {name} created");
        }
        Command::User {
            action: UserAction::List,
        } => admin::list_users(data_dir, &mut stdout)?,
        Command::User {
            action: UserAction::Totp { name },
        } => {
            let uri = admin::enable_totp(data_dir, &name)?;
            writeln!(stdout, "{uri}")?;
        }
        Command::Audit {
            action: AuditAction::Export,
        } => {
            admin::export_audit(data_dir, &mut stdout)?;
        }
    }
    stdout.flush()?;
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
