//! A virtual X display (Xvfb) for tests that capture a real screen.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Xvfb, killed on drop.
pub struct Xvfb {
    child: Child,
    pub display: String,
}

/// Is a program on PATH?
pub fn have(program: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {program}")).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

impl Xvfb {
    /// Starts Xvfb on the first free display number from `first`, `width`x`height`x24.
    pub fn start(first: u32, width: u32, height: u32) -> anyhow::Result<Self> {
        for n in first..first + 50 {
            clear_stale(n);
            if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() || std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let display = format!(":{n}");
            let child = Command::new("Xvfb")
                .args([&display, "-screen", "0", &format!("{width}x{height}x24"), "-nolisten", "tcp", "-noreset", "-ac"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            let mut x = Self { child, display };
            if x.wait_ready(Duration::from_secs(10)) {
                return Ok(x);
            }
        }
        anyhow::bail!("could not start Xvfb")
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let ok = Command::new("xdpyinfo")
                .env("DISPLAY", &self.display)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Paints the root window one colour (`xsetroot -solid`).
    pub fn set_root_color(&self, rgb: [u8; 3]) -> anyhow::Result<()> {
        let color = format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
        let status = Command::new("xsetroot").env("DISPLAY", &self.display).args(["-solid", &color]).status()?;
        anyhow::ensure!(status.success(), "xsetroot failed");
        Ok(())
    }

    /// Where the X pointer is (`xdotool getmouselocation`); (-1, -1) if unknown.
    pub fn pointer(&self) -> (i32, i32) {
        let out = Command::new("xdotool").env("DISPLAY", &self.display).arg("getmouselocation").output();
        let text = out.map(|o| String::from_utf8_lossy(&o.stdout).to_string()).unwrap_or_default();
        let field = |k: &str| text.split_whitespace().find_map(|f| f.strip_prefix(k)).and_then(|v| v.parse().ok()).unwrap_or(-1);
        (field("x:"), field("y:"))
    }

    /// An xterm at the top left running a plain bash in `dir`, given a moment to map.
    pub fn xterm(&self, dir: &std::path::Path) -> anyhow::Result<Child> {
        let child = Command::new("xterm")
            .env("DISPLAY", &self.display)
            .env("PS1", "$ ")
            .current_dir(dir)
            .args(["-geometry", "100x30+0+0", "-e", "bash", "--norc", "--noprofile"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        std::thread::sleep(Duration::from_millis(1500));
        Ok(child)
    }
}

/// Removes display `n`'s lock and socket if the Xvfb that made them is gone (killed hard).
fn clear_stale(n: u32) {
    let lock = format!("/tmp/.X{n}-lock");
    let Ok(text) = std::fs::read_to_string(&lock) else { return };
    let alive = text.trim().parse::<u32>().is_ok_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
    if !alive {
        let _ = std::fs::remove_file(&lock);
        let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{n}"));
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM lets Xvfb remove its lock and socket; SIGKILL only if it does not go.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(n) = self.display.strip_prefix(':').and_then(|n| n.parse().ok()) {
            clear_stale(n);
        }
    }
}
