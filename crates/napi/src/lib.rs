//! The Node binding: converts arguments, calls the core, converts results. No logic lives here.
//! Bytes come in as Buffers (whole chunks of a capture, never single packets) and results go
//! out as JSON text or compact Buffers.

use napi::bindgen_prelude::{Buffer, Result};
use napi::Error;
use napi_derive::napi;
use netspectra_core::analysis::{Analysis, AnalysisConfig};
use netspectra_core::engine::{TaskKind, TaskSpec};
use netspectra_core::sketch::countmin::CountMinConfig;
use netspectra_core::sketch::superspread::SuperSpreadConfig;
use netspectra_core::synth::{TrafficConfig, TrafficGenerator};
use netspectra_core::table::KeyFields;

/// One task, as validated by the TypeScript configuration (the core checks it again).
#[napi(object)]
pub struct TaskOptions {
    pub name: String,
    /// "exact", "countmin" or "superspread".
    pub r#type: String,
    /// Key fields, e.g. "SrcIP,DstPort".
    pub key: String,
    /// exact: fields counted distinct per key; superspread: the element fields.
    pub distinct: Option<String>,
    pub element: Option<String>,
    pub depth: Option<u32>,
    pub width: Option<u32>,
    pub conservative: Option<bool>,
    pub heavy_hitters: Option<u32>,
    pub registers: Option<u32>,
    pub register_bits: Option<u32>,
    pub decay_base: Option<f64>,
    pub threshold: Option<f64>,
}

#[napi(object)]
pub struct AnalyzerOptions {
    /// Hash seed as a decimal string (u64 does not fit a JS number).
    pub seed: Option<String>,
    /// Window length in seconds; 0 = the whole input is one window.
    pub window_seconds: Option<f64>,
    /// Rows per top-N list.
    pub top: Option<u32>,
    /// Keep compact window snapshots until `takeSnapshots`.
    pub keep_snapshots: Option<bool>,
    pub tasks: Option<Vec<TaskOptions>>,
}

fn fields(task: &str, what: &str, list: Option<&str>) -> Result<KeyFields> {
    match list {
        None | Some("") => Ok(KeyFields(0)),
        Some(l) => KeyFields::parse(l).map_err(|e| invalid(format!("task \"{task}\": {what}: {e}"))),
    }
}

fn task_spec(t: TaskOptions, seed: u64) -> Result<TaskSpec> {
    let key = KeyFields::parse(&t.key).map_err(|e| invalid(format!("task \"{}\": key: {e}", t.name)))?;
    let kind = match t.r#type.as_str() {
        "exact" => TaskKind::Exact { distinct: fields(&t.name, "distinct", t.distinct.as_deref())? },
        "countmin" => TaskKind::CountMin(CountMinConfig {
            depth: t.depth.unwrap_or(4),
            width: t.width.unwrap_or(2048),
            conservative: t.conservative.unwrap_or(true),
            heavy_hitters: t.heavy_hitters.unwrap_or(20),
            seed,
        }),
        "superspread" => TaskKind::SuperSpread {
            element: fields(&t.name, "element", t.element.as_deref())?,
            config: SuperSpreadConfig {
                depth: t.depth.unwrap_or(2),
                width: t.width.unwrap_or(8192),
                registers: t.registers.unwrap_or(128),
                register_bits: t.register_bits.unwrap_or(5),
                decay_base: t.decay_base.unwrap_or(1.08),
                threshold: t.threshold.unwrap_or(64.0).max(1.0) as u64,
                seed,
            },
        },
        other => return Err(invalid(format!("task \"{}\": unknown type \"{other}\"", t.name))),
    };
    Ok(TaskSpec { name: t.name, key, kind })
}

fn invalid(msg: String) -> Error {
    Error::new(napi::Status::InvalidArg, msg)
}

/// Offline analysis: `beginFile`, `feed` chunks, `endFile`, then `reportJson`.
#[napi]
pub struct Analyzer {
    inner: Analysis,
}

