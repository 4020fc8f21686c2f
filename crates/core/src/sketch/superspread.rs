//! SuperSpread (Wang et al., "Enhancing Accuracy for Super Spreader Identification in High-Speed
//! Data Streams", PVLDB 17(11):3124-3137, 2024): per key (e.g. a source address) estimate the
//! spread, the number of distinct elements (e.g. destination addresses) seen with it, and report
//! the keys whose spread reaches a threshold, in fixed memory.
//!
//! This text is the specification: the TypeScript and wasm backends re-implement it byte for
//! byte, so a sketch built anywhere from the same stream and configuration has the same
//! [`SuperSpread::encode`] bytes. All arithmetic below is unsigned integer arithmetic (u32 where
//! it says u32, otherwise u64) except the one-off construction of the decay table.
//!
//! # Configuration
//!
//! `depth` 1..=8, `width` 1..=2^22, `registers` a power of two in 8..=4096, `register_bits`
//! 3..=8, `decay_base` > 1.0 and <= 2.0 (not NaN), `threshold` >= 1, any `seed`; and the total
//! `d * w * (B + 56) + 8 * L` bytes (`B` and `L` below; 56 = key, counter and `S` of a bucket)
//! at most 2^30.
//!
//! # Constants
//!
//! - `d = depth`, `w = width`, `m = registers` (a power of two), `b = register_bits`.
//! - `R = min(2^b - 1, 33)`: the largest register value (33 = 32 leading zeros + 1, the most a
//!   32-bit hash can give; for `b <= 5` this is exactly `2^b - 1`). A register equal to `R` is
//!   *saturated*: no element can raise it any more.
//! - `M = m * 2^R` (at most `2^12 * 2^33 = 2^45`).
//! - Seeds, from [`crate::hash::derived_seed`]`(seed, n)` written `ds(n)`: key seed `K = ds(0)`,
//!   pair seeds `P1 = ds(1)`, `P2 = ds(2)`, row seeds `Q_i = ds(100 + i)`, generator seed
//!   `G = (ds(3) as u64) << 32 | ds(4) as u64`.
//! - One [`crate::sketch::CounterRng`] `rng` seeded with `G`: draw number `n` (1, 2, ...) is
//!   `splitmix64(G + n * 0x9e3779b97f4a7c15)`; `below(x) = (next_u64() * x) >> 64` computed in
//!   128 bits. Draws are consumed in exactly the order given below.
//! - Decay table `T`: `P = 1.0` (f64), `T[0] = 2^53`; for `c = 1, 2, ...`: `P = P / decay_base`
//!   (one IEEE-754 double division, exactly rounded in every language) and
//!   `T[c] = floor(P * 2^53)` (the product is exact); stop before the first `c` whose `T[c]` is 0
//!   or when the table holds 65 536 entries. `L` = the table length. A counter `c >= L` cannot
//!   decay. (decay_base 1.08 gives L = 478.)
//!
//! # State
//!
//! `d * w` buckets, bucket `t = i * w + col` for row `i`, column `col`. Each bucket holds a key
//! (a [`PackedKey`], at most 39 bytes), a u64 counter (0 = the bucket is empty; an empty bucket's
//! key is the empty key), `m` registers of `b` bits (initially 0) and `S = sum over the
//! non-saturated registers r of 2^(R - r)`, so that the sampling probability is `p = S / M`
//! (initially `S = M`, `p = 1`).
//!
//! # add(key, element)
//!
//! 1. `x = key bytes ++ element bytes`; `g = murmur3_32(P1, x)`, `g2 = murmur3_32(P2, x)`.
//!    Register index `j = g & (m - 1)`; value `v = min(leading_zeros32(g2) + 1, R)` (1..=R).
//!    The same `j`, `v` are used in every row.
//! 2. `h = murmur3_32(K, key bytes)`.
//! 3. For each row `i = 0 .. d-1` in order, with `t = i * w + fmix32(h ^ Q_i) % w`:
//!    1. Sampler. Let `r` = register `j` of `t`. If `v <= r` the pair is a duplicate (or
//!       uninformative) in this row: go to the next row, no draw. Otherwise let `S0 = S` (before
//!       the update), set register `j = v` and `S = S0 - 2^(R - r) + (v < R ? 2^(R - v) : 0)`.
//!       The sampler of a bucket sees the pairs of every key that maps to the bucket, owner or
//!       not (the paper's per-bucket sampler; ALGORITHMS.md: sampler first, then the counter).
//!    2. Rounding. The pair is new with probability `p = S0 / M` and carries the weight
//!       `1/p = M / S0`. `steps = ceil(M / S0)`; draw `u = rng.below(S0 * steps)` (always one
//!       draw; `S0 * steps < 2^46`). If `u >= M` go to the next row (no steps; this happens with
//!       probability `1 - (M / S0) / steps`). Otherwise perform `n = steps` unit steps:
//!    3. Unit steps (HeavyKeeper), repeated while `n > 0`, with `c` = the bucket's counter:
//!       - `c == 0` (empty): claim. key = this key; registers all set to 0, then register
//!         `j = v`, so `S = M - 2^R + (v < R ? 2^(R - v) : 0)` (the old registers described the
//!         old owner's traffic; the claiming pair is recorded so that its duplicates stay
//!         duplicates); counter = `n` (the claim plus `n - 1` increments); stop.
//!       - bucket key == this key: counter = counter + `n` (saturating at 2^64 - 1); stop.
//!       - another key and `c >= L`: the decay probability is 0, so the remaining steps do
//!         nothing: stop, no draw.
//!       - another key and `c < L`: `n = n - 1`; draw `y = rng.next_u64() >> 11`; if `y < T[c]`
//!         the counter becomes `c - 1`, and if that is 0 the bucket becomes empty (empty key);
//!         the next step (if any) then claims it.
//!
//! # Queries
//!
//! - `estimate(key)`: the maximum counter over the rows `i` whose bucket
//!   `i * w + fmix32(h ^ Q_i) % w` is non-empty and holds `key`; 0 if none.
//! - `spreaders()`: every distinct key held by a bucket with counter `>= threshold`, with its
//!   estimate, sorted by estimate descending, then key bytes ascending (lexicographic).
//! - `reset()`: every bucket empty (empty key, counter 0), registers 0, `S = M` (p back to 1),
//!   and the generator back to draw 1. The configuration is kept.
//!
//! # Register packing
//!
//! Bucket `t` owns bytes `[t * B, (t + 1) * B)` of one flat byte array, `B = m * b / 8` (exact:
//! `m >= 8`). Register `j` occupies bits `j*b .. j*b + b` of the block, read as a little-endian
//! bit stream: with `k = j*b`, the value is `((block[k/8] | block[k/8 + 1] << 8) >> (k % 8)) &
//! (2^b - 1)` (the second byte is 0 past the end of the block). 128 registers of 5 bits take 80
//! bytes; `d=2, w=8192` takes 1 310 720 bytes (1.25 MiB) of registers.
//!
//! # Snapshot format (version 1, little-endian)
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `NSSS` |
//! | 1 | version = 1 |
//! | 4 x u32 | depth, width, registers, register_bits |
//! | u64 | decay_base as IEEE-754 binary64 bits |
//! | u64 | threshold |
//! | u64 | seed |
//! | u64 | draws: how many values the generator has produced |
//! | ... | `d * w` buckets in order of `t` |
//!
//! Each bucket: a flags byte (bit 0: held, i.e. counter > 0; bit 1: registers present, i.e. not
//! all 0; other bits 0), then if held: the counter as minimal unsigned LEB128 (1..=10 bytes,
//! non-zero), the key length (one byte, 0..=39) and the key bytes; then if registers present: the
//! `B` packed register bytes. Nothing follows the last bucket. `S` is not stored: decode
//! recomputes it. Decode rejects anything else: wrong magic or version, an invalid configuration,
//! truncation, reserved flag bits, a zero or over-long or non-minimal counter, a key longer than
//! 39 bytes or not hashing to the bucket that holds it, an all-zero register block marked
//! present, a register above `R`, trailing bytes. So every accepted snapshot re-encodes to the
//! same bytes.
//!
//! # Notes
//!
//! - The counters are an inverse-probability ("HIP") estimate: each distinct pair raises its
//!   register the first time it is seen with probability exactly `p`, and then carries `1/p`, so
//!   it contributes 1 in expectation whatever else shares the bucket (Ting 2014; relative
//!   standard error about `0.83/sqrt(m)`, 7% for m = 128). Two departures from that ideal: a
//!   claim clears the registers, so elements seen before the claim count again afterwards, and
//!   the estimate is the maximum of the owning rows (a small upward bias).
//! - Range: once all registers of a bucket are saturated nothing more is counted in it, which
//!   takes about `m * 2^R` distinct pairs (b = 3: ~2^14 for m = 128; b = 5: ~2^38).
//! - Cost: an add costs three hashes plus, per row where a register rose, one draw and up to
//!   `steps` decay draws against a foreign owner (amortised about one step per distinct pair,
//!   since `steps ~ 1/p` happens with probability `p`). Same-key and claim steps are applied in
//!   bulk; decay draws stop as soon as the counter is at or above `L`. The worst single add makes
//!   up to `M / 2` decay draws, which needs a bucket whose registers are all but saturated.
//! - For `b >= 6` the paper's saturation value `2^b - 1` is unreachable with a 32-bit hash, so
//!   `R` is the reachable maximum 33; this keeps `S` exact in u64 (`2^(2^b - 1)` would not fit)
//!   and `p` the exact probability that a fresh pair raises a register.

