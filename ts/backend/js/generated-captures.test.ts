// The js backend against the native addon on generated inputs the shared captures lack: random
// structured frames (every link type and tunnel, extension headers, cut and bent headers) in
// random pcap and pcapng files, and real captures with random bytes changed. Any difference is
// a bug in the port; the failing seed reproduces it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadNative } from '../native.js';
import type { Backend } from '../types.js';
import { compareBackends } from '../../testing/backend-compare.js';
import { loadJs } from './index.js';
import { randomCapture, Rng } from '../../testing/test-captures.js';

const native: Backend = loadNative();
const js: Backend = loadJs();
const options = { windowSeconds: 1, keepWindows: true };

test('generated pcap and pcapng captures: identical outputs', () => {
  for (let seed = 1; seed <= 1500; seed++) {
    const rng = new Rng(seed * 2654435761);
    let data = randomCapture(rng);
    if (rng.chance(0.1)) data = data.subarray(0, rng.below(data.length + 1));
    const chunk = rng.pick([1, 3, 64, 1000, 65_537]);
    compareBackends(native, js, options, [{ name: `seed ${seed}`, data }], chunk, `generated capture, seed ${seed}, chunks of ${chunk}`);
  }
});

test('real captures with random bytes changed: identical outputs', () => {
  const dir = '/work/shared/pcaps';
  const small = readdirSync(dir)
    .filter((f) => !f.endsWith('.md'))
    .map((name) => ({ name, data: new Uint8Array(readFileSync(join(dir, name))) }))
    .filter((c) => c.data.length < 120_000);
  assert.ok(small.length > 10);
  for (let seed = 1; seed <= 600; seed++) {
    const rng = new Rng(seed * 40503);
    const c = rng.pick(small);
    const data = c.data.slice();
    for (let k = 1 + rng.below(40); k > 0; k--) {
      const at = rng.below(data.length);
      // Mostly past the file header, so the packets are what gets bent.
      if (at >= 24 || rng.chance(0.1)) data[at] = rng.below(256);
    }
    const input = rng.chance(0.25) ? data.subarray(0, rng.below(data.length + 1)) : data;
    const chunk = rng.pick([7, 4096, 65_537]);
    compareBackends(native, js, options, [{ name: c.name, data: input }], chunk, `${c.name} bent, seed ${seed}, chunks of ${chunk}`);
  }
});
