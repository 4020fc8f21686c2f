// The console's REST routes beside the API (same bearer tokens):
//   /api/flows     a page of the live conversation table (or of the stored flow records)
//   /api/counters  per-second counters kept in memory (live only)
//   /api/stats     capture, engine, store and console health in one object
//   /api/timeline  packets and bytes per stored window (the offline chart)
//   /api/summary   top lists, protocols and alerts over a stored range (the offline tables)
import type { Context } from 'hono';
import type { ApiApp } from '../api/http.js';
import { transportBackend } from '../backend/index.js';
import type { NetspectraConfig } from '../config/index.js';
import type { Store, WindowStorage } from '../storage/index.js';

/** The writer rows go through, and where. */
type StoredBy = Pick<WindowStorage, 'where' | 'sink'>;
import { aggregateFlows, checkedCidr, health, listAlerts, listFlowRecords, listTasks, protocolNumber, QueryError, topHeavyHitters, topSpreaders, windowSeries, type Key, type Range, type TaskInfo } from '../storage/queries.js';
import { bucketSeconds, emptyProtocols } from './frames.js';
import { timeRange, wholeNumber } from '../api/params.js';
import { FLOW_SORTS, type FlowQuery, type FlowSort } from '../flows/types.js';
import type { ConsoleHub } from './hub.js';
import type { AlertsFrame, LiveEngine, ProtocolsFrame, TopFrame, TopList, TopRow } from './types.js';

export interface RouteContext {
  cfg: NetspectraConfig;
  host: LiveEngine | null;
  store: Store | null;
  storage: StoredBy | null;
  hub: ConsoleHub;
  /** Store mode: the source shown when the page names none. */
  source?: string;
}

const DEFAULT_FLOWS = 50;
const MAX_STEP_S = 3600;

/** The query string, with every name checked against the route's list. */
function params(c: Context, allowed: string[]): Record<string, string> {
  const q = c.req.query();
  for (const k of Object.keys(q)) {
    if (!allowed.includes(k)) throw new QueryError(`unknown parameter "${k}"; this route takes ${allowed.join(', ')}`);
  }
  return q;
}

/** A flow query with its paging and order settled. */
type FlowPageQuery = FlowQuery & Required<Pick<FlowQuery, 'limit' | 'offset' | 'sort' | 'dir'>>;

export function flowQuery(q: Record<string, string>, maxLimit: number): FlowPageQuery {
  const f: FlowPageQuery = {
    limit: q.limit ? wholeNumber(q.limit, 'limit', 1, maxLimit) : DEFAULT_FLOWS,
    offset: q.offset ? wholeNumber(q.offset, 'offset', 0, Number.MAX_SAFE_INTEGER) : 0,
    sort: 'bytes',
    dir: 'desc',
  };
  if (q.sort) {
    if (!FLOW_SORTS.includes(q.sort as FlowSort)) throw new QueryError(`sort: "${q.sort}" is not one of ${FLOW_SORTS.join(', ')}`);
    f.sort = q.sort as FlowSort;
  }
  if (q.dir) {
    if (q.dir !== 'asc' && q.dir !== 'desc') throw new QueryError(`dir: "${q.dir}" is not asc or desc`);
    f.dir = q.dir;
  }
  if (q.proto) f.proto = protocolNumber(q.proto, 'proto');
  if (q.ip) f.ip = checkedCidr(q.ip, 'ip');
  if (q.port) f.port = wholeNumber(q.port, 'port', 0, 65535);
  return f;
}

const nsOf = (ms: number | undefined) => (ms === undefined ? undefined : BigInt(ms) * 1_000_000n);
const msOf = (ns: bigint) => Number(ns / 1_000_000n);

/** A stored key as a top-list row: the task's key fields only. */
function keyRow(key: Key, fields: string[]): Pick<TopRow, 'key' | 'fields'> {
  const f: Record<string, string | number> = {};
  if (fields.includes('SrcIP')) f.srcIp = key.srcIp;
  if (fields.includes('DstIP')) f.dstIp = key.dstIp;
  if (fields.includes('SrcPort')) f.srcPort = key.srcPort;
  if (fields.includes('DstPort')) f.dstPort = key.dstPort;
  if (fields.includes('Protocol')) f.proto = key.protocolName;
  return { key: Object.values(f).join(' '), fields: f };
}

const GROUP_OF: Record<number, 'TCP' | 'UDP' | 'ICMP'> = { 6: 'TCP', 17: 'UDP', 1: 'ICMP', 58: 'ICMP' };

