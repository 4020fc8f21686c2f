// The decoder with hand-built frames: every link type, VLAN/MPLS/PPPoE, fragments, IPv6
// extension headers and routing headers, every tunnel, cut and malformed headers. The cases
// follow crates/core/src/decode/tests.rs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addrText } from '../addr.js';
import { emptyRecord, RecordFlag } from '../record.js';
import { Rng } from '../../../testing/test-captures.js';
import { decode, Decoded, problemText, TunnelKind } from './index.js';

const A = [192, 0, 2, 1];
const B = [198, 51, 100, 2];

function ipv4Header(proto: number, src: number[], dst: number[], payloadLen: number): number[] {
  const total = 20 + payloadLen;
  return [0x45, 0, total >> 8, total & 0xff, 0, 1, 0, 0, 64, proto, 0, 0, ...src, ...dst];
}

function ipv6Header(next: number, srcLast: number, dstLast: number, payloadLen: number): number[] {
  const a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  return [0x60, 0, 0, 0, payloadLen >> 8, payloadLen & 0xff, next, 64, ...a.slice(0, 15), srcLast, ...a.slice(0, 15), dstLast];
}

function tcp(sport: number, dport: number, flags: number): number[] {
  return [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 5 << 4, flags, 0, 0, 0, 0, 0, 0];
}

function udp(sport: number, dport: number, payload: number[]): number[] {
  const len = 8 + payload.length;
  return [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, len >> 8, len & 0xff, 0, 0, ...payload];
}

const ipv4Tcp = (src: number[], dst: number[], sport: number, dport: number, flags: number) => [...ipv4Header(6, src, dst, 20), ...tcp(sport, dport, flags)];

function ipv4Udp(src: number[], dst: number[], sport: number, dport: number, payload: number[]): number[] {
  const u = udp(sport, dport, payload);
  return [...ipv4Header(17, src, dst, u.length), ...u];
}

const ether = (et: number, payload: number[]) => [...new Array(6).fill(0xaa), ...new Array(6).fill(0xbb), et >> 8, et & 0xff, ...payload];

function run(frame: number[], linkType: number): Decoded {
  const d = new Decoded();
  decode(Uint8Array.from(frame), 0, frame.length, linkType, d);
  return d;
}

const inner = (d: Decoded) => d.layers[d.len - 1];

function record(d: Decoded) {
  const r = emptyRecord();
  d.fillRecord(r, 0n, 0, 0, 0);
  return r;
}

test('Ethernet, IPv4, TCP', () => {
  const d = run(ether(0x0800, ipv4Tcp(A, B, 40000, 443, 0x12)), 1);
  assert.equal(d.problem, null);
  const r = record(d);
  assert.equal(addrText(r.srcFamily, r.src), '192.0.2.1');
  assert.equal(addrText(r.dstFamily, r.dst), '198.51.100.2');
  assert.deepEqual([r.proto, r.srcPort, r.dstPort, r.tcpFlags], [6, 40000, 443, 0x12]);
  assert.ok(r.flags & RecordFlag.HasPorts);
});

test('VLAN tags of any depth keep the outermost id', () => {
  const ip = ipv4Tcp(A, B, 1, 2, 0x02);
  const mid = [0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00, ...ip];
  const d = run(ether(0x88a8, mid), 1);
  assert.equal(d.vlan, 10);
  assert.equal(inner(d).dstPort, 2);
});

test('an MPLS stack, then IPv4 or an Ethernet pseudowire', () => {
  const ip = ipv4Udp(A, B, 5, 53, [0x71]);
  assert.equal(inner(run(ether(0x8847, [0, 0x10, 0x00, 64, 0, 0x20, 0x01, 64, ...ip]), 1)).dstPort, 53);
  const pw = [0, 0x10, 0x01, 64, 0, 0, 0, 0, ...ether(0x0800, ip)];
  assert.equal(addrText(4, inner(run(ether(0x8847, pw), 1)).src.bytes), '192.0.2.1');
  assert.equal(problemText(run(ether(0x8847, [0, 0x10, 0x01, 64, 0x20]), 1).problem!), 'unsupported MPLS: payload is not IP or an Ethernet pseudowire (2)');
  assert.equal(problemText(run(ether(0x8847, [0, 0x10, 0x01, 64]), 1).problem!), 'truncated MPLS: header cut short');
});

