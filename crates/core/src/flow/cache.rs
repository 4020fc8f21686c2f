//! The flow cache: packet records in, finished flow records out. See the module doc of
//! [`crate::flow`] for the rules; this file is the mechanism.
//!
//! Flows live in a slab (`slots`, reused through a free list) found through a hash map from
//! [`FlowKey`] to slot index. Every live slot is on exactly one of five intrusive doubly-linked
//! lists, one per timeout class (TCP, UDP, ICMP, other, closed TCP), most recently touched
//! first. A packet moves its slot to the head of its class's list, so each list is ordered by
//! `touched`; as all flows of a list share one idle timeout, the idle flows of a class are
//! exactly a run at its tail. Expiry pops tails while they are idle and stops at the first that
//! is not: O(1) per packet plus O(1) per finished flow. The least recently seen flow of the
//! whole cache is the oldest of the five tails, so eviction is O(1) too.
//!
//! The cache is also the engine's one per-packet table: beside a record's counts, a slot keeps
//! what the open window needs of its flow (a *segment*: packets, bytes, TCP flags per direction,
//! first and last time), so that the window's exact tasks and conversations are derived from
//! the segments when the window closes, or when the flow ends before. A segment counts only the
//! packets whose task key is the flow's: per direction, the ports of the direction's first packet
//! ([`Touch::keyed`]); the others (an ICMP code that differs from the first one of its flow) are
//! left to the caller to count on their own.

use super::community_id::{community_id, icmp_ports};
use super::record::{EndReason, FlowKey, FlowRecord, FlowState};
use crate::addr::Family;
use crate::app::{lock_names, App, Inspector, NameTable, Seen, SharedNames};
use crate::hash::{flow_map, FlowMap};
use crate::key::FlowNames;
use crate::record::{flag, PacketRecord};
use crate::table::ConvKey;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

const SECOND: u64 = 1_000_000_000;

/// Timeout classes: one LRU list and one idle timeout each.
const TCP: u8 = 0;
const UDP: u8 = 1;
const ICMP: u8 = 2;
const OTHER: u8 = 3;
/// TCP flows that are closed or reset, lingering to absorb the last ACK and retransmissions.
const CLOSED: u8 = 4;
const CLASSES: usize = 5;
/// `Slot::class` of a slot on the free list.
const FREE: u8 = u8::MAX;
const NIL: u32 = u32::MAX;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// Idle timeouts per protocol: a flow without a packet for longer is finalized.
    pub idle_tcp_ns: u64,
    pub idle_udp_ns: u64,
    /// ICMP and ICMPv6.
    pub idle_icmp_ns: u64,
    pub idle_other_ns: u64,
    /// How long a closed or reset TCP flow stays (idle) to take the final ACK and late
    /// retransmissions before it is finalized; 0 finalizes it at the closing packet.
    pub closed_linger_ns: u64,
    /// A record older than this is finalized at its flow's next packet, which starts a new one.
    pub active_ns: u64,
    /// Most flows held at once; when full, the least recently seen flow is evicted.
    pub max_flows: usize,
    /// Seed of the Community ID (the spec's default is 0).
    pub community_id_seed: u16,
    /// Seed of the hash map's flow hash.
    pub seed: u64,
}

impl Default for FlowConfig {
    fn default() -> FlowConfig {
        FlowConfig {
            idle_tcp_ns: 120 * SECOND,
            idle_udp_ns: 30 * SECOND,
            idle_icmp_ns: 10 * SECOND,
            idle_other_ns: 30 * SECOND,
            closed_linger_ns: 5 * SECOND,
            active_ns: 30 * 60 * SECOND,
            max_flows: 1 << 18,
            community_id_seed: 0,
            seed: 0x666c_6f77_6361_6368,
        }
    }
}

/// What the cache has seen and done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCounters {
    /// Records given to [`FlowCache::add`].
    pub packets: u64,
    /// Packets without IP (ARP, ...): ignored, but their time still moves the clock.
    pub non_ip: u64,
    /// Packets without a time (NO_TIME): counted in their flow at the current clock.
    pub untimed: u64,
    /// Packets older than the clock: counted in their flow, the clock kept.
    pub late: u64,
    /// Records started (new flows, and continuations after an active timeout).
    pub started: u64,
    /// Records finalized, per [`EndReason`] (index: its position in [`EndReason::ALL`]).
    pub finished: [u64; EndReason::COUNT],
}

impl FlowCounters {
    pub fn finished(&self, reason: EndReason) -> u64 {
        self.finished[reason as usize]
    }

    pub fn evicted(&self) -> u64 {
        self.finished(EndReason::Eviction)
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    key: FlowKey,
    prev: u32,
    next: u32,
    class: u8,
    /// Direction of the flow's first packet (0: key.a to key.b); its source is endpoint A.
    initiator: u8,
    state: FlowState,
    /// Clock at the flow's last packet (idle timeout) and at its record's start (active).
    touched: u64,
    started: u64,
    /// Packet times of the record; `first_ns` is u64::MAX until a timed packet.
    first_ns: u64,
    last_ns: u64,
    /// Per direction (index 0: key.a to key.b): this record's counts and TCP flags, and the
    /// flags of the whole flow (what the state machine reads).
    packets: [u64; 2],
    bytes: [u64; 2],
    flags: [u8; 2],
    seen: [u8; 2],
    interface: u16,
    vlan: u16,
    /// The record's ports of each direction's first packet (bit `d` of `raw_set`: known).
    raw_ports: [(u16, u16); 2],
    raw_set: u8,
    /// The open window's share of the flow (packets whose key is the flow's).
    seg_packets: [u64; 2],
    seg_bytes: [u64; 2],
    seg_flags: [u8; 2],
    /// Times of the timed packets of the segment; `seg_first` u64::MAX when none.
    seg_first: u64,
    seg_last: u64,
    /// The segment holds packets; the slot is on the window's list (kept across a reuse of the
    /// slot, so that it is listed once).
    dirty: bool,
    listed: bool,
    /// What the flow's first payloads told (application, server name).
    told: Seen,
}

/// One packet's flow: its slot, direction, and what the caller needs to know of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Touch {
    pub slot: u32,
    pub dir: u8,
    /// The first packet of this direction of the flow: its key fields are the direction's from
    /// now on (cached hashes of the key stay valid as long as the slot holds this flow).
    pub fresh: bool,
    /// The packet's key fields are the direction's (counted in the segment); false for the
    /// rare packet whose ports differ (an ICMP code other than the first one's).
    pub keyed: bool,
}

