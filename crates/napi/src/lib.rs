//! The Node binding: converts arguments, calls the core, converts results. No logic lives here:
//! the options' defaults and error texts are `netspectra_core::options`, shared with the wasm binding.
//! Bytes come in as Buffers (whole chunks of a capture, never single packets) and results go
//! out as JSON text or compact Buffers.

use napi::bindgen_prelude::{Buffer, Result};
use napi::Error;
use napi_derive::napi;
mod bpf;
mod capture;

use netspectra_core::analysis::Analysis;
use netspectra_core::batch;
use netspectra_core::options;
use netspectra_synth::TrafficGenerator;

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
    /// Keep closed windows until `takeWindows`.
    pub keep_windows: Option<bool>,
    /// Kept windows carry their snapshot (default true).
    pub snapshots: Option<bool>,
    pub tasks: Option<Vec<TaskOptions>>,
    /// Flow records beside the tasks.
    pub flows: Option<FlowOptions>,
    /// Batch engine: per-second counters kept for this many seconds.
    pub seconds: Option<u32>,
    /// Closed windows and flow records also as storage rows, written as this source and run.
    pub source: Option<String>,
    pub run: Option<String>,
    /// 2: the engine's derived half (sketches, windows and records made) on a second thread.
    pub threads: Option<u32>,
    /// Offline analysis: count only the frames this pcap-filter expression matches (libpcap).
    pub bpf: Option<String>,
}

/// The flow cache; times in seconds.
#[napi(object)]
pub struct FlowOptions {
    pub idle_tcp: Option<f64>,
    pub idle_udp: Option<f64>,
    pub idle_icmp: Option<f64>,
    pub idle_other: Option<f64>,
    pub active_timeout: Option<f64>,
    pub closed_linger: Option<f64>,
    pub max_flows: Option<u32>,
    /// Comma separated CIDRs.
    pub local_networks: Option<String>,
    /// Probe name of records made from capture files.
    pub probe: Option<String>,
    /// Read flows' first payloads for their application and server name (default true).
    pub names: Option<bool>,
}

impl From<FlowOptions> for options::FlowOptions {
    fn from(f: FlowOptions) -> Self {
        options::FlowOptions {
            idle_tcp: f.idle_tcp,
            idle_udp: f.idle_udp,
            idle_icmp: f.idle_icmp,
            idle_other: f.idle_other,
            active_timeout: f.active_timeout,
            closed_linger: f.closed_linger,
            max_flows: f.max_flows,
            local_networks: f.local_networks,
            probe: f.probe,
            names: f.names,
        }
    }
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
            keep_windows: o.keep_windows,
            snapshots: o.snapshots,
            tasks: o.tasks.unwrap_or_default().into_iter().map(Into::into).collect(),
            flows: o.flows.map(Into::into),
            seconds: o.seconds,
            source: o.source,
            run: o.run,
            threads: o.threads,
        }
    }
}

