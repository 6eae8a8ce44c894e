//! What one relay may hold and carry: allocation counts and a per-allocation byte rate.

use std::time::Instant;

/// Limits of the embedded relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayLimits {
    /// Allocations the relay holds at once.
    pub max_allocations: usize,
    /// Allocations one credential id (a viewer, an agent's viewer connection) holds at once.
    pub max_per_user: usize,
    /// Relayed payload bytes per second per allocation (both directions together).
    pub bytes_per_sec: u64,
    /// Burst allowance above the rate.
    pub burst_bytes: u64,
    /// Whether peers on private addresses (RFC 1918, 100.64/10, unique-local) may be reached;
    /// off by default so that the relay is no way into the server's own network.
    pub allow_private_peers: bool,
}

impl Default for RelayLimits {
    fn default() -> Self {
        // 5 MB/s (40 Mbit/s) is several 1080p screen streams; bursts cover a keyframe.
        Self { max_allocations: 500, max_per_user: 8, bytes_per_sec: 5_000_000, burst_bytes: 2_000_000, allow_private_peers: false }
    }
}

/// A token bucket refilled continuously at `rate` bytes per second up to `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u64,
    burst: u64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: u64, burst: u64, now: Instant) -> Self {
        Self { rate, burst, tokens: burst as f64, last: now }
    }

    /// Takes `bytes` if they fit now; otherwise takes nothing.
    pub fn take(&mut self, bytes: usize, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate as f64).min(self.burst as f64);
        if self.tokens >= bytes as f64 {
            self.tokens -= bytes as f64;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1000, 1500, t0);
        assert!(b.take(1500, t0));
        assert!(!b.take(1, t0));
        assert!(!b.take(600, t0 + Duration::from_millis(500)));
        assert!(b.take(500, t0 + Duration::from_millis(500)));
        // Never more than the burst, however long it was idle.
        assert!(!b.take(1501, t0 + Duration::from_secs(60)));
        assert!(b.take(1500, t0 + Duration::from_secs(60)));
    }
}
