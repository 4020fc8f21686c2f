// The TypeScript engine against the native core on the same packets: every closed window's
// NSWS snapshot bytes and window JSON must be identical. The packets are written as a pcapng of
// plain frames for the native analyzer and handed to this engine as the records those frames
// decode to.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exactBesideTasks, taskOptions } from '../../../analyze/analyze-files.js';
import { loadConfig } from '../../../config/index.js';
import { readClosedWindow } from '../../closed-window.js';
import { loadNative } from '../../native.js';
import type { TaskOptions } from '../../types.js';
import { Json } from '../json.js';
import { emptyRecord } from '../record.js';
import { Engine } from './engine.js';
import type { WindowSnapshot } from './snapshot.js';
import { taskSpecs } from './task-specs.js';
import { makeStream, pcapngOf, recordsFromPcap, windowsText, type StreamOptions, type TimedRecord } from '../../../testing/test-captures.js';

interface Run {
  seed: string;
  windowSeconds: number;
  top: number;
  tasks: TaskOptions[];
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at ${i}:\n native: ${a.slice(Math.max(0, i - 200), i + 200)}\n     js: ${b.slice(Math.max(0, i - 200), i + 200)}`;
}

/** Runs both engines; asserts identical windows; returns the number of windows compared. */
function compare(stream: TimedRecord[], run: Run): number {
  const native = loadNative().createAnalyzer({ seed: run.seed, windowSeconds: run.windowSeconds, top: run.top, keepWindows: true, tasks: run.tasks });
  native.beginFile('stream.pcapng');
  assert.equal(native.feed(pcapngOf(stream)), null);
  assert.equal(native.endFile(), null);
  native.closeWindow();
  assert.equal(native.packets(), stream.length, 'every frame decoded as one packet');
  const nativeSnapshots = native.takeWindows().map((w) => readClosedWindow(w).snapshot);
  const nativeWindows = windowsText(native.reportJson(run.top));

  const seed = BigInt(run.seed);
  const engine = new Engine({ windowNs: BigInt(Math.round(run.windowSeconds * 1e9)), tasks: taskSpecs(run.tasks, seed) }, seed);
  const closed: WindowSnapshot[] = [];
  // One reused record, as the decoder hands them over.
  const r = emptyRecord();
  for (const p of stream) {
    Object.assign(r, { ...p.r, src: r.src, dst: r.dst });
    r.src.set(p.r.src);
    r.dst.set(p.r.dst);
    const w = engine.add(r, p.hasTs);
    if (w) closed.push(w);
  }
  const last = engine.closeWindow();
  if (last) closed.push(last);

  const j = new Json();
  j.beginArray();
  for (const w of closed) w.writeJson(j, run.top);
  j.endArray();
  const jsWindows = j.finish();
  assert.ok(jsWindows === nativeWindows, `window JSON differs ${firstDifference(nativeWindows, jsWindows)}`);
  assert.equal(closed.length, nativeSnapshots.length);
  closed.forEach((w, i) => {
    const mine = Buffer.from(w.encode());
    const theirs = Buffer.from(nativeSnapshots[i]);
    if (!mine.equals(theirs)) {
      let at = 0;
      while (mine[at] === theirs[at]) at++;
      assert.fail(`window ${i} snapshot differs at byte ${at} (native ${theirs.length} bytes, js ${mine.length})`);
    }
  });
  return closed.length;
}

const base: StreamOptions = {
  seed: 1,
  packets: 20_000,
  startNs: 1_700_000_003_123_456_789n,
  gapNs: 2_000_000,
  hosts: 400,
  v6: 0.3,
  nonIp: 0.02,
  late: 0.01,
  lateNs: 25e9,
  untimed: 0.01,
  scanners: 3,
  jumpNs: 60e9,
};

test('the default task set of configs/netspectra.yaml, whole capture and 10 s windows', () => {
  const cfg = loadConfig({ file: join(process.cwd(), 'configs', 'netspectra.yaml'), env: {} });
  const tasks = [...cfg.tasks.map(taskOptions), ...exactBesideTasks(cfg.tasks)];
  const stream = makeStream({ ...base, packets: 30_000, hosts: 3000, scanners: 4 });
  assert.equal(compare(stream, { seed: cfg.seed, windowSeconds: cfg.analyze.window, top: cfg.analyze.top, tasks }), 1);
  assert.ok(compare(stream, { seed: cfg.seed, windowSeconds: 10, top: cfg.analyze.top, tasks }) > 3);
});

test('exact tasks with and without distinct counting', () => {
  const tasks: TaskOptions[] = [
    { name: 'src', type: 'exact', key: 'SrcIP', distinct: 'DstIP' },
    { name: 'port', type: 'exact', key: 'DstPort,Protocol' },
    { name: 'flow', type: 'exact', key: 'SrcIP,DstIP,SrcPort,DstPort,Protocol', distinct: 'SrcPort' },
    { name: 'proto', type: 'exact', key: 'Protocol', distinct: 'SrcIP,DstIP,SrcPort,DstPort,Protocol' },
  ];
  assert.ok(compare(makeStream(base), { seed: '42', windowSeconds: 10, top: 10, tasks }) > 3);
  assert.ok(compare(makeStream({ ...base, seed: 2 }), { seed: '42', windowSeconds: 5, top: 1000, tasks }) > 3);
});

test('Count-Min, conservative and plain, small widths with collisions and candidate churn', () => {
  const tasks: TaskOptions[] = [
    { name: 'src', type: 'exact', key: 'SrcIP' },
    { name: 'cm_src', type: 'countmin', key: 'SrcIP', depth: 3, width: 16, heavyHitters: 5 },
    { name: 'cm_plain', type: 'countmin', key: 'SrcIP', depth: 2, width: 8, conservative: false, heavyHitters: 7 },
    { name: 'cm_flow', type: 'countmin', key: 'SrcIP,DstIP,SrcPort,DstPort,Protocol', depth: 1, width: 4, conservative: false, heavyHitters: 4 },
    { name: 'cm_flow2', type: 'countmin', key: 'SrcIP,DstIP,SrcPort,DstPort,Protocol', depth: 16, width: 64, heavyHitters: 50 },
    { name: 'cm_none', type: 'countmin', key: 'DstIP', heavyHitters: 0 },
    { name: 'cm_all', type: 'countmin', key: 'DstPort', depth: 5, width: 1000, heavyHitters: 100_000 },
    { name: 'cm_one', type: 'countmin', key: 'Protocol', depth: 1, width: 1, heavyHitters: 1 },
  ];
  assert.ok(compare(makeStream(base), { seed: '18446744073709551615', windowSeconds: 10, top: 10, tasks }) > 3);
  assert.ok(compare(makeStream({ ...base, seed: 3, hosts: 40 }), { seed: '9', windowSeconds: 3, top: 200, tasks }) > 3);
});

test('SuperSpread with small widths, heavy churn, decay draws and claims', () => {
  const tasks: TaskOptions[] = [
    { name: 'src_exact', type: 'exact', key: 'SrcIP', distinct: 'DstIP' },
    { name: 'ss_tiny', type: 'superspread', key: 'SrcIP', element: 'DstIP', depth: 2, width: 4, registers: 8, registerBits: 3, threshold: 2 },
    { name: 'ss_dst', type: 'superspread', key: 'DstIP', element: 'SrcIP', depth: 3, width: 16, registers: 16, registerBits: 5, threshold: 3, decayBase: 1.5 },
    { name: 'ss_wide', type: 'superspread', key: 'SrcIP,DstPort', element: 'DstIP,SrcPort', depth: 2, width: 2, registers: 8, registerBits: 8, threshold: 1 },
    { name: 'ss_6', type: 'superspread', key: 'SrcIP', element: 'DstPort', depth: 1, width: 3, registers: 32, registerBits: 6, threshold: 1, decayBase: 2 },
    { name: 'ss_slow', type: 'superspread', key: 'SrcIP', element: 'DstIP', depth: 8, width: 5, registers: 64, registerBits: 4, threshold: 4, decayBase: 1.02 },
    { name: 'ss_big', type: 'superspread', key: 'SrcIP', element: 'DstIP', depth: 1, width: 1, registers: 4096, registerBits: 7, threshold: 1 },
    { name: 'ss_never', type: 'superspread', key: 'SrcIP', element: 'DstIP', depth: 2, width: 64, threshold: 1e30 },
    { name: 'ss_paper', type: 'superspread', key: 'SrcIP', element: 'DstIP', depth: 2, width: 8192, registers: 128, registerBits: 5, threshold: 20 },
  ];
  assert.ok(compare(makeStream({ ...base, scanners: 6 }), { seed: '7954892329472115572', windowSeconds: 10, top: 10, tasks }) > 3);
  // Few hosts and one long window: buckets saturate, owners change hands many times.
  assert.equal(compare(makeStream({ ...base, seed: 4, packets: 40_000, hosts: 30, scanners: 8 }), { seed: '3', windowSeconds: 0, top: 50, tasks }), 1);
});

test('windows: untimed packets first, late packets, gaps that leave windows empty', () => {
  const tasks: TaskOptions[] = [
    { name: 'src', type: 'exact', key: 'SrcIP', distinct: 'DstPort' },
    { name: 'cm', type: 'countmin', key: 'SrcIP', depth: 2, width: 32, heavyHitters: 3 },
    { name: 'ss', type: 'superspread', key: 'SrcIP', element: 'DstPort', depth: 2, width: 16, registers: 16, registerBits: 4, threshold: 2 },
    { name: 'x'.repeat(300), type: 'exact', key: 'Protocol' },
    { name: 'naïve ünïcode', type: 'exact', key: 'DstIP' },
  ];
  const stream = makeStream({ ...base, packets: 8000, late: 0.1, lateNs: 3e9, untimed: 0.05, jumpNs: 5e9 });
  for (let i = 0; i < 20; i++) {
    stream[i].hasTs = false;
    stream[i].r.tsNs = 0n;
  }
  assert.ok(compare(stream, { seed: '1', windowSeconds: 1, top: 5, tasks }) > 10);
  assert.ok(compare(stream, { seed: '1', windowSeconds: 0.25, top: 0, tasks }) > 10);
  assert.equal(compare(stream, { seed: '1', windowSeconds: 0, top: 3, tasks }), 1);
  // Only untimed packets: one window from first to last time (both 0).
  assert.equal(compare(stream.slice(0, 20), { seed: '1', windowSeconds: 1, top: 3, tasks }), 1);
});

test('bytes per key follows hashbrown growth at every table size', () => {
  // Window i holds exactly sizes[i] sources, each with i % 5 + 1 destinations; every other
  // window ends with a pair seen before (the core's insert grows a full table even then).
  const sizes = [1, 2, 3, 4, 5, 7, 8, 9, 14, 15, 16, 28, 29, 56, 57, 100, 112, 113, 224, 225, 448, 449, 1000, 1792, 1793];
  const windows = [
    ...sizes.map((n, i) => ({ srcs: n, dsts: (i % 5) + 1, repeat: i % 2 === 1 })),
    ...[3, 7, 14, 28, 56, 112, 224, 448].map((n) => ({ srcs: n, dsts: 1, repeat: true })),
    ...[7, 14, 28, 56].map((n) => ({ srcs: n / 7, dsts: 7, repeat: true })),
  ];
  const stream: TimedRecord[] = [];
  windows.forEach(({ srcs, dsts, repeat }, w) => {
    const pairs: Array<[number, number]> = [];
    for (let s = 0; s < srcs; s++) for (let d = 0; d < dsts; d++) pairs.push([s, d]);
    if (repeat) pairs.push([0, 0]);
    pairs.forEach(([s, d], k) => {
      const r = emptyRecord();
      r.tsNs = BigInt(1_000 + w) * 1_000_000_000n + BigInt(k);
      r.srcFamily = 4;
      r.dstFamily = 4;
      r.src.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, s >> 8, s & 0xff]);
      r.dst.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, d]);
      r.proto = 17;
      r.srcPort = 5000;
      r.dstPort = 53;
      r.wireLen = 100;
      stream.push({ r, hasTs: true });
    });
  });
  const tasks: TaskOptions[] = [
    { name: 'src', type: 'exact', key: 'SrcIP' },
    { name: 'pairs', type: 'exact', key: 'SrcIP', distinct: 'DstIP' },
    { name: 'dst', type: 'exact', key: 'DstIP', distinct: 'SrcIP' },
  ];
  assert.equal(compare(stream, { seed: '5', windowSeconds: 1, top: 3, tasks }), windows.length);
});

test('real captures: their addresses, ports, sizes and timing, with the default task set', () => {
  const cfg = loadConfig({ file: join(process.cwd(), 'configs', 'netspectra.yaml'), env: {} });
  const tasks: TaskOptions[] = [
    ...cfg.tasks.map(taskOptions),
    ...exactBesideTasks(cfg.tasks),
    { name: 'cm_small', type: 'countmin', key: 'SrcIP,DstPort', depth: 2, width: 32, heavyHitters: 10 },
    { name: 'ss_small', type: 'superspread', key: 'DstIP', element: 'SrcIP,SrcPort', depth: 2, width: 8, registers: 16, registerBits: 4, threshold: 3 },
  ];
  for (const name of ['ndpi-1kxun.pcap', 'debian-pathspider-real.pcap', 'ndpi-netflix.pcap', 'ndpi-quic.pcap']) {
    const stream = recordsFromPcap(readFileSync(join(process.cwd(), '..', 'shared', 'pcaps', name)));
    assert.ok(stream.length > 500, name);
    compare(stream, { seed: cfg.seed, windowSeconds: 0, top: 20, tasks });
    compare(stream, { seed: cfg.seed, windowSeconds: 10, top: 10, tasks });
  }
});
