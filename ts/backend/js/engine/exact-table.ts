// ExactTable (crates/core/src/table/exact.rs): exact packets and bytes per key, and optionally
// the exact number of distinct element values per key (a set of (key, element) pairs).
//
// Counts are JS numbers: exact below 2^53, i.e. 9 PB per key per window.

import type { PacketRecord } from '../record.js';
import { derivedSeed } from './hash.js';
import { grownCapacity, hashbrownCapacity } from './hashbrown.js';
import { keyLength } from './key-fields.js';
import { KeyIndex } from './key-index.js';
import { packKey } from './packed-key.js';

/** size_of::<(PackedKey, ExactStats)>() + 1 control byte: 40 + 24 + 1. */
const ENTRY_BYTES = 65;
/** size_of::<(PackedKey, PackedKey)>() + 1 control byte: 80 + 1. */
const PAIR_BYTES = 81;

/** derived_seed number of the table hash (the sketches use 0..=16 and 100..=107). */
const TABLE_SEED = 0x7461626c;

/** What a top list ranks by: (bytes, packets) or (distinct, packets), both descending. */
export type ExactRank = 'bytes' | 'distinct';

export class ExactTable {
  readonly fields: number;
  readonly distinctFields: number;
  readonly keyLen: number;
  private readonly index: KeyIndex;
  private readonly pairs: KeyIndex | null;
  /** The core's `pairs.capacity()` (a new pair into a full table grows it). */
  private pairCapacity = 0;
  /** The key, packed per packet. */
  private readonly scratch: Uint8Array;
  /** A pair as the set holds it: the key's entry number (4 bytes), then the element. */
  private readonly pair: Uint8Array;
  packets: Float64Array;
  bytes: Float64Array;
  distinct: Float64Array;

  /** `seed`: the engine's configured seed (it seeds the table's hash, as the core's). */
  constructor(fields: number, distinctFields: number, seed: bigint) {
    this.fields = fields;
    this.distinctFields = distinctFields;
    this.keyLen = keyLength(fields);
    const hashSeed = derivedSeed(seed, TABLE_SEED);
    this.index = new KeyIndex(this.keyLen, hashSeed);
    const elemLen = keyLength(distinctFields);
    this.pairs = distinctFields === 0 ? null : new KeyIndex(4 + elemLen, hashSeed);
    this.scratch = new Uint8Array(this.keyLen);
    this.pair = new Uint8Array(4 + elemLen);
    const cap = this.index.capacity;
    this.packets = new Float64Array(cap);
    this.bytes = new Float64Array(cap);
    this.distinct = new Float64Array(cap);
  }

  add(r: PacketRecord): void {
    const s = this.scratch;
    packKey(r, this.fields, s, 0);
    const index = this.index;
    const e = index.findOrInsert(s, 0, index.hash(s, 0));
    if (e >= this.packets.length) this.growValues();
    this.packets[e] += 1;
    this.bytes[e] += r.wireLen;
    const pairs = this.pairs;
    if (pairs !== null) {
      // The entry number stands for the key: one per key in a window, and shorter.
      const p = this.pair;
      p[0] = e & 0xff;
      p[1] = (e >>> 8) & 0xff;
      p[2] = (e >>> 16) & 0xff;
      p[3] = e >>> 24;
      packKey(r, this.distinctFields, p, 4);
      pairs.findOrInsert(p, 0, pairs.hash(p, 0));
      if (pairs.inserted) {
        if (pairs.size - 1 === this.pairCapacity) this.pairCapacity = grownCapacity(this.pairCapacity);
        this.distinct[e] += 1;
      }
    }
  }

  private growValues(): void {
    const cap = this.index.capacity;
    const grow = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.packets = grow(this.packets);
    this.bytes = grow(this.bytes);
    this.distinct = grow(this.distinct);
  }

  /** Number of keys. */
  get size(): number {
    return this.index.size;
  }

  /** The flat key array: entry `e`'s key is at e * keyLen. */
  get keys(): Uint8Array {
    return this.index.keys;
  }

  /** The entry of the key at `b[at .. at + len)`, or -1. */
  get(b: Uint8Array, at: number, len: number): number {
    if (len !== this.keyLen) return -1;
    return this.index.find(b, at, this.index.hash(b, at));
  }

  /** -1 when entry `x` ranks before `y`: rank descending, then key bytes ascending. */
  private order(rank: ExactRank, x: number, y: number): number {
    const first = rank === 'bytes' ? this.bytes : this.distinct;
    if (first[x] !== first[y]) return first[y] > first[x] ? 1 : -1;
    if (this.packets[x] !== this.packets[y]) return this.packets[y] > this.packets[x] ? 1 : -1;
    const keys = this.index.keys;
    const kl = this.keyLen;
    let a = x * kl;
    let b = y * kl;
    for (let i = 0; i < kl; i++, a++, b++) {
      if (keys[a] !== keys[b]) return keys[a] - keys[b];
    }
    return 0;
  }

  /** The entries of the `n` largest keys by `rank`, best first (a total order). */
  topBy(n: number, rank: ExactRank): number[] {
    const count = this.index.size;
    if (n >= count) {
      const all = Array.from({ length: count }, (_, i) => i);
      return all.sort((x, y) => this.order(rank, x, y));
    }
    // Selection: keep the best n sorted; most entries lose against the current n-th at once.
    const best: number[] = [];
    if (n === 0) return best;
    for (let e = 0; e < count; e++) {
      if (best.length === n) {
        if (this.order(rank, e, best[n - 1]) >= 0) continue;
        best.pop();
      }
      let i = best.length;
      while (i > 0 && this.order(rank, e, best[i - 1]) < 0) i--;
      best.splice(i, 0, e);
    }
    return best;
  }

  /** Bytes held per tracked key by the core's table (its hashbrown capacities, entry sizes). */
  bytesPerKey(): number {
    const mapCap = hashbrownCapacity(this.index.size);
    const pairCap = this.pairCapacity;
    return (mapCap * ENTRY_BYTES + pairCap * PAIR_BYTES) / Math.max(this.index.size, 1);
  }
}
