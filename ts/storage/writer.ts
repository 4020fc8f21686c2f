// Writers of rows. The store writer batches rows (by count or time) in files of the staging
// folder, so rows waiting for their insert take no memory (the embedded store reads the file
// itself), and tells bad data from an unreachable store:
// - the store refuses a block for what is in it (a value it cannot parse or hold): the block is
//   bisected down to the rows at fault, the others are stored, the refused rows go to the
//   quarantine table with the store's reason (counted, logged once per reason), never retried;
// - the store cannot be reached or is not taking writes: blocks are spilled to disk, marked with
//   the store and database they are for, and replayed in order (oldest first) once it answers
//   again, by this writer or the next one of that store; what could not even be spilled is
//   counted as lost and logged.
// The file writer appends JSON Lines, one file per table, for people without ClickHouse.
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { quarantineRows, type RowOrigin } from './local-rows.js';
import { decodeRows, rowEnds, type Column } from './row-binary.js';
import type { QuarantinedRow, RowBlock } from './rows.js';
import { columnsOf, isStoredTable, visibleRunsCleanup, type StoredTable } from './schema.js';
import { processAlive, stagingFile, storeIdentity, type Store } from './store.js';

export type Log = (line: string) => void;

export interface WriterStats {
  /** Rows the store acknowledged (replayed ones included). */
  rowsWritten: number;
  inserts: number;
  /** Inserts that failed because the store could not take them (each is retried from the spill). */
  failedInserts: number;
  /** Rows put in the spill, and rows replayed from it. */
  rowsSpilled: number;
  rowsReplayed: number;
  /** Rows neither written nor spilled (the spill was full or unwritable). */
  rowsLost: number;
  /** Rows kept out of their table (refused by the store, or holding a value it cannot hold). */
  rowsQuarantined: number;
  /** Why, with the rows per reason. */
  quarantineReasons: Record<string, number>;
  /** Rows waiting in memory, and rows waiting in the spill (for this store). */
  pendingRows: number;
  spillRows: number;
  spillBytes: number;
  /** Rows in the spill folder meant for another store or database (left for it). */
  foreignSpillRows: number;
  lastError: string | null;
}

/** Where rows go. */
export interface RowSink {
  readonly kind: string;
  /** RowBinary rows of one table (columnsOf order). */
  addBlock(block: RowBlock): void;
  /** Rows kept out of their tables, with their reasons. */
  addQuarantined(origin: RowOrigin, rows: readonly QuarantinedRow[]): void;
  /** Writes everything buffered; resolves once it is written, quarantined or spilled. */
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): WriterStats;
}

function emptyStats(): WriterStats {
  return {
    rowsWritten: 0, inserts: 0, failedInserts: 0, rowsSpilled: 0, rowsReplayed: 0, rowsLost: 0, rowsQuarantined: 0, quarantineReasons: {},
    pendingRows: 0, spillRows: 0, spillBytes: 0, foreignSpillRows: 0, lastError: null,
  };
}

/** ClickHouse error codes that mean the rows themselves are at fault (the store is fine): parse
 * and type errors, values out of range, constraint violations. Anything else (network errors,
 * a full disk, too many parts, a missing table, memory) is the store's state: spill and retry. */
const BAD_DATA_CODES = new Set([
  6, 25, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349, 407, 440, 441, 469, 1001,
]);

export function isBadData(e: unknown): boolean {
  const code = Number((e as { code?: unknown }).code);
  return Number.isInteger(code) && BAD_DATA_CODES.has(code);
}

export interface StoreWriterOptions {
  batchRows: number;
  /** 0: only by count (and at close). */
  flushIntervalMs: number;
  retryMaxMs: number;
  spillDir: string;
  spillMaxBytes: number;
  /** Where rows wait for their insert (files of this process, removed once inserted). */
  stagingDir: string;
  /** Brings the schema up to date; run before the first insert, and again after a failure. */
  prepare: () => Promise<void>;
  log: Log;
}

const RETRY_FIRST_MS = 250;
/** Distinct quarantine reasons logged; further ones are only counted. */
const LOGGED_REASONS = 10;
const SPILL_SUFFIX = '.spill';

