// Key packing and printing, key field lists, and the small Rust-compatible helpers the engine
// needs (hashbrown capacities, the SuperSpread decay table and validation texts). Address text
// is tested in addr.test.ts, f64 Display in rust-text.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyRecord, type PacketRecord } from '../record.js';
import { bucketsToCapacity, capacityToBuckets, hashbrownCapacity } from './hashbrown.js';
import { DST_PORT, keyFieldsText, keyLength, parseKeyFields, PROTOCOL, SRC_IP } from './key-fields.js';
import { compareBytes, keyParts, keyText, packKey } from './packed-key.js';
import { decayTable, validateSuperSpread, type SuperSpreadConfig } from './super-spread.js';

function v4(r: PacketRecord, which: 'src' | 'dst', o: number[]): void {
  const b = r[which];
  b.fill(0);
  b[10] = 0xff;
  b[11] = 0xff;
  b.set(o, 12);
  if (which === 'src') r.srcFamily = 4;
  else r.dstFamily = 4;
}

test('keys pack the selected fields in order and print them', () => {
  const r = emptyRecord();
  v4(r, 'src', [10, 0, 0, 1]);
  v4(r, 'dst', [10, 0, 0, 2]);
  r.dstPort = 443;
  r.proto = 6;
  const f = SRC_IP | DST_PORT | PROTOCOL;
  const buf = new Uint8Array(39);
  const len = packKey(r, f, buf, 0);
  assert.equal(len, 17 + 2 + 1);
  assert.equal(len, keyLength(f));
  assert.deepEqual([...buf.subarray(0, len)], [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1, 1, 187, 6]);
  assert.equal(keyText(buf, 0, len, f), '10.0.0.1 443 TCP');
  assert.deepEqual(keyParts(buf, 0, len, f), { src: '10.0.0.1', dstPort: 443, proto: 6 });
  // The family is part of the key: the same 16 bytes as IPv6 are another key.
  r.srcFamily = 6;
  const other = new Uint8Array(39);
  packKey(r, f, other, 0);
  assert.notEqual(compareBytes(buf, 0, len, other, 0, len), 0);
  assert.equal(keyText(other, 0, len, f), '::ffff:10.0.0.1 443 TCP');
  // Unknown protocols print as numbers; a record without IP prints "-".
  const none = emptyRecord();
  none.proto = 200;
  const n = packKey(none, SRC_IP | PROTOCOL, buf, 0);
  assert.equal(keyText(buf, 0, n, SRC_IP | PROTOCOL), '- 200');
});

test('key field lists parse with the core messages and print in key order', () => {
  assert.equal(parseKeyFields('SrcIP, DstPort'), SRC_IP | DST_PORT);
  assert.equal(keyFieldsText(parseKeyFields('Protocol,SrcIP')), 'SrcIP,Protocol');
  assert.equal(keyFieldsText(parseKeyFields(' DstPort ,, Protocol,DstPort')), 'DstPort,Protocol');
  assert.throws(() => parseKeyFields('SrcIP,DestIP'), {
    message: 'unknown key field "DestIP": expected one of SrcIP, DstIP, SrcPrefix, DstPrefix, SrcAS, DstAS, SrcCountry, DstCountry, App, ServerName, SrcPort, DstPort, Protocol, ICMPType, ICMPCode, TCPFlags, DSCP, VLAN, Direction, Interface',
  });
  assert.throws(() => parseKeyFields('SrcIP,DSCP'), {
    message: 'key field "DSCP" is counted by the native and wasm backends; the TypeScript backend keys on SrcIP, DstIP, SrcPort, DstPort, Protocol',
  });
  assert.throws(() => parseKeyFields(''), { message: 'a key needs at least one field' });
  assert.throws(() => parseKeyFields(' , '), { message: 'a key needs at least one field' });
  assert.throws(() => parseKeyFields('srcip'), /unknown key field "srcip"/);
  // Rust's trim: U+0085 is white space, U+FEFF is not.
  assert.equal(parseKeyFields('\u0085SrcIP\u3000'), SRC_IP);
  assert.throws(() => parseKeyFields('\ufeffSrcIP'), /unknown key field "\ufeffSrcIP"/);
});

test('hashbrown capacities after n inserts', () => {
  assert.deepEqual([1, 3, 4, 7, 8, 14, 15, 28, 29, 56, 57].map(capacityToBuckets), [4, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128]);
  assert.deepEqual([4, 8, 16, 32, 1024].map(bucketsToCapacity), [3, 7, 14, 28, 896]);
  const want: Array<[number, number]> = [
    [0, 0],
    [1, 3],
    [3, 3],
    [4, 7],
    [7, 7],
    [8, 14],
    [14, 14],
    [15, 28],
    [29, 56],
    [57, 112],
    [113, 224],
    [897, 1792],
    [1_000_000, 1_835_008],
  ];
  for (const [n, cap] of want) assert.equal(hashbrownCapacity(n), cap, `${n} items`);
});

test('the SuperSpread decay table and configuration messages', () => {
  const t = decayTable(1.08);
  assert.equal(t[0], 2 ** 53);
  assert.equal(t.length, 478);
  assert.ok(t.every((v, i) => i === 0 || (v <= t[i - 1] && v > 0 && Number.isInteger(v))));
  assert.equal(decayTable(2.0).length, 54);
  assert.equal(decayTable(1.0000001).length, 65536);
  const good: SuperSpreadConfig = { depth: 2, width: 8192, registers: 128, registerBits: 5, decayBase: 1.08, threshold: 300n, seed: 0n };
  validateSuperSpread(good);
  const message = (c: Partial<SuperSpreadConfig>) => {
    try {
      validateSuperSpread({ ...good, ...c });
    } catch (e) {
      return (e as Error).message;
    }
    return 'valid';
  };
  assert.equal(message({ depth: 9 }), 'superspread: depth = 9 is out of range 1..=8');
  assert.equal(message({ width: 0 }), 'superspread: width = 0 is out of range 1..=4194304 (2^22)');
  assert.equal(message({ registers: 100 }), 'superspread: registers = 100 must be a power of two in 8..=4096');
  assert.equal(message({ registerBits: 2 }), 'superspread: register_bits = 2 is out of range 3..=8');
  assert.equal(message({ decayBase: 1 }), 'superspread: decay_base = 1 must be > 1.0 and <= 2.0');
  assert.equal(message({ decayBase: NaN }), 'superspread: decay_base = NaN must be > 1.0 and <= 2.0');
  assert.equal(message({ threshold: 0n }), 'superspread: threshold = 0 must be >= 1');
  assert.equal(
    message({ depth: 8, width: 1 << 22, registers: 4096, registerBits: 8 }),
    'superspread: depth 8 x width 4194304 buckets of 4096 registers x 8 bits need 139318005488 bytes, over the limit of 1073741824 bytes',
  );
  assert.equal(message({ depth: 8, width: 1, registers: 8, registerBits: 3, decayBase: 2.0 }), 'valid');
  assert.equal(message({ depth: 1, width: 1 << 22, registers: 8, registerBits: 8 }), 'valid');
});
