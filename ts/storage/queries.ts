// The queries the API runs. Every value is a query parameter; the only text put into SQL is
// the database name (checked by the config schema) and column names from the lists below.
import { isIP } from 'node:net';
import { dscpName, ipProtoName, ipProtoNames, ipProtoOf, tcpFlagsText } from '../shared/index.js';
import { KEY_FIELDS, keyFieldName, type KeyField } from '../config/index.js';
import type { AlertEvent } from '../shared/index.js';
import { FLOW_DIRECTIONS, FLOW_SORTS, type FlowRecordJson, type FlowSort } from '../flows/types.js';
import type { Store } from './store.js';
import { addressText } from './row-binary.js';
import { FLOW_SELECT, flowRecordOf, type FlowRow } from './flow-rows.js';
import { visibleRuns } from './schema.js';

export class QueryError extends Error {}

const FIELD_COLUMN: Record<KeyField, string> = {
  SrcIP: 'src_ip', DstIP: 'dst_ip', SrcPrefix: 'src_ip', DstPrefix: 'dst_ip', SrcAS: 'src_as', DstAS: 'dst_as',
  SrcCountry: 'src_country', DstCountry: 'dst_country', App: 'app', ServerName: 'server_name', SrcPort: 'src_port',
  DstPort: 'dst_port', Protocol: 'proto', ICMPType: 'icmp_type', ICMPCode: 'icmp_code', TCPFlags: 'tcp_flags', DSCP: 'dscp',
  VLAN: 'vlan', Direction: 'direction', Interface: 'interface',
};


export interface Range {
  /** Nanoseconds since the epoch, as decimal text (beyond 2^53). */
  startNs?: bigint;
  endNs?: bigint;
}

export interface Filter {
  ip?: string;
  srcIp?: string;
  dstIp?: string;
  port?: number;
  srcPort?: number;
  dstPort?: number;
  protocol?: string;
  source?: string;
}

export interface Key {
  /** The key fields the row holds (the fields grouped by, or the task's key). */
  fields: KeyField[];
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  protocolName: string;
  /** "10.1.2.0/24" when the key holds the prefix, else "". */
  srcPrefix: string;
  dstPrefix: string;
  icmpType: number;
  icmpCode: number;
  tcpFlags: number;
  /** "SYN,ACK" when the key holds TCP flags, else "". */
  tcpFlagsText: string;
  dscp: number;
  /** "EF", "AF41", ... when the key holds a standard DSCP, else "". */
  dscpName: string;
  vlan: number;
  /** AS numbers (0: unknown) and country codes ("-": unknown) when the key holds them, else 0 and "". */
  srcAs: number;
  dstAs: number;
  srcCountry: string;
  dstCountry: string;
  /** inbound, outbound, local or external when the key holds it, else "". */
  direction: string;
  /** The flow's application and server name ("-": none recognised) when the key holds them, else "". */
  app: string;
  serverName: string;
  /** The probe and interface the packets were captured on, when the key holds them, else "". */
  probe: string;
  interface: string;
}

export interface TaskInfo {
  name: string;
  type: 'exact' | 'countmin' | 'superspread';
  /** The key's fields by name; `keyText` as configured (prefixes with their lengths). */
  key: KeyField[];
  keyText: string;
  second: string;
  firstWindowNs: bigint;
  lastWindowEndNs: bigint;
  windows: number;
  sources: string[];
}

/** A query under construction: conditions and their parameters. */
class Where {
  readonly parts: string[] = [];
  readonly params: Record<string, unknown> = {};
  private n = 0;

  /** With `db`, only rows queries should see: the current run of each source (schema.ts). */
  constructor(db?: string) {
    if (db) this.parts.push(visibleRuns(db));
  }

  param(value: unknown, type: string): string {
    const name = `p${this.n++}`;
    this.params[name] = value;
    return `{${name}:${type}}`;
  }

  add(sql: string): void {
    this.parts.push(sql);
  }

  get sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

/** An address or CIDR as (family, IPv6 network, prefix) over the stored IPv6 form. */
function parseCidr(text: string, what: string): { family: number; network: string; prefix: number } {
  const [addr, bits, extra] = text.trim().split('/');
  const v = isIP(addr);
  if (!v || extra !== undefined) throw new QueryError(`${what}: "${text}" is not an IP address or CIDR`);
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) throw new QueryError(`${what}: prefix length in "${text}" must be 0..${max}`);
  return v === 4 ? { family: 4, network: `::ffff:${addr}`, prefix: 96 + prefix } : { family: 6, network: addr, prefix };
}

/** An address or CIDR checked as the queries check it; refused naming `what`. */
export function checkedCidr(text: string, what: string): string {
  parseCidr(text, what);
  return text.trim();
}

function ipCondition(w: Where, column: string, text: string, what: string): string {
  const c = parseCidr(text, what);
  const net = w.param(c.network, 'String');
  const prefix = w.param(c.prefix, 'UInt8');
  return `(family = ${w.param(c.family, 'UInt8')} AND ${column} BETWEEN IPv6CIDRToRange(toIPv6(${net}), ${prefix}).1 AND IPv6CIDRToRange(toIPv6(${net}), ${prefix}).2)`;
}

