// The engine of `netspectra engine` and `probe --engine`: PacketBatch messages in, closed
// windows out. Transport-agnostic: the NATS subscriber and the in-process probe both feed
// `submit`. The work runs in the core (one flow lookup per packet; with two `threads` the
// sketches and the making of windows and records run on a second core); this class only keeps
// the order of requests and says when the engine failed.
import type { GeoTarget } from '../geo/index.js';
import type { ApplyResult, FlowOptions, TakenFlows, TaskOptions } from '../backend/index.js';
import { coreThreads, readClosedWindow, transportBackend, type BatchEngine, type ClosedWindow } from '../backend/index.js';

export interface WindowedEngineOptions {
  seed: string;
  windowSeconds: number;
  top: number;
  tasks: TaskOptions[];
  /** Threads of the core's engine: 1 or 2; 0: 2 on two cores or more. */
  threads: number;
  /** Flow records. */
  flows?: FlowOptions;
  /** Per-second counters kept for this many seconds. */
  seconds?: number;
  /** Closed windows and flow records also as storage rows, written as this source. */
  source?: string;
}

export class WindowedEngine {
  private readonly engine: BatchEngine;
  private failure: Error | null = null;
  /** End of the open window (ms), after the last request. */
  openEnd: number | null = null;
  /** Called with each closed window, in order, before the request that closed it resolves. */
  onWindow: (w: ClosedWindow, requestedAt: number) => void = () => {};
  /** Called once if the engine fails; every request after it is rejected. */
  onFailure: (e: Error) => void = () => {};

  constructor(opts: WindowedEngineOptions) {
    const backend = transportBackend();
    this.engine = backend.createBatchEngine({
      seed: opts.seed, windowSeconds: opts.windowSeconds, top: opts.top, tasks: opts.tasks, flows: opts.flows, seconds: opts.seconds,
      source: opts.source, threads: coreThreads(opts.threads, backend),
    });
  }

  /** Takes the country and AS databases (ts/geo). */
  get geoTarget(): GeoTarget {
    return this.engine;
  }

  /** Bytes of batches submitted and not yet applied (the core applies each as it comes). */
  get queuedBytes(): number {
    return 0;
  }

  /** Applies one message; resolves with the result and the windows it closed. */
  async submit(data: Uint8Array): Promise<{ result?: ApplyResult; windows: ClosedWindow[] }> {
    const requestedAt = Date.now();
    const result = this.run(() => this.engine.apply(data));
    return { result, windows: this.windows(requestedAt) };
  }

  /** Closes the open window (idle, or end of input). */
  async close(): Promise<{ windows: ClosedWindow[] }> {
    const requestedAt = Date.now();
    this.run(() => this.engine.closeWindow());
    return { windows: this.windows(requestedAt) };
  }

  async skipBefore(ms: number): Promise<void> {
    this.run(() => this.engine.skipBefore(ms));
  }

  async stats(): Promise<Record<string, unknown>> {
    return JSON.parse(this.run(() => this.engine.statsJson())) as Record<string, unknown>;
  }

  /** The open window so far; null when nothing is open. Counting goes on: live queries read it. */
  async peek(): Promise<ClosedWindow | null> {
    const w = this.run(() => this.engine.peekWindow());
    return w ? readClosedWindow(w) : null;
  }

  /** Flow records finished since the last call: rows (with a `source`), and JSON when asked;
   * `flush` ends every open flow first. Null without flow records. */
  async takeFlows(flush: boolean, json: boolean): Promise<TakenFlows | null> {
    return this.run(() => this.engine.takeFlows(flush, json));
  }

  /** No batch came for this long (ms): flows idle by then end. */
  async flowsIdle(ms: number): Promise<void> {
    this.run(() => this.engine.flowsIdle(ms));
  }

  /** A page of the open flows (FlowPage JSON); rejects naming a bad parameter. */
  async queryFlows(query: string): Promise<string | null> {
    if (this.failure) throw this.failure;
    return this.engine.queryFlows(query);
  }

  /** Per-second counters (JSON array) of seconds beginning in [from, to) ms. */
  async seconds(fromMs: number, toMs: number): Promise<string | null> {
    return this.run(() => this.engine.secondsJson(fromMs, toMs));
  }

  async stop(): Promise<void> {
    this.failure ??= new Error('the engine is stopped');
  }

  /** Runs a call into the core; after a failure, or when the call fails (the core lost a
   * thread), nothing more runs and the failure is reported once. */
  private run<T>(call: () => T): T {
    if (this.failure) throw this.failure;
    try {
      return call();
    } catch (e) {
      this.fail(e as Error);
      throw this.failure!;
    }
  }

  private windows(requestedAt: number): ClosedWindow[] {
    const windows = this.run(() => this.engine.takeWindows()).map(readClosedWindow);
    const open = this.engine.openWindow();
    this.openEnd = open ? open.endMs : null;
    for (const w of windows) this.onWindow(w, requestedAt);
    return windows;
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = new Error(`engine failed: ${e.message}`);
    this.onFailure(this.failure);
  }
}
