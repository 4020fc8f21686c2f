// End-to-end figures of `netspectra analyze` as a user runs it, next to tshark in the same run:
//   1. the default configuration (embedded store on, a fresh data folder each run), without the
//      store, and on one thread, on pathspider-real.pcap repeated 80 times (5M real packets)
//      and on 2M generated packets with over 200k flows; tshark's conversation statistics
//      (`-q -z conv,ip -z conv,tcp`) on the same files;
//   2. scaling: 1M, 5M and 20M packets with about 10k, 200k and 1M flows, on 1 and 2 threads.
// Builds its inputs first (outside the timings, cached in bench/.data). Each timing is the best
// of RUNS, wall clock from process start to the printed report, with the peak resident memory
// (GNU time). Writes bench/results/analyze.json; `node dist/bench/readme.js` puts the tables in
// README.md (a test checks that they match).
//
// Options: --quick (one run each, no 20M inputs), --tshark-timeout=SECONDS (default 600).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadBackend } from '../ts/backend/index.js';
import { writeSyntheticCapture } from '../ts/generate/write-capture.js';
import type { AnalyzeBench, CommandRow, ScalingRow } from './results.js';
import { repeatPcap } from './captures.js';

const root = process.cwd();
const data = join(root, 'bench', '.data');
const results = join(root, 'bench', 'results');
const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
const quick = process.argv.includes('--quick');
const RUNS = quick ? 1 : 3;
const tsharkTimeout = Number(/--tshark-timeout=(\d+)/.exec(process.argv.join(' '))?.[1] ?? 600);
const TIME = '/usr/bin/time';

interface Timed {
  seconds: number;
  maxRssMiB: number;
  stdout: string;
  timedOut: boolean;
}

/** Runs a command under GNU time: wall seconds and peak resident memory. */
function timed(cmd: string[], env: NodeJS.ProcessEnv = process.env, timeoutS = 0): Timed {
  const start = performance.now();
  const r = spawnSync(TIME, ['-f', 'maxrss=%M', ...cmd], { encoding: 'utf8', maxBuffer: 256 << 20, env, timeout: timeoutS * 1000 || undefined });
  const seconds = (performance.now() - start) / 1000;
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return { seconds, maxRssMiB: 0, stdout: '', timedOut: true };
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const rss = Number(/maxrss=(\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  return { seconds, maxRssMiB: Math.round(rss), stdout: r.stdout, timedOut: false };
}

/** Best of RUNS of `netspectra analyze --json`, each with a fresh data folder. */
function analyze(file: string, args: string[]): { seconds: number; maxRssMiB: number; packets: number; flows: number } {
  let best: Timed | null = null;
  let report: { totals: { packets: number }; flows?: { records: number } } | null = null;
  for (let i = 0; i < RUNS; i++) {
    const home = mkdtempSync(join(tmpdir(), 'netspectra-bench-'));
    try {
      const t = timed([process.execPath, cli, 'analyze', '--json', ...args, file], { ...process.env, XDG_DATA_HOME: home });
      if (!best || t.seconds < best.seconds) best = t;
      report = JSON.parse(t.stdout);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }
  return { seconds: best!.seconds, maxRssMiB: best!.maxRssMiB, packets: report!.totals.packets, flows: report!.flows?.records ?? 0 };
}

function tshark(file: string): { seconds: number | null; maxRssMiB: number | null } {
  const t = timed(['tshark', '-n', '-q', '-r', file, '-z', 'conv,ip', '-z', 'conv,tcp'], process.env, tsharkTimeout);
  return t.timedOut ? { seconds: null, maxRssMiB: null } : { seconds: t.seconds, maxRssMiB: t.maxRssMiB };
}

mkdirSync(data, { recursive: true });
mkdirSync(results, { recursive: true });
if (spawnSync(TIME, ['-f', '%M', 'true']).status !== 0) throw new Error(`${TIME} (GNU time) is needed: apt-get install time`);
const hasTshark = spawnSync('tshark', ['-v']).status === 0;
if (!hasTshark) console.log('tshark not found (apt-get install tshark): its column stays empty');

const pathspider = join(root, '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
const x80 = join(data, 'pathspider-x80.pcap');
if (!existsSync(x80)) repeatPcap(pathspider, x80, 80, 1);
const synthetic = join(data, 'synthetic-2m.pcap');
if (!existsSync(synthetic)) writeSyntheticCapture(loadBackend(), synthetic, { packets: 2_000_000, seed: 7 });

const commandRows: CommandRow[] = [];
for (const [input, file] of [['pathspider-real.pcap x80 (5.0M real packets)', x80], ['synthetic, 2M packets, generator seed 7', synthetic]] as const) {
  const t = hasTshark ? tshark(file) : { seconds: null, maxRssMiB: null };
  for (const [mode, args] of [
    ['default (embedded store, 2 threads)', []],
    ['--store none', ['--store', 'none']],
    ['--store none --threads 1', ['--store', 'none', '--threads', '1']],
    ['default, --threads 1', ['--threads', '1']],
  ] as const) {
    const r = analyze(file, [...args]);
    commandRows.push({
      input, mode, packets: r.packets, flows: r.flows, bytes: statSync(file).size, seconds: r.seconds, maxRssMiB: r.maxRssMiB,
      tsharkSeconds: t.seconds, tsharkMaxRssMiB: t.maxRssMiB, tsharkTimeout,
    });
    const last = commandRows[commandRows.length - 1];
    console.log(`${input}, ${mode}: ${last.seconds.toFixed(2)} s, ${(last.packets / last.seconds / 1e6).toFixed(2)} Mpps, ${last.maxRssMiB} MiB; tshark ${t.seconds === null ? `> ${tsharkTimeout}` : t.seconds.toFixed(1)} s`);
  }
}

// Scaling: per-copy flows of pathspider, and copies to reach each size.
const perCopy = analyze(pathspider, ['--store', 'none']).flows;
const scalingRows: ScalingRow[] = [];
for (const millions of quick ? [1, 5] : [1, 5, 20]) {
  const copies = Math.round((millions * 1e6) / 62_781);
  for (const flows of [10_000, 200_000, 1_000_000]) {
    const variants = Math.max(1, Math.min(copies, Math.round(flows / perCopy)));
    const file = join(data, `scaling-${millions}m-${variants}v.pcap`);
    if (!existsSync(file)) repeatPcap(pathspider, file, copies, variants);
    for (const threads of [1, 2]) {
      const r = analyze(file, ['--store', 'none', '--threads', String(threads)]);
      scalingRows.push({ packets: r.packets, targetFlows: flows, distinctFlows: perCopy * variants, flowRecords: r.flows, threads, seconds: r.seconds, maxRssMiB: r.maxRssMiB });
      console.log(`${millions}M packets, ~${flows} flows, ${threads} thread(s): ${r.seconds.toFixed(2)} s, ${(r.packets / r.seconds / 1e6).toFixed(2)} Mpps, ${r.maxRssMiB} MiB`);
    }
  }
}

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
const out: AnalyzeBench = { machine, runs: RUNS, date: new Date().toISOString().slice(0, 10), command: commandRows, scaling: scalingRows };
writeFileSync(join(results, 'analyze.json'), JSON.stringify(out, null, 2) + '\n');
console.log(`written to ${join(results, 'analyze.json')}; \`node dist/bench/readme.js\` puts the tables in README.md`);