/** A protocol name or number as people write it; refused naming the parameter (`what`). */
export function protocolNumber(text: string, what = 'protocol'): number {
  const n = ipProtoOf(text);
  if (n === undefined) throw new QueryError(`${what}: "${text}" is not a protocol name (${ipProtoNames().join(', ')}) or number 0..255`);
  return n;
}

function port(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw new QueryError(`${what}: ${v} is not a port (0..65535)`);
  return v;
}

function addFilter(w: Where, f: Filter | undefined, key: KeyField[]): void {
  if (!f) return;
  const need = (field: KeyField, what: string) => {
    if (!key.includes(field)) throw new QueryError(`${what}: the task's key (${key.join(', ')}) has no ${field}`);
  };
  // An address filter on a prefix key matches the prefixes whose network is in it.
  const src = key.includes('SrcIP') || key.includes('SrcPrefix');
  const dst = key.includes('DstIP') || key.includes('DstPrefix');
  if (f.ip) {
    const either = [src ? ipCondition(w, 'src_ip', f.ip, 'ip') : null, dst ? ipCondition(w, 'dst_ip', f.ip, 'ip') : null].filter(Boolean);
    if (!either.length) throw new QueryError(`ip: the task's key (${key.join(', ')}) has no address`);
    w.add(`(${either.join(' OR ')})`);
  }
  if (f.srcIp) {
    if (!src) need('SrcIP', 'srcIp');
    w.add(ipCondition(w, 'src_ip', f.srcIp, 'srcIp'));
  }
  if (f.dstIp) {
    if (!dst) need('DstIP', 'dstIp');
    w.add(ipCondition(w, 'dst_ip', f.dstIp, 'dstIp'));
  }
  if (f.port !== undefined) {
    const p = w.param(port(f.port, 'port'), 'UInt16');
    const either = [key.includes('SrcPort') ? `src_port = ${p}` : null, key.includes('DstPort') ? `dst_port = ${p}` : null].filter(Boolean);
    if (!either.length) throw new QueryError(`port: the task's key (${key.join(', ')}) has no port`);
    w.add(`(${either.join(' OR ')})`);
  }
  if (f.srcPort !== undefined) {
    need('SrcPort', 'srcPort');
    w.add(`src_port = ${w.param(port(f.srcPort, 'srcPort'), 'UInt16')}`);
  }
  if (f.dstPort !== undefined) {
    need('DstPort', 'dstPort');
    w.add(`dst_port = ${w.param(port(f.dstPort, 'dstPort'), 'UInt16')}`);
  }
  if (f.protocol) {
    need('Protocol', 'protocol');
    w.add(`proto = ${w.param(protocolNumber(f.protocol), 'UInt8')}`);
  }
  if (f.source) w.add(`source = ${w.param(f.source, 'String')}`);
}

function addRange(w: Where, r: Range | undefined): void {
  if (r?.startNs !== undefined && r.endNs !== undefined && r.endNs <= r.startNs) {
    throw new QueryError('range: the end must be after the start');
  }
  if (r?.startNs !== undefined) w.add(`window_start >= fromUnixTimestamp64Nano(${w.param(r.startNs.toString(), 'Int64')}, 'UTC')`);
  if (r?.endNs !== undefined) w.add(`window_start < fromUnixTimestamp64Nano(${w.param(r.endNs.toString(), 'Int64')}, 'UTC')`);
}

/** Rows as JSON with 64-bit integers as text (exact beyond 2^53). */
async function rows<T>(store: Store, query: string, params: Record<string, unknown>): Promise<T[]> {
  const r = await store.client.query({ query, query_params: params, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 1 } });
  return r.json<T>();
}

const NS = (column: string) => `toString(toUnixTimestamp64Nano(${column}))`;

/** Key columns grouped by for the given fields (family too when an address or prefix is among
 * them, a prefix's length beside its network, an interface with its probe). */
function keyColumns(fields: KeyField[]): string[] {
  const beside: Partial<Record<KeyField, string[]>> = { SrcPrefix: ['src_ip', 'src_prefix_len'], DstPrefix: ['dst_ip', 'dst_prefix_len'], Interface: ['probe', 'interface'] };
  const cols = fields.flatMap((f) => beside[f] ?? [FIELD_COLUMN[f]]);
  return fields.some((f) => f.endsWith('IP') || f.endsWith('Prefix')) ? ['family', ...cols] : cols;
}

/** The key columns as selected: addresses as text, each under a k_ name (an alias named like
 * its column would replace the column in WHERE). */
function keySelect(columns: string[]): string {
  return columns.map((c) => `${c === 'src_ip' || c === 'dst_ip' ? `toString(${c})` : c} AS k_${c}`).join(', ');
}

type KeyRow = Partial<Record<`k_${string}`, string>>;

