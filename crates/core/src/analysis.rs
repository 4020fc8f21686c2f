//! Offline analysis of capture files: framing -> decode -> the exact tables, and the report.
//!
//! The caller does the I/O: `begin_file`, `feed` chunks, `end_file`, then `report_json`.

use crate::addr::{Addr, Family};
use crate::capture::{CaptureError, CaptureReader, Format, Frame};
use crate::decode::{self, DecodeStats, Decoded, ProblemKind, TunnelKind};
use crate::engine::{Engine, EngineConfig, WindowOut};
use crate::flow::{FlowMeterConfig, FlowOut, TakenFlows};
use crate::json::{epoch_text, Json};
use crate::names;
use crate::record::{flag, PacketRecord};
use crate::table::{ConvKey, ConvStats, ConvUpdate, ConversationTable, FragmentPorts, HostTable};

#[derive(Clone, Debug)]
pub struct AnalysisConfig {
    pub seed: u64,
    /// Tasks and their window.
    pub engine: EngineConfig,
    /// Rows per top-N list in the report (windows are rendered when they close).
    pub top_n: usize,
    /// Keep each closed window ([`crate::engine::ClosedWindow`], encoded) until taken (for
    /// storage, alerts), with its snapshot when `snapshots`.
    pub keep_windows: bool,
    pub snapshots: bool,
    /// Closed windows and flow records also as storage rows written as (source, run).
    pub rows_as: Option<(String, String)>,
    /// Datagrams whose fragments are tracked at once.
    pub fragment_capacity: usize,
    /// Flow records, when present (the flow cache runs either way, with its defaults).
    pub flows: Option<FlowMeterConfig>,
    /// 2: the engine's derived half (sketches, window and record outputs) on a second thread.
    pub threads: usize,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            seed: 0x6e65_7473_7065_6374,
            engine: EngineConfig::default(),
            top_n: 10,
            keep_windows: false,
            snapshots: true,
            rows_as: None,
            fragment_capacity: 65_536,
            flows: None,
            threads: 1,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub packets: u64,
    pub bytes: u64,
    pub captured_bytes: u64,
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
    pub min_ns: Option<u64>,
    pub max_ns: Option<u64>,
    pub packets_without_timestamp: u64,
    /// Packets whose innermost IP header is a fragment (IPv4 or IPv6).
    pub fragments: u64,
}

/// Packets and bytes of one protocol class: (family, IP protocol) or, without IP, an ethertype.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolClass {
    pub family: u8,
    pub proto: u8,
    pub ethertype: u16,
}

#[derive(Clone, Debug)]
pub struct FileSummary {
    pub name: String,
    pub format: Option<Format>,
    pub link_types: Vec<u32>,
    pub packets: u64,
    pub bytes_read: u64,
    pub skipped_blocks: u64,
    /// Packets whose time is outside what the core holds (before 1970, past 2554).
    pub times_out_of_range: u64,
    pub error: Option<CaptureError>,
}

/// Everything counted per packet; separate from the reader so both can be borrowed at once.
/// Decides which frames an analysis counts (`analyze --bpf`: libpcap's filter, in the binding;
/// the core does no I/O and links no library). An error stops the analysis with its message.
pub trait FrameFilter: Send {
    fn keep(&mut self, link_type: u32, data: &[u8], wire_len: u32) -> Result<bool, String>;
}

struct Tables {
    /// Frames it refuses are not counted at all, as `tcpdump -r FILE EXPR` reads them.
    filter: Option<Box<dyn FrameFilter>>,
    filter_error: Option<String>,
    seed: u64,
    decoded: Decoded,
    totals: Totals,
    protocols: Vec<(ProtocolClass, u64, u64)>,
    tunnels: [(u64, u64); 8],
    /// Conversations of the IP layers that carry a tunnel (the innermost layer's are the
    /// engine's, derived from its flows).
    outer: ConversationTable,
    /// Layers whose flow goes past the header's destination (IPv6 routing header): by header
    /// destination and by flow destination, to correct the derived address pairs.
    routed_by_header: ConversationTable,
    routed_by_flow: ConversationTable,
    engine: Engine,
    keep_windows: bool,
    rows_as: Option<(String, String)>,
    /// Closed windows rendered as report JSON, and (when kept) whole, encoded.
    window_reports: Vec<String>,
    closed: Vec<Vec<u8>>,
    fragments: FragmentPorts,
    problems: DecodeStats,
    /// Where records come from: this host (the probe) and the capture file; interface `n` of a
    /// file is named "<file>" (n = 0) or "<file>#n". None without flow records.
    origins: Option<FileOrigins>,
}

