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
//! When a packet's time passes the window's end (or the caller closes the window, live), every
//! task is snapshotted and reset in the same step, so no packet is counted in two windows and
//! none is lost at a boundary. Windows are aligned to multiples of their length since the epoch;
//! offline they follow packet time.

mod snapshot;
mod task;

pub use snapshot::{ClosedWindow, TaskSnapshot, WindowSnapshot, CLOSED_WINDOW_MAGIC, SNAPSHOT_MAGIC, SNAPSHOT_VERSION};
pub use task::{TaskKind, TaskSpec};

use crate::flow::{FlowMeter, FlowMeterConfig, Segment, SegmentKey, Touch};
use crate::hash::{flow_map, FlowMap};
use crate::record::{flag, PacketRecord};
use crate::sketch::PackedKey;
use crate::table::{ConvKey, ConvStats, ConvUpdate, ConversationTable, KeyFields};
use task::TaskState;

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

/// A sketch task and where its words are in a flow slot's cache.
struct Sketch {
    /// Index in the task list.
    task: usize,
    key: KeyFields,
    /// The element (SuperSpread), else empty.
    element: KeyFields,
    /// Offset of its words within a direction's words, and how many.
    at: usize,
    words: usize,
}

pub struct Engine {
    window_ns: u64,
    seed: u64,
    specs: Vec<TaskSpec>,
    /// Per task, the open window's state: exact tables are derived, sketches counted.
    states: Vec<TaskState>,
    sketches: Vec<Sketch>,
    /// Sketch words of one direction of a flow, and the words per flow slot (two directions).
    dir_words: usize,
    /// Per flow slot: the sketch words of its two directions.
    hashes: Vec<u32>,
    /// Start of the open window; None before the first timed packet.
    start: Option<u64>,
    counters: WindowCounters,
    flows: FlowMeter,
    conversations: Option<ConversationTable>,
    /// Shares of the open window of flows that ended, added up by flow: a flow that ends and
    /// starts again many times in a window is derived from once.
    ended: FlowMap<SegmentKey, Segment>,
    segments: Vec<Segment>,
}

impl Engine {
    pub fn new(cfg: &EngineConfig, seed: u64) -> Result<Engine, String> {
        let mut states = Vec::with_capacity(cfg.tasks.len());
        let mut sketches = Vec::new();
        let mut dir_words = 0;
        for (i, spec) in cfg.tasks.iter().enumerate() {
            let state = TaskState::new(spec, seed)?;
            let words = match &state {
                TaskState::Exact(_) => 0,
                TaskState::CountMin(cm) => cm.hash_words(),
                TaskState::SuperSpread(ss) => ss.hash_words(),
            };
            if words > 0 {
                let element = match spec.kind {
                    TaskKind::SuperSpread { element, .. } => element,
                    _ => KeyFields(0),
                };
                sketches.push(Sketch { task: i, key: spec.key, element, at: dir_words, words });
                dir_words += words;
            }
            states.push(state);
        }
        let mut flows = FlowMeter::new(cfg.flows.clone());
        if !cfg.records {
            flows.cache_mut().discard_records();
        }
        Ok(Engine {
            window_ns: cfg.window_ns,
            seed,
            specs: cfg.tasks.clone(),
            states,
            sketches,
            dir_words,
            hashes: Vec::new(),
            start: None,
            counters: WindowCounters::default(),
            flows,
            conversations: cfg.conversations.then(|| ConversationTable::new(seed)),
            ended: flow_map(seed),
            segments: Vec::new(),
        })
    }

    pub fn flows(&self) -> &FlowMeter {
        &self.flows
    }

    pub fn flows_mut(&mut self) -> &mut FlowMeter {
        &mut self.flows
    }

    /// The conversation table of the stream so far (with `conversations`), the open window's
    /// shares of the held flows included.
    pub fn conversations(&mut self) -> Option<ConversationTable> {
        self.fold_ended();
        let mut table = self.conversations.clone()?;
        let mut segments = std::mem::take(&mut self.segments);
        self.flows.cache_mut().window_segments(false, &mut segments);
        for seg in segments.drain(..).chain(self.ended.values().copied()) {
            fold_conversation(&mut table, &seg);
        }
        self.segments = segments;
        Some(table)
    }

