// Names of protocol numbers, ports and ICMP types, as reports and the console show them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { icmpTypeText, portText, serviceName, serviceTables } from './names.js';

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

test('ports are named as the core names them, from the same table', () => {
  // The core's table is the one kept: its entries, read from its source, equal this mirror's.
  const rust = readFileSync(join(process.cwd(), 'crates', 'core', 'src', 'names.rs'), 'utf8');
  for (const [name, mirror] of Object.entries(serviceTables)) {
    const body = new RegExp(`pub const ${name}: &\\[\\(u16, &str\\)\\] = &\\[([\\s\\S]*?)\\];`).exec(rust);
    assert.ok(body, `${name} in names.rs`);
    const entries = Object.fromEntries([...body[1].matchAll(/\((\d+), "([^"]+)"\)/g)].map((m) => [m[1], m[2]]));
    assert.ok(Object.keys(entries).length > 0);
    assert.deepEqual(Object.fromEntries(Object.entries(mirror)), entries, name);
  }
  assert.equal(serviceName(6, 443), 'https');
  assert.equal(serviceName(17, 514), 'syslog');
  assert.equal(serviceName(6, 514), 'shell');
  assert.equal(serviceName(undefined, 514), undefined, 'ambiguous without the protocol');
  assert.equal(serviceName(1, 80), undefined);
  assert.equal(portText(6, 443), '443 https');
  assert.equal(portText(17, 51234), '51234');
  assert.equal(portText(1, 771), '3/3 port-unreachable');
  assert.equal(portText(undefined, 53), '53 domain');
});