function keyOf(r: KeyRow, fields: KeyField[]): Key {
  const family = Number(r.k_family ?? 0);
  const protocol = Number(r.k_proto ?? 0);
  // A key with an address field on a packet without IP (ARP, ...) has none: "-".
  const address = (ip: string | undefined) => (ip === undefined ? '' : addressText(ip, family) || '-');
  // A prefix key's column holds the network, its length beside it.
  const prefix = (ip: string | undefined, len: string | undefined) => {
    if (len === undefined) return '';
    const a = address(ip);
    return a === '-' ? a : `${a}/${len}`;
  };
  const number = (v: string | undefined) => Number(v ?? 0);
  return {
    fields,
    srcIp: r.k_src_prefix_len === undefined ? address(r.k_src_ip) : '',
    dstIp: r.k_dst_prefix_len === undefined ? address(r.k_dst_ip) : '',
    srcPort: number(r.k_src_port),
    dstPort: number(r.k_dst_port),
    protocol,
    protocolName: r.k_proto !== undefined ? (ipProtoName(protocol) ?? String(protocol)) : '',
    srcPrefix: prefix(r.k_src_ip, r.k_src_prefix_len),
    dstPrefix: prefix(r.k_dst_ip, r.k_dst_prefix_len),
    icmpType: number(r.k_icmp_type),
    icmpCode: number(r.k_icmp_code),
    tcpFlags: number(r.k_tcp_flags),
    tcpFlagsText: r.k_tcp_flags === undefined ? '' : tcpFlagsText(number(r.k_tcp_flags)) || 'none',
    dscp: number(r.k_dscp),
    dscpName: r.k_dscp === undefined ? '' : (dscpName(number(r.k_dscp)) ?? ''),
    vlan: number(r.k_vlan),
    srcAs: number(r.k_src_as),
    dstAs: number(r.k_dst_as),
    srcCountry: r.k_src_country === undefined ? '' : r.k_src_country || '-',
    dstCountry: r.k_dst_country === undefined ? '' : r.k_dst_country || '-',
    direction: r.k_direction ?? '',
    app: r.k_app ?? '',
    serverName: r.k_server_name ?? '',
    probe: r.k_probe ?? '',
    interface: r.k_interface ?? '',
  };
}

/** A stored key_fields text's field names ("SrcPrefix/24/48,DstPort" -> SrcPrefix, DstPort). */
function parseFields(text: string): KeyField[] {
  return text.split(',').filter(Boolean).map(keyFieldName);
}

export async function listTasks(store: Store, db = store.database): Promise<TaskInfo[]> {
  const r = await rows<{ task: string; type: string; key: string; second: string; first: string; last: string; windows: string; sources: string[] }>(
    store,
    `SELECT task, any(type) AS type, any(key_fields) AS key, any(second_fields) AS second, ${NS('min(window_start)')} AS first,
       ${NS('max(window_end)')} AS last, uniqExact(window_start) AS windows, groupUniqArray(100)(source) AS sources
     FROM ${db}.window_tasks WHERE ${visibleRuns(db)} GROUP BY task ORDER BY task`,
    {},
  );
  return r.map((t) => ({
    name: t.task,
    type: t.type as TaskInfo['type'],
    key: parseFields(t.key),
    keyText: t.key,
    second: t.second,
    firstWindowNs: BigInt(t.first),
    lastWindowEndNs: BigInt(t.last),
    windows: Number(t.windows),
    sources: [...t.sources].sort(),
  }));
}

/** The task's description; an unknown task is an invalid argument naming the known ones. */
export async function findTask(store: Store, name: string, db = store.database): Promise<TaskInfo> {
  if (!name) throw new QueryError('task: required');
  const tasks = await listTasks(store, db);
  const t = tasks.find((x) => x.name === name);
  if (!t) throw new QueryError(`task: unknown task "${name}"; stored tasks: ${tasks.map((x) => x.name).join(', ') || 'none'}`);
  return t;
}

/** The longest groupBy list taken (duplicates are dropped; five key fields exist). */
export const MAX_GROUP_BY = 16;

export interface AggregateRequest {
  task: TaskInfo;
  range?: Range;
  filter?: Filter;
  groupBy: KeyField[];
  orderBy: string;
  ascending: boolean;
  limit: number;
  offset: number;
}

export interface Aggregate {
  key: Key;
  packets: bigint;
  bytes: bigint;
  distinct: bigint;
  windows: number;
  firstWindowNs: bigint;
  lastWindowEndNs: bigint;
}

