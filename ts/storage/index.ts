// Storage of closed windows: the writer `storage.kind` asks for, fed with window snapshots.
//   schema   tables and versioned migrations      store    embedded (chdb) or server client
//   rows     the backends' rows buffer, JSON rows  writer   batching, retry, spill; JSON Lines
//   queries  the parameterized queries the API runs
//   flow-rows  flow records (ts/flows) as rows of the flows table and back
import { join } from 'node:path';
import type { AlertEvent } from '../alert/types.js';
import { storageRows } from '../backend/index.js';
import type { StorageConfig } from '../config/index.js';
import type { FlowRecordJson } from '../flows/types.js';
import { COLUMNS, migrate } from './schema.js';
import { connectStore, storagePath, type Store } from './store.js';
import { FileWriter, StoreWriter, type IngestStatsRow, type Log, type RowSink, type WriterStats } from './writer.js';

export { connectStore, defaultSource, openStore, storagePath, type Store } from './store.js';
export type { IngestStatsRow, RowSink, WriterStats } from './writer.js';

export interface WindowStorage {
  readonly source: string;
  readonly sink: RowSink;
  /** Where rows go, for logs. */
  readonly where: string;
  /** A closed window's snapshot (NSWS); returns the rows made of it (for the alert rules). */
  addWindow(snapshot: Uint8Array): Uint8Array;
  addStats(row: Omit<IngestStatsRow, 'source'>): void;
  /** An alert notification, for the history. */
  addAlert(event: AlertEvent): void;
  /** Finished flow records (the core's JSON), batched, retried and spilled like window rows.
   * Throws, taking none, when a record is malformed (the error names it and the field). */
  addFlows(records: readonly FlowRecordJson[]): void;
  /** Writes what is buffered and releases the store; returns the writer's counters. */
  close(): Promise<WriterStats>;
}

export interface WindowStorageOptions {
  source: string;
  /** Rows of this source already stored are deleted first (a re-run analysis replaces its rows). */
  replaceSource?: boolean;
  /** An open store to write to (kept open at close); else one is connected from the config. */
  store?: Store;
  log: Log;
}

/** The writer of `cfg.kind`, or null for `none`. */
export function openWindowStorage(cfg: StorageConfig, opts: WindowStorageOptions): WindowStorage | null {
  if (cfg.kind === 'none') return null;
  let sink: RowSink;
  let where: string;
  let release = async () => {};
  if (cfg.kind === 'file') {
    where = storagePath(cfg);
    sink = new FileWriter(where);
  } else {
    const store = opts.store ?? connectStore(cfg);
    where = store.where;
    if (!opts.store) release = () => store.close();
    sink = new StoreWriter(store, {
      batchRows: cfg.batchRows,
      flushIntervalMs: cfg.flushInterval * 1000,
      retryMaxMs: cfg.retryMax * 1000,
      spillDir: cfg.spillDir || join(storagePath(cfg), 'spill'),
      spillMaxBytes: cfg.spillMax,
      log: opts.log,
      prepare: async () => {
        await migrate(store.client, store.database, cfg.retention);
        if (opts.replaceSource) {
          for (const t of Object.keys(COLUMNS)) {
            await store.client.command({ query: `DELETE FROM ${store.database}.${t} WHERE source = {source:String}`, query_params: { source: opts.source } });
          }
        }
      },
    });
  }
  return {
    source: opts.source,
    sink,
    where,
    addWindow(snapshot) {
      const rows = storageRows(snapshot, opts.source);
      sink.addRows(rows);
      return rows;
    },
    addStats: (row) => sink.addStats({ ...row, source: opts.source }),
    addAlert: (event) => sink.addAlert(event),
    addFlows: (records) => sink.addFlows(opts.source, records),
    async close() {
      await sink.close();
      await release();
      return sink.stats();
    },
  };
}