/// A flow's share of a window, for deriving the window's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub(crate) key: FlowKey,
    /// Ports of the packets of each direction, as the packet records carry them.
    pub raw_ports: [(u16, u16); 2],
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub tcp_flags: [u8; 2],
    /// Time of the first and last timed packet; `first_ns` u64::MAX when none had a time.
    pub first_ns: u64,
    pub last_ns: u64,
    /// What the flow's payloads had told by then (application, server name).
    pub names: FlowNames,
}

/// A segment's identity: its flow and the ports its packets carried; segments of flows that
/// ended in one window add up by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SegmentKey(FlowKey, [(u16, u16); 2]);

impl Segment {
    pub fn key(&self) -> SegmentKey {
        SegmentKey(self.key, self.raw_ports)
    }

    /// Adds another share of the same flow (same [`SegmentKey`]).
    pub fn merge(&mut self, o: &Segment) {
        for d in 0..2 {
            self.packets[d] += o.packets[d];
            self.bytes[d] += o.bytes[d];
            self.tcp_flags[d] |= o.tcp_flags[d];
        }
        self.first_ns = self.first_ns.min(o.first_ns);
        self.last_ns = self.last_ns.max(o.last_ns);
        if self.names == FlowNames::default() {
            self.names = o.names;
        }
    }

    /// Source, destination and ports of direction `dir` (0: `a` to `b`).
    pub fn endpoints(&self, dir: usize) -> (crate::addr::Addr, crate::addr::Addr, u16, u16) {
        let k = &self.key;
        let (sport, dport) = self.raw_ports[dir];
        if dir == 0 {
            (k.a, k.b, sport, dport)
        } else {
            (k.b, k.a, sport, dport)
        }
    }

    pub fn proto(&self) -> u8 {
        self.key.proto
    }

    /// The conversation table's key and whether direction 0 is its A to B: the flow's endpoints,
    /// with ports only when the transport header gave them (never for ICMP, as in tshark).
    pub fn conversation(&self) -> (ConvKey, bool) {
        let k = &self.key;
        let icmp = k.proto == PROTO_ICMP || k.proto == PROTO_ICMPV6;
        let (pa, pb) = if icmp { (0, 0) } else { (k.port_a, k.port_b) };
        ConvKey::canonical(k.a, pa, k.b, pb, k.proto)
    }
}

impl Slot {
    fn segment(&self) -> Segment {
        Segment {
            key: self.key,
            raw_ports: self.raw_ports,
            packets: self.seg_packets,
            bytes: self.seg_bytes,
            tcp_flags: self.seg_flags,
            first_ns: self.seg_first,
            last_ns: self.seg_last,
            names: FlowNames { app: self.told.app as u8, name: self.told.name },
        }
    }

    fn reset_segment(&mut self) {
        self.seg_packets = [0; 2];
        self.seg_bytes = [0; 2];
        self.seg_flags = [0; 2];
        self.seg_first = u64::MAX;
        self.seg_last = 0;
        self.dirty = false;
    }

    fn community_id(&self, seed: u16) -> Option<super::CommunityId> {
        let k = &self.key;
        community_id(seed, k.a, k.b, k.proto, k.ports.then_some((k.port_a, k.port_b)))
    }

