// The flow export against real receivers: a local HTTP server (failing, refusing, silent, slow),
// a real nats-server, and the JSON Lines store writer (the embedded store is tested with the
// queries, in ts/api/api.test.ts, as a process holds one chdb session).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { loadBackend } from '../backend/index.js';
import { defaultConfig, type FlowsConfig } from '../config/index.js';
import { openWindowStorage } from '../storage/index.js';
import { NatsServer } from '../transport/nats-server.js';
import { createFlowExport, FlowExport, jsonArrays, NATS_MAX_MESSAGE, type FlowExportDeps } from './export.js';
import type { FlowRecordJson } from './types.js';
import { flowRecordRows } from '../testing/captures.js';

/** A record told apart by its source port. */
function record(i: number, over: Partial<FlowRecordJson> = {}): FlowRecordJson {
  return {
    communityId: '1:LQU9qZlK+B5F3KDmev6m5PMibrg=', srcIp: '10.0.0.1', srcPort: 1024 + i, dstIp: '192.0.2.7', dstPort: 443, proto: 6, protoName: 'TCP', service: 'https',
    firstTime: '1700000000.000000001', lastTime: '1700000001.500000000', packetsAtoB: 10, bytesAtoB: 1500, packetsBtoA: 8, bytesBtoA: 9000,
    tcpFlagsAtoB: 'FIN,SYN,ACK', tcpFlagsBtoA: 'FIN,SYN,ACK', state: 'closed', reason: 'fin', probe: 'probe-1', interface: 'eth0', vlan: 0,
    direction: 'outbound', app: 'TLS', serverName: 'www.example.com', alpn: 'h2',
    srcCountry: '', dstCountry: 'US', srcAs: 0, dstAs: 64500, srcAsName: '', dstAsName: 'Example Net', ...over,
  };
}

const records = (n: number, from = 0) => Array.from({ length: n }, (_, i) => record(from + i));

