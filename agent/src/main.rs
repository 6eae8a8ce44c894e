//! `deskbeam-agent`: share this desktop. Parses flags, then hands over to the library.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use deskbeam_agent::capture::{FrameSource, SyntheticScreen};
use deskbeam_agent::audio::{pulse_sinks, start_host_audio, AudioSettings, ViewerAudio};
use deskbeam_agent::chat::ChatService;
use deskbeam_agent::signaling::Services;
use deskbeam_agent::encode::{Encoder, EncoderSettings, H264Encoder};
use deskbeam_agent::input::console::HostCommand;
use deskbeam_agent::input::sink::{SinkError, SinkFactory};
use deskbeam_agent::input::{ConsentPolicy, ControlService, EnigoSink, Injector, InputSink};
use deskbeam_agent::pipeline::{Pipeline, PipelineSettings};
use deskbeam_agent::signaling::AgentEvent;
use deskbeam_agent::transport::TransportConfig;
use deskbeam_agent::ShareConfig;
use deskbeam_agent::auth::now_unix;
use deskbeam_agent::links::{format_link, format_viewer, random_pin, LinkClient};
use deskbeam_proto::api::CreateLinkRequest;
use deskbeam_proto::Scope;

#[derive(Parser)]
#[command(name = "deskbeam-agent", version, about = "Share this desktop with a browser through a Deskbeam server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Connect to the server, share the display in $DISPLAY and print a viewer link.
    Share(ShareArgs),
    /// Create, list and revoke viewer links for this host.
    #[command(subcommand)]
    Link(LinkCommand),
    /// Who is watching this host now (link, address, since when).
    Viewers {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the audio sources `--mic` can use (and the monitors behind `--system-audio`).
    Devices,
    /// Disconnect a viewer (id from `viewers`).
    Kick {
        #[command(flatten)]
        server: ServerArgs,
        id: String,
    },
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Base URL of the Deskbeam server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    server: String,
    /// Host token from `deskbeam-server host-token`.
    #[arg(long, env = "DESKBEAM_TOKEN", hide_env_values = true)]
    token: String,
}

#[derive(Subcommand)]
enum LinkCommand {
    /// Create a link; prints `link: <url>` (and `pin: <digits>` with --pin).
    Create {
        #[command(flatten)]
        server: ServerArgs,
        /// How long the link works (e.g. 30m, 8h, 7days).
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// view or control.
        #[arg(long, default_value = "view")]
        scope: Scope,
        #[arg(long, default_value_t = 5)]
        max_viewers: u32,
        /// Require a PIN: a random 6-digit one is printed (or give --pin-digits N).
        #[arg(long)]
        pin: bool,
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u8).range(4..=12))]
        pin_digits: u8,
        /// Works for one viewer only.
        #[arg(long)]
        single_use: bool,
        /// A name for the link (who it is for).
        #[arg(long)]
        label: Option<String>,
        /// Start working only after this delay (e.g. 10m).
        #[arg(long, value_parser = humantime::parse_duration)]
        starts_in: Option<Duration>,
    },
    /// List this host's links.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Revoke a link: its viewers are disconnected at once.
    Revoke {
        #[command(flatten)]
        server: ServerArgs,
        /// The link id (from `link list`).
        id: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SourceKind {
    /// The X11 display in $DISPLAY.
    X11,
    /// A generated test picture (no display needed).
    Synthetic,
}

#[derive(clap::Args)]
struct ShareArgs {
    /// Base URL of the Deskbeam server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    server: String,
    /// Host token from `deskbeam-server host-token`.
    #[arg(long, env = "DESKBEAM_TOKEN", hide_env_values = true)]
    token: String,
    /// How long the viewer link works (e.g. 30m, 1h, 2days).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    ttl: Duration,
    /// What the link allows: view (or control, once remote input is enabled).
    #[arg(long, default_value = "view")]
    scope: Scope,
    /// How many viewers may watch through the link at once.
    #[arg(long, default_value_t = 5)]
    max_viewers: u32,
    /// Name of this machine as viewers see it (default: the host name).
    #[arg(long)]
    name: Option<String>,
    /// Capture and encode rate.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Video bitrate, e.g. 4M or 1500k.
    #[arg(long, default_value = "4M", value_parser = parse_bitrate)]
    bitrate: u32,
    /// Local UDP address(es) for media (repeatable). Default: every interface plus loopback.
    #[arg(long = "ice-addr")]
    ice_addrs: Vec<String>,
    /// What to share.
    #[arg(long, value_enum, default_value = "x11")]
    source: SourceKind,
    /// How control requests from `control` links are answered: prompt (ask here), auto, deny.
    #[arg(long, default_value = "prompt")]
    consent: ConsentPolicy,
    /// Microphone to send to viewers: a source name from `devices`, default, or none.
    #[arg(long, default_value = "none")]
    mic: String,
    /// Also send what this computer plays (the default output's monitor).
    #[arg(long)]
    system_audio: bool,
}

fn parse_bitrate(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let (digits, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1_000),
        Some('m' | 'M') => (&s[..s.len() - 1], 1_000_000),
        _ => (s, 1),
    };
    let value: f64 = digits.parse().map_err(|_| format!("not a bitrate: {s:?} (try 4M or 1500k)"))?;
    let bps = value * mult as f64;
    if !(0.0..=u32::MAX as f64).contains(&bps) {
        return Err(format!("bitrate out of range: {s:?}"));
    }
    Ok(bps as u32)
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "desktop".into())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,rtc=warn,rtc_ice=error,rtc_dtls=error,webrtc=warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Share(args) => share(args),
        Command::Link(cmd) => link(cmd),
        Command::Viewers { server } => viewers(&server),
        Command::Devices => devices(),
        Command::Kick { server, id } => client(&server).and_then(|c| Ok(c.kick(&id)?)).map(|()| println!("kicked: {id}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deskbeam-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn client(server: &ServerArgs) -> anyhow::Result<LinkClient> {
    let base = url::Url::parse(&server.server)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| anyhow::anyhow!("--server must be an http:// or https:// URL"))?;
    anyhow::ensure!(!server.token.trim().is_empty(), "a host token is required (--token or DESKBEAM_TOKEN)");
    Ok(LinkClient::new(base, server.token.trim().to_string()))
}

