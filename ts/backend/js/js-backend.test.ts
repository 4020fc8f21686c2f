// The js backend against the native addon: every shared capture, fed in odd-sized chunks, must
// give the same report, conversation exports and window snapshots byte for byte, with and
// without tasks; so must cut and corrupted captures, several files in one analysis, an
// overflowing fragment table, and bad options (same error texts).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exactBesideTasks, taskOptions } from '../../analyze/analyze-files.js';
import { defaultConfig, type TaskConfig } from '../../config/index.js';
import { loadNative } from '../native.js';
import type { AnalyzerOptions, Backend } from '../types.js';
import { compareBackends, thrown, type Input } from '../../testing/backend-compare.js';
import { loadJs } from './index.js';
import { Bytes, concat, pcapFile } from '../../testing/test-captures.js';

const PCAPS = '/work/shared/pcaps';
/** Odd, so records straddle chunk boundaries everywhere. */
const CHUNK = 65_537;

const native: Backend = loadNative();
const js: Backend = loadJs();

const captures: Input[] = readdirSync(PCAPS)
  .filter((f) => !f.endsWith('.md'))
  .sort()
  .map((name) => ({ name, data: new Uint8Array(readFileSync(join(PCAPS, name))) }));

function capture(name: string): Uint8Array {
  const c = captures.find((x) => x.name === name);
  assert.ok(c, `${name} is in ${PCAPS}`);
  return c.data;
}

/** The analyzer options of a configuration, as `createAnalyzer` builds them. */
function configOptions(tasks: TaskConfig[], windowSeconds: number): AnalyzerOptions {
  const config = defaultConfig();
  return {
    seed: config.seed,
    windowSeconds,
    top: config.analyze.top,
    keepWindows: true,
    tasks: [...tasks.map(taskOptions), ...exactBesideTasks(tasks)],
  };
}

test('there are captures to compare', () => {
  assert.ok(captures.length >= 30, `${captures.length} captures in ${PCAPS}`);
});

test('every capture without tasks, in 1 s windows: identical outputs', () => {
  for (const c of captures) compareBackends(native, js, { windowSeconds: 1, keepWindows: true }, [c], CHUNK, c.name);
});

test('every capture with the default tasks, one window: identical outputs', () => {
  const options = configOptions(defaultConfig().tasks, 0);
  for (const c of captures) compareBackends(native, js, options, [c], CHUNK, c.name);
});

test('every capture with small tasks in 1 s windows: identical outputs and snapshots', () => {
  // The default sketches are megabytes each; small ones keep hundreds of windows fast.
  const tasks = defaultConfig().tasks.map((t): TaskConfig => {
    if (t.type === 'countmin') return { ...t, width: 64 };
    if (t.type === 'superspread') return { ...t, width: 32, registers: 16, threshold: 2 };
    return t;
  });
  const options = configOptions(tasks, 1);
  for (const c of captures) compareBackends(native, js, options, [c], CHUNK, c.name);
});

/** A copy of `data` with `edit` applied. */
function edited(data: Uint8Array, edit: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const b = data.slice();
  edit(b, new DataView(b.buffer));
  return b;
}