use super::CounterRng;
use crate::bytes::LeReader;
use crate::hash::{derived_seed, fmix32, murmur3_32, reduce, width_magic};
use crate::key::PackedKey;

const MAX_DEPTH: u32 = 8;
const MAX_WIDTH: u32 = 1 << 22;
const MIN_REGISTERS: u32 = 8;
const MAX_REGISTERS: u32 = 4096;
const MIN_BITS: u32 = 3;
const MAX_BITS: u32 = 8;
/// Largest register value a 32-bit hash can produce: 32 leading zeros + 1.
const HASH_MAX_VALUE: u32 = 33;
/// Upper bound on everything a sketch allocates.
const MAX_MEMORY: u64 = 1 << 30;
/// Longest decay table (entries).
const DECAY_TABLE_CAP: usize = 1 << 16;
/// Bytes of the bucket state besides the registers: key (40), counter (8), S (8). A fixed figure
/// so that every backend accepts the same configurations.
const BUCKET_OVERHEAD: u64 = 56;
const _: () = assert!(core::mem::size_of::<Cell>() as u64 <= BUCKET_OVERHEAD);
/// key ++ element up to this size is hashed from a stack buffer; longer pairs are streamed.
const PAIR_BUF: usize = 128;
/// The increment of [`CounterRng`]'s counter (draw n is splitmix64(seed + n * GOLDEN)).
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

const MAGIC: &[u8; 4] = b"NSSS";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 4 + 1 + 4 * 4 + 8 * 4;
const FLAG_HELD: u8 = 1;
const FLAG_REGS: u8 = 2;

#[derive(Clone, Debug, PartialEq)]
pub struct SuperSpreadConfig {
    /// Rows, 1..=8.
    pub depth: u32,
    /// Buckets per row, 1..=2^22.
    pub width: u32,
    /// Registers per bucket (m), a power of two, 8..=4096.
    pub registers: u32,
    /// Bits per register (b), 3..=8.
    pub register_bits: u32,
    /// HeavyKeeper decay base, > 1.0 and <= 2.0 (the paper uses 1.08).
    pub decay_base: f64,
    /// Report keys whose estimated spread is >= threshold (at least 1).
    pub threshold: u64,
    pub seed: u64,
}

impl SuperSpreadConfig {
    /// Checks every field; the message names the field, its value and the limit.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_DEPTH).contains(&self.depth) {
            return Err(format!("superspread: depth = {} is out of range 1..={MAX_DEPTH}", self.depth));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(format!("superspread: width = {} is out of range 1..={MAX_WIDTH} (2^22)", self.width));
        }
        if !(MIN_REGISTERS..=MAX_REGISTERS).contains(&self.registers) || !self.registers.is_power_of_two() {
            return Err(format!(
                "superspread: registers = {} must be a power of two in {MIN_REGISTERS}..={MAX_REGISTERS}",
                self.registers
            ));
        }
        if !(MIN_BITS..=MAX_BITS).contains(&self.register_bits) {
            return Err(format!(
                "superspread: register_bits = {} is out of range {MIN_BITS}..={MAX_BITS}",
                self.register_bits
            ));
        }
        if !(self.decay_base > 1.0 && self.decay_base <= 2.0) {
            return Err(format!("superspread: decay_base = {} must be > 1.0 and <= 2.0", self.decay_base));
        }
        if self.threshold == 0 {
            return Err("superspread: threshold = 0 must be >= 1".to_string());
        }
        let buckets = self.depth as u64 * self.width as u64;
        let block = self.registers as u64 * self.register_bits as u64 / 8;
        let total = buckets * (block + BUCKET_OVERHEAD) + decay_table_len(self.decay_base) as u64 * 8;
        if total > MAX_MEMORY {
            return Err(format!(
                "superspread: depth {} x width {} buckets of {} registers x {} bits need {total} bytes, \
                 over the limit of {MAX_MEMORY} bytes",
                self.depth, self.width, self.registers, self.register_bits
            ));
        }
        Ok(())
    }
}

/// The derived constants of a configuration (no allocation).
#[derive(Clone, Debug)]
struct Shape {
    depth: usize,
    width: usize,
    m: usize,
    bits: u32,
    /// R: the saturated register value.
    rmax: u32,
    /// M = m * 2^R.
    full: u64,
    /// Bytes of packed registers per bucket.
    block: usize,
    key_seed: u32,
    pair_seeds: [u32; 2],
    row_seeds: [u32; MAX_DEPTH as usize],
    rng_seed: u64,
    /// [`width_magic`] of the width.
    width_magic: u64,
}

