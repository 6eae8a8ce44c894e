//! Physical key codes (`KeyboardEvent.code`, layout-independent) to X11 keysyms of the US layout.

/// The X11 keysym for a physical key, or `None` for a code we do not inject.
pub fn keysym(code: &str) -> Option<u32> {
    if let Some(c) = code.strip_prefix("Key") {
        let b = single_byte(c)?;
        return b.is_ascii_uppercase().then(|| u32::from(b.to_ascii_lowercase()));
    }
    if let Some(d) = code.strip_prefix("Digit") {
        let b = single_byte(d)?;
        return b.is_ascii_digit().then_some(u32::from(b));
    }
    if let Some(d) = code.strip_prefix("Numpad") {
        if let Some(b) = single_byte(d).filter(u8::is_ascii_digit) {
            return Some(0xffb0 + u32::from(b - b'0'));
        }
    }
    if let Some(n) = code.strip_prefix('F').and_then(|n| n.parse::<u32>().ok()) {
        return (1..=24).contains(&n).then(|| 0xffbe + n - 1);
    }
    NAMED.iter().find(|(name, _)| *name == code).map(|(_, sym)| *sym)
}

fn single_byte(s: &str) -> Option<u8> {
    match s.as_bytes() {
        [b] => Some(*b),
        _ => None,
    }
}

/// Is this keysym a modifier (Shift, Control, Alt, Meta/Super, AltGr)?
pub fn is_modifier(keysym: u32) -> bool {
    matches!(keysym, 0xffe1..=0xffee | 0xfe03)
}

/// What an unmodified US keyboard types with this keysym, if it is printable.
pub fn us_char(keysym: u32) -> Option<char> {
    (0x20..0x7f).contains(&keysym).then(|| char::from_u32(keysym)).flatten()
}

const NAMED: &[(&str, u32)] = &[
    ("Enter", 0xff0d),
    ("Escape", 0xff1b),
    ("Backspace", 0xff08),
    ("Tab", 0xff09),
    ("Space", 0x20),
    ("Minus", 0x2d),
    ("Equal", 0x3d),
    ("BracketLeft", 0x5b),
    ("BracketRight", 0x5d),
    ("Backslash", 0x5c),
    ("Semicolon", 0x3b),
    ("Quote", 0x27),
    ("Backquote", 0x60),
    ("Comma", 0x2c),
    ("Period", 0x2e),
    ("Slash", 0x2f),
    ("IntlBackslash", 0x3c),
    ("CapsLock", 0xffe5),
    ("PrintScreen", 0xff61),
    ("ScrollLock", 0xff14),
    ("Pause", 0xff13),
    ("Insert", 0xff63),
    ("Home", 0xff50),
    ("PageUp", 0xff55),
    ("Delete", 0xffff),
    ("End", 0xff57),
    ("PageDown", 0xff56),
    ("ArrowRight", 0xff53),
    ("ArrowLeft", 0xff51),
    ("ArrowDown", 0xff54),
    ("ArrowUp", 0xff52),
    ("NumLock", 0xff7f),
    ("NumpadDivide", 0xffaf),
    ("NumpadMultiply", 0xffaa),
    ("NumpadSubtract", 0xffad),
    ("NumpadAdd", 0xffab),
    ("NumpadEnter", 0xff8d),
    ("NumpadDecimal", 0xffae),
    ("NumpadEqual", 0xffbd),
    ("ShiftLeft", 0xffe1),
    ("ShiftRight", 0xffe2),
    ("ControlLeft", 0xffe3),
    ("ControlRight", 0xffe4),
    ("AltLeft", 0xffe9),
    ("AltRight", 0xfe03),
    ("MetaLeft", 0xffeb),
    ("MetaRight", 0xffec),
    ("ContextMenu", 0xff67),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_letters_digits_and_named_keys() {
        assert_eq!(keysym("KeyA"), Some(0x61));
        assert_eq!(keysym("KeyZ"), Some(0x7a));
        assert_eq!(keysym("Digit7"), Some(0x37));
        assert_eq!(keysym("Numpad3"), Some(0xffb3));
        assert_eq!(keysym("F1"), Some(0xffbe));
        assert_eq!(keysym("F12"), Some(0xffc9));
        assert_eq!(keysym("Enter"), Some(0xff0d));
        assert_eq!(keysym("ShiftLeft"), Some(0xffe1));
        assert!(is_modifier(0xffe1) && is_modifier(0xfe03) && !is_modifier(0x61));
        assert_eq!(us_char(0x61), Some('a'));
        assert_eq!(us_char(0xff0d), None);
    }

    #[test]
    fn refuses_unknown_codes() {
        for code in ["", "Key", "KeyAA", "Keya", "Key1", "Digit", "DigitX", "F0", "F25", "Fx", "Launch", "KeyÄ"] {
            assert_eq!(keysym(code), None, "{code}");
        }
    }
}
