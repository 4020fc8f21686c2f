//! The traffic model: an enterprise edge link seen by a tap between the LAN and the gateway.
//!
//! Background traffic comes from a fixed pool of concurrent flows: each packet is taken from a
//! random slot, and a finished flow is replaced by a new one, so flows interleave in time and
//! memory does not grow with the packet count. Three planted patterns have exact packet quotas,
//! spread over a window of the capture by selection sampling: an elephant TCP flow, a SYN scanner
//! sweeping 10.0.0.0/16, and a UDP flood from many spoofed sources to one server.
//!
//! Addressing: internal hosts 10.0.1.1-10.0.250.250 and 2001:db8:10:<n>::/64, servers 10.0.254.x
//! (VLAN 30), resolvers 10.0.255.53/54; external servers in 192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24, 198.18.0.0/17 and 2001:db8:ffff::/48; external clients and flood sources in
//! the rest of 198.18.0.0/15.
//!
//! Only `+ - * /` are used on floats (no `ln`/`exp` from the platform's libm), so a seed gives
//! the same bytes on every platform.

use super::frame::{self, tcp_flags, FrameSpec, VlanStack, L4};
use super::{pcap_header, record_header, LINKTYPE_ETHERNET, PCAP_RECORD_HEADER_LEN};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// 2026-01-01T00:00:00Z.
pub const DEFAULT_START_NS: u64 = 1_767_225_600 * 1_000_000_000;
/// Internal hosts are 10.0.1.1-10.0.250.250.
pub const MAX_HOSTS: u32 = 250 * 250;

const POOL_SLOTS: usize = 512;
const EXTERNAL_SERVERS: u32 = 4096;
const INBOUND_CLIENTS: u32 = 32_512;
/// Time segments with their own traffic rate, so the load varies over the capture.
const SEGMENTS: usize = 64;
/// A flood packet takes this fraction of an ordinary packet's time: the flood is a burst.
const FLOOD_TIME_WEIGHT: f64 = 0.05;
/// Share of background flows that use IPv6, per mille.
const V6_PERMILLE: u64 = 290;
const HEAVY_PERMILLE: u64 = 75;
const FLOOD_PERMILLE: u64 = 40;
/// One scan target per this many packets.
const PACKETS_PER_SCAN_TARGET: u64 = 100;

const GATEWAY_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x0a]; // VRRP virtual MAC, VRID 10
const RESOLVERS_V4: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 255, 53), Ipv4Addr::new(10, 0, 255, 54)];
const RESOLVER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0xffff, 0, 0, 0, 0x53);
const DMZ_VLAN: VlanStack = VlanStack::single(30);
const DMZ_WEB_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 254, 10);
const DMZ_WEB_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0xfe, 0, 0, 0, 0x10);
const DMZ_MAIL_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 254, 25);
const HEAVY_CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 254, 40);
const HEAVY_SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 200);
const HEAVY_PORT: u16 = 873; // rsync backup
const SCANNER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 250);
const SCAN_PORTS: [u16; 8] = [22, 23, 80, 443, 445, 3389, 5900, 8080];
const FLOOD_VICTIM: Ipv4Addr = Ipv4Addr::new(10, 0, 254, 53);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrafficConfig {
    pub seed: u64,
    /// Records to write.
    pub packets: u64,
    /// Earliest timestamp, ns since the Unix epoch.
    pub start_ns: u64,
    /// Timestamps fall in `start_ns ..= start_ns + duration_ns`.
    pub duration_ns: u64,
    /// Internal hosts, clamped to `1..=MAX_HOSTS`.
    pub hosts: u32,
    /// Longest captured frame; longer frames are cut (0 means 65535).
    pub snaplen: u32,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            seed: 1,
            packets: 200_000,
            start_ns: DEFAULT_START_NS,
            duration_ns: 60_000_000_000,
            hosts: 200,
            snaplen: 65535,
        }
    }
}

/// What the generator has written so far, and what it planted. Counters are final once
/// [`TrafficGenerator::next_chunk`] returns 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficTruth {
    pub packets: u64,
    /// Sum of wire lengths (pcap orig_len).
    pub bytes: u64,
    /// Sum of captured lengths (pcap incl_len); under `bytes` when the snaplen cuts frames.
    pub captured_bytes: u64,
    pub ipv4_packets: u64,
    pub ipv6_packets: u64,
    pub tcp_packets: u64,
    pub udp_packets: u64,
    /// ICMP and ICMPv6.
    pub icmp_packets: u64,
    /// Frames with at least one VLAN tag.
    pub vlan_packets: u64,
    /// Timestamps of the first and last records (0 before any).
    pub first_ts_ns: u64,
    pub last_ts_ns: u64,
    /// The SYN scanner: an external super-spreader probing 10.0.0.0/16.
    pub scanner: IpAddr,
    /// Distinct destination addresses probed, one SYN each.
    pub scan_targets: u32,
    /// The probes and the targets' replies (RST, or SYN-ACK answered by the scanner's RST).
    pub scan_packets: u64,
    /// The elephant: (client, client port, server, server port, IP protocol); the bulk data
    /// goes from client to server.
    pub heavy_flow: (IpAddr, u16, IpAddr, u16, u8),
    /// Both directions of the elephant.
    pub heavy_packets: u64,
    pub heavy_bytes: u64,
    /// The flood's target: many spoofed sources, random ports, UDP.
    pub flood_victim: IpAddr,
    /// Distinct flood sources so far.
    pub flood_sources: u32,
    pub flood_packets: u64,
}

/// Streams a capture; see the module docs.
pub struct TrafficGenerator {
    cfg: TrafficConfig,
    rng: Rng,
    model: Model,
    /// Fixed size: the bound on memory.
    pool: Vec<Flow>,
    heavy: HeavyFlow,
    heavy_quota: Quota,
    scanner: Scanner,
    scan_quota: Quota,
    flood: Flood,
    flood_quota: Quota,
    clock: Clock,
    payload_key: u64,
    /// Application payloads (DNS, NTP) are written here first; under 600 bytes.
    scratch: Vec<u8>,
    index: u64,
    header_written: bool,
    truth: TrafficTruth,
}

impl core::fmt::Debug for TrafficGenerator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TrafficGenerator")
            .field("config", &self.cfg)
            .field("written", &self.index)
            .field("remaining", &self.remaining())
            .finish_non_exhaustive()
    }
}

impl TrafficGenerator {
    pub fn new(cfg: TrafficConfig) -> TrafficGenerator {
        let cfg = TrafficConfig {
            hosts: cfg.hosts.clamp(1, MAX_HOSTS),
            snaplen: if cfg.snaplen == 0 { 65535 } else { cfg.snaplen },
            ..cfg
        };
        let n = cfg.packets;
        let mut rng = Rng::new(cfg.seed);
        // Background responses stay well under the elephant even in small captures.
        let max_segments = (n / 200).clamp(20, 4000) as u32;
        let model = Model { hosts: cfg.hosts, max_segments };

        let heavy_packets = share(n, HEAVY_PERMILLE);
        let heavy_packets = if heavy_packets < HeavyFlow::MIN_PACKETS { 0 } else { heavy_packets };
        let heavy = HeavyFlow::new(&mut rng, heavy_packets);
        let heavy_quota = Quota::new(n, 80, 920, heavy_packets);

        let targets = (n / PACKETS_PER_SCAN_TARGET).min(Scanner::MAX_TARGETS as u64) as u32;
        let scanner = Scanner::new(rng.next_u64(), targets);
        let scan_quota = Quota::new(n, 250, 750, scanner.planned_packets());

        let flood_packets = share(n, FLOOD_PERMILLE);
        let flood_packets = if flood_packets < 16 { 0 } else { flood_packets };
        let flood_sources = (n / 400).clamp(1, 16_384).min(flood_packets) as u32;
        let flood = Flood { key: rng.next_u64(), sources: flood_sources, sent: 0 };
        let flood_quota = Quota::new(n, 550, 650, flood_packets);

        let clock = Clock::new(&cfg, &mut rng, &flood_quota);
        let pool = (0..POOL_SLOTS).map(|_| model.spawn(&mut rng, true)).collect();
        let payload_key = rng.next_u64();
        let truth = TrafficTruth {
            packets: 0,
            bytes: 0,
            captured_bytes: 0,
            ipv4_packets: 0,
            ipv6_packets: 0,
            tcp_packets: 0,
            udp_packets: 0,
            icmp_packets: 0,
            vlan_packets: 0,
            first_ts_ns: 0,
            last_ts_ns: 0,
            scanner: IpAddr::V4(SCANNER),
            scan_targets: 0,
            scan_packets: 0,
            heavy_flow: (IpAddr::V4(HEAVY_CLIENT), heavy.ep.client_port, IpAddr::V4(HEAVY_SERVER), HEAVY_PORT, 6),
            heavy_packets: 0,
            heavy_bytes: 0,
            flood_victim: IpAddr::V4(FLOOD_VICTIM),
            flood_sources: 0,
            flood_packets: 0,
        };
        TrafficGenerator {
            cfg,
            rng,
            model,
            pool,
            heavy,
            heavy_quota,
            scanner,
            scan_quota,
            flood,
            flood_quota,
            clock,
            payload_key,
            scratch: Vec::with_capacity(1024),
            index: 0,
            header_written: false,
            truth,
        }
    }

    /// Appends the pcap file header on the first call, then up to `max_packets` records; returns
    /// how many records were appended (0 when finished).
    pub fn next_chunk(&mut self, max_packets: u64, out: &mut Vec<u8>) -> u64 {
        if !self.header_written {
            out.extend_from_slice(&pcap_header(self.cfg.snaplen, LINKTYPE_ETHERNET));
            self.header_written = true;
        }
        let count = max_packets.min(self.remaining());
        let mut written = 0;
        for _ in 0..count {
            written += self.emit(out) as u64;
        }
        written
    }

    pub fn truth(&self) -> &TrafficTruth {
        &self.truth
    }

    /// The configuration in use (hosts and snaplen normalised).
    pub fn config(&self) -> &TrafficConfig {
        &self.cfg
    }

    /// Records still to write.
    pub fn remaining(&self) -> u64 {
        self.cfg.packets - self.index
    }

    pub fn is_finished(&self) -> bool {
        self.remaining() == 0
    }