impl Shape {
    /// `cfg` must be valid.
    fn of(cfg: &SuperSpreadConfig) -> Shape {
        let s = cfg.seed;
        let rmax = ((1u32 << cfg.register_bits) - 1).min(HASH_MAX_VALUE);
        let mut row_seeds = [0u32; MAX_DEPTH as usize];
        for (i, r) in row_seeds.iter_mut().enumerate() {
            *r = derived_seed(s, 100 + i as u32);
        }
        Shape {
            depth: cfg.depth as usize,
            width: cfg.width as usize,
            m: cfg.registers as usize,
            bits: cfg.register_bits,
            rmax,
            full: (cfg.registers as u64) << rmax,
            block: (cfg.registers * cfg.register_bits / 8) as usize,
            key_seed: derived_seed(s, 0),
            pair_seeds: [derived_seed(s, 1), derived_seed(s, 2)],
            row_seeds,
            rng_seed: (derived_seed(s, 3) as u64) << 32 | derived_seed(s, 4) as u64,
            width_magic: width_magic(cfg.width),
        }
    }

    /// Bucket index of row `row` for a key whose hash is `h`.
    #[inline]
    fn bucket(&self, h: u32, row: usize) -> usize {
        let seed = self.row_seeds.get(row).copied().unwrap_or(0);
        row * self.width + reduce(fmix32(h ^ seed), self.width as u32, self.width_magic)
    }

    /// The term 2^(R - r) of a register at `r` in S, 0 when saturated.
    #[inline]
    fn term(&self, r: u32) -> u64 {
        if r < self.rmax {
            1u64 << (self.rmax - r)
        } else {
            0
        }
    }
}

fn decay_table_len(base: f64) -> usize {
    build_decay_table(base).len()
}

/// T[c] = floor(base^-c * 2^53) by repeated division, while non-zero, at most DECAY_TABLE_CAP.
fn build_decay_table(base: f64) -> Vec<u64> {
    const TWO53: f64 = 9_007_199_254_740_992.0;
    let mut t = vec![1u64 << 53];
    let mut p = 1.0f64;
    if base.is_nan() || base <= 1.0 {
        return t;
    }
    while t.len() < DECAY_TABLE_CAP {
        p /= base;
        let v = (p * TWO53) as u64;
        if v == 0 {
            break;
        }
        t.push(v);
    }
    t.shrink_to_fit();
    t
}

/// Register `j` of a packed block of `bits`-bit registers (0 if out of range).
#[inline]
fn reg_get(block: &[u8], j: usize, bits: u32) -> u32 {
    let k = j * bits as usize;
    let lo = block.get(k / 8).copied().unwrap_or(0) as u32;
    let hi = block.get(k / 8 + 1).copied().unwrap_or(0) as u32;
    ((lo | hi << 8) >> (k % 8)) & ((1u32 << bits) - 1)
}

/// Sets register `j` of a packed block to `v` (masked to `bits`); out of range does nothing.
#[inline]
fn reg_set(block: &mut [u8], j: usize, bits: u32, v: u32) {
    let k = j * bits as usize;
    let mask = (1u32 << bits) - 1;
    let shift = k % 8;
    let word_mask = mask << shift;
    let word_val = (v & mask) << shift;
    if let Some(b) = block.get_mut(k / 8) {
        *b = (*b & !(word_mask as u8)) | word_val as u8;
    }
    if shift + bits as usize > 8 {
        if let Some(b) = block.get_mut(k / 8 + 1) {
            *b = (*b & !((word_mask >> 8) as u8)) | (word_val >> 8) as u8;
        }
    }
}

/// murmur3_32(seed, a ++ b) without a buffer (for pairs longer than PAIR_BUF).
fn murmur3_32_concat(seed: u32, a: &[u8], b: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut word = 0u32;
    let mut n = 0usize;
    for &x in a.iter().chain(b.iter()) {
        word |= (x as u32) << (8 * (n & 3));
        n += 1;
        if n & 3 == 0 {
            h ^= word.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
            h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
            word = 0;
        }
    }
    if n & 3 != 0 {
        h ^= word.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= n as u32;
    fmix32(h)
}

/// murmur3_32(seed1, x) and murmur3_32(seed2, x) in one pass.
#[inline]
fn murmur3_32_x2(seed1: u32, seed2: u32, data: &[u8]) -> (u32, u32) {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let (mut h1, mut h2) = (seed1, seed2);
    let mut blocks = data.chunks_exact(4);
    for b in &mut blocks {
        let k = u32::from_le_bytes([b[0], b[1], b[2], b[3]]).wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h1 = (h1 ^ k).rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
        h2 = (h2 ^ k).rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, &b) in tail.iter().enumerate() {
            k |= (b as u32) << (8 * i);
        }
        let k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h1 ^= k;
        h2 ^= k;
    }
    (fmix32(h1 ^ data.len() as u32), fmix32(h2 ^ data.len() as u32))
}

/// A pair after hashing: register index `j`, value `v`, and its bucket in each row.
#[derive(Clone, Copy, Default)]
struct Prepared {
    j: usize,
    v: u32,
    buckets: [usize; MAX_DEPTH as usize],
}

/// The non-register state of a bucket, together so that an update touches one cache line.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Cell {
    /// 0 = empty.
    counter: u64,
    /// S = sum over the non-saturated registers r of 2^(R - r).
    sum: u64,
    /// The owner (the empty key when the bucket is empty).
    key: PackedKey,
}

/// A sketch of per-key spreads: see the module documentation for the exact algorithm.
#[derive(Clone)]
pub struct SuperSpread {
    cfg: SuperSpreadConfig,
    shape: Shape,
    cells: Vec<Cell>,
    regs: Vec<u8>,
    decay: Vec<u64>,
    rng: CounterRng,
    /// Draws made before `rng` was (re)created by decode.
    draws_base: u64,
    empty: PackedKey,
}

impl core::fmt::Debug for SuperSpread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let held = self.cells.iter().filter(|c| c.counter > 0).count();
        f.debug_struct("SuperSpread")
            .field("cfg", &self.cfg)
            .field("held_buckets", &held)
            .field("draws", &self.draws())
            .finish()
    }
}

impl SuperSpread {
    pub fn new(cfg: SuperSpreadConfig) -> Result<SuperSpread, String> {
        cfg.validate()?;
        let shape = Shape::of(&cfg);
        let empty = PackedKey::from_bytes(&[]).ok_or("superspread: cannot build the empty key")?;
        let n = shape.depth * shape.width;
        Ok(SuperSpread {
            cells: vec![Cell { counter: 0, sum: shape.full, key: empty }; n],
            regs: vec![0; n * shape.block],
            decay: build_decay_table(cfg.decay_base),
            rng: CounterRng::new(shape.rng_seed),
            draws_base: 0,
            empty,
            shape,
            cfg,
        })
    }

    pub fn config(&self) -> &SuperSpreadConfig {
        &self.cfg
    }

    /// One (key, element) pair seen.
    pub fn add(&mut self, key: &PackedKey, element: &[u8]) {
        let pair = self.prepare(key, element);
        self.apply(key, &pair);
    }

    /// Words [`SuperSpread::add_hashed`] needs for a pair: the register index and value, then
    /// the bucket of every row. A caller that sees the same pair again (the engine, per flow)
    /// keeps them instead of hashing it per packet.
    pub fn hash_words(&self) -> usize {
        2 + self.shape.depth
    }

