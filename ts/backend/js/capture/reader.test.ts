// The capture reader: pcap in both byte orders and resolutions, pcapng sections, interfaces
// (if_tsresol, if_tsoffset), every packet block kind, skipped blocks, and every error with its
// offset, in any chunking. Fixtures and expectations follow crates/core/src/capture/reader.rs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { block, concat, epb, idb, obsoletePb, pcapHeader, pcapRecord, shb, spb, tsoffset, Bytes, Rng } from '../../../testing/test-captures.js';
import { CaptureError, type CaptureErrorInfo } from './capture-error.js';
import { CaptureReader } from './reader.js';

interface OwnedFrame {
  tsNs: bigint;
  hasTs: boolean;
  linkType: number;
  interface: number;
  wireLen: number;
  data: number[];
}

/** Feeds `input` in chunks of `chunk` bytes (0: all at once), stopping at the first error. */
function run(input: Uint8Array, chunk = 0) {
  const reader = new CaptureReader();
  const frames: OwnedFrame[] = [];
  const size = chunk === 0 ? Math.max(input.length, 1) : chunk;
  let error: CaptureError | null = null;
  for (let i = 0; i < input.length && !error; i += size) {
    error = reader.feed(input.subarray(i, i + size), (f) =>
      frames.push({ tsNs: f.tsNs, hasTs: f.hasTs, linkType: f.linkType, interface: f.interface, wireLen: f.wireLen, data: [...f.buf.subarray(f.start, f.end)] }),
    );
  }
  error ??= reader.finish();
  return { frames, error: error?.info ?? null, text: error?.message ?? null, stats: { ...reader.stats }, linkTypes: [...reader.linkTypes], format: reader.format() };
}

function assertChunkingInvariant(name: string, input: Uint8Array): void {
  const whole = run(input);
  for (const chunk of [1, 2, 3, 5, 7, 13, 64, 4096]) assert.deepEqual(run(input, chunk), whole, `${name}: chunks of ${chunk}`);
}

function errorOf(input: Uint8Array): CaptureErrorInfo {
  const whole = run(input);
  assert.deepEqual(run(input, 1), whole, '1-byte chunks disagree');
  assert.ok(whole.error, 'expected an error');
  return whole.error;
}

function pcapFixture(be: boolean, nanos: boolean): Uint8Array {
  return concat([
    pcapHeader(be, nanos, 1),
    pcapRecord(be, { sec: 1_600_000_000, frac: 123_456, data: new Array(60).fill(0xaa) }),
    pcapRecord(be, { sec: 1_600_000_001, frac: 999_999, data: new Array(14).fill(0xbb), origLen: 1514 }),
    pcapRecord(be, { sec: 1_600_000_002, frac: 0, data: [] }),
    pcapRecord(be, { sec: 1_600_000_003, frac: 1, data: [1, 2, 3, 4], origLen: 2 }),
  ]);
}

/**
 * Section 1 (LE): IDB0 Ethernet usec snaplen 96, IDB1 SLL nsec + tsoffset -100 s, IDB2 raw
 * 2^-10 s, packets on each, SPBs, skipped NRB/ISB/custom/DSB/unknown blocks, an obsolete PB.
 * Section 2 (BE): its own IDB0 (link 0) and an EPB on it.
 */
function pcapngFixture(): Uint8Array {
  const le = false;
  const be = true;
  return concat([
    shb(le),
    idb(le, 1, 96),
    idb(le, 113, 0, [
      [9, [9]],
      [14, tsoffset(le, -100n)],
    ]),
    idb(le, 101, 0, [
      [2, [...Buffer.from('eth9')]],
      [9, [0x80 | 10]],
    ]),
    block(le, 4, [0, 0, 0, 0]),
    epb(le, 0, 1_340_954_905_298_858n, new Array(42).fill(0x11), 342),
    epb(le, 1, 1_700_000_000_123_456_789n, new Array(20).fill(0x22)),
    spb(le, 300, new Array(96).fill(0x33)),
    spb(le, 10, new Array(12).fill(0x44)),
    epb(le, 2, 1536n, new Array(4).fill(0x55)),
    block(le, 5, new Array(16).fill(0)),
    block(le, 0x0bad, new Array(8).fill(0)),
    block(le, 0x0a, [0, 0, 0, 0]),
    block(le, 0x01234567, []),
    obsoletePb(le, 0, 2_000_000n, new Array(5).fill(0x66), 64),
    shb(be),
    idb(be, 0, 0),
    epb(be, 0, 3_000_000n, new Array(8).fill(0x77)),
  ]);
}

