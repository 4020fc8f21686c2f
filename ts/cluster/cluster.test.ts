// Engines as a cluster, with real components: a nats-server with JetStream, engine processes
// killed with SIGKILL at random moments (with and without restart), the nats-server restarted
// mid-stream, and a webhook receiver on loopback. The windows the cluster publishes, merged
// over partitions, must equal `analyze` of the same capture window by window, exactly; an
// alert must be notified once firing and once resolved whichever engine is the alerter.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { loadBackend } from '../backend/index.js';
import { loadConfig, type NetspectraConfig } from '../config/index.js';
import { writeSyntheticCapture } from '../generate/write-capture.js';
import { Probe } from '../probe/probe.js';
import { JetStreamPublisher } from '../probe/publisher.js';
import type { AlertEvent } from '../shared/index.js';
import { NatsServer } from '../transport/nats-server.js';
import { connectNats, ensureStream, type Connection } from '../transport/nats.js';
import { ensureWindowStream, publishPart, readParts, type Part } from './parts.js';
import { ClusterMember } from './member.js';
import { Lease, openBuckets, readJson, StateRecord, writeJson } from './buckets.js';
import { clusterMetricsText } from './run.js';
import { openWindowStorage } from '../storage/index.js';

const CLI = join(process.cwd(), 'dist', 'ts', 'cli', 'main.js');
const quiet = () => {};
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
let nats: NatsServer;
let dir: string;
let capture: string;
/** analyze's windows of the capture: start -> totals. */
let expected: Map<string, Totals>;

interface Totals {
  packets: number;
  bytes: number;
  tcpSyn: number;
}

interface WindowJson extends Totals {
  start: string;
  latePackets: number;
}