/** Rows of a table waiting for their insert, in a staging file. */
interface Pending {
  file: string;
  fd: number;
  rows: number;
  bytes: number;
}

/** What heads a spill file, as one line of JSON before the RowBinary rows. */
interface SpillHeader {
  /** The store and database the rows are for (storeIdentity). */
  store: string;
  table: StoredTable;
  columns: Column[];
  rows: number;
}

interface SpillFile {
  name: string;
  header: SpillHeader | null;
  size: number;
}

let spillSeq = 0;

/** A spill file name: time, process, sequence, rows, table; sorted by name is oldest first. */
function spillName(rows: number, table: StoredTable): string {
  return `${Date.now().toString().padStart(15, '0')}-${process.pid}.${String(spillSeq++).padStart(9, '0')}-${rows}-${table}${SPILL_SUFFIX}`;
}

function spillHeader(identity: string, table: StoredTable, rows: number): Buffer {
  const header: SpillHeader = { store: identity, table, columns: [...columnsOf(table)], rows };
  return Buffer.from(JSON.stringify(header) + '\n');
}

/** Writes rows meant for the store `identity` to the spill (synced); returns the file's size. */
function writeSpill(dir: string, identity: string, table: StoredTable, chunks: Buffer[], rows: number): number {
  const head = spillHeader(identity, table, rows);
  mkdirSync(dir, { recursive: true });
  writeDurably(join(dir, spillName(rows, table)), [head, ...chunks]);
  return head.length + chunks.reduce((n, c) => n + c.length, 0);
}

/** Puts a block in the spill of a store this process does not hold (the next one to open it
 * replays it). */
export function spillBlock(dir: string, identity: string, block: RowBlock): void {
  writeSpill(dir, identity, block.table, [block.data], block.rows);
}

function readSpill(path: string): { header: SpillHeader; data: Buffer } {
  const raw = readFileSync(path);
  const nl = raw.indexOf(10);
  const header = JSON.parse(raw.toString('utf8', 0, nl)) as SpillHeader;
  return { header, data: raw.subarray(nl + 1) };
}

function spillHeaderOf(path: string): SpillHeader | null {
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      const n = readSync(fd, buf);
      const nl = buf.subarray(0, n).indexOf(10);
      if (nl < 0) return null;
      const h = JSON.parse(buf.toString('utf8', 0, nl)) as SpillHeader;
      return typeof h.store === 'string' && isStoredTable(h.table) && Array.isArray(h.columns) && Number.isInteger(h.rows) ? h : null;
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}


export class StoreWriter implements RowSink {
  readonly kind = 'clickhouse';
  private readonly pending = new Map<StoredTable, Pending>();
  private pendingRows = 0;
  private readonly counters = emptyStats();
  private readonly timer: NodeJS.Timeout | null;
  private running: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = RETRY_FIRST_MS;
  /** The spill holds blocks of this store: new blocks queue behind them. */
  private down = false;
  /** An insert failed since the spill was last empty (as opposed to a spill for memory). */
  private outage = false;
  private closed = false;
  /** The schema brought up to date: started with the first rows (it overlaps the work that
   * makes the next ones), tried again before an insert after a failure. */
  private prepared: Promise<void> | null = null;
  private readonly identity: string;
  /** Where rows go when even the quarantine table refuses them. */
  private readonly quarantineFile: string;

  constructor(private readonly store: Store, private readonly opts: StoreWriterOptions) {
    this.identity = storeIdentity(store);
    this.quarantineFile = join(dirname(opts.spillDir), 'quarantine.jsonl');
    mkdirSync(opts.spillDir, { recursive: true });
    this.setAsideLegacySpill();
    removeOrphanStaging(opts.stagingDir, opts.log);
    for (const f of this.spillFiles()) {
      if (f.header?.store === this.identity) {
        this.counters.spillRows += f.header.rows;
        this.counters.spillBytes += f.size;
      } else if (f.header) {
        this.counters.foreignSpillRows += f.header.rows;
      }
    }
    if (this.counters.foreignSpillRows > 0) {
      opts.log(`storage: ${this.counters.foreignSpillRows} rows in ${opts.spillDir} are meant for another store or database; they are left for it`);
    }
    if (this.counters.spillRows > 0) {
      opts.log(`storage: ${this.counters.spillRows} rows from an earlier run wait in ${opts.spillDir}; replaying them`);
      this.down = true;
      this.scheduleRetry(0);
    }
    this.timer = opts.flushIntervalMs > 0 ? setInterval(() => void this.flush(), opts.flushIntervalMs) : null;
    this.timer?.unref();
  }

