// The engine's window rules and outputs, ported from the core's engine tests
// (crates/core/src/engine/mod.rs); byte equality with the core is engine-equivalence.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Json } from '../json.js';
import { emptyRecord, type PacketRecord } from '../record.js';
import { Engine } from './engine.js';
import { DST_IP, SRC_IP } from './key-fields.js';
import type { WindowSnapshot } from './snapshot.js';
import type { TaskSpec } from './task.js';

const SECOND = 1_000_000_000n;

function rec(tsNs: bigint, src: number, dst: number, len: number): PacketRecord {
  const r = emptyRecord();
  r.tsNs = tsNs;
  r.srcFamily = 4;
  r.dstFamily = 4;
  r.src.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, src]);
  r.dst.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, dst]);
  r.proto = 6;
  r.srcPort = 1000;
  r.dstPort = 80;
  r.wireLen = len;
  return r;
}

function tasks(): TaskSpec[] {
  return [
    { name: 'src', key: SRC_IP, kind: { type: 'exact', distinct: DST_IP } },
    { name: 'hh', key: SRC_IP, kind: { type: 'countmin', config: { depth: 3, width: 256, conservative: true, heavyHitters: 5, seed: 9n } } },
    {
      name: 'ss',
      key: SRC_IP,
      kind: {
        type: 'superspread',
        element: DST_IP,
        config: { depth: 2, width: 64, registers: 32, registerBits: 5, decayBase: 1.08, threshold: 5n, seed: 9n },
      },
    },
  ];
}

test('windows follow packet time and lose nothing at boundaries', () => {
  const e = new Engine({ windowNs: 10n * SECOND, tasks: tasks() }, 1n);
  const base = 1_000_000_000n * SECOND;
  const times = [base + 3n * SECOND, base + 10n * SECOND - 1n, base + 10n * SECOND, base + 19n * SECOND, base + 47n * SECOND];
  const closed: WindowSnapshot[] = [];
  times.forEach((t, i) => {
    const w = e.add(rec(t, 1, i, 100), true);
    if (w) closed.push(w);
  });
  const last = e.closeWindow();
  if (last) closed.push(last);
  assert.deepEqual(
    closed.map((w) => w.startNs / SECOND),
    [1_000_000_000n, 1_000_000_010n, 1_000_000_040n],
    'empty windows are skipped',
  );
  assert.deepEqual(
    closed.map((w) => w.counters.packets),
    [2, 2, 1],
    'the packet at exactly 10 s opens the second window',
  );
  for (const w of closed) assert.equal(w.endNs - w.startNs, 10n * SECOND);
});

test('late packets stay in the open window and are counted', () => {
  const e = new Engine({ windowNs: SECOND, tasks: tasks() }, 1n);
  assert.equal(e.add(rec(100_500_000_000n, 1, 1, 60), true), null);
  assert.notEqual(e.add(rec(101_200_000_000n, 1, 2, 60), true), null);
  assert.equal(e.add(rec(100_900_000_000n, 1, 3, 60), true), null);
  const w = e.closeWindow();
  assert.deepEqual([w?.counters.packets, w?.counters.late], [2, 1]);
});

test('window zero is the whole stream, untimed packets join the open window', () => {
  const e = new Engine({ windowNs: 0n, tasks: tasks() }, 1n);
  for (let i = 0; i < 100; i++) assert.equal(e.add(rec(BigInt(1000 + i * 60) * SECOND, 1, i % 50, 100), true), null);
  assert.equal(e.add(rec(0n, 1, 1, 100), false), null);
  const w = e.closeWindow();
  assert.equal(w?.counters.packets, 101);
  assert.deepEqual([w?.startNs, w?.endNs], [1000n * SECOND, (1000n + 99n * 60n) * SECOND]);
  assert.equal(e.closeWindow(), null, 'an empty window is not reported');
});

test('the snapshot buffer carries every task', () => {
  const e = new Engine({ windowNs: 0n, tasks: tasks() }, 1n);
  for (let d = 0; d < 40; d++) e.add(rec(5n * SECOND, 7, d, 100), true);
  e.add(rec(6n * SECOND, 8, 1, 1500), true);
  const buf = Buffer.from(e.closeWindow()!.encode());
  assert.equal(buf.subarray(0, 4).toString('latin1'), 'NSWS');
  assert.equal(buf.readUInt16LE(4), 3);
  assert.equal(buf.readBigUInt64LE(22), 41n, 'packets');
  // No server names (u32 count) nor origins (u16 count), then the tasks.
  let at = 6 + 8 * 8 + 4 + 2;
  assert.equal(buf.readUInt16LE(at), 3);
  at += 2;
  const kinds: number[] = [];
  for (let i = 0; i < 3; i++) {
    at += 1 + buf[at];
    const kind = buf[at];
    // The type, then key and second fields (u32 bits and four prefix lengths each).
    at += 1 + 2 * 8;
    const len = buf.readUInt32LE(at);
    at += 4;
    const payload = buf.subarray(at, at + len);
    if (kind === 1) assert.equal(payload.readUInt32LE(0), 2, 'two source keys');
    if (kind === 2) assert.equal(payload.subarray(0, 4).toString('latin1'), 'NSCM');
    if (kind === 3) assert.equal(payload.subarray(0, 4).toString('latin1'), 'NSSS');
    kinds.push(kind);
    at += len;
  }
  assert.deepEqual(kinds, [1, 2, 3]);
  assert.equal(at, buf.length);
});

test('the report puts exact values beside estimates', () => {
  const e = new Engine({ windowNs: 0n, tasks: tasks() }, 1n);
  for (let d = 0; d < 30; d++) e.add(rec(5n * SECOND, 7, d, 100), true);
  const j = new Json();
  e.closeWindow()!.writeJson(j, 5);
  const text = j.finish();
  assert.ok(text.includes('"exactTask":"src"'), text);
  assert.ok(text.includes('"key":"10.0.0.7","srcIp":"10.0.0.7","packets":30,"bytes":3000,"exactPackets":30,"exactBytes":3000'), text);
  assert.ok(text.includes('"exactSpread":30'), text);
});

test('an invalid task configuration names the task', () => {
  const bad = tasks();
  bad[1] = { name: 'hh', key: SRC_IP, kind: { type: 'countmin', config: { depth: 3, width: 0, conservative: true, heavyHitters: 5, seed: 9n } } };
  assert.throws(() => new Engine({ windowNs: 0n, tasks: bad }, 1n), { message: 'task "hh": width must be between 1 and 67108864, got 0' });
  assert.throws(() => new Engine({ windowNs: 0n, tasks: [{ name: 'k', key: 0, kind: { type: 'exact', distinct: 0 } }] }, 1n), {
    message: 'task "k": the key needs at least one field',
  });
});
