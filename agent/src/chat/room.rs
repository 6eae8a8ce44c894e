//! The chat room as plain logic: who is in it and under which name, what a valid message is,
//! each viewer's message budget, and the one order every participant sees. Time is passed in.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use deskbeam_proto::chat::{decode_viewer_chat, AgentChat, ChatRole, ViewerChat, MAX_CHAT_CHARS};
use deskbeam_proto::signal::ViewerId;

use crate::input::control::RateLimiter;

/// Chat messages per second a viewer may send, in bursts of [`CHAT_BURST`].
pub const CHAT_RATE: f64 = 1.0;
pub const CHAT_BURST: f64 = 10.0;

/// Why a chat message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    #[error("{0}")]
    Malformed(String),
    #[error("the message is empty")]
    Empty,
    #[error("the message has {0} characters; the limit is {MAX_CHAT_CHARS}")]
    TooLong(usize),
    #[error("too many messages; wait a moment")]
    RateLimited,
}

impl ChatError {
    /// The stable code sent in `rejected`.
    pub fn code(&self) -> &'static str {
        match self {
            ChatError::Malformed(_) => "bad_message",
            ChatError::Empty => "empty",
            ChatError::TooLong(_) => "too_long",
            ChatError::RateLimited => "rate_limited",
        }
    }
}

/// Checks a message's text and returns what is relayed: surrounding blank space trimmed,
/// control characters other than line breaks and tabs removed (they could rewrite a terminal).
pub fn clean_text(text: &str) -> Result<String, ChatError> {
    let count = text.chars().count();
    if count > MAX_CHAT_CHARS {
        return Err(ChatError::TooLong(count));
    }
    let cleaned: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        return Err(ChatError::Empty);
    }
    Ok(cleaned.to_string())
}

/// A message as the host's terminal shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostChat {
    Message { from: String, role: ChatRole, text: String, at_ms: u64 },
    Joined { name: String },
    Left { name: String },
    /// The host's own message was refused.
    Refused(String),
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Viewer(ViewerId, AgentChat),
    Host(HostChat),
}

struct Member {
    name: String,
    limiter: RateLimiter,
    rejected: u64,
}

/// Members, names and the message order.
pub struct ChatRoom {
    host_name: String,
    next_seq: u64,
    members: BTreeMap<ViewerId, Member>,
}

impl ChatRoom {
    pub fn new(host_name: &str) -> Self {
        Self { host_name: host_name.to_string(), next_seq: 1, members: BTreeMap::new() }
    }

    /// Adds a viewer under `name` (made unique in the room with " (2)", " (3)", …).
    pub fn join(&mut self, viewer: &str, name: &str) -> Vec<Delivery> {
        let mut unique = name.to_string();
        let mut n = 2;
        while unique == self.host_name || self.members.iter().any(|(id, m)| m.name == unique && id != viewer) {
            unique = format!("{name} ({n})");
            n += 1;
        }
        let member = Member { name: unique.clone(), limiter: RateLimiter::new(CHAT_RATE, CHAT_BURST), rejected: 0 };
        self.members.insert(viewer.to_string(), member);
        vec![
            Delivery::Viewer(viewer.to_string(), AgentChat::Joined { name: unique.clone() }),
            Delivery::Host(HostChat::Joined { name: unique }),
        ]
    }

    pub fn leave(&mut self, viewer: &str) -> Vec<Delivery> {
        match self.members.remove(viewer) {
            Some(m) => vec![Delivery::Host(HostChat::Left { name: m.name })],
            None => Vec::new(),
        }
    }

    /// The name a viewer goes by, if it is in the room.
    pub fn name_of(&self, viewer: &str) -> Option<&str> {
        self.members.get(viewer).map(|m| m.name.as_str())
    }