  /** Spill files of an earlier version (TabSeparated text, no store named) are moved aside:
   * their rows cannot be told apart from this store's, nor trusted to parse. */
  private setAsideLegacySpill(): void {
    const legacy = readdirSync(this.opts.spillDir).filter((n) => n.endsWith('.tsv'));
    if (!legacy.length) return;
    const aside = join(dirname(this.opts.spillDir), 'spill-unreplayable');
    mkdirSync(aside, { recursive: true });
    let rows = 0;
    for (const name of legacy) {
      rows += Number(/^\d+-\d+-(\d+)-/.exec(name)?.[1] ?? 0);
      renameSync(join(this.opts.spillDir, name), join(aside, name));
    }
    this.counters.rowsQuarantined += rows;
    const reason = 'spill file of an earlier version (no store named, text times)';
    this.counters.quarantineReasons[reason] = (this.counters.quarantineReasons[reason] ?? 0) + rows;
    this.opts.log(`storage: ${legacy.length} spill file(s) of an earlier version (${rows} rows) moved to ${aside}: they name no store and are not replayed`);
  }

  addBlock(block: RowBlock): void {
    if (block.rows === 0) return;
    if (!this.prepared) {
      this.prepared = this.opts.prepare();
      // A failure here is met again (and reported) by the first insert.
      this.prepared.catch(() => {});
    }
    let p = this.pending.get(block.table);
    try {
      if (!p) {
        const file = stagingFile(this.opts.stagingDir, block.table);
        this.pending.set(block.table, (p = { file, fd: openSync(file, 'w'), rows: 0, bytes: 0 }));
      }
      for (let at = 0; at < block.data.length; ) at += writeSync(p.fd, block.data, at);
    } catch (e) {
      this.lost(block.rows, `cannot stage rows in ${this.opts.stagingDir}: ${(e as Error).message}`);
      return;
    }
    p.rows += block.rows;
    p.bytes += block.data.length;
    this.pendingRows += block.rows;
    if (this.pendingRows >= this.opts.batchRows) void this.flush();
  }

  addQuarantined(origin: RowOrigin, rows: readonly QuarantinedRow[]): void {
    if (!rows.length) return;
    for (const q of rows) this.countQuarantined(q.reason, 1, q.table);
    const block = quarantineRows(origin, Date.now(), rows);
    if (block) this.addBlock(block);
  }

  private countQuarantined(reason: string, rows: number, table: string): void {
    const reasons = this.counters.quarantineReasons;
    const known = reason in reasons;
    reasons[reason] = (reasons[reason] ?? 0) + rows;
    this.counters.rowsQuarantined += rows;
    if (!known && Object.keys(reasons).length <= LOGGED_REASONS) {
      this.opts.log(`storage: ${table} rows quarantined (kept in ${this.store.database}.quarantine, not in ${table}): ${reason}; more for this reason are only counted`);
    }
  }

  private takePending(): [StoredTable, Pending][] {
    const out = [...this.pending.entries()];
    for (const [, p] of out) closeSync(p.fd);
    this.pending.clear();
    this.pendingRows = 0;
    return out;
  }

  /** Staged rows to the spill (the store is down), and the staging file gone. */
  private spillStaged(table: StoredTable, p: Pending): void {
    try {
      this.spill(table, [readFileSync(p.file)], p.rows, p.bytes);
    } catch (e) {
      this.lost(p.rows, `cannot read the staged rows ${p.file}: ${(e as Error).message}`);
    } finally {
      rmSync(p.file, { force: true });
    }
  }

  stats(): WriterStats {
    return { ...this.counters, quarantineReasons: { ...this.counters.quarantineReasons }, pendingRows: this.pendingRows };
  }

  /** Sends what is buffered; flushes run one at a time, in order. */
  flush(): Promise<void> {
    this.running = this.running.then(() => this.flushNow());
    return this.running;
  }

