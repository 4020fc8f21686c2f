// The store as the API queries it: at most `concurrency` queries at once (the rest wait in a
// bounded queue), each with ClickHouse's own time and memory limits, so one request cannot hold
// the store or the process.
import { Code, ConnectError } from '@connectrpc/connect';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Store } from '../storage/index.js';

export interface QueryLimits {
  /** Queries running at once (api.maxQueries). */
  concurrency: number;
  /** Seconds one query may run (api.queryTimeout; ClickHouse's max_execution_time). */
  timeoutS: number;
  /** Bytes one query may hold (api.queryMemory; ClickHouse's max_memory_usage). */
  memoryBytes: number;
}

/** Queries that may wait for a slot, per slot: beyond, a request is refused at once. */
const QUEUED_PER_SLOT = 16;

/** At most `slots` tasks at once; the others wait, up to `queued` of them and `maxWaitMs` each. */
export class QueryPool {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly slots: number, private readonly queued: number, private readonly maxWaitMs = Infinity) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.slots) {
      if (this.waiting.length >= this.queued) {
        throw new ConnectError(`the server is busy: ${this.running} queries run and ${this.waiting.length} wait (api.maxQueries); try again`, Code.ResourceExhausted);
      }
      await new Promise<void>((resolve, reject) => {
        const start = () => {
          clearTimeout(timer);
          resolve();
        };
        // A request that cannot start within the wait is refused rather than left hanging.
        const timer = Number.isFinite(this.maxWaitMs)
          ? setTimeout(() => {
              this.waiting.splice(this.waiting.indexOf(start), 1);
              reject(new ConnectError(`the server is busy: no query slot within ${this.maxWaitMs / 1000} s (api.maxQueries); try again`, Code.ResourceExhausted));
            }, this.maxWaitMs)
          : undefined;
        this.waiting.push(start);
      });
    } else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter.
      if (next) next();
      else this.running--;
    }
  }

  stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}

/** The store with every query through a pool and under the limits. */
export function limitedStore(store: Store, limits: QueryLimits): Store {
  // A query waits for a slot at most as long as it may run.
  const pool = new QueryPool(limits.concurrency, limits.concurrency * QUEUED_PER_SLOT, limits.timeoutS * 1000);
  const client = Object.create(store.client) as ClickHouseClient;
  const settings = { max_execution_time: limits.timeoutS, max_memory_usage: String(limits.memoryBytes) };
  client.query = ((params: Parameters<ClickHouseClient['query']>[0]) =>
    pool.run(() => store.client.query({ ...params, clickhouse_settings: { ...settings, ...params.clickhouse_settings } }))) as ClickHouseClient['query'];
  return { ...store, client };
}

/** A ClickHouse refusal caused by the query's limits, as the caller's problem. */
export function limitError(e: unknown): ConnectError | null {
  const m = (e as Error)?.message ?? '';
  if (/TIMEOUT_EXCEEDED|Timeout exceeded/.test(m)) return new ConnectError(`the query ran longer than api.queryTimeout: ${m.split('\n')[0]}`, Code.DeadlineExceeded);
  if (/MEMORY_LIMIT_EXCEEDED|Memory limit .* exceeded/i.test(m)) return new ConnectError(`the query needed more memory than api.queryMemory: ${m.split('\n')[0]}`, Code.ResourceExhausted);
  return null;
}
