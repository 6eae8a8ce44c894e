//! The control actor (one per agent) and the per-viewer `input` channel task.
//!
//! The actor owns the [`Arbiter`] and talks to the host (consent prompts, revocation); each
//! viewer task decodes, validates, rate-limits and translates that viewer's messages and hands
//! the actions to the [`Injector`]. Whatever ends a viewer's control — release, revocation,
//! disconnect — its task releases every key and button it still holds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskbeam_proto::input::{decode_viewer_input, encode, AgentInput, ControlState, ViewerInput};
use deskbeam_proto::signal::{AuditKind, ViewerId};
use tokio::sync::{mpsc, oneshot};

use super::control::{Arbiter, ConsentPolicy, RateLimiter, RequestOutcome};
use super::sink::Injector;
use super::translate::Translator;

/// How long the host has to answer a control request before it is denied.
pub const CONSENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Input events per second a viewer may send (bursts of [`INPUT_BURST`]).
pub const INPUT_RATE: f64 = 1000.0;
pub const INPUT_BURST: f64 = 200.0;

/// A question for the host: may this viewer take control?
pub struct ConsentRequest {
    pub viewer: ViewerId,
    pub label: String,
    pub answer: oneshot::Sender<bool>,
}

/// Messages to the control actor.
enum Command {
    Join { viewer: ViewerId, label: String, may_control: bool, out: mpsc::UnboundedSender<AgentInput>, flag: Arc<AtomicBool> },
    Leave { viewer: ViewerId },
    Request { viewer: ViewerId },
    /// The viewer asks for the current state (its channel just opened).
    Sync { viewer: ViewerId },
    Release { viewer: ViewerId },
    Decided { viewer: ViewerId, allow: bool },
    Revoke,
    Status { reply: oneshot::Sender<String> },
    Closing { viewer: ViewerId, reason: String },
}

/// A control event for the server's audit log.
pub type AuditEvent = (AuditKind, Option<ViewerId>, String);

/// Handle to the control actor.
#[derive(Clone)]
pub struct ControlService {
    tx: mpsc::UnboundedSender<Command>,
    injector: Injector,
}

struct Member {
    out: mpsc::UnboundedSender<AgentInput>,
    flag: Arc<AtomicBool>,
}

impl ControlService {
    /// Starts the actor. Consent questions go to `consent` (for `--consent prompt`).
    pub fn start(
        policy: ConsentPolicy,
        injector: Injector,
        consent: mpsc::UnboundedSender<ConsentRequest>,
        audit: mpsc::UnboundedSender<AuditEvent>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let actor = Actor { arbiter: Arbiter::new(policy), members: HashMap::new(), consent, audit, tx: tx.clone() };
        tokio::spawn(actor.run(rx));
        Self { tx, injector }
    }

    /// The host takes control back from whoever holds it.
    pub fn revoke(&self) {
        let _ = self.tx.send(Command::Revoke);
    }

    /// Tells a viewer why it is about to be disconnected (on its `input` channel, if open).
    pub fn closing(&self, viewer: &str, reason: &str) {
        let _ = self.tx.send(Command::Closing { viewer: viewer.to_string(), reason: reason.to_string() });
    }

    /// A one-line summary of who is connected and who controls.
    pub async fn status(&self) -> String {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Status { reply });
        rx.await.unwrap_or_default()
    }

    /// Serves one viewer's `input` channel until it closes.
    pub async fn serve(&self, channel: Arc<dyn webrtc::data_channel::DataChannel>, viewer: ViewerId, label: String, may_control: bool) {
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        let flag = Arc::new(AtomicBool::new(false));
        let join = Command::Join { viewer: viewer.clone(), label, may_control, out: out_tx, flag: flag.clone() };
        let _ = self.tx.send(join);
        let mut session = ViewerInputSession::new(viewer.clone(), flag, self.injector.clone());
        loop {
            tokio::select! {
                event = channel.poll() => match event {
                    Some(webrtc::data_channel::DataChannelEvent::OnMessage(msg)) => {
                        let reply = session.on_message(&msg.data, &self.tx);
                        if let Some(reply) = reply {
                            let _ = channel.send_text(&encode(&reply)).await;
                        }
                    }
                    Some(webrtc::data_channel::DataChannelEvent::OnClose) | None => break,
                    Some(_) => {}
                },
                Some(out) = out_rx.recv() => {
                    session.on_control_update(&out);
                    let _ = channel.send_text(&encode(&out)).await;
                }
            }
        }
        session.release_everything();
        let _ = self.tx.send(Command::Leave { viewer });
    }
}

