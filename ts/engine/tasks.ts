// Which worker runs which task. Every worker sees every packet and runs a share of the tasks,
// so each window is exactly what one engine (and `analyze`) would produce: SuperSpread cannot be
// merged across packet shards, and a conservative Count-Min only approximately.
import type { TaskOptions } from '../backend/index.js';

/** Relative cost per packet (measured: exact ~40 ns, Count-Min ~55 ns, SuperSpread ~100 ns). */
const COST: Record<TaskOptions['type'], number> = { exact: 4, countmin: 5.5, superspread: 10 };

const keyOf = (t: TaskOptions) => t.key.split(',').sort().join(',');

/**
 * Splits the tasks into at most `workers` groups of similar cost. Tasks with the same key stay
 * together, because a window's report puts an exact task's true values beside the sketch
 * estimates of the same key. Within a group, tasks keep their configured order.
 */
export function assignTasks(tasks: TaskOptions[], workers: number): TaskOptions[][] {
  const byKey = new Map<string, TaskOptions[]>();
  for (const t of tasks) byKey.set(keyOf(t), [...(byKey.get(keyOf(t)) ?? []), t]);
  const units = [...byKey.values()].map((ts) => ({ ts, cost: ts.reduce((s, t) => s + COST[t.type], 0) }));
  units.sort((a, b) => b.cost - a.cost);
  const bins = Array.from({ length: Math.max(1, Math.min(workers, units.length)) }, () => ({ ts: [] as TaskOptions[], cost: 0 }));
  for (const u of units) {
    const bin = bins.reduce((min, b) => (b.cost < min.cost ? b : min));
    bin.ts.push(...u.ts);
    bin.cost += u.cost;
  }
  const order = new Map(tasks.map((t, i) => [t.name, i]));
  return bins.map((b) => b.ts.sort((x, y) => order.get(x.name)! - order.get(y.name)!));
}
