// End-to-end throughput of `netspectra analyze` on files of at least 1M packets.
// Builds its inputs first (outside the timings): the largest shared capture repeated with shifted
// timestamps, and a synthetic capture from NetSpectra's generator. Prints a table and writes
// bench/results/analyze.json. The core's own loop is measured by `cargo bench` (decode_table).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadBackend } from '../ts/backend/index.js';
import { writeSyntheticCapture } from '../ts/generate/write-capture.js';

const root = process.cwd();
const data = join(root, 'bench', '.data');
const results = join(root, 'bench', 'results');
const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
const RUNS = 3;

/** Repeats every record of a little-endian microsecond pcap `times` times, shifting time so the
 * copies follow each other. */
function repeatPcap(source: string, target: string, times: number): number {
  const src = readFileSync(source);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (view.getUint32(0, true) !== 0xa1b2c3d4) throw new Error(`${source}: expected a little-endian microsecond pcap`);
  const records: Array<[number, number, number]> = [];
  for (let off = 24; off + 16 <= src.length; ) {
    const caplen = view.getUint32(off + 8, true);
    records.push([off, view.getUint32(off, true), caplen]);
    off += 16 + caplen;
  }
  const span = records[records.length - 1][1] - records[0][1] + 1;
  const fd = openSync(target, 'w');
  writeSync(fd, src.subarray(0, 24));
  for (let i = 0; i < times; i++) {
    const chunk = Buffer.from(src.subarray(24, records[records.length - 1][0] + 16 + records[records.length - 1][2]));
    const cv = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (const [off, sec] of records) cv.setUint32(off - 24, sec + i * span, true);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  return records.length * times;
}

function timeAnalyze(file: string, extraArgs: string[]): { bestMs: number; packets: number } {
  let best = Infinity;
  let packets = 0;
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const r = spawnSync(process.execPath, [cli, 'analyze', '--json', ...extraArgs, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const ms = performance.now() - start;
    if (r.status !== 0) throw new Error(`analyze failed: ${r.stderr}`);
    packets = JSON.parse(r.stdout).totals.packets;
    best = Math.min(best, ms);
  }
  return { bestMs: best, packets };
}

mkdirSync(data, { recursive: true });
mkdirSync(results, { recursive: true });
const inputs: Array<{ name: string; file: string }> = [];
const pathspider = join(root, '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
const repeated = join(data, 'pathspider-x80.pcap');
if (!existsSync(repeated)) repeatPcap(pathspider, repeated, 80);
inputs.push({ name: 'pathspider-real.pcap x80 (real traffic, small packets)', file: repeated });
const synthetic = join(data, 'synthetic-1m.pcap');
if (!existsSync(synthetic)) writeSyntheticCapture(loadBackend(), synthetic, { packets: 1_000_000, seed: 1 });
inputs.push({ name: 'synthetic 1M packets (generator, ~700-byte packets)', file: synthetic });

// Decode, conversations and report only; then the default task set of configs/netspectra.yaml
// (with an exact task beside every sketch, as analyze runs by default).
const noTasks = join(data, 'no-tasks.yaml');
writeFileSync(noTasks, 'tasks: []\n');
const configs: Array<{ label: string; args: string[] }> = [
  { label: 'no tasks', args: ['--config', noTasks] },
  { label: 'default tasks', args: [] },
];
const rows = inputs.flatMap(({ name, file }) =>
  configs.map(({ label, args }) => {
    const { bestMs, packets } = timeAnalyze(file, args);
    const size = statSync(file).size;
    return { name: `${name}, ${label}`, packets, bytes: size, bestMs: Math.round(bestMs), mpps: packets / bestMs / 1000, gbps: (size * 8) / bestMs / 1e6 };
  }),
);

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
console.log(`netspectra analyze, whole command (process start to report), best of ${RUNS}; ${machine.cpu}, ${machine.cores} cores`);
console.log('input'.padEnd(72), 'packets'.padStart(10), 'time'.padStart(9), 'Mpps'.padStart(7), 'Gbit/s'.padStart(8));
for (const r of rows) {
  console.log(r.name.padEnd(72), String(r.packets).padStart(10), `${r.bestMs} ms`.padStart(9), r.mpps.toFixed(2).padStart(7), r.gbps.toFixed(1).padStart(8));
}
writeFileSync(join(results, 'analyze.json'), JSON.stringify({ machine, runs: RUNS, rows }, null, 2) + '\n');
