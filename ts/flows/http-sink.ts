// The HTTP sink of finished flows: records wait in a bounded queue (the oldest dropped, counted,
// when it is full) and one worker POSTs them as JSON arrays of up to `batch` records, retrying
// with doubling waits. The caller only queues: a slow or dead receiver delays nothing else.
import { checkPostUrl, postOnce, sendWithRetries, type DeliveryStats } from '../transport/http-post.js';
import type { FlowRecordJson } from './types.js';

export type Log = (line: string) => void;

/** Counters of one sink, in records. `sent`: handed to the store's writer, published, or
 * accepted by the receiver; `gaveUp` includes batches the store's writer refused; `queued`
 * includes the batch in flight. */
export interface FlowSinkStats extends DeliveryStats {
  sink: 'store' | 'nats' | 'http';
  /** Store: batches given to the writer; NATS: messages; HTTP: POSTs answered 2xx. */
  posts: number;
}

export function emptySinkStats(sink: FlowSinkStats['sink']): FlowSinkStats {
  return { sink, sent: 0, posts: 0, failedAttempts: 0, retries: 0, gaveUp: 0, dropped: 0, queued: 0, lastError: null };
}

export interface HttpSinkOptions {
  url: string;
  /** Sent as `Authorization: Bearer <token>` when not empty. */
  token: string;
  batch: number;
  /** Limits of one attempt, the number of retries and the first retry's wait, in milliseconds. */
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  /** Records waiting at most (the batch in flight not counted). */
  queue: number;
  log: Log;
}

/** A FIFO of records kept as the arrays they came in, so adding, dropping the oldest and
 * taking a batch cost what they move, never the queue's length. */
class RecordQueue {
  private chunks: (readonly FlowRecordJson[])[] = [];
  /** Records of chunks[0] already taken or dropped. */
  private head = 0;
  length = 0;

  push(records: readonly FlowRecordJson[]): void {
    this.chunks.push(records);
    this.length += records.length;
  }

  /** Removes up to n of the oldest records and returns them. */
  take(n: number): FlowRecordJson[] {
    const out: FlowRecordJson[] = [];
    while (out.length < n && this.chunks.length) {
      const c = this.chunks[0];
      const end = Math.min(c.length, this.head + n - out.length);
      for (let i = this.head; i < end; i++) out.push(c[i]);
      this.head = end;
      if (end === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.length -= out.length;
    return out;
  }

  /** Drops up to n of the oldest records (none for n <= 0); returns how many. */
  drop(n: number): number {
    let left = Math.max(0, Math.min(n, this.length));
    const dropped = left;
    while (left > 0) {
      const rest = this.chunks[0].length - this.head;
      if (rest <= left) {
        this.chunks.shift();
        this.head = 0;
        left -= rest;
      } else {
        this.head += left;
        left = 0;
      }
    }
    this.length -= dropped;
    return dropped;
  }
}

export class HttpSink {
  /** Takes records as JSON. */
  readonly json = true;
  private readonly queue = new RecordQueue();
  private readonly counters = emptySinkStats('http');
  private readonly closing = new AbortController();
  private readonly headers: Record<string, string>;
  /** The last worker started; `busy` while it runs (set in step with its loop, so a record
   * added as it ends starts a new one). */
  private worker: Promise<void> | null = null;
  private busy = false;
  private inFlight = 0;
  /** A failure was logged and no POST has succeeded since. */
  private failing = false;
  private overflowed = false;
  private closed = false;

  /** Throws when the URL cannot be POSTed to (not a URL, credentials in it). */
  constructor(private readonly opts: HttpSinkOptions) {
    checkPostUrl(opts.url);
    this.headers = { 'content-type': 'application/json', 'user-agent': 'netspectra' };
    if (opts.token) this.headers.authorization = `Bearer ${opts.token}`;
  }

  add(batch: { records: readonly FlowRecordJson[] | null }): void {
    const records = batch.records ?? [];
    if (records.length === 0) return;
    if (this.closed) {
      this.counters.dropped += records.length;
      return;
    }
    // More than the queue holds at all: only the newest of them can stay.
    const fresh = records.length > this.opts.queue ? records.slice(records.length - this.opts.queue) : records;
    const lost = records.length - fresh.length + this.queue.drop(this.queue.length + fresh.length - this.opts.queue);
    if (lost > 0) {
      if (!this.overflowed) this.opts.log(`flows: http: queue full (${this.opts.queue} records waiting for ${this.opts.url}), dropping the oldest; further drops are only counted`);
      this.overflowed = true;
      this.counters.dropped += lost;
    }
    this.queue.push(fresh);
    if (!this.busy) this.worker = this.work();
  }

  private async work(): Promise<void> {
    this.busy = true;
    while (!this.closing.signal.aborted && this.queue.length > 0) {
      const batch = this.queue.take(this.opts.batch);
      this.inFlight = batch.length;
      await this.deliver(batch);
      this.inFlight = 0;
    }
    this.busy = false;
  }

  private async deliver(batch: FlowRecordJson[]): Promise<void> {
    const c = this.counters;
    const body = JSON.stringify(batch);
    const outcome = await sendWithRetries((signal) => postOnce(this.opts.url, body, this.headers, signal), {
      closing: this.closing.signal,
      timeoutMs: this.opts.timeoutMs,
      retries: this.opts.retries,
      backoffMs: this.opts.backoffMs,
      stats: c,
      onFailure: (f) => {
        if (this.failing) return;
        this.failing = true;
        const next = f.permanent ? 'not retried (permanent)' : f.last ? 'giving up' : 'retrying';
        this.opts.log(`flows: http: POST of ${batch.length} records to ${this.opts.url} failed: ${f.error}; ${next}; further failures are only counted until one succeeds`);
      },
    });
    c[outcome] += batch.length;
    if (outcome !== 'sent') return;
    c.posts++;
    if (this.failing) this.opts.log(`flows: http: ${this.opts.url} accepts records again`);
    this.failing = false;
  }

  stats(): FlowSinkStats {
    return { ...this.counters, queued: this.queue.length + this.inFlight };
  }

  /** Stops taking records and delivers what waits until `deadline` (epoch ms); then aborts what
   * is in flight. What was not delivered is counted as dropped and logged. */
  async close(deadline: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const before = this.counters.dropped;
    if (this.busy) {
      let timer!: NodeJS.Timeout;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
      await Promise.race([this.worker, late]);
      clearTimeout(timer);
    }
    this.closing.abort();
    await this.worker;
    this.counters.dropped += this.queue.drop(this.queue.length);
    const lost = this.counters.dropped - before;
    if (lost) this.opts.log(`flows: http: closed with ${lost} records undelivered to ${this.opts.url}`);
  }
}