test('PPPoE session, Linux cooked v1 and v2, BSD loopback, PPP', () => {
  const ip = ipv4Udp(A, B, 5, 53, [0x71]);
  assert.equal(inner(run(ether(0x8864, [0x11, 0x00, 0x12, 0x34, 0, ip.length + 2, 0x00, 0x21, ...ip]), 1)).proto, 17);
  assert.equal(inner(run([...new Array(14).fill(0), 0x08, 0x00, ...ip], 113)).dstPort, 53);
  assert.equal(inner(run([0x08, 0x00, ...new Array(18).fill(0), ...ip], 276)).dstPort, 53);
  const v6 = [...ipv6Header(17, 1, 2, 9), ...udp(9, 10, [0x78])];
  for (const af of [[30, 0, 0, 0], [0, 0, 0, 30], [24, 0, 0, 0]]) assert.equal(inner(run([...af, ...v6], 0)).dstPort, 10, `AF bytes ${af}`);
  assert.equal(inner(run([0, 0, 0, 2, ...ipv4Tcp(A, B, 1, 2, 0)], 108)).proto, 6);
  assert.equal(inner(run(v6, 101)).src.family, 6);
  assert.equal(inner(run(v6, 229)).dstPort, 10);
  assert.equal(inner(run(ipv4Tcp(A, B, 1, 2, 0), 228)).dstPort, 2);
  assert.equal(inner(run([0xff, 0x03, 0x00, 0x21, ...ipv4Tcp(A, B, 1, 2, 0)], 9)).dstPort, 2);
  assert.equal(inner(run([0x21, ...ipv4Tcp(A, B, 1, 2, 0)], 9)).dstPort, 2);
  assert.equal(problemText(run([5, 0, 0, 0], 0).problem!), 'unsupported BSD loopback: address family not IP (5)');
});

test('IPv4 fragments: the first has ports, later ones none', () => {
  const first = ipv4Udp(A, B, 5, 53, new Array(40).fill(0));
  first[6] = 0x20;
  const l = inner(run(first, 101));
  assert.equal(l.flags & (RecordFlag.Fragment | RecordFlag.FirstFragment), RecordFlag.Fragment | RecordFlag.FirstFragment);
  assert.equal(l.dstPort, 53);
  const later = [...ipv4Header(17, A, B, 16), ...new Array(16).fill(0xee)];
  later[7] = 6;
  const d = run(later, 101);
  assert.equal(inner(d).flags & RecordFlag.Fragment, RecordFlag.Fragment);
  assert.equal(inner(d).flags & RecordFlag.HasPorts, 0);
  assert.equal(d.problem, null);
});

test('an IPv6 extension chain with a routing header and a first fragment', () => {
  const finalDst = [0x20, 0x01, ...new Array(13).fill(0), 0x99];
  const ext = [43, 0, 1, 4, 0, 0, 0, 0, 44, 2, 0, 1, 0, 0, 0, 0, ...finalDst, 17, 0, 0x00, 0x01, 0, 0, 0, 9, ...udp(7, 8, [0x61, 0x62, 0x63])];
  const d = run([...ipv6Header(0, 1, 2, ext.length), ...ext], 101);
  assert.equal(d.problem, null);
  const l = inner(d);
  assert.deepEqual([l.proto, l.srcPort, l.dstPort], [17, 7, 8]);
  assert.equal(l.dst.bytes[15], 2, 'the header destination stays');
  assert.equal(addrText(6, l.flowDst.bytes), '2001::99', 'the flow goes to the final destination');
  assert.equal(l.fragId, 9);
  assert.ok(l.flags & RecordFlag.FirstFragment);
  assert.equal(addrText(6, record(d).dst), '2001::99');
});

test('tunnels keep every IP layer', () => {
  const vx = [0x08, 0, 0, 0, 0, 0, 1, 0, ...ether(0x0800, ipv4Tcp([10, 0, 0, 1], [10, 0, 0, 2], 1000, 22, 0x18))];
  const d = run(ether(0x0800, ipv4Udp(A, B, 50000, 4789, vx)), 1);
  assert.equal(d.len, 2);
  assert.equal(d.layers[0].carries, TunnelKind.Vxlan);
  assert.equal(d.layers[0].dstPort, 4789);
  const r = record(d);
  assert.deepEqual([addrText(r.srcFamily, r.src), r.dstPort, r.tunnel], ['10.0.0.1', 22, TunnelKind.Vxlan]);
  assert.ok(r.flags & RecordFlag.Tunnelled);

  const v6 = [...ipv6Header(6, 1, 2, 20), ...tcp(1, 80, 2)];
  const six = run([...ipv4Header(41, A, B, v6.length), ...v6], 101);
  assert.equal(six.layers[0].carries, TunnelKind.Ipv6InIp);
  assert.equal(inner(six).dstPort, 80);

  const gre = [0x20, 0x00, 0x08, 0x00, 0, 0, 0, 7, ...ipv4Tcp([10, 1, 1, 1], [10, 1, 1, 2], 3, 4, 0)];
  const g = run([...ipv4Header(47, A, B, gre.length), ...gre], 101);
  assert.equal(g.len, 2);
  assert.equal(inner(g).dstPort, 4);
});