    fn emit(&mut self, out: &mut Vec<u8>) -> bool {
        let i = self.index;
        self.index += 1;
        let source = self.pick_source(i);
        let seg_end = self.clock.segment_end(i);
        let flood_ahead = self.flood_quota.expected_between(i + 1, seg_end);
        let weight = if source == Source::Flood { FLOOD_TIME_WEIGHT } else { 1.0 };
        let ts = self.clock.advance(i, weight, flood_ahead, &mut self.rng);

        let (mut spec, app) = match source {
            Source::Heavy => (self.heavy.next(), App::Filler),
            Source::Scan => (self.scanner.next(), App::Filler),
            Source::Flood => (self.flood.next(&mut self.rng), App::Filler),
            Source::Background => self.background(),
        };
        spec.payload_seed = mix64(self.payload_key.wrapping_add(i));

        let record = out.len();
        out.extend_from_slice(&[0; PCAP_RECORD_HEADER_LEN]);
        let built = match app {
            App::Filler => frame::build_frame(&spec, out),
            App::Dns(message) => {
                self.scratch.clear();
                message.write(&mut self.scratch);
                frame::build_frame_with_payload(&spec, &self.scratch, out)
            }
            App::Ntp { server } => {
                self.scratch.clear();
                write_ntp(server, ts, &mut self.scratch);
                frame::build_frame_with_payload(&spec, &self.scratch, out)
            }
        };
        let Ok(wire_len) = built else {
            out.truncate(record); // unreachable: every spec here is valid
            return false;
        };
        let cap_len = wire_len.min(self.cfg.snaplen as usize);
        out.truncate(record + PCAP_RECORD_HEADER_LEN + cap_len);
        let header = record_header(ts, cap_len as u32, wire_len as u32);
        if let Some(h) = out.get_mut(record..record + PCAP_RECORD_HEADER_LEN) {
            h.copy_from_slice(&header);
        }
        self.account(&spec, source, ts, wire_len as u64, cap_len as u64);
        true
    }

    /// Selection sampling: each planted pattern emits with probability left / window left, so
    /// it meets its quota exactly, spread evenly over its window.
    fn pick_source(&mut self, i: u64) -> Source {
        let quotas =
            [(Source::Heavy, self.heavy_quota), (Source::Scan, self.scan_quota), (Source::Flood, self.flood_quota)];
        let forced = quotas.iter().find(|(_, q)| q.must_emit(i));
        let chosen = forced
            .or_else(|| {
                let u = self.rng.unit() - f64::EPSILON; // [0, 1)
                let mut acc = 0.0;
                quotas.iter().find(|(_, q)| {
                    acc += q.probability(i);
                    u < acc
                })
            })
            .map(|(s, _)| *s);
        match chosen {
            Some(Source::Heavy) => self.heavy_quota.take(),
            Some(Source::Scan) => self.scan_quota.take(),
            Some(Source::Flood) => self.flood_quota.take(),
            _ => {}
        }
        chosen.unwrap_or(Source::Background)
    }

    fn background(&mut self) -> (FrameSpec, App) {
        let slot = self.rng.below(POOL_SLOTS as u64) as usize;
        let rng = &mut self.rng;
        match self.pool.get_mut(slot) {
            Some(flow) => {
                let emitted = flow.next(rng);
                if flow.done() {
                    *flow = self.model.spawn(rng, false);
                }
                emitted
            }
            None => self.model.spawn(rng, false).next(rng),
        }
    }

    fn account(&mut self, spec: &FrameSpec, source: Source, ts: u64, wire_len: u64, cap_len: u64) {
        let t = &mut self.truth;
        if t.packets == 0 {
            t.first_ts_ns = ts;
        }
        t.last_ts_ns = ts;
        t.packets += 1;
        t.bytes += wire_len;
        t.captured_bytes += cap_len;
        if spec.src.is_ipv6() {
            t.ipv6_packets += 1;
        } else {
            t.ipv4_packets += 1;
        }
        match spec.l4 {
            L4::Tcp { .. } => t.tcp_packets += 1,
            L4::Udp { .. } => t.udp_packets += 1,
            L4::Icmp { .. } => t.icmp_packets += 1,
        }
        if !spec.vlans.is_empty() {
            t.vlan_packets += 1;
        }
        match source {
            Source::Heavy => {
                t.heavy_packets += 1;
                t.heavy_bytes += wire_len;
            }
            Source::Scan => {
                t.scan_packets += 1;
                t.scan_targets = self.scanner.probed;
            }
            Source::Flood => {
                t.flood_packets += 1;
                t.flood_sources = self.flood.sent.min(self.flood.sources as u64) as u32;
            }
            Source::Background => {}
        }
    }
}

/// `n * per_mille / 1000` without overflow.
fn share(n: u64, per_mille: u64) -> u64 {
    (n as u128 * per_mille as u128 / 1000) as u64
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Heavy,
    Scan,
    Flood,
    Background,
}

/// Packets a planted pattern still has to emit within packet indexes `start..end`.
#[derive(Clone, Copy, Debug)]
struct Quota {
    start: u64,
    end: u64,
    left: u64,
}

impl Quota {
    fn new(packets: u64, start_permille: u64, end_permille: u64, count: u64) -> Quota {
        let (start, end) = (share(packets, start_permille), share(packets, end_permille));
        Quota { start, end, left: count.min(end - start) }
    }

    fn active(&self, i: u64) -> bool {
        self.left > 0 && i >= self.start && i < self.end
    }

    fn must_emit(&self, i: u64) -> bool {
        self.active(i) && self.left >= self.end - i
    }

    fn probability(&self, i: u64) -> f64 {
        if self.active(i) {
            self.left as f64 / (self.end - i) as f64
        } else {
            0.0
        }
    }

    fn take(&mut self) {
        self.left = self.left.saturating_sub(1);
    }

    /// Expected emissions at packet indexes `from..to`.
    fn expected_between(&self, from: u64, to: u64) -> f64 {
        let from = from.max(self.start);
        let to = to.min(self.end);
        if self.left == 0 || to <= from {
            return 0.0;
        }
        self.left as f64 * (to - from) as f64 / (self.end - from) as f64
    }
}

/// Timestamps: exponential gaps whose mean is re-aimed at every packet so that each segment
/// ends on its planned time (adaptive, so errors never accumulate).
#[derive(Clone, Debug)]
struct Clock {
    now: u64,
    end: u64,
    seg: usize,
    seg_end_index: [u64; SEGMENTS],
    seg_end_time: [u64; SEGMENTS],
}

impl Clock {
    fn new(cfg: &TrafficConfig, rng: &mut Rng, flood: &Quota) -> Clock {
        let n = cfg.packets;
        let mut seg_end_index = [0u64; SEGMENTS];
        for (s, end) in seg_end_index.iter_mut().enumerate() {
            *end = ((s as u128 + 1) * n as u128 / SEGMENTS as u128) as u64;
        }
        // Time each segment needs: its expected packet weight over a slowly wandering rate.
        let mut need = [0f64; SEGMENTS];
        let mut rate = 1.0;
        let mut begin = 0;
        for (s, &end) in seg_end_index.iter().enumerate() {
            rate = (rate * (0.8 + 0.4 * rng.unit())).clamp(0.5, 2.0);
            let flood_packets = flood.expected_between(begin, end);
            need[s] = ((end - begin) as f64 - flood_packets + FLOOD_TIME_WEIGHT * flood_packets) / rate;
            begin = end;
        }
        let total: f64 = need.iter().sum();
        let end_time = cfg.start_ns.saturating_add(cfg.duration_ns);
        let mut seg_end_time = [end_time; SEGMENTS];
        let mut cumulative = 0.0;
        for (s, t) in seg_end_time.iter_mut().enumerate().take(SEGMENTS - 1) {
            cumulative += need[s];
            if total > 0.0 {
                *t = cfg.start_ns.saturating_add((cfg.duration_ns as f64 * (cumulative / total)) as u64).min(end_time);
            }
        }
        Clock { now: cfg.start_ns, end: end_time, seg: 0, seg_end_index, seg_end_time }
    }

    /// Moves to the segment holding packet `i`; returns the index that ends it.
    fn segment_end(&mut self, i: u64) -> u64 {
        while self.seg + 1 < SEGMENTS && i >= self.seg_end_index[self.seg] {
            self.seg += 1;
        }
        self.seg_end_index[self.seg]
    }

    /// Timestamp of packet `i` (weight 1 for ordinary packets); `flood_ahead` is the expected
    /// number of flood packets after `i` in its segment.
    fn advance(&mut self, i: u64, weight: f64, flood_ahead: f64, rng: &mut Rng) -> u64 {
        let after = self.seg_end_index[self.seg].saturating_sub(i + 1) as f64;
        let weight_left = weight + (after - flood_ahead).max(0.0) + FLOOD_TIME_WEIGHT * flood_ahead;
        let time_left = self.seg_end_time[self.seg].saturating_sub(self.now) as f64;
        let gap = exponential(rng) * time_left * weight / weight_left;
        self.now = self.now.saturating_add(gap as u64).min(self.end);
        self.now
    }
}

/// wyrand: fast, small state, good enough statistics for traffic synthesis.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(mix64(seed ^ 0x6e65_7473_7065_6374)) // "netspect"
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = (self.0 as u128).wrapping_mul((self.0 ^ 0xe703_7ed1_a0b4_28db) as u128);
        (t >> 64) as u64 ^ t as u64
    }

    /// Uniform in `0..n` (0 when n is 0).
    #[inline]
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo.saturating_add(self.below(hi.saturating_sub(lo) as u64 + 1) as u32)
    }

    #[inline]
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// Uniform in (0, 1].
    #[inline]
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Pareto with shape 1 (Zipf-like sizes), cut at `max`.
    fn pareto(&mut self, min: u32, max: u32) -> u32 {
        (min as f64 / self.unit()).min(max as f64) as u32
    }
}

/// Picks a value by per-mille weights (the rest of 1000 goes to `fallback`).
fn weighted<T: Copy>(rng: &mut Rng, table: &[(T, u64)], fallback: T) -> T {
    let mut pick = rng.below(1000);
    for &(value, weight) in table {
        if pick < weight {
            return value;
        }
        pick -= weight;
    }
    fallback
}

/// splitmix64's finaliser.
fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Natural log for x in (0, 1], from basic float operations only (deterministic everywhere);
/// relative error under 1e-6.
fn ln_unit(x: f64) -> f64 {
    const LN2: f64 = core::f64::consts::LN_2;
    const SQRT2: f64 = core::f64::consts::SQRT_2;
    let bits = x.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > SQRT2 {
        m *= 0.5;
        exp += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0)))));
    exp as f64 * LN2 + series
}

/// Exponential with mean 1.
fn exponential(rng: &mut Rng) -> f64 {
    -ln_unit(rng.unit())
}

