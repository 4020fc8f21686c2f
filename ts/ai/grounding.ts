// What a question is answered from: the query API's current data (top talkers, heavy hitters,
// spreaders, recent alerts) as compact tables for the prompt, and a summary of what went in.
// Each section stands alone: a call that fails costs only its section, which the prompt marks
// "unavailable: <reason>" so the model does not take missing data for quiet traffic.
import { create } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { ConnectError, Code, createClient, type CallOptions, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { GroundingSchema, GroundingSectionSchema, type Grounding, type GroundingSection } from '../gen/netspectra/v1/ai_pb.js';
import { FlowFilterSchema, QueryService, TimeRangeSchema, type FlowKey, type TaskInfo, type TimeRange } from '../gen/netspectra/v1/query_pb.js';
import { bytes } from '../report/units.js';
import { serviceName } from '../shared/index.js';

export type QueryClient = Client<typeof QueryService>;

/** A Connect client of the query API, with its bearer token when there is one. */
export function createQueryClient(url: string, token: string): QueryClient {
  const bearer: Interceptor = (next) => (req) => {
    if (token) req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
  return createClient(QueryService, createConnectTransport({ baseUrl: url, httpVersion: '1.1', interceptors: [bearer] }));
}

export interface GroundingRequest {
  query: QueryClient;
  /** Unset (or empty): the last hour, else everything stored. */
  range?: TimeRange;
  /** Rows of one writer only; empty: all. */
  source: string;
  signal: AbortSignal;
  /** Each call gives up after this long, so one slow call costs only its section. */
  callTimeoutMs: number;
  nowMs: number;
  /** Rows per table. */
  rows?: number;
}

export interface GroundingResult {
  /** For the stream's first message (the model is the caller's to fill). */
  summary: Grounding;
  /** The data part of the prompt. */
  prompt: string;
  /** Some call succeeded; else `failure` says why the first one did not. */
  reached: boolean;
  failure: string;
}

const HOUR_MS = 3_600_000;
const iso = (t: Timestamp | undefined) => (t ? new Date(timestampMs(t)).toISOString() : '');
const fields = (t: TaskInfo) => t.key.split(',').filter(Boolean);
/** "Method: reason (Code)", the reason cut short: store errors can run to a screenful. */
const failed = (method: string, e: unknown) => {
  const err = ConnectError.from(e);
  const why = err.rawMessage.length > 200 ? `${err.rawMessage.slice(0, 200)}...` : err.rawMessage;
  return `${method}: ${why} (${Code[err.code]})`;
};

/** Rows as "a | b | c" lines under their header: fewer tokens than padded columns. */
function compact(headers: string[], rows: string[][], empty = '(no rows)'): string {
  return rows.length ? [headers, ...rows].map((r) => r.join(' | ')).join('\n') : empty;
}

/** "10.0.0.1:51000 → 192.0.2.7:443 TCP https", with the fields the key holds. */
function flowText(k: FlowKey | undefined): string {
  if (!k) return '';
  const end = (ip: string, port: number) => (ip ? (port ? `${ip.includes(':') ? `[${ip}]` : ip}:${port}` : ip) : port ? `port ${port}` : '');
  const sides = [end(k.srcIp, k.srcPort), end(k.dstIp, k.dstPort)].filter(Boolean).join(' → ');
  const service = k.dstPort ? serviceName(k.protocol || undefined, k.dstPort) : undefined;
  return [sides, k.protocolName, service].filter(Boolean).join(' ');
}

/** The request's range; else the last hour; else, when nothing was stored in the last hour (an old
 * capture analysed today), every stored window, so the answer rests on data that exists. */
function chooseRange(requested: TimeRange | undefined, tasks: TaskInfo[] | null, nowMs: number): { range: TimeRange; note: string } {
  if (requested && (requested.start || requested.end)) return { range: requested, note: 'requested' };
  const stored = (tasks ?? []).filter((t) => t.firstWindow && t.lastWindowEnd);
  if (stored.length && !stored.some((t) => timestampMs(t.lastWindowEnd!) > nowMs - HOUR_MS)) {
    const start = Math.min(...stored.map((t) => timestampMs(t.firstWindow!)));
    const end = Math.max(...stored.map((t) => timestampMs(t.lastWindowEnd!)));
    return { range: create(TimeRangeSchema, { start: timestampFromMs(start), end: timestampFromMs(end) }), note: 'all stored windows (none in the last hour)' };
  }
  return { range: create(TimeRangeSchema, { start: timestampFromMs(nowMs - HOUR_MS), end: timestampFromMs(nowMs) }), note: 'last hour' };
}

interface Section {
  name: string;
  task: string;
  /** The QueryService method read, for error texts. */
  method: string;
  /** The section's heading line in the prompt. */
  title: string;
  /** The table and its row count; rejects when the call fails. Null: no call to make. */
  read: (() => Promise<{ rows: number; text: string }>) | null;
  /** Why there is no call to make. */
  missing?: string;
}

export async function gatherGrounding(g: GroundingRequest): Promise<GroundingResult> {
  const call: CallOptions = { signal: g.signal, timeoutMs: g.callTimeoutMs };
  const limit = g.rows ?? 10;
  const filter = create(FlowFilterSchema, { source: g.source });
  let reached = false;
  let failure = '';
  let tasks: TaskInfo[] | null = null;
  try {
    tasks = (await g.query.listTasks({}, call)).tasks.filter((t) => !g.source || t.sources.includes(g.source));
    reached = true;
  } catch (e) {
    failure = failed('ListTasks', e);
  }
  const { range, note } = chooseRange(g.range, tasks, g.nowMs);
  /** A task of the kind wanted, or why there is none. */
  const pick = (found: TaskInfo | undefined, what: string) => (tasks === null ? { missing: failure } : found ? { task: found } : { missing: `no ${what} is stored` });

  const sections: Section[] = [];
  // Top talkers: the exact task with the fewest key fields holding SrcIP, without distinct counts
  // if there is a choice (the cheapest to group; the sums are the same).
  const talkers = pick(tasks?.filter((t) => t.type === 'exact' && fields(t).includes('SrcIP'))
    .sort((a, b) => fields(a).length - fields(b).length || Number(a.second !== '') - Number(b.second !== ''))[0], 'exact task with SrcIP in its key');
  sections.push({
    name: 'top talkers', task: talkers.task?.name ?? '', method: 'AggregateFlows', missing: talkers.missing,
    title: `top talkers: sources by bytes${talkers.task ? ` (exact task ${talkers.task.name}, true sums)` : ''}`,
    read: talkers.task ? async () => {
      const r = await g.query.aggregateFlows({ task: talkers.task!.name, range, filter, groupBy: ['SrcIP'], orderBy: 'bytes', limit }, call);
      const rows = r.rows.map((x) => [x.key?.srcIp ?? '', String(x.packets), bytes(Number(x.bytes))]);
      return { rows: rows.length, text: `${compact(['source', 'packets', 'bytes'], rows)}\nall sources: ${r.totalGroups} hosts, ${r.totalPackets} packets, ${bytes(Number(r.totalBytes))}` };
    } : null,
  });
  const cm = pick(tasks?.find((t) => t.type === 'countmin'), 'Count-Min task');
  sections.push({
    name: 'heavy hitters', task: cm.task?.name ?? '', method: 'TopHeavyHitters', missing: cm.missing,
    title: `heavy hitters by bytes${cm.task ? ` (Count-Min task ${cm.task.name}, key ${cm.task.key}; sums of window estimates, never below the truth)` : ''}`,
    read: cm.task ? async () => {
      const r = await g.query.topHeavyHitters({ task: cm.task!.name, range, filter, by: 'bytes', limit }, call);
      const rows = r.rows.map((x) => [flowText(x.key), String(x.packets), bytes(Number(x.bytes)), String(x.windows)]);
      return { rows: rows.length, text: compact(['key', 'packets', 'bytes', 'windows'], rows) };
    } : null,
  });
  const spreads = tasks?.filter((t) => t.type === 'superspread') ?? [];
  if (spreads.length === 0) {
    sections.push({ name: 'spreaders', task: '', method: 'TopSpreaders', title: 'spreaders', read: null, missing: tasks === null ? failure : 'no SuperSpread task is stored' });
  }
  for (const t of spreads) {
    sections.push({
      name: `spreaders (${t.name})`, task: t.name, method: 'TopSpreaders',
      title: `spreaders: ${t.key} reaching many distinct ${t.second} (SuperSpread task ${t.name}; estimated distinct count, largest of one window)`,
      read: async () => {
        const r = await g.query.topSpreaders({ task: t.name, range, filter, limit }, call);
        const rows = r.rows.map((x) => [flowText(x.key), String(x.maxSpread), iso(x.maxWindow)]);
        return { rows: rows.length, text: compact(['key', 'distinct', 'in window starting'], rows, '(none at or over the task\'s threshold)') };
      },
    });
  }
  sections.push({
    name: 'largest flows', task: '', method: 'ListFlowRecords',
    title: 'largest flow records by bytes, with the name the client asked for (TLS/QUIC SNI, HTTP Host, DNS query) and where the responder is',
    read: async () => {
      const r = await g.query.listFlowRecords({ range, filter, sort: 'bytes', limit }, call);
      const end = (ip: string, port: number) => `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
      const where = (country: string, as: number, asName: string) => [country, as ? `AS${as}${asName ? ` ${asName}` : ''}` : ''].filter(Boolean).join(' ') || '-';
      const rows = r.records.map((f) => [
        `${end(f.srcIp, f.srcPort)} → ${end(f.dstIp, f.dstPort)} ${f.protoName}${f.service ? ` ${f.service}` : ''}`,
        f.serverName ? `${f.serverName} (${f.app})` : f.app || '-', where(f.dstCountry, f.dstAs, f.dstAsName),
        bytes(Number(f.bytesAToB + f.bytesBToA)),
      ]);
      return { rows: rows.length, text: compact(['flow', 'server name', 'responder country/AS', 'bytes'], rows) };
    },
  });
  sections.push({
    name: 'recent alerts', task: '', method: 'ListAlerts', title: 'recent alerts, newest first',
    read: async () => {
      const r = await g.query.listAlerts({ range, source: g.source, limit: 2 * limit }, call);
      const rows = r.alerts.map((a) => [iso(a.at), a.severity, a.state + (a.repeat ? ' (repeat)' : ''), a.rule, a.summary]);
      return { rows: rows.length, text: compact(['time', 'severity', 'state', 'rule', 'summary'], rows) };
    },
  });

  const done = await Promise.all(sections.map(async (s): Promise<{ s: Section; out: GroundingSection; text: string }> => {
    if (!s.read) return { s, out: create(GroundingSectionSchema, { name: s.name, task: s.task, error: s.missing ?? '' }), text: `unavailable: ${s.missing}` };
    try {
      const r = await s.read();
      reached = true;
      return { s, out: create(GroundingSectionSchema, { name: s.name, task: s.task, rows: r.rows }), text: r.text };
    } catch (e) {
      const why = failed(s.method, e);
      failure ||= why;
      return { s, out: create(GroundingSectionSchema, { name: s.name, task: s.task, error: why }), text: `unavailable: ${why}` };
    }
  }));

  const head = `NetSpectra data, windows starting from ${iso(range.start) || 'the first stored'} to ${iso(range.end) || 'the last stored'} (${note})` +
    `${g.source ? `, source ${g.source}` : ''}. An address "-" stands for packets without IP (ARP and the like).`;
  return {
    summary: create(GroundingSchema, { range, rangeNote: note, sections: done.map((d) => d.out) }),
    prompt: [head, ...done.map((d) => `## ${d.s.title}\n${d.text}`)].join('\n\n'),
    reached,
    failure,
  };
}
