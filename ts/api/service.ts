// The QueryService (proto/netspectra/v1/query.proto) over the store, and over the live window
// of an in-process engine. Connect, gRPC, gRPC-web and the HTTP/JSON routes all call it.
import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { TimestampSchema, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import type { SelectionText } from '../extract/index.js';
import { packetChunks, PacketsError, planPackets } from './pcap.js';
import {
  AggregateFlowsResponseSchema, AlertSchema, EnrichmentSchema, ListAlertsResponseSchema, FlowAggregateSchema, FlowKeySchema, FlowWindowSchema, HealthResponseSchema, HeavyHitterSchema,
  ListTasksResponseSchema, SpreaderSchema, TaskInfoSchema, TopHeavyHittersResponseSchema, TopSpreadersResponseSchema,
  TraceFlowResponseSchema, type AggregateFlowsRequest, type AggregateFlowsResponse, type FlowFilter, type HealthResponse,
  type ListTasksResponse, type TimeRange, type TopHeavyHittersRequest, type TopHeavyHittersResponse, type TopSpreadersRequest,
  type TopSpreadersResponse, type TraceFlowRequest, type TraceFlowResponse, type ListAlertsRequest, type ListAlertsResponse,
  FlowRecordSchema, ListFlowRecordsResponseSchema, type ListFlowRecordsRequest, type ListFlowRecordsResponse,
  ExtractPacketsResponseSchema, type ExtractPacketsRequest, type ExtractPacketsResponse,
} from '../gen/netspectra/v1/query_pb.js';
import type { FlowRecordJson } from '../flows/types.js';
import type { KeyField } from '../config/index.js';

/** The fields a flow is traced by. */
const FLOW_FIELDS: KeyField[] = ['SrcIP', 'DstIP', 'SrcPort', 'DstPort', 'Protocol'];
import type { Store } from '../storage/index.js';
import {
  aggregateFlows, findTask, health, listAlerts, listFlowRecords, listTasks, protocolNumber, QueryError, topHeavyHitters, topSpreaders,
  traceFlow, traceFlowRecords, type Filter, type FlowRecordsRequest, type Key, type Range, type TaskInfo,
} from '../storage/queries.js';
import type { AlertEvent } from '../shared/index.js';
import type { LiveWindow } from './live.js';
import { limitError } from './query-pool.js';

const DEFAULT_LIMIT = 100;

function tsFromNs(ns: bigint): Timestamp {
  // Seconds rounded down, so that nanos stay within 0..999,999,999 before 1970 too.
  const seconds = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  return create(TimestampSchema, { seconds, nanos: Number(ns - seconds * 1_000_000_000n) });
}

/** Nanoseconds of a flow record's time, the core's exact text "seconds.nanoseconds". */
function nsFromCoreTime(text: string): bigint {
  const negative = text.startsWith('-');
  const [s, f = ''] = (negative ? text.slice(1) : text).split('.');
  const ns = BigInt(s) * 1_000_000_000n + BigInt(`${f}000000000`.slice(0, 9));
  return negative ? -ns : ns;
}

function nsFromTs(t: Timestamp): bigint {
  return t.seconds * 1_000_000_000n + BigInt(t.nanos);
}

const LAST_NS = 2n ** 63n - 1n;

function range(r: TimeRange | undefined): Range {
  const out = { startNs: r?.start ? nsFromTs(r.start) : undefined, endNs: r?.end ? nsFromTs(r.end) : undefined };
  for (const [name, ns] of [['range.start', out.startNs], ['range.end', out.endNs]] as const) {
    if (ns !== undefined && (ns < 0n || ns > LAST_NS)) throw new QueryError(`${name}: outside 1970-01-01..2262-04-11`);
  }
  return out;
}

function filter(f: FlowFilter | undefined): Filter | undefined {
  if (!f) return undefined;
  return { ip: f.ip, srcIp: f.srcIp, dstIp: f.dstIp, port: f.port, srcPort: f.srcPort, dstPort: f.dstPort, protocol: f.protocol, source: f.source };
}

/** A stored flow record as the API's message (the same names in JSON). */
export function flowRecordMessage(r: FlowRecordJson) {
  return create(FlowRecordSchema, {
    communityId: r.communityId ?? undefined, srcIp: r.srcIp, srcPort: r.srcPort, dstIp: r.dstIp, dstPort: r.dstPort, proto: r.proto,
    protoName: r.protoName, service: r.service, firstTime: r.firstTime ?? undefined, lastTime: r.lastTime ?? undefined,
    firstSeen: r.firstTime ? tsFromNs(nsFromCoreTime(r.firstTime)) : undefined, lastSeen: r.lastTime ? tsFromNs(nsFromCoreTime(r.lastTime)) : undefined,
    packetsAToB: BigInt(r.packetsAtoB),
    bytesAToB: BigInt(r.bytesAtoB), packetsBToA: BigInt(r.packetsBtoA), bytesBToA: BigInt(r.bytesBtoA), tcpFlagsAToB: r.tcpFlagsAtoB,
    tcpFlagsBToA: r.tcpFlagsBtoA, state: r.state, reason: r.reason, probe: r.probe, interface: r.interface, vlan: r.vlan, direction: r.direction,
    app: r.app, serverName: r.serverName, alpn: r.alpn,
    srcCountry: r.srcCountry, dstCountry: r.dstCountry, srcAs: r.srcAs, dstAs: r.dstAs, srcAsName: r.srcAsName, dstAsName: r.dstAsName,
  });
}

/** Epoch milliseconds of a Timestamp (fractions kept: the query rounds to the microsecond). */
function msFromTs(t: Timestamp | undefined): number | undefined {
  return t ? Number(t.seconds) * 1000 + t.nanos / 1e6 : undefined;
}

/** A digest of the request without its paging, so a page token fits only its query. */
function requestDigest(req: object): string {
  return createHash('sha256').update(JSON.stringify({ ...req, pageToken: '', limit: 0 }, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).digest('hex').slice(0, 16);
}

function flowKey(k: Key) {
  return create(FlowKeySchema, k);
}

/** Query problems are the caller's (InvalidArgument), a query past its limits too (DeadlineExceeded,
 * ResourceExhausted); anything else is the store's (Unavailable). */
function asConnectError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  if (e instanceof QueryError) return new ConnectError(e.message, Code.InvalidArgument);
  const limited = limitError(e);
  if (limited) return limited;
  return new ConnectError(`store: ${(e as Error).message}`, Code.Unavailable);
}

export interface QueryContext {
  store: Store;
  /** Packets back (ExtractPackets, GET /api/v1/pcap): the folders of persisted captures and
   * the largest download; default: none, 256 MiB. */
  pcap?: { captures: string[]; maxBytes: number };
  /** The store health reads, outside the query pool (it answers while queries run); default: store. */
  healthStore?: Store;
  maxLimit: number;
  live: LiveWindow | null;
}

/** A page token carries the offset and a digest of the request, so it fits only its query. */
function pageToken(offset: number, digest: string): string {
  return Buffer.from(JSON.stringify({ o: offset, d: digest })).toString('base64url');
}

function readPageToken(token: string, digest: string): number {
  if (!token) return 0;
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o: unknown; d: unknown };
    if (Number.isSafeInteger(t.o) && (t.o as number) >= 0 && t.d === digest) return t.o as number;
  } catch {
    // Falls through to the error below.
  }
  throw new QueryError('pageToken: not a token this query returned');
}