  private async flushNow(): Promise<void> {
    for (const [table, p] of this.takePending()) {
      if (this.down) {
        this.spillStaged(table, p);
        continue;
      }
      try {
        const left = await this.putStaged(table, p);
        if (left) this.spill(table, [left.data], left.rows, left.data.length);
      } catch (e) {
        this.lost(p.rows, `cannot read the staged rows ${p.file}: ${(e as Error).message}`);
      } finally {
        rmSync(p.file, { force: true });
      }
    }
  }

  /** Stores the rows of a staging file as `put` stores a block (the file is read only when the
   * store refuses it). */
  private async putStaged(table: StoredTable, p: Pending): Promise<{ data: Buffer; rows: number } | null> {
    const columns = columnsOf(table);
    try {
      await this.ready();
      await this.store.insertFile(table, columns, p.file);
      this.counters.rowsWritten += p.rows;
    } catch (e) {
      const data = readFileSync(p.file);
      if (!isBadData(e)) {
        this.failed(e as Error);
        return { data, rows: p.rows };
      }
      return this.bisect(table, columns, data, e as Error);
    }
    if (table === 'runs') await this.afterRuns(columns, readFileSync(p.file));
    return null;
  }

  /** Stores rows, bisecting a block the store refuses for its content. Returns what is left
   * unwritten because the store stopped taking writes (null when nothing is). */
  private async put(table: StoredTable, columns: readonly Column[], data: Buffer, rows: number): Promise<{ data: Buffer; rows: number } | null> {
    try {
      await this.insert(table, columns, data);
      this.counters.rowsWritten += rows;
      if (table === 'runs') await this.afterRuns(columns, data);
      return null;
    } catch (e) {
      if (!isBadData(e)) {
        this.failed(e as Error);
        return { data, rows };
      }
      return this.bisect(table, columns, data, e as Error);
    }
  }

  private async bisect(table: StoredTable, columns: readonly Column[], data: Buffer, e: Error): Promise<{ data: Buffer; rows: number } | null> {
    let ends: number[];
    try {
      ends = rowEnds(columns, data);
    } catch (err) {
      // The bytes stop being rows somewhere (a damaged spill): what follows the last whole row
      // is kept as it is, the whole rows before it are tried again.
      ends = (err as { complete?: number[] }).complete ?? [];
      const at = ends.length ? ends[ends.length - 1] : 0;
      this.quarantine(table, columns, data.subarray(at), `damaged rows: ${(err as Error).message}`);
      return ends.length ? this.put(table, columns, data.subarray(0, at), ends.length) : null;
    }
    if (ends.length === 1) {
      this.quarantine(table, columns, data, `the store refused the row: ${storeReason(e.message)}`);
      return null;
    }
    const half = Math.floor(ends.length / 2);
    const mid = ends[half - 1];
    const left = await this.put(table, columns, data.subarray(0, mid), half);
    const right = { data: data.subarray(mid), rows: ends.length - half };
    if (left) return { data: Buffer.concat([left.data, right.data]), rows: left.rows + right.rows };
    return this.put(table, columns, right.data, right.rows);
  }

