//! The engine's second half: what is derived from the packet path's output. It owns the
//! tasks' state (the sketches, counted per packet; the exact tables, folded from flow
//! segments), the conversation table, and the making of closed windows and flow records in
//! their output formats. It takes [`Op`]s in the order the packet path made them, on the same
//! thread or on its own (see `pipeline`): the results are the same either way.

use std::sync::{Arc, Mutex, MutexGuard};

use super::snapshot::{server_names_of, ClosedWindow, TaskSnapshot, WindowSnapshot};
use super::task::{TaskKind, TaskSpec, TaskState};
use super::{EngineConfig, WindowCounters};
use crate::app::{lock_names, SharedNames};
use crate::flow::{hash_records, FlowOutput, FlowRecord, Segment, SegmentKey, Touch};
use crate::hash::{flow_map, FlowMap};
use crate::key::{KeyContext, KeyFields, KeyNames, PackedKey};
use crate::record::{flag, PacketRecord};
use crate::table::{ConvKey, ConvStats, ConvUpdate, ConversationTable, ExactTable};

/// One step of the packet path, for the derived half.
pub(crate) enum Op {
    /// A packet whose key is its flow direction's: the sketches count it with the words kept
    /// for that direction.
    Keyed { r: PacketRecord, touch: Touch },
    /// A packet counted on its own: no IP, or a key that is not its flow's.
    Alone { r: PacketRecord, has_ts: bool },
    /// A flow's share of the open window, as the flow ended.
    Ended(Segment),
    /// The window is over: its bounds, counters and the shares of the flows still held.
    Close { start_ns: u64, end_ns: u64, counters: WindowCounters, segments: Vec<Segment> },
    /// Flow records that finished, in the order they did.
    Records(Vec<FlowRecord>),
    /// Runs on the derived half's state (queries; a sync is an empty call).
    Call(Box<dyn FnOnce(&mut Derive) + Send>),
    /// Stops the thread it runs on (the failure path's test).
    #[cfg(test)]
    Fail,
}

/// How closed windows leave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WindowOut {
    /// As [`ClosedWindow`]s: their JSON with `top_n` rows per list, the snapshot when
    /// `snapshot`, and storage rows written as (source, run) when `rows_as`.
    Closed { top_n: usize, snapshot: bool, rows_as: Option<(String, String)> },
    /// As the tasks' state itself (tests, the bench).
    #[default]
    Raw,
}

/// What the derived half has made and the caller has not taken yet.
#[derive(Default)]
pub(crate) struct Outputs {
    pub windows: Vec<ClosedWindow>,
    pub snapshots: Vec<WindowSnapshot>,
    pub flows: Option<FlowOutput>,
}

pub(crate) type SharedOutputs = Arc<Mutex<Outputs>>;

/// The outputs, also after a thread that held them failed (what was made is still whole).
pub(crate) fn lock(o: &SharedOutputs) -> MutexGuard<'_, Outputs> {
    o.lock().unwrap_or_else(|e| e.into_inner())
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

pub(crate) struct Derive {
    seed: u64,
    specs: Vec<TaskSpec>,
    /// Per task, the open window's state: exact tables are derived, sketches counted.
    states: Vec<TaskState>,
    sketches: Vec<Sketch>,
    /// Tasks keyed (or with distinct or element fields) on a field that may change within a
    /// flow (TCP flags, DSCP, VLAN, interface): every packet is counted by itself, none derived.
    per_packet: Vec<usize>,
    /// What keys on AS, country or direction look up.
    pub(crate) ctx: KeyContext,
    /// The flow cache's name table: the server names keys refer to by id.
    pub(crate) names: Option<SharedNames>,
    /// The engine's (probe, interface) pairs: what Interface keys refer to by index.
    pub(crate) origins: Vec<(Box<str>, Box<str>)>,
    /// Sketch words of one direction of a flow.
    dir_words: usize,
    /// Per flow slot: the sketch words of its two directions.
    hashes: Vec<u32>,
    conversations: Option<ConversationTable>,
    /// Shares of the open window of flows that ended, added up by flow: a flow that ends and
    /// starts again many times in a window is derived from once.
    ended: FlowMap<SegmentKey, Segment>,
    window_out: WindowOut,
    /// A second thread may be used (large folds).
    threaded: bool,
    /// Finished records get their Community ID here (they leave as rows).
    hash_records: bool,
    community_id_seed: u16,
    outputs: SharedOutputs,
}