struct FileOrigins {
    probe: String,
    file: String,
    /// (interface index, origin) of the current file.
    known: Vec<(u16, u16)>,
}

impl Tables {
    /// The flow meter's origin of a packet's interface.
    #[inline]
    fn origin(&mut self, interface: u16) -> u16 {
        let Some(o) = &mut self.origins else { return 0 };
        match o.known.iter().find(|(i, _)| *i == interface) {
            Some(&(_, origin)) => origin,
            None => {
                let name = if interface == 0 { o.file.clone() } else { format!("{}#{}", o.file, interface) };
                let origin = self.engine.origin(&o.probe, &name);
                o.known.push((interface, origin));
                origin
            }
        }
    }
}

pub struct Analysis {
    reader: CaptureReader,
    tables: Tables,
    files: Vec<FileSummary>,
}

impl Analysis {
    /// Fails when a task's configuration is invalid (the message names the task).
    pub fn new(cfg: &AnalysisConfig) -> Result<Analysis, String> {
        let seed = cfg.seed;
        let mut engine = Engine::new(
            &EngineConfig {
                flows: cfg.flows.clone().unwrap_or_default(),
                records: cfg.flows.is_some(),
                conversations: true,
                window_out: WindowOut::Closed {
                    top_n: cfg.top_n,
                    snapshot: cfg.keep_windows && cfg.snapshots,
                    rows_as: if cfg.keep_windows { cfg.rows_as.clone() } else { None },
                },
                threads: cfg.threads,
                flow_rows_as: cfg.rows_as.clone(),
                ..cfg.engine.clone()
            },
            seed,
        )?;
        if cfg.flows.is_some() {
            engine.summarize_flows(cfg.top_n);
        }
        Ok(Analysis {
            reader: CaptureReader::new(),
            tables: Tables {
                filter: None,
                filter_error: None,
                seed,
                decoded: Decoded::default(),
                totals: Totals::default(),
                protocols: Vec::new(),
                tunnels: [(0, 0); 8],
                outer: ConversationTable::new(seed),
                routed_by_header: ConversationTable::new(seed),
                routed_by_flow: ConversationTable::new(seed),
                engine,
                keep_windows: cfg.keep_windows,
                rows_as: cfg.rows_as.clone(),
                window_reports: Vec::new(),
                closed: Vec::new(),
                fragments: FragmentPorts::new(cfg.fragment_capacity.max(1), seed),
                problems: DecodeStats::default(),
                origins: cfg.flows.as_ref().map(|f| FileOrigins {
                    probe: f.probe.clone(),
                    file: String::new(),
                    known: Vec::new(),
                }),
            },
            files: Vec::new(),
        })
    }

    /// Starts a new capture file; its packets add to the same tables as earlier files.
    pub fn begin_file(&mut self, name: &str) {
        self.reader = CaptureReader::new();
        if let Some(o) = &mut self.tables.origins {
            o.file = name.to_string();
            o.known.clear();
        }
        self.files.push(FileSummary {
            name: name.to_string(),
            format: None,
            link_types: Vec::new(),
            packets: 0,
            bytes_read: 0,
            skipped_blocks: 0,
            times_out_of_range: 0,
            error: None,
        });
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), CaptureError> {
        let tables = &mut self.tables;
        let result = self.reader.feed(chunk, |f| tables.add_frame(f));
        tables.engine.flush();
        if let Err(e) = &result {
            self.note_error(e.clone());
        }
        result
    }

