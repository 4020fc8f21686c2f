// Alert rules checked against the tasks they read, once at start: every problem names the rule
// and the field, and nothing a user writes is ever evaluated as code.
import { keyFieldName, type AlertRuleConfig, type KeyField, type NetspectraConfig, type TaskConfig } from '../config/index.js';
import { ipProtoOf } from '../shared/index.js';
import { METRIC_DIMENSION, parseQuantity, type Dimension } from './quantity.js';

export interface CompiledRule {
  readonly cfg: AlertRuleConfig;
  readonly threshold: number;
  readonly dim: Dimension;
  /** The task read; undefined for window metrics. */
  readonly task?: TaskConfig;
  /** Fields of the alert key: the group-by fields, the task key, or none (a total). */
  readonly keyFields: KeyField[];
  /** protocol_share: the protocol number. */
  readonly protocol?: number;
}

/** Metrics each kind of source offers. */
const METRICS_OF = {
  window: ['packets', 'bytes', 'pps', 'bps', 'new_conversations', 'drops'],
  exact: ['packets', 'bytes', 'pps', 'bps', 'flows', 'distinct', 'protocol_share'],
  countmin: ['packets', 'bytes', 'pps', 'bps'],
  superspread: ['spread'],
} as const;

/** Every problem of a configuration's alert rules (a check for loadConfig). */
export const rulesProblems = (cfg: NetspectraConfig): string[] => compileRules(cfg).problems;

/** The rules of a configuration, and every problem found in them. */
export function compileRules(cfg: NetspectraConfig): { rules: CompiledRule[]; problems: string[] } {
  const problems: string[] = [];
  const rules: CompiledRule[] = [];
  const names = new Set<string>();
  const notifiers = new Set<string>();
  cfg.alerts.notifiers.forEach((n, i) => {
    if (notifiers.has(n.name)) problems.push(`alerts.notifiers[${i}].name: "${n.name}" is used by an earlier notifier`);
    notifiers.add(n.name);
  });
  cfg.alerts.rules.forEach((r, i) => {
    const at = (field: string) => `alerts.rules[${i}] (${r.name || 'unnamed'}).${field}`;
    const before = problems.length;
    if (!r.name) problems.push(`${at('name')}: required`);
    else if (names.has(r.name)) problems.push(`${at('name')}: "${r.name}" is used by an earlier rule`);
    names.add(r.name);
    const task = r.task ? cfg.tasks.find((t) => t.name === r.task) : undefined;
    if (r.task && !task) {
      problems.push(`${at('task')}: no task "${r.task}" (tasks: ${cfg.tasks.map((t) => t.name).join(', ') || 'none'})`);
    }
    const kind = r.task ? task?.type : 'window';
    if (kind && !(METRICS_OF[kind] as readonly string[]).includes(r.metric)) {
      problems.push(`${at('metric')}: ${r.metric} is not a metric of ${kind === 'window' ? 'the window (without a task)' : `a ${kind} task`}; choose ${METRICS_OF[kind].join(', ')}`);
    }
    let keyFields: KeyField[] = [];
    if (task && r.per === 'key') {
      const taskFields = task.key.map(keyFieldName);
      const outside = r.groupBy.filter((f) => !taskFields.includes(f));
      if (outside.length) problems.push(`${at('groupBy')}: ${outside.join(', ')} not in the key of task "${task.name}" (${task.key.join(', ')})`);
      keyFields = r.groupBy.length ? r.groupBy : taskFields;
      if (r.groupBy.length && r.groupBy.length < task.key.length && (r.metric === 'distinct' || r.metric === 'spread')) {
        problems.push(`${at('groupBy')}: ${r.metric} values of different keys do not add up; group by the whole key`);
      }
      if (r.metric === 'flows' && keyFields.length >= task.key.length) {
        problems.push(`${at('groupBy')}: flows per key is always 1; group by part of the key (keys per group) or use per: total`);
      }
      if (r.metric === 'protocol_share') problems.push(`${at('per')}: protocol_share is a share of the whole window: use per: total`);
    } else if (r.groupBy.length) {
      problems.push(`${at('groupBy')}: only for per: key rules on a task`);
    }
    if (task && r.per === 'total' && (r.metric === 'distinct' || r.metric === 'spread')) {
      problems.push(`${at('per')}: ${r.metric} is per key: use per: key`);
    }
    if (r.metric === 'distinct' && task?.type === 'exact' && task.distinct.length === 0) {
      problems.push(`${at('metric')}: task "${task.name}" counts no distinct fields (set its distinct list)`);
    }
    let protocol: number | undefined;
    if (r.metric === 'protocol_share') {
      if (task && !task.key.includes('Protocol')) problems.push(`${at('task')}: protocol_share needs Protocol in the task key (task "${task.name}" has ${task.key.join(', ')})`);
      if (!r.protocol) problems.push(`${at('protocol')}: required for protocol_share (tcp, udp, icmp, ... or a number)`);
      else if ((protocol = ipProtoOf(r.protocol)) === undefined) problems.push(`${at('protocol')}: unknown protocol "${r.protocol}"`);
    } else if (r.protocol) {
      problems.push(`${at('protocol')}: only for protocol_share`);
    }
    const dim = METRIC_DIMENSION[r.metric];
    let threshold = 0;
    try {
      threshold = parseQuantity(r.threshold, dim);
    } catch (e) {
      problems.push(`${at('threshold')}: ${(e as Error).message} (metric ${r.metric})`);
    }
    for (const n of r.notify) {
      if (!notifiers.has(n)) problems.push(`${at('notify')}: no notifier "${n}" (notifiers: ${[...notifiers].join(', ') || 'none'})`);
    }
    if (problems.length === before) rules.push({ cfg: r, threshold, dim, task, keyFields, protocol });
  });
  return { rules, problems };
}
