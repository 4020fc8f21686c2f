// One partition held by this engine: the batches of <subject>.<partition>, read from the packet
// stream in order from the partition's checkpoint, through an engine of its own. When a window
// closes, its part is published to the windows stream and then the checkpoint moves to the batch
// that closed it (with the window's end: the resume point inside that batch), written only if
// nobody else wrote it since. An engine that takes the partition over after a crash resumes
// there and makes the same windows from the same batches: each packet counts once, in its
// window, whichever engine applied it.
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { ClosedWindow, TakenFlows } from '../backend/index.js';
import type { NetspectraConfig, TaskConfig } from '../config/index.js';
import type { TaskOptions } from '../backend/index.js';
import { taskOptions } from '../analyze/analyze-files.js';
import { flowOptions } from '../flows/options.js';
import { WindowedEngine } from '../engine/windowed-engine.js';
import { partitionSubject } from '../transport/nats.js';
import { readJson, writeJson } from './buckets.js';
import { follow, type Follower } from './follow.js';
import { publishPart } from './parts.js';
import { applyGeo, tasksNeedGeo } from '../geo/index.js';

/** Where a partition resumes: the stream sequence of the batch to apply first, and the end of
 * the last window written (its packets in that batch are skipped), 0 after an idle close. */
export interface Checkpoint {
  seq: number;
  skipBeforeMs: number;
  /** Parts this partition published so far: the next one's number (its message id). */
  parts: number;
  /** End of the last window written (ms). */
  windowEndMs: number;
  engine: string;
  at: string;
}

export const checkpointKey = (partition: number) => `checkpoint.${partition}`;

export interface PartitionContext {
  cfg: NetspectraConfig;
  js: JetStreamClient;
  state: KV;
  maxPayload: number;
  engineId: string;
  log: (line: string) => void;
  /** A window this engine wrote (the log, the window file). */
  written: (partition: number, w: ClosedWindow) => void;
  /** Finished flow records (for the NATS and HTTP export; the store gets them in the parts). */
  flows: (taken: TakenFlows | null) => void;
  /** Wants flow records as JSON too. */
  wantsFlowJson: boolean;
  /** The checkpoint was written by another engine since this one read it: it holds the
   * partition now (this one lost its lease without noticing). */
  fenced: (partition: number) => void;
  /** The partition's engine failed: it cannot go on. */
  failed: (e: Error) => void;
  /** Whether NATS is reachable now, and since when (ms). */
  connected: () => boolean;
  connectedSince: () => number;
}

export interface PartitionStats {
  batches: number;
  packets: number;
  windows: number;
  /** Parts the windows stream already held (published before a failover). */
  partsAlreadyPublished: number;
  /** Packets of the first batch after a takeover that were in a window already written. */
  packetsResumedPast: number;
  /** Takeovers whose checkpoint's batch the stream no longer held (nats.maxAge): packets lost. */
  resumesPastExpired: number;
  /** Batches in the stream after the last one applied. */
  lag: number;
  lastWindowEndMs: number;
}

/** A partition sees its address pairs' share of each key's spread, so it reports keys from the
 * threshold divided by the partitions on: a key that reaches the threshold in the cluster is
 * reported by at least one partition, and the merged sum (the pairs of partitions are disjoint)
 * misses at most (partitions - 1) x that share of it. */
export function partitionTask(t: TaskConfig, partitions: number): TaskOptions {
  const o = taskOptions(t);
  return o.type === 'superspread' && o.threshold ? { ...o, threshold: Math.max(1, Math.ceil(o.threshold / partitions)) } : o;
}

export class PartitionUnit {
  readonly stats: PartitionStats = { batches: 0, packets: 0, windows: 0, partsAlreadyPublished: 0, packetsResumedPast: 0, resumesPastExpired: 0, lag: 0, lastWindowEndMs: 0 };
  private engine: WindowedEngine | null = null;
  private revision = 0;
  private parts = 0;
  private lastSeq = 0;
  private lastSubmit = Date.now();
  /** Every step (a batch, an idle close, a commit, the stop) runs after the one before. */
  private chain: Promise<unknown> = Promise.resolve();
  private reader: Follower | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly rejectedKinds = new Map<string, number>();