/// One viewer's input state: its translator, budget and counters.
pub struct ViewerInputSession {
    viewer: ViewerId,
    has_control: Arc<AtomicBool>,
    injector: Injector,
    translator: Translator,
    limiter: RateLimiter,
    rejected: u64,
}

impl ViewerInputSession {
    pub fn new(viewer: ViewerId, has_control: Arc<AtomicBool>, injector: Injector) -> Self {
        Self { viewer, has_control, injector, translator: Translator::default(), limiter: RateLimiter::new(INPUT_RATE, INPUT_BURST), rejected: 0 }
    }

    fn reject(&mut self, code: &str, message: String) -> Option<AgentInput> {
        self.rejected += 1;
        // Log the first few and then every hundredth, so a flood cannot flood the log.
        if self.rejected <= 5 || self.rejected.is_multiple_of(100) {
            tracing::warn!(viewer_id = %self.viewer, code, %message, count = self.rejected, "rejected viewer input");
        }
        (self.rejected <= 20 || self.rejected.is_multiple_of(100)).then(|| AgentInput::Rejected { code: code.into(), message })
    }

    /// Handles one raw message; returns a reply for the viewer, if any.
    fn on_message(&mut self, bytes: &[u8], control: &mpsc::UnboundedSender<Command>) -> Option<AgentInput> {
        let event = match decode_viewer_input(bytes) {
            Ok(e) => e,
            Err(e) => return self.reject("bad_message", e.to_string()),
        };
        match event {
            ViewerInput::Ping => return Some(AgentInput::Pong),
            ViewerInput::Hello => {
                let _ = control.send(Command::Sync { viewer: self.viewer.clone() });
                return None;
            }
            ViewerInput::RequestControl => {
                let _ = control.send(Command::Request { viewer: self.viewer.clone() });
                return None;
            }
            ViewerInput::ReleaseControl => {
                let _ = control.send(Command::Release { viewer: self.viewer.clone() });
                return None;
            }
            _ => {}
        }
        if !self.has_control.load(Ordering::Acquire) {
            return self.reject("no_control", "this viewer does not have control".into());
        }
        if !self.limiter.allow(Instant::now()) {
            return self.reject("rate_limited", "too many input events".into());
        }
        let Some((w, h)) = self.injector.screen_size() else {
            return self.reject("input_unavailable", "input injection is not available on this host".into());
        };
        match self.translator.translate(&event, w, h) {
            Ok(actions) => {
                self.injector.inject(actions);
                None
            }
            Err(e) => self.reject("invalid_input", e.to_string()),
        }
    }

    /// A control update on its way to the viewer: losing control releases what it holds.
    pub fn on_control_update(&mut self, update: &AgentInput) {
        if let AgentInput::Control { state, .. } = update {
            if *state != ControlState::Granted {
                self.release_everything();
            }
        }
    }

    pub fn release_everything(&mut self) {
        let actions = self.translator.release_all();
        if !actions.is_empty() {
            tracing::info!(viewer_id = %self.viewer, released = actions.len(), "released keys and buttons the viewer held");
            self.injector.inject(actions);
        }
    }
}

