// Count-Min sketch of packets and bytes per key with conservative update and two heavy-hitter
// candidate sets, exactly as specified in crates/core/src/sketch/countmin.rs (module doc).
//
// Counters and totals are JS numbers (Float64Array): exact below 2^53, which a window's byte
// total (9 PB) does not reach, so the u64 saturation of the core never comes into play.
// The candidate rule is applied per packet, which the core's batching is specified to equal.

import { ByteWriter } from './byte-writer.js';
import { derivedSeed, fmix32, murmur3 } from './hash.js';
import { compareBytes, MAX_KEY, sameBytes } from './packed-key.js';

const MAX_DEPTH = 16;
const MAX_WIDTH = 1 << 26;
const MAX_HEAVY_HITTERS = 100_000;
/** Pending-packet slots of the core (memory accounting only). */
const PENDING = 32;
// Sizes of the core's structures, for memory_bytes (x86_64 layout).
const SIZE_ENTRY = 16; // Entry { tracked: u64, member: u32 }
const SIZE_MEMBER = 52; // Member { key: PackedKey (40), h: u32, pos: [u32; 2] }
const SIZE_PENDING = 64; // Pending { key: PackedKey, h: u32, e: [u64; 2] }

export interface CountMinConfig {
  depth: number;
  width: number;
  conservative: boolean;
  heavyHitters: number;
  seed: bigint;
}

/** The core's validation, with its messages. */
export function validateCountMin(c: CountMinConfig): void {
  if (!(c.depth >= 1 && c.depth <= MAX_DEPTH)) {
    throw new Error(`depth must be between 1 and ${MAX_DEPTH}, got ${c.depth}`);
  }
  if (!(c.width >= 1 && c.width <= MAX_WIDTH)) {
    throw new Error(`width must be between 1 and ${MAX_WIDTH}, got ${c.width}`);
  }
  if (c.heavyHitters > MAX_HEAVY_HITTERS) {
    throw new Error(`heavy_hitters must be between 0 and ${MAX_HEAVY_HITTERS}, got ${c.heavyHitters}`);
  }
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * One bounded candidate set: a min-heap of members (root = worst: lowest tracked estimate, then
 * greatest key bytes) over member slots, indexed by the sketch hash with linear probing.
 */
class CandidateSet {
  readonly k: number;
  /** The value an estimate must exceed to change the set: 0 while there is room. */
  gate = 0;
  size = 0;
  /** Heap position p: tracked estimate and member slot. */
  private readonly heapT: Float64Array;
  private readonly heapM: Int32Array;
  /** Member slot m: key bytes at m * MAX_KEY, length, hash, heap position. */
  readonly keys: Uint8Array;
  readonly keyLen: Uint8Array;
  readonly hashes: Int32Array;
  private readonly pos: Int32Array;
  /** slot + 1, 0 = empty; power of two >= 4k. */
  private readonly table: Int32Array;
  private readonly mask: number;

  constructor(k: number) {
    this.k = k;
    this.heapT = new Float64Array(k);
    this.heapM = new Int32Array(k);
    this.keys = new Uint8Array(k * MAX_KEY);
    this.keyLen = new Uint8Array(k);
    this.hashes = new Int32Array(k);
    this.pos = new Int32Array(k);
    this.table = new Int32Array(nextPowerOfTwo(4 * k));
    this.mask = this.table.length - 1;
  }

  private find(key: Uint8Array, at: number, len: number, h: number): number {
    let i = h & this.mask;
    for (;;) {
      const s = this.table[i];
      if (s === 0) return -1;
      const m = s - 1;
      if (this.hashes[m] === h && this.keyLen[m] === len && sameBytes(this.keys, m * MAX_KEY, key, at, len)) return m;
      i = (i + 1) & this.mask;
    }
  }

  private index(m: number): void {
    let i = this.hashes[m] & this.mask;
    while (this.table[i] !== 0) i = (i + 1) & this.mask;
    this.table[i] = m + 1;
  }

  /** Drops slot `m` from the index (backward-shift deletion). */
  private unindex(m: number): void {
    const mask = this.mask;
    let hole = this.hashes[m] & mask;
    while (this.table[hole] !== m + 1) hole = (hole + 1) & mask;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const s = this.table[j];
      if (s === 0) break;
      const home = this.hashes[s - 1] & mask;
      // The entry may fill the hole when the hole lies on its probe path [home, j).
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        this.table[hole] = s;
        hole = j;
      }
    }
    this.table[hole] = 0;
  }

  /** Heap position a is worse than b. */
  private worse(a: number, b: number): boolean {
    const ta = this.heapT[a];
    const tb = this.heapT[b];
    if (ta !== tb) return ta < tb;
    const ma = this.heapM[a];
    const mb = this.heapM[b];
    return compareBytes(this.keys, ma * MAX_KEY, this.keyLen[ma], this.keys, mb * MAX_KEY, this.keyLen[mb]) > 0;
  }

  private swap(a: number, b: number): void {
    const t = this.heapT[a];
    this.heapT[a] = this.heapT[b];
    this.heapT[b] = t;
    const m = this.heapM[a];
    this.heapM[a] = this.heapM[b];
    this.heapM[b] = m;
    this.pos[this.heapM[a]] = a;
    this.pos[this.heapM[b]] = b;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.worse(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.worse(r, l) ? r : l;
      if (!this.worse(c, i)) break;
      this.swap(i, c);
      i = c;
    }
  }

  private refreshGate(): void {
    this.gate = this.size >= this.k ? this.heapT[0] : 0;
  }

  private store(m: number, key: Uint8Array, at: number, len: number, h: number): void {
    const keys = this.keys;
    const base = m * MAX_KEY;
    for (let i = 0; i < len; i++) keys[base + i] = key[at + i];
    this.keyLen[m] = len;
    this.hashes[m] = h;
    this.index(m);
  }

  /** The module-doc rule for one packet whose estimate `e` exceeds the gate. */
  offer(key: Uint8Array, at: number, len: number, hash: number, e: number): void {
    const h = hash | 0;
    const m = this.find(key, at, len, h);
    if (m >= 0) {
      const p = this.pos[m];
      if (e > this.heapT[p]) {
        this.heapT[p] = e;
        this.siftDown(p);
      }
    } else if (this.size < this.k) {
      const slot = this.size++;
      this.store(slot, key, at, len, h);
      this.heapT[slot] = e;
      this.heapM[slot] = slot;
      this.pos[slot] = slot;
      this.siftUp(slot);
    } else {
      // Full, and e beats the worst member: the new key takes the worst member's slot.
      const slot = this.heapM[0];
      this.unindex(slot);
      this.store(slot, key, at, len, h);
      this.heapT[0] = e;
      this.siftDown(0);
    }
    this.refreshGate();
  }

  /** Member slots with their tracked estimates, best first (tracked desc, key asc). */
  sorted(): Array<{ slot: number; tracked: number }> {
    const v: Array<{ slot: number; tracked: number }> = [];
    for (let p = 0; p < this.size; p++) v.push({ slot: this.heapM[p], tracked: this.heapT[p] });
    return v.sort((a, b) => (a.tracked !== b.tracked ? b.tracked - a.tracked : this.compareSlots(a.slot, b.slot)));
  }

  compareSlots(a: number, b: number): number {
    return compareBytes(this.keys, a * MAX_KEY, this.keyLen[a], this.keys, b * MAX_KEY, this.keyLen[b]);
  }
}

