// Writers of window rows. The store writer batches rows (by count or time), retries with
// backoff, and spills blocks it cannot write to disk, replaying them (oldest first) once the
// store answers again; what it could not even spill is counted as lost and logged. The file
// writer appends JSON Lines, one file per table, for people without ClickHouse.
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { AlertEvent } from '../alert/types.js';
import { COLUMNS, type StoredTable } from './schema.js';
import { blockToObjects, splitRows, tsvText } from './rows.js';
import { checkFlowRecords, flowLines } from './flow-rows.js';
import type { FlowRecordJson } from '../flows/types.js';
import type { Store } from './store.js';

export type Log = (line: string) => void;

export interface WriterStats {
  /** Rows the store acknowledged (replayed ones included). */
  rowsWritten: number;
  inserts: number;
  /** Inserts that failed (each is retried from the spill). */
  failedInserts: number;
  /** Rows put in the spill, and rows replayed from it. */
  rowsSpilled: number;
  rowsReplayed: number;
  /** Rows neither written nor spilled (the spill was full or unwritable). */
  rowsLost: number;
  /** Rows waiting in memory, and rows waiting in the spill. */
  pendingRows: number;
  spillRows: number;
  spillBytes: number;
  lastError: string | null;
}

/** Where closed windows' rows go. */
export interface RowSink {
  readonly kind: string;
  /** A rows buffer from the backend's `storageRows`. */
  addRows(rows: Uint8Array): void;
  /** One run/ingest statistics row. */
  addStats(row: IngestStatsRow): void;
  /** One alert notification (history). */
  addAlert(event: AlertEvent): void;
  /** Finished flow records, batched like window rows; throws, taking none, when one is malformed. */
  addFlows(source: string, records: readonly FlowRecordJson[]): void;
  /** Writes everything buffered; resolves once it is written or spilled. */
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): WriterStats;
}

export interface IngestStatsRow {
  source: string;
  atMs: number;
  kind: string;
  packets: number;
  bytes: number;
  windows: number;
  details: Record<string, unknown>;
}

function emptyStats(): WriterStats {
  return { rowsWritten: 0, inserts: 0, failedInserts: 0, rowsSpilled: 0, rowsReplayed: 0, rowsLost: 0, pendingRows: 0, spillRows: 0, spillBytes: 0, lastError: null };
}

export interface StoreWriterOptions {
  batchRows: number;
  flushIntervalMs: number;
  retryMaxMs: number;
  spillDir: string;
  spillMaxBytes: number;
  /** Rows kept in memory before they go to the spill without waiting for an insert (a caller
   * that adds without yielding, like an offline analysis, never lets an insert run). */
  maxPendingBytes?: number;
  /** Brings the schema up to date; run before the first insert, and again after a failure. */
  prepare: () => Promise<void>;
  log: Log;
}

const RETRY_FIRST_MS = 250;

interface Pending {
  chunks: Buffer[];
  rows: number;
  bytes: number;
}

/** A spill file name: time, sequence, rows, table; sorted by name is oldest first. */
function spillName(seq: number, rows: number, table: StoredTable): string {
  return `${Date.now().toString().padStart(15, '0')}-${String(seq).padStart(9, '0')}-${rows}-${table}.tsv`;
}

function parseSpillName(name: string): { rows: number; table: StoredTable } | null {
  const m = /^\d+-\d+-(\d+)-([a-z_]+)\.tsv$/.exec(name);
  if (!m || !(m[2] in COLUMNS)) return null;
  return { rows: Number(m[1]), table: m[2] as StoredTable };
}

export class StoreWriter implements RowSink {
  readonly kind = 'clickhouse';
  private readonly pending = new Map<StoredTable, Pending>();
  private pendingRows = 0;
  private pendingBytes = 0;
  private readonly counters = emptyStats();
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = RETRY_FIRST_MS;
  /** The spill holds blocks: new blocks queue behind them. */
  private down = false;
  /** An insert failed since the spill was last empty (as opposed to a spill for memory). */
  private outage = false;
  private closed = false;
  private seq = 0;
  /** Rows made here rather than by the backend: statistics and alerts, as TabSeparated lines. */
  private readonly lines = new Map<'ingest_stats' | 'alerts', string[]>();
  private prepared = false;

  constructor(private readonly store: Store, private readonly opts: StoreWriterOptions) {
    mkdirSync(opts.spillDir, { recursive: true });
    for (const f of this.spillFiles()) {
      this.counters.spillRows += f.rows;
      this.counters.spillBytes += f.size;
    }
    if (this.counters.spillRows > 0) {
      opts.log(`storage: ${this.counters.spillRows} rows from an earlier run wait in ${opts.spillDir}; replaying them`);
      this.down = true;
      this.scheduleRetry(0);
    }
    this.timer = setInterval(() => void this.flush(), opts.flushIntervalMs);
    this.timer.unref();
  }

