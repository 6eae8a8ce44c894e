//! The host's terminal: answers consent prompts (`y`/`n`), takes control back (`r`), shows
//! status (`s`), stops sharing (`q`) and chats (a line starting with `>`). Prompts and chat go
//! to stderr; stdout carries only the link.

use std::collections::VecDeque;
use std::io::BufRead;

use tokio::sync::mpsc;

use crate::chat::{clock_utc, HostChat};
use super::service::{ConsentRequest, CONSENT_TIMEOUT};

/// What the host asked for at the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostCommand {
    Revoke,
    Status,
    Stop,
    /// Say this in the chat.
    Chat(String),
}

/// What a line typed by the host means, given whether a question is waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Answer(bool),
    Command(HostCommand),
    Help,
    Nothing,
}

/// Interprets one line. Plain logic (tested below).
pub fn parse_line(line: &str, question_pending: bool) -> Line {
    // A chat line never answers a question nor runs a command, whatever it says.
    if let Some(text) = line.trim_start().strip_prefix(CHAT_PREFIX) {
        return Line::Command(HostCommand::Chat(text.trim().to_string()));
    }
    let l = line.trim().to_ascii_lowercase();
    match (l.as_str(), question_pending) {
        ("y" | "yes", true) => Line::Answer(true),
        (_, true) if !matches!(l.as_str(), "r" | "s" | "q") => Line::Answer(false),
        ("r" | "revoke", _) => Line::Command(HostCommand::Revoke),
        ("s" | "status", _) => Line::Command(HostCommand::Status),
        ("q" | "quit" | "stop", _) => Line::Command(HostCommand::Stop),
        ("", false) => Line::Nothing,
        _ => Line::Help,
    }
}

/// What starts a chat line at the terminal.
pub const CHAT_PREFIX: char = '>';

const HELP: &str = "deskbeam: type r⏎ to take control back, s⏎ for status, q⏎ to stop sharing, > text⏎ to chat";

/// How the terminal shows a chat event. The text was cleaned of control characters by the room;
/// continuation lines are indented under the first.
pub fn format_chat(event: &HostChat) -> String {
    match event {
        HostChat::Message { from, text, at_ms, .. } => {
            format!("[{} UTC] {from}: {}", clock_utc(*at_ms), text.replace('\n', "\n    "))
        }
        HostChat::Joined { name } => format!("deskbeam: {name} joined the chat"),
        HostChat::Left { name } => format!("deskbeam: {name} left the chat"),
        HostChat::Refused(why) => format!("deskbeam: message not sent: {why}"),
    }
}

/// Shows chat events on the terminal (stderr) until the chat stops.
pub async fn print_chat(mut events: mpsc::UnboundedReceiver<HostChat>) {
    while let Some(event) = events.recv().await {
        eprintln!("{}", format_chat(&event));
    }
}

/// Reads the terminal on a thread and answers consent questions from `questions`.
/// Returns the host's commands. Without a terminal (stdin closed), questions are denied.
pub fn start(mut questions: mpsc::UnboundedReceiver<ConsentRequest>) -> mpsc::UnboundedReceiver<HostCommand> {
    let (lines_tx, mut lines) = mpsc::unbounded_channel::<String>();
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let _ = std::thread::Builder::new().name("deskbeam-console".into()).spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut queue: VecDeque<ConsentRequest> = VecDeque::new();
        let mut stdin_open = true;
        loop {
            queue.retain(|q| !q.answer.is_closed());
            tokio::select! {
                q = questions.recv() => match q {
                    Some(q) if !stdin_open => {
                        tracing::warn!(viewer_id = %q.viewer, "control request denied: no terminal to ask (use --consent auto to allow)");
                        let _ = q.answer.send(false);
                    }
                    Some(q) => {
                        if queue.is_empty() {
                            prompt(&q);
                        }
                        queue.push_back(q);
                    }
                    None => break,
                },
                line = lines.recv(), if stdin_open => match line {
                    None => {
                        stdin_open = false;
                        for q in queue.drain(..) {
                            let _ = q.answer.send(false);
                        }
                    }
                    Some(line) => match parse_line(&line, !queue.is_empty()) {
                        Line::Answer(allow) => {
                            if let Some(q) = queue.pop_front() {
                                let _ = q.answer.send(allow);
                                eprintln!("deskbeam: control {} for {}", if allow { "granted" } else { "denied" }, q.label);
                            }
                            if let Some(next) = queue.front() {
                                prompt(next);
                            }
                        }
                        Line::Command(c) => {
                            let _ = commands_tx.send(c);
                        }
                        Line::Help => eprintln!("{HELP}"),
                        Line::Nothing => {}
                    },
                },
            }
        }
    });
    commands
}

fn prompt(q: &ConsentRequest) {
    eprintln!(
        "\ndeskbeam: {} asks to control this screen. Allow? [y/N] (denied in {} s)",
        q.label,
        CONSENT_TIMEOUT.as_secs()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_mean_answers_when_asked_and_commands_otherwise() {
        assert_eq!(parse_line("y", true), Line::Answer(true));
        assert_eq!(parse_line(" YES ", true), Line::Answer(true));
        assert_eq!(parse_line("", true), Line::Answer(false));
        assert_eq!(parse_line("n", true), Line::Answer(false));
        assert_eq!(parse_line("r", true), Line::Command(HostCommand::Revoke));
        assert_eq!(parse_line("r", false), Line::Command(HostCommand::Revoke));
        assert_eq!(parse_line("q", false), Line::Command(HostCommand::Stop));
        assert_eq!(parse_line("s", false), Line::Command(HostCommand::Status));
        assert_eq!(parse_line("y", false), Line::Help);
        assert_eq!(parse_line("", false), Line::Nothing);
    }

    #[test]
    fn chat_lines_never_answer_or_command() {
        assert_eq!(parse_line("> y", true), Line::Command(HostCommand::Chat("y".into())));
        assert_eq!(parse_line(" >q", false), Line::Command(HostCommand::Chat("q".into())));
        assert_eq!(parse_line(">", false), Line::Command(HostCommand::Chat(String::new())));
    }

    #[test]
    fn chat_shows_time_name_and_indented_lines() {
        let m = HostChat::Message { from: "Alice".into(), role: deskbeam_proto::chat::ChatRole::Viewer, text: "a\nb".into(), at_ms: 3_660_000 };
        assert_eq!(format_chat(&m), "[01:01 UTC] Alice: a\n    b");
        assert_eq!(format_chat(&HostChat::Joined { name: "Bob".into() }), "deskbeam: Bob joined the chat");
    }
}
