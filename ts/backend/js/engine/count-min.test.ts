// Count-Min against independent models: the counters of the module doc's update rules, and
// the candidate rule applied per packet (the core's own model test, countmin.rs).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CountMin } from './count-min.js';
import { derivedSeed, fmix32, murmur3 } from './hash.js';
import { compareBytes } from './packed-key.js';
import { TestRandom } from '../../../testing/test-captures.js';

function key(id: number): Uint8Array {
  const b = new Uint8Array(17);
  b[0] = 4;
  b[1] = id >>> 24;
  b[2] = (id >>> 16) & 0xff;
  b[3] = (id >>> 8) & 0xff;
  b[4] = id & 0xff;
  return b;
}

/** Zipf-like ids with sizes; every 7th packet has 0 bytes (the e > 0 rule). */
function stream(n: number, keys: number, seed: number): Array<[number, number]> {
  const rnd = new TestRandom(seed);
  return Array.from({ length: n }, (_, i) => [rnd.skewed(keys), i % 7 === 0 ? 0 : 40 + rnd.below(1500)]);
}

type Member = { key: Uint8Array; tracked: number };

function model(m: Member[], k: number, key: Uint8Array, e: number): void {
  const cmp = (a: Uint8Array, b: Uint8Array) => compareBytes(a, 0, a.length, b, 0, b.length);
  const held = m.find((x) => cmp(x.key, key) === 0);
  if (held) {
    held.tracked = e;
  } else if (m.length < k && e > 0) {
    m.push({ key, tracked: e });
  } else if (m.length > 0) {
    let w = 0;
    for (let i = 1; i < m.length; i++) {
      if (m[i].tracked < m[w].tracked || (m[i].tracked === m[w].tracked && cmp(m[i].key, m[w].key) > 0)) w = i;
    }
    if (e > m[w].tracked) m[w] = { key, tracked: e };
  }
}

function canon(m: Member[]): Array<[string, number]> {
  return [...m]
    .sort((a, b) => (a.tracked !== b.tracked ? b.tracked - a.tracked : compareBytes(a.key, 0, a.key.length, b.key, 0, b.key.length)))
    .map((x) => [Buffer.from(x.key).toString('hex'), x.tracked]);
}

test('counters follow the documented hashing and update rules', () => {
  const seed = 0x0123456789abcdefn;
  for (const conservative of [false, true]) {
    const depth = 3;
    const width = 50;
    const cm = new CountMin({ depth, width, conservative, heavyHitters: 0, seed });
    const packets = new Float64Array(depth * width);
    const bytes = new Float64Array(depth * width);
    for (const [id, b] of stream(5000, 300, 1)) {
      const h = murmur3(derivedSeed(seed, 0), key(id));
      const cells = [0, 1, 2].map((i) => i * width + (fmix32(h ^ derivedSeed(seed, i + 1)) % width));
      if (conservative) {
        const mp = Math.min(...cells.map((c) => packets[c]));
        const mb = Math.min(...cells.map((c) => bytes[c]));
        for (const c of cells) {
          packets[c] = Math.max(packets[c], mp + 1);
          bytes[c] = Math.max(bytes[c], mb + b);
        }
      } else {
        for (const c of cells) {
          packets[c] += 1;
          bytes[c] += b;
        }
      }
      cm.add(key(id), 0, 17, b);
    }
    assert.deepEqual([...cm.packets], [...packets]);
    assert.deepEqual([...cm.bytes], [...bytes]);
    assert.deepEqual([cm.totalPackets], [5000]);
  }
});

test('candidate sets follow the per-packet rule at every step', () => {
  for (const conservative of [false, true]) {
    for (const k of [1, 3, 8]) {
      const cm = new CountMin({ depth: 3, width: 64, conservative, heavyHitters: k, seed: 2n });
      const mp: Member[] = [];
      const mb: Member[] = [];
      stream(6000, 500, 8).forEach(([id, b], n) => {
        cm.add(key(id), 0, 17, b);
        const [ep, eb] = cm.estimate(key(id));
        model(mp, k, key(id), ep);
        model(mb, k, key(id), eb);
        assert.deepEqual(canon(cm.members(0)), canon(mp), `packets, step ${n}`);
        assert.deepEqual(canon(cm.members(1)), canon(mb), `bytes, step ${n}`);
      });
      // Reports re-estimate the members and rank them, ties by key.
      const hh = cm.heavyHittersByPackets();
      for (let i = 1; i < hh.length; i++) assert.ok(hh[i - 1].packets >= hh[i].packets);
    }
  }
});

test('ties rank by key and k = 0 keeps no candidates', () => {
  const cm = new CountMin({ depth: 4, width: 4096, conservative: false, heavyHitters: 10, seed: 1n });
  for (const id of [5, 3, 9, 1, 7]) for (let i = 0; i < 3; i++) cm.add(key(id), 0, 17, 100);
  const got = cm.heavyHittersByPackets().map((r) => [Buffer.from(r.keys.subarray(r.at, r.at + r.len)).toString('hex'), r.packets, r.bytes]);
  const want = [1, 3, 5, 7, 9].map((id) => [Buffer.from(key(id)).toString('hex'), 3, 300]);
  assert.deepEqual(got, want);
  const none = new CountMin({ depth: 4, width: 256, conservative: true, heavyHitters: 0, seed: 1n });
  for (const [id, b] of stream(2000, 100, 1)) none.add(key(id), 0, 17, b);
  assert.deepEqual(none.heavyHittersByPackets(), []);
  assert.deepEqual(none.members(1), []);
});
