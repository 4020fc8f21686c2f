import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closedWindowBuffer, CORE_TABLES, readClosedWindow, readRows, withMoreRows, withoutSnapshot } from './closed-window.js';

/** A rows buffer in the core's format: `rows` rows of `data` in the table named, nothing else. */
function rowsBuffer(table: string, rows: number, data: Buffer, quarantined = 0): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => Buffer.from(Uint32Array.of(n).buffer);
  for (const t of CORE_TABLES) parts.push(...(t === table ? [u32(rows), u32(data.length), data] : [u32(0), u32(0)]));
  parts.push(u32(quarantined));
  for (let i = 0; i < quarantined; i++) parts.push(Buffer.of(5), u32(3), Buffer.from('why'), u32(2), Buffer.from('{}'));
  return Buffer.concat(parts);
}

const window = closedWindowBuffer({
  startNs: 1_000_000_000n, endNs: 2_000_000_000n, packets: 3, bytes: 180, late: 0, syn: 1, timed: 3, firstNs: 1_100_000_000n, lastNs: 1_900_000_000n,
  json: '{"packets":3}', snapshot: Buffer.from('sketch state'),
});

test('a window without its snapshot keeps everything else', () => {
  const w = readClosedWindow(withoutSnapshot(window));
  assert.equal(w.snapshot.length, 0);
  assert.equal(w.json, '{"packets":3}');
  assert.equal(w.packets, 3);
  assert.equal(withoutSnapshot(withoutSnapshot(window)).byteLength, withoutSnapshot(window).byteLength);
});

test('rows added to a window: its own first, then the others, table by table, quarantines joined', () => {
  const flows = rowsBuffer('flows', 2, Buffer.from('ab'), 1);
  const once = readClosedWindow(withMoreRows(window, flows));
  assert.deepEqual(once.rows, readRows(flows));
  const twice = readClosedWindow(withMoreRows(withMoreRows(window, flows), rowsBuffer('flows', 1, Buffer.from('c'))));
  assert.deepEqual(twice.rows!.blocks, [{ table: 'flows', rows: 3, data: Buffer.from('abc') }]);
  assert.equal(twice.rows!.quarantined.length, 1);
  assert.equal(twice.snapshot.toString(), 'sketch state');
});

test('a damaged buffer is an error naming what ran out', () => {
  assert.throws(() => withoutSnapshot(window.subarray(0, 90)), /closed window: the buffer ends inside the (JSON|snapshot)/);
  assert.throws(() => withMoreRows(window, Buffer.alloc(10)), /storage rows: the buffer ends inside table/);
});
