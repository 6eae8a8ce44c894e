//! Turns validated viewer events into injection actions, and tracks what a viewer holds down so
//! it can always be released. Plain logic: no X11, no clock.

use std::collections::BTreeSet;

use deskbeam_proto::input::{MouseButton, ViewerInput, WheelMode, MAX_PASTE_CHARS};

use super::keymap;

/// One thing to do to the X server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    MoveTo { x: i32, y: i32 },
    Button { button: MouseButton, down: bool },
    /// Scroll by whole notches; positive = down / right.
    Scroll { dx: i32, dy: i32 },
    Key { keysym: u32, down: bool },
    /// Type text (layout-independent).
    Text(String),
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("coordinates must be finite numbers in 0..=1")]
    OutOfRange,
    #[error("wheel delta is not a finite number within ±10000")]
    BadWheel,
    #[error("unknown key code {0:?}")]
    UnknownKey(String),
    #[error("paste of {0} characters exceeds {MAX_PASTE_CHARS}")]
    PasteTooLong(usize),
}

/// Pixels of wheel travel per notch (what browsers report for one notch).
const PIXELS_PER_NOTCH: f64 = 100.0;
const MAX_NOTCHES: f64 = 50.0;

/// A held key or button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    Key(u32),
    Button(u8),
}

fn button_index(b: MouseButton) -> u8 {
    match b {
        MouseButton::Left => 0,
        MouseButton::Middle => 1,
        MouseButton::Right => 2,
        MouseButton::Back => 3,
        MouseButton::Forward => 4,
    }
}

fn button_of(i: u8) -> MouseButton {
    match i {
        0 => MouseButton::Left,
        1 => MouseButton::Middle,
        2 => MouseButton::Right,
        3 => MouseButton::Back,
        _ => MouseButton::Forward,
    }
}

/// Per-viewer translation state: held keys/buttons and sub-notch wheel travel.
#[derive(Debug, Default)]
pub struct Translator {
    held: BTreeSet<Held>,
    wheel: (f64, f64),
}

impl Translator {
    /// Translates one input event for a screen of `width`×`height` pixels.
    pub fn translate(&mut self, event: &ViewerInput, width: u32, height: u32) -> Result<Vec<Action>, Rejection> {
        match event {
            ViewerInput::Move { x, y } => {
                let unit = 0.0..=1.0;
                if !unit.contains(x) || !unit.contains(y) {
                    return Err(Rejection::OutOfRange);
                }
                let px = (x * f64::from(width.saturating_sub(1))).round() as i32;
                let py = (y * f64::from(height.saturating_sub(1))).round() as i32;
                Ok(vec![Action::MoveTo { x: px, y: py }])
            }
            ViewerInput::Button { b, down } => Ok(self.press(Held::Button(button_index(*b)), *down, Action::Button { button: *b, down: *down })),
            ViewerInput::Wheel { dx, dy, mode } => self.wheel(*dx, *dy, *mode),
            ViewerInput::Key { code, down, text } => self.key(code, *down, text.as_deref()),
            ViewerInput::Paste { text } => {
                let n = text.chars().count();
                if n > MAX_PASTE_CHARS {
                    return Err(Rejection::PasteTooLong(n));
                }
                let clean: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect();
                Ok(if clean.is_empty() { vec![] } else { vec![Action::Text(clean)] })
            }
            ViewerInput::Ping | ViewerInput::Hello | ViewerInput::RequestControl | ViewerInput::ReleaseControl => Ok(vec![]),
        }
    }

    /// Presses and releases are only passed on when they change this viewer's own state: a
    /// release of something it never pressed does nothing, a repeat press is not doubled.
    fn press(&mut self, held: Held, down: bool, action: Action) -> Vec<Action> {
        let changed = if down { self.held.insert(held) } else { self.held.remove(&held) };
        if changed || (down && matches!(held, Held::Key(k) if !keymap::is_modifier(k))) {
            // Auto-repeat of a held (non-modifier) key is a real press again.
            vec![action]
        } else {
            vec![]
        }
    }

