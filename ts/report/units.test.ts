// Readable numbers as the report and the logs print them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytes, grouped, percent, si } from './units.js';

test('grouped writes numbers as en-US does, without its locale data', () => {
  for (const n of [0, 7, 999, 1000, 62_781, 1_234_567, -1_234_567.8915, 12.5, 0.125, 1e15, 2 ** 53]) {
    assert.equal(grouped(n), n.toLocaleString('en-US'), String(n));
  }
  assert.equal(grouped(-0.0001), '0', 'no minus sign on a number that rounds to zero');
  assert.equal(grouped(NaN), 'NaN');
});

test('sizes, rates and shares', () => {
  assert.deepEqual([bytes(512), bytes(1536), bytes(5 * 2 ** 30)], ['512 B', '1.50 KiB', '5.00 GiB']);
  assert.deepEqual([si(999), si(1500, 'pps'), si(2.5e9, 'bit/s')], ['999', '1.50 kpps', '2.50 Gbit/s']);
  assert.deepEqual([percent(1, 3), percent(1, 0)], ['33.3%', '-']);
});