test('GTP-U, Teredo and Geneve', () => {
  const ip = ipv4Tcp([10, 9, 9, 9], [8, 8, 8, 8], 5555, 80, 0x02);
  const gtp = run(ipv4Udp(A, B, 2152, 2152, [0x30, 0xff, 0, ip.length, 0, 0, 0, 1, ...ip]), 101);
  assert.equal(gtp.layers[0].carries, TunnelKind.GtpU);
  assert.equal(inner(gtp).dstPort, 80);
  const v6 = [...ipv6Header(58, 1, 2, 8), 128, 0, 0, 0, 0, 1, 0, 1];
  const teredo = run(ipv4Udp(A, B, 3544, 40000, v6), 101);
  assert.equal(teredo.layers[0].carries, TunnelKind.Teredo);
  assert.equal(inner(teredo).proto, 58);
  const gnv = run(ipv4Udp(A, B, 1, 6081, [0x00, 0x00, 0x65, 0x58, 0, 0, 1, 0, ...ether(0x0800, ip)]), 101);
  assert.equal(gnv.layers[0].carries, TunnelKind.Geneve);
  assert.equal(inner(gnv).srcPort, 5555);
});

test('UDP on a tunnel port that is not a tunnel stays UDP', () => {
  const d = run(ipv4Udp(A, B, 1, 4789, [...Buffer.from('not vxlan')]), 101);
  assert.equal(d.len, 1);
  assert.equal(d.layers[0].carries, TunnelKind.None);
});

test('tunnels nested deeper than three stop with a problem', () => {
  let frame = ipv4Tcp(A, B, 1, 2, 0);
  for (let i = 0; i < 4; i++) frame = [...ipv4Header(4, A, B, frame.length), ...frame];
  const d = run(frame, 101);
  assert.equal(d.len, 4);
  assert.equal(problemText(d.problem!), 'malformed tunnel: tunnels nested deeper than 3');
  assert.equal(d.layers[3].carries, TunnelKind.None, 'the last layer kept carries nothing');
  assert.equal(record(d).flags & RecordFlag.Malformed, RecordFlag.Malformed);
});

test('cut and malformed headers are reported with what was read', () => {
  const full = ether(0x0800, ipv4Tcp(A, B, 40000, 443, 0x10));
  const cut = run(full.slice(0, 14 + 20 + 6), 1);
  assert.equal(problemText(cut.problem!), 'truncated TCP: header cut short');
  assert.equal(addrText(4, inner(cut).src.bytes), '192.0.2.1');
  assert.equal(inner(cut).flags & RecordFlag.HasPorts, 0);
  assert.ok(record(cut).flags & RecordFlag.Truncated);
  const ipCut = run(full.slice(0, 14 + 10), 1);
  assert.equal(problemText(ipCut.problem!), 'truncated IPv4: header cut short');
  assert.equal(ipCut.len, 0);
  const bad = ipv4Tcp(A, B, 1, 2, 0);
  bad[0] = 0x44;
  assert.equal(problemText(run(bad, 101).problem!), 'malformed IPv4: header length under 20 bytes (16)');
  assert.equal(problemText(run([1, 2, 3], 147).problem!), 'unsupported link type: link type not supported (147)');
  assert.equal(problemText(run([], 1).problem!), 'truncated Ethernet: header cut short');
  assert.equal(problemText(run([0x00, 0x00, 0, 0], 47).problem!), 'unsupported link type: link type not supported (47)');
});

test('frames without IP keep their ethertype', () => {
  const d = run(ether(0x0806, new Array(28).fill(0)), 1);
  assert.deepEqual([d.ethertype, d.problem, d.len], [0x0806, null, 0]);
});

test('random frames never throw', () => {
  const rng = new Rng(0x9e3779b9);
  const seeds = [ether(0x0800, ipv4Udp(A, B, 1, 4789, new Array(64).fill(0x08))), ether(0x86dd, ipv6Header(0, 1, 2, 64)), ether(0x8847, new Array(64).fill(0))];
  const d = new Decoded();
  const r = emptyRecord();
  for (let i = 0; i < 20_000; i++) {
    const f = Uint8Array.from([...seeds[i % seeds.length], ...new Array(40).fill(0)]);
    for (let k = rng.below(8); k > 0; k--) f[rng.below(f.length)] = rng.below(256);
    const cut = rng.below(f.length + 1);
    for (const lt of [1, 101, 0, 9, 113]) {
      decode(f, 0, cut, lt, d);
      d.fillRecord(r, 0n, 0, 0, 0);
    }
  }
});
