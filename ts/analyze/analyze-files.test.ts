// The analysis driver through the engine: window snapshots as compact buffers, the exact tasks
// added beside sketches, and task options as the engine takes them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBackend } from '../backend/index.js';
import { defaultConfig, type TaskConfig } from '../config/index.js';
import { createAnalyzer, exactBesideTasks, feedFile } from './analyze-files.js';

const capture = join(process.cwd(), '..', 'shared', 'pcaps', 'ndpi-1kxun.pcap');

test('closed windows come out as compact snapshot buffers, one per window', () => {
  const config = { ...defaultConfig(), analyze: { ...defaultConfig().analyze, window: 10 } };
  const { analyzer } = createAnalyzer(loadBackend(), config, true);
  const outcome = feedFile(analyzer, capture, config.analyze.chunkSize);
  assert.equal(outcome.error, undefined);
  analyzer.closeWindow();
  const snapshots = analyzer.takeSnapshots();
  const report = JSON.parse(analyzer.reportJson(5));
  assert.equal(snapshots.length, report.windows.length);
  assert.ok(snapshots.length > 1, 'the capture spans several 10 s windows');
  let packets = 0;
  for (const s of snapshots) {
    const view = new DataView(s.buffer, s.byteOffset, s.byteLength);
    assert.equal(Buffer.from(s.subarray(0, 4)).toString('latin1'), 'NSWS');
    assert.equal(view.getUint16(4, true), 2, 'version');
    const start = view.getBigUint64(6, true);
    const end = view.getBigUint64(14, true);
    assert.equal(end - start, 10_000_000_000n);
    packets += Number(view.getBigUint64(22, true));
    const tasks = view.getUint16(70, true);
    assert.equal(tasks, config.tasks.length + 3, 'the configured tasks and one exact task beside each sketch');
  }
  assert.equal(packets, report.totals.packets);
  assert.deepEqual(analyzer.takeSnapshots(), [], 'taken once');
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