export function packetsSettings(ctx: QueryContext): { captures: string[]; maxBytes: number } {
  return { captures: ctx.pcap?.captures ?? [], maxBytes: ctx.pcap?.maxBytes ?? 256 * 1024 ** 2 };
}

/** A Timestamp as RFC 3339 with its nanoseconds. */
function rfc3339(t: Timestamp | undefined): string | undefined {
  if (!t) return undefined;
  return `${new Date(Number(t.seconds) * 1000).toISOString().slice(0, 19)}.${String(t.nanos).padStart(9, '0')}Z`;
}

/** The selection of an ExtractPackets request (unset fields left out). */
function packetsText(req: ExtractPacketsRequest): SelectionText {
  const text = (v: string) => v || undefined;
  return {
    srcIp: text(req.srcIp), srcPort: req.srcPort === undefined ? undefined : String(req.srcPort), dstIp: text(req.dstIp),
    dstPort: req.dstPort === undefined ? undefined : String(req.dstPort), protocol: text(req.protocol), communityId: text(req.communityId),
    ip: req.ip.length ? req.ip.join(',') : undefined, bpf: text(req.bpf), start: rfc3339(req.start), end: rfc3339(req.end), format: text(req.format),
    maxSize: req.maxBytes ? String(req.maxBytes) : undefined,
  };
}

