// What an alert notification carries: the same object goes to every notifier, the history
// table, the NATS subject, the API (as netspectra.v1.Alert) and the AI enrichment.

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** The model's reading of an alert. */
export interface Enrichment {
  hypothesis: string;
  severityAssessment: string;
  nextSteps: string[];
  model: string;
}

export interface AlertEvent {
  /** Same for every notification of one alert (firing, repeats, resolved). */
  id: string;
  rule: string;
  state: 'firing' | 'resolved';
  /** A firing alert notified again after its cooldown. */
  repeat: boolean;
  severity: Severity;
  /** One line: what crossed what, where. */
  summary: string;
  description: string;
  /** Empty for window metrics (no task). */
  task: string;
  metric: string;
  op: string;
  threshold: number;
  /** The threshold as configured, e.g. "50kpps". */
  thresholdText: string;
  /** The value in the window that raised (or resolved) the alert. */
  value: number;
  valueText: string;
  /** Group-by field -> value; empty for a rule over the whole window. */
  key: Record<string, string>;
  keyText: string;
  labels: Record<string, string>;
  /** ISO 8601 times. `at` is the end of the window the notification is about. */
  startsAt: string;
  endsAt: string | null;
  at: string;
  windowStart: string;
  windowEnd: string;
  /** The engine (or analysis) that raised it. */
  source: string;
  enrichment?: Enrichment;
  /** Why there is no enrichment: not configured, timed out, the model failed. */
  enrichmentNote?: string;
}
