//! The engine: several aggregation tasks over one packet stream, in tumbling windows, with one
//! flow lookup per packet.
//!
//! Every packet is counted in its flow (the flow cache, [`crate::flow`]), which keeps, beside
//! the flow's record, its share of the open window (a *segment*). The window's exact tasks (any
//! key, with or without distinct counts) and the conversation table are not touched per packet:
//! they are derived from the segments when the window closes, or when a flow ends before it
//! does. Sums and distinct sets do not depend on the order they are built in, so they equal a
//! per-packet count exactly. The sketches stay per packet (their state depends on the order),
//! but hash a flow direction's key once: the words they need are kept per flow slot and
//! direction, and a packet only reads them. A packet whose key is not its flow's (no IP, or an
//! ICMP code other than its flow's first) is counted on its own, as before the flow cache.
//!
//! The engine is two halves. The packet path (here) keeps the window's bounds and counters and
//! the flow cache; the derived half (`derive`) keeps the tasks' state and makes the outputs:
//! closed windows (JSON, snapshot, storage rows) and finished flow records. The packet path
//! hands the derived half its work as ops, in order, on the same thread or on a second one
//! (`threads: 2`, `pipeline`); the outputs are the same bytes either way. Closed windows and
//! records are taken when ready ([`Engine::take_windows`], [`Engine::take_flows`]); a close,
//! a peek, a flush and a query wait for the derived half to catch up.
//!
//! When a packet's time passes the window's end (or the caller closes the window, live), every
//! task is snapshotted and reset in the same step, so no packet is counted in two windows and
//! none is lost at a boundary. Windows are aligned to multiples of their length since the epoch;
//! offline they follow packet time.

mod derive;
mod pipeline;
mod snapshot;
mod task;

pub use derive::WindowOut;
pub use snapshot::{ClosedWindow, TaskSnapshot, WindowSnapshot, CLOSED_WINDOW_MAGIC, SNAPSHOT_MAGIC, SNAPSHOT_VERSION};
pub use task::{TaskKind, TaskSpec};

use std::sync::{Arc, Mutex};

use crate::app::mmdb::Geo;
use crate::app::App;
use crate::flow::{FlowMeter, FlowMeterConfig, FlowOut, FlowOutput, Segment, TakenFlows};
use crate::record::PacketRecord;
use crate::table::ConversationTable;
use derive::{lock, Derive, Op, PeekedWindow, SharedOutputs};
use pipeline::Back;

const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;

#[derive(Clone, Debug, Default)]
pub struct EngineConfig {
    /// Window length in nanoseconds; 0 makes the whole stream one window.
    pub window_ns: u64,
    pub tasks: Vec<TaskSpec>,
    /// The flow cache every packet goes through.
    pub flows: FlowMeterConfig,
    /// Keep finished flow records (else they are only counted).
    pub records: bool,
    /// Keep the conversation table of the whole stream (offline analysis).
    pub conversations: bool,
    /// How closed windows leave.
    pub window_out: WindowOut,
    /// Flow records also as rows of the `flows` table written as (source, run), made as they
    /// finish.
    pub flow_rows_as: Option<(String, String)>,
    /// 2: the derived half runs on a thread of its own; 0 or 1: on the caller's.
    pub threads: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowCounters {
    pub packets: u64,
    pub bytes: u64,
    /// Packets with a time, and the earliest and latest of their times (0 when none had one).
    pub timed: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    /// Packets older than the window they were counted in (out of order by more than the window).
    pub late: u64,
    /// TCP packets with SYN and without ACK: connection attempts (SYN floods, scans).
    pub syn: u64,
}

pub struct Engine {
    window_ns: u64,
    /// Start of the open window; None before the first timed packet.
    start: Option<u64>,
    counters: WindowCounters,
    flows: FlowMeter,
    records: bool,
    /// Keyed packets go to the derived half only when a sketch or a per-packet task counts them.
    counts_keyed: bool,
    back: Back,
    outputs: SharedOutputs,
    segments: Vec<Segment>,
    /// Windows ended so far (made or not yet).
    windows_ended: u64,
}

impl Engine {
    pub fn new(cfg: &EngineConfig, seed: u64) -> Result<Engine, String> {
        let mut flows = FlowMeter::new(cfg.flows.clone());
        if !cfg.records {
            flows.cache_mut().discard_records();
        }
        let flow_output = cfg.records.then(|| {
            let mut out = flows.output();
            if let Some((source, run)) = &cfg.flow_rows_as {
                out.write_rows_as(source, run);
            }
            out
        });
        let outputs: SharedOutputs = Arc::new(Mutex::new(derive::Outputs { flows: flow_output, ..Default::default() }));
        let mut derive = Derive::new(cfg, seed, flows.cache().community_id_seed(), outputs.clone())?;
        derive.names = Some(flows.cache().inspector().names().clone());
        let counts_keyed = derive.counts_keyed();
        Ok(Engine {
            window_ns: cfg.window_ns,
            start: None,
            counters: WindowCounters::default(),
            flows,
            records: cfg.records,
            counts_keyed,
            back: Back::new(derive, cfg.threads >= 2)?,
            outputs,
            segments: Vec::new(),
            windows_ended: 0,
        })
    }