    /// The record without its Community ID (a hash per record: made only for the rows shown).
    fn record_without_id(&self, reason: EndReason) -> FlowRecord {
        let k = &self.key;
        let (x, y) = if self.initiator == 0 { (0, 1) } else { (1, 0) };
        let ((a, port_a), (b, port_b)) =
            if x == 0 { ((k.a, k.port_a), (k.b, k.port_b)) } else { ((k.b, k.port_b), (k.a, k.port_a)) };
        let timed = self.first_ns != u64::MAX;
        FlowRecord {
            a,
            port_a,
            b,
            port_b,
            proto: k.proto,
            first_ns: timed.then_some(self.first_ns),
            last_ns: timed.then_some(self.last_ns),
            packets_ab: self.packets[x],
            bytes_ab: self.bytes[x],
            packets_ba: self.packets[y],
            bytes_ba: self.bytes[y],
            tcp_flags_ab: self.flags[x],
            tcp_flags_ba: self.flags[y],
            state: self.state,
            reason,
            community_id: None,
            interface: self.interface,
            vlan: self.vlan,
            ports: k.ports,
            app: self.told.app,
            server_name: self.told.name,
            alpn: self.told.alpn,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List { head: NIL, tail: NIL };

#[derive(Clone, Debug)]
pub struct FlowCache {
    cfg: FlowConfig,
    timeouts: [u64; CLASSES],
    map: FlowMap<FlowKey, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    lists: [List; CLASSES],
    /// Packet-time clock: the latest time seen; `None` before the first timed packet.
    clock: Option<u64>,
    finished: Vec<FlowRecord>,
    counters: FlowCounters,
    /// Whether finished records are kept (else only counted: the engine without flow records).
    keep_records: bool,
    /// Slots whose segment holds packets of the open window (a slot may appear twice when it
    /// was freed and reused; `dirty` tells).
    window: Vec<u32>,
    /// Segments of flows that ended while the window was open, not yet taken.
    ended: Vec<Segment>,
    /// Reads the first payloads of flows (given with [`FlowCache::add_payload`]).
    inspector: Inspector,
    /// The flow's names when the last packet changed them (see [`FlowCache::take_news`]).
    news: Option<Seen>,
}

impl FlowCache {
    /// A `max_flows` of 0 is taken as 1.
    pub fn new(cfg: FlowConfig) -> FlowCache {
        let timeouts = [cfg.idle_tcp_ns, cfg.idle_udp_ns, cfg.idle_icmp_ns, cfg.idle_other_ns, cfg.closed_linger_ns];
        let cfg = FlowConfig { max_flows: cfg.max_flows.clamp(1, NIL as usize - 1), ..cfg };
        FlowCache {
            timeouts,
            map: flow_map(cfg.seed),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [EMPTY; CLASSES],
            clock: None,
            finished: Vec::new(),
            counters: FlowCounters::default(),
            keep_records: true,
            window: Vec::new(),
            ended: Vec::new(),
            inspector: Inspector::new(SharedNames::new(NameTable::new(cfg.seed).into()), cfg.seed),
            news: None,
            cfg,
        }
    }

    /// Finished records are counted but not kept (nothing reads them).
    pub fn discard_records(&mut self) {
        self.keep_records = false;
    }

    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    pub fn counters(&self) -> &FlowCounters {
        &self.counters
    }

    /// Flows held now.
    pub fn active(&self) -> usize {
        self.map.len()
    }

    /// The packet-time clock (latest packet time seen).
    /// The application and names of the last packet's flow if that packet changed them (a
    /// probe sends them to the engine, which has no payloads).
    pub fn take_news(&mut self) -> Option<Seen> {
        self.news.take()
    }

    /// Gives a flow the application and names read elsewhere (by the probe that captured it).
    pub fn set_names(&mut self, slot: u32, app: App, server_name: &str, alpn: &str) {
        let Some(s) = self.slots.get_mut(slot as usize) else { return };
        let mut names = lock_names(self.inspector.names());
        s.told.app = app;
        s.told.name = if server_name.is_empty() { 0 } else { names.intern(server_name) };
        s.told.alpn = if alpn.is_empty() { 0 } else { names.intern(alpn) };
    }

    /// What flows' payloads told: the name table, the passive-DNS table, payloads refused.
    pub fn inspector(&self) -> &Inspector {
        &self.inspector
    }

    pub fn clock(&self) -> Option<u64> {
        self.clock
    }

    /// Counts one packet: first its time moves the clock (finalizing what became idle), then it
    /// is added to its flow, which may finish with it. None for a packet without IP.
    #[inline]
    pub fn add(&mut self, r: &PacketRecord) -> Option<Touch> {
        self.add_payload(r, &[], 0)
    }

    /// [`FlowCache::add`] with the packet's TCP or UDP payload (and TCP sequence number), which
    /// the flow's first packets are read for their application and server name.
    pub fn add_payload(&mut self, r: &PacketRecord, payload: &[u8], tcp_seq: u32) -> Option<Touch> {
        self.counters.packets += 1;
        let timed = !r.has(flag::NO_TIME);
        if timed {
            self.advance(r.ts_ns);
        } else {
            self.counters.untimed += 1;
        }
        if r.family() == Family::None {
            self.counters.non_ip += 1;
            return None;
        }
        let (key, dir) = flow_key(r);
        let tcp_flags = if r.proto == PROTO_TCP { r.tcp_flags } else { 0 };
        let now = self.now();
        let i = match self.map.get(&key) {
            Some(&i) => {
                let s = &self.slots[i as usize];
                if s.class == CLOSED && tcp_flags & (SYN | ACK) == SYN {
                    // A new connection on the ports of a closed one.
                    self.finish(i, closed_reason(s.state));
                    self.open(key, dir, r)
                } else {
                    if s.class != CLOSED && now.saturating_sub(s.started) > self.cfg.active_ns {
                        self.cut(i);
                    }
                    i
                }
            }
            None => self.open(key, dir, r),
        };
        let s = &mut self.slots[i as usize];
        let d = dir as usize;
        s.packets[d] += 1;
        s.bytes[d] += r.wire_len as u64;
        s.flags[d] |= tcp_flags;
        s.seen[d] |= tcp_flags;
        if timed {
            s.first_ns = s.first_ns.min(r.ts_ns);
            s.last_ns = s.last_ns.max(r.ts_ns);
        }
        let fresh = s.raw_set & (1 << d) == 0;
        if fresh {
            s.raw_ports[d] = (r.src_port, r.dst_port);
            s.raw_set |= 1 << d;
        }
        let keyed = s.raw_ports[d] == (r.src_port, r.dst_port);
        if keyed {
            s.seg_packets[d] += 1;
            s.seg_bytes[d] += r.wire_len as u64;
            s.seg_flags[d] |= tcp_flags;
            if timed {
                s.seg_first = s.seg_first.min(r.ts_ns);
                s.seg_last = s.seg_last.max(r.ts_ns);
            }
            if !s.dirty {
                s.dirty = true;
                if !s.listed {
                    s.listed = true;
                    self.window.push(i);
                }
            }
        }
        let s = &mut self.slots[i as usize];
        s.touched = now;
        if !payload.is_empty() {
            let before = s.told;
            self.inspector.inspect(&mut s.told, i, dir, r, payload, tcp_seq);
            if !s.told.same_names(&before) {
                self.news = Some(s.told);
            }
        }
        if r.proto == PROTO_TCP {
            s.state = tcp_next(s.state, d, tcp_flags, s.seen);
        }
        let class = class_of(s.key.proto, s.state);
        if class != s.class || self.lists[class as usize].head != i {
            self.unlink(i);
            self.push_front(class, i);
        }
        if class == CLOSED && self.cfg.closed_linger_ns == 0 {
            self.finish(i, closed_reason(self.slots[i as usize].state));
        }
        Some(Touch { slot: i, dir, fresh, keyed })
    }

    /// Whether flows ended with a share of the open window not yet taken.
    #[inline]
    pub fn has_ended(&self) -> bool {
        !self.ended.is_empty()
    }

    /// Segments of the flows that ended since the last call (their share of the open window).
    pub fn take_ended(&mut self, out: &mut Vec<Segment>) {
        out.append(&mut self.ended);
    }

    /// The open window's segments of the flows still held; with `reset`, the window is over
    /// and they start again empty (else a copy: the window goes on).
    pub fn window_segments(&mut self, reset: bool, out: &mut Vec<Segment>) {
        for &i in &self.window {
            let s = &mut self.slots[i as usize];
            if s.dirty && s.class != FREE {
                out.push(s.segment());
                if reset {
                    s.reset_segment();
                }
            }
            if reset {
                s.listed = false;
            }
        }
        if reset {
            self.window.clear();
        }
    }

    /// Key fields of a held flow's direction, as a packet of it carries them (for the hashes the
    /// engine caches per direction).
    pub fn key_record(&self, slot: u32, dir: u8) -> PacketRecord {
        let s = &self.slots[slot as usize];
        let (src, dst) = if dir == 0 { (s.key.a, s.key.b) } else { (s.key.b, s.key.a) };
        let (src_port, dst_port) = s.raw_ports[dir as usize];
        PacketRecord { src, dst, src_port, dst_port, proto: s.key.proto, ..PacketRecord::default() }
    }

    /// Finalizes every flow (end of input), ordered by last time, then endpoints. The clock
    /// stays, so the cache can go on.
    pub fn flush(&mut self) {
        let start = self.finished.len();
        for s in self.slots.iter().filter(|s| s.class != FREE) {
            let reason = s.state.end_reason().unwrap_or(EndReason::EndOfInput);
            if self.keep_records {
                self.finished.push(s.record_without_id(reason));
            }
            self.counters.finished[reason as usize] += 1;
            if s.dirty {
                self.ended.push(s.segment());
            }
        }
        self.window.clear();
        self.map.clear();
        self.slots.clear();
        self.free.clear();
        self.lists = [EMPTY; CLASSES];
        self.sort_from(start);
    }

    /// The records finalized since the last call, in the order they were finalized: at each
    /// packet, first the flows its time made idle (by last time, then endpoints), then what the
    /// packet itself ends: the closed flow its SYN replaces, the flow evicted to make room for
    /// it, its flow's record cut by the active timeout, or its flow closing without linger.
    pub fn take_finished(&mut self) -> Vec<FlowRecord> {
        let seed = self.cfg.community_id_seed;
        std::mem::take(&mut self.finished).into_iter().map(|r| r.with_community_id(seed)).collect()
    }

    /// As [`FlowCache::take_finished`], without the Community IDs (for callers that hash only
    /// the records they show or store: [`FlowRecord::with_community_id`]).
    pub fn take_finished_unhashed(&mut self) -> Vec<FlowRecord> {
        std::mem::take(&mut self.finished)
    }

    pub fn community_id_seed(&self) -> u16 {
        self.cfg.community_id_seed
    }

    /// Moves the clock forward without a packet (no traffic for a while), finalizing the flows
    /// idle by then. Before the first timed packet, or to a time not after the clock, nothing.
    pub fn advance_to(&mut self, ts: u64) {
        if self.clock.is_some_and(|now| ts > now) {
            self.advance(ts);
        }
    }

    /// The flows held now, as their records so far (reason `EndOfInput`, no Community ID),
    /// each with its slot for [`FlowCache::community_id_of`].
    pub fn open_records(&self) -> impl Iterator<Item = (u32, FlowRecord)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.class != FREE)
            .map(|(i, s)| (i as u32, s.record_without_id(EndReason::EndOfInput)))
    }

    /// The Community ID of a held flow, by the slot `open_records` gave.
    pub fn community_id_of(&self, slot: u32) -> Option<super::CommunityId> {
        self.slots
            .get(slot as usize)
            .filter(|s| s.class != FREE)
            .and_then(|s| s.community_id(self.cfg.community_id_seed))
    }

    fn now(&self) -> u64 {
        self.clock.unwrap_or(0)
    }

    /// Moves the clock to a packet's time (never back) and finalizes the flows idle since.
    fn advance(&mut self, ts: u64) {
        let Some(now) = self.clock else {
            // The clock starts: flows made by untimed packets so far start now too.
            self.clock = Some(ts);
            for s in self.slots.iter_mut().filter(|s| s.class != FREE) {
                s.touched = ts;
                s.started = ts;
            }
            return;
        };
        if ts < now {
            self.counters.late += 1;
            return;
        }
        if ts == now {
            return;
        }
        self.clock = Some(ts);
        let start = self.finished.len();
        for class in 0..CLASSES {
            loop {
                let t = self.lists[class].tail;
                if t == NIL {
                    break;
                }
                let s = &self.slots[t as usize];
                if ts - s.touched <= self.timeouts[class] {
                    break;
                }
                let reason = if class == CLOSED as usize { closed_reason(s.state) } else { EndReason::IdleTimeout };
                self.finish(t, reason);
            }
        }
        self.sort_from(start);
    }

    /// A new flow for a packet, evicting the least recently seen one when full.
    fn open(&mut self, key: FlowKey, dir: u8, r: &PacketRecord) -> u32 {
        if self.map.len() >= self.cfg.max_flows {
            self.evict();
        }
        let now = self.now();
        let slot = Slot {
            key,
            prev: NIL,
            next: NIL,
            class: FREE,
            initiator: dir,
            state: if key.proto == PROTO_TCP { FlowState::New } else { FlowState::Active },
            touched: now,
            started: now,
            first_ns: u64::MAX,
            last_ns: 0,
            packets: [0; 2],
            bytes: [0; 2],
            flags: [0; 2],
            seen: [0; 2],
            interface: r.interface,
            vlan: r.vlan,
            raw_ports: [(0, 0); 2],
            raw_set: 0,
            seg_packets: [0; 2],
            seg_bytes: [0; 2],
            seg_flags: [0; 2],
            seg_first: u64::MAX,
            seg_last: 0,
            dirty: false,
            listed: false,
            told: Seen::default(),
        };
        let i = match self.free.pop() {
            Some(i) => {
                let listed = self.slots[i as usize].listed;
                self.slots[i as usize] = Slot { listed, ..slot };
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, i);
        self.counters.started += 1;
        i
    }

    /// Makes room: a lingering closed flow if there is one (it is complete, so it ends with its
    /// own reason), else the least recently seen of the other classes' tails.
    fn evict(&mut self) {
        let closed = self.lists[CLOSED as usize].tail;
        if closed != NIL {
            self.finish(closed, closed_reason(self.slots[closed as usize].state));
            return;
        }
        let oldest = self.lists[..CLOSED as usize]
            .iter()
            .map(|l| l.tail)
            .filter(|&t| t != NIL)
            .min_by_key(|&t| self.slots[t as usize].touched);
        if let Some(t) = oldest {
            self.finish(t, EndReason::Eviction);
        }
    }

    /// Active timeout: the record so far is finalized; the flow goes on in a new one with the
    /// same endpoint A, state and slot.
    fn cut(&mut self, i: u32) {
        let s = &self.slots[i as usize];
        if self.keep_records {
            self.finished.push(s.record_without_id(EndReason::ActiveTimeout));
        }
        self.counters.finished[EndReason::ActiveTimeout as usize] += 1;
        self.counters.started += 1;
        let now = self.now();
        let s = &mut self.slots[i as usize];
        s.started = now;
        s.first_ns = u64::MAX;
        s.last_ns = 0;
        s.packets = [0; 2];
        s.bytes = [0; 2];
        s.flags = [0; 2];
    }

    fn finish(&mut self, i: u32, reason: EndReason) {
        let s = &self.slots[i as usize];
        if self.keep_records {
            self.finished.push(s.record_without_id(reason));
        }
        self.counters.finished[reason as usize] += 1;
        if s.dirty {
            self.ended.push(s.segment());
        }
        let key = s.key;
        self.slots[i as usize].dirty = false;
        self.map.remove(&key);
        self.unlink(i);
        self.slots[i as usize].class = FREE;
        self.free.push(i);
    }

    fn sort_from(&mut self, start: usize) {
        if self.finished.len() - start > 1 {
            self.finished[start..].sort_by_key(|r| r.sort_key());
        }
    }

    fn unlink(&mut self, i: u32) {
        let Slot { prev, next, class, .. } = self.slots[i as usize];
        if class == FREE {
            return;
        }
        match prev {
            NIL => self.lists[class as usize].head = next,
            p => self.slots[p as usize].next = next,
        }
        match next {
            NIL => self.lists[class as usize].tail = prev,
            n => self.slots[n as usize].prev = prev,
        }
    }

    fn push_front(&mut self, class: u8, i: u32) {
        let list = &mut self.lists[class as usize];
        let old = list.head;
        list.head = i;
        if old == NIL {
            list.tail = i;
        } else {
            self.slots[old as usize].prev = i;
        }
        let s = &mut self.slots[i as usize];
        s.class = class;
        s.prev = NIL;
        s.next = old;
    }
}

/// A packet's flow key and direction (0: key.a to key.b). Ports follow the conversation table:
/// used when the record has them (later fragments carry their first fragment's ports once
/// `FragmentPorts` filled them in), else the packet goes to the flow without ports. ICMP's type
/// and code (the record's destination port) become the Community ID's ports, read unless the
/// header was cut or the packet is a later fragment.
fn flow_key(r: &PacketRecord) -> (FlowKey, u8) {
    let icmp = r.proto == PROTO_ICMP || r.proto == PROTO_ICMPV6;
    let later_fragment = r.has(flag::FRAGMENT) && !r.has(flag::FIRST_FRAGMENT);
    let (sport, dport, ports, one_way) = if icmp {
        if later_fragment || r.has(flag::TRUNCATED | flag::MALFORMED) {
            (0, 0, false, false)
        } else {
            let (s, d, one_way) = icmp_ports(r.proto, r.dst_port >> 8, r.dst_port & 0xff);
            (s, d, true, one_way)
        }
    } else if r.has(flag::HAS_PORTS) {
        (r.src_port, r.dst_port, true, false)
    } else {
        (0, 0, false, false)
    };
    if one_way {
        return (FlowKey { a: r.src, b: r.dst, proto: r.proto, port_a: sport, port_b: dport, ports }, 0);
    }
    let (k, forward) = ConvKey::canonical(r.src, sport, r.dst, dport, r.proto);
    (FlowKey { a: k.a, b: k.b, proto: k.proto, port_a: k.port_a, port_b: k.port_b, ports }, !forward as u8)
}

fn class_of(proto: u8, state: FlowState) -> u8 {
    match proto {
        _ if matches!(state, FlowState::Closed | FlowState::Reset) => CLOSED,
        PROTO_TCP => TCP,
        PROTO_UDP => UDP,
        PROTO_ICMP | PROTO_ICMPV6 => ICMP,
        _ => OTHER,
    }
}

fn closed_reason(state: FlowState) -> EndReason {
    state.end_reason().unwrap_or(EndReason::IdleTimeout)
}

/// The TCP state after a packet with `flags` from direction `dir`; `seen` already includes it.
fn tcp_next(state: FlowState, dir: usize, flags: u8, seen: [u8; 2]) -> FlowState {
    use FlowState::*;
    match state {
        Closed | Reset => state,
        _ if flags & RST != 0 => Reset,
        _ if seen[0] & seen[1] & FIN != 0 => Closed,
        _ if (seen[0] | seen[1]) & FIN != 0 => Closing,
        New if flags & SYN != 0 => SynSent,
        // The handshake's last packet: a plain ACK answering the other side's SYN-ACK.
        SynSent if flags & (SYN | ACK) == ACK && seen[1 - dir] & (SYN | ACK) == SYN | ACK => Established,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Addr;
    use crate::capture::CaptureReader;
    use crate::decode::{decode, linktype, Decoded};
    use crate::table::FragmentPorts;
    use netspectra_synth::frame::{build_frame, FrameSpec, L4};
    use netspectra_synth::traffic::{TrafficConfig, TrafficGenerator};

    const T0: u64 = 1_700_000_000 * SECOND;
    const PSH: u8 = 0x08;

    fn client() -> Addr {
        Addr::v4([10, 0, 0, 2])
    }

    fn server() -> Addr {
        Addr::v4([10, 0, 0, 1])
    }

    fn pkt(ts: u64, src: Addr, sport: u16, dst: Addr, dport: u16, proto: u8, len: u32) -> PacketRecord {
        PacketRecord {
            ts_ns: ts,
            src,
            dst,
            proto,
            src_port: sport,
            dst_port: dport,
            wire_len: len,
            cap_len: len,
            flags: flag::HAS_PORTS,
            ..PacketRecord::default()
        }
    }

    /// TCP between client 10.0.0.2:40000 and server 10.0.0.1:80 (the server is the canonical A,
    /// so every test also checks that records turn the key around to the initiator).
    fn tcp(ts: u64, from_client: bool, flags: u8, len: u32) -> PacketRecord {
        let mut r = if from_client {
            pkt(ts, client(), 40000, server(), 80, PROTO_TCP, len)
        } else {
            pkt(ts, server(), 80, client(), 40000, PROTO_TCP, len)
        };
        r.tcp_flags = flags;
        r
    }

    /// UDP between client 10.0.0.`host`:(5000 + `host`) and server 10.0.0.1:53.
    fn udp(ts: u64, host: u8, to_server: bool, len: u32) -> PacketRecord {
        let (c, s) = ((Addr::v4([10, 0, 0, host]), 5000 + host as u16), (server(), 53));
        let ((src, sport), (dst, dport)) = if to_server { (c, s) } else { (s, c) };
        pkt(ts, src, sport, dst, dport, PROTO_UDP, len)
    }

    /// An ARP frame's record: no IP, but a time.
    fn arp(ts: u64) -> PacketRecord {
        PacketRecord { ts_ns: ts, ethertype: 0x0806, wire_len: 60, cap_len: 60, ..PacketRecord::default() }
    }

    fn cache(f: impl FnOnce(&mut FlowConfig)) -> FlowCache {
        let mut cfg = FlowConfig::default();
        f(&mut cfg);
        FlowCache::new(cfg)
    }

    fn feed(c: &mut FlowCache, packets: &[PacketRecord]) {
        for p in packets {
            c.add(p);
        }
    }

    /// Handshake and a data exchange, 5 packets from t (1 ms apart).
    fn handshake(t: u64) -> Vec<PacketRecord> {
        vec![
            tcp(t, true, SYN, 74),
            tcp(t + 1_000_000, false, SYN | ACK, 74),
            tcp(t + 2_000_000, true, ACK, 66),
            tcp(t + 3_000_000, true, PSH | ACK, 200),
            tcp(t + 4_000_000, false, PSH | ACK, 1500),
        ]
    }

    #[test]
    fn fin_from_the_client_first_finishes_after_the_linger_with_the_last_ack() {
        let mut c = cache(|_| {});
        let mut p = handshake(T0);
        p.push(tcp(T0 + 10_000_000, true, FIN | ACK, 66));
        p.push(tcp(T0 + 11_000_000, false, ACK, 66));
        p.push(tcp(T0 + 12_000_000, false, FIN | ACK, 66));
        feed(&mut c, &p);
        assert!(c.take_finished().is_empty(), "a closed flow lingers for its last ACK");
        c.add(&tcp(T0 + 13_000_000, true, ACK, 66));
        c.add(&arp(T0 + 13_000_000 + 5 * SECOND));
        assert!(c.take_finished().is_empty(), "linger is not over at exactly 5 s");
        c.add(&arp(T0 + 13_000_001 + 5 * SECOND));
        let r = c.take_finished();
        assert_eq!(r.len(), 1);
        let r = r[0];
        assert_eq!((r.a, r.port_a, r.b, r.port_b, r.proto), (client(), 40000, server(), 80, PROTO_TCP));
        assert_eq!((r.packets_ab, r.bytes_ab, r.packets_ba, r.bytes_ba), (5, 472, 4, 1706));
        assert_eq!((r.tcp_flags_ab, r.tcp_flags_ba), (SYN | ACK | PSH | FIN, SYN | ACK | PSH | FIN));
        assert_eq!((r.state, r.reason), (FlowState::Closed, EndReason::Fin));
        assert_eq!((r.first_ns, r.last_ns), (Some(T0), Some(T0 + 13_000_000)));
        assert_eq!(c.active(), 0);
        assert_eq!(c.counters().finished(EndReason::Fin), 1);
    }

    #[test]
    fn fin_from_the_server_first_with_no_linger_finishes_at_the_second_fin() {
        let mut c = cache(|cfg| cfg.closed_linger_ns = 0);
        let mut p = handshake(T0);
        p.push(tcp(T0 + 10_000_000, false, FIN | ACK, 66));
        feed(&mut c, &p);
        assert!(c.take_finished().is_empty());
        c.add(&tcp(T0 + 11_000_000, true, FIN | ACK, 66));
        let r = c.take_finished();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].a, r[0].packets_ab, r[0].packets_ba), (client(), 4, 3));
        assert_eq!((r[0].state, r[0].reason), (FlowState::Closed, EndReason::Fin));
        // Without a linger the last ACK starts a flow of its own, picked up mid-connection.
        c.add(&tcp(T0 + 12_000_000, false, ACK, 66));
        c.flush();
        let r = c.take_finished();
        assert_eq!(
            (r[0].a, r[0].packets(), r[0].state, r[0].reason),
            (server(), 1, FlowState::New, EndReason::EndOfInput)
        );
    }

