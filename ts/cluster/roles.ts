// The cluster-wide roles one engine holds at a time, each behind a lease and resuming from its
// progress in the state bucket: the alerter (the alert rules over the cluster's merged
// windows) and a store's writer (every part's rows into one store, once).
import { createHash } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { Alerting } from '../alert/alerting.js';
import type { AlertEvent } from '../shared/index.js';
import type { EvaluatorState } from '../alert/evaluator.js';
import { WindowView } from '../alert/metrics.js';
import type { NetspectraConfig } from '../config/index.js';
import type { WindowStorage } from '../storage/index.js';
import { StateRecord } from './buckets.js';
import { grouped } from '../report/units.js';
import { readParts, WindowMerger } from './parts.js';
import type { Follower } from './follow.js';

export interface RoleContext {
  cfg: NetspectraConfig;
  js: JetStreamClient;
  state: KV;
  engineId: string;
  log: (line: string) => void;
  /** The role's progress was written by another engine since this one read it. */
  fenced: () => void;
}

/** An outbox entry: the same key for the same notification whichever alerter decided it. */
const noticeKey = (e: AlertEvent) => `${e.id}\t${e.state}\t${e.at}`;

interface AlerterProgress {
  /** Windows-stream sequence to read from: the first part of a window not yet evaluated. */
  seq: number;
  /** End of the last window evaluated (ms). */
  evaluatedThroughMs: number;
  evaluator: EvaluatorState;
  /** Notifications decided and not yet done by a notifier: a successor sends them. */
  outbox: AlertEvent[];
  engine: string;
  at: string;
}

export const ALERTER_KEY = 'alerter';

/** How long the alerter waits for a window's missing parts. */
export function mergeWaitMs(cfg: NetspectraConfig): number {
  return (cfg.cluster.mergeWait || 2 * cfg.cluster.leaseTtl + cfg.engine.idleClose) * 1000;
}

/**
 * The alerter. Its state is written before a window's notifications leave, with them in an
 * outbox, and written again once a notifier is done with them: a successor sends what is still
 * in the outbox, so a notification is lost neither when the alerter dies before sending it nor
 * (except in the instant between a notifier's answer and that write) sent twice.
 */
export class ClusterAlerter {
  readonly stats = { windows: 0, windowsWithPartsMissing: 0, resent: 0 };
  readonly alerting: Alerting;
  private reader: Follower | null = null;
  private merger: WindowMerger | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly outbox = new Map<string, AlertEvent>();
  private readonly progress: StateRecord<AlerterProgress>;

  constructor(private readonly ctx: RoleContext, record: ((e: AlertEvent) => void) | undefined) {
    const { cfg, log } = ctx;
    this.progress = new StateRecord(ctx.state, ALERTER_KEY, () => {
      log('cluster: another engine wrote the alerter state: it is the alerter now; this one stops');
      ctx.fenced();
    });
    this.alerting = Alerting.create(cfg, {
      source: cfg.cluster.name, log, notify: true, record,
      settled: (e) => {
        if (this.outbox.delete(noticeKey(e))) void this.progress.update((last) => last && { ...last, outbox: [...this.outbox.values()] }).catch(() => {});
      },
    })!;
  }

  get lateParts(): number {
    return this.merger?.lateParts ?? 0;
  }

  async start(): Promise<void> {
    const { cfg, js, log } = this.ctx;
    const saved = await this.progress.load();
    if (saved) this.alerting.evaluator.restore(saved.evaluator);
    // What the previous alerter decided and no notifier finished: sent now.
    for (const e of saved?.outbox ?? []) {
      this.outbox.set(noticeKey(e), e);
      this.alerting.redispatch(e);
      this.stats.resent++;
    }
    const merger = new WindowMerger(cfg.probe.partitions, mergeWaitMs(cfg), saved?.evaluatedThroughMs ?? 0);
    this.merger = merger;
    this.reader = readParts(js, cfg, saved?.seq ?? 1, async (p) => {
      merger.add(p);
      this.flush();
    }, log);
    this.timer = setInterval(() => this.flush(), 250);
    this.timer.unref();
    const open = this.alerting.evaluator.active().filter((a) => a.state === 'firing').length;
    log(`cluster: alerter held${saved ? `, resuming after the window that ended ${new Date(saved.evaluatedThroughMs).toISOString()} (${open} firing, from ${saved.engine}${this.stats.resent ? `; ${this.stats.resent} notification(s) it had not sent, sent now` : ''})` : ''}`);
  }

