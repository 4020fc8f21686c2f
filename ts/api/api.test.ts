// The query API end to end: every shared capture analysed into a real embedded store (chdb),
// then asked through Connect, gRPC and gRPC-web clients and over HTTP, against tshark's counts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect as connectHttp2 } from 'node:http2';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { loadBackend } from '../backend/index.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { AggregateFlowsRequestSchema, FlowFilterSchema, QueryService, TopHeavyHittersRequestSchema } from '../gen/netspectra/v1/query_pb.js';
import { openStore, openWindowStorage, type Store } from '../storage/index.js';
import { listFlowRecords, QueryError, type FlowRecordsRequest } from '../storage/queries.js';
import { flowOptions } from '../flows/options.js';
import type { FlowRecordJson } from '../flows/types.js';
import { taskOptions } from '../analyze/analyze-files.js';
import { transportBackend } from '../backend/index.js';
import { WindowedEngine } from '../engine/windowed-engine.js';
import { createApiApp } from './http.js';
import { LiveWindow } from './live.js';
import { createQueryService } from './service.js';
import { listen, type RunningServer } from './server.js';
import { flowRecordRows, storeCapture } from '../testing/captures.js';
import { serviceName } from '../shared/index.js';

const shared = join(process.cwd(), '..', 'shared');
const pcaps = join(shared, 'pcaps');
const oracles = join(shared, 'oracle');
const captures = existsSync(pcaps) ? readdirSync(pcaps).filter((f) => existsSync(join(oracles, `${f}.json`))).sort() : [];
const TOKEN = 'test-token-8f2c';

interface ConvRow { addrA: string; portA: number; addrB: string; portB: number; framesAtoB: number; bytesAtoB: number; framesBtoA: number; bytesBtoA: number }
interface Oracle { packets: number; bytes: number; conv: { tcp: ConvRow[]; udp: ConvRow[] } }
const oracle = (name: string) => JSON.parse(readFileSync(join(oracles, `${name}.json`), 'utf8')) as Oracle;

/** A TCP conversation of the pathspider capture: TraceFlow follows it, in windows and records. */
const traced = () => oracle('debian-pathspider-real.pcap').conv.tcp.find((x) => x.addrA === '10.64.94.141' && x.portA === 2182)!;

let madeFlows: FlowRecordJson[] | undefined;
/** The flow records the core makes of the pathspider capture (made once). */
function realFlows(): FlowRecordJson[] {
  if (madeFlows) return madeFlows;
  // As analyze makes them, so they match the records stored with the capture's windows.
  const analyzer = loadBackend().createAnalyzer({ flows: flowOptions(cfg.flows, hostname()) });
  analyzer.beginFile(join(pcaps, 'debian-pathspider-real.pcap'));
  assert.equal(analyzer.feed(readFileSync(join(pcaps, 'debian-pathspider-real.pcap'))), null);
  assert.equal(analyzer.endFile(), null);
  const text = analyzer.takeFlows?.(true);
  assert.ok(text, 'the backend makes flow records');
  return (madeFlows = JSON.parse(text) as FlowRecordJson[]);
}

/** Epoch seconds T + s as the core writes times. */
const T = 1_800_000_000;
const at = (s: number) => `${T + Math.floor(s)}.${String(Math.round((s % 1) * 1e9)).padStart(9, '0')}`;

function flow(over: Partial<Omit<FlowRecordJson, 'service'>>): FlowRecordJson {
  const r = {
    communityId: null, srcIp: '10.1.0.5', srcPort: 40000, dstIp: '192.0.2.10', dstPort: 443, proto: 6, protoName: 'TCP', firstTime: at(0), lastTime: at(10),
    packetsAtoB: 2, bytesAtoB: 100, packetsBtoA: 3, bytesBtoA: 1000, tcpFlagsAtoB: 'FIN,SYN,ACK', tcpFlagsBtoA: 'FIN,SYN,ACK', state: 'closed',
    reason: 'fin', probe: 'probe-1', interface: 'eth0', vlan: 0, direction: 'outbound', app: '', serverName: '', alpn: '',
    srcCountry: '', dstCountry: '', srcAs: 0, dstAs: 0, srcAsName: '', dstAsName: '', ...over,
  } as const;
  // As the core names it: the responder's port, else the initiator's.
  return { ...r, service: serviceName(r.proto, r.dstPort) ?? serviceName(r.proto, r.srcPort) ?? '' };
}

