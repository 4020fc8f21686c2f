// What a larger snap length costs the live probe: tcpreplay at top speed into a veth pair
// (needs root), `netspectra probe` capturing with --snaplen 160 (headers only) and 65535 (the
// default: whole packets, what names need, GRO-merged ones included) with a 32 MiB kernel buffer
// and with 128 MiB (the default), publishing to a local nats-server. Per run: packets sent and captured, kernel
// drops, and the probe's CPU seconds. The replayed
// capture is generated (many flows, payloads up to full frames) so that the snap length matters.
// Prints a table and writes bench/results/snaplen.json.
//
// Options: --packets=N generated packets (default 600,000), --loops=N replays (default 2).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBackend } from '../ts/backend/index.js';
import { writeSyntheticCapture } from '../ts/generate/write-capture.js';
import { VethPair } from '../ts/probe/veth.js';
import { NatsServer } from '../ts/transport/nats-server.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const CLI = join(root, 'dist', 'ts', 'cli', 'main.js');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const packets = Number(arg('packets') ?? 600_000);
const loops = Number(arg('loops') ?? 2);
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Row { snaplen: number; bufferMiB: number; sent: number; sentPps: number; captured: number; dropped: number; cpuSeconds: number }

const data = join(root, 'bench', '.data');
mkdirSync(data, { recursive: true });
const capture = join(data, `snaplen-${packets}.pcap`);
if (!existsSync(capture)) writeSyntheticCapture(loadBackend(), capture, { packets, seed: 21, durationSeconds: 60 });

const nats = await NatsServer.start();
const veth = new VethPair('snap');
const why = veth.create(['tcpreplay']);
const rows: Row[] = [];
try {
  if (why) throw new Error(`skipped: ${why}`);
  for (const [snaplen, bufferMiB] of [[160, 32], [160, 128], [65535, 32], [65535, 128]]) {
    const log = join(data, `snaplen-${snaplen}-${bufferMiB}.log`);
    // GNU time prints the probe's CPU seconds when it exits.
    // Its own process group: GNU time ignores SIGINT, the probe must get it.
    const probe = spawn('sh', ['-c', `exec /usr/bin/time -f "cpu=%U+%S" ${process.execPath} ${CLI} probe --iface ${veth.near} --snaplen ${snaplen} --nats ${nats.url} 2> ${log}`], {
      detached: true, env: { ...process.env, NETSPECTRA_PROBE_BUFFER_SIZE: String(bufferMiB * 1024 * 1024) },
    });
    await delay(2500);
    const [cmd, ...args] = veth.command('tcpreplay', '-i', veth.far, '--topspeed', '--loop', String(loops), capture);
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    await delay(1500);
    const exited = new Promise((res) => probe.once('exit', res));
    process.kill(-probe.pid!, 'SIGINT');
    await exited;
    const text = readFileSync(log, 'utf8');
    const last = [...text.matchAll(/captured ([\d,]+), sent [\d,]+ batches; drops: kernel ([\d,]+)/g)].pop();
    const num = (s: string | undefined) => Number((s ?? '0').replace(/,/g, ''));
    const cpu = /cpu=([\d.]+)\+([\d.]+)/.exec(text);
    rows.push({
      snaplen, bufferMiB,
      sent: Number(/Successful packets:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0),
      sentPps: Number(/Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(r.stdout)?.[1] ?? 0),
      captured: num(last?.[1]), dropped: num(last?.[2]),
      cpuSeconds: cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN,
    });
    const x = rows[rows.length - 1];
    console.log(`snaplen ${snaplen}, buffer ${bufferMiB} MiB: sent ${x.sent} at ${Math.round(x.sentPps)} pps, captured ${x.captured}, kernel dropped ${x.dropped}, probe CPU ${x.cpuSeconds.toFixed(2)} s`);
  }
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'snaplen.json'), JSON.stringify({ cores: cpus().length, packets, loops, rows }, null, 2) + '\n');
} catch (e) {
  console.log((e as Error).message);
} finally {
  veth.destroy();
  await nats.stop();
}
