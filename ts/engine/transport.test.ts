// Probe batching -> real nats-server -> engine: the engine's windows must equal `analyze` of the
// same capture, in core NATS, with two threads, with two engines in a queue group, and with
// garbage on the subject (JetStream mode, the cluster: ts/cluster/cluster.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { loadBackend, transportBackend, type ClosedWindow } from '../backend/index.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { createAnalyzer, feedFile, taskOptions } from '../analyze/analyze-files.js';
import { NatsServer } from '../transport/nats-server.js';
import { connectNats } from '../transport/nats.js';
import { Probe } from '../probe/probe.js';
import { NatsPublisher } from '../probe/publisher.js';
import { runEngine } from './run-engine.js';
import { WindowedEngine } from './windowed-engine.js';

const CAPTURE = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
const quiet = () => {};
let nats: NatsServer;

before(async () => {
  nats = await NatsServer.start();
});
after(async () => {
  await nats.stop();
});

function config(overrides: Record<string, unknown> = {}): NetspectraConfig {
  return loadConfig({ env: {}, overrides: { 'nats.url': nats.url, window: '10s', 'engine.idleClose': '200ms', ...overrides } });
}

/** The windows `analyze` reports for the capture with the same tasks and window. */
async function analyzeWindows(cfg: NetspectraConfig): Promise<unknown[]> {
  const { analyzer } = createAnalyzer(loadBackend('native'), { ...cfg, analyze: { ...cfg.analyze, window: cfg.window, exactBeside: false, top: cfg.engine.top } });
  assert.equal((await feedFile(analyzer, CAPTURE, 1 << 20)).error, undefined);
  analyzer.closeWindow();
  return (JSON.parse(analyzer.reportJson(cfg.engine.top)) as { windows: unknown[] }).windows;
}

async function replay(cfg: NetspectraConfig): Promise<number> {
  const conn = await connectNats(cfg.nats, 'test probe', quiet);
  const publisher = new NatsPublisher(conn, cfg.nats, quiet);
  const probe = new Probe({ ...cfg, probe: { ...cfg.probe, id: 'test-probe' } }, publisher, quiet, 'file');
  const n = await probe.replayFiles([CAPTURE], 1 << 20);
  await probe.stop();
  await conn.nc.drain();
  return n;
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const packetsOf = (ws: ClosedWindow[]) => ws.reduce((s, w) => s + (JSON.parse(w.json) as { packets: number }).packets, 0);

async function throughEngine(cfg: NetspectraConfig): Promise<ClosedWindow[]> {
  const engine = await runEngine(cfg, quiet);
  const windows: ClosedWindow[] = [];
  engine.host.onWindow = (w) => windows.push(w);
  const sent = await replay(cfg);
  await until('every packet in a window', () => packetsOf(windows) === sent);
  await engine.stop();
  return windows;
}

for (const [name, overrides, backend] of [
  ['core NATS, 1 thread', { 'engine.threads': 1 }, 'native'],
  ['core NATS, 2 threads, 500-packet batches', { 'engine.threads': 2, 'probe.batchPackets': 500 }, 'native'],
  ['core NATS on the wasm backend (one thread)', { 'engine.threads': 2, 'nats.subject': 'wasm.packets' }, 'wasm'],
] as const) {
  test(`${name}: the engine's windows equal analyze of the same capture`, async () => {
    process.env.NETSPECTRA_BACKEND = backend;
    try {
      const cfg = config(overrides);
      const windows = await throughEngine(cfg);
      const expected = await analyzeWindows(cfg);
      assert.equal(windows.length, expected.length);
      assert.deepEqual(windows.map((w) => JSON.parse(w.json)), expected);
      assert.equal(packetsOf(windows), 62_781);
    } finally {
      delete process.env.NETSPECTRA_BACKEND;
    }
  });
}

test('two engines in a queue group count every packet exactly once', async () => {
  const cfg = config({ 'engine.threads': 1, 'probe.partitions': 8, 'probe.batchPackets': 200, 'nats.subject': 'pair.packets' });
  const engines = [await runEngine(cfg, quiet), await runEngine(cfg, quiet)];
  const windows: ClosedWindow[][] = [[], []];
  engines.forEach((e, i) => (e.host.onWindow = (w) => windows[i].push(w)));
  const sent = await replay(cfg);
  await until('every packet in a window', () => packetsOf(windows.flat()) >= sent);
  await new Promise((r) => setTimeout(r, 300));
  for (const e of engines) await e.stop();
  assert.equal(packetsOf(windows.flat()), 62_781);
  assert.ok(packetsOf(windows[0]) > 0 && packetsOf(windows[1]) > 0, 'both engines took a share');
});

test('garbage, truncated and wrong-version messages are counted and skipped; the engine keeps running', async () => {
  const cfg = config({ 'engine.threads': 2, 'nats.subject': 'bad.packets' });
  const lines: string[] = [];
  const engine = await runEngine(cfg, (l) => lines.push(l));
  const windows: ClosedWindow[] = [];
  engine.host.onWindow = (w) => windows.push(w);
  const nc = await connect({ servers: nats.url });
  const garbage = [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0x08, 0x01, 0x3a, 0xff, 0x01]), Buffer.from([0x08, 0x02]), Buffer.from([0x08, 0x01, 0x3a, 0x03, 1, 2, 3])];
  for (let i = 0; i < 3; i++) for (const g of garbage) nc.publish('bad.packets.0', g);
  await nc.flush();
  await nc.close();
  const sent = await replay(cfg);
  await until('every packet in a window', () => packetsOf(windows) === sent);
  const stats = (await engine.host.engine.stats()) as { rejected: Record<string, number> };
  await engine.stop();
  assert.deepEqual(stats.rejected, { garbage: 3, truncated: 3, version: 3, invalid: 3 });
  const logged = lines.filter((l) => l.includes('skipped a'));
  assert.equal(logged.length, 4, 'one log line per kind');
  assert.match(logged.find((l) => l.includes('version'))!, /record version 2 is not supported.*first bytes 0802/);
});

