// The live path on loopback: probe batching -> nats-server -> engine process, in packets/s per
// engine process, bytes per packet on the wire, the probe alone; and live capture on a veth pair
// (tcpreplay at top speed) against `tcpdump -w /dev/null` on the same replay (needs root).
// Prints a table and writes bench/results/transport.json.
//
// Options: --packets=N (default 4,000,000; the capture is sent again and again, retimed).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type NetspectraConfig } from '../ts/config/index.js';
import { Probe } from '../ts/probe/probe.js';
import { NatsPublisher } from '../ts/probe/publisher.js';
import { NatsServer } from '../ts/transport/nats-server.js';
import { VethPair } from '../ts/probe/veth.js';
import { connectNats } from '../ts/transport/nats.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const CLI = join(root, 'dist', 'ts', 'cli', 'main.js');
const CAPTURE = join(root, '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
const CAPTURE_PACKETS = 62_781;
const quiet = () => {};
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const wanted = Number(arg('packets') ?? 4_000_000);
const loops = Math.ceil(wanted / CAPTURE_PACKETS);
const work = mkdtempSync(join(tmpdir(), 'netspectra-bench-transport-'));

async function until(ok: () => boolean, ms = 600_000): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function windowPackets(file: string): number {
  if (!existsSync(file)) return 0;
  const text = readFileSync(file, 'utf8');
  // Whole lines only: the engine may be writing the last one.
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).reduce((s, l) => s + (JSON.parse(l) as { window: { packets: number } }).window.packets, 0);
}

/**
 * The capture `loops` times over as one file whose clock runs like a live link: each copy is
 * squeezed into one second after the previous one, so 10 s windows close every 10 copies, as
 * they would live (replaying the original times would close a window every few packets, and
 * window snapshots, not packets, would be measured).
 */
function liveTimedStream(): string {
  const original = readFileSync(CAPTURE);
  const starts: number[] = [];
  for (let at = 24; at + 16 <= original.length; at += 16 + original.readUInt32LE(at + 8)) starts.push(at);
  const t = (at: number) => original.readUInt32LE(at) + original.readUInt32LE(at + 4) / 1e6;
  const first = t(starts[0]);
  const span = t(starts[starts.length - 1]) - first || 1;
  const copy = Buffer.from(original);
  const out = join(work, 'live-timed.pcap');
  const parts: Buffer[] = [copy.subarray(0, 24)];
  // Ends a minute ago: the engine closes the last window once the clock is past it.
  const base = Math.floor(Date.now() / 1000) - loops - 60;
  for (let i = 0; i < loops; i++) {
    const c = Buffer.from(original.subarray(24));
    for (const at of starts) {
      const us = Math.floor(((t(at) - first) / span) * 999_999);
      c.writeUInt32LE(base + i, at - 24);
      c.writeUInt32LE(us, at - 24 + 4);
    }
    parts.push(c);
  }
  writeFileSync(out, Buffer.concat(parts));
  return out;
}

let stream = '';

/** Replays the stream through a probe into NATS; returns packets and bytes sent. */
async function replay(cfg: NetspectraConfig): Promise<{ packets: number; wireBytes: number; seconds: number }> {
  const conn = await connectNats(cfg.nats, 'bench probe', quiet);
  const publisher = new NatsPublisher(conn, cfg.nats, quiet);
  let wireBytes = 0;
  const publish = publisher.publish.bind(publisher);
  publisher.publish = (b) => {
    wireBytes += b.message.byteLength;
    publish(b);
  };
  const probe = new Probe(cfg, publisher, quiet, 'file');
  const t = performance.now();
  const packets = await probe.replayFiles([stream], 4 << 20);
  await probe.stop();
  const seconds = (performance.now() - t) / 1000;
  await conn.nc.drain();
  return { packets, wireBytes, seconds };
}

interface Row { label: string; packets: number; seconds: number; mpps: number; bytesPerPacket: number }

async function throughEngine(nats: NatsServer, label: string, workers: number, tasks: 'default' | 'none', backend = 'native'): Promise<Row> {
  const output = join(work, `${label.replace(/\W+/g, '-')}.jsonl`);
  const configFile = join(work, 'none.yaml');
  writeFileSync(configFile, 'tasks: []\n');
  const args = [CLI, 'engine', '--nats', nats.url, '--output', output, '--threads', String(workers), ...(tasks === 'none' ? ['--config', configFile] : [])];
  const engine: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NETSPECTRA_ENGINE_IDLE_CLOSE: '50ms', NETSPECTRA_BACKEND: backend } });
  let log = '';
  engine.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await until(() => log.includes('engine '));
  await new Promise((r) => setTimeout(r, 300));
  const cfg = loadConfig({ env: {}, overrides: { 'nats.url': nats.url } });
  const t = performance.now();
  const sent = await replay(cfg);
  await until(() => windowPackets(output) >= sent.packets);
  // The last window waits for the idle close (50 ms) and the 5 ms poll.
  const seconds = (performance.now() - t) / 1000 - 0.055;
  engine.kill('SIGTERM');
  await new Promise((r) => engine.once('exit', r));
  return { label, packets: sent.packets, seconds, mpps: sent.packets / seconds / 1e6, bytesPerPacket: sent.wireBytes / sent.packets };
}

