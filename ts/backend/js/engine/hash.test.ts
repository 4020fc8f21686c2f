// The portable sketch hash against the core's test vectors (crates/core/src/hash.rs and the
// golden values of sketch/countmin.rs), and the generator against a bigint splitmix64.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CounterRng } from './counter-rng.js';
import { derivedSeed, fmix32, murmur3, murmur3x2 } from './hash.js';
import { TestRandom } from '../../../testing/test-captures.js';

const bytes = (...b: number[]) => new Uint8Array(b);

test('murmur3 matches the published MurmurHash3_x86_32 vectors', () => {
  assert.equal(murmur3(0, bytes()), 0);
  assert.equal(murmur3(1, bytes()), 0x514e28b7);
  assert.equal(murmur3(0xffffffff, bytes()), 0x81f16f39);
  assert.equal(murmur3(0, bytes(0xff, 0xff, 0xff, 0xff)), 0x76293b50);
  assert.equal(murmur3(0, bytes(0x21, 0x43, 0x65, 0x87)), 0xf55b516b);
  assert.equal(murmur3(0x5082edee, bytes(0x21, 0x43, 0x65, 0x87)), 0x2362f9de);
  assert.equal(murmur3(0, bytes(0x21, 0x43, 0x65)), 0x7e4a8634);
  assert.equal(murmur3(0, bytes(0x21, 0x43)), 0xa0f7b07a);
  assert.equal(murmur3(0, bytes(0x21)), 0x72661cf4);
  assert.equal(murmur3(0x9747b28c, new TextEncoder().encode('Hello, world!')), 0x24884cba);
});

test('murmur3 of a sub-range and the two-seed pass agree with the plain hash', () => {
  const data = Uint8Array.from({ length: 64 }, (_, i) => (i * 13 + 1) & 0xff);
  const out = new Uint32Array(2);
  for (let len = 0; len < data.length; len++) {
    murmur3x2(3, 0xdeadbeef, data, len, out);
    assert.deepEqual([out[0], out[1]], [murmur3(3, data.subarray(0, len)), murmur3(0xdeadbeef, data.subarray(0, len))]);
    if (len >= 5) assert.equal(murmur3(7, data, 5, len - 5), murmur3(7, data.slice(5, len)));
  }
});

test('derived seeds and Count-Min columns match the core golden values', () => {
  const seed = 0x0123456789abcdefn;
  const h = murmur3(derivedSeed(seed, 0), bytes(4, 10, 0, 0, 1));
  assert.equal(h, 1_487_267_804);
  const cols = [0, 1, 2, 3].map((i) => fmix32(h ^ derivedSeed(seed, i + 1)) % 1000);
  assert.deepEqual(cols, [891, 724, 639, 218]);
  const rows = new Set(Array.from({ length: 64 }, (_, r) => derivedSeed(42n, r)));
  assert.equal(rows.size, 64);
  assert.notEqual(derivedSeed(1n, 0), derivedSeed(2n, 0));
});

// An independent bigint splitmix64: draw n = splitmix64(seed + n * golden).
const M64 = (1n << 64n) - 1n;
function reference(seed: bigint, n: bigint): bigint {
  let z = (seed + n * 0x9e3779b97f4a7c15n) & M64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}

test('CounterRng is splitmix64 over a counter', () => {
  // Seed 0 is the classic splitmix64 sequence.
  const zero = new CounterRng(0n);
  assert.equal(zero.nextU64(), 0xe220a8397b1dcdafn);
  assert.equal(zero.nextU64(), 0x6e789e6aa1b965f4n);
  assert.equal(zero.nextU64(), 0x06c45d188009454fn);
  for (const seed of [7n, 0xffffffffffffffffn, 0x0123456789abcdefn, 0xfffffffffffffff0n]) {
    const rng = new CounterRng(seed);
    for (let n = 1n; n <= 2000n; n++) assert.equal(rng.nextU64(), reference(seed, n), `seed ${seed} draw ${n}`);
    assert.equal(rng.draws(), 2000n);
    rng.reset();
    assert.equal(rng.nextU64(), reference(seed, 1n), 'reset restarts at draw 1');
  }
});

test('CounterRng below and next53 are exact multiply-shift and shift of the draw', () => {
  const bounds = [1, 2, 3, 10, 1000, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 45, 2 ** 46 - 3, 2 ** 53 - 1, 123456789012345];
  const rng = new CounterRng(12n);
  const ref = new CounterRng(12n);
  const pick = new TestRandom(5);
  for (let i = 0; i < 20_000; i++) {
    const n = i < bounds.length ? bounds[i] : 1 + Math.floor((pick.u32() / 2 ** 32) * 2 ** (1 + (i % 52)));
    const got = rng.below(n);
    const z = ref.nextU64();
    assert.equal(BigInt(got), (z * BigInt(n)) >> 64n, `below(${n})`);
    assert.equal(BigInt(rng.next53()), ref.nextU64() >> 11n);
  }
  // Uniform enough: the core's own check.
  const c = new CounterRng(7n);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 10_000; i++) counts[c.below(10)]++;
  for (const n of counts) assert.ok(n >= 800 && n < 1200, String(counts));
});

test('a generator seeded n draws ahead continues the sequence (how decode restores it)', () => {
  const a = new CounterRng(123n);
  for (let i = 0; i < 1000; i++) a.next();
  const b = new CounterRng((123n + 1000n * 0x9e3779b97f4a7c15n) & M64);
  for (let i = 0; i < 100; i++) assert.equal(a.nextU64(), b.nextU64());
});