test('in one thread or two, the engine gives the same windows, snapshots byte for byte', async () => {
  const cfg = config();
  const batcher = transportBackend().createPacketBatcher({ probeId: 'p', interface: 'file', partitions: 1, batchPackets: 700, seed: cfg.seed });
  assert.equal(batcher.addCapture(readFileSync(CAPTURE)), null);
  const messages = batcher.take(true, { captured: 0, kernelDropped: 0, interfaceDropped: 0, probeDropped: 0 }, 0).map((b) => b.message);
  const run = async (threads: number) => {
    const engine = new WindowedEngine({ seed: cfg.seed, windowSeconds: 60, top: 10, tasks: cfg.tasks.map(taskOptions), threads });
    const windows: ClosedWindow[] = [];
    engine.onWindow = (w) => windows.push(w);
    await Promise.all(messages.map((m) => engine.submit(m)));
    await engine.close();
    await engine.stop();
    return windows;
  };
  const inline = await run(1);
  const two = await run(2);
  assert.equal(inline.length, 61);
  assert.equal(two.length, inline.length);
  inline.forEach((w, i) => {
    assert.equal(two[i].json, w.json);
    assert.ok(Buffer.from(two[i].snapshot).equals(Buffer.from(w.snapshot)), `window ${i} snapshot differs`);
  });
});

test('flow records: the engine publishes on NATS, as they finish, the records analyze makes of the capture', async () => {
  const cfg = config({ 'engine.threads': 2, 'flows.idleUdp': '5s' });
  const { analyzer } = createAnalyzer(loadBackend('native'), { ...cfg, flows: { ...cfg.flows, idleUdp: 5 } });
  await feedFile(analyzer, CAPTURE, 1 << 20);
  const offline = JSON.parse(analyzer.takeFlows!(true)!) as { communityId: string | null; packetsAtoB: number; bytesBtoA: number; interface: string; probe: string; app: string; serverName: string }[];
  assert.ok(offline.length > 6000);
  assert.ok(offline.filter((r) => r.serverName).length > 100, 'names read from the payloads');

  const listener = await connect({ servers: nats.url });
  const received: typeof offline = [];
  const sub = listener.subscribe(cfg.flows.subject, { callback: (_e, m) => void received.push(...(m.json() as typeof offline)) });
  await listener.flush();
  const engine = await runEngine(cfg, quiet);
  await replay(cfg);
  // Most records finish while the capture streams (FIN, idle by packet time); the rest at stop.
  await until('records while the capture streams', () => received.length > 5000);
  await engine.stop();
  await until('every record', () => received.length >= offline.length);
  await listener.flush();
  sub.unsubscribe();
  await listener.close();
  assert.equal(received.length, offline.length);
  assert.ok(received.every((r) => r.probe === 'test-probe' && r.interface === 'file'));
  // The same flows, counted and named alike (the probe reads the payloads and sends the names;
  // only the names of where they were captured differ).
  const key = (r: (typeof offline)[number]) => `${r.communityId} ${r.packetsAtoB} ${r.bytesBtoA} ${r.app} ${r.serverName}`;
  assert.deepEqual(received.map(key).sort(), offline.map(key).sort());
});
