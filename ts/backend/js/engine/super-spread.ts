// SuperSpread, exactly as specified in crates/core/src/sketch/superspread.rs (module doc):
// packed sampler registers per bucket feeding HeavyKeeper counters, all randomness from one
// CounterRng. Same stream, configuration and seed: the same NSSS snapshot bytes.
//
// Numbers: S (at most M = m * 2^R <= 2^45), S0 * steps (< 2^46) and the decay thresholds
// (< 2^53) are exact doubles. A bucket counter is a double while below 2^53 (always, in
// practice: it estimates distinct pairs); one that would pass it is kept exactly as a bigint
// (marked Infinity in the counter array), so no value is ever rounded.

import { rustF64Text } from '../rust-text.js';
import { ByteWriter } from './byte-writer.js';
import { CounterRng } from './counter-rng.js';
import { derivedSeed, fmix32, murmur3, murmur3x2 } from './hash.js';
import { compareBytes, MAX_KEY } from './packed-key.js';

const MAX_DEPTH = 8;
const MAX_WIDTH = 1 << 22;
const MIN_REGISTERS = 8;
const MAX_REGISTERS = 4096;
const MIN_BITS = 3;
const MAX_BITS = 8;
const HASH_MAX_VALUE = 33;
const MAX_MEMORY = 2 ** 30;
const DECAY_TABLE_CAP = 1 << 16;
const BUCKET_OVERHEAD = 56;
const U64_MAX = (1n << 64n) - 1n;
/** size_of::<Cell>() in the core, for memory_bytes (no pointer-sized fields: every target). */
const SIZE_CELL = 56;

export interface SuperSpreadConfig {
  depth: number;
  width: number;
  registers: number;
  registerBits: number;
  decayBase: number;
  /** u64. */
  threshold: bigint;
  seed: bigint;
}

const decayTables = new Map<number, Float64Array>();

