// Alerts are raised on the window path, which must never wait for a mail server or a webhook:
// dispatch() only queues. Each notifier has its own bounded FIFO and one worker, so a dead
// endpoint delays nothing but itself, and a full queue loses its oldest notifications (counted
// and logged) rather than growing without bound while the endpoint is down.
import { severityRank, type AlertEvent } from '../shared/index.js';
import { ConfigError, type NotifierConfig } from '../config/index.js';
import { EmailNotifier } from './email.js';
import { LogNotifier } from './log.js';
import type { Log, Notifier } from './notifier.js';
import { WebhookNotifier } from './webhook.js';
import { sendWithRetries, type DeliveryStats } from '../transport/http-post.js';

export interface DispatcherOptions {
  log: Log;
  /** Notifications waiting per notifier (the one being sent not counted). */
  queue: number;
  /** Where secrets are read from; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** Called once a notifier is done with a notification: sent, or given up. */
  settled?: (event: AlertEvent) => void;
}

/** Counts notifications (attempts for failedAttempts and retries). */
export interface NotifierStats extends DeliveryStats {
  name: string;
  type: NotifierConfig['type'];
}

/** Where notifications go when no notifier is configured. */
const DEFAULT_NOTIFIER: NotifierConfig = { type: 'log', name: 'log', minSeverity: 'info', timeout: 10, retries: 0, backoff: 1 };

interface Lane {
  config: NotifierConfig;
  notifier: Notifier;
  queue: AlertEvent[];
  /** A worker is delivering this lane's queue. */
  busy: boolean;
  stats: NotifierStats;
}

function createNotifier(config: NotifierConfig, env: NodeJS.ProcessEnv, log: Log): Notifier {
  switch (config.type) {
    case 'webhook':
      return new WebhookNotifier(config, env, log);
    case 'email':
      return new EmailNotifier(config, env, log);
    case 'log':
      return new LogNotifier(log);
  }
}

export class Dispatcher {
  private readonly lanes: Lane[] = [];
  private readonly closing = new AbortController();
  private readonly workers = new Set<Promise<void>>();
  private readonly drainWaiters = new Set<() => void>();
  private readonly unknownNames = new Set<string>();

  /** Throws a ConfigError naming every notifier whose secrets or files are missing. */
  constructor(notifiers: NotifierConfig[], private readonly opts: DispatcherOptions) {
    const env = opts.env ?? process.env;
    const problems: string[] = [];
    (notifiers.length ? notifiers : [DEFAULT_NOTIFIER]).forEach((config, i) => {
      try {
        const notifier = createNotifier(config, env, opts.log);
        const stats = { name: config.name, type: config.type, sent: 0, failedAttempts: 0, retries: 0, gaveUp: 0, dropped: 0, queued: 0, lastError: null };
        this.lanes.push({ config, notifier, queue: [], busy: false, stats });
      } catch (e) {
        problems.push(`alerts.notifiers[${i}] (${config.name}): ${(e as Error).message}`);
      }
    });
    if (problems.length) {
      for (const lane of this.lanes) lane.notifier.close();
      throw new ConfigError(problems, 'notifiers');
    }
  }

  /**
   * Queues the event for the rule's notifiers (`names`; empty: all) whose minSeverity it
   * reaches, and returns at once. The filter reads only the names and the severity, which a
   * resolved event shares with its firing one, so the resolution reaches the same notifiers.
   */
  dispatch(event: AlertEvent, names: string[]): void {
    for (const name of names) {
      if (this.unknownNames.has(name) || this.lanes.some((l) => l.config.name === name)) continue;
      this.unknownNames.add(name);
      this.opts.log(`notify: rule ${event.rule} names notifier "${name}", which is not configured; ignored`);
    }
    const rank = severityRank(event.severity);
    for (const lane of this.lanes) {
      if (names.length && !names.includes(lane.config.name)) continue;
      if (rank < severityRank(lane.config.minSeverity)) continue;
      this.enqueue(lane, event);
    }
  }

  private enqueue(lane: Lane, event: AlertEvent): void {
    if (this.closing.signal.aborted) {
      lane.stats.dropped++;
      return;
    }
    if (lane.queue.length >= this.opts.queue) {
      lane.queue.shift();
      const dropped = ++lane.stats.dropped;
      if (dropped === 1 || dropped % 100 === 0) {
        this.opts.log(`notify: ${lane.config.name}: queue full (${this.opts.queue} waiting), dropped the oldest notification; ${dropped} dropped so far`);
      }
    }
    lane.queue.push(event);
    if (!lane.busy) {
      const worker = this.work(lane).finally(() => this.workers.delete(worker));
      this.workers.add(worker);
    }
  }

  private async work(lane: Lane): Promise<void> {
    lane.busy = true;
    let event: AlertEvent | undefined;
    while (!this.closing.signal.aborted && (event = lane.queue.shift())) await this.deliver(lane, event);
    lane.busy = false;
    if (this.idle()) for (const wake of this.drainWaiters) wake();
  }

  private async deliver(lane: Lane, event: AlertEvent): Promise<void> {
    const { config, stats } = lane;
    const outcome = await sendWithRetries((signal) => lane.notifier.send(event, signal), {
      closing: this.closing.signal,
      timeoutMs: config.timeout * 1000,
      retries: config.retries,
      backoffMs: config.backoff * 1000,
      stats,
      onFailure: (f) => {
        const next = f.permanent ? 'permanent failure, giving up' : f.last ? 'giving up' : `retrying in ${f.waitMs / 1000} s`;
        this.opts.log(`notify: ${config.name}: attempt ${f.attempt} of ${config.retries + 1} failed for ${event.rule} ${event.state} ${event.id}: ${f.error}; ${next}`);
      },
    });
    stats[outcome]++;
    this.opts.settled?.(event);
  }

  private idle(): boolean {
    return this.lanes.every((l) => !l.busy && l.queue.length === 0);
  }

  stats(): NotifierStats[] {
    return this.lanes.map((l) => ({ ...l.stats, queued: l.queue.length }));
  }

  /** Resolves true once every queue is empty and nothing is in flight, false after timeoutMs. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.idle()) return true;
    let wake!: () => void;
    let timer!: NodeJS.Timeout;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => this.drainWaiters.add((wake = () => resolve(true)))),
      new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, false))),
    ]);
    clearTimeout(timer);
    this.drainWaiters.delete(wake);
    return drained;
  }

  /** Stops the workers: what is in flight is aborted, and it and what waits are counted as dropped. */
  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    const before = this.lanes.map((l) => l.stats.dropped);
    this.closing.abort();
    await Promise.all(this.workers);
    this.lanes.forEach((lane, i) => {
      lane.stats.dropped += lane.queue.splice(0).length;
      const lost = lane.stats.dropped - before[i];
      if (lost) this.opts.log(`notify: ${lane.config.name}: closed with ${lost} notification(s) undelivered`);
      lane.notifier.close();
    });
    for (const wake of this.drainWaiters) wake();
  }
}
