// The wasm backend against the native addon: the same core, so the same bytes out for every
// shared capture (fed in odd chunk sizes), the same error texts for damaged input and bad options,
// the same synthetic traffic; and traps surface as errors that name the call.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createAnalyzer, taskOptions } from '../analyze/analyze-files.js';
import { defaultConfig } from '../config/index.js';
import { loadNative } from './native.js';
import type { Analyzer, AnalyzerOptions, BatchEngine, TaskOptions, TrafficOptions } from './types.js';
import { readClosedWindow, readRows } from './closed-window.js';
import { loadWasm, type WasmAnalyzer } from './wasm.js';

const pcaps = join(process.cwd(), '..', 'shared', 'pcaps');
const captures = readdirSync(pcaps).filter((f) => /\.(pcap|pcapng|cap)$/.test(f)).sort();
const native = loadNative();
const wasm = loadWasm();

/** Chunk sizes the wasm side is fed in, in turn: odd, tiny and large, so records and blocks
 * straddle chunk boundaries everywhere. */
const ODD_CHUNKS = [7, 4099, 1, 65_537, 1 << 20, 333];

interface Outcome {
  feedError: string | null;
  endError: string | null;
  packets: number;
  report: string;
  conversations: Buffer;
  pairs: Buffer;
  snapshots: Buffer[];
  /** Flow records (JSON arrays): taken after every chunk, then flushed. */
  flows: string;
}

/** Feeds like ts/analyze feedFile (stops at the first error), taking the closed windows'
 * snapshots after every chunk as a live reader would, then reads every output. */
function run(analyzer: Analyzer, data: Uint8Array, chunks: number[]): Outcome {
  analyzer.beginFile('capture');
  let feedError: string | null = null;
  const snapshots: Buffer[] = [];
  const flows: string[] = [];
  const takeFlows = (flush: boolean) => flows.push((analyzer.takeFlows?.(flush) ?? '[]').slice(1, -1));
  const take = () => {
    snapshots.push(...analyzer.takeWindows().map((s) => Buffer.from(s)));
    takeFlows(false);
  };
  for (let at = 0, i = 0; at < data.length && feedError === null; i++) {
    const n = chunks[i % chunks.length];
    feedError = analyzer.feed(data.subarray(at, at + n));
    take();
    at += n;
  }
  const endError = analyzer.endFile();
  analyzer.closeWindow();
  take();
  takeFlows(true);
  return {
    feedError,
    endError,
    packets: analyzer.packets(),
    report: analyzer.reportJson(10),
    conversations: Buffer.from(analyzer.exportConversations(false)),
    pairs: Buffer.from(analyzer.exportConversations(true)),
    snapshots,
    flows: `[${flows.filter(Boolean).join(',')}]`,
  };
}

function assertSame(n: Outcome, w: Outcome, what: string): void {
  assert.equal(w.feedError, n.feedError, `${what}: feed error`);
  assert.equal(w.endError, n.endError, `${what}: end error`);
  assert.equal(w.packets, n.packets, `${what}: packets`);
  assert.equal(w.report, n.report, `${what}: report`);
  assert.ok(w.conversations.equals(n.conversations), `${what}: conversations`);
  assert.ok(w.pairs.equals(n.pairs), `${what}: address pairs`);
  assert.equal(w.snapshots.length, n.snapshots.length, `${what}: snapshots`);
  assert.equal(w.flows, n.flows, `${what}: flow records`);
  // Closed windows: counters, JSON, snapshot and the storage rows the core made.
  w.snapshots.forEach((s, i) => assert.ok(s.equals(n.snapshots[i]), `${what}: window ${i}`));
  // Storage rows made from the snapshots (source and run names of any length and character),
  // as the ones made when the window closed.
  w.snapshots.forEach((s, i) => {
    const snapshot = readClosedWindow(s).snapshot;
    const rows = Buffer.from(wasm.storageRows(snapshot, SOURCE, RUN));
    assert.ok(rows.equals(Buffer.from(native.storageRows!(snapshot, SOURCE, RUN))), `${what}: storage rows ${i}`);
    const made = readClosedWindow(s).rows;
    if (made) assert.deepEqual(readRows(rows), made, `${what}: rows of window ${i} as made when it closed`);
  });
}