    #[test]
    fn rst_from_either_side_resets() {
        for from_client in [true, false] {
            let mut c = cache(|cfg| cfg.closed_linger_ns = 0);
            let mut p = handshake(T0);
            p.push(tcp(T0 + 5_000_000, from_client, RST | ACK, 60));
            feed(&mut c, &p);
            let r = c.take_finished();
            assert_eq!(r.len(), 1, "from client: {from_client}");
            assert_eq!((r[0].state, r[0].reason, r[0].packets()), (FlowState::Reset, EndReason::Rst, 6));
            let flags = if from_client { r[0].tcp_flags_ab } else { r[0].tcp_flags_ba };
            assert_ne!(flags & RST, 0);
        }
        // Lingering, a reset flow still ends as reset when flushed.
        let mut c = cache(|_| {});
        feed(&mut c, &[tcp(T0, true, SYN, 74), tcp(T0 + 1, false, RST | ACK, 60)]);
        c.flush();
        let r = c.take_finished();
        assert_eq!((r[0].state, r[0].reason), (FlowState::Reset, EndReason::Rst));
    }

    #[test]
    fn tcp_states_follow_the_handshake() {
        let mut c = cache(|_| {});
        let p = handshake(T0);
        feed(&mut c, &p[..2]);
        c.flush();
        assert_eq!(c.take_finished()[0].state, FlowState::SynSent);
        feed(&mut c, &p);
        c.flush();
        assert_eq!(c.take_finished()[0].state, FlowState::Established);
        // Picked up at the SYN-ACK: the server is A, and the client's ACK completes it.
        feed(&mut c, &p[1..3]);
        c.flush();
        let r = c.take_finished()[0];
        assert_eq!((r.a, r.state), (server(), FlowState::Established));
        // Mid-connection, then one FIN.
        feed(&mut c, &p[3..]);
        c.flush();
        assert_eq!(c.take_finished()[0].state, FlowState::New);
        feed(&mut c, &[p[3], tcp(T0 + 5_000_000, true, FIN | ACK, 66)]);
        c.flush();
        let r = c.take_finished()[0];
        assert_eq!((r.state, r.reason), (FlowState::Closing, EndReason::EndOfInput));
    }

