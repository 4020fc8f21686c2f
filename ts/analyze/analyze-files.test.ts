// The analysis driver through the engine: window snapshots as compact buffers, the exact tasks
// added beside sketches, and task options as the engine takes them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBackend } from '../backend/index.js';
import { defaultConfig, type TaskConfig } from '../config/index.js';
import { readClosedWindow } from '../backend/index.js';
import { createAnalyzer, exactBesideTasks, feedFile } from './analyze-files.js';

const capture = join(process.cwd(), '..', 'shared', 'pcaps', 'ndpi-1kxun.pcap');

test('closed windows come out whole, one per window: counters, JSON, snapshot and storage rows', async () => {
  const config = { ...defaultConfig(), analyze: { ...defaultConfig().analyze, window: 10 } };
  const { analyzer } = createAnalyzer(loadBackend(), config, true, { source: 'analyze:x', run: 'r1' });
  const outcome = await feedFile(analyzer, capture, config.analyze.chunkSize);
  assert.equal(outcome.error, undefined);
  analyzer.closeWindow();
  const windows = analyzer.takeWindows().map(readClosedWindow);
  const report = JSON.parse(analyzer.reportJson(5)) as { totals: { packets: number }; windows: { packets: number; tasks: unknown[] }[] };
  assert.equal(windows.length, report.windows.length);
  assert.ok(windows.length > 1, 'the capture spans several 10 s windows');
  let packets = 0;
  windows.forEach((w, i) => {
    assert.equal(w.endNs - w.startNs, 10_000_000_000n);
    assert.equal(w.packets, report.windows[i].packets);
    assert.deepEqual(JSON.parse(w.json), report.windows[i], 'the JSON the report holds');
    assert.equal(Buffer.from(w.snapshot.subarray(0, 4)).toString('latin1'), 'NSWS');
    assert.equal(report.windows[i].tasks.length, config.tasks.length + 3, 'the configured tasks and one exact task beside each sketch');
    const tables: string[] = w.rows!.blocks.map((b) => b.table);
    assert.deepEqual(tables, ['windows', 'window_tasks', 'exact_rows', 'heavy_hitters', 'spreaders'].filter((t) => tables.includes(t)));
    assert.equal(w.rows!.blocks[0].rows, 1, 'one row of the window');
    packets += w.packets;
  });
  assert.equal(packets, report.totals.packets);
  assert.deepEqual(analyzer.takeWindows(), [], 'taken once');
});

test('an exact task is added beside each sketch that has none', () => {
  const tasks: TaskConfig[] = [
    { name: 'src', type: 'exact', key: ['SrcIP'], distinct: [] },
    { name: 'hh', type: 'countmin', key: ['SrcIP'], depth: 4, width: 64, conservative: true, heavyHitters: 5 },
    { name: 'hh5', type: 'countmin', key: ['DstPort', 'SrcIP'], depth: 4, width: 64, conservative: true, heavyHitters: 5 },
    { name: 'ss', type: 'superspread', key: ['SrcIP'], element: ['DstIP'], depth: 2, width: 64, registers: 32, registerBits: 5, decayBase: 1.08, threshold: 4 },
    { name: 'hh5_exact', type: 'exact', key: ['Protocol'], distinct: [] },
  ];
  assert.deepEqual(exactBesideTasks(tasks), [
    { name: 'hh5_exact_', type: 'exact', key: 'DstPort,SrcIP', distinct: '' },
    { name: 'ss_exact', type: 'exact', key: 'SrcIP', distinct: 'DstIP' },
  ]);
});

test('the engine refuses an invalid task with its name', () => {
  assert.throws(
    () => loadBackend().createAnalyzer({ tasks: [{ name: 'bad', type: 'countmin', key: 'SrcIP', width: 0 }] }),
    /task "bad": .*width/,
  );
  assert.throws(() => loadBackend().createAnalyzer({ tasks: [{ name: 'k', type: 'exact', key: 'SrcMac' }] }), /task "k": key: unknown key field "SrcMac"/);
});