/** Top lists, protocols and alerts over a stored range, shaped like the live channels. */
async function storedSummary(store: Store, range: Range, source: string | undefined, top: number, order: string[]) {
  // In the configuration's order (the store lists them by name); tasks it no longer has last.
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  const tasks = (await listTasks(store)).filter((t) => !source || t.sources.includes(source)).sort((a, b) => rank(a.name) - rank(b.name));
  const filter = source ? { source } : undefined;
  const base = (t: TaskInfo) => ({ task: t.name, type: t.type, key: t.key.join(',') });
  const talkers: TopList[] = [];
  const heavyHitters: TopList[] = [];
  const spreaders: TopList[] = [];
  for (const t of tasks) {
    if (t.type === 'exact' || t.type === 'countmin') {
      for (const by of t.type === 'exact' ? (['packets'] as const) : (['packets', 'bytes'] as const)) {
        const rows = await topHeavyHitters(store, { task: t, range, filter, by, limit: top });
        const list: TopList = { ...base(t), rows: rows.map((r) => ({ ...keyRow(r.key, t.key), packets: Number(r.packets), bytes: Number(r.bytes) })) };
        if (t.type === 'exact') talkers.push(list);
        else heavyHitters.push({ ...list, by });
      }
    } else {
      const rows = await topSpreaders(store, { task: t, range, filter, limit: top });
      spreaders.push({ ...base(t), rows: rows.map((r) => ({ ...keyRow(r.key, t.key), spread: Number(r.maxSpread) })) });
    }
  }
  const protocols = emptyProtocols();
  const byProtocol = tasks.find((t) => t.type === 'exact' && t.key.includes('Protocol'));
  if (byProtocol) {
    const agg = await aggregateFlows(store, { task: byProtocol, range, filter, groupBy: ['Protocol'], orderBy: 'packets', ascending: false, limit: 256, offset: 0 });
    for (const r of agg.rows) {
      const p = protocols[GROUP_OF[r.key.protocol] ?? 'Other'];
      p.packets += Number(r.packets);
      p.bytes += Number(r.bytes);
    }
  }
  const recent = await listAlerts(store, { range, source, limit: 20 });
  return { talkers, heavyHitters, spreaders, protocols, recent, tasks };
}

