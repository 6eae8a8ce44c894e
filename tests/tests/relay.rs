//! NAT traversal on real topologies: the server, the agent and the viewer each in their own
//! network namespace (see `deskbeam_tests::netns`), the real `deskbeam-server` (with its
//! embedded TURN relay) and `deskbeam-agent --source synthetic`, and a viewer that takes the
//! server's ICE servers. The outcome is read from the viewer's selected candidate pair and from
//! nftables counters in the server's namespace, never guessed.
//!
//! Needs root (`ip netns`); skips loudly otherwise, fails under `DESKBEAM_REQUIRE_ALL=1`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use deskbeam_tests::netns::{self, Topology, AGENT_IP, SERVER_IP, VIEWER_IP};
use deskbeam_tests::procs::{bin, tempdir::TempDir, Proc};
use deskbeam_tests::relay_view::ViewReport;
use deskbeam_tests::whep::token_from_link;

const HTTP_PORT: u16 = 8080;
/// Frames the viewer must receive (the synthetic screen animates at 30 fps).
const FRAMES: &str = "100";

/// A server with its relay in `ns`, and an agent sharing the synthetic screen from `agent_ns`.
struct Share {
    _agent: Proc,
    server: Proc,
    link_token: String,
    _data: TempDir,
}

fn start_share(topo: &Topology) -> anyhow::Result<Share> {
    let data = TempDir::new()?;
    // Enrol the host first: the data dir's database is then in place before the server opens it.
    let token = host_token(data.path())?;
    let mut cmd = topo.server.command(bin("deskbeam-server")?);
    // The namespaces are a private network (10.x): the relay must be allowed to reach it.
    cmd.args(["--listen", &format!("{SERVER_IP}:{HTTP_PORT}"), "--turn-listen", &format!("{SERVER_IP}:3478"), "--turn-allow-private", "--data-dir"])
        .arg(data.path())
        .env("RUST_LOG", "info");
    let server = Proc::spawn(cmd)?;
    anyhow::ensure!(server.stderr_contains("public_url", Duration::from_secs(20)), "the server did not start");
    let mut cmd = topo.agent.command(bin("deskbeam-agent")?);
    cmd.env("DESKBEAM_TOKEN", token).args([
        "share",
        "--server",
        &format!("http://{SERVER_IP}:{HTTP_PORT}"),
        "--source",
        "synthetic",
        "--consent",
        "deny",
        "--ice-addr",
        &format!("{AGENT_IP}:0"),
    ]);
    let agent = Proc::spawn(cmd)?;
    let link = agent.wait_line("link:", Duration::from_secs(30))?;
    let link_token = token_from_link(&link).ok_or_else(|| anyhow::anyhow!("no token in {link}"))?.to_string();
    Ok(Share { _agent: agent, server, link_token, _data: data })
}