    /// Ends the current file; an error here means it was cut short (packets before the damage
    /// are counted).
    pub fn end_file(&mut self) -> Result<(), CaptureError> {
        let result = self.reader.finish();
        if let Err(e) = &result {
            self.note_error(e.clone());
        }
        let stats = self.reader.stats();
        if let Some(f) = self.files.last_mut() {
            f.format = self.reader.format();
            f.link_types = self.reader.link_types().to_vec();
            f.packets = stats.packets;
            f.bytes_read = stats.bytes_consumed;
            f.skipped_blocks = stats.skipped_blocks;
            f.times_out_of_range = stats.times_out_of_range;
        }
        result
    }

    fn note_error(&mut self, e: CaptureError) {
        if let Some(f) = self.files.last_mut() {
            f.error.get_or_insert(e);
        }
    }

    /// Flow records finished since the last call, as a JSON array; with `flush` every flow
    /// still open ends first (end of input). None without flow records.
    pub fn take_flows_json(&mut self, flush: bool) -> Option<String> {
        self.take_flows(flush, FlowOut { rows: None, json: true }).and_then(|t| t.json)
    }

    /// Flow records finished since the last call, as rows of the `flows` table and/or JSON; with
    /// `flush` every flow still open ends first. None without flow records (or after a
    /// failure, see [`Analysis::failure`]).
    pub fn take_flows(&mut self, flush: bool, out: FlowOut<'_>) -> Option<TakenFlows> {
        self.tables.origins.as_ref()?;
        self.tables.engine.take_flows(flush, out).ok().flatten()
    }

    /// Flow records finished since the last call as the rows of the `flows` table (the buffer
    /// of [`crate::rows::StorageRows::encode`]), written as the configured source and run.
    /// None without flow records or a source; without a source the records taken are dropped
    /// (the summary has counted them), so they never pile up.
    pub fn take_flow_rows(&mut self, flush: bool) -> Option<Vec<u8>> {
        let rows_as = self.tables.rows_as.clone();
        let rows = rows_as.as_ref().map(|(s, r)| (s.as_str(), r.as_str()));
        self.take_flows(flush, FlowOut { rows, json: false })?.rows.map(|r| r.encode())
    }

    /// The country and AS databases flow records are written with (None: no enrichment).
    pub fn set_geo(&mut self, geo: Option<std::sync::Arc<crate::app::mmdb::Geo>>) {
        self.tables.engine.set_geo(geo);
    }

    /// What the report says of the flow records finished so far (JSON); None without them.
    pub fn flow_summary_json(&mut self) -> Option<String> {
        self.tables.origins.as_ref()?;
        self.tables.engine.sync().ok()?;
        self.tables.engine.flow_summary_json()
    }

    /// Why the analysis stopped counting (the engine's second thread failed): every later
    /// result is incomplete.
    pub fn failure(&self) -> Option<&str> {
        self.tables.filter_error.as_deref().or_else(|| self.tables.engine.failure())
    }

    /// Counts only the frames `filter` keeps, from the next frame on.
    pub fn set_filter(&mut self, filter: Box<dyn FrameFilter>) {
        self.tables.filter = Some(filter);
    }

    /// Waits until the engine's second thread has made everything so far (a failure stays in
    /// [`Analysis::failure`]).
    pub fn sync(&mut self) {
        let _ = self.tables.engine.sync();
    }

    #[cfg(test)]
    pub(crate) fn inject_failure(&mut self) {
        self.tables.engine.inject_failure();
    }

    /// The flow cache's counters as a JSON object; None without flow records.
    pub fn flow_counters_json(&self) -> Option<String> {
        self.tables.origins.as_ref()?;
        let mut j = Json::new();
        j.begin_object(None);
        self.tables.engine.flows().write_counters(&mut j);
        j.end_object();
        Some(j.finish())
    }

    pub fn totals(&self) -> &Totals {
        &self.tables.totals
    }

