//! Count-Min sketch (Cormode & Muthukrishnan, J. Algorithms 55(1), 2005) of packets and bytes per
//! key, with optional conservative update (Estan & Varghese, SIGCOMM 2002) and two bounded
//! candidate sets that turn the point estimates into heavy-hitter lists.
//!
//! Guarantee: an estimate is never below the truth, and with probability at least
//! `1 - e^-depth` it is at most `truth + (e / width) * N`, where `N` is the total (packets or
//! bytes) added since the last reset.
//!
//! # Layout
//! `depth` rows of `width` counters, stored row after row in one flat array per measure: row `i`,
//! column `c` is index `i * width + c`. One array counts packets, the other bytes. Counters and
//! totals are u64 and every addition saturates at 2^64 - 1 (never wraps).
//!
//! # Hashing (normative: the TypeScript and wasm backends implement exactly this)
//! All arithmetic is on unsigned 32-bit integers with wrap-around. `murmur3_32` is MurmurHash3
//! x86_32, `fmix32` its finaliser, and `derived_seed(seed, n) = fmix32(lo ^ fmix32(hi ^
//! fmix32(n + 0x9e3779b9)))` with `lo`/`hi` the low/high 32 bits of the 64-bit `seed` (all three
//! in [`crate::hash`]). For each packet, with `key` the packed key bytes (`PackedKey::as_bytes`,
//! 0 to 39 bytes):
//!
//! 1. `h = murmur3_32(derived_seed(seed, 0), key)` (one key hash per packet);
//! 2. for row `i` in `0..depth`: `column_i = fmix32(h ^ derived_seed(seed, i + 1)) % width`.
//!
//! Two keys with the same 32-bit `h` share a column in every row and are never told apart; that
//! happens with probability 2^-32 per pair of keys, the price of hashing the key once.
//!
//! # Update: one packet of `b` bytes
//! `total_packets += 1`, `total_bytes += b`. Plain update: every row's packet counter `+= 1` and
//! byte counter `+= b`. Conservative update: first `mp` / `mb` = the minimum over the rows of the
//! packet / byte counters; then every row's packet counter becomes `max(counter, mp + 1)` and byte
//! counter `max(counter, mb + b)`. The key's new estimates `(ep, eb)` are the minima over the rows
//! of the updated counters (for conservative update, `mp + 1` and `mb + b`).
//!
//! # Heavy-hitter candidates
//! Two sets of at most `k = heavy_hitters` members, one ranked by packet estimate, one by byte
//! estimate (`k = 0`: none). A member is `(key, tracked)`, where `tracked` is the key's estimate
//! when the set last touched it (it may lag the counters). Member `a` is *worse* than `b` when
//! `a.tracked < b.tracked`, or they are equal and `a`'s key bytes are lexicographically greater
//! (a proper prefix is smaller). After each update, with `e` the key's new estimate in the set's
//! measure:
//! - the set holds the key: `tracked = e`;
//! - else the set has fewer than `k` members and `e > 0`: insert `(key, e)`;
//! - else `e >` the worst member's `tracked`: the new key replaces the worst member;
//! - else nothing.
//!
//! Estimates never decrease, so when a full set's worst `tracked >= e` the key, if present, is
//! unchanged: the hot path stops at that one comparison. Reports re-estimate every member from the
//! counters and sort by estimate descending, then key bytes ascending.
//!
//! # Merge
//! Requires equal depth, width and seed. Counters and totals add (saturating). Each candidate set
//! becomes the union of both sides' members, re-estimated from the merged counters (these become
//! the tracked values), ranked as in a report and truncated to this sketch's `k`. Plain-update
//! sketches merge to exactly the sketch of the concatenated stream; conservative ones merge to a
//! valid (never under-estimating) but looser sketch.
//!
//! # Snapshot (`encode` / `decode`), version 1, little-endian
//! ```text
//! 0   4  magic "NSCM"
//! 4   u16 version = 1
//! 6   u16 flags: bit 0 = conservative, other bits 0
//! 8   u32 depth          12  u32 width        16  u64 seed       24  u32 heavy_hitters (k)
//! 28  u64 total packets  36  u64 total bytes
//! 44  u32 packet candidates (<= k)            48  u32 byte candidates (<= k)
//! 52  depth*width u64 packet counters, row-major; then depth*width u64 byte counters
//!     then the packet candidates, then the byte candidates, each best first:
//!     u8 key length (<= 39), key bytes, u64 tracked estimate
//! ```

use super::PackedKey;
use crate::hash::{derived_seed, fmix32, murmur3_32};

const MAX_DEPTH: u32 = 16;
const MAX_WIDTH: u32 = 1 << 26;
const MAX_HEAVY_HITTERS: u32 = 100_000;
const MAGIC: [u8; 4] = *b"NSCM";
const VERSION: u16 = 1;
const FLAG_CONSERVATIVE: u16 = 1;
const HEADER_LEN: usize = 52;

#[derive(Clone, Debug, PartialEq)]
pub struct CountMinConfig {
    /// d rows, 1..=16.
    pub depth: u32,
    /// w counters per row, 1..=2^26.
    pub width: u32,
    /// Conservative update (Estan & Varghese).
    pub conservative: bool,
    /// k: size of each candidate set (by packets and by bytes), 0..=100_000; 0 disables them.
    pub heavy_hitters: u32,
    pub seed: u64,
}

impl CountMinConfig {
    /// w = ceil(e / eps), d = ceil(ln(1 / delta)) (at least 1): over-estimates stay under eps * N
    /// with probability at least 1 - delta.
    pub fn for_error(eps: f64, delta: f64, heavy_hitters: u32, seed: u64) -> Result<CountMinConfig, String> {
        // Negated comparisons also reject NaN.
        if !(eps > 0.0 && eps < 1.0) {
            return Err(format!("eps must be in (0, 1), got {eps}"));
        }
        if !(delta > 0.0 && delta < 1.0) {
            return Err(format!("delta must be in (0, 1), got {delta}"));
        }
        let w = (core::f64::consts::E / eps).ceil();
        if w > MAX_WIDTH as f64 {
            return Err(format!("eps {eps} needs width {w}, above the limit {MAX_WIDTH}"));
        }
        let d = (1.0 / delta).ln().ceil().max(1.0);
        if d > MAX_DEPTH as f64 {
            return Err(format!("delta {delta} needs depth {d}, above the limit {MAX_DEPTH}"));
        }
        let cfg = CountMinConfig { depth: d as u32, width: w as u32, conservative: false, heavy_hitters, seed };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_DEPTH).contains(&self.depth) {
            return Err(format!("depth must be between 1 and {MAX_DEPTH}, got {}", self.depth));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(format!("width must be between 1 and {MAX_WIDTH}, got {}", self.width));
        }
        if self.heavy_hitters > MAX_HEAVY_HITTERS {
            return Err(format!("heavy_hitters must be between 0 and {MAX_HEAVY_HITTERS}, got {}", self.heavy_hitters));
        }
        Ok(())
    }
}