    #[test]
    fn a_syn_on_a_closed_flow_starts_a_new_one() {
        let mut c = cache(|_| {});
        feed(&mut c, &[tcp(T0, true, SYN, 74), tcp(T0 + 1, false, RST | ACK, 60), tcp(T0 + 2, true, SYN, 74)]);
        let r = c.take_finished();
        assert_eq!((r.len(), r[0].reason, r[0].packets()), (1, EndReason::Rst, 2));
        c.flush();
        let r = c.take_finished();
        assert_eq!((r[0].state, r[0].packets(), r[0].first_ns), (FlowState::SynSent, 1, Some(T0 + 2)));
        assert_eq!(c.counters().started, 2);
    }

    #[test]
    fn idle_timeouts_are_per_protocol() {
        let mut c = cache(|_| {});
        let mut icmp = pkt(T0, client(), 0, server(), 8 << 8, PROTO_ICMP, 98);
        icmp.flags = 0;
        let mut gre = pkt(T0, client(), 0, server(), 0, 47, 120);
        gre.flags = 0;
        feed(&mut c, &[tcp(T0, true, SYN, 74), udp(T0, 2, true, 80), icmp, gre]);
        let finished_at = |c: &mut FlowCache, t: u64| -> Vec<u8> {
            c.add(&arp(t));
            c.take_finished().iter().map(|r| r.proto).collect()
        };
        assert_eq!(finished_at(&mut c, T0 + 10 * SECOND), Vec::<u8>::new());
        assert_eq!(finished_at(&mut c, T0 + 10 * SECOND + 1), vec![PROTO_ICMP]);
        assert_eq!(finished_at(&mut c, T0 + 30 * SECOND), Vec::<u8>::new());
        // Finished together: by last time, then endpoints (GRE's port 0 first), then protocol.
        assert_eq!(finished_at(&mut c, T0 + 31 * SECOND), vec![47, PROTO_UDP]);
        assert_eq!(finished_at(&mut c, T0 + 120 * SECOND), Vec::<u8>::new());
        assert_eq!(finished_at(&mut c, T0 + 121 * SECOND), vec![PROTO_TCP]);
        assert_eq!(c.counters().finished(EndReason::IdleTimeout), 4);
        assert_eq!(c.counters().non_ip, 6);
    }