/// A bijection on u16 keyed by `key` (multiply-xorshift rounds).
fn perm16(x: u16, key: u64) -> u16 {
    let mut v = x;
    for k in [key as u16, (key >> 16) as u16, (key >> 32) as u16] {
        v = v.wrapping_add(k).wrapping_mul(0x9e37);
        v ^= v >> 7;
        v = v.wrapping_mul(0x2c1b);
        v ^= v >> 9;
    }
    v
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client = 0,
    Server = 1,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// Both ends of a flow as the tap sees them.
#[derive(Clone, Copy, Debug)]
struct Endpoints {
    client: IpAddr,
    server: IpAddr,
    client_mac: [u8; 6],
    server_mac: [u8; 6],
    vlans: VlanStack,
    client_ttl: u8,
    server_ttl: u8,
    client_port: u16,
    server_port: u16,
    ip_id: [u16; 2],
}

impl Endpoints {
    fn v6(&self) -> bool {
        self.client.is_ipv6()
    }

    fn ports(&self, from: Side) -> (u16, u16) {
        match from {
            Side::Client => (self.client_port, self.server_port),
            Side::Server => (self.server_port, self.client_port),
        }
    }

    fn udp(&self, from: Side) -> L4 {
        let (sport, dport) = self.ports(from);
        L4::Udp { sport, dport }
    }

    fn spec(&mut self, from: Side, l4: L4, payload_len: u32) -> FrameSpec {
        let id = &mut self.ip_id[from as usize];
        let ip_id = *id;
        *id = id.wrapping_add(1);
        let (src, dst, src_mac, dst_mac, ttl) = match from {
            Side::Client => (self.client, self.server, self.client_mac, self.server_mac, self.client_ttl),
            Side::Server => (self.server, self.client, self.server_mac, self.client_mac, self.server_ttl),
        };
        FrameSpec {
            dst_mac,
            src_mac,
            vlans: self.vlans,
            src,
            dst,
            ttl,
            ip_id,
            dont_fragment: !matches!(l4, L4::Icmp { .. }),
            tos: 0,
            l4,
            payload_len: payload_len as usize,
            payload_seed: 0,
            pad_to_min: true,
        }
    }
}

/// An internal host; attributes are a pure function of its index.
#[derive(Clone, Copy, Debug)]
struct Host {
    v4: Ipv4Addr,
    v6: Ipv6Addr,
    mac: [u8; 6],
    vlans: VlanStack,
    ttl: u8,
    ephemeral: (u32, u32),
}

fn host(h: u32) -> Host {
    let subnet = 1 + h / 250;
    let last = 1 + h % 250;
    let hash = mix64(h as u64 ^ 0x686f_7374);
    let vlans = match hash % 100 {
        0..=59 => VlanStack::NONE,
        60..=84 => VlanStack::single(10),
        85..=96 => VlanStack::single(20),
        _ => VlanStack::qinq(100, 40), // remote site behind a provider S-tag
    };
    let windows = (hash >> 8) % 100 < 60;
    Host {
        v4: Ipv4Addr::new(10, 0, subnet as u8, last as u8),
        v6: Ipv6Addr::new(0x2001, 0xdb8, 0x10, subnet as u16, 0, 0, 0, last as u16),
        mac: [0x02, 0x1b, 0x21, (h >> 16) as u8, (h >> 8) as u8, h as u8],
        vlans,
        ttl: if windows { 128 } else { 64 },
        ephemeral: if windows { (49152, 65535) } else { (32768, 60999) },
    }
}

/// An external server: address and the TTL its packets arrive with.
fn server(s: u32, v6: bool) -> (IpAddr, u8) {
    let hash = mix64(s as u64 ^ 0x7365_7276);
    let initial: u8 = match hash % 10 {
        0..=4 => 64,
        5..=7 => 128,
        _ => 255,
    };
    let ttl = initial - 6 - ((hash >> 8) % 17) as u8;
    let addr = if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, (s >> 8) as u16, 0, 0, 0, (s & 0xff) as u16 + 1))
    } else if s < 3 * 199 {
        // Hosts .1-.199 of the documentation /24s; .200 and up are planted addresses.
        let net = [[192, 0, 2], [198, 51, 100], [203, 0, 113]][(s / 199) as usize % 3];
        IpAddr::V4(Ipv4Addr::new(net[0], net[1], net[2], (1 + s % 199) as u8))
    } else {
        let t = s - 3 * 199;
        IpAddr::V4(Ipv4Addr::new(198, 18, (t / 254) as u8, (1 + t % 254) as u8))
    };
    (addr, ttl)
}

fn internal_mac(addr: Ipv4Addr) -> [u8; 6] {
    let [_, _, c, d] = addr.octets();
    [0x02, 0x1b, 0x21, 0xfe, c, d]
}

/// Background flow parameters.
#[derive(Clone, Copy, Debug)]
struct Model {
    hosts: u32,
    /// Cap on a background message, in full segments.
    max_segments: u32,
}

impl Model {
    /// A new background flow; `midway` starts long flows already established, as at the start
    /// of a real capture.
    fn spawn(&self, rng: &mut Rng, midway: bool) -> Flow {
        let v6 = rng.chance(V6_PERMILLE);
        match rng.below(1000) {
            0..=419 => Flow::Udp(self.dns(rng, v6)),
            420..=839 => Flow::Tcp(self.tcp_outbound(rng, v6, midway)),
            840..=889 => Flow::Tcp(self.tcp_inbound(rng, v6, midway)),
            890..=949 => Flow::Quic(self.quic(rng, v6, midway)),
            950..=974 => Flow::Udp(self.ntp(rng, v6)),
            _ => Flow::Echo(self.echo(rng, v6)),
        }
    }

    /// Low indexes talk more (a few busy hosts, a long tail).
    fn pick_host(&self, rng: &mut Rng) -> Host {
        let u = rng.unit();
        host(((u * u * self.hosts as f64) as u32).min(self.hosts - 1))
    }

    /// Zipf-like popularity: the top server gets ~8% of flows.
    fn pick_server(&self, rng: &mut Rng, v6: bool) -> (IpAddr, u8) {
        let u = rng.unit();
        server(((u * u * u * EXTERNAL_SERVERS as f64) as u32).min(EXTERNAL_SERVERS - 1), v6)
    }

    /// Internal host to external server.
    fn outbound(&self, rng: &mut Rng, v6: bool, server_port: u16) -> Endpoints {
        let h = self.pick_host(rng);
        let (server, server_ttl) = self.pick_server(rng, v6);
        Endpoints {
            client: if v6 { IpAddr::V6(h.v6) } else { IpAddr::V4(h.v4) },
            server,
            client_mac: h.mac,
            server_mac: GATEWAY_MAC,
            vlans: h.vlans,
            client_ttl: h.ttl,
            server_ttl,
            client_port: rng.range(h.ephemeral.0, h.ephemeral.1) as u16,
            server_port,
            ip_id: [rng.next_u64() as u16, rng.next_u64() as u16],
        }
    }

    fn tcp_outbound(&self, rng: &mut Rng, v6: bool, midway: bool) -> TcpSession {
        const PORTS: [(u16, u64); 10] = [
            (443, 700),
            (80, 120),
            (8080, 30),
            (22, 30),
            (993, 30),
            (587, 20),
            (8443, 20),
            (3389, 20),
            (5222, 15),
            (853, 15), // DNS over TLS
        ];
        let port = weighted(rng, &PORTS, 443);
        let ep = self.outbound(rng, v6, port);
        TcpSession::new(ep, rng, self.max_segments, midway)
    }