export async function aggregateFlows(store: Store, q: AggregateRequest, db = store.database): Promise<{ rows: Aggregate[]; totals: { packets: bigint; bytes: bigint; groups: number } }> {
  if (q.task.type !== 'exact') throw new QueryError(`task: "${q.task.name}" is a ${q.task.type} task; AggregateFlows reads exact tasks`);
  // Refused before any work: a long list would make a query ClickHouse takes long to refuse.
  if (q.groupBy.length > MAX_GROUP_BY) throw new QueryError(`groupBy: ${q.groupBy.length} entries; at most ${MAX_GROUP_BY} (the key fields: ${KEY_FIELDS.join(', ')})`);
  q = { ...q, groupBy: [...new Set(q.groupBy)] };
  for (const f of q.groupBy) {
    if (!KEY_FIELDS.includes(f)) throw new QueryError(`groupBy: "${f}" is not a key field (${KEY_FIELDS.join(', ')})`);
    if (!q.task.key.includes(f)) throw new QueryError(`groupBy: the task's key (${q.task.key.join(', ')}) has no ${f}`);
  }
  const group = keyColumns(q.groupBy.length ? q.groupBy : q.task.key);
  const orders: Record<string, string> = { packets: 'packets', bytes: 'bytes', distinct: 'distinct_max', windows: 'windows' };
  for (const f of q.groupBy.length ? q.groupBy : q.task.key) orders[f] = FIELD_COLUMN[f];
  const order = orders[q.orderBy || 'packets'];
  if (!order) throw new QueryError(`orderBy: "${q.orderBy}" is not one of ${Object.keys(orders).join(', ')}`);
  const w = new Where(db);
  w.add(`task = ${w.param(q.task.name, 'String')}`);
  addRange(w, q.range);
  addFilter(w, q.filter, q.task.key);
  const from = `FROM ${db}.exact_rows ${w.sql}`;
  const groupSql = group.length ? `GROUP BY ${group.join(', ')}` : '';
  const dir = q.ascending ? 'ASC' : 'DESC';
  const tie = group.length ? `, ${group.join(', ')}` : '';
  const limit = w.param(q.limit, 'UInt32');
  const offset = w.param(q.offset, 'UInt64');
  const data = await rows<KeyRow & { packets: string; bytes: string; distinct_max: string; windows: string; first: string; last: string }>(
    store,
    `SELECT ${keySelect(group)}${group.length ? ',' : ''}
       sum(packets) AS packets, sum(bytes) AS bytes, max(distinct_count) AS distinct_max, uniqExact(window_start) AS windows,
       ${NS('min(window_start)')} AS first, ${NS('max(window_end)')} AS last
     ${from} ${groupSql} ORDER BY ${order} ${dir}${tie} LIMIT ${limit} OFFSET ${offset}`,
    w.params,
  );
  const [t] = await rows<{ packets: string; bytes: string; groups: string }>(
    store,
    `SELECT sum(packets) AS packets, sum(bytes) AS bytes, ${group.length ? `uniqExact(${group.join(', ')})` : 'if(count() > 0, 1, 0)'} AS groups ${from}`,
    w.params,
  );
  return {
    rows: data.map((r) => ({
      key: keyOf(r, q.groupBy.length ? q.groupBy : q.task.key),
      packets: BigInt(r.packets),
      bytes: BigInt(r.bytes),
      distinct: BigInt(r.distinct_max),
      windows: Number(r.windows),
      firstWindowNs: BigInt(r.first),
      lastWindowEndNs: BigInt(r.last),
    })),
    totals: { packets: BigInt(t.packets), bytes: BigInt(t.bytes), groups: Number(t.groups) },
  };
}

export interface TraceRequest {
  task: TaskInfo;
  range?: Range;
  flow: { srcIp?: string; dstIp?: string; srcPort?: number; dstPort?: number; protocol?: string };
  bothDirections: boolean;
  limit: number;
}

export interface TraceWindow {
  startNs: bigint;
  endNs: bigint;
  packets: bigint;
  bytes: bigint;
  reversePackets: bigint;
  reverseBytes: bigint;
}

/** The flow's rows window by window. Every field of the task's key must be given. */
export async function traceFlow(store: Store, q: TraceRequest, db = store.database): Promise<TraceWindow[]> {
  if (q.task.type !== 'exact') throw new QueryError(`task: "${q.task.name}" is a ${q.task.type} task; TraceFlow reads exact tasks`);
  const w = new Where(db);
  w.add(`task = ${w.param(q.task.name, 'String')}`);
  addRange(w, q.range);
  const match = (reverse: boolean): string => {
    const parts: string[] = [];
    const f = q.flow;
    const [src, dst] = reverse ? [f.dstIp, f.srcIp] : [f.srcIp, f.dstIp];
    const [sp, dp] = reverse ? [f.dstPort, f.srcPort] : [f.srcPort, f.dstPort];
    const given: Partial<Record<KeyField, unknown>> = { SrcIP: f.srcIp, DstIP: f.dstIp, SrcPort: f.srcPort, DstPort: f.dstPort, Protocol: f.protocol };
    for (const field of q.task.key) {
      if (given[field] === undefined || given[field] === '') throw new QueryError(`flow: the task's key (${q.task.key.join(', ')}) needs ${field}`);
    }
    const address = (column: string, text: string, what: string) => {
      const c = parseCidr(text, what);
      if (c.prefix !== 128) throw new QueryError(`${what}: "${text}" must be one address, not a network`);
      parts.push(`family = ${w.param(c.family, 'UInt8')}`, `${column} = toIPv6(${w.param(c.network, 'String')})`);
    };
    if (q.task.key.includes('SrcIP')) address('src_ip', src!, reverse ? 'flow.dstIp' : 'flow.srcIp');
    if (q.task.key.includes('DstIP')) address('dst_ip', dst!, reverse ? 'flow.srcIp' : 'flow.dstIp');
    if (q.task.key.includes('SrcPort')) parts.push(`src_port = ${w.param(port(sp!, 'flow.srcPort'), 'UInt16')}`);
    if (q.task.key.includes('DstPort')) parts.push(`dst_port = ${w.param(port(dp!, 'flow.dstPort'), 'UInt16')}`);
    if (q.task.key.includes('Protocol')) parts.push(`proto = ${w.param(protocolNumber(f.protocol!), 'UInt8')}`);
    return `(${parts.join(' AND ')})`;
  };
  const forward = match(false);
  const reverse = q.bothDirections ? match(true) : 'false';
  w.add(`(${forward} OR ${reverse})`);
  const data = await rows<{ start: string; end: string; p: string; b: string; rp: string; rb: string }>(
    store,
    `SELECT ${NS('window_start')} AS start, ${NS('max(window_end)')} AS end,
       sumIf(packets, ${forward}) AS p, sumIf(bytes, ${forward}) AS b, sumIf(packets, ${reverse}) AS rp, sumIf(bytes, ${reverse}) AS rb
     FROM ${db}.exact_rows ${w.sql} GROUP BY window_start ORDER BY window_start LIMIT ${w.param(q.limit, 'UInt32')}`,
    w.params,
  );
  return data.map((r) => ({ startNs: BigInt(r.start), endNs: BigInt(r.end), packets: BigInt(r.p), bytes: BigInt(r.b), reversePackets: BigInt(r.rp), reverseBytes: BigInt(r.rb) }));
}