    #[test]
    fn a_packet_keeps_its_flow_alive() {
        let mut c = cache(|_| {});
        for i in 0..10 {
            c.add(&udp(T0 + i * 20 * SECOND, 2, true, 80));
        }
        assert!(c.take_finished().is_empty());
        c.add(&arp(T0 + 300 * SECOND));
        let r = c.take_finished();
        assert_eq!((r.len(), r[0].packets(), r[0].reason), (1, 10, EndReason::IdleTimeout));
    }

    #[test]
    fn the_active_timeout_cuts_a_long_flow_into_records_that_sum_to_it() {
        let mut c = cache(|cfg| cfg.active_ns = 60 * SECOND);
        let mut bytes = 0;
        for i in 0..=20u64 {
            let len = 100 + i as u32;
            bytes += len as u64;
            c.add(&udp(T0 + i * 10 * SECOND, 2, i % 3 != 0, len));
        }
        c.flush();
        let r = c.take_finished();
        let reasons: Vec<_> = r.iter().map(|r| r.reason).collect();
        use EndReason::{ActiveTimeout as A, EndOfInput as E};
        assert_eq!(reasons, vec![A, A, E]);
        // A record spans more than 60 s only by the packet that cuts it: 0..60, 70..130, 140..200.
        let spans: Vec<_> = r.iter().map(|r| (r.first_ns.unwrap() - T0, r.last_ns.unwrap() - T0)).collect();
        assert_eq!(spans, vec![(0, 60 * SECOND), (70 * SECOND, 130 * SECOND), (140 * SECOND, 200 * SECOND)]);
        assert_eq!(r.iter().map(FlowRecord::packets).sum::<u64>(), 21);
        assert_eq!(r.iter().map(FlowRecord::bytes).sum::<u64>(), bytes);
        assert!(r.iter().all(|x| x.a == Addr::v4([10, 0, 0, 1]) && x.community_id == r[0].community_id));
        assert_eq!(r.iter().map(|r| r.packets_ab).sum::<u64>(), 7, "A stays the first packet's source");
        assert_eq!(c.counters().started, 3);
    }

