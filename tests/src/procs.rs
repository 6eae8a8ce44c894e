//! The real `deskbeam-server` and `deskbeam-agent` binaries as child processes.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Where cargo put the workspace binaries (next to the test executable's `deps/`).
pub fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // Test executables live in target/<profile>/deps, other binaries in target/<profile>.
    let mut dir = exe.parent().ok_or_else(|| anyhow::anyhow!("no target dir"))?;
    if dir.ends_with("deps") {
        dir = dir.parent().unwrap_or(dir);
    }
    let path = dir.join(name);
    anyhow::ensure!(path.exists(), "{} is missing: run `cargo build --bins` first (make test does)", path.display());
    Ok(path)
}

/// A child killed on drop. Its stderr is echoed and kept (see [`Proc::stderr_contains`]).
pub struct Proc {
    child: Child,
    pub stdout_lines: mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> anyhow::Result<Self> {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(err) = child.stderr.take() {
            let keep = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    if let Ok(mut k) = keep.lock() {
                        k.push(line);
                    }
                }
            });
        }
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { child, stdout_lines: rx, stderr })
    }

    /// How many lines the process has logged so far that contain `needle`.
    pub fn stderr_count(&self, needle: &str) -> usize {
        self.stderr.lock().map(|l| l.iter().filter(|line| line.contains(needle)).count()).unwrap_or(0)
    }

    /// Kills the process at once (SIGKILL: no clean shutdown, as in a crash).
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Has the process logged a line containing `needle` (waiting up to `timeout`)?
    pub fn stderr_contains(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.stderr.lock().is_ok_and(|l| l.iter().any(|line| line.contains(needle))) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Writes a line to the process's stdin (it must have been spawned with a piped stdin).
    pub fn write_stdin(&mut self, line: &str) -> anyhow::Result<()> {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().ok_or_else(|| anyhow::anyhow!("stdin is not piped"))?;
        writeln!(stdin, "{line}")?;
        stdin.flush()?;
        Ok(())
    }

    /// Waits for a stdout line starting with `prefix`; returns the rest of it.
    pub fn wait_line(&self, prefix: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stdout_lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.trim().to_string());
                    }
                }
                Err(_) => anyhow::bail!("no line starting with {prefix:?} within {timeout:?}"),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM first so the process shuts down cleanly, then make sure.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        for _ in 0..20 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server on a free loopback port with a fresh data directory, plus a host token.
pub struct TestServer {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub data_dir: tempdir::TempDir,
}

impl TestServer {
    pub fn start() -> anyhow::Result<Self> {
        let data_dir = tempdir::TempDir::new()?;
        let addr = free_port()?;
        let mut cmd = Command::new(bin("deskbeam-server")?);
        cmd.args(["--listen", &addr.to_string(), "--data-dir"]).arg(data_dir.path());
        let proc = Proc::spawn(cmd)?;
        wait_listening(addr, Duration::from_secs(20))?;
        Ok(Self { proc, addr, data_dir })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs `deskbeam-agent <args> --server <this server>` with `token`: (success, stdout, stderr).
    pub fn agent_cli(&self, token: &str, args: &[&str]) -> (bool, String, String) {
        let out = bin("deskbeam-agent").and_then(|agent| {
            Ok(Command::new(agent).env("DESKBEAM_TOKEN", token).args(args).args(["--server", &self.url()]).output()?)
        });
        match out {
            Ok(o) => (o.status.success(), String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string()),
            Err(e) => (false, String::new(), format!("deskbeam-agent did not run: {e}")),
        }
    }

    /// Crashes the server (SIGKILL) and starts it again on the same address and data directory.
    pub fn crash_and_restart(&mut self) -> anyhow::Result<()> {
        self.proc.kill_hard();
        let mut cmd = Command::new(bin("deskbeam-server")?);
        cmd.args(["--listen", &self.addr.to_string(), "--data-dir"]).arg(self.data_dir.path());
        self.proc = Proc::spawn(cmd)?;
        wait_listening(self.addr, Duration::from_secs(20))
    }

    pub fn host_token(&self) -> anyhow::Result<String> {
        let out = Command::new(bin("deskbeam-server")?).arg("host-token").arg("--data-dir").arg(self.data_dir.path()).output()?;
        anyhow::ensure!(out.status.success(), "host-token failed: {}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    }

    /// Starts an agent sharing `display`, returns it with its viewer link.
    pub fn share(&self, display: &str, extra: &[&str]) -> anyhow::Result<(Proc, String)> {
        self.share_with_stdin(display, extra, false)
    }

    /// Like [`TestServer::share`]; with `piped_stdin` the test can answer the agent's prompts.
    pub fn share_with_stdin(&self, display: &str, extra: &[&str], piped_stdin: bool) -> anyhow::Result<(Proc, String)> {
        self.share_full(display, &self.host_token()?, extra, piped_stdin)
    }

    /// Shares with a given host token (to use the same host from the `link` CLI).
    pub fn share_with_token(&self, display: &str, token: &str, extra: &[&str]) -> anyhow::Result<(Proc, String)> {
        self.share_full(display, token, extra, false)
    }

    /// Shares with a given host token; with `piped_stdin` the test can type at the agent's terminal.
    pub fn share_full(&self, display: &str, token: &str, extra: &[&str], piped_stdin: bool) -> anyhow::Result<(Proc, String)> {
        let mut cmd = Command::new(bin("deskbeam-agent")?);
        cmd.stdin(if piped_stdin { Stdio::piped() } else { Stdio::null() });
        cmd.env("DISPLAY", display)
            .env("DESKBEAM_TOKEN", token)
            .args(["share", "--server", &self.url(), "--ice-addr", "127.0.0.1:0"])
            .args(extra);
        let agent = Proc::spawn(cmd)?;
        let link = agent.wait_line("link:", Duration::from_secs(30))?;
        Ok((agent, link))
    }
}

/// A loopback address with a port that was free a moment ago.
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

fn wait_listening(addr: SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("server did not listen on {addr}")
}

/// Minimal temporary directory (removed on drop).
pub mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> std::io::Result<Self> {
            let path = std::env::temp_dir().join(format!("deskbeam-test-{}", uuid_like()));
            std::fs::create_dir_all(&path)?;
            Ok(Self(path))
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn uuid_like() -> String {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        format!("{}-{nanos}", std::process::id())
    }
}
