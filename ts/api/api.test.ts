// The query API end to end: every shared capture analysed into a real embedded store (chdb),
// then asked through Connect, gRPC and gRPC-web clients and over HTTP, against tshark's counts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect as connectHttp2 } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { analyzeFiles } from '../analyze/analyze-files.js';
import { loadBackend } from '../backend/index.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { AggregateFlowsRequestSchema, FlowFilterSchema, QueryService, TopHeavyHittersRequestSchema } from '../gen/netspectra/v1/query_pb.js';
import { openStore, openWindowStorage, type Store } from '../storage/index.js';
import { taskOptions } from '../analyze/analyze-files.js';
import { transportBackend } from '../backend/index.js';
import { WindowedEngine } from '../engine/windowed-engine.js';
import { createApiApp } from './http.js';
import { LiveWindow } from './live.js';
import { createQueryService } from './service.js';
import { listen, type RunningServer } from './server.js';

const shared = join(process.cwd(), '..', 'shared');
const pcaps = join(shared, 'pcaps');
const oracles = join(shared, 'oracle');
const captures = existsSync(pcaps) ? readdirSync(pcaps).filter((f) => existsSync(join(oracles, `${f}.json`))).sort() : [];
const TOKEN = 'test-token-8f2c';

interface ConvRow { addrA: string; portA: number; addrB: string; portB: number; framesAtoB: number; bytesAtoB: number; framesBtoA: number; bytesBtoA: number }
interface Oracle { packets: number; bytes: number; conv: { tcp: ConvRow[]; udp: ConvRow[] } }
const oracle = (name: string) => JSON.parse(readFileSync(join(oracles, `${name}.json`), 'utf8')) as Oracle;

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

// One store and one server for every test (a top-level hook would run before each).
describe('query API over the embedded store', () => {
  before(async () => {
    assert.ok(captures.length >= 39, `the shared captures in ${pcaps}`);
    dir = mkdtempSync(join(tmpdir(), 'netspectra-api-'));
    cfg = loadConfig({ overrides: { 'storage.path': dir, 'storage.source': '' } });
    const backend = loadBackend();
    for (const name of captures) {
      const storage = openWindowStorage(cfg.storage, { source: name, replaceSource: true, log: () => {} })!;
      analyzeFiles([join(pcaps, name)], { backend, config: cfg, onWindows: (s) => s.forEach((w) => storage.addWindow(w)) });
      const stats = await storage.close();
      assert.equal(stats.spillRows + stats.rowsLost, 0, `${name}: every row written`);
    }
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
      ['/api/v1/flows?task=src_ip&limit=abc', /limit: "abc" is not a non-negative integer/],
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
    const engine = new WindowedEngine({ seed: cfg.seed, windowSeconds: 0, top: 10, tasks: cfg.tasks.map(taskOptions), workers: 2 });
    try {
      const half = Math.floor(messages.length / 2);
      await Promise.all(messages.slice(0, half).map((m) => engine.submit(m)));
      const live = new LiveWindow(store, async () => (await engine.peek())?.snapshot ?? null, 'live-test');
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
