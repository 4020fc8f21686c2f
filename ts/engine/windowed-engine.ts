// The engine of `netspectra engine` and `probe --engine`: PacketBatch messages in, closed
// windows out, with the tasks spread over worker threads. Transport-agnostic: the NATS
// subscriber and the in-process probe both feed `submit`.
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { ApplyResult, ClosedWindow, FlowOptions, TaskOptions } from '../backend/index.js';
import { mergeWindowParts } from './merge.js';
import { InlineShard, WorkerShard, type Shard, type ShardReply, type ShardRequest } from './shard.js';
import { assignTasks } from './tasks.js';

export interface WindowedEngineOptions {
  seed: string;
  windowSeconds: number;
  top: number;
  tasks: TaskOptions[];
  /** Worker threads; 0 runs the tasks in this thread. */
  workers: number;
  /** Flow records (kept by the first shard, which sees every packet as all shards do). */
  flows?: FlowOptions;
  /** Per-second counters kept for this many seconds (first shard). */
  seconds?: number;
}

/** Workers for `engine.workers = 0`: one per core, at most one per task group; none (the tasks
 * run in this thread) on a single core, where a worker would only add copying. */
export function defaultWorkers(tasks: TaskOptions[], cores = availableParallelism()): number {
  return cores > 1 ? assignTasks(tasks, cores).length : 0;
}

interface Pending {
  replies: ShardReply[];
  answered: number;
  bytes: number;
  done: (replies: ShardReply[]) => void;
  failed: (e: Error) => void;
}

export class WindowedEngine {
  private readonly shards: Shard[];
  private readonly order: string[];
  /** Requests in flight, oldest first; every shard answers in this order. */
  private readonly pending: Pending[] = [];
  /** Per shard: the index in `pending` its next reply answers. */
  private readonly next: number[];
  private queued = 0;
  private failure: Error | null = null;
  /** End of the open window (ms), as the shards last reported it. */
  openEnd: number | null = null;
  /** Called with each closed window, in order, before the request that closed it resolves. */
  onWindow: (w: ClosedWindow, requestedAt: number) => void = () => {};
  /** Called once if a worker dies; every request in flight and after it is rejected. */
  onFailure: (e: Error) => void = () => {};

  constructor(opts: WindowedEngineOptions) {
    this.order = opts.tasks.map((t) => t.name);
    const groups = opts.workers > 0 ? assignTasks(opts.tasks, opts.workers) : [opts.tasks];
    const options = (tasks: TaskOptions[], first: boolean) => ({
      seed: opts.seed, windowSeconds: opts.windowSeconds, top: opts.top, tasks,
      ...(first ? { flows: opts.flows, seconds: opts.seconds } : {}),
    });
    this.shards = groups.map((tasks, i) =>
      opts.workers > 0 ? new WorkerShard(options(tasks, i === 0), (e) => this.fail(e)) : new InlineShard(options(tasks, i === 0)),
    );
    this.next = this.shards.map(() => 0);
    this.shards.forEach((s, i) => (s.onReply = (r) => this.reply(i, r)));
  }

  /** The worker threads (for tests that kill one). */
  get threads(): Worker[] {
    return this.shards.flatMap((s) => (s instanceof WorkerShard ? [s.thread] : []));
  }

  get workers(): number {
    return this.shards[0] instanceof WorkerShard ? this.shards.length : 0;
  }

  /** Bytes of batches submitted and not yet applied by every shard. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Applies one message; resolves with the result and the windows it closed. */
  submit(data: Uint8Array): Promise<{ result?: ApplyResult; windows: ClosedWindow[] }> {
    return this.request({ t: 'apply', data }, data.byteLength);
  }

  /** Closes the open window (idle, or end of input). */
  close(): Promise<{ windows: ClosedWindow[] }> {
    return this.request({ t: 'close' }, 0);
  }

  skipBefore(ms: number): Promise<unknown> {
    return this.request({ t: 'skip', ms }, 0);
  }

  async stats(): Promise<Record<string, unknown>> {
    const p = new Promise<ShardReply[]>((resolve, reject) => this.enqueue({ t: 'stats' }, 0, resolve, reject));
    const replies = await p;
    return JSON.parse(replies[0].stats ?? '{}') as Record<string, unknown>;
  }