/** The default task list (with the exact tasks beside the sketches), 1 s windows, snapshots kept. */
const SOURCE = 'src\té';
const RUN = 'r1';

function compare(data: Uint8Array, what: string): Outcome {
  const config = defaultConfig();
  config.analyze.window = 1;
  const rows = { source: SOURCE, run: RUN };
  const n = run(createAnalyzer(native, config, true, rows).analyzer, data, [data.length || 1]);
  const wasmAnalyzer = createAnalyzer(wasm, config, true, rows).analyzer as WasmAnalyzer;
  const w = run(wasmAnalyzer, data, ODD_CHUNKS);
  wasmAnalyzer.free();
  assertSame(n, w, what);
  for (const s of w.snapshots) assert.ok(readClosedWindow(s).rows, `${what}: a closed window carries its rows`);
  return w;
}

for (const file of captures) {
  test(`wasm matches native byte for byte: ${file}`, () => {
    compare(readFileSync(join(pcaps, file)), file);
  });
}

test('wasm matches native on truncated and corrupt input, with the same error texts', () => {
  const pcap = readFileSync(join(pcaps, 'ndpi-dns_fragmented.pcap'));
  const pcapng = readFileSync(join(pcaps, 'ndpi-quic-v2.pcapng'));
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['not a capture', Buffer.from('this is not a capture file at all')],
    ['half a pcap header', pcap.subarray(0, 12)],
    ['pcap cut in a record header', pcap.subarray(0, 24 + 9)],
    ['pcap cut in a record', pcap.subarray(0, pcap.length - 5)],
    ['pcapng cut in a block', pcapng.subarray(0, pcapng.length - 21)],
    ['pcapng cut in the section header', pcapng.subarray(0, 17)],
  ];
  // A record length no capture can have, and a pcapng block length that is not a multiple of 4.
  const badRecord = Buffer.from(pcap);
  badRecord.writeUInt32LE(0x7fff_ffff, 24 + 8);
  cases.push(['pcap with an impossible record length', badRecord]);
  const badBlock = Buffer.from(pcapng);
  const shbLength = badBlock.readUInt32LE(4);
  badBlock.writeUInt32LE(0x7fff_fff3, shbLength + 4);
  cases.push(['pcapng with a bad block length', badBlock]);
  for (const [what, data] of cases) {
    const w = compare(data, what);
    assert.notEqual(w.feedError ?? w.endError, null, `${what}: an error`);
  }
});

test('storage rows of a damaged snapshot fail with the same error text as native', () => {
  const config = defaultConfig();
  const good = run(createAnalyzer(native, config, true).analyzer, readFileSync(join(pcaps, 'debian-pathspider-real.pcap')), [1 << 20]).snapshots[0];
  for (const bad of [good.subarray(0, 3), good.subarray(0, 200), Buffer.concat([good, Buffer.from([0])]), Buffer.from('NSWX')]) {
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    const n = message(() => native.storageRows!(bad, 's', ''));
    assert.notEqual(n, 'no error');
    assert.equal(message(() => wasm.storageRows(bad, 's', '')), n);
  }
});