/** A heavy-hitter row: the key (bytes of the candidate set's array), and its estimates. */
export interface HeavyHitter {
  keys: Uint8Array;
  at: number;
  len: number;
  packets: number;
  bytes: number;
}

export class CountMin {
  readonly cfg: CountMinConfig;
  private readonly keySeed: number;
  private readonly rowSeeds: Int32Array;
  private readonly cells: Int32Array;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  totalPackets = 0;
  totalBytes = 0;
  private readonly sets: [CandidateSet, CandidateSet] | null;

  /** `cfg` must have passed validateCountMin. */
  constructor(cfg: CountMinConfig) {
    validateCountMin(cfg);
    this.cfg = cfg;
    this.keySeed = derivedSeed(cfg.seed, 0);
    this.rowSeeds = new Int32Array(cfg.depth);
    for (let i = 0; i < cfg.depth; i++) this.rowSeeds[i] = derivedSeed(cfg.seed, i + 1);
    this.cells = new Int32Array(cfg.depth);
    const n = cfg.depth * cfg.width;
    try {
      this.packets = new Float64Array(n);
      this.bytes = new Float64Array(n);
    } catch {
      throw new Error(`cannot allocate ${n} packet counters`);
    }
    const k = cfg.heavyHitters;
    this.sets = k === 0 ? null : [new CandidateSet(k), new CandidateSet(k)];
  }

  private keyHash(key: Uint8Array, at: number, len: number): number {
    return murmur3(this.keySeed, key, at, len);
  }

  /** One packet of `bytes` bytes for the key at `key[at .. at + len)`. */
  add(key: Uint8Array, at: number, len: number, bytes: number): void {
    const h = this.keyHash(key, at, len);
    this.totalPackets += 1;
    this.totalBytes += bytes;
    const d = this.cfg.depth;
    const w = this.cfg.width;
    const cells = this.cells;
    for (let i = 0; i < d; i++) cells[i] = i * w + (fmix32(h ^ this.rowSeeds[i]) % w);
    const pk = this.packets;
    const by = this.bytes;
    let ep: number;
    let eb: number;
    if (this.cfg.conservative) {
      let mp = Infinity;
      let mb = Infinity;
      for (let i = 0; i < d; i++) {
        const c = cells[i];
        if (pk[c] < mp) mp = pk[c];
        if (by[c] < mb) mb = by[c];
      }
      ep = mp + 1;
      eb = mb + bytes;
      for (let i = 0; i < d; i++) {
        const c = cells[i];
        if (pk[c] < ep) pk[c] = ep;
        if (by[c] < eb) by[c] = eb;
      }
    } else {
      ep = Infinity;
      eb = Infinity;
      for (let i = 0; i < d; i++) {
        const c = cells[i];
        const p = pk[c] + 1;
        const b = by[c] + bytes;
        pk[c] = p;
        by[c] = b;
        if (p < ep) ep = p;
        if (b < eb) eb = b;
      }
    }
    const sets = this.sets;
    if (sets !== null) {
      if (ep > sets[0].gate) sets[0].offer(key, at, len, h, ep);
      if (eb > sets[1].gate) sets[1].offer(key, at, len, h, eb);
    }
  }