export interface TopRequest {
  task: TaskInfo;
  range?: Range;
  filter?: Filter;
  by: 'packets' | 'bytes';
  limit: number;
}

export async function topHeavyHitters(store: Store, q: TopRequest, db = store.database): Promise<{ key: Key; packets: bigint; bytes: bigint; windows: number }[]> {
  const w = new Where(db);
  w.add(`task = ${w.param(q.task.name, 'String')}`);
  let table: string;
  if (q.task.type === 'countmin') {
    table = 'heavy_hitters';
    w.add(`rank = ${w.param(q.by, 'String')}`);
  } else if (q.task.type === 'exact') {
    table = 'exact_rows';
  } else {
    throw new QueryError(`task: "${q.task.name}" is a superspread task; use TopSpreaders`);
  }
  addRange(w, q.range);
  addFilter(w, q.filter, q.task.key);
  const key = keyColumns(q.task.key);
  const data = await rows<KeyRow & { packets: string; bytes: string; windows: string }>(
    store,
    `SELECT ${keySelect(key)},
       sum(packets) AS packets, sum(bytes) AS bytes, count() AS windows
     FROM ${db}.${table} ${w.sql} GROUP BY ${key.join(', ')} ORDER BY ${q.by} DESC, ${key.join(', ')} LIMIT ${w.param(q.limit, 'UInt32')}`,
    w.params,
  );
  return data.map((r) => ({ key: keyOf(r, q.task.key), packets: BigInt(r.packets), bytes: BigInt(r.bytes), windows: Number(r.windows) }));
}

export async function topSpreaders(store: Store, q: Omit<TopRequest, 'by'>, db = store.database): Promise<{ key: Key; maxSpread: bigint; maxWindowNs: bigint; windows: number }[]> {
  const w = new Where(db);
  w.add(`task = ${w.param(q.task.name, 'String')}`);
  let table: string;
  let value: string;
  if (q.task.type === 'superspread') {
    [table, value] = ['spreaders', 'spread'];
  } else if (q.task.type === 'exact' && q.task.second) {
    [table, value] = ['exact_rows', 'distinct_count'];
  } else {
    throw new QueryError(`task: "${q.task.name}" is a ${q.task.type} task without a spread; use a superspread task or an exact task with distinct fields`);
  }
  addRange(w, q.range);
  addFilter(w, q.filter, q.task.key);
  const key = keyColumns(q.task.key);
  const data = await rows<KeyRow & { m: string; mw: string; windows: string }>(
    store,
    `SELECT ${keySelect(key)},
       max(${value}) AS m, ${NS(`argMax(window_start, ${value})`)} AS mw, count() AS windows
     FROM ${db}.${table} ${w.sql} GROUP BY ${key.join(', ')} ORDER BY m DESC, ${key.join(', ')} LIMIT ${w.param(q.limit, 'UInt32')}`,
    w.params,
  );
  return data.map((r) => ({ key: keyOf(r, q.task.key), maxSpread: BigInt(r.m), maxWindowNs: BigInt(r.mw), windows: Number(r.windows) }));
}