  addRows(rows: Uint8Array): void {
    for (const block of splitRows(rows)) this.addBlock(block);
  }

  addStats(row: IngestStatsRow): void {
    this.addLine('ingest_stats', statsLine(row));
  }

  addAlert(event: AlertEvent): void {
    this.addLine('alerts', alertLine(event));
  }

  addFlows(source: string, records: readonly FlowRecordJson[]): void {
    if (records.length === 0) return;
    checkFlowRecords(records);
    // Through the blocks, not the lines: flows are many, and count toward batches and memory.
    this.addBlock({ table: 'flows', rows: records.length, text: Buffer.from(flowLines(source, records)) }, true);
  }

  private addLine(table: 'ingest_stats' | 'alerts', line: string): void {
    const held = this.lines.get(table);
    if (held) held.push(line);
    else this.lines.set(table, [line]);
  }

  /** `owned`: the text is the writer's already (else it may be a view the caller reuses). */
  private addBlock(block: { table: StoredTable; rows: number; text: Buffer }, owned = false): void {
    let p = this.pending.get(block.table);
    if (!p) this.pending.set(block.table, (p = { chunks: [], rows: 0, bytes: 0 }));
    p.chunks.push(owned ? block.text : Buffer.from(block.text));
    p.rows += block.rows;
    p.bytes += block.text.length;
    this.pendingRows += block.rows;
    this.pendingBytes += block.text.length;
    if (this.pendingBytes > (this.opts.maxPendingBytes ?? 64 * 1024 * 1024)) {
      for (const [table, held] of this.takePending()) this.spill(table, held);
    } else if (this.pendingRows >= this.opts.batchRows) {
      void this.flush();
    }
  }

  private takePending(): [StoredTable, Pending][] {
    const out = [...this.pending.entries()];
    this.pending.clear();
    this.pendingRows = 0;
    this.pendingBytes = 0;
    return out;
  }

  stats(): WriterStats {
    return { ...this.counters, pendingRows: this.pendingRows };
  }

  /** Sends what is buffered; flushes run one at a time, in order. */
  flush(): Promise<void> {
    this.running = this.running.then(() => this.flushNow());
    return this.running;
  }

  private async flushNow(): Promise<void> {
    const blocks = this.takePending();
    for (const [table, lines] of this.lines) {
      const text = Buffer.from(lines.join(''));
      blocks.push([table, { chunks: [text], rows: lines.length, bytes: text.length }]);
    }
    this.lines.clear();
    for (const [table, p] of blocks) {
      if (this.down) {
        this.spill(table, p);
        continue;
      }
      const body = Buffer.concat(p.chunks);
      try {
        await this.insert(table, body);
        this.counters.rowsWritten += p.rows;
      } catch (e) {
        this.failed(e as Error);
        this.spill(table, { chunks: [body], rows: p.rows, bytes: body.length });
      }
    }
  }

  private async insert(table: StoredTable, body: Buffer): Promise<void> {
    this.counters.inserts++;
    if (!this.prepared) {
      await this.opts.prepare();
      this.prepared = true;
    }
    await this.store.client.insert({
      table: `${this.store.database}.${table}`,
      columns: COLUMNS[table] as [string, ...string[]],
      format: 'TabSeparated',
      values: Readable.from([body], { objectMode: false }),
    });
  }

  private failed(e: Error): void {
    this.counters.failedInserts++;
    const first = !this.outage;
    this.counters.lastError = e.message;
    this.down = true;
    this.outage = true;
    if (first) this.opts.log(`storage: cannot write to ${this.store.where}: ${e.message}; spilling rows to ${this.opts.spillDir} and retrying`);
    this.scheduleRetry(this.retryMs);
  }