/** T[c] = floor(base^-c * 2^53) by repeated division, while non-zero, at most 65 536 entries. */
export function decayTable(base: number): Float64Array {
  let t = decayTables.get(base);
  if (t) return t;
  const TWO53 = 9007199254740992;
  const v: number[] = [TWO53];
  let p = 1.0;
  if (!Number.isNaN(base) && base > 1.0) {
    while (v.length < DECAY_TABLE_CAP) {
      p /= base;
      const x = Math.floor(p * TWO53);
      if (x === 0) break;
      v.push(x);
    }
  }
  t = Float64Array.from(v);
  if (!Number.isNaN(base)) decayTables.set(base, t);
  return t;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** The core's validation, with its messages. */
export function validateSuperSpread(c: SuperSpreadConfig): void {
  if (!(c.depth >= 1 && c.depth <= MAX_DEPTH)) {
    throw new Error(`superspread: depth = ${c.depth} is out of range 1..=${MAX_DEPTH}`);
  }
  if (!(c.width >= 1 && c.width <= MAX_WIDTH)) {
    throw new Error(`superspread: width = ${c.width} is out of range 1..=${MAX_WIDTH} (2^22)`);
  }
  if (!(c.registers >= MIN_REGISTERS && c.registers <= MAX_REGISTERS) || !isPowerOfTwo(c.registers)) {
    throw new Error(`superspread: registers = ${c.registers} must be a power of two in ${MIN_REGISTERS}..=${MAX_REGISTERS}`);
  }
  if (!(c.registerBits >= MIN_BITS && c.registerBits <= MAX_BITS)) {
    throw new Error(`superspread: register_bits = ${c.registerBits} is out of range ${MIN_BITS}..=${MAX_BITS}`);
  }
  if (!(c.decayBase > 1.0 && c.decayBase <= 2.0)) {
    throw new Error(`superspread: decay_base = ${rustF64Text(c.decayBase)} must be > 1.0 and <= 2.0`);
  }
  if (c.threshold === 0n) throw new Error('superspread: threshold = 0 must be >= 1');
  const buckets = c.depth * c.width;
  const block = Math.floor((c.registers * c.registerBits) / 8);
  const total = buckets * (block + BUCKET_OVERHEAD) + decayTable(c.decayBase).length * 8;
  if (total > MAX_MEMORY) {
    throw new Error(
      `superspread: depth ${c.depth} x width ${c.width} buckets of ${c.registers} registers x ${c.registerBits} bits need ${total} bytes, ` +
        `over the limit of ${MAX_MEMORY} bytes`,
    );
  }
}

/** A spreader: its key (copied), and its estimated spread. */
export interface Spreader {
  key: Uint8Array;
  spread: number | bigint;
}

export class SuperSpread {
  readonly cfg: SuperSpreadConfig;
  private readonly d: number;
  private readonly w: number;
  private readonly m: number;
  private readonly bits: number;
  private readonly regMask: number;
  /** R, M = m * 2^R, B. */
  private readonly rmax: number;
  private readonly full: number;
  private readonly block: number;
  private readonly keySeed: number;
  private readonly pairSeed1: number;
  private readonly pairSeed2: number;
  private readonly rowSeeds: Int32Array;
  /** term[r] = 2^(R - r), 0 for r = R. */
  private readonly term: Float64Array;
  private readonly decay: Float64Array;
  private readonly thresholdNum: number;
  private readonly rng: CounterRng;
  /** Per bucket: counter (0 = empty; Infinity = see `big`), M - S, owner key and its length. */
  private readonly counters: Float64Array;
  private readonly big = new Map<number, bigint>();
  /** M - S per bucket, so that a new sketch needs no fill (S starts at M). */
  private readonly deficit: Float64Array;
  private readonly keys: Uint8Array;
  private readonly keyLen: Uint8Array;
  private readonly regs: Uint8Array;
  private readonly g = new Uint32Array(2);

  constructor(cfg: SuperSpreadConfig) {
    validateSuperSpread(cfg);
    this.cfg = cfg;
    const s = cfg.seed;
    this.d = cfg.depth;
    this.w = cfg.width;
    this.m = cfg.registers;
    this.bits = cfg.registerBits;
    this.regMask = (1 << cfg.registerBits) - 1;
    this.rmax = Math.min((1 << cfg.registerBits) - 1, HASH_MAX_VALUE);
    this.full = cfg.registers * 2 ** this.rmax;
    this.block = (cfg.registers * cfg.registerBits) / 8;
    this.keySeed = derivedSeed(s, 0);
    this.pairSeed1 = derivedSeed(s, 1);
    this.pairSeed2 = derivedSeed(s, 2);
    this.rowSeeds = new Int32Array(MAX_DEPTH);
    for (let i = 0; i < MAX_DEPTH; i++) this.rowSeeds[i] = derivedSeed(s, 100 + i);
    this.term = new Float64Array(this.rmax + 1);
    for (let r = 0; r < this.rmax; r++) this.term[r] = 2 ** (this.rmax - r);
    this.decay = decayTable(cfg.decayBase);
    this.thresholdNum = cfg.threshold <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(cfg.threshold) : Infinity;
    this.rng = new CounterRng((BigInt(derivedSeed(s, 3)) << 32n) | BigInt(derivedSeed(s, 4)));
    const n = this.d * this.w;
    this.counters = new Float64Array(n);
    this.deficit = new Float64Array(n);
    this.keys = new Uint8Array(n * MAX_KEY);
    this.keyLen = new Uint8Array(n);
    this.regs = new Uint8Array(n * this.block);
  }

  private bucket(h: number, row: number): number {
    return row * this.w + (fmix32(h ^ this.rowSeeds[row]) % this.w);
  }

  private regGet(t: number, j: number): number {
    const k = j * this.bits;
    const byte = k >>> 3;
    const base = t * this.block;
    const lo = this.regs[base + byte];
    const hi = byte + 1 < this.block ? this.regs[base + byte + 1] : 0;
    return ((lo | (hi << 8)) >>> (k & 7)) & this.regMask;
  }

  private regSet(t: number, j: number, v: number): void {
    const k = j * this.bits;
    const byte = k >>> 3;
    const at = t * this.block + byte;
    const shift = k & 7;
    const wordMask = this.regMask << shift;
    const wordVal = (v & this.regMask) << shift;
    this.regs[at] = (this.regs[at] & ~wordMask) | (wordVal & 0xff);
    if (shift + this.bits > 8 && byte + 1 < this.block) {
      this.regs[at + 1] = (this.regs[at + 1] & ~(wordMask >>> 8)) | (wordVal >>> 8);
    }
  }

  /**
   * One (key, element) pair: the key is `buf[0 .. keyLen)`, the element follows it up to
   * `pairLen`.
   */
  add(buf: Uint8Array, keyLen: number, pairLen: number): void {
    const g = this.g;
    murmur3x2(this.pairSeed1, this.pairSeed2, buf, pairLen, g);
    const j = g[0] & (this.m - 1);
    const v = Math.min(Math.clz32(g[1]) + 1, this.rmax);
    const h = murmur3(this.keySeed, buf, 0, keyLen);
    for (let row = 0; row < this.d; row++) {
      const t = this.bucket(h, row);
      const r = this.regGet(t, j);
      if (v > r) this.update(t, buf, keyLen, j, v, r);
    }
  }

  private ownedBy(t: number, key: Uint8Array, len: number): boolean {
    if (this.keyLen[t] !== len) return false;
    const at = t * MAX_KEY;
    for (let i = 0; i < len; i++) if (this.keys[at + i] !== key[i]) return false;
    return true;
  }

  /** Sampler, rounding and unit steps of one row; register j of bucket t is r < v. */
  private update(t: number, key: Uint8Array, keyLen: number, j: number, v: number, r: number): void {
    this.regSet(t, j, v);
    const full = this.full;
    const s0 = full - this.deficit[t];
    this.deficit[t] = full - (Math.max(s0 - this.term[r], 0) + this.term[v]);
    if (s0 === 0) return;
    const steps = Math.ceil(full / s0);
    if (this.rng.below(s0 * steps) >= full) return;
    let n = steps;
    while (n > 0) {
      const c = this.counters[t];
      if (c === 0) {
        // Claim: the registers restart from the claiming pair.
        const base = t * MAX_KEY;
        for (let i = 0; i < keyLen; i++) this.keys[base + i] = key[i];
        this.keyLen[t] = keyLen;
        this.counters[t] = n;
        this.deficit[t] = this.term[0] - this.term[v];
        this.regs.fill(0, t * this.block, (t + 1) * this.block);
        this.regSet(t, j, v);
        return;
      }
      if (this.ownedBy(t, key, keyLen)) {
        this.increase(t, c, n);
        return;
      }
      if (c >= this.decay.length) return; // decay probability 0
      n -= 1;
      if (this.rng.next53() < this.decay[c]) {
        this.counters[t] = c - 1;
        if (c === 1) {
          this.keys.fill(0, t * MAX_KEY, (t + 1) * MAX_KEY);
          this.keyLen[t] = 0;
        }
      }
    }
  }

  /** counter += n, saturating at 2^64 - 1; exact past 2^53. */
  private increase(t: number, c: number, n: number): void {
    const sum = c + n;
    if (sum <= Number.MAX_SAFE_INTEGER) {
      this.counters[t] = sum;
      return;
    }
    const exact = (c === Infinity ? (this.big.get(t) ?? 0n) : BigInt(c)) + BigInt(n);
    this.big.set(t, exact > U64_MAX ? U64_MAX : exact);
    this.counters[t] = Infinity;
  }

  private counter(t: number): number | bigint {
    const c = this.counters[t];
    return c === Infinity ? (this.big.get(t) ?? 0n) : c;
  }

  private reaches(t: number): boolean {
    const c = this.counters[t];
    return c === Infinity ? (this.big.get(t) ?? 0n) >= this.cfg.threshold : c >= this.thresholdNum;
  }

  /** The maximum counter over the rows whose bucket holds the key, 0 if none. */
  estimate(key: Uint8Array, len = key.length): number | bigint {
    const h = murmur3(this.keySeed, key, 0, len);
    let best: number | bigint = 0;
    for (let row = 0; row < this.d; row++) {
      const t = this.bucket(h, row);
      const c = this.counter(t);
      if (c > best && this.ownedBy(t, key, len)) best = c;
    }
    return best;
  }

  /** Keys whose estimate is >= threshold, by estimate descending then key bytes ascending. */
  spreaders(): Spreader[] {
    const held: Uint8Array[] = [];
    for (let t = 0; t < this.counters.length; t++) {
      if (this.counters[t] > 0 && this.reaches(t)) {
        held.push(this.keys.slice(t * MAX_KEY, t * MAX_KEY + this.keyLen[t]));
      }
    }
    const cmp = (a: Uint8Array, b: Uint8Array) => compareBytes(a, 0, a.length, b, 0, b.length);
    held.sort(cmp);
    const out: Spreader[] = [];
    for (let i = 0; i < held.length; i++) {
      if (i > 0 && cmp(held[i - 1], held[i]) === 0) continue;
      out.push({ key: held[i], spread: this.estimate(held[i]) });
    }
    return out.sort((a, b) => (a.spread < b.spread ? 1 : a.spread > b.spread ? -1 : cmp(a.key, b.key)));
  }

  /** Bytes of packed registers: depth * width * m * b / 8. */
  registerBytes(): number {
    return this.regs.length;
  }

  /** What the core allocates for this sketch's arrays. */
  memoryBytes(): number {
    return this.counters.length * SIZE_CELL + this.regs.length + this.decay.length * 8;
  }

  /** Values the generator has produced since the start of the window. */
  draws(): bigint {
    return this.rng.draws();
  }

  /** The version-1 snapshot (NSSS, module doc of superspread.rs). */
  encode(out: ByteWriter): void {
    const c = this.cfg;
    for (const ch of 'NSSS') out.u8(ch.charCodeAt(0));
    out.u8(1);
    out.u32(c.depth);
    out.u32(c.width);
    out.u32(c.registers);
    out.u32(c.registerBits);
    out.f64(c.decayBase);
    out.u64(c.threshold);
    out.u64(BigInt.asUintN(64, c.seed));
    out.u64(this.draws());
    const block = this.block;
    const regs = this.regs;
    for (let t = 0; t < this.counters.length; t++) {
      const base = t * block;
      let hasRegs = false;
      for (let i = 0; i < block; i++) {
        if (regs[base + i] !== 0) {
          hasRegs = true;
          break;
        }
      }
      const cnt = this.counters[t];
      out.u8((cnt > 0 ? 1 : 0) | (hasRegs ? 2 : 0));
      if (cnt > 0) {
        out.leb128(this.counter(t));
        out.u8(this.keyLen[t]);
        out.bytes(this.keys, t * MAX_KEY, this.keyLen[t]);
      }
      if (hasRegs) out.bytes(regs, base, block);
    }
  }
}