/// A candidate: the key, its hash `h` (reused as the index hash) and its tracked estimate.
#[derive(Clone, Copy, Debug)]
struct Slot {
    tracked: u64,
    key: PackedKey,
    h: u32,
    /// Position of this slot in `TopK::heap`.
    pos: u32,
}

/// Bounded top-k: a min-heap of slot ids (root = worst member) plus an open-addressing index
/// keyed by the sketch hash `h`, so a lookup never rehashes the key.
#[derive(Debug)]
struct TopK {
    k: usize,
    /// Tracked estimate of the worst member, u64::MAX when empty: the per-packet gate.
    min: u64,
    slots: Vec<Slot>,
    heap: Vec<u32>,
    /// slot id + 1, 0 = empty; power-of-two length >= 2k so probes always end.
    table: Vec<u32>,
}

fn try_vec<T: Clone>(n: usize, fill: T, what: &str) -> Result<Vec<T>, String> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| format!("cannot allocate {n} {what}"))?;
    v.resize(n, fill);
    Ok(v)
}

fn try_with_capacity<T>(n: usize, what: &str) -> Result<Vec<T>, String> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| format!("cannot allocate {n} {what}"))?;
    Ok(v)
}

/// `a` is worse than `b`: lower estimate, or equal estimate and greater key bytes.
#[inline]
fn worse(a: &Slot, b: &Slot) -> bool {
    a.tracked < b.tracked || (a.tracked == b.tracked && a.key.as_bytes() > b.key.as_bytes())
}

impl TopK {
    fn new(k: usize) -> Result<TopK, String> {
        let table_len = if k == 0 { 0 } else { (2 * k).next_power_of_two() };
        Ok(TopK {
            k,
            min: u64::MAX,
            // Reserved up front: the hot path never reallocates and memory_bytes is exact.
            slots: try_with_capacity(k, "candidate slots")?,
            heap: try_with_capacity(k, "candidate heap entries")?,
            table: try_vec(table_len, 0u32, "candidate index entries")?,
        })
    }

    fn memory_bytes(&self) -> usize {
        self.slots.capacity().max(self.k) * core::mem::size_of::<Slot>()
            + self.heap.capacity().max(self.k) * 4
            + self.table.capacity() * 4
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.heap.clear();
        self.table.iter_mut().for_each(|e| *e = 0);
        self.min = u64::MAX;
    }

    /// The per-packet entry point: one comparison unless the key may belong in the set.
    #[inline(always)]
    fn offer(&mut self, key: &PackedKey, h: u32, e: u64) {
        if e > self.min || (self.heap.len() < self.k && e > 0) {
            self.admit(key, h, e);
        }
    }

    fn admit(&mut self, key: &PackedKey, h: u32, e: u64) {
        if self.k == 0 {
            return;
        }
        let (found, at) = self.find(key, h);
        if let Some(s) = found {
            let slot = &mut self.slots[s];
            if e > slot.tracked {
                slot.tracked = e;
                let p = slot.pos as usize;
                self.sift_down(p);
            }
        } else if self.heap.len() < self.k {
            self.push_new(*key, h, e, at);
        } else if e > self.min {
            let s = self.heap[0] as usize;
            self.unindex(s);
            self.slots[s] = Slot { tracked: e, key: *key, h, pos: 0 };
            // unindex may have shifted entries: probe again for the free bucket.
            let (_, at) = self.find(key, h);
            self.table[at] = s as u32 + 1;
            self.sift_down(0);
        }
        self.min = self.heap.first().map_or(u64::MAX, |&s| self.slots[s as usize].tracked);
    }

    /// (slot of `key` if present, bucket where it is or would go).
    #[inline]
    fn find(&self, key: &PackedKey, h: u32) -> (Option<usize>, usize) {
        let mask = self.table.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let e = self.table[i];
            if e == 0 {
                return (None, i);
            }
            let s = (e - 1) as usize;
            let slot = &self.slots[s];
            if slot.h == h && slot.key == *key {
                return (Some(s), i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds a member to a set that is not full; `at` is the free bucket from `find`.
    fn push_new(&mut self, key: PackedKey, h: u32, tracked: u64, at: usize) {
        let s = self.slots.len();
        self.slots.push(Slot { tracked, key, h, pos: s as u32 });
        self.heap.push(s as u32);
        self.table[at] = s as u32 + 1;
        self.sift_up(s);
    }

    /// Removes slot `s` from the index (linear probing, backward-shift deletion).
    fn unindex(&mut self, s: usize) {
        let mask = self.table.len() - 1;
        let mut hole = self.slots[s].h as usize & mask;
        while self.table[hole] != s as u32 + 1 {
            hole = (hole + 1) & mask;
        }
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let e = self.table[j];
            if e == 0 {
                break;
            }
            let home = self.slots[(e - 1) as usize].h as usize & mask;
            // The entry may fill the hole when the hole lies on its probe path [home, j).
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                self.table[hole] = e;
                hole = j;
            }
        }
        self.table[hole] = 0;
    }

    #[inline]
    fn worse_at(&self, a: usize, b: usize) -> bool {
        worse(&self.slots[self.heap[a] as usize], &self.slots[self.heap[b] as usize])
    }

    #[inline]
    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.slots[self.heap[a] as usize].pos = a as u32;
        self.slots[self.heap[b] as usize].pos = b as u32;
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.worse_at(i, parent) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && self.worse_at(r, l) { r } else { l };
            if !self.worse_at(c, i) {
                break;
            }
            self.swap(i, c);
            i = c;
        }
    }

    /// Replaces the members; `members` has unique keys, at most k of them.
    fn rebuild(&mut self, members: &[(PackedKey, u32, u64)]) {
        self.clear();
        if self.k == 0 {
            return;
        }
        for &(key, h, tracked) in members.iter().take(self.k) {
            let (found, at) = self.find(&key, h);
            if found.is_none() {
                self.push_new(key, h, tracked, at);
            }
        }
        self.min = self.heap.first().map_or(u64::MAX, |&s| self.slots[s as usize].tracked);
    }

    /// Members best first (tracked desc, key asc): the canonical order of snapshots.
    fn members_sorted(&self) -> Vec<(PackedKey, u64)> {
        let mut v: Vec<(PackedKey, u64)> = self.slots.iter().map(|s| (s.key, s.tracked)).collect();
        v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_bytes().cmp(b.0.as_bytes())));
        v
    }
}

impl Clone for TopK {
    // Vec::clone drops spare capacity; keep it so the clone's hot path never reallocates.
    fn clone(&self) -> TopK {
        let mut slots = Vec::with_capacity(self.k);
        slots.extend_from_slice(&self.slots);
        let mut heap = Vec::with_capacity(self.k);
        heap.extend_from_slice(&self.heap);
        TopK { k: self.k, min: self.min, slots, heap, table: self.table.clone() }
    }
}

