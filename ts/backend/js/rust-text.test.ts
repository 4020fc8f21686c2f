// Rust's f64 Display, as quoted by the window and SuperSpread decay_base errors (compared with the
// napi addon in js-backend.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rustF64Text } from './rust-text.js';

test('f64 text without exponent, shortest digits', () => {
  const cases: [number, string][] = [
    [-1, '-1'],
    [1.5, '1.5'],
    [100000, '100000'],
    [1e21, '1000000000000000000000'],
    [-1e-7, '-0.0000001'],
    [86400.0000001, '86400.0000001'],
    [0.1 + 0.2, '0.30000000000000004'],
    [-0, '-0'],
    [0, '0'],
    [NaN, 'NaN'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [5e-324, '0.' + '0'.repeat(323) + '5'],
    [1.08, '1.08'],
    [1, '1'],
    [2.5, '2.5'],
    [1.5e-7, '0.00000015'],
    [123456.789, '123456.789'],
    [-2.25e-3, '-0.00225'],
  ];
  for (const [v, text] of cases) assert.equal(rustF64Text(v), text, String(v));
});