    pub fn files(&self) -> &[FileSummary] {
        &self.files
    }

    pub fn problems(&self) -> &DecodeStats {
        &self.tables.problems
    }

    /// Conversations of every IP layer (tshark's TCP/UDP tables, and the rest).
    pub fn conversations(&mut self) -> ConversationTable {
        self.tables.conversations()
    }

    /// Conversations per address pair (tshark's IP/IPv6 tables), derived from the 5-tuple
    /// conversations: each packet was added there once per IP layer.
    pub fn ip_pairs(&mut self) -> ConversationTable {
        let conversations = self.tables.conversations();
        self.tables.ip_pairs(&conversations)
    }

    /// Closes the open window (end of the input): its tasks are snapshotted and reported.
    pub fn close_window(&mut self) {
        // A failure stays in `failure`.
        let _ = self.tables.engine.close_window();
    }

    /// The windows closed since the last call and made so far (when kept), each encoded as a
    /// [`crate::engine::ClosedWindow`].
    pub fn take_windows(&mut self) -> Vec<Vec<u8>> {
        self.tables.collect_windows();
        std::mem::take(&mut self.tables.closed)
    }

    /// All rows of the 5-tuple conversation table (`ip_pairs` false) or of the address-pair
    /// table (true) as fixed-width records, see [`encode_conversation`].
    pub fn export_conversations(&mut self, ip_pairs: bool) -> Vec<u8> {
        let rows = if ip_pairs { self.ip_pairs().sorted() } else { self.conversations().sorted() };
        let mut out = vec![0u8; rows.len() * CONVERSATION_RECORD_LEN];
        for (i, (k, s)) in rows.iter().enumerate() {
            encode_conversation(k, s, &mut out[i * CONVERSATION_RECORD_LEN..(i + 1) * CONVERSATION_RECORD_LEN]);
        }
        out
    }

    pub fn report_json(&mut self, top_n: usize) -> String {
        self.tables.report(&self.files, top_n)
    }
}

/// Bytes per exported conversation row.
pub const CONVERSATION_RECORD_LEN: usize = 96;

/// Layout (little-endian): 0 a[16], 16 b[16], 32 family u8, 33 proto u8, 34 port_a u16,
/// 36 port_b u16, 38 tcp_flags_ab u8, 39 tcp_flags_ba u8, 40 packets_ab u64, 48 bytes_ab u64,
/// 56 packets_ba u64, 64 bytes_ba u64, 72 first_ns u64, 80 last_ns u64 (both 0 when no packet
/// had a time), 88 carries u8 (tunnel kind), 89..96 zero.
pub fn encode_conversation(k: &ConvKey, s: &ConvStats, out: &mut [u8]) {
    out[0..16].copy_from_slice(&k.a.bytes);
    out[16..32].copy_from_slice(&k.b.bytes);
    out[32] = k.a.family as u8;
    out[33] = k.proto;
    out[34..36].copy_from_slice(&k.port_a.to_le_bytes());
    out[36..38].copy_from_slice(&k.port_b.to_le_bytes());
    out[38] = s.tcp_flags_ab;
    out[39] = s.tcp_flags_ba;
    out[40..48].copy_from_slice(&s.packets_ab.to_le_bytes());
    out[48..56].copy_from_slice(&s.bytes_ab.to_le_bytes());
    out[56..64].copy_from_slice(&s.packets_ba.to_le_bytes());
    out[64..72].copy_from_slice(&s.bytes_ba.to_le_bytes());
    let (first, last) = if s.first_ns == u64::MAX { (0, 0) } else { (s.first_ns, s.last_ns) };
    out[72..80].copy_from_slice(&first.to_le_bytes());
    out[80..88].copy_from_slice(&last.to_le_bytes());
    out[88] = s.carries;
    out[89..96].fill(0);
}

impl Tables {
    /// The windows the engine made since the last call: their JSON for the report, and the
    /// windows whole when kept.
    fn collect_windows(&mut self) {
        for w in self.engine.take_windows() {
            if self.keep_windows {
                self.closed.push(w.encode());
            }
            self.window_reports.push(w.json);
        }
    }

