//! Engine side: `PacketBatch` messages in, closed windows out.
//!
//! Each message is parsed straight from its bytes, de-duplicated by probe id and sequence, and
//! its records run through the engine's tasks exactly as `analyze` runs a file's packets, so a
//! capture sent through a probe gives the same windows as the file analysed offline.

use std::collections::HashMap;

use super::seconds::SecondCounters;
use super::wire::{CaptureStats, PacketBatch, WireError};
use crate::app::App;
use crate::engine::{ClosedWindow, Engine, EngineConfig, WindowOut};
use crate::flow::{FlowOut, FlowQuery, TakenFlows};
use crate::json::Json;
use crate::record::flag;

/// How many recent sequence numbers per probe are remembered for de-duplication (128 KiB each):
/// at 2,000 batches/s, a redelivery up to about eight minutes late is still recognised.
const SEQUENCE_WINDOW: u64 = 1 << 20;

/// Recently applied sequence numbers of one probe: a bitmap over the last `SEQUENCE_WINDOW`.
struct SequenceWindow {
    highest: u64,
    seen: Vec<u64>,
}

enum Seen {
    New,
    Duplicate,
    /// Too old to tell: applied, and counted.
    TooOld,
}

impl SequenceWindow {
    fn new() -> SequenceWindow {
        SequenceWindow { highest: 0, seen: vec![0; (SEQUENCE_WINDOW / 64) as usize] }
    }

    fn bit(&mut self, seq: u64) -> (&mut u64, u64) {
        let i = seq % SEQUENCE_WINDOW;
        (&mut self.seen[(i / 64) as usize], 1u64 << (i % 64))
    }

    fn check_and_mark(&mut self, seq: u64) -> Seen {
        if seq > self.highest {
            // Forget the sequences that fall out of the window.
            let forget = (seq - self.highest).min(SEQUENCE_WINDOW);
            for s in self.highest + 1..self.highest + 1 + forget {
                let (w, b) = self.bit(s);
                *w &= !b;
            }
            self.highest = seq;
        } else if self.highest - seq >= SEQUENCE_WINDOW {
            return Seen::TooOld;
        }
        let (w, b) = self.bit(seq);
        if *w & b != 0 {
            return Seen::Duplicate;
        }
        *w |= b;
        Seen::New
    }
}

#[derive(Default)]
struct ProbeState {
    batches: u64,
    packets: u64,
    highest_sequence: u64,
    stats: CaptureStats,
    interface: String,
    sequences: Option<SequenceWindow>,
}

/// What `apply` did with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub probe_id: String,
    pub sequence: u64,
    pub packets: u32,
    /// Already applied (same probe and sequence): nothing was counted.
    pub duplicate: bool,
    /// Packets before the resume point (already in a window that was written): not counted.
    pub skipped: u32,
}

#[derive(Default)]
struct Counters {
    batches: u64,
    packets: u64,
    /// Wire bytes of the counted packets.
    bytes: u64,
    duplicates: u64,
    too_old_to_deduplicate: u64,
    skipped_packets: u64,
    rejected: Vec<(&'static str, u64)>,
}

pub struct BatchIngest {
    engine: Engine,
    /// Flow records also as storage rows written as (source, run).
    rows_as: Option<(String, String)>,
    skip_before_ns: u64,
    probes: HashMap<String, ProbeState>,
    counters: Counters,
    /// Flow records are kept (the engine's flow cache runs either way).
    records: bool,
    seconds: Option<SecondCounters>,
}

impl BatchIngest {
    pub fn new(
        cfg: &EngineConfig,
        seed: u64,
        top_n: usize,
        rows_as: Option<(String, String)>,
    ) -> Result<BatchIngest, String> {
        let window_out = WindowOut::Closed { top_n, snapshot: true, rows_as: rows_as.clone() };
        let flow_rows_as = rows_as.clone();
        Ok(BatchIngest {
            engine: Engine::new(&EngineConfig { window_out, flow_rows_as, ..cfg.clone() }, seed)?,
            rows_as,
            skip_before_ns: 0,
            probes: HashMap::new(),
            counters: Counters::default(),
            records: cfg.records,
            seconds: None,
        })
    }

    /// Keeps per-second counters of the last `history` seconds (packet time).
    pub fn keep_seconds(&mut self, history: u64) {
        self.seconds = Some(SecondCounters::new(history));
    }

    /// Resumes inside the batch that closed a written window ending at `ns`: its packets up to
    /// the first one timed at or after `ns` were in that window (or an earlier one) and are not
    /// counted; from that packet on everything counts, late packets included, exactly as when
    /// the batch was first applied.
    pub fn skip_before(&mut self, ns: u64) {
        self.skip_before_ns = ns;
    }

