// The one reader of the core's output formats (crates/core/src/engine/snapshot.rs, ClosedWindow;
// crates/core/src/rows/mod.rs, the rows buffer): a closed window's counters, JSON, snapshot and
// storage rows, and the rows of finished flows. Nothing else in TypeScript knows an offset of
// a core format; the snapshot (NSWS) is passed on whole, never read here.

/** Tables the core makes rows for, in the order of its rows buffer. */
export const CORE_TABLES = ['windows', 'window_tasks', 'exact_rows', 'heavy_hitters', 'spreaders', 'flows'] as const;
export type CoreTable = (typeof CORE_TABLES)[number];

/** Rows of one table, RowBinary in the table's column order. */
export interface CoreRowBlock {
  table: CoreTable;
  rows: number;
  data: Buffer;
}

/** A row kept out of its table (the store cannot hold it), and why. */
export interface QuarantinedRow {
  table: string;
  reason: string;
  /** The row as JSON text. */
  row: string;
}

export interface CoreRows {
  blocks: CoreRowBlock[];
  quarantined: QuarantinedRow[];
}

/** Reads with bounds checks; a damaged buffer is an error naming what ran out. */
class Reader {
  at = 0;
  constructor(readonly b: Buffer, private readonly what: string) {}

  need(n: number, field: string): number {
    if (this.at + n > this.b.length) throw new Error(`${this.what}: the buffer ends inside ${field}`);
    const at = this.at;
    this.at += n;
    return at;
  }

  u32(field: string): number {
    return this.b.readUInt32LE(this.need(4, field));
  }

  u64(field: string): bigint {
    return this.b.readBigUInt64LE(this.need(8, field));
  }

  bytes(field: string): Buffer {
    const n = this.u32(field);
    const at = this.need(n, field);
    return this.b.subarray(at, at + n);
  }
}

function view(buf: Uint8Array): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** The non-empty blocks and the quarantined rows of a rows buffer. */
export function readRows(buf: Uint8Array): CoreRows {
  const r = new Reader(view(buf), 'storage rows');
  const blocks: CoreRowBlock[] = [];
  for (const table of CORE_TABLES) {
    const rows = r.u32(`table ${table}`);
    const data = r.bytes(`table ${table}`);
    if (rows > 0) blocks.push({ table, rows, data });
  }
  const quarantined: QuarantinedRow[] = [];
  for (let n = r.u32('the quarantine'); n > 0; n--) {
    const index = r.b[r.need(1, 'a quarantined row')];
    const reason = r.bytes('a quarantined row').toString('utf8');
    quarantined.push({ table: CORE_TABLES[index] ?? `table ${index}`, reason, row: r.bytes('a quarantined row').toString('utf8') });
  }
  if (r.at !== r.b.length) throw new Error(`storage rows: ${r.b.length - r.at} bytes past the quarantine`);
  return { blocks, quarantined };
}

/** A closed (or peeked) window as the core hands it out. */
export interface ClosedWindow {
  startNs: bigint;
  endNs: bigint;
  startMs: number;
  endMs: number;
  packets: number;
  bytes: number;
  latePackets: number;
  /** TCP packets with SYN and without ACK. */
  tcpSyn: number;
  /** Times of the first and last packet with a time; null when none had one. */
  firstNs: bigint | null;
  lastNs: bigint | null;
  /** The window as reports show it (WindowReport). */
  json: string;
  /** The window's snapshot (NSWS), whole: sketch state for other tools. */
  snapshot: Uint8Array;
  /** Its storage rows, when the engine knows who it writes as. */
  rows: CoreRows | null;
  /** The whole buffer this was read from (what a cluster engine publishes). */
  raw: Uint8Array;
}

const MAGIC = 0x5743534e; // "NSCW"

export function readClosedWindow(buf: Uint8Array): ClosedWindow {
  const r = new Reader(view(buf), 'closed window');
  if (r.b.length < 4 || r.b.readUInt32LE(0) !== MAGIC) throw new Error('not a closed window (bad magic)');
  r.at = 4;
  const [startNs, endNs, packets, bytes, late, syn, timed, firstNs, lastNs] = ['start', 'end', 'packets', 'bytes', 'late', 'syn', 'timed', 'first', 'last'].map((f) => r.u64(f));
  const json = r.bytes('the JSON').toString('utf8');
  const snapshot = r.bytes('the snapshot');
  const rows = r.bytes('the rows');
  if (r.at !== r.b.length) throw new Error(`closed window: ${r.b.length - r.at} bytes past the rows`);
  return {
    startNs, endNs, startMs: Number(startNs) / 1e6, endMs: Number(endNs) / 1e6, packets: Number(packets), bytes: Number(bytes),
    latePackets: Number(late), tcpSyn: Number(syn), firstNs: timed ? firstNs : null, lastNs: timed ? lastNs : null,
    json, snapshot, rows: rows.length ? readRows(rows) : null, raw: buf,
  };
}