fn host_token(data_dir: &Path) -> anyhow::Result<String> {
    let out = Command::new(bin("deskbeam-server")?).arg("host-token").arg("--data-dir").arg(data_dir).output()?;
    anyhow::ensure!(out.status.success(), "host-token: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

/// What the viewer reported, and the server's counters while media was flowing (from its
/// first frames to its last).
struct Watched {
    report: ViewReport,
    /// Relay-port bytes (UDP + TCP, both directions) and routed bytes during streaming.
    relay_delta: u64,
    forwarded_delta: u64,
}

/// Runs the viewer in `viewer_ns` until it got its frames.
fn watch(topo: &Topology, share: &Share) -> anyhow::Result<Watched> {
    let mut cmd = topo.viewer.command(bin("deskbeam-relay-viewer")?);
    cmd.env("DESKBEAM_LINK_TOKEN", &share.link_token)
        .args(["--server", &format!("{SERVER_IP}:{HTTP_PORT}"), "--udp-addr", &format!("{VIEWER_IP}:0"), "--frames", FRAMES])
        .args(["--timeout-secs", "30"]);
    let viewer = Proc::spawn(cmd)?;
    let counters = || -> anyhow::Result<(u64, u64)> {
        let (udp, tcp) = turn_bytes(topo);
        Ok((udp + tcp, topo.server.counter_bytes("forwarded")?))
    };
    viewer.wait_line("streaming", Duration::from_secs(40))?;
    let (relay_before, forwarded_before) = counters()?;
    let line = viewer.wait_line("report:", Duration::from_secs(40))?;
    let (relay_after, forwarded_after) = counters()?;
    eprintln!("viewer report: {line}");
    Ok(Watched {
        report: ViewReport::from_json(&line)?,
        relay_delta: relay_after - relay_before,
        forwarded_delta: forwarded_after - forwarded_before,
    })
}

/// Bytes through the relay's port, both directions: (UDP, TCP).
fn turn_bytes(topo: &Topology) -> (u64, u64) {
    let read = |name| topo.server.counter_bytes(name).unwrap_or(0);
    (read("turn_udp") + read("turn_udp_out"), read("turn_tcp") + read("turn_tcp_out"))
}

#[test]
fn without_a_route_between_them_the_stream_arrives_through_the_relay() {
    if !netns::available("relay: no route") {
        return;
    }
    let topo = Topology::build(false).expect("topology");
    // No path: the viewer's namespace has no route to the agent's at all.
    let route = topo.viewer.ip(&["route", "get", AGENT_IP]);
    assert!(route.is_err(), "the viewer must not reach the agent directly: {route:?}");
    let share = start_share(&topo).expect("share");
    let Watched { report, relay_delta, forwarded_delta } = watch(&topo, &share).expect("viewer");
    assert!(report.ice_urls.iter().any(|u| u == &format!("turn:{SERVER_IP}:3478?transport=udp")), "{report:?}");
    assert!(report.frames >= 100, "stream did not arrive: {report:?}");
    // The viewer's end of the selected pair is its relay candidate, or its host candidate talking
    // to the agent's relay candidate (the only other address it can reach): either way the media
    // went through the relay's port, and nothing was routed.
    assert!(["relay", "host"].contains(&report.local_type.as_str()), "{report:?}");
    eprintln!("while streaming: relay port {relay_delta} bytes, routed {forwarded_delta}; video payload {} bytes", report.bytes);
    assert!(relay_delta > 10 * 1024, "the relay's port carried only {relay_delta} bytes while video flowed");
    assert_eq!(topo.server.counter_bytes("forwarded").expect("counter"), 0, "nothing is routed");
    assert!(share.server.stderr_contains("TURN allocation", Duration::from_secs(1)));
}

#[test]
fn a_direct_path_is_preferred_and_the_relay_carries_no_media() {
    if !netns::available("relay: direct") {
        return;
    }
    let topo = Topology::build(true).expect("topology");
    topo.viewer.ip(&["route", "get", AGENT_IP]).expect("a route from the viewer to the agent");
    let share = start_share(&topo).expect("share");
    let Watched { report, relay_delta, forwarded_delta } = watch(&topo, &share).expect("viewer");
    assert!(report.frames >= 100, "stream did not arrive: {report:?}");
    assert_eq!(report.local_type, "host", "a relayed pair was selected although a direct one works: {report:?}");
    let (udp, tcp) = turn_bytes(&topo);
    eprintln!("while streaming: routed {forwarded_delta} bytes, relay port {relay_delta}; in all: relay port {udp} UDP + {tcp} TCP");
    assert!(forwarded_delta > 10 * 1024, "the media did not take the direct path: {forwarded_delta} bytes routed");
    // Allocations and connectivity checks happened before; while media flows the relay is idle.
    assert!(relay_delta < 2048, "the relay carried {relay_delta} bytes while the direct path streamed");
}

#[test]
fn with_udp_blocked_for_the_viewer_chromium_watches_over_turn_tcp() {
    if !netns::available("relay: UDP blocked") || !deskbeam_tests::require_tools("relay: UDP blocked", &["node", "chromium"]) {
        return;
    }
    let topo = Topology::build(false).expect("topology");
    Topology::block_udp(&topo.viewer).expect("firewall");
    let share = start_share(&topo).expect("share");
    let url = format!("http://{SERVER_IP}:{HTTP_PORT}/view#{}", share.link_token);
    let driver = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/view.mjs");
    let out = topo
        .viewer
        .command("node")
        .arg(driver)
        .args(["--url", &url, "--mode", "pixels", "--timeout-ms", "40000", "--watch-ms", "3000", "--poll-ms", "1500"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the browser did not show the stream: {text}");
    let last: serde_json::Value = text.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or_default();
    eprintln!("browser stats: {}", last["stats"]);
    assert_eq!(last["stats"]["path"], "relayed (tcp)", "{last}");
    assert!(last["stats"]["framesDecoded"].as_u64().unwrap_or(0) > 0, "{last}");
    let (udp, tcp) = turn_bytes(&topo);
    eprintln!("relay port: {udp} bytes UDP, {tcp} bytes TCP (the viewer)");
    assert!(tcp > 8 * 1024, "the relay's TCP port carried only {tcp} bytes");
    assert!(topo.viewer.counter_bytes("udp_out_dropped").expect("counter") > 0, "the viewer did try UDP");
}
