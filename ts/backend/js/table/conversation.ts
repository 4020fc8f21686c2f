// Bidirectional conversations (crates/core/src/table/conversation.rs): one row per unordered
// endpoint pair, counted per direction. The table's own order never leaks: everything that
// leaves it goes through `sorted()` (a total order) or sums that do not depend on order.
import { compareAddr, compareBytes } from '../addr.js';

export const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** A conversation: key in canonical order (endpoint A is the smaller (address, port)) and stats. */
export class ConvRow {
  readonly a = new Uint8Array(16);
  readonly b = new Uint8Array(16);
  packetsAb = 0;
  bytesAb = 0;
  packetsBa = 0;
  bytesBa = 0;
  /** Time of the first and last packet (ns); `firstNs` is u64::MAX until a timed packet. */
  firstNs = U64_MAX;
  lastNs = 0n;
  /** TCP flags seen from A and from B. */
  flagsAb = 0;
  flagsBa = 0;
  /** Tunnel kind carried by this conversation (for tunnel endpoints), else 0. */
  carries = 0;

  constructor(
    readonly aFamily: number,
    a: Uint8Array,
    readonly bFamily: number,
    b: Uint8Array,
    readonly proto: number,
    readonly portA: number,
    readonly portB: number,
  ) {
    this.a.set(a);
    this.b.set(b);
  }

  packets(): number {
    return this.packetsAb + this.packetsBa;
  }

  bytes(): number {
    return this.bytesAb + this.bytesBa;
  }

  /** Adds another row's counts (ConvStats::merge). */
  merge(o: ConvRow): void {
    this.packetsAb += o.packetsAb;
    this.bytesAb += o.bytesAb;
    this.packetsBa += o.packetsBa;
    this.bytesBa += o.bytesBa;
    if (o.firstNs < this.firstNs) this.firstNs = o.firstNs;
    if (o.lastNs > this.lastNs) this.lastNs = o.lastNs;
    this.flagsAb |= o.flagsAb;
    this.flagsBa |= o.flagsBa;
    if (o.carries > this.carries) this.carries = o.carries;
  }
}

/** The core's derived Ord of ConvKey: a, b (family, then bytes), proto, port A, port B. */
export function compareKeys(x: ConvRow, y: ConvRow): number {
  return (
    compareAddr(x.aFamily, x.a, y.aFamily, y.a) ||
    compareAddr(x.bFamily, x.b, y.bFamily, y.b) ||
    x.proto - y.proto ||
    x.portA - y.portA ||
    x.portB - y.portB
  );
}

/** A 32-bit word of an address, big-endian. */
function word(b: Uint8Array, i: number): number {
  return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
}

function mix(h: number, w: number): number {
  return Math.imul(((h << 5) | (h >>> 27)) ^ w, 0x9e3779b1);
}

