// The API server under hostile clients: bodies refused before they are read, idle and slow
// connections closed, long lists and bad values refused as the caller's error, rebinding Host
// names and foreign origins refused, tokens read alike on HTTP/1.1 and HTTP/2, TLS, and the
// store's queries bounded. A real server over a real embedded store (one capture in it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as connectHttp2, type ClientHttp2Session } from 'node:http2';
import { connect as connectNet, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { loadBackend } from '../backend/index.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { Health, HealthCheckResponse_ServingStatus } from '../gen/grpc/health/v1/health_pb.js';
import { QueryService } from '../gen/netspectra/v1/query_pb.js';
import { openStore, openWindowStorage, type Store } from '../storage/index.js';
import { storeCapture } from '../testing/captures.js';
import { defaultAllowedHosts, hostName, isLoopback, RequestGuard, tokenCheck } from './guard.js';
import { createApiApp } from './http.js';
import { limitedStore, limitError, QueryPool } from './query-pool.js';
import { listen, type RunningServer, type ServerLimits } from './server.js';
import { checkExposure, serverLimits } from './settings.js';

const pathspider = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
const TOKEN = 'guard-test-token-31c7';
const MAX_BODY = 64 * 1024;
const LIMITS: Partial<ServerLimits> = { headersTimeoutMs: 600, idleTimeoutMs: 1200, requestTimeoutMs: 3000, maxConnections: 40 };
const AGGREGATE = `/${QueryService.typeName}/AggregateFlows`;

const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set('authorization', `Bearer ${token}`);
  return next(req);
};

/** Opens a raw connection and resolves once it is connected. */
function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connectNet(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with what the server sent once it closes the socket, and after how long. */
function untilClosed(s: Socket): Promise<{ text: string; ms: number }> {
  const t0 = Date.now();
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString('latin1')));
  s.on('error', () => {});
  return new Promise((resolve) => s.once('close', () => resolve({ text, ms: Date.now() - t0 })));
}

/** Resolves with the first bytes the server answers. */
function firstAnswer(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    s.once('data', (d: Buffer) => resolve(d.toString('latin1')));
    s.once('close', () => resolve(''));
  });
}

/** An HTTP/2 request: status, headers and body. */
function h2Request(session: ClientHttp2Session, headers: Record<string, string>, body?: Buffer): Promise<{ headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers);
    let out = '';
    let head: Record<string, unknown> = {};
    req.on('response', (h) => (head = { ...h }));
    req.on('trailers', (t) => (head = { ...head, ...t }));
    req.on('data', (d: Buffer) => (out += d.toString()));
    req.on('end', () => resolve({ headers: head, body: out }));
    req.on('error', reject);
    req.end(body);
  });
}

