// The cost of names (DNS, TLS/QUIC SNI, HTTP Host read from each flow's first payloads):
// `netspectra analyze` with names on (the default) and off (flows.names false), with the default
// embedded store (a fresh data folder each run) and with --store none,
// next to nDPI's ndpiReader on one thread (application and host name per flow, Debian's
// libndpi-bin), on pathspider-real.pcap repeated 80 times (5M real packets) and on 2M generated
// packets; and names with country and AS enrichment (flows.asnDatabase, flows.countryDatabase:
// generated MMDB files of 100,000 IPv4 /24 and 20,000 IPv6 /32 networks each, as the tests write
// them); and all of that with eight more exact tasks keyed on the other dimensions (prefixes,
// DSCP, TCP flags, ICMP type and code, VLAN, AS, country, direction, application and server
// name, interface) beside the default tasks. Best of RUNS, wall
// clock. Prints a table and writes bench/results/names.json.
//
// Options: --quick (one run each).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackend } from '../ts/backend/index.js';
import { writeSyntheticCapture } from '../ts/generate/write-capture.js';
import { mmdbFile } from '../ts/testing/mmdb.js';
import { repeatPcap } from './captures.js';

const root = process.cwd();
const data = join(root, 'bench', '.data');
const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
const RUNS = process.argv.includes('--quick') ? 1 : 3;

interface Row {
  input: string;
  packets: number;
  /** Default configuration (embedded store), names on and off. */
  storeOn: number;
  storeOff: number;
  /** --store none. */
  namesOn: number;
  namesOff: number;
  /** Names and country/AS enrichment: default configuration, and --store none. */
  geoStore: number;
  geo: number;
  /** ...and the tasks on the other key fields. */
  fieldsStore: number;
  fields: number;
  ndpiReader: number | null;
  flows: number;
  /** The server names with the most bytes. */
  topNames: string[];
}