    /// A raw message from a viewer: relayed to everyone, or a `rejected` reply to it alone.
    pub fn from_viewer(&mut self, viewer: &str, bytes: &[u8], now: Instant, at_ms: u64) -> Vec<Delivery> {
        let Some(member) = self.members.get_mut(viewer) else { return Vec::new() };
        let checked = match decode_viewer_chat(bytes) {
            Err(e) => Err(ChatError::Malformed(e.to_string())),
            Ok(ViewerChat::Hello) => {
                return vec![Delivery::Viewer(viewer.to_string(), AgentChat::Joined { name: member.name.clone() })];
            }
            Ok(ViewerChat::Say { text }) => clean_text(&text).and_then(|text| {
                if member.limiter.allow(now) {
                    Ok(text)
                } else {
                    Err(ChatError::RateLimited)
                }
            }),
        };
        match checked {
            Ok(text) => {
                let from = member.name.clone();
                self.relay(&from, ChatRole::Viewer, Some(viewer), &text, at_ms)
            }
            Err(e) => {
                member.rejected += 1;
                if member.rejected <= 5 || member.rejected.is_multiple_of(100) {
                    tracing::warn!(viewer_id = %viewer, code = e.code(), error = %e, count = member.rejected, "rejected a chat message");
                }
                let reply = AgentChat::Rejected { code: e.code().to_string(), message: e.to_string() };
                vec![Delivery::Viewer(viewer.to_string(), reply)]
            }
        }
    }

    /// A line the host typed: relayed to every viewer, or refused (to the host's terminal).
    pub fn from_host(&mut self, text: &str, at_ms: u64) -> Vec<Delivery> {
        match clean_text(text) {
            Ok(text) => {
                let from = self.host_name.clone();
                self.relay(&from, ChatRole::Host, None, &text, at_ms)
            }
            Err(e) => vec![Delivery::Host(HostChat::Refused(e.to_string()))],
        }
    }

    fn relay(&mut self, from: &str, role: ChatRole, author: Option<&str>, text: &str, at_ms: u64) -> Vec<Delivery> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut out: Vec<Delivery> = self
            .members
            .keys()
            .map(|id| {
                let mine = author == Some(id.as_str());
                let msg = AgentChat::Message { seq, from: from.to_string(), role, text: text.to_string(), at: at_ms, mine };
                Delivery::Viewer(id.clone(), msg)
            })
            .collect();
        if role == ChatRole::Viewer {
            out.push(Delivery::Host(HostChat::Message { from: from.to_string(), role, text: text.to_string(), at_ms }));
        }
        out
    }
}

