// The result of decoding one frame (crates/core/src/decode/mod.rs `Decoded`, `Layer`): reused
// across frames, so decoding allocates nothing. Every IP header met is a Layer, outermost first;
// the innermost is the packet's flow, the ones before it the tunnels that carried it.
import { Addr, copy16 } from '../addr.js';
import { RecordFlag, type PacketRecord } from '../record.js';
import { malformed, Proto, ProblemKind, type Problem } from './problem.js';

/** Most IP layers kept per frame (so at most three tunnels deep). */
export const MAX_LAYERS = 4;

export const enum TunnelKind {
  None = 0,
  IpInIp = 1,
  Ipv6InIp = 2,
  Gre = 3,
  Vxlan = 4,
  Geneve = 5,
  Teredo = 6,
  GtpU = 7,
}

const TUNNEL_NAMES = ['none', 'ipip', '6in4', 'gre', 'vxlan', 'geneve', 'teredo', 'gtp-u'];

/** The core's TunnelKind::from_u8(v).name(): unknown values are "none". */
export function tunnelName(v: number): string {
  return TUNNEL_NAMES[v] ?? 'none';
}

/** Copies an address into record bytes that held one of family `had`. */
function copyAddr(to: Uint8Array, had: number, from: Addr): void {
  const b = from.bytes;
  if (had === 4 && from.family === 4) {
    // Both IPv4-mapped: only the last four bytes can differ.
    to[12] = b[12];
    to[13] = b[13];
    to[14] = b[14];
    to[15] = b[15];
  } else {
    copy16(to, b);
  }
}

const TOO_DEEP = malformed(Proto.Tunnel, 'tunnels nested deeper than 3');

/** One IP header of a frame, with the transport header that follows it when there is one. */
export class Layer {
  readonly src = new Addr();
  /** Destination in the IP header. */
  readonly dst = new Addr();
  /** The IP header's destination, or the final one named by an IPv6 routing header. */
  readonly flowDst = new Addr();
  /** IP protocol number after extension headers. */
  proto = 0;
  srcPort = 0;
  dstPort = 0;
  tcpFlags = 0;
  /** Differentiated Services code point: IPv4 TOS or IPv6 traffic class, upper six bits. */
  dscp = 0;
  /** RecordFlag bits of this layer (Fragment, FirstFragment, HasPorts). */
  flags = 0;
  /** The tunnel this layer carries (its payload is the next layer). */
  carries: TunnelKind = TunnelKind.None;
  /** IPv4 identification or IPv6 fragment identification. */
  fragId = 0;
  /** An IPv6 routing header named a final destination (flowDst may differ from dst). */
  routed = false;
}

export class Decoded {
  readonly layers: Layer[] = [new Layer(), new Layer(), new Layer(), new Layer()];
  /** Layers in use: layers[0..len]. */
  len = 0;
  /** Outermost VLAN id, 0 when untagged. */
  vlan = 0;
  /** Ethertype of a frame that carries no IP (ARP, ...); 0 otherwise or for 802.3/LLC frames. */
  ethertype = 0;
  /** Why decoding stopped early, if it did. */
  problem: Problem | null = null;

  reset(): void {
    this.len = 0;
    this.vlan = 0;
    this.ethertype = 0;
    this.problem = null;
  }

  /** Starts a new, cleared layer (addresses left to the caller); null (and a problem) when the frame nests too deep. */
  push(): Layer | null {
    if (this.len === MAX_LAYERS) {
      this.problem = TOO_DEEP;
      return null;
    }
    const l = this.layers[this.len++];
    l.proto = 0;
    l.srcPort = 0;
    l.dstPort = 0;
    l.tcpFlags = 0;
    l.dscp = 0;
    l.flags = 0;
    l.carries = TunnelKind.None;
    l.fragId = 0;
    l.routed = false;
    return l;
  }

  top(): Layer {
    return this.layers[this.len - 1];
  }

  /** Fills the packet record from the innermost layer (every field is written). */
  fillRecord(r: PacketRecord, tsNs: bigint, wireLen: number, capLen: number, iface: number): void {
    r.tsNs = tsNs;
    r.wireLen = wireLen;
    r.capLen = capLen;
    r.interface = iface & 0xffff;
    r.vlan = this.vlan;
    r.ethertype = this.ethertype;
    if (this.len > 0) {
      const l = this.layers[this.len - 1];
      copyAddr(r.src, r.srcFamily, l.src);
      r.srcFamily = l.src.family;
      copyAddr(r.dst, r.dstFamily, l.flowDst);
      r.dstFamily = l.flowDst.family;
      r.proto = l.proto;
      r.srcPort = l.srcPort;
      r.dstPort = l.dstPort;
      r.tcpFlags = l.tcpFlags;
      r.dscp = l.dscp;
      r.flags = l.flags;
      if (this.len > 1) {
        r.flags |= RecordFlag.Tunnelled;
        r.tunnel = this.layers[0].carries;
      } else {
        r.tunnel = 0;
      }
    } else {
      r.srcFamily = 0;
      r.src.fill(0);
      r.dstFamily = 0;
      r.dst.fill(0);
      r.proto = 0;
      r.srcPort = 0;
      r.dstPort = 0;
      r.tcpFlags = 0;
      r.dscp = 0;
      r.flags = 0;
      r.tunnel = 0;
    }
    const p = this.problem;
    if (p) {
      if (p.kind === ProblemKind.Truncated) r.flags |= RecordFlag.Truncated;
      else if (p.kind === ProblemKind.Malformed) r.flags |= RecordFlag.Malformed;
    }
  }
}