/** Hash of a key; an IPv4 address contributes only its last word (the rest is the fixed prefix). */
function keyHash(aFamily: number, a: Uint8Array, bFamily: number, b: Uint8Array, proto: number, portA: number, portB: number): number {
  let h = mix(aFamily | (bFamily << 8) | (proto << 16), (portA << 16) | portB);
  h = mix(h, word(a, 12));
  if (aFamily !== 4) h = mix(mix(mix(h, word(a, 0)), word(a, 4)), word(a, 8));
  h = mix(h, word(b, 12));
  if (bFamily !== 4) h = mix(mix(mix(h, word(b, 0)), word(b, 4)), word(b, 8));
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

function sameAddr(x: Uint8Array, y: Uint8Array, family: number): boolean {
  for (let i = family === 4 ? 12 : 0; i < 16; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * Rows in an array, found through an open-addressing index of row numbers: a lookup builds no
 * key string, and the table allocates only when it grows.
 */
export class ConversationTable {
  private rows: ConvRow[] = [];
  /** Row index + 1 per slot, 0 when empty; at most half full. */
  private slots = new Int32Array(1024);
  private hashes: number[] = [];

  get size(): number {
    return this.rows.length;
  }

  /** The row with this key, or null. */
  private find(aFamily: number, a: Uint8Array, bFamily: number, b: Uint8Array, proto: number, portA: number, portB: number, hash: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const v = slots[i];
      if (v === 0) return -1 - i;
      const r = this.rows[v - 1];
      if (
        r.portA === portA &&
        r.portB === portB &&
        r.proto === proto &&
        r.aFamily === aFamily &&
        r.bFamily === bFamily &&
        sameAddr(r.a, a, aFamily) &&
        sameAddr(r.b, b, bFamily)
      ) {
        return v - 1;
      }
    }
  }

  /** The row with this key, made empty when absent (entry().or_default()). */
  private entry(aFamily: number, a: Uint8Array, bFamily: number, b: Uint8Array, proto: number, portA: number, portB: number): ConvRow {
    const hash = keyHash(aFamily, a, bFamily, b, proto, portA, portB);
    const at = this.find(aFamily, a, bFamily, b, proto, portA, portB, hash);
    if (at >= 0) return this.rows[at];
    const row = new ConvRow(aFamily, a, bFamily, b, proto, portA, portB);
    this.rows.push(row);
    this.hashes.push(hash);
    this.slots[-1 - at] = this.rows.length;
    if (this.rows.length * 2 > this.slots.length) this.reindex(this.slots.length * 2);
    return row;
  }

  private reindex(capacity: number): void {
    const slots = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let r = 0; r < this.rows.length; r++) {
      let i = this.hashes[r] & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = r + 1;
    }
    this.slots = slots;
  }

  /**
   * One packet from (src, sport) to (dst, dport); `ts` null for packets without a timestamp.
   * The key is canonical: A is the smaller address (by bytes), or the smaller port between one
   * address and itself.
   */
  add(
    srcFamily: number,
    src: Uint8Array,
    sport: number,
    dstFamily: number,
    dst: Uint8Array,
    dport: number,
    proto: number,
    bytes: number,
    ts: bigint | null,
    tcpFlags: number,
    carries: number,
  ): void {
    let c: number;
    if (srcFamily === 4 && dstFamily === 4) {
      // Both IPv4-mapped: the first 12 bytes are equal.
      c = src[12] - dst[12] || src[13] - dst[13] || src[14] - dst[14] || src[15] - dst[15];
    } else {
      c = compareBytes(src, dst);
    }
    let s: ConvRow;
    if (c < 0 || (c === 0 && sport <= dport)) {
      s = this.entry(srcFamily, src, dstFamily, dst, proto, sport, dport);
      s.packetsAb++;
      s.bytesAb += bytes;
      s.flagsAb |= tcpFlags;
    } else {
      s = this.entry(dstFamily, dst, srcFamily, src, proto, dport, sport);
      s.packetsBa++;
      s.bytesBa += bytes;
      s.flagsBa |= tcpFlags;
    }
    if (ts !== null) {
      if (ts < s.firstNs) s.firstNs = ts;
      if (ts > s.lastNs) s.lastNs = ts;
    }
    if (carries > s.carries) s.carries = carries;
  }

  /** Rows in no particular order (callers that need one sort them). */
  rowList(): readonly ConvRow[] {
    return this.rows;
  }

  merge(other: ConversationTable): void {
    for (const o of other.rows) this.entry(o.aFamily, o.a, o.bFamily, o.b, o.proto, o.portA, o.portB).merge(o);
  }

  /**
   * Takes away counts that were added under another key (times cannot be taken away; a row left
   * with no packets is removed).
   */
  subtract(other: ConversationTable): void {
    let removed = false;
    for (const o of other.rows) {
      const hash = keyHash(o.aFamily, o.a, o.bFamily, o.b, o.proto, o.portA, o.portB);
      const at = this.find(o.aFamily, o.a, o.bFamily, o.b, o.proto, o.portA, o.portB, hash);
      if (at < 0) continue;
      const s = this.rows[at];
      s.packetsAb = Math.max(s.packetsAb - o.packetsAb, 0);
      s.bytesAb = Math.max(s.bytesAb - o.bytesAb, 0);
      s.packetsBa = Math.max(s.packetsBa - o.packetsBa, 0);
      s.bytesBa = Math.max(s.bytesBa - o.bytesBa, 0);
      if (s.packets() === 0) removed = true;
    }
    if (removed) {
      const keep = this.rows.map((r) => r.packets() !== 0);
      this.rows = this.rows.filter((_, i) => keep[i]);
      this.hashes = this.hashes.filter((_, i) => keep[i]);
      this.reindex(this.slots.length);
    }
  }

  /**
   * Every row, sorted by bytes, then packets (both descending), then key: a total order, so the
   * output does not depend on insertion or hash order.
   */
  sorted(): ConvRow[] {
    const n = this.rows.length;
    const bytes = new Float64Array(n);
    const packets = new Float64Array(n);
    const order: number[] = [];
    for (let i = 0; i < n; i++) {
      bytes[i] = this.rows[i].bytes();
      packets[i] = this.rows[i].packets();
      order.push(i);
    }
    order.sort((x, y) => bytes[y] - bytes[x] || packets[y] - packets[x] || compareKeys(this.rows[x], this.rows[y]));
    return order.map((i) => this.rows[i]);
  }

  /**
   * The same traffic per address pair (protocol and ports dropped). Between one address and
   * itself every packet counts as A to B, as tshark does.
   */
  byAddressPair(): ConversationTable {
    const pairs = new ConversationTable();
    for (const k of this.rows) {
      const p = pairs.entry(k.aFamily, k.a, k.bFamily, k.b, 0, 0, 0);
      if (k.aFamily === k.bFamily && compareBytes(k.a, k.b) === 0) {
        p.packetsAb += k.packetsAb + k.packetsBa;
        p.bytesAb += k.bytesAb + k.bytesBa;
        p.flagsAb |= k.flagsAb | k.flagsBa;
        if (k.firstNs < p.firstNs) p.firstNs = k.firstNs;
        if (k.lastNs > p.lastNs) p.lastNs = k.lastNs;
        if (k.carries > p.carries) p.carries = k.carries;
      } else {
        p.merge(k);
      }
    }
    return pairs;
  }
}