/// `HH:MM` (UTC) of a Unix-milliseconds time, for the terminal.
pub fn clock_utc(at_ms: u64) -> String {
    let secs = Duration::from_millis(at_ms).as_secs() % 86_400;
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskbeam_proto::input::encode;

    fn say(text: &str) -> Vec<u8> {
        encode(&ViewerChat::Say { text: text.into() }).into_bytes()
    }

    fn messages_to(out: &[Delivery], viewer: &str) -> Vec<AgentChat> {
        out.iter()
            .filter_map(|d| match d {
                Delivery::Viewer(v, m) if v == viewer => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_viewer_message_reaches_everyone_in_order_with_its_name() {
        let mut room = ChatRoom::new("desk");
        room.join("a", "Alice");
        room.join("b", "Bob");
        let now = Instant::now();
        let first = room.from_viewer("a", &say(" hello "), now, 1000);
        let second = room.from_host("hi both", 2000);
        let got_b = messages_to(&first, "b");
        assert_eq!(got_b, vec![AgentChat::Message { seq: 1, from: "Alice".into(), role: ChatRole::Viewer, text: "hello".into(), at: 1000, mine: false }]);
        assert!(matches!(&messages_to(&first, "a")[..], [AgentChat::Message { mine: true, seq: 1, .. }]));
        assert!(first.contains(&Delivery::Host(HostChat::Message { from: "Alice".into(), role: ChatRole::Viewer, text: "hello".into(), at_ms: 1000 })));
        assert!(matches!(&messages_to(&second, "a")[..], [AgentChat::Message { seq: 2, role: ChatRole::Host, mine: false, .. }]));
        assert!(!second.iter().any(|d| matches!(d, Delivery::Host(_))), "the host is not echoed its own line");
    }

    #[test]
    fn same_names_are_told_apart() {
        let mut room = ChatRoom::new("desk");
        room.join("a", "Alice");
        let out = room.join("b", "Alice");
        assert_eq!(messages_to(&out, "b"), vec![AgentChat::Joined { name: "Alice (2)".into() }]);
        room.join("c", "desk");
        assert_eq!(room.name_of("c"), Some("desk (2)"));
    }

    #[test]
    fn hello_repeats_the_name_to_that_viewer_only() {
        let mut room = ChatRoom::new("desk");
        room.join("a", "Alice");
        room.join("b", "Alice");
        let out = room.from_viewer("b", br#"{"v":1,"t":"hello"}"#, Instant::now(), 0);
        assert_eq!(out, vec![Delivery::Viewer("b".into(), AgentChat::Joined { name: "Alice (2)".into() })]);
        let next = room.from_viewer("a", &say("first"), Instant::now(), 0);
        assert!(matches!(&messages_to(&next, "b")[..], [AgentChat::Message { seq: 1, .. }]), "hello takes no sequence number");
    }

    #[test]
    fn bad_messages_get_a_rejection_for_the_sender_only() {
        let mut room = ChatRoom::new("desk");
        room.join("a", "Alice");
        room.join("b", "Bob");
        let now = Instant::now();
        for (bytes, code) in [
            (say(&"x".repeat(MAX_CHAT_CHARS + 1)), "too_long"),
            (say(" \n\t "), "empty"),
            (say("\u{1b}\u{7}"), "empty"),
            (b"{not json".to_vec(), "bad_message"),
            (br#"{"v":1,"t":"say"}"#.to_vec(), "bad_message"),
            (br#"{"v":9,"t":"say","text":"x"}"#.to_vec(), "bad_message"),
            (vec![b'a'; 100_000], "bad_message"),
        ] {
            let out = room.from_viewer("a", &bytes, now, 0);
            assert_eq!(out.len(), 1, "{code}");
            assert!(matches!(&out[0], Delivery::Viewer(v, AgentChat::Rejected { code: c, .. }) if v == "a" && c == code), "{out:?}");
        }
        let ok = room.from_viewer("a", &say("still here"), now, 0);
        assert!(matches!(&messages_to(&ok, "b")[..], [AgentChat::Message { seq: 1, .. }]), "rejections take no sequence number");
    }

    #[test]
    fn control_characters_are_removed_but_line_breaks_kept() {
        assert_eq!(clean_text("a\u{1b}[2Jb\nc\td\u{0}"), Ok("a[2Jb\nc\td".into()));
        assert_eq!(clean_text(&"é".repeat(MAX_CHAT_CHARS)).map(|t| t.chars().count()), Ok(MAX_CHAT_CHARS));
    }

    #[test]
    fn a_flood_is_rate_limited_then_recovers() {
        let mut room = ChatRoom::new("desk");
        room.join("a", "Alice");
        let t0 = Instant::now();
        let accepted = (0..30).filter(|_| matches!(&room.from_viewer("a", &say("x"), t0, 0)[..], [Delivery::Viewer(_, AgentChat::Message { .. }), ..])).count();
        assert_eq!(accepted, CHAT_BURST as usize);
        let later = room.from_viewer("a", &say("x"), t0 + Duration::from_secs(2), 0);
        assert!(matches!(&later[..], [Delivery::Viewer(_, AgentChat::Message { .. }), ..]));
    }

    #[test]
    fn host_lines_are_checked_and_leavers_get_nothing() {
        let mut room = ChatRoom::new("desk");
        room.join("a", "Alice");
        assert_eq!(room.from_host("   ", 0), vec![Delivery::Host(HostChat::Refused("the message is empty".into()))]);
        assert_eq!(room.leave("a"), vec![Delivery::Host(HostChat::Left { name: "Alice".into() })]);
        assert!(room.from_viewer("a", &say("x"), Instant::now(), 0).is_empty());
        assert!(room.from_host("anyone?", 0).is_empty());
        assert_eq!(clock_utc(3_600_000 * 25 + 61_000), "01:01");
    }
}