test('a peeked open window is the same on both backends, and the engine goes on counting', () => {
  const config = defaultConfig();
  const batcher = native.createPacketBatcher!({ probeId: 'p', interface: 'file', partitions: 1, batchPackets: 4096 });
  assert.equal(batcher.addCapture(readFileSync(join(pcaps, 'debian-pathspider-real.pcap'))), null);
  const messages = batcher.take(true, { captured: 0, kernelDropped: 0, interfaceDropped: 0, probeDropped: 0 }, 0).map((b) => b.message);
  const options: AnalyzerOptions = { seed: config.seed, windowSeconds: 0, top: 10, tasks: config.tasks.map(taskOptions) };
  const engines = [native.createBatchEngine!(options), wasm.createBatchEngine(options)];
  const half = Math.floor(messages.length / 2);
  for (const e of engines) for (const m of messages.slice(0, half)) e.apply(m);
  const [n, w] = engines.map((e) => e.peekWindow());
  assert.ok(n && w);
  assert.ok(Buffer.from(w).equals(Buffer.from(n)), 'the same window, snapshot and JSON');
  assert.ok(readClosedWindow(n).packets > 0);
  assert.deepEqual(engines.map((e) => [e.secondsJson(0, 1e15), e.takeFlows(false, true)]), [[null, null], [null, null]], 'nothing without the options');
  for (const e of engines) for (const m of messages.slice(half)) e.apply(m);
  const [nAll, wAll] = engines.map((e) => e.peekWindow()!);
  assert.ok(Buffer.from(wAll).equals(Buffer.from(nAll)));
  assert.ok(!Buffer.from(readClosedWindow(nAll).snapshot).equals(Buffer.from(readClosedWindow(n).snapshot)), 'the window went on counting');
  for (const e of engines) e.closeWindow();
  assert.deepEqual(engines.map((e) => e.peekWindow()), [null, null], 'nothing open after the close');
});

