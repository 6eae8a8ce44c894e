//! Who controls the screen: one controller at a time, granted by the host. Plain state
//! machine; the consent prompt and the data channels live around it.

use std::collections::BTreeMap;

use deskbeam_proto::input::ControlState;
use deskbeam_proto::signal::ViewerId;

/// How the host answers control requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentPolicy {
    /// Ask on the agent's terminal (a timeout denies).
    Prompt,
    /// Grant every request from a `control` link.
    Auto,
    /// Refuse every request.
    Deny,
}

impl std::str::FromStr for ConsentPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "prompt" => Ok(Self::Prompt),
            "auto" => Ok(Self::Auto),
            "deny" => Ok(Self::Deny),
            o => Err(format!("unknown consent policy {o:?} (prompt, auto or deny)")),
        }
    }
}

#[derive(Debug, Clone)]
struct Member {
    label: String,
    /// The viewer's verified link allows control.
    may_control: bool,
}

/// What the arbiter wants done after a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Refused at once (view-only link, policy deny, someone else holds or is pending).
    Refused(String),
    /// The host must be asked.
    AskHost { viewer: ViewerId, label: String },
    /// Granted without asking (policy auto, or already held).
    Granted,
}

/// The control state of every viewer of this agent.
#[derive(Debug)]
pub struct Arbiter {
    policy: ConsentPolicy,
    members: BTreeMap<ViewerId, Member>,
    holder: Option<ViewerId>,
    pending: Option<ViewerId>,
}

impl Arbiter {
    pub fn new(policy: ConsentPolicy) -> Self {
        Self { policy, members: BTreeMap::new(), holder: None, pending: None }
    }

    pub fn join(&mut self, viewer: ViewerId, label: String, may_control: bool) {
        self.members.insert(viewer, Member { label, may_control });
    }

    /// A viewer left. Returns true if it held control (its input must be released).
    pub fn leave(&mut self, viewer: &str) -> bool {
        self.members.remove(viewer);
        if self.pending.as_deref() == Some(viewer) {
            self.pending = None;
        }
        if self.holder.as_deref() == Some(viewer) {
            self.holder = None;
            return true;
        }
        false
    }

    pub fn request(&mut self, viewer: &str) -> RequestOutcome {
        let Some(member) = self.members.get(viewer) else { return RequestOutcome::Refused("unknown viewer".into()) };
        if !member.may_control {
            return RequestOutcome::Refused("this link is view-only".into());
        }
        if self.holder.as_deref() == Some(viewer) {
            return RequestOutcome::Granted;
        }
        if let Some(h) = &self.holder {
            let label = self.members.get(h).map(|m| m.label.clone()).unwrap_or_default();
            return RequestOutcome::Refused(format!("{label} has control"));
        }
        if self.pending.is_some() {
            return RequestOutcome::Refused("the host is answering another request".into());
        }
        match self.policy {
            ConsentPolicy::Deny => RequestOutcome::Refused("the host does not allow remote control".into()),
            ConsentPolicy::Auto => {
                self.holder = Some(viewer.to_string());
                RequestOutcome::Granted
            }
            ConsentPolicy::Prompt => {
                self.pending = Some(viewer.to_string());
                RequestOutcome::AskHost { viewer: viewer.to_string(), label: member.label.clone() }
            }
        }
    }

    /// The host's answer to a pending request. Returns true if control was granted.
    pub fn decide(&mut self, viewer: &str, allow: bool) -> bool {
        if self.pending.as_deref() != Some(viewer) {
            return false;
        }
        self.pending = None;
        if allow && self.holder.is_none() && self.members.contains_key(viewer) {
            self.holder = Some(viewer.to_string());
            return true;
        }
        false
    }

    /// The holder gives control back (or the host takes it). Returns the former holder.
    pub fn release(&mut self) -> Option<ViewerId> {
        self.holder.take()
    }

    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref()
    }

    pub fn is_holder(&self, viewer: &str) -> bool {
        self.holder.as_deref() == Some(viewer)
    }

    /// The state as `viewer` should see it, with the holder's label and whether it may ask.
    pub fn view_for(&self, viewer: &str) -> (ControlState, bool, Option<String>) {
        let may = self.members.get(viewer).is_some_and(|m| m.may_control);
        let holder_label = self.holder.as_ref().and_then(|h| self.members.get(h)).map(|m| m.label.clone());
        let state = match (&self.holder, &self.pending) {
            (Some(h), _) if h == viewer => ControlState::Granted,
            (Some(_), _) => ControlState::Taken,
            (None, Some(p)) if p == viewer => ControlState::Pending,
            _ => ControlState::Free,
        };
        (state, may, holder_label)
    }

    pub fn viewers(&self) -> impl Iterator<Item = &ViewerId> {
        self.members.keys()
    }
}

/// A token bucket: at most `rate` events per second with bursts of `burst`. Time is passed in.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<std::time::Instant>,
}

impl RateLimiter {
    pub fn new(rate: f64, burst: f64) -> Self {
        Self { rate, burst, tokens: burst, last: None }
    }

    /// Takes one token at `now`; false if the viewer is over its budget.
    pub fn allow(&mut self, now: std::time::Instant) -> bool {
        if let Some(last) = self.last {
            self.tokens = (self.tokens + now.saturating_duration_since(last).as_secs_f64() * self.rate).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn one_controller_at_a_time_with_host_consent() {
        let mut a = Arbiter::new(ConsentPolicy::Prompt);
        a.join("v1".into(), "alice".into(), true);
        a.join("v2".into(), "bob".into(), true);
        a.join("v3".into(), "carol".into(), false);
        assert_eq!(a.request("v3"), RequestOutcome::Refused("this link is view-only".into()));
        assert_eq!(a.request("v1"), RequestOutcome::AskHost { viewer: "v1".into(), label: "alice".into() });
        assert_eq!(a.view_for("v1").0, ControlState::Pending);
        assert!(matches!(a.request("v2"), RequestOutcome::Refused(_)));
        assert!(a.decide("v1", true));
        assert_eq!(a.view_for("v1"), (ControlState::Granted, true, Some("alice".into())));
        assert_eq!(a.view_for("v2"), (ControlState::Taken, true, Some("alice".into())));
        assert_eq!(a.request("v2"), RequestOutcome::Refused("alice has control".into()));
        assert!(a.leave("v1"), "the holder leaving frees control");
        assert_eq!(a.holder(), None);
        assert_eq!(a.request("v2"), RequestOutcome::AskHost { viewer: "v2".into(), label: "bob".into() });
        assert!(!a.decide("v2", false));
        assert_eq!(a.holder(), None);
    }

    #[test]
    fn policies_auto_and_deny() {
        let mut a = Arbiter::new(ConsentPolicy::Auto);
        a.join("v".into(), "x".into(), true);
        assert_eq!(a.request("v"), RequestOutcome::Granted);
        assert_eq!(a.release(), Some("v".into()));
        let mut d = Arbiter::new(ConsentPolicy::Deny);
        d.join("v".into(), "x".into(), true);
        assert!(matches!(d.request("v"), RequestOutcome::Refused(_)));
    }

    #[test]
    fn rate_limit_allows_bursts_then_the_rate() {
        let mut r = RateLimiter::new(1000.0, 10.0);
        let t = Instant::now();
        assert_eq!((0..20).filter(|_| r.allow(t)).count(), 10);
        assert!(r.allow(t + Duration::from_millis(1)));
        assert!(!r.allow(t + Duration::from_millis(1)));
        assert_eq!((0..200).filter(|i| r.allow(t + Duration::from_millis(2) + Duration::from_micros(i * 1000))).count(), 200);
    }
}