/** Per window totals of a task (or of all packets) over a range: Grafana's time series. */
export async function windowSeries(
  store: Store,
  q: { task?: TaskInfo; range?: Range; metric: 'packets' | 'bytes'; filter?: Filter; limit: number },
  db = store.database,
): Promise<{ startNs: bigint; endNs: bigint; value: bigint }[]> {
  const w = new Where(db);
  let table = 'windows';
  if (q.task) {
    if (q.task.type !== 'exact') throw new QueryError(`target: "${q.task.name}" is a ${q.task.type} task; series come from exact tasks`);
    table = 'exact_rows';
    w.add(`task = ${w.param(q.task.name, 'String')}`);
    addFilter(w, q.filter, q.task.key);
  } else if (q.filter?.source) {
    w.add(`source = ${w.param(q.filter.source, 'String')}`);
  }
  addRange(w, q.range);
  const data = await rows<{ start: string; end: string; v: string }>(
    store,
    `SELECT ${NS('window_start')} AS start, ${NS('max(window_end)')} AS end, sum(${q.metric}) AS v FROM ${db}.${table} ${w.sql}
     GROUP BY window_start ORDER BY window_start LIMIT ${w.param(q.limit, 'UInt32')}`,
    w.params,
  );
  return data.map((r) => ({ startNs: BigInt(r.start), endNs: BigInt(r.end), value: BigInt(r.v) }));
}

export async function health(store: Store): Promise<{ version: string; windows: number }> {
  const [r] = await rows<{ v: string; n: string }>(store, `SELECT version() AS v, (SELECT count() FROM ${store.database}.windows WHERE ${visibleRuns(store.database)}) AS n`, {});
  return { version: r.v, windows: Number(r.n) };
}

export interface AlertsRequest {
  /** On the alert's event time (the end of its window). */
  range?: Range;
  rule?: string;
  state?: string;
  minSeverity?: string;
  source?: string;
  limit: number;
}

const SEVERITY_ORDER = ['info', 'warning', 'critical'];

/** Alert history, newest first, as the notifiers sent it. */
export async function listAlerts(store: Store, q: AlertsRequest, db = store.database): Promise<AlertEvent[]> {
  const w = new Where(db);
  if (q.range?.startNs !== undefined && q.range.endNs !== undefined && q.range.endNs <= q.range.startNs) {
    throw new QueryError('range: the end must be after the start');
  }
  if (q.range?.startNs !== undefined) w.add(`at >= fromUnixTimestamp64Nano(${w.param(q.range.startNs.toString(), 'Int64')}, 'UTC')`);
  if (q.range?.endNs !== undefined) w.add(`at < fromUnixTimestamp64Nano(${w.param(q.range.endNs.toString(), 'Int64')}, 'UTC')`);
  if (q.rule) w.add(`rule = ${w.param(q.rule, 'String')}`);
  if (q.state) {
    if (q.state !== 'firing' && q.state !== 'resolved') throw new QueryError(`state: "${q.state}" is not firing or resolved`);
    w.add(`state = ${w.param(q.state, 'String')}`);
  }
  if (q.minSeverity) {
    const at = SEVERITY_ORDER.indexOf(q.minSeverity);
    if (at < 0) throw new QueryError(`min_severity: "${q.minSeverity}" is not one of ${SEVERITY_ORDER.join(', ')}`);
    w.add(`severity IN ${w.param(SEVERITY_ORDER.slice(at), 'Array(String)')}`);
  }
  if (q.source) w.add(`source = ${w.param(q.source, 'String')}`);
  const iso = (c: string) => `formatDateTime(${c}, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC')`;
  const data = await rows<Record<string, string>>(
    store,
    // Times under other names: an alias named like its column would replace it in WHERE.
    `SELECT source, ${iso('at')} AS at_text, id, rule, state, repeat, severity, summary, description, task, metric, op, threshold,
       threshold_text, value, value_text, key_text, key_json, labels_json, ${iso('starts_at')} AS starts_text,
       if(isNull(ends_at), '', ${iso('assumeNotNull(ends_at)')}) AS ends_text, ${iso('window_start')} AS window_start_text,
       ${iso('window_end')} AS window_end_text, enrichment_json, enrichment_note
     FROM ${db}.alerts ${w.sql} ORDER BY at DESC, rule, id LIMIT ${w.param(q.limit, 'UInt32')}`,
    w.params,
  );
  // %f prints microseconds: ISO text with millisecond precision, like the events.
  const ms = (t: string) => new Date(Date.parse(t.replace(/(\.\d{3})\d*Z$/, '$1Z'))).toISOString();
  return data.map((r) => ({
    id: r.id,
    rule: r.rule,
    state: r.state as AlertEvent['state'],
    repeat: Number(r.repeat) === 1,
    severity: r.severity as AlertEvent['severity'],
    summary: r.summary,
    description: r.description,
    task: r.task,
    metric: r.metric,
    op: r.op,
    threshold: Number(r.threshold),
    thresholdText: r.threshold_text,
    value: Number(r.value),
    valueText: r.value_text,
    key: JSON.parse(r.key_json || '{}') as Record<string, string>,
    keyText: r.key_text,
    labels: JSON.parse(r.labels_json || '{}') as Record<string, string>,
    startsAt: ms(r.starts_text),
    endsAt: r.ends_text ? ms(r.ends_text) : null,
    at: ms(r.at_text),
    windowStart: ms(r.window_start_text),
    windowEnd: ms(r.window_end_text),
    source: r.source,
    ...(r.enrichment_json ? { enrichment: JSON.parse(r.enrichment_json) as AlertEvent['enrichment'] } : {}),
    ...(r.enrichment_note ? { enrichmentNote: r.enrichment_note } : {}),
  }));
}


