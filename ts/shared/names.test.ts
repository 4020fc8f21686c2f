// Names of protocol numbers and ICMP types, as reports and the console show them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { icmpTypeText } from './names.js';

test('ICMP and ICMPv6 types and codes are named; other protocols keep their port', () => {
  assert.equal(icmpTypeText(1, (3 << 8) | 3), '3/3 port-unreachable');
  assert.equal(icmpTypeText(1, 8 << 8), '8/0 echo-request');
  assert.equal(icmpTypeText(1, (11 << 8) | 1), '11/1 time-exceeded');
  assert.equal(icmpTypeText(1, (3 << 8) | 7), '3/7 unreachable', 'an unnamed code keeps its type\'s name');
  assert.equal(icmpTypeText(1, 200 << 8), '200/0', 'an unknown type stays numeric');
  assert.equal(icmpTypeText(58, 128 << 8), '128/0 echo-request');
  assert.equal(icmpTypeText(58, (1 << 8) | 4), '1/4 port-unreachable');
  assert.equal(icmpTypeText(58, 135 << 8), '135/0 neighbor-solicit');
  assert.equal(icmpTypeText(6, 771), null);
  assert.equal(icmpTypeText(17, 53), null);
});
