//! SDP handed to WHEP: the server's plausibility check (`deskbeam_proto::sdp`) and the parser
//! the agent answers with (rtc-sdp, as used by webrtc 0.21).
//!
//! Properties: nothing panics; an offer that passes the server's check starts with `v=0` and has
//! a video section; what the agent's parser accepts marshals to text it parses again, to the
//! same text (a fixed point after one round).
#![no_main]

use std::io::Cursor;

use deskbeam_proto::sdp::check_offer_sdp;
use libfuzzer_sys::fuzz_target;
use rtc_sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    if let Ok(sdp) = check_offer_sdp(data) {
        assert!(sdp.starts_with("v=0") && sdp.lines().any(|l| l.starts_with("m=video")));
    }
    let Ok(parsed) = SessionDescription::unmarshal(&mut Cursor::new(data)) else { return };
    let text = parsed.marshal();
    let again = SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes())).expect("the parser rejects its own output");
    assert_eq!(again.marshal(), text, "marshal → unmarshal → marshal is not stable");
});