    pub fn flows(&self) -> &FlowMeter {
        &self.flows
    }

    /// The index of a (probe, interface) pair, to pass to [`Engine::add`].
    pub fn origin(&mut self, probe: &str, interface: &str) -> u16 {
        let known = self.flows.origins();
        let origin = self.flows.origin(probe, interface);
        if self.flows.origins() > known {
            if let Some(f) = &mut lock(&self.outputs).flows {
                f.add_origin(probe, interface);
            }
            let named: (Box<str>, Box<str>) = (probe.into(), interface.into());
            self.back.push(Op::Call(Box::new(move |d| d.origins.push(named))));
        }
        origin
    }

    /// The country and AS databases flow records are written with from now on (None: none).
    pub fn set_geo(&mut self, geo: Option<Arc<Geo>>) {
        self.flows.set_geo(geo.clone());
        // Keys on AS and country: from the next packet the derived half takes.
        let keys = geo.clone();
        self.back.push(Op::Call(Box::new(move |d| d.ctx.geo = keys)));
        if let Some(f) = &mut lock(&self.outputs).flows {
            f.set_geo(geo);
        }
    }

    /// Keeps a summary of the flow records, with the `top_n` largest.
    pub fn summarize_flows(&mut self, top_n: usize) {
        if let Some(f) = &mut lock(&self.outputs).flows {
            f.summarize(top_n);
        }
    }

    /// Why the engine stopped counting (its second thread failed), if it did.
    pub fn failure(&self) -> Option<&str> {
        self.back.failure()
    }

    /// Counts one packet (`origin`: its probe and interface, for flow records). A packet whose
    /// time is past the open window closes it first. `has_ts` false (pcapng simple packets)
    /// puts the packet in the open window.
    #[inline]
    pub fn add(&mut self, r: &PacketRecord, has_ts: bool, origin: u16) {
        self.add_payload(r, has_ts, origin, &[], 0);
    }

    /// [`Engine::add`] with the names a probe read from the packet's payload, given to its flow.
    pub fn add_named(&mut self, r: &PacketRecord, has_ts: bool, origin: u16, app: App, server_name: &str, alpn: &str) {
        if let Some(slot) = self.add_payload(r, has_ts, origin, &[], 0) {
            self.flows.cache_mut().set_names(slot, app, server_name, alpn);
        }
    }

    /// [`Engine::add`] with the packet's TCP or UDP payload and TCP sequence number, from which
    /// flow records learn their application and server name. The flow's slot, if it has one.
    #[inline]
    pub fn add_payload(
        &mut self,
        r: &PacketRecord,
        has_ts: bool,
        origin: u16,
        payload: &[u8],
        tcp_seq: u32,
    ) -> Option<u32> {
        if has_ts && self.window_ns > 0 {
            match self.start {
                None => self.start = Some(r.ts_ns - r.ts_ns % self.window_ns),
                Some(start) if r.ts_ns >= start.saturating_add(self.window_ns) => {
                    self.end_window();
                    self.start = Some(r.ts_ns - r.ts_ns % self.window_ns);
                }
                Some(start) if r.ts_ns < start => self.counters.late += 1,
                Some(_) => {}
            }
        }
        let c = &mut self.counters;
        if has_ts {
            if c.timed == 0 || c.first_ns > r.ts_ns {
                c.first_ns = r.ts_ns;
            }
            c.last_ns = c.last_ns.max(r.ts_ns);
            c.timed += 1;
        }
        c.packets += 1;
        c.bytes += r.wire_len as u64;
        if r.proto == 6 && r.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN {
            c.syn += 1;
        }
        let touch = self.flows.add_payload(r, origin, payload, tcp_seq);
        self.send_ended();
        // The derived half keys on the origin where the record has its capture interface.
        let r = PacketRecord { interface: origin, ..*r };
        match touch {
            Some(touch) if touch.keyed => {
                if self.counts_keyed {
                    self.back.push(Op::Keyed { r, touch });
                }
            }
            _ => self.back.push(Op::Alone { r, has_ts }),
        }
        touch.map(|t| t.slot)
    }

