// Tasks keyed on the dimensions beyond the five flow fields (DSCP, TCP flags, VLAN, ICMP type
// and code, prefixes, AS, country, application, server name, direction, interface), checked
// against tshark's per-packet fields on shared captures: every task's packets and bytes per
// value must equal what tshark's dissection adds up to; and, stored, the queries group by
// those fields as the report counts them.
// Where a frame carries two headers of a kind (an ICMP error quoting the packet it answers,
// QinQ), the first is the one the key holds, as in tshark's first value.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig, type KeyField } from '../config/index.js';
import { aggregateFlows, findTask } from '../storage/queries.js';
import { connectStore } from '../storage/store.js';
import { mmdbFile } from '../testing/mmdb.js';

const CLI = join(process.cwd(), 'dist', 'ts', 'cli', 'main.js');
const pcaps = join(process.cwd(), '..', 'shared', 'pcaps');
let dir: string;
let config: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netspectra-key-fields-'));
  config = join(dir, 'tasks.yaml');
  writeFileSync(
    config,
    `tasks:
  - { name: dscp, type: exact, key: [DSCP] }
  - { name: flags, type: exact, key: [Protocol, TCPFlags] }
  - { name: vlan, type: exact, key: [VLAN] }
  - { name: icmp, type: exact, key: [Protocol, ICMPType, ICMPCode] }
  - { name: nets, type: exact, key: [SrcPrefix/16/32] }
  - { name: dscp_hh, type: countmin, key: [DSCP], width: 4096 }
  - { name: names, type: exact, key: [App, ServerName] }
  - { name: interfaces, type: exact, key: [Interface, Protocol] }
`,
  );
});

after(() => rmSync(dir, { recursive: true, force: true }));

interface Row {
  key: string;
  packets: number;
  bytes: number;
  proto?: number;
  dscp?: number;
  tcpFlags?: number;
  vlan?: number;
  icmpType?: number;
  icmpCode?: number;
  srcPrefix?: string;
}

interface TaskJson {
  name: string;
  keys?: number;
  top?: Row[];
  heavyHittersByPackets?: (Row & { exactPackets: number })[];
}

/** The whole capture as one window: every task's rows by name. */
function analyze(file: string): Map<string, TaskJson> {
  const r = spawnSync(process.execPath, [CLI, 'analyze', '--json', '--store', 'none', '--window', '0', '--top', '10000', '--config', config, file], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  assert.equal(r.status, 0, r.stderr);
  const windows = (JSON.parse(r.stdout) as { windows: { tasks: TaskJson[] }[] }).windows;
  assert.equal(windows.length, 1);
  return new Map(windows[0].tasks.map((t) => [t.name, t]));
}

/** tshark's fields of every frame (or of those the filter keeps), split on the tab. */
function tshark(file: string, fields: string[], filter?: string): string[][] {
  const args = ['-n', '-r', file, '-T', 'fields', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])];
  if (filter) args.push('-Y', filter);
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

type Sums = Map<string, [number, number]>;

function sum(into: Sums, key: string, bytes: number): void {
  const v = into.get(key) ?? [0, 0];
  v[0] += 1;
  v[1] += bytes;
  into.set(key, v);
}

function rowsOf(t: TaskJson | undefined, keyOf: (r: Row) => string | null): Sums {
  assert.ok(t?.top, 'the task is in the report');
  assert.equal(t.top.length, t.keys, 'every key listed');
  const out: Sums = new Map();
  for (const r of t.top) {
    const k = keyOf(r);
    if (k !== null) out.set(k, [r.packets, r.bytes]);
  }
  return out;
}