    /// Fills `out` (of `hash_words` words) for the pair.
    pub fn hash_pair(&self, key: &PackedKey, element: &[u8], out: &mut [u32]) {
        let p = self.prepare(key, element);
        if let [j, v, buckets @ ..] = out {
            *j = p.j as u32;
            *v = p.v;
            for (b, &t) in buckets.iter_mut().zip(&p.buckets) {
                *b = t as u32;
            }
        }
    }

    /// As [`SuperSpread::add`], with the pair's words from [`SuperSpread::hash_pair`]; `key` is
    /// asked for only when a register rises (a new pair in a row).
    #[inline]
    pub fn add_hashed(&mut self, words: &[u32], key: impl FnOnce() -> PackedKey) {
        let [j, v, buckets @ ..] = words else { return };
        let (j, v) = (*j as usize, *v);
        let (bits, block) = (self.shape.bits, self.shape.block);
        let mut key = Some(key);
        let mut packed = self.empty;
        for &t in buckets.iter().take(self.shape.depth) {
            let t = t as usize;
            let r = self.regs.get(t * block..(t + 1) * block).map_or(u32::MAX, |b| reg_get(b, j, bits));
            if v > r {
                if let Some(k) = key.take() {
                    packed = k();
                }
                self.update(t, &packed, j, v, r);
            }
        }
    }

    /// Step 1 and 2 of `add`: the register index and value, and the bucket of every row.
    #[inline]
    fn prepare(&self, key: &PackedKey, element: &[u8]) -> Prepared {
        let kb = key.as_bytes();
        let [s1, s2] = self.shape.pair_seeds;
        let total = kb.len() + element.len();
        let (g, g2) = if total <= PAIR_BUF {
            let mut buf = [0u8; PAIR_BUF];
            let (head, tail) = buf.split_at_mut(kb.len());
            head.copy_from_slice(kb);
            if let Some(dst) = tail.get_mut(..element.len()) {
                dst.copy_from_slice(element);
            }
            murmur3_32_x2(s1, s2, buf.get(..total).unwrap_or(&[]))
        } else {
            (murmur3_32_concat(s1, kb, element), murmur3_32_concat(s2, kb, element))
        };
        let h = murmur3_32(self.shape.key_seed, kb);
        let mut p = Prepared {
            j: g as usize & (self.shape.m - 1),
            v: (g2.leading_zeros() + 1).min(self.shape.rmax),
            buckets: [0; MAX_DEPTH as usize],
        };
        for (row, t) in p.buckets.iter_mut().enumerate().take(self.shape.depth) {
            *t = self.shape.bucket(h, row);
        }
        p
    }

    /// Step 3 of `add` for a prepared pair.
    #[inline]
    fn apply(&mut self, key: &PackedKey, p: &Prepared) {
        // Read register j of every row first (rows never share a bucket, so this is the same as
        // reading it row by row) so that the cache misses overlap.
        let mut regs = [0u32; MAX_DEPTH as usize];
        let (bits, block) = (self.shape.bits, self.shape.block);
        for (&t, r) in p.buckets.iter().zip(regs.iter_mut()).take(self.shape.depth) {
            *r = self.regs.get(t * block..(t + 1) * block).map_or(u32::MAX, |b| reg_get(b, p.j, bits));
        }
        for (&t, &r) in p.buckets.iter().zip(regs.iter()).take(self.shape.depth) {
            if p.v > r {
                self.update(t, key, p.j, p.v, r);
            }
        }
    }

    /// Sampler, rounding and unit steps of one row (module doc, step 3).
    #[inline]
    /// `r` is register `j` of bucket `t`, and `v > r`.
    fn update(&mut self, t: usize, key: &PackedKey, j: usize, v: u32, r: u32) {
        let bits = self.shape.bits;
        let start = t * self.shape.block;
        let Some(block) = self.regs.get_mut(start..start + self.shape.block) else { return };
        reg_set(block, j, bits, v);
        let Some(cell) = self.cells.get_mut(t) else { return };
        let s0 = cell.sum;
        cell.sum = s0.saturating_sub(self.shape.term(r)) + self.shape.term(v);
        if s0 == 0 {
            return; // unreachable in a consistent state: register j was not saturated
        }
        let full = self.shape.full;
        let steps = full.div_ceil(s0);
        if self.rng.below(s0.saturating_mul(steps)) >= full {
            return;
        }
        let mut n = steps;
        while n > 0 {
            let c = cell.counter;
            if c == 0 {
                // Claim: the registers restart from the claiming pair.
                cell.key = *key;
                cell.counter = n;
                cell.sum = full - self.shape.term(0) + self.shape.term(v);
                block.fill(0);
                reg_set(block, j, bits, v);
                return;
            }
            if cell.key == *key {
                cell.counter = c.saturating_add(n);
                return;
            }
            if c >= self.decay.len() as u64 {
                return; // decay probability 0: the remaining steps do nothing
            }
            let threshold = self.decay.get(c as usize).copied().unwrap_or(0);
            n -= 1;
            if (self.rng.next_u64() >> 11) < threshold {
                cell.counter = c - 1;
                if c == 1 {
                    cell.key = self.empty;
                }
            }
        }
    }

    /// The maximum counter over the rows whose bucket holds `key`, 0 if none.
    pub fn estimate(&self, key: &PackedKey) -> u64 {
        let h = murmur3_32(self.shape.key_seed, key.as_bytes());
        let mut best = 0;
        for row in 0..self.shape.depth {
            let t = self.shape.bucket(h, row);
            if let Some(cell) = self.cells.get(t) {
                if cell.counter > best && cell.key == *key {
                    best = cell.counter;
                }
            }
        }
        best
    }

