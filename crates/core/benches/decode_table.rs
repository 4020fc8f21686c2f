//! Throughput of the hot path on real and synthetic captures, looped in memory.
//!
//! `cargo bench -p netspectra-core --bench decode_table [-- FILE...]`
//! Prints packets/s for: framing only, framing + decode, framing + decode + conversation table,
//! and the whole offline analysis (every table the report uses). Reading the file and building
//! the synthetic capture happen before the timed loops.

use netspectra_core::addr::Cidr;
use netspectra_core::analysis::{Analysis, AnalysisConfig};
use netspectra_core::capture::CaptureReader;
use netspectra_core::decode::{decode, Decoded};
use netspectra_core::engine::{Engine, EngineConfig, TaskKind, TaskSpec};
use netspectra_core::flow::{FlowMeter, FlowMeterConfig};
use netspectra_core::key::KeyFields;
use netspectra_core::sketch::countmin::CountMinConfig;
use netspectra_core::sketch::superspread::SuperSpreadConfig;
use netspectra_core::table::{ConvUpdate, ConversationTable};
use netspectra_synth::{TrafficConfig, TrafficGenerator};
use std::hint::black_box;
use std::time::Instant;

const MIN_PACKETS: u64 = 10_000_000;

fn packets_in(data: &[u8]) -> u64 {
    let mut r = CaptureReader::new();
    let mut n = 0u64;
    let _ = r.feed(data, |_| n += 1);
    n
}

/// Runs `pass` over the capture enough times to reach MIN_PACKETS; returns packets/s.
fn measure(data: &[u8], per_pass: u64, mut pass: impl FnMut(&[u8])) -> (f64, u64) {
    let loops = MIN_PACKETS.div_ceil(per_pass.max(1));
    pass(data); // warm up caches and tables
    let start = Instant::now();
    for _ in 0..loops {
        pass(data);
    }
    let secs = start.elapsed().as_secs_f64();
    let total = loops * per_pass;
    (total as f64 / secs, total)
}

fn bench(name: &str, data: &[u8]) {
    let per_pass = packets_in(data);
    println!("{name}: {per_pass} packets per pass, {} bytes", data.len());

    let (pps, n) = measure(data, per_pass, |d| {
        let mut r = CaptureReader::new();
        let mut bytes = 0u64;
        let _ = r.feed(d, |f| bytes += f.wire_len as u64);
        black_box(bytes);
    });
    println!("  framing only                      {:>8.2} Mpps  ({n} packets)", pps / 1e6);

    let mut decoded = Decoded::default();
    let (pps, _) = measure(data, per_pass, |d| {
        let mut r = CaptureReader::new();
        let _ = r.feed(d, |f| {
            decode(f.data, f.link_type, &mut decoded);
            black_box(decoded.record(f.ts_ns, f.wire_len, f.data.len() as u32, 0));
        });
    });
    println!("  framing + decode                  {:>8.2} Mpps", pps / 1e6);

    let mut table = ConversationTable::new(1);
    let (pps, _) = measure(data, per_pass, |d| {
        let mut r = CaptureReader::new();
        let _ = r.feed(d, |f| {
            decode(f.data, f.link_type, &mut decoded);
            let rec = decoded.record(f.ts_ns, f.wire_len, f.data.len() as u32, 0);
            table.add(&ConvUpdate {
                src: rec.src,
                dst: rec.dst,
                proto: rec.proto,
                src_port: rec.src_port,
                dst_port: rec.dst_port,
                bytes: rec.wire_len as u64,
                ts_ns: Some(rec.ts_ns),
                tcp_flags: rec.tcp_flags,
                carries: 0,
            });
        });
    });
    println!("  framing + decode + conversations  {:>8.2} Mpps  ({} conversations)", pps / 1e6, table.len());

    // The engine path of a probe: decode, the record, the tasks (no conversation tables).
    let engine_sets: Vec<(String, Vec<TaskSpec>)> = std::iter::once(("default task set".to_string(), default_tasks()))
        .chain(default_tasks().into_iter().map(|t| (t.name.clone(), vec![t])))
        .collect();
    for (label, tasks) in engine_sets {
        let Ok(mut engine) = Engine::new(&EngineConfig { window_ns: 10_000_000_000, tasks, ..Default::default() }, 1)
        else {
            return;
        };
        let (pps, _) = measure(data, per_pass, |d| {
            let mut r = CaptureReader::new();
            let _ = r.feed(d, |f| {
                decode(f.data, f.link_type, &mut decoded);
                let rec = decoded.record(f.ts_ns, f.wire_len, f.data.len() as u32, 0);
                engine.add(&rec, f.has_ts, 0);
            });
            let _ = engine.sync();
            black_box(engine.take_snapshots());
        });
        println!("  decode + engine: {label:<17}{:>8.2} Mpps", pps / 1e6);
    }

    // Flow records: each pass is shifted a day later, so every flow of a pass ends (idle) in the
    // next one, as on a long-running probe. With JSON: the records as the engine hands them out.
    for json in [false, true] {
        let mut meter =
            FlowMeter::new(FlowMeterConfig { local: vec![Cidr::parse("10.0.0.0/8").unwrap()], ..Default::default() });
        let origin = meter.origin("bench", "eth0");
        let mut shift = 0u64;
        let mut records = 0usize;
        let (pps, _) = measure(data, per_pass, |d| {
            shift += 86_400_000_000_000;
            let mut r = CaptureReader::new();
            let _ = r.feed(d, |f| {
                decode(f.data, f.link_type, &mut decoded);
                let mut rec = decoded.record(f.ts_ns, f.wire_len, f.data.len() as u32, 0);
                rec.ts_ns += shift;
                meter.add(&rec, origin);
            });
            records = meter.cache().counters().started as usize;
            if json {
                black_box(meter.take_json());
            } else {
                meter.discard_finished();
            }
        });
        let label = if json { "decode + flow records, as JSON" } else { "decode + flow cache" };
        println!("  {label:<34}{:>8.2} Mpps  ({records} records)", pps / 1e6);
    }

    for (label, tasks, threads) in [
        ("whole analysis, no tasks", Vec::new(), 1),
        ("whole analysis, default task set", default_tasks(), 1),
        ("  + flow records and rows", default_tasks(), 1),
        ("  + flow records and rows, 2 threads", default_tasks(), 2),
    ] {
        // `analyze` keeps flow records by default and stores them: their rows are taken every
        // pass, as analyze takes them after every chunk.
        let flows = label
            .contains("flow records")
            .then(|| FlowMeterConfig { local: vec![Cidr::parse("10.0.0.0/8").unwrap()], ..Default::default() });
        let cfg = AnalysisConfig {
            engine: EngineConfig { window_ns: 10_000_000_000, tasks, ..Default::default() },
            rows_as: flows.as_ref().map(|_| ("bench".to_string(), "run".to_string())),
            flows,
            threads,
            ..AnalysisConfig::default()
        };
        let Ok(mut analysis) = Analysis::new(&cfg) else { return };
        let (pps, _) = measure(data, per_pass, |d| {
            analysis.begin_file("bench");
            let _ = analysis.feed(d);
            let _ = analysis.end_file();
            analysis.sync();
            black_box(analysis.take_flow_rows(false));
        });
        println!("  {label:<34}{:>8.2} Mpps", pps / 1e6);
    }
    for spec in default_tasks() {
        let cfg = AnalysisConfig {
            engine: EngineConfig { window_ns: 10_000_000_000, tasks: vec![spec.clone()], ..Default::default() },
            ..AnalysisConfig::default()
        };
        let Ok(mut analysis) = Analysis::new(&cfg) else { return };
        let (pps, _) = measure(data, per_pass, |d| {
            analysis.begin_file("bench");
            let _ = analysis.feed(d);
            let _ = analysis.end_file();
        });
        println!("  whole analysis + {:<17}{:>8.2} Mpps", spec.name, pps / 1e6);
    }
}