    pub fn apply(&mut self, message: &[u8]) -> Result<Applied, WireError> {
        let batch = match PacketBatch::parse(message) {
            Ok(b) => b,
            Err(e) => {
                let kind = e.kind();
                match self.counters.rejected.iter_mut().find(|(k, _)| *k == kind) {
                    Some(c) => c.1 += 1,
                    None => self.counters.rejected.push((kind, 1)),
                }
                return Err(e);
            }
        };
        let probe = self.probes.entry(batch.probe_id.to_string()).or_default();
        let mut applied = Applied {
            probe_id: batch.probe_id.to_string(),
            sequence: batch.sequence,
            packets: batch.packets() as u32,
            duplicate: false,
            skipped: 0,
        };
        if batch.sequence != 0 {
            match probe.sequences.get_or_insert_with(SequenceWindow::new).check_and_mark(batch.sequence) {
                Seen::New => {}
                Seen::Duplicate => {
                    self.counters.duplicates += 1;
                    applied.duplicate = true;
                    return Ok(applied);
                }
                Seen::TooOld => self.counters.too_old_to_deduplicate += 1,
            }
        }
        probe.batches += 1;
        probe.packets += applied.packets as u64;
        if batch.sequence >= probe.highest_sequence {
            probe.highest_sequence = batch.sequence;
            probe.stats = batch.stats;
            if probe.interface != batch.interface {
                probe.interface = batch.interface.to_string();
            }
        }
        self.counters.batches += 1;
        let windows_before = self.engine.windows_ended();
        // Records name the batch's probe and interface.
        let origin = if self.records { self.engine.origin(batch.probe_id, batch.interface) } else { 0 };
        let mut names = batch.names.iter().peekable();
        for (i, r) in batch.iter_records().enumerate() {
            let has_ts = !r.has(flag::NO_TIME);
            if self.skip_before_ns != 0 {
                if !has_ts || r.ts_ns < self.skip_before_ns {
                    applied.skipped += 1;
                    continue;
                }
                // The packet that closed the written window: the resume point.
                self.skip_before_ns = 0;
            }
            self.counters.bytes += r.wire_len as u64;
            // Names the probe read from this packet's payload (indexes ascending; a bad one is
            // one the records do not reach, and names nothing).
            while names.next_if(|n| (n.index as usize) < i).is_some() {}
            match names.next_if(|n| n.index as usize == i) {
                Some(n) => self.engine.add_named(&r, has_ts, origin, App::from_u8(n.app), n.server_name, n.alpn),
                None => {
                    self.engine.add(&r, has_ts, origin);
                }
            }
            if let Some(s) = &mut self.seconds {
                s.add(&r);
            }
        }
        if self.engine.windows_ended() == windows_before {
            self.engine.flush();
        } else {
            // The windows this batch closed are made before it returns: JetStream acknowledges
            // a batch once the windows it touched are written. A failure stays in `failure`.
            let _ = self.engine.sync();
        }
        self.counters.skipped_packets += applied.skipped as u64;
        self.counters.packets += (applied.packets - applied.skipped) as u64;
        Ok(applied)
    }

    /// Ends the open window (wall clock passed it, or the stream is over) and waits until it
    /// is made.
    pub fn close_window(&mut self) {
        // A failure stays in `failure`.
        let _ = self.engine.close_window();
    }

    /// Windows closed since the last call and made so far, oldest first.
    pub fn take_windows(&mut self) -> Vec<ClosedWindow> {
        self.engine.take_windows()
    }

    /// The open window so far, which keeps counting: live queries and the console.
    pub fn peek_window(&mut self) -> Option<ClosedWindow> {
        self.engine.peek_window().ok().flatten()
    }

    /// Why the engine stopped counting (its second thread failed), if it did.
    pub fn failure(&self) -> Option<&str> {
        self.engine.failure()
    }

    /// Flow records finished since the last call, as a JSON array; with `flush` every flow
    /// still open ends first. None without flow records.
    pub fn take_flows_json(&mut self, flush: bool) -> Option<String> {
        self.take_flows(flush, true).and_then(|t| t.json)
    }

    /// Flow records finished since the last call: as rows of the `flows` table when the engine
    /// has a source, and as JSON when asked. None without flow records.
    pub fn take_flows(&mut self, flush: bool, json: bool) -> Option<TakenFlows> {
        if !self.records {
            return None;
        }
        let rows_as = self.rows_as.as_ref().map(|(s, r)| (s.as_str(), r.as_str()));
        self.engine.take_flows(flush, FlowOut { rows: rows_as, json }).ok().flatten()
    }