    /// Keys whose estimate is >= threshold, by estimate descending then key bytes ascending.
    pub fn spreaders(&self) -> Vec<(PackedKey, u64)> {
        let threshold = self.cfg.threshold.max(1);
        let mut keys: Vec<PackedKey> = self.cells.iter().filter(|c| c.counter >= threshold).map(|c| c.key).collect();
        keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        keys.dedup();
        let mut out: Vec<(PackedKey, u64)> = keys.into_iter().map(|k| (k, self.estimate(&k))).collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_bytes().cmp(b.0.as_bytes())));
        out
    }

    /// A new window: keys, counters and registers cleared, p back to 1, generator restarted.
    pub fn reset(&mut self) {
        self.cells.fill(Cell { counter: 0, sum: self.shape.full, key: self.empty });
        self.regs.fill(0);
        self.rng = CounterRng::new(self.shape.rng_seed);
        self.draws_base = 0;
    }

    /// Bytes of packed registers: depth * width * m * b / 8.
    pub fn register_bytes(&self) -> usize {
        self.shape.depth * self.shape.width * self.shape.block
    }

    /// Everything the sketch has allocated: its arrays (not the struct, whose size differs
    /// between 32- and 64-bit builds, so every backend reports the same figure).
    pub fn memory_bytes(&self) -> usize {
        self.cells.capacity() * core::mem::size_of::<Cell>() + self.regs.capacity() + self.decay.capacity() * 8
    }

    /// Values the generator has produced since the start of the window.
    fn draws(&self) -> u64 {
        self.draws_base.wrapping_add(self.rng.draws())
    }

    /// Appends the snapshot (format in the module documentation).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let c = &self.cfg;
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        for x in [c.depth, c.width, c.registers, c.register_bits] {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for x in [c.decay_base.to_bits(), c.threshold, c.seed, self.draws()] {
            out.extend_from_slice(&x.to_le_bytes());
        }
        let block = self.shape.block;
        for (t, cell) in self.cells.iter().enumerate() {
            let (cnt, key) = (cell.counter, &cell.key);
            let regs = self.regs.get(t * block..(t + 1) * block).unwrap_or(&[]);
            let has_regs = regs.iter().any(|&b| b != 0);
            let flags = if cnt > 0 { FLAG_HELD } else { 0 } | if has_regs { FLAG_REGS } else { 0 };
            out.push(flags);
            if cnt > 0 {
                let mut x = cnt;
                while x >= 0x80 {
                    out.push(x as u8 | 0x80);
                    x >>= 7;
                }
                out.push(x as u8);
                let kb = key.as_bytes();
                out.push(kb.len() as u8);
                out.extend_from_slice(kb);
            }
            if has_regs {
                out.extend_from_slice(regs);
            }
        }
    }

    /// Rebuilds a sketch from [`SuperSpread::encode`] bytes, validating everything.
    pub fn decode(bytes: &[u8]) -> Result<SuperSpread, String> {
        let mut r = LeReader::new(bytes, "SuperSpread snapshot");
        if r.take(4, "magic")? != MAGIC {
            return Err("superspread decode: bad magic (expected \"NSSS\")".to_string());
        }
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(format!("superspread decode: unsupported version {version} (expected {VERSION})"));
        }
        let cfg = SuperSpreadConfig {
            depth: r.u32("depth")?,
            width: r.u32("width")?,
            registers: r.u32("registers")?,
            register_bits: r.u32("register_bits")?,
            decay_base: f64::from_bits(r.u64("decay_base")?),
            threshold: r.u64("threshold")?,
            seed: r.u64("seed")?,
        };
        let draws = r.u64("draws")?;
        cfg.validate().map_err(|e| format!("superspread decode: invalid configuration: {e}"))?;
        let shape = Shape::of(&cfg);
        let buckets_at = r.pos;
        // Pass 1 validates without allocating, so garbage never costs a large allocation.
        walk_buckets(&shape, &mut LeReader::at(bytes, buckets_at, "SuperSpread snapshot"), None)?;
        let mut s = SuperSpread::new(cfg)?;
        walk_buckets(&shape, &mut LeReader::at(bytes, buckets_at, "SuperSpread snapshot"), Some(&mut s))?;
        s.rng = CounterRng::new(shape.rng_seed.wrapping_add(draws.wrapping_mul(GOLDEN)));
        s.draws_base = draws;
        Ok(s)
    }
}

/// Reads the bucket section; with `fill`, stores it.
fn walk_buckets(shape: &Shape, r: &mut LeReader<'_>, mut fill: Option<&mut SuperSpread>) -> Result<(), String> {
    let n = shape.depth * shape.width;
    if r.remaining() < n {
        return Err(format!(
            "superspread decode: {} bytes left for {n} buckets (at least one byte each)",
            r.remaining()
        ));
    }
    for t in 0..n {
        let row = t / shape.width;
        let col = t % shape.width;
        let at = |what: &str| format!("superspread decode: bucket {t} (row {row}, column {col}): {what}");
        let flags = r.u8("bucket flags")?;
        if flags & !(FLAG_HELD | FLAG_REGS) != 0 {
            return Err(at(&format!("reserved flag bits set in {flags:#04x}")));
        }
        if flags & FLAG_HELD != 0 {
            let cnt = varint(r)?;
            if cnt == 0 {
                return Err(at("held bucket with counter 0"));
            }
            let len = r.u8("key length")? as usize;
            if len > PackedKey::MAX {
                return Err(at(&format!("key length {len} over the maximum {}", PackedKey::MAX)));
            }
            let kb = r.take(len, "key bytes")?;
            let key = PackedKey::from_bytes(kb).ok_or_else(|| at("bad key"))?;
            if shape.bucket(murmur3_32(shape.key_seed, kb), row) != t {
                return Err(at("the key does not hash to this bucket"));
            }
            if let Some(s) = fill.as_deref_mut() {
                if let Some(cell) = s.cells.get_mut(t) {
                    cell.key = key;
                    cell.counter = cnt;
                }
            }
        }
        if flags & FLAG_REGS != 0 {
            let block = r.take(shape.block, "registers")?;
            if block.iter().all(|&b| b == 0) {
                return Err(at("register block marked present but all zero"));
            }
            let mut sum = 0u64;
            for j in 0..shape.m {
                let v = reg_get(block, j, shape.bits);
                if v > shape.rmax {
                    return Err(at(&format!("register {j} = {v} over the maximum {}", shape.rmax)));
                }
                sum += shape.term(v);
            }
            if let Some(s) = fill.as_deref_mut() {
                if let Some(dst) = s.regs.get_mut(t * shape.block..(t + 1) * shape.block) {
                    dst.copy_from_slice(block);
                }
                if let Some(cell) = s.cells.get_mut(t) {
                    cell.sum = sum;
                }
            }
        }
    }
    if r.remaining() > 0 {
        return Err(format!("superspread decode: {} trailing bytes after the buckets", r.remaining()));
    }
    Ok(())
}

/// Minimal unsigned LEB128, at most 10 bytes, fitting u64.
fn varint(r: &mut LeReader<'_>) -> Result<u64, String> {
    let start = r.pos;
    let mut x = 0u64;
    for i in 0..10u32 {
        let b = r.u8("counter")?;
        let payload = (b & 0x7f) as u64;
        if i == 9 && payload > 1 {
            return Err(format!("superspread decode: counter at byte {start} overflows 64 bits"));
        }
        x |= payload << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && b == 0 {
                return Err(format!("superspread decode: counter at byte {start} is not minimally encoded"));
            }
            return Ok(x);
        }
    }
    Err(format!("superspread decode: counter at byte {start} is longer than 10 bytes"))
}