  constructor(private readonly ctx: PartitionContext, readonly partition: number) {}

  /** Reads the checkpoint and starts consuming after it. */
  async start(): Promise<void> {
    const { cfg, js, state } = this.ctx;
    const saved = await readJson<Checkpoint>(state, checkpointKey(this.partition));
    const from = saved?.value ?? { seq: 1, skipBeforeMs: 0, parts: 0, windowEndMs: 0 };
    this.parts = from.parts;
    this.revision = saved?.revision ?? 0;
    this.stats.lastWindowEndMs = from.windowEndMs;
    const engine = new WindowedEngine({
      seed: cfg.seed, windowSeconds: cfg.window, top: cfg.engine.top, tasks: cfg.tasks.map((t) => partitionTask(t, cfg.probe.partitions)), threads: 1,
      flows: flowOptions(cfg.flows), source: cfg.cluster.name,
    });
    engine.onFailure = (e) => this.ctx.failed(e);
    // Country and AS of flow records and keys, as a single engine has them (read at each take).
    if (cfg.flows.enabled || tasksNeedGeo(cfg.tasks)) applyGeo(engine.geoTarget, cfg.flows, this.ctx.log);
    if (from.skipBeforeMs > 0) await engine.skipBefore(from.skipBeforeMs);
    this.engine = engine;
    this.lastSeq = from.seq - 1;
    let first = true;
    this.reader = follow(js, cfg.nats.stream, partitionSubject(cfg.nats.subject, this.partition), from.seq, async (m) => {
      if (first) {
        first = false;
        if (from.seq > 1 && m.seq > from.seq) this.expired(from.seq);
      }
      await this.step(() => this.apply(m));
    }, this.ctx.log, `cluster: partition ${this.partition}`);
    const idle = setInterval(() => void this.closeIfIdle(), Math.min(250, cfg.engine.idleClose * 500));
    idle.unref();
    this.timers.push(idle);
    const resumed = saved ? `resuming at batch ${from.seq}${from.skipBeforeMs ? ` past the window that ended ${new Date(from.skipBeforeMs).toISOString()}` : ''} (checkpoint of ${saved.value.engine})` : 'from the start of the stream';
    this.ctx.log(`cluster: partition ${this.partition} held, ${resumed}`);
  }

  private expired(from: number): void {
    // Sequences of other partitions interleave: a gap alone says nothing; the stream's first
    // sequence says whether the checkpoint's batch is gone.
    void this.ctx.js.streams.get(this.ctx.cfg.nats.stream).then(async (s) => {
      const info = await s.info(false);
      if (info.state.first_seq > from) {
        this.stats.resumesPastExpired++;
        this.ctx.log(`cluster: partition ${this.partition}: the stream no longer holds batches ${from}..${info.state.first_seq - 1} (nats.maxAge); the packets of this partition among them are lost`);
      }
    }).catch(() => {});
  }

  private step<T>(fn: () => Promise<T>): Promise<T | undefined> {
    const next = this.chain.then(() => (this.stopped || !this.engine ? undefined : fn()));
    this.chain = next.catch(() => {});
    return next;
  }

  private async apply(m: JsMsg): Promise<void> {
    const engine = this.engine!;
    this.lastSubmit = Date.now();
    const { result, windows } = await engine.submit(m.data);
    this.lastSeq = m.seq;
    this.stats.lag = m.info.pending;
    this.stats.batches++;
    if (result && !result.duplicate) {
      this.stats.packets += result.packets - result.skipped;
      this.stats.packetsResumedPast += result.skipped;
    }
    if (result?.errorKind) this.rejected(result.errorKind, `batch ${m.seq} on ${m.subject} skipped: ${result.error}`);
    // The closing batch holds packets of the next window: a successor resumes inside it.
    if (windows.length) await this.commit(windows, m.seq, windows[windows.length - 1].endMs);
  }

