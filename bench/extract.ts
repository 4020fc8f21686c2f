// Packets back from a folder of persisted captures: one flow cut out of at least 2 GB of pcap
// files, through the indexes beside them and by reading every file (--no-index), next to
// tcpdump reading every file with the equivalent BPF filter. The files are generated (a probe's
// rotation: one file per minute, each with its own traffic); times are of `netspectra extract`
// as a user runs it, with the page cache dropped before each run (cold) and then warm.
// Prints a table and writes bench/results/extract.json.
//
// Options: --files=N (default 12), --packets=N per file (default 300,000).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBackend } from '../ts/backend/index.js';
import { reindex } from '../ts/extract/index.js';
import { writeSyntheticCapture } from '../ts/generate/write-capture.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const CLI = join(root, 'dist', 'ts', 'cli', 'main.js');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const files = Number(arg('files') ?? 12);
const packetsPerFile = Number(arg('packets') ?? 300_000);
const work = mkdtempSync(join(tmpdir(), 'netspectra-bench-extract-'));
const folder = join(work, 'pcap');
const START_MS = Date.UTC(2026, 0, 1);

/** Drops the page cache (root only); false when it cannot. */
function dropCaches(): boolean {
  spawnSync('sync');
  return spawnSync('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' }).status === 0;
}

function timed(cmd: string, args: string[]): { seconds: number; stdout: string; stderr: string } {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return { seconds: Number(process.hrtime.bigint() - t) / 1e9, stdout: r.stdout, stderr: r.stderr };
}

interface Row {
  how: string;
  coldSeconds: number | null;
  warmSeconds: number;
  packets: number;
}

async function main(): Promise<void> {
  mkdirSync(folder, { recursive: true });
  const backend = loadBackend();
  let t = Date.now();
  for (let i = 0; i < files; i++) {
    const name = `probe-bench-${String(i).padStart(6, '0')}.pcap`;
    writeSyntheticCapture(backend, join(folder, name), { packets: packetsPerFile, seed: 100 + i, durationSeconds: 60, startMs: START_MS + i * 60_000 });
  }
  const captures = readdirSync(folder).sort().map((f) => join(folder, f));
  const bytes = captures.reduce((n, f) => n + statSync(f).size, 0);
  const generateSeconds = (Date.now() - t) / 1000;
  t = Date.now();
  const indexed = await reindex(backend, [folder]);
  const indexSeconds = (Date.now() - t) / 1000;
  const indexBytes = readdirSync(folder).filter((f) => f.endsWith('.nsidx')).reduce((n, f) => n + statSync(join(folder, f)).size, 0);

  // The flow: the busiest of the middle file (as an analyst would pick it from its flow records).
  const middle = captures[Math.floor(files / 2)];
  const analyzer = backend.createAnalyzer({ flows: { enabled: true } } as never);
  analyzer.beginFile(middle);
  for (let at = 0, b = readFileSync(middle); at < b.length; at += 1 << 22) analyzer.feed(b.subarray(at, at + (1 << 22)));
  analyzer.endFile();
  const records = JSON.parse(analyzer.takeFlows!(true)!) as { srcIp: string; srcPort: number; dstIp: string; dstPort: number; proto: number; protoName: string; packetsAtoB: number; packetsBtoA: number }[];
  const top = records.filter((r) => r.proto === 6).sort((a, b) => b.packetsAtoB + b.packetsBtoA - (a.packetsAtoB + a.packetsBtoA))[0];
  const flow = `${top.srcIp}:${top.srcPort} ${top.dstIp}:${top.dstPort} tcp`;
  // The generator tags some traffic with a VLAN: BPF needs to be told to look past the tag.
  const match = `tcp and host ${top.srcIp} and host ${top.dstIp} and port ${top.srcPort} and port ${top.dstPort}`;
  const bpf = `(${match}) or (vlan and ${match})`;

  const canDrop = dropCaches();
  const out = join(work, 'out.pcap');
  const runs: [string, () => { seconds: number; stdout: string; stderr: string }][] = [
    ['netspectra extract, through the indexes', () => timed(process.execPath, [CLI, 'extract', folder, '--flow', flow, '--format', 'pcap', '-w', out])],
    ['netspectra extract --no-index (every file read)', () => timed(process.execPath, [CLI, 'extract', folder, '--flow', flow, '--format', 'pcap', '--no-index', '-w', out])],
    ['tcpdump -r each file, the same flow as BPF', () => timed('sh', ['-c', `for f in ${folder}/*.pcap; do tcpdump -n -r "$f" '${bpf}' 2>/dev/null; done | wc -l`])],
  ];
  const rows: Row[] = [];
  for (const [how, run] of runs) {
    const cold = canDrop && dropCaches() ? run().seconds : null;
    const warm = run();
    const m = /^extract: ([\d,]+) of/.exec(warm.stderr);
    rows.push({ how, coldSeconds: cold, warmSeconds: warm.seconds, packets: m ? Number(m[1].replace(/,/g, '')) : Number(warm.stdout.trim()) });
  }
  const gib = (n: number) => `${(n / 1024 ** 3).toFixed(2)} GiB`;
  console.log(`extract bench: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${files} files, ${(files * packetsPerFile).toLocaleString('en-US')} generated packets, ${gib(bytes)}`);
  console.log(`generated in ${generateSeconds.toFixed(1)} s; indexed (${indexed.indexed.length} files) in ${indexSeconds.toFixed(1)} s, indexes ${(indexBytes / 1024 ** 2).toFixed(1)} MiB (${((100 * indexBytes) / bytes).toFixed(1)} % of the captures)`);
  console.log(`flow: ${flow} (${(top.packetsAtoB + top.packetsBtoA).toLocaleString('en-US')} packets in its flow record)\n`);
  console.log('| how | cold cache | warm cache | packets |\n|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.how} | ${r.coldSeconds === null ? 'n/a' : `${r.coldSeconds.toFixed(2)} s`} | ${r.warmSeconds.toFixed(2)} s | ${r.packets.toLocaleString('en-US')} |`);
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(root, 'bench', 'results', 'extract.json'),
    JSON.stringify({ cores: cpus().length, files, packets: files * packetsPerFile, bytes, generateSeconds, indexSeconds, indexBytes, flow, rows, cacheDropped: canDrop }, null, 2) + '\n',
  );
  rmSync(work, { recursive: true, force: true });
}

await main();
