//! Agent ⇄ server signaling frames, both directions.
//!
//! Properties: nothing panics; a decoded frame encodes and decodes back to itself; frames over
//! the size limit are refused whatever they hold.
#![no_main]

use deskbeam_proto::signal::{AgentMessage, DecodeError, ServerMessage, MAX_FRAME_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(message) = AgentMessage::decode(text) {
        assert_eq!(AgentMessage::decode(&message.to_json()), Ok(message), "agent frame round trip");
    }
    if let Ok(message) = ServerMessage::decode(text) {
        assert_eq!(ServerMessage::decode(&message.to_json()), Ok(message), "server frame round trip");
    }
    // The same frame padded past the limit is refused before it is parsed.
    if text.len() <= 64 {
        let padded = format!("{text}{}", " ".repeat(MAX_FRAME_BYTES + 1 - text.len()));
        assert!(matches!(AgentMessage::decode(&padded), Err(DecodeError::TooLarge(_))));
    }
});
