//! Whole offline pipeline: pcap/pcapng framing -> decode -> tables -> report/export.
//! Input: byte 0 picks the chunk size, the rest is the capture file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netspectra_core::analysis::{Analysis, AnalysisConfig};

fuzz_target!(|data: &[u8]| {
    let Some((&size, file)) = data.split_first() else {
        return;
    };
    // 0 feeds the file whole; 1..=255 splits it so records straddle chunk boundaries and the
    // reader's carry buffer is exercised.
    let chunk = if size == 0 {
        file.len().max(1)
    } else {
        size as usize
    };

    let Ok(mut a) = Analysis::new(&AnalysisConfig::default()) else { return };
    a.begin_file("fuzz");
    for part in file.chunks(chunk) {
        // After an error the reader refuses further input; stop like a real caller would.
        if a.feed(part).is_err() {
            break;
        }
    }
    let _ = a.end_file();
    let _ = a.report_json(10);
    let _ = a.export_conversations(false);
    let _ = a.export_conversations(true);
});