/** Best wall seconds of RUNS runs (each with a fresh data folder), and the last run's output. */
function best(cmd: string[], env: NodeJS.ProcessEnv = process.env): { seconds: number; stdout: string } {
  let seconds = Infinity;
  let stdout = '';
  for (let i = 0; i < RUNS; i++) {
    const home = mkdtempSync(join(tmpdir(), 'netspectra-bench-names-'));
    try {
      const start = performance.now();
      const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', maxBuffer: 256 << 20, env: { ...env, XDG_DATA_HOME: home } });
      if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
      seconds = Math.min(seconds, (performance.now() - start) / 1000);
      stdout = r.stdout;
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }
  return { seconds, stdout };
}

mkdirSync(data, { recursive: true });
const x80 = join(data, 'pathspider-x80.pcap');
if (!existsSync(x80)) repeatPcap(join(root, '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap'), x80, 80, 1);
const synthetic = join(data, 'synthetic-2m.pcap');
if (!existsSync(synthetic)) writeSyntheticCapture(loadBackend(), synthetic, { packets: 2_000_000, seed: 7 });
// Country and AS databases of many networks (deterministic: a simple LCG picks them).
const asnFile = join(data, 'bench-asn.mmdb');
const countryFile = join(data, 'bench-country.mmdb');
if (!existsSync(asnFile) || !existsSync(countryFile)) {
  let x = 12345;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const v4 = new Set<string>();
  while (v4.size < 100_000) {
    const n = next() >>> 8;
    v4.add(`${n >>> 16}.${(n >>> 8) & 255}.${n & 255}.0/24`);
  }
  const v6 = new Set<string>();
  while (v6.size < 20_000) v6.add(`2${(next() % 0x1000).toString(16).padStart(3, '0')}:${(next() & 0xffff).toString(16)}::/32`);
  const nets = [...v4, ...v6];
  const codes = ['DE', 'US', 'NL', 'FR', 'JP', 'BR', 'IN', 'SE', 'GB', 'CN'];
  writeFileSync(asnFile, mmdbFile(nets.map((n, i) => [n, { autonomous_system_number: 1000 + (i % 9000), autonomous_system_organization: `AS ${1000 + (i % 9000)} Networks` }]), 'GeoLite2-ASN'));
  writeFileSync(countryFile, mmdbFile(nets.map((n, i) => [n, { country: { iso_code: codes[i % codes.length] } }]), 'GeoLite2-Country'));
}
const geoEnv = { ...process.env, NETSPECTRA_FLOWS_ASN_DATABASE: asnFile, NETSPECTRA_FLOWS_COUNTRY_DATABASE: countryFile };
// The default tasks (configs/netspectra.yaml) and one exact task per other key field group.
const fieldsConfig = join(data, 'bench-fields.yaml');
writeFileSync(
  fieldsConfig,
  `tasks:
  - { name: src_ip, type: exact, key: [SrcIP] }
  - { name: dst_port, type: exact, key: [DstPort, Protocol] }
  - { name: heavy_flows, type: countmin, key: [SrcIP, DstIP, SrcPort, DstPort, Protocol], depth: 4, width: 2048, conservative: true, heavyHitters: 20 }
  - { name: scanners, type: superspread, key: [SrcIP], element: [DstIP], depth: 2, width: 8192, registers: 128, registerBits: 5, decayBase: 1.08, threshold: 64 }
  - { name: victims, type: superspread, key: [DstIP], element: [SrcIP], depth: 2, width: 8192, registers: 128, registerBits: 5, decayBase: 1.08, threshold: 64 }
  - { name: prefixes, type: exact, key: [SrcPrefix, DstPrefix, DstPort] }
  - { name: icmp, type: exact, key: [Protocol, ICMPType, ICMPCode] }
  - { name: dscp, type: exact, key: [SrcIP, DSCP] }
  - { name: tcp_flags, type: exact, key: [Protocol, TCPFlags] }
  - { name: vlan, type: exact, key: [VLAN, Protocol] }
  - { name: as_pairs, type: exact, key: [SrcAS, DstAS, DstCountry, Direction] }
  - { name: server_names, type: exact, key: [App, ServerName] }
  - { name: interfaces, type: exact, key: [Interface, Protocol] }
`,
);

const hasNdpi = spawnSync('ndpiReader', ['-h']).error === undefined;
if (!hasNdpi) console.log('ndpiReader not found (apt-get install libndpi-bin): its column stays empty');

const rows: Row[] = [];
for (const [input, file] of [['pathspider-real.pcap x80 (5.0M real packets)', x80], ['synthetic, 2M packets, generator seed 7', synthetic]] as const) {
  const noNames = { ...process.env, NETSPECTRA_FLOWS_NAMES: 'false' };
  const storeOn = best([process.execPath, cli, 'analyze', '--json', file]).seconds;
  const storeOff = best([process.execPath, cli, 'analyze', '--json', file], noNames).seconds;
  const on = best([process.execPath, cli, 'analyze', '--json', '--store', 'none', file]);
  const off = best([process.execPath, cli, 'analyze', '--json', '--store', 'none', file], noNames);
  const geoStore = best([process.execPath, cli, 'analyze', '--json', file], geoEnv).seconds;
  const geo = best([process.execPath, cli, 'analyze', '--json', '--store', 'none', file], geoEnv).seconds;
  const fieldsStore = best([process.execPath, cli, 'analyze', '--json', '--config', fieldsConfig, file], geoEnv).seconds;
  const fields = best([process.execPath, cli, 'analyze', '--json', '--store', 'none', '--config', fieldsConfig, file], geoEnv).seconds;
  const ndpi = hasNdpi ? best(['ndpiReader', '-q', '-n', '1', '-i', file]).seconds : null;
  const report = JSON.parse(on.stdout) as { totals: { packets: number }; flows: { records: number; serverNames: { name: string }[] } };
  const row: Row = {
    input, packets: report.totals.packets, storeOn, storeOff, namesOn: on.seconds, namesOff: off.seconds, geoStore, geo, fieldsStore, fields, ndpiReader: ndpi, flows: report.flows.records,
    topNames: report.flows.serverNames.slice(0, 3).map((n) => n.name),
  };
  rows.push(row);
  console.log(`${input}: default (store) names on ${storeOn.toFixed(2)} s, off ${storeOff.toFixed(2)} s (x${(storeOn / storeOff).toFixed(2)}); --store none: names on ${row.namesOn.toFixed(2)} s, off ${row.namesOff.toFixed(2)} s (x${(row.namesOn / row.namesOff).toFixed(2)}); names and country/AS: default ${geoStore.toFixed(2)} s (x${(geoStore / storeOff).toFixed(2)}), --store none ${geo.toFixed(2)} s (x${(geo / row.namesOff).toFixed(2)}); and the key-field tasks: default ${fieldsStore.toFixed(2)} s (x${(fieldsStore / storeOff).toFixed(2)}), --store none ${fields.toFixed(2)} s (x${(fields / row.namesOff).toFixed(2)}); ndpiReader ${ndpi === null ? '-' : `${ndpi.toFixed(2)} s`}; ${row.flows} flows, top names ${row.topNames.join(', ')}`);
}
const out = { machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version }, runs: RUNS, date: new Date().toISOString().slice(0, 10), rows };
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'names.json'), JSON.stringify(out, null, 2) + '\n');