/// `v`, or the error that stopped the engine (its second thread failed): never a silently
/// partial result.
fn whole<T>(failure: Option<&str>, v: T) -> Result<T> {
    match failure {
        Some(why) => Err(Error::from_reason(why.to_string())),
        None => Ok(v),
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
        let bpf = opts.as_ref().and_then(|o| o.bpf.clone()).filter(|e| !e.trim().is_empty());
        let opts: options::AnalyzerOptions = opts.map(Into::into).unwrap_or_default();
        let mut inner = opts.analysis().map_err(invalid)?;
        if let Some(expr) = bpf {
            inner.set_filter(Box::new(bpf::OfflineFilter::new(&expr).map_err(invalid)?));
        }
        Ok(Analyzer { inner })
    }

    #[napi]
    pub fn begin_file(&mut self, name: String) {
        self.inner.begin_file(&name);
    }

    /// Parses a chunk; returns the capture error text when the file cannot be read further.
    #[napi]
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Option<String>> {
        let r = self.inner.feed(chunk).err().map(|e| e.to_string());
        whole(self.inner.failure(), r)
    }

    #[napi]
    pub fn end_file(&mut self) -> Result<Option<String>> {
        let r = self.inner.end_file().err().map(|e| e.to_string());
        whole(self.inner.failure(), r)
    }

    /// Ends the open window (the input is over): its tasks are snapshotted into the report.
    #[napi]
    pub fn close_window(&mut self) -> Result<()> {
        self.inner.close_window();
        whole(self.inner.failure(), ())
    }

    /// The windows closed since the last call and made so far (with `keepWindows`), each in
    /// the core's closed window format (`netspectra_core::engine::ClosedWindow`).
    #[napi]
    pub fn take_windows(&mut self) -> Result<Vec<Buffer>> {
        let r = self.inner.take_windows().into_iter().map(Buffer::from).collect();
        whole(self.inner.failure(), r)
    }

    #[napi]
    pub fn packets(&self) -> f64 {
        self.inner.totals().packets as f64
    }

    #[napi]
    pub fn report_json(&mut self, top_n: u32) -> Result<String> {
        let r = self.inner.report_json(top_n as usize);
        whole(self.inner.failure(), r)
    }

    /// Fixed-width rows, see `netspectra_core::analysis::encode_conversation`.
    #[napi]
    pub fn export_conversations(&mut self, ip_pairs: bool) -> Result<Buffer> {
        let r = self.inner.export_conversations(ip_pairs).into();
        whole(self.inner.failure(), r)
    }

    /// Flow records finished since the last call (JSON array); `flush` ends every open flow
    /// first. Null without the `flows` option.
    #[napi]
    pub fn take_flows(&mut self, flush: bool) -> Result<Option<String>> {
        let r = self.inner.take_flows_json(flush);
        whole(self.inner.failure(), r)
    }

    /// Flow records finished since the last call as rows of the `flows` table (the core's rows
    /// buffer); null without flow records or a `source`.
    #[napi]
    pub fn take_flow_rows(&mut self, flush: bool) -> Result<Option<Buffer>> {
        let r = self.inner.take_flow_rows(flush).map(Into::into);
        whole(self.inner.failure(), r)
    }

    /// What the report says of the flow records finished so far (JSON).
    #[napi]
    pub fn flow_summary_json(&mut self) -> Result<Option<String>> {
        let r = self.inner.flow_summary_json();
        whole(self.inner.failure(), r)
    }

    #[napi]
    pub fn flow_stats_json(&self) -> Option<String> {
        self.inner.flow_counters_json()
    }

    /// Country and AS databases (MMDB files' bytes) flow records are written with from now on.
    #[napi]
    pub fn set_geo(&mut self, databases: GeoDatabases) -> Result<()> {
        self.inner.set_geo(databases.geo()?);
        Ok(())
    }
}

/// MMDB files, each with the name errors give it.
#[napi(object)]
pub struct GeoDatabases {
    pub asn: Option<Buffer>,
    pub asn_file: Option<String>,
    pub country: Option<Buffer>,
    pub country_file: Option<String>,
}

