// Storage of closed windows: the writer `storage.kind` asks for, fed with window snapshots.
//   schema      tables, columns and versioned migrations    store   embedded (chdb) or server
//   row-binary  the rows' encoding                          rows    the core's rows of a window
//   local-rows  rows made here (stats, alerts, flows, quarantine, runs)
//   writer      batching, bad rows quarantined, spill and replay; JSON Lines
//   queries     the parameterized queries the API runs      flow-rows  stored flows as records
import { join } from 'node:path';
import type { AlertEvent } from '../shared/index.js';
import type { CoreRows } from '../backend/index.js';
import type { StorageConfig } from '../config/index.js';
import { grouped } from '../report/units.js';
import { alertRows, runRow, statsRows, type IngestStatsRow, type LocalRows, type RowOrigin } from './local-rows.js';
import { migrate } from './schema.js';
import { connectStore, stagingDir, storagePath, type Store } from './store.js';
import { FileWriter, StoreWriter, type Log, type RowSink, type WriterStats } from './writer.js';

export { connectStore, defaultSource, embeddedWhere, openStore, storagePath, storeIdentity, StoreHeldError, type Store } from './store.js';
export { claimServeLease, HandoffSink, readServeLease } from './handoff.js';
export { spillBlock } from './writer.js';
export { alertScope, analyzedFiles, QueryError } from './queries.js';
export { newRunId, type IngestStatsRow } from './local-rows.js';
export type { RowSink, WriterStats } from './writer.js';

export interface WindowStorage {
  readonly source: string;
  /** The analysis run the rows belong to; empty for an engine. */
  readonly run: string;
  readonly sink: RowSink;
  /** Where rows go, for logs. */
  readonly where: string;
  /** The core's rows (of a closed window, or of finished flows), written as this storage's
   * source and run. */
  addRows(rows: CoreRows): void;
  addStats(row: IngestStatsRow): void;
  /** An alert notification, for the history. */
  addAlert(event: AlertEvent): void;
  /** The run is whole: from the moment its last row is stored, queries read this run of the
   * source instead of an earlier one, whose rows are then dropped. */
  complete(startedMs: number, details: Record<string, unknown>): void;
  /** Writes what is buffered and releases the store; returns the writer's counters. */
  close(): Promise<WriterStats>;
}

/** What a closed storage did, for the log: "stored N rows in WHERE; ...". */
export function storedText(where: string, s: WriterStats): string {
  return `stored ${grouped(s.rowsWritten)} rows in ${where}${s.rowsQuarantined ? `; ${grouped(s.rowsQuarantined)} quarantined` : ''}${s.spillRows ? `; ${grouped(s.spillRows)} wait in the spill` : ''}${s.rowsLost ? `; ${grouped(s.rowsLost)} lost` : ''}`;
}

export interface WindowStorageOptions {
  source: string;
  /** An analysis run id (newRunId); empty for an engine, whose rows are always read. */
  run?: string;
  /** An open store to write to (kept open at close); else one is connected from the config. */
  store?: Store;
  /** Where rows go instead of a store of the config (a running serve that holds it). */
  sink?: RowSink & { where: string };
  log: Log;
}

/** Rows per insert of an analysis run, at least. */
const RUN_BATCH_ROWS = 2_000_000;

/** The writer of rows into `store`, with the batching, retries and spill of the configuration.
 * One per store in a process: writers of one store share its spill. */
export function createStoreWriter(cfg: StorageConfig, store: Store, log: Log, run = false): StoreWriter {
  return new StoreWriter(store, {
    // An analysis run is read once it is whole: its rows wait on disk and go in large inserts
    // (few parts, so little merging for the store), not by time.
    batchRows: run ? Math.max(cfg.batchRows, RUN_BATCH_ROWS) : cfg.batchRows,
    flushIntervalMs: run ? 0 : cfg.flushInterval * 1000,
    retryMaxMs: cfg.retryMax * 1000,
    spillDir: spillDir(cfg),
    spillMaxBytes: cfg.spillMax,
    stagingDir: stagingDir(cfg),
    log,
    prepare: () => migrate(store.client, store.database, cfg.retention).then(() => {}),
  });
}

export function spillDir(cfg: StorageConfig): string {
  return cfg.spillDir || join(storagePath(cfg), 'spill');
}

/** The writer of `cfg.kind`, or null for `none`. */
export function openWindowStorage(cfg: StorageConfig, opts: WindowStorageOptions): WindowStorage | null {
  if (cfg.kind === 'none') return null;
  let sink: RowSink;
  let where: string;
  let release = async () => {};
  if (opts.sink) {
    sink = opts.sink;
    where = opts.sink.where;
  } else if (cfg.kind === 'file') {
    where = storagePath(cfg);
    sink = new FileWriter(where);
  } else {
    const store = opts.store ?? connectStore(cfg);
    where = store.where;
    if (!opts.store) release = () => store.close();
    sink = createStoreWriter(cfg, store, opts.log, Boolean(opts.run));
  }
  const origin: RowOrigin = { source: opts.source, run: opts.run ?? '' };
  const add = (rows: LocalRows) => {
    if (rows.block) sink.addBlock(rows.block);
    sink.addQuarantined(origin, rows.quarantined);
  };
  return {
    source: origin.source,
    run: origin.run,
    sink,
    where,
    addRows(rows) {
      for (const b of rows.blocks) sink.addBlock(b);
      sink.addQuarantined(origin, rows.quarantined);
    },
    addStats: (row) => add(statsRows(origin, [row])),
    addAlert: (event) => add(alertRows(origin, [event])),
    complete(startedMs, details) {
      if (!origin.run) throw new Error('storage: only an analysis run can be completed');
      sink.addBlock(runRow(origin, startedMs, Date.now(), details));
    },
    async close() {
      await sink.close();
      await release();
      return sink.stats();
    },
  };
}