test('pcap in both byte orders, microseconds and nanoseconds', () => {
  for (const be of [false, true]) {
    for (const nanos of [false, true]) {
      const input = pcapFixture(be, nanos);
      const r = run(input);
      assert.equal(r.error, null);
      assert.deepEqual(r.format, { kind: 'pcap', bigEndian: be, nanos });
      assert.deepEqual(r.linkTypes, [1]);
      const scale = nanos ? 1n : 1000n;
      assert.deepEqual(
        r.frames.map((f) => f.tsNs),
        [1_600_000_000_000_000_000n + 123_456n * scale, 1_600_000_001_000_000_000n + 999_999n * scale, 1_600_000_002_000_000_000n, 1_600_000_003_000_000_000n + scale],
      );
      assert.deepEqual(
        r.frames.map((f) => f.wireLen),
        [60, 1514, 0, 4],
        'the wire length is never under the captured length',
      );
      assert.deepEqual(r.frames[1].data, new Array(14).fill(0xbb));
      assert.ok(r.frames.every((f) => f.hasTs && f.interface === 0 && f.linkType === 1));
      assert.deepEqual(r.stats, { packets: 4, bytesConsumed: 24 + 4 * 16 + 60 + 14 + 4, sections: 1, interfaces: 1, skippedBlocks: 0, packetsWithoutTimestamp: 0, timesOutOfRange: 0 });
      assertChunkingInvariant('pcap fixture', input);
    }
  }
});

test('the pcap link type drops the FCS bits', () => {
  const r = run(concat([pcapHeader(false, false, 0x4400_0000 | 105), pcapRecord(false, { sec: 1, frac: 0, data: [0, 0, 0, 0] })]));
  assert.deepEqual(r.linkTypes, [105]);
  assert.equal(r.frames[0].linkType, 105);
});

test('pcapng sections, interfaces, resolutions, offsets and skipped blocks', () => {
  const input = pcapngFixture();
  const r = run(input);
  assert.equal(r.error, null);
  assert.deepEqual(r.format, { kind: 'pcapng' });
  assert.deepEqual(r.linkTypes, [1, 113, 101, 0]);
  assert.deepEqual(
    r.frames.map((f) => [f.tsNs, f.hasTs, f.linkType, f.interface, f.wireLen, f.data.length]),
    [
      [1_340_954_905_298_858_000n, true, 1, 0, 342, 42],
      [1_700_000_000_123_456_789n - 100_000_000_000n, true, 113, 1, 20, 20],
      [0n, false, 1, 0, 300, 96],
      [0n, false, 1, 0, 10, 10],
      [1_500_000_000n, true, 101, 2, 4, 4],
      [2_000_000_000n, true, 1, 0, 64, 5],
      [3_000_000_000n, true, 0, 0, 8, 8],
    ],
  );
  assert.deepEqual(r.frames[3].data, new Array(10).fill(0x44), 'an SPB keeps at most its original length');
  assert.deepEqual(r.stats, { packets: 7, bytesConsumed: input.length, sections: 2, interfaces: 4, skippedBlocks: 5, packetsWithoutTimestamp: 2, timesOutOfRange: 0 });
  assertChunkingInvariant('pcapng fixture', input);
  const cut = input.subarray(0, input.length - 5);
  assertChunkingInvariant('cut pcapng fixture', cut);
});

