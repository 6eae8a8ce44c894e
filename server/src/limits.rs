//! Failure limits (wrong PINs, failed logins): plain code deciding against a passed-in `now`.
//!
//! A key (a link, an account, an address) that fails `max` times within `window` seconds is
//! locked for `window` seconds from the last failure; a success clears its count.

use std::collections::HashMap;
use std::sync::Mutex;

/// The lock decision: locked, and for how many more seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub retry_after: u64,
}

#[derive(Debug, Default, Clone)]
struct Entry {
    failures: Vec<u64>,
    locked_until: u64,
}

#[derive(Debug)]
pub struct FailureLimiter {
    max: usize,
    window: u64,
    entries: Mutex<HashMap<String, Entry>>,
}

impl FailureLimiter {
    pub fn new(max: usize, window_secs: u64) -> Self {
        Self {
            max,
            window: window_secs,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // Each update is a single map write; a poisoned lock still guards a consistent map.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Err` while `key` is locked.
    pub fn check(&self, key: &str, now: u64) -> Result<(), Locked> {
        match self.entries().get(key) {
            Some(e) if e.locked_until > now => Err(Locked {
                retry_after: e.locked_until - now,
            }),
            _ => Ok(()),
        }
    }

    /// Records a failure; returns the lock when this failure locked the key.
    pub fn fail(&self, key: &str, now: u64) -> Option<Locked> {
        let mut entries = self.entries();
        if entries.len() > 100_000 {
            // Bound memory: forget keys with nothing recent.
            let window = self.window;
            entries
                .retain(|_, e| e.locked_until > now || e.failures.iter().any(|t| t + window > now));
        }
        let entry = entries.entry(key.to_string()).or_default();
        entry.failures.retain(|t| t + self.window > now);
        entry.failures.push(now);
        if entry.failures.len() >= self.max {
            entry.failures.clear();
            entry.locked_until = now + self.window;
            return Some(Locked {
                retry_after: self.window,
            });
        }
        None
    }

    /// A success: forget the key's failures.
    pub fn succeed(&self, key: &str) {
        self.entries().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_for_the_window() {
        let l = FailureLimiter::new(3, 100);
        assert_eq!(l.fail("k", 10), None);
        assert_eq!(l.fail("k", 11), None);
        assert!(l.check("k", 11).is_ok());
        assert_eq!(l.fail("k", 12), Some(Locked { retry_after: 100 }));
        assert_eq!(l.check("k", 50), Err(Locked { retry_after: 62 }));
        assert!(l.check("other", 50).is_ok());
        assert!(l.check("k", 112).is_ok());
    }

    #[test]
    fn old_failures_and_successes_reset() {
        let l = FailureLimiter::new(2, 10);
        assert_eq!(l.fail("k", 0), None);
        assert_eq!(l.fail("k", 10), None, "the first failure left the window");
        l.succeed("k");
        assert_eq!(l.fail("k", 11), None);
    }
}
