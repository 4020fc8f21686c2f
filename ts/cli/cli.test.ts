// The command line end to end, as a user runs it: exit codes, one-line errors naming the file,
// the offset and the problem, and never a crash or a hang on bad input.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AnalysisReport } from '../report/types.js';

const cli = join(process.cwd(), 'dist', 'ts', 'cli', 'main.js');
const pcaps = join(process.cwd(), '..', 'shared', 'pcaps');
const dir = mkdtempSync(join(tmpdir(), 'netspectra-cli-'));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, cwd: dir });
  assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, content: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function pcapHeader(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(65535, 16);
  h.writeUInt32LE(1, 20);
  return h;
}

function pcapRecord(caplen: number, wirelen = caplen, data = Buffer.alloc(caplen)): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(1_700_000_000, 0);
  h.writeUInt32LE(caplen, 8);
  h.writeUInt32LE(wirelen, 12);
  return Buffer.concat([h, data.subarray(0, Math.min(data.length, caplen))]);
}

test('the exit status says what became of the rows: 3 when some were quarantined, 4 when they wait in the spill', async () => {
  const data = join(dir, 'exit-store');
  // A pcapng packet 2^63 ns after the epoch: past the last time the store's DateTime64(9) holds.
  const { concat, epb, idb, shb } = await import('../testing/test-captures.js');
  const frame = Buffer.alloc(60);
  frame.writeUInt16BE(0x0800, 12);
  const late = file('2262.pcapng', concat([shb(false), idb(false, 1, 0, [[9, [9]]]), epb(false, 0, 1n << 63n, frame)]));
  const q = run('analyze', '--data', data, late);
  assert.equal(q.code, 3, q.stderr);
  assert.match(q.stderr, /rows QUARANTINED \(window_start 9223372036\.854775808 s is past 2262-04-11T23:47:16\.854775807Z/);
  assert.match(q.stdout, /Storage\n=======\n.*\n[\d,]+ rows QUARANTINED \(kept out of their tables, in the store's quarantine\):\n  [\d,]+: window_start 9223372036/);
  const json = JSON.parse(run('analyze', '--data', data, '--json', late).stdout) as AnalysisReport;
  assert.ok(json.storage!.rowsQuarantined > 0 && json.storage!.error === null);
  // A ClickHouse server that does not answer: every row waits in the spill, and the run is not visible.
  const down = run('analyze', '--store', 'clickhouse', '--config', file('down.yaml', `storage:\n  url: http://127.0.0.1:9\n  spillDir: ${join(dir, 'down-spill')}\n  retryMax: 100ms\n`), join(pcaps, 'ndpi-KakaoTalk_talk.pcap'));
  assert.equal(down.code, 4, down.stderr);
  assert.match(down.stderr, /rows WAIT IN THE SPILL \(.*ECONNREFUSED.*\): the run is not visible until they are written/);
  assert.match(down.stdout, /rows WAIT IN THE SPILL: this run is not visible until they are written/);
});

test('a missing file is a one-line error and exit 1', () => {
  const r = run('analyze', join(dir, 'nope.pcap'));
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim(), `netspectra: ${join(dir, 'nope.pcap')}: cannot open: no such file`);
});

test('a directory and an empty file are refused', () => {
  const d = join(dir, 'a-directory');
  mkdirSync(d, { recursive: true });
  assert.match(run('analyze', d).stderr, /a-directory: is a directory, not a capture file/);
  const empty = file('empty.pcap', '');
  const r = run('analyze', empty);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /empty\.pcap: file cut short at offset 0: file header needs 4 bytes, only 0 remain/);
});

test('a file that is not a capture names its magic number', () => {
  const r = run('analyze', file('notes.pcap', 'hello, this is text\n'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /notes\.pcap: not a pcap or pcapng file: magic number 68656c6c at offset 0/);
});

test('a truncated capture keeps the packets before the cut and warns with the offset', () => {
  const whole = readFileSync(join(pcaps, 'ndpi-nfsv3.pcap'));
  const cut = file('cut.pcap', whole.subarray(0, 5000));
  const r = run('analyze', '--json', cut);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /cut\.pcap: file cut short at offset \d+: pcap record needs \d+ bytes, only \d+ remain \(packets before this point were analysed\)/);
  const report = JSON.parse(r.stdout) as AnalysisReport;
  assert.ok(report.totals.packets > 0 && report.totals.packets < 128);
  assert.match(report.files[0].error ?? '', /offset/);
});

test('a record claiming a huge length is refused without allocating it', () => {
  const bad = file('huge.pcap', Buffer.concat([pcapHeader(), pcapRecord(60), pcapRecord(0xfffffff0, 60, Buffer.alloc(0))]));
  const r = run('analyze', '--json', bad);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /huge\.pcap: pcap record at offset 100 claims 4294967280 bytes, over the 16777216-byte limit/);
  assert.equal((JSON.parse(r.stdout) as AnalysisReport).totals.packets, 1);
});

