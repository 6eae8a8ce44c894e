//! Shared helpers for Deskbeam's cross-crate tests and benchmarks.
//!
//! # Layout
//! - [`receiver`]: a receiving WebRTC peer (the viewer side) that decodes H.264 back to pixels.
//! - [`whep`]: a minimal WHEP/HTTP client over a raw socket.
//! - [`xvfb`]: a virtual X display for real capture tests.
//! - [`procs`]: the `deskbeam-server` / `deskbeam-agent` binaries as child processes.
//! - [`audio_peer`]: a viewer that decodes the agent's Opus; tone analysis.
//! - [`pulse`]: a private PulseAudio daemon with a null sink.
//! - [`netns`]: throwaway network namespaces (veth, routes, nftables) for NAT/firewall tests.
//! - [`relay_view`]: a viewer that takes the server's ICE servers and reports its media path.
//! - [`turn_client`]: a minimal TURN client (Allocate, ChannelBind) for the relay benchmark.
//! - [`fake_agent`]: the agent's signaling protocol without a screen (answers offers with SDP).
//! - [`load`]: many fake agents and WHEP negotiations against a real server (`deskbeam-load`).
//! - [`procstat`]: a process's memory, CPU and descriptors from `/proc`.
//! - [`proxy`]: a loopback TCP proxy whose connections a test can cut.

pub mod fake_agent;
pub mod load;
pub mod audio_peer;
pub mod procs;
pub mod pulse;
pub mod procstat;
pub mod proxy;
pub mod netns;
pub mod receiver;
pub mod relay_view;
pub mod turn_client;
pub mod whep;
pub mod xvfb;

/// Installs a test log subscriber once (respects `RUST_LOG`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

/// Is every channel of `got` within `tolerance` of `want`?
pub fn color_close(got: [u8; 3], want: [u8; 3], tolerance: u8) -> bool {
    got.iter().zip(want.iter()).all(|(g, w)| g.abs_diff(*w) <= tolerance)
}

/// Whether the tools a test needs are here. When they are not, the test is skipped with a loud
/// message, unless `DESKBEAM_REQUIRE_ALL=1` (set by `make test` and CI), where it fails.
pub fn require_tools(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !xvfb::have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{test}: missing tools {missing:?} (run `make test`, which installs them)");
    if std::env::var("DESKBEAM_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("{msg}");
    }
    eprintln!("\n!!!!!!!! SKIPPED {msg} !!!!!!!!\n");
    false
}