/// The default task set of configs/netspectra.yaml.
fn default_tasks() -> Vec<TaskSpec> {
    let five = KeyFields::FIVE_TUPLE;
    let ss = |name: &str, key, element| TaskSpec {
        name: name.into(),
        key,
        kind: TaskKind::SuperSpread {
            element,
            config: SuperSpreadConfig {
                depth: 2,
                width: 8192,
                registers: 128,
                register_bits: 5,
                decay_base: 1.08,
                threshold: 64,
                seed: 1,
            },
        },
    };
    vec![
        TaskSpec { name: "src_ip".into(), key: KeyFields::SRC_IP, kind: TaskKind::Exact { distinct: KeyFields::NONE } },
        TaskSpec {
            name: "dst_port".into(),
            key: KeyFields::DST_PORT | KeyFields::PROTOCOL,
            kind: TaskKind::Exact { distinct: KeyFields::NONE },
        },
        TaskSpec {
            name: "heavy_flows".into(),
            key: five,
            kind: TaskKind::CountMin(CountMinConfig {
                depth: 4,
                width: 2048,
                conservative: true,
                heavy_hitters: 20,
                seed: 1,
            }),
        },
        ss("scanners", KeyFields::SRC_IP, KeyFields::DST_IP),
        ss("victims", KeyFields::DST_IP, KeyFields::SRC_IP),
    ]
}

fn main() {
    let mut files: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if files.is_empty() {
        files.push("../../../shared/pcaps/debian-pathspider-real.pcap".into());
    }
    for f in &files {
        match std::fs::read(f) {
            Ok(data) => bench(f, &data),
            Err(e) => eprintln!("{f}: {e} (skipped)"),
        }
    }
    let mut generator = TrafficGenerator::new(TrafficConfig { packets: 1_000_000, ..TrafficConfig::default() });
    let mut synthetic = Vec::new();
    while generator.next_chunk(1 << 16, &mut synthetic) > 0 {}
    bench("synthetic (1M packets, many flows)", &synthetic);
}