#[napi]
impl Analyzer {
    #[napi(constructor)]
    pub fn new(options: Option<AnalyzerOptions>) -> Result<Analyzer> {
        let mut cfg = AnalysisConfig::default();
        if let Some(o) = options {
            if let Some(seed) = o.seed {
                cfg.seed =
                    seed.parse().map_err(|_| invalid(format!("seed \"{seed}\" is not an unsigned 64-bit integer")))?;
            }
            if let Some(w) = o.window_seconds {
                if !(0.0..=86_400.0).contains(&w) {
                    return Err(invalid(format!("window of {w} s is outside 0..86400")));
                }
                cfg.engine.window_ns = (w * 1e9).round() as u64;
            }
            if let Some(top) = o.top {
                cfg.top_n = top as usize;
            }
            cfg.keep_snapshots = o.keep_snapshots.unwrap_or(false);
            for t in o.tasks.unwrap_or_default() {
                cfg.engine.tasks.push(task_spec(t, cfg.seed)?);
            }
        }
        Ok(Analyzer { inner: Analysis::new(&cfg).map_err(invalid)? })
    }

    #[napi]
    pub fn begin_file(&mut self, name: String) {
        self.inner.begin_file(&name);
    }

    /// Parses a chunk; returns the capture error text when the file cannot be read further.
    #[napi]
    pub fn feed(&mut self, chunk: &[u8]) -> Option<String> {
        self.inner.feed(chunk).err().map(|e| e.to_string())
    }

    #[napi]
    pub fn end_file(&mut self) -> Option<String> {
        self.inner.end_file().err().map(|e| e.to_string())
    }

    /// Ends the open window (the input is over): its tasks are snapshotted into the report.
    #[napi]
    pub fn close_window(&mut self) {
        self.inner.close_window();
    }

    /// Compact snapshots of the windows closed since the last call (with `keepSnapshots`).
    #[napi]
    pub fn take_snapshots(&mut self) -> Vec<Buffer> {
        self.inner.take_snapshots().into_iter().map(Buffer::from).collect()
    }

    #[napi]
    pub fn packets(&self) -> f64 {
        self.inner.totals().packets as f64
    }

    #[napi]
    pub fn report_json(&self, top_n: u32) -> String {
        self.inner.report_json(top_n as usize)
    }

    /// Fixed-width rows, see `netspectra_core::analysis::encode_conversation`.
    #[napi]
    pub fn export_conversations(&self, ip_pairs: bool) -> Buffer {
        self.inner.export_conversations(ip_pairs).into()
    }
}

#[napi(object)]
pub struct TrafficOptions {
    pub seed: Option<u32>,
    pub packets: Option<u32>,
    pub hosts: Option<u32>,
    pub duration_seconds: Option<f64>,
    /// Start time, ms since the epoch.
    pub start_ms: Option<f64>,
}

/// A deterministic synthetic capture, produced as pcap bytes in chunks.
#[napi]
pub struct TrafficSource {
    inner: TrafficGenerator,
}

#[napi]
impl TrafficSource {
    #[napi(constructor)]
    pub fn new(options: Option<TrafficOptions>) -> TrafficSource {
        let mut cfg = TrafficConfig::default();
        if let Some(o) = options {
            if let Some(v) = o.seed {
                cfg.seed = v as u64;
            }
            if let Some(v) = o.packets {
                cfg.packets = v as u64;
            }
            if let Some(v) = o.hosts {
                cfg.hosts = v;
            }
            if let Some(v) = o.duration_seconds {
                cfg.duration_ns = (v.max(0.0) * 1e9) as u64;
            }
            if let Some(v) = o.start_ms {
                cfg.start_ns = (v.max(0.0) * 1e6) as u64;
            }
        }
        TrafficSource { inner: TrafficGenerator::new(cfg) }
    }

    /// The next part of the pcap file (the header comes first); empty when done.
    #[napi]
    pub fn next_chunk(&mut self, max_packets: u32) -> Buffer {
        let mut out = Vec::new();
        self.inner.next_chunk(max_packets as u64, &mut out);
        out.into()
    }
}