const _: () = assert!(HEADER_LEN == 53);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn cfg(depth: u32, width: u32, registers: u32, register_bits: u32, threshold: u64, seed: u64) -> SuperSpreadConfig {
        SuperSpreadConfig { depth, width, registers, register_bits, decay_base: 1.08, threshold, seed }
    }

    fn paper_cfg(seed: u64) -> SuperSpreadConfig {
        cfg(2, 8192, 128, 5, 300, seed)
    }

    /// An IPv4-style packed address key (family byte + 16 bytes).
    fn key(id: u32) -> PackedKey {
        let mut b = [0u8; 17];
        b[0] = 4;
        b[1..5].copy_from_slice(&id.to_be_bytes());
        PackedKey::from_bytes(&b).unwrap()
    }

    fn element(id: u32) -> [u8; 17] {
        let mut b = [0u8; 17];
        b[0] = 4;
        b[1..5].copy_from_slice(&(0x0a00_0000 ^ id).to_be_bytes());
        b
    }

    struct Stream {
        pairs: Vec<(u32, u32)>,
        truth: Vec<(u32, u64)>,
    }

    /// 20 planted spreaders with 500..=5000 distinct elements, each element sent 1-3 times, and
    /// 100k background keys with 1-5 elements each, shuffled deterministically.
    fn synthetic(seed: u64) -> Stream {
        let mut rng = CounterRng::new(seed);
        let mut pairs = Vec::new();
        let mut truth = Vec::new();
        for s in 0..20u32 {
            let id = 1_000_000 + s;
            let spread = 500 + s as u64 * 4500 / 19;
            for e in 0..spread as u32 {
                for _ in 0..1 + rng.below(3) {
                    pairs.push((id, e.wrapping_mul(2_654_435_761) ^ id));
                }
            }
            truth.push((id, spread));
        }
        for b in 0..100_000u32 {
            let n = 1 + rng.below(5) as u32;
            for e in 0..n {
                for _ in 0..1 + rng.below(2) {
                    pairs.push((b, e ^ (b << 3)));
                }
            }
        }
        for i in (1..pairs.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            pairs.swap(i, j);
        }
        Stream { pairs, truth }
    }

    fn feed(s: &mut SuperSpread, st: &Stream) {
        for &(k, e) in &st.pairs {
            s.add(&key(k), &element(e));
        }
    }

    /// S matches the registers, registers <= R, empty buckets hold the empty key.
    fn check_invariants(s: &SuperSpread) {
        let sh = &s.shape;
        for (t, cell) in s.cells.iter().enumerate() {
            let block = &s.regs[t * sh.block..(t + 1) * sh.block];
            let mut sum = 0;
            for j in 0..sh.m {
                let r = reg_get(block, j, sh.bits);
                assert!(r <= sh.rmax, "bucket {t} register {j} = {r}");
                sum += sh.term(r);
            }
            assert_eq!(cell.sum, sum, "bucket {t}: S out of step with its registers");
            if cell.counter == 0 {
                assert_eq!(cell.key, s.empty, "bucket {t}: empty bucket with a key");
            }
        }
    }

    fn encoded(s: &SuperSpread) -> Vec<u8> {
        let mut v = Vec::new();
        s.encode(&mut v);
        v
    }

    #[test]
    fn accuracy_on_planted_spreaders() {
        // Three independent runs (stream seed, sketch seed); every run must meet the bar.
        for (stream_seed, sketch_seed) in [(11, 42), (12, 43), (13, 44)] {
            let st = synthetic(stream_seed);
            let mut s = SuperSpread::new(paper_cfg(sketch_seed)).unwrap();
            feed(&mut s, &st);
            let truth: HashSet<PackedKey> = st.truth.iter().map(|&(k, _)| key(k)).collect();
            let reported = s.spreaders();
            let rep: HashSet<PackedKey> = reported.iter().map(|&(k, _)| k).collect();
            assert_eq!(rep.len(), reported.len(), "each key once");
            let hit = rep.intersection(&truth).count() as f64;
            let recall = hit / truth.len() as f64;
            let precision = if rep.is_empty() { 0.0 } else { hit / rep.len() as f64 };
            // Relative error is (est - act) / act, parenthesised.
            let errs: Vec<f64> =
                st.truth.iter().map(|&(k, act)| (s.estimate(&key(k)) as f64 - act as f64) / act as f64).collect();
            let are = errs.iter().map(|e| e.abs()).sum::<f64>() / errs.len() as f64;
            let bias = errs.iter().sum::<f64>() / errs.len() as f64;
            let worst = errs.iter().fold(0f64, |m, e| m.max(e.abs()));
            println!(
                "superspread accuracy (stream {stream_seed}, seed {sketch_seed}): pairs {}, reported {}, recall \
                 {recall:.3}, precision {precision:.3}, ARE {are:.4}, mean signed error {bias:+.4}, worst {worst:.4}",
                st.pairs.len(),
                rep.len()
            );
            assert!(recall >= 0.95, "recall {recall}");
            assert!(precision >= 0.9, "precision {precision}");
            assert!(are <= 0.25, "ARE {are}");
            check_invariants(&s);
            // Sorted by estimate descending, then key bytes.
            for w in reported.windows(2) {
                assert!(w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0.as_bytes() < w[1].0.as_bytes()));
            }
        }
    }

    #[test]
    fn single_key_estimate_is_close_for_every_register_width() {
        for bits in [4, 5, 6, 8] {
            let mut s = SuperSpread::new(cfg(1, 64, 128, bits, 1, 9)).unwrap();
            let n = 20_000u32;
            for e in 0..n {
                s.add(&key(7), &element(e));
            }
            let est = s.estimate(&key(7)) as f64;
            let err = (est - n as f64).abs() / n as f64;
            assert!(err < 0.2, "b={bits}: estimate {est} for {n} distinct");
        }
    }

    #[test]
    fn duplicates_do_not_inflate() {
        let mut s = SuperSpread::new(paper_cfg(1)).unwrap();
        for _ in 0..10_000 {
            s.add(&key(5), &element(77));
        }
        assert_eq!(s.estimate(&key(5)), 1);
        // Many keys, each one pair repeated: 1 each (the claim records the claiming pair).
        for k in 100..150 {
            for _ in 0..200 {
                s.add(&key(k), &element(k * 3));
            }
        }
        for k in 100..150 {
            assert!(s.estimate(&key(k)) <= 1, "key {k}: {}", s.estimate(&key(k)));
        }
        check_invariants(&s);
        // Interleaved with other traffic, repeats still count at most once per distinct element.
        let mut s = SuperSpread::new(cfg(2, 64, 64, 5, 1, 3)).unwrap();
        for round in 0..50 {
            for e in 0..40 {
                s.add(&key(9), &element(e));
                s.add(&key(1000 + round), &element(e));
            }
        }
        let est = s.estimate(&key(9));
        assert!(est <= 80, "40 distinct elements repeated 50 times estimated {est}");
    }

    #[test]
    fn deterministic_and_seeded() {
        let st = synthetic(5);
        let mut a = SuperSpread::new(paper_cfg(7)).unwrap();
        let mut b = SuperSpread::new(paper_cfg(7)).unwrap();
        let mut c = SuperSpread::new(paper_cfg(8)).unwrap();
        feed(&mut a, &st);
        feed(&mut b, &st);
        feed(&mut c, &st);
        let (ea, eb, ec) = (encoded(&a), encoded(&b), encoded(&c));
        assert_eq!(ea, eb);
        assert_ne!(ea, ec);
        // Not only the header: the bucket sections differ too.
        assert_ne!(ea[HEADER_LEN..], ec[HEADER_LEN..]);
    }

    #[test]
    fn reset_restores_p_and_replays_identically() {
        let st = synthetic(3);
        let mut fresh = SuperSpread::new(paper_cfg(4)).unwrap();
        let empty = encoded(&fresh);
        let mut s = SuperSpread::new(paper_cfg(4)).unwrap();
        feed(&mut s, &st);
        check_invariants(&s);
        let first = encoded(&s);
        assert!(!s.spreaders().is_empty());
        assert!(s.cells.iter().any(|c| c.sum < s.shape.full), "p shrank during the window");
        s.reset();
        assert!(s.spreaders().is_empty());
        assert!(s.regs.iter().all(|&b| b == 0));
        assert!(s.cells.iter().all(|c| c.sum == s.shape.full), "p back to 1");
        assert_eq!(s.draws(), 0);
        assert_eq!(encoded(&s), empty);
        feed(&mut s, &st);
        assert_eq!(encoded(&s), first, "second window identical to the first");
        feed(&mut fresh, &st);
        assert_eq!(encoded(&fresh), first);
    }

    #[test]
    fn register_bytes_match_the_target() {
        let s = SuperSpread::new(paper_cfg(0)).unwrap();
        assert_eq!(s.register_bytes(), 1_310_720);
        assert_eq!(s.regs.len(), 1_310_720);
        assert!(s.memory_bytes() >= s.register_bytes());
        println!("register_bytes {} memory_bytes {}", s.register_bytes(), s.memory_bytes());
    }

    #[test]
    fn packed_registers_round_trip_at_bucket_boundaries() {
        for bits in 3..=8u32 {
            let m = 8usize;
            let block = m * bits as usize / 8;
            let mut regs = vec![0u8; 3 * block];
            let max = (1u32 << bits) - 1;
            let mut expect = vec![0u32; 3 * m];
            let mut x = 1u32;
            for (t, chunk) in regs.chunks_mut(block).enumerate() {
                for j in 0..m {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    let v = if j == 0 || j == m - 1 { max } else { (x >> 16) & max };
                    reg_set(chunk, j, bits, v);
                    expect[t * m + j] = v;
                }
            }
            for (t, chunk) in regs.chunks(block).enumerate() {
                for j in 0..m {
                    assert_eq!(reg_get(chunk, j, bits), expect[t * m + j], "b={bits} t={t} j={j}");
                }
            }
            // Clearing the last register of a bucket leaves its neighbours intact.
            let (first, rest) = regs.split_at_mut(block);
            reg_set(first, m - 1, bits, 0);
            assert_eq!(reg_get(first, m - 1, bits), 0);
            assert_eq!(reg_get(first, m - 2, bits), expect[m - 2]);
            assert_eq!(reg_get(rest, 0, bits), expect[m]);
            // Out of range neither panics nor writes.
            reg_set(first, m, bits, max);
            assert_eq!(reg_get(first, m, bits), 0);
        }
    }

    #[test]
    fn concat_hash_matches_buffered_hash() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for split in [0, 1, 3, 4, 17, 39] {
            for len in [0, 1, 2, 5, 8, 100, 300 - split] {
                let (a, b) = (&data[..split], &data[split..split + len]);
                let whole: Vec<u8> = a.iter().chain(b).copied().collect();
                assert_eq!(murmur3_32_concat(77, a, b), murmur3_32(77, &whole));
            }
        }
        // A long element goes through the streaming path and still behaves like a set element.
        let mut s = SuperSpread::new(cfg(1, 16, 8, 5, 1, 0)).unwrap();
        let long = vec![9u8; 1000];
        for _ in 0..10 {
            s.add(&key(1), &long);
        }
        assert_eq!(s.estimate(&key(1)), 1);
    }

    #[test]
    fn dual_hash_matches_murmur3() {
        let data: Vec<u8> = (0..64u32).map(|i| (i * 13 + 1) as u8).collect();
        for len in 0..data.len() {
            let (a, b) = murmur3_32_x2(3, 0xdead_beef, &data[..len]);
            assert_eq!((a, b), (murmur3_32(3, &data[..len]), murmur3_32(0xdead_beef, &data[..len])));
        }
    }

    #[test]
    fn restored_generator_continues_the_sequence() {
        let mut a = CounterRng::new(123);
        for _ in 0..1000 {
            a.next_u64();
        }
        let mut b = CounterRng::new(123u64.wrapping_add(1000u64.wrapping_mul(GOLDEN)));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn decay_table() {
        let t = build_decay_table(1.08);
        assert_eq!(t[0], 1 << 53);
        assert!(t.windows(2).all(|w| w[1] <= w[0]) && *t.last().unwrap() > 0);
        assert_eq!(t.len(), 478);
        assert_eq!(build_decay_table(2.0).len(), 54);
        assert_eq!(build_decay_table(1.000_000_1).len(), DECAY_TABLE_CAP);
    }

    #[test]
    fn encode_decode_round_trip() {
        let st = synthetic(9);
        let mut s = SuperSpread::new(paper_cfg(21)).unwrap();
        feed(&mut s, &st);
        let bytes = encoded(&s);
        println!("snapshot {} bytes", bytes.len());
        let mut d = SuperSpread::decode(&bytes).unwrap();
        assert_eq!(encoded(&d), bytes);
        assert_eq!(d.config(), s.config());
        assert_eq!(d.spreaders(), s.spreaders());
        assert_eq!(d.cells, s.cells);
        // The decoded sketch continues exactly like the original, generator included.
        let more = synthetic(10);
        feed(&mut s, &more);
        feed(&mut d, &more);
        assert_eq!(encoded(&d), encoded(&s));
        // A reset sketch encodes one flag byte per bucket.
        s.reset();
        assert_eq!(encoded(&s).len(), HEADER_LEN + 2 * 8192);
    }

    fn small_snapshot() -> Vec<u8> {
        let mut s = SuperSpread::new(cfg(2, 16, 8, 5, 3, 5)).unwrap();
        for i in 0..400u32 {
            s.add(&key(i % 7), &element(i * 31));
        }
        encoded(&s)
    }

    #[test]
    fn decode_rejects_bad_input_without_panicking() {
        let good = small_snapshot();
        assert!(SuperSpread::decode(&good).is_ok());
        for n in 0..good.len() {
            assert!(SuperSpread::decode(&good[..n]).is_err(), "truncated to {n}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(SuperSpread::decode(&long).unwrap_err().contains("trailing"));
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(SuperSpread::decode(&bad).unwrap_err().contains("magic"));
        let mut bad = good.clone();
        bad[4] = 2;
        assert!(SuperSpread::decode(&bad).unwrap_err().contains("version"));
        let mut bad = good.clone();
        bad[5..9].copy_from_slice(&9u32.to_le_bytes());
        assert!(SuperSpread::decode(&bad).unwrap_err().contains("depth"));
        let mut bad = good.clone();
        bad[21..29].copy_from_slice(&f64::NAN.to_bits().to_le_bytes());
        assert!(SuperSpread::decode(&bad).unwrap_err().contains("decay_base"));
        let mut bad = good.clone();
        bad[HEADER_LEN] = 0x80;
        assert!(SuperSpread::decode(&bad).unwrap_err().contains("reserved"));
        // Every single-byte corruption: Ok or Err, never a panic; an accepted one re-encodes identically.
        for i in 0..good.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut g = good.clone();
                g[i] ^= x;
                if let Ok(d) = SuperSpread::decode(&g) {
                    assert_eq!(encoded(&d), g, "canonical at byte {i}");
                }
            }
        }
        // Random bytes, with and without a valid-looking header.
        let mut rng = CounterRng::new(99);
        for round in 0..3000 {
            let n = rng.below(300) as usize;
            let mut g: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            if round % 2 == 1 && g.len() >= HEADER_LEN {
                g[..HEADER_LEN].copy_from_slice(&good[..HEADER_LEN]);
                assert!(SuperSpread::decode(&g).is_err());
            } else {
                assert!(SuperSpread::decode(&g).is_err());
            }
        }
    }

    #[test]
    fn decode_rejects_inconsistent_buckets() {
        // Empty sketch with one held bucket hand-written into bucket 0.
        let s = SuperSpread::new(cfg(1, 4, 8, 8, 1, 0)).unwrap();
        let base = encoded(&s);
        assert_eq!(base.len(), HEADER_LEN + 4);
        // A key that does not hash to bucket 0 (try ids until one maps elsewhere).
        let h = |k: &PackedKey| s.shape.bucket(murmur3_32(s.shape.key_seed, k.as_bytes()), 0);
        let wrong = (0..100).map(key).find(|k| h(k) != 0).unwrap();
        let right = (0..100).map(key).find(|k| h(k) == 0).unwrap();
        let with = |k: &PackedKey, counter: &[u8], regs: Option<&[u8]>| {
            let mut v = base[..HEADER_LEN].to_vec();
            v.push(FLAG_HELD | if regs.is_some() { FLAG_REGS } else { 0 });
            v.extend_from_slice(counter);
            v.push(k.as_bytes().len() as u8);
            v.extend_from_slice(k.as_bytes());
            if let Some(r) = regs {
                v.extend_from_slice(r);
            }
            v.extend_from_slice(&base[HEADER_LEN + 1..]);
            v
        };
        let ok = with(&right, &[5], None);
        let d = SuperSpread::decode(&ok).unwrap();
        assert_eq!(d.estimate(&right), 5);
        assert!(SuperSpread::decode(&with(&wrong, &[5], None)).unwrap_err().contains("hash"));
        assert!(SuperSpread::decode(&with(&right, &[0], None)).unwrap_err().contains("counter 0"));
        assert!(SuperSpread::decode(&with(&right, &[0x85, 0x00], None)).unwrap_err().contains("minimal"));
        assert!(SuperSpread::decode(&with(&right, &[0xff; 11], None)).is_err());
        // b = 8: registers above R = 33 are impossible.
        let mut regs = [0u8; 8];
        regs[3] = 34;
        assert!(SuperSpread::decode(&with(&right, &[5], Some(&regs))).unwrap_err().contains("over the maximum"));
        regs[3] = 33;
        let d = SuperSpread::decode(&with(&right, &[5], Some(&regs))).unwrap();
        assert_eq!(d.cells[0].sum, 7u64 << 33, "saturated register contributes nothing");
        assert!(SuperSpread::decode(&with(&right, &[5], Some(&[0u8; 8]))).unwrap_err().contains("all zero"));
    }

    #[test]
    fn config_validation_messages() {
        let good = paper_cfg(0);
        assert!(good.validate().is_ok());
        let check = |c: SuperSpreadConfig, parts: &[&str]| {
            let e = c.validate().unwrap_err();
            for p in parts {
                assert!(e.contains(p), "{e:?} should mention {p:?}");
            }
            assert_eq!(SuperSpread::new(c).unwrap_err(), e);
        };
        check(SuperSpreadConfig { depth: 0, ..good.clone() }, &["depth", "0", "1..=8"]);
        check(SuperSpreadConfig { depth: 9, ..good.clone() }, &["depth", "9", "1..=8"]);
        check(SuperSpreadConfig { width: 0, ..good.clone() }, &["width", "0", "4194304"]);
        check(SuperSpreadConfig { width: (1 << 22) + 1, ..good.clone() }, &["width", "4194305", "4194304"]);
        check(SuperSpreadConfig { registers: 100, ..good.clone() }, &["registers", "100", "power of two", "8..=4096"]);
        check(SuperSpreadConfig { registers: 4, ..good.clone() }, &["registers", "4", "8..=4096"]);
        check(SuperSpreadConfig { registers: 8192, ..good.clone() }, &["registers", "8192"]);
        check(SuperSpreadConfig { register_bits: 2, ..good.clone() }, &["register_bits", "2", "3..=8"]);
        check(SuperSpreadConfig { register_bits: 9, ..good.clone() }, &["register_bits", "9", "3..=8"]);
        check(SuperSpreadConfig { decay_base: 1.0, ..good.clone() }, &["decay_base", "1", "> 1.0", "<= 2.0"]);
        check(SuperSpreadConfig { decay_base: 2.5, ..good.clone() }, &["decay_base", "2.5"]);
        check(SuperSpreadConfig { decay_base: f64::NAN, ..good.clone() }, &["decay_base", "NaN"]);
        check(SuperSpreadConfig { threshold: 0, ..good.clone() }, &["threshold", "0", ">= 1"]);
        check(
            SuperSpreadConfig { depth: 8, width: 1 << 22, registers: 4096, register_bits: 8, ..good.clone() },
            &["depth 8", "width 4194304", "bytes", "1073741824"],
        );
        // Edges are accepted.
        for c in [
            SuperSpreadConfig { depth: 8, width: 1, registers: 8, register_bits: 3, decay_base: 2.0, ..good.clone() },
            SuperSpreadConfig { depth: 1, width: 1 << 22, registers: 8, register_bits: 8, ..good.clone() },
            SuperSpreadConfig { registers: 4096, ..good.clone() },
        ] {
            assert!(c.validate().is_ok(), "{c:?}");
        }
    }

    /// cargo test --release -p netspectra-core sketch::superspread::tests::throughput -- --ignored --nocapture
    #[test]
    #[ignore]
    fn throughput() {
        // Keys and elements are built per pair, as the capture pipeline builds a PackedKey per
        // packet; building them is included in the timing. The machine may be shared, so the
        // stream runs in chunks and both the overall and the best chunk rate are printed.
        fn run(label: &str, mut pair: impl FnMut(u64) -> (u32, u32)) -> f64 {
            let mut s = SuperSpread::new(paper_cfg(1)).unwrap();
            let (chunks, per) = (10u64, 2_000_000u64);
            let (mut best, mut total) = (0f64, 0f64);
            for c in 0..chunks {
                let t0 = std::time::Instant::now();
                for i in c * per..(c + 1) * per {
                    let (k, e) = pair(i);
                    s.add(&key(k), &element(e));
                }
                let dt = t0.elapsed().as_secs_f64();
                total += dt;
                best = best.max(per as f64 / dt);
            }
            let overall = (chunks * per) as f64 / total;
            println!(
                "superspread throughput (d=2 w=8192 m=128 b=5), {label}: {:.2} M pairs/s overall, {:.2} M pairs/s \
                 best chunk, {} draws",
                overall / 1e6,
                best / 1e6,
                s.draws()
            );
            best
        }
        let mut rng = CounterRng::new(5);
        // Every pair distinct (the expensive case: a register rises in most rows); one pair in ten
        // from one of 20 heavy spreaders, the rest over 100k keys.
        run("all pairs distinct", |i| {
            let r = rng.next_u64();
            let id = if r % 10 == 0 { 1_000_000 + (r >> 8) as u32 % 20 } else { (r >> 8) as u32 % 100_000 };
            (id, i as u32)
        });
        // Packet-like: 10k keys with up to 1000 elements each, so pairs repeat.
        let mut rng = CounterRng::new(6);
        run("repeating pairs", |_| {
            let r = rng.next_u64();
            ((r >> 8) as u32 % 10_000, (r >> 40) as u32 % 1000)
        });
    }
}