test('cut and corrupted captures: identical errors and partial results', () => {
  const le = capture('ndpi-1kxun.pcap');
  const be = capture('ndpi-nfsv3.pcap');
  const ng = capture('ndpi-alexa-app.pcapng');
  const multi = capture('gopacket-le-test202.pcapng');
  // The second record of each pcap starts after the file header and the first record.
  const second = (d: Uint8Array, bigEndian: boolean) => 24 + 16 + new DataView(d.buffer, d.byteOffset).getUint32(24 + 8, !bigEndian);
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['three bytes', le.subarray(0, 3)],
    ['half a pcap header', le.subarray(0, 12)],
    ['pcap header only', le.subarray(0, 24)],
    ['cut in a record header', le.subarray(0, second(le, false) + 7)],
    ['cut in record data', le.subarray(0, second(le, false) + 16 + 10)],
    ['cut mid-file', le.subarray(0, Math.floor(le.length / 2))],
    ['cut big-endian', be.subarray(0, be.length - 3)],
    ['flipped pcap magic', edited(le, (b) => (b[0] ^= 0xff))],
    ['flipped pcapng magic', edited(ng, (b) => (b[0] ^= 0xff))],
    ['pcap version 3', edited(le, (b) => (b[4] = 3))],
    ['record over 16 MiB', edited(le, (_b, v) => v.setUint32(second(le, false) + 8, 16 * 1024 * 1024 + 1, true))],
    ['record of exactly 16 MiB (then cut)', edited(le, (_b, v) => v.setUint32(second(le, false) + 8, 16 * 1024 * 1024, true))],
    ['big-endian record over 16 MiB', edited(be, (_b, v) => v.setUint32(second(be, true) + 8, 0xffff_ffff, false))],
    ['pcapng cut mid-block', ng.subarray(0, 1000)],
    ['pcapng cut in a block header', ng.subarray(0, ng.length - ng.length % 4096 + 3)],
    ['pcapng byte-order magic', edited(ng, (b) => (b[8] = 0))],
    ['pcapng section version 2', edited(ng, (_b, v) => v.setUint16(12, 2, true))],
    ['pcapng block length not a multiple of 4', edited(ng, (_b, v) => v.setUint32(v.getUint32(4, true) + 4, 21, true))],
    ['pcapng block length under 12', edited(ng, (_b, v) => v.setUint32(v.getUint32(4, true) + 4, 8, true))],
    ['pcapng block over 16 MiB', edited(ng, (_b, v) => v.setUint32(v.getUint32(4, true) + 4, 0x7fff_fff0, true))],
    ['pcapng trailer differs', edited(ng, (_b, v) => v.setUint32(v.getUint32(4, true) - 4, 1, true))],
    ['pcapng sections cut', multi.subarray(0, multi.length - 1)],
  ];
  for (const [what, data] of cases) {
    for (const chunk of [CHUNK, 4097, 7]) {
      if (chunk === 7 && data.length > 200_000) continue;
      compareBackends(native, js, { windowSeconds: 1, keepWindows: true }, [{ name: what, data }], chunk, `${what} (chunks of ${chunk})`);
    }
  }
});

test('several files add to one analysis, a damaged one included', () => {
  const inputs: Input[] = [
    { name: 'a.pcap', data: capture('ndpi-6in4tunnel.pcap') },
    { name: 'cut.pcap', data: capture('ndpi-vxlan.pcap').subarray(0, 5000) },
    { name: 'empty', data: new Uint8Array(0) },
    { name: 'b.pcapng', data: capture('ndpi-quic-v2.pcapng') },
    { name: 'name with "quotes"\n', data: capture('tcpdump-ipv6-routing-header.pcap') },
  ];
  compareBackends(native, js, { windowSeconds: 1, keepWindows: true }, inputs, CHUNK, 'several files');
  compareBackends(native, js, configOptions(defaultConfig().tasks, 0), inputs, 4097, 'several files with tasks');
});

test('a fragment table past its capacity resets as the core does', () => {
  // 70 000 first fragments of distinct UDP datagrams, then later fragments of early and late ones.
  const records: { sec: number; frac: number; data: number[] }[] = [];
  const fragment = (id: number, offset: number, sport: number) => {
    const b = new Bytes(true).u8(0x45, 0).u16(offset ? 28 : 36).u16(id & 0xffff).u16(offset ? offset : 0x2000).u8(64, 17).u16(0);
    b.u8(10, 0, (id >> 16) & 0xff, 1, 10, 0, 0, 2);
    if (!offset) b.u16(sport).u16(53).u16(16).u16(0).u8(1, 2, 3, 4, 5, 6, 7, 8);
    else b.u8(1, 2, 3, 4, 5, 6, 7, 8);
    return b.out;
  };
  for (let id = 0; id < 70_000; id++) records.push({ sec: 1_700_000_000 + Math.floor(id / 1000), frac: id % 1000, data: fragment(id, 0, 1000 + (id % 7)) });
  for (const id of [1, 2, 65_535, 65_536, 69_999]) records.push({ sec: 1_700_000_100, frac: id, data: fragment(id, 2, 0) });
  const data = pcapFile(false, false, 101, records);
  const outcome = compareBackends(native, js, {}, [{ name: 'fragments.pcap', data }], CHUNK, 'fragment overflow');
  assert.match(outcome.report, /"fragmentTableResets":1/);
});

/** Errors the core raises (bad seed, window or task) read the same in every backend; a value of
 * the wrong JS type only has to be refused (its text is the binding library's own). */
function sameFailure(actual: ReturnType<typeof thrown>, expected: ReturnType<typeof thrown>, what: string): void {
  if (expected && !/^(seed |window of |task )/.test(expected.message)) {
    assert.ok(actual, `${what}: must be refused like native (${expected.message})`);
    return;
  }
  assert.deepEqual(actual, expected, what);
}

