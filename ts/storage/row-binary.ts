// ClickHouse's RowBinary for the stored tables (crates/core/src/rows/binary.rs specifies it):
// the rows the core makes arrive in it, the rows made here (statistics, alerts, flow records,
// the quarantine, runs) are written in it, and the writer reads it back only to split a block
// the store refused or to show a row. Times are nanoseconds as BigInt; addresses 16 bytes.

export type ColumnType =
  | 'String' | 'LowCardinality(String)' | 'Nullable(String)' | 'UInt8' | 'UInt16' | 'UInt64' | 'Float64' | 'IPv6'
  | "DateTime64(9, 'UTC')" | "Nullable(DateTime64(9, 'UTC'))" | "DateTime64(3, 'UTC')";

export type Column = readonly [name: string, type: ColumnType];

const COLUMN_TYPES = new Set<string>([
  'String', 'LowCardinality(String)', 'Nullable(String)', 'UInt8', 'UInt16', 'UInt64', 'Float64', 'IPv6',
  "DateTime64(9, 'UTC')", "Nullable(DateTime64(9, 'UTC'))", "DateTime64(3, 'UTC')",
]);

export function isColumnType(t: string): t is ColumnType {
  return COLUMN_TYPES.has(t);
}

/** The latest time DateTime64(9) holds: 2262-04-11T23:47:16.854775807Z. */
export const MAX_TIME_NS = (1n << 63n) - 1n;

/** A value the store's column cannot hold; the row goes to the quarantine with this reason. */
export class OutOfRange extends Error {}

const encoder = new TextEncoder();

/** Builds RowBinary rows in a growing buffer. */
export class RowEncoder {
  private buf = Buffer.allocUnsafe(4096);
  private at = 0;
  private rowStart = 0;
  rows = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  string(s: string): this {
    const b = encoder.encode(s);
    this.room(b.length + 5);
    let n = b.length;
    do {
      let byte = n & 0x7f;
      n >>>= 7;
      if (n) byte |= 0x80;
      this.buf[this.at++] = byte;
    } while (n);
    this.buf.set(b, this.at);
    this.at += b.length;
    return this;
  }

  nullableString(s: string | null): this {
    if (s === null) return this.u8(1);
    return this.u8(0).string(s);
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.at++] = v;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf.writeUInt16LE(v, this.at);
    this.at += 2;
    return this;
  }

  u64(v: number | bigint): this {
    this.room(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.at);
    this.at += 8;
    return this;
  }

  f64(v: number): this {
    this.room(8);
    this.buf.writeDoubleLE(v, this.at);
    this.at += 8;
    return this;
  }

  ipv6(bytes: Uint8Array): this {
    this.room(16);
    this.buf.set(bytes.subarray(0, 16), this.at);
    this.at += 16;
    return this;
  }

  /** DateTime64(9): throws OutOfRange past 2262 or before the epoch. */
  timeNs(ns: bigint, column: string): this {
    if (ns < 0n || ns > MAX_TIME_NS) throw new OutOfRange(`${column} ${epochText(ns)} s is outside what the store's DateTime64(9) holds (1970 to 2262-04-11)`);
    this.room(8);
    this.buf.writeBigInt64LE(ns, this.at);
    this.at += 8;
    return this;
  }

  nullableTimeNs(ns: bigint | null, column: string): this {
    if (ns === null) return this.u8(1);
    return this.u8(0).timeNs(ns, column);
  }

  /** DateTime64(3) from milliseconds. */
  timeMs(ms: number, column: string): this {
    if (!Number.isFinite(ms) || ms < 0 || ms > 9.2e15) throw new OutOfRange(`${column} ${ms} ms is not a time the store holds`);
    this.room(8);
    this.buf.writeBigInt64LE(BigInt(Math.round(ms)), this.at);
    this.at += 8;
    return this;
  }

  /** Ends a row. */
  end(): void {
    this.rows++;
    this.rowStart = this.at;
  }

  /** Drops the values written since the last complete row (a value was out of range). */
  abandonRow(): void {
    this.at = this.rowStart;
  }

  /** The rows so far (a copy), and starts over. */
  take(): { rows: number; data: Buffer } {
    const out = { rows: this.rows, data: Buffer.from(this.buf.subarray(0, this.at)) };
    this.at = 0;
    this.rowStart = 0;
    this.rows = 0;
    return out;
  }
}

/** "seconds.nanoseconds" of nanoseconds since the epoch (as the core writes times). */
export function epochText(ns: bigint): string {
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  return `${neg ? '-' : ''}${a / 1_000_000_000n}.${String(a % 1_000_000_000n).padStart(9, '0')}`;
}

/** Reads rows: throws naming the column and offset when the bytes end inside a row. */
class RowReader {
  at = 0;
  constructor(private readonly b: Buffer) {}

  need(n: number, column: string): number {
    if (this.at + n > this.b.length) throw new Error(`RowBinary: ${column} needs ${n} bytes at offset ${this.at}, ${this.b.length - this.at} left`);
    const at = this.at;
    this.at += n;
    return at;
  }