  /** (packets, bytes) estimates of a key hash: the minima over the rows. */
  private estimateH(h: number): [number, number] {
    let p = Infinity;
    let b = Infinity;
    const w = this.cfg.width;
    for (let i = 0; i < this.cfg.depth; i++) {
      const c = i * w + (fmix32(h ^ this.rowSeeds[i]) % w);
      if (this.packets[c] < p) p = this.packets[c];
      if (this.bytes[c] < b) b = this.bytes[c];
    }
    return [p, b];
  }

  estimate(key: Uint8Array, at = 0, len = key.length - at): [number, number] {
    return this.estimateH(this.keyHash(key, at, len));
  }

  /** eps * N for this width, as the core computes it. */
  errorBound(): [number, number] {
    const eps = Math.E / this.cfg.width;
    return [eps * this.totalPackets, eps * this.totalBytes];
  }

  /** Candidates re-estimated, by the set's estimate descending then key ascending; at most k. */
  private report(j: 0 | 1): HeavyHitter[] {
    if (this.sets === null) return [];
    const set = this.sets[j];
    const rows: Array<HeavyHitter & { slot: number }> = [];
    for (const { slot } of set.sorted()) {
      const [packets, bytes] = this.estimateH(set.hashes[slot]);
      rows.push({ keys: set.keys, at: slot * MAX_KEY, len: set.keyLen[slot], packets, bytes, slot });
    }
    const rank = (r: HeavyHitter) => (j === 1 ? r.bytes : r.packets);
    rows.sort((a, b) => (rank(a) !== rank(b) ? rank(b) - rank(a) : set.compareSlots(a.slot, b.slot)));
    return rows.slice(0, this.cfg.heavyHitters);
  }

  heavyHittersByPackets(): HeavyHitter[] {
    return this.report(0);
  }

  heavyHittersByBytes(): HeavyHitter[] {
    return this.report(1);
  }

  /** Fixed memory of the two counter arrays. */
  counterBytes(): number {
    return (this.packets.length + this.bytes.length) * 8;
  }

  /** The core's upper bound of its heap use (its arrays; candidate sets at capacity k). */
  memoryBytes(): number {
    const k = this.cfg.heavyHitters;
    const table = k === 0 ? 0 : nextPowerOfTwo(4 * k);
    const cand = 2 * k * SIZE_ENTRY + 2 * k * SIZE_MEMBER + 2 * k * 4 + table * 8;
    return this.counterBytes() + cand + PENDING * SIZE_PENDING;
  }

  /** Set j's members (0: by packets, 1: by bytes) with their tracked estimates, best first. */
  members(j: 0 | 1): Array<{ key: Uint8Array; tracked: number }> {
    const set = this.sets?.[j];
    if (set === undefined) return [];
    return set.sorted().map(({ slot, tracked }) => ({ key: set.keys.slice(slot * MAX_KEY, slot * MAX_KEY + set.keyLen[slot]), tracked }));
  }

  /** The version-1 snapshot (NSCM, module doc of countmin.rs). */
  encode(out: ByteWriter): void {
    const c = this.cfg;
    const lists = this.sets === null ? [[], []] : [this.sets[0].sorted(), this.sets[1].sorted()];
    out.reserve(52 + this.counterBytes());
    for (const ch of 'NSCM') out.u8(ch.charCodeAt(0));
    out.u16(1);
    out.u16(c.conservative ? 1 : 0);
    out.u32(c.depth);
    out.u32(c.width);
    out.u64(BigInt.asUintN(64, c.seed));
    out.u32(c.heavyHitters);
    out.u64(this.totalPackets);
    out.u64(this.totalBytes);
    out.u32(lists[0].length);
    out.u32(lists[1].length);
    for (const arr of [this.packets, this.bytes]) {
      for (let i = 0; i < arr.length; i++) out.u64(arr[i]);
    }
    for (let j = 0; j < 2; j++) {
      const set = this.sets?.[j];
      if (set === undefined) continue;
      for (const { slot, tracked } of lists[j]) {
        const len = set.keyLen[slot];
        out.u8(len);
        out.bytes(set.keys, slot * MAX_KEY, len);
        out.u64(tracked);
      }
    }
  }
}
