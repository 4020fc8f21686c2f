// Engines as a cluster (JetStream mode): a generated capture with many flows is put in the
// packet stream, then 1, 2 and 3 engine processes drain it (6 partitions); the time from their
// start to the last packet in a published window gives the throughput. Then failover: of two
// engines, the one that is the alerter is killed (SIGKILL) part way; measured are the time until
// the other holds its partitions and the alerter lease, and that the windows stay exact.
// Prints tables and writes bench/results/cluster.json.
//
// Options: --packets=N (default 2,000,000).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream } from '@nats-io/jetstream';
import { loadBackend } from '../ts/backend/index.js';
import { loadConfig, type NetspectraConfig } from '../ts/config/index.js';
import { writeSyntheticCapture } from '../ts/generate/write-capture.js';
import { Probe } from '../ts/probe/probe.js';
import { JetStreamPublisher } from '../ts/probe/publisher.js';
import { NatsServer } from '../ts/transport/nats-server.js';
import { connectNats, ensureStream } from '../ts/transport/nats.js';
import { ensureWindowStream, readParts, type Part } from '../ts/cluster/parts.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const CLI = join(root, 'dist', 'ts', 'cli', 'main.js');
const quiet = () => {};
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const packets = Number(arg('packets') ?? 2_000_000);
const PARTITIONS = 6;
const work = mkdtempSync(join(tmpdir(), 'netspectra-bench-cluster-'));

let nats: NatsServer;

function settings(name: string): Record<string, string> {
  return {
    NETSPECTRA_NATS_URL: nats.url, NETSPECTRA_NATS_JETSTREAM: 'true',
    NETSPECTRA_NATS_STREAM: `${name}_PACKETS`, NETSPECTRA_NATS_SUBJECT: `${name}.packets`,
    NETSPECTRA_CLUSTER_WINDOW_STREAM: `${name}_WINDOWS`, NETSPECTRA_CLUSTER_WINDOW_SUBJECT: `${name}.windows`,
    NETSPECTRA_PROBE_PARTITIONS: String(PARTITIONS), NETSPECTRA_CLUSTER_LEASE_TTL: '2s', NETSPECTRA_ENGINE_IDLE_CLOSE: '200ms',
    NETSPECTRA_WINDOW: '1s', NETSPECTRA_PROBE_ID: 'bench',
  };
}

async function until(ok: () => boolean, ms = 600_000): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > ms) throw new Error('timed out');
    await delay(5);
  }
}

/** Fills the cluster's packet stream with the capture. */
async function fill(cfg: NetspectraConfig, capture: string): Promise<void> {
  const conn = await connectNats(cfg.nats, 'bench probe', quiet);
  await ensureStream(conn.nc, cfg.nats);
  await ensureWindowStream(conn.nc, cfg);
  const probe = new Probe(cfg, new JetStreamPublisher(conn, cfg.nats, 'bench', quiet), quiet, 'file');
  await probe.replayFiles([capture], 4 << 20);
  await probe.stop();
  await conn.nc.drain();
}

async function followParts(cfg: NetspectraConfig) {
  const conn = await connectNats(cfg.nats, 'bench reader', quiet);
  const parts: Part[] = [];
  let counted = 0;
  const reader = readParts(jetstream(conn.nc), cfg, 1, async (p) => {
    parts.push(p);
    counted += p.window.packets;
  }, quiet);
  return { parts, counted: () => counted, async stop() { await reader.stop(); await conn.nc.close(); } };
}

