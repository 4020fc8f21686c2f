// TaskOptions -> TaskSpec as the native binding maps them: defaults, conversions, and every
// error text compared with the native addon's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadNative } from '../../native.js';
import type { TaskOptions } from '../../types.js';
import { Engine } from './engine.js';
import { taskSpecs } from './task-specs.js';

/** The error text of building an engine from these tasks, or null. */
function jsError(tasks: TaskOptions[]): string | null {
  try {
    new Engine({ windowNs: 0n, tasks: taskSpecs(tasks, 5n) }, 5n);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

function nativeError(tasks: TaskOptions[]): string | null {
  try {
    loadNative().createAnalyzer({ seed: '5', tasks });
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

test('defaults are the binding defaults', () => {
  const [exact, cm, ss] = taskSpecs(
    [
      { name: 'a', type: 'exact', key: 'SrcIP' },
      { name: 'b', type: 'countmin', key: 'DstIP' },
      { name: 'c', type: 'superspread', key: 'SrcIP', element: 'DstIP' },
    ],
    0xfedcba9876543210n,
  );
  assert.deepEqual(exact, { name: 'a', key: 1, kind: { type: 'exact', distinct: 0 } });
  assert.deepEqual(cm.kind, { type: 'countmin', config: { depth: 4, width: 2048, conservative: true, heavyHitters: 20, seed: 0xfedcba9876543210n } });
  assert.deepEqual(ss.kind, {
    type: 'superspread',
    element: 2,
    config: { depth: 2, width: 8192, registers: 128, registerBits: 5, decayBase: 1.08, threshold: 64n, seed: 0xfedcba9876543210n },
  });
  assert.deepEqual(taskSpecs(undefined, 1n), []);
});

test('numbers convert as napi and Rust convert them', () => {
  const [cm, ss, big, nan] = taskSpecs(
    [
      { name: 'b', type: 'countmin', key: 'DstIP', width: 2 ** 32 + 5, depth: 3.9, heavyHitters: 0 },
      { name: 'c', type: 'superspread', key: 'SrcIP', element: 'DstIP', threshold: 0.5, width: 7.7 },
      { name: 'd', type: 'superspread', key: 'SrcIP', element: 'DstIP', threshold: 1e30 },
      { name: 'e', type: 'superspread', key: 'SrcIP', element: 'DstIP', threshold: NaN },
    ],
    1n,
  );
  assert.ok(cm.kind.type === 'countmin' && cm.kind.config.width === 5 && cm.kind.config.depth === 3);
  assert.ok(ss.kind.type === 'superspread' && ss.kind.config.threshold === 1n && ss.kind.config.width === 7);
  assert.ok(big.kind.type === 'superspread' && big.kind.config.threshold === 2n ** 64n - 1n);
  assert.ok(nan.kind.type === 'superspread' && nan.kind.config.threshold === 1n);
});

test('invalid tasks fail with the native text', () => {
  const bad: TaskOptions[] = [
    { name: 'k', type: 'exact', key: 'SrcMac' },
    { name: 'k2', type: 'exact', key: '' },
    { name: 'k3', type: 'exact', key: ' , ' },
    { name: 'dist', type: 'exact', key: 'SrcIP', distinct: 'DstIP,Foo' },
    { name: 'dist2', type: 'exact', key: 'SrcIP', distinct: ' ' },
    { name: 'x', type: 'bogus' as 'exact', key: 'SrcIP' },
    { name: 'x2', type: 'bogus' as 'exact', key: 'Nope' },
    { name: 'w', type: 'countmin', key: 'SrcIP', width: 0 },
    { name: 'w1', type: 'countmin', key: 'SrcIP', width: -1 },
    { name: 'w2', type: 'countmin', key: 'SrcIP', width: 2 ** 26 + 1 },
    { name: 'd', type: 'countmin', key: 'SrcIP', depth: 17 },
    { name: 'd0', type: 'countmin', key: 'SrcIP', depth: 0 },
    { name: 'h', type: 'countmin', key: 'SrcIP', heavyHitters: 100_001 },
    { name: 'e', type: 'superspread', key: 'SrcIP' },
    { name: 'e2', type: 'superspread', key: 'SrcIP', element: 'SrcIP,Port' },
    { name: 's1', type: 'superspread', key: 'SrcIP', element: 'DstIP', depth: 9 },
    { name: 's2', type: 'superspread', key: 'SrcIP', element: 'DstIP', width: 2 ** 22 + 1 },
    { name: 's3', type: 'superspread', key: 'SrcIP', element: 'DstIP', registers: 100 },
    { name: 's4', type: 'superspread', key: 'SrcIP', element: 'DstIP', registers: 4 },
    { name: 's5', type: 'superspread', key: 'SrcIP', element: 'DstIP', registerBits: 9 },
    { name: 's6', type: 'superspread', key: 'SrcIP', element: 'DstIP', decayBase: 1 },
    { name: 's7', type: 'superspread', key: 'SrcIP', element: 'DstIP', decayBase: 2.5 },
    { name: 's8', type: 'superspread', key: 'SrcIP', element: 'DstIP', decayBase: NaN },
    { name: 's9', type: 'superspread', key: 'SrcIP', element: 'DstIP', decayBase: 1e21 },
    { name: 's10', type: 'superspread', key: 'SrcIP', element: 'DstIP', decayBase: -Infinity },
    { name: 's11', type: 'superspread', key: 'SrcIP', element: 'DstIP', decayBase: 1e-7 },
    { name: 's12', type: 'superspread', key: 'SrcIP', element: 'DstIP', depth: 8, width: 2 ** 22, registers: 4096, registerBits: 8 },
    { name: 's13', type: 'superspread', key: 'SrcIP', element: 'DstIP', depth: 8, width: 2 ** 20, registers: 1024, registerBits: 8 },
  ];
  for (const t of bad) {
    const want = nativeError([t]);
    assert.notEqual(want, null, `native accepts ${t.name}`);
    assert.equal(jsError([t]), want, t.name);
  }
  // The first bad task is the one reported.
  const two = [bad[7], bad[0]];
  assert.equal(jsError(two), nativeError(two));
});

test('edge configurations the native side accepts are accepted', () => {
  const ok: TaskOptions[] = [
    { name: 'a', type: 'countmin', key: 'SrcIP', width: 1, depth: 16, heavyHitters: 100_000 },
    { name: 'b', type: 'superspread', key: 'SrcIP', element: 'DstIP', depth: 8, width: 1, registers: 8, registerBits: 3, decayBase: 2 },
    { name: 'c', type: 'superspread', key: 'SrcIP', element: 'DstIP', depth: 1, width: 2 ** 22, registers: 8, registerBits: 8 },
    { name: 'd', type: 'exact', key: 'Protocol', distinct: '', element: 'Nonsense' },
    { name: 'e', type: 'superspread', key: 'SrcIP', element: 'DstIP', distinct: 'Nonsense', threshold: -5 },
  ];
  for (const t of ok) {
    assert.equal(nativeError([t]), null, t.name);
    assert.equal(jsError([t]), null, t.name);
  }
});