    /// No batch came for `ns` of wall-clock time: flows idle by then end.
    pub fn flows_idle(&mut self, ns: u64) {
        if self.records {
            // A failure stays in `failure`.
            let _ = self.engine.flows_idle(ns);
        }
    }

    /// A page of the flows held now (see [`crate::flow::FlowMeter::query_json`]). None without
    /// flow records.
    pub fn query_flows(&self, q: &FlowQuery) -> Option<String> {
        self.records.then(|| self.engine.flows().query_json(q))
    }

    /// Per-second counters of seconds beginning in [from, to) ns, as JSON; None without them.
    pub fn seconds_json(&self, from_ns: u64, to_ns: u64) -> Option<String> {
        self.seconds.as_ref().map(|s| s.range_json(from_ns, to_ns))
    }

    /// Start and end of the open window, when it holds packets.
    pub fn open_window(&self) -> Option<(u64, u64)> {
        self.engine.open_window()
    }

    /// Counters and the latest capture statistics of every probe, as JSON.
    /// The country and AS databases flow records are written with (None: no enrichment).
    pub fn set_geo(&mut self, geo: Option<std::sync::Arc<crate::app::mmdb::Geo>>) {
        self.engine.set_geo(geo);
    }

    pub fn stats_json(&self) -> String {
        let c = &self.counters;
        let mut j = Json::new();
        j.begin_object(None);
        j.u64("batches", c.batches);
        j.u64("packets", c.packets);
        j.u64("bytes", c.bytes);
        j.u64("duplicateBatches", c.duplicates);
        j.u64("tooOldToDeduplicate", c.too_old_to_deduplicate);
        j.u64("skippedPackets", c.skipped_packets);
        j.begin_object(Some("rejected"));
        for (k, n) in &c.rejected {
            j.u64(k, *n);
        }
        j.end_object();
        j.begin_array(Some("probes"));
        let mut ids: Vec<&String> = self.probes.keys().collect();
        ids.sort();
        for id in ids {
            let p = &self.probes[id];
            j.begin_object(None);
            j.str("id", id);
            j.str("interface", &p.interface);
            j.u64("batches", p.batches);
            j.u64("packets", p.packets);
            j.u64("highestSequence", p.highest_sequence);
            j.u64("captured", p.stats.captured);
            j.u64("kernelDropped", p.stats.kernel_dropped);
            j.u64("interfaceDropped", p.stats.interface_dropped);
            j.u64("probeDropped", p.stats.probe_dropped);
            j.end_object();
        }
        j.end_array();
        if self.records {
            j.begin_object(Some("flows"));
            self.engine.flows().write_counters(&mut j);
            j.end_object();
        }
        j.end_object();
        j.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BatchBuilder, BatchConfig};
    use super::*;
    use crate::analysis::{Analysis, AnalysisConfig};
    use crate::options::{AnalyzerOptions, TaskOptions};
    use netspectra_synth::{TrafficConfig, TrafficGenerator};

    fn capture() -> Vec<u8> {
        let mut g = TrafficGenerator::new(TrafficConfig { packets: 20_000, ..TrafficConfig::default() });
        let mut out = Vec::new();
        while g.next_chunk(5_000, &mut out) > 0 {}
        out
    }

    fn config() -> AnalysisConfig {
        let task = |name: &str, kind: &str, key: &str| TaskOptions {
            name: name.into(),
            kind: kind.into(),
            key: key.into(),
            element: (kind == "superspread").then(|| "DstIP".into()),
            ..TaskOptions::default()
        };
        let tasks = vec![
            task("src", "exact", "SrcIP"),
            task("flows", "countmin", "SrcIP,DstIP,SrcPort,DstPort,Protocol"),
            task("scan", "superspread", "SrcIP"),
        ];
        AnalyzerOptions { window_seconds: Some(1.0), tasks, ..AnalyzerOptions::default() }.config().unwrap()
    }