/// Count-Min sketch of packets and bytes with heavy-hitter candidates (see the module doc).
#[derive(Clone)]
pub struct CountMin {
    cfg: CountMinConfig,
    key_seed: u32,
    row_seeds: [u32; MAX_DEPTH as usize],
    packets: Vec<u64>,
    bytes: Vec<u64>,
    total_packets: u64,
    total_bytes: u64,
    by_packets: TopK,
    by_bytes: TopK,
}

impl core::fmt::Debug for CountMin {
    // The counters would drown the output.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CountMin")
            .field("cfg", &self.cfg)
            .field("total_packets", &self.total_packets)
            .field("total_bytes", &self.total_bytes)
            .field("packet_candidates", &self.by_packets.slots.len())
            .field("byte_candidates", &self.by_bytes.slots.len())
            .finish()
    }
}

impl PartialEq for CountMin {
    /// Same configuration, counters, totals and candidates (key, tracked estimate); the internal
    /// heap and index layout, which never affects results, is ignored.
    fn eq(&self, o: &CountMin) -> bool {
        self.cfg == o.cfg
            && self.total_packets == o.total_packets
            && self.total_bytes == o.total_bytes
            && self.packets == o.packets
            && self.bytes == o.bytes
            && self.by_packets.members_sorted() == o.by_packets.members_sorted()
            && self.by_bytes.members_sorted() == o.by_bytes.members_sorted()
    }
}

impl CountMin {
    pub fn new(cfg: CountMinConfig) -> Result<CountMin, String> {
        cfg.validate()?;
        let cells = (cfg.depth as usize)
            .checked_mul(cfg.width as usize)
            .ok_or_else(|| format!("{} x {} counters do not fit in memory", cfg.depth, cfg.width))?;
        let mut row_seeds = [0u32; MAX_DEPTH as usize];
        for (i, s) in row_seeds.iter_mut().enumerate().take(cfg.depth as usize) {
            *s = derived_seed(cfg.seed, i as u32 + 1);
        }
        let k = cfg.heavy_hitters as usize;
        Ok(CountMin {
            key_seed: derived_seed(cfg.seed, 0),
            row_seeds,
            packets: try_vec(cells, 0u64, "packet counters")?,
            bytes: try_vec(cells, 0u64, "byte counters")?,
            total_packets: 0,
            total_bytes: 0,
            by_packets: TopK::new(k)?,
            by_bytes: TopK::new(k)?,
            cfg,
        })
    }

    pub fn config(&self) -> &CountMinConfig {
        &self.cfg
    }

    #[inline]
    fn key_hash(&self, key: &PackedKey) -> u32 {
        murmur3_32(self.key_seed, key.as_bytes())
    }

    /// Counter index of row `i` for key hash `h`.
    #[inline(always)]
    fn cell(&self, h: u32, i: usize) -> usize {
        let w = self.cfg.width;
        i * w as usize + (fmix32(h ^ self.row_seeds[i]) % w) as usize
    }

    /// One packet of `bytes` bytes for `key`: +1 to the packet counters, +bytes to the byte counters.
    #[inline]
    pub fn add(&mut self, key: &PackedKey, bytes: u64) {
        let h = self.key_hash(key);
        let d = self.cfg.depth as usize;
        let mut cells = [0usize; MAX_DEPTH as usize];
        for (i, c) in cells.iter_mut().enumerate().take(d) {
            *c = self.cell(h, i);
        }
        let cells = &cells[..d];
        self.total_packets = self.total_packets.saturating_add(1);
        self.total_bytes = self.total_bytes.saturating_add(bytes);
        let (ep, eb) = if self.cfg.conservative {
            let (mut mp, mut mb) = (u64::MAX, u64::MAX);
            for &c in cells {
                mp = mp.min(self.packets[c]);
                mb = mb.min(self.bytes[c]);
            }
            let (np, nb) = (mp.saturating_add(1), mb.saturating_add(bytes));
            for &c in cells {
                self.packets[c] = self.packets[c].max(np);
                self.bytes[c] = self.bytes[c].max(nb);
            }
            (np, nb)
        } else {
            let (mut mp, mut mb) = (u64::MAX, u64::MAX);
            for &c in cells {
                let p = self.packets[c].saturating_add(1);
                let b = self.bytes[c].saturating_add(bytes);
                self.packets[c] = p;
                self.bytes[c] = b;
                mp = mp.min(p);
                mb = mb.min(b);
            }
            (mp, mb)
        };
        self.by_packets.offer(key, h, ep);
        self.by_bytes.offer(key, h, eb);
    }

    #[inline]
    fn estimate_h(&self, h: u32) -> (u64, u64) {
        let (mut p, mut b) = (u64::MAX, u64::MAX);
        for i in 0..self.cfg.depth as usize {
            let c = self.cell(h, i);
            p = p.min(self.packets[c]);
            b = b.min(self.bytes[c]);
        }
        (p, b)
    }

    /// Point query: (packets, bytes) estimates = min over rows. Never below the truth.
    pub fn estimate(&self, key: &PackedKey) -> (u64, u64) {
        self.estimate_h(self.key_hash(key))
    }

    /// N: packets and bytes added since the last reset (merges add the other side's).
    pub fn total(&self) -> (u64, u64) {
        (self.total_packets, self.total_bytes)
    }

    /// eps*N for this width: over-estimates stay under (e / width) * N with probability
    /// 1 - e^-depth.
    pub fn error_bound(&self) -> (f64, f64) {
        let eps = core::f64::consts::E / self.cfg.width as f64;
        (eps * self.total_packets as f64, eps * self.total_bytes as f64)
    }

    fn report(&self, set: &TopK, by_bytes: bool) -> Vec<(PackedKey, u64, u64)> {
        let mut v: Vec<(PackedKey, u64, u64)> = set
            .slots
            .iter()
            .map(|s| {
                let (p, b) = self.estimate_h(s.h);
                (s.key, p, b)
            })
            .collect();
        let rank = |r: &(PackedKey, u64, u64)| if by_bytes { r.2 } else { r.1 };
        v.sort_unstable_by(|a, b| rank(b).cmp(&rank(a)).then_with(|| a.0.as_bytes().cmp(b.0.as_bytes())));
        v.truncate(self.cfg.heavy_hitters as usize);
        v
    }

    /// Candidates re-estimated from the sketch, sorted by packet estimate desc then key asc; at
    /// most k. Rows are (key, packets estimate, bytes estimate).
    pub fn heavy_hitters_by_packets(&self) -> Vec<(PackedKey, u64, u64)> {
        self.report(&self.by_packets, false)
    }

    /// Like [`CountMin::heavy_hitters_by_packets`], ranked by byte estimate.
    pub fn heavy_hitters_by_bytes(&self) -> Vec<(PackedKey, u64, u64)> {
        self.report(&self.by_bytes, true)
    }

