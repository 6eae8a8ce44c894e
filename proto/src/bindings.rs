//! Generates the browser's TypeScript declarations (`web/protocol.d.ts`) from the Rust types,
//! and checks the committed file is current. `UPDATE_BINDINGS=1 cargo test -p deskbeam-proto`
//! rewrites it.

use ts_rs::TS;

use crate::api::{ErrorBody, ErrorDetail};
use crate::ice::{IceServer, IceServerList};
use crate::chat::{AgentChat, ChatRole, ViewerChat, CHAT_CHANNEL, MAX_CHAT_BYTES, MAX_CHAT_CHARS};
use crate::input::{AgentInput, ControlState, MouseButton, ViewerInput, WheelMode, INPUT_CHANNEL, INPUT_VERSION, MAX_INPUT_BYTES, MAX_PASTE_CHARS};

fn export(decl: String) -> String {
    format!("export {decl}\n")
}

/// The full text of `web/protocol.d.ts`.
pub fn typescript() -> String {
    let mut out = String::from(
        "// Generated from proto/src/*.rs by `UPDATE_BINDINGS=1 cargo test -p deskbeam-proto`. Do not edit.\n\n",
    );
    out.push_str(&format!("export declare const INPUT_VERSION: {INPUT_VERSION};\n"));
    out.push_str(&format!("export declare const INPUT_CHANNEL: \"{INPUT_CHANNEL}\";\n"));
    out.push_str(&format!("export declare const MAX_INPUT_BYTES: {MAX_INPUT_BYTES};\n"));
    out.push_str(&format!("export declare const MAX_PASTE_CHARS: {MAX_PASTE_CHARS};\n"));
    out.push_str(&format!("export declare const CHAT_CHANNEL: \"{CHAT_CHANNEL}\";\n"));
    out.push_str(&format!("export declare const MAX_CHAT_CHARS: {MAX_CHAT_CHARS};\n"));
    out.push_str(&format!("export declare const MAX_CHAT_BYTES: {MAX_CHAT_BYTES};\n\n"));
    for decl in [
        MouseButton::decl(),
        WheelMode::decl(),
        ViewerInput::decl(),
        ControlState::decl(),
        AgentInput::decl(),
        ViewerChat::decl(),
        ChatRole::decl(),
        AgentChat::decl(),
        ErrorDetail::decl(),
        ErrorBody::decl(),
        IceServer::decl(),
        IceServerList::decl(),
    ] {
        out.push_str(&export(decl));
    }
    out.push_str(&format!(
        "/** Every message on the input and chat channels carries the protocol version. */\nexport type Framed<T> = {{ v: {INPUT_VERSION} }} & T;\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn web_protocol_declarations_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/protocol.d.ts");
        let want = super::typescript();
        if std::env::var("UPDATE_BINDINGS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &want).expect("write web/protocol.d.ts");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(have == want, "web/protocol.d.ts is stale: run `UPDATE_BINDINGS=1 cargo test -p deskbeam-proto`\n--- expected ---\n{want}");
    }
}