  private spill(table: StoredTable, p: Pending): void {
    if (p.rows === 0) return;
    if (this.counters.spillBytes + p.bytes > this.opts.spillMaxBytes) {
      this.lost(p.rows, `the spill is full (${this.counters.spillBytes} of ${this.opts.spillMaxBytes} bytes)`);
      return;
    }
    const name = spillName(this.seq++, p.rows, table);
    try {
      const fd = openSync(join(this.opts.spillDir, name), 'w');
      try {
        for (const c of p.chunks) writeSync(fd, c);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      this.lost(p.rows, `cannot write the spill: ${(e as Error).message}`);
      return;
    }
    this.counters.rowsSpilled += p.rows;
    this.counters.spillRows += p.rows;
    this.counters.spillBytes += p.bytes;
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

  private spillFiles(): { name: string; rows: number; table: StoredTable; size: number }[] {
    return readdirSync(this.opts.spillDir)
      .sort()
      .flatMap((name) => {
        const p = parseSpillName(name);
        return p ? [{ name, ...p, size: statSync(join(this.opts.spillDir, name)).size }] : [];
      });
  }

  private scheduleRetry(ms: number): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.running = this.running.then(() => this.replay());
    }, ms);
  }

  /** Replays the spill oldest first; on a failure waits longer (doubling up to retryMax). */
  private async replay(): Promise<void> {
    for (const f of this.spillFiles()) {
      const path = join(this.opts.spillDir, f.name);
      try {
        await this.insert(f.table, readFileSync(path));
      } catch (e) {
        this.counters.failedInserts++;
        this.counters.lastError = (e as Error).message;
        this.retryMs = Math.min(this.retryMs * 2, this.opts.retryMaxMs);
        this.scheduleRetry(this.retryMs);
        return;
      }
      rmSync(path, { force: true });
      this.counters.rowsWritten += f.rows;
      this.counters.rowsReplayed += f.rows;
      this.counters.spillRows -= f.rows;
      this.counters.spillBytes -= f.size;
    }
    if (this.outage) this.opts.log(`storage: ${this.store.where} is writable again; the spill is replayed`);
    this.down = false;
    this.outage = false;
    this.retryMs = RETRY_FIRST_MS;
  }

  /** Flushes, then tries the spill once more; what stays there is replayed by the next run. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
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

/** Epoch seconds with milliseconds, as DateTime64 reads them. */
function epochMs(ms: number): string {
  const whole = Math.floor(ms);
  return `${Math.floor(whole / 1000)}.${String(whole % 1000).padStart(3, '0')}`;
}

function statsLine(r: IngestStatsRow): string {
  return [tsvText(r.source), epochMs(r.atMs), tsvText(r.kind), r.packets, r.bytes, r.windows, tsvText(JSON.stringify(r.details))].join('\t') + '\n';
}

function alertLine(e: AlertEvent): string {
  const time = (t: string | null) => (t === null ? '\\N' : epochMs(Date.parse(t)));
  const text = (s: string) => tsvText(s);
  return [
    text(e.source), time(e.at), text(e.id), text(e.rule), e.state, e.repeat ? 1 : 0, e.severity, text(e.summary), text(e.description),
    text(e.task), e.metric, text(e.op), e.threshold, text(e.thresholdText), e.value, text(e.valueText), text(e.keyText),
    text(JSON.stringify(e.key)), text(JSON.stringify(e.labels)), time(e.startsAt), time(e.endsAt), time(e.windowStart),
    time(e.windowEnd), text(e.enrichment ? JSON.stringify(e.enrichment) : ''), text(e.enrichmentNote ?? ''),
  ].join('\t') + '\n';
}

/** JSON Lines, one file per table, appended. */
export class FileWriter implements RowSink {
  readonly kind = 'file';
  private readonly counters = emptyStats();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private append(table: string, objects: Record<string, unknown>[]): void {
    try {
      appendFileSync(join(this.dir, `${table}.jsonl`), objects.map((o) => JSON.stringify(o) + '\n').join(''));
      this.counters.rowsWritten += objects.length;
    } catch (e) {
      this.counters.rowsLost += objects.length;
      this.counters.lastError = `${table}.jsonl: ${(e as Error).message}`;
      throw new Error(`storage: cannot append to ${join(this.dir, `${table}.jsonl`)}: ${(e as Error).message}`);
    }
  }

  addRows(rows: Uint8Array): void {
    for (const block of splitRows(rows)) this.append(block.table, blockToObjects(block));
  }

  addStats(r: IngestStatsRow): void {
    this.append('ingest_stats', [{ source: r.source, at: new Date(r.atMs).toISOString(), kind: r.kind, packets: r.packets, bytes: r.bytes, windows: r.windows, details: r.details }]);
  }

  addAlert(e: AlertEvent): void {
    this.append('alerts', [{ ...e }]);
  }

  /** The records as the core emits them, with the writer's source. */
  addFlows(source: string, records: readonly FlowRecordJson[]): void {
    if (records.length === 0) return;
    checkFlowRecords(records);
    this.append('flows', records.map((r) => ({ source, ...r })));
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}

  stats(): WriterStats {
    return { ...this.counters };
  }
}