    /// Counter-wise addition of a sketch with the same depth, width and seed; candidate sets
    /// become the union re-ranked by the merged estimates, truncated to this sketch's k.
    pub fn merge(&mut self, other: &CountMin) -> Result<(), String> {
        let (a, b) = (&self.cfg, &other.cfg);
        if a.depth != b.depth {
            return Err(format!("cannot merge Count-Min sketches: depth differs ({} vs {})", a.depth, b.depth));
        }
        if a.width != b.width {
            return Err(format!("cannot merge Count-Min sketches: width differs ({} vs {})", a.width, b.width));
        }
        if a.seed != b.seed {
            return Err(format!("cannot merge Count-Min sketches: seed differs ({} vs {})", a.seed, b.seed));
        }
        for (x, y) in self.packets.iter_mut().zip(&other.packets) {
            *x = x.saturating_add(*y);
        }
        for (x, y) in self.bytes.iter_mut().zip(&other.bytes) {
            *x = x.saturating_add(*y);
        }
        self.total_packets = self.total_packets.saturating_add(other.total_packets);
        self.total_bytes = self.total_bytes.saturating_add(other.total_bytes);
        let packets = self.union_ranked(&self.by_packets, &other.by_packets, false);
        self.by_packets.rebuild(&packets);
        let bytes = self.union_ranked(&self.by_bytes, &other.by_bytes, true);
        self.by_bytes.rebuild(&bytes);
        Ok(())
    }

    /// Union of two candidate sets with fresh estimates, best first, truncated to k.
    fn union_ranked(&self, x: &TopK, y: &TopK, by_bytes: bool) -> Vec<(PackedKey, u32, u64)> {
        let mut keys: Vec<(PackedKey, u32)> = x.slots.iter().chain(&y.slots).map(|s| (s.key, s.h)).collect();
        keys.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        keys.dedup_by(|a, b| a.0 == b.0);
        let mut v: Vec<(PackedKey, u32, u64)> = keys
            .into_iter()
            .map(|(k, h)| {
                let (p, b) = self.estimate_h(h);
                (k, h, if by_bytes { b } else { p })
            })
            .collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.as_bytes().cmp(b.0.as_bytes())));
        v.truncate(self.cfg.heavy_hitters as usize);
        v
    }

    /// Zeroes counters, totals and candidates (a new window); memory is kept.
    pub fn reset(&mut self) {
        self.packets.iter_mut().for_each(|c| *c = 0);
        self.bytes.iter_mut().for_each(|c| *c = 0);
        self.total_packets = 0;
        self.total_bytes = 0;
        self.by_packets.clear();
        self.by_bytes.clear();
    }

    /// Fixed memory of the two counter arrays.
    pub fn counter_bytes(&self) -> usize {
        (self.packets.len() + self.bytes.len()) * core::mem::size_of::<u64>()
    }

    /// Counters + both candidate sets at capacity k + this struct: an upper bound of the heap use.
    pub fn memory_bytes(&self) -> usize {
        self.counter_bytes()
            + self.by_packets.memory_bytes()
            + self.by_bytes.memory_bytes()
            + core::mem::size_of::<CountMin>()
    }

    /// Appends the version-1 snapshot (format in the module doc).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let c = &self.cfg;
        out.reserve(HEADER_LEN + self.counter_bytes() + (self.by_packets.slots.len() + self.by_bytes.slots.len()) * 48);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(if c.conservative { FLAG_CONSERVATIVE } else { 0 }).to_le_bytes());
        out.extend_from_slice(&c.depth.to_le_bytes());
        out.extend_from_slice(&c.width.to_le_bytes());
        out.extend_from_slice(&c.seed.to_le_bytes());
        out.extend_from_slice(&c.heavy_hitters.to_le_bytes());
        out.extend_from_slice(&self.total_packets.to_le_bytes());
        out.extend_from_slice(&self.total_bytes.to_le_bytes());
        out.extend_from_slice(&(self.by_packets.slots.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.by_bytes.slots.len() as u32).to_le_bytes());
        for v in self.packets.iter().chain(&self.bytes) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for set in [&self.by_packets, &self.by_bytes] {
            for (key, tracked) in set.members_sorted() {
                let b = key.as_bytes();
                out.push(b.len() as u8);
                out.extend_from_slice(b);
                out.extend_from_slice(&tracked.to_le_bytes());
            }
        }
    }

    /// Inverse of [`CountMin::encode`]; checks every field, length and invariant and returns Err
    /// with a message instead of panicking on any input.
    pub fn decode(input: &[u8]) -> Result<CountMin, String> {
        let mut r = Reader { b: input, at: 0 };
        if r.take(4, "magic")? != MAGIC {
            return Err("not a Count-Min snapshot (bad magic)".to_string());
        }
        let version = r.u16("version")?;
        if version != VERSION {
            return Err(format!("unsupported Count-Min snapshot version {version} (expected {VERSION})"));
        }
        let flags = r.u16("flags")?;
        if flags & !FLAG_CONSERVATIVE != 0 {
            return Err(format!("unknown Count-Min snapshot flags 0x{flags:04x}"));
        }
        let cfg = CountMinConfig {
            depth: r.u32("depth")?,
            width: r.u32("width")?,
            seed: r.u64("seed")?,
            heavy_hitters: r.u32("heavy_hitters")?,
            conservative: flags & FLAG_CONSERVATIVE != 0,
        };
        cfg.validate().map_err(|e| format!("bad Count-Min snapshot header: {e}"))?;
        let total_packets = r.u64("total packets")?;
        let total_bytes = r.u64("total bytes")?;
        let n_packets = r.u32("packet candidate count")?;
        let n_bytes = r.u32("byte candidate count")?;
        for (n, what) in [(n_packets, "packet"), (n_bytes, "byte")] {
            if n > cfg.heavy_hitters {
                return Err(format!("{n} {what} candidates exceed heavy_hitters {}", cfg.heavy_hitters));
            }
        }
        // Check the size against the header before allocating anything.
        let cells = (cfg.depth as usize).checked_mul(cfg.width as usize);
        let counter_len = cells.and_then(|c| c.checked_mul(16));
        let min_candidates = (n_packets as usize + n_bytes as usize) * 9;
        match counter_len.and_then(|c| c.checked_add(min_candidates)) {
            Some(need) if need <= r.remaining() => {}
            _ => {
                return Err(format!(
                    "truncated Count-Min snapshot: {} x {} counters and {} candidates need more than the {} bytes left",
                    cfg.depth,
                    cfg.width,
                    n_packets as u64 + n_bytes as u64,
                    r.remaining()
                ))
            }
        }
        let mut cm = CountMin::new(cfg)?;
        for dst in [&mut cm.packets, &mut cm.bytes] {
            let raw = r.take(dst.len() * 8, "counters")?;
            for (c, b) in dst.iter_mut().zip(raw.chunks_exact(8)) {
                *c = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            }
        }
        cm.total_packets = total_packets;
        cm.total_bytes = total_bytes;
        // Each packet adds at most its increment to one counter per row.
        let w = cm.cfg.width as usize;
        for (counters, total, what) in [(&cm.packets, total_packets, "packet"), (&cm.bytes, total_bytes, "byte")] {
            for (i, row) in counters.chunks_exact(w).enumerate() {
                let sum = row.iter().fold(0u64, |s, &c| s.saturating_add(c));
                if sum > total {
                    return Err(format!("{what} counters of row {i} sum to {sum}, above the total {total}"));
                }
            }
        }
        for (n, by_bytes) in [(n_packets, false), (n_bytes, true)] {
            let what = if by_bytes { "byte" } else { "packet" };
            let mut members = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let len = r.u8("candidate key length")? as usize;
                if len > PackedKey::MAX {
                    return Err(format!("{what} candidate key of {len} bytes exceeds {}", PackedKey::MAX));
                }
                let key = PackedKey::from_bytes(r.take(len, "candidate key")?)
                    .ok_or_else(|| "candidate key too long".to_string())?;
                let tracked = r.u64("candidate estimate")?;
                let h = cm.key_hash(&key);
                let (p, b) = cm.estimate_h(h);
                let est = if by_bytes { b } else { p };
                if tracked > est {
                    return Err(format!("{what} candidate {key:?} tracks {tracked}, above its estimate {est}"));
                }
                members.push((key, h, tracked));
            }
            let mut keys: Vec<&[u8]> = members.iter().map(|m| m.0.as_bytes()).collect();
            keys.sort_unstable();
            if keys.windows(2).any(|p| p[0] == p[1]) {
                return Err(format!("duplicate {what} candidate key"));
            }
            let set = if by_bytes { &mut cm.by_bytes } else { &mut cm.by_packets };
            set.rebuild(&members);
        }
        if r.remaining() != 0 {
            return Err(format!("{} trailing bytes after the Count-Min snapshot", r.remaining()));
        }
        Ok(cm)
    }
}

