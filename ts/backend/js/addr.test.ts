// Address text as the core prints it: IPv4 as a dotted quad, IPv6 as Rust's Ipv6Addr does (first
// longest run of two or more zero groups as "::", only IPv4-mapped addresses in dotted form).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Addr, addrText, compareAddr } from './addr.js';

function v6(...groups: number[]): Uint8Array {
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    b[2 * i] = g >> 8;
    b[2 * i + 1] = g & 0xff;
  });
  return b;
}

test('IPv6 text follows Rust', () => {
  const cases: [number[], string][] = [
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[1, 0, 0, 0, 0, 0, 0, 0], '1::'],
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
    [[1, 0, 0, 1, 0, 0, 0, 1], '1:0:0:1::1'],
    [[1, 0, 0, 1, 0, 0, 1, 1], '1::1:0:0:1:1'],
    [[1, 0, 1, 1, 1, 1, 1, 1], '1:0:1:1:1:1:1:1'],
    [[0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001], '::ffff:10.0.0.1'],
    [[0, 0, 0, 0, 0, 0xffff, 0, 0], '::ffff:0.0.0.0'],
    [[0, 0, 0, 0, 0, 0, 0x0102, 0x0304], '::102:304'],
    [[0, 0, 0, 0, 0xffff, 0, 0x0a00, 1], '::ffff:0:a00:1'],
    [[0xfe80, 0, 0, 0, 1, 0, 0, 1], 'fe80::1:0:0:1'],
    [[0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff], 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    [[1, 0, 1, 0, 1, 0, 1, 0], '1:0:1:0:1:0:1:0'],
    [[0xfe80, 0, 0, 0, 0x1ff, 0xfe23, 0x4567, 0x890a], 'fe80::1ff:fe23:4567:890a'],
    [[0, 0, 0, 0, 0, 0, 0x0a00, 0x0001], '::a00:1'],
  ];
  for (const [groups, text] of cases) assert.equal(addrText(6, v6(...groups)), text);
});

test('address text reads the 16 bytes at an offset (as packed keys hold them)', () => {
  const key = new Uint8Array(1 + 17 + 17);
  key.set([6, ...v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)], 1);
  key.set([4, ...v6(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201)], 18);
  assert.equal(addrText(key[1], key, 2), '2001:db8::1');
  assert.equal(addrText(key[18], key, 19), '192.0.2.1');
  assert.equal(addrText(6, key, 19), '::ffff:192.0.2.1');
  assert.equal(addrText(5, key, 2), '-', 'an unknown family byte is no family');
});

test('IPv4 is stored mapped, prints dotted and never equals mapped IPv6', () => {
  const a = new Addr();
  a.setV4(Uint8Array.of(10, 0, 0, 1), 0);
  assert.equal(addrText(a.family, a.bytes), '10.0.0.1');
  const m = new Addr();
  m.setV6(a.bytes, 0);
  assert.equal(addrText(m.family, m.bytes), '::ffff:10.0.0.1');
  assert.equal(a.equals(m), false);
  assert.ok(compareAddr(a.family, a.bytes, m.family, m.bytes) < 0, 'IPv4 sorts before IPv6');
  assert.equal(addrText(0, new Uint8Array(16)), '-');
  // Reusing an address across families keeps no stale bytes.
  m.setV4(Uint8Array.of(1, 2, 3, 4), 0);
  assert.equal(addrText(m.family, m.bytes), '1.2.3.4');
  assert.deepEqual([...m.bytes.subarray(0, 12)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
});