    /// The end of a chunk of input: what is batched goes to the derived half, with the flow
    /// records finished so far.
    pub fn flush(&mut self) {
        self.send_records();
        self.back.flush();
    }

    /// Waits until the derived half has applied everything so far (its outputs are whole).
    pub fn sync(&mut self) -> Result<(), String> {
        self.send_records();
        self.back.sync()
    }

    /// The shares of the flows that ended, to the derived half.
    #[inline]
    fn send_ended(&mut self) {
        if self.flows.cache_mut().has_ended() {
            self.flows.cache_mut().take_ended(&mut self.segments);
            for seg in self.segments.drain(..) {
                self.back.push(Op::Ended(seg));
            }
        }
    }

    fn send_records(&mut self) {
        if self.records {
            let records = self.flows.take_finished();
            if !records.is_empty() {
                self.back.push(Op::Records(records));
            }
        }
    }

    /// Start and end of the open window, when it holds packets (end 0 without windows).
    pub fn open_window(&self) -> Option<(u64, u64)> {
        if self.counters.packets == 0 {
            return None;
        }
        let start = self.start.unwrap_or(0);
        Some((start, if self.window_ns > 0 { start.saturating_add(self.window_ns) } else { 0 }))
    }

    /// Start and end a snapshot of the open window carries (first and last packet without windows).
    fn bounds(&self) -> (u64, u64) {
        match self.start {
            Some(start) if self.window_ns > 0 => (start, start.saturating_add(self.window_ns)),
            _ if self.counters.timed > 0 => (self.counters.first_ns, self.counters.last_ns),
            _ => (0, 0),
        }
    }

    /// Ends the open window: its counters and the flows' shares go to the derived half, which
    /// snapshots every task and resets it.
    fn end_window(&mut self) {
        self.send_ended();
        let mut segments = Vec::new();
        self.flows.cache_mut().window_segments(true, &mut segments);
        let (start_ns, end_ns) = self.bounds();
        self.back.push(Op::Close { start_ns, end_ns, counters: self.counters, segments });
        self.counters = WindowCounters::default();
        self.windows_ended += 1;
    }

    /// How many windows ended so far (a packet's time or a close), made or not yet.
    pub fn windows_ended(&self) -> u64 {
        self.windows_ended
    }

    /// Closes the open window (end of input, or the wall clock passed it) and waits until it
    /// is made; an empty window is not reported.
    pub fn close_window(&mut self) -> Result<(), String> {
        self.end_window();
        self.sync()
    }

    /// Windows closed since the last call and made so far, oldest first.
    pub fn take_windows(&mut self) -> Vec<ClosedWindow> {
        std::mem::take(&mut lock(&self.outputs).windows)
    }

    /// As [`Engine::take_windows`], with windows left as the tasks' state ([`WindowOut::Raw`]).
    pub fn take_snapshots(&mut self) -> Vec<WindowSnapshot> {
        std::mem::take(&mut lock(&self.outputs).snapshots)
    }

    /// The open window as it stands, which keeps counting (live queries). None when it holds
    /// no packet.
    fn peek(&mut self) -> Result<Option<PeekedWindow>, String> {
        self.send_ended();
        if self.counters.packets == 0 {
            return Ok(None);
        }
        let mut segments = Vec::new();
        self.flows.cache_mut().window_segments(false, &mut segments);
        let (start_ns, end_ns) = self.bounds();
        let counters = self.counters;
        self.back.call(move |d| Some(d.peek(start_ns, end_ns, counters, segments)))
    }

    pub fn peek_window(&mut self) -> Result<Option<ClosedWindow>, String> {
        Ok(match self.peek()? {
            Some(PeekedWindow::Closed(w)) => Some(*w),
            _ => None,
        })
    }

    /// As [`Engine::peek_window`], for windows left as the tasks' state ([`WindowOut::Raw`]).
    pub fn peek_snapshot(&mut self) -> Result<Option<WindowSnapshot>, String> {
        Ok(match self.peek()? {
            Some(PeekedWindow::Raw(w)) => Some(w),
            _ => None,
        })
    }