impl GeoDatabases {
    fn geo(self) -> Result<Option<std::sync::Arc<netspectra_core::app::mmdb::Geo>>> {
        let named = |b: Option<Buffer>, name: Option<String>, what: &str| {
            b.map(|b| (name.unwrap_or_else(|| what.to_string()), b.to_vec()))
        };
        let asn = named(self.asn, self.asn_file, "AS database");
        let country = named(self.country, self.country_file, "country database");
        let geo = netspectra_core::app::mmdb::Geo::from_files(asn, country).map_err(invalid)?;
        Ok(geo.map(std::sync::Arc::new))
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

impl From<TrafficOptions> for netspectra_synth::TrafficOptions {
    fn from(o: TrafficOptions) -> Self {
        netspectra_synth::TrafficOptions {
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
        let opts: netspectra_synth::TrafficOptions = opts.map(Into::into).unwrap_or_default();
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

#[napi(object)]
pub struct PacketBatcherOptions {
    pub probe_id: String,
    pub interface: String,
    pub partitions: u32,
    pub batch_packets: u32,
    /// Hash seed (decimal) of the partition hash; every probe of a deployment uses the same.
    pub seed: Option<String>,
    /// The engine's flow settings: with them (and `names` not false) the probe reads flows'
    /// first payloads and sends their application and server name with the records.
    pub flows: Option<FlowOptions>,
}

#[napi(object)]
pub struct CaptureStatsInput {
    pub captured: f64,
    pub kernel_dropped: f64,
    pub interface_dropped: f64,
    pub probe_dropped: f64,
}

#[napi(object)]
pub struct SealedBatch {
    pub partition: u32,
    pub sequence: f64,
    pub packets: u32,
    /// The encoded `PacketBatch` message.
    pub message: Buffer,
}

/// Probe side: frames or capture-file chunks in, `PacketBatch` messages out.
#[napi]
pub struct PacketBatcher {
    inner: batch::BatchBuilder,
}

#[napi]
impl PacketBatcher {
    #[napi(constructor)]
    pub fn new(opts: PacketBatcherOptions) -> Result<PacketBatcher> {
        let opts = options::BatcherOptions {
            probe_id: opts.probe_id,
            interface: opts.interface,
            partitions: opts.partitions,
            batch_packets: opts.batch_packets,
            seed: opts.seed,
            flows: opts.flows.map(Into::into),
        };
        Ok(PacketBatcher { inner: opts.batcher().map_err(invalid)? })
    }

    /// Decodes a buffer of framed packets; returns how many it held.
    #[napi]
    pub fn add_frames(&mut self, frames: &[u8], link_type: u32, interface: u32) -> Result<u32> {
        self.inner.add_frames(frames, link_type, interface as u16).map_err(invalid)
    }

    #[napi]
    pub fn begin_capture(&mut self) {
        self.inner.begin_capture();
    }

    /// Returns the capture error text when the file cannot be read further.
    #[napi]
    pub fn add_capture(&mut self, chunk: &[u8]) -> Option<String> {
        self.inner.add_capture(chunk).err().map(|e| e.to_string())
    }

    #[napi]
    pub fn end_capture(&mut self) -> Option<String> {
        self.inner.end_capture().err().map(|e| e.to_string())
    }

    #[napi]
    pub fn packets(&self) -> f64 {
        self.inner.packets() as f64
    }

    #[napi]
    pub fn pending(&self) -> f64 {
        self.inner.pending() as f64
    }

    /// Full batches, and with `all` the partly filled ones, stamped with `stats`.
    #[napi]
    pub fn take(&mut self, all: bool, stats: CaptureStatsInput, sent_ms: f64) -> Vec<SealedBatch> {
        let stats = batch::CaptureStats {
            captured: stats.captured as u64,
            kernel_dropped: stats.kernel_dropped as u64,
            interface_dropped: stats.interface_dropped as u64,
            probe_dropped: stats.probe_dropped as u64,
        };
        let sent_ns = options::ms_to_ns(sent_ms);
        self.inner
            .take(all, &stats, sent_ns)
            .into_iter()
            .map(|b| SealedBatch {
                partition: b.partition,
                sequence: b.sequence as f64,
                packets: b.packets,
                message: b.message.into(),
            })
            .collect()
    }
}

#[napi(object)]
pub struct ApplyResult {
    pub probe_id: String,
    pub sequence: f64,
    pub packets: u32,
    pub duplicate: bool,
    pub skipped: u32,
    /// Set when the message was refused: "garbage", "truncated", "version" or "invalid".
    pub error_kind: Option<String>,
    pub error: Option<String>,
}

/// Finished flow records: rows of the `flows` table (with a `source`) and JSON (when asked).
#[napi(object)]
pub struct TakenFlows {
    pub rows: Option<Buffer>,
    pub json: Option<String>,
}

/// Storage rows of a window snapshot (layout in `netspectra_core::rows`): RowBinary per table,
/// then the rows kept out of their tables. Throws on a damaged snapshot.
#[napi]
pub fn storage_rows(snapshot: &[u8], source: String, run: String) -> Result<Buffer> {
    netspectra_core::rows::storage_rows(snapshot, &source, &run).map(|r| r.encode().into()).map_err(invalid)
}

/// The stored tables the core makes rows for, with their columns (JSON).
#[napi]
pub fn tables_json() -> String {
    netspectra_core::rows::tables_json()
}

#[napi(object)]
pub struct OpenWindow {
    pub start_ms: f64,
    pub end_ms: f64,
}

/// Engine side: `PacketBatch` messages in, closed windows out.
#[napi]
pub struct BatchEngine {
    inner: batch::BatchIngest,
}

#[napi]
impl BatchEngine {
    #[napi(constructor)]
    pub fn new(opts: Option<AnalyzerOptions>) -> Result<BatchEngine> {
        let opts: options::AnalyzerOptions = opts.map(Into::into).unwrap_or_default();
        Ok(BatchEngine { inner: opts.batch_ingest().map_err(invalid)? })
    }

    /// Applies one message; a message that is not a batch is counted and described, not thrown.
    /// Country and AS databases (MMDB files' bytes) flow records are written with from now on.
    #[napi]
    pub fn set_geo(&mut self, databases: GeoDatabases) -> Result<()> {
        self.inner.set_geo(databases.geo()?);
        Ok(())
    }

    #[napi]
    pub fn apply(&mut self, message: &[u8]) -> Result<ApplyResult> {
        let r = match self.inner.apply(message) {
            Ok(a) => ApplyResult {
                probe_id: a.probe_id,
                sequence: a.sequence as f64,
                packets: a.packets,
                duplicate: a.duplicate,
                skipped: a.skipped,
                error_kind: None,
                error: None,
            },
            Err(e) => ApplyResult {
                probe_id: String::new(),
                sequence: 0.0,
                packets: 0,
                duplicate: false,
                skipped: 0,
                error_kind: Some(e.kind().to_string()),
                error: Some(e.to_string()),
            },
        };
        whole(self.inner.failure(), r)
    }

    /// Packets before this time (ms since the epoch) are not counted.
    #[napi]
    pub fn skip_before(&mut self, ms: f64) {
        self.inner.skip_before(options::ms_to_ns(ms));
    }

    #[napi]
    pub fn close_window(&mut self) -> Result<()> {
        self.inner.close_window();
        whole(self.inner.failure(), ())
    }

    /// The windows closed since the last call and made so far, each in the core's closed
    /// window format.
    #[napi]
    pub fn take_windows(&mut self) -> Result<Vec<Buffer>> {
        let r = self.inner.take_windows().into_iter().map(|w| w.encode().into()).collect();
        whole(self.inner.failure(), r)
    }

    /// A copy of the open window (closed window format), which keeps counting (live queries).
    #[napi]
    pub fn peek_window(&mut self) -> Result<Option<Buffer>> {
        let r = self.inner.peek_window().map(|w| w.encode().into());
        whole(self.inner.failure(), r)
    }

    /// Flow records finished since the last call: rows (with a `source`) and, with `json`, a
    /// JSON array; `flush` ends every open flow first. Null without the `flows` option.
    #[napi]
    pub fn take_flows(&mut self, flush: bool, json: bool) -> Result<Option<TakenFlows>> {
        let r = self
            .inner
            .take_flows(flush, json)
            .map(|t| TakenFlows { rows: t.rows.map(|r| r.encode().into()), json: t.json });
        whole(self.inner.failure(), r)
    }

    /// No batch came for this long (ms, wall clock): flows idle by then end.
    #[napi]
    pub fn flows_idle(&mut self, ms: f64) -> Result<()> {
        self.inner.flows_idle(options::ms_to_ns(ms));
        whole(self.inner.failure(), ())
    }

    /// A page of the open flows: query string `limit&offset&sort&dir&proto&ip&port`.
    #[napi]
    pub fn query_flows(&self, query: String) -> Result<Option<String>> {
        let q = netspectra_core::flow::FlowQuery::parse(&query).map_err(invalid)?;
        Ok(self.inner.query_flows(&q))
    }

    /// Per-second counters of seconds beginning in [from, to) ms (JSON array). Null without
    /// the `seconds` option.
    #[napi]
    pub fn seconds_json(&self, from_ms: f64, to_ms: f64) -> Option<String> {
        self.inner.seconds_json(options::ms_to_ns(from_ms), options::ms_to_ns(to_ms))
    }

    #[napi]
    pub fn open_window(&self) -> Option<OpenWindow> {
        self.inner.open_window().map(|(s, e)| OpenWindow { start_ms: s as f64 / 1e6, end_ms: e as f64 / 1e6 })
    }

    #[napi]
    pub fn stats_json(&self) -> String {
        self.inner.stats_json()
    }
}

/// What `extract` cuts out of captures (see `netspectra_core::extract::ExtractOptions`).
#[napi(object)]
pub struct ExtractOptions {
    pub a_ip: Option<String>,
    pub a_port: Option<u32>,
    pub b_ip: Option<String>,
    pub b_port: Option<u32>,
    pub protocol: Option<u32>,
    pub community_id: Option<String>,
    pub community_id_seed: Option<u32>,
    pub networks: Option<Vec<String>>,
    /// Nanoseconds since the epoch, as decimal text (past 2^53).
    pub from_ns: Option<String>,
    pub to_ns: Option<String>,
    pub bpf: Option<String>,
    /// "pcapng" (default) or "pcap".
    pub format: Option<String>,
    /// Bytes; 0 or absent: no limit.
    pub max_bytes: Option<f64>,
}

#[napi(object)]
pub struct ExtractStats {
    pub frames_read: f64,
    pub frames_written: f64,
    pub bytes_written: f64,
    pub other_link_type: f64,
    pub limit_reached: bool,
}

fn core_extract_options(opts: ExtractOptions) -> Result<netspectra_core::extract::ExtractOptions> {
    let ns = |what: &str, t: &Option<String>| -> Result<Option<u64>> {
        t.as_deref()
            .map(|t| t.parse::<u64>().map_err(|_| invalid(format!("{what} \"{t}\" is not a time in nanoseconds"))))
            .transpose()
    };
    Ok(netspectra_core::extract::ExtractOptions {
        from_ns: ns("from", &opts.from_ns)?,
        to_ns: ns("to", &opts.to_ns)?,
        a_ip: opts.a_ip,
        a_port: opts.a_port,
        b_ip: opts.b_ip,
        b_port: opts.b_port,
        protocol: opts.protocol,
        community_id: opts.community_id,
        community_id_seed: opts.community_id_seed.unwrap_or(0),
        networks: opts.networks.unwrap_or_default(),
        format: opts.format,
        max_bytes: opts.max_bytes.unwrap_or(0.0).max(0.0) as u64,
    })
}

/// Packets of a flow, addresses, a time range or a filter, out of captures: `feed` chunks of
/// each file (`nextFile` between files), take the output as it comes, `finish` for the rest.
#[napi]
pub struct PacketExtractor {
    inner: netspectra_core::extract::Extractor,
}

#[napi]
impl PacketExtractor {
    #[napi(constructor)]
    pub fn new(opts: ExtractOptions) -> Result<PacketExtractor> {
        let bpf = opts.bpf.clone().filter(|e| !e.trim().is_empty());
        let mut inner = core_extract_options(opts)?.extractor().map_err(invalid)?;
        if let Some(expr) = bpf {
            inner.set_filter(Box::new(bpf::OfflineFilter::new(&expr).map_err(invalid)?));
        }
        Ok(PacketExtractor { inner })
    }

    /// Reads a chunk of the current file; returns the output it made (often empty).
    #[napi]
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Buffer> {
        self.inner.feed(chunk).map_err(Error::from_reason)?;
        Ok(self.inner.take_output().into())
    }

    /// Ends the current file: an error when it was cut short or damaged.
    #[napi]
    pub fn next_file(&mut self) -> Result<()> {
        self.inner.next_file().map_err(Error::from_reason)
    }

    /// The rest of the output (the file header when nothing was selected).
    #[napi]
    pub fn finish(&mut self) -> Buffer {
        self.inner.finish();
        self.inner.take_output().into()
    }

    #[napi]
    pub fn stats(&self) -> ExtractStats {
        let s = self.inner.stats();
        ExtractStats {
            frames_read: s.frames_read as f64,
            frames_written: s.frames_written as f64,
            bytes_written: s.bytes_written as f64,
            other_link_type: s.other_link_type as f64,
            limit_reached: s.limit_reached,
        }
    }
}

impl Default for PcapIndexer {
    fn default() -> Self {
        PcapIndexer::new()
    }
}

/// Builds the index of a pcap file (`netspectra_core::extract::index`): `feed` its bytes, then
/// `finish` for the index.
#[napi]
pub struct PcapIndexer {
    inner: Option<netspectra_core::extract::index::Indexer>,
}

#[napi]
impl PcapIndexer {
    #[napi(constructor)]
    pub fn new() -> PcapIndexer {
        PcapIndexer { inner: Some(netspectra_core::extract::index::Indexer::new()) }
    }

    #[napi]
    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.inner
            .as_mut()
            .ok_or_else(|| Error::from_reason("the index is finished"))?
            .feed(chunk)
            .map_err(Error::from_reason)
    }

    #[napi]
    pub fn finish(&mut self) -> Result<Buffer> {
        let inner = self.inner.take().ok_or_else(|| Error::from_reason("the index is finished"))?;
        Ok(inner.finish().map_err(Error::from_reason)?.into())
    }
}

#[napi(object)]
pub struct IndexCandidates {
    /// "none", "all" or "records".
    #[napi(ts_type = "'none' | 'all' | 'records'")]
    pub kind: String,
    /// With "records": the record offsets, u32 little-endian, in file order.
    pub offsets: Buffer,
    /// The size of the file the index was made from.
    pub indexed_size: f64,
}

/// What an index says of its file for a selection; an error when the index is damaged.
#[napi]
pub fn index_candidates(index: &[u8], opts: ExtractOptions) -> Result<IndexCandidates> {
    use netspectra_core::extract::index::{candidates, indexed_size, Candidates};
    let selection = core_extract_options(opts)?.selection().map_err(invalid)?;
    let size = indexed_size(index).map_err(Error::from_reason)?;
    let (kind, offsets) = match candidates(index, &selection).map_err(Error::from_reason)? {
        Candidates::None => ("none", Vec::new()),
        Candidates::All => ("all", Vec::new()),
        Candidates::Records(r) => ("records", r.iter().flat_map(|o| o.to_le_bytes()).collect()),
    };
    Ok(IndexCandidates { kind: kind.to_string(), offsets: offsets.into(), indexed_size: size as f64 })
}