test('zero-length packets are counted, and garbage after a valid header is an error', () => {
  const zero = file('zero.pcap', Buffer.concat([pcapHeader(), pcapRecord(0, 0), pcapRecord(0, 64)]));
  const r = run('analyze', '--json', zero);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as AnalysisReport;
  assert.equal(report.totals.packets, 2);
  assert.equal(report.totals.bytes, 64);
  assert.ok(report.problems.truncated >= 1, 'an empty frame is a truncated packet');

  const garbage = Buffer.alloc(200, 0xee);
  const g = run('analyze', file('garbage.pcap', Buffer.concat([pcapHeader(), garbage])));
  assert.equal(g.code, 1);
  assert.match(g.stderr, /garbage\.pcap: pcap record at offset 24 claims \d+ bytes, over the 16777216-byte limit/);
});

test('a pcapng file named .pcap is read as pcapng', () => {
  const renamed = join(dir, 'really-pcapng.pcap');
  copyFileSync(join(pcaps, 'ndpi-quic-v2.pcapng'), renamed);
  const r = run('analyze', '--json', renamed);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as AnalysisReport;
  assert.equal(report.files[0].format, 'pcapng');
  assert.equal(report.totals.packets, 19);
});

test('several files add up, and --top limits the sections', () => {
  const a = join(pcaps, 'ndpi-nfsv3.pcap');
  const b = join(pcaps, 'tcpdump-LINKTYPE_IPV6.pcap');
  const r = run('analyze', '--json', '--top', '3', a, b);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as AnalysisReport;
  assert.equal(report.files.length, 2);
  assert.equal(report.totals.packets, 129);
  assert.ok(report.topConversations.length <= 3);
  assert.equal(report.backend, 'native');
});

test('the text report has every section', () => {
  const r = run('analyze', join(pcaps, 'tcpreplay-test.pcap'));
  assert.equal(r.code, 0, r.stderr);
  for (const heading of ['Totals', 'Protocols', 'Top talkers', 'Top conversations', 'Decode problems', 'Task src_ip']) {
    assert.ok(r.stdout.includes(`\n${heading}`), `missing section ${heading}`);
  }
  assert.match(r.stdout, /packets\s+179\n/);
});

test('the report sections agree with each other and name the tunnels', () => {
  for (const [name, kind, packets] of [
    ['ndpi-vxlan.pcap', 'vxlan', 127],
    ['tcpdump-geneve.pcap', 'geneve', 39],
    ['ndpi-reasm_segv_anon.pcapng', 'gtp-u', 82],
    ['ndpi-teredo.pcap', 'teredo', 24],
    ['ndpi-6in4tunnel.pcap', '6in4', 127],
  ] as const) {
    const r = run('analyze', '--json', join(pcaps, name));
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as AnalysisReport;
    assert.deepEqual(report.tunnels.map((t) => [t.kind, t.packets]), [[kind, packets]], name);
    assert.equal(report.protocols.reduce((n, p) => n + p.packets, 0), report.totals.packets, `${name}: protocol shares cover every packet`);
    assert.equal(report.protocols.reduce((n, p) => n + p.bytes, 0), report.totals.bytes);
  }
  const nfs = JSON.parse(run('analyze', '--json', join(pcaps, 'ndpi-nfsv3.pcap')).stdout) as AnalysisReport;
  // One NFS client and server: both ends of every packet.
  const talkers = nfs.topTalkers.slice(0, 2);
  assert.equal(talkers.reduce((n, h) => n + h.txPackets, 0), nfs.totals.packets);
  assert.equal(talkers[0].txBytes + talkers[0].rxBytes, nfs.totals.bytes);
  assert.equal(nfs.tables.hosts, 2);
});

