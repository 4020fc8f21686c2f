// The engine (crates/core/src/engine/mod.rs): several tasks over one packet stream, in tumbling
// windows aligned to multiples of their length since the epoch. A packet past the window's end
// snapshots and resets every task in one step; older packets stay in the open window and are
// counted as late.

import type { PacketRecord } from '../record.js';
import { WindowSnapshot, type WindowCounters } from './snapshot.js';
import { Task, type TaskSpec } from './task.js';

export interface EngineConfig {
  /** Window length in nanoseconds; 0 makes the whole stream one window. */
  windowNs: bigint;
  tasks: TaskSpec[];
}

const U64_MAX = (1n << 64n) - 1n;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;

function emptyCounters(): WindowCounters {
  return { packets: 0, bytes: 0, timed: 0, firstNs: 0n, lastNs: 0n, late: 0, syn: 0 };
}

export class Engine {
  private readonly windowNs: bigint;
  private readonly tasks: Task[];
  /** Start and (saturated) end of the open window; null before the first timed packet. */
  private start: bigint | null = null;
  private end = 0n;
  private counters = emptyCounters();

  /**
   * Throws with Engine::new's message when a task is invalid (it names the task). `seed` seeds
   * the exact tables' hash, as in the core; no output depends on it.
   */
  constructor(config: EngineConfig, seed: bigint) {
    this.windowNs = config.windowNs;
    this.tasks = config.tasks.map((t) => new Task(t, BigInt.asUintN(64, seed)));
  }

  private open(ts: bigint): void {
    const start = ts - (ts % this.windowNs);
    const end = start + this.windowNs;
    this.start = start;
    this.end = end > U64_MAX ? U64_MAX : end;
  }

  /**
   * Counts one packet; returns the previous window when this packet's time closed it. `hasTs`
   * false (pcapng simple packets) puts the packet in the open window.
   */
  add(r: PacketRecord, hasTs: boolean): WindowSnapshot | null {
    let closed: WindowSnapshot | null = null;
    const ts = r.tsNs;
    if (hasTs && this.windowNs > 0n) {
      if (this.start === null) {
        this.open(ts);
      } else if (ts >= this.end) {
        closed = this.closeWindow();
        this.open(ts);
      } else if (ts < this.start) {
        this.counters.late += 1;
      }
    }
    const c = this.counters;
    if (hasTs) {
      if (c.timed === 0 || c.firstNs > ts) c.firstNs = ts;
      if (ts > c.lastNs) c.lastNs = ts;
      c.timed += 1;
    }
    c.packets += 1;
    c.bytes += r.wireLen;
    if (r.proto === 6 && (r.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN) c.syn += 1;
    const tasks = this.tasks;
    for (let i = 0; i < tasks.length; i++) tasks[i].add(r);
    return closed;
  }

  /** Snapshots every task and resets it: the window is over. Null for an empty window. */
  closeWindow(): WindowSnapshot | null {
    if (this.counters.packets === 0) return null;
    let start: bigint;
    let end: bigint;
    if (this.start !== null && this.windowNs > 0n) {
      start = this.start;
      end = this.end;
    } else {
      start = this.counters.firstNs;
      end = this.counters.lastNs;
    }
    const tasks = this.tasks.map((t) => t.snapshotAndReset());
    const snapshot = new WindowSnapshot(start, end, this.counters, tasks);
    this.counters = emptyCounters();
    return snapshot;
  }
}
