//! Viewer input on the `input` data channel: decoding (size, version, JSON shape) and the
//! agent's validation and translation into X actions.
//!
//! Properties: nothing panics; a decoded event encodes and decodes back to itself; every
//! accepted event yields actions inside the screen and within the documented bounds; after any
//! sequence, releasing everything leaves nothing held.
#![no_main]

use deskbeam_fuzz::translate::{Action, Translator};
use deskbeam_proto::input::{decode_agent_input, decode_viewer_input, encode, MAX_PASTE_CHARS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (width, height, rest) = match data {
        [w, h, rest @ ..] => (u32::from(*w) * 16 + 1, u32::from(*h) * 16 + 1, rest),
        _ => return,
    };
    let _ = decode_agent_input(rest);
    let mut translator = Translator::default();
    // One message per line, as many as the input holds.
    for message in rest.split(|b| *b == b'\n') {
        let Ok(event) = decode_viewer_input(message) else { continue };
        let again = decode_viewer_input(encode(&event).as_bytes());
        assert_eq!(again.as_ref(), Ok(&event), "decode → encode → decode changed the event");
        let Ok(actions) = translator.translate(&event, width, height) else { continue };
        for action in &actions {
            check(action, width, height);
        }
    }
    for action in translator.release_all() {
        check(&action, width, height);
        assert!(matches!(action, Action::Key { down: false, .. } | Action::Button { down: false, .. }), "release_all pressed something: {action:?}");
    }
    assert!(!translator.holds_anything(), "something is still held after release_all");
});

fn check(action: &Action, width: u32, height: u32) {
    match action {
        Action::MoveTo { x, y } => {
            assert!((0..width as i32).contains(x) && (0..height as i32).contains(y), "move outside the screen: {action:?}")
        }
        Action::Scroll { dx, dy } => assert!(dx.abs() <= 50 && dy.abs() <= 50, "scroll beyond the notch limit: {action:?}"),
        Action::Text(text) => assert!(text.chars().count() <= MAX_PASTE_CHARS, "text beyond the paste limit"),
        Action::Key { .. } | Action::Button { .. } => {}
    }
}