    fn wheel(&mut self, dx: f64, dy: f64, mode: WheelMode) -> Result<Vec<Action>, Rejection> {
        let ok = |d: f64| d.is_finite() && d.abs() <= 10_000.0;
        if !ok(dx) || !ok(dy) {
            return Err(Rejection::BadWheel);
        }
        let scale = match mode {
            WheelMode::Pixel => 1.0 / PIXELS_PER_NOTCH,
            WheelMode::Line => 1.0 / 3.0,
        };
        self.wheel.0 = (self.wheel.0 + dx * scale).clamp(-MAX_NOTCHES, MAX_NOTCHES);
        self.wheel.1 = (self.wheel.1 + dy * scale).clamp(-MAX_NOTCHES, MAX_NOTCHES);
        let (nx, ny) = (self.wheel.0.trunc(), self.wheel.1.trunc());
        self.wheel.0 -= nx;
        self.wheel.1 -= ny;
        Ok(if nx == 0.0 && ny == 0.0 { vec![] } else { vec![Action::Scroll { dx: nx as i32, dy: ny as i32 }] })
    }

    fn key(&mut self, code: &str, down: bool, text: Option<&str>) -> Result<Vec<Action>, Rejection> {
        let produced = text.and_then(single_char).filter(|c| !c.is_control());
        let shortcut = self.held.iter().any(|h| matches!(h, Held::Key(0xffe3 | 0xffe4 | 0xffe9 | 0xffeb | 0xffec)));
        let shifted = self.held.iter().any(|h| matches!(h, Held::Key(0xffe1 | 0xffe2)));
        match keymap::keysym(code) {
            // The key would not produce this text here (another layout, or a shifted symbol sent
            // without Shift): type the text itself.
            Some(sym) if down && !shortcut && produced.is_some_and(|c| !matches_us(sym, c, shifted)) => {
                Ok(vec![Action::Text(produced.map(String::from).unwrap_or_default())])
            }
            Some(sym) => Ok(self.press(Held::Key(sym), down, Action::Key { keysym: sym, down })),
            None => match produced {
                Some(c) if down => Ok(vec![Action::Text(c.to_string())]),
                Some(_) => Ok(vec![]),
                None => Err(Rejection::UnknownKey(code.chars().take(32).collect())),
            },
        }
    }

    /// Releases everything this viewer holds (disconnect, loss of control).
    pub fn release_all(&mut self) -> Vec<Action> {
        let held = std::mem::take(&mut self.held);
        self.wheel = (0.0, 0.0);
        held.into_iter()
            .rev()
            .map(|h| match h {
                Held::Key(keysym) => Action::Key { keysym, down: false },
                Held::Button(i) => Action::Button { button: button_of(i), down: false },
            })
            .collect()
    }

    pub fn holds_anything(&self) -> bool {
        !self.held.is_empty()
    }
}