    /// The conversation table of the stream so far (with `conversations`), the open window's
    /// shares of the held flows included.
    pub fn conversations(&mut self) -> Result<Option<ConversationTable>, String> {
        self.send_ended();
        let mut segments = Vec::new();
        self.flows.cache_mut().window_segments(false, &mut segments);
        self.back.call(move |d| d.conversations(segments))
    }

    /// Flow records finished since the last call (none without `records`), as rows and/or
    /// JSON. With `flush` every flow still open ends first and this waits for all of them;
    /// else it takes what the derived half has finished so far.
    pub fn take_flows(&mut self, flush: bool, out: FlowOut<'_>) -> Result<Option<TakenFlows>, String> {
        if !self.records {
            return Ok(None);
        }
        if flush {
            self.flows.flush();
            self.sync()?;
        } else {
            self.flush();
        }
        Ok(lock(&self.outputs).flows.as_mut().map(|f| f.take(out)))
    }

    /// No packet came for `ns` (wall clock): flows idle by the last packet's time plus `ns`
    /// end, and are taken by the next [`Engine::take_flows`].
    pub fn flows_idle(&mut self, ns: u64) -> Result<(), String> {
        self.flows.idle_for(ns);
        self.send_ended();
        self.sync()
    }

    /// What the flow records finished so far add up to (JSON); None without them.
    pub fn flow_summary_json(&self) -> Option<String> {
        let flows = &self.flows;
        lock(&self.outputs).flows.as_ref().and_then(FlowOutput::summary).map(|s| s.json_with(|j| flows.write_names(j)))
    }

    #[cfg(test)]
    pub(crate) fn inject_failure(&mut self) {
        self.back.inject_failure();
    }

    /// [`Engine::add`], then the window it closed (windows left raw).
    #[cfg(test)]
    pub(crate) fn add_taking(&mut self, r: &PacketRecord, has_ts: bool, origin: u16) -> Option<WindowSnapshot> {
        self.add(r, has_ts, origin);
        self.sync().unwrap();
        self.take_snapshots().pop()
    }

