// The values a rule compares, read from a closed window: its counters, and every key of its
// tasks from the core's storage rows (all exact keys, every Count-Min candidate, every spreader
// over its threshold), not only a report's top N.
import type { ClosedWindow, CoreRows } from '../backend/index.js';
import { dscpName, ipProtoName, tcpFlagsText } from '../shared/index.js';
import { KEY_FIELDS, type KeyField } from '../config/index.js';
import { decodeRows } from '../storage/row-binary.js';
import { columnsOf } from '../storage/schema.js';
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

type KeyTable = 'exact_rows' | 'heavy_hitters' | 'spreaders';

/** One closed window as the rules see it: one engine's, or a cluster's merged from the parts
 * of its partitions (whose keys are summed: a partition holds whole address pairs). */
export class WindowView {
  /** Per part, per table, its decoded rows by task. */
  private byTask: Map<string, Map<string, Record<string, unknown>[]>>[] | null = null;
  private readonly parsed = new Map<string, KeyRow[]>();

  constructor(
    readonly startMs: number,
    readonly endMs: number,
    readonly packets: number,
    readonly bytes: number,
    readonly tcpSyn: number,
    /** Packets lost before the engine during the window (capture and transport). */
    readonly drops: number,
    /** The storage rows of the window's parts (one for an engine's own window). */
    private readonly rows: CoreRows[],
  ) {}

  static of(w: ClosedWindow, drops: number, rows: CoreRows): WindowView {
    return new WindowView(w.startMs, w.endMs, w.packets, w.bytes, w.tcpSyn, drops, [rows]);
  }

  /** The parts of one window, merged. */
  static merged(startMs: number, endMs: number, parts: ClosedWindow[], drops: number): WindowView {
    const sum = (f: (w: ClosedWindow) => number) => parts.reduce((s, w) => s + f(w), 0);
    const rows = parts.flatMap((w) => (w.rows ? [w.rows] : []));
    return new WindowView(startMs, endMs, sum((w) => w.packets), sum((w) => w.bytes), sum((w) => w.tcpSyn), drops, rows);
  }

  /** A window in which nothing was seen (the gap between two windows). */
  static empty(startMs: number, endMs: number): WindowView {
    return new WindowView(startMs, endMs, 0, 0, 0, 0, []);
  }

  /** Length in seconds; rates over a zero-length window (one packet) count it as one second. */
  get seconds(): number {
    const s = (this.endMs - this.startMs) / 1000;
    return s > 0 ? s : 1;
  }

  /** The keys of one task in a table, read once per window however many rules read them. */
  keyRows(table: KeyTable, task: string): KeyRow[] {
    this.byTask ??= this.rows.map((part) => {
      const tables = new Map<string, Map<string, Record<string, unknown>[]>>();
      for (const b of part.blocks) {
        const byTask = new Map<string, Record<string, unknown>[]>();
        for (const r of decodeRows(columnsOf(b.table), b.data)) {
          const list = byTask.get(r.task as string);
          if (list) list.push(r);
          else byTask.set(r.task as string, [r]);
        }
        tables.set(b.table, byTask);
      }
      return tables;
    });
    const id = `${table}\t${task}`;
    let rows = this.parsed.get(id);
    if (!rows) this.parsed.set(id, (rows = this.byTask.flatMap((part) => keyRowsOf(table, part.get(table)?.get(task) ?? []))));
    return rows;
  }
}

function keyRowsOf(table: KeyTable, decoded: Record<string, unknown>[]): KeyRow[] {
  const seen = new Set<string>();
  const rows: KeyRow[] = [];
  for (const r of decoded) {
    const family = r.family as number;
    const proto = r.proto as number;
    const fields: Record<KeyField, string> = {
      SrcIP: r.src_ip as string,
      DstIP: r.dst_ip as string,
      SrcPrefix: `${r.src_ip as string}/${r.src_prefix_len as number}`,
      DstPrefix: `${r.dst_ip as string}/${r.dst_prefix_len as number}`,
      SrcPort: String(r.src_port),
      DstPort: String(r.dst_port),
      Protocol: ipProtoName(proto) ?? String(proto),
      ICMPType: String(r.icmp_type),
      ICMPCode: String(r.icmp_code),
      TCPFlags: tcpFlagsText(r.tcp_flags as number) || 'none',
      DSCP: dscpName(r.dscp as number) ?? String(r.dscp),
      VLAN: String(r.vlan),
      SrcAS: String(r.src_as),
      DstAS: String(r.dst_as),
      SrcCountry: (r.src_country as string) || '-',
      DstCountry: (r.dst_country as string) || '-',
      Direction: r.direction as string,
      App: r.app as string,
      // A name has no spaces (keyText splits on them).
      ServerName: r.server_name as string,
      Interface: `${r.probe as string}/${r.interface as string}`,
    };
    // A Count-Min candidate may be listed by packets and by bytes: count it once.
    if (table === 'heavy_hitters') {
      const k = `${family}\t${KEY_FIELDS.map((f) => fields[f]).join('\t')}`;
      if (seen.has(k)) continue;
      seen.add(k);
    }
    rows.push(
      table === 'spreaders'
        ? { fields, proto, packets: 0, bytes: 0, count: Number(r.spread) }
        : { fields, proto, packets: Number(r.packets), bytes: Number(r.bytes), count: Number(r.distinct_count ?? 0) },
    );
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
