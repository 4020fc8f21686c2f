// Packets back out of captures, checked against tshark's conversations of the shared captures
// (../shared/oracle), tcpdump's BPF selection, and the input itself (same bytes, same order).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadBackend } from '../backend/index.js';
import type { ExtractOptions } from '../backend/types.js';
import { extractPackets, parseFlow } from './index.js';

const CLI = join(process.cwd(), 'dist', 'ts', 'cli', 'main.js');
const SHARED = join(process.cwd(), '..', 'shared');
const pathspider = join(SHARED, 'pcaps', 'debian-pathspider-real.pcap');
const backend = loadBackend('native');

interface Frame {
  ns: bigint;
  wireLen: number;
  data: Buffer;
}

/** The frames of a little-endian pcap (micro- or nanosecond). */
function pcapFrames(b: Buffer): Frame[] {
  const magic = b.readUInt32LE(0);
  assert.ok(magic === 0xa1b2c3d4 || magic === 0xa1b23c4d, `a little-endian pcap (magic ${magic.toString(16)})`);
  const unit = magic === 0xa1b23c4d ? 1n : 1000n;
  const out: Frame[] = [];
  for (let at = 24; at < b.length; ) {
    const cap = b.readUInt32LE(at + 8);
    out.push({ ns: BigInt(b.readUInt32LE(at)) * 1_000_000_000n + BigInt(b.readUInt32LE(at + 4)) * unit, wireLen: b.readUInt32LE(at + 12), data: b.subarray(at + 16, at + 16 + cap) });
    at += 16 + cap;
  }
  return out;
}

/** The output of one extraction from a capture held in memory. */
function extractFromBuffer(input: Buffer, options: ExtractOptions): Buffer {
  const x = backend.createPacketExtractor!(options);
  const parts = [x.feed(input)];
  x.nextFile();
  parts.push(x.finish());
  return Buffer.concat(parts);
}

/** `subset` is `all` with frames left out: same bytes and times, same order. */
function assertInOrder(subset: Frame[], all: Frame[], what: string): void {
  let i = 0;
  for (const f of subset) {
    while (i < all.length && !(all[i].ns === f.ns && all[i].data.equals(f.data))) i++;
    assert.ok(i < all.length, `${what}: a frame at ${f.ns} ns is not in the input after the previous one`);
    assert.equal(f.wireLen, all[i].wireLen);
    i++;
  }
}