test('bad options and arguments fail like the native binding', () => {
  const options: unknown[] = [
    undefined,
    null,
    5,
    {},
    { seed: 'x' },
    { seed: '' },
    { seed: '+5' },
    { seed: '18446744073709551615' },
    { seed: '18446744073709551616' },
    { seed: '-1' },
    { seed: ' 5' },
    { seed: 5 },
    { seed: null },
    { windowSeconds: -1 },
    { windowSeconds: 86_400.0000001 },
    { windowSeconds: 1e21 },
    { windowSeconds: -1e-7 },
    { windowSeconds: NaN },
    { windowSeconds: Infinity },
    { windowSeconds: '5' },
    { windowSeconds: null },
    { top: null },
    { top: 'x' },
    { top: -1 },
    { keepWindows: 1 },
    { tasks: {} },
    { tasks: null },
    { tasks: [null] },
    { tasks: [{}] },
    { tasks: [{ name: 'a' }] },
    { tasks: [{ name: 5, type: 'exact', key: 'SrcIP' }] },
    { tasks: [{ name: 'a', type: 'exact', key: 'SrcIP', depth: 'x' }] },
    { tasks: [{ name: 'a', type: 'exact', key: 'SrcIP', distinct: null }] },
    { tasks: [{ name: 'a', type: 'exact', key: 'SrcIP', conservative: 1 }] },
    { tasks: [{ name: 'a', type: 'bogus', key: 'SrcIP' }] },
    { tasks: [{ name: 'a', type: 'exact', key: 'SrcMac' }] },
    { tasks: [{ name: 'bad', type: 'countmin', key: 'SrcIP', width: 0 }] },
    { tasks: [{ name: 'ss', type: 'superspread', key: 'SrcIP', element: '' }] },
    { seed: 'x', top: null },
    { seed: 'x', windowSeconds: -1 },
    { windowSeconds: -1, tasks: [{ name: 'a', type: 'exact', key: 'Foo' }] },
  ];
  for (const o of options) {
    const what = JSON.stringify(o) ?? String(o);
    sameFailure(thrown(() => js.createAnalyzer(o as AnalyzerOptions)), thrown(() => native.createAnalyzer(o as AnalyzerOptions)), what);
  }
  const [n, j] = [native.createAnalyzer({}), js.createAnalyzer({})];
  const calls: [string, (a: typeof n) => unknown][] = [
    ['beginFile(5)', (a) => a.beginFile(5 as unknown as string)],
    ['beginFile(null)', (a) => a.beginFile(null as unknown as string)],
    ['feed("ab")', (a) => a.feed('ab' as unknown as Uint8Array)],
    ['feed(Uint16Array)', (a) => a.feed(new Uint16Array(2) as unknown as Uint8Array)],
    ['feed(DataView)', (a) => a.feed(new DataView(new ArrayBuffer(2)) as unknown as Uint8Array)],
    ['reportJson("5")', (a) => a.reportJson('5' as unknown as number)],
    ['reportJson(-1)', (a) => a.reportJson(-1)],
    ['reportJson(2**32 + 1)', (a) => a.reportJson(2 ** 32 + 1)],
    ['exportConversations(1)', (a) => a.exportConversations(1 as unknown as boolean)],
    ['endFile() without a file', (a) => a.endFile()],
  ];
  for (const [what, call] of calls) {
    const a = thrown(() => call(n));
    const b = thrown(() => call(j));
    sameFailure(b, a, what);
    if (!a) assert.deepEqual(call(j), call(n), `${what}: result`);
  }
});

test('feeding before beginFile counts packets without a file entry', () => {
  const data = capture('tcpdump-geneve.pcap');
  const [n, j] = [native.createAnalyzer({}), js.createAnalyzer({})];
  for (const a of [n, j]) {
    a.feed(data);
    a.endFile();
  }
  assert.equal(j.reportJson(10), n.reportJson(10));
});

test('frames at 16 MiB, empty frames and wire lengths under the captured length', () => {
  const max = 16 * 1024 * 1024;
  const big = new Uint8Array(max);
  big.set([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 80, 0, 81, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02]);
  const data = concat([pcapFile(true, true, 101, [{ sec: 1, frac: 5, data: [] }, { sec: 2, frac: 0, data: [0x45], origLen: 0 }]), new Bytes(true).u32(3).u32(0).u32(max).u32(10).out, big]);
  compareBackends(native, js, { windowSeconds: 1, keepWindows: true }, [{ name: 'big', data }], 1 << 20, 'a 16 MiB frame');
});
