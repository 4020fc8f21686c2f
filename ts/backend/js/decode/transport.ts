// Transport headers (crates/core/src/decode/transport.rs): TCP, UDP (and the tunnels it carries),
// SCTP, ICMP, ICMPv6, IP-in-IP, GRE. Every function decodes `b[s..e]`.
import { RecordFlag } from '../record.js';
import { TunnelKind, type Decoded } from './decoded.js';
import { be16 } from './link.js';
import { ipv4, ipv6 } from './network.js';
import { malformed, Proto, truncated } from './problem.js';
import { gre, udpTunnel } from './tunnel.js';

const IPPROTO_ICMP = 1;
const IPPROTO_IPIP = 4;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_DCCP = 33;
const IPPROTO_IPV6 = 41;
const IPPROTO_GRE = 47;
const IPPROTO_ICMPV6 = 58;
const IPPROTO_SCTP = 132;
const IPPROTO_UDPLITE = 136;

/** Decodes the payload of the innermost IP layer according to its protocol number. */
export function transport(b: Uint8Array, s: number, e: number, out: Decoded): void {
  const top = out.top();
  const proto = top.proto;
  switch (proto) {
    case IPPROTO_TCP:
      return tcp(b, s, e, out);
    case IPPROTO_UDP:
    case IPPROTO_UDPLITE:
      return udp(b, s, e, proto, out);
    case IPPROTO_SCTP:
    case IPPROTO_DCCP:
      if (ports(b, s, e, out) && e - s < 12) out.problem = truncated(proto === IPPROTO_SCTP ? Proto.Sctp : Proto.Tcp);
      return;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
      if (e - s < 4) {
        out.problem = truncated(proto === IPPROTO_ICMP ? Proto.Icmp : Proto.Icmpv6);
        return;
      }
      // NetFlow's convention: type and code in the destination port.
      top.dstPort = be16(b, s);
      return;
    // Tunnels: the carrier stays the innermost layer when no inner IP layer comes out.
    case IPPROTO_IPIP: {
      const depth = out.len;
      top.carries = TunnelKind.IpInIp;
      ipv4(b, s, e, out);
      if (out.len === depth) top.carries = TunnelKind.None;
      return;
    }
    case IPPROTO_IPV6: {
      const depth = out.len;
      top.carries = TunnelKind.Ipv6InIp;
      ipv6(b, s, e, out);
      if (out.len === depth) top.carries = TunnelKind.None;
      return;
    }
    case IPPROTO_GRE: {
      const depth = out.len;
      top.carries = TunnelKind.Gre;
      gre(b, s, e, out);
      if (out.len === depth) top.carries = TunnelKind.None;
      return;
    }
    default:
  }
}

/** Reads source and destination ports from the first four bytes; false (and a problem) when they are not there. */
function ports(b: Uint8Array, s: number, e: number, out: Decoded): boolean {
  const top = out.top();
  if (e - s < 4) {
    const p = top.proto === IPPROTO_TCP ? Proto.Tcp : top.proto === IPPROTO_SCTP ? Proto.Sctp : Proto.Udp;
    out.problem = truncated(p);
    return false;
  }
  top.srcPort = be16(b, s);
  top.dstPort = be16(b, s + 2);
  top.flags |= RecordFlag.HasPorts;
  return true;
}

function tcp(b: Uint8Array, s: number, e: number, out: Decoded): void {
  // Ports count only with a whole, valid header (as tshark does): a cut or bogus header says
  // nothing reliable about the connection.
  if (e - s < 20) {
    out.problem = truncated(Proto.Tcp);
    return;
  }
  const headerLen = (b[s + 12] >> 4) * 4;
  if (headerLen < 20) {
    out.problem = malformed(Proto.Tcp, 'header length under 20 bytes', headerLen);
    return;
  }
  if (e - s < headerLen) {
    out.problem = truncated(Proto.Tcp);
    return;
  }
  ports(b, s, e, out);
  out.top().tcpFlags = b[s + 13];
}

function udp(b: Uint8Array, s: number, e: number, proto: number, out: Decoded): void {
  if (!ports(b, s, e, out)) return;
  if (e - s < 8) {
    out.problem = truncated(Proto.Udp);
    return;
  }
  if (proto !== IPPROTO_UDP) return;
  const len = be16(b, s + 4);
  // A length under 8 (or 0, as in jumbograms) is not trusted: use what was captured.
  const pe = len >= 8 ? s + Math.min(len, e - s) : e;
  const top = out.top();
  udpTunnel(top.srcPort, top.dstPort, b, s + 8, pe, out);
}