  /** A refused row (or damaged bytes) to the quarantine table; the quarantine's own refused rows
   * go to a file. */
  private quarantine(table: StoredTable, columns: readonly Column[], bytes: Buffer, reason: string): void {
    if (!bytes.length) return;
    let row: string;
    let origin: RowOrigin = { source: '', run: '' };
    try {
      const [o] = decodeRows(columns, bytes);
      row = JSON.stringify(o, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      origin = { source: String(o.source ?? ''), run: String(o.run ?? '') };
    } catch {
      row = JSON.stringify({ hex: bytes.toString('hex') });
    }
    if (table === 'quarantine') {
      try {
        appendFileSync(this.quarantineFile, JSON.stringify({ at: new Date().toISOString(), reason, row }) + '\n');
        this.countQuarantined(reason, 1, table);
      } catch (err) {
        this.lost(1, `cannot write ${this.quarantineFile}: ${(err as Error).message}`);
      }
      return;
    }
    this.addQuarantined(origin, [{ table, reason, row }]);
  }

  /** A run became the one queries read: the rows of the source's earlier runs go. */
  private async afterRuns(columns: readonly Column[], data: Buffer): Promise<void> {
    for (const r of decodeRows(columns, data)) {
      for (const q of visibleRunsCleanup(this.store.database)) {
        // Not waited for: queries stopped reading those rows when the run row was written.
        const settings = { lightweight_deletes_sync: '0' };
        await this.store.client.command({ query: q, query_params: { source: String(r.source), run: String(r.run) }, clickhouse_settings: settings }).catch((e: Error) => {
          this.opts.log(`storage: rows of runs before ${String(r.run)} of ${String(r.source)} stay (hidden from queries): ${e.message}`);
        });
      }
    }
  }

  /** Counts an insert, with the schema brought up to date before the first one. */
  private async ready(): Promise<void> {
    this.counters.inserts++;
    try {
      await (this.prepared ??= this.opts.prepare());
    } catch (e) {
      this.prepared = null;
      throw e;
    }
  }

  private async insert(table: StoredTable, columns: readonly Column[], data: Buffer): Promise<void> {
    await this.ready();
    await this.store.insert(table, columns, data);
  }

  private failed(e: Error): void {
    this.counters.failedInserts++;
    const first = !this.outage;
    this.counters.lastError = e.message;
    this.down = true;
    this.outage = true;
    if (first) this.opts.log(`storage: cannot write to ${this.store.where}: ${firstLine(e.message)}; spilling rows to ${this.opts.spillDir} and retrying`);
    this.scheduleRetry(this.retryMs);
  }

  private spill(table: StoredTable, chunks: Buffer[], rows: number, bytes: number): void {
    if (rows === 0) return;
    if (this.counters.spillBytes + bytes + spillHeader(this.identity, table, rows).length > this.opts.spillMaxBytes) {
      this.lost(rows, `the spill is full (${this.counters.spillBytes} of ${this.opts.spillMaxBytes} bytes)`);
      return;
    }
    let size: number;
    try {
      size = writeSpill(this.opts.spillDir, this.identity, table, chunks, rows);
    } catch (e) {
      this.lost(rows, `cannot write the spill: ${(e as Error).message}`);
      return;
    }
    this.counters.rowsSpilled += rows;
    this.counters.spillRows += rows;
    this.counters.spillBytes += size;
    if (!this.down) {
      // Spilled for memory, not for an outage: replay as soon as the caller yields.
      this.down = true;
      this.scheduleRetry(0);
    }
  }

  private lost(rows: number, why: string): void {
    if (this.counters.rowsLost === 0) this.opts.log(`storage: rows lost: ${why}; further losses are only counted`);
    this.counters.rowsLost += rows;
  }

  private spillFiles(): SpillFile[] {
    return readdirSync(this.opts.spillDir)
      .filter((n) => n.endsWith(SPILL_SUFFIX))
      .sort()
      .map((name) => {
        const path = join(this.opts.spillDir, name);
        return { name, header: spillHeaderOf(path), size: statSync(path).size };
      });
  }

  private scheduleRetry(ms: number): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.running = this.running.then(() => this.replay());
    }, ms);
  }

  /** Replays this store's spill oldest first, until it is empty (a replay may spill again: rows
   * it quarantined, held back for memory); on a failure waits longer (doubling up to
   * retryMax). A file partly written keeps only what is left. */
  private async replay(): Promise<void> {
    for (let files = this.ownSpill(); files.length; files = this.ownSpill()) {
      for (const f of files) {
        const path = join(this.opts.spillDir, f.name);
        let spilled: { header: SpillHeader; data: Buffer };
        try {
          spilled = readSpill(path);
        } catch (e) {
          this.lost(f.header!.rows, `cannot read the spill file ${path}: ${(e as Error).message}`);
          rmSync(path, { force: true });
          continue;
        }
        const written = this.counters.rowsWritten;
        const left = await this.put(spilled.header.table, spilled.header.columns, spilled.data, spilled.header.rows);
        const done = spilled.header.rows - (left?.rows ?? 0);
        this.counters.rowsReplayed += Math.min(done, this.counters.rowsWritten - written);
        this.counters.spillRows -= done;
        if (left) {
          const head = Buffer.from(JSON.stringify({ ...spilled.header, rows: left.rows }) + '\n');
          writeDurably(path, [head, left.data]);
          this.counters.spillBytes -= f.size - head.length - left.data.length;
          this.retryMs = Math.min(this.retryMs * 2, this.opts.retryMaxMs);
          this.scheduleRetry(this.retryMs);
          return;
        }
        rmSync(path, { force: true });
        this.counters.spillBytes -= f.size;
      }
      // Rows the replay made (quarantined ones) go behind it.
      if (this.pendingRows) for (const [table, p] of this.takePending()) this.spillStaged(table, p);
    }
    if (this.outage) this.opts.log(`storage: ${this.store.where} is writable again; the spill is replayed`);
    this.counters.spillBytes = 0;
    this.down = false;
    this.outage = false;
    this.retryMs = RETRY_FIRST_MS;
  }

  private ownSpill(): SpillFile[] {
    return this.spillFiles().filter((f) => f.header?.store === this.identity);
  }

  /** Flushes, then tries the spill once more; what stays there is replayed by the next run. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    // A flush may add rows (the ones it quarantined): flush until none wait.
    do await this.flush();
    while (this.pendingRows > 0 && !this.down);
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.down) await (this.running = this.running.then(() => this.replay()));
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.counters.spillRows > 0) {
      this.opts.log(`storage: ${this.counters.spillRows} rows could not be written yet and stay in ${this.opts.spillDir}; the next run replays them`);
    }
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

/** The store's reason for refusing a row, without what differs from row to row (its position,
 * its values, table UUIDs), so that rows refused for one reason count under one. */
