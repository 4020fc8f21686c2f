//! `cargo run --release -p netspectra-accuracy [-- --json FILE]`: accuracy of every sketch
//! beside exact counts, on every shared capture and on a synthetic stream, at several memory
//! sizes. Prints tables; with --json also writes the figures.

use netspectra_accuracy::*;
use netspectra_core::key::KeyFields;
use netspectra_core::sketch::countmin::CountMinConfig;
use netspectra_core::sketch::superspread::SuperSpreadConfig;
use std::fmt::Write as _;
use std::path::Path;

const SEED: u64 = 11;
/// Heavy-hitter candidates kept: more than the default 20, so that captures with many keys over
/// the threshold measure the sketch rather than the candidate capacity.
const CANDIDATES: u32 = 100;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json_out = args.iter().position(|a| a == "--json").and_then(|i| args.get(i + 1)).cloned();
    let pcaps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcaps");
    let mut streams: Vec<(String, Vec<netspectra_core::record::PacketRecord>)> = Vec::new();
    streams.push((
        "synthetic: 1M Zipf(1.1) packets, 100k flows, 40 planted spreaders".into(),
        synthetic_stream(7, 1_000_000, 100_000, 1.1, 40),
    ));
    if let Ok(dir) = std::fs::read_dir(&pcaps) {
        let mut files: Vec<_> =
            dir.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x != "md")).collect();
        files.sort();
        for f in files {
            if let Ok(bytes) = std::fs::read(&f) {
                let records = records_of_capture(&bytes);
                if records.len() >= 100 {
                    streams.push((f.file_name().unwrap_or_default().to_string_lossy().into_owned(), records));
                }
            }
        }
    }
    let mut json = String::from("{\"countmin\":[");
    println!("Count-Min (key: 5-tuple, depth 4, conservative, {CANDIDATES} candidates; heavy hitters: packets >= 0.5% of the stream; ARE/AAE over the true top 20)");
    println!(
        "{:<64} {:>6} {:>9} {:>8} {:>8} {:>6} {:>6} {:>6} {:>5}",
        "stream", "width", "memory", "ARE", "AAE", "prec", "recall", "F1", "true"
    );
    let mut first = true;
    for (name, s) in &streams {
        for width in [256, 1024, 2048, 8192] {
            let cfg = CountMinConfig { width, heavy_hitters: CANDIDATES, ..default_countmin(SEED) };
            let a = countmin_accuracy(s, KeyFields::FIVE_TUPLE, cfg, 20, 0.005);
            assert_eq!(a.underestimates, 0, "{name}: Count-Min under-estimated");
            println!(
                "{:<64} {:>6} {:>9} {:>8.4} {:>8.2} {:>6.3} {:>6.3} {:>6.3} {:>5}",
                trim(name),
                width,
                a.memory_bytes,
                a.are,
                a.aae,
                a.set.precision,
                a.set.recall,
                a.set.f1,
                a.set.truth
            );
            let _ = write!(
                json,
                "{}{{\"stream\":{:?},\"width\":{width},\"memoryBytes\":{},\"are\":{:.6},\"aae\":{:.4},\"precision\":{:.4},\"recall\":{:.4},\"f1\":{:.4},\"heavyHitters\":{}}}",
                if first { "" } else { "," }, name, a.memory_bytes, a.are, a.aae, a.set.precision, a.set.recall, a.set.f1, a.set.truth
            );
            first = false;
        }
    }
    json.push_str("],\"superspread\":[");
    println!();
    println!("SuperSpread (SrcIP -> distinct DstIP, depth 2, 128 x 5-bit registers; threshold 64, or on captures without such spreaders the spread of their 10th widest source, at least 4; ARE over the true spreaders)");
    println!(
        "{:<64} {:>6} {:>10} {:>6} {:>8} {:>6} {:>6} {:>6} {:>5}",
        "stream", "width", "registers", "thresh", "ARE", "prec", "recall", "F1", "true"
    );
    first = true;
    for (name, s) in &streams {
        let threshold = 64.min(nth_largest_spread(s, KeyFields::SRC_IP, KeyFields::DST_IP, 10).max(4));
        if nth_largest_spread(s, KeyFields::SRC_IP, KeyFields::DST_IP, 1) < threshold {
            continue; // no source reaches even the lowest threshold: nothing to find
        }
        for width in [64, 256, 1024, 8192] {
            let cfg = SuperSpreadConfig { width, threshold, ..default_superspread(SEED) };
            let a = superspread_accuracy(s, KeyFields::SRC_IP, KeyFields::DST_IP, cfg);
            println!(
                "{:<64} {:>6} {:>10} {:>6} {:>8.4} {:>6.3} {:>6.3} {:>6.3} {:>5}",
                trim(name),
                width,
                a.register_bytes,
                threshold,
                a.are,
                a.set.precision,
                a.set.recall,
                a.set.f1,
                a.set.truth
            );
            let _ = write!(
                json,
                "{}{{\"stream\":{:?},\"width\":{width},\"threshold\":{threshold},\"registerBytes\":{},\"memoryBytes\":{},\"are\":{:.6},\"precision\":{:.4},\"recall\":{:.4},\"f1\":{:.4},\"spreaders\":{}}}",
                if first { "" } else { "," }, name, a.register_bytes, a.memory_bytes, a.are, a.set.precision, a.set.recall, a.set.f1, a.set.truth
            );
            first = false;
        }
    }
    json.push_str("]}\n");
    if let Some(path) = json_out {
        if let Err(e) = std::fs::write(&path, json) {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
}

fn trim(name: &str) -> &str {
    &name[..name.len().min(64)]
}