describe('extract', () => {
  let dir: string;
  const input = readFileSync(pathspider);
  const inputFrames = pcapFrames(input);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'netspectra-extract-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('every TCP and UDP conversation of pathspider: the packets and bytes tshark counts, in the capture\'s order', () => {
    const oracle = JSON.parse(readFileSync(join(SHARED, 'oracle', 'debian-pathspider-real.pcap.json'), 'utf8')) as {
      conv: Record<'tcp' | 'udp', { addrA: string; portA: number; addrB: string; portB: number; totalFrames: number; totalBytes: number }[]>;
    };
    // tshark splits a reused 4-tuple into streams; a 5-tuple's packets are their sum.
    const flows = new Map<string, { options: ExtractOptions; frames: number; bytes: number }>();
    for (const [proto, rows] of [[6, oracle.conv.tcp], [17, oracle.conv.udp]] as const) {
      for (const r of rows) {
        const ends = [`${r.addrA}:${r.portA}`, `${r.addrB}:${r.portB}`].sort();
        const key = `${ends.join(' ')} ${proto}`;
        const f = flows.get(key) ?? { options: { aIp: r.addrA, aPort: r.portA, bIp: r.addrB, bPort: r.portB, protocol: proto, format: 'pcap' as const }, frames: 0, bytes: 0 };
        f.frames += r.totalFrames;
        f.bytes += r.totalBytes;
        flows.set(key, f);
      }
    }
    assert.ok(flows.size > 5000, `${flows.size} flows`);
    let checked = 0;
    for (const [key, f] of flows) {
      const frames = pcapFrames(extractFromBuffer(input, f.options));
      assert.equal(frames.length, f.frames, `${key}: packets`);
      assert.equal(frames.reduce((n, x) => n + x.wireLen, 0), f.bytes, `${key}: bytes`);
      // The order and bytes against the input, for a sample (the check walks the whole input).
      if (checked++ % 500 === 0) assertInOrder(frames, inputFrames, key);
    }
  });

  test('a Community ID selects what its 5-tuple selects; addresses and a time range select as the input says', () => {
    const flow = parseFlow('10.64.94.141:2182 10.64.94.199:139 tcp');
    const byTuple = extractFromBuffer(input, { ...flow, format: 'pcap' });
    assert.equal(pcapFrames(byTuple).length, 56);
    // The flow's Community ID, as the core's flow records carry it (seed 0).
    const analyzer = backend.createAnalyzer({ flows: { enabled: true } } as never);
    analyzer.beginFile('p');
    analyzer.feed(input);
    analyzer.endFile();
    const records = JSON.parse(analyzer.takeFlows!(true)!) as { srcIp: string; srcPort: number; dstPort: number; communityId: string }[];
    const id = records.find((r) => r.srcPort === 2182 && r.dstPort === 139)!.communityId;
    assert.ok(id?.startsWith('1:'));
    assert.ok(byTuple.equals(extractFromBuffer(input, { communityId: id, format: 'pcap' })));

    const host = '10.64.94.141';
    const touching = (f: Frame) => {
      const ip = f.data.subarray(14);
      const src = [...ip.subarray(12, 16)].join('.');
      const dst = [...ip.subarray(16, 20)].join('.');
      return f.data.readUInt16BE(12) === 0x0800 && (src === host || dst === host);
    };
    const byHost = pcapFrames(extractFromBuffer(input, { networks: [host], format: 'pcap' }));
    assert.equal(byHost.length, inputFrames.filter(touching).length);
    assertInOrder(byHost, inputFrames, host);

    const from = inputFrames[1000].ns;
    const to = inputFrames[2000].ns;
    const byTime = pcapFrames(extractFromBuffer(input, { fromNs: String(from), toNs: String(to), format: 'pcap' }));
    assert.deepEqual(byTime.map((f) => f.ns), inputFrames.filter((f) => f.ns >= from && f.ns < to).map((f) => f.ns));
  });

  test('--bpf selects what tcpdump selects, byte for byte', () => {
    const expr = 'tcp port 139 and host 10.64.94.199';
    const tcpdump = spawnSync('tcpdump', ['-r', pathspider, '-w', '-', expr], { maxBuffer: 1 << 28 });
    assert.equal(tcpdump.status, 0, tcpdump.stderr?.toString());
    const expected = pcapFrames(tcpdump.stdout);
    const ours = pcapFrames(extractFromBuffer(input, { bpf: expr, format: 'pcap' }));
    assert.ok(expected.length > 100);
    assert.equal(ours.length, expected.length);
    ours.forEach((f, i) => {
      assert.equal(f.ns, expected[i].ns);
      assert.ok(f.data.equals(expected[i].data));
    });
  });

  test('the CLI writes pcapng that tcpdump and analyze read back; bad selections are usage errors naming the flag', () => {
    const out = join(dir, 'flow.pcapng');
    const run = spawnSync(process.execPath, [CLI, 'extract', pathspider, '--flow', '10.64.94.141:2182 10.64.94.199:139 tcp', '-w', out], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^extract: 56 of 62,781 packets from 1 file\(s\)/);
    const read = spawnSync('tcpdump', ['-r', out, '-n'], { encoding: 'utf8' });
    assert.equal(read.status, 0, read.stderr);
    assert.equal(read.stdout.trim().split('\n').length, 56);
    const analyzed = spawnSync(process.execPath, [CLI, 'analyze', '--json', '--store', 'none', out], { encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(analyzed.status, 0, analyzed.stderr);
    const report = JSON.parse(analyzed.stdout) as { totals: { packets: number; bytes: number } };
    assert.deepEqual([report.totals.packets, report.totals.bytes], [56, 7196]);

    const usage = (args: string[], message: RegExp) => {
      const r = spawnSync(process.execPath, [CLI, 'extract', ...args], { encoding: 'utf8' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    };
    usage([pathspider, '--flow', '10.0.0.1 10.0.0.2 tcp'], /say where the packets go: -w FILE/);
    usage([pathspider, '-w', join(dir, 'x.pcap')], /select something: --flow/);
    usage([pathspider, '-w', join(dir, 'x.pcap'), '--flow', '10.0.0.1:1 10.0.0.2:2'], /--flow: flow "10.0.0.1:1 10.0.0.2:2": write it as/);
    usage([pathspider, '-w', join(dir, 'x.pcap'), '--flow', '10.0.0.1:1 10.0.0.2:2 bogus'], /"bogus" is not a protocol/);
    usage([pathspider, '-w', join(dir, 'x.pcap'), '--flow', '10.0.0.1 10.0.0.2 tcp'], /a TCP flow needs both ports/);
    usage([pathspider, '-w', join(dir, 'x.pcap'), '--ip', '10.0.0.0/40'], /prefix length must be 0 to 32/);
    usage([pathspider, '-w', join(dir, 'x.pcap'), '--community-id', 'nope'], /"nope" is not a Community ID v1/);
    usage([pathspider, '-w', join(dir, 'x.pcap'), '--ip', '10.0.0.1', '--max-size', 'lots'], /--max-size: "lots" is not a size/);
    usage([pathspider, '-w', join(dir, 'x.pcap'), '--start', 'yesterday'], /--start: "yesterday" is not an RFC 3339 time/);
    usage([pathspider, '-w', join(dir, 'x.pcap'), '--bpf', 'tcp port'], /syntax error|--bpf/);
    usage([pathspider, '-w', join(dir, 'x.pcap'), '--iface', 'eth0'], /extract: unknown option '--iface'/);
  });

  test('the size limit stops at a whole packet, says so, and leaves a valid capture', () => {
    const out = join(dir, 'limited.pcap');
    const r = spawnSync(process.execPath, [CLI, 'extract', pathspider, '--ip', '10.64.94.141', '--format', 'pcap', '--max-size', '4KiB', '-w', out], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /stopped at the size limit \(--max-size 4\.00 KiB\): later packets are not in the output/);
    const b = readFileSync(out);
    assert.ok(b.length <= 4096 && b.length > 4096 - 1600, `${b.length} bytes`);
    const frames = pcapFrames(b);
    assert.ok(frames.length > 5);
    assertInOrder(frames, inputFrames, 'limited');
  });

  test('a folder a probe writes: files read oldest first, one still being written read up to its last whole packet; a damaged file is named', async () => {
    const folder = join(dir, 'persisted');
    mkdirSync(folder);
    // Three rotated files of the capture; the newest cut inside a packet, as while it is written.
    const header = input.subarray(0, 24);
    const cut = (from: number, to: number) => Buffer.concat([header, ...inputFrames.slice(from, to).map((f) => {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(Number(f.ns / 1_000_000_000n), 0);
      h.writeUInt32LE(Number((f.ns % 1_000_000_000n) / 1000n), 4);
      h.writeUInt32LE(f.data.length, 8);
      h.writeUInt32LE(f.wireLen, 12);
      return Buffer.concat([h, f.data]);
    })]);
    const names = ['probe-a-1.pcap', 'probe-a-2.pcap', 'probe-a-3.pcap'];
    writeFileSync(join(folder, names[0]), cut(0, 20_000));
    writeFileSync(join(folder, names[1]), cut(20_000, 40_000));
    const third = cut(40_000, 50_000);
    writeFileSync(join(folder, names[2]), third.subarray(0, third.length - 7));
    const r = spawnSync(process.execPath, [CLI, 'extract', folder, '--ip', '10.64.94.141', '--format', 'pcap', '-w', join(dir, 'folder.pcap')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /probe-a-3\.pcap ends inside a packet/);
    const got = pcapFrames(readFileSync(join(dir, 'folder.pcap')));
    const expected = pcapFrames(extractFromBuffer(input, { networks: ['10.64.94.141'], format: 'pcap' })).filter((f) => f.ns < inputFrames[49_999].ns);
    assert.deepEqual(got.map((f) => f.ns), expected.map((f) => f.ns));

    // Indexes: the whole files get one, the one being written does not (yet).
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'extract', ...args], { encoding: 'utf8' });
    const reindexed = cli('--reindex', folder);
    assert.equal(reindexed.status, 0, reindexed.stderr);
    assert.match(reindexed.stderr, /^extract: 2 file\(s\) indexed, 0 already indexed, 1 left without an index\n.*probe-a-3\.pcap: file cut short/);
    assert.ok(existsSync(join(folder, `${names[0]}.nsidx`)) && !existsSync(join(folder, `${names[2]}.nsidx`)));
    const viaIndex = cli(folder, '--ip', '10.64.94.141', '--format', 'pcap', '-w', join(dir, 'indexed.pcap'));
    assert.equal(viaIndex.status, 0, viaIndex.stderr);
    assert.match(viaIndex.stderr, /by their indexes, 0 file\(s\) not read and 2 read only where the selection is/);
    assert.ok(readFileSync(join(dir, 'indexed.pcap')).equals(readFileSync(join(dir, 'folder.pcap'))), 'the same packets, with or without the indexes');
    // A time range before the second file: its index says so, and it is not read.
    const second = inputFrames[20_000].ns; // the second file's first packet, to the nanosecond
    const rfc3339 = `${new Date(Number(second / 1_000_000n)).toISOString().slice(0, 19)}.${String(second % 1_000_000_000n).padStart(9, '0')}Z`;
    const early = cli(folder, '--end', rfc3339, '--format', 'pcap', '-w', join(dir, 'early.pcap'));
    assert.equal(early.status, 0, early.stderr);
    assert.match(early.stderr, /^extract: 20,000 of /);
    assert.match(early.stderr, /by their indexes, 1 file\(s\) not read/);
    // A damaged index: the file is read whole (and said), the packets are the same; --reindex mends it.
    const idx = join(folder, `${names[1]}.nsidx`);
    writeFileSync(idx, readFileSync(idx).subarray(0, 100));
    const damaged = cli(folder, '--ip', '10.64.94.141', '--format', 'pcap', '-w', join(dir, 'damaged.pcap'));
    assert.equal(damaged.status, 0, damaged.stderr);
    assert.match(damaged.stderr, /probe-a-2\.pcap read whole: its index is damaged \(the index is cut short\)/);
    assert.ok(readFileSync(join(dir, 'damaged.pcap')).equals(readFileSync(join(dir, 'folder.pcap'))));
    assert.match(cli('--reindex', folder).stderr, /^extract: 1 file\(s\) indexed, 1 already indexed/);
    // A file grown since its index: the index no longer fits it.
    writeFileSync(join(folder, names[0]), Buffer.concat([readFileSync(join(folder, names[0])), cut(45_000, 45_001).subarray(24)]));
    assert.match(cli(folder, '--ip', '10.0.0.1', '-w', join(dir, 'grown.pcap')).stderr, /probe-a-1\.pcap read whole: its index is of a file of \d+ bytes/);
    // An index whose file is gone goes too.
    rmSync(join(folder, names[1]));
    cli('--reindex', folder);
    assert.ok(!existsSync(join(folder, `${names[1]}.nsidx`)));

    // A file that is not a capture, among them: named, exit 1.
    writeFileSync(join(dir, 'junk.pcap'), 'this is not a capture');
    const bad = spawnSync(process.execPath, [CLI, 'extract', pathspider, join(dir, 'junk.pcap'), '--ip', '10.0.0.1', '-w', join(dir, 'bad.pcap')], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /junk\.pcap: .*not a pcap or pcapng/i);
    // An output that cannot be written, and a reader that goes away: said, exit 1, no hang.
    const unwritable = spawnSync(process.execPath, [CLI, 'extract', pathspider, '--ip', '10.0.0.0/8', '-w', join(dir, 'no-such-folder', 'x.pcap')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(unwritable.status, 1, unwritable.stderr);
    assert.match(unwritable.stderr, /no-such-folder\/x\.pcap: ENOENT/);
    const closed = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" extract "${pathspider}" --ip 10.0.0.0/8 -w - | head -c 100 > /dev/null`], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(closed.error, undefined, 'it ends when its reader goes away');
    const missing = spawnSync(process.execPath, [CLI, 'extract', join(dir, 'absent.pcap'), '--ip', '10.0.0.1', '-w', join(dir, 'm.pcap')], { encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /absent\.pcap: no such file or folder/);

    // In-process, a slow writer slows the reading (the output is awaited chunk by chunk).
    let chunks = 0;
    const run = await extractPackets(backend, [pathspider], { networks: ['10.0.0.0/8'] }, async () => {
      chunks++;
      await new Promise((res) => setImmediate(res));
    });
    assert.ok(chunks > 1 && run.stats.framesWritten > 60_000);
  });
});