function storeReason(text: string): string {
  return firstLine(text)
    .replace(/^Code: \d+\. DB::Exception: (?=Code: \d+\.)/, '')
    .replace(/ \([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\)/g, '')
    .replace(/ at row \d+/g, '')
    .replace(/\.?\s*Column values:.*$/, '');
}

/** Staging files of processes that are gone (their rows were never acknowledged: a crash lost
 * them as it would have lost rows in memory) are removed, and said. */
function removeOrphanStaging(dir: string, log: Log): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  let bytes = 0;
  let files = 0;
  for (const name of names) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || processAlive(pid)) continue;
    try {
      bytes += statSync(join(dir, name)).size;
      rmSync(join(dir, name), { force: true });
      files++;
    } catch {
      // Another writer removed it first.
    }
  }
  if (files) log(`storage: removed ${files} staging file(s) (${bytes} bytes) of processes that ended without inserting them`);
}


/** Writes a file and syncs it to disk before returning. */
function writeDurably(path: string, chunks: Buffer[]): void {
  const tmp = `${path}.part`;
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) writeSync(fd, c);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** JSON Lines, one file per table, appended. */
export class FileWriter implements RowSink {
  readonly kind = 'file';
  private readonly counters = emptyStats();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private append(table: string, objects: Record<string, unknown>[]): void {
    const file = join(this.dir, `${table}.jsonl`);
    try {
      appendFileSync(file, objects.map((o) => JSON.stringify(o, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n').join(''));
      this.counters.rowsWritten += objects.length;
    } catch (e) {
      this.counters.rowsLost += objects.length;
      this.counters.lastError = `${table}.jsonl: ${(e as Error).message}`;
      throw new Error(`storage: cannot append to ${file}: ${(e as Error).message}`);
    }
  }

  addBlock(block: RowBlock): void {
    this.append(block.table, decodeRows(columnsOf(block.table), block.data));
  }

  addQuarantined(origin: RowOrigin, rows: readonly QuarantinedRow[]): void {
    if (!rows.length) return;
    for (const q of rows) {
      this.counters.quarantineReasons[q.reason] = (this.counters.quarantineReasons[q.reason] ?? 0) + 1;
    }
    this.counters.rowsQuarantined += rows.length;
    this.append('quarantine', rows.map((q) => ({ ...origin, at: new Date().toISOString(), table: q.table, reason: q.reason, row: q.row })));
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}

  stats(): WriterStats {
    return { ...this.counters, quarantineReasons: { ...this.counters.quarantineReasons } };
  }
}