  private flush(): void {
    const merger = this.merger;
    const reader = this.reader;
    if (!merger || !reader || this.progress.fenced) return;
    for (const w of merger.ready()) {
      this.stats.windows++;
      if (w.missing.length) {
        this.stats.windowsWithPartsMissing++;
        this.ctx.log(`cluster: window ${new Date(w.startMs).toISOString()} evaluated without the parts of partition(s) ${w.missing.join(', ')} (none came within ${mergeWaitMs(this.ctx.cfg) / 1000} s)`);
      }
      const view = WindowView.merged(w.startMs, w.endMs, w.parts.map((p) => p.window), 0);
      this.ctx.log(`cluster: alerter: window ${new Date(w.startMs).toISOString()} .. ${new Date(w.endMs).toISOString()}: ${grouped(view.packets)} packets in ${w.parts.length} part(s)`);
      // Where a successor resumes once this window is evaluated, taken now: later parts may
      // already be read.
      const seq = merger.resumeSeq(reader.lastSeq() + 1);
      this.alerting.addView(view, (events) => this.save(seq, w.endMs, events));
    }
  }

  /** Records the state after a window, with its notifications in the outbox, before they leave. */
  private async save(seq: number, evaluatedThroughMs: number, events: AlertEvent[]): Promise<void> {
    const evaluator = this.alerting.evaluator.state();
    await this.progress.update(() => {
      for (const e of events) this.outbox.set(noticeKey(e), e);
      return { seq, evaluatedThroughMs, evaluator, outbox: [...this.outbox.values()], engine: this.ctx.engineId, at: new Date().toISOString() };
    });
  }

  /** Stops reading; notifications already decided are sent (or queued) before it returns. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.reader?.stop();
    this.progress.fence();
    await this.alerting.close();
  }
}

/** The lease key of the writer of one store: engines that share a store share the key. */
export function storeKey(storage: WindowStorage): string {
  return `store.${createHash('sha256').update(storage.where).digest('hex').slice(0, 16)}`;
}

/** Writes the rows of every part to a store, once: its progress (the next part's sequence) is
 * recorded after each part is handed to the store. */
export class PartStore {
  readonly stats = { parts: 0 };
  private reader: Follower | null = null;
  private readonly progress: StateRecord<{ seq: number; engine: string }>;

  constructor(private readonly ctx: RoleContext, private readonly storage: WindowStorage) {
    this.progress = new StateRecord(ctx.state, storeKey(storage), () => {
      ctx.log(`cluster: another engine wrote the progress of ${storage.where}: it writes there now; this one stops`);
      ctx.fenced();
    });
  }

  get lag(): number {
    return this.reader?.pending() ?? 0;
  }

  async start(): Promise<void> {
    const { cfg, js, log } = this.ctx;
    const saved = await this.progress.load();
    this.reader = readParts(js, cfg, saved?.seq ?? 1, async (p) => {
      if (this.progress.fenced) return;
      if (p.window.rows) this.storage.addRows(p.window.rows);
      this.stats.parts++;
      await this.progress.update(() => ({ seq: p.seq + 1, engine: this.ctx.engineId })).catch((e: unknown) => {
        if (!this.progress.fenced) throw e;
      });
    }, log);
    log(`cluster: writing the cluster's windows to ${this.storage.where}${saved ? `, resuming at part ${saved.seq}` : ''}`);
  }

  async stop(): Promise<void> {
    this.progress.fence();
    await this.reader?.stop();
  }
}