  /** The open window so far, as one snapshot (NSWS) of every task and its JSON (as a closed
   * window's); null when nothing is open. Counting goes on: live queries read it. */
  async peek(): Promise<ClosedWindow | null> {
    const replies = await this.ask({ t: 'peek' });
    const parts = replies.map((r) => r.peek);
    if (parts.some((p) => !p)) return null;
    return mergeWindowParts(parts.map((p) => p!), this.order);
  }

  /** Flow records finished since the last call (JSON array text); `flush` ends every open flow
   * first. Null without flow records. */
  async takeFlows(flush = false): Promise<string | null> {
    return this.text(await this.ask({ t: 'flows', flush }));
  }

  /** No batch came for this long (ms): flows idle by then end. */
  async flowsIdle(ms: number): Promise<void> {
    await this.ask({ t: 'flowsIdle', ms });
  }

  /** A page of the open flows (FlowPage JSON); rejects naming a bad parameter. */
  async queryFlows(query: string): Promise<string | null> {
    return this.text(await this.ask({ t: 'queryFlows', query }));
  }

  /** Per-second counters (JSON array) of seconds beginning in [from, to) ms. */
  async seconds(fromMs: number, toMs: number): Promise<string | null> {
    return this.text(await this.ask({ t: 'seconds', fromMs, toMs }));
  }

  private ask(req: ShardRequest): Promise<ShardReply[]> {
    return new Promise<ShardReply[]>((resolve, reject) => this.enqueue(req, 0, resolve, reject));
  }

  /** The one answer of the shard that holds the flow cache and the counters. */
  private text(replies: ShardReply[]): string | null {
    const error = replies.find((r) => r.error)?.error;
    if (error) throw new Error(error);
    return replies.find((r) => r.text != null)?.text ?? null;
  }

  async stop(): Promise<void> {
    this.failure ??= new Error('the engine is stopped');
    for (const p of this.pending.splice(0)) p.failed(this.failure);
    await Promise.all(this.shards.map((s) => s.stop()));
  }

  private request(req: ShardRequest, bytes: number): Promise<{ result?: ApplyResult; windows: ClosedWindow[] }> {
    const requestedAt = Date.now();
    return new Promise((resolve, reject) => this.enqueue(req, bytes, (replies) => resolve(this.complete(replies, requestedAt)), reject));
  }

  private enqueue(req: ShardRequest, bytes: number, done: (replies: ShardReply[]) => void, failed: (e: Error) => void): void {
    if (this.failure) return failed(this.failure);
    this.pending.push({ replies: [], answered: 0, bytes, done, failed });
    this.queued += bytes;
    for (const s of this.shards) {
      // Each worker gets its own copy, handed over rather than cloned again (new Uint8Array
      // copies; a Buffer's slice would share the NATS client's read buffer).
      s.send(req.t === 'apply' && s instanceof WorkerShard ? { t: 'apply', data: new Uint8Array(req.data) } : req);
    }
  }

  /** `requestedAt`: when the request that closed the windows was made (window latency). */
  private complete(replies: ShardReply[], requestedAt: number): { result?: ApplyResult; windows: ClosedWindow[] } {
    const windows = replies[0].windows.map((_, w) => mergeWindowParts(replies.map((r) => r.windows[w]), this.order));
    this.openEnd = replies[0].openEnd;
    for (const w of windows) this.onWindow(w, requestedAt);
    return { result: replies[0].result, windows };
  }

  private reply(shard: number, r: ShardReply): void {
    // After a failure the surviving shards still answer requests that were already failed.
    if (this.failure) return;
    const p = this.pending[this.next[shard]++];
    p.replies[shard] = r;
    p.answered++;
    // Requests complete in order: the oldest once every shard has answered it.
    while (this.pending.length && this.pending[0].answered === this.shards.length) {
      const done = this.pending.shift()!;
      for (let s = 0; s < this.next.length; s++) this.next[s]--;
      this.queued -= done.bytes;
      done.done(done.replies);
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = new Error(`engine worker failed: ${e.message}`);
    for (const p of this.pending.splice(0)) p.failed(this.failure);
    this.queued = 0;
    this.onFailure(this.failure);
  }
}
