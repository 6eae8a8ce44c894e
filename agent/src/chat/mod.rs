//! Text chat between the host (its terminal) and every viewer (their `chat` data channels).
//!
//! - [`room`]: plain logic: names, validation, rate limits, the one message order.
//! - [`ChatService`]: the actor that owns the room and the per-viewer channel tasks around it.
//!   Messages for the host's terminal come out of the receiver returned by [`ChatService::start`].

pub mod room;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use deskbeam_proto::chat::AgentChat;
use deskbeam_proto::input::encode;
use deskbeam_proto::signal::ViewerId;
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};

pub use room::{clock_utc, ChatError, ChatRoom, Delivery, HostChat};

enum Command {
    Join { viewer: ViewerId, name: String, out: mpsc::UnboundedSender<AgentChat> },
    Leave { viewer: ViewerId },
    FromViewer { viewer: ViewerId, bytes: Vec<u8> },
    FromHost { text: String },
}

/// Handle to the chat actor.
#[derive(Clone)]
pub struct ChatService {
    tx: mpsc::UnboundedSender<Command>,
}

impl ChatService {
    /// Starts the actor; the host speaks as `host_name`. Returns what the host's terminal shows.
    pub fn start(host_name: &str) -> (Self, mpsc::UnboundedReceiver<HostChat>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (host_tx, host_rx) = mpsc::unbounded_channel();
        let actor = Actor { room: ChatRoom::new(host_name), outs: HashMap::new(), host: host_tx };
        tokio::spawn(actor.run(rx));
        (Self { tx }, host_rx)
    }

    /// The host says `text` to every viewer.
    pub fn say_as_host(&self, text: &str) {
        let _ = self.tx.send(Command::FromHost { text: text.to_string() });
    }

    /// Serves one viewer's `chat` channel until it closes.
    pub async fn serve(&self, channel: Arc<dyn DataChannel>, viewer: ViewerId, name: String) {
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        let _ = self.tx.send(Command::Join { viewer: viewer.clone(), name, out: out_tx });
        loop {
            tokio::select! {
                event = channel.poll() => match event {
                    Some(DataChannelEvent::OnMessage(msg)) => {
                        let _ = self.tx.send(Command::FromViewer { viewer: viewer.clone(), bytes: msg.data.to_vec() });
                    }
                    Some(DataChannelEvent::OnClose) | None => break,
                    Some(_) => {}
                },
                Some(out) = out_rx.recv() => {
                    if let Err(e) = channel.send_text(&encode(&out)).await {
                        tracing::debug!(viewer_id = %viewer, error = %e, "chat send failed");
                    }
                }
            }
        }
        let _ = self.tx.send(Command::Leave { viewer });
    }
}

struct Actor {
    room: ChatRoom,
    outs: HashMap<ViewerId, mpsc::UnboundedSender<AgentChat>>,
    host: mpsc::UnboundedSender<HostChat>,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        while let Some(cmd) = rx.recv().await {
            let deliveries = match cmd {
                Command::Join { viewer, name, out } => {
                    self.outs.insert(viewer.clone(), out);
                    self.room.join(&viewer, &name)
                }
                Command::Leave { viewer } => {
                    self.outs.remove(&viewer);
                    self.room.leave(&viewer)
                }
                Command::FromViewer { viewer, bytes } => self.room.from_viewer(&viewer, &bytes, Instant::now(), now_ms()),
                Command::FromHost { text } => self.room.from_host(&text, now_ms()),
            };
            for d in deliveries {
                match d {
                    Delivery::Viewer(viewer, msg) => {
                        if let Some(out) = self.outs.get(&viewer) {
                            let _ = out.send(msg);
                        }
                    }
                    Delivery::Host(line) => {
                        let _ = self.host.send(line);
                    }
                }
            }
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