class Engine {
  readonly proc: ChildProcess;
  log = '';
  constructor(env: Record<string, string>, args: string[] = []) {
    this.proc = spawn(process.execPath, [CLI, 'engine', '--store', 'none', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill(signal);
    await exited;
  }
}

interface ThroughputRow { engines: number; packets: number; seconds: number; mpps: number }

async function drain(capture: string, engines: number): Promise<ThroughputRow> {
  const env = settings(`BENCH${engines}`);
  const cfg = loadConfig({ env });
  await fill(cfg, capture);
  const parts = await followParts(cfg);
  const t = performance.now();
  const procs = Array.from({ length: engines }, () => new Engine(env));
  await until(() => parts.counted() >= packets);
  // Includes the engines' start (about 0.3 s) and the idle close of the last windows (0.2 s).
  const seconds = (performance.now() - t) / 1000;
  for (const p of procs) await p.kill('SIGTERM');
  await parts.stop();
  return { engines, packets, seconds, mpps: packets / seconds / 1e6 };
}

interface FailoverRow { killedAfterMs: number; partitionsTakenMs: number; alerterTakenMs: number; totalSeconds: number; packetsCounted: number; packetsExpected: number }

async function failover(capture: string): Promise<FailoverRow> {
  const env = settings('BENCHFAIL');
  const rules = join(work, 'rules.yaml');
  writeFileSync(rules, 'alerts:\n  rules:\n    - { name: busy, metric: pps, threshold: 10Mpps }\n');
  const cfg = loadConfig({ env, file: rules });
  await fill(cfg, capture);
  const parts = await followParts(cfg);
  const t = performance.now();
  const engines = [new Engine(env, ['--config', rules]), new Engine(env, ['--config', rules])];
  await until(() => parts.counted() >= packets * 0.4);
  const alerter = engines.find((e) => e.log.includes('alerter held'))!;
  const survivor = engines.find((e) => e !== alerter)!;
  const killedAt = performance.now();
  await alerter.kill('SIGKILL');
  const before = survivor.log.length;
  await until(() => (survivor.log.slice(before).match(/partition \d+ held, resuming/g)?.length ?? 0) >= PARTITIONS / 2);
  const partitionsTakenMs = performance.now() - killedAt;
  await until(() => survivor.log.slice(before).includes('alerter held'));
  const alerterTakenMs = performance.now() - killedAt;
  await until(() => parts.counted() >= packets);
  const totalSeconds = (performance.now() - t) / 1000;
  await delay(3_000); // a double count would show
  const counted = parts.counted();
  await survivor.kill('SIGTERM');
  await parts.stop();
  return { killedAfterMs: killedAt - t, partitionsTakenMs, alerterTakenMs, totalSeconds, packetsCounted: counted, packetsExpected: packets };
}

async function main(): Promise<void> {
  nats = await NatsServer.start();
  try {
    const capture = join(work, 'traffic.pcap');
    writeSyntheticCapture(loadBackend(), capture, { packets, seed: 3, durationSeconds: 60 });
    const flows = spawnSync(process.execPath, [CLI, 'analyze', '--json', '--store', 'none', capture], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const flowRecords = (JSON.parse(flows.stdout) as { flows?: { records: number } }).flows?.records ?? 0;
    console.log(`cluster bench: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${packets.toLocaleString('en-US')} generated packets (${flowRecords.toLocaleString('en-US')} flow records), ${PARTITIONS} partitions, 1 s windows, default tasks`);
    const rows: ThroughputRow[] = [];
    for (const n of [1, 2, 3]) rows.push(await drain(capture, n));
    console.log('\n| engines | packets | seconds | Mpps |\n|---:|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.engines} | ${r.packets.toLocaleString('en-US')} | ${r.seconds.toFixed(2)} | ${r.mpps.toFixed(2)} |`);
    const f = await failover(capture);
    console.log('\n| failover (2 engines, the alerter killed at 40 %) | value |\n|---|---:|');
    console.log(`| its partitions held again by the other engine | ${(f.partitionsTakenMs / 1000).toFixed(2)} s after the kill |`);
    console.log(`| the alerter lease taken over | ${(f.alerterTakenMs / 1000).toFixed(2)} s after the kill |`);
    console.log(`| the whole stream drained | ${f.totalSeconds.toFixed(2)} s |`);
    console.log(`| packets in published windows | ${f.packetsCounted.toLocaleString('en-US')} of ${f.packetsExpected.toLocaleString('en-US')} |`);
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'cluster.json'), JSON.stringify({ cores: cpus().length, packets, flowRecords, partitions: PARTITIONS, leaseTtlSeconds: 2, rows, failover: f }, null, 2) + '\n');
  } finally {
    await nats.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