/** Stored flow records (source flows-test), each picked out by some filter of the tests. */
function storedFlows(): FlowRecordJson[] {
  const conv = { srcIp: '10.9.9.1', srcPort: 1111, dstIp: '10.9.9.2', dstPort: 2222, direction: 'local' as const, firstTime: at(100), lastTime: at(100.25) };
  return [
    flow({ communityId: '1:wCb3OG7yAFWelaUydu0D+125CLM=', app: 'TLS', serverName: 'www.Example.com', alpn: 'h2' }),
    flow({ srcIp: '10.1.0.6', srcPort: 40001, dstIp: '10.1.0.5', dstPort: 22, firstTime: at(5), lastTime: at(6), packetsAtoB: 10, bytesAtoB: 5000, packetsBtoA: 5, bytesBtoA: 50, direction: 'local', communityId: '1:3o/t5wSjQbgGyDYnJMbXdfFm6cE=' }),
    flow({ srcIp: '198.51.100.7', srcPort: 53, dstIp: '10.1.0.5', dstPort: 33333, proto: 17, protoName: 'UDP', firstTime: at(20), lastTime: at(20), packetsAtoB: 1, bytesAtoB: 80, packetsBtoA: 0, bytesBtoA: 0, tcpFlagsAtoB: '', tcpFlagsBtoA: '', state: 'active', reason: 'idleTimeout', direction: 'inbound', app: 'DNS', serverName: 'example.com' }),
    flow({ srcIp: '2001:db8::1', srcPort: 5353, dstIp: '2001:db8:1::2', dstPort: 5353, proto: 17, protoName: 'UDP', firstTime: at(30), lastTime: at(90.5), packetsAtoB: 4, bytesAtoB: 300, packetsBtoA: 4, bytesBtoA: 301, tcpFlagsAtoB: '', tcpFlagsBtoA: '', state: 'active', reason: 'activeTimeout', direction: 'external', vlan: 12 }),
    flow({ srcIp: '10.1.0.7', srcPort: 8, dstIp: '192.0.2.11', dstPort: 0, proto: 1, protoName: 'ICMP', firstTime: null, lastTime: null, packetsAtoB: 1, bytesAtoB: 64, packetsBtoA: 1, bytesBtoA: 64, tcpFlagsAtoB: '', tcpFlagsBtoA: '', state: 'active', reason: 'endOfInput' }),
    flow({ ...conv, bytesAtoB: 7000 }),
    // The same conversation's next slice, endpoint A the other side: TraceFlow finds it too.
    flow({ ...conv, srcIp: conv.dstIp, srcPort: conv.dstPort, dstIp: conv.srcIp, dstPort: conv.srcPort, firstTime: at(101), lastTime: at(102), bytesAtoB: 150 }),
    // Same addresses, another port: not the traced flow.
    flow({ ...conv, srcPort: conv.srcPort + 1, bytesAtoB: 120 }),
  ];
}

let dir: string;
let cfg: NetspectraConfig;
let store: Store;
let server: RunningServer;
type Query = Client<typeof QueryService>;
let clients: Record<'connect' | 'grpc' | 'grpcWeb', Query>;

const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set('authorization', `Bearer ${token}`);
  return next(req);
};

/** The alert stored for the packets route: one pathspider address over two minutes. */
const ALERT_HOST = '10.64.94.141';
const ALERT_START_MS = 1_353_690_039_000 + 600_000;
const ALERT_END_MS = ALERT_START_MS + 120_000;

