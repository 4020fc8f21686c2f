// Test support for the capture reader, the decoder and the engine: pcap and pcapng writers (both
// byte orders, every block kind); a seeded generator of structured frames (every link type, VLAN,
// MPLS, PPPoE, IPv4 options and fragments, IPv6 extension headers, every tunnel, cut and bent
// headers) so the native core and this port can be compared on inputs the shared captures lack;
// and, for the engine, a seeded generator of packet records (IPv4, IPv6 and non-IP; TCP, UDP,
// ICMP and portless protocols; late and untimed packets) with the same packets as a pcapng file
// of plain Ethernet frames, so the native core can decode exactly these records.

import { emptyRecord, type PacketRecord } from '../backend/js/record.js';

/** A small seeded generator (xorshift32). */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }

  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }

  below(n: number): number {
    return this.u32() % n;
  }

  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  bytes(n: number): number[] {
    return Array.from({ length: n }, () => this.below(256));
  }
}

// ---- byte helpers ----

export class Bytes {
  readonly out: number[] = [];

  constructor(readonly be: boolean = true) {}

  u8(...v: number[]): this {
    for (const x of v) this.out.push(x & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.be ? this.u8(v >> 8, v) : this.u8(v, v >> 8);
  }

  u32(v: number): this {
    const b = [v >>> 24, v >>> 16, v >>> 8, v];
    return this.u8(...(this.be ? b : b.reverse()));
  }

  u64(v: bigint): this {
    const hi = Number((v >> 32n) & 0xffffffffn);
    const lo = Number(v & 0xffffffffn);
    return this.be ? this.u32(hi).u32(lo) : this.u32(lo).u32(hi);
  }

  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i] & 0xff);
    return this;
  }

  pad4(): this {
    while (this.out.length % 4) this.out.push(0);
    return this;
  }

  get length(): number {
    return this.out.length;
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export function concat(parts: ArrayLike<number>[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---- pcap ----

export interface PcapRecord {
  sec: number;
  frac: number;
  data: ArrayLike<number>;
  /** Original length; the captured length when absent. */
  origLen?: number;
}

export function pcapHeader(be: boolean, nanos: boolean, network: number, major = 2, minor = 4): Uint8Array {
  return new Bytes(be)
    .u32(nanos ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(major)
    .u16(minor)
    .u32(0)
    .u32(0)
    .u32(65535)
    .u32(network)
    .bytes();
}

export function pcapRecord(be: boolean, r: PcapRecord): Uint8Array {
  return new Bytes(be)
    .u32(r.sec)
    .u32(r.frac)
    .u32(r.data.length)
    .u32(r.origLen ?? r.data.length)
    .raw(r.data)
    .bytes();
}

export function pcapFile(be: boolean, nanos: boolean, network: number, records: PcapRecord[]): Uint8Array {
  return concat([pcapHeader(be, nanos, network), ...records.map((r) => pcapRecord(be, r))]);
}

// ---- pcapng ----

export function block(be: boolean, type: number, body: ArrayLike<number>): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const len = 12 + padded;
  const b = new Bytes(be).u32(type).u32(len).raw(body);
  while (b.length < 8 + padded) b.u8(0);
  return b.u32(len).bytes();
}

export function shb(be: boolean, major = 1): Uint8Array {
  const body = new Bytes(be).u32(0x1a2b3c4d).u16(major).u16(0).u32(0xffffffff).u32(0xffffffff);
  return block(be, 0x0a0d0d0a, body.out);
}

export function idb(be: boolean, link: number, snaplen: number, options: [number, ArrayLike<number>][] = []): Uint8Array {
  const body = new Bytes(be).u16(link).u16(0).u32(snaplen);
  for (const [code, value] of options) body.u16(code).u16(value.length).raw(value).pad4();
  if (options.length) body.u32(0);
  return block(be, 1, body.out);
}

export function epb(be: boolean, iface: number, units: bigint, data: ArrayLike<number>, origLen = data.length): Uint8Array {
  const body = new Bytes(be)
    .u32(iface)
    .u32(Number((units >> 32n) & 0xffffffffn))
    .u32(Number(units & 0xffffffffn))
    .u32(data.length)
    .u32(origLen)
    .raw(data);
  return block(be, 6, body.out);
}

export function obsoletePb(be: boolean, iface: number, units: bigint, data: ArrayLike<number>, origLen = data.length): Uint8Array {
  const body = new Bytes(be)
    .u16(iface)
    .u16(0)
    .u32(Number((units >> 32n) & 0xffffffffn))
    .u32(Number(units & 0xffffffffn))
    .u32(data.length)
    .u32(origLen)
    .raw(data);
  return block(be, 2, body.out);
}

export function spb(be: boolean, origLen: number, data: ArrayLike<number>): Uint8Array {
  return block(be, 3, new Bytes(be).u32(origLen).raw(data).out);
}

/** if_tsoffset option value (seconds, signed 64-bit) in the given byte order. */
export function tsoffset(be: boolean, seconds: bigint): number[] {
  return new Bytes(be).u64(BigInt.asUintN(64, seconds)).out;
}

// ---- frames ----

/** Addresses from small pools, so conversations repeat and sort ties happen. */
const V4_POOL = [
  [10, 0, 0, 1],
  [10, 0, 0, 2],
  [192, 0, 2, 1],
  [198, 51, 100, 7],
  [0, 0, 0, 0],
  [255, 255, 255, 255],
  [127, 0, 0, 1],
];

function v6(...groups: number[]): number[] {
  const b = new Bytes(true);
  for (const g of groups) b.u16(g);
  return b.out;
}

const V6_POOL = [
  v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
  v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
  v6(0, 0, 0, 0, 0, 0, 0, 0),
  v6(0, 0, 0, 0, 0, 0, 0, 1),
  v6(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001),
  v6(0, 0, 0, 0, 0, 0, 0x0102, 0x0304),
  v6(1, 0, 0, 0, 0, 0, 0, 0),
  v6(1, 0, 0, 1, 0, 0, 0, 1),
  v6(0xfe80, 0, 0, 0, 1, 0, 0, 1),
  v6(0xfe80, 0, 0, 0, 0, 0, 0, 0),
  v6(0, 1, 0, 0, 0, 0, 1, 0),
  v6(0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff),
  v6(0, 0, 0, 0, 0, 0xffff, 0, 0),
  v6(0, 0, 0, 0, 0xffff, 0, 0x0a00, 1),
];

const TUNNEL_PORTS = [4789, 6081, 2152, 3544];

export class FrameGen {
  constructor(private readonly rng: Rng) {}

  /** Nesting so far, so tunnels can go past the decoder's limit of four IP layers but stop. */
  private depth = 0;

  /** A frame of the given link type. */
  frame(linkType: number): number[] {
    this.depth = 0;
    const r = this.rng;
    switch (linkType) {
      case 1:
        return this.ethernet();
      case 0:
      case 108: {
        const af = r.pick([2, 10, 24, 28, 30, 7]);
        const net = linkType === 108;
        const order = r.chance(0.2) ? !net : net;
        const head = new Bytes(order).u32(af).out;
        return [...head, ...(af === 2 ? this.ipv4() : this.ipv6())];
      }
      case 9:
      case 50:
        return this.ppp();
      case 113: {
        const et = r.pick([0x0800, 0x86dd, 0x0806, 0x8100]);
        return [...r.bytes(14), et >> 8, et & 0xff, ...this.ethertypePayload(et)];
      }
      case 276: {
        const et = r.pick([0x0800, 0x86dd, 0x0806]);
        return [et >> 8, et & 0xff, ...r.bytes(18), ...this.ethertypePayload(et)];
      }
      case 228:
        return this.ipv4();
      case 229:
        return this.ipv6();
      case 101:
      case 12:
        return r.chance(0.5) ? this.ipv4() : r.chance(0.9) ? this.ipv6() : r.bytes(r.below(30));
      default:
        return r.bytes(r.below(40));
    }
  }

  /** Cuts, bends or keeps a frame. */
  damage(frame: number[]): number[] {
    const r = this.rng;
    let f = frame;
    if (r.chance(0.15)) f = f.slice(0, r.below(f.length + 1));
    if (r.chance(0.1)) {
      f = [...f];
      for (let i = 0; i < 1 + r.below(3); i++) if (f.length) f[r.below(f.length)] = r.below(256);
    }
    return f;
  }

  private ethernet(): number[] {
    const r = this.rng;
    const macs = r.bytes(12);
    if (r.chance(0.05)) {
      // 802.3 with LLC, maybe SNAP carrying an ethertype.
      const snap = r.chance(0.5);
      const et = r.pick([0x0800, 0x86dd, 0x0806]);
      const llc = snap ? [0xaa, 0xaa, 0x03, 0, 0, 0, et >> 8, et & 0xff, ...this.ethertypePayload(et)] : [0x42, 0x42, 0x03, ...r.bytes(20)];
      return [...macs, 0, Math.min(llc.length, 1500) & 0xff, ...llc];
    }
    const et = r.pick([0x0800, 0x0800, 0x86dd, 0x86dd, 0x8847, 0x8848, 0x8864, 0x0806, 0x88cc, 0x1234, 0x8100, 0x05dc]);
    // VLAN tags: the frame's ethertype is the first TPID, each tag's TCI is followed by the next
    // TPID, the last by `et`.
    const tpids = [0x8100, 0x88a8, 0x9100, 0x9200];
    const tags = r.below(4) === 0 ? 1 + r.below(3) : 0;
    const chain: number[] = [];
    const first = tags ? r.pick(tpids) : et;
    for (let i = 0; i < tags; i++) {
      const next = i === tags - 1 ? et : r.pick(tpids);
      const tci = r.chance(0.2) ? [0, 0] : r.bytes(2);
      chain.push(...tci, next >> 8, next & 0xff);
    }
    return [...macs, first >> 8, first & 0xff, ...chain, ...this.ethertypePayload(et)];
  }

  private ethertypePayload(et: number): number[] {
    const r = this.rng;
    switch (et) {
      case 0x0800:
        return this.ipv4();
      case 0x86dd:
        return this.ipv6();
      case 0x8847:
      case 0x8848:
        return this.mpls();
      case 0x8864: {
        const proto = r.pick([0x0021, 0x0057, 0x0281, 0xc021]);
        const inner = proto === 0x0021 ? this.ipv4() : proto === 0x0057 ? this.ipv6() : proto === 0x0281 ? this.mpls() : r.bytes(10);
        return [0x11, 0, ...r.bytes(2), (inner.length + 2) >> 8, (inner.length + 2) & 0xff, proto >> 8, proto & 0xff, ...inner];
      }
      case 0x8100:
        return [...r.bytes(2), 0x08, 0x00, ...this.ipv4()];
      default:
        return r.bytes(r.below(46));
    }
  }

  private mpls(): number[] {
    const r = this.rng;
    const labels: number[] = [];
    const n = 1 + r.below(3);
    for (let i = 0; i < n; i++) labels.push(...r.bytes(2), (r.below(8) << 1) | (i === n - 1 ? 1 : 0), 64);
    const kind = r.below(5);
    if (kind === 0) return [...labels, ...this.ipv4()];
    if (kind === 1) return [...labels, ...this.ipv6()];
    if (kind === 2) return [...labels, 0, 0, 0, 0, ...this.ethernet()];
    if (kind === 3) return [...labels, ...r.bytes(r.below(6))];
    return labels.slice(0, 4 * r.below(n));
  }

  private ppp(): number[] {
    const r = this.rng;
    const hdlc = r.chance(0.5) ? [0xff, 0x03] : [];
    const kind = r.below(5);
    if (kind === 0) return [...hdlc, 0x21, ...this.ipv4()];
    if (kind === 1) return [...hdlc, 0x00, 0x21, ...this.ipv4()];
    if (kind === 2) return [...hdlc, 0x00, 0x57, ...this.ipv6()];
    if (kind === 3) return [...hdlc, 0x02, 0x81, ...this.mpls()];
    return [...hdlc, ...r.bytes(r.below(4))];
  }

  private addr4(): number[] {
    return this.rng.chance(0.9) ? this.rng.pick(V4_POOL) : this.rng.bytes(4);
  }

  private addr6(): number[] {
    return this.rng.chance(0.9) ? this.rng.pick(V6_POOL) : this.rng.bytes(16);
  }

  /** The payload for an IP protocol number. */
  private transport(proto: number): number[] {
    const r = this.rng;
    switch (proto) {
      case 6: {
        const off = r.chance(0.9) ? 5 + r.below(3) : r.below(16);
        const t = [...this.port(), ...this.port(), ...r.bytes(8), off << 4, r.below(256), ...r.bytes(6)];
        return [...t, ...r.bytes(Math.max(0, off * 4 - 20)), ...r.bytes(r.below(20))];
      }
      case 17:
      case 136:
        return this.udp();
      case 132:
      case 33:
        return [...this.port(), ...this.port(), ...r.bytes(r.below(16))];
      case 1:
      case 58:
        return r.bytes(r.below(12));
      case 4:
        return this.nested(() => this.ipv4());
      case 41:
        return this.nested(() => this.ipv6());
      case 47:
        return this.nested(() => this.gre());
      default:
        return r.bytes(r.below(20));
    }
  }

  private port(): number[] {
    const p = this.rng.chance(0.7) ? this.rng.pick([80, 443, 53, 1234, 40000, 0, 65535]) : this.rng.below(65536);
    return [p >> 8, p & 0xff];
  }

  private nested(inner: () => number[]): number[] {
    if (this.depth > 5) return this.rng.bytes(this.rng.below(20));
    this.depth++;
    return inner();
  }

  private udp(): number[] {
    const r = this.rng;
    const tunnel = r.chance(0.4);
    const tport = r.pick(TUNNEL_PORTS);
    const sport = tunnel && r.chance(0.5) ? [tport >> 8, tport & 0xff] : this.port();
    const dport = tunnel ? [tport >> 8, tport & 0xff] : this.port();
    let payload: number[];
    if (!tunnel) payload = r.bytes(r.below(24));
    else if (tport === 4789) payload = this.nested(() => [r.chance(0.9) ? 0x08 : 0, ...r.bytes(7), ...this.ethernet()]);
    else if (tport === 6081) payload = this.nested(() => this.geneve());
    else if (tport === 2152) payload = this.nested(() => this.gtpu());
    else payload = this.nested(() => this.teredo());
    const len = r.chance(0.8) ? 8 + payload.length : r.pick([0, 3, 8, r.below(65536)]);
    return [...sport, ...dport, len >> 8, len & 0xff, ...r.bytes(2), ...payload];
  }

  private geneve(): number[] {
    const r = this.rng;
    const optLen = r.chance(0.7) ? r.below(3) : r.below(64);
    const ver = r.chance(0.9) ? 0 : r.below(4);
    const protocol = r.pick([0x6558, 0x0800, 0x86dd, 0x8100, 0x1234]);
    const inner = protocol === 0x6558 ? this.ethernet() : protocol === 0x1234 ? r.bytes(10) : this.ethertypePayload(protocol);
    return [(ver << 6) | optLen, r.below(256), protocol >> 8, protocol & 0xff, ...r.bytes(4), ...r.bytes(Math.min(optLen, 3) * 4), ...inner];
  }

  private gtpu(): number[] {
    const r = this.rng;
    const flags = r.chance(0.9) ? 0x30 | r.pick([0, 0, 1, 2, 4, 7]) : r.below(256);
    const type = r.chance(0.9) ? 0xff : r.below(256);
    const head = [flags, type, ...r.bytes(6)];
    if (flags & 7) {
      head.push(...r.bytes(3));
      let next = r.chance(0.5) ? 0 : r.pick([0x85, 0xc0, 1]);
      head.push(next);
      for (let i = 0; i < 3 && next !== 0; i++) {
        const units = r.chance(0.9) ? 1 + r.below(2) : 0;
        const ext = [units, ...r.bytes(Math.max(0, units * 4 - 2))];
        next = i === 2 || r.chance(0.5) ? 0 : r.pick([0x85, 0xc0]);
        ext.push(next);
        head.push(...ext);
      }
    }
    const inner = r.chance(0.5) ? this.ipv4() : r.chance(0.8) ? this.ipv6() : r.bytes(r.below(10));
    return [...head, ...inner];
  }

  private teredo(): number[] {
    const r = this.rng;
    const parts: number[] = [];
    if (r.chance(0.3)) {
      const idLen = r.below(4);
      const auLen = r.below(4);
      parts.push(0, 1, idLen, auLen, ...r.bytes(idLen + auLen + 9));
    }
    if (r.chance(0.3)) parts.push(0, 0, ...r.bytes(6));
    return [...parts, ...(r.chance(0.9) ? this.ipv6() : r.bytes(r.below(50)))];
  }

  private gre(): number[] {
    const r = this.rng;
    const version = r.chance(0.9) ? r.below(2) : r.below(8);
    let flags = version;
    for (const bit of [0x8000, 0x2000, 0x1000, 0x0080]) if (r.chance(0.3)) flags |= bit;
    if (r.chance(0.05)) flags |= 0x4000;
    const protocol = r.pick([0x6558, 0x880b, 0x8847, 0x88be, 0x22eb, 0x8909, 0x0800, 0x86dd, 0x8100, 0x1234]);
    let len = 4;
    if (flags & 0x8000) len += 4;
    if (flags & 0x2000) len += 4;
    if (flags & 0x1000) len += 4;
    if (version === 1 && flags & 0x0080) len += 4;
    let payload: number[];
    switch (protocol) {
      case 0x6558:
        payload = this.ethernet();
        break;
      case 0x880b:
        payload = this.ppp();
        break;
      case 0x8847:
        payload = this.mpls();
        break;
      case 0x88be:
        payload = r.chance(0.8) ? [...r.bytes(flags & 0x1000 ? 8 : 0), ...this.ethernet()] : r.bytes(r.below(8));
        break;
      case 0x22eb: {
        const o = r.chance(0.5) ? 1 : 0;
        payload = r.chance(0.8) ? [...r.bytes(11), o, ...r.bytes(o ? 8 : 0), ...this.ethernet()] : r.bytes(r.below(20));
        break;
      }
      case 0x8909: {
        const et = r.pick([0x0800, 0x86dd]);
        payload = r.chance(0.8) ? [et >> 8, et & 0xff, ...r.bytes(6), ...this.ethertypePayload(et)] : r.bytes(r.below(8));
        break;
      }
      default:
        payload = this.ethertypePayload(protocol);
    }
    return [flags >> 8, flags & 0xff, protocol >> 8, protocol & 0xff, ...r.bytes(len - 4), ...payload];
  }

  ipv4(): number[] {
    const r = this.rng;
    const ihl = r.chance(0.9) ? 5 + (r.chance(0.2) ? r.below(11) : 0) : r.below(16);
    const proto = r.pick([6, 6, 17, 17, 1, 132, 33, 136, 4, 41, 47, 58, 2, 89, 250]);
    const payload = this.transport(proto);
    const options = r.bytes(Math.max(0, ihl * 4 - 20));
    const total = r.chance(0.85) ? ihl * 4 + payload.length : r.pick([0, r.below(30), r.below(65536)]);
    let frag = 0;
    if (r.chance(0.15)) frag = (r.chance(0.5) ? 0x2000 : 0) | (r.chance(0.5) ? r.below(0x2000) : 0);
    else if (r.chance(0.2)) frag = 0x4000;
    const version = r.chance(0.97) ? 4 : r.below(16);
    const id = r.chance(0.5) ? r.below(4) : r.below(65536);
    return [
      (version << 4) | ihl,
      0,
      (total >> 8) & 0xff,
      total & 0xff,
      id >> 8,
      id & 0xff,
      frag >> 8,
      frag & 0xff,
      64,
      proto,
      0,
      0,
      ...this.addr4(),
      ...this.addr4(),
      ...options,
      ...payload,
    ];
  }

  ipv6(): number[] {
    const r = this.rng;
    const exts: { type: number; bytes: (next: number) => number[] }[] = [];
    for (let n = r.chance(0.4) ? 1 + r.below(4) : 0; n > 0; n--) {
      const type = r.pick([0, 60, 43, 43, 44, 44, 51, 135, 139, 140, 253, 254]);
      exts.push({ type, bytes: (next) => this.extension(type, next) });
    }
    const proto = r.pick([6, 17, 58, 58, 132, 4, 41, 47, 59, 17]);
    let payload = this.transport(proto);
    let next = proto;
    for (let i = exts.length - 1; i >= 0; i--) {
      payload = [...exts[i].bytes(next), ...payload];
      next = exts[i].type;
    }
    const plen = r.chance(0.85) ? payload.length : r.pick([0, r.below(40), r.below(65536)]);
    const version = r.chance(0.97) ? 6 : r.below(16);
    return [version << 4, 0, 0, 0, (plen >> 8) & 0xff, plen & 0xff, next, 64, ...this.addr6(), ...this.addr6(), ...payload];
  }

  private extension(type: number, next: number): number[] {
    const r = this.rng;
    switch (type) {
      case 44: {
        const offset = r.chance(0.5) ? 0 : r.below(8192);
        const more = r.chance(0.6) ? 1 : 0;
        const of = (offset << 3) | more;
        return [next, 0, of >> 8, of & 0xff, 0, 0, r.below(3), r.below(3)];
      }
      case 51: {
        const units = r.below(4);
        return [next, units, ...r.bytes((units + 2) * 4 - 2)];
      }
      case 43: {
        const kind = r.pick([0, 2, 4, 3]);
        const count = r.below(4);
        const left = r.chance(0.7) ? 1 + r.below(3) : 0;
        const body: number[] = [];
        for (let i = 0; i < count; i++) body.push(...this.addr6());
        // hdr_ext_len counts 8-byte units after the first 8 bytes.
        return [next, count * 2, kind, left, 0, 0, 0, 0, ...body];
      }
      default: {
        const units = r.chance(0.8) ? r.below(2) : r.below(256);
        return [next, units, ...r.bytes(units * 8 + 6)];
      }
    }
  }
}

export const LINK_TYPES = [1, 1, 1, 1, 0, 108, 9, 50, 113, 276, 228, 229, 101, 12, 147];

/**
 * A random capture: pcap (either byte order and resolution, one link type) or pcapng (up to
 * three sections of either byte order, interfaces with random if_tsresol / if_tsoffset /
 * snaplen, EPB, SPB, obsolete PB and skipped blocks), holding generated and damaged frames.
 */
export function randomCapture(rng: Rng): Uint8Array {
  const g = new FrameGen(rng);
  const n = 1 + rng.below(60);
  let sec = 1_600_000_000 + rng.below(1000);
  if (rng.chance(0.6)) {
    const be = rng.chance(0.3);
    const nanos = rng.chance(0.3);
    const lt = rng.pick(LINK_TYPES);
    const records: PcapRecord[] = [];
    for (let i = 0; i < n; i++) {
      // Mostly forward in time, sometimes the same second, sometimes back.
      if (rng.chance(0.1)) sec -= rng.below(3);
      else if (rng.chance(0.5)) sec += rng.below(3);
      const frac = nanos ? rng.below(1_000_000_000) : rng.below(1_000_000);
      records.push({ sec, frac, data: g.damage(g.frame(lt)), origLen: rng.chance(0.1) ? rng.below(3000) : undefined });
    }
    const network = rng.chance(0.1) ? ((rng.u32() & 0xffff0000) | lt) >>> 0 : lt;
    return pcapFile(be, nanos, network, records);
  }
  const parts: Uint8Array[] = [];
  for (let s = 1 + (rng.chance(0.2) ? rng.below(3) : 0); s > 0; s--) {
    const be = rng.chance(0.4);
    parts.push(shb(be));
    const ifaces: number[] = [];
    for (let i = 1 + rng.below(3); i > 0; i--) {
      const lt = rng.pick(LINK_TYPES);
      const options: [number, number[]][] = [];
      if (rng.chance(0.5)) options.push([9, [rng.pick([6, 9, 3, 0, 12, 0x80 | 10, 0x80 | 30, 50, 127, 0x80 | 127, 255])]]);
      if (rng.chance(0.3)) options.push([14, tsoffset(be, BigInt(rng.below(2000)) - 1000n)]);
      if (rng.chance(0.2)) options.push([2, [101, 116, 104, 48]]);
      if (rng.chance(0.05)) options.push([9, []]);
      parts.push(idb(be, lt, rng.chance(0.2) ? rng.below(100) : 0, options));
      ifaces.push(lt);
    }
    for (let i = 0; i < n; i++) {
      // Now and then a packet names an interface that does not exist.
      const k = rng.below(ifaces.length + (rng.chance(0.02) ? 1 : 0));
      const data = g.damage(g.frame(ifaces[k] ?? 1));
      const units = BigInt(sec) * 1_000_000n + BigInt(rng.below(1_000_000)) + (rng.chance(0.05) ? BigInt(rng.u32()) << 32n : 0n);
      sec += rng.below(2);
      const kind = rng.below(10);
      if (kind === 0) parts.push(spb(be, rng.chance(0.7) ? data.length : rng.below(200), data));
      else if (kind === 1) parts.push(obsoletePb(be, k, units, data));
      else if (kind === 2) parts.push(block(be, rng.pick([4, 5, 0xbad, 0x40000bad, 0x12345678]), rng.bytes(rng.below(20))));
      else parts.push(epb(be, k, units, data, rng.chance(0.1) ? rng.below(3000) : data.length));
    }
  }
  return concat(parts);
}

// ---- packet record streams (engine tests) ----

export interface TimedRecord {
  r: PacketRecord;
  hasTs: boolean;
}

/** A small seeded generator (mulberry32; the engine tests' streams follow its sequence). */
export class TestRandom {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, n). */
  below(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  /** Zipf-like: small values much more often. */
  skewed(n: number): number {
    const u = this.u32() / 4294967296;
    return Math.min(n - 1, Math.floor(n * u * u * u));
  }
}

export interface StreamOptions {
  seed: number;
  packets: number;
  /** Time of the first packet, ns. */
  startNs: bigint;
  /** Mean gap between packets, ns. */
  gapNs: number;
  /** Distinct hosts per family. */
  hosts: number;
  v6?: number;
  nonIp?: number;
  late?: number;
  /** How far back a late packet goes, ns. */
  lateNs?: number;
  untimed?: number;
  /** Sources that scan many destinations (super-spreaders). */
  scanners?: number;
  /** Occasional jump forward (ns) so that some windows stay empty. */
  jumpNs?: number;
}

function hostV4(b: Uint8Array, host: number): void {
  b.fill(0);
  b[10] = 0xff;
  b[11] = 0xff;
  b[12] = 10 + (host >>> 16) % 200;
  b[13] = (host >>> 8) & 0xff;
  b[14] = host & 0xff;
  b[15] = 1 + (host % 250);
}

function hostV6(b: Uint8Array, host: number, rnd: TestRandom): void {
  b.fill(0);
  b[0] = 0x20;
  b[1] = 0x01;
  b[2] = 0x0d;
  b[3] = 0xb8;
  // Some addresses with zero runs (compressed text), some without.
  if (host % 3 === 0) {
    b[14] = host >>> 8;
    b[15] = host & 0xff;
  } else {
    for (let i = 4; i < 16; i++) b[i] = rnd.below(3) === 0 ? 0 : (host * 31 + i * 17) & 0xff;
    b[15] = host & 0xff;
  }
}

function port(rnd: TestRandom, wellKnown: boolean): number {
  for (;;) {
    const p = wellKnown ? [80, 443, 53, 22, 8080, 123, 25, 3306][rnd.skewed(8)] : 1024 + rnd.below(64511);
    if (!TUNNEL_PORTS.includes(p)) return p;
  }
}

export function makeStream(o: StreamOptions): TimedRecord[] {
  const rnd = new TestRandom(o.seed);
  const out: TimedRecord[] = [];
  let now = o.startNs;
  const scanners = o.scanners ?? 0;
  for (let i = 0; i < o.packets; i++) {
    const r = emptyRecord();
    now += BigInt(rnd.below(2 * o.gapNs + 1));
    if (o.jumpNs && rnd.chance(0.0005)) now += BigInt(o.jumpNs);
    let ts = now;
    if (o.late && rnd.chance(o.late)) ts -= BigInt(rnd.below(o.lateNs ?? o.gapNs * 1000));
    const hasTs = !(o.untimed && rnd.chance(o.untimed));
    r.tsNs = hasTs ? ts : 0n;
    const kind = rnd.u32() / 4294967296;
    if (kind < (o.nonIp ?? 0)) {
      r.ethertype = 0x0806;
      r.wireLen = 60 + rnd.below(4);
      out.push({ r, hasTs });
      continue;
    }
    const six = kind < (o.nonIp ?? 0) + (o.v6 ?? 0);
    const fam = six ? 6 : 4;
    r.srcFamily = fam;
    r.dstFamily = fam;
    const scanner = scanners > 0 && rnd.chance(0.2) ? rnd.below(scanners) : -1;
    const srcHost = scanner >= 0 ? 7 + scanner * 101 : rnd.skewed(o.hosts);
    const dstHost = scanner >= 0 ? rnd.below(o.hosts * 50) : rnd.skewed(o.hosts);
    if (six) {
      hostV6(r.src, srcHost, rnd);
      hostV6(r.dst, dstHost + 1, rnd);
    } else {
      hostV4(r.src, srcHost);
      hostV4(r.dst, dstHost + 1);
    }
    const p = rnd.below(20);
    if (p < 10) {
      r.proto = 6;
      r.srcPort = port(rnd, false);
      r.dstPort = port(rnd, true);
      r.tcpFlags = 0x10;
    } else if (p < 16) {
      r.proto = 17;
      r.srcPort = port(rnd, false);
      r.dstPort = port(rnd, true);
    } else if (p < 18) {
      r.proto = six ? 58 : 1;
      r.dstPort = (rnd.below(4) === 0 ? 3 : 8) * 256 + rnd.below(2);
    } else {
      r.proto = p === 18 ? 50 : 89;
    }
    if (scanner >= 0 && (r.proto === 6 || r.proto === 17)) r.dstPort = 1 + rnd.below(1024);
    r.wireLen = Math.max(frameOf(r).length, rnd.chance(0.01) ? 65536 + rnd.below(200000) : 64 + rnd.skewed(1500));
    out.push({ r, hasTs });
  }
  return out;
}

/** The Ethernet frame a record was decoded from (padded to a multiple of 4 bytes). */
export function frameOf(r: PacketRecord): Uint8Array {
  const eth = [0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10];
  if (r.srcFamily === 0) {
    // ARP request.
    const f = new Uint8Array(44);
    f.set(eth);
    f[12] = 0x08;
    f[13] = 0x06;
    f.set([0, 1, 8, 0, 6, 4, 0, 1], 14);
    return f;
  }
  let l4: number[];
  if (r.proto === 6) {
    l4 = [r.srcPort >> 8, r.srcPort & 0xff, r.dstPort >> 8, r.dstPort & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, r.tcpFlags, 0xff, 0xff, 0, 0, 0, 0];
  } else if (r.proto === 17) {
    l4 = [r.srcPort >> 8, r.srcPort & 0xff, r.dstPort >> 8, r.dstPort & 0xff, 0, 8, 0, 0];
  } else if (r.proto === 1 || r.proto === 58) {
    l4 = [r.dstPort >> 8, r.dstPort & 0xff, 0, 0, 0, 0, 0, 0];
  } else {
    l4 = [0, 0, 0, 1, 0, 0, 0, 1];
  }
  const ipLen = r.srcFamily === 4 ? 20 : 40;
  let total = 14 + ipLen + l4.length;
  const pad = (4 - (total % 4)) % 4;
  total += pad;
  const f = new Uint8Array(total);
  f.set(eth);
  const l3 = ipLen + l4.length + pad;
  if (r.proto === 17) {
    f[14 + ipLen + 4] = (8 + pad) >> 8;
    f[14 + ipLen + 5] = (8 + pad) & 0xff;
    l4[4] = (8 + pad) >> 8;
    l4[5] = (8 + pad) & 0xff;
  }
  if (r.srcFamily === 4) {
    f[12] = 0x08;
    f[13] = 0x00;
    f.set([0x45, 0, l3 >> 8, l3 & 0xff, 0, 1, 0, 0, 64, r.proto, 0, 0], 14);
    f.set(r.src.subarray(12), 26);
    f.set(r.dst.subarray(12), 30);
  } else {
    f[12] = 0x86;
    f[13] = 0xdd;
    const payload = l3 - 40;
    f.set([0x60, 0, 0, 0, payload >> 8, payload & 0xff, r.proto, 64], 14);
    f.set(r.src, 22);
    f.set(r.dst, 38);
  }
  f.set(l4, 14 + ipLen);
  return f;
}

/** A pcapng file (nanosecond timestamps) of the records: EPBs when timed, SPBs when not. */
export function pcapngOf(stream: TimedRecord[]): Uint8Array {
  // Little-endian; link type 1 (Ethernet), snaplen 0, if_tsresol = 9.
  const parts: Uint8Array[] = [shb(false), idb(false, 1, 0, [[9, [9]]])];
  for (const { r, hasTs } of stream) {
    const f = frameOf(r);
    parts.push(hasTs ? epb(false, 0, r.tsNs, f, r.wireLen) : spb(false, r.wireLen, f));
  }
  return concat(parts);
}

/** The `"windows":[...]` array of a report, as raw text (no re-formatting). */
export function windowsText(report: string): string {
  const at = report.indexOf('"windows":[');
  if (at < 0) throw new Error('no windows in the report');
  const start = at + '"windows":'.length;
  let depth = 0;
  let inString = false;
  for (let i = start; i < report.length; i++) {
    const c = report[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) return report.slice(start, i + 1);
    }
  }
  throw new Error('unterminated windows array');
}

/**
 * The packets of a classic pcap file of Ethernet frames (either byte order, micro- or
 * nanosecond times) as records that frameOf can rebuild: IPv4 and IPv6 with TCP, UDP, ICMP
 * and ICMPv6 keep their fields; other protocols become portless ESP; tunnel ports are moved.
 * Real addresses, ports, sizes and timing, without a decoder.
 */
export function recordsFromPcap(file: Uint8Array): TimedRecord[] {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = v.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const out: TimedRecord[] = [];
  let at = 24;
  while (at + 16 <= file.length) {
    const sec = v.getUint32(at, le);
    const frac = v.getUint32(at + 4, le);
    const caplen = v.getUint32(at + 8, le);
    const origLen = v.getUint32(at + 12, le);
    const f = file.subarray(at + 16, at + 16 + caplen);
    at += 16 + caplen;
    let p = 12;
    let ethertype = f.length >= 14 ? (f[12] << 8) | f[13] : 0;
    while ((ethertype === 0x8100 || ethertype === 0x88a8) && f.length >= p + 6) {
      p += 4;
      ethertype = (f[p] << 8) | f[p + 1];
    }
    p += 2;
    const r = emptyRecord();
    r.tsNs = BigInt(sec) * 1_000_000_000n + BigInt(nano ? frac : frac * 1000);
    let l4 = -1;
    if (ethertype === 0x0800 && f.length >= p + 20) {
      r.srcFamily = 4;
      r.dstFamily = 4;
      r.src[10] = r.src[11] = r.dst[10] = r.dst[11] = 0xff;
      r.src.set(f.subarray(p + 12, p + 16), 12);
      r.dst.set(f.subarray(p + 16, p + 20), 12);
      r.proto = f[p + 9];
      const fragment = ((f[p + 6] << 8) | f[p + 7]) & 0x3fff;
      if (fragment === 0) l4 = p + (f[p] & 0x0f) * 4;
    } else if (ethertype === 0x86dd && f.length >= p + 40) {
      r.srcFamily = 6;
      r.dstFamily = 6;
      r.src.set(f.subarray(p + 8, p + 24));
      r.dst.set(f.subarray(p + 24, p + 40));
      r.proto = f[p + 6];
      l4 = p + 40;
    } else {
      r.ethertype = ethertype;
    }
    if (r.srcFamily !== 0) {
      const ports = l4 >= 0 && f.length >= l4 + 4;
      if ((r.proto === 6 || r.proto === 17) && ports) {
        r.srcPort = (f[l4] << 8) | f[l4 + 1];
        r.dstPort = (f[l4 + 2] << 8) | f[l4 + 3];
        if (TUNNEL_PORTS.includes(r.srcPort)) r.srcPort += 1;
        if (TUNNEL_PORTS.includes(r.dstPort)) r.dstPort += 1;
      } else if ((r.proto === 1 || r.proto === 58) && ports) {
        r.dstPort = (f[l4] << 8) | f[l4 + 1];
      } else {
        r.proto = 50;
      }
    }
    r.wireLen = Math.max(origLen, frameOf(r).length);
    out.push({ r, hasTs: true });
  }
  return out;
}
