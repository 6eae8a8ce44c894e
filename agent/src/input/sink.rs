//! Where input actions land: the X server through enigo (XTEST), or a recording for tests.
//! The sink lives on its own thread ([`Injector`]); viewers hand it batches of actions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deskbeam_proto::input::MouseButton;

use super::translate::Action;

/// Errors from a sink.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot open the display for input: {0}")]
    Open(String),
    #[error("input injection failed: {0}")]
    Inject(String),
}

/// Injects actions into the shared desktop.
pub trait InputSink {
    fn apply(&mut self, action: &Action) -> Result<(), SinkError>;
    /// Size of the screen coordinates refer to.
    fn screen_size(&mut self) -> Option<(u32, u32)>;
}

/// Builds a sink on the injector thread.
pub type SinkFactory = Box<dyn FnOnce() -> Result<Box<dyn InputSink>, SinkError> + Send>;

/// The X11 display in `$DISPLAY`, through enigo's x11rb backend (needs XTEST).
pub struct EnigoSink {
    enigo: enigo::Enigo,
}

impl EnigoSink {
    pub fn open() -> Result<Self, SinkError> {
        let enigo = enigo::Enigo::new(&enigo::Settings::default()).map_err(|e| SinkError::Open(e.to_string()))?;
        Ok(Self { enigo })
    }
}

fn button(b: MouseButton) -> enigo::Button {
    match b {
        MouseButton::Left => enigo::Button::Left,
        MouseButton::Middle => enigo::Button::Middle,
        MouseButton::Right => enigo::Button::Right,
        MouseButton::Back => enigo::Button::Back,
        MouseButton::Forward => enigo::Button::Forward,
    }
}

fn direction(down: bool) -> enigo::Direction {
    if down {
        enigo::Direction::Press
    } else {
        enigo::Direction::Release
    }
}

impl InputSink for EnigoSink {
    fn apply(&mut self, action: &Action) -> Result<(), SinkError> {
        use enigo::{Axis, Coordinate, Keyboard, Mouse};
        let e = &mut self.enigo;
        let result = match action {
            Action::MoveTo { x, y } => e.move_mouse(*x, *y, Coordinate::Abs),
            Action::Button { button: b, down } => e.button(button(*b), direction(*down)),
            Action::Scroll { dx, dy } => {
                let v = if *dy != 0 { e.scroll(*dy, Axis::Vertical) } else { Ok(()) };
                v.and_then(|()| if *dx != 0 { e.scroll(*dx, Axis::Horizontal) } else { Ok(()) })
            }
            Action::Key { keysym, down } => e.key(enigo::Key::Other(*keysym), direction(*down)),
            Action::Text(text) => e.text(text),
        };
        result.map_err(|e| SinkError::Inject(e.to_string()))
    }

    fn screen_size(&mut self) -> Option<(u32, u32)> {
        use enigo::Mouse;
        let (w, h) = self.enigo.main_display().ok()?;
        Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))
    }
}

/// Records actions (tests).
#[derive(Clone, Default)]
pub struct RecordingSink {
    pub actions: Arc<Mutex<Vec<Action>>>,
    pub size: (u32, u32),
}

impl InputSink for RecordingSink {
    fn apply(&mut self, action: &Action) -> Result<(), SinkError> {
        if let Ok(mut a) = self.actions.lock() {
            a.push(action.clone());
        }
        Ok(())
    }

    fn screen_size(&mut self) -> Option<(u32, u32)> {
        Some(self.size)
    }
}

/// The thread that owns the sink. Cheap to clone; actions from all viewers are applied in order.
#[derive(Clone)]
pub struct Injector {
    tx: std::sync::mpsc::Sender<Vec<Action>>,
    size: Arc<AtomicU64>,
}

impl Injector {
    /// Starts the injector thread. If the sink cannot be opened, input is refused (logged).
    pub fn start(factory: SinkFactory) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<Action>>();
        let size = Arc::new(AtomicU64::new(0));
        let shared = size.clone();
        let spawned = std::thread::Builder::new().name("deskbeam-input".into()).spawn(move || {
            let mut sink = match factory() {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "remote input is unavailable");
                    return;
                }
            };
            let mut refreshed = Instant::now() - Duration::from_secs(60);
            let refresh = |sink: &mut Box<dyn InputSink>, refreshed: &mut Instant| {
                if refreshed.elapsed() >= Duration::from_secs(2) {
                    if let Some((w, h)) = sink.screen_size() {
                        shared.store(u64::from(w) << 32 | u64::from(h), Ordering::Release);
                    }
                    *refreshed = Instant::now();
                }
            };
            refresh(&mut sink, &mut refreshed);
            while let Ok(actions) = rx.recv() {
                for action in &actions {
                    if let Err(e) = sink.apply(action) {
                        tracing::warn!(error = %e, "input action failed");
                    }
                }
                refresh(&mut sink, &mut refreshed);
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the input thread");
        }
        Self { tx, size }
    }

    /// Queues actions (never blocks).
    pub fn inject(&self, actions: Vec<Action>) {
        if !actions.is_empty() {
            let _ = self.tx.send(actions);
        }
    }

    /// The screen size input coordinates map to, once known.
    pub fn screen_size(&self) -> Option<(u32, u32)> {
        let v = self.size.load(Ordering::Acquire);
        let (w, h) = ((v >> 32) as u32, v as u32);
        (w > 0 && h > 0).then_some((w, h))
    }
}
