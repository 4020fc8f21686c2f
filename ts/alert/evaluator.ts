// The alert lifecycle, evaluated at every window close: a condition that holds opens a pending
// alert, which fires after `for` consecutive windows; a firing alert is notified once, again
// only after its cooldown, and once more when the condition stops holding (resolved). Time is
// window time, so a replayed capture raises the same alerts as the live traffic did.
import { createHash } from 'node:crypto';
import type { AlertOp } from '../config/index.js';
import { quantityText } from './quantity.js';
import { keyOfText, ruleValues, WindowView, type KeyValue } from './metrics.js';
import type { CompiledRule } from './rules.js';
import type { AlertEvent } from '../shared/index.js';

export interface ActiveAlert {
  id: string;
  rule: string;
  severity: AlertEvent['severity'];
  state: 'pending' | 'firing';
  key: Record<string, string>;
  keyText: string;
  value: number;
  valueText: string;
  /** Consecutive windows the condition held. */
  windows: number;
  startsAtMs: number;
  lastNotifiedMs: number;
}

const COMPARE: Record<AlertOp, (v: number, t: number) => boolean> = {
  '>': (v, t) => v > t,
  '>=': (v, t) => v >= t,
  '<': (v, t) => v < t,
  '<=': (v, t) => v <= t,
  '==': (v, t) => v === t,
  '!=': (v, t) => v !== t,
};

const iso = (ms: number) => new Date(ms).toISOString();

/** What an evaluator carries from one window to the next: another process resumes from it. */
export interface EvaluatorState {
  open: ActiveAlert[];
  lastEndMs: number | null;
  suppressed: Record<string, number>;
}

export class AlertEvaluator {
  /** Per rule: alert key text -> open alert. */
  private readonly open = new Map<string, Map<string, ActiveAlert>>();
  private readonly suppressed = new Map<string, number>();
  private lastEndMs: number | null = null;

  constructor(
    readonly rules: CompiledRule[],
    private readonly opts: { source: string; maxActive: number; log: (line: string) => void },
  ) {
    for (const r of rules) this.open.set(r.cfg.name, new Map());
  }

  /** Pending and firing alerts, for consoles and the API. */
  active(): ActiveAlert[] {
    return [...this.open.values()].flatMap((m) => [...m.values()]);
  }

  state(): EvaluatorState {
    return { open: this.active().map((a) => ({ ...a })), lastEndMs: this.lastEndMs, suppressed: this.suppressedKeys() };
  }

  /** Takes over where another evaluator of the same rules stopped; alerts of rules no longer
   * configured are dropped. */
  restore(s: EvaluatorState): void {
    for (const m of this.open.values()) m.clear();
    for (const a of s.open) this.open.get(a.rule)?.set(a.keyText, { ...a });
    this.lastEndMs = s.lastEndMs;
    this.suppressed.clear();
    for (const [rule, n] of Object.entries(s.suppressed)) this.suppressed.set(rule, n);
  }

  /** Keys a rule could not open alerts for (beyond `alerts.maxActive`). */
  suppressedKeys(): Record<string, number> {
    return Object.fromEntries(this.suppressed);
  }

  /** Evaluates every rule on a closed window; returns the notifications it causes, in order.
   * A gap since the previous window is evaluated first as a window without traffic. */
  evaluate(w: WindowView): AlertEvent[] {
    const events: AlertEvent[] = [];
    if (this.lastEndMs !== null && w.startMs > this.lastEndMs) events.push(...this.evaluateOne(WindowView.empty(this.lastEndMs, w.startMs)));
    events.push(...this.evaluateOne(w));
    this.lastEndMs = Math.max(this.lastEndMs ?? 0, w.endMs);
    return events;
  }

