// Engine throughput per backend (native, wasm, js) on a stream of at least 10M packets, the cost
// of crossing from JavaScript into the engine per packet at several batch sizes, and peak memory.
//
// Every measurement runs in a child process of its own, so that its peak resident memory is its
// own. The stream is a real capture fed again and again as consecutive files (its bytes stay in
// memory; reading from disk is not measured). Prints a table and writes
// bench/results/backends.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { taskOptions } from '../ts/analyze/analyze-files.js';
import { loadBackend, type BackendName, type TaskOptions } from '../ts/backend/index.js';
import { loadConfig } from '../ts/config/index.js';

const ALL_BACKENDS: BackendName[] = ['native', 'wasm', 'js'];
const CHUNK = 4 << 20;
const CROSSING_BATCHES = [1, 64, 1024];

interface Measurement {
  packets: number;
  seconds: number;
  maxRssMiB: number;
}

/** The task sets measured: the defaults of configs/netspectra.yaml, alone and together. */
function taskSets(): Array<{ label: string; tasks: TaskOptions[] }> {
  const all = loadConfig({ env: {} }).tasks.map(taskOptions);
  const byType = (type: TaskOptions['type']) => all.filter((t) => t.type === type).slice(0, 1);
  return [
    { label: 'decode + conversations', tasks: [] },
    { label: `+ exact (${byType('exact')[0]?.name})`, tasks: byType('exact') },
    { label: `+ count-min (${byType('countmin')[0]?.name})`, tasks: byType('countmin') },
    { label: `+ superspread (${byType('superspread')[0]?.name})`, tasks: byType('superspread') },
    { label: `+ default task set (${all.length} tasks)`, tasks: all },
  ];
}

/** Offsets where each record of a pcap starts (after the 24-byte file header), and the end. */
function recordStarts(capture: Buffer): number[] {
  const starts: number[] = [];
  let at = 24;
  while (at + 16 <= capture.length) {
    starts.push(at);
    at += 16 + capture.readUInt32LE(at + 8);
  }
  starts.push(at);
  return starts;
}

/** Child: feeds `capture` as consecutive files until `minPackets`, in chunks made by `chunks`. */
function child(backendName: BackendName, setIndex: number, batch: number, captureFile: string, minPackets: number): Measurement {
  const capture = readFileSync(captureFile);
  const backend = loadBackend(backendName);
  const { tasks } = taskSets()[setIndex];
  const analyzer = backend.createAnalyzer({ windowSeconds: 0, tasks });
  let chunks: Uint8Array[];
  if (batch === 0) {
    chunks = [];
    for (let at = 0; at < capture.length; at += CHUNK) chunks.push(capture.subarray(at, at + CHUNK));
  } else {
    const starts = recordStarts(capture);
    chunks = [capture.subarray(0, 24)];
    for (let i = 0; i + 1 < starts.length; i += batch) chunks.push(capture.subarray(starts[i], starts[Math.min(i + batch, starts.length - 1)]));
  }
  // One pass outside the timing: code warm, tables grown.
  const pass = () => {
    analyzer.beginFile('bench');
    for (const c of chunks) analyzer.feed(c);
    analyzer.endFile();
  };
  pass();
  const warm = analyzer.packets();
  const start = process.hrtime.bigint();
  while (analyzer.packets() - warm < minPackets) pass();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  analyzer.closeWindow();
  return { packets: analyzer.packets() - warm, seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
}

function run(args: string[]): Measurement {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench child ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Measurement;
}

function main(argv: string[]): void {
  if (argv[0] === '--child') {
    const [backend, set, batch, file, min] = argv.slice(1);
    process.stdout.write(JSON.stringify(child(backend as BackendName, Number(set), Number(batch), file, Number(min))));
    return;
  }
  const root = process.cwd();
  const capture = argv.find((a) => !a.startsWith('--')) ?? join(root, '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
  const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const minPackets = Number(option('packets') ?? 10_000_000);
  const BACKENDS = (option('backends')?.split(',') ?? ALL_BACKENDS) as BackendName[];
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  console.log(`engine throughput per backend: ${capture}, >= ${minPackets.toLocaleString('en')} packets per row, fed from memory in 4 MiB chunks`);
  console.log(`${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}; one core per measurement`);

  const sets = taskSets();
  const throughput: Array<{ backend: BackendName; tasks: string; mpps: number; packets: number; seconds: number; maxRssMiB: number }> = [];
  console.log('\n' + 'tasks'.padEnd(40) + BACKENDS.map((b) => `${b} Mpps`.padStart(13) + `${b} MiB`.padStart(11)).join(''));
  for (const [i, s] of sets.entries()) {
    let line = s.label.padEnd(40);
    for (const b of BACKENDS) {
      const m = run([b, String(i), '0', capture, String(minPackets)]);
      const mpps = m.packets / m.seconds / 1e6;
      throughput.push({ backend: b, tasks: s.label, mpps, ...m });
      line += mpps.toFixed(2).padStart(13) + m.maxRssMiB.toFixed(0).padStart(11);
    }
    console.log(line);
  }

  // Crossing cost: the same stream (no tasks) in chunks of exactly N packets; the extra time per
  // packet over 4 MiB chunks is what each call into the engine costs, spread over N packets.
  const crossingPackets = Math.min(minPackets, 2_000_000);
  const crossing: Array<{ backend: BackendName; batch: number; nsPerPacket: number }> = [];
  console.log('\n' + `crossing cost, ns per packet (chunks of N packets vs 4 MiB chunks, no tasks, >= ${crossingPackets.toLocaleString('en')} packets)`);
  console.log('backend'.padEnd(12) + CROSSING_BATCHES.map((n) => `N=${n}`.padStart(10)).join(''));
  for (const b of BACKENDS) {
    const base = run([b, '0', '0', capture, String(crossingPackets)]);
    const basePer = base.seconds / base.packets;
    let line = b.padEnd(12);
    for (const n of CROSSING_BATCHES) {
      const m = run([b, '0', String(n), capture, String(crossingPackets)]);
      const ns = (m.seconds / m.packets - basePer) * 1e9;
      crossing.push({ backend: b, batch: n, nsPerPacket: ns });
      line += ns.toFixed(1).padStart(10);
    }
    console.log(line);
  }

  const results = join(root, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'backends.json'), JSON.stringify({ machine, capture, minPackets, throughput, crossing }, null, 2) + '\n');
  console.log(`\nwrote ${join(results, 'backends.json')}`);
}

main(process.argv.slice(2));