    #[test]
    fn a_full_cache_evicts_the_least_recently_seen_flow() {
        let mut c = cache(|cfg| cfg.max_flows = 2);
        feed(&mut c, &[udp(T0, 2, true, 80), udp(T0 + 1, 3, true, 80), udp(T0 + 2, 2, true, 80)]);
        c.add(&udp(T0 + 3, 4, true, 80));
        let r = c.take_finished();
        assert_eq!((r.len(), r[0].a, r[0].reason), (1, Addr::v4([10, 0, 0, 3]), EndReason::Eviction));
        c.add(&udp(T0 + 4, 5, true, 80));
        assert_eq!(c.take_finished()[0].a, Addr::v4([10, 0, 0, 2]));
        assert_eq!((c.counters().evicted(), c.active()), (2, 2));
        // A lingering closed flow makes room first, ending as what it is.
        feed(&mut c, &[tcp(T0 + 5, true, SYN, 74), tcp(T0 + 6, false, RST, 60)]);
        let r = c.take_finished();
        assert_eq!(r.iter().map(|r| r.reason).collect::<Vec<_>>(), vec![EndReason::Eviction]);
        c.add(&udp(T0 + 7, 6, true, 80));
        assert_eq!(c.take_finished()[0].reason, EndReason::Rst);
        assert_eq!((c.counters().evicted(), c.active()), (3, 2));
    }

