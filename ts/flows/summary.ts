// What `analyze` reports of its flow records: counts by end reason and direction, and the
// largest flows. Built as records arrive, so a capture of millions of flows is never held.
import type { FlowRecordJson } from './types.js';

export interface FlowSummary {
  records: number;
  packets: number;
  bytes: number;
  byReason: Record<string, number>;
  byDirection: Record<string, number>;
  /** Largest by bytes (both directions), largest first. */
  top: FlowRecordJson[];
}

export class FlowSummaryBuilder {
  private readonly s: FlowSummary = { records: 0, packets: 0, bytes: 0, byReason: {}, byDirection: {}, top: [] };

  constructor(private readonly topN: number) {}

  add(records: readonly FlowRecordJson[]): void {
    const s = this.s;
    for (const r of records) {
      s.records++;
      s.packets += r.packetsAtoB + r.packetsBtoA;
      s.bytes += flowBytes(r);
      s.byReason[r.reason] = (s.byReason[r.reason] ?? 0) + 1;
      s.byDirection[r.direction] = (s.byDirection[r.direction] ?? 0) + 1;
      if (s.top.length < this.topN || flowBytes(r) > flowBytes(s.top[s.top.length - 1])) {
        s.top.push(r);
        s.top.sort((a, b) => flowBytes(b) - flowBytes(a));
        if (s.top.length > this.topN) s.top.pop();
      }
    }
  }

  summary(): FlowSummary {
    return this.s;
  }
}

export function flowBytes(r: FlowRecordJson): number {
  return r.bytesAtoB + r.bytesBtoA;
}
