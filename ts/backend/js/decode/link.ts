// Link layers (crates/core/src/decode/link.rs): Ethernet (VLAN tags, MPLS, PPPoE), Linux cooked
// (SLL, SLL2), BSD loopback, PPP, raw IP. Every function decodes `b[s..e]`.
import type { Decoded } from './decoded.js';
import { ipv4, ipv6, rawIp } from './network.js';
import { Proto, truncated, unsupported } from './problem.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
const ETHERTYPE_QINQ_OLD2 = 0x9200;
const ETHERTYPE_MPLS = 0x8847;
const ETHERTYPE_MPLS_MULTICAST = 0x8848;
const ETHERTYPE_PPPOE_SESSION = 0x8864;

const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;
const PPP_MPLS = 0x0281;
const PPP_MPLS_MULTICAST = 0x0283;

/** LINKTYPE_* values understood by the decoder. */
export const enum LinkType {
  Null = 0,
  Ethernet = 1,
  Ppp = 9,
  RawOpenBsd = 12,
  PppHdlc = 50,
  Raw = 101,
  Loop = 108,
  LinuxSll = 113,
  Ipv4 = 228,
  Ipv6 = 229,
  LinuxSll2 = 276,
}

export function be16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

export function decodeLink(b: Uint8Array, s: number, e: number, linkType: number, out: Decoded): void {
  switch (linkType) {
    case LinkType.Ethernet:
      return ethernet(b, s, e, out);
    case LinkType.Raw:
    case LinkType.RawOpenBsd:
      return rawIp(b, s, e, out);
    case LinkType.Ipv4:
      return ipv4(b, s, e, out);
    case LinkType.Ipv6:
      return ipv6(b, s, e, out);
    case LinkType.Null:
      return nullLink(b, s, e, false, out);
    case LinkType.Loop:
      return nullLink(b, s, e, true, out);
    case LinkType.Ppp:
    case LinkType.PppHdlc:
      return ppp(b, s, e, out);
    case LinkType.LinuxSll:
      if (e - s < 16) {
        out.problem = truncated(Proto.LinuxSll);
        return;
      }
      return ethertype(be16(b, s + 14), b, s + 16, e, out);
    case LinkType.LinuxSll2:
      if (e - s < 20) {
        out.problem = truncated(Proto.LinuxSll);
        return;
      }
      return ethertype(be16(b, s), b, s + 20, e, out);
    default:
      out.problem = unsupported(Proto.LinkType, 'link type not supported', linkType);
  }
}

/** Ethernet II or 802.3; also the payload of VXLAN, Geneve, GRE bridging and pseudowires. */
export function ethernet(b: Uint8Array, s: number, e: number, out: Decoded): void {
  if (e - s < 14) {
    out.problem = truncated(Proto.Ethernet);
    return;
  }
  const et = be16(b, s + 12);
  if (et <= 1500) {
    // 802.3 length field: LLC follows; SNAP may still carry an ethertype.
    const llc = s + 14;
    if (e - llc >= 8 && b[llc] === 0xaa && b[llc + 1] === 0xaa && b[llc + 2] === 0x03) {
      ethertype(be16(b, llc + 6), b, llc + 8, e, out);
    }
    return;
  }
  ethertype(et, b, s + 14, e, out);
}

/** Dispatches on an ethertype, walking any depth of VLAN tags. */
export function ethertype(et: number, b: Uint8Array, s: number, e: number, out: Decoded): void {
  for (;;) {
    switch (et) {
      case ETHERTYPE_IPV4:
        return ipv4(b, s, e, out);
      case ETHERTYPE_IPV6:
        return ipv6(b, s, e, out);
      case ETHERTYPE_VLAN:
      case ETHERTYPE_QINQ:
      case ETHERTYPE_QINQ_OLD:
      case ETHERTYPE_QINQ_OLD2:
        if (e - s < 4) {
          out.problem = truncated(Proto.Vlan);
          return;
        }
        if (out.vlan === 0 && out.len === 0) out.vlan = be16(b, s) & 0x0fff;
        et = be16(b, s + 2);
        s += 4;
        if (et <= 1500) return; // 802.3/LLC inside the tag (STP, CDP, ...)
        break;
      case ETHERTYPE_MPLS:
      case ETHERTYPE_MPLS_MULTICAST:
        return mpls(b, s, e, out);
      case ETHERTYPE_PPPOE_SESSION:
        if (e - s < 8) {
          out.problem = truncated(Proto.Pppoe);
          return;
        }
        return pppProtocol(be16(b, s + 6), b, s + 8, e, out);
      default:
        if (out.len === 0) out.ethertype = et;
        return;
    }
  }
}

/** An MPLS label stack, then IPv4, IPv6 or an Ethernet pseudowire with a control word. */
export function mpls(b: Uint8Array, s: number, e: number, out: Decoded): void {
  for (;;) {
    if (e - s < 4) {
      out.problem = truncated(Proto.Mpls);
      return;
    }
    const bottom = (b[s + 2] & 1) !== 0;
    s += 4;
    if (bottom) break;
  }
  if (s >= e) {
    out.problem = truncated(Proto.Mpls);
    return;
  }
  const nibble = b[s] >> 4;
  if (nibble === 4) ipv4(b, s, e, out);
  else if (nibble === 6) ipv6(b, s, e, out);
  else if (nibble === 0 && e - s >= 4) ethernet(b, s + 4, e, out);
  else out.problem = unsupported(Proto.Mpls, 'payload is not IP or an Ethernet pseudowire', nibble);
}

/** BSD loopback: a 4-byte address family, in host byte order (NULL) or network order (LOOP). */
function nullLink(b: Uint8Array, s: number, e: number, networkOrder: boolean, out: Decoded): void {
  if (e - s < 4) {
    out.problem = truncated(Proto.Null);
    return;
  }
  const le = (b[s] | (b[s + 1] << 8) | (b[s + 2] << 16) | (b[s + 3] << 24)) >>> 0;
  const be = ((b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3]) >>> 0;
  let af = networkOrder ? be : le;
  // Written on a host of the other byte order: the bytes swapped.
  if (af > 0xffff) af = networkOrder ? le : be;
  switch (af) {
    case 2:
      return ipv4(b, s + 4, e, out);
    case 10:
    case 24:
    case 28:
    case 30:
      return ipv6(b, s + 4, e, out);
    default:
      out.problem = unsupported(Proto.Null, 'address family not IP', af);
  }
}

/** A PPP frame, with or without the HDLC address/control bytes. */
export function ppp(b: Uint8Array, s: number, e: number, out: Decoded): void {
  if (e - s >= 2 && b[s] === 0xff && b[s + 1] === 0x03) s += 2;
  if (s >= e) {
    out.problem = truncated(Proto.Ppp);
    return;
  }
  const first = b[s];
  // Protocol-field compression: an odd first byte is a one-byte protocol.
  if (first & 1) return pppProtocol(first, b, s + 1, e, out);
  if (e - s < 2) {
    out.problem = truncated(Proto.Ppp);
    return;
  }
  pppProtocol(be16(b, s), b, s + 2, e, out);
}

function pppProtocol(protocol: number, b: Uint8Array, s: number, e: number, out: Decoded): void {
  switch (protocol) {
    case PPP_IPV4:
      return ipv4(b, s, e, out);
    case PPP_IPV6:
      return ipv6(b, s, e, out);
    case PPP_MPLS:
    case PPP_MPLS_MULTICAST:
      return mpls(b, s, e, out);
    default:
    // LCP, IPCP, CHAP, ...: link control, not IP traffic
  }
}