test('if_tsresol and if_tsoffset edge cases', () => {
  const stamp = (options: [number, number[]][], units: bigint, be = false) => {
    const r = run(concat([shb(be), idb(be, 1, 0, options), epb(be, 0, units, [1])]));
    return r.frames[0].hasTs ? r.frames[0].tsNs : null;
  };
  assert.equal(stamp([], 1_500_000n), 1_500_000_000n, 'microseconds by default');
  assert.equal(stamp([[9, [0]]], 2n), 2_000_000_000n);
  assert.equal(stamp([[9, [12]]], 5_000n), 5n);
  assert.equal(stamp([[9, [127]]], 0xffff_ffff_ffff_ffffn), 0n, 'finer than 1e-38 s: every count is 0 ns');
  assert.equal(stamp([[9, [0x80 | 127]]], 0xffff_ffff_ffff_ffffn), 0n);
  assert.equal(stamp([[9, [0]]], 18_446_744_073n), 18_446_744_073_000_000_000n);
  assert.equal(stamp([[9, [0]]], 18_446_744_074n), null, 'past u64 nanoseconds (2554): no time');
  assert.equal(stamp([[14, tsoffset(true, -10n)]], 3n, true), null, 'before 1970: no time');
  assert.equal(stamp([[14, tsoffset(true, -10n)]], 10_000_000n, true), 0n);
  assert.equal(stamp([[14, tsoffset(true, 7n)]], 3n, true), 7_000_003_000n);
  assert.equal(stamp([[9, []]], 2n), 2_000n, 'an empty if_tsresol changes nothing');
  // A malformed option ends the list; the ones before it still apply.
  const bent = new Bytes(false).u16(1).u16(0).u32(0).u16(9).u16(1).u8(9, 0, 0, 0).u16(14).u16(200).u8(1, 2, 3, 4);
  const r = run(concat([shb(false), block(false, 1, bent.out), epb(false, 0, 7n, [1])]));
  assert.equal(r.frames[0].tsNs, 7n);
});

test('a big-endian section first', () => {
  const input = concat([shb(true), idb(true, 1, 0, [[9, [3]]]), epb(true, 0, 1234n, [1, 2, 3])]);
  const r = run(input);
  assert.equal(r.error, null);
  assert.equal(r.frames[0].tsNs, 1_234_000_000n);
  assert.deepEqual(r.frames[0].data, [1, 2, 3]);
  assertChunkingInvariant('pcapng BE', input);
});

test('a new section starts a new interface list', () => {
  const head = concat([shb(false), idb(false, 1, 0), idb(false, 1, 0), shb(false), idb(false, 1, 0)]);
  const e = errorOf(concat([head, epb(false, 1, 0n, [])]));
  assert.deepEqual(e, { kind: 'UnknownInterface', offset: head.length, interface: 1, known: 1 });
  assert.equal(new CaptureError(e).message, `packet block at offset ${head.length} names interface 1, but only 1 interface(s) are described`);
});

test('empty, tiny and foreign inputs', () => {
  assert.equal(run(new Uint8Array(0)).text, 'file cut short at offset 0: file header needs 4 bytes, only 0 remain');
  assert.deepEqual(errorOf(Uint8Array.of(0xd4, 0xc3, 0xb2)), { kind: 'Truncated', offset: 0, what: 'file header', needed: 4, available: 3 });
  const r = run(new Uint8Array(Buffer.from('GET / HTTP/1.1\r\n')));
  assert.equal(r.text, 'not a pcap or pcapng file: magic number 47455420 at offset 0');
});

test('truncated headers, records and blocks', () => {
  const v = pcapFixture(false, false);
  assert.deepEqual(errorOf(v.subarray(0, 10)), { kind: 'Truncated', offset: 0, what: 'pcap file header', needed: 24, available: 10 });
  const cut = run(v.subarray(0, 24 + 16 + 59));
  assert.equal(cut.text, 'file cut short at offset 24: pcap record needs 76 bytes, only 75 remain');
  assert.deepEqual(errorOf(v.subarray(0, 24 + 16 + 60 + 5)), { kind: 'Truncated', offset: 100, what: 'pcap record header', needed: 16, available: 5 });
  const ng = pcapngFixture();
  assert.deepEqual(errorOf(ng.subarray(0, 6)), { kind: 'Truncated', offset: 0, what: 'pcapng section header', needed: 12, available: 6 });
  assert.deepEqual(errorOf(ng.subarray(0, 20)), { kind: 'Truncated', offset: 0, what: 'pcapng section header', needed: 28, available: 20 });
  assert.deepEqual(errorOf(ng.subarray(0, 28 + 5)), { kind: 'Truncated', offset: 28, what: 'pcapng block header', needed: 8, available: 5 });
  assert.deepEqual(errorOf(ng.subarray(0, 28 + 19)), { kind: 'Truncated', offset: 28, what: 'pcapng block', needed: 20, available: 19 });
});