/** The Filter's fields (ip and port: either endpoint; src*: endpoint A, dst*: B), with the
 * protocol as a number. */
export interface FlowRecordsRequest extends Omit<Filter, 'protocol'> {
  /** Records whose time overlaps [from, to): epoch milliseconds. */
  from?: number;
  to?: number;
  proto?: number;
  communityId?: string;
  direction?: string;
  /** A server name, case-insensitive; "*.example.com": the domain and every name under it. */
  serverName?: string;
  sort: FlowSort;
  dir: 'asc' | 'desc';
  limit: number;
  offset: number;
}

const FLOW_ORDER: Record<FlowRecordsRequest['sort'], string> = {
  bytes: 'bytes_ab + bytes_ba',
  packets: 'packets_ab + packets_ba',
  first: 'first_seen',
  last: 'last_seen',
  duration: 'toUnixTimestamp64Nano(last_seen) - toUnixTimestamp64Nano(first_seen)',
};
/** After the sort: a total order, so pages neither repeat nor skip a record. */
const FLOW_TIE = 'first_seen, src_ip, dst_ip, src_port, dst_port, proto, last_seen, probe, interface, vlan, bytes_ab, bytes_ba';

/** Epoch milliseconds as nanoseconds, exactly to the microsecond. */
function msToNs(ms: number | undefined, what: string): bigint | undefined {
  if (ms === undefined) return undefined;
  if (!Number.isFinite(ms) || ms < 0) throw new QueryError(`${what}: ${ms} is not a time (epoch milliseconds)`);
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

/** Records that overlap the range: their last packet at or after the start, their first before the end. */
function addFlowRange(w: Where, r: Range | undefined): void {
  if (r?.startNs !== undefined && r.endNs !== undefined && r.endNs <= r.startNs) throw new QueryError('range: the end must be after the start');
  if (r?.startNs !== undefined) w.add(`last_seen >= fromUnixTimestamp64Nano(${w.param(r.startNs.toString(), 'Int64')}, 'UTC')`);
  if (r?.endNs !== undefined) w.add(`first_seen < fromUnixTimestamp64Nano(${w.param(r.endNs.toString(), 'Int64')}, 'UTC')`);
}

function wholeNumber(v: number, what: string, min: number): number {
  if (!Number.isSafeInteger(v) || v < min) throw new QueryError(`${what}: ${v} is not an integer of at least ${min}`);
  return v;
}

/** Stored flow records, filtered, sorted and paged, as the core emits them (ts/flows/types.ts). */
export async function listFlowRecords(store: Store, q: FlowRecordsRequest, db = store.database): Promise<{ total: number; flows: FlowRecordJson[] }> {
  if (!Object.hasOwn(FLOW_ORDER, q.sort)) throw new QueryError(`sort: "${q.sort}" is not one of ${FLOW_SORTS.join(', ')}`);
  if (q.dir !== 'asc' && q.dir !== 'desc') throw new QueryError(`dir: "${q.dir}" is not asc or desc`);
  const w = new Where(db);
  addFlowRange(w, { startNs: msToNs(q.from, 'from'), endNs: msToNs(q.to, 'to') });
  if (q.source) w.add(`source = ${w.param(q.source, 'String')}`);
  if (q.ip) w.add(`(${ipCondition(w, 'src_ip', q.ip, 'ip')} OR ${ipCondition(w, 'dst_ip', q.ip, 'ip')})`);
  if (q.srcIp) w.add(ipCondition(w, 'src_ip', q.srcIp, 'srcIp'));
  if (q.dstIp) w.add(ipCondition(w, 'dst_ip', q.dstIp, 'dstIp'));
  if (q.port !== undefined) {
    const p = w.param(port(q.port, 'port'), 'UInt16');
    w.add(`(src_port = ${p} OR dst_port = ${p})`);
  }
  if (q.srcPort !== undefined) w.add(`src_port = ${w.param(port(q.srcPort, 'srcPort'), 'UInt16')}`);
  if (q.dstPort !== undefined) w.add(`dst_port = ${w.param(port(q.dstPort, 'dstPort'), 'UInt16')}`);
  if (q.proto !== undefined) {
    if (!Number.isInteger(q.proto) || q.proto < 0 || q.proto > 255) throw new QueryError(`proto: ${q.proto} is not a protocol number (0..255)`);
    w.add(`proto = ${w.param(q.proto, 'UInt8')}`);
  }
  if (q.communityId) {
    if (!/^\d+:[A-Za-z0-9+/]+=*$/.test(q.communityId)) throw new QueryError(`communityId: "${q.communityId}" is not a Community ID (1:<base64>)`);
    w.add(`community_id = ${w.param(q.communityId, 'String')}`);
  }
  if (q.direction) {
    if (!(FLOW_DIRECTIONS as readonly string[]).includes(q.direction)) throw new QueryError(`direction: "${q.direction}" is not one of ${FLOW_DIRECTIONS.join(', ')}`);
    w.add(`direction = ${w.param(q.direction, 'String')}`);
  }
  if (q.serverName) {
    const name = q.serverName.toLowerCase();
    if (name.length > 255 || /[\s*]/.test(name.replace(/^\*\./, ''))) throw new QueryError(`serverName: "${q.serverName}" is not a name or *.domain`);
    if (name.startsWith('*.')) {
      const domain = w.param(name.slice(2), 'String');
      w.add(`(lower(server_name) = ${domain} OR endsWith(lower(server_name), concat('.', ${domain})))`);
    } else {
      w.add(`lower(server_name) = ${w.param(name, 'String')}`);
    }
  }
  const limit = w.param(wholeNumber(q.limit, 'limit', 1), 'UInt32');
  const offset = w.param(wholeNumber(q.offset, 'offset', 0), 'UInt64');
  const dir = q.dir === 'asc' ? 'ASC' : 'DESC';
  const data = await rows<FlowRow>(store, `SELECT ${FLOW_SELECT} FROM ${db}.flows ${w.sql} ORDER BY ${FLOW_ORDER[q.sort]} ${dir}, ${FLOW_TIE} LIMIT ${limit} OFFSET ${offset}`, w.params);
  const [t] = await rows<{ n: string }>(store, `SELECT count() AS n FROM ${db}.flows ${w.sql}`, w.params);
  return { total: Number(t.n), flows: data.map(flowRecordOf) };
}

/** Stored records of the flow TraceFlow follows: the fields of its task's key, in either
 * orientation (endpoint A is whichever sent first), overlapping the range; oldest first. */
export async function traceFlowRecords(store: Store, q: TraceRequest, db = store.database): Promise<FlowRecordJson[]> {
  const w = new Where(db);
  addFlowRange(w, q.range);
  const f = q.flow;
  const key = q.task.key;
  const side = (reverse: boolean): string => {
    const parts: string[] = [];
    const [a, b] = reverse ? [f.dstIp, f.srcIp] : [f.srcIp, f.dstIp];
    const [pa, pb] = reverse ? [f.dstPort, f.srcPort] : [f.srcPort, f.dstPort];
    if (key.includes('SrcIP') && a) parts.push(ipCondition(w, 'src_ip', a, 'flow.srcIp'));
    if (key.includes('DstIP') && b) parts.push(ipCondition(w, 'dst_ip', b, 'flow.dstIp'));
    if (key.includes('SrcPort') && pa !== undefined) parts.push(`src_port = ${w.param(port(pa, 'flow.srcPort'), 'UInt16')}`);
    if (key.includes('DstPort') && pb !== undefined) parts.push(`dst_port = ${w.param(port(pb, 'flow.dstPort'), 'UInt16')}`);
    return parts.length ? `(${parts.join(' AND ')})` : 'true';
  };
  w.add(`(${side(false)} OR ${side(true)})`);
  if (key.includes('Protocol') && f.protocol) w.add(`proto = ${w.param(protocolNumber(f.protocol), 'UInt8')}`);
  const data = await rows<FlowRow>(store, `SELECT ${FLOW_SELECT} FROM ${db}.flows ${w.sql} ORDER BY ${FLOW_TIE} LIMIT ${w.param(q.limit, 'UInt32')}`, w.params);
  return data.map(flowRecordOf);
}

/** The capture files the latest `analyze` run of a source read (its statistics record where
 * they were); null when the store holds no run of it. */
export async function analyzedFiles(store: Store, source: string, db = store.database): Promise<string[] | null> {
  const r = await store.client.query({
    query: `SELECT details FROM ${db}.ingest_stats WHERE source = {source:String} AND kind = 'analyze' ORDER BY at DESC LIMIT 1`,
    query_params: { source },
    format: 'JSONEachRow',
  });
  const rows = await r.json<{ details: string }>();
  if (!rows.length) return null;
  const details = JSON.parse(rows[0].details) as { files?: { path?: string | null }[] };
  return (details.files ?? []).map((f) => f.path).filter((p): p is string => typeof p === 'string');
}

/** What an alert is about, for its packets: its key's fields, the time from its first firing
 * window's start to its last window's end, and the source that raised it; null when the store
 * holds no alert of that id. */
export async function alertScope(store: Store, id: string, db = store.database): Promise<{ key: Record<string, string>; startMs: number; endMs: number; source: string } | null> {
  const r = await store.client.query({
    query: `SELECT any(key_json) AS key_json, any(source) AS source, toUnixTimestamp64Milli(min(window_start)) AS start_ms,
       toUnixTimestamp64Milli(max(window_end)) AS end_ms, count() AS n FROM ${db}.alerts WHERE id = {id:String}`,
    query_params: { id },
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  const [row] = await r.json<{ key_json: string; source: string; start_ms: number; end_ms: number; n: number }>();
  if (!row || Number(row.n) === 0) return null;
  return { key: JSON.parse(row.key_json || '{}') as Record<string, string>, startMs: Number(row.start_ms), endMs: Number(row.end_ms), source: row.source };
}