impl Derive {
    pub(crate) fn new(
        cfg: &EngineConfig,
        seed: u64,
        community_id_seed: u16,
        outputs: SharedOutputs,
    ) -> Result<Derive, String> {
        let specs = &cfg.tasks;
        let mut states = Vec::with_capacity(specs.len());
        let mut sketches = Vec::new();
        let mut per_packet = Vec::new();
        let mut dir_words = 0;
        for (i, spec) in specs.iter().enumerate() {
            let state = TaskState::new(spec, seed)?;
            // Per-packet tasks count here packet by packet; named sketches are folded from the
            // flows' shares, as exact tasks are.
            if spec.per_packet() || spec.named() {
                if spec.per_packet() {
                    per_packet.push(i);
                }
                states.push(state);
                continue;
            }
            let words = match &state {
                TaskState::Exact(_) => 0,
                TaskState::CountMin(cm) => cm.hash_words(),
                TaskState::SuperSpread(ss) => ss.hash_words(),
            };
            if words > 0 {
                let element = match spec.kind {
                    TaskKind::SuperSpread { element, .. } => element,
                    _ => KeyFields::NONE,
                };
                sketches.push(Sketch { task: i, key: spec.key, element, at: dir_words, words });
                dir_words += words;
            }
            states.push(state);
        }
        Ok(Derive {
            seed,
            specs: specs.clone(),
            states,
            sketches,
            per_packet,
            ctx: KeyContext { geo: None, local: cfg.flows.local.clone() },
            names: None,
            origins: Vec::new(),
            dir_words,
            hashes: Vec::new(),
            conversations: cfg.conversations.then(|| ConversationTable::new(seed)),
            ended: flow_map(seed),
            window_out: cfg.window_out.clone(),
            threaded: cfg.threads >= 2,
            hash_records: cfg.records && cfg.flow_rows_as.is_some(),
            community_id_seed,
            outputs,
        })
    }

    /// Whether keyed packets need to come here at all (a sketch or a per-packet task counts
    /// them).
    pub(crate) fn counts_keyed(&self) -> bool {
        !self.sketches.is_empty() || !self.per_packet.is_empty()
    }

    pub(crate) fn apply(&mut self, op: Op) {
        match op {
            Op::Keyed { r, touch } => self.sketch_flow(&r, touch),
            Op::Alone { r, has_ts } => self.count_alone(&r, has_ts),
            Op::Ended(seg) => {
                match self.ended.get_mut(&seg.key()) {
                    Some(s) => s.merge(&seg),
                    None => {
                        self.ended.insert(seg.key(), seg);
                    }
                }
                // Folded before the window closes once there are many: the close has less to do
                // and the map stays small (sums: the same tables either way).
                if self.ended.len() >= ENDED_HELD {
                    let segments: Vec<Segment> = self.ended.drain().map(|(_, s)| s).collect();
                    self.fold(&segments);
                }
            }
            Op::Close { start_ns, end_ns, counters, segments } => self.close(start_ns, end_ns, counters, segments),
            Op::Records(mut records) => {
                if self.hash_records {
                    hash_records(&mut records, self.community_id_seed);
                }
                if let Some(f) = &mut lock(&self.outputs).flows {
                    f.add(records);
                }
            }
            Op::Call(f) => f(self),
            #[cfg(test)]
            Op::Fail => panic!("injected failure"),
        }
    }