function flowsConfig(over: Partial<FlowsConfig>): FlowsConfig {
  return { ...defaultConfig().flows, subject: '', httpBackoff: 0.01, httpTimeout: 2, ...over };
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A receiver on a loopback port whose answers the test sets. */
class Receiver {
  readonly bodies: FlowRecordJson[][] = [];
  readonly auth: (string | undefined)[] = [];
  requests = 0;
  handler: Handler = (_q, res) => res.end();
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<Receiver> {
    let r!: Receiver;
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        r.requests++;
        r.auth.push(req.headers.authorization);
        r.handler(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    r = new Receiver(server, `http://127.0.0.1:${(server.address() as { port: number }).port}/flows`);
    return r;
  }

  /** Accepts the POST and keeps its records. */
  accept(res: ServerResponse, body: string): void {
    this.bodies.push(JSON.parse(body) as FlowRecordJson[]);
    res.end();
  }

  get received(): FlowRecordJson[] {
    return this.bodies.flat();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function exporter(cfg: Partial<FlowsConfig>, deps: Partial<FlowExportDeps> = {}): { exp: FlowExport; logs: string[] } {
  const logs: string[] = [];
  const exp = createFlowExport(flowsConfig(cfg), { log: (l) => logs.push(l), storage: null, publish: null, source: 'test', env: {}, ...deps });
  assert.ok(exp, 'a sink is configured');
  return { exp, logs };
}

describe('HTTP sink', () => {
  let rx: Receiver;
  before(async () => {
    rx = await Receiver.start();
  });
  after(async () => {
    await rx.stop();
  });

  test('503 twice, then accepted: every record arrives once, in order, with the retries counted', async () => {
    rx.bodies.length = 0;
    let failures = 2;
    rx.handler = (_q, res, body) => {
      if (failures-- > 0) res.writeHead(503).end('busy');
      else rx.accept(res, body);
    };
    const { exp, logs } = exporter({ httpUrl: rx.url, httpBatch: 3 });
    exp.add(null, records(5));
    exp.add(null, records(2, 5));
    const [s] = await exp.close();
    assert.deepEqual(rx.received.map((r) => r.srcPort), records(7).map((r) => r.srcPort));
    assert.deepEqual(rx.bodies.map((b) => b.length), [3, 3, 1], 'batches of httpBatch records');
    assert.deepEqual(
      { sink: s.sink, sent: s.sent, posts: s.posts, failedAttempts: s.failedAttempts, retries: s.retries, gaveUp: s.gaveUp, dropped: s.dropped, queued: s.queued },
      { sink: 'http', sent: 7, posts: 3, failedAttempts: 2, retries: 2, gaveUp: 0, dropped: 0, queued: 0 },
    );
    assert.equal(s.lastError, 'HTTP 503: busy');
    assert.equal(logs.filter((l) => /POST of 3 records to .* failed: HTTP 503: busy; retrying/.test(l)).length, 1, logs.join('\n'));
    assert.ok(logs.some((l) => /accepts records again/.test(l)));
  });

  test('400 is not retried: the batch is given up and counted, the next one still sent', async () => {
    rx.bodies.length = 0;
    let refuse = true;
    rx.handler = (_q, res, body) => {
      if (refuse) {
        refuse = false;
        res.writeHead(400).end('bad records');
      } else rx.accept(res, body);
    };
    const { exp, logs } = exporter({ httpUrl: rx.url, httpBatch: 4, httpRetries: 5 });
    exp.add(null, records(6));
    const [s] = await exp.close();
    assert.deepEqual([s.sent, s.posts, s.failedAttempts, s.retries, s.gaveUp], [2, 1, 1, 0, 4]);
    assert.equal(s.lastError, 'HTTP 400: bad records');
    assert.deepEqual(rx.received.map((r) => r.srcPort), [1028, 1029]);
    assert.ok(logs.some((l) => /failed: HTTP 400: bad records; not retried \(permanent\)/.test(l)), logs.join('\n'));
  });

  test('408 and 429 are retried like 5xx', async () => {
    rx.bodies.length = 0;
    const answers = [408, 429];
    rx.handler = (_q, res, body) => {
      const status = answers.shift();
      if (status) res.writeHead(status).end();
      else rx.accept(res, body);
    };
    const { exp } = exporter({ httpUrl: rx.url });
    exp.add(null, records(3));
    const [s] = await exp.close();
    assert.deepEqual([s.sent, s.failedAttempts, s.retries, s.gaveUp], [3, 2, 2, 0]);
  });

  test('a receiver that never answers: each attempt times out, then the records are given up', async () => {
    rx.handler = () => {};
    const { exp } = exporter({ httpUrl: rx.url, httpTimeout: 0.1, httpRetries: 1 });
    const started = Date.now();
    exp.add(null, records(3));
    await until(() => exp.stats()[0].gaveUp === 3, 'the records given up');
    const [s] = await exp.close();
    assert.deepEqual([s.sent, s.failedAttempts, s.retries, s.gaveUp, s.dropped, s.queued], [0, 2, 1, 3, 0, 0]);
    assert.equal(s.lastError, 'timed out after 0.1 s');
    assert.ok(Date.now() - started >= 200, 'two attempts of 0.1 s');
  });

  test('a full queue drops the oldest records, counts them and logs once', async () => {
    rx.bodies.length = 0;
    const held: (() => void)[] = [];
    rx.handler = (_q, res, body) => held.push(() => rx.accept(res, body));
    const { exp, logs } = exporter({ httpUrl: rx.url, httpBatch: 1, httpQueue: 5 });
    exp.add(null, [record(0)]);
    await until(() => held.length === 1, 'the first POST');
    // The first record is in flight; of the next 12 the queue keeps the newest 5.
    exp.add(null, records(4, 1));
    exp.add(null, records(8, 5));
    let s = exp.stats()[0];
    assert.deepEqual([s.dropped, s.queued], [7, 6]);
    rx.handler = (_q, res, body) => rx.accept(res, body);
    held.shift()!();
    [s] = await exp.close();
    assert.deepEqual(rx.received.map((r) => r.srcPort - 1024), [0, 8, 9, 10, 11, 12]);
    assert.deepEqual([s.sent, s.dropped, s.queued], [6, 7, 0]);
    assert.equal(logs.filter((l) => /queue full \(5 records waiting for .*\), dropping the oldest; further drops are only counted/.test(l)).length, 1, logs.join('\n'));
  });

  test('the bearer token of httpTokenEnv is sent; an unset variable or a URL with a password is refused', async () => {
    rx.auth.length = 0;
    rx.handler = (_q, res, body) => rx.accept(res, body);
    const { exp } = exporter({ httpUrl: rx.url, httpTokenEnv: 'FLOWS_TOKEN' }, { env: { FLOWS_TOKEN: 's3cret' } });
    exp.add(null, records(2));
    await exp.close();
    assert.deepEqual(rx.auth, ['Bearer s3cret']);
    const none = exporter({ httpUrl: rx.url });
    none.exp.add(null, records(1));
    await none.exp.close();
    assert.deepEqual(rx.auth, ['Bearer s3cret', undefined], 'no header without httpTokenEnv');
    const deps = { log: () => {}, storage: null, publish: null, source: 'test', env: {} };
    assert.throws(() => createFlowExport(flowsConfig({ httpUrl: rx.url, httpTokenEnv: 'FLOWS_TOKEN' }), deps), /^Error: flows.httpTokenEnv: the environment variable FLOWS_TOKEN is empty or unset$/);
    assert.throws(() => createFlowExport(flowsConfig({ httpUrl: 'http://user:pw@127.0.0.1/' }), deps), /^Error: flows.httpUrl: user or password in the URL is not supported$/);
  });

  test('the core\'s records of a capture arrive unchanged, in batches, each once', async () => {
    const capture = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
    assert.ok(existsSync(capture), capture);
    const analyzer = loadBackend().createAnalyzer({ flows: { probe: 'flows-test' } });
    analyzer.beginFile('debian-pathspider-real.pcap');
    assert.equal(analyzer.feed(readFileSync(capture)), null);
    assert.equal(analyzer.endFile(), null);
    const text = analyzer.takeFlows?.(true);
    assert.ok(text, 'the backend makes flow records (the compiled backends do)');
    const made = JSON.parse(text) as FlowRecordJson[];
    assert.ok(made.length > 1000, `${made.length} records`);
    rx.bodies.length = 0;
    rx.handler = (_q, res, body) => rx.accept(res, body);
    const { exp } = exporter({ httpUrl: rx.url, httpBatch: 500 });
    exp.add(null, made);
    const [s] = await exp.close();
    assert.deepEqual(rx.received, made);
    assert.deepEqual([s.sent, s.posts, s.dropped], [made.length, Math.ceil(made.length / 500), 0]);
  });

  test('close drains until its deadline, then drops what is left, counted and logged', async () => {
    rx.handler = () => {};
    const { exp, logs } = exporter({ httpUrl: rx.url, httpBatch: 2, httpTimeout: 60 });
    exp.add(null, records(5));
    const started = Date.now();
    const [s] = await exp.close(200);
    const took = Date.now() - started;
    assert.ok(took >= 190 && took < 2000, `closed after its deadline (${took} ms)`);
    assert.deepEqual([s.sent, s.dropped, s.queued], [0, 5, 0]);
    assert.ok(logs.some((l) => /closed with 5 records undelivered/.test(l)), logs.join('\n'));
    exp.add(null, records(2));
    assert.equal(exp.stats()[0].dropped, 7, 'records added after close are counted');
  });
});

describe('NATS sink', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  before(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
  });
  after(async () => {
    await nc?.close();
    await server?.stop();
  });

  test('a subscriber receives every record, as JSON arrays of at most 512 KiB', async () => {
    const got: FlowRecordJson[] = [];
    const sizes: number[] = [];
    const sub = nc.subscribe('test.flows', {
      callback: (_e, m) => {
        sizes.push(m.data.length);
        got.push(...(JSON.parse(m.string()) as FlowRecordJson[]));
      },
    });
    const { exp } = exporter({ subject: 'test.flows' }, { publish: (s, b) => nc.publish(s, b) });
    // Long interface names make the records large enough to need several messages.
    const many = records(3000).map((r) => ({ ...r, interface: 'x'.repeat(300) }));
    exp.add(null, many);
    exp.add(null, [record(9999)]);
    await nc.flush();
    await until(() => got.length === 3001, 'every record');
    sub.unsubscribe();
    const [s] = await exp.close();
    assert.deepEqual(got.map((r) => r.srcPort), [...many, record(9999)].map((r) => r.srcPort));
    assert.ok(sizes.length >= 3, `several messages (${sizes.length})`);
    assert.ok(sizes.every((n) => n <= NATS_MAX_MESSAGE), `sizes ${sizes.join(', ')}`);
    assert.deepEqual([s.sink, s.sent, s.posts, s.failedAttempts], ['nats', 3001, sizes.length, 0]);
  });

  test('a publish that throws is counted and logged once', () => {
    const { exp, logs } = exporter({ subject: 'test.flows' }, { publish: () => { throw new Error('connection closed'); } });
    exp.add(null, records(2));
    exp.add(null, records(3));
    const [s] = exp.stats();
    assert.deepEqual([s.sent, s.failedAttempts, s.gaveUp, s.lastError], [0, 2, 5, 'connection closed']);
    assert.equal(logs.filter((l) => /flows: nats: cannot hand 2 records to subject test.flows: connection closed/.test(l)).length, 1, logs.join('\n'));
  });
});

test('JSON arrays split at the byte limit; a record larger than the limit goes alone', () => {
  const rs = records(10);
  const one = Buffer.byteLength(JSON.stringify(rs[0]));
  const parts = jsonArrays(rs, 2 + 3 * one + 2);
  assert.deepEqual(parts.map((p) => (JSON.parse(p.toString()) as unknown[]).length), [3, 3, 3, 1]);
  assert.deepEqual(parts.flatMap((p) => JSON.parse(p.toString()) as FlowRecordJson[]), rs);
  assert.deepEqual(jsonArrays(rs.slice(0, 2), 10).map((p) => (JSON.parse(p.toString()) as unknown[]).length), [1, 1]);
  assert.deepEqual(jsonArrays([], 100), []);
});

describe('store sink', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'netspectra-flows-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the store takes the rows of the records (flows.jsonl); a store that fails is counted and logged once', async () => {
    const cfg = defaultConfig();
    const storage = openWindowStorage({ ...cfg.storage, kind: 'file', path: dir }, { source: 'flows-test', log: () => {} })!;
    const { exp } = exporter({}, { storage });
    exp.add(flowRecordRows('flows-test', records(3)), null);
    const [s] = await exp.close();
    await storage.close();
    assert.deepEqual([s.sink, s.sent, s.posts, s.failedAttempts, s.gaveUp], ['store', 3, 1, 0, 0]);
    const lines = readFileSync(join(dir, 'flows.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // Rows of the flows table, as the store holds them.
    assert.deepEqual(
      lines.map((l) => [l.source, l.src_ip, l.src_port, l.dst_ip, l.bytes_ab, l.community_id, l.first_seen]),
      records(3).map((r) => ['flows-test', r.srcIp, r.srcPort, r.dstIp, r.bytesAtoB, r.communityId, `${new Date(Number(r.firstTime!.split('.')[0]) * 1000).toISOString().slice(0, 19)}.${r.firstTime!.split('.')[1]}Z`]),
    );
    const failing = { ...storage, where: 'a full disk', addRows: () => { throw new Error('no space left'); } };
    const broken = exporter({}, { storage: failing });
    broken.exp.add(flowRecordRows('flows-test', records(2)), null);
    broken.exp.add(flowRecordRows('flows-test', records(3)), null);
    const [b] = await broken.exp.close();
    assert.deepEqual([b.sent, b.failedAttempts, b.gaveUp, b.lastError], [0, 2, 5, 'no space left']);
    assert.equal(broken.logs.filter((l) => /cannot hand 2 records to a full disk: no space left/.test(l)).length, 1, broken.logs.join('\n'));
  });

  test('flows disabled, or no sink configured: no export', () => {
    const deps = { log: () => {}, storage: null, publish: null, source: 'test' };
    assert.equal(createFlowExport(flowsConfig({ enabled: false, httpUrl: 'http://127.0.0.1:9/' }), deps), null);
    assert.equal(createFlowExport(flowsConfig({}), deps), null);
    assert.equal(createFlowExport(flowsConfig({ subject: 'x' }), deps), null, 'a subject without a NATS connection');
  });
});