    #[test]
    fn batches_give_the_windows_of_analyze() {
        let file = capture();
        let cfg = config();
        let mut analysis = Analysis::new(&cfg).unwrap();
        analysis.begin_file("x");
        analysis.feed(&file).unwrap();
        analysis.end_file().unwrap();
        analysis.close_window();
        let report: String = analysis.report_json(cfg.top_n);

        for (partitions, threads) in [(1, 1), (3, 1), (1, 2)] {
            let mut b = BatchBuilder::new(BatchConfig {
                probe_id: "p".into(),
                interface: "file".into(),
                partitions,
                batch_packets: 333,
                seed: cfg.seed,
                names: None,
            })
            .unwrap();
            let engine = EngineConfig { threads, ..cfg.engine.clone() };
            let mut ingest = BatchIngest::new(&engine, cfg.seed, cfg.top_n, None).unwrap();
            let mut windows = Vec::new();
            for chunk in file.chunks(7_777) {
                b.add_capture(chunk).unwrap();
                for m in b.take(false, &CaptureStats::default(), 0) {
                    let ended = ingest.engine.windows_ended();
                    ingest.apply(&m.message).unwrap();
                    let made = ingest.take_windows();
                    // The windows a batch closed come out with it (JetStream acknowledges by them).
                    assert_eq!(made.len() as u64, ingest.engine.windows_ended() - ended);
                    windows.extend(made);
                }
            }
            b.end_capture().unwrap();
            for m in b.take(true, &CaptureStats::default(), 0) {
                ingest.apply(&m.message).unwrap();
            }
            assert_eq!(b.packets(), 20_000);
            ingest.close_window();
            windows.extend(ingest.take_windows());
            assert!(windows.len() > 3);
            if partitions == 1 {
                // Same packets in the same order (on one thread or two): every window as analyze reported it.
                for w in &windows {
                    assert!(report.contains(&w.json), "window {} differs from analyze", w.start_ns);
                }
            }
            let total: u64 = windows.iter().map(|w| u64::from_le_bytes(w.snapshot[22..30].try_into().unwrap())).sum();
            assert_eq!(total, 20_000);
        }
    }

