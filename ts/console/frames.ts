// A window's JSON (as `analyze` reports a window) and per-second counters, turned into the
// payloads of the console's channels. Pure functions: the hub calls them once per tick and
// sends the same text to every client.
import { extraFieldTexts } from '../report/key-text.js';
import type { KeyColumns } from '../report/types.js';
import { PROTOCOL_GROUPS, type Counts, type ProtocolGroup, type SecondCounters, type TopList, type TopRow, type WindowInfo } from './types.js';

interface RowJson extends KeyColumns {
  packets?: number;
  bytes?: number;
  spread?: number;
}

interface TaskJson {
  name: string;
  type: 'exact' | 'countmin' | 'superspread';
  key: string;
  element?: string;
  threshold?: number;
  errorBoundPackets?: number;
  errorBoundBytes?: number;
  top?: RowJson[];
  heavyHittersByPackets?: RowJson[];
  heavyHittersByBytes?: RowJson[];
  spreaders?: RowJson[];
}

export interface WindowJson {
  packets: number;
  bytes: number;
  tasks: TaskJson[];
}

/** The key's fields of a row, named as the page's columns. */
function fieldsOf(r: RowJson): Record<string, string | number> {
  const f: Record<string, string | number> = {};
  if (r.srcIp !== undefined) f.srcIp = r.srcIp;
  if (r.dstIp !== undefined) f.dstIp = r.dstIp;
  if (r.srcPort !== undefined) f.srcPort = r.srcPort;
  if (r.dstPort !== undefined) f.dstPort = r.dstPort;
  if (r.protoName !== undefined) f.proto = r.protoName;
  // The other key fields under their own names (the page shows them as they come).
  for (const [field, text] of Object.entries(extraFieldTexts(r))) if (text !== undefined) f[field] = text;
  return f;
}

function rowsOf(rows: RowJson[] | undefined, top: number): TopRow[] {
  return (rows ?? []).slice(0, top).map((r) => ({
    key: r.key,
    fields: fieldsOf(r),
    ...(r.packets !== undefined ? { packets: r.packets } : {}),
    ...(r.bytes !== undefined ? { bytes: r.bytes } : {}),
    ...(r.spread !== undefined ? { spread: r.spread } : {}),
  }));
}

export interface TopLists {
  talkers: TopList[];
  heavyHitters: TopList[];
  spreaders: TopList[];
}

/** The top lists of every task: exact tasks are the talkers, Count-Min tasks the heavy hitters
 * (ranked by packets and by bytes), SuperSpread tasks the spreaders. */
export function topLists(w: WindowJson, top: number): TopLists {
  const out: TopLists = { talkers: [], heavyHitters: [], spreaders: [] };
  for (const t of w.tasks) {
    const base = { task: t.name, type: t.type, key: t.key };
    if (t.type === 'exact') {
      out.talkers.push({ ...base, rows: rowsOf(t.top, top) });
    } else if (t.type === 'countmin') {
      const errorBound = { packets: t.errorBoundPackets ?? 0, bytes: t.errorBoundBytes ?? 0 };
      out.heavyHitters.push({ ...base, errorBound, by: 'packets', rows: rowsOf(t.heavyHittersByPackets, top) });
      out.heavyHitters.push({ ...base, errorBound, by: 'bytes', rows: rowsOf(t.heavyHittersByBytes, top) });
    } else if (t.type === 'superspread') {
      out.spreaders.push({ ...base, element: t.element, threshold: t.threshold, rows: rowsOf(t.spreaders, top) });
    }
  }
  return out;
}

export function windowInfo(w: WindowJson, startMs: number, endMs: number, open: boolean): WindowInfo {
  return { startMs, endMs, packets: w.packets, bytes: w.bytes, open };
}

export function emptyProtocols(): Record<ProtocolGroup, Counts> {
  return Object.fromEntries(PROTOCOL_GROUPS.map((p) => [p, { packets: 0, bytes: 0 }])) as Record<ProtocolGroup, Counts>;
}

/** Packets and bytes per protocol over the seconds in [fromMs, toMs). */
export function protocolTotals(seconds: Iterable<SecondCounters>, fromMs: number, toMs: number): Record<ProtocolGroup, Counts> {
  const out = emptyProtocols();
  for (const s of seconds) {
    if (s.t < fromMs || s.t >= toMs) continue;
    for (const p of PROTOCOL_GROUPS) {
      const c = s.protocols[p];
      if (!c) continue;
      out[p].packets += c.packets;
      out[p].bytes += c.bytes;
    }
  }
  return out;
}

/** Seconds summed into buckets of `stepS` seconds (aligned to multiples of the step). */
export function bucketSeconds(seconds: SecondCounters[], stepS: number): SecondCounters[] {
  if (stepS === 1) return seconds;
  const step = stepS * 1000;
  const out: SecondCounters[] = [];
  for (const s of seconds) {
    const t = Math.floor(s.t / step) * step;
    let b = out[out.length - 1];
    if (!b || b.t !== t) {
      b = { t, packets: 0, bytes: 0, tcpSyn: 0, protocols: emptyProtocols() };
      out.push(b);
    }
    b.packets += s.packets;
    b.bytes += s.bytes;
    b.tcpSyn += s.tcpSyn;
    for (const p of PROTOCOL_GROUPS) {
      const c = s.protocols[p];
      if (c) {
        b.protocols[p]!.packets += c.packets;
        b.protocols[p]!.bytes += c.bytes;
      }
    }
  }
  return out;
}