fn devices() -> anyhow::Result<()> {
    let sources = deskbeam_agent::audio::pulse::list_sources()?;
    let mut out = std::io::stdout().lock();
    for s in sources {
        let kind = if s.is_monitor { "monitor" } else { "input" };
        writeln!(out, "{kind}\t{}\t{}", s.name, s.description)?;
    }
    Ok(())
}

fn viewers(server: &ServerArgs) -> anyhow::Result<()> {
    let now = now_unix();
    let mut out = std::io::stdout().lock();
    for v in client(server)?.viewers()? {
        writeln!(out, "{}", format_viewer(&v, now))?;
    }
    Ok(())
}

fn link(cmd: LinkCommand) -> anyhow::Result<()> {
    match cmd {
        LinkCommand::Create { server, ttl, scope, max_viewers, pin, pin_digits, single_use, label, starts_in } => {
            let pin = pin.then(|| random_pin(usize::from(pin_digits)));
            let req = CreateLinkRequest {
                ttl_secs: ttl.as_secs().max(1),
                scope,
                max_viewers,
                label,
                pin: pin.clone(),
                single_use,
                starts_at: starts_in.map(|d| now_unix() + d.as_secs()),
                host_id: None,
            };
            let created = client(&server)?.create(&req)?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "link: {}", created.url.unwrap_or_default())?;
            if let Some(pin) = pin {
                writeln!(out, "pin: {pin}")?;
            }
            writeln!(out, "id: {}", created.id)?;
        }
        LinkCommand::List { server } => {
            let now = now_unix();
            let mut out = std::io::stdout().lock();
            for l in client(&server)?.list()? {
                writeln!(out, "{}", format_link(&l, now))?;
            }
        }
        LinkCommand::Revoke { server, id } => {
            let revoked = client(&server)?.revoke(&id)?;
            writeln!(std::io::stdout().lock(), "revoked: {}", revoked.id)?;
        }
    }
    Ok(())
}