struct Actor {
    arbiter: Arbiter,
    members: HashMap<ViewerId, Member>,
    consent: mpsc::UnboundedSender<ConsentRequest>,
    audit: mpsc::UnboundedSender<AuditEvent>,
    tx: mpsc::UnboundedSender<Command>,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        while let Some(cmd) = rx.recv().await {
            self.handle(cmd);
        }
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Join { viewer, label, may_control, out, flag } => {
                self.arbiter.join(viewer.clone(), label, may_control);
                self.members.insert(viewer.clone(), Member { out, flag });
                self.notify(&viewer, None);
            }
            Command::Leave { viewer } => {
                self.members.remove(&viewer);
                if self.arbiter.leave(&viewer) {
                    tracing::info!(viewer_id = %viewer, "controller left; control is free");
                    self.audit(AuditKind::ControlReleased, &viewer, "the controller disconnected");
                    self.notify_all(Some("the controller left"));
                }
            }
            Command::Request { viewer } => self.request(viewer),
            Command::Sync { viewer } => self.notify(&viewer, None),
            Command::Release { viewer } => {
                if self.arbiter.is_holder(&viewer) {
                    self.arbiter.release();
                    tracing::info!(viewer_id = %viewer, "viewer released control");
                    self.audit(AuditKind::ControlReleased, &viewer, "released by the viewer");
                    self.notify_all(Some("control released"));
                }
            }
            Command::Decided { viewer, allow } => {
                let granted = self.arbiter.decide(&viewer, allow);
                tracing::info!(viewer_id = %viewer, granted, "host answered a control request");
                let kind = if granted { AuditKind::ControlGranted } else { AuditKind::ControlDenied };
                self.audit(kind, &viewer, if granted { "granted by the host" } else { "denied or timed out" });
                if granted {
                    self.notify_all(None);
                } else {
                    self.notify(&viewer, Some("the host declined"));
                }
            }
            Command::Revoke => {
                if let Some(v) = self.arbiter.release() {
                    tracing::info!(viewer_id = %v, "host revoked control");
                    self.audit(AuditKind::ControlRevoked, &v, "taken back by the host");
                    self.notify_all(Some("the host took control back"));
                }
            }
            Command::Closing { viewer, reason } => {
                if let Some(member) = self.members.get(&viewer) {
                    let _ = member.out.send(AgentInput::Closing { reason });
                }
            }
            Command::Status { reply } => {
                let holder = self.arbiter.holder().unwrap_or("nobody");
                let _ = reply.send(format!("{} viewer(s) on the input channel; control: {holder}", self.members.len()));
            }
        }
    }

    fn audit(&self, kind: AuditKind, viewer: &str, detail: &str) {
        let _ = self.audit.send((kind, Some(viewer.to_string()), detail.to_string()));
    }

    fn request(&mut self, viewer: ViewerId) {
        self.audit(AuditKind::ControlRequested, &viewer, "");
        match self.arbiter.request(&viewer) {
            RequestOutcome::Granted => {
                tracing::info!(viewer_id = %viewer, "control granted");
                self.audit(AuditKind::ControlGranted, &viewer, "granted automatically (--consent auto)");
                self.notify_all(None);
            }
            RequestOutcome::Refused(reason) => {
                tracing::info!(viewer_id = %viewer, %reason, "control request refused");
                self.audit(AuditKind::ControlDenied, &viewer, &reason);
                self.notify(&viewer, Some(&reason));
            }
            RequestOutcome::AskHost { viewer, label } => {
                self.notify(&viewer, None);
                let (answer, rx) = oneshot::channel();
                if self.consent.send(ConsentRequest { viewer: viewer.clone(), label, answer }).is_err() {
                    self.handle(Command::Decided { viewer, allow: false });
                    return;
                }
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let allow = matches!(tokio::time::timeout(CONSENT_TIMEOUT, rx).await, Ok(Ok(true)));
                    let _ = tx.send(Command::Decided { viewer, allow });
                });
            }
        }
    }

    fn notify(&self, viewer: &str, reason: Option<&str>) {
        let Some(member) = self.members.get(viewer) else { return };
        let (state, can_request, holder) = self.arbiter.view_for(viewer);
        member.flag.store(state == ControlState::Granted, Ordering::Release);
        let _ = member.out.send(AgentInput::Control { state, can_request, holder, reason: reason.map(String::from) });
    }

    fn notify_all(&self, reason: Option<&str>) {
        let viewers: Vec<ViewerId> = self.arbiter.viewers().cloned().collect();
        for v in viewers {
            self.notify(&v, reason);
        }
    }
}