test('a record over 16 MiB is refused before it is buffered', () => {
  const head = concat([pcapHeader(false, false, 1), pcapRecord(false, { sec: 1, frac: 1, data: [7, 7, 7, 7] })]);
  const huge = new Bytes(false).u32(1).u32(1).u32(0xffff_fff0).u32(0xffff_fff0).raw(new Array(100).fill(0));
  const v = concat([head, huge.out]);
  for (const chunk of [0, 1, 7]) {
    const r = run(v, chunk);
    assert.equal(r.frames.length, 1);
    assert.deepEqual(r.error, { kind: 'RecordTooLarge', offset: head.length, what: 'pcap record', len: 0xffff_fff0 });
  }
  assert.equal(run(v).text, `pcap record at offset ${head.length} claims 4294967280 bytes, over the 16777216-byte limit`);
  // Exactly 16 MiB is allowed (and straddles many chunks).
  const max = 16 * 1024 * 1024;
  const big = concat([pcapHeader(true, true, 1), new Bytes(true).u32(5).u32(6).u32(max).u32(max).out, new Uint8Array(max)]);
  const reader = new CaptureReader();
  const seen: [bigint, number][] = [];
  for (let i = 0; i < big.length; i += 1 << 20) {
    assert.equal(
      reader.feed(big.subarray(i, i + (1 << 20)), (f) => seen.push([f.tsNs, f.end - f.start])),
      null,
    );
  }
  assert.equal(reader.finish(), null);
  assert.deepEqual(seen, [[5_000_000_006n, 16 * 1024 * 1024]]);
});

test('bad pcapng block lengths', () => {
  const head = concat([shb(false), idb(false, 1, 0)]);
  const at = head.length;
  const withLen = (len: number) => concat([head, new Bytes(false).u32(6).u32(len).raw(new Array(64).fill(0)).out]);
  const e = run(withLen(13));
  assert.deepEqual(e.error, { kind: 'BadBlockLength', offset: at, blockType: 6, len: 13, reason: 'not a multiple of 4' });
  assert.equal(e.text, `pcapng block 0x00000006 at offset ${at} has length 13: not a multiple of 4`);
  assert.deepEqual(errorOf(withLen(8)), { kind: 'BadBlockLength', offset: at, blockType: 6, len: 8, reason: 'shorter than the 12-byte minimum' });
  assert.deepEqual(errorOf(withLen(0xffff_fff0)), { kind: 'RecordTooLarge', offset: at, what: 'pcapng block', len: 0xffff_fff0 });
  const mismatch = concat([head, epb(false, 0, 1n, new Array(8).fill(1))]);
  mismatch[mismatch.length - 4] = 0x99;
  assert.deepEqual(errorOf(mismatch), { kind: 'BadBlockLength', offset: at, blockType: 6, len: 40, reason: 'trailing length differs from the leading length' });
  const longCaplen = concat([head, epb(false, 0, 1n, new Array(8).fill(1))]);
  longCaplen[at + 20] = 9;
  const lc = run(longCaplen);
  assert.deepEqual(lc.error, { kind: 'BadField', offset: at, field: 'captured length', value: 9, reason: 'longer than the block body' });
  assert.equal(lc.text, `record at offset ${at}: captured length = 9: longer than the block body`);
  const shortEpb = concat([head, block(false, 6, new Array(12).fill(0))]);
  assert.deepEqual(errorOf(shortEpb), { kind: 'BadBlockLength', offset: at, blockType: 6, len: 24, reason: 'too short for a packet block' });
  const shortIdb = concat([shb(false), block(false, 1, [1, 0, 0, 0])]);
  assert.deepEqual(errorOf(shortIdb), { kind: 'BadBlockLength', offset: 28, blockType: 1, len: 16, reason: 'too short for an interface description block' });
  const shortSpb = concat([head, block(false, 3, [])]);
  assert.deepEqual(errorOf(shortSpb), { kind: 'BadBlockLength', offset: at, blockType: 3, len: 12, reason: 'too short for a simple packet block' });
});