test('flow records, the live flow table and per-second counters are the same on both backends', () => {
  const batcher = native.createPacketBatcher!({ probeId: 'probe-1', interface: 'eth0', partitions: 1, batchPackets: 1024 });
  assert.equal(batcher.addCapture(readFileSync(join(pcaps, 'debian-pathspider-real.pcap'))), null);
  const messages = batcher.take(true, { captured: 0, kernelDropped: 0, interfaceDropped: 0, probeDropped: 0 }, 0).map((b) => b.message);
  const options: AnalyzerOptions = { flows: { idleUdp: 5, localNetworks: '10.64.0.0/16' }, seconds: 3600, source: 'probe-1' };
  const engines = [native.createBatchEngine!(options), wasm.createBatchEngine(options)];
  const finished = engines.map(() => [] as string[]);
  /** Both outputs of a take: the JSON, and the rows (as hex). */
  const taken = (e: BatchEngine, flush: boolean) => {
    const t = e.takeFlows(flush, true)!;
    return `${t.json}|${Buffer.from(t.rows!).toString('hex')}`;
  };
  const half = Math.floor(messages.length / 2);
  messages.slice(0, half).forEach((m) => engines.forEach((e, i) => (e.apply(m), finished[i].push(taken(e, false)))));
  type Page = { active: number; matched: number; flows: { srcIp: string; dstIp: string; dstPort: number; reason: string; probe: string; interface: string }[] };
  const top = (JSON.parse(engines[0].queryFlows('limit=1')!) as Page).flows[0];
  const pages = ['', 'limit=5&sort=packets&dir=asc', `ip=${top.dstIp}&port=${top.dstPort}&proto=6&limit=3&offset=1`, 'sort=duration'];
  for (const q of pages) assert.equal(engines[1].queryFlows(q), engines[0].queryFlows(q), q);
  const page = JSON.parse(engines[0].queryFlows(`ip=${top.srcIp}/32&limit=50`)!) as Page;
  assert.ok(page.active > page.matched && page.matched > 0 && page.flows.length > 0);
  for (const f of page.flows) {
    assert.ok(f.srcIp === top.srcIp || f.dstIp === top.srcIp);
    assert.deepEqual([f.reason, f.probe, f.interface], ['open', 'probe-1', 'eth0']);
  }
  for (const q of ['sort=size', 'ip=10.0.0.0/99', 'color=red']) {
    const n = (() => { try { engines[0].queryFlows(q); return 'no error'; } catch (e) { return (e as Error).message; } })();
    assert.notEqual(n, 'no error');
    assert.throws(() => engines[1].queryFlows(q), (e: Error) => e.message === n);
  }
  engines.forEach((e) => e.flowsIdle(10 * 60_000));
  assert.equal(taken(engines[1], false), taken(engines[0], false), 'idle flows end alike');
  messages.slice(half).forEach((m) => engines.forEach((e, i) => (e.apply(m), finished[i].push(taken(e, false)))));
  engines.forEach((e, i) => finished[i].push(taken(e, true)));
  assert.equal(finished[1].join(''), finished[0].join(''));
  assert.equal(engines[1].secondsJson(0, 1e15), engines[0].secondsJson(0, 1e15));
  const seconds = JSON.parse(engines[0].secondsJson(0, 1e15)!) as { packets: number }[];
  assert.equal(seconds.reduce((n, s) => n + s.packets, 0), 62_781, 'every packet in a second');
  assert.ok(/"flows":\{"active":0,/.test(engines[0].statsJson()));
});

test('bad options fail with the same error text (and code) as native', () => {
  const task = (t: Partial<TaskOptions>): AnalyzerOptions => ({ tasks: [{ name: 't', type: 'countmin', key: 'SrcIP', ...t }] });
  const bad: AnalyzerOptions[] = [
    { tasks: [{ name: 'k', type: 'exact', key: 'SrcMac' }] },
    task({ key: '' }),
    task({ type: 'bloom' as TaskOptions['type'] }),
    task({ type: 'exact', distinct: 'Nope' }),
    task({ type: 'superspread', element: 'SrcIP,X' }),
    task({ width: 0 }),
    task({ depth: 17 }),
    task({ heavyHitters: 1e6 }),
    task({ type: 'superspread', registers: 100 }),
    task({ type: 'superspread', registerBits: 9 }),
    task({ type: 'superspread', decayBase: 0.5 }),
    task({ type: 'superspread', decayBase: -0 }),
    task({ type: 'superspread', decayBase: NaN }),
    task({ depth: -1 }),
    { seed: '-1' },
    { seed: '18446744073709551616' },
    { seed: ' 1' },
    { windowSeconds: -1 },
    { windowSeconds: 86_400.5 },
    { windowSeconds: NaN },
    { windowSeconds: Infinity },
    { tasks: [{ name: 'ü\n"x"', type: 'exact', key: 'SrcIP,Mac' }] },
    { flows: { idleTcp: -1 } },
    { flows: { activeTimeout: NaN } },
    { flows: { localNetworks: '10.0.0.0/8,lan' } },
    { flows: { localNetworks: '10.0.0.0/33' } },
  ];
  for (const options of bad) {
    const expected = (() => {
      try {
        native.createAnalyzer(options);
      } catch (e) {
        return e as Error & { code?: string };
      }
      assert.fail(`native accepted ${JSON.stringify(options)}`);
    })();
    assert.throws(
      () => wasm.createAnalyzer(options),
      (e: Error & { code?: string }) => {
        assert.equal(e.message, expected.message, JSON.stringify(options));
        assert.equal(e.code, expected.code);
        return true;
      },
    );
  }
});

test('numbers convert as Node-API converts them', () => {
  const data = readFileSync(join(pcaps, 'ndpi-6in4tunnel.pcap'));
  const options: AnalyzerOptions[] = [
    { top: -1, windowSeconds: 0.5 },
    { top: 2 ** 32 + 3, seed: '0' },
    { top: 1.9, windowSeconds: 1e-9 },
    { top: NaN, keepWindows: true, windowSeconds: 86_400 },
    { tasks: [{ name: 'cm', type: 'countmin', key: 'SrcIP', width: 100.7, depth: 2 ** 32 + 2, heavyHitters: 3.2, conservative: false }] },
    { tasks: [{ name: 'ss', type: 'superspread', key: 'DstIP', element: 'SrcIP', threshold: 0.3, decayBase: 1.5, registers: 64.9 }] },
    { tasks: [{ name: 'ex', type: 'exact', key: ' SrcIP , DstPort,', distinct: 'Protocol' }] },
  ];
  for (const o of options) {
    const n = run(native.createAnalyzer(o), data, [data.length]);
    const w = run(wasm.createAnalyzer(o), data, ODD_CHUNKS);
    assertSame(n, w, JSON.stringify(o));
  }
});

test('wrong option types are refused, as native refuses them', () => {
  const wrong = [{ seed: 5 }, { seed: null }, { top: '3' }, { keepWindows: 1 }, { tasks: 5 }, { tasks: [{ type: 'exact', key: 'SrcIP' }] }];
  for (const o of wrong) {
    assert.throws(() => native.createAnalyzer(o as unknown as AnalyzerOptions));
    assert.throws(() => wasm.createAnalyzer(o as unknown as AnalyzerOptions), TypeError);
  }
  const a = wasm.createAnalyzer();
  assert.throws(() => a.feed('abc' as unknown as Uint8Array), TypeError);
  assert.throws(() => a.reportJson('3' as unknown as number), TypeError);
  a.free();
});

test('the traffic generator produces the same bytes', () => {
  const options: (TrafficOptions | undefined)[] = [
    undefined,
    { seed: 7, packets: 5000, hosts: 30, durationSeconds: 5, startMs: 1_700_000_000_000 },
    { seed: -1, packets: 300, hosts: 0, durationSeconds: -3, startMs: -5 },
  ];
  for (const o of options) {
    const n = native.createTrafficSource!(o);
    const w = wasm.createTrafficSource(o);
    let total = 0;
    for (let i = 0; ; i++) {
      const max = [1, 999, 65_536][i % 3];
      const [a, b] = [Buffer.from(n.nextChunk(max)), Buffer.from(w.nextChunk(max))];
      assert.ok(b.equals(a), `${JSON.stringify(o)}: chunk ${i}`);
      total += a.length;
      if (a.length === 0) break;
      if (total > 64 << 20) break;
    }
    w.free();
  }
});

test('a trap surfaces as an error naming the call; new objects get a fresh instance', () => {
  const before = wasm.createAnalyzer();
  const victim = wasm.createAnalyzer();
  // A handle past the end of memory (2 GiB; addresses wrap at 4 GiB): the first access traps.
  (victim as unknown as { own: { held: { handle: number } } }).own.held.handle = 0x8000_0000;
  assert.throws(() => victim.closeWindow(), /^Error: wasm backend: closeWindow trapped: memory access out of bounds/);
  assert.throws(() => before.reportJson(3), /wasm backend: cannot reportJson: this instance trapped earlier \(closeWindow: /);
  before.free();
  victim.free();
  const after = wasm.createAnalyzer({ tasks: [{ name: 'e', type: 'exact', key: 'SrcIP' }] });
  const data = readFileSync(join(pcaps, 'tcpdump-geneve.pcap'));
  assertSame(run(native.createAnalyzer({ tasks: [{ name: 'e', type: 'exact', key: 'SrcIP' }] }), data, [data.length]), run(after, data, ODD_CHUNKS), 'after a trap');
  after.free();
});

test('a panic in the module reaches the error with its message', () => {
  const a = wasm.createAnalyzer();
  type Rt = { call<T>(name: string, f: () => T): T; x: { ns_alloc(len: number): number } };
  const rt = (a as unknown as { own: { held: { rt: Rt } } }).own.held.rt;
  // More than isize::MAX bytes: Vec panics with "capacity overflow".
  assert.throws(() => rt.call('alloc', () => rt.x.ns_alloc(0xffff_0000)), /^Error: wasm backend: alloc trapped: unreachable \(panicked at .*capacity overflow\)$/s);
  assert.throws(() => a.packets(), /cannot packets: this instance trapped earlier \(alloc: unreachable: panicked at /);
  assert.equal(wasm.createAnalyzer().packets(), 0, 'a fresh instance');
});

test('freed objects refuse calls; free twice is harmless', () => {
  const a = wasm.createAnalyzer();
  a.free();
  a.free();
  assert.throws(() => a.packets(), /wasm backend: cannot packets: the object was freed/);
  const t = wasm.createTrafficSource({ packets: 1 });
  t.free();
  assert.throws(() => t.nextChunk(1), /the object was freed/);
});

test('memory is reused: analyzers created and freed in turn do not grow it', () => {
  const data = readFileSync(join(pcaps, 'ndpi-KakaoTalk_talk.pcap'));
  const config = defaultConfig();
  const size = () => {
    const a = createAnalyzer(wasm, config).analyzer as WasmAnalyzer;
    run(a, data, [1 << 20]);
    const rt = (a as unknown as { own: { held: { rt: { x: { memory: WebAssembly.Memory } } } } }).own.held.rt;
    a.free();
    return rt.x.memory.buffer.byteLength;
  };
  size();
  const first = size();
  for (let i = 0; i < 10; i++) size();
  assert.equal(size(), first);
});

test('transport: the wasm batcher and batch engine give the native bytes on every shared capture', () => {
  const tasks = defaultConfig().tasks.map(taskOptions);
  const stats = { captured: 1, kernelDropped: 2, interfaceDropped: 3, probeDropped: 4 };
  for (const file of captures) {
    const data = readFileSync(join(pcaps, file));
    const batches = [native, wasm].map((b) => {
      const batcher = b.createPacketBatcher!({ probeId: 'probe', interface: 'file', partitions: 3, batchPackets: 97, seed: '42' });
      const out = [];
      for (let at = 0; at < data.length; at += 65_537) {
        const err = batcher.addCapture(data.subarray(at, at + 65_537));
        out.push(...batcher.take(false, stats, 1_700_000_000_000));
        if (err) break;
      }
      const end = batcher.endCapture();
      out.push(...batcher.take(true, stats, 1_700_000_000_000));
      return { out, end, packets: batcher.packets() };
    });
    assert.equal(batches[1].packets, batches[0].packets, file);
    assert.equal(batches[1].end, batches[0].end, file);
    assert.deepEqual(batches[1].out.map((b) => [b.partition, b.sequence, b.packets, Buffer.from(b.message).toString('hex')]),
      batches[0].out.map((b) => [b.partition, b.sequence, b.packets, Buffer.from(b.message).toString('hex')]), file);
    const windows = [native, wasm].map((b) => {
      const engine = b.createBatchEngine!({ seed: '42', windowSeconds: 1, top: 5, tasks });
      const results = batches[0].out.map((m) => engine.apply(m.message));
      results.push(engine.apply(batches[0].out[0]?.message ?? new Uint8Array()));
      results.push(engine.apply(Buffer.from('not a batch')));
      const open = engine.openWindow();
      engine.closeWindow();
      return { results, open, windows: engine.takeWindows().map((w) => Buffer.from(w).toString('hex')), stats: engine.statsJson() };
    });
    assert.deepEqual(windows[1], windows[0], file);
  }
});

test('transport: bad frames and options are refused by wasm as by native', () => {
  for (const b of [native, wasm]) {
    const batcher = b.createPacketBatcher!({ probeId: 'p', interface: 'lo', partitions: 1, batchPackets: 10 });
    assert.throws(() => batcher.addFrames(Buffer.alloc(20), 1, 0), /frame 0 at byte 0 claims 0 captured bytes|ends inside the header of frame 1 at byte 16/);
    assert.throws(() => b.createPacketBatcher!({ probeId: 'p', interface: 'lo', partitions: 0, batchPackets: 10 }), /partitions 0 is outside 1..1024/);
    assert.throws(() => b.createBatchEngine!({ tasks: [{ name: 'x', type: 'exact', key: 'SrcMac' }] }), /unknown key field "SrcMac"/);
  }
});