test('usage and configuration errors exit 2 and say what is wrong', () => {
  assert.equal(run('frobnicate').code, 2);
  assert.match(run('analyze').stderr, /analyze needs at least one capture file/);
  assert.match(run('analyze', '--top', 'x', 'f').stderr, /--top must be a positive integer, got "x"/);
  const bad = file('bad.yaml', 'analyze:\n  top: 0\ntasks:\n  - {name: t, type: exact, key: [SrcMac]}\n');
  const r = run('analyze', '--config', bad, join(pcaps, 'ndpi-nfsv3.pcap'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /analyze\.top: 0 is below the minimum 1/);
  assert.match(r.stderr, /tasks\[0\]\.key\[0\]: "SrcMac" is not one of SrcIP, DstIP, SrcPrefix, DstPrefix, SrcAS, DstAS, SrcCountry, DstCountry, App, ServerName, SrcPort, DstPort, Protocol, ICMPType, ICMPCode, TCPFlags, DSCP, VLAN, Direction, Interface \(a prefix may give its lengths: SrcPrefix\/24\/48\)/);
});

test('--print-config shows the effective configuration, as YAML (JSON with --json)', () => {
  const env = { ...process.env, NETSPECTRA_ANALYZE_TOP: '4' };
  const json = spawnSync(process.execPath, [cli, 'analyze', '--print-config', '--json'], { encoding: 'utf8', env });
  assert.equal(json.status, 0);
  assert.equal(JSON.parse(json.stdout).analyze.top, 4);
  const yaml = spawnSync(process.execPath, [cli, 'analyze', '--print-config'], { encoding: 'utf8', env });
  assert.equal(yaml.status, 0);
  assert.match(yaml.stdout, /^analyze:\n(  .*\n)*  top: 4\n/m);
  assert.doesNotMatch(yaml.stdout, /^\{/);
});

test('each command takes only its own flags, and has its own help', () => {
  // A flag of another command is an error naming the command, not silently ignored.
  for (const flag of [['--persist', '/tmp/x'], ['--iface', 'eth0'], ['--nats', 'nats://x'], ['--jetstream'], ['--live']]) {
    const r = run('analyze', ...flag, join(pcaps, 'ndpi-nfsv3.pcap'));
    assert.equal(r.code, 2, flag.join(' '));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^netspectra: analyze: unknown option '${flag[0]}'\n\\(netspectra analyze --help shows the usage\\)\n$`));
  }
  const own = run('analyze', '--help');
  assert.equal(own.code, 0);
  assert.match(own.stdout, /^usage: netspectra analyze <file\.\.\.> \[options\]/);
  assert.match(own.stdout, /examples:\n  netspectra analyze capture\.pcap/);
  assert.equal(run('help', 'analyze').stdout, own.stdout);
  const query = run('query', 'tasks', '--help');
  assert.match(query.stdout, /^usage: netspectra query <what>/);
  assert.notEqual(query.stdout, own.stdout);
  assert.equal(run('help', 'nosuch').code, 2);
  assert.match(run('--version').stdout, /^netspectra \d+\.\d+\.\d+\n$/);
  assert.equal(run('version').stdout, run('--version').stdout);
  // No command: the usage on stderr, exit 2.
  const none = run();
  assert.equal(none.code, 2);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /^usage: netspectra <command>/);
});

test('analyze refuses what it cannot read before printing anything', () => {
  const d = join(dir, 'refused-dir');
  mkdirSync(d, { recursive: true });
  const text = file('refused.txt', 'not a capture\n');
  const r = run('analyze', '--json', join(pcaps, 'ndpi-nfsv3.pcap'), join(dir, 'missing.pcap'), d, text);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '', 'no report, not even an empty one');
  assert.match(r.stderr, /missing\.pcap: cannot open: no such file\n/);
  assert.match(r.stderr, /refused-dir: is a directory, not a capture file\n/);
  assert.match(r.stderr, /refused\.txt: not a pcap or pcapng file: magic number 6e6f7420 at offset 0\n/);
});

test('- reads the capture from standard input: the same report as the file', () => {
  const capture = join(pcaps, 'ndpi-nfsv3.pcap');
  const piped = spawnSync(process.execPath, [cli, 'analyze', '--json', '--store', 'none', '-'], { encoding: 'utf8', cwd: dir, input: readFileSync(capture), timeout: 60_000 });
  assert.equal(piped.status, 0, piped.stderr);
  const fromFile = JSON.parse(run('analyze', '--json', '--store', 'none', capture).stdout) as AnalysisReport;
  const fromStdin = JSON.parse(piped.stdout) as AnalysisReport;
  assert.equal(fromStdin.totals.packets, fromFile.totals.packets);
  assert.equal(fromStdin.totals.bytes, fromFile.totals.bytes);
  assert.deepEqual(fromStdin.protocols, fromFile.protocols);
});

test('a report piped to a slow reader is written whole before the process exits', () => {
  const capture = join(pcaps, 'debian-pathspider-real.pcap');
  // The reader starts late: everything past the pipe's 64 KiB waits in the process.
  const r = spawnSync('sh', ['-c', `"$0" "$1" analyze --json --store none --window 1s "$2" | (sleep 1; cat)`, process.execPath, cli, capture], { encoding: 'utf8', cwd: dir, timeout: 60_000, maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.length > 1 << 20, `${r.stdout.length} bytes`);
  assert.equal((JSON.parse(r.stdout) as AnalysisReport).totals.packets, 62_781);
});

test('configuration problems name what set the value, all at once, in full', () => {
  const capture = join(pcaps, 'ndpi-nfsv3.pcap');
  assert.match(run('analyze', '--window', '10x', capture).stderr, /analyze\.window: expected a duration .* got string "10x" \(set by --window 10x\)/);
  const env = spawnSync(process.execPath, [cli, 'analyze', capture], { encoding: 'utf8', cwd: dir, env: { ...process.env, NETSPECTRA_ANALYZE_TOP: 'abc' } });
  assert.equal(env.status, 2);
  assert.match(env.stderr, /analyze\.top: expected an integer, got string "abc" \(set by NETSPECTRA_ANALYZE_TOP=abc\)/);
  assert.doesNotMatch(env.stderr, /defaults:/);
  const three = file('three.yaml', 'analyze:\n  top: 0\ntasks:\n  - {name: t, type: exact, key: [SrcMac]}\nalerts:\n  rules:\n    - {name: r, task: nosuch, metric: packets, threshold: 5}\n');
  const r3 = run('analyze', '--config', three, capture);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /3 problem\(s\)/);
  assert.match(r3.stderr, /alerts\.rules\[0\] \(r\)\.task: no task "nosuch"/);
  const broken = file('broken.yaml', 'analyze:\n  top: 5\n  window: [1\n');
  const yaml = run('analyze', '--config', broken, capture);
  assert.equal(yaml.code, 2);
  assert.match(yaml.stderr, /broken\.yaml: 1 problem\(s\) in the configuration:\n  - line \d+, column \d+: [^\n]*[^:\n]\n {6}/);
});

test('ICMP keys show their type and code by name, not as a port number', () => {
  const r = run('analyze', '--store', 'none', join(pcaps, 'debian-libtrace-icmp-sample.pcap'));
  assert.equal(r.code, 0, r.stderr);
  const section = r.stdout.slice(r.stdout.indexOf('Task dst_port'));
  assert.match(section, /\b\d+\/\d+ [a-z-]+ +ICMP\b/);
  assert.doesNotMatch(section.split('\n\n')[0], / (771|2048) +ICMP\b/);
});

test('packets without an IP header are labelled non-IP in the report, not "- - 0 0 0"', () => {
  const r = run('analyze', '--store', 'none', join(pcaps, 'debian-pathspider-real.pcap'));
  assert.equal(r.code, 0, r.stderr);
  const flows = r.stdout.slice(r.stdout.indexOf('Heavy hitters: heavy_flows'));
  assert.match(flows, /^non-IP +non-IP +non-IP +743 /m);
  assert.doesNotMatch(r.stdout, /^- +- +0 +0 +0 /m);
  assert.match(r.stdout.slice(r.stdout.indexOf('Task src_ip')), /^non-IP +743 /m);
  assert.match(r.stdout, /^Task src_ip \(exact, key SrcIP, \d+ keys; largest by bytes, then packets\)$/m);
  assert.match(r.stdout.slice(r.stdout.indexOf('Task dst_port')), /^ +non-IP +743 /m);
});

test('--bpf counts what tcpdump -r FILE EXPR selects: the same packets and bytes', () => {
  const cases: [string, string][] = [
    ['debian-pathspider-real.pcap', 'tcp'],
    ['debian-pathspider-real.pcap', 'udp port 137 or udp port 138'],
    ['debian-pathspider-real.pcap', 'host 10.64.94.141 and tcp[tcpflags] & tcp-syn != 0'],
    ['debian-pathspider-real.pcap', 'not ip'],
    ['ndpi-KakaoTalk_talk.pcap', 'tcp or udp port 53'],
    ['ndpi-nfsv3.pcap', 'dst port 2049'],
  ];
  for (const [name, expr] of cases) {
    const capture = join(pcaps, name);
    const selected = join(dir, 'tcpdump-selected.pcap');
    const t = spawnSync('tcpdump', ['-r', capture, '-w', selected, expr], { encoding: 'utf8' });
    assert.equal(t.status, 0, `tcpdump: ${t.stderr}`);
    const filtered = run('analyze', '--json', '--store', 'none', '--bpf', expr, capture);
    assert.equal(filtered.code, 0, filtered.stderr);
    const oracle = JSON.parse(run('analyze', '--json', '--store', 'none', selected).stdout) as AnalysisReport;
    const got = JSON.parse(filtered.stdout) as AnalysisReport;
    assert.equal(got.totals.packets, oracle.totals.packets, `${name} "${expr}": packets`);
    assert.equal(got.totals.bytes, oracle.totals.bytes, `${name} "${expr}": bytes`);
    assert.ok(got.totals.packets > 0, `${name} "${expr}" selects some packets`);
  }
  // A wrong expression is a usage error before any input is read.
  const bad = run('analyze', '--bpf', 'tcp port', join(pcaps, 'ndpi-nfsv3.pcap'));
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /--bpf "tcp port" \(link type 1\): .*syntax error/);
  // A backend without libpcap refuses rather than counting every packet.
  const wasm = spawnSync(process.execPath, [cli, 'analyze', '--bpf', 'tcp', join(pcaps, 'ndpi-nfsv3.pcap')], { encoding: 'utf8', cwd: dir, env: { ...process.env, NETSPECTRA_BACKEND: 'wasm' } });
  assert.equal(wasm.status, 2);
  assert.match(wasm.stderr, /needs the native backend/);
});

test('query and ask exit 1 alike when nothing answers', () => {
  const query = run('query', 'tasks', '--url', 'http://127.0.0.1:9');
  const ask = run('ask', 'hello?', '--url', 'http://127.0.0.1:9');
  assert.equal(query.code, 1, query.stderr);
  assert.equal(ask.code, 1, ask.stderr);
  assert.match(query.stderr, /^netspectra: query tasks: .*\(http:\/\/127\.0\.0\.1:9: Unavailable\)\n$/);
  assert.match(ask.stderr, /^netspectra: ask: .*\(http:\/\/127\.0\.0\.1:9: Unavailable\)\n$/);
});

test('the seed is text in the JSON report: exact beyond 2^53', () => {
  const seed = '7954892329472115572';
  const r = spawnSync(process.execPath, [cli, 'analyze', '--json', '--store', 'none', join(pcaps, 'ndpi-nfsv3.pcap')], { encoding: 'utf8', cwd: dir, env: { ...process.env, NETSPECTRA_SEED: seed } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as AnalysisReport).tables.seed, seed);
});

test('generate writes a deterministic capture that analyze reads back', () => {
  const out1 = join(dir, 'gen1.pcap');
  const out2 = join(dir, 'gen2.pcap');
  assert.equal(run('generate', out1, '--packets', '20000').code, 0);
  assert.equal(run('generate', out2, '--packets', '20000').code, 0);
  assert.ok(readFileSync(out1).equals(readFileSync(out2)), 'same seed, same bytes');
  const r = run('analyze', '--json', out1);
  const report = JSON.parse(r.stdout) as AnalysisReport;
  assert.equal(report.totals.packets, 20000);
  assert.equal(report.problems.details.length, 0, 'generated frames decode cleanly');
  const families = new Set(report.protocols.map((p) => p.family));
  assert.ok(families.has(4) && families.has(6), 'both IP families');
});

test('tasks run in windows and sketches find what the generator planted', () => {
  const capture = join(dir, 'planted.pcap');
  assert.equal(run('generate', capture, '--packets', '60000', '--seed', '3').code, 0);
  const whole = JSON.parse(run('analyze', '--json', capture).stdout) as AnalysisReport;
  assert.equal(whole.windows.length, 1, 'one window for the whole capture by default');
  const tasks = whole.windows[0].tasks;
  const hh = tasks.find((t) => t.name === 'heavy_flows');
  assert.ok(hh?.type === 'countmin');
  const top = hh.heavyHittersByBytes[0];
  assert.equal(`${top.srcIp} ${top.dstPort}`, '10.0.254.40 873', 'the backup transfer is the heaviest flow');
  assert.ok(top.bytes >= (top.exactBytes ?? Infinity), 'Count-Min never under-estimates');
  for (const row of hh.heavyHittersByPackets) assert.ok(row.packets >= (row.exactPackets ?? Infinity));
  const scanners = tasks.find((t) => t.name === 'scanners');
  assert.ok(scanners?.type === 'superspread');
  assert.equal(scanners.spreaders[0].srcIp, '203.0.113.250', 'the scanner has the widest fan-out');
  const exact = scanners.spreaders[0].exactSpread ?? 0;
  assert.ok(Math.abs(scanners.spreaders[0].spread - exact) / exact < 0.25, JSON.stringify(scanners.spreaders[0]));
  assert.deepEqual(whole.besideTasks, ['heavy_flows_exact', 'scanners_exact', 'victims_exact']);

  const windowed = JSON.parse(run('analyze', '--json', '--window', '20s', capture).stdout) as AnalysisReport;
  const seconds = (t: string | null) => Math.floor(Number((t ?? '0').split('.')[0]) / 20);
  const expectedWindows = seconds(whole.totals.lastTime) - seconds(whole.totals.firstTime) + 1;
  assert.ok(expectedWindows >= 3);
  assert.equal(windowed.windows.length, expectedWindows, '60 s of traffic in 20 s windows aligned to the epoch');
  assert.equal(windowed.windows.reduce((n, w) => n + w.packets, 0), whole.totals.packets, 'every packet in exactly one window');
  for (const w of windowed.windows) {
    const src = w.tasks.find((t) => t.name === 'src_ip');
    assert.ok(src?.type === 'exact');
    assert.ok(Number(w.end.split('.')[0]) - Number(w.start.split('.')[0]) === 20);
  }
  const text = run('analyze', '--window', '20s', capture).stdout;
  assert.match(text, /Windows \(20 s, aligned to packet time\)/);
  assert.match(text, /Heavy hitters: heavy_flows \(Count-Min 4 x 2048, conservative/);
  assert.match(text, /Super-spreaders: scanners/);
});

test('probe --engine --read runs the engine in process and writes every window', () => {
  const output = join(dir, 'embedded.jsonl');
  const r = run('probe', '--engine', '--read', join(pcaps, 'debian-pathspider-real.pcap'), '--output', output, '--window', '1m', '--threads', '2');
  assert.equal(r.code, 0, r.stderr);
  const windows = readFileSync(output, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { window: { packets: number; start: string } });
  assert.equal(windows.reduce((s, w) => s + w.window.packets, 0), 62_781);
  assert.match(r.stderr, /sent 62,781 packets/);
  assert.match(r.stderr, /engine: window 2012-11-23T17:59:00.000Z/);
});

test('probe and engine refuse what they cannot run, saying why', () => {
  const cases: [string[], RegExp][] = [
    [['probe', '--engine'], /probe needs --iface/],
    [['probe', '--iface', 'lo'], /probe needs --nats URL/],
    [['probe', '--engine', '--iface', 'no-such-if0'], /cannot capture on no-such-if0|cannot open interface no-such-if0/],
    [['probe', '--engine', '--iface', 'lo', '--bpf', 'tcp port'], /BPF filter "tcp port" does not compile/],
    [['probe', '--engine', '--iface', 'lo', '--snaplen', '8'], /probe.snaplen: 8 is below the minimum 16/],
    [['engine'], /the engine needs nats.url/],
    [['engine', '--nats', 'nats://127.0.0.1:1'], /cannot connect to NATS at nats:\/\/127.0.0.1:1/],
    [['probe', '--engine', '--read', join(dir, 'missing.pcap')], /missing.pcap/],
  ];
  for (const [args, message] of cases) {
    const r = run(...args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  }
});

test('analyze stores its windows and alerts; serve answers netspectra query, with a token, as table and JSON', async () => {
  const data = join(dir, 'store');
  const capture = join(pcaps, 'debian-pathspider-real.pcap');
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, 'alerts:\n  rules:\n    - name: whole_capture\n      metric: packets\n      op: ">="\n      threshold: 62781\n      severity: critical\n');
  const a = run('analyze', '--data', data, '--config', rules, capture);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /Alerts \(1 notification\(s\) from the rules\)[\s\S]*firing +critical +whole_capture: packets 62,781 >= 62,781/);
  // Nothing waits in the spill and nothing is lost: the line ends with the folder.
  assert.match(a.stderr, /stored 1 window\(s\), [\d,]+ rows as "analyze:debian-pathspider-real.pcap" in embedded \S+\n/);
  const env = { ...process.env, NETSPECTRA_API_TOKENS: 'cli-secret' };
  const serve = spawn(process.execPath, [cli, 'serve', '--data', data, '--port', '0'], { cwd: dir, env });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      serve.stderr.on('data', (c: Buffer) => {
        err += c.toString();
        const m = /API on (http:\/\/127\.0\.0\.1:\d+) .*1 bearer token\(s\) required/.exec(err);
        if (m) resolve(m[1]);
      });
      serve.once('exit', (code) => reject(new Error(`serve exited (${code}): ${err}`)));
    });
    const query = (token: string, ...args: string[]) => {
      const r = spawnSync(process.execPath, [cli, 'query', ...args, '--url', url], { encoding: 'utf8', timeout: 60_000, cwd: dir, env: { ...process.env, NETSPECTRA_API_TOKEN: token } });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const tasks = query('cli-secret', 'tasks');
    assert.equal(tasks.code, 0, tasks.stderr);
    assert.match(tasks.stdout, /^heavy_flows_exact\s+exact\s+SrcIP,DstIP,SrcPort,DstPort,Protocol\s+1\s/m);
    const agg = query('cli-secret', 'aggregate', '--task', 'src_ip', '--limit', '2', '--json');
    assert.equal(agg.code, 0, agg.stderr);
    const j = JSON.parse(agg.stdout) as { rows: { key: { srcIp: string } }[]; totalPackets: string; nextPageToken: string };
    assert.equal(j.totalPackets, '62781');
    assert.equal(j.rows[0].key.srcIp, '10.64.88.105');
    assert.ok(j.nextPageToken);
    // A column per field the rows hold: the grouped ones, in key order.
    const ports = query('cli-secret', 'aggregate', '--task', 'dst_port', '--group-by', 'Protocol,DstPort', '--limit', '3');
    assert.match(ports.stdout, /^dport\s+proto\s+packets\s+bytes\s+windows$/m);
    assert.match(query('cli-secret', 'aggregate', '--task', 'dst_port', '--group-by', 'Protocol', '--limit', '3').stdout, /^proto\s+packets\s+bytes\s+windows\n[- ]+\nTCP\s+60,873\s/m);
    const top = query('cli-secret', 'top', '--task', 'heavy_flows', '--by', 'bytes', '--limit', '3');
    assert.match(top.stdout, /heavy_flows \(countmin: sums of window estimates\)\n.*packets\s+bytes\s+windows/);
    const bad = query('cli-secret', 'aggregate', '--task', 'nope');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /query aggregate: task: unknown task "nope"; stored tasks: .* \(http:\/\/127\.0\.0\.1:\d+: InvalidArgument\)/);
    const denied = query('wrong', 'health');
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /a valid bearer token is required .*Unauthenticated/);
    assert.match(query('cli-secret', 'nonsense').stderr, /query needs one of health, tasks, aggregate, trace, top, spreaders, alerts, flow-records, not "nonsense"/);
    const records = query('cli-secret', 'flow-records', '--protocol', 'tcp', '--order-by', 'first', '--asc', '--limit', '2');
    assert.equal(records.code, 0, records.stderr);
    assert.match(records.stdout, /\d+ records match\n/);
    const badSort = query('cli-secret', 'flow-records', '--order-by', 'size');
    assert.equal(badSort.code, 2);
    assert.match(badSort.stderr, /query flow-records: sort: "size" is not one of bytes, packets, first, last, duration/);
    const alerts = query('cli-secret', 'alerts', '--severity', 'critical');
    assert.equal(alerts.code, 0, alerts.stderr);
    assert.match(alerts.stdout, /2012-11-23T18:00:38.421Z +firing +critical +whole_capture: packets 62,781 >= 62,781/);
    const none = query('cli-secret', 'alerts', '--rule', 'other', '--json');
    assert.deepEqual(JSON.parse(none.stdout), {});

    // analyze while serve holds the embedded store: the rows go to serve and are queried through
    // it; a second run replaces the first.
    const kakao = join(pcaps, 'ndpi-KakaoTalk_talk.pcap');
    const source = 'analyze:ndpi-KakaoTalk_talk.pcap';
    for (let i = 1; i <= 2; i++) {
      const h = spawnSync(process.execPath, [cli, 'analyze', '--data', data, kakao], { encoding: 'utf8', timeout: 120_000, cwd: dir, env });
      assert.equal(h.status, 0, h.stderr);
      assert.match(h.stderr, /the embedded store is held by netspectra serve \(pid \d+\); handing the rows to it at http:\/\/127\.0\.0\.1:\d+/);
      assert.match(h.stderr, /stored 1 window\(s\), [\d,]+ rows as "analyze:ndpi-KakaoTalk_talk\.pcap" in the store of netspectra serve \(pid \d+/);
      assert.doesNotMatch(h.stderr, /Code: 76|Cannot lock/, 'no raw ClickHouse error');
      const k = query('cli-secret', 'aggregate', '--task', 'src_ip', '--source', source, '--json');
      assert.equal(k.code, 0, k.stderr);
      assert.equal((JSON.parse(k.stdout) as { totalPackets: string }).totalPackets, '3203', `run ${i}: the packets of one run (tshark: 3,203)`);
    }
    // Without the token serve wants: not stored, said so, exit 4.
    const refused = spawnSync(process.execPath, [cli, 'analyze', '--data', data, kakao], { encoding: 'utf8', timeout: 120_000, cwd: dir });
    assert.equal(refused.status, 4, refused.stderr);
    assert.match(refused.stderr, /windows NOT stored: the store of netspectra serve \(pid \d+, http:\S+\) refused this process's token/);
    assert.match(refused.stdout, /NOT STORED: /);
  } finally {
    serve.kill('SIGTERM');
    const code = await new Promise((resolve) => (serve.exitCode !== null ? resolve(serve.exitCode) : serve.once('exit', resolve)));
    assert.equal(code, 0, 'serve stops cleanly on SIGTERM');
  }
});

test('analyze --serve reports the flow records, then serves them and the console until SIGTERM', async () => {
  const capture = join(pcaps, 'debian-pathspider-real.pcap');
  const env = { ...process.env, NETSPECTRA_API_TOKENS: 'serve-secret' };
  const p = spawn(process.execPath, [cli, 'analyze', '--serve', '--data', join(dir, 'served'), '--port', '0', capture], { cwd: dir, env });
  let out = '';
  p.stdout.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      p.stderr.on('data', (c: Buffer) => {
        err += c.toString();
        const m = /console on (http:\/\/127\.0\.0\.1:\d+)\/console\/ \(stored windows/.exec(err);
        if (m) resolve(m[1]);
      });
      p.once('exit', (code) => reject(new Error(`analyze --serve exited (${code}): ${err}`)));
    });
    const m = /Flow records \(([\d,]+) records, ([\d,]+) packets/.exec(out);
    assert.ok(m, out);
    const records = Number(m[1].replace(/,/g, ''));
    assert.ok(records > 6000);
    const auth = { authorization: 'Bearer serve-secret' };
    const page = (await (await fetch(`${url}/api/flows?limit=3&sort=bytes&dir=desc`, { headers: auth })).json()) as { matched: number; flows: { bytesAtoB: number; bytesBtoA: number }[] };
    assert.equal(page.matched, records, 'every reported record is stored and served');
    assert.equal(page.flows.length, 3);
    assert.equal((await fetch(`${url}/console/`)).status, 200, 'the page needs no token');
    assert.equal((await fetch(`${url}/api/flows`)).status, 401, 'the data does');
  } finally {
    p.kill('SIGTERM');
    const code = await new Promise((resolve) => (p.exitCode !== null ? resolve(p.exitCode) : p.once('exit', resolve)));
    assert.equal(code, 0, 'stops cleanly on SIGTERM');
  }
});

test('analyze reports flow records unless flows.enabled is false, and refuses a bad local network', () => {
  const capture = join(pcaps, 'debian-pathspider-real.pcap');
  const on = run('analyze', '--store', 'none', capture);
  assert.equal(on.code, 0, on.stderr);
  // Every IP packet of the capture is in one record (743 of its 62,781 frames are not IP).
  assert.match(on.stdout, /Flow records \(6,335 records, 62,038 packets, [\d.]+ MiB\)\n=+\nended by: fin 5,959, idleTimeout 376\n/);
  const off = run('analyze', '--store', 'none', '--config', file('no-flows.yaml', 'flows:\n  enabled: false\n'), capture);
  assert.equal(off.code, 0, off.stderr);
  assert.doesNotMatch(off.stdout, /Flow records/);
  const bad = run('analyze', '--store', 'none', '--config', file('bad-lan.yaml', 'flows:\n  localNetworks: [10.0.0.0/8, lan]\n'), capture);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /flows\.localNetworks: "lan" is not an address or a network \(such as 10\.0\.0\.0\/8 or 2001:db8::\/32\)/);
});

test('demo generates its capture and shows the alerts its planted scan, SYN burst and elephant raise', () => {
  const r = run('demo', '--store', 'none');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Alerts \(3 notification\(s\) from the rules\)/);
  assert.match(r.stdout, /firing +warning +scanner: SrcIP=203\.0\.113\.250 spread/);
  assert.match(r.stdout, /firing +critical +syn_rate: new_conversations [\d.]+ conn\/s > 50 conn\/s/);
  assert.match(r.stdout, /firing +info +elephant: SrcIP=10\.0\.254\.40 DstIP=198\.51\.100\.200 bytes/);
});
