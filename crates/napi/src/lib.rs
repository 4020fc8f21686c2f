//! The Node binding: converts arguments, calls the core, converts results. No logic lives here:
//! the options' defaults and error texts are `netspectra_core::options`, shared with the wasm binding.
//! Bytes come in as Buffers (whole chunks of a capture, never single packets) and results go
//! out as JSON text or compact Buffers.

use napi::bindgen_prelude::{Buffer, Result};
use napi::Error;
use napi_derive::napi;
use netspectra_core::analysis::Analysis;
use netspectra_core::options;
use netspectra_core::synth::TrafficGenerator;

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

impl From<TaskOptions> for options::TaskOptions {
    fn from(t: TaskOptions) -> Self {
        options::TaskOptions {
            name: t.name,
            kind: t.r#type,
            key: t.key,
            distinct: t.distinct,
            element: t.element,
            depth: t.depth,
            width: t.width,
            conservative: t.conservative,
            heavy_hitters: t.heavy_hitters,
            registers: t.registers,
            register_bits: t.register_bits,
            decay_base: t.decay_base,
            threshold: t.threshold,
        }
    }
}

impl From<AnalyzerOptions> for options::AnalyzerOptions {
    fn from(o: AnalyzerOptions) -> Self {
        options::AnalyzerOptions {
            seed: o.seed,
            window_seconds: o.window_seconds,
            top: o.top,
            keep_snapshots: o.keep_snapshots,
            tasks: o.tasks.unwrap_or_default().into_iter().map(Into::into).collect(),
        }
    }
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
    pub fn new(opts: Option<AnalyzerOptions>) -> Result<Analyzer> {
        let opts: options::AnalyzerOptions = opts.map(Into::into).unwrap_or_default();
        Ok(Analyzer { inner: opts.analysis().map_err(invalid)? })
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

impl From<TrafficOptions> for options::TrafficOptions {
    fn from(o: TrafficOptions) -> Self {
        options::TrafficOptions {
            seed: o.seed,
            packets: o.packets,
            hosts: o.hosts,
            duration_seconds: o.duration_seconds,
            start_ms: o.start_ms,
        }
    }
}

/// A deterministic synthetic capture, produced as pcap bytes in chunks.
#[napi]
pub struct TrafficSource {
    inner: TrafficGenerator,
}

#[napi]
impl TrafficSource {
    #[napi(constructor)]
    pub fn new(opts: Option<TrafficOptions>) -> TrafficSource {
        let opts: options::TrafficOptions = opts.map(Into::into).unwrap_or_default();
        TrafficSource { inner: TrafficGenerator::new(opts.config()) }
    }

    /// The next part of the pcap file (the header comes first); empty when done.
    #[napi]
    pub fn next_chunk(&mut self, max_packets: u32) -> Buffer {
        let mut out = Vec::new();
        self.inner.next_chunk(max_packets as u64, &mut out);
        out.into()
    }
}
