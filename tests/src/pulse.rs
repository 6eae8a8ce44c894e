//! A private PulseAudio daemon for audio tests: its own runtime directory and socket, a null sink
//! (`deskbeam_test`) as the default output, no autospawn, stopped on drop. Children reach it
//! through `PULSE_SERVER`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use crate::procs::tempdir::TempDir;

/// The null sink every test plays into; its monitor is `deskbeam_test.monitor`.
pub const SINK: &str = "deskbeam_test";

pub struct Pulse {
    child: Child,
    dir: TempDir,
}

impl Pulse {
    pub fn start() -> anyhow::Result<Self> {
        let dir = TempDir::new()?;
        for sub in ["run", "home"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        let mut cmd = Command::new("pulseaudio");
        cmd.args(["-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--disable-shm=yes", "--log-target=stderr", "--log-level=error"])
            .arg(format!("--load=module-native-protocol-unix auth-anonymous=1 socket={}", Self::socket_in(&dir).display()))
            .arg(format!("--load=module-null-sink sink_name={SINK} rate=48000 channels=1"))
            .env("XDG_RUNTIME_DIR", dir.path().join("run"))
            .env("HOME", dir.path().join("home"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn()?;
        let pulse = Self { child, dir };
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            let ok = Command::new("pactl").env("PULSE_SERVER", pulse.server()).arg("info").stdout(Stdio::null()).stderr(Stdio::null()).status();
            if ok.is_ok_and(|s| s.success()) {
                pulse.pactl(&["set-default-sink", SINK])?;
                return Ok(pulse);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        anyhow::bail!("pulseaudio did not come up")
    }

    fn socket_in(dir: &TempDir) -> PathBuf {
        dir.path().join("run").join("native")
    }

    /// The `PULSE_SERVER` value for clients.
    pub fn server(&self) -> String {
        format!("unix:{}", Self::socket_in(&self.dir).display())
    }

    pub fn pactl(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("pactl").env("PULSE_SERVER", self.server()).args(args).output()?;
        anyhow::ensure!(out.status.success(), "pactl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// Starts `pacat` playing 48 kHz mono s16le into `sink`, 20 ms latency; write to the stdin.
    pub fn playback(&self, sink: &str) -> anyhow::Result<(Child, ChildStdin)> {
        let mut child = Command::new("pacat")
            .env("PULSE_SERVER", self.server())
            .args(["--playback", "-d", sink, "--format=s16le", "--rate=48000", "--channels=1", "--latency-msec=20"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin"))?;
        Ok((child, stdin))
    }

    /// Plays 48 kHz mono s16le `pcm` into `sink` (on a thread; returns at once).
    pub fn play(&self, sink: &str, pcm: Vec<u8>) -> anyhow::Result<Child> {
        let (child, mut stdin) = self.playback(sink)?;
        std::thread::spawn(move || {
            let _ = stdin.write_all(&pcm);
        });
        Ok(child)
    }
}

impl Pulse {
    /// Records `seconds` of 48 kHz mono from `source` (e.g. `deskbeam_test.monitor`).
    pub fn record(&self, source: &str, seconds: f64) -> anyhow::Result<Vec<i16>> {
        use std::io::Read;
        let mut child = Command::new("parec")
            .env("PULSE_SERVER", self.server())
            .args(["-d", source, "--format=s16le", "--rate=48000", "--channels=1", "--latency-msec=20"])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let want = (48_000.0 * seconds) as usize * 2;
        let mut bytes = vec![0u8; want];
        let read = stdout.read_exact(&mut bytes);
        let _ = child.kill();
        let _ = child.wait();
        read?;
        Ok(bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect())
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