test('bad section headers', () => {
  const magic = shb(false);
  magic.set([1, 2, 3, 4], 8);
  const m = run(magic);
  assert.deepEqual(m.error, { kind: 'BadByteOrderMagic', offset: 0, magic: 0x01020304 });
  assert.equal(m.text, 'pcapng section header at offset 0 has byte-order magic 0x01020304, expected 0x1a2b3c4d');
  const version = shb(true, 2);
  assert.deepEqual(errorOf(version), { kind: 'UnsupportedVersion', offset: 0, major: 2, minor: 0 });
  const tiny = block(false, 0x0a0d0d0a, new Bytes(false).u32(0x1a2b3c4d).out);
  assert.deepEqual(errorOf(tiny), { kind: 'BadBlockLength', offset: 0, blockType: 0x0a0d0d0a, len: 16, reason: 'too short for a section header block' });
  const pcap1 = pcapHeader(false, false, 1, 1, 4);
  assert.equal(run(pcap1).text, 'unsupported format version 1.4 at offset 0');
});

test('a packet before any interface', () => {
  assert.deepEqual(errorOf(concat([shb(false), epb(false, 0, 1n, [1])])), { kind: 'UnknownInterface', offset: 28, interface: 0, known: 0 });
  assert.deepEqual(errorOf(concat([shb(false), spb(false, 1, [1])])), { kind: 'UnknownInterface', offset: 28, interface: 0, known: 0 });
});

test('after an error the reader stays failed with that error', () => {
  const v = pcapFixture(false, false).slice(0, 24 + 16 + 60 + 16 + 3);
  new DataView(v.buffer).setUint32(24 + 16 + 60 + 8, 0x0100_0001, true);
  const reader = new CaptureReader();
  let n = 0;
  const e = reader.feed(v, () => n++);
  assert.equal(n, 1);
  assert.deepEqual(e?.info, { kind: 'RecordTooLarge', offset: 100, what: 'pcap record', len: 0x0100_0001 });
  assert.equal(reader.feed(pcapFixture(false, false), () => n++), e);
  assert.equal(reader.finish(), e);
  assert.equal(n, 1);
  const cut = new CaptureReader();
  assert.equal(cut.feed(Uint8Array.of(0xd4), () => n++), null);
  const t = cut.finish();
  assert.ok(t);
  assert.equal(cut.feed(pcapFixture(false, false), () => n++), t);
  assert.equal(n, 1);
});

test('random input gives the same result in any chunking', () => {
  const rng = new Rng(0x2545f491);
  const prefixes = [new Uint8Array(0), pcapHeader(false, false, 1), pcapHeader(true, true, 1), concat([shb(false), idb(false, 1, 64, [[9, [9]]])]), concat([shb(true), idb(true, 1, 0, [[9, [0x85]]])])];
  const seeds = [pcapFixture(false, true), pcapngFixture()];
  for (let i = 0; i < 1500; i++) {
    let input: Uint8Array;
    if (i % 3 === 0) input = concat([rng.pick(prefixes), rng.bytes(rng.below(600))]);
    else if (i % 3 === 1) {
      input = rng.pick(seeds).slice();
      for (let k = 0; k < 1 + rng.below(4); k++) input[rng.below(input.length)] = rng.below(256);
    } else input = Uint8Array.from(rng.bytes(rng.below(300)));
    if (rng.below(4) === 0) input = input.subarray(0, rng.below(input.length + 1));
    const whole = run(input);
    const chunk = 1 + rng.below(40);
    assert.deepEqual(run(input, chunk), whole, `iteration ${i}: chunks of ${chunk} disagree`);
    assert.ok(whole.stats.bytesConsumed <= input.length);
  }
});
