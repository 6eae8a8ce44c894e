//! What a process costs, read from `/proc/<pid>`: resident memory (now and peak), CPU time,
//! threads and open descriptors; and raising this process's own open-file limit.

use std::time::Duration;

/// One reading of a process's resources.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcStat {
    /// Resident set size now (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Peak resident set size (`VmHWM`), KiB.
    pub hwm_kib: u64,
    pub threads: u64,
    /// User + system CPU time since the process started.
    pub cpu: Duration,
    pub open_fds: u64,
}

impl ProcStat {
    /// Reads `/proc/<pid>/status`, `/proc/<pid>/stat` and `/proc/<pid>/fd`.
    pub fn read(pid: u32) -> std::io::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let open_fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count() as u64).unwrap_or(0);
        Ok(Self {
            rss_kib: status_field(&status, "VmRSS:").unwrap_or(0),
            hwm_kib: status_field(&status, "VmHWM:").unwrap_or(0),
            threads: status_field(&status, "Threads:").unwrap_or(0),
            cpu: cpu_time(&stat).unwrap_or_default(),
            open_fds,
        })
    }
}

fn status_field(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| l.strip_prefix(key))?.split_whitespace().next()?.parse().ok()
}

/// utime + stime (fields 14 and 15 of `/proc/<pid>/stat`, after the parenthesised command).
fn cpu_time(stat: &str) -> Option<Duration> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // after_comm starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = rustix::param::clock_ticks_per_second().max(1);
    Some(Duration::from_secs_f64((utime + stime) as f64 / ticks as f64))
}

/// Raises this process's soft open-file limit to its hard limit; returns the new soft limit.
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit { current: limit.maximum, maximum: limit.maximum };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "cannot raise the open file limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = ProcStat::read(std::process::id()).expect("/proc");
        assert!(me.rss_kib > 0 && me.hwm_kib >= me.rss_kib, "{me:?}");
        assert!(me.threads >= 1 && me.open_fds >= 3, "{me:?}");
    }

    #[test]
    fn parses_stat_with_spaces_in_the_command() {
        let stat = "42 (a b) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0";
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        assert_eq!(cpu_time(stat), Some(Duration::from_secs_f64(300.0 / ticks)));
    }
}