export function mountRoutes(app: ApiApp['app'], ctx: RouteContext): void {
  const { cfg, host, store } = ctx;
  const fail = (c: Context, e: unknown, status: 400 | 404 | 503 = 400) => {
    const bad = e instanceof QueryError;
    return c.json({ error: (e as Error).message }, bad ? 400 : status);
  };

  app.get('/api/flows', async (c) => {
    let q: FlowPageQuery;
    let view: { source?: string; start?: number; end?: number };
    try {
      const raw = params(c, ['limit', 'offset', 'sort', 'dir', 'proto', 'ip', 'port', 'source', 'start', 'end']);
      q = flowQuery(raw, cfg.api.maxLimit);
      // Store mode: the page's source and time range pick the records.
      view = { source: raw.source || ctx.source, ...timeRange(raw) };
      if (host && (raw.source || raw.start || raw.end)) throw new QueryError('source, start and end pick stored flow records; this server\'s flow table is its live engine\'s');
    } catch (e) {
      return fail(c, e);
    }
    if (host) {
      try {
        return c.json({ mode: 'live', ...(await host.flows(q)) });
      } catch (e) {
        // The engine names the parameter it refuses; anything else is the engine failing.
        const message = (e as Error).message;
        return c.json({ error: message }, /^(limit|offset|sort|dir|proto|ip|port)\b/.test(message) ? 400 : 503);
      }
    }
    if (!store) return c.json({ error: 'no engine and no store in this server: there is no flow table' }, 404);
    try {
      const r = await listFlowRecords(store, { ...q, source: view.source, from: view.start, to: view.end });
      return c.json({ mode: 'store', active: 0, matched: r.total, flows: r.flows });
    } catch (e) {
      return fail(c, e, 503);
    }
  });

  app.get('/api/counters', async (c) => {
    let q: Record<string, string>;
    let range: { start?: number; end?: number };
    let step: number;
    try {
      q = params(c, ['start', 'end', 'step']);
      range = timeRange(q);
      step = q.step ? wholeNumber(q.step, 'step', 1, MAX_STEP_S) : 1;
    } catch (e) {
      return fail(c, e);
    }
    if (!host) return c.json({ error: 'per-second counters are kept only beside a live engine, and this server has none; stored windows: /api/timeline' }, 404);
    try {
      const seconds = bucketSeconds(await host.seconds(range.start, range.end), step);
      return c.json({ step, historySeconds: cfg.console.history, seconds });
    } catch (e) {
      return fail(c, e, 503);
    }
  });

  app.get('/api/stats', async (c) => {
    try {
      params(c, []);
    } catch (e) {
      return fail(c, e);
    }
    const out: Record<string, unknown> = { mode: ctx.hub.mode, console: { ...ctx.hub.stats(), historySeconds: cfg.console.history, top: cfg.console.top, maxClients: cfg.console.maxClients } };
    if (host) {
      type Probe = { id: string; interface: string; batches: number; packets: number; captured: number; kernelDropped: number; interfaceDropped: number; probeDropped: number };
      const s = (await host.engine.stats().catch((e: Error) => ({ error: e.message }))) as {
        error?: string; batches?: number; packets?: number; duplicateBatches?: number; skippedPackets?: number; rejected?: Record<string, number>; probes?: Probe[];
      };
      const probes = s.probes ?? [];
      const sum = (k: 'kernelDropped' | 'interfaceDropped' | 'probeDropped') => probes.reduce((n, p) => n + p[k], 0);
      const lat = host.windowLatency;
      out.capture = {
        interfaces: [...new Set(probes.map((p) => p.interface))],
        snaplen: cfg.probe.snaplen,
        probes,
        drops: { kernel: sum('kernelDropped'), interface: sum('interfaceDropped'), probe: sum('probeDropped') },
      };
      out.engine = {
        backend: transportBackend().name,
        error: s.error,
        windowSeconds: cfg.window,
        windows: host.windows,
        batches: s.batches ?? 0,
        packets: s.packets ?? 0,
        duplicateBatches: s.duplicateBatches ?? 0,
        rejected: s.rejected ?? {},
        queuedBytes: host.engine.queuedBytes,
        windowLatencyMs: { count: lat.count, mean: lat.count ? lat.sumMs / lat.count : 0, last: lat.lastMs },
      };
    }
    if (ctx.storage) out.writer = { where: ctx.storage.where, ...ctx.storage.sink.stats() };
    if (store) {
      const h = await health(store).then((r) => ({ ok: true, ...r }), (e: Error) => ({ ok: false, error: e.message }));
      const tasks = await listTasks(store).catch(() => []);
      const sources = [...new Set(tasks.flatMap((t) => t.sources))].sort();
      const first = tasks.length ? tasks.reduce((m, t) => (t.firstWindowNs < m ? t.firstWindowNs : m), tasks[0].firstWindowNs) : null;
      const last = tasks.length ? tasks.reduce((m, t) => (t.lastWindowEndNs > m ? t.lastWindowEndNs : m), tasks[0].lastWindowEndNs) : null;
      out.store = { where: store.where, ...h, sources, source: ctx.source ?? null, fromMs: first === null ? null : msOf(first), toMs: last === null ? null : msOf(last) };
    }
    return c.json(out);
  });

  app.get('/api/timeline', async (c) => {
    if (!store) return c.json({ error: 'no store in this server: there is no stored timeline' }, 404);
    try {
      const q = params(c, ['start', 'end', 'source', 'limit']);
      const r = timeRange(q);
      const range: Range = { startNs: nsOf(r.start), endNs: nsOf(r.end) };
      const limit = q.limit ? wholeNumber(q.limit, 'limit', 1, cfg.api.maxLimit) : cfg.api.maxLimit;
      const filter = { source: q.source || ctx.source };
      const [packets, bytes] = await Promise.all([
        windowSeries(store, { range, metric: 'packets', filter, limit }),
        windowSeries(store, { range, metric: 'bytes', filter, limit }),
      ]);
      const b = new Map(bytes.map((p) => [p.startNs, p.value]));
      // The span the points cover (first start to last end), for rates and the page's range.
      const span = packets.length ? { fromMs: msOf(packets[0].startNs), toMs: msOf(packets.reduce((m, p) => (p.endNs > m ? p.endNs : m), 0n)) } : { fromMs: null, toMs: null };
      return c.json({ ...span, points: packets.map((p) => ({ t: msOf(p.startNs), packets: Number(p.value), bytes: Number(b.get(p.startNs) ?? 0n) })) });
    } catch (e) {
      return fail(c, e, 503);
    }
  });

  app.get('/api/summary', async (c) => {
    if (!store) return c.json({ error: 'no store in this server: there are no stored windows to summarize' }, 404);
    try {
      const q = params(c, ['start', 'end', 'source', 'top']);
      const r = timeRange(q);
      const top = q.top ? wholeNumber(q.top, 'top', 1, 1000) : cfg.console.top;
      const s = await storedSummary(store, { startNs: nsOf(r.start), endNs: nsOf(r.end) }, q.source || ctx.source, top, cfg.tasks.map((t) => t.name));
      const window = null;
      return c.json({
        tasks: s.tasks.map((t) => ({ name: t.name, type: t.type, key: t.key, windows: t.windows, fromMs: msOf(t.firstWindowNs), toMs: msOf(t.lastWindowEndNs) })),
        top_talkers: { window, lists: s.talkers } satisfies TopFrame,
        heavy_hitters: { window, lists: s.heavyHitters } satisfies TopFrame,
        spreaders: { window, lists: s.spreaders } satisfies TopFrame,
        protocols: { window, protocols: s.protocols } satisfies ProtocolsFrame,
        alerts: { rules: cfg.alerts.rules.length, active: [], recent: s.recent } satisfies AlertsFrame,
      });
    } catch (e) {
      return fail(c, e, 503);
    }
  });
}
