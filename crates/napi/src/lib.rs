//! The Node binding: converts arguments, calls the core, converts results. No logic lives here.
//! Bytes come in as Buffers (whole chunks of a capture, never single packets) and results go
//! out as JSON text or compact Buffers.

use napi::bindgen_prelude::{Buffer, Result};
use napi::Error;
use napi_derive::napi;
use netspectra_core::analysis::{Analysis, AnalysisConfig, ExactTaskConfig};
use netspectra_core::synth::{TrafficConfig, TrafficGenerator};
use netspectra_core::table::KeyFields;

#[napi(object)]
pub struct ExactTaskOptions {
    pub name: String,
    /// Key fields, e.g. "SrcIP,DstPort".
    pub key: String,
}

#[napi(object)]
pub struct AnalyzerOptions {
    /// Hash seed as a decimal string (u64 does not fit a JS number).
    pub seed: Option<String>,
    pub exact_tasks: Option<Vec<ExactTaskOptions>>,
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
            for t in o.exact_tasks.unwrap_or_default() {
                let key = KeyFields::parse(&t.key).map_err(|e| invalid(format!("task \"{}\": {e}", t.name)))?;
                cfg.exact_tasks.push(ExactTaskConfig { name: t.name, key });
            }
        }
        Ok(Analyzer { inner: Analysis::new(&cfg) })
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
