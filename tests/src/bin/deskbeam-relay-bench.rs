//! `deskbeam-relay-bench`: what the embedded TURN relay costs. Starts the real server with
//! `--turn-listen` on loopback, gets credentials the way a viewer does (a link from the API, then
//! `GET /whep/ice-servers`), and relays N streams at a 1080p screen stream's rate (4 Mbit/s in
//! 1200-byte packets, the agent's default bitrate cap): a peer socket sends to each allocation's
//! relayed address, the TURN client receives ChannelData. Prints delivered throughput, loss and
//! the server's CPU per stream; never asserts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskbeam_proto::ice::IceServerList;
use deskbeam_tests::procs::{bin, free_port, tempdir::TempDir, Proc};
use deskbeam_tests::procstat::ProcStat;
use deskbeam_tests::turn_client::TurnClient;
use deskbeam_tests::whep;
use tokio::net::UdpSocket;

const STREAM_BPS: u64 = 4_000_000;
const PACKET: usize = 1200;
const TICK: Duration = Duration::from_millis(10);
const MEASURE: Duration = Duration::from_secs(4);
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Stream {
    client: Arc<TurnClient>,
    peer: UdpSocket,
}

async fn link_token(http: SocketAddr, host_token: &str) -> anyhow::Result<String> {
    let auth = format!("Bearer {host_token}");
    let body = br#"{"ttl_secs":3600,"scope":"view","max_viewers":5}"#;
    let r = whep::request(http, "POST", "/api/links", &[("Authorization", &auth), ("Content-Type", "application/json")], body).await?;
    anyhow::ensure!(r.status == 201, "POST /api/links: {} {}", r.status, r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body)?;
    let url = v["url"].as_str().unwrap_or_default();
    Ok(whep::token_from_link(url).ok_or_else(|| anyhow::anyhow!("no token in {url}"))?.to_string())
}

/// One stream's allocation with fresh credentials from `GET /whep/ice-servers`.
async fn open_stream(http: SocketAddr, turn: SocketAddr, link: &str) -> anyhow::Result<Stream> {
    let auth = format!("Bearer {link}");
    let r = whep::request(http, "GET", "/whep/ice-servers", &[("Authorization", &auth)], b"").await?;
    anyhow::ensure!(r.status == 200, "GET /whep/ice-servers: {} {}", r.status, r.body);
    let list: IceServerList = serde_json::from_str(&r.body)?;
    let server = list.ice_servers.into_iter().find(|s| s.username.is_some()).ok_or_else(|| anyhow::anyhow!("no TURN server"))?;
    let (user, password) = (server.username.unwrap_or_default(), server.credential.unwrap_or_default());
    let client = TurnClient::allocate(turn, LOOPBACK, &user, &password).await?;
    let peer = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0)).await?;
    client.bind_channel(0x4000, peer.local_addr()?).await?;
    peer.connect(client.relayed).await?;
    Ok(Stream { client: Arc::new(client), peer })
}

/// Relays `streams` for [`MEASURE`]; returns (sent bytes, received payload bytes, server CPU s).
async fn run_step(streams: &[Stream], server_pid: u32) -> anyhow::Result<(u64, u64, f64)> {
    let received = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = streams
        .iter()
        .map(|s| {
            let (client, received) = (Arc::clone(&s.client), Arc::clone(&received));
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok(n) = client.socket.recv(&mut buf).await {
                    // ChannelData: 4-byte header, then the payload.
                    received.fetch_add(n.saturating_sub(4) as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let payload = vec![0x5au8; PACKET];
    let per_tick = (STREAM_BPS / 8) as f64 * TICK.as_secs_f64();
    let cpu_before = ProcStat::read(server_pid)?.cpu;
    let started = Instant::now();
    let mut owed = vec![0f64; streams.len()];
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(TICK);
    while started.elapsed() < MEASURE {
        tick.tick().await;
        for (s, debt) in streams.iter().zip(owed.iter_mut()) {
            *debt += per_tick;
            while *debt >= PACKET as f64 {
                *debt -= PACKET as f64;
                if s.peer.send(&payload).await.is_ok() {
                    sent += PACKET as u64;
                }
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cpu = (ProcStat::read(server_pid)?.cpu - cpu_before).as_secs_f64();
    for r in readers {
        r.abort();
    }
    Ok((sent, received.load(Ordering::Relaxed), cpu))
}

async fn bench() -> anyhow::Result<()> {
    let data = TempDir::new()?;
    let token_out = Command::new(bin("deskbeam-server")?).arg("host-token").arg("--data-dir").arg(data.path()).output()?;
    anyhow::ensure!(token_out.status.success(), "host-token failed");
    let host_token = String::from_utf8(token_out.stdout)?.trim().to_string();
    let http = free_port()?;
    let turn = free_port()?;
    let mut cmd = Command::new(bin("deskbeam-server")?);
    cmd.args(["--listen", &http.to_string(), "--turn-listen", &turn.to_string(), "--data-dir"]).arg(data.path());
    let server = Proc::spawn(cmd)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(http).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let link = link_token(http, &host_token).await?;

    println!("\n== TURN relay: relayed 1080p screen streams (4 Mbit/s each, 1200-byte packets, loopback) ==");
    println!("{:>8} {:>12} {:>14} {:>8} {:>12} {:>14} {:>16}", "streams", "offered", "delivered", "loss", "server CPU", "CPU/stream", "streams per core");
    let mut streams: Vec<Stream> = Vec::new();
    for n in [1usize, 8, 32, 64, 128] {
        while streams.len() < n {
            streams.push(open_stream(http, turn, &link).await?);
        }
        let (sent, got, cpu) = run_step(&streams, server.pid()).await?;
        let secs = MEASURE.as_secs_f64();
        let core_pct = cpu / secs * 100.0;
        let per_stream = core_pct / n as f64;
        let loss = if sent == 0 { 0.0 } else { 100.0 * (1.0 - got as f64 / sent as f64) };
        println!(
            "{:>8} {:>9.1} Mb/s {:>9.1} Mb/s {:>7.2}% {:>10.1} % {:>12.2} % {:>16.0}",
            n,
            sent as f64 * 8.0 / secs / 1e6,
            got as f64 * 8.0 / secs / 1e6,
            loss.max(0.0),
            core_pct,
            per_stream,
            if per_stream > 0.0 { 100.0 / per_stream } else { f64::INFINITY },
        );
    }
    println!("(server CPU = user+system time of deskbeam-server over the run / wall time; 100 % = one core. The load generator shares the machine.)");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(bench())
}