    /// [`Engine::close_window`], then the window (windows left raw).
    #[cfg(test)]
    pub(crate) fn close_taking(&mut self) -> Option<WindowSnapshot> {
        self.close_window().unwrap();
        self.take_snapshots().pop()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::addr::Addr;
    use crate::key::{KeyFields, PackedKey};
    use crate::record::flag;
    use crate::sketch::countmin::{CountMin, CountMinConfig};
    use crate::sketch::superspread::{SuperSpread, SuperSpreadConfig};
    use crate::table::ExactTable;

    pub(crate) const SECOND: u64 = 1_000_000_000;

    pub(crate) fn rec(ts_s: f64, src: u8, dst: u8, len: u32) -> PacketRecord {
        PacketRecord {
            ts_ns: (ts_s * 1e9) as u64,
            src: Addr::v4([10, 0, 0, src]),
            dst: Addr::v4([192, 0, 2, dst]),
            proto: 6,
            src_port: 1000,
            dst_port: 80,
            wire_len: len,
            ..PacketRecord::default()
        }
    }

    pub(crate) fn tasks() -> Vec<TaskSpec> {
        vec![
            TaskSpec {
                name: "src".into(),
                key: KeyFields::SRC_IP,
                kind: TaskKind::Exact { distinct: KeyFields::DST_IP },
            },
            TaskSpec {
                name: "hh".into(),
                key: KeyFields::SRC_IP,
                kind: TaskKind::CountMin(CountMinConfig {
                    depth: 3,
                    width: 256,
                    conservative: true,
                    heavy_hitters: 5,
                    seed: 9,
                }),
            },
            TaskSpec {
                name: "ss".into(),
                key: KeyFields::SRC_IP,
                kind: TaskKind::SuperSpread {
                    element: KeyFields::DST_IP,
                    config: SuperSpreadConfig {
                        depth: 2,
                        width: 64,
                        registers: 32,
                        register_bits: 5,
                        decay_base: 1.08,
                        threshold: 5,
                        seed: 9,
                    },
                },
            },
        ]
    }

    #[test]
    fn tasks_on_fields_that_change_within_a_flow_count_every_packet() {
        // Flows whose packets differ in TCP flags, DSCP and VLAN, and ICMP of several types: each
        // task's table must equal one filled packet by packet, whichever path it takes (derived
        // from the flows' shares for prefixes and ICMP, per packet for the others).
        let exact = |name: &str, key: &str, distinct: &str| TaskSpec {
            name: name.into(),
            key: KeyFields::parse(key).unwrap(),
            kind: TaskKind::Exact {
                distinct: if distinct.is_empty() { KeyFields::NONE } else { KeyFields::parse(distinct).unwrap() },
            },
        };
        let specs = vec![
            exact("flags", "TCPFlags", ""),
            exact("dscp", "SrcIP,DSCP", "DstIP"),
            exact("vlan", "VLAN,Protocol", ""),
            exact("prefix", "SrcPrefix/16/48,DstPort", "SrcIP"),
            exact("icmp", "ICMPType,ICMPCode", ""),
            exact("by_dscp", "SrcIP", "DSCP"),
        ];
        let mut packets = Vec::new();
        for i in 0..3000u32 {
            let mut r = rec(1.0 + i as f64 * 1e-3, (i % 7) as u8, (i % 11) as u8, 60 + i % 900);
            r.src = Addr::v4([10, (i % 3) as u8, 0, (i % 7) as u8]);
            r.tcp_flags = [0x02, 0x12, 0x10, 0x18, 0x11][(i % 5) as usize];
            r.dscp = [0, 46, 10][(i % 3) as usize];
            r.vlan = [0, 100][(i % 2) as usize];
            if i % 9 == 0 {
                r.proto = 1;
                r.dst_port = [8 << 8, 3 << 8 | 1, 11 << 8][(i % 4 % 3) as usize];
                r.src_port = 0;
            }
            r.flags = flag::HAS_PORTS;
            packets.push(r);
        }
        for threads in [1, 2] {
            let mut e =
                Engine::new(&EngineConfig { window_ns: 0, tasks: specs.clone(), threads, ..Default::default() }, 1)
                    .unwrap();
            for r in &packets {
                e.add_taking(r, true, 0);
            }
            let w = e.close_taking().unwrap();
            for (spec, t) in specs.iter().zip(&w.tasks) {
                let TaskKind::Exact { distinct } = spec.kind else { unreachable!() };
                let mut want = ExactTable::new(spec.key, distinct, 1);
                packets.iter().for_each(|r| want.add(r));
                let got = t.exact().unwrap();
                assert_eq!(got.len(), want.len(), "{}: keys", spec.name);
                for (k, s) in want.iter() {
                    assert_eq!(got.get(k), Some(s), "{}: {}", spec.name, k.text(spec.key));
                }
            }
        }
    }

    #[test]
    fn windows_follow_packet_time_and_lose_nothing_at_boundaries() {
        let mut e =
            Engine::new(&EngineConfig { window_ns: 10 * SECOND, tasks: tasks(), ..Default::default() }, 1).unwrap();
        let base = 1_000_000_000 * SECOND;
        let times_ns =
            [base + 3 * SECOND, base + 10 * SECOND - 1, base + 10 * SECOND, base + 19 * SECOND, base + 47 * SECOND];
        let mut closed = Vec::new();
        for (i, t) in times_ns.into_iter().enumerate() {
            closed.extend(e.add_taking(&PacketRecord { ts_ns: t, ..rec(0.0, 1, i as u8, 100) }, true, 0));
        }
        closed.extend(e.close_taking());
        let starts: Vec<u64> = closed.iter().map(|w| w.start_ns / SECOND).collect();
        assert_eq!(starts, vec![1_000_000_000, 1_000_000_010, 1_000_000_040], "empty windows are skipped");
        let packets: Vec<u64> = closed.iter().map(|w| w.counters.packets).collect();
        assert_eq!(packets, vec![2, 2, 1], "the packet at exactly 10 s opens the second window");
        for w in &closed {
            let exact = w.tasks[0].exact().unwrap();
            assert_eq!(exact.iter().map(|(_, s)| s.packets).sum::<u64>(), w.counters.packets);
            assert_eq!(w.tasks[1].countmin().unwrap().total().0, w.counters.packets, "sketch reset with the window");
            assert_eq!(w.end_ns - w.start_ns, 10 * SECOND);
        }
    }

    #[test]
    fn late_packets_stay_in_the_open_window_and_are_counted() {
        let mut e = Engine::new(&EngineConfig { window_ns: SECOND, tasks: tasks(), ..Default::default() }, 1).unwrap();
        assert!(e.add_taking(&rec(100.5, 1, 1, 60), true, 0).is_none());
        assert!(e.add_taking(&rec(101.2, 1, 2, 60), true, 0).is_some());
        assert!(e.add_taking(&rec(100.9, 1, 3, 60), true, 0).is_none());
        let w = e.close_taking().unwrap();
        assert_eq!((w.counters.packets, w.counters.late), (2, 1));
    }

    #[test]
    fn connection_attempts_are_syn_without_ack() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks(), ..Default::default() }, 1).unwrap();
        for (flags, proto) in [(0x02, 6), (0x12, 6), (0x10, 6), (0x02 | 0x08, 6), (0x02, 17), (0x04, 6)] {
            e.add_taking(&PacketRecord { tcp_flags: flags, proto, ..rec(1.0, 1, 1, 60) }, true, 0);
        }
        let w = e.close_taking().unwrap();
        assert_eq!(w.counters.syn, 2, "SYN and SYN+PSH count; SYN-ACK, ACK, RST and a non-TCP flags byte do not");
    }

    #[test]
    fn window_zero_is_the_whole_stream() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks(), ..Default::default() }, 1).unwrap();
        for i in 0..100u32 {
            assert!(e.add_taking(&rec(1000.0 + i as f64 * 60.0, 1, (i % 50) as u8, 100), true, 0).is_none());
        }
        let w = e.close_taking().unwrap();
        assert_eq!(w.counters.packets, 100);
        assert_eq!((w.start_ns / SECOND, w.end_ns / SECOND), (1000, 1000 + 99 * 60));
        assert!(e.close_taking().is_none(), "an empty window is not reported");
    }

    #[test]
    fn snapshot_buffer_carries_every_task() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks(), ..Default::default() }, 1).unwrap();
        for d in 0..40u8 {
            e.add_taking(&rec(5.0, 7, d, 100), true, 0);
        }
        e.add_taking(&rec(6.0, 8, 1, 1500), true, 0);
        let w = e.close_taking().unwrap();
        let mut buf = Vec::new();
        w.encode(&mut buf);
        assert_eq!(&buf[..4], b"NSWS");
        assert_eq!(u16::from_le_bytes([buf[4], buf[5]]), 3);
        assert_eq!(u64::from_le_bytes(buf[22..30].try_into().unwrap()), 41, "packets");
        // No server names (u32 count) nor origins (u16 count), then three tasks.
        let mut at = 6 + 8 * 8 + 4 + 2;
        assert_eq!(u16::from_le_bytes([buf[at], buf[at + 1]]), 3);
        at += 2;
        let mut kinds = Vec::new();
        for _ in 0..3 {
            let name_len = buf[at] as usize;
            at += 1 + name_len;
            let kind = buf[at];
            // The type, then key and second fields (u32 bits and four prefix lengths each).
            at += 1 + 2 * 8;
            let len = u32::from_le_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
            at += 4;
            let payload = &buf[at..at + len];
            match kind {
                1 => assert_eq!(u32::from_le_bytes(payload[..4].try_into().unwrap()), 2, "two source keys"),
                2 => assert_eq!(CountMin::decode(payload).unwrap().total().0, 41),
                3 => {
                    let ss = SuperSpread::decode(payload).unwrap();
                    let key = PackedKey::of(&rec(0.0, 7, 0, 0), KeyFields::SRC_IP);
                    assert!(ss.estimate(&key) > 0);
                }
                other => panic!("unknown task type {other}"),
            }
            kinds.push(kind);
            at += len;
        }
        assert_eq!(kinds, vec![1, 2, 3]);
        assert_eq!(at, buf.len());
    }

    #[test]
    fn report_puts_exact_values_beside_estimates() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks(), ..Default::default() }, 1).unwrap();
        for d in 0..30u8 {
            e.add_taking(&rec(5.0, 7, d, 100), true, 0);
        }
        let w = e.close_taking().unwrap();
        let mut j = crate::json::Json::new();
        w.write_json(&mut j, 5);
        let text = j.finish();
        assert!(text.contains(r#""exactTask":"src""#), "{text}");
        assert!(
            text.contains(
                r#""key":"10.0.0.7","srcIp":"10.0.0.7","packets":30,"bytes":3000,"exactPackets":30,"exactBytes":3000"#
            ),
            "{text}"
        );
        assert!(text.contains(r#""exactSpread":30"#), "{text}");
    }

    #[test]
    fn invalid_task_configuration_names_the_task() {
        let mut bad = tasks();
        bad[1].kind =
            TaskKind::CountMin(CountMinConfig { depth: 3, width: 0, conservative: true, heavy_hitters: 5, seed: 9 });
        let err = Engine::new(&EngineConfig { window_ns: 0, tasks: bad, ..Default::default() }, 1).err().unwrap();
        assert!(err.starts_with("task \"hh\": "), "{err}");
    }
}
