// Rotating pcap files: each closed file is whole and indexed; the oldest go with their indexes.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBackend } from '../backend/index.js';
import { extractPackets, indexFile } from '../extract/index.js';
import { PcapRotator } from './pcap-rotator.js';

/** `n` Ethernet/IPv4/UDP frames from 10.0.0.<i % 4> in the probe's framed form. */
function frames(n: number, startNs: bigint): Uint8Array {
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const frame = Buffer.alloc(14 + 20 + 8 + 150);
    frame.writeUInt16BE(0x0800, 12);
    frame.set([0x45, 0, 0, 178, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, i % 4, 192, 0, 2, 1], 14);
    frame.writeUInt16BE(40000 + (i % 4), 34);
    frame.writeUInt16BE(53, 36);
    frame.writeUInt16BE(158, 38);
    const head = Buffer.alloc(16);
    head.writeBigUInt64LE(startNs + BigInt(i) * 1000n, 0);
    head.writeUInt32LE(frame.length, 8);
    head.writeUInt32LE(frame.length, 12);
    parts.push(head, frame);
  }
  return Buffer.concat(parts);
}

test('closed files are indexed, the newest kept, and the oldest removed with their indexes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'netspectra-rotator-'));
  const backend = loadBackend('native');
  const closed: string[] = [];
  const rotator = new PcapRotator(dir, 'probe-t', 8192, 3, 1, 65535, undefined, async (file) => {
    await indexFile(backend, file);
    closed.push(file);
  });
  // Polls come apart in time (a file's stream opens before the next rotation looks).
  for (let i = 0; i < 20; i++) {
    rotator.write(frames(10, BigInt(i) * 1_000_000_000n));
    await new Promise((r) => setTimeout(r, 5));
  }
  await rotator.close();
  try {
    const pcaps = readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort();
    assert.equal(pcaps.length, 3);
    assert.ok(closed.length >= 6, `${closed.length} files closed`);
    // Every kept file has its index; none is left for a file that is gone.
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.nsidx')).sort(), pcaps.map((f) => `${f}.nsidx`));
    // Read through the indexes: one sender's packets of the kept files, and no other.
    const chunks: Uint8Array[] = [];
    const run = await extractPackets(backend, pcaps.map((f) => join(dir, f)), { networks: ['10.0.0.1'], format: 'pcap' }, (c) => void chunks.push(c));
    assert.equal(run.readByIndex, 3);
    assert.ok(run.stats.framesWritten > 0 && run.stats.framesWritten === run.stats.framesRead, JSON.stringify(run.stats));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
