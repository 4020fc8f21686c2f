// A share of the engine's tasks, run in a worker thread or, with no workers, in this thread.
// Both see every batch in the same order and answer each request in order.
import { Worker } from 'node:worker_threads';
import type { AnalyzerOptions, ApplyResult, BatchEngine, ClosedWindow } from '../backend/index.js';
import { transportBackend } from '../backend/index.js';

export type ShardRequest =
  | { t: 'apply'; data: Uint8Array }
  | { t: 'close' }
  | { t: 'skip'; ms: number }
  | { t: 'stats' }
  | { t: 'peek' }
  | { t: 'flows'; flush: boolean }
  | { t: 'flowsIdle'; ms: number }
  | { t: 'queryFlows'; query: string }
  | { t: 'seconds'; fromMs: number; toMs: number };

export interface ShardReply {
  result?: ApplyResult;
  windows: ClosedWindow[];
  /** End of the open window (ms), null when no window is open. */
  openEnd: number | null;
  stats?: string;
  /** The open window so far (a `peek` request). */
  peek?: { startMs: number; endMs: number; json: string; snapshot: Uint8Array } | null;
  /** JSON text of a `flows`, `queryFlows` or `seconds` request; null from a shard without
   * flow records or per-second counters. */
  text?: string | null;
  /** A request refused (a bad flow query). */
  error?: string;
}

/** Runs one request against a batch engine; shared by both kinds of shard. */
export function serve(engine: BatchEngine, req: ShardRequest): ShardReply {
  let result: ApplyResult | undefined;
  let stats: string | undefined;
  let peek: ShardReply['peek'];
  let text: string | null | undefined;
  let error: string | undefined;
  switch (req.t) {
    case 'apply':
      result = engine.apply(req.data);
      break;
    case 'close':
      engine.closeWindow();
      break;
    case 'skip':
      engine.skipBefore(req.ms);
      break;
    case 'stats':
      stats = engine.statsJson();
      break;
    case 'peek':
      peek = engine.peekWindow();
      break;
    case 'flows':
      text = engine.takeFlows(req.flush);
      break;
    case 'flowsIdle':
      engine.flowsIdle(req.ms);
      break;
    case 'queryFlows':
      try {
        text = engine.queryFlows(req.query);
      } catch (e) {
        error = (e as Error).message;
      }
      break;
    case 'seconds':
      text = engine.secondsJson(req.fromMs, req.toMs);
      break;
  }
  const open = engine.openWindow();
  return { result, windows: engine.takeWindows(), openEnd: open ? open.endMs : null, stats, peek, text, error };
}

export interface Shard {
  /** Replies arrive through `onReply`, in request order. */
  send(req: ShardRequest): void;
  onReply: (reply: ShardReply) => void;
  stop(): Promise<void>;
}

export class InlineShard implements Shard {
  private readonly engine: BatchEngine;
  onReply: (reply: ShardReply) => void = () => {};

  constructor(options: AnalyzerOptions) {
    this.engine = transportBackend().createBatchEngine(options);
  }

  send(req: ShardRequest): void {
    const reply = serve(this.engine, req);
    queueMicrotask(() => this.onReply(reply));
  }

  async stop(): Promise<void> {}
}

export class WorkerShard implements Shard {
  private readonly worker: Worker;
  onReply: (reply: ShardReply) => void = () => {};
  private failure: Error | null = null;
  private stopping = false;

  constructor(options: AnalyzerOptions, onError: (e: Error) => void) {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: options });
    this.worker.on('message', (m: ShardReply) => this.onReply(m));
    const failed = (e: Error) => {
      this.failure ??= e;
      onError(e);
    };
    this.worker.on('error', failed);
    this.worker.on('exit', (code) => {
      if (!this.stopping) failed(new Error(`a worker thread exited (code ${code})`));
    });
  }

  /** For tests: the thread, to kill it. */
  get thread(): Worker {
    return this.worker;
  }

  /** An `apply` request's bytes are transferred: the caller gives this shard its own copy. */
  send(req: ShardRequest): void {
    if (this.failure) throw this.failure;
    if (req.t === 'apply') this.worker.postMessage(req, [req.data.buffer as ArrayBuffer]);
    else this.worker.postMessage(req);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.worker.terminate();
  }
}
