// The open window of an in-process engine, queried with the same SQL as stored windows: its
// rows are loaded into in-memory copies of the tables (database <db>_live), at most once a
// second, whenever a live query comes.
import { readRows, storageRows, type ClosedWindow } from '../backend/index.js';
import type { Store } from '../storage/index.js';
import { findTask, QueryError, type TaskInfo } from '../storage/queries.js';
import { columnsOf, CORE_TABLES } from '../storage/schema.js';

const REFRESH_MS = 1000;

export class LiveWindow {
  readonly database: string;
  private loadedAt = 0;
  private loading: Promise<void> | null = null;
  private created = false;
  private open = false;

  constructor(private readonly store: Store, private readonly peek: () => Promise<ClosedWindow | null>, private readonly source: string) {
    this.database = `${store.database}_live`;
  }

  /** Loads the open window unless it was loaded less than a second ago. */
  refresh(): Promise<void> {
    if (Date.now() - this.loadedAt < REFRESH_MS) return Promise.resolve();
    this.loading ??= this.load().finally(() => (this.loading = null));
    return this.loading;
  }

  private async load(): Promise<void> {
    const c = this.store.client;
    if (!this.created) {
      await c.command({ query: `CREATE DATABASE IF NOT EXISTS ${this.database}` });
      // runs: empty, for the queries' condition on runs (the open window is no run's).
      for (const t of [...CORE_TABLES, 'runs']) {
        await c.command({ query: `CREATE TABLE IF NOT EXISTS ${this.database}.${t} AS ${this.store.database}.${t} ENGINE = Memory` });
      }
      this.created = true;
    }
    const peeked = await this.peek();
    this.open = peeked !== null;
    for (const t of CORE_TABLES) await c.command({ query: `TRUNCATE TABLE ${this.database}.${t}` });
    if (peeked) {
      const rows = peeked.rows ?? readRows(storageRows(peeked.snapshot, this.source, ''));
      for (const block of rows.blocks) {
        await this.store.insert(block.table, columnsOf(block.table), block.data, this.database);
      }
    }
    this.loadedAt = Date.now();
  }

  task(name: string): Promise<TaskInfo> {
    if (!this.open) throw new QueryError('live: the engine has no open window yet (no packet since the last window closed)');
    return findTask(this.store, name, this.database);
  }
}
