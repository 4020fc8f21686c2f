// Faults with real components on core NATS: nats-server killed and restarted mid-stream (the
// same and engine kills in JetStream mode: ts/cluster/cluster.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ClosedWindow } from '../backend/index.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { NatsServer } from '../transport/nats-server.js';
import { connectNats, type Connection } from '../transport/nats.js';
import { Probe } from '../probe/probe.js';
import { NatsPublisher, type Publisher } from '../probe/publisher.js';
import { runEngine } from './run-engine.js';

const CAPTURE = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
const PACKETS = 62_781;
const quiet = () => {};
let nats: NatsServer;

before(async () => {
  nats = await NatsServer.start();
});
after(async () => {
  await nats.stop();
});

function config(overrides: Record<string, unknown>): NetspectraConfig {
  return loadConfig({ env: {}, overrides: { 'nats.url': nats.url, window: '10s', 'engine.idleClose': '200ms', 'engine.threads': 1, 'probe.id': 'fault-probe', ...overrides } });
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const packetsOf = (ws: ClosedWindow[]) => ws.reduce((s, w) => s + (JSON.parse(w.json) as { packets: number }).packets, 0);

async function probeFor(cfg: NetspectraConfig): Promise<{ conn: Connection; publisher: Publisher; probe: Probe }> {
  const conn = await connectNats(cfg.nats, 'fault probe', quiet);
  const publisher = new NatsPublisher(conn, cfg.nats, quiet);
  return { conn, publisher, probe: new Probe(cfg, publisher, quiet, 'file') };
}

test('core NATS: the probe keeps a bounded queue while the server is down, says what it dropped, and resumes', async () => {
  const cfg = config({ 'nats.subject': 'core.fault', 'nats.reconnectBuffer': '1MiB', 'probe.batchPackets': 256 });
  const engine = await runEngine(cfg, quiet);
  const windows: ClosedWindow[] = [];
  engine.host.onWindow = (w) => windows.push(w);
  const { conn, probe } = await probeFor(cfg);
  await probe.replayFiles([CAPTURE], 1 << 20);
  await until('the first replay in windows', () => packetsOf(windows) === PACKETS);

  await nats.kill();
  await until('the probe to see the server gone', () => !conn.connected());
  // 62,781 packets are about 4 MB of batches: more than the 1 MiB queue holds.
  const replay = probe.replayFiles([CAPTURE], 1 << 20);
  await until('the queue to overflow', () => probe.stats().probeDropped > 0);
  await nats.restart();
  await replay;
  const dropped = probe.stats().probeDropped;
  assert.ok(dropped > PACKETS / 2 && dropped < PACKETS, `dropped ${dropped}`);
  // Both connections are back well within a second (reconnect wait 250 ms).
  await new Promise((r) => setTimeout(r, 1000));
  await probe.replayFiles([CAPTURE], 1 << 20);
  await probe.stop();
  await until('the third replay', () => packetsOf(windows) >= 2 * PACKETS);
  await new Promise((r) => setTimeout(r, 300));
  const stats = (await engine.host.engine.stats()) as { probes: { id: string; probeDropped: number }[] };
  await engine.stop();
  await conn.nc.close();
  // What was dropped was counted, by the probe and in the batches the engine received. The
  // queued rest was sent on reconnect; core NATS is at-most-once, so what the probe sent before
  // the engine had subscribed again is gone (JetStream closes that gap): all of the first and
  // third replays arrive, and at most the queued part of the second.
  const total = packetsOf(windows);
  assert.ok(total >= 2 * PACKETS && total <= 3 * PACKETS - dropped, `engine counted ${total}, probe dropped ${dropped}`);
  assert.equal(stats.probes.find((p) => p.id === 'fault-probe')?.probeDropped, dropped);
});