const sorted = (m: Sums) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** An address as 16 bytes (IPv4 mapped), in hex: the same text for tshark's and our forms. */
function addressHex(text: string, prefix?: number): string {
  let bytes: number[];
  if (text.includes('.')) {
    bytes = [...Array(10).fill(0), 0xff, 0xff, ...text.split('.').map(Number)];
  } else {
    const [head, tail] = text.split('::');
    const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
    const h = groups(head);
    const t = tail === undefined ? [] : groups(tail);
    const all = [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
    bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  }
  if (prefix !== undefined) {
    const keep = (text.includes('.') ? 96 : 0) + prefix;
    bytes = bytes.map((b, i) => (i * 8 >= keep ? 0 : i * 8 + 8 > keep ? b & (0xff << (i * 8 + 8 - keep)) & 0xff : b));
  }
  return Buffer.from(bytes).toString('hex');
}

test('DSCP, TCP flags and source prefixes equal tshark\'s on real IPv4 and IPv6 traffic', () => {
  const file = join(pcaps, 'debian-pathspider-real.pcap');
  const tasks = analyze(file);
  const frames = tshark(file, ['frame.len', 'ip.dsfield.dscp', 'ipv6.tclass.dscp', 'ip.src', 'ipv6.src']);
  const dscp: Sums = new Map();
  const nets: Sums = new Map();
  for (const [len, v4, v6, src4, src6] of frames) {
    sum(dscp, v4 || v6 || '0', Number(len));
    if (src4) sum(nets, addressHex(src4, 16), Number(len));
    else if (src6) sum(nets, addressHex(src6, 32), Number(len));
  }
  assert.ok(dscp.size > 1, `several DSCP values in the capture: ${[...dscp.keys()].join(', ')}`);
  assert.deepEqual(sorted(rowsOf(tasks.get('dscp'), (r) => String(r.dscp))), sorted(dscp));
  // Packets without IP have no prefix: one row, "-".
  const withoutIp = frames.filter(([, , , src4, src6]) => !src4 && !src6);
  assert.ok(withoutIp.length > 0);
  const ours = rowsOf(tasks.get('nets'), (r) => (r.srcPrefix === '-' ? '-' : addressHex(r.srcPrefix!.split('/')[0])));
  assert.deepEqual(ours.get('-'), [withoutIp.length, withoutIp.reduce((s, [len]) => s + Number(len), 0)]);
  ours.delete('-');
  assert.deepEqual(sorted(ours), sorted(nets));
  assert.ok(nets.size > 1);

  const tcp: Sums = new Map();
  for (const [len, flags] of tshark(file, ['frame.len', 'tcp.flags'], 'tcp and not icmp and not icmpv6')) sum(tcp, String(parseInt(flags, 16) & 0xff), Number(len));
  assert.ok(tcp.size >= 4, `SYN, SYN-ACK, ACK, FIN... seen: ${[...tcp.keys()].join(', ')}`);
  assert.deepEqual(sorted(rowsOf(tasks.get('flags'), (r) => (r.proto === 6 ? String(r.tcpFlags) : null))), sorted(tcp));

  // The Count-Min task on DSCP holds few keys: its candidates are exact, and each is listed
  // beside the exact count.
  const hh = tasks.get('dscp_hh')?.heavyHittersByPackets ?? [];
  assert.ok(hh.length > 0);
  for (const c of hh) assert.equal(c.packets, dscp.get(String(c.dscp))?.[0], `candidate ${c.key}`);
});

test('ICMP type and code equal tshark\'s, errors quoting a packet counted by their own header', () => {
  const file = join(pcaps, 'debian-libtrace-icmp-sample.pcap');
  const tasks = analyze(file);
  const icmp: Sums = new Map();
  for (const [len, type, code] of tshark(file, ['frame.len', 'icmp.type', 'icmp.code'], 'icmp')) sum(icmp, `${type}/${code}`, Number(len));
  assert.ok(icmp.size >= 4, [...icmp.keys()].join(', '));
  assert.deepEqual(sorted(rowsOf(tasks.get('icmp'), (r) => (r.proto === 1 ? `${r.icmpType}/${r.icmpCode}` : null))), sorted(icmp));
});

test('the VLAN key holds the outer tag of QinQ frames, untagged frames under 0', () => {
  const file = join(pcaps, 'tcpdump-802.1ad_QinQ.pcap');
  const tasks = analyze(file);
  const vlan: Sums = new Map();
  // tshark names an 802.1ad outer tag ieee8021ad.id, an 802.1Q one vlan.id.
  for (const [len, outer, id] of tshark(file, ['frame.len', 'ieee8021ad.id', 'vlan.id'])) sum(vlan, outer || id || '0', Number(len));
  assert.ok([...vlan.keys()].some((k) => k !== '0'), 'tagged frames in the capture');
  assert.deepEqual(sorted(rowsOf(tasks.get('vlan'), (r) => String(r.vlan))), sorted(vlan));
});

test('keys the core cannot hold are refused at start, saying why', () => {
  const bad = join(dir, 'bad.yaml');
  for (const [key, message] of [
    ['[SrcIP, DstIP, SrcPort, DstPort, Protocol, DSCP]', /task "t": key: the key SrcIP,DstIP,SrcPort,DstPort,Protocol,DSCP takes 40 bytes, more than the 39 a key holds/],
    ['[SrcIP, SrcPrefix]', /task "t": key: SrcIP and SrcPrefix are the same address, whole and cut short: choose one/],
    ['[SrcPrefix/33]', /task "t": key: key field "SrcPrefix\/33": the IPv4 length "33" is not a number from 1 to 32/],
    ['[Dscp]', /tasks\[0\]\.key\[0\]: "Dscp" is not one of SrcIP, DstIP, SrcPrefix, DstPrefix, SrcAS, DstAS, SrcCountry, DstCountry, App, ServerName, SrcPort, DstPort, Protocol, ICMPType, ICMPCode, TCPFlags, DSCP, VLAN, Direction, Interface/],
  ] as const) {
    writeFileSync(bad, `tasks:\n  - { name: t, type: exact, key: ${key} }\n`);
    const r = spawnSync(process.execPath, [CLI, 'analyze', '--store', 'none', '--config', bad, join(pcaps, 'debian-libtrace-icmp-sample.pcap')], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, key);
    assert.match(r.stderr, message);
  }
});

test('stored in the embedded store, the keys group by any of their fields as the report counts them', async () => {
  const file = join(pcaps, 'debian-pathspider-real.pcap');
  const data = join(dir, 'store');
  const r = spawnSync(process.execPath, [CLI, 'analyze', '--store', 'embedded', '--data', data, '--window', '0', '--config', config, file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  const report = analyze(file);
  const store = connectStore(loadConfig({ overrides: { 'storage.kind': 'embedded', 'storage.path': data } }).storage);
  try {
    const query = async (task: string, groupBy: KeyField[]) =>
      (await aggregateFlows(store, { task: await findTask(store, task), groupBy, orderBy: 'packets', ascending: false, limit: 10_000, offset: 0 })).rows;
    const dscp = await query('dscp', ['DSCP']);
    assert.deepEqual(
      dscp.map((row) => [row.key.dscp, row.key.dscpName, Number(row.packets), Number(row.bytes)]).sort(),
      report.get('dscp')!.top!.map((row) => [row.dscp, (row as { dscpName?: string }).dscpName, row.packets, row.bytes]).sort(),
    );
    const nets = await query('nets', ['SrcPrefix']);
    assert.deepEqual(
      nets.map((row) => [row.key.srcPrefix, Number(row.packets)]).sort(),
      report.get('nets')!.top!.map((row) => [row.srcPrefix, row.packets]).sort(),
    );
    assert.ok(nets.every((row) => row.key.srcIp === ''), 'a prefix is not an address');
    // Grouped by part of the key: TCP packets per flags, summed over the protocols' rows.
    const flags = await query('flags', ['TCPFlags']);
    const want = new Map<number, number>();
    for (const row of report.get('flags')!.top!) want.set(row.tcpFlags!, (want.get(row.tcpFlags!) ?? 0) + row.packets);
    assert.deepEqual(new Map(flags.map((row) => [row.key.tcpFlags, Number(row.packets)])), want);
    assert.ok(flags.some((row) => row.key.tcpFlagsText === 'SYN,ACK'));
    await assert.rejects(query('dscp', ['VLAN']), /groupBy: the task's key \(DSCP\) has no VLAN/);
    // Server names stored as text, grouped alone and with the application.
    const names = await query('names', ['ServerName']);
    const byName = new Map<string, number>();
    for (const row of report.get('names')!.top! as (Row & { serverName: string })[]) byName.set(row.serverName, (byName.get(row.serverName) ?? 0) + row.packets);
    assert.ok(byName.size > 2, `${byName.size} names`);
    assert.deepEqual(new Map(names.map((row) => [row.key.serverName, Number(row.packets)])), byName);
    const both = await query('names', ['App', 'ServerName']);
    assert.ok(both.some((row) => row.key.app === 'DNS' && row.key.serverName !== '-'));
    // An interface groups by its probe and name; summed over the protocols, every packet.
    const interfaces = await query('interfaces', ['Interface']);
    assert.deepEqual(interfaces.map((row) => [row.key.probe, row.key.interface, Number(row.packets)]), [[hostname(), file, 62_781]]);
  } finally {
    await store.close();
  }
});

test('AS, country and direction keys equal the networks they were looked up in, per packet', () => {
  // Databases of the capture's networks (MMDB files as the tests write them) and local networks;
  // tshark's addresses are put in the same networks by CIDR arithmetic here.
  const nets: [string, number, number, string][] = [
    ['10.64.0.0', 16, 64_500, 'DE'],
    ['10.151.0.0', 16, 64_501, 'FR'],
    ['10.174.0.0', 16, 64_502, 'JP'],
  ];
  const asn = join(dir, 'asn.mmdb');
  const country = join(dir, 'country.mmdb');
  writeFileSync(asn, mmdbFile(nets.map(([n, len, as]) => [`${n}/${len}`, { autonomous_system_number: as, autonomous_system_organization: `AS ${as}` }]), 'GeoLite2-ASN'));
  writeFileSync(country, mmdbFile(nets.map(([n, len, , c]) => [`${n}/${len}`, { country: { iso_code: c } }]), 'GeoLite2-Country'));
  const geoConfig = join(dir, 'geo.yaml');
  writeFileSync(
    geoConfig,
    `flows: { asnDatabase: ${asn}, countryDatabase: ${country}, localNetworks: [10.64.0.0/16] }
tasks:
  - { name: as_pairs, type: exact, key: [SrcAS, DstCountry, Direction] }
  - { name: countries, type: countmin, key: [SrcCountry] }
`,
  );
  const file = join(pcaps, 'debian-pathspider-real.pcap');
  const r = spawnSync(process.execPath, [CLI, 'analyze', '--json', '--store', 'none', '--window', '0', '--top', '10000', '--config', geoConfig, file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  const tasks = new Map((JSON.parse(r.stdout) as { windows: { tasks: TaskJson[] }[] }).windows[0].tasks.map((t) => [t.name, t]));
  const v4 = (a: string) => a.split('.').reduce((n, x) => n * 256 + Number(x), 0);
  const place = (a: string): [number, string] => {
    const hit = a.includes('.') ? nets.find(([n, len]) => Math.floor(v4(a) / 2 ** (32 - len)) === Math.floor(v4(n) / 2 ** (32 - len))) : undefined;
    return hit ? [hit[2], hit[3]] : [0, '-'];
  };
  const local = (a: string) => a.startsWith('10.64.');
  const want: Sums = new Map();
  const bySrcCountry: Sums = new Map();
  for (const [len, s4, d4, s6, d6] of tshark(file, ['frame.len', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst'])) {
    const src = s4 || s6;
    const dst = d4 || d6;
    // Packets without IP: no AS, no country, neither end local.
    const [srcAs, srcCountry] = src ? place(src) : [0, '-'];
    const dstCountry = dst ? place(dst)[1] : '-';
    const direction = ['external', 'outbound', 'inbound', 'local'][(src && local(src) ? 1 : 0) + (dst && local(dst) ? 2 : 0)];
    sum(want, `AS${srcAs} ${dstCountry} ${direction}`, Number(len));
    sum(bySrcCountry, srcCountry, Number(len));
  }
  assert.ok(want.size >= 4, [...want.keys()].join(', '));
  assert.deepEqual(sorted(rowsOf(tasks.get('as_pairs'), (row) => row.key)), sorted(want));
  const hh = tasks.get('countries')?.heavyHittersByPackets ?? [];
  assert.deepEqual(new Map(hh.map((c) => [c.key, c.packets])), new Map([...bySrcCountry].map(([k, [p]]) => [k, p])));
  // Without the databases (or with no local network) the key fields are refused at start.
  writeFileSync(geoConfig, `flows: { localNetworks: [] }\ntasks:\n  - { name: t, type: exact, key: [SrcAS, Direction] }\n`);
  const refused = spawnSync(process.execPath, [CLI, 'analyze', '--store', 'none', '--config', geoConfig, file], { encoding: 'utf8' });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /tasks\[0\]: the key field SrcAS needs flows\.asnDatabase/);
  assert.match(refused.stderr, /tasks\[0\]: the key field Direction needs flows\.localNetworks/);
});

test('ServerName and App keys equal tshark\'s names and protocols per TCP/UDP stream', () => {
  // A flow's names cover all of its packets, the handshake included, as a stream in tshark:
  // each stream takes its first SNI, HTTP Host or DNS query name, and its first application
  // protocol; its frames add up under them. Frames of no stream, and streams without a name,
  // count under "-".
  const file = join(pcaps, 'ndpi-sites.pcapng');
  const namesConfig = join(dir, 'names.yaml');
  writeFileSync(
    namesConfig,
    `tasks:
  - { name: names, type: exact, key: [ServerName] }
  - { name: apps, type: exact, key: [App] }
  - { name: top_names, type: countmin, key: [ServerName], width: 4096, heavyHitters: 10 }
  - { name: name_spread, type: superspread, key: [ServerName], element: [SrcIP], threshold: 1 }
`,
  );
  const r = spawnSync(process.execPath, [CLI, 'analyze', '--json', '--store', 'none', '--window', '0', '--top', '10000', '--config', namesConfig, file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  const tasks = new Map((JSON.parse(r.stdout) as { windows: { tasks: (TaskJson & { spreaders?: { serverName: string; spread: number }[] })[] }[] }).windows[0].tasks.map((t) => [t.name, t]));
  const frames = tshark(file, ['frame.len', 'tcp.stream', 'udp.stream', 'tls.handshake.extensions_server_name', 'http.host', 'dns.qry.name', 'frame.protocols']);
  const streamOf = (tcp: string, udp: string) => (tcp ? `t${tcp}` : udp ? `u${udp}` : null);
  const name = new Map<string, string>();
  const app = new Map<string, string>();
  for (const [, tcp, udp, sni, host, dns, protocols] of frames) {
    const s = streamOf(tcp, udp);
    if (!s) continue;
    if (!name.has(s) && (sni || host || dns)) name.set(s, sni || host || dns);
    const layers = protocols.split(':');
    const a = layers.includes('quic') ? 'QUIC' : layers.includes('tls') ? 'TLS' : layers.includes('http') ? 'HTTP' : layers.includes('dns') ? 'DNS' : null;
    if (!app.has(s) && a) app.set(s, a);
  }
  const byName: Sums = new Map();
  const byApp: Sums = new Map();
  for (const [len, tcp, udp] of frames) {
    const s = streamOf(tcp, udp);
    sum(byName, (s && name.get(s)) || '-', Number(len));
    sum(byApp, (s && app.get(s)) || '-', Number(len));
  }
  assert.ok(byName.size > 50, `${byName.size} names`);
  type Named = Row & { serverName?: string; app?: string };
  assert.deepEqual(sorted(rowsOf(tasks.get('names'), (row) => (row as Named).serverName!)), sorted(byName));
  assert.deepEqual(sorted(rowsOf(tasks.get('apps'), (row) => (row as Named).app!)), sorted(byApp));
  // The Count-Min task over names, counted from the flows' shares: its candidates are the
  // largest names, exactly counted at this width.
  const hh = tasks.get('top_names')?.heavyHittersByPackets ?? [];
  assert.equal(hh.length, 10);
  for (const c of hh) assert.deepEqual([c.packets, c.bytes], byName.get((c as Named).serverName!), (c as Named).serverName);
  // Distinct clients per name: this capture has one client per name.
  const spread = tasks.get('name_spread')?.spreaders ?? [];
  assert.ok(spread.length > 10 && spread.every((s) => s.serverName !== undefined));
});

test('the Interface key counts each capture file and pcapng interface as tshark numbers them', () => {
  const files = ['tcpreplay-test.pcap', 'ndpi-sites.pcapng', 'gopacket-le-test202.pcapng'].map((f) => join(pcaps, f));
  const ifConfig = join(dir, 'interfaces.yaml');
  writeFileSync(ifConfig, `tasks:\n  - { name: interfaces, type: exact, key: [Interface] }\n  - { name: if_hh, type: countmin, key: [Interface, Protocol] }\n`);
  const r = spawnSync(process.execPath, [CLI, 'analyze', '--json', '--store', 'none', '--window', '0', '--top', '1000', '--config', ifConfig, ...files], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  type Origin = Row & { probe: string; interface: string };
  const tasks = new Map((JSON.parse(r.stdout) as { windows: { tasks: TaskJson[] }[] }).windows[0].tasks.map((t) => [t.name, t]));
  // A capture's interface 0 is named by the file, another one as file#id (pcap files have one).
  const want: Sums = new Map();
  for (const file of files) {
    for (const [len, id] of tshark(file, ['frame.len', 'frame.interface_id'])) {
      // tshark lists a pcapng file's custom blocks as frames of no interface: not packets.
      if (id === '' && file.endsWith('.pcapng')) continue;
      sum(want, `${hostname()}/${Number(id || 0) ? `${file}#${id}` : file}`, Number(len));
    }
  }
  assert.ok(want.size > 20, `${want.size} interfaces`);
  assert.deepEqual(sorted(rowsOf(tasks.get('interfaces'), (row) => `${(row as Origin).probe}/${(row as Origin).interface}`)), sorted(want));
  for (const c of (tasks.get('if_hh')?.heavyHittersByPackets ?? []) as (Origin & { exactPackets: number })[]) {
    assert.equal(c.packets, c.exactPackets, `${c.key}: estimate and exact count`);
    assert.ok(want.has(`${c.probe}/${c.interface}`));
  }
});

test('the text report names every key field in its own column', () => {
  const text = (file: string) => {
    const r = spawnSync(process.execPath, [CLI, 'analyze', '--store', 'none', '--window', '0', '--top', '3', '--config', config, file], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const pathspider = text(join(pcaps, 'debian-pathspider-real.pcap'));
  assert.match(pathspider, /^DSCP\s+packets\s+bytes\n[- ]+\nCS0\s+62,644\s/m);
  assert.match(pathspider, /^Protocol\s+TCPFlags\s+packets\s+bytes\n[- ]+\nTCP\s+ACK\s+24,164\s/m);
  assert.match(pathspider, /^SrcPrefix\/16\/32\s+packets\s+bytes\n[- ]+\n10\.64\.0\.0\/16\s+\d/m);
  assert.match(pathspider, /^Protocol\s+Interface\s+packets\s+bytes\n[- ]+\nTCP\s+\S+\/\S+debian-pathspider-real\.pcap\s+60,873\s/m);
  assert.match(pathspider, /^non-IP\s+\S+\/\S+debian-pathspider-real\.pcap\s+743\s/m, 'packets without IP keep their interface');
  const icmp = text(join(pcaps, 'debian-libtrace-icmp-sample.pcap'));
  assert.match(icmp, /^Protocol\s+ICMPType\s+ICMPCode\s+packets\s+bytes\n[- ]+\nICMP\s+8\s+0\s+4\s/m);
});
