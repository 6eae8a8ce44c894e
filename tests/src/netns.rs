//! Throwaway network topologies for NAT and firewall tests: `ip netns` namespaces wired with
//! veth pairs, nftables rules and counters. Everything is removed on drop, also when a test fails.
//!
//! ```text
//!   agent ns  eth0 10.1.0.2 ──veth── 10.1.0.1 ┐
//!                                             server ns (10.0.0.1 on lo: HTTP and TURN)
//!   viewer ns eth0 10.2.0.2 ──veth── 10.2.0.1 ┘
//! ```
//! Agent and viewer reach only 10.0.0.1; with `routed` the server namespace also forwards
//! between them (a direct path).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub const SERVER_IP: &str = "10.0.0.1";
pub const AGENT_IP: &str = "10.1.0.2";
pub const VIEWER_IP: &str = "10.2.0.2";
/// The nftables table the helpers add in each namespace.
const TABLE: &str = "deskbeam_test";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Can this process create namespaces? When not root: skip loudly, or fail under
/// `DESKBEAM_REQUIRE_ALL=1`. Also needs `ip` and `nft`.
pub fn available(test: &str) -> bool {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        let msg = format!("{test}: needs root for `ip netns` (CI runs as root)");
        if std::env::var("DESKBEAM_REQUIRE_ALL").is_ok_and(|v| v == "1") {
            panic!("{msg}");
        }
        eprintln!("\n!!!!!!!! SKIPPED {msg} !!!!!!!!\n");
        return false;
    }
    crate::require_tools(test, &["ip", "nft"])
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(program).args(args).output()?;
    anyhow::ensure!(out.status.success(), "{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One network namespace, deleted on drop.
pub struct Namespace {
    pub name: String,
}

impl Namespace {
    pub fn create(name: String) -> anyhow::Result<Self> {
        run("ip", &["netns", "add", &name])?;
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// `ip -n <ns> …`
    pub fn ip(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Runs `program args…` inside the namespace and returns its stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> anyhow::Result<String> {
        let mut all = vec!["netns", "exec", self.name.as_str(), program];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Loads an nftables ruleset (`nft -f -` semantics) inside the namespace.
    pub fn nft(&self, ruleset: &str) -> anyhow::Result<()> {
        use std::io::Write;
        let mut child = self.command("nft").args(["-f", "-"]).stdin(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn()?;
        child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin"))?.write_all(ruleset.as_bytes())?;
        let out = child.wait_with_output()?;
        anyhow::ensure!(out.status.success(), "nft in {}: {}", self.name, String::from_utf8_lossy(&out.stderr).trim());
        Ok(())
    }

    /// Bytes counted by the nftables rule carrying `comment "<name>"` in our table.
    pub fn counter_bytes(&self, name: &str) -> anyhow::Result<u64> {
        let listing = self.exec("nft", &["list", "table", "inet", TABLE])?;
        let needle = format!("comment \"{name}\"");
        let line = listing.lines().find(|l| l.contains(&needle)).ok_or_else(|| anyhow::anyhow!("no counter {name} in {listing}"))?;
        let bytes = line.split_whitespace().skip_while(|w| *w != "bytes").nth(1).and_then(|n| n.parse().ok());
        bytes.ok_or_else(|| anyhow::anyhow!("unreadable counter line {line:?}"))
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Err(e) = run("ip", &["netns", "del", &self.name]) {
            eprintln!("could not delete network namespace {}: {e}", self.name);
        }
    }
}

/// Server, agent and viewer namespaces (see the module docs).
pub struct Topology {
    pub server: Namespace,
    pub agent: Namespace,
    pub viewer: Namespace,
}

impl Topology {
    /// Builds the three namespaces; `routed` lets agent and viewer reach each other directly.
    pub fn build(routed: bool) -> anyhow::Result<Self> {
        let tag = format!("db{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        // Fields drop in order; each namespace deletes itself even if a later step fails.
        let topo = Self {
            server: Namespace::create(format!("{tag}-srv"))?,
            agent: Namespace::create(format!("{tag}-agent"))?,
            viewer: Namespace::create(format!("{tag}-viewer"))?,
        };
        topo.server.ip(&["addr", "add", &format!("{SERVER_IP}/32"), "dev", "lo"])?;
        topo.wire(&topo.agent, "to-agent", "10.1.0.1", AGENT_IP)?;
        topo.wire(&topo.viewer, "to-viewer", "10.2.0.1", VIEWER_IP)?;
        if routed {
            topo.server.exec("sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
            topo.agent.ip(&["route", "add", "10.2.0.0/24", "via", "10.1.0.1"])?;
            topo.viewer.ip(&["route", "add", "10.1.0.0/24", "via", "10.2.0.1"])?;
        } else {
            topo.server.exec("sysctl", &["-qw", "net.ipv4.ip_forward=0"])?;
        }
        // Counters: what went to and from the relay's port, and what the server forwarded (a
        // direct path).
        topo.server.nft(&format!(
            "table inet {TABLE} {{
               chain input {{
                 type filter hook input priority 0; policy accept;
                 udp dport 3478 counter comment \"turn_udp\"
                 tcp dport 3478 counter comment \"turn_tcp\"
               }}
               chain output {{
                 type filter hook output priority 0; policy accept;
                 udp sport 3478 counter comment \"turn_udp_out\"
                 tcp sport 3478 counter comment \"turn_tcp_out\"
               }}
               chain forward {{
                 type filter hook forward priority 0; policy accept;
                 counter comment \"forwarded\"
               }}
             }}"
        ))?;
        Ok(topo)
    }

    fn wire(&self, peer: &Namespace, server_if: &str, server_ip: &str, peer_ip: &str) -> anyhow::Result<()> {
        run("ip", &["link", "add", server_if, "netns", &self.server.name, "type", "veth", "peer", "name", "eth0", "netns", &peer.name])?;
        self.server.ip(&["addr", "add", &format!("{server_ip}/24"), "dev", server_if])?;
        self.server.ip(&["link", "set", server_if, "up"])?;
        peer.ip(&["addr", "add", &format!("{peer_ip}/24"), "dev", "eth0"])?;
        peer.ip(&["link", "set", "eth0", "up"])?;
        peer.ip(&["route", "add", &format!("{SERVER_IP}/32"), "via", server_ip])?;
        Ok(())
    }

    /// A firewall in `ns` that drops every UDP packet in and out, except on loopback.
    pub fn block_udp(ns: &Namespace) -> anyhow::Result<()> {
        ns.nft(&format!(
            "table inet {TABLE} {{
               chain output {{
                 type filter hook output priority 0; policy accept;
                 oifname \"lo\" accept
                 meta l4proto udp counter drop comment \"udp_out_dropped\"
               }}
               chain input {{
                 type filter hook input priority 0; policy accept;
                 iifname \"lo\" accept
                 meta l4proto udp counter drop comment \"udp_in_dropped\"
               }}
             }}"
        ))
    }
}
