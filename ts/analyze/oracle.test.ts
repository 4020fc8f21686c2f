// Every shared capture against tshark's view of it (../shared/oracle, made by TShark 4.0.17).
// Our rules, and where they deliberately differ from tshark's:
// - Totals (packets, wire and captured bytes, first/last time) must be equal.
// - Conversations are counted per layer, as tshark does: a tunnelled frame counts in the IP
//   conversation of every IP header it carries, and in the TCP/UDP conversation of every
//   transport header (VXLAN/Geneve/GTP-U/Teredo carriers included). Must be equal.
// - TCP/UDP conversations are keyed by 5-tuple; tshark splits a reused 4-tuple into streams, so
//   its rows are summed per 5-tuple before comparing.
// - Fragments: we count every fragment on the wire in its IP conversation and, with the ports
//   learned from the first fragment, in its TCP/UDP conversation; tshark counts an IPv6 or a
//   transport datagram once, on the frame that completes reassembly. In captures with fragments
//   the per-conversation counts may therefore differ, by at most the number of fragments.
// - Packets whose transport header could not be read (cut, bogus, or a fragment whose first
//   fragment was not seen) are kept in a ports-0 conversation; tshark has no row for them.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBackend } from '../backend/index.js';
import { defaultConfig } from '../config/index.js';
import { analyzeFiles } from './analyze-files.js';
import { decodeConversations, type Conversation } from './conversations.js';

const shared = join(process.cwd(), '..', 'shared');
const pcaps = join(shared, 'pcaps');
const oracles = join(shared, 'oracle');

interface OracleRow {
  addrA: string;
  portA: number | null;
  addrB: string;
  portB: number | null;
  framesAtoB: number;
  bytesAtoB: number;
  framesBtoA: number;
  bytesBtoA: number;
}

interface Oracle {
  packets: number;
  bytes: number;
  captured_bytes: number;
  first_ts: string;
  last_ts: string;
  packets_without_timestamp: number;
  conv: Record<'ip' | 'ipv6' | 'tcp' | 'udp', OracleRow[]>;
  errors: Record<string, string>;
}

/** Per unordered endpoint pair: [packets, bytes] from the lower endpoint and from the higher. */
type Counts = Map<string, [number, number, number, number]>;

function endpointKey(addr: string, port: number | null): string {
  return `${addr}|${port ?? ''}`;
}

function add(map: Counts, proto: string, a: string, b: string, ab: [number, number], ba: [number, number]): void {
  const [lo, hi, fwd, rev] = a <= b ? [a, b, ab, ba] : [b, a, ba, ab];
  const key = `${proto} ${lo} ${hi}`;
  const v = map.get(key) ?? [0, 0, 0, 0];
  map.set(key, [v[0] + fwd[0], v[1] + fwd[1], v[2] + rev[0], v[3] + rev[1]]);
}

function oracleCounts(o: Oracle): Counts {
  const m: Counts = new Map();
  for (const [table, proto] of [['ip', 'ip'], ['ipv6', 'ip'], ['tcp', '6'], ['udp', '17']] as const) {
    for (const r of o.conv[table]) {
      const a = endpointKey(r.addrA, r.portA);
      const b = endpointKey(r.addrB, r.portB);
      // Same endpoint on both sides: tshark puts every frame in A->B.
      add(m, proto, a, b, [r.framesAtoB, r.bytesAtoB], [r.framesBtoA, r.bytesBtoA]);
    }
  }
  return m;
}

function ourCounts(ipPairs: Conversation[], conversations: Conversation[]): Counts {
  const m: Counts = new Map();
  const put = (proto: string, c: Conversation, withPorts: boolean) => {
    const a = endpointKey(c.a, withPorts ? c.portA : null);
    const b = endpointKey(c.b, withPorts ? c.portB : null);
    if (a === b) {
      add(m, proto, a, b, [c.packetsAtoB + c.packetsBtoA, c.bytesAtoB + c.bytesBtoA], [0, 0]);
    } else {
      add(m, proto, a, b, [c.packetsAtoB, c.bytesAtoB], [c.packetsBtoA, c.bytesBtoA]);
    }
  };
  for (const c of ipPairs) put('ip', c, false);
  for (const c of conversations) {
    if ((c.proto === 6 || c.proto === 17) && !(c.portA === 0 && c.portB === 0)) put(String(c.proto), c, true);
  }
  return m;
}

const captures = existsSync(pcaps) ? readdirSync(pcaps).filter((f) => existsSync(join(oracles, `${f}.json`))).sort() : [];

test('the shared captures and their oracles are present', () => {
  assert.ok(captures.length >= 39, `expected the 39 shared captures in ${pcaps}, found ${captures.length}`);
});

const backend = loadBackend();

for (const name of captures) {
  test(`${name} agrees with tshark`, async () => {
    const oracle = JSON.parse(readFileSync(join(oracles, `${name}.json`), 'utf8')) as Oracle;
    const { report, outcomes, analyzer } = await analyzeFiles([join(pcaps, name)], { backend, config: defaultConfig() });
    const t = report.totals;

    assert.equal(t.packets, oracle.packets, 'packets');
    assert.equal(t.bytes, oracle.bytes, 'bytes');
    assert.equal(t.capturedBytes, oracle.captured_bytes, 'captured bytes');
    assert.equal(t.firstTime, oracle.first_ts, 'first timestamp');
    assert.equal(t.lastTime, oracle.last_ts, 'last timestamp');
    assert.equal(t.packetsWithoutTimestamp, oracle.packets_without_timestamp, 'packets without timestamp');

    const damaged = Object.keys(oracle.errors).length > 0;
    assert.equal(outcomes[0].error !== undefined, damaged, `error reported: ${outcomes[0].error}`);
    if (damaged) {
      assert.match(outcomes[0].error!, /offset \d+/);
      assert.equal(outcomes[0].unreadable, false);
    }

    const expected = oracleCounts(oracle);
    const ours = ourCounts(decodeConversations(analyzer.exportConversations(true)), decodeConversations(analyzer.exportConversations(false)));
    if (t.fragments === 0) {
      const diff = [...new Set([...expected.keys(), ...ours.keys()])]
        .filter((k) => JSON.stringify(expected.get(k)) !== JSON.stringify(ours.get(k)))
        .map((k) => `${k}: tshark ${JSON.stringify(expected.get(k))} ours ${JSON.stringify(ours.get(k))}`);
      assert.deepEqual(diff, [], 'conversations differ');
    } else {
      // Fragments move counts between conversations; bound the difference by the fragments.
      let excess = 0;
      for (const layer of ['ip', '6', '17']) {
        let theirs = 0;
        let mine = 0;
        for (const [k, v] of expected) if (k.startsWith(`${layer} `)) theirs += v[0] + v[2];
        for (const [k, v] of ours) if (k.startsWith(`${layer} `)) mine += v[0] + v[2];
        excess = Math.max(excess, Math.abs(mine - theirs));
      }
      assert.ok(excess <= t.fragments, `conversation packets differ by ${excess}, more than the ${t.fragments} fragments`);
      for (const [k, v] of expected) {
        if (k.startsWith('ip ')) assert.ok(ours.has(k), `tshark's IP conversation ${k} is missing`);
        void v;
      }
    }
  });
}