    /// The sketches of a packet whose key is its flow direction's: the words kept for it; and
    /// the tasks that count every packet by itself.
    #[inline]
    fn sketch_flow(&mut self, r: &PacketRecord, t: Touch) {
        for i in 0..self.per_packet.len() {
            let task = self.per_packet[i];
            count_packet(&self.specs[task], &mut self.states[task], r, &self.ctx);
        }
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
                let key = PackedKey::of_in(r, s.key, &self.ctx);
                match &self.states[s.task] {
                    TaskState::CountMin(cm) => cm.hash_key(&key, out),
                    TaskState::SuperSpread(ss) => {
                        ss.hash_pair(&key, PackedKey::of_in(r, s.element, &self.ctx).as_bytes(), out)
                    }
                    TaskState::Exact(_) => {}
                }
            }
        }
        for s in &self.sketches {
            let words = &self.hashes[base + s.at..base + s.at + s.words];
            let ctx = &self.ctx;
            let key = || PackedKey::of_in(r, s.key, ctx);
            match &mut self.states[s.task] {
                TaskState::CountMin(cm) => cm.add_hashed(words, r.wire_len as u64, key),
                TaskState::SuperSpread(ss) => ss.add_hashed(words, key),
                TaskState::Exact(_) => {}
            }
        }
    }

    /// A packet counted on its own: no IP, or a key that is not its flow's.
    fn count_alone(&mut self, r: &PacketRecord, has_ts: bool) {
        for (spec, state) in self.specs.iter().zip(self.states.iter_mut()) {
            count_packet(spec, state, r, &self.ctx);
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

    /// Flows' shares of the window into the exact tasks and the conversations. Each table is
    /// built from the segments in their order, by itself; with many segments and a second
    /// thread allowed, the tables are shared out between two threads.
    fn fold(&mut self, segments: &[Segment]) {
        if segments.is_empty() {
            return;
        }
        let mut jobs: Vec<Fold<'_>> = Vec::new();
        for (spec, state) in self.specs.iter().zip(self.states.iter_mut()) {
            if spec.per_packet() {
                continue;
            }
            match (state, &spec.kind) {
                (TaskState::Exact(t), TaskKind::Exact { distinct }) => {
                    jobs.push(Fold::Exact { table: t, key: spec.key, distinct: *distinct, ctx: &self.ctx })
                }
                (state, _) if spec.named() => jobs.push(Fold::Sketch { state, spec, ctx: &self.ctx }),
                _ => {}
            }
        }
        if let Some(conv) = &mut self.conversations {
            jobs.push(Fold::Conversations(conv));
        }
        if !self.threaded || segments.len() < PARALLEL_FOLD || jobs.len() < 2 {
            for job in jobs {
                job.run(segments);
            }
            return;
        }
        // Shared out by cost (a distinct count is two tables), largest first.
        jobs.sort_by_key(|j| std::cmp::Reverse(j.cost()));
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        let (mut my_cost, mut their_cost) = (0, 0);
        for job in jobs {
            if my_cost <= their_cost {
                my_cost += job.cost();
                mine.push(job);
            } else {
                their_cost += job.cost();
                theirs.push(job);
            }
        }
        std::thread::scope(|scope| {
            scope.spawn(|| theirs.into_iter().for_each(|j| j.run(segments)));
            mine.into_iter().for_each(|j| j.run(segments));
        });
    }

    /// The window is over: the shares of the flows that ended and of those still held go into
    /// its tables, every task is snapshotted and starts again empty. An empty window is not
    /// reported.
    fn close(&mut self, start_ns: u64, end_ns: u64, counters: WindowCounters, mut segments: Vec<Segment>) {
        segments.extend(self.ended.drain().map(|(_, s)| s));
        self.fold(&segments);
        if counters.packets == 0 {
            return;
        }
        let seed = self.seed;
        let tasks = self
            .specs
            .iter()
            .zip(self.states.iter_mut())
            .map(|(spec, state)| TaskSnapshot { spec: spec.clone(), state: state.take(seed) })
            .collect::<Vec<_>>();
        let names = self.key_names(&tasks);
        self.emit(WindowSnapshot { start_ns, end_ns, counters, tasks, names });
    }

    /// The server names and origins the window's keys refer to.
    fn key_names(&self, tasks: &[TaskSnapshot]) -> KeyNames {
        let servers = match &self.names {
            Some(table) if self.specs.iter().any(|s| s.key.has(KeyFields::SERVER_NAME)) => {
                server_names_of(tasks, &lock_names(table))
            }
            _ => Vec::new(),
        };
        let origins =
            if self.specs.iter().any(|s| s.key.has(KeyFields::INTERFACE)) { self.origins.clone() } else { Vec::new() };
        KeyNames { servers, origins }
    }

    fn emit(&mut self, w: WindowSnapshot) {
        match &self.window_out {
            WindowOut::Closed { top_n, snapshot, rows_as } => {
                let rows = rows_as.as_ref().map(|(s, r)| (s.as_str(), r.as_str()));
                let c = ClosedWindow::new(w, *top_n, *snapshot, rows);
                lock(&self.outputs).windows.push(c);
            }
            WindowOut::Raw => lock(&self.outputs).snapshots.push(w),
        }
    }

    /// A copy of the open window as it stands (live queries); the window goes on.
    pub(crate) fn peek(
        &mut self,
        start_ns: u64,
        end_ns: u64,
        counters: WindowCounters,
        mut segments: Vec<Segment>,
    ) -> PeekedWindow {
        // The segments go into copies of the exact tables.
        let saved: Vec<TaskState> = self.states.clone();
        let conversations = self.conversations.take();
        segments.extend(self.ended.values().copied());
        self.fold(&segments);
        self.conversations = conversations;
        let tasks = self
            .specs
            .iter()
            .zip(std::mem::replace(&mut self.states, saved))
            .map(|(spec, state)| TaskSnapshot { spec: spec.clone(), state })
            .collect::<Vec<_>>();
        let names = self.key_names(&tasks);
        let w = WindowSnapshot { start_ns, end_ns, counters, tasks, names };
        match &self.window_out {
            WindowOut::Closed { top_n, snapshot, rows_as } => {
                let rows = rows_as.as_ref().map(|(s, r)| (s.as_str(), r.as_str()));
                PeekedWindow::Closed(Box::new(ClosedWindow::new(w, *top_n, *snapshot, rows)))
            }
            WindowOut::Raw => PeekedWindow::Raw(w),
        }
    }

    /// The conversation table of the stream so far, the open window's shares of the held
    /// flows (`segments`) and of those that ended included.
    pub(crate) fn conversations(&self, segments: Vec<Segment>) -> Option<ConversationTable> {
        let mut table = self.conversations.clone()?;
        for seg in segments.iter().chain(self.ended.values()) {
            fold_conversation(&mut table, seg);
        }
        Some(table)
    }
}

/// The key fields of one direction of a flow's share, as its packets carry them.
fn segment_record(seg: &Segment, dir: usize) -> PacketRecord {
    let (src, dst, src_port, dst_port) = seg.endpoints(dir);
    PacketRecord { src, dst, src_port, dst_port, proto: seg.proto(), ..PacketRecord::default() }
}

/// One packet into one task, by its own key.
#[inline]
fn count_packet(spec: &TaskSpec, state: &mut TaskState, r: &PacketRecord, ctx: &KeyContext) {
    let key = PackedKey::of_in(r, spec.key, ctx);
    match state {
        TaskState::Exact(t) => {
            let distinct = t.distinct_fields();
            let element = (!distinct.is_empty()).then(|| PackedKey::of_in(r, distinct, ctx));
            t.add_counts(key, 1, r.wire_len as u64, element);
        }
        TaskState::CountMin(cm) => cm.add(&key, r.wire_len as u64),
        TaskState::SuperSpread(ss) => {
            if let TaskKind::SuperSpread { element, .. } = spec.kind {
                ss.add(&key, PackedKey::of_in(r, element, ctx).as_bytes());
            }
        }
    }
}

/// Segments of flows that ended held before they are folded.
const ENDED_HELD: usize = 1 << 16;
/// Segments from which a fold is shared out between two threads.
const PARALLEL_FOLD: usize = 8192;

/// One table built from segments.
enum Fold<'a> {
    Exact {
        table: &'a mut ExactTable,
        key: KeyFields,
        distinct: KeyFields,
        ctx: &'a KeyContext,
    },
    /// A sketch keyed on a flow's names: each share counts at once.
    Sketch {
        state: &'a mut TaskState,
        spec: &'a TaskSpec,
        ctx: &'a KeyContext,
    },
    Conversations(&'a mut ConversationTable),
}

impl Fold<'_> {
    fn cost(&self) -> usize {
        match self {
            Fold::Exact { distinct, .. } if !distinct.is_empty() => 2,
            _ => 1,
        }
    }

    fn run(self, segments: &[Segment]) {
        match self {
            Fold::Exact { table, key, distinct, ctx } => {
                for seg in segments {
                    for dir in 0..2 {
                        if seg.packets[dir] == 0 {
                            continue;
                        }
                        let r = segment_record(seg, dir);
                        let element = (!distinct.is_empty()).then(|| PackedKey::of_flow(&r, seg.names, distinct, ctx));
                        table.add_counts(
                            PackedKey::of_flow(&r, seg.names, key, ctx),
                            seg.packets[dir],
                            seg.bytes[dir],
                            element,
                        );
                    }
                }
            }
            Fold::Sketch { state, spec, ctx } => {
                for seg in segments {
                    for dir in 0..2 {
                        if seg.packets[dir] == 0 {
                            continue;
                        }
                        let r = segment_record(seg, dir);
                        let key = PackedKey::of_flow(&r, seg.names, spec.key, ctx);
                        match (&mut *state, &spec.kind) {
                            (TaskState::CountMin(cm), _) => cm.add_weighted(&key, seg.packets[dir], seg.bytes[dir]),
                            (TaskState::SuperSpread(ss), TaskKind::SuperSpread { element, .. }) => {
                                ss.add(&key, PackedKey::of_flow(&r, seg.names, *element, ctx).as_bytes())
                            }
                            _ => {}
                        }
                    }
                }
            }
            Fold::Conversations(conv) => segments.iter().for_each(|seg| fold_conversation(conv, seg)),
        }
    }
}

/// A peeked window as the engine's windows leave ([`WindowOut`]).
pub(crate) enum PeekedWindow {
    Closed(Box<ClosedWindow>),
    Raw(WindowSnapshot),
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