fn share(args: ShareArgs) -> anyhow::Result<()> {
    let transport = if args.ice_addrs.is_empty() { TransportConfig::default() } else { TransportConfig { udp_addrs: args.ice_addrs, ice_servers: Vec::new() } };
    let config = ShareConfig::new(
        &args.server,
        &args.token,
        args.ttl,
        args.scope,
        args.max_viewers,
        args.name.unwrap_or_else(host_name),
        args.fps,
        args.bitrate,
        transport,
    )?;
    let sink: SinkFactory = match args.source {
        SourceKind::X11 => Box::new(|| Ok(Box::new(EnigoSink::open()?) as Box<dyn InputSink>)),
        SourceKind::Synthetic => Box::new(|| Err(SinkError::Open("the synthetic screen takes no input".into()))),
    };
    let consent = args.consent;
    let audio = AudioSettings { mic: AudioSettings::parse_mic(&args.mic), system_audio: args.system_audio };
    let source: deskbeam_agent::capture::SourceFactory = match args.source {
        SourceKind::X11 => {
            if std::env::var_os("DISPLAY").is_none() {
                anyhow::bail!("DISPLAY is not set: run inside an X session (or start Xvfb) to share a screen");
            }
            Box::new(|| Ok(Box::new(deskbeam_agent::capture::X11Source::open()?) as Box<dyn FrameSource>))
        }
        SourceKind::Synthetic => {
            let screen = SyntheticScreen::new(1280, 720, [30, 90, 160]);
            screen.set_animated(true);
            Box::new(move || Ok(Box::new(screen.source()) as Box<dyn FrameSource>))
        }
    };
    let settings = EncoderSettings { bitrate_bps: config.bitrate_bps, max_fps: config.fps as f32 };
    let pipeline = Pipeline::start(source, Box::new(move || Box::new(H264Encoder::new(settings)) as Box<dyn Encoder>), PipelineSettings { fps: config.fps })
        .context("cannot start screen capture")?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(print_events(events_rx));
        let (questions_tx, questions_rx) = tokio::sync::mpsc::unbounded_channel();
        let (audit_tx, audit_rx) = tokio::sync::mpsc::unbounded_channel();
        let control = ControlService::start(consent, Injector::start(sink), questions_tx, audit_tx);
        let commands = deskbeam_agent::input::console::start(questions_rx);
        let (chat, chat_lines) = ChatService::start(&config.name);
        let audio = ViewerAudio { outgoing: start_host_audio(&audio), incoming: Some(pulse_sinks()) };
        tokio::spawn(deskbeam_agent::input::console::print_chat(chat_lines));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(host_commands(commands, control.clone(), chat.clone(), stop_tx));
        let shutdown = async move {
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = stop_rx => tracing::info!("the host stopped sharing"),
            }
        };
        let services = Services { control, chat, audio };
        deskbeam_agent::run(config, pipeline.feed(), services, audit_rx, events_tx, shutdown).await?;
        drop(pipeline);
        Ok(())
    })
}

async fn host_commands(
    mut commands: tokio::sync::mpsc::UnboundedReceiver<HostCommand>,
    control: ControlService,
    chat: ChatService,
    stop: tokio::sync::oneshot::Sender<()>,
) {
    while let Some(command) = commands.recv().await {
        match command {
            HostCommand::Revoke => control.revoke(),
            HostCommand::Status => eprintln!("deskbeam: {}", control.status().await),
            HostCommand::Chat(text) => chat.say_as_host(&text),
            HostCommand::Stop => {
                let _ = stop.send(());
                return;
            }
        }
    }
}

async fn print_events(mut events: tokio::sync::mpsc::UnboundedReceiver<AgentEvent>) {
    while let Some(event) = events.recv().await {
        match event {
            AgentEvent::LinkCreated { url, expires_at } => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "link: {url}");
                let _ = out.flush();
                tracing::info!(expires_at, "viewer link ready (printed on stdout)");
            }
            AgentEvent::ViewerJoined { viewer_id, scope } => tracing::info!(%viewer_id, %scope, "viewer joining"),
            AgentEvent::ViewerLeft { viewer_id, reason } => tracing::info!(%viewer_id, %reason, "viewer left"),
            AgentEvent::Connected { host_id } => tracing::debug!(%host_id, "registered with the server"),
            AgentEvent::Disconnected { reason } => tracing::debug!(%reason, "disconnected"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("stopping");
}