    /// Conversations of every layer: the engine's (innermost layers) and the tunnels'.
    fn conversations(&mut self) -> ConversationTable {
        let mut all = self.engine.conversations().ok().flatten().unwrap_or_else(|| ConversationTable::new(self.seed));
        all.merge(&self.outer);
        all
    }

    /// Address pairs of every IP layer, as the IP header names them.
    fn ip_pairs(&self, conversations: &ConversationTable) -> ConversationTable {
        let mut pairs = conversations.by_address_pair(self.seed);
        if !self.routed_by_flow.is_empty() {
            pairs.subtract(&self.routed_by_flow);
            pairs.merge(&self.routed_by_header);
        }
        pairs
    }

    #[inline]
    fn add_frame(&mut self, f: &Frame<'_>) {
        if let Some(filter) = &mut self.filter {
            if self.filter_error.is_some() {
                return;
            }
            match filter.keep(f.link_type, f.data, f.wire_len) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    self.filter_error = Some(e);
                    return;
                }
            }
        }
        decode::decode(f.data, f.link_type, &mut self.decoded);
        let mut r = self.decoded.record(f.ts_ns, f.wire_len, f.data.len() as u32, f.interface as u16);
        if !f.has_ts {
            r.flags |= flag::NO_TIME;
        }
        self.fragments.fill(&self.decoded, &mut r);
        self.count_totals(&r, f.has_ts);
        self.count_protocol(&r);
        let bytes = r.wire_len as u64;
        let ts = if f.has_ts { Some(r.ts_ns) } else { None };
        let layers = self.decoded.layers();
        let innermost = layers.len().saturating_sub(1);
        for (i, l) in layers.iter().enumerate() {
            let carries = l.carries as u8;
            if l.flow_dst != l.dst {
                self.routed_by_header.add(&conv_update(l.src, 0, l.dst, 0, 0, bytes, ts, 0, carries));
                self.routed_by_flow.add(&conv_update(l.src, 0, l.flow_dst, 0, 0, bytes, ts, 0, carries));
            }
            // The innermost layer is the packet's flow: the engine counts it.
            if i == innermost {
                continue;
            }
            let (sport, dport) = if l.flags & flag::HAS_PORTS != 0 { (l.src_port, l.dst_port) } else { (0, 0) };
            self.outer.add(&conv_update(l.src, sport, l.flow_dst, dport, l.proto, bytes, ts, l.tcp_flags, carries));
        }
        if layers.len() > 1 {
            let t = &mut self.tunnels[layers[0].carries as usize & 7];
            t.0 += 1;
            t.1 += bytes;
        }
        let origin = self.origin(r.interface);
        let payload = self.decoded.payload(f.data);
        self.engine.add_payload(&r, f.has_ts, origin, payload, self.decoded.tcp_seq);
        if let Some(p) = self.decoded.problem {
            self.problems.count(p);
        }
    }

    #[inline]
    fn count_totals(&mut self, r: &PacketRecord, has_ts: bool) {
        let t = &mut self.totals;
        t.packets += 1;
        t.bytes += r.wire_len as u64;
        t.captured_bytes += r.cap_len as u64;
        t.fragments += r.has(flag::FRAGMENT) as u64;
        if has_ts {
            t.first_ns.get_or_insert(r.ts_ns);
            t.last_ns = Some(r.ts_ns);
            t.min_ns = Some(t.min_ns.map_or(r.ts_ns, |m| m.min(r.ts_ns)));
            t.max_ns = Some(t.max_ns.map_or(r.ts_ns, |m| m.max(r.ts_ns)));
        } else {
            t.packets_without_timestamp += 1;
        }
    }

    #[inline]
    fn count_protocol(&mut self, r: &PacketRecord) {
        let class = ProtocolClass {
            family: r.family() as u8,
            proto: r.proto,
            ethertype: if r.family() == Family::None { r.ethertype } else { 0 },
        };
        // A handful of classes: a short list beats a hash map here.
        match self.protocols.iter_mut().find(|(c, _, _)| *c == class) {
            Some(e) => {
                e.1 += 1;
                e.2 += r.wire_len as u64;
            }
            None => self.protocols.push((class, 1, r.wire_len as u64)),
        }
    }

    fn report(&mut self, files: &[FileSummary], top_n: usize) -> String {
        // Every window made (the conversations wait for the engine to catch up).
        let conversations = self.conversations();
        self.collect_windows();
        let t = &self.totals;
        let mut j = Json::new();
        j.begin_object(None);

        j.begin_array(Some("files"));
        for f in files {
            j.begin_object(None);
            j.str("name", &f.name);
            j.str(
                "format",
                match f.format {
                    Some(Format::Pcap { .. }) => "pcap",
                    Some(Format::PcapNg) => "pcapng",
                    None => "unknown",
                },
            );
            if let Some(Format::Pcap { big_endian, nanos }) = f.format {
                j.str("byteOrder", if big_endian { "big-endian" } else { "little-endian" });
                j.str("resolution", if nanos { "ns" } else { "us" });
            }
            j.begin_array(Some("linkTypes"));
            for lt in &f.link_types {
                j.item_u64(*lt as u64);
            }
            j.end_array();
            j.u64("packets", f.packets);
            j.u64("bytesRead", f.bytes_read);
            j.u64("skippedBlocks", f.skipped_blocks);
            j.u64("timesOutOfRange", f.times_out_of_range);
            match &f.error {
                Some(e) => j.str("error", &e.to_string()),
                None => j.null("error"),
            }
            j.end_object();
        }
        j.end_array();

        j.begin_object(Some("totals"));
        j.u64("packets", t.packets);
        j.u64("bytes", t.bytes);
        j.u64("capturedBytes", t.captured_bytes);
        j.u64("packetsWithoutTimestamp", t.packets_without_timestamp);
        j.u64("fragments", t.fragments);
        match (t.min_ns, t.max_ns) {
            (Some(min), Some(max)) => {
                j.str("firstTime", &epoch_text(t.first_ns.unwrap_or(min)));
                j.str("lastTime", &epoch_text(t.last_ns.unwrap_or(max)));
                let duration = max - min;
                j.u64("durationNs", duration);
                let secs = duration as f64 / 1e9;
                let (pps, bps) =
                    if secs > 0.0 { (t.packets as f64 / secs, t.bytes as f64 * 8.0 / secs) } else { (0.0, 0.0) };
                j.f64("pps", pps, 3);
                j.f64("bps", bps, 3);
            }
            _ => {
                j.null("firstTime");
                j.null("lastTime");
                j.u64("durationNs", 0);
                j.f64("pps", 0.0, 3);
                j.f64("bps", 0.0, 3);
            }
        }
        j.end_object();

        let mut protocols = self.protocols.clone();
        protocols.sort_by(|x, y| y.2.cmp(&x.2).then(y.1.cmp(&x.1)).then(x.0.cmp(&y.0)));
        j.begin_array(Some("protocols"));
        for (c, packets, bytes) in protocols {
            j.begin_object(None);
            j.str("name", &protocol_class_name(c));
            j.u64("family", c.family as u64);
            j.u64("proto", c.proto as u64);
            j.u64("ethertype", c.ethertype as u64);
            j.u64("packets", packets);
            j.u64("bytes", bytes);
            j.end_object();
        }
        j.end_array();

        let hosts = HostTable::from_conversations(&conversations, self.seed);
        j.begin_array(Some("topTalkers"));
        for (addr, s) in hosts.top(top_n) {
            j.begin_object(None);
            j.str("addr", &addr.to_string());
            j.u64("txPackets", s.tx_packets);
            j.u64("txBytes", s.tx_bytes);
            j.u64("rxPackets", s.rx_packets);
            j.u64("rxBytes", s.rx_bytes);
            j.end_object();
        }
        j.end_array();

        j.begin_array(Some("topConversations"));
        for (k, s) in conversations.sorted().into_iter().take(top_n) {
            conversation_json(&mut j, &k, &s);
        }
        j.end_array();

        j.begin_array(Some("tunnels"));
        for (kind, (packets, bytes)) in self.tunnels.iter().enumerate() {
            if *packets > 0 {
                j.begin_object(None);
                j.str("kind", TunnelKind::from_u8(kind as u8).name());
                j.u64("packets", *packets);
                j.u64("bytes", *bytes);
                j.end_object();
            }
        }
        j.end_array();

        j.begin_array(Some("windows"));
        for w in &self.window_reports {
            j.raw_item(w);
        }
        j.end_array();

        j.begin_object(Some("problems"));
        j.u64("truncated", self.problems.total(ProblemKind::Truncated));
        j.u64("malformed", self.problems.total(ProblemKind::Malformed));
        j.u64("unsupported", self.problems.total(ProblemKind::Unsupported));
        j.begin_array(Some("details"));
        let mut details = self.problems.entries().to_vec();
        details.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        for (p, n) in details {
            j.begin_object(None);
            j.str("kind", p.kind.name());
            j.str("layer", p.proto.name());
            j.str("reason", p.reason);
            j.u64("value", p.value as u64);
            j.str("text", &p.to_string());
            j.u64("packets", n);
            j.end_object();
        }
        j.end_array();
        j.end_object();

        j.begin_object(Some("tables"));
        j.u64("conversations", conversations.len() as u64);
        j.u64("ipPairs", self.ip_pairs(&conversations).len() as u64);
        j.u64("hosts", hosts.len() as u64);
        // Text: a 64-bit seed is not exact as a JSON number in most readers.
        j.str("seed", &self.seed.to_string());
        j.u64("fragmentTableResets", self.fragments.resets);
        j.end_object();

        j.end_object();
        j.finish()
    }
}