/** The service's methods (a Connect ServiceImpl of QueryService). */
export interface QueryHandlers {
  health(req?: unknown): Promise<HealthResponse>;
  listTasks(req?: unknown): Promise<ListTasksResponse>;
  aggregateFlows(req: AggregateFlowsRequest): Promise<AggregateFlowsResponse>;
  traceFlow(req: TraceFlowRequest): Promise<TraceFlowResponse>;
  topHeavyHitters(req: TopHeavyHittersRequest): Promise<TopHeavyHittersResponse>;
  topSpreaders(req: TopSpreadersRequest): Promise<TopSpreadersResponse>;
  listAlerts(req: ListAlertsRequest): Promise<ListAlertsResponse>;
  listFlowRecords(req: ListFlowRecordsRequest): Promise<ListFlowRecordsResponse>;
  extractPackets(req: ExtractPacketsRequest, context: HandlerContext): AsyncGenerator<ExtractPacketsResponse>;
}

function tsFromIso(t: string | null): Timestamp | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return create(TimestampSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
}

/** An alert event as the API's message. */
export function alertMessage(e: AlertEvent) {
  return create(AlertSchema, {
    id: e.id, rule: e.rule, state: e.state, repeat: e.repeat, severity: e.severity, summary: e.summary, description: e.description,
    task: e.task, metric: e.metric, op: e.op, threshold: e.threshold, thresholdText: e.thresholdText, value: e.value,
    valueText: e.valueText, key: e.key, keyText: e.keyText, labels: e.labels, startsAt: tsFromIso(e.startsAt),
    endsAt: tsFromIso(e.endsAt), at: tsFromIso(e.at), windowStart: tsFromIso(e.windowStart), windowEnd: tsFromIso(e.windowEnd),
    source: e.source, enrichment: e.enrichment ? create(EnrichmentSchema, e.enrichment) : undefined, enrichmentNote: e.enrichmentNote ?? '',
  });
}


