//! Property tests: no byte string, and no well-formed but hostile event, can make the input
//! decoder or validator panic, and every accepted action stays on the screen.

use deskbeam_agent::input::translate::{Action, Translator};
use deskbeam_proto::input::{decode_viewer_input, encode, MouseButton, ViewerInput, WheelMode};
use proptest::prelude::*;

fn any_event() -> impl Strategy<Value = ViewerInput> {
    let button = prop_oneof![Just(MouseButton::Left), Just(MouseButton::Middle), Just(MouseButton::Right), Just(MouseButton::Back), Just(MouseButton::Forward)];
    let mode = prop_oneof![Just(WheelMode::Pixel), Just(WheelMode::Line)];
    prop_oneof![
        (any::<f64>(), any::<f64>()).prop_map(|(x, y)| ViewerInput::Move { x, y }),
        (0.0f64..=1.0, 0.0f64..=1.0).prop_map(|(x, y)| ViewerInput::Move { x, y }),
        (button, any::<bool>()).prop_map(|(b, down)| ViewerInput::Button { b, down }),
        (any::<f64>(), any::<f64>(), mode).prop_map(|(dx, dy, mode)| ViewerInput::Wheel { dx, dy, mode }),
        ("\\PC{0,40}", any::<bool>(), proptest::option::of("\\PC{0,4}")).prop_map(|(code, down, text)| ViewerInput::Key { code, down, text }),
        ("(Key[A-Z]|Digit[0-9]|Shift(Left|Right)|Control(Left|Right)|Enter|F[0-9]{1,2})", any::<bool>()).prop_map(|(code, down)| ViewerInput::Key { code, down, text: None }),
        "\\PC{0,300}".prop_map(|text| ViewerInput::Paste { text }),
        Just(ViewerInput::Ping),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(event) = decode_viewer_input(&bytes) {
            let _ = Translator::default().translate(&event, 1920, 1080);
        }
    }

    #[test]
    fn json_shaped_noise_never_panics(s in r#"\{"v":1,"t":"(move|button|wheel|key|paste|ping)"(,"[a-z]{1,4}":(-?[0-9.e+]{1,12}|"[^"]{0,8}"|true|null))*\}"#) {
        if let Ok(event) = decode_viewer_input(s.as_bytes()) {
            let _ = Translator::default().translate(&event, 1920, 1080);
        }
    }

    #[test]
    fn events_survive_the_wire_and_actions_stay_on_screen(events in proptest::collection::vec(any_event(), 1..50), w in 1u32..5000, h in 1u32..5000) {
        let mut t = Translator::default();
        for event in events {
            let wire = encode(&event);
            let decoded = decode_viewer_input(wire.as_bytes());
            prop_assert!(decoded.is_ok(), "{wire}");
            if let Ok(actions) = t.translate(&event, w, h) {
                for a in actions {
                    if let Action::MoveTo { x, y } = a {
                        prop_assert!(x >= 0 && (x as u32) < w && y >= 0 && (y as u32) < h);
                    }
                    if let Action::Scroll { dx, dy } = a {
                        prop_assert!(dx.abs() <= 50 && dy.abs() <= 50);
                    }
                }
            }
        }
        // Whatever happened, releasing leaves nothing held.
        let _ = t.release_all();
        prop_assert!(!t.holds_anything());
    }
}