fn conversation_json(j: &mut Json, k: &ConvKey, s: &ConvStats) {
    j.begin_object(None);
    j.str("proto", &names::ip_proto(k.proto).map_or_else(|| k.proto.to_string(), str::to_string));
    j.str("a", &k.a.to_string());
    j.u64("portA", k.port_a as u64);
    j.str("b", &k.b.to_string());
    j.u64("portB", k.port_b as u64);
    j.u64("packetsAtoB", s.packets_ab);
    j.u64("bytesAtoB", s.bytes_ab);
    j.u64("packetsBtoA", s.packets_ba);
    j.u64("bytesBtoA", s.bytes_ba);
    if s.first_ns != u64::MAX {
        j.str("firstTime", &epoch_text(s.first_ns));
        j.str("lastTime", &epoch_text(s.last_ns));
    } else {
        j.null("firstTime");
        j.null("lastTime");
    }
    j.str("tcpFlags", &names::tcp_flags(s.tcp_flags_ab | s.tcp_flags_ba));
    j.str("tunnel", TunnelKind::from_u8(s.carries).name());
    j.end_object();
}

pub fn protocol_class_name(c: ProtocolClass) -> String {
    match Family::from_u8(c.family) {
        Family::None => match names::ethertype(c.ethertype) {
            Some(n) => n.to_string(),
            None => format!("ethertype 0x{:04x}", c.ethertype),
        },
        fam => {
            let f = if fam == Family::V4 { "IPv4" } else { "IPv6" };
            match names::ip_proto(c.proto) {
                Some(p) => format!("{f}/{p}"),
                None => format!("{f}/proto {}", c.proto),
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn conv_update(
    src: Addr,
    src_port: u16,
    dst: Addr,
    dst_port: u16,
    proto: u8,
    bytes: u64,
    ts_ns: Option<u64>,
    tcp_flags: u8,
    carries: u8,
) -> ConvUpdate {
    ConvUpdate { src, dst, proto, src_port, dst_port, bytes, ts_ns, tcp_flags, carries }
}
