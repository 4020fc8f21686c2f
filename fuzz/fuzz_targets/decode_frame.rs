//! One frame straight into the decoder, bypassing capture framing (which would reject most
//! mutated inputs before they reach the deep decoder paths).
//! Input: byte 0 picks the link type, the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netspectra_core::decode::{decode, Decoded};

/// Every LINKTYPE that `decode::linktype` names.
const LINK_TYPES: [u32; 11] = [0, 1, 9, 12, 50, 101, 108, 113, 228, 229, 276];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link_type = LINK_TYPES[pick as usize % LINK_TYPES.len()];
    let mut decoded = Decoded::default();
    decode(frame, link_type, &mut decoded);
    let len = frame.len() as u32;
    let _ = decoded.record(0, len, len, 0);
});
