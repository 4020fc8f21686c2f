// Alerting beside an engine: closed windows in, notifications out. Evaluation runs off the
// engine's path (the engine never waits for it); each notification is enriched by the model
// when one is configured (for at most `ai.enrichTimeout`, then it goes without), recorded in
// the history and on NATS, and handed to the notifiers, whose queues never block anything.
import { createAlertAnalyzer, type AlertAnalyzer } from '../ai/enrich.js';
import type { NetspectraConfig } from '../config/index.js';
import { Dispatcher, type NotifierStats } from '../notify/index.js';
import { AlertEvaluator } from './evaluator.js';
import { WindowView } from './metrics.js';
import type { ClosedWindow, CoreRows } from '../backend/index.js';
import { compileRules } from './rules.js';
import type { AlertEvent } from '../shared/index.js';

export interface AlertingOptions {
  /** Who raises the alerts (the engine's source name, or analyze:<files>). */
  source: string;
  log: (line: string) => void;
  /** Where the history goes (the window storage's `addAlert`). */
  record?: (event: AlertEvent) => void;
  /** Packets lost so far by capture and transport (cumulative); the rules see each window's share. */
  drops?: () => Promise<number>;
  /** Send notifications to the configured notifiers (an offline analysis only records them). */
  notify: boolean;
  /** The model for enrichment; by default the one `ai` configures. */
  analyzer?: AlertAnalyzer | null;
  /** Called once a notifier is done with a notification (sent, or given up). */
  settled?: (event: AlertEvent) => void;
}

export interface AlertingStats {
  windows: number;
  events: number;
  enriched: number;
  enrichmentFailures: number;
  evaluationErrors: number;
  suppressedKeys: Record<string, number>;
  notifiers: NotifierStats[];
}

export class Alerting {
  readonly evaluator: AlertEvaluator;
  private readonly dispatcher: Dispatcher | null;
  private readonly analyzer: AlertAnalyzer | null;
  private evaluation: Promise<void> = Promise.resolve();
  /** Per alert id, its last notification in flight: an alert's notifications leave in order. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly listeners = new Set<(e: AlertEvent) => void>();
  private lastDrops = 0;
  private readonly counters = { windows: 0, events: 0, enriched: 0, enrichmentFailures: 0, evaluationErrors: 0 };
  /** Publishes each notification (on NATS, once the engine is connected). */
  publish: ((event: AlertEvent) => void) | null = null;
  /** Packets lost so far by capture and transport (cumulative); the rules see each window's
   * share. Set by the engine that knows them. */
  drops: (() => Promise<number>) | null = null;

  /** Alerting for a configuration; null when it has no rules. */
  static create(cfg: NetspectraConfig, opts: AlertingOptions): Alerting | null {
    return cfg.alerts.rules.length ? new Alerting(cfg, opts) : null;
  }

  private constructor(private readonly cfg: NetspectraConfig, private readonly opts: AlertingOptions) {
    const { rules, problems } = compileRules(cfg);
    if (problems.length) throw new Error(`alerts: ${problems.join('; ')}`);
    this.evaluator = new AlertEvaluator(rules, { source: opts.source, maxActive: cfg.alerts.maxActive, log: opts.log });
    this.dispatcher = opts.notify ? new Dispatcher(cfg.alerts.notifiers, { log: opts.log, queue: cfg.alerts.queue, settled: opts.settled }) : null;
    this.analyzer = opts.analyzer === undefined ? createAlertAnalyzer(cfg.ai) : opts.analyzer;
  }

  /** Evaluates a closed window (with its storage rows) after the ones before it; returns at
   * once. */
  addWindow(w: ClosedWindow, rows: CoreRows): void {
    this.queue(async () => {
      const drops = this.drops ?? this.opts.drops;
      const total = drops ? await drops().catch(() => this.lastDrops) : 0;
      const view = WindowView.of(w, Math.max(0, total - this.lastDrops), rows);
      this.lastDrops = total;
      return view;
    });
  }

  /** Evaluates a window already made into a view (a cluster's, merged from its parts) after
   * the ones before it. `beforeDelivery` gets the notifications it causes and runs before any
   * leaves (the cluster's alerter records its state there, so a successor does not send them
   * again). */
  addView(view: WindowView, beforeDelivery?: (events: AlertEvent[]) => Promise<void>): void {
    this.queue(async () => view, beforeDelivery);
  }

  private queue(view: () => Promise<WindowView>, beforeDelivery?: (events: AlertEvent[]) => Promise<void>): void {
    this.evaluation = this.evaluation.then(async () => {
      try {
        const events = this.evaluator.evaluate(await view());
        this.counters.windows++;
        await beforeDelivery?.(events);
        for (const e of events) this.deliver(e);
      } catch (e) {
        if (this.counters.evaluationErrors++ === 0) this.opts.log(`alerts: a window could not be evaluated: ${(e as Error).message}; further failures are only counted`);
      }
    });
  }

  /** Called with every notification once it is enriched and recorded. */
  subscribe(listener: (e: AlertEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): AlertingStats {
    return { ...this.counters, suppressedKeys: this.evaluator.suppressedKeys(), notifiers: this.dispatcher?.stats() ?? [] };
  }

  private deliver(event: AlertEvent): void {
    this.counters.events++;
    const before = this.inFlight.get(event.id) ?? Promise.resolve();
    const done = before.then(async () => {
      if (event.state === 'firing' && this.analyzer) await this.enrich(event);
      this.opts.record?.(event);
      try {
        this.publish?.(event);
      } catch (e) {
        this.opts.log(`alerts: not published: ${(e as Error).message}`);
      }
      for (const l of this.listeners) l(event);
      const rule = this.evaluator.rules.find((r) => r.cfg.name === event.rule);
      this.dispatcher?.dispatch(event, rule?.cfg.notify ?? []);
    });
    this.inFlight.set(event.id, done);
    void done.finally(() => {
      if (this.inFlight.get(event.id) === done) this.inFlight.delete(event.id);
    });
  }

  /** Hands a notification decided earlier (by an alerter that died before it was sent) to the
   * notifiers again. */
  redispatch(event: AlertEvent): void {
    const rule = this.evaluator.rules.find((r) => r.cfg.name === event.rule);
    this.dispatcher?.dispatch(event, rule?.cfg.notify ?? []);
  }

  private async enrich(event: AlertEvent): Promise<void> {
    const seconds = this.cfg.ai.enrichTimeout;
    const signal = AbortSignal.timeout(seconds * 1000);
    // The deadline holds even if the model call ignores its signal.
    const deadline = new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () => reject(new Error(`the model did not answer within ${seconds} s`)), { once: true }),
    );
    try {
      event.enrichment = await Promise.race([this.analyzer!(event, signal), deadline]);
      this.counters.enriched++;
    } catch (e) {
      this.counters.enrichmentFailures++;
      event.enrichmentNote = `AI enrichment unavailable: ${(e as Error).message}; the alert was sent without it`;
    }
  }

  /** Evaluates what is queued, waits for notifications in flight and for the notifiers'
   * queues (at most `drainMs`), then stops the notifiers. */
  async close(drainMs = 10_000): Promise<void> {
    await this.evaluation;
    await Promise.all([...this.inFlight.values()]);
    if (this.dispatcher) {
      const drained = await this.dispatcher.drain(drainMs);
      if (!drained) this.opts.log(`alerts: notifications still queued after ${drainMs / 1000} s are dropped`);
      await this.dispatcher.close();
    }
  }
}
