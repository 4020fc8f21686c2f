// The figures bench/run.ts writes (bench/results/analyze.json) and the README tables made of
// them: README.md shows exactly these tables (bench/readme.ts writes them, a test checks them).

export interface CommandRow {
  input: string;
  mode: string;
  packets: number;
  /** Flow records the report counted. */
  flows: number;
  bytes: number;
  seconds: number;
  maxRssMiB: number;
  /** tshark's conversation statistics on the same file; null when it ran past the timeout. */
  tsharkSeconds: number | null;
  tsharkMaxRssMiB: number | null;
  tsharkTimeout: number;
}

export interface ScalingRow {
  packets: number;
  targetFlows: number;
  /** Flows of the input (copies in distinct address spaces), and the records analyze made. */
  distinctFlows: number;
  flowRecords: number;
  threads: number;
  seconds: number;
  maxRssMiB: number;
}

export interface AnalyzeBench {
  machine: { cpu: string; cores: number; memoryGiB: number; node: string };
  runs: number;
  date: string;
  command: CommandRow[];
  scaling: ScalingRow[];
}

const millions = (n: number) => `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 2)} M`;
const mpps = (packets: number, seconds: number) => `${(packets / seconds / 1e6).toFixed(2)} Mpps`;
const thousands = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${Math.round(n / 1000)}k`);

/** The table of whole `analyze` runs next to tshark. */
export function commandTable(b: AnalyzeBench): string {
  const lines = [
    `Best of ${b.runs}, ${b.date}, ${b.machine.cores} cores (${b.machine.cpu}), Node ${b.machine.node}; wall clock from process start to the printed report, peak resident memory.`,
    '',
    '| input | `netspectra analyze` | time | packets/s | peak RSS | tshark `-z conv,ip -z conv,tcp` | faster than tshark |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of b.command) {
    const t = r.tsharkSeconds === null ? `over ${r.tsharkTimeout} s` : `${r.tsharkSeconds.toFixed(1)} s, ${r.tsharkMaxRssMiB} MiB`;
    const ratio = r.tsharkSeconds === null ? `over ${(r.tsharkTimeout / r.seconds).toFixed(0)}x` : `${(r.tsharkSeconds / r.seconds).toFixed(1)}x`;
    lines.push(`| ${r.input}, ${thousands(r.flows)} flow records | ${r.mode} | ${r.seconds.toFixed(2)} s | ${mpps(r.packets, r.seconds)} | ${r.maxRssMiB} MiB | ${t} | ${ratio} |`);
  }
  return lines.join('\n');
}

/** The scaling table: sizes and flows, one thread and two. */
export function scalingTable(b: AnalyzeBench): string {
  const lines = [
    '| packets | flows (records) | 1 thread | 2 threads | 2 threads / 1 | peak RSS (1 / 2 threads) |',
    '|---:|---:|---:|---:|---:|---:|',
  ];
  // Targets a size cannot reach give the same input twice: one row per distinct input.
  const key = (r: ScalingRow) => `${r.packets} ${r.distinctFlows}`;
  const keys = [...new Set(b.scaling.map(key))];
  for (const k of keys) {
    const one = b.scaling.find((r) => key(r) === k && r.threads === 1);
    const two = b.scaling.find((r) => key(r) === k && r.threads === 2);
    if (!one || !two) continue;
    lines.push(
      `| ${millions(one.packets)} | ${thousands(one.distinctFlows)} (${thousands(one.flowRecords)}) | ${mpps(one.packets, one.seconds)} | ${mpps(two.packets, two.seconds)} | ` +
        `${(one.seconds / two.seconds).toFixed(2)}x | ${one.maxRssMiB} / ${two.maxRssMiB} MiB |`,
    );
  }
  return lines.join('\n');
}

/** README.md with the part between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` replaced. */
export function withTable(readme: string, name: string, table: string): string {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const a = readme.indexOf(open);
  const z = readme.indexOf(close);
  if (a < 0 || z < a) throw new Error(`README.md has no ${open} ... ${close} section`);
  return `${readme.slice(0, a + open.length)}\n${table}\n${readme.slice(z)}`;
}

/** README.md with every bench table as the results give them. */
export function readmeWithResults(readme: string, b: AnalyzeBench): string {
  return withTable(withTable(readme, 'command', commandTable(b)), 'scaling', scalingTable(b));
}
