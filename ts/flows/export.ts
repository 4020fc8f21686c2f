// Where finished flow records go: the store (batched, retried and spilled by the window
// storage's writer), a NATS subject (JSON arrays), and an HTTP receiver (its own bounded queue
// and retries). `add` never waits: it is called on the packet path's side of the engine.
import type { CoreRows } from '../backend/index.js';
import type { FlowsConfig } from '../config/index.js';
import { emptySinkStats, HttpSink, type FlowSinkStats, type Log } from './http-sink.js';
import type { FlowRecordJson } from './types.js';

export type { FlowSinkStats } from './http-sink.js';

/** One NATS message stays under this (the server's default limit is 1 MiB). */
export const NATS_MAX_MESSAGE = 512 * 1024;

/** Where records are stored: what flows need of a WindowStorage (no import of the store). */
export interface FlowRowStore {
  /** For logs. */
  where: string;
  addRows(rows: CoreRows): void;
}

export interface FlowExportDeps {
  log: Log;
  /** The store sink; null: records are not stored. */
  storage: FlowRowStore | null;
  /** Publishes on core NATS (a connection's publish); null: not published. */
  publish: ((subject: string, bytes: Uint8Array) => void) | null;
  /** The writer's name, for logs. */
  source: string;
  /** Where flows.httpTokenEnv is read; process.env by default. */
  env?: NodeJS.ProcessEnv;
}

/** What finished flows are handed over as: the store takes the core's rows, the others JSON. */
export interface FlowBatch {
  rows: CoreRows | null;
  records: readonly FlowRecordJson[] | null;
}

interface Sink {
  /** Takes records as JSON (else as rows). */
  readonly json: boolean;
  add(batch: FlowBatch): void;
  stats(): FlowSinkStats;
  close(deadline: number): Promise<void>;
}

/** Records as JSON arrays of at most `max` bytes each (a record larger than that goes alone). */
export function jsonArrays(records: readonly FlowRecordJson[], max: number): Buffer[] {
  const out: Buffer[] = [];
  let parts: string[] = [];
  let size = 2;
  const seal = () => {
    if (parts.length) out.push(Buffer.from(`[${parts.join(',')}]`));
    parts = [];
    size = 2;
  };
  for (const r of records) {
    const text = JSON.stringify(r);
    const len = Buffer.byteLength(text);
    if (parts.length && size + 1 + len > max) seal();
    size += len + (parts.length ? 1 : 0);
    parts.push(text);
  }
  seal();
  return out;
}

function recordsOf(batch: FlowBatch, json: boolean): number {
  return json ? (batch.records?.length ?? 0) : (batch.rows?.blocks.reduce((n, b) => n + b.rows, 0) ?? 0) + (batch.rows?.quarantined.length ?? 0);
}

/** A sink whose delivery is one synchronous call per add (the store's writer, NATS publish):
 * nothing waits here, so failures are counted and the first one of a run logged. */
class DirectSink implements Sink {
  private readonly counters: FlowSinkStats;
  private failing = false;

  constructor(
    name: 'store' | 'nats',
    readonly json: boolean,
    private readonly deliver: (batch: FlowBatch) => number,
    private readonly where: string,
    private readonly log: Log,
  ) {
    this.counters = emptySinkStats(name);
  }

  add(batch: FlowBatch): void {
    const n = recordsOf(batch, this.json);
    if (n === 0) return;
    const c = this.counters;
    try {
      c.posts += this.deliver(batch);
      c.sent += n;
      if (this.failing) this.log(`flows: ${c.sink}: ${this.where} takes records again`);
      this.failing = false;
    } catch (e) {
      c.failedAttempts++;
      c.gaveUp += n;
      c.lastError = (e as Error).message;
      if (!this.failing) this.log(`flows: ${c.sink}: cannot hand ${n} records to ${this.where}: ${c.lastError}; further failures are only counted until one succeeds`);
      this.failing = true;
    }
  }

  stats(): FlowSinkStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {}
}

export class FlowExport {
  private closed = false;
  private droppedAfterClose = 0;

  constructor(private readonly sinks: Sink[], private readonly log: Log) {}

  /** Whether a sink takes records as JSON (the engine then hands them over as JSON too). */
  get wantsJson(): boolean {
    return this.sinks.some((s) => s.json);
  }

  /** Hands the records to every sink and returns at once: the store takes the rows, the others
   * the JSON records, which must not be modified after (the HTTP sink holds them until sent). */
  add(rows: CoreRows | null, records: readonly FlowRecordJson[] | null): void {
    const batch = { rows, records };
    if (this.closed) {
      const n = Math.max(recordsOf(batch, true), recordsOf(batch, false));
      if (this.droppedAfterClose === 0) this.log(`flows: ${n} records added after close; dropped and counted`);
      this.droppedAfterClose += n;
      return;
    }
    for (const s of this.sinks) s.add(batch);
  }

  stats(): FlowSinkStats[] {
    return this.sinks.map((s) => {
      const st = s.stats();
      return { ...st, dropped: st.dropped + this.droppedAfterClose };
    });
  }

  /** Delivers what the HTTP sink holds until `deadlineMs` from now, then gives up on the rest
   * (counted as dropped). The storage and the NATS connection are the caller's to close. */
  async close(deadlineMs = 10_000): Promise<FlowSinkStats[]> {
    this.closed = true;
    const deadline = Date.now() + deadlineMs;
    await Promise.all(this.sinks.map((s) => s.close(deadline)));
    return this.stats();
  }
}

/** The sinks `cfg` and `deps` give, or null when flows are off or go nowhere. Throws when
 * flows.httpUrl cannot be POSTed to or flows.httpTokenEnv names an empty variable. */
export function createFlowExport(cfg: FlowsConfig, deps: FlowExportDeps): FlowExport | null {
  if (!cfg.enabled) return null;
  const sinks: Sink[] = [];
  const storage = deps.storage;
  if (storage) sinks.push(new DirectSink('store', false, (b) => (b.rows && storage.addRows(b.rows), 1), storage.where, deps.log));
  const publish = deps.publish;
  if (publish && cfg.subject) {
    const subject = cfg.subject;
    sinks.push(
      new DirectSink('nats', true, (b) => {
        const messages = jsonArrays(b.records ?? [], NATS_MAX_MESSAGE);
        for (const m of messages) publish(subject, m);
        return messages.length;
      }, `subject ${subject}`, deps.log),
    );
  }
  if (cfg.httpUrl) {
    const env = deps.env ?? process.env;
    const token = cfg.httpTokenEnv ? (env[cfg.httpTokenEnv] ?? '') : '';
    if (cfg.httpTokenEnv && !token) throw new Error(`flows.httpTokenEnv: the environment variable ${cfg.httpTokenEnv} is empty or unset`);
    try {
      sinks.push(
        new HttpSink({
          url: cfg.httpUrl, token, batch: cfg.httpBatch, timeoutMs: cfg.httpTimeout * 1000, retries: cfg.httpRetries,
          backoffMs: cfg.httpBackoff * 1000, queue: cfg.httpQueue, log: deps.log,
        }),
      );
    } catch (e) {
      throw new Error(`flows.httpUrl: ${(e as Error).message.replace(/^url: /, '')}`);
    }
  }
  if (sinks.length === 0) return null;
  // The store alone is what analyze always does: nothing to announce.
  if (sinks.length > (storage ? 1 : 0)) deps.log(`flows: ${deps.source}: exporting finished flows to ${sinks.map((s) => s.stats().sink).join(', ')}`);
  return new FlowExport(sinks, deps.log);
}