/// Bounds-checked little-endian reader.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.b.len() - self.at
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if n > self.remaining() {
            return Err(format!("truncated Count-Min snapshot: {what} needs {n} bytes at offset {}", self.at));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::CounterRng;
    use std::collections::HashMap;

    fn key(i: u32) -> PackedKey {
        // family 4, address 10.x.y.z as 16 bytes, port 443, TCP: the shape of a real key.
        let mut b = [0u8; 20];
        b[0] = 4;
        b[13..17].copy_from_slice(&(0x0a00_0000 ^ i).to_be_bytes());
        b[17..19].copy_from_slice(&443u16.to_be_bytes());
        b[19] = 6;
        PackedKey::from_bytes(&b).expect("20 bytes fit")
    }

    fn cfg(depth: u32, width: u32, conservative: bool, k: u32, seed: u64) -> CountMinConfig {
        CountMinConfig { depth, width, conservative, heavy_hitters: k, seed }
    }

    fn unit(rng: &mut CounterRng) -> f64 {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Zipf-like (P(rank r) ~ 1/r) stream of (key id, packet bytes).
    fn zipf_stream(n: usize, keys: u32, seed: u64) -> Vec<(u32, u64)> {
        let mut rng = CounterRng::new(seed);
        (0..n)
            .map(|_| {
                let r = ((keys as f64).powf(unit(&mut rng)) as u32).saturating_sub(1).min(keys - 1);
                (r, 40 + rng.below(1461))
            })
            .collect()
    }

    fn exact(stream: &[(u32, u64)]) -> HashMap<u32, (u64, u64)> {
        let mut m: HashMap<u32, (u64, u64)> = HashMap::new();
        for &(id, b) in stream {
            let e = m.entry(id).or_default();
            e.0 += 1;
            e.1 += b;
        }
        m
    }

    fn sketch(c: CountMinConfig, stream: &[(u32, u64)]) -> CountMin {
        let mut cm = CountMin::new(c).expect("valid config");
        for &(id, b) in stream {
            cm.add(&key(id), b);
        }
        cm
    }

    /// Structural invariants of a candidate set, and tracked <= the live estimate.
    fn check_set(cm: &CountMin, set: &TopK, by_bytes: bool) {
        assert!(set.slots.len() <= set.k && set.heap.len() == set.slots.len());
        for (i, &s) in set.heap.iter().enumerate() {
            assert_eq!(set.slots[s as usize].pos as usize, i);
            if i > 0 {
                assert!(!set.worse_at(i, (i - 1) / 2), "heap order broken at {i}");
            }
        }
        assert_eq!(set.table.iter().filter(|&&e| e != 0).count(), set.slots.len());
        for (s, slot) in set.slots.iter().enumerate() {
            assert_eq!(set.find(&slot.key, slot.h).0, Some(s));
            let (p, b) = cm.estimate(&slot.key);
            assert!(slot.tracked <= if by_bytes { b } else { p });
        }
        let want = set.heap.first().map_or(u64::MAX, |&s| set.slots[s as usize].tracked);
        assert_eq!(set.min, want);
    }

    fn check(cm: &CountMin) {
        check_set(cm, &cm.by_packets, false);
        check_set(cm, &cm.by_bytes, true);
    }

    #[test]
    fn never_underestimates_zipf() {
        let stream = zipf_stream(200_000, 20_000, 1);
        let truth = exact(&stream);
        for width in [64, 2048] {
            for conservative in [false, true] {
                let cm = sketch(cfg(4, width, conservative, 100, 7), &stream);
                let n_bytes: u64 = stream.iter().map(|s| s.1).sum();
                assert_eq!(cm.total(), (200_000, n_bytes));
                for (&id, &(p, b)) in &truth {
                    let (ep, eb) = cm.estimate(&key(id));
                    assert!(ep >= p, "w={width} cons={conservative} key {id}: packets {ep} < {p}");
                    assert!(eb >= b, "w={width} cons={conservative} key {id}: bytes {eb} < {b}");
                }
                check(&cm);
            }
        }
    }

    #[test]
    fn error_bound_holds_and_conservative_is_tighter() {
        let stream = zipf_stream(200_000, 20_000, 2);
        let truth = exact(&stream);
        let delta = (-4f64).exp();
        let mut avg = Vec::new();
        for conservative in [false, true] {
            let cm = sketch(cfg(4, 2048, conservative, 0, 11), &stream);
            let (bp, bb) = cm.error_bound();
            let (n_p, n_b) = cm.total();
            assert!((bp - core::f64::consts::E / 2048.0 * n_p as f64).abs() < 1e-6);
            assert!((bb - core::f64::consts::E / 2048.0 * n_b as f64).abs() < 1e-3);
            let (mut over_p, mut over_b, mut sum_p, mut sum_b) = (0usize, 0usize, 0u64, 0u64);
            for (&id, &(p, b)) in &truth {
                let (ep, eb) = cm.estimate(&key(id));
                over_p += ((ep - p) as f64 > bp) as usize;
                over_b += ((eb - b) as f64 > bb) as usize;
                sum_p += ep - p;
                sum_b += eb - b;
            }
            let n = truth.len() as f64;
            let (fp, fb) = (over_p as f64 / n, over_b as f64 / n);
            println!(
                "conservative={conservative}: beyond eps*N {fp:.5} (packets) {fb:.5} (bytes); mean over {:.2} / {:.1}",
                sum_p as f64 / n,
                sum_b as f64 / n
            );
            assert!(fp <= delta && fb <= delta, "fraction beyond eps*N: {fp} / {fb} > {delta}");
            avg.push((sum_p as f64 / n, sum_b as f64 / n));
        }
        assert!(avg[1].0 <= avg[0].0 && avg[1].1 <= avg[0].1, "conservative {:?} vs plain {:?}", avg[1], avg[0]);
    }

    #[test]
    fn merge_equals_concatenated_stream() {
        let stream = zipf_stream(100_000, 3000, 3);
        let (first, second) = stream.split_at(40_000);
        // k covers every key: the candidate sets must agree exactly.
        let c = cfg(4, 2048, false, 4000, 5);
        let mut a = sketch(c.clone(), first);
        let b = sketch(c.clone(), second);
        let all = sketch(c, &stream);
        a.merge(&b).expect("same shape");
        check(&a);
        assert_eq!(a.total(), all.total());
        assert_eq!(a.packets, all.packets);
        assert_eq!(a.bytes, all.bytes);
        let (mut ea, mut eall) = (Vec::new(), Vec::new());
        a.encode(&mut ea);
        all.encode(&mut eall);
        let end = HEADER_LEN + all.counter_bytes();
        assert_eq!(ea[..end], eall[..end], "header and counters byte-identical");
        assert_eq!(a.heavy_hitters_by_packets(), all.heavy_hitters_by_packets());
        assert_eq!(a.heavy_hitters_by_bytes(), all.heavy_hitters_by_bytes());
        assert_eq!(all.heavy_hitters_by_packets().len(), exact(&stream).len());

        // Small k: the clear leaders still come out the same.
        let c = cfg(4, 2048, false, 20, 5);
        let mut a = sketch(c.clone(), first);
        a.merge(&sketch(c.clone(), second)).expect("same shape");
        let all = sketch(c, &stream);
        check(&a);
        assert_eq!(a.heavy_hitters_by_packets()[..10], all.heavy_hitters_by_packets()[..10]);
        assert_eq!(a.heavy_hitters_by_bytes()[..5], all.heavy_hitters_by_bytes()[..5]);
    }

    #[test]
    fn merge_refuses_other_shapes_and_conservative_merge_stays_above_truth() {
        let base = cfg(4, 256, false, 10, 1);
        let mut a = CountMin::new(base.clone()).expect("valid");
        for (other, word) in [
            (CountMinConfig { width: 512, ..base.clone() }, "width"),
            (CountMinConfig { depth: 3, ..base.clone() }, "depth"),
            (CountMinConfig { seed: 2, ..base.clone() }, "seed"),
        ] {
            let e = a.merge(&CountMin::new(other).expect("valid")).expect_err("must refuse");
            assert!(e.contains(word), "{e}");
        }
        let stream = zipf_stream(50_000, 5000, 4);
        let (x, y) = stream.split_at(20_000);
        let c = cfg(4, 256, true, 10, 1);
        let mut a = sketch(c.clone(), x);
        a.merge(&sketch(c, y)).expect("same shape");
        check(&a);
        for (id, (p, b)) in exact(&stream) {
            let (ep, eb) = a.estimate(&key(id));
            assert!(ep >= p && eb >= b);
        }
    }

    #[test]
    fn heavy_hitters_find_planted_keys() {
        let mut rng = CounterRng::new(5);
        let mut stream = Vec::new();
        for _ in 0..400_000 {
            let u = rng.below(100) as u32;
            if u < 50 {
                stream.push((1_000_000 + u % 10, 500));
            } else {
                stream.push((rng.below(50_000) as u32, 40 + rng.below(1461)));
            }
        }
        let truth = exact(&stream);
        for conservative in [false, true] {
            let cm = sketch(cfg(4, 2048, conservative, 10, 9), &stream);
            check(&cm);
            for hh in [cm.heavy_hitters_by_packets(), cm.heavy_hitters_by_bytes()] {
                assert_eq!(hh.len(), 10);
                let mut ids: Vec<u32> = (1_000_000..1_000_010).collect();
                for (k, p, b) in &hh {
                    let id = ids.iter().position(|&i| key(i) == *k).expect("only planted keys are reported");
                    let (tp, tb) = truth[&ids[id]];
                    assert!(*p >= tp && *b >= tb);
                    ids.remove(id);
                }
            }
        }
    }

    #[test]
    fn bytes_ranking_prefers_few_huge_packets() {
        let mut rng = CounterRng::new(6);
        let (big, many) = (2_000_000u32, 2_000_001u32);
        let mut stream = Vec::new();
        for _ in 0..121_000 {
            match rng.below(121) {
                0 => stream.push((big, 9000)),
                1..=20 => stream.push((many, 64)),
                _ => stream.push((rng.below(50_000) as u32, 40 + rng.below(1461))),
            }
        }
        let truth = exact(&stream);
        assert!(truth[&big].1 > truth[&many].1 && truth[&big].0 < truth[&many].0);
        let cm = sketch(cfg(4, 2048, false, 16, 3), &stream);
        assert_eq!(cm.heavy_hitters_by_bytes()[0].0, key(big));
        assert_eq!(cm.heavy_hitters_by_packets()[0].0, key(many));
        let pos = |v: &[(PackedKey, u64, u64)], id| v.iter().position(|r| r.0 == key(id)).expect("reported");
        let bytes = cm.heavy_hitters_by_bytes();
        assert!(pos(&bytes, big) < pos(&bytes, many));
    }

    #[test]
    fn candidate_sets_follow_the_documented_rule() {
        // A naive model of the rule in the module doc, checked after every packet.
        fn model(m: &mut Vec<(PackedKey, u64)>, k: usize, key: PackedKey, e: u64) {
            let worst = |m: &Vec<(PackedKey, u64)>| {
                (0..m.len()).min_by(|&a, &b| m[a].1.cmp(&m[b].1).then_with(|| m[b].0.as_bytes().cmp(m[a].0.as_bytes())))
            };
            if let Some(x) = m.iter_mut().find(|x| x.0 == key) {
                x.1 = e;
            } else if m.len() < k && e > 0 {
                m.push((key, e));
            } else if let Some(w) = worst(m) {
                if e > m[w].1 {
                    m[w] = (key, e);
                }
            }
        }
        let canon = |m: &Vec<(PackedKey, u64)>| {
            let mut v = m.clone();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_bytes().cmp(b.0.as_bytes())));
            v
        };
        for conservative in [false, true] {
            let stream = zipf_stream(20_000, 500, 8);
            let k = 8;
            let mut cm = CountMin::new(cfg(3, 64, conservative, k as u32, 2)).expect("valid");
            let (mut mp, mut mb) = (Vec::new(), Vec::new());
            for (n, &(id, b)) in stream.iter().enumerate() {
                // Some zero-byte packets exercise the e > 0 rule.
                let b = if n % 7 == 0 { 0 } else { b };
                cm.add(&key(id), b);
                let (ep, eb) = cm.estimate(&key(id));
                model(&mut mp, k, key(id), ep);
                model(&mut mb, k, key(id), eb);
                assert_eq!(cm.by_packets.members_sorted(), canon(&mp), "packets, step {n}");
                assert_eq!(cm.by_bytes.members_sorted(), canon(&mb), "bytes, step {n}");
            }
            check(&cm);
        }
    }

    #[test]
    fn reset_really_clears_and_keeps_working() {
        let stream = zipf_stream(50_000, 2000, 9);
        let mut cm = sketch(cfg(4, 1024, true, 20, 4), &stream);
        let mem = cm.memory_bytes();
        cm.reset();
        assert_eq!(cm.total(), (0, 0));
        assert!(cm.packets.iter().chain(&cm.bytes).all(|&c| c == 0));
        for id in 0..2000 {
            assert_eq!(cm.estimate(&key(id)), (0, 0));
        }
        assert!(cm.heavy_hitters_by_packets().is_empty() && cm.heavy_hitters_by_bytes().is_empty());
        assert_eq!(cm.memory_bytes(), mem);
        check(&cm);
        cm.add(&key(1), 100);
        cm.add(&key(1), 50);
        cm.add(&key(2), 10);
        assert_eq!(cm.total(), (3, 160));
        assert_eq!(cm.estimate(&key(1)), (2, 150));
        let hh = cm.heavy_hitters_by_packets();
        assert_eq!(hh, vec![(key(1), 2, 150), (key(2), 1, 10)]);
        check(&cm);
        // A reset sketch equals a fresh one fed the same packets.
        let mut fresh = CountMin::new(cm.config().clone()).expect("valid");
        for (id, b) in [(1, 100), (1, 50), (2, 10)] {
            fresh.add(&key(id), b);
        }
        assert_eq!(cm, fresh);
    }

    #[test]
    fn encode_decode_round_trip() {
        let stream = zipf_stream(60_000, 4000, 10);
        let (head, tail) = stream.split_at(30_000);
        for (conservative, k) in [(false, 0), (false, 50), (true, 50), (true, 4000)] {
            let mut cm = sketch(cfg(5, 1000, conservative, k, 0xdead_beef_0000_0001), head);
            let mut enc = Vec::new();
            cm.encode(&mut enc);
            let mut back = CountMin::decode(&enc).expect("round trip");
            assert_eq!(back, cm);
            check(&back);
            let mut again = Vec::new();
            back.encode(&mut again);
            assert_eq!(again, enc);
            // Tracked estimates survive, so both evolve identically.
            for &(id, b) in tail {
                cm.add(&key(id), b);
                back.add(&key(id), b);
            }
            assert_eq!(back, cm);
            assert_eq!(back.heavy_hitters_by_packets(), cm.heavy_hitters_by_packets());
            assert_eq!(back.heavy_hitters_by_bytes(), cm.heavy_hitters_by_bytes());
        }
    }

    fn small_encoding() -> (CountMin, Vec<u8>) {
        let cm = sketch(cfg(2, 16, false, 4, 77), &zipf_stream(300, 20, 11));
        let mut enc = Vec::new();
        cm.encode(&mut enc);
        (cm, enc)
    }

    #[test]
    fn decode_rejects_bad_input() {
        let (cm, enc) = small_encoding();
        assert_eq!(CountMin::decode(&enc).expect("valid"), cm);
        assert!(CountMin::decode(&[]).is_err());
        for n in 0..enc.len() {
            assert!(CountMin::decode(&enc[..n]).is_err(), "prefix of {n} bytes accepted");
        }
        let bad = |at: usize, v: &[u8]| {
            let mut e = enc.clone();
            e[at..at + v.len()].copy_from_slice(v);
            CountMin::decode(&e).expect_err("must be rejected")
        };
        assert!(bad(0, b"XSCM").contains("magic"));
        assert!(bad(4, &2u16.to_le_bytes()).contains("version 2"));
        assert!(bad(6, &2u16.to_le_bytes()).contains("flags"));
        assert!(bad(8, &0u32.to_le_bytes()).contains("depth must be between"));
        assert!(bad(8, &17u32.to_le_bytes()).contains("depth must be between"));
        assert!(bad(12, &0u32.to_le_bytes()).contains("width"));
        assert!(bad(24, &100_001u32.to_le_bytes()).contains("heavy_hitters"));
        assert!(bad(44, &5u32.to_le_bytes()).contains("exceed"));
        // Huge shape claimed by a tiny input: refused before allocating.
        let mut e = enc[..HEADER_LEN].to_vec();
        e[8..12].copy_from_slice(&16u32.to_le_bytes());
        e[12..16].copy_from_slice(&MAX_WIDTH.to_le_bytes());
        assert!(CountMin::decode(&e).expect_err("huge").contains("truncated"));
        // A counter above what the totals allow.
        assert!(bad(HEADER_LEN, &u64::MAX.to_le_bytes()).contains("above the total"));
        let cand = HEADER_LEN + cm.counter_bytes();
        assert!(bad(cand, &[40]).contains("exceeds"));
        // Tracked estimate above the key's estimate.
        assert!(bad(cand + 1 + 20, &u64::MAX.to_le_bytes()).contains("above its estimate"));
        // Duplicate: copy the first packet candidate over the second.
        let mut e = enc.clone();
        let first = e[cand..cand + 29].to_vec();
        e[cand + 29..cand + 58].copy_from_slice(&first);
        assert!(CountMin::decode(&e).expect_err("dup").contains("duplicate"));
        let mut e = enc.clone();
        e.push(0);
        assert!(CountMin::decode(&e).expect_err("trailing").contains("trailing"));
    }

    #[test]
    fn decode_fuzz_never_panics() {
        let (_, enc) = small_encoding();
        let mut rng = CounterRng::new(12);
        for _ in 0..20_000 {
            let len = rng.below(700) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if len >= 8 && rng.below(2) == 0 {
                // A plausible header, so decoding gets past the magic.
                buf[..8].copy_from_slice(&enc[..8]);
            }
            assert!(CountMin::decode(&buf).is_err());
        }
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut e = enc.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(e.len() as u64) as usize;
                e[at] ^= 1 << rng.below(8);
            }
            if rng.below(4) == 0 {
                e.truncate(rng.below(e.len() as u64) as usize);
            }
            if let Ok(mut cm) = CountMin::decode(&e) {
                // Whatever is accepted must be a working, self-consistent sketch.
                accepted += 1;
                check(&cm);
                cm.add(&key(1), 10);
                let _ = cm.heavy_hitters_by_packets();
                let mut out = Vec::new();
                cm.encode(&mut out);
                assert_eq!(CountMin::decode(&out).expect("re-encoded"), cm);
            }
        }
        println!("mutated snapshots accepted: {accepted} of 20000");
    }

    #[test]
    fn config_validation_messages() {
        let ok = cfg(4, 2048, false, 100, 0);
        assert!(ok.validate().is_ok());
        let msg = |c: CountMinConfig| c.validate().expect_err("invalid");
        assert_eq!(msg(CountMinConfig { width: 0, ..ok.clone() }), "width must be between 1 and 67108864, got 0");
        assert_eq!(
            msg(CountMinConfig { width: (1 << 26) + 1, ..ok.clone() }),
            "width must be between 1 and 67108864, got 67108865"
        );
        assert_eq!(msg(CountMinConfig { depth: 0, ..ok.clone() }), "depth must be between 1 and 16, got 0");
        assert_eq!(msg(CountMinConfig { depth: 17, ..ok.clone() }), "depth must be between 1 and 16, got 17");
        assert_eq!(
            msg(CountMinConfig { heavy_hitters: 100_001, ..ok.clone() }),
            "heavy_hitters must be between 0 and 100000, got 100001"
        );
        assert!(CountMin::new(CountMinConfig { depth: 0, ..ok }).is_err());
        let c = CountMinConfig::for_error(0.001, 0.01, 50, 3).expect("valid");
        assert_eq!((c.width, c.depth, c.heavy_hitters, c.seed, c.conservative), (2719, 5, 50, 3, false));
        assert_eq!(CountMinConfig::for_error(0.5, 0.9, 0, 0).expect("valid").depth, 1);
        for (eps, delta, word) in [
            (0.0, 0.1, "eps"),
            (f64::NAN, 0.1, "eps"),
            (1e-9, 0.1, "width"),
            (0.1, 1.0, "delta"),
            (0.1, 1e-10, "depth"),
        ] {
            let e = CountMinConfig::for_error(eps, delta, 0, 0).expect_err("invalid");
            assert!(e.contains(word), "{e}");
        }
    }

    #[test]
    fn hashing_follows_the_documented_scheme() {
        let seed = 0x0123_4567_89ab_cdef;
        let (w, d) = (1000u32, 4u32);
        let k = PackedKey::from_bytes(&[4, 10, 0, 0, 1]).expect("short key");
        let h = murmur3_32(derived_seed(seed, 0), k.as_bytes());
        let cols: Vec<u32> = (0..d).map(|i| fmix32(h ^ derived_seed(seed, i + 1)) % w).collect();
        // Golden values for the other backends.
        assert_eq!((h, cols.clone()), (GOLDEN_H, GOLDEN_COLS.to_vec()));
        let mut cm = CountMin::new(cfg(d, w, false, 1, seed)).expect("valid");
        cm.add(&k, 1500);
        for (i, c) in cm.packets.iter().enumerate() {
            let row = i / w as usize;
            let hit = (i % w as usize) as u32 == cols[row];
            assert_eq!(*c, hit as u64, "packet counter {i}");
            assert_eq!(cm.bytes[i], if hit { 1500 } else { 0 }, "byte counter {i}");
        }
    }
    // Cross-checked against an independent MurmurHash3 implementation.
    const GOLDEN_H: u32 = 1_487_267_804;
    const GOLDEN_COLS: [u32; 4] = [891, 724, 639, 218];

    #[test]
    fn counters_are_64_bit_and_saturate() {
        let mut cm = CountMin::new(cfg(4, 64, false, 4, 0)).expect("valid");
        for _ in 0..3 {
            cm.add(&key(1), 3 << 30);
        }
        assert_eq!(cm.estimate(&key(1)), (3, 9 << 30), "no 32-bit wrap");
        let mut cm2 = CountMin::new(cfg(4, 64, true, 4, 0)).expect("valid");
        for c in [&mut cm, &mut cm2] {
            c.add(&key(2), u64::MAX);
            c.add(&key(2), u64::MAX);
            assert_eq!(c.estimate(&key(2)).1, u64::MAX);
            assert_eq!(c.total().1, u64::MAX);
        }
        let mut a = cm.clone();
        a.merge(&cm).expect("same shape");
        assert_eq!(a.estimate(&key(2)).1, u64::MAX);
    }

    #[test]
    fn ties_rank_by_key_and_zero_k_disables_candidates() {
        let mut cm = CountMin::new(cfg(4, 4096, false, 10, 1)).expect("valid");
        for id in [5, 3, 9, 1, 7] {
            for _ in 0..3 {
                cm.add(&key(id), 100);
            }
        }
        let got: Vec<(PackedKey, u64, u64)> = cm.heavy_hitters_by_packets();
        let mut want: Vec<PackedKey> = [5, 3, 9, 1, 7].iter().map(|&i| key(i)).collect();
        want.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), want);
        assert!(got.iter().all(|r| (r.1, r.2) == (3, 300)));
        let mut none = sketch(cfg(4, 256, true, 0, 1), &zipf_stream(10_000, 100, 1));
        assert!(none.heavy_hitters_by_packets().is_empty() && none.heavy_hitters_by_bytes().is_empty());
        let other = none.clone();
        none.merge(&other).expect("same shape");
        assert!(none.heavy_hitters_by_packets().is_empty());
        let mut enc = Vec::new();
        none.encode(&mut enc);
        assert_eq!(CountMin::decode(&enc).expect("valid"), none);
    }

    #[test]
    fn memory_accounting() {
        let cm = CountMin::new(cfg(4, 2048, false, 100, 0)).expect("valid");
        assert_eq!(cm.counter_bytes(), 2 * 4 * 2048 * 8);
        let at_capacity = cm.memory_bytes();
        assert!(at_capacity >= cm.counter_bytes() + 2 * 100 * (core::mem::size_of::<Slot>() + 4 + 2 * 4));
        let full = sketch(cfg(4, 2048, false, 100, 0), &zipf_stream(50_000, 5000, 2));
        assert_eq!(full.memory_bytes(), at_capacity, "an upper bound from the start");
        assert_eq!(full.clone().memory_bytes(), at_capacity);
        assert_eq!(CountMin::new(cfg(1, 1, false, 0, 0)).expect("valid").counter_bytes(), 16);
    }

    #[test]
    #[ignore]
    fn throughput() {
        let keys: Vec<PackedKey> = (0..65_536).map(key).collect();
        let stream = zipf_stream(4_000_000, 65_536, 13);
        let mut slowest = f64::MAX;
        for (conservative, k) in [(false, 0), (false, 100), (true, 100), (true, 1000)] {
            let mut cm = CountMin::new(cfg(4, 2048, conservative, k, 1)).expect("valid");
            let rounds = 4;
            let t = std::time::Instant::now();
            for _ in 0..rounds {
                for &(id, b) in &stream {
                    cm.add(&keys[id as usize], b);
                }
            }
            let secs = t.elapsed().as_secs_f64();
            std::hint::black_box(cm.estimate(&keys[0]));
            let mups = (rounds * stream.len()) as f64 / secs / 1e6;
            println!("countmin 4x2048 conservative={conservative} k={k}: {mups:.1} M updates/s");
            slowest = slowest.min(mups);
        }
        if !cfg!(debug_assertions) {
            assert!(slowest > 20.0, "{slowest:.1} M updates/s");
        }
    }
}