interface LiveRow { tool: string; sent: number; captured: number; dropped: number; sentPps: number }

/** tcpreplay at top speed into a veth pair; the capture runs on the host end. */
async function liveComparison(): Promise<LiveRow[] | string> {
  const veth = new VethPair('bench');
  const why = veth.create(['tcpreplay', 'tcpdump']);
  if (why) return `skipped: ${why}`;
  const a = veth.near;
  const sh = (...c: string[]) => spawnSync(c[0], c.slice(1), { encoding: 'utf8' });
  const loop = String(Math.max(1, Math.round(loops / 2)));
  const send = () => {
    const r = sh(...veth.command('tcpreplay', '-i', veth.far, '--topspeed', '--loop', loop, CAPTURE));
    const sent = Number(/Successful packets:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
    const pps = Number(/Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(r.stdout)?.[1] ?? 0);
    return { sent, pps };
  };
  const rows: LiveRow[] = [];
  try {
    // tcpdump and the probe with the same settings: snaplen 160, 32 MiB buffer (what a larger
    // snap length costs the probe is bench/snaplen.ts).
    const dump = spawn('tcpdump', ['-i', a, '-s', '160', '-B', '32768', '-w', '/dev/null', 'ip or ip6'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let dumpLog = '';
    dump.stderr!.on('data', (d: Buffer) => (dumpLog += d.toString()));
    await delay(1000);
    const s1 = send();
    await delay(1000);
    dump.kill('SIGINT');
    await delay(1000);
    rows.push({
      tool: 'tcpdump -w /dev/null', sent: s1.sent, sentPps: s1.pps,
      captured: Number(/(\d+) packets captured/.exec(dumpLog)?.[1] ?? 0), dropped: Number(/(\d+) packets dropped by kernel/.exec(dumpLog)?.[1] ?? 0),
    });
    // Our probe, publishing to NATS with nothing subscribed (a like-for-like capture rate).
    const out = join(work, 'probe.log');
    const probe = spawn('sh', ['-c', `exec ${process.execPath} ${CLI} probe --iface ${a} --snaplen 160 --nats nats://127.0.0.1:${natsPortForLive} 2> ${out}`], {
      env: { ...process.env, NETSPECTRA_PROBE_BUFFER_SIZE: String(32 * 1024 * 1024) },
    });
    await delay(2000);
    const s2 = send();
    await delay(1000);
    probe.kill('SIGINT');
    await delay(2000);
    const plog = readFileSync(out, 'utf8');
    const last = [...plog.matchAll(/captured ([\d,]+), sent [\d,]+ batches; drops: kernel ([\d,]+)/g)].pop();
    const num = (s: string | undefined) => Number((s ?? '0').replace(/,/g, ''));
    rows.push({ tool: 'netspectra probe', sent: s2.sent, sentPps: s2.pps, captured: num(last?.[1]), dropped: num(last?.[2]) });
  } finally {
    veth.destroy();
  }
  return rows;
}

let natsPortForLive = 0;

async function main(): Promise<void> {
  const nats = await NatsServer.start();
  natsPortForLive = nats.port;
  try {
    console.log(`transport bench: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${loops} x ${CAPTURE}, one second each, = ${(loops * CAPTURE_PACKETS).toLocaleString('en-US')} packets`);
    stream = liveTimedStream();
    const probeOnly = await replay(loadConfig({ env: {}, overrides: { 'nats.url': nats.url } }));
    const rows: Row[] = [
      { label: 'probe alone (decode + batch + publish)', packets: probeOnly.packets, seconds: probeOnly.seconds, mpps: probeOnly.packets / probeOnly.seconds / 1e6, bytesPerPacket: probeOnly.wireBytes / probeOnly.packets },
    ];
    for (const [label, workers, tasks, backend] of [
      ['engine, no tasks, 1 worker', 1, 'none', 'native'],
      ['engine, default tasks, 1 worker', 1, 'default', 'native'],
      ['engine, default tasks, 2 workers', 2, 'default', 'native'],
      ['engine on the wasm backend, default tasks, 2 workers', 2, 'default', 'wasm'],
    ] as const) {
      rows.push(await throughEngine(nats, label, workers, tasks, backend));
    }
    console.log('\n| path | packets | seconds | Mpps | bytes/packet on the wire |\n|---|---:|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.label} | ${r.packets.toLocaleString('en-US')} | ${r.seconds.toFixed(2)} | ${r.mpps.toFixed(2)} | ${r.bytesPerPacket.toFixed(1)} |`);
    const live = await liveComparison();
    if (typeof live === 'string') console.log(`\nlive capture: ${live}`);
    else {
      console.log('\n| live capture (tcpreplay --topspeed into a veth pair) | sent | sent pps | captured | kernel dropped |\n|---|---:|---:|---:|---:|');
      for (const r of live) console.log(`| ${r.tool} | ${r.sent.toLocaleString('en-US')} | ${Math.round(r.sentPps).toLocaleString('en-US')} | ${r.captured.toLocaleString('en-US')} | ${r.dropped.toLocaleString('en-US')} |`);
    }
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'transport.json'), JSON.stringify({ cores: cpus().length, rows, live }, null, 2) + '\n');
  } finally {
    await nats.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