// One store and one server for every test (a top-level hook would run before each).
describe('query API over the embedded store', () => {
  before(async () => {
    assert.ok(captures.length >= 39, `the shared captures in ${pcaps}`);
    dir = mkdtempSync(join(tmpdir(), 'netspectra-api-'));
    cfg = loadConfig({ overrides: { 'storage.path': dir, 'storage.source': '' } });
    const backend = loadBackend();
    for (const name of captures) {
      const storage = openWindowStorage(cfg.storage, { source: name, log: () => {} })!;
      await storeCapture(join(pcaps, name), cfg, storage, backend);
      const stats = await storage.close();
      assert.equal(stats.spillRows + stats.rowsLost, 0, `${name}: every row written`);
    }
    // An analysis of pathspider as `analyze` records it (where its file is), and an alert it
    // raised on one address over two minutes: GET /api/v1/pcap gives the alert's packets back.
    const alerted = openWindowStorage(cfg.storage, { source: 'analyze:pathspider-alerts', log: () => {} })!;
    alerted.addStats({ atMs: Date.now(), kind: 'analyze', packets: 62_781, bytes: 4_626_848, windows: 1, details: { files: [{ file: 'p.pcap', path: join(pcaps, 'debian-pathspider-real.pcap') }] } });
    for (const [state, end] of [['firing', ALERT_END_MS - 60_000], ['resolved', ALERT_END_MS]] as const) {
      const iso = (ms: number) => new Date(ms).toISOString();
      alerted.addAlert({
        id: 'pcap-alert', rule: 'busy_host', state, repeat: false, severity: 'warning', summary: 'busy host', description: '', task: 'src_ip', metric: 'packets',
        op: '>', threshold: 1, thresholdText: '1', value: 2, valueText: '2', key: { SrcIP: ALERT_HOST }, keyText: `SrcIP=${ALERT_HOST}`, labels: {},
        startsAt: iso(ALERT_START_MS + 60_000), endsAt: state === 'resolved' ? iso(end) : null, at: iso(end), windowStart: iso(end - 60_000), windowEnd: iso(end),
        source: 'analyze:pathspider-alerts',
      });
    }
    await alerted.close();
    const flows = openWindowStorage(cfg.storage, { source: 'flows-test', log: () => {} })!;
    flows.addRows(flowRecordRows('flows-test', storedFlows()));
    assert.equal((await flows.close()).rowsWritten, storedFlows().length);
    store = await openStore(cfg.storage);
    server = await listen(createApiApp({ store, maxLimit: 10_000, live: null, tokens: [TOKEN], log: () => {} }), '127.0.0.1', 0);
    const auth = [bearer(TOKEN)];
    clients = {
      connect: createClient(QueryService, createConnectTransport({ baseUrl: server.url, httpVersion: '1.1', interceptors: auth })),
      grpc: createClient(QueryService, createGrpcTransport({ baseUrl: server.url, interceptors: auth })),
      grpcWeb: createClient(QueryService, createGrpcWebTransport({ baseUrl: server.url, httpVersion: '1.1', interceptors: auth })),
    };
  });

  after(async () => {
    await server?.close();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const http = (path: string, init: RequestInit = {}, token = TOKEN) =>
    fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });

  test('GET /api/v1/pcap?alert=ID: the packets of the alert\'s key over its windows, from the capture its source was analysed from', async () => {
    const res = await http('/api/v1/pcap?alert=pcap-alert&format=pcap');
    assert.equal(res.status, 200, await res.clone().text());
    const b = Buffer.from(await res.arrayBuffer());
    // The same selection, by hand over the capture: the host's frames in the alert's windows.
    const input = readFileSync(join(pcaps, 'debian-pathspider-real.pcap'));
    const [from, to] = [BigInt(ALERT_START_MS) * 1_000_000n, BigInt(ALERT_END_MS) * 1_000_000n];
    let expected = 0;
    for (let at = 24; at < input.length; at += 16 + input.readUInt32LE(at + 8)) {
      const ns = BigInt(input.readUInt32LE(at)) * 1_000_000_000n + BigInt(input.readUInt32LE(at + 4)) * 1000n;
      const ip = input.subarray(at + 16 + 14);
      const touches = [ip.subarray(12, 16), ip.subarray(16, 20)].some((a) => a.join('.') === ALERT_HOST);
      if (input.readUInt16BE(at + 16 + 12) === 0x0800 && touches && ns >= from && ns < to) expected++;
    }
    let got = 0;
    for (let at = 24; at < b.length; at += 16 + b.readUInt32LE(at + 8)) got++;
    assert.ok(expected > 10, `${expected} packets expected`);
    assert.equal(got, expected);
    // The ExtractPackets stream on every protocol: the same bytes, then how it ended.
    for (const [name, client] of Object.entries(clients)) {
      const parts: Uint8Array[] = [];
      let summary;
      for await (const m of client.extractPackets({ alert: 'pcap-alert', format: 'pcap' })) {
        if (m.data.length) parts.push(m.data);
        if (m.summary) summary = m.summary;
      }
      assert.ok(Buffer.concat(parts).equals(b), `${name}: the same capture`);
      assert.equal(summary?.packetsWritten, BigInt(expected), name);
      assert.equal(summary?.limitReached, false);
      // Over its limit, the last message says so.
      let limited;
      for await (const m of client.extractPackets({ source: 'analyze:pathspider-alerts', ip: [ALERT_HOST], maxBytes: 4096n })) limited = m.summary ?? limited;
      assert.equal(limited?.limitReached, true, name);
      await assert.rejects(async () => {
        for await (const m of client.extractPackets({ alert: 'no-such-alert' })) void m;
      }, (e: ConnectError) => e.code === Code.NotFound && /no such alert is stored/.test(e.rawMessage));
      await assert.rejects(async () => {
        for await (const m of client.extractPackets({ source: 'analyze:pathspider-alerts', srcIp: ALERT_HOST, protocol: 'tcp' })) void m;
      }, (e: ConnectError) => e.code === Code.InvalidArgument && /a flow needs src_ip, dst_ip and protocol/.test(e.rawMessage));
    }
    const missing = await http('/api/v1/pcap?alert=no-such-alert');
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /alert "no-such-alert": no such alert is stored/);
    assert.equal((await http('/api/v1/pcap?alert=pcap-alert', {}, 'wrong-token')).status, 401);
  });

  test('every protocol reports the store healthy and lists the tasks with their coverage', async () => {
    for (const [name, c] of Object.entries(clients)) {
      const h = await c.health({});
      assert.ok(h.ok, `${name}: ${h.error}`);
      assert.ok(h.windows >= BigInt(captures.length), `${name}: one window per capture at least`);
      const tasks = await c.listTasks({});
      const src = tasks.tasks.find((t) => t.name === 'src_ip')!;
      assert.equal(src.type, 'exact');
      assert.equal(src.sources.length, captures.length, `${name}: src_ip stored for every capture`);
      assert.ok(src.firstWindow!.seconds < src.lastWindowEnd!.seconds);
    }
  });

  test('per capture, the stored totals equal tshark packets and bytes through all three protocols and HTTP', async () => {
    for (const name of captures) {
      const o = oracle(name);
      const filter = create(FlowFilterSchema, { source: name });
      for (const [proto, c] of Object.entries(clients)) {
        const r = await c.aggregateFlows({ task: 'src_ip', filter, limit: 1 });
        assert.equal(r.totalPackets, BigInt(o.packets), `${name} via ${proto}: packets`);
        assert.equal(r.totalBytes, BigInt(o.bytes), `${name} via ${proto}: bytes`);
      }
      const res = await http(`/api/v1/flows?task=src_ip&source=${encodeURIComponent(name)}&limit=1`);
      assert.equal(res.status, 200);
      const j = (await res.json()) as { totalPackets: string; totalBytes: string };
      assert.deepEqual([Number(j.totalPackets), Number(j.totalBytes)], [o.packets, o.bytes], `${name} over HTTP`);
    }
  });

  test('TCP conversations from the stored 5-tuple rows, paged, equal tshark per direction', async () => {
    const name = 'debian-pathspider-real.pcap';
    const filter = create(FlowFilterSchema, { source: name, protocol: 'tcp' });
    const rows: { key: string; packets: number; bytes: number }[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const r = await clients.connect.aggregateFlows({ task: 'heavy_flows_exact', filter, limit: 2000, pageToken, orderBy: 'SrcIP', ascending: true });
      for (const x of r.rows) rows.push({ key: `${x.key!.srcIp} ${x.key!.srcPort} ${x.key!.dstIp} ${x.key!.dstPort}`, packets: Number(x.packets), bytes: Number(x.bytes) });
      pageToken = r.nextPageToken;
      pages++;
    } while (pageToken);
    assert.ok(pages > 1, 'the rows came in several pages');
    const stored = new Map(rows.map((r) => [r.key, r]));
    assert.equal(stored.size, rows.length, 'no row on two pages');
    // tshark splits a reused 4-tuple into several streams: sum them per direction.
    const want = new Map<string, { packets: number; bytes: number }>();
    const add = (k: string, packets: number, bytes: number) => {
      const w = want.get(k) ?? { packets: 0, bytes: 0 };
      want.set(k, { packets: w.packets + packets, bytes: w.bytes + bytes });
    };
    for (const c of oracle(name).conv.tcp) {
      if (c.framesAtoB) add(`${c.addrA} ${c.portA} ${c.addrB} ${c.portB}`, c.framesAtoB, c.bytesAtoB);
      if (c.framesBtoA) add(`${c.addrB} ${c.portB} ${c.addrA} ${c.portA}`, c.framesBtoA, c.bytesBtoA);
    }
    assert.equal(stored.size, want.size, 'one stored row per TCP direction tshark saw');
    for (const [k, w] of want) assert.deepEqual({ packets: stored.get(k)?.packets, bytes: stored.get(k)?.bytes }, w, k);
  });

  test('TraceFlow follows one conversation in both directions, as tshark counts it', async () => {
    const c = oracle('debian-pathspider-real.pcap').conv.tcp.find((x) => x.addrA === '10.64.94.141' && x.portA === 2182)!;
    for (const client of Object.values(clients)) {
      const r = await client.traceFlow({ flow: { srcIp: c.addrA, dstIp: c.addrB, srcPort: c.portA, dstPort: c.portB, protocolName: 'tcp' }, bothDirections: true });
      assert.ok(r.found);
      assert.equal(r.task, 'heavy_flows_exact');
      assert.deepEqual([r.packets, r.bytes, r.reversePackets, r.reverseBytes].map(Number), [c.framesAtoB, c.bytesAtoB, c.framesBtoA, c.bytesBtoA]);
      assert.equal(r.windows.length, 1);
      assert.ok(r.firstSeen!.seconds <= r.lastSeen!.seconds);
    }
  });

  test('stored flow records come back as the core emitted them, filtered, sorted and paged', async () => {
    const all = storedFlows();
    const q = (over: Partial<FlowRecordsRequest>) => listFlowRecords(store, { source: 'flows-test', sort: 'bytes', dir: 'desc', limit: 100, offset: 0, ...over });
    const ports = async (over: Partial<FlowRecordsRequest>) => (await q(over)).flows.map((f) => f.srcPort);
    const everything = await q({});
    assert.equal(everything.total, all.length);
    const total = (f: FlowRecordJson) => f.bytesAtoB + f.bytesBtoA;
    assert.deepEqual(everything.flows, [...all].sort((a, b) => total(b) - total(a)), 'the same records, largest first');
    assert.deepEqual(await ports({ ip: '10.1.0.0/24', sort: 'first', dir: 'asc' }), [40000, 40001, 53, 8], 'either endpoint in the network; no time sorts last');
    assert.deepEqual(await ports({ ip: '2001:db8::/32' }), [5353]);
    assert.deepEqual(await ports({ ip: '10.1.0.5', srcIp: '10.1.0.6' }), [40001]);
    assert.deepEqual(await ports({ port: 53 }), [53]);
    assert.deepEqual(await ports({ port: 33333 }), [53], 'either port');
    assert.deepEqual(await ports({ dstPort: 22 }), [40001]);
    assert.deepEqual(await ports({ proto: 17, sort: 'packets', dir: 'asc' }), [53, 5353]);
    assert.deepEqual(await ports({ direction: 'inbound' }), [53]);
    assert.deepEqual(await ports({ communityId: '1:3o/t5wSjQbgGyDYnJMbXdfFm6cE=' }), [40001]);
    // Server names: exact (any case), or a domain and every name under it.
    assert.deepEqual(await ports({ serverName: 'WWW.example.com' }), [40000]);
    assert.deepEqual(await ports({ serverName: '*.example.com' }), [40000, 53]);
    assert.deepEqual(await ports({ serverName: 'xample.com' }), []);
    assert.deepEqual(await ports({ sort: 'duration', limit: 2 }), [5353, 40000]);
    // Overlapping [T+5.5 s, T+25 s): ends at or after the start, begins before the end.
    assert.deepEqual(await ports({ from: (T + 5.5) * 1000, to: (T + 25) * 1000, sort: 'first', dir: 'asc' }), [40000, 40001, 53]);
    const page = await q({ sort: 'first', dir: 'asc', limit: 2, offset: 1 });
    assert.equal(page.total, all.length, 'the total counts every match, not the page');
    assert.deepEqual(page.flows.map((f) => [f.srcPort, f.firstTime]), [[40001, at(5)], [53, at(20)]]);
    // Equal first times are ordered by the addresses and ports.
    assert.deepEqual(await ports({ ip: '10.9.9.0/24', sort: 'first', dir: 'asc' }), [1111, 1112, 2222]);
    assert.deepEqual((await q({ source: 'no-such-source' })).total, 0);
  });

  test('flow record queries refuse bad parameters, naming them', async () => {
    const base: FlowRecordsRequest = { sort: 'bytes', dir: 'desc', limit: 10, offset: 0 };
    for (const [over, message] of [
      [{ ip: '10.1.0.0/33' }, /^ip: prefix length in "10.1.0.0\/33" must be 0..32$/],
      [{ srcIp: 'example.com' }, /^srcIp: "example.com" is not an IP address or CIDR$/],
      [{ port: 70_000 }, /^port: 70000 is not a port \(0..65535\)$/],
      [{ proto: 300 }, /^proto: 300 is not a protocol number \(0..255\)$/],
      [{ communityId: 'abc' }, /^communityId: "abc" is not a Community ID \(1:<base64>\)$/],
      [{ direction: 'up' }, /^direction: "up" is not one of inbound, outbound, local, external$/],
      [{ sort: 'size' }, /^sort: "size" is not one of bytes, packets, first, last, duration$/],
      [{ dir: 'up' }, /^dir: "up" is not asc or desc$/],
      [{ limit: 0 }, /^limit: 0 is not an integer of at least 1$/],
      [{ offset: -1 }, /^offset: -1 is not an integer of at least 0$/],
      [{ from: Number.NaN }, /^from: NaN is not a time \(epoch milliseconds\)$/],
      [{ from: 2000, to: 1000 }, /^range: the end must be after the start$/],
    ] as [Partial<FlowRecordsRequest>, RegExp][]) {
      await assert.rejects(listFlowRecords(store, { ...base, ...over } as FlowRecordsRequest), (e: Error) => {
        assert.ok(e instanceof QueryError, `${JSON.stringify(over)}: a QueryError`);
        assert.match(e.message, message);
        return true;
      });
    }
  });

  test('ListFlowRecords on every protocol and over HTTP: names, paging, bad requests', async () => {
    for (const [proto, c] of Object.entries(clients)) {
      const r = await c.listFlowRecords({ filter: { source: 'flows-test', protocol: 'udp' }, sort: 'first', dir: 'asc' });
      assert.equal(r.total, 2n, proto);
      assert.deepEqual(r.records.map((x) => [x.srcIp, x.srcPort, x.protoName, x.firstTime, x.packetsAToB, x.communityId]), [
        ['198.51.100.7', 53, 'UDP', at(20), 1n, undefined],
        ['2001:db8::1', 5353, 'UDP', at(30), 4n, undefined],
      ], proto);
    }
    const pages: number[][] = [];
    let pageToken = '';
    do {
      const r = await clients.connect.listFlowRecords({ filter: { source: 'flows-test' }, sort: 'first', dir: 'asc', limit: 3, pageToken });
      pages.push(r.records.map((x) => x.srcPort));
      pageToken = r.nextPageToken;
    } while (pageToken);
    assert.deepEqual(pages.map((p) => p.length), [3, 3, 2]);
    const direct = await listFlowRecords(store, { source: 'flows-test', sort: 'first', dir: 'asc', limit: 100, offset: 0 });
    assert.deepEqual(pages.flat(), direct.flows.map((f) => f.srcPort), 'every record once, in order');
    await assert.rejects(clients.grpc.listFlowRecords({ direction: 'sideways' }), (e: ConnectError) => e.code === Code.InvalidArgument && /direction: "sideways" is not one of/.test(e.rawMessage));
    await assert.rejects(clients.grpc.listFlowRecords({ filter: { protocol: 'tcpp' } }), (e: ConnectError) => e.code === Code.InvalidArgument && /protocol: "tcpp" is not a protocol name/.test(e.rawMessage));

    const res = await http(`/api/v1/flow-records?source=flows-test&ip=${encodeURIComponent('10.1.0.0/24')}&sort=first&dir=asc&limit=2`);
    assert.equal(res.status, 200);
    const j = (await res.json()) as { total: string; nextPageToken: string; records: Record<string, unknown>[] };
    assert.equal(j.total, '4');
    assert.ok(j.nextPageToken);
    // The core's JSON names (proto3 JSON: 64-bit counts as text, empty fields left out).
    assert.deepEqual(j.records[0], {
      communityId: '1:wCb3OG7yAFWelaUydu0D+125CLM=', srcIp: '10.1.0.5', srcPort: 40000, dstIp: '192.0.2.10', dstPort: 443, proto: 6, protoName: 'TCP', service: 'https',
      firstTime: at(0), lastTime: at(10), packetsAtoB: '2', bytesAtoB: '100', packetsBtoA: '3', bytesBtoA: '1000', tcpFlagsAtoB: 'FIN,SYN,ACK',
      tcpFlagsBtoA: 'FIN,SYN,ACK', state: 'closed', reason: 'fin', probe: 'probe-1', interface: 'eth0', direction: 'outbound',
      app: 'TLS', serverName: 'www.Example.com', alpn: 'h2',
      // The same times in RFC 3339, as every other time of the API.
      firstSeen: new Date(T * 1000).toISOString().replace('.000Z', 'Z'), lastSeen: new Date((T + 10) * 1000).toISOString().replace('.000Z', 'Z'),
    });
    // The CLI's names (order_by, asc) ask for the same page.
    const cliNames = (await (await http(`/api/v1/flow-records?source=flows-test&ip=${encodeURIComponent('10.1.0.0/24')}&order_by=first&asc&limit=2`)).json()) as typeof j;
    assert.deepEqual(cliNames.records, j.records);
    const next = (await (await http(`/api/v1/flow-records?source=flows-test&ip=${encodeURIComponent('10.1.0.0/24')}&sort=first&dir=asc&limit=2&page_token=${j.nextPageToken}`)).json()) as typeof j;
    assert.deepEqual(next.records.map((r) => r.srcPort), [53, 8]);
    const byId = (await (await http('/api/v1/flow-records?community_id=1%3A3o%2Ft5wSjQbgGyDYnJMbXdfFm6cE%3D&direction=local')).json()) as typeof j;
    assert.deepEqual(byId.records.map((r) => r.srcPort), [40001]);
    const byName = (await (await http('/api/v1/flow-records?source=flows-test&server_name=*.example.com&order_by=first&asc')).json()) as typeof j;
    assert.deepEqual(byName.records.map((r) => r.serverName), ['www.Example.com', 'example.com']);
    const post = await http('/api/v1/flow-records', { method: 'POST', body: JSON.stringify({ filter: { source: 'flows-test', port: 22 } }) });
    assert.deepEqual(((await post.json()) as typeof j).records.map((r) => r.dstPort), [22]);
    for (const [path, message] of [
      ['/api/v1/flow-records?direction=up', /direction: "up" is not one of inbound, outbound, local, external/],
      ['/api/v1/flow-records?community_id=abc', /communityId: "abc" is not a Community ID/],
      ['/api/v1/flow-records?server_name=a*b', /serverName: "a\*b" is not a name or \*.domain/],
      ['/api/v1/flow-records?sort=size', /sort: "size" is not one of bytes, packets, first, last, duration/],
      ['/api/v1/flow-records?port=x', /port: "x" is not a whole number/],
      ['/api/v1/flow-records?task=src_ip', /unknown parameter "task"|request: /],
    ] as const) {
      const r = await http(path);
      assert.equal(r.status, 400, path);
      assert.match(((await r.json()) as { error: string }).error, message, path);
    }
  });

  test('TraceFlow also returns the flow records of the traced flow, in either orientation', async () => {
    const flow = { srcIp: '10.9.9.1', dstIp: '10.9.9.2', srcPort: 1111, dstPort: 2222, protocolName: 'tcp' };
    for (const client of Object.values(clients)) {
      const r = await client.traceFlow({ flow, bothDirections: true });
      assert.equal(r.found, false, 'no window holds it');
      assert.deepEqual(r.records.map((x) => [x.srcIp, x.srcPort, x.dstIp, x.dstPort, x.firstTime]), [
        ['10.9.9.1', 1111, '10.9.9.2', 2222, at(100)],
        ['10.9.9.2', 2222, '10.9.9.1', 1111, at(101)],
      ]);
      // First and last seen are the records' exact times, not window edges.
      assert.deepEqual([r.firstSeen?.seconds, r.firstSeen?.nanos, r.lastSeen?.seconds, r.lastSeen?.nanos], [BigInt(T + 100), 0, BigInt(T + 102), 0]);
    }
    const later = await clients.connect.traceFlow({ flow, bothDirections: true, range: { start: { seconds: BigInt(T + 100), nanos: 500_000_000 } } });
    assert.deepEqual(later.records.map((x) => x.firstTime), [at(101)], 'only records overlapping the range');
    const res = await http('/api/v1/trace?src_ip=10.9.9.1&dst_ip=10.9.9.2&src_port=1111&dst_port=2222&protocol=tcp&both=1');
    assert.equal(((await res.json()) as { records: unknown[] }).records.length, 2);
  });

  test('the flow records analyze stores with a capture come back as the core made them; TraceFlow\'s records add up to its windows and to tshark', async () => {
    const made = realFlows();
    const back = await listFlowRecords(store, { source: 'debian-pathspider-real.pcap', sort: 'first', dir: 'asc', limit: 100_000, offset: 0 });
    assert.equal(back.total, made.length);
    const canonical = (rs: FlowRecordJson[]) => rs.map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(canonical(back.flows), canonical(made));
    const c = traced();
    const r = await clients.connect.traceFlow({ flow: { srcIp: c.addrA, dstIp: c.addrB, srcPort: c.portA, dstPort: c.portB, protocolName: 'tcp' }, bothDirections: true });
    assert.ok(r.records.length > 0);
    const sums = [0, 0, 0, 0];
    for (const x of r.records) {
      const forward = x.srcIp === c.addrA && x.srcPort === c.portA;
      const counts = [x.packetsAToB, x.bytesAToB, x.packetsBToA, x.bytesBToA].map(Number);
      (forward ? counts : [counts[2], counts[3], counts[0], counts[1]]).forEach((v, i) => (sums[i] += v));
    }
    assert.deepEqual(sums, [c.framesAtoB, c.bytesAtoB, c.framesBtoA, c.bytesBtoA], 'as tshark counts the conversation');
    assert.deepEqual(sums, [r.packets, r.bytes, r.reversePackets, r.reverseBytes].map(Number), 'as the exact task counts it');
  });

  test('heavy hitters and spreaders agree with the exact tasks stored beside them', async () => {
    const filter = create(FlowFilterSchema, { source: 'debian-pathspider-real.pcap' });
    const cm = await clients.grpc.topHeavyHitters({ task: 'heavy_flows', by: 'bytes', limit: 5, filter });
    const exact = await clients.grpc.topHeavyHitters({ task: 'heavy_flows_exact', by: 'bytes', limit: 5, filter });
    assert.equal(cm.type, 'countmin');
    assert.equal(exact.type, 'exact');
    assert.deepEqual(cm.rows[0].key, exact.rows[0].key, 'the same heaviest flow');
    assert.ok(cm.rows[0].bytes >= exact.rows[0].bytes, 'Count-Min never under-estimates');
    const ss = await clients.grpcWeb.topSpreaders({ task: 'scanners', limit: 3 });
    const truth = await clients.grpcWeb.topSpreaders({ task: 'scanners_exact', limit: 3 });
    assert.equal(ss.type, 'superspread');
    assert.ok(truth.rows.length > 0 && truth.rows[0].maxSpread > 0n);
    // IPv4 comes back as a dotted quad.
    assert.match(truth.rows[0].key!.srcIp, /^\d+\.\d+\.\d+\.\d+$|:/);
  });

  test('bad requests are refused with the reason, on every protocol and over HTTP', async () => {
    const cases: [string, Parameters<Query['aggregateFlows']>[0], RegExp][] = [
      ['unknown task', { task: 'no_such_task' }, /unknown task "no_such_task"; stored tasks: .*src_ip/],
      ['inverted range', { task: 'src_ip', range: { start: { seconds: 2000n }, end: { seconds: 1000n } } }, /range: the end must be after the start/],
      ['bad CIDR', { task: 'src_ip', filter: { ip: '10.1.2.0/33' } }, /prefix length in "10.1.2.0\/33" must be 0..32/],
      ['not an address', { task: 'src_ip', filter: { ip: 'example.com' } }, /"example.com" is not an IP address or CIDR/],
      ['huge limit', { task: 'src_ip', limit: 5_000_000 }, /limit: 5000000 is more than the largest allowed, 10000/],
      ['field outside the key', { task: 'src_ip', groupBy: ['DstPort'] }, /has no DstPort/],
      ['foreign page token', { task: 'src_ip', pageToken: 'eyJvIjo1LCJkIjoieCJ9' }, /pageToken: not a token this query returned/],
      ['sketch task', { task: 'heavy_flows' }, /countmin task; AggregateFlows reads exact tasks/],
      ['unknown protocol', { task: 'heavy_flows_exact', filter: { protocol: 'tcpp' } }, /protocol: "tcpp" is not a protocol name \(.*TCP.*\) or number 0..255/],
    ];
    for (const [what, req, message] of cases) {
      for (const [proto, c] of Object.entries(clients)) {
        await assert.rejects(c.aggregateFlows(req), (e: ConnectError) => {
          assert.equal(e.code, Code.InvalidArgument, `${what} via ${proto}`);
          assert.match(e.rawMessage, message, `${what} via ${proto}`);
          return true;
        });
      }
    }
    for (const [path, message] of [
      ['/api/v1/flows?task=src_ip&ip=300.1.1.1', /not an IP address/],
      ['/api/v1/flows?task=src_ip&limit=abc', /limit: "abc" is not a whole number/],
      ['/api/v1/flows?task=src_ip&start=yesterday', /start: "yesterday" is not an RFC 3339 time/],
      ['/api/v1/flows?task=src_ip&bogus=1', /unknown parameter "bogus"/],
      ['/api/v1/heavy-hitters?task=heavy_flows&by=flows', /by: "flows" is not packets or bytes/],
    ] as const) {
      const r = await http(path);
      assert.equal(r.status, 400, path);
      assert.match(((await r.json()) as { error: string }).error, message, path);
    }
  });

  test('a wrong or missing token is refused on every route', async () => {
    for (const transport of [
      createConnectTransport({ baseUrl: server.url, httpVersion: '1.1', interceptors: [bearer('wrong')] }),
      createGrpcTransport({ baseUrl: server.url }),
    ]) {
      await assert.rejects(createClient(QueryService, transport).health({}), (e: ConnectError) => e.code === Code.Unauthenticated);
    }
    assert.equal((await http('/api/v1/tasks', {}, 'wrong')).status, 401);
    assert.equal((await fetch(`${server.url}/grafana/search`, { method: 'POST' })).status, 401);
  });

  test('HTTP/2 without TLS (prior knowledge) reaches the HTTP routes on the same port', async () => {
    const session = connectHttp2(server.url);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':path': '/api/v1/tasks', authorization: `Bearer ${TOKEN}` });
        let text = '';
        req.setEncoding('utf8');
        req.on('response', (h) => (h[':status'] === 200 ? undefined : reject(new Error(`status ${h[':status']}`))));
        req.on('data', (c: string) => (text += c));
        req.on('end', () => resolve(text));
        req.on('error', reject);
      });
      assert.ok((JSON.parse(body) as { tasks: { name: string }[] }).tasks.some((t) => t.name === 'src_ip'));
    } finally {
      session.close();
    }
  });

  test('Grafana: search lists the series, query returns them per window over the range', async () => {
    const search = (await (await http('/grafana/search', { method: 'POST', body: '{}' })).json()) as string[];
    assert.ok(search.includes('packets') && search.includes('src_ip.bytes'));
    const r = await http('/grafana/query', {
      method: 'POST',
      body: JSON.stringify({ range: { from: '2012-11-23T00:00:00Z', to: '2012-11-24T00:00:00Z' }, targets: [{ target: 'packets', refId: 'A' }, { target: 'src_ip.bytes', refId: 'B', payload: { ip: '10.64.88.105' } }] }),
    });
    assert.equal(r.status, 200);
    const series = (await r.json()) as { target: string; datapoints: [number, number][] }[];
    const packets = series[0].datapoints.reduce((a, [v]) => a + v, 0);
    assert.equal(packets, oracle('debian-pathspider-real.pcap').packets, 'the one capture of that day');
    assert.ok(series[1].datapoints.length > 0 && series[1].datapoints[0][1] >= Date.parse('2012-11-23T00:00:00Z'));
    const bad = await http('/grafana/query', { method: 'POST', body: JSON.stringify({ range: { from: 'x', to: 'y' }, targets: [] }) });
    assert.equal(bad.status, 400);
  });

  test('live queries read the window an engine has open, over its worker threads, while it keeps counting', async () => {
    const name = 'debian-pathspider-real.pcap';
    const batcher = transportBackend().createPacketBatcher({ probeId: 'p', interface: 'file', partitions: 1, batchPackets: 1000, seed: cfg.seed });
    assert.equal(batcher.addCapture(readFileSync(join(pcaps, name))), null);
    const messages = batcher.take(true, { captured: 0, kernelDropped: 0, interfaceDropped: 0, probeDropped: 0 }, 0).map((b) => b.message);
    // One window for the whole stream: it stays open until the end.
    const engine = new WindowedEngine({ seed: cfg.seed, windowSeconds: 0, top: 10, tasks: cfg.tasks.map(taskOptions), threads: 2, source: 'live-test' });
    try {
      const half = Math.floor(messages.length / 2);
      await Promise.all(messages.slice(0, half).map((m) => engine.submit(m)));
      const live = new LiveWindow(store, () => engine.peek(), 'live-test');
      const service = createQueryService({ store, maxLimit: 10_000, live });
      const first = await service.aggregateFlows(create(AggregateFlowsRequestSchema, { task: 'src_ip', live: true, limit: 3 }));
      assert.ok(first.totalPackets > 0n && first.totalPackets < BigInt(oracle(name).packets), 'half the capture so far');
      await Promise.all(messages.slice(half).map((m) => engine.submit(m)));
      await new Promise((r) => setTimeout(r, 1100));
      const all = await service.aggregateFlows(create(AggregateFlowsRequestSchema, { task: 'src_ip', live: true, limit: 3 }));
      assert.equal(all.totalPackets, BigInt(oracle(name).packets), 'every packet once the rest arrived');
      assert.equal(all.rows[0].key!.srcIp, '10.64.88.105');
      const top = await service.topHeavyHitters(create(TopHeavyHittersRequestSchema, { task: 'heavy_flows', live: true, limit: 1 }));
      assert.equal(top.type, 'countmin');
      assert.equal(top.rows.length, 1);
      const stored = await clients.connect.aggregateFlows({ task: 'src_ip', filter: { source: 'live-test' } });
      assert.equal(stored.totalPackets, 0n, 'the live window is not among the stored ones');
      await assert.rejects(
        createQueryService({ store, maxLimit: 10, live: null }).aggregateFlows(create(AggregateFlowsRequestSchema, { task: 'src_ip', live: true })),
        /no engine runs in this server/,
      );
    } finally {
      await engine.stop();
    }
  });
});
