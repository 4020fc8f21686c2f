// Faults with real components: nats-server killed and restarted mid-stream, and an engine
// killed (SIGKILL) and restarted in JetStream mode.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClosedWindow } from '../backend/index.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { NatsServer } from '../transport/nats-server.js';
import { connectNats, ensureStream, type Connection } from '../transport/nats.js';
import { Probe } from '../probe/probe.js';
import { JetStreamPublisher, NatsPublisher, type Publisher } from '../probe/publisher.js';
import { runEngine } from './run-engine.js';

const CAPTURE = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
const PACKETS = 62_781;
const CLI = join(process.cwd(), 'dist', 'ts', 'cli', 'main.js');
const quiet = () => {};
let nats: NatsServer;
let dir: string;

before(async () => {
  nats = await NatsServer.start();
  dir = mkdtempSync(join(tmpdir(), 'netspectra-faults-'));
});
after(async () => {
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
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
  if (cfg.nats.jetstream) await ensureStream(conn.nc, cfg.nats);
  const publisher = cfg.nats.jetstream ? new JetStreamPublisher(conn, cfg.nats, cfg.probe.id, quiet) : new NatsPublisher(conn, cfg.nats, quiet);
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

test('JetStream: nats-server killed and restarted mid-stream loses nothing and counts nothing twice', async () => {
  const cfg = config({ 'nats.jetstream': true, 'nats.stream': 'FAULT_SERVER', 'nats.subject': 'js.fault', 'nats.durable': 'fault-server', 'nats.ackWait': '2s', 'probe.batchPackets': 256 });
  const engine = await runEngine(cfg, quiet);
  const windows: ClosedWindow[] = [];
  engine.host.onWindow = (w) => windows.push(w);
  const { conn, probe } = await probeFor(cfg);
  const replay = probe.replayFiles([CAPTURE, CAPTURE], 256 * 1024);
  await until('the stream to be flowing', () => packetsOf(windows) > 0);
  await nats.kill();
  await new Promise((r) => setTimeout(r, 300));
  await nats.restart();
  await replay;
  await probe.stop();
  await until('every packet in a window', () => packetsOf(windows) >= 2 * PACKETS);
  await new Promise((r) => setTimeout(r, 3_000)); // past the ack wait: a redelivery would show
  await engine.stop();
  await conn.nc.close();
  assert.equal(packetsOf(windows), 2 * PACKETS);
});

function startEngine(args: string[]): ChildProcess {
  return spawn(process.execPath, [CLI, 'engine', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

test('JetStream: an engine killed with SIGKILL and restarted neither loses nor double counts', async () => {
  const cfg = config({ 'nats.jetstream': true, 'nats.stream': 'FAULT_ENGINE', 'nats.subject': 'engine.fault', 'probe.batchPackets': 100, window: '1s' });
  const output = join(dir, 'windows.jsonl');
  const args = ['--nats', nats.url, '--jetstream', '--output', output, '--window', '1s', '--threads', '1'];
  const env = { NETSPECTRA_NATS_STREAM: 'FAULT_ENGINE', NETSPECTRA_NATS_SUBJECT: 'engine.fault', NETSPECTRA_NATS_ACK_WAIT: '2s', NETSPECTRA_ENGINE_IDLE_CLOSE: '300ms' };
  Object.assign(process.env, env);
  const children: ChildProcess[] = [];
  try {
    // The whole capture waits in the stream; the engine is killed part way through it.
    const { conn, probe } = await probeFor(cfg);
    await probe.replayFiles([CAPTURE], 1 << 20);
    await probe.stop();
    await conn.nc.close();
    // Whole lines only: the engine may be writing the last one.
    const lines = () => {
      const text = existsSync(output) ? readFileSync(output, 'utf8') : '';
      return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean);
    };
    const first = startEngine(args);
    children.push(first);
    await until('some windows written', () => lines().length >= 200);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const written = lines().length;
    assert.ok(written < 2_771, 'killed before the end');

    const second = startEngine(args);
    children.push(second);
    let log = '';
    second.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const total = () => lines().reduce((s, l) => s + (JSON.parse(l) as { window: { packets: number } }).window.packets, 0);
    await until('every packet written', () => total() >= PACKETS, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${total()} of ${PACKETS} written; engine log:\n${log.slice(-2000)}`);
    });
    await new Promise((r) => setTimeout(r, 2_500)); // past the ack wait: a redelivery would show
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
    assert.match(log, /resuming after the last written window/);
    assert.equal(total(), PACKETS);
    // A window is written once; batches redelivered after the restarted engine closed it (the
    // ack wait runs out) come as an extra row for the last window, all of it marked late.
    const seen = new Set<number>();
    for (const l of lines()) {
      const w = JSON.parse(l) as { startMs: number; window: { packets: number; latePackets: number } };
      if (seen.has(w.startMs)) assert.equal(w.window.latePackets, w.window.packets, `window ${w.startMs} written twice`);
      seen.add(w.startMs);
    }
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
});