  /** A message that is not a batch: logged once per kind, then counted (the core's stats). */
  private rejected(kind: string, text: string): void {
    const n = (this.rejectedKinds.get(kind) ?? 0) + 1;
    this.rejectedKinds.set(kind, n);
    if (n === 1) this.ctx.log(`cluster: partition ${this.partition}: ${text}; further ${kind} messages are only counted`);
  }

  /** Closes the open window once no batch came for engine.idleClose and the clock is past its
   * end. Quiet counts only while batches could come: NATS reachable and the stream being read
   * (a server restart is not the end of the traffic). */
  private async closeIfIdle(): Promise<void> {
    const open = this.engine?.openEnd;
    const now = Date.now();
    const reading = this.reader?.readingSince() ?? 0;
    if (open == null || now < open || !this.ctx.connected() || reading === 0) return;
    if (now - Math.max(this.lastSubmit, reading, this.ctx.connectedSince()) < this.ctx.cfg.engine.idleClose * 1000) return;
    await this.step(async () => {
      if (this.engine!.openEnd == null) return;
      if (this.ctx.cfg.flows.enabled) await this.engine!.flowsIdle(Date.now() - this.lastSubmit);
      const { windows } = await this.engine!.close();
      // Every batch applied is in a written window: a successor starts after the last one.
      if (windows.length) await this.commit(windows, this.lastSeq + 1, 0);
    });
  }

  /** Publishes the windows' parts, then moves the checkpoint past them. While NATS is away it
   * tries again (a part published twice is stored once) until it succeeds or the partition is
   * let go: the windows are never dropped in between. */
  private async commit(windows: ClosedWindow[], seq: number, skipBeforeMs: number): Promise<void> {
    const { cfg, js, maxPayload, engineId } = this.ctx;
    // Flow records finished by now ride in the last part: stored once, like the windows. (At
    // the same batch a successor finishes the same ones.)
    const flows = cfg.flows.enabled ? await this.engine!.takeFlows(false, this.ctx.wantsFlowJson) : null;
    let published = 0;
    let exported = false;
    let checkpoint: Checkpoint | null = null;
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        for (; published < windows.length; published++) {
          const w = windows[published];
          const last = published === windows.length - 1;
          const { duplicate } = await publishPart(js, cfg, maxPayload, engineId, this.partition, this.parts, w, last ? flows?.rows : null);
          this.parts++;
          if (duplicate) this.stats.partsAlreadyPublished++;
          this.stats.windows++;
          this.stats.lastWindowEndMs = w.endMs;
          this.ctx.written(this.partition, w);
        }
        if (flows && !exported) this.ctx.flows(flows);
        exported = true;
        checkpoint ??= { seq, skipBeforeMs, parts: this.parts, windowEndMs: this.stats.lastWindowEndMs, engine: engineId, at: new Date().toISOString() };
        await this.writeCheckpoint(checkpoint);
        return;
      } catch (e) {
        if (attempt === 0) this.ctx.log(`cluster: partition ${this.partition}: a closed window waits to be published: ${(e as Error).message}; trying again`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  private async writeCheckpoint(checkpoint: Checkpoint): Promise<void> {
    const { state } = this.ctx;
    let revision = await writeJson(state, checkpointKey(this.partition), checkpoint, this.revision);
    if (revision === null) {
      // A write whose answer was lost (NATS went away) is ours all the same.
      const now = await readJson<Checkpoint>(state, checkpointKey(this.partition));
      if (now && JSON.stringify(now.value) === JSON.stringify(checkpoint)) revision = now.revision;
    }
    if (revision === null) {
      this.ctx.log(`cluster: partition ${this.partition}: another engine wrote its checkpoint: it holds the partition now; this engine lets go`);
      this.stopped = true;
      this.ctx.fenced(this.partition);
      return;
    }
    this.revision = revision;
  }

  /**
   * Stops reading. The open window is dropped, not closed: whoever holds the partition next
   * makes it whole from the checkpoint (a window closed early here and finished there would be
   * two parts of one window), and flows still open end there.
   */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.stopped = true;
    await this.reader?.stop();
    await this.chain;
    await this.engine?.stop();
    this.engine = null;
  }
}