    #[test]
    fn untimed_packets_count_without_moving_the_clock() {
        let mut c = cache(|_| {});
        let untimed = |mut r: PacketRecord| {
            r.ts_ns = 0;
            r.flags |= flag::NO_TIME;
            r
        };
        // Before any time: the flow starts when the clock does, not at time 0.
        c.add(&untimed(udp(T0, 2, true, 80)));
        assert_eq!(c.clock(), None);
        c.add(&udp(T0 + 500 * SECOND, 3, true, 80));
        assert!(c.take_finished().is_empty());
        c.add(&untimed(udp(0, 2, true, 80)));
        assert_eq!(c.clock(), Some(T0 + 500 * SECOND));
        c.add(&untimed(udp(0, 4, true, 80)));
        c.add(&arp(T0 + 531 * SECOND));
        let r = c.take_finished();
        assert_eq!(r.len(), 3);
        let only_untimed = r.iter().find(|r| r.a == Addr::v4([10, 0, 0, 2])).unwrap();
        assert_eq!((only_untimed.packets(), only_untimed.first_ns, only_untimed.last_ns), (2, None, None));
        assert!(only_untimed.to_json().contains(r#""firstTime":null,"lastTime":null"#));
        assert_eq!(c.counters().untimed, 3);
    }

    #[test]
    fn late_packets_count_in_their_flow_without_moving_the_clock_back() {
        let mut c = cache(|_| {});
        feed(&mut c, &[udp(T0 + 100, 2, true, 80), udp(T0 + 90, 2, false, 80), udp(T0 + 110, 2, true, 80)]);
        assert_eq!(c.clock(), Some(T0 + 110));
        c.add(&udp(T0 + 50, 3, true, 80));
        assert_eq!((c.clock(), c.counters().late), (Some(T0 + 110), 2));
        c.flush();
        let r = c.take_finished();
        assert_eq!((r[0].first_ns, r[0].last_ns), (Some(T0 + 50), Some(T0 + 50)), "ordered by last time");
        assert_eq!(
            (r[1].first_ns, r[1].last_ns, r[1].packets_ab, r[1].packets_ba),
            (Some(T0 + 90), Some(T0 + 110), 2, 1)
        );
    }

    #[test]
    fn non_ip_is_counted_and_ignored() {
        let mut c = cache(|_| {});
        feed(&mut c, &[arp(T0), arp(T0 + 1)]);
        assert_eq!((c.active(), c.counters().non_ip, c.counters().packets), (0, 2, 2));
    }

    #[test]
    fn later_fragments_go_to_their_datagram_or_to_the_flow_without_ports() {
        let mut c = cache(|_| {});
        let mut first = udp(T0, 2, true, 1514);
        first.flags |= flag::FRAGMENT | flag::FIRST_FRAGMENT;
        // A later fragment whose ports FragmentPorts filled in, and one whose first was not seen.
        let mut filled = udp(T0 + 1, 2, true, 600);
        filled.flags |= flag::FRAGMENT;
        let mut orphan = udp(T0 + 2, 2, true, 600);
        orphan.flags = flag::FRAGMENT;
        (orphan.src_port, orphan.dst_port) = (0, 0);
        feed(&mut c, &[first, filled, orphan]);
        c.flush();
        let r = c.take_finished();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].port_a, r[0].port_b, r[0].packets(), r[0].bytes()), (5002, 53, 2, 2114));
        assert!(r[0].community_id.is_some());
        assert_eq!((r[1].port_a, r[1].port_b, r[1].packets(), r[1].community_id), (0, 0, 1, None));
    }

    fn frame_record(spec: &FrameSpec, ts: u64) -> PacketRecord {
        let mut frame = Vec::new();
        build_frame(spec, &mut frame).unwrap();
        let mut d = Decoded::default();
        decode(&frame, linktype::ETHERNET, &mut d);
        d.record(ts, frame.len() as u32, frame.len() as u32, 0)
    }

    #[test]
    fn icmp_echo_request_and_reply_are_one_flow_with_the_spec_community_id() {
        // The spec's baseline table: 1.2.3.4 -> 5.6.7.8 echo request (and ICMPv6), seeds 0 and 1.
        let cases = [
            ("1.2.3.4", "5.6.7.8", false, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
            ("1.2.3.4", "5.6.7.8", false, 1, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="),
            (
                "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
                "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
                true,
                0,
                "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=",
            ),
        ];
        for (src, dst, v6, seed, id) in cases {
            let (src, dst) = (src.parse().unwrap(), dst.parse().unwrap());
            let mut c = cache(|cfg| cfg.community_id_seed = seed);
            c.add(&frame_record(&FrameSpec::new(src, dst, L4::echo_request(v6, 7, 1)), T0));
            c.add(&frame_record(&FrameSpec::new(dst, src, L4::echo_reply(v6, 7, 1)), T0 + 1_000_000));
            c.add(&frame_record(&FrameSpec::new(src, dst, L4::echo_request(v6, 7, 2)), T0 + 2_000_000));
            c.flush();
            let r = c.take_finished();
            assert_eq!(r.len(), 1, "{src} {dst}");
            let (req, rep) = if v6 { (128, 129) } else { (8, 0) };
            assert_eq!((r[0].port_a, r[0].port_b, r[0].packets_ab, r[0].packets_ba), (req, rep, 2, 1));
            assert_eq!(r[0].community_id.unwrap().as_str(), id);
        }
        // One-way messages (destination unreachable) are a flow per sender, never swapped.
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let unreachable = L4::Icmp { ty: 3, code: 1, id: 0, seq: 0 };
        let mut c = cache(|_| {});
        c.add(&frame_record(&FrameSpec::new(b, a, unreachable), T0));
        c.add(&frame_record(&FrameSpec::new(a, b, unreachable), T0 + 1));
        c.flush();
        let r = c.take_finished();
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|r| (r.port_a, r.port_b, r.packets_ab, r.packets_ba) == (3, 1, 1, 0)));
        assert_ne!(r[0].community_id, r[1].community_id);
    }

    #[test]
    fn record_json_names_every_field() {
        let mut c = cache(|_| {});
        let mut p = handshake(T0 + 123);
        p[0].vlan = 100;
        p[0].interface = 2;
        feed(&mut c, &p);
        c.flush();
        let r = c.take_finished();
        // The Community ID from an independent implementation of the spec (Python's hashlib and
        // base64, checked against the spec's published TCP vector).
        assert_eq!(
            r[0].to_json(),
            concat!(
                r#"{"communityId":"1:wiztte4BBo/nz6LuCKq48Eb9IM8=","#,
                r#""srcIp":"10.0.0.2","srcPort":40000,"dstIp":"10.0.0.1","dstPort":80,"proto":6,"protoName":"TCP","service":"http","#,
                r#""firstTime":"1700000000.000000123","lastTime":"1700000000.004000123","#,
                r#""packetsAtoB":3,"bytesAtoB":340,"packetsBtoA":2,"bytesBtoA":1574,"#,
                r#""tcpFlagsAtoB":"SYN,PSH,ACK","tcpFlagsBtoA":"SYN,PSH,ACK","state":"established","#,
                r#""reason":"endOfInput","interface":2,"vlan":100}"#
            )
        );
    }

    /// Synthetic traffic through capture, decode and the cache, with timeouts and a table small
    /// enough that every reason happens often.
    fn synthetic_flows(seed: u64) -> (Vec<FlowRecord>, FlowCounters) {
        let mut generator = TrafficGenerator::new(TrafficConfig { packets: 20_000, ..TrafficConfig::default() });
        let mut pcap = Vec::new();
        while generator.next_chunk(4096, &mut pcap) > 0 {}
        let mut c = cache(|cfg| {
            cfg.seed = seed;
            cfg.max_flows = 512;
            cfg.idle_tcp_ns = 2 * SECOND;
            cfg.idle_udp_ns = SECOND;
            cfg.idle_icmp_ns = SECOND / 2;
            cfg.active_ns = 3 * SECOND;
        });
        let (mut reader, mut d, mut frags) = (CaptureReader::new(), Decoded::default(), FragmentPorts::new(1024, 0));
        let mut out = Vec::new();
        reader
            .feed(&pcap, |f| {
                decode(f.data, f.link_type, &mut d);
                let mut r = d.record(f.ts_ns, f.wire_len, f.data.len() as u32, f.interface as u16);
                frags.fill(&d, &mut r);
                c.add(&r);
                out.extend(c.take_finished());
            })
            .unwrap();
        c.flush();
        out.extend(c.take_finished());
        (out, *c.counters())
    }

    #[test]
    fn output_depends_only_on_the_input() {
        let (a, counters) = synthetic_flows(1);
        let (b, _) = synthetic_flows(0xdead_beef);
        assert_eq!(a, b, "another hash seed, the same records in the same order");
        assert_eq!(counters.packets, 20_000);
        assert_eq!(a.iter().map(FlowRecord::packets).sum::<u64>() + counters.non_ip, 20_000);
        assert_eq!(a.len() as u64, counters.started);
        assert_eq!(counters.finished.iter().sum::<u64>(), counters.started);
        for reason in [EndReason::IdleTimeout, EndReason::ActiveTimeout, EndReason::Eviction, EndReason::EndOfInput] {
            assert!(counters.finished(reason) > 0, "{reason:?} never happened: {counters:?}");
        }
    }
}