  private evaluateOne(w: WindowView): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const rule of this.rules) {
      const open = this.open.get(rule.cfg.name)!;
      const holds = COMPARE[rule.cfg.op];
      const values = ruleValues(rule, w);
      const seen = new Set<string>();
      for (const kv of values) {
        seen.add(kv.keyText);
        const a = open.get(kv.keyText);
        if (!holds(kv.value, rule.threshold)) {
          if (a) this.end(rule, open, a, kv.value, w, events);
          continue;
        }
        this.hold(rule, open, a, kv, w, events);
      }
      // A key absent from the window had no traffic: its value is 0.
      for (const a of [...open.values()]) {
        if (seen.has(a.keyText)) continue;
        if (holds(0, rule.threshold)) this.hold(rule, open, a, { keyText: a.keyText, value: 0 }, w, events);
        else this.end(rule, open, a, 0, w, events);
      }
    }
    return events;
  }

  private hold(rule: CompiledRule, open: Map<string, ActiveAlert>, a: ActiveAlert | undefined, kv: KeyValue, w: WindowView, events: AlertEvent[]): void {
    if (!a) {
      if (open.size >= this.opts.maxActive) {
        const n = (this.suppressed.get(rule.cfg.name) ?? 0) + 1;
        this.suppressed.set(rule.cfg.name, n);
        if (n === 1 || n % 1000 === 0) this.opts.log(`alerts: rule ${rule.cfg.name} holds ${open.size} open alerts (alerts.maxActive); ${n} more key(s) not tracked`);
        return;
      }
      const id = createHash('sha256').update(`${this.opts.source}\0${rule.cfg.name}\0${kv.keyText}\0${w.startMs}`).digest('hex').slice(0, 16);
      a = {
        id, rule: rule.cfg.name, severity: rule.cfg.severity, state: 'pending', key: keyOfText(kv.keyText), keyText: kv.keyText,
        value: 0, valueText: '', windows: 0, startsAtMs: w.startMs, lastNotifiedMs: 0,
      };
      open.set(kv.keyText, a);
    }
    a.windows++;
    a.value = kv.value;
    a.valueText = quantityText(kv.value, rule.dim);
    if (a.state === 'pending' && a.windows >= rule.cfg.for) {
      a.state = 'firing';
      a.lastNotifiedMs = w.endMs;
      events.push(this.event(rule, a, w, 'firing', false));
    } else if (a.state === 'firing' && w.endMs - a.lastNotifiedMs >= rule.cfg.cooldown * 1000) {
      a.lastNotifiedMs = w.endMs;
      events.push(this.event(rule, a, w, 'firing', true));
    }
  }

  private end(rule: CompiledRule, open: Map<string, ActiveAlert>, a: ActiveAlert, value: number, w: WindowView, events: AlertEvent[]): void {
    open.delete(a.keyText);
    if (a.state !== 'firing') return; // a pending alert that never fired ends silently
    a.value = value;
    a.valueText = quantityText(value, rule.dim);
    events.push(this.event(rule, a, w, 'resolved', false));
  }

  private event(rule: CompiledRule, a: ActiveAlert, w: WindowView, state: 'firing' | 'resolved', repeat: boolean): AlertEvent {
    const r = rule.cfg;
    const where = a.keyText ? ` ${a.keyText}` : '';
    const what = r.metric === 'protocol_share' ? `${r.protocol} share` : r.metric;
    const threshold = quantityText(rule.threshold, rule.dim);
    const summary = state === 'firing'
      ? `${r.name}:${where} ${what} ${a.valueText} ${r.op} ${threshold}${rule.task ? ` (task ${rule.task.name})` : ''}`
      : `${r.name} resolved:${where} ${what} ${a.valueText}, no longer ${r.op} ${threshold}`;
    return {
      id: a.id,
      rule: r.name,
      state,
      repeat,
      severity: r.severity,
      summary,
      description: r.description,
      task: r.task,
      metric: r.metric,
      op: r.op,
      threshold: rule.threshold,
      thresholdText: r.threshold,
      value: a.value,
      valueText: a.valueText,
      key: a.key,
      keyText: a.keyText,
      labels: { ...r.labels },
      startsAt: iso(a.startsAtMs),
      endsAt: state === 'resolved' ? iso(w.startMs) : null,
      at: iso(w.endMs),
      windowStart: iso(w.startMs),
      windowEnd: iso(w.endMs),
      source: this.opts.source,
    };
  }
}