    /// External client to a DMZ server.
    fn tcp_inbound(&self, rng: &mut Rng, v6: bool, midway: bool) -> TcpSession {
        let c = rng.below(INBOUND_CLIENTS as u64) as u32;
        let client = if v6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0x8000, 0, 0, 0, c as u16 + 1))
        } else {
            IpAddr::V4(Ipv4Addr::new(198, 18, (128 + c / 254) as u8, (1 + c % 254) as u8))
        };
        let (server, server_port) = match (v6, rng.below(10)) {
            (true, _) => (IpAddr::V6(DMZ_WEB_V6), 443),
            (false, 0..=1) => (IpAddr::V4(DMZ_MAIL_V4), 25),
            (false, 2) => (IpAddr::V4(DMZ_WEB_V4), 80),
            (false, _) => (IpAddr::V4(DMZ_WEB_V4), 443),
        };
        let server_mac = match server {
            IpAddr::V4(a) => internal_mac(a),
            IpAddr::V6(_) => internal_mac(DMZ_WEB_V4),
        };
        let ep = Endpoints {
            client,
            server,
            client_mac: GATEWAY_MAC,
            server_mac,
            vlans: DMZ_VLAN,
            client_ttl: [49, 52, 113, 116, 241][(c % 5) as usize],
            server_ttl: 64,
            client_port: rng.range(32768, 65535) as u16,
            server_port,
            ip_id: [rng.next_u64() as u16, rng.next_u64() as u16],
        };
        TcpSession::new(ep, rng, self.max_segments, midway)
    }

    /// Hosts ask the internal resolvers; some queries are the resolvers recursing out.
    fn dns(&self, rng: &mut Rng, v6: bool) -> UdpExchange {
        let mut ep = if rng.chance(150) {
            let (server, server_ttl) = self.pick_server(rng, v6);
            let resolver = if v6 { IpAddr::V6(RESOLVER_V6) } else { IpAddr::V4(RESOLVERS_V4[0]) };
            Endpoints {
                client: resolver,
                server,
                client_mac: internal_mac(RESOLVERS_V4[0]),
                server_mac: GATEWAY_MAC,
                vlans: VlanStack::NONE,
                client_ttl: 64,
                server_ttl,
                client_port: rng.range(1024, 65535) as u16,
                server_port: 53,
                ip_id: [rng.next_u64() as u16, rng.next_u64() as u16],
            }
        } else {
            let mut ep = self.outbound(rng, v6, 53);
            let resolver = RESOLVERS_V4[rng.below(2) as usize];
            ep.server = if v6 { IpAddr::V6(RESOLVER_V6) } else { IpAddr::V4(resolver) };
            ep.server_mac = internal_mac(resolver);
            ep.server_ttl = 64;
            ep
        };
        // Resolvers send DNS answers with IP ID 0.
        ep.ip_id[1] = 0;
        // A and AAAA lookups often go together over the same socket.
        let transactions = if rng.chance(400) { 2 } else { 1 };
        UdpExchange::new(ep, UdpKind::Dns, transactions)
    }

    fn ntp(&self, rng: &mut Rng, v6: bool) -> UdpExchange {
        let mut ep = self.outbound(rng, v6, 123);
        if rng.chance(500) {
            ep.client_port = 123; // ntpd uses 123 on both ends
        }
        UdpExchange::new(ep, UdpKind::Ntp, 1)
    }

    fn quic(&self, rng: &mut Rng, v6: bool, midway: bool) -> QuicSession {
        let ep = self.outbound(rng, v6, 443);
        let server_packets = if rng.chance(300) { rng.range(2, 10) } else { rng.pareto(8, self.max_segments) };
        QuicSession {
            ep,
            step: if midway { QuicStep::Data } else { QuicStep::ClientInitial },
            server_left: server_packets.max(1),
            since_ack: 0,
            ack_every: rng.range(2, 4) as u8,
            close: rng.chance(600),
        }
    }

    fn echo(&self, rng: &mut Rng, v6: bool) -> EchoSession {
        let ep = self.outbound(rng, v6, 0);
        EchoSession {
            // Windows pings carry 32 bytes, Linux 56.
            payload: if ep.client_ttl == 128 { 32 } else { 56 },
            ep,
            id: rng.next_u64() as u16,
            seq: rng.below(4) as u16,
            left: rng.range(1, 8) as u8,
            answered: !rng.chance(100),
            reply_pending: false,
            done: false,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Flow {
    Tcp(TcpSession),
    Udp(UdpExchange),
    Quic(QuicSession),
    Echo(EchoSession),
}

impl Flow {
    fn next(&mut self, rng: &mut Rng) -> (FrameSpec, App) {
        match self {
            Flow::Tcp(f) => (f.next(rng), App::Filler),
            Flow::Udp(f) => f.next(rng),
            Flow::Quic(f) => (f.next(rng), App::Filler),
            Flow::Echo(f) => (f.next(), App::Filler),
        }
    }

    fn done(&self) -> bool {
        match self {
            Flow::Tcp(f) => f.step == TcpStep::Done,
            Flow::Udp(f) => f.done,
            Flow::Quic(f) => f.step == QuicStep::Done,
            Flow::Echo(f) => f.done,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TcpStep {
    Syn,
    SynAck,
    HandshakeAck,
    Data,
    /// The receiver acknowledges every second full segment.
    DelayedAck,
    /// The server refuses the connection (RST).
    Refused,
    /// FIN from the closer, FIN from the other side, last ACK.
    Close1,
    Close2,
    Close3,
    Reset,
    FinalAck,
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TcpEnd {
    ClientFin,
    ServerFin,
    ClientRst,
    /// Still open when its traffic stops (idle keep-alive).
    StaysOpen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SynAnswer {
    Accept,
    Refuse,
    /// Unanswered: the client retries, then gives up.
    Silent,
}

/// A TCP connection: handshake, request/response rounds, then FIN, RST or nothing.
#[derive(Clone, Copy, Debug)]
struct TcpSession {
    ep: Endpoints,
    /// Next sequence number of each side.
    seq: [u32; 2],
    window: [u16; 2],
    mss: u32,
    step: TcpStep,
    answer: SynAnswer,
    syn_retries: u8,
    rounds_left: u16,
    sender: Side,
    msg_left: u32,
    unacked: u8,
    upload: bool,
    end: TcpEnd,
    max_bytes: u32,
}

impl TcpSession {
    fn new(ep: Endpoints, rng: &mut Rng, max_segments: u32, midway: bool) -> TcpSession {
        // No window scaling is negotiated, so only unscaled values.
        const WINDOWS: [u16; 6] = [64240, 65535, 29200, 32768, 16384, 8192];
        let mss = if ep.v6() { 1440 } else { 1460 };
        let answer = match rng.below(1000) {
            0..=24 => SynAnswer::Refuse,
            25..=39 => SynAnswer::Silent,
            _ => SynAnswer::Accept,
        };
        let end = match rng.below(100) {
            0..=69 => TcpEnd::ClientFin,
            70..=84 => TcpEnd::ServerFin,
            85..=94 => TcpEnd::ClientRst,
            _ => TcpEnd::StaysOpen,
        };
        let mut rounds = 1;
        while rounds < 30 && rng.chance(450) {
            rounds += 1;
        }
        let mut s = TcpSession {
            ep,
            seq: [rng.next_u64() as u32, rng.next_u64() as u32],
            window: [WINDOWS[rng.below(6) as usize], WINDOWS[rng.below(6) as usize]],
            mss,
            step: TcpStep::Syn,
            answer,
            syn_retries: 2,
            rounds_left: rounds,
            sender: Side::Client,
            msg_left: 0,
            unacked: 0,
            upload: false,
            end,
            max_bytes: max_segments.saturating_mul(mss),
        };
        if midway && answer == SynAnswer::Accept {
            s.start_round(rng);
            s.step = TcpStep::Data;
        }
        s
    }

    fn start_round(&mut self, rng: &mut Rng) {
        self.sender = Side::Client;
        self.upload = rng.chance(80);
        self.msg_left = if self.upload { rng.pareto(4000, self.max_bytes) } else { rng.range(80, 1100) };
    }

    fn segment(&mut self, from: Side, flags: u8, len: u32) -> FrameSpec {
        let to = from.other() as usize;
        let ack = if flags & tcp_flags::ACK != 0 { self.seq[to] } else { 0 };
        let (sport, dport) = self.ep.ports(from);
        let seq = self.seq[from as usize];
        let l4 = L4::Tcp { sport, dport, seq, ack, flags, window: self.window[from as usize] };
        let consumed = len + (flags & (tcp_flags::SYN | tcp_flags::FIN) != 0) as u32;
        self.seq[from as usize] = seq.wrapping_add(consumed);
        self.ep.spec(from, l4, len)
    }

    fn closer(&self) -> Side {
        if self.end == TcpEnd::ServerFin {
            Side::Server
        } else {
            Side::Client
        }
    }

    fn next(&mut self, rng: &mut Rng) -> FrameSpec {
        use tcp_flags::{ACK, FIN, PSH, RST, SYN};
        match self.step {
            TcpStep::Syn => {
                // The SYN's sequence number is consumed only once it is answered.
                let (sport, dport) = self.ep.ports(Side::Client);
                let window = self.window[0];
                let l4 = L4::Tcp { sport, dport, seq: self.seq[0], ack: 0, flags: SYN, window };
                self.step = match self.answer {
                    SynAnswer::Accept => TcpStep::SynAck,
                    SynAnswer::Refuse => TcpStep::Refused,
                    SynAnswer::Silent if self.syn_retries > 0 => {
                        self.syn_retries -= 1;
                        TcpStep::Syn
                    }
                    SynAnswer::Silent => TcpStep::Done,
                };
                self.ep.spec(Side::Client, l4, 0)
            }
            TcpStep::SynAck => {
                self.seq[0] = self.seq[0].wrapping_add(1);
                self.step = TcpStep::HandshakeAck;
                self.segment(Side::Server, SYN | ACK, 0)
            }
            TcpStep::HandshakeAck => {
                self.start_round(rng);
                self.step = TcpStep::Data;
                self.segment(Side::Client, ACK, 0)
            }
            TcpStep::Refused => {
                self.step = TcpStep::Done;
                let (sport, dport) = self.ep.ports(Side::Server);
                let ack = self.seq[0].wrapping_add(1);
                let l4 = L4::Tcp { sport, dport, seq: 0, ack, flags: RST | ACK, window: 0 };
                self.ep.spec(Side::Server, l4, 0)
            }
            TcpStep::Data => {
                let len = self.msg_left.min(self.mss);
                self.msg_left -= len;
                let last = self.msg_left == 0;
                let spec = self.segment(self.sender, if last { ACK | PSH } else { ACK }, len);
                if last {
                    self.unacked = 0;
                    self.message_done(rng);
                } else {
                    self.unacked += 1;
                    if self.unacked >= 2 {
                        self.step = TcpStep::DelayedAck;
                    }
                }
                spec
            }
            TcpStep::DelayedAck => {
                self.unacked = 0;
                self.step = TcpStep::Data;
                self.segment(self.sender.other(), ACK, 0)
            }
            TcpStep::Close1 => {
                self.step = TcpStep::Close2;
                self.segment(self.closer(), FIN | ACK, 0)
            }
            TcpStep::Close2 => {
                self.step = TcpStep::Close3;
                self.segment(self.closer().other(), FIN | ACK, 0)
            }
            TcpStep::Close3 => {
                self.step = TcpStep::Done;
                self.segment(self.closer(), ACK, 0)
            }
            TcpStep::Reset => {
                self.step = TcpStep::Done;
                self.segment(Side::Client, RST | ACK, 0)
            }
            TcpStep::FinalAck | TcpStep::Done => {
                self.step = TcpStep::Done;
                self.segment(Side::Client, ACK, 0)
            }
        }
    }

    fn message_done(&mut self, rng: &mut Rng) {
        match self.sender {
            Side::Client => {
                self.sender = Side::Server;
                self.msg_left = if self.upload {
                    rng.range(40, 400)
                } else if rng.chance(300) {
                    rng.range(100, 900) // redirects, 304s, small API answers
                } else {
                    rng.pareto(1200, self.max_bytes)
                };
            }
            Side::Server => {
                self.rounds_left = self.rounds_left.saturating_sub(1);
                if self.rounds_left > 0 {
                    self.start_round(rng);
                } else {
                    self.step = match self.end {
                        TcpEnd::ClientFin | TcpEnd::ServerFin => TcpStep::Close1,
                        TcpEnd::ClientRst => TcpStep::Reset,
                        TcpEnd::StaysOpen => TcpStep::FinalAck,
                    };
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UdpKind {
    Dns,
    Ntp,
}

/// Request/response over UDP: DNS lookups, NTP polls.
#[derive(Clone, Copy, Debug)]
struct UdpExchange {
    ep: Endpoints,
    kind: UdpKind,
    transactions_left: u8,
    /// The query awaiting its response.
    query: DnsMessage,
    reply_pending: bool,
    done: bool,
}

impl UdpExchange {
    fn new(ep: Endpoints, kind: UdpKind, transactions: u8) -> UdpExchange {
        UdpExchange {
            ep,
            kind,
            transactions_left: transactions,
            query: DnsMessage::default(),
            reply_pending: false,
            done: false,
        }
    }

    fn finish_transaction(&mut self) {
        self.transactions_left = self.transactions_left.saturating_sub(1);
        self.done = self.transactions_left == 0;
    }

    fn next(&mut self, rng: &mut Rng) -> (FrameSpec, App) {
        if self.reply_pending {
            self.reply_pending = false;
            self.finish_transaction();
            let app = match self.kind {
                UdpKind::Dns => App::Dns(self.query.answer(rng)),
                UdpKind::Ntp => App::Ntp { server: true },
            };
            return (self.ep.spec(Side::Server, self.ep.udp(Side::Server), 0), app);
        }
        let app = match self.kind {
            UdpKind::Dns => {
                self.query = DnsMessage::query(rng);
                App::Dns(self.query)
            }
            UdpKind::Ntp => App::Ntp { server: false },
        };
        let loss = match self.kind {
            UdpKind::Dns => 30,
            UdpKind::Ntp => 20,
        };
        if rng.chance(loss) {
            self.finish_transaction();
        } else {
            self.reply_pending = true;
        }
        let mut spec = self.ep.spec(Side::Client, self.ep.udp(Side::Client), 0);
        spec.dont_fragment = false;
        (spec, app)
    }
}

/// The payload of a packet: filler, or a real application message.
#[derive(Clone, Copy, Debug)]
enum App {
    Filler,
    Dns(DnsMessage),
    Ntp { server: bool },
}

const DNS_HOST_LABELS: [&str; 20] = [
    "www",
    "api",
    "cdn",
    "mail",
    "login",
    "static",
    "img",
    "update",
    "telemetry",
    "sync",
    "auth",
    "ws",
    "ocsp",
    "time",
    "video",
    "docs",
    "drive",
    "chat",
    "push",
    "files",
];
/// Reserved names only (RFC 2606, RFC 6761).
const DNS_ZONES: [[&str; 2]; 8] = [
    ["example", "com"],
    ["example", "net"],
    ["example", "org"],
    ["corp", "example"],
    ["cloud", "example"],
    ["vendor", "test"],
    ["cdn", "example"],
    ["saas", "test"],
];
const DNS_TYPE_A: u16 = 1;
const DNS_TYPE_AAAA: u16 = 28;
const DNS_TYPE_HTTPS: u16 = 65;
const DNS_TYPE_OPT: u16 = 41;

/// A DNS query or its response: one question, address answers, optional EDNS.
#[derive(Clone, Copy, Debug, Default)]
struct DnsMessage {
    id: u16,
    /// Index into the synthetic name space (popular names have low indexes).
    name: u16,
    qtype: u16,
    edns: bool,
    response: bool,
    rcode: u8,
    answers: u8,
    ttl: u32,
    /// Selects the answer addresses.
    addr_seed: u16,
}

impl DnsMessage {
    fn query(rng: &mut Rng) -> DnsMessage {
        let u = rng.unit();
        DnsMessage {
            id: rng.next_u64() as u16,
            name: (u * u * u * 2000.0) as u16,
            qtype: weighted(rng, &[(DNS_TYPE_A, 550), (DNS_TYPE_AAAA, 350)], DNS_TYPE_HTTPS),
            edns: rng.chance(600),
            ..DnsMessage::default()
        }
    }

    fn answer(&self, rng: &mut Rng) -> DnsMessage {
        let nxdomain = rng.chance(40);
        let answers = match self.qtype {
            _ if nxdomain => 0,
            DNS_TYPE_A => rng.range(1, 4),
            DNS_TYPE_AAAA => rng.range(1, 2),
            _ => 0, // HTTPS records mostly absent: NODATA
        } as u8;
        DnsMessage {
            response: true,
            rcode: if nxdomain { 3 } else { 0 },
            answers,
            ttl: rng.range(30, 3600),
            addr_seed: rng.next_u64() as u16,
            ..*self
        }
    }

    fn write_name(&self, out: &mut Vec<u8>) {
        let host = DNS_HOST_LABELS[self.name as usize % DNS_HOST_LABELS.len()].as_bytes();
        let zone = DNS_ZONES[(self.name as usize / DNS_HOST_LABELS.len()) % DNS_ZONES.len()];
        let number = self.name as usize / (DNS_HOST_LABELS.len() * DNS_ZONES.len());
        // "cdn", "cdn1", "cdn12": the host label carries the number.
        let mut digits = [0u8; 5];
        let mut n = number;
        let mut count = 0;
        while n > 0 && count < digits.len() {
            digits[count] = b'0' + (n % 10) as u8;
            n /= 10;
            count += 1;
        }
        out.push((host.len() + count) as u8);
        out.extend_from_slice(host);
        out.extend(digits[..count].iter().rev());
        for label in zone {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
    }

    fn write(&self, out: &mut Vec<u8>) {
        let flags: u16 = if self.response { 0x8180 | self.rcode as u16 } else { 0x0100 };
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&(self.answers as u16).to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&(self.edns as u16).to_be_bytes());
        self.write_name(out);
        out.extend_from_slice(&self.qtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // IN
        for k in 0..self.answers as u16 {
            out.extend_from_slice(&[0xc0, 12]); // pointer to the question's name
            out.extend_from_slice(&self.qtype.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&self.ttl.to_be_bytes());
            let host = self.addr_seed.wrapping_add(k);
            if self.qtype == DNS_TYPE_AAAA {
                out.extend_from_slice(&16u16.to_be_bytes());
                out.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0xd, 0, 0, 0, host).octets());
            } else {
                out.extend_from_slice(&4u16.to_be_bytes());
                let [hi, lo] = host.to_be_bytes();
                out.extend_from_slice(&[198, 18, 64 | (hi & 0x3f), lo]);
            }
        }
        if self.edns {
            out.push(0); // root name
            out.extend_from_slice(&DNS_TYPE_OPT.to_be_bytes());
            out.extend_from_slice(&1232u16.to_be_bytes()); // UDP payload size
            out.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // extended rcode, version, flags, no data
        }
    }
}

/// An NTPv4 client request or server reply stamped with the packet's time.
fn write_ntp(server: bool, ts_ns: u64, out: &mut Vec<u8>) {
    const UNIX_TO_NTP_SECS: u64 = 2_208_988_800;
    let ntp_time = |ns: u64| -> [u8; 8] {
        let secs = (ns / 1_000_000_000 + UNIX_TO_NTP_SECS) as u32;
        let frac = (((ns % 1_000_000_000) << 32) / 1_000_000_000) as u32;
        ((secs as u64) << 32 | frac as u64).to_be_bytes()
    };
    if server {
        // LI 0, version 4, mode 4; stratum 2, poll 6, precision 2^-23.
        out.extend_from_slice(&[0x24, 2, 6, 0xe9]);
        out.extend_from_slice(&0x0000_0a3du32.to_be_bytes()); // root delay
        out.extend_from_slice(&0x0000_1234u32.to_be_bytes()); // root dispersion
        out.extend_from_slice(&[192, 0, 2, 123]); // reference id: the upstream server
        out.extend_from_slice(&ntp_time(ts_ns.saturating_sub(32_000_000_000)));
        out.extend_from_slice(&ntp_time(ts_ns.saturating_sub(20_000_000)));
        out.extend_from_slice(&ntp_time(ts_ns.saturating_sub(1_000_000)));
        out.extend_from_slice(&ntp_time(ts_ns.saturating_sub(900_000)));
    } else {
        out.extend_from_slice(&[0x23, 0, 6, 0xe9]);
        out.extend_from_slice(&[0; 36]);
        out.extend_from_slice(&ntp_time(ts_ns));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QuicStep {
    ClientInitial,
    ServerInitial,
    ServerHandshake,
    ClientFinished,
    Data,
    Close,
    Done,
}

/// QUIC-like UDP/443: padded Initials, then mostly full-size server packets with small client
/// acknowledgements.
#[derive(Clone, Copy, Debug)]
struct QuicSession {
    ep: Endpoints,
    step: QuicStep,
    server_left: u32,
    since_ack: u8,
    ack_every: u8,
    close: bool,
}

impl QuicSession {
    fn next(&mut self, rng: &mut Rng) -> FrameSpec {
        let full = if self.ep.v6() { 1330 } else { 1350 };
        let (from, len) = match self.step {
            QuicStep::ClientInitial => {
                self.step = QuicStep::ServerInitial;
                (Side::Client, rng.range(1200, 1250))
            }
            QuicStep::ServerInitial => {
                self.step = QuicStep::ServerHandshake;
                (Side::Server, rng.range(1200, 1250))
            }
            QuicStep::ServerHandshake => {
                self.step = QuicStep::ClientFinished;
                (Side::Server, rng.range(300, 1200))
            }
            QuicStep::ClientFinished => {
                self.step = QuicStep::Data;
                (Side::Client, rng.range(80, 160))
            }
            QuicStep::Data if self.since_ack >= self.ack_every => {
                self.since_ack = 0;
                (Side::Client, rng.range(25, 50))
            }
            QuicStep::Data if rng.chance(20) => (Side::Client, rng.range(60, 400)),
            QuicStep::Data => {
                self.since_ack += 1;
                self.server_left = self.server_left.saturating_sub(1);
                if self.server_left == 0 {
                    self.step = if self.close { QuicStep::Close } else { QuicStep::Done };
                }
                (Side::Server, rng.range(full - 150, full))
            }
            QuicStep::Close | QuicStep::Done => {
                self.step = QuicStep::Done;
                (Side::Client, rng.range(30, 60))
            }
        };
        self.ep.spec(from, self.ep.udp(from), len)
    }
}

/// Ping: echo requests, each answered unless the target is down.
#[derive(Clone, Copy, Debug)]
struct EchoSession {
    ep: Endpoints,
    id: u16,
    seq: u16,
    left: u8,
    answered: bool,
    reply_pending: bool,
    payload: u32,
    done: bool,
}

impl EchoSession {
    fn next(&mut self) -> FrameSpec {
        let v6 = self.ep.v6();
        if self.reply_pending {
            self.reply_pending = false;
            self.left = self.left.saturating_sub(1);
            self.done = self.left == 0;
            return self.ep.spec(Side::Server, L4::echo_reply(v6, self.id, self.seq), self.payload);
        }
        self.seq = self.seq.wrapping_add(1);
        if self.answered {
            self.reply_pending = true;
        } else {
            self.left = self.left.saturating_sub(1);
            self.done = self.left == 0;
        }
        self.ep.spec(Side::Client, L4::echo_request(v6, self.id, self.seq), self.payload)
    }
}

/// The elephant: a backup pushing full segments to an rsync server for most of the capture.
#[derive(Clone, Copy, Debug)]
struct HeavyFlow {
    ep: Endpoints,
    total: u64,
    sent: u64,
    seq: [u32; 2],
}

impl HeavyFlow {
    /// Handshake, one data/ack cycle, four-way close.
    const MIN_PACKETS: u64 = 10;

    fn new(rng: &mut Rng, total: u64) -> HeavyFlow {
        let ep = Endpoints {
            client: IpAddr::V4(HEAVY_CLIENT),
            server: IpAddr::V4(HEAVY_SERVER),
            client_mac: internal_mac(HEAVY_CLIENT),
            server_mac: GATEWAY_MAC,
            vlans: DMZ_VLAN,
            client_ttl: 64,
            server_ttl: 53,
            client_port: rng.range(40000, 60000) as u16,
            server_port: HEAVY_PORT,
            ip_id: [rng.next_u64() as u16, rng.next_u64() as u16],
        };
        HeavyFlow { ep, total, sent: 0, seq: [rng.next_u64() as u32, rng.next_u64() as u32] }
    }

    fn segment(&mut self, from: Side, flags: u8, len: u32) -> FrameSpec {
        let (sport, dport) = self.ep.ports(from);
        let seq = self.seq[from as usize];
        let ack = if flags & tcp_flags::ACK != 0 { self.seq[from.other() as usize] } else { 0 };
        let consumed = len + (flags & (tcp_flags::SYN | tcp_flags::FIN) != 0) as u32;
        self.seq[from as usize] = seq.wrapping_add(consumed);
        self.ep.spec(from, L4::Tcp { sport, dport, seq, ack, flags, window: 64240 }, len)
    }

    fn next(&mut self) -> FrameSpec {
        use tcp_flags::{ACK, FIN, PSH, SYN};
        let j = self.sent;
        self.sent += 1;
        let from_end = self.total.saturating_sub(j + 1);
        match (j, from_end) {
            (0, _) => self.segment(Side::Client, SYN, 0),
            (1, _) => self.segment(Side::Server, SYN | ACK, 0),
            (2, _) => self.segment(Side::Client, ACK, 0),
            (_, 3) => self.segment(Side::Client, FIN | ACK, 0),
            (_, 2) => self.segment(Side::Server, ACK, 0),
            (_, 1) => self.segment(Side::Server, FIN | ACK, 0),
            (_, 0) => self.segment(Side::Client, ACK, 0),
            _ => match (j - 3) % 3 {
                0 => self.segment(Side::Client, ACK, 1460),
                1 => self.segment(Side::Client, ACK | PSH, 1460),
                _ => self.segment(Side::Server, ACK, 0),
            },
        }
    }
}

/// SYN sweep of 10.0.0.0/16 in a keyed random order, a few service ports; some targets answer
/// RST, a few SYN-ACK (then the scanner resets), most stay silent.
#[derive(Clone, Copy, Debug)]
struct Scanner {
    key: u64,
    targets: u32,
    /// Targets whose SYN has been sent.
    probed: u32,
    /// Replies still due for the current target.
    step: ScanStep,
    sport: u16,
    ip_id: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScanStep {
    Probe,
    RstReply,
    SynAckReply,
    ScannerRst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScanReply {
    Silent,
    Rst,
    SynAck,
}

impl Scanner {
    /// Addresses of 10.0.0.0/16 but the network and broadcast ones.
    const MAX_TARGETS: u32 = 65534;

    fn new(key: u64, targets: u32) -> Scanner {
        Scanner { key, targets, probed: 0, step: ScanStep::Probe, sport: 40000 + (key % 20000) as u16, ip_id: 0 }
    }

    fn reply(&self, t: u32) -> ScanReply {
        match mix64(self.key ^ t as u64) % 100 {
            0..=21 => ScanReply::Rst,
            22..=24 => ScanReply::SynAck,
            _ => ScanReply::Silent,
        }
    }

    fn planned_packets(&self) -> u64 {
        (0..self.targets)
            .map(|t| match self.reply(t) {
                ScanReply::Silent => 1,
                ScanReply::Rst => 2,
                ScanReply::SynAck => 3,
            })
            .sum()
    }

    /// Target `t`'s address: a keyed permutation of 1..=65534, cycle-walked to skip .0.0 and
    /// .255.255, so targets are all distinct.
    fn target(&self, t: u32) -> Ipv4Addr {
        let mut v = perm16((t + 1) as u16, self.key);
        for _ in 0..u16::MAX {
            if v != 0 && v != u16::MAX {
                break;
            }
            v = perm16(v, self.key);
        }
        Ipv4Addr::new(10, 0, (v >> 8) as u8, v as u8)
    }

    fn next(&mut self) -> FrameSpec {
        use tcp_flags::{ACK, RST, SYN};
        let t = self.probed.saturating_sub((self.step != ScanStep::Probe) as u32);
        let target = self.target(t);
        let hash = mix64(self.key.rotate_left(17) ^ t as u64);
        let dport = SCAN_PORTS[(hash % SCAN_PORTS.len() as u64) as usize];
        let probe_seq = (hash >> 32) as u32;
        let target_seq = hash as u32;
        let (from_scanner, seq, ack, flags, len_window) = match self.step {
            ScanStep::Probe => {
                self.probed += 1;
                self.step = match self.reply(t) {
                    ScanReply::Silent => ScanStep::Probe,
                    ScanReply::Rst => ScanStep::RstReply,
                    ScanReply::SynAck => ScanStep::SynAckReply,
                };
                (true, probe_seq, 0, SYN, 1024)
            }
            ScanStep::RstReply => {
                self.step = ScanStep::Probe;
                (false, 0, probe_seq.wrapping_add(1), RST | ACK, 0)
            }
            ScanStep::SynAckReply => {
                self.step = ScanStep::ScannerRst;
                (false, target_seq, probe_seq.wrapping_add(1), SYN | ACK, 64240)
            }
            ScanStep::ScannerRst => {
                self.step = ScanStep::Probe;
                (true, probe_seq.wrapping_add(1), 0, RST, 0)
            }
        };
        let (scanner_port, target_port) = (self.sport, dport);
        let l4 = if from_scanner {
            L4::Tcp { sport: scanner_port, dport: target_port, seq, ack, flags, window: len_window }
        } else {
            L4::Tcp { sport: target_port, dport: scanner_port, seq, ack, flags, window: len_window }
        };
        let (src, dst) = if from_scanner { (SCANNER, target) } else { (target, SCANNER) };
        let target_mac = {
            let [_, _, c, d] = target.octets();
            [0x02, 0x1b, 0x21, 0xfd, c, d]
        };
        let (src_mac, dst_mac) = if from_scanner { (GATEWAY_MAC, target_mac) } else { (target_mac, GATEWAY_MAC) };
        self.ip_id = self.ip_id.wrapping_add(1);
        FrameSpec {
            dst_mac,
            src_mac,
            vlans: VlanStack::NONE,
            src: IpAddr::V4(src),
            dst: IpAddr::V4(dst),
            ttl: if from_scanner {
                49
            } else if hash & 0x100 == 0 {
                64
            } else {
                128
            },
            // Scanners pick a random IP ID per probe.
            ip_id: if from_scanner { (hash >> 16) as u16 } else { self.ip_id },
            dont_fragment: !from_scanner,
            tos: 0,
            l4,
            payload_len: 0,
            payload_seed: 0,
            pad_to_min: true,
        }
    }
}

/// UDP flood at one DMZ server from spoofed sources in 198.19.0.0/16, cycling through them.
#[derive(Clone, Copy, Debug)]
struct Flood {
    key: u64,
    sources: u32,
    sent: u64,
}

impl Flood {
    fn next(&mut self, rng: &mut Rng) -> FrameSpec {
        let k = (self.sent % self.sources.max(1) as u64) as u16;
        self.sent += 1;
        let v = perm16(k, self.key);
        let src = Ipv4Addr::new(198, 19, (v >> 8) as u8, v as u8);
        let hash = mix64(self.key ^ k as u64);
        let l4 = L4::Udp { sport: rng.range(1024, 65535) as u16, dport: rng.range(1, 65535) as u16 };
        FrameSpec {
            dst_mac: internal_mac(FLOOD_VICTIM),
            src_mac: GATEWAY_MAC,
            vlans: DMZ_VLAN,
            src: IpAddr::V4(src),
            dst: IpAddr::V4(FLOOD_VICTIM),
            ttl: 40 + (hash % 200) as u8,
            ip_id: rng.next_u64() as u16,
            dont_fragment: false,
            tos: 0,
            l4,
            payload_len: [64, 128, 256, 512][(hash >> 8) as usize % 4],
            payload_seed: 0,
            pad_to_min: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn config(packets: u64, seed: u64) -> TrafficConfig {
        TrafficConfig { packets, seed, ..TrafficConfig::default() }
    }

    fn generate_with_chunks(cfg: TrafficConfig, chunk: u64) -> (Vec<u8>, TrafficTruth) {
        let mut g = TrafficGenerator::new(cfg);
        let mut out = Vec::new();
        while g.next_chunk(chunk, &mut out) > 0 {}
        (out, g.truth().clone())
    }

    struct Record<'a> {
        ts: u64,
        wire: u32,
        data: &'a [u8],
    }

    /// Splits a pcap image into records, checking the file and record headers.
    fn records(file: &[u8]) -> (u32, Vec<Record<'_>>) {
        let le32 = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        assert_eq!(file[0..8], [0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0], "magic and version");
        assert_eq!(le32(file, 8), 0);
        assert_eq!(le32(file, 12), 0);
        let snaplen = le32(file, 16);
        assert_eq!(le32(file, 20), 1, "LINKTYPE_ETHERNET");
        let mut pos = 24;
        let mut out = Vec::new();
        while pos < file.len() {
            let (secs, nanos, cap, wire) =
                (le32(file, pos), le32(file, pos + 4), le32(file, pos + 8), le32(file, pos + 12));
            assert!(nanos < 1_000_000_000);
            assert!(cap <= wire && cap <= snaplen, "caplen {cap} wire {wire} snaplen {snaplen}");
            let data = &file[pos + 16..pos + 16 + cap as usize];
            out.push(Record { ts: secs as u64 * 1_000_000_000 + nanos as u64, wire, data });
            pos += 16 + cap as usize;
        }
        assert_eq!(pos, file.len());
        (snaplen, out)
    }

    /// RFC 1071 with a plain 16-bit loop: the sum over a correct header plus its checksum.
    fn ones_sum(parts: &[&[u8]]) -> u16 {
        let mut sum = 0u64;
        for part in parts {
            for (i, b) in part.iter().enumerate() {
                sum += if i % 2 == 0 { (*b as u64) << 8 } else { *b as u64 };
            }
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Packet {
        vlans: [u16; 2],
        tags: usize,
        qinq: bool,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        sport: u16,
        dport: u16,
        flags: u8,
        seq: u32,
        ack: u32,
        payload: usize,
        padded: bool,
    }

    /// Parses one whole frame by hand and checks every length and checksum.
    fn check(frame: &[u8]) -> Packet {
        let be16 = |at: usize| u16::from_be_bytes([frame[at], frame[at + 1]]);
        let be32 = |at: usize| u32::from_be_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]]);
        assert!(frame.len() >= 60, "runt frame of {} bytes", frame.len());
        assert!(frame.len() <= 1522);
        let mut at = 12;
        let mut vlans = [0u16; 2];
        let mut tags = 0;
        let mut qinq = false;
        loop {
            match be16(at) {
                0x88a8 if tags == 0 => qinq = true,
                0x8100 => {}
                _ => break,
            }
            assert!(tags < 2, "too many tags");
            vlans[tags] = be16(at + 2) & 0x0fff;
            tags += 1;
            at += 4;
        }
        assert!(!qinq || tags == 2, "S-tag without C-tag");
        let ethertype = be16(at);
        let ip = at + 2;
        let (src, dst, proto, l4, ip_end, pseudo): (IpAddr, IpAddr, u8, usize, usize, Vec<u8>) = match ethertype {
            0x0800 => {
                assert_eq!(frame[ip], 0x45);
                let total = be16(ip + 2) as usize;
                assert!(ip + total <= frame.len() && total >= 20);
                assert_eq!(ones_sum(&[&frame[ip..ip + 20]]), 0xffff, "IPv4 header checksum");
                assert_eq!(be16(ip + 6) & 0xbfff, 0, "only DF may be set");
                let src = Ipv4Addr::new(frame[ip + 12], frame[ip + 13], frame[ip + 14], frame[ip + 15]);
                let dst = Ipv4Addr::new(frame[ip + 16], frame[ip + 17], frame[ip + 18], frame[ip + 19]);
                let proto = frame[ip + 9];
                let mut pseudo = frame[ip + 12..ip + 20].to_vec();
                pseudo.extend_from_slice(&[0, proto]);
                pseudo.extend_from_slice(&((total - 20) as u16).to_be_bytes());
                (IpAddr::V4(src), IpAddr::V4(dst), proto, ip + 20, ip + total, pseudo)
            }
            0x86dd => {
                assert_eq!(frame[ip] >> 4, 6);
                let plen = be16(ip + 4) as usize;
                assert!(ip + 40 + plen <= frame.len());
                let src: [u8; 16] = frame[ip + 8..ip + 24].try_into().unwrap();
                let dst: [u8; 16] = frame[ip + 24..ip + 40].try_into().unwrap();
                let proto = frame[ip + 6];
                let mut pseudo = frame[ip + 8..ip + 40].to_vec();
                pseudo.extend_from_slice(&(plen as u32).to_be_bytes());
                pseudo.extend_from_slice(&[0, 0, 0, proto]);
                (IpAddr::V6(src.into()), IpAddr::V6(dst.into()), proto, ip + 40, ip + 40 + plen, pseudo)
            }
            other => panic!("unexpected ethertype {other:#06x}"),
        };
        // Padding only up to the 60-byte minimum, and zero.
        let padded = frame.len() > ip_end;
        if padded {
            assert_eq!(frame.len(), 60, "trailing bytes beyond the minimum frame");
            assert!(frame[ip_end..].iter().all(|&b| b == 0));
        }
        let seg = &frame[l4..ip_end];
        let mut p = Packet {
            vlans,
            tags,
            qinq,
            src,
            dst,
            proto,
            sport: 0,
            dport: 0,
            flags: 0,
            seq: 0,
            ack: 0,
            payload: 0,
            padded,
        };
        match (proto, src.is_ipv6()) {
            (6, _) => {
                assert!(seg.len() >= 20);
                assert_eq!(seg[12], 0x50, "data offset 5");
                assert_eq!(ones_sum(&[&pseudo, seg]), 0xffff, "TCP checksum");
                (p.sport, p.dport, p.seq, p.ack, p.flags) =
                    (be16(l4), be16(l4 + 2), be32(l4 + 4), be32(l4 + 8), seg[13]);
                p.payload = seg.len() - 20;
            }
            (17, _) => {
                assert_eq!(be16(l4 + 4) as usize, seg.len(), "UDP length");
                assert_ne!(be16(l4 + 6), 0, "UDP checksum present");
                assert_eq!(ones_sum(&[&pseudo, seg]), 0xffff, "UDP checksum");
                (p.sport, p.dport) = (be16(l4), be16(l4 + 2));
                p.payload = seg.len() - 8;
            }
            (1, false) => {
                assert!(seg[0] == 0 || seg[0] == 8, "ICMP echo type");
                assert_eq!(ones_sum(&[seg]), 0xffff, "ICMP checksum");
                p.payload = seg.len() - 8;
            }
            (58, true) => {
                assert!(seg[0] == 128 || seg[0] == 129, "ICMPv6 echo type");
                assert_eq!(ones_sum(&[&pseudo, seg]), 0xffff, "ICMPv6 checksum");
                p.payload = seg.len() - 8;
            }
            other => panic!("unexpected protocol {other:?}"),
        }
        p
    }

    fn parse_all(file: &[u8]) -> Vec<(u64, u32, Packet)> {
        let (_, recs) = records(file);
        recs.iter()
            .map(|r| {
                assert_eq!(r.data.len(), r.wire as usize);
                (r.ts, r.wire, check(r.data))
            })
            .collect()
    }

    fn bidirectional(p: &Packet) -> (IpAddr, u16, IpAddr, u16, u8) {
        if (p.src, p.sport) <= (p.dst, p.dport) {
            (p.src, p.sport, p.dst, p.dport, p.proto)
        } else {
            (p.dst, p.dport, p.src, p.sport, p.proto)
        }
    }

    #[test]
    fn every_frame_is_well_formed() {
        let (file, _) = generate_with_chunks(config(50_000, 7), 4096);
        let packets = parse_all(&file);
        assert_eq!(packets.len(), 50_000);
        // The variety the decoder tests rely on is all there.
        let has = |f: &dyn Fn(&Packet) -> bool| packets.iter().any(|(_, _, p)| f(p));
        assert!(has(&|p| p.tags == 0));
        assert!(has(&|p| p.tags == 1 && p.vlans[0] == 10));
        assert!(has(&|p| p.tags == 1 && p.vlans[0] == 20));
        assert!(has(&|p| p.qinq && p.vlans == [100, 40]));
        assert!(has(&|p| p.padded));
        assert!(has(&|p| p.proto == 1));
        assert!(has(&|p| p.proto == 58));
        assert!(has(&|p| p.proto == 17 && p.src.is_ipv6()));
        assert!(has(&|p| p.proto == 6 && p.src.is_ipv6() && p.payload == 1440));
        assert!(has(&|p| p.proto == 6 && p.payload == 1460));
    }

    #[test]
    fn small_captures_are_well_formed_too() {
        for packets in [1, 2, 9, 10, 11, 150, 999, 5000] {
            let (file, truth) = generate_with_chunks(config(packets, packets), 3);
            assert_eq!(parse_all(&file).len() as u64, packets);
            assert_eq!(truth.packets, packets);
        }
    }

    #[test]
    fn same_seed_same_bytes_whatever_the_chunking() {
        let (a, truth_a) = generate_with_chunks(config(30_000, 42), 1 << 16);
        let mut g = TrafficGenerator::new(config(30_000, 42));
        let mut b = Vec::new();
        let mut sizes = [1u64, 7, 1000, 0, 333].iter().cycle();
        while !g.is_finished() {
            g.next_chunk(*sizes.next().unwrap(), &mut b);
        }
        assert_eq!(g.next_chunk(10, &mut b), 0);
        assert!(a == b, "chunking changed the bytes");
        assert_eq!(&truth_a, g.truth());
        let (c, _) = generate_with_chunks(config(30_000, 43), 1 << 16);
        assert!(a != c, "seed had no effect");
    }

    #[test]
    fn truth_matches_what_was_written() {
        let (file, truth) = generate_with_chunks(config(100_000, 3), 10_000);
        let packets = parse_all(&file);
        let count = |f: &dyn Fn(&Packet) -> bool| packets.iter().filter(|(_, _, p)| f(p)).count() as u64;
        assert_eq!(truth.packets, packets.len() as u64);
        assert_eq!(truth.bytes, packets.iter().map(|(_, w, _)| *w as u64).sum::<u64>());
        assert_eq!(truth.captured_bytes, truth.bytes);
        assert_eq!(file.len() as u64, 24 + 16 * truth.packets + truth.captured_bytes);
        assert_eq!(truth.ipv6_packets, count(&|p| p.src.is_ipv6()));
        assert_eq!(truth.ipv4_packets, count(&|p| p.src.is_ipv4()));
        assert_eq!(truth.tcp_packets, count(&|p| p.proto == 6));
        assert_eq!(truth.udp_packets, count(&|p| p.proto == 17));
        assert_eq!(truth.icmp_packets, count(&|p| p.proto == 1 || p.proto == 58));
        assert_eq!(truth.vlan_packets, count(&|p| p.tags > 0));
        assert_eq!(truth.first_ts_ns, packets[0].0);
        assert_eq!(truth.last_ts_ns, packets[packets.len() - 1].0);
    }

    #[test]
    fn timestamps_are_ordered_and_spread_over_the_duration() {
        let cfg = config(100_000, 5);
        let (file, truth) = generate_with_chunks(cfg, 1 << 16);
        let (_, recs) = records(&file);
        assert!(recs.windows(2).all(|w| w[0].ts <= w[1].ts), "timestamps go backwards");
        let (start, end) = (cfg.start_ns, cfg.start_ns + cfg.duration_ns);
        assert!(truth.first_ts_ns >= start && truth.first_ts_ns < start + cfg.duration_ns / 100);
        assert!(truth.last_ts_ns <= end && truth.last_ts_ns > end - cfg.duration_ns / 50);
        // Load varies from second to second, but no second is empty.
        let mut per_second = vec![0u32; 60];
        for r in &recs {
            per_second[(((r.ts - start) / 1_000_000_000) as usize).min(59)] += 1;
        }
        let (lo, hi) = (*per_second.iter().min().unwrap(), *per_second.iter().max().unwrap());
        assert!(lo > 0 && hi > 2 * lo, "per-second counts {lo}..{hi}");
    }

    #[test]
    fn traffic_mix_looks_like_an_edge_link() {
        let (file, truth) = generate_with_chunks(config(200_000, 1), 1 << 16);
        let packets = parse_all(&file);
        let n = packets.len() as f64;
        let share = |k: u64| k as f64 / n;
        let count = |f: &dyn Fn(&Packet) -> bool| packets.iter().filter(|(_, _, p)| f(p)).count() as u64;
        let v6 = share(truth.ipv6_packets);
        let tcp = share(truth.tcp_packets);
        let udp = share(truth.udp_packets);
        let icmp = share(truth.icmp_packets);
        let vlan = share(truth.vlan_packets);
        let heavy = truth.heavy_bytes as f64 / truth.bytes as f64;
        println!("v6 {v6:.3} tcp {tcp:.3} udp {udp:.3} icmp {icmp:.3} vlan {vlan:.3} heavy bytes {heavy:.3}");
        println!("mean frame {:.0} bytes", truth.bytes as f64 / n);
        assert!((0.20..=0.30).contains(&v6), "IPv6 share {v6}");
        assert!((0.60..=0.80).contains(&tcp), "TCP share {tcp}");
        assert!((0.15..=0.35).contains(&udp), "UDP share {udp}");
        assert!((0.005..=0.04).contains(&icmp), "ICMP share {icmp}");
        assert!((0.30..=0.70).contains(&vlan), "VLAN share {vlan}");
        assert!((0.10..=0.15).contains(&heavy), "heavy byte share {heavy}");
        let syn = count(&|p| p.proto == 6 && p.flags == tcp_flags::SYN);
        let synack = count(&|p| p.proto == 6 && p.flags == tcp_flags::SYN | tcp_flags::ACK);
        let fin = count(&|p| p.proto == 6 && p.flags & tcp_flags::FIN != 0);
        let rst = count(&|p| p.proto == 6 && p.flags & tcp_flags::RST != 0);
        let dns = count(&|p| p.proto == 17 && (p.dport == 53 || p.sport == 53));
        let quic = count(&|p| p.proto == 17 && (p.dport == 443 || p.sport == 443));
        let ntp = count(&|p| p.proto == 17 && p.dport == 123);
        println!("syn {syn} synack {synack} fin {fin} rst {rst} dns {dns} quic {quic} ntp {ntp}");
        assert!(syn > 1000 && synack > 1000 && fin > 1000 && rst > 500);
        assert!(share(dns) > 0.02 && share(quic) > 0.05 && ntp > 50);
        let flows: HashSet<_> = packets.iter().map(|(_, _, p)| bidirectional(p)).collect();
        println!("{} bidirectional flows", flows.len());
        assert!(flows.len() > 5_000);
    }

    #[test]
    fn scanner_is_a_super_spreader() {
        let (file, truth) = generate_with_chunks(config(200_000, 11), 1 << 16);
        let packets = parse_all(&file);
        let mut fanout: HashMap<IpAddr, HashSet<IpAddr>> = HashMap::new();
        for (_, _, p) in &packets {
            fanout.entry(p.src).or_default().insert(p.dst);
        }
        let probes: HashSet<IpAddr> = packets
            .iter()
            .filter(|(_, _, p)| p.src == truth.scanner && p.flags == tcp_flags::SYN)
            .map(|(_, _, p)| p.dst)
            .collect();
        let scan_packets =
            packets.iter().filter(|(_, _, p)| p.src == truth.scanner || p.dst == truth.scanner).count() as u64;
        assert_eq!(truth.scan_targets, 2000);
        assert_eq!(probes.len(), 2000);
        assert_eq!(scan_packets, truth.scan_packets);
        assert!(probes.iter().all(|a| matches!(a, IpAddr::V4(v) if v.octets()[..2] == [10, 0])));
        let mut by_fanout: Vec<usize> = fanout.values().map(|d| d.len()).collect();
        by_fanout.sort_unstable();
        let mut top: Vec<_> = fanout.iter().map(|(a, d)| (d.len(), *a)).collect();
        top.sort_unstable();
        println!("top fan-out {:?}", &top[top.len() - 5..]);
        let scanner_fanout = fanout[&truth.scanner].len();
        assert_eq!(scanner_fanout, by_fanout[by_fanout.len() - 1]);
        assert!(scanner_fanout > 2 * by_fanout[by_fanout.len() - 2], "scanner does not stand out");
        // Most probes go unanswered.
        let replies = packets.iter().filter(|(_, _, p)| p.dst == truth.scanner).count();
        assert!(replies > 300 && replies < 800, "{replies} replies");
    }

    #[test]
    fn heavy_flow_is_the_largest() {
        let (file, truth) = generate_with_chunks(config(200_000, 2), 1 << 16);
        let packets = parse_all(&file);
        let mut bytes: HashMap<_, u64> = HashMap::new();
        for (_, wire, p) in &packets {
            *bytes.entry(bidirectional(p)).or_default() += *wire as u64;
        }
        let (c, cp, s, sp, proto) = truth.heavy_flow;
        let key = if (c, cp) <= (s, sp) { (c, cp, s, sp, proto) } else { (s, sp, c, cp, proto) };
        assert_eq!(bytes[&key], truth.heavy_bytes);
        let mut sizes: Vec<u64> = bytes.values().copied().collect();
        sizes.sort_unstable();
        assert_eq!(sizes[sizes.len() - 1], truth.heavy_bytes);
        assert!(truth.heavy_bytes > 5 * sizes[sizes.len() - 2], "elephant does not stand out");
        let heavy: Vec<&Packet> = packets.iter().map(|(_, _, p)| p).filter(|p| bidirectional(p) == key).collect();
        assert_eq!(heavy.len() as u64, truth.heavy_packets);
        assert_eq!(heavy[0].flags, tcp_flags::SYN);
        assert_eq!(heavy[heavy.len() - 2].flags, tcp_flags::FIN | tcp_flags::ACK);
        assert_eq!(heavy[heavy.len() - 1].flags, tcp_flags::ACK);
    }

    #[test]
    fn flood_has_many_sources_and_one_victim() {
        let cfg = config(200_000, 4);
        let (file, truth) = generate_with_chunks(cfg, 1 << 16);
        let packets = parse_all(&file);
        let mut sources: HashMap<IpAddr, HashSet<IpAddr>> = HashMap::new();
        for (_, _, p) in &packets {
            sources.entry(p.dst).or_default().insert(p.src);
        }
        assert_eq!(truth.flood_sources, 500);
        assert_eq!(sources[&truth.flood_victim].len(), 500);
        let flood: Vec<u64> =
            packets.iter().filter(|(_, _, p)| p.dst == truth.flood_victim).map(|(ts, _, _)| *ts).collect();
        assert_eq!(flood.len() as u64, truth.flood_packets);
        assert_eq!(truth.flood_packets, 8_000);
        // A burst: 4% of the packets within a few seconds, at well over the usual packet rate.
        let span = flood[flood.len() - 1] - flood[0];
        assert!(span < cfg.duration_ns / 10, "flood spans {span} ns");
        let during = packets.iter().filter(|(ts, _, _)| (flood[0]..=flood[flood.len() - 1]).contains(ts)).count();
        let rate_during = during as f64 / span as f64;
        let rate_overall = packets.len() as f64 / cfg.duration_ns as f64;
        assert!(rate_during > 1.4 * rate_overall, "rate {rate_during} vs {rate_overall}");
    }

    #[test]
    fn tcp_sequence_numbers_follow_each_connection() {
        let (file, _) = generate_with_chunks(config(200_000, 9), 1 << 16);
        let packets = parse_all(&file);
        let mut next_seq: HashMap<(IpAddr, u16, IpAddr, u16), u32> = HashMap::new();
        let (mut checked, mut mismatched) = (0u64, Vec::new());
        for (_, _, p) in packets.iter().filter(|(_, _, p)| p.proto == 6) {
            let this = (p.src, p.sport, p.dst, p.dport);
            let back = (p.dst, p.dport, p.src, p.sport);
            let syn = p.flags & tcp_flags::SYN != 0;
            let rst = p.flags & tcp_flags::RST != 0;
            if syn && p.flags & tcp_flags::ACK == 0 {
                next_seq.remove(&back); // a new connection on this tuple
            }
            if !syn && !rst {
                if let Some(&expected) = next_seq.get(&this) {
                    checked += 1;
                    if p.seq != expected {
                        mismatched.push((this, "seq", p.seq, expected));
                    }
                }
            }
            if p.flags & tcp_flags::ACK != 0 {
                if let Some(&expected) = next_seq.get(&back) {
                    checked += 1;
                    if p.ack != expected {
                        mismatched.push((this, "ack", p.ack, expected));
                    }
                }
            }
            if !rst || syn {
                let consumed = p.payload as u32 + (p.flags & (tcp_flags::SYN | tcp_flags::FIN) != 0) as u32;
                next_seq.insert(this, p.seq.wrapping_add(consumed));
            }
        }
        assert!(checked > 100_000);
        assert!(mismatched.is_empty(), "{} mismatches, first {:?}", mismatched.len(), mismatched.first());
    }

    #[test]
    fn snaplen_cuts_frames() {
        let (full, _) = generate_with_chunks(config(20_000, 8), 1 << 16);
        let (cut, truth) = generate_with_chunks(TrafficConfig { snaplen: 96, ..config(20_000, 8) }, 1 << 16);
        let (_, full_recs) = records(&full);
        let (snaplen, cut_recs) = records(&cut);
        assert_eq!(snaplen, 96);
        assert_eq!(full_recs.len(), cut_recs.len());
        for (f, c) in full_recs.iter().zip(&cut_recs) {
            assert_eq!((f.ts, f.wire), (c.ts, c.wire));
            assert_eq!(c.data.len(), f.data.len().min(96));
            assert_eq!(c.data, &f.data[..c.data.len()]);
        }
        assert!(truth.captured_bytes < truth.bytes);
        assert_eq!(truth.captured_bytes, cut_recs.iter().map(|r| r.data.len() as u64).sum::<u64>());
    }

    #[test]
    fn edge_configurations() {
        // No packets: the file header alone, written once.
        let mut g = TrafficGenerator::new(config(0, 1));
        let mut out = Vec::new();
        assert_eq!(g.next_chunk(100, &mut out), 0);
        assert_eq!(g.next_chunk(100, &mut out), 0);
        assert_eq!(out.len(), 24);
        assert_eq!(g.truth().packets, 0);

        // max_packets 0 still writes the header.
        let mut g = TrafficGenerator::new(config(10, 1));
        let mut out = Vec::new();
        assert_eq!(g.next_chunk(0, &mut out), 0);
        assert_eq!(out.len(), 24);
        assert_eq!(g.next_chunk(u64::MAX, &mut out), 10);

        // Extreme fields clamp instead of overflowing.
        let extremes = [
            TrafficConfig { start_ns: u64::MAX, duration_ns: u64::MAX, ..config(2000, 1) },
            TrafficConfig { duration_ns: 0, hosts: 0, snaplen: 0, ..config(2000, 1) },
            TrafficConfig { hosts: u32::MAX, snaplen: 1, seed: u64::MAX, ..config(2000, 1) },
        ];
        for cfg in extremes {
            let (file, truth) = generate_with_chunks(cfg, 500);
            let (snaplen, recs) = records(&file);
            assert_eq!(recs.len(), 2000);
            assert_eq!(truth.packets, 2000);
            assert!(snaplen > 0);
            if cfg.duration_ns == 0 {
                assert!(recs.iter().all(|r| r.ts == cfg.start_ns));
            }
        }
        let g = TrafficGenerator::new(TrafficConfig { hosts: u32::MAX, ..config(1, 1) });
        assert_eq!(g.config().hosts, MAX_HOSTS);
    }

    #[test]
    fn memory_stays_bounded() {
        let mut g = TrafficGenerator::new(config(300_000, 1));
        let mut out = Vec::new();
        while g.next_chunk(50_000, &mut out) > 0 {
            out.clear();
            assert_eq!(g.pool.len(), POOL_SLOTS);
            assert_eq!(g.pool.capacity(), POOL_SLOTS);
        }
        assert!(std::mem::size_of::<TrafficGenerator>() < 4096);
    }

    #[test]
    fn host_and_scan_addressing() {
        assert_eq!(host(0).v4, Ipv4Addr::new(10, 0, 1, 1));
        assert_eq!(host(MAX_HOSTS - 1).v4, Ipv4Addr::new(10, 0, 250, 250));
        let s = Scanner::new(99, Scanner::MAX_TARGETS);
        let targets: HashSet<Ipv4Addr> = (0..Scanner::MAX_TARGETS).map(|t| s.target(t)).collect();
        assert_eq!(targets.len(), Scanner::MAX_TARGETS as usize);
        assert!(!targets.contains(&Ipv4Addr::new(10, 0, 0, 0)));
        assert!(!targets.contains(&Ipv4Addr::new(10, 0, 255, 255)));
        for x in [1e-300, 0.001, 0.5, 0.75, 1.0] {
            assert!((ln_unit(x) - x.ln()).abs() <= 1e-6 * x.ln().abs().max(1.0), "ln({x})");
        }
    }

    /// `cargo test --release -p netspectra-core synth -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn generation_speed() {
        let packets = 2_000_000;
        // Cache-sized chunks (as when streaming to a file), then chunks far bigger than cache.
        for chunk in [1_000, 50_000] {
            let mut g = TrafficGenerator::new(config(packets, 1));
            let mut out = Vec::new();
            let mut bytes = 0;
            let started = std::time::Instant::now();
            while g.next_chunk(chunk, &mut out) > 0 {
                bytes += out.len();
                out.clear();
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{packets} packets in chunks of {chunk}: {:.1} MB in {secs:.3} s, {:.2} M packets/s, {:.0} MB/s",
                bytes as f64 / 1e6,
                packets as f64 / secs / 1e6,
                bytes as f64 / secs / 1e6
            );
        }
    }
}
