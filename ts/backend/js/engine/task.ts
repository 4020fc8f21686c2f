// One aggregation task (crates/core/src/engine/task.rs): its configuration and its state for the
// open window.

import type { PacketRecord } from '../record.js';
import { CountMin, validateCountMin, type CountMinConfig } from './count-min.js';
import { ExactTable } from './exact-table.js';
import { MAX_KEY, packKey } from './packed-key.js';
import { SuperSpread, validateSuperSpread, type SuperSpreadConfig } from './super-spread.js';

export type TaskKind =
  /** Exact packets and bytes per key; with `distinct` non-zero, also distinct values of those fields. */
  | { type: 'exact'; distinct: number }
  | { type: 'countmin'; config: CountMinConfig }
  /** Spread of `element` values per key. */
  | { type: 'superspread'; element: number; config: SuperSpreadConfig };

export interface TaskSpec {
  name: string;
  /** KeyFields bits. */
  key: number;
  kind: TaskKind;
}

export type TaskState = ExactTable | CountMin | SuperSpread;

/** A task's spec and the state it held when its window closed. */
export interface TaskSnapshot {
  spec: TaskSpec;
  state: TaskState;
}

/** The fields besides the key: exact distinct fields, superspread element fields, else 0. */
export function secondFields(spec: TaskSpec): number {
  switch (spec.kind.type) {
    case 'exact':
      return spec.kind.distinct;
    case 'superspread':
      return spec.kind.element;
    default:
      return 0;
  }
}

function fresh(spec: TaskSpec, seed: bigint): TaskState {
  const kind = spec.kind;
  switch (kind.type) {
    case 'exact':
      return new ExactTable(spec.key, kind.distinct, seed);
    case 'countmin':
      return new CountMin(kind.config);
    case 'superspread':
      return new SuperSpread(kind.config);
  }
}

export class Task {
  readonly spec: TaskSpec;
  private readonly seed: bigint;
  private state: TaskState;
  /** The packed key, then (superspread) the element right after it. */
  private readonly buf = new Uint8Array(2 * MAX_KEY);

  /** Throws with Task::new's message (naming the task). */
  constructor(spec: TaskSpec, seed: bigint) {
    if (spec.key === 0) throw new Error(`task "${spec.name}": the key needs at least one field`);
    try {
      const kind = spec.kind;
      if (kind.type === 'countmin') validateCountMin(kind.config);
      if (kind.type === 'superspread') {
        if (kind.element === 0) throw new Error('the element needs at least one field');
        validateSuperSpread(kind.config);
      }
      this.state = fresh(spec, seed);
    } catch (e) {
      throw new Error(`task "${spec.name}": ${(e as Error).message}`);
    }
    this.spec = spec;
    this.seed = seed;
  }

  add(r: PacketRecord): void {
    const s = this.state;
    if (s instanceof ExactTable) {
      s.add(r);
    } else if (s instanceof CountMin) {
      const len = packKey(r, this.spec.key, this.buf, 0);
      s.add(this.buf, 0, len, r.wireLen);
    } else {
      const kind = this.spec.kind;
      if (kind.type !== 'superspread') return;
      const len = packKey(r, this.spec.key, this.buf, 0);
      const elem = packKey(r, kind.element, this.buf, len);
      s.add(this.buf, len, len + elem);
    }
  }

  /** Hands over the window's state and starts an empty one. */
  snapshotAndReset(): TaskSnapshot {
    const state = this.state;
    this.state = fresh(this.spec, this.seed);
    return { spec: this.spec, state };
  }
}
