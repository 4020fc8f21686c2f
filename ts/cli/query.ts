// `netspectra query ...`: the API through its Connect client, printed as a table or JSON.
import { create, toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { timestampFromMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import {
  AggregateFlowsRequestSchema, AggregateFlowsResponseSchema, FlowFilterSchema, FlowKeySchema, HealthResponseSchema, ListTasksResponseSchema,
  QueryService, TimeRangeSchema, TopHeavyHittersRequestSchema, TopHeavyHittersResponseSchema, TopSpreadersRequestSchema,
  TopSpreadersResponseSchema, TraceFlowRequestSchema, TraceFlowResponseSchema, ListAlertsRequestSchema, ListAlertsResponseSchema, type FlowKey,
  ListFlowRecordsRequestSchema, ListFlowRecordsResponseSchema, type FlowRecord,
} from '../gen/netspectra/v1/query_pb.js';
import { KEY_FIELDS, type KeyField, type NetspectraConfig } from '../config/index.js';
import { extraFieldTexts } from '../report/key-text.js';
import { table } from '../report/table.js';
import { bytes, duration, grouped } from '../report/units.js';
import { apiTokens } from '../api/settings.js';
import { portText } from '../shared/index.js';

export type QueryValues = Record<string, string | boolean | undefined>;

class ArgError extends Error {}

function time(v: string | boolean | undefined, name: string): Timestamp | undefined {
  if (typeof v !== 'string') return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(ms)) throw new ArgError(`--${name}: "${v}" is not an RFC 3339 time or epoch milliseconds`);
  return timestampFromMs(ms);
}

function int(v: string | boolean | undefined, name: string): number | undefined {
  if (typeof v !== 'string') return undefined;
  if (!/^\d+$/.test(v)) throw new ArgError(`--${name}: "${v}" is not a non-negative integer`);
  return Number(v);
}

function str(v: string | boolean | undefined): string {
  return typeof v === 'string' ? v : '';
}

/** Each key field's column: its header, and whether it is a number. */
const KEY_COLUMNS: Record<KeyField, [string, boolean]> = {
  SrcIP: ['src', false], DstIP: ['dst', false], SrcPrefix: ['src net', false], DstPrefix: ['dst net', false],
  SrcAS: ['src AS', false], DstAS: ['dst AS', false], SrcCountry: ['src cc', false], DstCountry: ['dst cc', false],
  App: ['app', false], ServerName: ['server name', false], SrcPort: ['sport', true], DstPort: ['dport', true],
  Protocol: ['proto', false], ICMPType: ['icmp type', true], ICMPCode: ['icmp code', true], TCPFlags: ['flags', false],
  DSCP: ['dscp', false], VLAN: ['vlan', true], Direction: ['direction', false], Interface: ['interface', false],
};

/** A key's fields as text, by field name (the other fields as the report writes them). */
function keyTexts(k: FlowKey): Record<string, string | undefined> {
  const proto = k.protocol || undefined;
  return {
    SrcIP: k.srcIp, DstIP: k.dstIp, SrcPort: portText(proto, k.srcPort), DstPort: portText(proto, k.dstPort), Protocol: k.protocolName,
    ...extraFieldTexts(k),
  };
}

/** Stored flow records, one line each: A→B with the counts of both directions. */
function recordTable(records: FlowRecord[]): string {
  const ns = (t: string | undefined) => (t ? BigInt(t.replace('.', '')) : null);
  const span = (r: FlowRecord) => {
    const [a, b] = [ns(r.firstTime), ns(r.lastTime)];
    return a !== null && b !== null ? duration(Number(b - a)) : '';
  };
  const first = (r: FlowRecord) => (r.firstTime ? new Date(Number(ns(r.firstTime)! / 1_000_000n)).toISOString() : '');
  return table(
    ['first', 'duration', 'proto', 'service', 'server name', 'src', 'sport', 'dst', 'dport', 'direction', 'packets A→B', 'bytes A→B', 'packets B→A', 'bytes B→A', 'state', 'end'],
    records.map((r) => [
      first(r), span(r), r.protoName || String(r.proto), r.service || '-', r.serverName || (r.app ? `(${r.app})` : '-'), r.srcIp, String(r.srcPort), r.dstIp, String(r.dstPort), r.direction,
      grouped(Number(r.packetsAToB)), bytes(Number(r.bytesAToB)), grouped(Number(r.packetsBToA)), bytes(Number(r.bytesBToA)), r.state, r.reason,
    ]),
    [false, true, false, false, false, false, true, false, true, false, true, true, true, true, false, false],
  );
}


function when(t: Timestamp | undefined): string {
  return t ? new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)).toISOString() : '';
}

