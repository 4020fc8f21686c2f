// The exact table: configured key fields, distinct counting, the total order of its top lists,
// and its own hash index against a Map through growth.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyRecord, type PacketRecord } from '../record.js';
import { ExactTable } from './exact-table.js';
import { DST_IP, DST_PORT, SRC_IP } from './key-fields.js';
import { keyText } from './packed-key.js';
import { TestRandom } from '../../../testing/test-captures.js';

function rec(src: number[], dst: number[], dport: number, len: number): PacketRecord {
  const r = emptyRecord();
  r.srcFamily = 4;
  r.dstFamily = 4;
  r.src.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...src]);
  r.dst.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...dst]);
  r.proto = 6;
  r.srcPort = 1234;
  r.dstPort = dport;
  r.wireLen = len;
  return r;
}

const text = (t: ExactTable, e: number) => keyText(t.keys, e * t.keyLen, t.keyLen, t.fields);

test('the key keeps only the configured fields', () => {
  const t = new ExactTable(SRC_IP | DST_PORT, 0, 1n);
  t.add(rec([10, 0, 0, 1], [10, 0, 0, 9], 80, 100));
  t.add(rec([10, 0, 0, 1], [10, 0, 0, 8], 80, 50));
  t.add(rec([10, 0, 0, 1], [10, 0, 0, 8], 443, 10));
  assert.equal(t.size, 2);
  const [e] = t.topBy(1, 'bytes');
  assert.deepEqual([t.packets[e], t.bytes[e], t.distinct[e]], [2, 150, 0]);
  assert.equal(text(t, e), '10.0.0.1 80');
});

test('distinct counts each element once per key', () => {
  const t = new ExactTable(SRC_IP, DST_IP, 1n);
  for (let d = 0; d < 50; d++) for (let i = 0; i < 3; i++) t.add(rec([10, 0, 0, 1], [192, 0, 2, d], 80, 60));
  t.add(rec([10, 0, 0, 2], [192, 0, 2, 1], 80, 60));
  const [a, b] = t.topBy(2, 'distinct');
  assert.deepEqual([t.distinct[a], t.packets[a], t.distinct[b]], [50, 150, 1]);
});

test('top lists are a total order: rank descending, then key bytes', () => {
  const t = new ExactTable(SRC_IP, 0, 3n);
  for (let i = 49; i >= 0; i--) t.add(rec([10, 0, 0, i], [1, 1, 1, 1], 80, 100));
  assert.deepEqual(t.topBy(5, 'bytes').map((e) => text(t, e)), ['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
  assert.deepEqual(t.topBy(0, 'bytes'), []);
  const all = t.topBy(1000, 'bytes');
  assert.equal(all.length, 50);
  t.add(rec([10, 0, 0, 30], [1, 1, 1, 1], 80, 1));
  assert.equal(text(t, t.topBy(1, 'bytes')[0]), '10.0.0.30');
});

test('the index agrees with a Map through many growths', () => {
  const t = new ExactTable(SRC_IP | DST_IP, DST_PORT, 99n);
  const want = new Map<string, { packets: number; bytes: number; ports: Set<number> }>();
  const rnd = new TestRandom(4);
  for (let i = 0; i < 60_000; i++) {
    const s = rnd.skewed(3000);
    const d = rnd.below(40);
    const port = rnd.below(20);
    const len = 60 + rnd.below(1400);
    t.add(rec([10, 1, s >> 8, s & 0xff], [192, 0, 2, d], port, len));
    const k = `10.1.${s >> 8}.${s & 0xff} 192.0.2.${d}`;
    const w = want.get(k) ?? { packets: 0, bytes: 0, ports: new Set<number>() };
    w.packets++;
    w.bytes += len;
    w.ports.add(port);
    want.set(k, w);
  }
  assert.equal(t.size, want.size);
  for (let e = 0; e < t.size; e++) {
    const w = want.get(text(t, e));
    assert.ok(w);
    assert.deepEqual([t.packets[e], t.bytes[e], t.distinct[e]], [w.packets, w.bytes, w.ports.size]);
    assert.equal(t.get(t.keys, e * t.keyLen, t.keyLen), e);
  }
  assert.equal(t.get(new Uint8Array(34), 0, 34), -1);
});