    #[test]
    fn batches_give_the_flow_records_and_seconds_of_analyze() {
        let file = capture();
        let flows = || crate::options::FlowOptions {
            idle_udp: Some(2.0),
            max_flows: Some(500),
            local_networks: Some("10.0.0.0/8".into()),
            probe: Some("p".into()),
            ..Default::default()
        };
        let opts = AnalyzerOptions { flows: Some(flows()), ..AnalyzerOptions::default() };
        let mut analysis = opts.analysis().unwrap();
        analysis.begin_file("file");
        analysis.feed(&file).unwrap();
        analysis.end_file().unwrap();
        let offline = analysis.take_flows_json(true).unwrap();
        assert!(offline.matches("\"communityId\"").count() > 100, "{}", &offline[..200]);

        let mut b = BatchBuilder::new(BatchConfig {
            probe_id: "p".into(),
            interface: "file".into(),
            partitions: 1,
            batch_packets: 500,
            seed: 1,
            names: Some(flows().config(1).unwrap().cache),
        })
        .unwrap();
        b.add_capture(&file).unwrap();
        let opts = AnalyzerOptions { flows: Some(flows()), seconds: Some(3600), ..AnalyzerOptions::default() };
        let mut ingest = opts.batch_ingest().unwrap();
        let mut live = Vec::new();
        for m in b.take(true, &CaptureStats::default(), 0) {
            ingest.apply(&m.message).unwrap();
            // Taking records as they finish changes nothing but when they leave.
            live.push(ingest.take_flows_json(false).unwrap());
        }
        live.push(ingest.take_flows_json(true).unwrap());
        let live: Vec<&str> =
            live.iter().map(|a| a.trim_start_matches('[').trim_end_matches(']')).filter(|a| !a.is_empty()).collect();
        // Names too: the probe reads them from the payloads and sends them with the records.
        assert!(offline.contains(r#""app":"DNS""#));
        let live = format!("[{}]", live.join(","));
        // The first record that differs, rather than two arrays of thousands.
        let (a, b) = (live.split("},{").collect::<Vec<_>>(), offline.split("},{").collect::<Vec<_>>());
        if let Some(i) = (0..a.len().min(b.len())).find(|&i| a[i] != b[i]) {
            panic!("record {i}:\n batches {}\n analyze {}", a[i], b[i]);
        }
        assert_eq!(live, offline);
        assert!(offline.contains(r#""probe":"p","interface":"file""#));
        let stats = ingest.stats_json();
        assert!(stats.contains(r#""flows":{"active":0,"#), "{stats}");

        let seconds = ingest.seconds_json(0, u64::MAX).unwrap();
        assert!(seconds.matches(r#"{"t":"#).count() > 1, "{seconds}");
        let total: u64 = seconds
            .split(r#""packets":"#)
            .skip(1)
            .step_by(5) // each second: its total, then TCP, UDP, ICMP, Other
            .map(|t| t[..t.find(',').unwrap()].parse::<u64>().unwrap())
            .sum();
        assert_eq!(total, 20_000);
        assert!(ingest.query_flows(&FlowQuery::default()).unwrap().starts_with(r#"{"active":0,"matched":0"#));
    }

    #[test]
    fn duplicates_and_replays_are_not_counted_twice() {
        let file = capture();
        let cfg = config();
        let mut b = BatchBuilder::new(BatchConfig {
            probe_id: "p".into(),
            interface: "file".into(),
            partitions: 1,
            batch_packets: 1000,
            seed: 1,
            names: None,
        })
        .unwrap();
        b.add_capture(&file).unwrap();
        let batches = b.take(true, &CaptureStats::default(), 0);
        let mut ingest = BatchIngest::new(&cfg.engine, cfg.seed, 5, None).unwrap();
        for m in &batches {
            assert!(!ingest.apply(&m.message).unwrap().duplicate);
        }
        for m in &batches[..5] {
            assert!(ingest.apply(&m.message).unwrap().duplicate);
        }
        // Duplicates add neither packets nor bytes: the bytes are the capture's.
        let mut analysis = Analysis::new(&cfg).unwrap();
        analysis.begin_file("x");
        analysis.feed(&file).unwrap();
        let bytes = analysis.totals().bytes;
        assert!(ingest.stats_json().contains(&format!("\"packets\":20000,\"bytes\":{bytes},")));
        assert!(ingest.stats_json().contains("\"duplicateBatches\":5"));
        assert_eq!(ingest.apply(b"\x08\x02").unwrap_err(), WireError::Version(2));
        assert!(ingest.stats_json().contains("\"rejected\":{\"version\":1}"));

        // A restarted engine that already wrote the windows before `t` skips their packets up to
        // the first one at or after `t`, and counts every packet from there on, late ones too.
        let mut restarted = BatchIngest::new(&cfg.engine, cfg.seed, 5, None).unwrap();
        let t = PacketBatch::parse(&batches[10].message).unwrap().iter_records().next().unwrap().ts_ns;
        restarted.skip_before(t);
        let skipped: u32 = batches.iter().map(|m| restarted.apply(&m.message).unwrap().skipped).sum();
        let before_t = batches
            .iter()
            .flat_map(|m| PacketBatch::parse(&m.message).unwrap().iter_records().map(|r| r.ts_ns).collect::<Vec<_>>())
            .position(|ts| ts >= t)
            .unwrap();
        assert_eq!(skipped as usize, before_t);
    }

    #[test]
    fn sequences_are_remembered_within_the_window_only() {
        let mut w = SequenceWindow::new();
        assert!(matches!(w.check_and_mark(5), Seen::New));
        assert!(matches!(w.check_and_mark(3), Seen::New));
        assert!(matches!(w.check_and_mark(5), Seen::Duplicate));
        assert!(matches!(w.check_and_mark(3), Seen::Duplicate));
        // A jump past the window forgets everything older, including what shares a bit with
        // the new sequences.
        let far = 5 + SEQUENCE_WINDOW;
        assert!(matches!(w.check_and_mark(far), Seen::New));
        assert!(matches!(w.check_and_mark(5), Seen::TooOld));
        assert!(matches!(w.check_and_mark(far - 1), Seen::New));
        assert!(matches!(w.check_and_mark(3 + SEQUENCE_WINDOW), Seen::New));
        assert!(matches!(w.check_and_mark(far), Seen::Duplicate));
    }

    #[test]
    fn bad_frame_buffers_are_refused_whole() {
        let cfg = BatchConfig {
            probe_id: "p".into(),
            interface: "lo".into(),
            partitions: 1,
            batch_packets: 10,
            seed: 1,
            names: None,
        };
        let mut b = BatchBuilder::new(cfg.clone()).unwrap();
        let mut frames = Vec::new();
        for len in [60u32, 70] {
            frames.extend_from_slice(&1_000u64.to_le_bytes());
            frames.extend_from_slice(&len.to_le_bytes());
            frames.extend_from_slice(&len.to_le_bytes());
            frames.extend(std::iter::repeat(0u8).take(len as usize));
        }
        assert_eq!(b.add_frames(&frames, 1, 0), Ok(2));
        let err = b.add_frames(&frames[..frames.len() - 1], 1, 0).unwrap_err();
        assert!(err.contains("frame 1 at byte 76"), "{err}");
        assert_eq!(b.packets(), 2);
        assert!(BatchBuilder::new(BatchConfig { partitions: 0, ..cfg }).is_err());
    }
}
