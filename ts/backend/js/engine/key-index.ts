// An insert-only hash index of fixed-length byte keys: entries are numbered 0, 1, ... in insert
// order, their bytes kept in one flat array, looked up by open addressing (linear probing, load
// at most 1/2). No object or string per key; the only allocation is growth.

import { murmur3 } from './hash.js';

export class KeyIndex {
  readonly keyLen: number;
  /** The hash seed (from the configured seed, so crafted keys cannot aim at one probe run). */
  private readonly seed: number;
  /** Entry `e`'s key is keys[e * keyLen .. (e + 1) * keyLen). */
  keys: Uint8Array;
  size = 0;
  /** Entries the key array holds before the next growth. */
  capacity: number;
  /** Slot i: [2i] = the entry's hash, [2i + 1] = entry + 1 (0 = empty); a power of two of slots. */
  private slots: Int32Array;
  private mask: number;
  /** Whether the last findOrInsert inserted. */
  inserted = false;

  constructor(keyLen: number, seed: number, capacity = 64) {
    this.keyLen = keyLen;
    this.seed = seed;
    this.capacity = capacity;
    this.keys = new Uint8Array(capacity * keyLen);
    this.slots = new Int32Array(capacity * 4);
    this.mask = capacity * 2 - 1;
  }

  hash(b: Uint8Array, at: number): number {
    return murmur3(this.seed, b, at, this.keyLen) | 0;
  }

  /** The entry holding the key at `b[at..]` (hash `h`, from hash()), or -1. */
  find(b: Uint8Array, at: number, h: number): number {
    return this.slots[2 * this.probe(b, at, h) + 1] - 1;
  }

  /**
   * The entry holding the key (hash `h`, from hash()), inserted when absent; `inserted` tells
   * which. Callers keep their per-entry arrays at least `capacity` long.
   */
  findOrInsert(b: Uint8Array, at: number, h: number): number {
    let i = this.probe(b, at, h);
    const s = this.slots[2 * i + 1];
    if (s !== 0) {
      this.inserted = false;
      return s - 1;
    }
    const e = this.size;
    if (e === this.capacity) {
      this.grow();
      i = h & this.mask;
      while (this.slots[2 * i + 1] !== 0) i = (i + 1) & this.mask;
    }
    const kl = this.keyLen;
    const dst = this.keys;
    let k = e * kl;
    for (let j = 0; j < kl; j++) dst[k++] = b[at + j];
    this.slots[2 * i] = h;
    this.slots[2 * i + 1] = e + 1;
    this.size = e + 1;
    this.inserted = true;
    return e;
  }

  /** The slot of the key at `b[at..]` (hash `h`): the one holding it, or the empty slot ending its run. */
  private probe(b: Uint8Array, at: number, h: number): number {
    const kl = this.keyLen;
    const keys = this.keys;
    const slots = this.slots;
    let i = h & this.mask;
    for (;;) {
      const s = slots[2 * i + 1];
      if (s === 0) return i;
      if (slots[2 * i] === h) {
        let k = (s - 1) * kl;
        let j = 0;
        while (j < kl && keys[k] === b[at + j]) {
          k++;
          j++;
        }
        if (j === kl) return i;
      }
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const keys = new Uint8Array(cap * this.keyLen);
    keys.set(this.keys);
    this.keys = keys;
    const old = this.slots;
    const slots = new Int32Array(cap * 4);
    const mask = cap * 2 - 1;
    for (let o = 0; o < old.length; o += 2) {
      if (old[o + 1] === 0) continue;
      let i = old[o] & mask;
      while (slots[2 * i + 1] !== 0) i = (i + 1) & mask;
      slots[2 * i] = old[o];
      slots[2 * i + 1] = old[o + 1];
    }
    this.slots = slots;
    this.mask = mask;
    this.capacity = cap;
  }
}
