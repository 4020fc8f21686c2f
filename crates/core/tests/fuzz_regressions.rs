//! Replays every input kept under `tests/fuzz-regressions/<target>/` through the same code path
//! as the fuzz target of that name (fuzz/fuzz_targets/*.rs), so a crash once found stays fixed
//! without needing nightly or cargo-fuzz. Passing means: no panic, no overflow (tests build with
//! overflow checks), no runaway allocation.

use std::fs;
use std::path::PathBuf;

use netspectra_core::analysis::{Analysis, AnalysisConfig};
use netspectra_core::decode::{decode, Decoded};

/// Must match fuzz/fuzz_targets/decode_frame.rs, or saved inputs would replay another link type.
const LINK_TYPES: [u32; 11] = [0, 1, 9, 12, 50, 101, 108, 113, 228, 229, 276];

/// Mirror of the capture_decode target: byte 0 is the chunk size (0 = whole).
fn capture_decode(data: &[u8]) {
    let Some((&size, file)) = data.split_first() else {
        return;
    };
    let chunk = if size == 0 { file.len().max(1) } else { size as usize };
    let mut a = Analysis::new(&AnalysisConfig::default()).expect("the default configuration is valid");
    a.begin_file("fuzz");
    for part in file.chunks(chunk) {
        if a.feed(part).is_err() {
            break;
        }
    }
    let _ = a.end_file();
    let _ = a.report_json(10);
    let _ = a.export_conversations(false);
    let _ = a.export_conversations(true);
}

/// Mirror of the decode_frame target: byte 0 picks the link type.
fn decode_frame(data: &[u8]) {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let mut decoded = Decoded::default();
    decode(frame, LINK_TYPES[pick as usize % LINK_TYPES.len()], &mut decoded);
    let len = frame.len() as u32;
    let _ = decoded.record(0, len, len, 0);
}

fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions").join(target);
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    // An empty folder would make this test pass vacuously.
    assert!(!paths.is_empty(), "no regression inputs in {}", dir.display());
    for p in &paths {
        let data = fs::read(p).unwrap();
        // catch_unwind so the failure names the input instead of just "panicked".
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("{target}: input {} panics", p.display());
        }
    }
}

#[test]
fn capture_decode_regressions() {
    replay("capture_decode", capture_decode);
}

#[test]
fn decode_frame_regressions() {
    replay("decode_frame", decode_frame);
}