describe('API server under hostile clients', () => {
  let dir: string;
  let cfg: NetspectraConfig;
  let store: Store;
  let server: RunningServer;

  before(async () => {
    assert.ok(existsSync(pathspider), `the shared capture ${pathspider}`);
    dir = mkdtempSync(join(tmpdir(), 'netspectra-guard-'));
    cfg = loadConfig({ overrides: { 'storage.path': dir } });
    const storage = openWindowStorage(cfg.storage, { source: 'pathspider', log: () => {} })!;
    await storeCapture(pathspider, cfg, storage, loadBackend());
    await storage.close();
    store = await openStore(cfg.storage);
    const app = createApiApp({ store, maxLimit: 10_000, live: null, tokens: [TOKEN], log: () => {}, maxBodyBytes: MAX_BODY, queryLimits: { concurrency: 2, timeoutS: 30, memoryBytes: 2 ** 30 } });
    server = await listen(app, '127.0.0.1', 0, { limits: LIMITS });
  });

  after(async () => {
    await server?.close();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const http = (path: string, init: RequestInit = {}, token: string | null = TOKEN) =>
    fetch(`${server.url}${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json', ...init.headers } });

  test('an unauthenticated body is refused from its headers, before a byte of it is read', async () => {
    const rssBefore = process.memoryUsage().rss;
    // Four clients declare 200 MB each and send none of it: the answer comes anyway.
    const answers = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const s = await rawSocket(server.port);
        s.write(`POST ${AGGREGATE} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200000000\r\n\r\n`);
        const first = await firstAnswer(s);
        s.destroy();
        return first;
      }),
    );
    for (const a of answers) {
      assert.match(a, /^HTTP\/1\.1 401 /, a);
      assert.match(a, /"code":"unauthenticated"/);
    }
    // Chunked bodies with no declared length: refused at once as well, and the connection
    // closed rather than drained.
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    for (let i = 0; i < 4; i++) {
      const s = await rawSocket(server.port);
      const closed = untilClosed(s);
      s.write(`POST ${AGGREGATE} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
      // Written as the socket takes it (what a client can push), until the server closes it.
      const piece = `${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n`;
      for (let k = 0; k < 50 && !s.destroyed && s.writable; k++) {
        if (!s.write(piece)) await new Promise((r) => (s.once('drain', r), s.once('close', r)));
      }
      const { text } = await closed;
      assert.match(text, /^HTTP\/1\.1 401 /);
    }
    const grown = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    assert.ok(grown < 150, `memory stays flat under unauthenticated bodies (grew ${grown.toFixed(0)} MiB)`);

    // gRPC over HTTP/2 and gRPC-web, Connect: each client sees Unauthenticated.
    for (const transport of [
      createGrpcTransport({ baseUrl: server.url }),
      createGrpcWebTransport({ baseUrl: server.url, httpVersion: '1.1' }),
      createConnectTransport({ baseUrl: server.url, httpVersion: '1.1' }),
      createConnectTransport({ baseUrl: server.url, httpVersion: '2' }),
    ]) {
      const c = createClient(QueryService, transport);
      await assert.rejects(c.listTasks({}), (e: ConnectError) => e.code === Code.Unauthenticated);
    }
  });

  test('bodies beyond api.maxBodyBytes: 413 over HTTP, ResourceExhausted over every RPC protocol', async () => {
    const big = JSON.stringify({ task: 'x'.repeat(MAX_BODY * 2) });
    const r = await http('/api/v1/flows', { method: 'POST', body: big });
    assert.equal(r.status, 413);
    // The same without a declared length (streamed): counted as it arrives.
    const s = await rawSocket(server.port);
    const closed = untilClosed(s);
    s.write(`POST /api/v1/flows HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
    s.write(`${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`);
    assert.match((await closed).text, /^HTTP\/1\.1 413 /);
    for (const [name, transport] of Object.entries({
      grpc: createGrpcTransport({ baseUrl: server.url, interceptors: [bearer(TOKEN)] }),
      grpcWeb: createGrpcWebTransport({ baseUrl: server.url, httpVersion: '1.1', interceptors: [bearer(TOKEN)] }),
      connect: createConnectTransport({ baseUrl: server.url, httpVersion: '1.1', interceptors: [bearer(TOKEN)] }),
      connectH2: createConnectTransport({ baseUrl: server.url, httpVersion: '2', interceptors: [bearer(TOKEN)] }),
    })) {
      const c = createClient(QueryService, transport);
      await assert.rejects(c.aggregateFlows({ task: 'x'.repeat(MAX_BODY * 2) }), (e: ConnectError) => e.code === Code.ResourceExhausted, name);
      // A small request on the same transport still works.
      assert.ok((await c.listTasks({})).tasks.length > 0, name);
    }
  });

  test('silent, slow and idle connections are closed within their timeouts; the connection count is bounded', async () => {
    // Nothing sent: closed within the header time.
    const silent = await untilClosed(await rawSocket(server.port));
    assert.ok(silent.ms < LIMITS.headersTimeoutMs! + 1500, `a silent socket closed after ${silent.ms} ms`);
    // Headers begun and never finished (slowloris).
    const slow = await rawSocket(server.port);
    const slowClosed = untilClosed(slow);
    slow.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const tick = setInterval(() => slow.writable && slow.write('X-A: b\r\n'), 200);
    const slowResult = await slowClosed;
    clearInterval(tick);
    assert.ok(slowResult.ms < LIMITS.headersTimeoutMs! + 2500, `unfinished headers closed after ${slowResult.ms} ms`);
    // A kept-alive connection after its answer: closed within the idle time.
    const idle = await rawSocket(server.port);
    const idleClosed = untilClosed(idle);
    idle.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const idleResult = await idleClosed;
    assert.match(idleResult.text, /^HTTP\/1\.1 200 /);
    assert.ok(idleResult.ms < LIMITS.idleTimeoutMs! + 1500, `an idle connection closed after ${idleResult.ms} ms`);
    // An HTTP/2 session with no streams: closed within the idle time.
    const session = connectHttp2(server.url);
    session.on('error', () => {});
    const t0 = Date.now();
    await new Promise<void>((resolve) => session.once('close', () => resolve()));
    assert.ok(Date.now() - t0 < LIMITS.idleTimeoutMs! + LIMITS.headersTimeoutMs! + 1500, `an idle HTTP/2 session closed after ${Date.now() - t0} ms`);

    // More connections than allowed: the extra ones are closed at once, the server still answers.
    const held = await Promise.all(Array.from({ length: LIMITS.maxConnections! + 10 }, () => rawSocket(server.port).catch(() => null)));
    const open = held.filter((s): s is Socket => s !== null);
    await new Promise((r) => setTimeout(r, 200));
    const stillOpen = open.filter((s) => !s.destroyed && s.readyState === 'open');
    for (const s of open) s.destroy();
    assert.ok(stillOpen.length <= LIMITS.maxConnections!, `${stillOpen.length} connections open at once`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await http('/healthz', {}, null)).status, 200);
  });

  test('a long groupBy is refused at once as the caller\'s error; duplicates are folded', async () => {
    const c = createClient(QueryService, createConnectTransport({ baseUrl: server.url, httpVersion: '1.1', interceptors: [bearer(TOKEN)] }));
    const t0 = Date.now();
    await assert.rejects(c.aggregateFlows({ task: 'src_ip', groupBy: Array(5000).fill('SrcIP') }), (e: ConnectError) => e.code === Code.InvalidArgument && /5000 entries; at most 16/.test(e.rawMessage));
    const r = await http(`/api/v1/flows?task=src_ip&group_by=${Array(2600).fill('SrcIP').join(',')}`);
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error: string }).error, /2600 entries/);
    assert.ok(Date.now() - t0 < 5000, 'refused without running a query');
    const folded = await c.aggregateFlows({ task: 'src_ip', groupBy: ['SrcIP', 'SrcIP', 'SrcIP'], limit: 5 });
    const plain = await c.aggregateFlows({ task: 'src_ip', groupBy: ['SrcIP'], limit: 5 });
    assert.deepEqual(folded.rows, plain.rows);
    assert.ok(plain.rows.length > 0);
  });

  test('bad values are 400 / InvalidArgument with the reason, never 500 or 503', async () => {
    for (const q of ['start=99999999999999999', 'end=300000-01-01T00:00:00Z', 'start=1e5']) {
      const r = await http(`/api/v1/flows?task=src_ip&${q}`);
      assert.equal(r.status, 400, q);
      assert.match(((await r.json()) as { error: string }).error, /start|end/, q);
    }
    for (const body of ['null', '[]', '{"range":null}', '{"range":{"from":1,"to":2}}', '{"range":{"from":"2020-01-01T00:00:00Z","to":"2020-01-02T00:00:00Z"},"targets":[null]}', '{"range":{"from":"2020-01-01T00:00:00Z","to":"99999-01-01T00:00:00Z"},"targets":[]}']) {
      const r = await http('/grafana/query', { method: 'POST', body });
      assert.equal(r.status, 400, body);
      assert.doesNotMatch(((await r.json()) as { error: string }).error, /TypeError|undefined|null \(reading/, body);
    }
    // Connect JSON refuses unknown fields as the HTTP/JSON routes do.
    const viaConnect = await http(`${AGGREGATE}`, { method: 'POST', body: '{"task":"src_ip","nosuchField":1}' });
    assert.equal(viaConnect.status, 400);
    assert.equal(((await viaConnect.json()) as { code: string }).code, 'invalid_argument');
    const viaHttp = await http('/api/v1/flows', { method: 'POST', body: '{"task":"src_ip","nosuchField":1}' });
    assert.equal(viaHttp.status, 400);
    // A range past what a stored time can hold, through RPC.
    const c = createClient(QueryService, createGrpcTransport({ baseUrl: server.url, interceptors: [bearer(TOKEN)] }));
    await assert.rejects(c.aggregateFlows({ task: 'src_ip', range: { start: { seconds: 10n ** 12n, nanos: 0 } } }), (e: ConnectError) => e.code === Code.InvalidArgument);
  });

  test('a rebinding Host or a foreign Origin is refused; the server\'s own origin and loopback names are not', async () => {
    const raw = async (headers: string) => {
      const s = await rawSocket(server.port);
      const closed = untilClosed(s);
      // Written, not ended: a half-closed client gets no answer from an HTTP server.
      s.write(`GET /api/v1/tasks HTTP/1.1\r\n${headers}Authorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`);
      return (await closed).text;
    };
    assert.match(await raw('Host: rebind.attacker.example\r\n'), /^HTTP\/1\.1 403 [\s\S]*api\.allowedHosts/);
    assert.match(await raw(`Host: rebind.attacker.example:${server.port}\r\n`), /^HTTP\/1\.1 403 /);
    assert.match(await raw(''), /^HTTP\/1\.1 400 /);
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, 'localhost']) assert.match(await raw(`Host: ${host}\r\n`), /^HTTP\/1\.1 200 /, host);
    assert.match(await raw(`Host: 127.0.0.1:${server.port}\r\nOrigin: https://evil.example\r\n`), /^HTTP\/1\.1 403 [\s\S]*api\.allowedOrigins/);
    assert.match(await raw(`Host: 127.0.0.1:${server.port}\r\nOrigin: null\r\n`), /^HTTP\/1\.1 403 /);
    assert.match(await raw(`Host: 127.0.0.1:${server.port}\r\nOrigin: http://127.0.0.1:${server.port}\r\n`), /^HTTP\/1\.1 200 /);
    // A WebSocket from another site's page.
    const ws = await raw(`Host: 127.0.0.1:${server.port}\r\nOrigin: https://evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n`);
    assert.match(ws, /^HTTP\/1\.1 403 /);
    // HTTP/2 names the host in :authority.
    const session = connectHttp2(server.url);
    try {
      const bad = await h2Request(session, { ':path': '/api/v1/tasks', ':authority': 'rebind.attacker.example', authorization: `Bearer ${TOKEN}` });
      assert.equal(bad.headers[':status'], 403);
    } finally {
      session.close();
    }
  });

  test('tokens: read alike over HTTP/1.1 and HTTP/2, compared in constant time over digests', async () => {
    const check = tokenCheck(['short', 'a-much-longer-token']);
    assert.ok(check('Bearer short'));
    assert.ok(check('bearer a-much-longer-token  '));
    assert.ok(check('  Bearer short'));
    for (const bad of ['Bearer shor', 'Bearer shortx', 'Bearer', 'Basic short', 'Bearer short extra', '', null, undefined]) assert.equal(check(bad), false, String(bad));
    // The same header text is accepted on both protocols (HTTP/2 cannot carry surrounding
    // white space: its clients drop such a value, so the inner forms are compared).
    const s = await rawSocket(server.port);
    const closed = untilClosed(s);
    s.write(`GET /api/v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: bearer   ${TOKEN}   \r\nConnection: close\r\n\r\n`);
    assert.match((await closed).text, /^HTTP\/1\.1 200 /);
    const session = connectHttp2(server.url);
    try {
      const ok = await h2Request(session, { ':path': '/api/v1/tasks', authorization: `bearer   ${TOKEN}` });
      assert.equal(ok.headers[':status'], 200, ok.body);
      const wrong = await h2Request(session, { ':path': '/api/v1/tasks', authorization: `Bearer ${TOKEN}x` });
      assert.equal(wrong.headers[':status'], 401);
      // gRPC refused in its own terms: status in headers.
      const grpc = await h2Request(session, { ':path': AGGREGATE, ':method': 'POST', 'content-type': 'application/grpc' }, Buffer.alloc(5));
      assert.equal(grpc.headers['grpc-status'], String(16));
    } finally {
      session.close();
    }
  });

  test('/healthz and /readyz answer with no token and say nothing else; it and health answer while a slow query runs', async () => {
    const r = await http('/healthz', {}, null);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ok\n');
    assert.equal((await http('/api/v1/health', {}, null)).status, 401);
    const ready = await http('/readyz', {}, null);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), 'ok\n');
    let slowDone = 0;
    const slow = store.client.query({ query: 'SELECT sleepEachRow(0.25) FROM numbers(8)', format: 'JSONEachRow' }).then(() => (slowDone = Date.now()));
    await new Promise((res) => setTimeout(res, 100));
    const healthz = await http('/healthz', {}, null);
    const answered = Date.now();
    assert.equal(healthz.status, 200);
    await slow;
    assert.ok(answered < slowDone, '/healthz answered before the slow query ended');
  });

  test('grpc.health.v1.Health answers without a token, over gRPC and Connect; unknown services are named', async () => {
    for (const transport of [createGrpcTransport({ baseUrl: server.url }), createConnectTransport({ baseUrl: server.url, httpVersion: '1.1' })]) {
      const health = createClient(Health, transport);
      assert.equal((await health.check({})).status, HealthCheckResponse_ServingStatus.SERVING);
      assert.equal((await health.check({ service: 'netspectra.v1.QueryService' })).status, HealthCheckResponse_ServingStatus.SERVING);
      await assert.rejects(health.check({ service: 'nope.v1.Nothing' }), (e: ConnectError) => e.code === Code.NotFound && /unknown service "nope\.v1\.Nothing"/.test(e.rawMessage));
    }
    // Watch gives the status at once, then only changes.
    const abort = new AbortController();
    const watch = createClient(Health, createGrpcTransport({ baseUrl: server.url })).watch({}, { signal: abort.signal });
    for await (const r of watch) {
      assert.equal(r.status, HealthCheckResponse_ServingStatus.SERVING);
      break;
    }
    abort.abort();
    // The query service itself still needs the token.
    await assert.rejects(createClient(QueryService, createGrpcTransport({ baseUrl: server.url })).health({}), (e: ConnectError) => e.code === Code.Unauthenticated);
  });

  test('the query pool bounds concurrency and the queue; ClickHouse limits become DeadlineExceeded', async () => {
    const pool = new QueryPool(1, 1);
    let release!: () => void;
    const first = pool.run(() => new Promise<void>((r) => (release = r)));
    const second = pool.run(async () => 'second');
    await assert.rejects(pool.run(async () => 'third'), (e: ConnectError) => e.code === Code.ResourceExhausted && /busy/.test(e.rawMessage));
    assert.deepEqual(pool.stats(), { running: 1, waiting: 1 });
    release();
    await first;
    assert.equal(await second, 'second');
    assert.deepEqual(pool.stats(), { running: 0, waiting: 0 });
    // A wait longer than allowed is refused, and the slot goes on to the next.
    const patient = new QueryPool(1, 4, 100);
    let free!: () => void;
    const holder = patient.run(() => new Promise<void>((r) => (free = r)));
    await assert.rejects(patient.run(async () => 'late'), (e: ConnectError) => e.code === Code.ResourceExhausted && /within 0.1 s/.test(e.rawMessage));
    assert.deepEqual(patient.stats(), { running: 1, waiting: 0 });
    free();
    await holder;
    assert.equal(await patient.run(async () => 'next'), 'next');

    const limited = limitedStore(store, { concurrency: 1, timeoutS: 0.5, memoryBytes: 2 ** 30 });
    const e = await limited.client.query({ query: 'SELECT sleepEachRow(0.3) FROM numbers(9)', format: 'JSONEachRow' }).then(() => null, (err: Error) => err);
    assert.ok(e, 'the query stops at its time limit');
    const mapped = limitError(e);
    assert.equal(mapped?.code, Code.DeadlineExceeded, e?.message);
  });

  test('configured allow-lists: extra host names, * for any, listed origins; TLS files go in pairs', () => {
    const head = (host: string, origin?: string) => ({ url: '/healthz', headers: { host, ...(origin ? { origin } : {}) } });
    const base = { tokens: [], allowedOrigins: [], maxBodyBytes: 1024, publicPaths: new Set(['/healthz']) };
    const named = new RequestGuard({ ...base, allowedHosts: [...defaultAllowedHosts('127.0.0.1'), 'api'] });
    assert.equal(named.check(head('api:7070')), null);
    assert.equal(named.check(head('other:7070'))?.status, 403);
    assert.equal(new RequestGuard({ ...base, allowedHosts: ['*'] }).check(head('anything.example')), null);
    const origins = new RequestGuard({ ...base, allowedHosts: ['*'], allowedOrigins: ['https://grafana.example.com'] });
    assert.equal(origins.check(head('api:7070', 'https://grafana.example.com')), null);
    assert.equal(origins.check(head('api:7070', 'https://evil.example'))?.status, 403);
    const limits = serverLimits(loadConfig({ env: {}, overrides: { 'api.allowedHosts': 'api, proxy.example', 'api.allowedOrigins': 'https://g.example', 'api.idleTimeout': '2s' } }));
    assert.deepEqual([limits.allowedHosts, limits.allowedOrigins, limits.idleTimeoutMs, limits.tls], [['api', 'proxy.example'], ['https://g.example'], 2000, null]);
    assert.throws(() => serverLimits(loadConfig({ env: {}, overrides: { 'api.tlsCert': '/x/cert.pem' } })), /api\.tlsCert and api\.tlsKey go together/);
  });

  test('a port others can reach needs tokens or --insecure', () => {
    const c = loadConfig({});
    assert.throws(() => checkExposure(c, '0.0.0.0', [], 'serve'), /NETSPECTRA_API_TOKENS[\s\S]*--insecure/);
    assert.doesNotThrow(() => checkExposure(c, '0.0.0.0', ['t'], 'serve'));
    assert.doesNotThrow(() => checkExposure(c, '127.0.0.1', [], 'serve'));
    assert.doesNotThrow(() => checkExposure(c, '::1', [], 'serve'));
    assert.doesNotThrow(() => checkExposure(loadConfig({ overrides: { 'api.insecure': true } }), '0.0.0.0', [], 'serve'));
    assert.ok(isLoopback('127.0.0.2') && isLoopback('[::1]') && !isLoopback('10.0.0.1'));
    assert.equal(hostName('[::1]:7070'), '::1');
    assert.equal(hostName('Example.COM:80'), 'example.com');
    assert.ok(defaultAllowedHosts('0.0.0.0').length > 3, 'a wildcard bind answers this machine\'s addresses');
    // The command says so and exits without serving.
    const cli = join(process.cwd(), 'dist', 'ts', 'cli', 'main.js');
    const r = spawnSync(process.execPath, [cli, 'serve', '--host', '0.0.0.0', '--port', '0', '--data', join(dir, 'exposed')], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NETSPECTRA_API_TOKENS: '' } });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no tokens would give the data to anyone/);
  });

  test('TLS: the same API over https, HTTP/1.1 and HTTP/2 (gRPC)', async (t) => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
    if (made.status !== 0) return t.skip(`openssl cannot make a certificate here: ${made.stderr}`);
    const app = createApiApp({ store, maxLimit: 100, live: null, tokens: [TOKEN], log: () => {} });
    const tls = await listen(app, '127.0.0.1', 0, { limits: { ...LIMITS, tls: { cert, key } } });
    try {
      assert.match(tls.url, /^https:/);
      const ca = readFileSync(cert);
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(`${tls.url}/api/v1/tasks`, { ca, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
          let out = '';
          res.on('data', (d: Buffer) => (out += d.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${out}`));
        });
        req.on('error', reject);
        req.end();
      });
      assert.match(body, /^200 .*src_ip/);
      const c = createClient(QueryService, createGrpcTransport({ baseUrl: tls.url, nodeOptions: { ca }, interceptors: [bearer(TOKEN)] }));
      assert.ok((await c.listTasks({})).tasks.some((x) => x.name === 'src_ip'));
      // Plain HTTP to the TLS port gets nothing.
      const plain = await fetch(tls.url.replace('https:', 'http:') + '/healthz').then((r) => r.status, () => 'refused');
      assert.equal(plain, 'refused');
    } finally {
      await tls.close();
    }
  });
});
