// Rows handed to the process that holds the embedded store. One process at a time may open
// it: while `serve` (or `analyze --serve`) holds it, it says so in a lease file beside the
// store, and `analyze` sends its rows to that server's /api/v1/ingest instead (api/ingest.ts).
// What the server could not take stays in the spill, for whoever opens the store next.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StorageConfig } from '../config/index.js';
import type { RowOrigin } from './local-rows.js';
import { quarantineRows } from './local-rows.js';
import { rowEnds, type Column } from './row-binary.js';
import type { QuarantinedRow, RowBlock } from './rows.js';
import { columnsOf, isStoredTable } from './schema.js';
import { processAlive, storagePath } from './store.js';
import type { RowSink, WriterStats } from './writer.js';

/** The largest block one request carries. */
export const HANDOFF_LIMIT = 256 * 1024 * 1024;

/** What the server did with a block. */
export interface HandoffResult {
  written: number;
  quarantined: number;
  quarantineReasons: Record<string, number>;
  spilled: number;
  lost: number;
}

/** A block as one body: a line of JSON ({table, columns, rows}), then the RowBinary rows. */
export function writeBlock(block: RowBlock): Buffer {
  const head = JSON.stringify({ table: block.table, columns: columnsOf(block.table), rows: block.rows });
  return Buffer.concat([Buffer.from(head + '\n'), block.data]);
}

/** A body as a block; throws saying what is wrong with it. */
export function readBlock(body: Buffer): RowBlock {
  const nl = body.indexOf(10);
  if (nl < 0) throw new Error('the body has no header line');
  let head: { table?: unknown; columns?: unknown; rows?: unknown };
  try {
    head = JSON.parse(body.toString('utf8', 0, nl)) as typeof head;
  } catch (e) {
    throw new Error(`the header line is not JSON: ${(e as Error).message}`);
  }
  if (typeof head.table !== 'string' || !isStoredTable(head.table)) throw new Error(`table ${JSON.stringify(head.table)} is not a stored table`);
  const columns = columnsOf(head.table);
  if (JSON.stringify(head.columns) !== JSON.stringify(columns)) {
    throw new Error(`the columns of ${head.table} are not this server's (${columns.map(([n]) => n).join(', ')}): is it another version?`);
  }
  const data = body.subarray(nl + 1);
  let rows: number;
  try {
    rows = rowEnds(columns as Column[], data).length;
  } catch (e) {
    throw new Error(`the rows are damaged: ${(e as Error).message}`);
  }
  if (rows !== head.rows) throw new Error(`the header says ${String(head.rows)} rows, the body holds ${rows}`);
  return { table: head.table, rows, data };
}

/** The lease of the server holding a store: where to send rows. */
export interface ServeLease {
  pid: number;
  url: string;
}

function leasePath(cfg: StorageConfig): string {
  return join(storagePath(cfg), 'serve.json');
}

/** Says, beside the store, that this process serves it at `url`; returns the release. */
export function claimServeLease(cfg: StorageConfig, url: string): () => void {
  mkdirSync(storagePath(cfg), { recursive: true });
  writeFileSync(leasePath(cfg), JSON.stringify({ pid: process.pid, url } satisfies ServeLease) + '\n');
  return () => {
    try {
      const lease = JSON.parse(readFileSync(leasePath(cfg), 'utf8')) as ServeLease;
      if (lease.pid === process.pid) rmSync(leasePath(cfg), { force: true });
    } catch {
      // Gone already.
    }
  };
}


/** The server holding the store, when one says so and still runs. */
export function readServeLease(cfg: StorageConfig): ServeLease | null {
  try {
    const lease = JSON.parse(readFileSync(leasePath(cfg), 'utf8')) as ServeLease;
    return Number.isInteger(lease.pid) && typeof lease.url === 'string' && lease.pid !== process.pid && processAlive(lease.pid) ? lease : null;
  } catch {
    return null;
  }
}

function empty(): WriterStats {
  return {
    rowsWritten: 0, inserts: 0, failedInserts: 0, rowsSpilled: 0, rowsReplayed: 0, rowsLost: 0, rowsQuarantined: 0, quarantineReasons: {},
    pendingRows: 0, spillRows: 0, spillBytes: 0, foreignSpillRows: 0, lastError: null,
  };
}

/** Rows sent to a running server. A block it cannot be given (gone, refusing) goes to `fallback`
 * (this store's spill: the server, or the next process to open the store, replays it). */