fn single_char(s: &str) -> Option<char> {
    let mut it = s.chars();
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

/// Does the US keysym produce `c` with Shift as held? A letter whose case does not follow Shift
/// (Caps Lock on the viewer, or a synthetic keyboard) is typed as text, so the host's own Caps
/// Lock cannot flip it.
fn matches_us(keysym: u32, c: char, shifted: bool) -> bool {
    let Some(us) = keymap::us_char(keysym) else { return true };
    if us.is_ascii_alphabetic() {
        return us.eq_ignore_ascii_case(&c) && c.is_ascii_uppercase() == shifted;
    }
    if us == c {
        return !shifted;
    }
    if !shifted {
        return false;
    }
    const SHIFTED: &[(char, char)] = &[
        ('1', '!'), ('2', '@'), ('3', '#'), ('4', '$'), ('5', '%'), ('6', '^'), ('7', '&'), ('8', '*'), ('9', '('), ('0', ')'),
        ('-', '_'), ('=', '+'), ('[', '{'), (']', '}'), ('\\', '|'), (';', ':'), ('\'', '"'), ('`', '~'), (',', '<'), ('.', '>'), ('/', '?'),
    ];
    SHIFTED.iter().any(|&(a, b)| a == us && b == c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: &str, down: bool, text: Option<&str>) -> ViewerInput {
        ViewerInput::Key { code: code.into(), down, text: text.map(String::from) }
    }

    #[test]
    fn moves_map_to_pixels_and_bad_coordinates_are_refused() {
        let mut t = Translator::default();
        assert_eq!(t.translate(&ViewerInput::Move { x: 0.5, y: 1.0 }, 1281, 721), Ok(vec![Action::MoveTo { x: 640, y: 720 }]));
        for (x, y) in [(-0.1, 0.0), (0.0, 1.5), (f64::NAN, 0.0), (f64::INFINITY, 0.5)] {
            assert_eq!(t.translate(&ViewerInput::Move { x, y }, 100, 100), Err(Rejection::OutOfRange));
        }
    }

    #[test]
    fn us_keys_are_keysyms_and_other_layouts_type_their_text() {
        let mut t = Translator::default();
        assert_eq!(t.translate(&key("KeyA", true, Some("a")), 1, 1), Ok(vec![Action::Key { keysym: 0x61, down: true }]));
        assert_eq!(t.translate(&key("KeyA", false, Some("a")), 1, 1), Ok(vec![Action::Key { keysym: 0x61, down: false }]));
        // A capital without Shift (Caps Lock on the viewer's side) is typed as text.
        assert_eq!(t.translate(&key("KeyH", true, Some("H")), 1, 1), Ok(vec![Action::Text("H".into())]));
        // German layout: the key at US "Semicolon" types "ö".
        assert_eq!(t.translate(&key("Semicolon", true, Some("ö")), 1, 1), Ok(vec![Action::Text("ö".into())]));
        assert_eq!(t.translate(&key("Semicolon", false, Some("ö")), 1, 1), Ok(vec![]));
        // Shifted digits are still the physical key when Shift is held…
        let _ = t.translate(&key("ShiftLeft", true, None), 1, 1);
        assert_eq!(t.translate(&key("Digit1", true, Some("!")), 1, 1), Ok(vec![Action::Key { keysym: 0x31, down: true }]));
        let _ = t.translate(&key("ShiftLeft", false, None), 1, 1);
        // …and the text when it is not (synthetic keyboards send "!" without Shift).
        assert_eq!(t.translate(&key("Digit2", true, Some("@")), 1, 1), Ok(vec![Action::Text("@".into())]));
        // With Ctrl held, shortcuts go by physical key whatever the text.
        let _ = t.translate(&key("ControlLeft", true, None), 1, 1);
        assert_eq!(t.translate(&key("KeyQ", true, Some("a")), 1, 1), Ok(vec![Action::Key { keysym: 0x71, down: true }]));
        assert!(matches!(t.translate(&key("Launch", true, None), 1, 1), Err(Rejection::UnknownKey(_))));
    }

    #[test]
    fn release_all_lets_go_of_everything_held() {
        let mut t = Translator::default();
        let _ = t.translate(&key("ShiftLeft", true, None), 1, 1);
        let _ = t.translate(&ViewerInput::Button { b: MouseButton::Left, down: true }, 1, 1);
        // A release of something never pressed is not passed on.
        assert_eq!(t.translate(&ViewerInput::Button { b: MouseButton::Right, down: false }, 1, 1), Ok(vec![]));
        let released = t.release_all();
        assert!(released.contains(&Action::Key { keysym: 0xffe1, down: false }));
        assert!(released.contains(&Action::Button { button: MouseButton::Left, down: false }));
        assert!(!t.holds_anything());
        assert!(t.release_all().is_empty());
    }

    #[test]
    fn wheel_accumulates_pixels_into_notches() {
        let mut t = Translator::default();
        assert_eq!(t.translate(&ViewerInput::Wheel { dx: 0.0, dy: 60.0, mode: WheelMode::Pixel }, 1, 1), Ok(vec![]));
        assert_eq!(t.translate(&ViewerInput::Wheel { dx: 0.0, dy: 60.0, mode: WheelMode::Pixel }, 1, 1), Ok(vec![Action::Scroll { dx: 0, dy: 1 }]));
        assert_eq!(t.translate(&ViewerInput::Wheel { dx: -3.0, dy: 0.0, mode: WheelMode::Line }, 1, 1), Ok(vec![Action::Scroll { dx: -1, dy: 0 }]));
        assert_eq!(t.translate(&ViewerInput::Wheel { dx: f64::NAN, dy: 0.0, mode: WheelMode::Line }, 1, 1), Err(Rejection::BadWheel));
    }

    #[test]
    fn paste_is_bounded_and_stripped_of_control_characters() {
        let mut t = Translator::default();
        assert_eq!(t.translate(&ViewerInput::Paste { text: "ls\u{1b}[2J\n".into() }, 1, 1), Ok(vec![Action::Text("ls[2J\n".into())]));
        let long = "x".repeat(MAX_PASTE_CHARS + 1);
        assert_eq!(t.translate(&ViewerInput::Paste { text: long }, 1, 1), Err(Rejection::PasteTooLong(MAX_PASTE_CHARS + 1)));
    }
}