    /// Counts one packet (`origin`: its probe and interface, for flow records); returns the
    /// previous window when this packet's time closed it. `has_ts` false (pcapng simple
    /// packets) puts the packet in the open window.
    #[inline]
    pub fn add(&mut self, r: &PacketRecord, has_ts: bool, origin: u16) -> Option<WindowSnapshot> {
        let mut closed = None;
        if has_ts && self.window_ns > 0 {
            match self.start {
                None => self.start = Some(r.ts_ns - r.ts_ns % self.window_ns),
                Some(start) if r.ts_ns >= start.saturating_add(self.window_ns) => {
                    closed = self.close_window();
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
        let touch = self.flows.add(r, origin);
        self.fold_ended();
        match touch {
            Some(t) if t.keyed => self.sketch_flow(r, t),
            _ => self.count_alone(r, has_ts),
        }
        closed
    }

    /// The sketches of a packet whose key is its flow direction's: the words kept for it.
    #[inline]
    fn sketch_flow(&mut self, r: &PacketRecord, t: Touch) {
        if self.sketches.is_empty() {
            return;
        }
        let stride = 2 * self.dir_words;
        let base = t.slot as usize * stride + t.dir as usize * self.dir_words;
        if self.hashes.len() < base + self.dir_words {
            self.hashes.resize((t.slot as usize + 1) * stride, 0);
        }
        if t.fresh {
            for s in &self.sketches {
                let out = &mut self.hashes[base + s.at..base + s.at + s.words];
                let key = PackedKey::of(r, s.key);
                match &self.states[s.task] {
                    TaskState::CountMin(cm) => cm.hash_key(&key, out),
                    TaskState::SuperSpread(ss) => ss.hash_pair(&key, PackedKey::of(r, s.element).as_bytes(), out),
                    TaskState::Exact(_) => {}
                }
            }
        }
        for s in &self.sketches {
            let words = &self.hashes[base + s.at..base + s.at + s.words];
            let key = || PackedKey::of(r, s.key);
            match &mut self.states[s.task] {
                TaskState::CountMin(cm) => cm.add_hashed(words, r.wire_len as u64, key),
                TaskState::SuperSpread(ss) => ss.add_hashed(words, key),
                TaskState::Exact(_) => {}
            }
        }
    }

    /// A packet counted on its own: no IP, or a key that is not its flow's.
    #[cold]
    fn count_alone(&mut self, r: &PacketRecord, has_ts: bool) {
        for (spec, state) in self.specs.iter().zip(self.states.iter_mut()) {
            let key = PackedKey::of(r, spec.key);
            match state {
                TaskState::Exact(t) => t.add_key(key, r),
                TaskState::CountMin(cm) => cm.add(&key, r.wire_len as u64),
                TaskState::SuperSpread(ss) => {
                    if let TaskKind::SuperSpread { element, .. } = spec.kind {
                        ss.add(&key, PackedKey::of(r, element).as_bytes());
                    }
                }
            }
        }
        if let Some(conv) = &mut self.conversations {
            if r.family() != crate::addr::Family::None {
                let has_ports = r.has(flag::HAS_PORTS);
                let (sport, dport) = if has_ports { (r.src_port, r.dst_port) } else { (0, 0) };
                conv.add(&ConvUpdate {
                    src: r.src,
                    dst: r.dst,
                    proto: r.proto,
                    src_port: sport,
                    dst_port: dport,
                    bytes: r.wire_len as u64,
                    ts_ns: has_ts.then_some(r.ts_ns),
                    tcp_flags: r.tcp_flags,
                    carries: 0,
                });
            }
        }
    }

    /// Adds the segments of the flows that ended to the window's ended shares.
    #[inline]
    fn fold_ended(&mut self) {
        if self.flows.cache_mut().has_ended() {
            let mut segments = std::mem::take(&mut self.segments);
            self.flows.cache_mut().take_ended(&mut segments);
            for seg in segments.drain(..) {
                match self.ended.get_mut(&seg.key()) {
                    Some(s) => s.merge(&seg),
                    None => {
                        self.ended.insert(seg.key(), seg);
                    }
                }
            }
            self.segments = segments;
        }
    }

    /// The window is over: the shares of the flows that ended and of those still held go into
    /// its tables.
    fn fold_window(&mut self) {
        let mut segments = std::mem::take(&mut self.segments);
        self.flows.cache_mut().window_segments(true, &mut segments);
        segments.extend(self.ended.drain().map(|(_, s)| s));
        for seg in segments.drain(..) {
            self.fold(&seg);
        }
        self.segments = segments;
    }

    /// A flow's share of the window into the exact tasks and the conversations.
    fn fold(&mut self, seg: &Segment) {
        for dir in 0..2 {
            if seg.packets[dir] == 0 {
                continue;
            }
            let (src, dst, src_port, dst_port) = seg.endpoints(dir);
            let r = PacketRecord { src, dst, src_port, dst_port, proto: seg.proto(), ..PacketRecord::default() };
            for (spec, state) in self.specs.iter().zip(self.states.iter_mut()) {
                if let (TaskState::Exact(t), TaskKind::Exact { distinct }) = (state, &spec.kind) {
                    let element = (!distinct.is_empty()).then(|| PackedKey::of(&r, *distinct));
                    t.add_counts(PackedKey::of(&r, spec.key), seg.packets[dir], seg.bytes[dir], element);
                }
            }
        }
        if let Some(conv) = &mut self.conversations {
            fold_conversation(conv, seg);
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

    /// Snapshots every task and resets it: the window is over. None for an empty window.
    pub fn close_window(&mut self) -> Option<WindowSnapshot> {
        self.fold_ended();
        self.fold_window();
        if self.counters.packets == 0 {
            return None;
        }
        let (start_ns, end_ns) = self.bounds();
        let seed = self.seed;
        let tasks = self
            .specs
            .iter()
            .zip(self.states.iter_mut())
            .map(|(spec, state)| TaskSnapshot { spec: spec.clone(), state: state.take(seed) })
            .collect();
        let snapshot = WindowSnapshot { start_ns, end_ns, counters: self.counters, tasks };
        self.counters = WindowCounters::default();
        Some(snapshot)
    }

    /// A copy of the open window as it stands, which keeps counting (live queries). None when
    /// it holds no packet.
    pub fn peek_window(&mut self) -> Option<WindowSnapshot> {
        self.fold_ended();
        if self.counters.packets == 0 {
            return None;
        }
        // The segments go into copies of the exact tables; the window goes on.
        let mut segments = std::mem::take(&mut self.segments);
        self.flows.cache_mut().window_segments(false, &mut segments);
        segments.extend(self.ended.values().copied());
        let saved: Vec<TaskState> = self.states.clone();
        let conversations = self.conversations.take();
        for seg in &segments {
            self.fold(seg);
        }
        self.conversations = conversations;
        segments.clear();
        self.segments = segments;
        let (start_ns, end_ns) = self.bounds();
        let tasks = self
            .specs
            .iter()
            .zip(std::mem::replace(&mut self.states, saved))
            .map(|(spec, state)| TaskSnapshot { spec: spec.clone(), state })
            .collect();
        Some(WindowSnapshot { start_ns, end_ns, counters: self.counters, tasks })
    }
}

/// A flow's share of a window into the conversation table.
fn fold_conversation(conv: &mut ConversationTable, seg: &Segment) {
    let (key, forward): (ConvKey, bool) = seg.conversation();
    if key.a == key.b && key.port_a == key.port_b {
        // A conversation of an endpoint with itself: every packet counts as A to B (ICMP
        // between an address and itself is one flow per direction, one conversation).
        let both = |x: [u64; 2]| x[0] + x[1];
        let s = ConvStats {
            packets_ab: both(seg.packets),
            bytes_ab: both(seg.bytes),
            first_ns: seg.first_ns,
            last_ns: seg.last_ns,
            tcp_flags_ab: seg.tcp_flags[0] | seg.tcp_flags[1],
            ..ConvStats::default()
        };
        conv.add_stats(key, &s);
        return;
    }
    let (ab, ba) = if forward { (0, 1) } else { (1, 0) };
    conv.add_stats(
        key,
        &ConvStats {
            packets_ab: seg.packets[ab],
            bytes_ab: seg.bytes[ab],
            packets_ba: seg.packets[ba],
            bytes_ba: seg.bytes[ba],
            first_ns: seg.first_ns,
            last_ns: seg.last_ns,
            tcp_flags_ab: seg.tcp_flags[ab],
            tcp_flags_ba: seg.tcp_flags[ba],
            carries: 0,
        },
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::addr::Addr;
    use crate::sketch::countmin::{CountMin, CountMinConfig};
    use crate::sketch::superspread::{SuperSpread, SuperSpreadConfig};
    use crate::sketch::PackedKey;
    use crate::table::KeyFields;

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
    fn windows_follow_packet_time_and_lose_nothing_at_boundaries() {
        let mut e =
            Engine::new(&EngineConfig { window_ns: 10 * SECOND, tasks: tasks(), ..Default::default() }, 1).unwrap();
        let base = 1_000_000_000 * SECOND;
        let times_ns =
            [base + 3 * SECOND, base + 10 * SECOND - 1, base + 10 * SECOND, base + 19 * SECOND, base + 47 * SECOND];
        let mut closed = Vec::new();
        for (i, t) in times_ns.into_iter().enumerate() {
            closed.extend(e.add(&PacketRecord { ts_ns: t, ..rec(0.0, 1, i as u8, 100) }, true, 0));
        }
        closed.extend(e.close_window());
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
        assert!(e.add(&rec(100.5, 1, 1, 60), true, 0).is_none());
        assert!(e.add(&rec(101.2, 1, 2, 60), true, 0).is_some());
        assert!(e.add(&rec(100.9, 1, 3, 60), true, 0).is_none());
        let w = e.close_window().unwrap();
        assert_eq!((w.counters.packets, w.counters.late), (2, 1));
    }

    #[test]
    fn connection_attempts_are_syn_without_ack() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks(), ..Default::default() }, 1).unwrap();
        for (flags, proto) in [(0x02, 6), (0x12, 6), (0x10, 6), (0x02 | 0x08, 6), (0x02, 17), (0x04, 6)] {
            e.add(&PacketRecord { tcp_flags: flags, proto, ..rec(1.0, 1, 1, 60) }, true, 0);
        }
        let w = e.close_window().unwrap();
        assert_eq!(w.counters.syn, 2, "SYN and SYN+PSH count; SYN-ACK, ACK, RST and a non-TCP flags byte do not");
    }

    #[test]
    fn window_zero_is_the_whole_stream() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks(), ..Default::default() }, 1).unwrap();
        for i in 0..100u32 {
            assert!(e.add(&rec(1000.0 + i as f64 * 60.0, 1, (i % 50) as u8, 100), true, 0).is_none());
        }
        let w = e.close_window().unwrap();
        assert_eq!(w.counters.packets, 100);
        assert_eq!((w.start_ns / SECOND, w.end_ns / SECOND), (1000, 1000 + 99 * 60));
        assert!(e.close_window().is_none(), "an empty window is not reported");
    }

    #[test]
    fn snapshot_buffer_carries_every_task() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks(), ..Default::default() }, 1).unwrap();
        for d in 0..40u8 {
            e.add(&rec(5.0, 7, d, 100), true, 0);
        }
        e.add(&rec(6.0, 8, 1, 1500), true, 0);
        let w = e.close_window().unwrap();
        let mut buf = Vec::new();
        w.encode(&mut buf);
        assert_eq!(&buf[..4], b"NSWS");
        assert_eq!(u16::from_le_bytes([buf[4], buf[5]]), 2);
        assert_eq!(u64::from_le_bytes(buf[22..30].try_into().unwrap()), 41, "packets");
        let mut at = 6 + 8 * 8;
        assert_eq!(u16::from_le_bytes([buf[at], buf[at + 1]]), 3);
        at += 2;
        let mut kinds = Vec::new();
        for _ in 0..3 {
            let name_len = buf[at] as usize;
            at += 1 + name_len;
            let kind = buf[at];
            at += 3;
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
            e.add(&rec(5.0, 7, d, 100), true, 0);
        }
        let w = e.close_window().unwrap();
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