before(async () => {
  nats = await NatsServer.start();
  dir = mkdtempSync(join(tmpdir(), 'netspectra-cluster-'));
  capture = join(dir, 'traffic.pcap');
  writeSyntheticCapture(loadBackend(), capture, { packets: 300_000, seed: 11, durationSeconds: 40 });
  const r = spawnSync(process.execPath, [CLI, 'analyze', '--json', '--store', 'none', '--window', '1s', capture], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  const windows = (JSON.parse(r.stdout) as { windows: WindowJson[] }).windows;
  assert.ok(windows.length >= 40);
  assert.equal(windows.reduce((s, w) => s + w.latePackets, 0), 0, 'the generated capture is in time order');
  expected = new Map(windows.map((w) => [w.start, { packets: w.packets, bytes: w.bytes, tcpSyn: w.tcpSyn }]));
});

/** The probes' connections, closed at the end. */
const probeConnections: Connection[] = [];

after(async () => {
  for (const c of probeConnections) await c.nc.close();
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Settings of one cluster, for the engines (environment) and this process (configuration). */
function clusterSettings(name: string, partitions: number): Record<string, string> {
  return {
    NETSPECTRA_NATS_STREAM: `${name}_PACKETS`,
    NETSPECTRA_NATS_SUBJECT: `${name}.packets`,
    NETSPECTRA_CLUSTER_WINDOW_STREAM: `${name}_WINDOWS`,
    NETSPECTRA_CLUSTER_WINDOW_SUBJECT: `${name}.windows`,
    NETSPECTRA_PROBE_PARTITIONS: String(partitions),
    NETSPECTRA_CLUSTER_LEASE_TTL: '1s',
    NETSPECTRA_ENGINE_IDLE_CLOSE: '300ms',
    NETSPECTRA_WINDOW: '1s',
    NETSPECTRA_PROBE_BATCH_PACKETS: '500',
  };
}

function configOf(settings: Record<string, string>, file?: string): NetspectraConfig {
  return loadConfig({ file, env: { ...settings, NETSPECTRA_NATS_URL: nats.url, NETSPECTRA_NATS_JETSTREAM: 'true', NETSPECTRA_PROBE_ID: 'cluster-probe' } });
}

class Engine {
  readonly proc: ChildProcess;
  log = '';
  constructor(settings: Record<string, string>, extra: string[] = []) {
    this.proc = spawn(process.execPath, [CLI, 'engine', '--nats', nats.url, '--jetstream', '--store', 'none', '--threads', '1', ...extra], {
      stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...settings },
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill(signal);
    await exited;
  }
}

async function until(what: string, ok: () => boolean, ms = 60_000, detail = () => ''): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}${detail() ? `: ${detail()}` : ''}`);
    await delay(20);
  }
}

/** Sends the capture (or part of it) through a probe into the cluster's packet stream. */
async function publish(cfg: NetspectraConfig, files: string[], probe?: Probe): Promise<Probe> {
  const conn = await connectNats(cfg.nats, 'cluster test probe', quiet);
  probeConnections.push(conn);
  await ensureStream(conn.nc, cfg.nats);
  const p = probe ?? new Probe(cfg, new JetStreamPublisher(conn, cfg.nats, cfg.probe.id, quiet), quiet, 'file');
  await p.replayFiles(files, 1 << 20);
  return p;
}

/** Follows the cluster's windows stream: every part, as the stream holds it (once). */
async function followParts(cfg: NetspectraConfig): Promise<{ parts: Part[]; stop(): Promise<void> }> {
  const conn = await connectNats(cfg.nats, 'cluster test reader', quiet);
  await ensureWindowStream(conn.nc, cfg);
  const parts: Part[] = [];
  const reader = readParts(jetstream(conn.nc), cfg, 1, async (p) => void parts.push(p), quiet);
  return {
    parts,
    async stop() {
      await reader.stop();
      await conn.nc.close();
    },
  };
}

function merged(parts: Part[]): Map<string, Totals> {
  const out = new Map<string, Totals>();
  for (const p of parts) {
    const w = JSON.parse(p.window.json) as WindowJson;
    const t = out.get(w.start) ?? { packets: 0, bytes: 0, tcpSyn: 0 };
    t.packets += w.packets;
    t.bytes += w.bytes;
    t.tcpSyn += w.tcpSyn;
    out.set(w.start, t);
  }
  return out;
}

/** Packets per window start (ms) in the rows of a file store's windows table. */
function storedWindows(file: string): Map<number, number> {
  const out = new Map<number, number>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const r = JSON.parse(line) as { window_start: string; packets: string | number };
    const start = Date.parse(r.window_start);
    out.set(start, (out.get(start) ?? 0) + Number(r.packets));
  }
  return out;
}

const totalPackets = (parts: Part[]) => parts.reduce((s, p) => s + p.window.packets, 0);
const expectedTotal = () => [...expected.values()].reduce((s, t) => s + t.packets, 0);

/** Waits until every packet is in a published window, then a while longer (a double count
 * would show), and compares the cluster's windows with analyze's. */
async function assertExactlyAnalyze(parts: Part[], engines: Engine[], what: string): Promise<void> {
  const logs = () => engines.map((e, i) => `engine ${i}:\n${e.log.split('\n').filter((l) => l.includes('cluster')).slice(-15).join('\n')}`).join('\n');
  await until('every packet in a published window', () => totalPackets(parts) >= expectedTotal(), 90_000, () => `${totalPackets(parts)} of ${expectedTotal()}\n${logs()}`);
  await delay(2_500);
  const got = merged(parts);
  assert.equal(totalPackets(parts), expectedTotal(), `${what}: packets over all windows\n${logs()}`);
  assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort(), `${what}: the same windows`);
  for (const [start, t] of expected) assert.deepEqual(got.get(start), t, `${what}: window ${start}`);
}

test('leases and checkpoints: one holder at a time, and a write over another\'s is refused', async () => {
  const cfg = configOf(clusterSettings('CLEASE', 1));
  const conn = await connectNats(cfg.nats, 'lease test', quiet);
  try {
    const { leases, state } = await openBuckets(conn.nc, cfg);
    const a = new Lease(leases, 'partition.0', 'engine-a', 1000);
    const b = new Lease(leases, 'partition.0', 'engine-b', 1000);
    assert.equal(await a.acquire(), true);
    assert.equal(await b.acquire(), false, 'held by a');
    assert.equal(await b.renew(), false, 'b never held it');
    assert.equal(await a.renew(), true);
    await a.release();
    assert.equal(await b.acquire(), true, 'free once released');
    assert.equal(await a.renew(), false);
    // Not renewed: it runs out after the TTL (not before), and a takes it.
    const since = Date.now();
    while (!(await a.acquire())) {
      assert.ok(Date.now() - since < 10_000, 'the lease never ran out');
      await delay(100);
    }
    assert.ok(Date.now() - since >= 900, `free after ${Date.now() - since} ms, before its TTL`);
    assert.equal(await b.renew(), false, 'b lost it');
    // Checkpoints: compare-and-set on the revision read.
    const first = await writeJson(state, 'checkpoint.0', { seq: 1 }, 0);
    assert.ok(first);
    assert.equal(await writeJson(state, 'checkpoint.0', { seq: 2 }, 0), null, 'created already');
    const second = await writeJson(state, 'checkpoint.0', { seq: 2 }, first);
    assert.ok(second);
    assert.equal(await writeJson(state, 'checkpoint.0', { seq: 3 }, first), null, 'a fenced engine cannot move it back');
    assert.deepEqual(await readJson(state, 'checkpoint.0'), { value: { seq: 2 }, revision: second });
    // A role's progress: a write queued earlier (a notifier done) is made from the value
    // written before it, never from an older one, so it cannot undo a later window's state.
    let fencedCalls = 0;
    const progress = new StateRecord<{ through: number; outbox: string[] }>(state, 'alerter.test', () => fencedCalls++);
    assert.equal(await progress.load(), null);
    await progress.update(() => ({ through: 10, outbox: ['x'] }));
    const saved = progress.update(() => ({ through: 15, outbox: ['x', 'y'] }));
    const settled = progress.update((last) => last && { ...last, outbox: last.outbox.filter((n) => n !== 'x') });
    await Promise.all([saved, settled]);
    assert.deepEqual((await readJson(state, 'alerter.test'))?.value, { through: 15, outbox: ['y'] });
    // A successor writes it: the former holder is fenced, told once, and writes no more.
    const successor = new StateRecord<{ through: number; outbox: string[] }>(state, 'alerter.test', () => {});
    assert.equal((await successor.load())?.through, 15);
    await successor.update((last) => last && { ...last, through: 20 });
    await assert.rejects(progress.update(() => ({ through: 99, outbox: [] })), /written by another engine/);
    await assert.rejects(progress.update(() => ({ through: 98, outbox: [] })), /written by another engine/);
    assert.equal(fencedCalls, 1);
    assert.equal(progress.fenced, true);
    assert.equal((await readJson<{ through: number }>(state, 'alerter.test'))?.value.through, 20);
  } finally {
    await conn.nc.close();
  }
});

test('one engine, one partition: the windows it publishes equal analyze\'s, task results and all', async () => {
  const pcap = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
  const settings = { ...clusterSettings('CPARITY', 1), NETSPECTRA_WINDOW: '10s' };
  const offline = spawnSync(process.execPath, [CLI, 'analyze', '--json', '--store', 'none', '--window', '10s', '--top', '10', pcap], {
    encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, NETSPECTRA_ANALYZE_EXACT_BESIDE: 'false' },
  });
  assert.equal(offline.status, 0, offline.stderr);
  const windows = (JSON.parse(offline.stdout) as { windows: unknown[] }).windows;
  const cfg = configOf(settings);
  const logs: string[] = [];
  const member = await ClusterMember.start(cfg, (l) => logs.push(l), 'parity-engine', { engine: true, storage: null });
  const follower = await followParts(cfg);
  try {
    assert.deepEqual(member.heldPartitions(), [0]);
    // Garbage in the packet stream first: skipped, logged once per kind, nothing else changes.
    const js = jetstream(member.connection.nc);
    for (let i = 0; i < 3; i++) await js.publish(`${cfg.nats.subject}.0`, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    const probe = await publish(cfg, [pcap]);
    await probe.stop();
    await until('every window', () => totalPackets(follower.parts) >= 62_781);
    assert.deepEqual(follower.parts.map((p) => JSON.parse(p.window.json)), windows);
    assert.ok(follower.parts.every((p) => p.engine === 'parity-engine' && p.partition === 0));
    assert.equal(logs.filter((l) => l.includes('skipped')).length, 1, logs.join('\n'));
    // What the engine's ops port serves (a part counts once its publication is acknowledged,
    // which may come after the reader got it).
    await until('the engine to count its parts', () => member.partitionStats().windows === follower.parts.length);
    const metrics = clusterMetricsText(member);
    assert.match(metrics, /^netspectra_cluster_engines 1$/m);
    assert.match(metrics, /^netspectra_cluster_partitions_held 1$/m);
    assert.match(metrics, /^netspectra_cluster_packets_total 62781$/m);
    assert.match(metrics, /^netspectra_cluster_partition_lag_batches\{partition="0"\} 0$/m);
    assert.match(metrics, new RegExp(`^netspectra_cluster_window_parts_total ${follower.parts.length}$`, 'm'));
    // A part larger than a message goes in chunks; published again by another engine (a
    // failover), the stream keeps one copy and the reader one part, whole.
    const big = follower.parts[0].window;
    const seen = follower.parts.length;
    assert.equal((await publishPart(js, cfg, 5_000, 'engine-a', 7, 0, big)).duplicate, false);
    assert.equal((await publishPart(js, cfg, 5_000, 'engine-b', 7, 0, big)).duplicate, true);
    await until('the chunked part', () => follower.parts.length > seen);
    await delay(300);
    assert.equal(follower.parts.length, seen + 1);
    const back = follower.parts[seen];
    assert.ok(back.seq - back.firstSeq >= 2, 'in chunks');
    assert.equal(back.window.json, big.json);
    assert.deepEqual(back.window.rows, big.rows);
    assert.match(logs.find((l) => l.includes('skipped'))!, /partition 0: batch 1 on CPARITY\.packets\.0 skipped: .*further garbage messages are only counted/);
  } finally {
    await member.stop();
    await follower.stop();
  }
});

describe('exactly once across engines, per window', () => {
  for (const scenario of [
    { name: 'two engines, one killed, not restarted', engines: 2, kills: 1, restart: false, partitions: 4 },
    { name: 'two engines, one killed and restarted', engines: 2, kills: 1, restart: true, partitions: 4 },
    { name: 'three engines, two killed at different moments, one restarted', engines: 3, kills: 2, restart: true, partitions: 6 },
  ]) {
    test(scenario.name, async () => {
      const id = `C${scenario.engines}${scenario.kills}${scenario.restart ? 'R' : 'N'}`;
      const settings = clusterSettings(id, scenario.partitions);
      const cfg = configOf(settings);
      const follower = await followParts(cfg);
      // A store-only member (what `serve --jetstream` runs) writes the cluster's windows to its
      // store while the engines are killed: once each.
      const storeDir = join(dir, `${id}-store`);
      const storage = openWindowStorage({ ...cfg.storage, kind: 'file', path: storeDir }, { source: cfg.cluster.name, log: quiet })!;
      const viewer = await ClusterMember.start(cfg, quiet, `${id}-viewer`, { engine: false, storage });
      const engines = Array.from({ length: scenario.engines }, () => new Engine(settings));
      try {
        await until('every partition held', () => engines.reduce((n, e) => n + (e.log.match(/partition \d+ held/g)?.length ?? 0), 0) >= scenario.partitions);
        const schedule: number[] = [];
        const sending = publish(cfg, [capture]);
        // Kills at random moments while the stream flows and the windows close, each after its
        // engine closed a window (so that a checkpoint of its own is there to resume from).
        for (let k = 0; k < scenario.kills; k++) {
          await until(`engine ${k} to close a window`, () => /engine: partition \d+: window /.test(engines[k].log));
          const wait = 150 + Math.floor(Math.random() * 900);
          schedule.push(wait);
          await delay(wait);
          await engines[k].kill();
          if (scenario.restart && k === 0) engines.push(new Engine(settings));
        }
        const probe = await sending;
        await probe.stop();
        await assertExactlyAnalyze(follower.parts, engines, `${scenario.name} (kills after ${schedule.join(', ')} ms)`);
        const survivors = engines.filter((e) => e.alive);
        assert.ok(survivors.some((e) => /resuming at batch \d+/.test(e.log)), 'a partition was taken over from its checkpoint');
        const stored = () => storedWindows(join(storeDir, 'windows.jsonl'));
        await until('the store to hold every window', () => [...stored().values()].reduce((a, b) => a + b, 0) >= expectedTotal());
        await viewer.stop();
        await storage.close();
        const rows = stored();
        assert.equal([...rows.values()].reduce((a, b) => a + b, 0), expectedTotal(), 'the store holds every packet once');
        for (const [start, t] of expected) assert.equal(rows.get(Math.round(Number(start) * 1000)), t.packets, `stored window ${start}`);
        // Flow records come in the parts: stored, and none twice.
        const flows = readFileSync(join(storeDir, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
        assert.ok(flows.length > 1000, `${flows.length} flow records stored`);
        const keys = flows.map((f) => JSON.stringify([f.src_ip, f.src_port, f.dst_ip, f.dst_port, f.proto, f.first_seen, f.last_seen, f.packets_ab, f.packets_ba]));
        assert.equal(new Set(keys).size, keys.length, 'no flow record stored twice');
      } finally {
        for (const e of engines) await e.kill('SIGTERM');
        await follower.stop();
        await viewer.stop().catch(() => {});
      }
    });
  }

  test('nats-server killed and restarted while an engine is killed: still exact', async () => {
    const settings = clusterSettings('CNATS', 4);
    const cfg = configOf(settings);
    const engines = [new Engine(settings), new Engine(settings)];
    let follower: Awaited<ReturnType<typeof followParts>> | null = null;
    try {
      await until('every partition held', () => engines.reduce((n, e) => n + (e.log.match(/partition \d+ held/g)?.length ?? 0), 0) >= 4);
      const sending = publish(cfg, [capture]);
      await delay(300 + Math.floor(Math.random() * 500));
      await nats.kill();
      await engines[0].kill();
      await delay(400);
      await nats.restart();
      engines.push(new Engine(settings));
      const probe = await sending;
      await probe.stop();
      follower = await followParts(cfg);
      await assertExactlyAnalyze(follower.parts, engines, 'nats-server restart');
    } finally {
      for (const e of engines) await e.kill('SIGTERM');
      await follower?.stop();
    }
  });
});

/** The capture cut in two at a time: packets before it, and the rest (little-endian pcap). */
function splitCapture(file: string, atMs: number): [string, string] {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  assert.ok(magic === 0xa1b2c3d4 || magic === 0xa1b23c4d, 'a little-endian pcap');
  const msPerFraction = magic === 0xa1b23c4d ? 1e-6 : 1e-3;
  let at = 24;
  while (at + 16 <= b.length && b.readUInt32LE(at) * 1000 + b.readUInt32LE(at + 4) * msPerFraction < atMs) at += 16 + b.readUInt32LE(at + 8);
  const first = join(dir, 'first.pcap');
  const rest = join(dir, 'rest.pcap');
  writeFileSync(first, b.subarray(0, at));
  writeFileSync(rest, Buffer.concat([b.subarray(0, 24), b.subarray(at)]));
  return [first, rest];
}

describe('one alerter, with failover', () => {
  let webhook: Server;
  const received: AlertEvent[] = [];

  before(async () => {
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push((JSON.parse(body) as { event: AlertEvent }).event);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
  });
  after(() => new Promise<void>((r) => {
    webhook.closeAllConnections();
    webhook.close(() => r());
  }));

  test('the alerting engine killed while an alert fires: one firing and one resolved notification, over the merged windows', async () => {
    const settings = { ...clusterSettings('CALERT', 4), NETSPECTRA_WINDOW: '5s' };
    const rules = join(dir, 'rules.yaml');
    // The scan's destinations are spread over the partitions: only the merged window sees it whole.
    writeFileSync(rules, `alerts:
  rules:
    - { name: scanner, task: scanners, metric: spread, threshold: 60, notify: [hook] }
  notifiers:
    - { type: webhook, name: hook, url: "http://127.0.0.1:${(webhook.address() as AddressInfo).port}/alerts" }
`);
    const file = join(dir, 'scan.pcap');
    writeSyntheticCapture(loadBackend(), file, { packets: 60_000, seed: 5, durationSeconds: 30 });
    const offline = spawnSync(process.execPath, [CLI, 'analyze', '--json', '--store', 'none', '--window', '5s', '--config', rules, file], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(offline.status, 0, offline.stderr);
    const scan = ((JSON.parse(offline.stdout) as { alerts: AlertEvent[] }).alerts).filter((e) => e.key.SrcIP === '203.0.113.250');
    assert.deepEqual(scan.map((e) => e.state), ['firing', 'resolved']);
    // The first half ends a window after the firing one, so that it closes; the resolve is in
    // the rest.
    const cut = Date.parse(scan[0].windowEnd) + 5_000;
    assert.ok(Date.parse(scan[1].windowStart) >= cut, 'the scan outlasts the first half');
    const [first, rest] = splitCapture(file, cut);

    const cfg = configOf(settings, rules);
    const engines = [new Engine(settings, ['--config', rules]), new Engine(settings, ['--config', rules])];
    try {
      await until('an alerter', () => engines.some((e) => e.log.includes('alerter held')));
      const probe = await publish(cfg, [first]);
      await until('the scan\'s firing notification', () => received.some((e) => e.state === 'firing' && e.key.SrcIP === '203.0.113.250'), 30_000, () => engines.map((e) => e.log).join('\n'));
      await delay(300); // the alerter records that its notification was sent
      const alerter = engines.find((e) => e.log.includes('alerter held'))!;
      const survivor = engines.find((e) => e !== alerter)!;
      const killedAt = Date.now();
      await alerter.kill();
      await until('the other engine to take the alerter over', () => survivor.log.includes('alerter held'), 30_000);
      const failoverMs = Date.now() - killedAt;
      assert.ok(failoverMs < 1_000 * 1 + 3_000, `failover took ${failoverMs} ms`);
      assert.match(survivor.log, /alerter held, resuming after the window that ended .* \(\d+ firing/);
      assert.doesNotMatch(survivor.log, /notification\(s\) it had not sent/);
      await publish(cfg, [rest], probe);
      await probe.stop();
      await until('the scan\'s resolved notification', () => received.some((e) => e.state === 'resolved' && e.key.SrcIP === '203.0.113.250'), 30_000, () => survivor.log);
      await delay(2_000); // a repeat would show
      const ours = received.filter((e) => e.key.SrcIP === '203.0.113.250');
      assert.deepEqual(ours.map((e) => e.state), ['firing', 'resolved'], `notifications ${JSON.stringify(ours.map((e) => [e.state, e.windowStart]))}\nkilled alerter:\n${alerter.log}\nsurvivor:\n${survivor.log}`);
      assert.equal(ours[0].id, ours[1].id);
      assert.equal(ours[0].source, 'netspectra');
      // The same alert as analyze raises from the whole capture in one process.
      // (The spread is the sum of the partitions' estimates: close to analyze's, not equal.)
      assert.deepEqual(ours.map((e) => [e.windowStart, e.windowEnd]), scan.map((e) => [e.windowStart, e.windowEnd]));
    } finally {
      for (const e of engines) await e.kill('SIGTERM');
    }
  });
});