  length(column: string): number {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 28) throw new Error(`RowBinary: ${column}: string length at offset ${this.at} is not a LEB128 number`);
      const byte = this.b[this.need(1, column)];
      n += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return n;
    }
  }

  value(type: ColumnType, column: string): unknown {
    const b = this.b;
    const text = () => {
      const n = this.length(column);
      const at = this.need(n, column);
      return b.toString('utf8', at, at + n);
    };
    switch (type) {
      case 'Nullable(String)':
        return b[this.need(1, column)] ? null : text();
      case 'String':
      case 'LowCardinality(String)':
        return text();
      case 'UInt8':
        return b[this.need(1, column)];
      case 'UInt16':
        return b.readUInt16LE(this.need(2, column));
      case 'UInt64':
        return b.readBigUInt64LE(this.need(8, column));
      case 'Float64':
        return b.readDoubleLE(this.need(8, column));
      case 'IPv6':
        return b.subarray(this.need(16, column), this.at);
      case "Nullable(DateTime64(9, 'UTC'))":
        if (b[this.need(1, column)]) return null;
        return b.readBigUInt64LE(this.need(8, column));
      case "DateTime64(9, 'UTC')":
        // Unsigned: a time kept out of the store (past 2262) reads back as it was.
        return b.readBigUInt64LE(this.need(8, column));
      case "DateTime64(3, 'UTC')":
        return Number(b.readBigInt64LE(this.need(8, column)));
    }
  }
}

/** The byte offset where each row ends. Throws (after the whole rows) where the bytes stop
 * being rows: `complete` holds the rows read before that. */
export function rowEnds(columns: readonly Column[], data: Buffer): number[] {
  const r = new RowReader(data);
  const ends: number[] = [];
  while (r.at < data.length) {
    try {
      for (const [name, type] of columns) r.value(type, name);
    } catch (e) {
      throw Object.assign(e as Error, { complete: ends });
    }
    ends.push(r.at);
  }
  return ends;
}

/** Rows as objects: integers as numbers (BigInt past 2^53), times as ISO 8601 text with
 * nanoseconds, addresses as text (IPv4 unmapped when the row says family 4). */
export function decodeRows(columns: readonly Column[], data: Buffer): Record<string, unknown>[] {
  const r = new RowReader(data);
  const out: Record<string, unknown>[] = [];
  while (r.at < data.length) {
    const row: Record<string, unknown> = {};
    for (const [name, type] of columns) {
      const v = r.value(type, name);
      if (typeof v === 'bigint') row[name] = type.includes('DateTime64') ? isoNs(v) : v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      else if (v instanceof Uint8Array) row[name] = ipv6Text(v);
      else if (type === "DateTime64(3, 'UTC')") row[name] = new Date(v as number).toISOString();
      else row[name] = v;
    }
    if ('family' in row) {
      for (const c of ['src_ip', 'dst_ip']) if (c in row) row[c] = addressText(row[c] as string, row.family as number);
    }
    out.push(row);
  }
  return out;
}

/** Nanoseconds since the epoch as ISO 8601 with nine decimals. */
export function isoNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return `${epochText(ns)}s`;
  return `${d.toISOString().slice(0, 19)}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`;
}

/** 16 bytes as IPv6 text (IPv4 mapped as ::ffff:a.b.c.d). */
export function ipv6Text(b: Uint8Array): string {
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  // The longest run of zero groups (two or more) becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** An address column as people read it: a dotted quad for IPv4, nothing when the key has none
 * (IPv4 rows hold `::` there; an IPv6 row's `::` may be a real address and stays). */
export function addressText(ip: string, family: number): string {
  if (family === 4) return ip.startsWith('::ffff:') ? ip.slice(7) : '';
  if (family === 6) return ip;
  return '';
}

/** An address as the stored 16 bytes (IPv4 mapped); `::` for none. */
export function addressBytes(ip: string): Uint8Array {
  const out = new Uint8Array(16);
  if (!ip || ip === '-') return out;
  if (ip.includes('.') && !ip.includes(':')) {
    out[10] = 0xff;
    out[11] = 0xff;
    ip.split('.').forEach((p, i) => (out[12 + i] = Number(p)));
    return out;
  }
  let head = ip;
  let tail = '';
  if (ip.includes('::')) [head, tail] = ip.split('::');
  const words = (s: string) => (s ? s.split(':') : []);
  const h = words(head);
  let t = words(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4).
  const last = t.length ? t[t.length - 1] : h[h.length - 1];
  const v4 = last?.includes('.') ? last.split('.').map(Number) : null;
  if (v4) {
    if (t.length) t = t.slice(0, -1);
    else h.pop();
  }
  const groups = [...h.map((g) => parseInt(g, 16))];
  const total = 8 - (v4 ? 2 : 0);
  const tailGroups = t.map((g) => parseInt(g, 16));
  while (groups.length + tailGroups.length < total) groups.push(0);
  groups.push(...tailGroups);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (v4) v4.forEach((x, i) => (out[12 + i] = x));
  return out;
}
