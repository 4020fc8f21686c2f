// The values a rule compares, read from a closed window's snapshot: the counters from its
// header, and every key of its tasks from the backend's storage rows (all exact keys, every
// Count-Min candidate, every spreader over its threshold), not only a report's top N.
import { storageRows } from '../backend/index.js';
import { ipProtoName } from '../backend/js/names.js';
import type { KeyField } from '../config/index.js';
import { addressText, splitRows } from '../storage/rows.js';
import type { RowTable } from '../storage/schema.js';
import type { CompiledRule } from './rules.js';

export interface KeyValue {
  /** "SrcIP=10.0.0.1 DstPort=80" (field=value, no spaces in values); "" for a total. */
  keyText: string;
  value: number;
}

interface KeyRow {
  fields: Record<KeyField, string>;
  proto: number;
  packets: number;
  bytes: number;
  /** An exact task's distinct count, or a spreader's spread. */
  count: number;
}

/** One closed window as the rules see it. */
export class WindowView {
  /** Per table, its lines by task. */
  private byTask: Map<RowTable, Map<string, string[]>> | null = null;
  private readonly parsed = new Map<string, KeyRow[]>();

  constructor(
    readonly startMs: number,
    readonly endMs: number,
    readonly packets: number,
    readonly bytes: number,
    readonly tcpSyn: number,
    /** Packets lost before the engine during the window (capture and transport). */
    readonly drops: number,
    private readonly snapshot: Uint8Array | null,
    /** The snapshot's storage rows, when the caller made them already (for the store). */
    private readonly rows: Uint8Array | null = null,
  ) {}

  /** NSWS header (crates/core/src/engine/snapshot.rs): magic, u16 version, u64 start, end,
   * packets, bytes, late, first, last, syn. */
  static fromSnapshot(snapshot: Uint8Array, drops = 0, rows: Uint8Array | null = null): WindowView {
    const v = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    if (snapshot.byteLength < 72 || v.getUint32(0, true) !== 0x5357534e || v.getUint16(4, true) !== 2) {
      throw new Error('alerts: not a version 2 window snapshot');
    }
    const u = (i: number) => Number(v.getBigUint64(6 + 8 * i, true));
    return new WindowView(u(0) / 1e6, u(1) / 1e6, u(2), u(3), u(7), drops, snapshot, rows);
  }

  /** A window in which nothing was seen (the gap between two windows). */
  static empty(startMs: number, endMs: number): WindowView {
    return new WindowView(startMs, endMs, 0, 0, 0, 0, null);
  }

  /** Length in seconds; rates over a zero-length window (one packet) count it as one second. */
  get seconds(): number {
    const s = (this.endMs - this.startMs) / 1000;
    return s > 0 ? s : 1;
  }

  /** The keys of one task in a table, parsed once per window however many rules read them. */
  keyRows(table: 'exact_rows' | 'heavy_hitters' | 'spreaders', task: string): KeyRow[] {
    if (!this.byTask) {
      this.byTask = new Map();
      const rows = this.rows ?? (this.snapshot && storageRows(this.snapshot, ''));
      if (rows) for (const b of splitRows(rows)) this.byTask.set(b.table, tasksOf(b.text.toString('utf8')));
    }
    const id = `${table}\t${task}`;
    let rows = this.parsed.get(id);
    if (!rows) this.parsed.set(id, (rows = parseKeyRows(table, this.byTask.get(table)?.get(task) ?? [])));
    return rows;
  }
}

/** Lines of a table by task (the fourth column), unsplit. */
function tasksOf(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    let at = -1;
    for (let i = 0; i < 3; i++) at = line.indexOf('\t', at + 1);
    const task = line.slice(at + 1, line.indexOf('\t', at + 1));
    const lines = out.get(task);
    if (lines) lines.push(line);
    else out.set(task, [line]);
  }
  return out;
}

function parseKeyRows(table: 'exact_rows' | 'heavy_hitters' | 'spreaders', lines: string[]): KeyRow[] {
  // Columns (storage/schema.ts): source, start, end, task, [rank,] family, src, dst, sport, dport, proto, values...
  const at = table === 'heavy_hitters' ? 5 : 4;
  const seen = new Set<string>();
  const rows: KeyRow[] = [];
  for (const line of lines) {
    const c = line.split('\t');
    // A Count-Min candidate may be listed by packets and by bytes: count it once.
    if (table === 'heavy_hitters') {
      const k = c.slice(at, at + 6).join('\t');
      if (seen.has(k)) continue;
      seen.add(k);
    }
    const family = Number(c[at]);
    const proto = Number(c[at + 5]);
    const fields: Record<KeyField, string> = {
      SrcIP: addressText(c[at + 1], family),
      DstIP: addressText(c[at + 2], family),
      SrcPort: c[at + 3],
      DstPort: c[at + 4],
      Protocol: ipProtoName(proto) ?? String(proto),
    };
    const v = c.slice(at + 6).map(Number);
    rows.push(table === 'spreaders' ? { fields, proto, packets: 0, bytes: 0, count: v[0] } : { fields, proto, packets: v[0], bytes: v[1], count: v[2] ?? 0 });
  }
  return rows;
}

/** The fields of a key text. */
export function keyOfText(keyText: string): Record<string, string> {
  return Object.fromEntries(keyText.split(' ').filter(Boolean).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
}

/** The value of a rule per alert key in a window ("" is the key of a total). */
export function ruleValues(rule: CompiledRule, w: WindowView): KeyValue[] {
  const { cfg, task } = rule;
  const perSecond = (n: number) => n / w.seconds;
  // Every task sees every packet: a Count-Min task's total is the window's (its candidates
  // alone would undercount).
  if (!task || (task.type === 'countmin' && cfg.per === 'total')) {
    const value = {
      packets: w.packets,
      bytes: w.bytes,
      pps: perSecond(w.packets),
      bps: perSecond(w.bytes * 8),
      new_conversations: perSecond(w.tcpSyn),
      drops: w.drops,
    }[cfg.metric as 'packets'];
    return [{ keyText: '', value: value ?? 0 }];
  }
  const table = task.type === 'exact' ? 'exact_rows' : task.type === 'countmin' ? 'heavy_hitters' : 'spreaders';
  const rows = w.keyRows(table, task.name);
  const measure = (r: KeyRow): number => {
    switch (cfg.metric) {
      case 'packets':
      case 'pps':
        return r.packets;
      case 'bytes':
        return r.bytes;
      case 'bps':
        return r.bytes * 8;
      case 'distinct':
      case 'spread':
        return r.count;
      default:
        return 1; // flows: one per key
    }
  };
  const rate = cfg.metric === 'pps' || cfg.metric === 'bps';
  if (cfg.per === 'total') {
    if (cfg.metric === 'protocol_share') {
      const all = rows.reduce((s, r) => s + r.packets, 0);
      const matching = rows.reduce((s, r) => s + (r.proto === rule.protocol ? r.packets : 0), 0);
      return [{ keyText: '', value: all > 0 ? matching / all : 0 }];
    }
    const sum = rows.reduce((s, r) => s + measure(r), 0);
    return [{ keyText: '', value: rate ? perSecond(sum) : sum }];
  }
  const groups = new Map<string, KeyValue>();
  for (const r of rows) {
    const keyText = rule.keyFields.map((f) => `${f}=${r.fields[f]}`).join(' ');
    const g = groups.get(keyText);
    if (g) g.value += measure(r);
    else groups.set(keyText, { keyText, value: measure(r) });
  }
  const out = [...groups.values()];
  if (rate) for (const g of out) g.value = perSecond(g.value);
  return out;
}