/** A column per field the keys hold, in key order. */
function keyTable(extraHeaders: string[], rows: { key?: FlowKey; cells: string[] }[], extraNumeric: boolean[]): string {
  const held = new Set(rows.flatMap((r) => r.key?.fields ?? []));
  const fields = KEY_FIELDS.filter((f) => held.has(f));
  return table(
    [...fields.map((f) => KEY_COLUMNS[f][0]), ...extraHeaders],
    rows.map((r) => {
      const texts = r.key ? keyTexts(r.key) : {};
      return [...fields.map((f) => texts[f] ?? ''), ...r.cells];
    }),
    [...fields.map((f) => KEY_COLUMNS[f][1]), ...extraNumeric],
  );
}

export async function queryCommand(what: string | undefined, values: QueryValues, cfg: NetspectraConfig): Promise<number> {
  const url = str(values.url) || cfg.api.url || `http://${cfg.api.host.includes(':') ? `[${cfg.api.host}]` : cfg.api.host}:${cfg.api.port}`;
  const token = str(values.token) || process.env.NETSPECTRA_API_TOKEN || apiTokens(cfg)[0] || '';
  const bearer: Interceptor = (next) => (req) => {
    if (token) req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
  const client = createClient(QueryService, createConnectTransport({ baseUrl: url, httpVersion: '1.1', interceptors: [bearer] }));
  const range = create(TimeRangeSchema, { start: time(values.start, 'start'), end: time(values.end, 'end') });
  const filter = create(FlowFilterSchema, {
    ip: str(values.ip), srcIp: str(values['src-ip']), dstIp: str(values['dst-ip']), port: int(values.port, 'port'),
    srcPort: int(values['src-port'], 'src-port'), dstPort: int(values['dst-port'], 'dst-port'), protocol: str(values.protocol),
    source: str(values.source),
  });
  const out = <D extends DescMessage>(schema: D, msg: MessageShape<D>, text: () => string) => {
    process.stdout.write(values.json ? JSON.stringify(toJson(schema, msg), null, 2) + '\n' : text() + '\n');
  };
  const common = { task: str(values.task), range, limit: int(values.limit, 'limit') ?? 0, live: Boolean(values.live) };
  try {
    switch (what) {
      case 'health': {
        const r = await client.health({});
        out(HealthResponseSchema, r, () => (r.ok ? `ok: ${r.store}, ClickHouse ${r.version}, ${grouped(Number(r.windows))} windows stored${r.live ? ', live engine' : ''}` : `not ok: ${r.store}: ${r.error}`));
        return r.ok ? 0 : 1;
      }
      case 'tasks': {
        const r = await client.listTasks({});
        out(ListTasksResponseSchema, r, () =>
          table(['task', 'type', 'key', 'second', 'windows', 'from', 'to'],
            r.tasks.map((t) => [t.name, t.type, t.key, t.second, grouped(Number(t.windows)), when(t.firstWindow), when(t.lastWindowEnd)]),
            [false, false, false, false, true, false, false]));
        return 0;
      }
      case 'aggregate': {
        const r = await client.aggregateFlows(create(AggregateFlowsRequestSchema, {
          ...common, filter, groupBy: str(values['group-by']).split(',').filter(Boolean), orderBy: str(values['order-by']),
          ascending: Boolean(values.asc), pageToken: str(values['page-token']),
        }));
        out(AggregateFlowsResponseSchema, r, () =>
          keyTable(['packets', 'bytes', 'windows'], r.rows.map((x) => ({ key: x.key, cells: [grouped(Number(x.packets)), bytes(Number(x.bytes)), grouped(Number(x.windows))] })), [true, true, true]) +
          `\n${grouped(Number(r.totalGroups))} groups, ${grouped(Number(r.totalPackets))} packets, ${bytes(Number(r.totalBytes))} in all` +
          (r.nextPageToken ? `\nnext page: --page-token ${r.nextPageToken}` : ''));
        return 0;
      }
      case 'trace': {
        const r = await client.traceFlow(create(TraceFlowRequestSchema, {
          task: str(values.task), range, bothDirections: Boolean(values.both),
          flow: create(FlowKeySchema, { srcIp: str(values['src-ip']), dstIp: str(values['dst-ip']), srcPort: int(values['src-port'], 'src-port') ?? 0, dstPort: int(values['dst-port'], 'dst-port') ?? 0, protocolName: str(values.protocol) }),
        }));
        out(TraceFlowResponseSchema, r, () =>
          !r.found ? `flow not found in task ${r.task}` :
            `task ${r.task}: first seen ${when(r.firstSeen)}, last seen ${when(r.lastSeen)}; ${grouped(Number(r.packets))} packets, ${bytes(Number(r.bytes))}` +
            (values.both ? `; reverse ${grouped(Number(r.reversePackets))} packets, ${bytes(Number(r.reverseBytes))}` : '') + '\n' +
            table(['window', 'packets', 'bytes', 'rev packets', 'rev bytes'],
              r.windows.map((w) => [when(w.windowStart), grouped(Number(w.packets)), bytes(Number(w.bytes)), grouped(Number(w.reversePackets)), bytes(Number(w.reverseBytes))]),
              [false, true, true, true, true]));
        return 0;
      }
      case 'top': {
        const r = await client.topHeavyHitters(create(TopHeavyHittersRequestSchema, { ...common, filter, by: str(values.by) }));
        out(TopHeavyHittersResponseSchema, r, () =>
          `${r.task} (${r.type}${r.type === 'countmin' ? ': sums of window estimates' : ''})\n` +
          keyTable(['packets', 'bytes', 'windows'], r.rows.map((x) => ({ key: x.key, cells: [grouped(Number(x.packets)), bytes(Number(x.bytes)), grouped(Number(x.windows))] })), [true, true, true]));
        return 0;
      }
      case 'spreaders': {
        const r = await client.topSpreaders(create(TopSpreadersRequestSchema, { ...common, filter }));
        out(TopSpreadersResponseSchema, r, () =>
          `${r.task} (${r.type}: largest spread of one window)\n` +
          keyTable(['spread', 'in window', 'windows'], r.rows.map((x) => ({ key: x.key, cells: [grouped(Number(x.maxSpread)), when(x.maxWindow), grouped(Number(x.windows))] })), [true, false, true]));
        return 0;
      }
      case 'alerts': {
        const r = await client.listAlerts(create(ListAlertsRequestSchema, {
          range, rule: str(values.rule), state: str(values.state), minSeverity: str(values.severity), limit: common.limit,
        }));
        out(ListAlertsResponseSchema, r, () =>
          r.alerts.length === 0
            ? 'no alerts'
            : table(
                ['at', 'state', 'severity', 'alert'],
                r.alerts.map((a) => [when(a.at), a.repeat ? 'firing (repeat)' : a.state, a.severity, a.summary]),
                [false, false, false, false],
              ),
        );
        return 0;
      }
      case 'flow-records': {
        const r = await client.listFlowRecords(create(ListFlowRecordsRequestSchema, {
          range, filter, sort: str(values['order-by']), dir: values.asc ? 'asc' : 'desc', limit: common.limit, pageToken: str(values['page-token']),
          communityId: str(values['community-id']), direction: str(values.direction), serverName: str(values['server-name']),
        }));
        out(ListFlowRecordsResponseSchema, r, () =>
          (r.records.length ? recordTable(r.records) + '\n' : '') + `${grouped(Number(r.total))} records match` +
          (r.nextPageToken ? `\nnext page: --page-token ${r.nextPageToken}` : ''));
        return 0;
      }
      default:
        throw new ArgError(`query needs one of health, tasks, aggregate, trace, top, spreaders, alerts, flow-records${what ? `, not "${what}"` : ''}`);
    }
  } catch (e) {
    if (e instanceof ConnectError) {
      process.stderr.write(`netspectra: query ${what}: ${e.rawMessage} (${url}: ${Code[e.code]})\n`);
      return e.code === Code.InvalidArgument ? 2 : 1;
    }
    if (e instanceof ArgError) {
      process.stderr.write(`netspectra: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