export class HandoffSink implements RowSink {
  readonly kind = 'handoff';
  readonly where: string;
  private readonly counters = empty();
  private pending: RowBlock[] = [];
  private pendingBytes = 0;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly lease: ServeLease,
    private readonly token: string | null,
    private readonly fallback: (block: RowBlock, why: string) => void,
    private readonly batchBytes = 16 * 1024 * 1024,
  ) {
    this.where = `the store of netspectra serve (pid ${lease.pid}, ${lease.url})`;
  }

  /** Fails unless the server answers and takes this process's token. */
  async check(): Promise<void> {
    let r: Response;
    try {
      r = await fetch(new URL('/api/v1/ingest', this.lease.url), { method: 'POST', headers: this.headers(), body: '' , signal: AbortSignal.timeout(5000) });
    } catch (e) {
      throw new Error(`${this.where} does not answer: ${(e as Error).message}`);
    }
    if (r.status === 401) throw new Error(`${this.where} refused this process's token (set the API token, api.tokens or NETSPECTRA_API_TOKENS, as serve has it)`);
    // An empty body is refused for what it is (no header line): the server is there and takes us.
    if (r.status !== 400 && r.status !== 411) throw new Error(`${this.where} answered ${r.status} to a handoff: ${await r.text()}`);
  }

  private headers(): Record<string, string> {
    return { 'content-type': 'application/octet-stream', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
  }

  addBlock(block: RowBlock): void {
    this.pending.push({ ...block, data: Buffer.from(block.data) });
    this.pendingBytes += block.data.length;
    if (this.pendingBytes >= this.batchBytes) void this.flush();
  }

  addQuarantined(origin: RowOrigin, rows: readonly QuarantinedRow[]): void {
    const block = quarantineRows(origin, Date.now(), rows);
    if (block) this.addBlock(block);
    for (const q of rows) this.counters.quarantineReasons[q.reason] = (this.counters.quarantineReasons[q.reason] ?? 0) + 1;
    this.counters.rowsQuarantined += rows.length;
  }

  flush(): Promise<void> {
    const blocks = this.merge(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.sending = this.sending.then(async () => {
      for (const b of blocks) await this.send(b);
    });
    return this.sending;
  }

  /** Blocks of the same table in a row become one (fewer requests). */
  private merge(blocks: RowBlock[]): RowBlock[] {
    const out: RowBlock[] = [];
    for (const b of blocks) {
      const last = out[out.length - 1];
      if (last && last.table === b.table && last.data.length + b.data.length <= this.batchBytes) {
        out[out.length - 1] = { table: b.table, rows: last.rows + b.rows, data: Buffer.concat([last.data, b.data]) };
      } else out.push(b);
    }
    return out;
  }

  private async send(block: RowBlock): Promise<void> {
    this.counters.inserts++;
    let why: string;
    try {
      const r = await fetch(new URL('/api/v1/ingest', this.lease.url), { method: 'POST', headers: this.headers(), body: new Uint8Array(writeBlock(block)) });
      const text = await r.text();
      if (r.ok) {
        const res = JSON.parse(text) as HandoffResult;
        this.counters.rowsWritten += res.written;
        this.counters.rowsQuarantined += res.quarantined;
        for (const [reason, n] of Object.entries(res.quarantineReasons)) this.counters.quarantineReasons[reason] = (this.counters.quarantineReasons[reason] ?? 0) + n;
        // Spilled by the server: it replays them; for this run they are not stored yet.
        this.counters.spillRows += res.spilled;
        this.counters.rowsLost += res.lost;
        if (res.spilled) this.counters.lastError = `${this.where} spilled them: its store is not taking writes`;
        return;
      }
      why = `${this.where} answered ${r.status}: ${text}`;
    } catch (e) {
      why = `${this.where} did not take them: ${(e as Error).message}`;
    }
    this.counters.failedInserts++;
    this.counters.lastError = why;
    this.fallback(block, why);
    this.counters.rowsSpilled += block.rows;
    this.counters.spillRows += block.rows;
  }

  async close(): Promise<void> {
    await this.flush();
  }

  stats(): WriterStats {
    return { ...this.counters, quarantineReasons: { ...this.counters.quarantineReasons }, pendingRows: this.pending.reduce((n, b) => n + b.rows, 0) };
  }
}