export function createQueryService(ctx: QueryContext): QueryHandlers {
  const limitOf = (limit: number) => {
    if (limit > ctx.maxLimit) throw new QueryError(`limit: ${limit} is more than the largest allowed, ${ctx.maxLimit}`);
    return limit || DEFAULT_LIMIT;
  };
  /** The database to read: the stored windows, or the live window's copy. */
  const source = async (live: boolean): Promise<string> => {
    if (!live) return ctx.store.database;
    if (!ctx.live) throw new QueryError('live: no engine runs in this server (start serve with --nats)');
    await ctx.live.refresh();
    return ctx.live.database;
  };
  const task = async (name: string, db: string, live: boolean): Promise<TaskInfo> => {
    if (live && ctx.live) return ctx.live.task(name);
    return findTask(ctx.store, name, db);
  };
  const guard = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    try {
      return await f(...a);
    } catch (e) {
      throw asConnectError(e);
    }
  };

  return {
    health: guard(async () => {
      try {
        const h = await health(ctx.healthStore ?? ctx.store);
        return create(HealthResponseSchema, { ok: true, store: ctx.store.where, version: h.version, windows: BigInt(h.windows), live: ctx.live !== null });
      } catch (e) {
        return create(HealthResponseSchema, { ok: false, store: ctx.store.where, error: (e as Error).message, live: ctx.live !== null });
      }
    }),

    listTasks: guard(async () => {
      const tasks = await listTasks(ctx.store);
      return create(ListTasksResponseSchema, {
        tasks: tasks.map((t) =>
          create(TaskInfoSchema, {
            name: t.name, type: t.type, key: t.keyText, second: t.second, firstWindow: tsFromNs(t.firstWindowNs),
            lastWindowEnd: tsFromNs(t.lastWindowEndNs), windows: BigInt(t.windows), sources: t.sources,
          }),
        ),
      });
    }),

    aggregateFlows: guard(async (req: AggregateFlowsRequest) => {
      const db = await source(req.live);
      const info = await task(req.task, db, req.live);
      const limit = limitOf(req.limit);
      const digest = requestDigest(req);
      const offset = readPageToken(req.pageToken, digest);
      const out = await aggregateFlows(ctx.store, {
        task: info, range: req.live ? undefined : range(req.range), filter: filter(req.filter), groupBy: req.groupBy as KeyField[],
        orderBy: req.orderBy, ascending: req.ascending, limit, offset,
      }, db);
      const next = offset + out.rows.length < out.totals.groups ? pageToken(offset + out.rows.length, digest) : '';
      return create(AggregateFlowsResponseSchema, {
        rows: out.rows.map((r) =>
          create(FlowAggregateSchema, {
            key: flowKey(r.key), packets: r.packets, bytes: r.bytes, distinct: r.distinct, windows: BigInt(r.windows),
            firstWindow: tsFromNs(r.firstWindowNs), lastWindowEnd: tsFromNs(r.lastWindowEndNs),
          }),
        ),
        nextPageToken: next,
        totalPackets: out.totals.packets,
        totalBytes: out.totals.bytes,
        totalGroups: BigInt(out.totals.groups),
      });
    }),

    traceFlow: guard(async (req: TraceFlowRequest) => {
      let info: TaskInfo | undefined;
      if (req.task) {
        info = await findTask(ctx.store, req.task);
      } else {
        const tasks = await listTasks(ctx.store);
        info = tasks.find((t) => t.type === 'exact' && FLOW_FIELDS.every((f) => t.key.includes(f))) ?? tasks.find((t) => t.type === 'exact' && t.key.length > 1);
        if (!info) throw new QueryError('task: no exact task keyed by the flow fields is stored; name one');
      }
      const f = req.flow;
      const trace = {
        task: info,
        range: range(req.range),
        flow: {
          srcIp: f?.srcIp || undefined, dstIp: f?.dstIp || undefined, srcPort: f?.srcPort, dstPort: f?.dstPort,
          protocol: f ? (f.protocolName || (f.protocol ? String(f.protocol) : undefined)) : undefined,
        },
        bothDirections: req.bothDirections,
        limit: ctx.maxLimit,
      };
      const windows = await traceFlow(ctx.store, trace);
      const records = await traceFlowRecords(ctx.store, trace);
      const sum = (pick: (w: (typeof windows)[number]) => bigint) => windows.reduce((a, w) => a + pick(w), 0n);
      const seen = windows.filter((w) => w.packets > 0n || w.reversePackets > 0n);
      // The records' exact times where there are records; the windows' edges otherwise.
      const firsts = records.flatMap((r) => (r.firstTime ? [nsFromCoreTime(r.firstTime)] : []));
      const lasts = records.flatMap((r) => (r.lastTime ? [nsFromCoreTime(r.lastTime)] : []));
      const least = (xs: bigint[]) => xs.reduce((a, b) => (b < a ? b : a));
      const most = (xs: bigint[]) => xs.reduce((a, b) => (b > a ? b : a));
      const firstNs = firsts.length ? least(firsts) : seen.length ? seen[0].startNs : null;
      const lastNs = lasts.length ? most(lasts) : seen.length ? seen[seen.length - 1].endNs : null;
      return create(TraceFlowResponseSchema, {
        task: info.name,
        found: seen.length > 0,
        firstSeen: firstNs === null ? undefined : tsFromNs(firstNs),
        lastSeen: lastNs === null ? undefined : tsFromNs(lastNs),
        packets: sum((w) => w.packets),
        bytes: sum((w) => w.bytes),
        reversePackets: sum((w) => w.reversePackets),
        reverseBytes: sum((w) => w.reverseBytes),
        windows: windows.map((w) =>
          create(FlowWindowSchema, {
            windowStart: tsFromNs(w.startNs), windowEnd: tsFromNs(w.endNs), packets: w.packets, bytes: w.bytes,
            reversePackets: w.reversePackets, reverseBytes: w.reverseBytes,
          }),
        ),
        records: records.map(flowRecordMessage),
      });
    }),

    topHeavyHitters: guard(async (req: TopHeavyHittersRequest) => {
      const db = await source(req.live);
      const info = await task(req.task, db, req.live);
      const by = req.by || 'packets';
      if (by !== 'packets' && by !== 'bytes') throw new QueryError(`by: "${req.by}" is not packets or bytes`);
      const rows = await topHeavyHitters(ctx.store, { task: info, range: req.live ? undefined : range(req.range), filter: filter(req.filter), by, limit: limitOf(req.limit) }, db);
      return create(TopHeavyHittersResponseSchema, {
        task: info.name,
        type: info.type,
        rows: rows.map((r) => create(HeavyHitterSchema, { key: flowKey(r.key), packets: r.packets, bytes: r.bytes, windows: BigInt(r.windows) })),
      });
    }),

    topSpreaders: guard(async (req: TopSpreadersRequest) => {
      const db = await source(req.live);
      const info = await task(req.task, db, req.live);
      const rows = await topSpreaders(ctx.store, { task: info, range: req.live ? undefined : range(req.range), filter: filter(req.filter), limit: limitOf(req.limit) }, db);
      return create(TopSpreadersResponseSchema, {
        task: info.name,
        type: info.type,
        rows: rows.map((r) => create(SpreaderSchema, { key: flowKey(r.key), maxSpread: r.maxSpread, maxWindow: tsFromNs(r.maxWindowNs), windows: BigInt(r.windows) })),
      });
    }),

    listAlerts: guard(async (req: ListAlertsRequest) => {
      const alerts = await listAlerts(ctx.store, {
        range: range(req.range), rule: req.rule, state: req.state, minSeverity: req.minSeverity, source: req.source, limit: limitOf(req.limit),
      });
      return create(ListAlertsResponseSchema, { alerts: alerts.map(alertMessage) });
    }),

    listFlowRecords: guard(async (req: ListFlowRecordsRequest) => {
      const limit = limitOf(req.limit);
      const digest = requestDigest(req);
      const offset = readPageToken(req.pageToken, digest);
      const f = req.filter;
      const q: FlowRecordsRequest = {
        from: msFromTs(req.range?.start), to: msFromTs(req.range?.end), source: f?.source || undefined, ip: f?.ip || undefined,
        srcIp: f?.srcIp || undefined, dstIp: f?.dstIp || undefined, port: f?.port, srcPort: f?.srcPort, dstPort: f?.dstPort,
        proto: f?.protocol ? protocolNumber(f.protocol) : undefined, communityId: req.communityId || undefined, direction: req.direction || undefined,
        serverName: req.serverName || undefined,
        sort: (req.sort || 'bytes') as FlowRecordsRequest['sort'], dir: (req.dir || 'desc') as FlowRecordsRequest['dir'], limit, offset,
      };
      const out = await listFlowRecords(ctx.store, q);
      return create(ListFlowRecordsResponseSchema, {
        records: out.flows.map(flowRecordMessage),
        total: BigInt(out.total),
        nextPageToken: offset + out.flows.length < out.total ? pageToken(offset + out.flows.length, digest) : '',
      });
    }),
    extractPackets: async function* (req: ExtractPacketsRequest, context: HandlerContext) {
      let plan;
      try {
        plan = await planPackets({ store: ctx.store, ...packetsSettings(ctx) }, packetsText(req), { source: req.source, alert: req.alert }, (k) =>
          k === 'maxSize' ? 'max_bytes' : k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
      } catch (e) {
        if (e instanceof PacketsError) throw new ConnectError(e.message, Code[e.code]);
        throw asConnectError(e);
      }
      for await (const part of packetChunks(plan, context.signal)) {
        if (part instanceof Uint8Array) {
          yield create(ExtractPacketsResponseSchema, { data: part });
          continue;
        }
        const s = part.stats;
        yield create(ExtractPacketsResponseSchema, {
          summary: { packetsRead: BigInt(s.framesRead), packetsWritten: BigInt(s.framesWritten), bytesWritten: BigInt(s.bytesWritten), files: part.files.length, limitReached: s.limitReached },
        });
      }
    },
  };
}