/** The same closed window buffer without its snapshot (the sketch state, megabytes per window
 * with the default tasks): what a cluster engine publishes, whose readers need the counters,
 * the report and the rows only. */
export function withoutSnapshot(buf: Uint8Array): Uint8Array {
  const { b, snapshotAt, rowsAt } = sections(buf);
  if (rowsAt - snapshotAt === 4) return buf;
  const out = Buffer.alloc(buf.byteLength - (rowsAt - snapshotAt - 4));
  out.set(b.subarray(0, snapshotAt), 0);
  out.writeUInt32LE(0, snapshotAt);
  out.set(b.subarray(rowsAt), snapshotAt + 4);
  return out;
}

/** Where a closed window buffer's snapshot and rows begin (their length fields), and its rows. */
function sections(buf: Uint8Array): { b: Buffer; snapshotAt: number; rowsAt: number; rows: Buffer } {
  const r = new Reader(view(buf), 'closed window');
  r.at = 4 + 9 * 8;
  r.bytes('the JSON');
  const snapshotAt = r.at;
  r.bytes('the snapshot');
  const rowsAt = r.at;
  return { b: r.b, snapshotAt, rowsAt, rows: r.bytes('the rows') };
}

/** One rows buffer holding the rows of both (table by table, then both quarantines), in the
 * core's format. */
export function concatRows(a: Uint8Array, b: Uint8Array): Uint8Array {
  const ra = new Reader(view(a), 'storage rows');
  const rb = new Reader(view(b), 'storage rows');
  const out: Buffer[] = [];
  const u32 = (n: number) => {
    const x = Buffer.alloc(4);
    x.writeUInt32LE(n);
    return x;
  };
  for (const table of CORE_TABLES) {
    const rows = ra.u32(`table ${table}`) + rb.u32(`table ${table}`);
    const da = ra.bytes(`table ${table}`);
    const db = rb.bytes(`table ${table}`);
    out.push(u32(rows), u32(da.length + db.length), da, db);
  }
  const qa = ra.u32('the quarantine');
  const qb = rb.u32('the quarantine');
  out.push(u32(qa + qb), ra.b.subarray(ra.at), rb.b.subarray(rb.at));
  return Buffer.concat(out);
}

/** A closed window buffer with these rows added to its own (a cluster part carries the flow
 * records finished by the time its window closed). */
export function withMoreRows(buf: Uint8Array, rows: Uint8Array): Uint8Array {
  const { b, rowsAt, rows: own } = sections(buf);
  // A window without rows of its own counts as one with empty tables.
  const merged = concatRows(own.length ? own : Buffer.alloc(4 * (2 * CORE_TABLES.length + 1)), rows);
  const out = Buffer.alloc(rowsAt + 4 + merged.byteLength);
  out.set(b.subarray(0, rowsAt), 0);
  out.writeUInt32LE(merged.byteLength, rowsAt);
  out.set(merged, rowsAt + 4);
  return out;
}

/** The closed window buffer of a backend without rows (the TypeScript port): what the core
 * writes, with no rows. */
export function closedWindowBuffer(w: {
  startNs: bigint; endNs: bigint; packets: number; bytes: number; late: number; syn: number; timed: number; firstNs: bigint; lastNs: bigint;
  json: string; snapshot: Uint8Array;
}): Uint8Array {
  const json = Buffer.from(w.json);
  const out = Buffer.alloc(4 + 9 * 8 + 12 + json.length + w.snapshot.length);
  out.writeUInt32LE(MAGIC, 0);
  let at = 4;
  for (const v of [w.startNs, w.endNs, w.packets, w.bytes, w.late, w.syn, w.timed, w.firstNs, w.lastNs]) {
    out.writeBigUInt64LE(BigInt(v), at);
    at += 8;
  }
  for (const part of [json, w.snapshot, new Uint8Array(0)]) {
    out.writeUInt32LE(part.length, at);
    out.set(part, at + 4);
    at += 4 + part.length;
  }
  return out;
}
