// Tunnels (crates/core/src/decode/tunnel.rs): each keeps its carrier as an outer layer and decodes
// the payload as a new layer. Every function decodes `b[s..e]`.
import { TunnelKind, type Decoded } from './decoded.js';
import { be16, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ethernet, ethertype, mpls, ppp } from './link.js';
import { ipv4, ipv6 } from './network.js';
import { malformed, Proto, truncated, unsupported } from './problem.js';

const UDP_PORT_VXLAN = 4789;
const UDP_PORT_GENEVE = 6081;
const UDP_PORT_TEREDO = 3544;
const UDP_PORT_GTPU = 2152;

const GRE_CHECKSUM = 0x8000;
const GRE_ROUTING = 0x4000;
const GRE_KEY = 0x2000;
const GRE_SEQUENCE = 0x1000;
const GRE_ACK = 0x0080;
const GRE_PROTO_BRIDGING = 0x6558;
const GRE_PROTO_PPP = 0x880b;
const GRE_PROTO_ERSPAN2 = 0x88be;
const GRE_PROTO_ERSPAN3 = 0x22eb;
const GRE_PROTO_CISCO_METADATA = 0x8909;
const GRE_PROTO_MPLS = 0x8847;

/** Payload decoders a tunnel can hand over to. */
const enum Inner {
  Ethernet,
  Ipv4,
  Ipv6,
  Ethertype,
}

/**
 * Marks the innermost layer as carrying `kind` and decodes the payload; if no inner IP layer came
 * out of it (not IP, or unusable), the carrier stays the innermost layer.
 */
function enter(kind: TunnelKind, inner: Inner, et: number, b: Uint8Array, s: number, e: number, out: Decoded): void {
  const depth = out.len;
  const carrier = out.top();
  carrier.carries = kind;
  switch (inner) {
    case Inner.Ethernet:
      ethernet(b, s, e, out);
      break;
    case Inner.Ipv4:
      ipv4(b, s, e, out);
      break;
    case Inner.Ipv6:
      ipv6(b, s, e, out);
      break;
    case Inner.Ethertype:
      ethertype(et, b, s, e, out);
      break;
  }
  if (out.len === depth) carrier.carries = TunnelKind.None;
}

/** UDP-borne tunnels, recognised by port and a sane header; anything else stays plain UDP. */
export function udpTunnel(sport: number, dport: number, b: Uint8Array, s: number, e: number, out: Decoded): void {
  const len = e - s;
  if (sport === UDP_PORT_VXLAN || dport === UDP_PORT_VXLAN) {
    // Flags byte with the I bit set, then 3 reserved bytes, VNI and a reserved byte.
    if (len >= 8 && b[s] & 0x08) enter(TunnelKind.Vxlan, Inner.Ethernet, 0, b, s + 8, e, out);
  } else if (sport === UDP_PORT_GENEVE || dport === UDP_PORT_GENEVE) {
    if (len >= 8 && b[s] >> 6 === 0) {
      const headerLen = 8 + (b[s] & 0x3f) * 4;
      const protocol = be16(b, s + 2);
      if (len >= headerLen) {
        if (protocol === GRE_PROTO_BRIDGING) enter(TunnelKind.Geneve, Inner.Ethernet, 0, b, s + headerLen, e, out);
        else enter(TunnelKind.Geneve, Inner.Ethertype, protocol, b, s + headerLen, e, out);
      } else {
        out.problem = truncated(Proto.Geneve);
      }
    }
  } else if (sport === UDP_PORT_GTPU || dport === UDP_PORT_GTPU) {
    gtpu(b, s, e, out);
  } else if (sport === UDP_PORT_TEREDO || dport === UDP_PORT_TEREDO) {
    teredo(b, s, e, out);
  }
}

/** GRE version 0 (RFC 2784/2890) and version 1 (PPTP's enhanced GRE, RFC 2637). */
export function gre(b: Uint8Array, s: number, e: number, out: Decoded): void {
  if (e - s < 4) {
    out.problem = truncated(Proto.Gre);
    return;
  }
  const flags = be16(b, s);
  const version = flags & 7;
  const protocol = be16(b, s + 2);
  if (version > 1) {
    out.problem = unsupported(Proto.Gre, 'GRE version', version);
    return;
  }
  if (flags & GRE_ROUTING) {
    out.problem = unsupported(Proto.Gre, 'GRE source routing', 1);
    return;
  }
  let len = 4;
  if (flags & GRE_CHECKSUM) len += 4;
  if (flags & GRE_KEY) len += 4;
  if (flags & GRE_SEQUENCE) len += 4;
  if (version === 1 && flags & GRE_ACK) len += 4;
  if (e - s < len) {
    out.problem = truncated(Proto.Gre);
    return;
  }
  const p = s + len;
  const plen = e - p;
  switch (protocol) {
    case GRE_PROTO_BRIDGING:
      return ethernet(b, p, e, out);
    case GRE_PROTO_PPP:
      return ppp(b, p, e, out);
    case GRE_PROTO_MPLS:
      return mpls(b, p, e, out);
    case GRE_PROTO_ERSPAN2:
      // ERSPAN type II: an 8-byte header, then the mirrored frame (type I has none).
      if (!(flags & GRE_SEQUENCE)) return ethernet(b, p, e, out);
      if (plen >= 8) return ethernet(b, p + 8, e, out);
      break;
    case GRE_PROTO_ERSPAN3:
      // ERSPAN type III: 12 bytes, plus an 8-byte platform sub-header when the O bit is set.
      if (plen >= 12) {
        const skip = b[p + 11] & 1 ? 20 : 12;
        if (plen >= skip) ethernet(b, p + skip, e, out);
        return;
      }
      break;
    case GRE_PROTO_CISCO_METADATA:
      // Cisco MetaData in GRE: the inner ethertype, version, length, option, SGT (8 bytes).
      if (plen >= 8) return ethertype(be16(b, p), b, p + 8, e, out);
      break;
    case ETHERTYPE_IPV4:
    case ETHERTYPE_IPV6:
    default:
  }
  ethertype(protocol, b, p, e, out);
}

/** GTP-U (3GPP TS 29.281): G-PDU messages carry user IP packets. */
function gtpu(b: Uint8Array, s: number, e: number, out: Decoded): void {
  const dlen = e - s;
  if (dlen < 8 || b[s] >> 5 !== 1 || (b[s] & 0x10) === 0 || b[s + 1] !== 0xff) {
    return; // not a version-1 G-PDU: signalling or another protocol on the port
  }
  let len = 8;
  if (b[s] & 0x07) {
    if (dlen < 12) {
      out.problem = truncated(Proto.GtpU);
      return;
    }
    let next = b[s + 11];
    len = 12;
    while (next !== 0) {
      if (len >= dlen) {
        out.problem = truncated(Proto.GtpU);
        return;
      }
      const ext = b[s + len] * 4;
      if (ext === 0) {
        out.problem = malformed(Proto.GtpU, 'extension header of length 0');
        return;
      }
      if (dlen < len + ext) {
        out.problem = truncated(Proto.GtpU);
        return;
      }
      next = b[s + len + ext - 1];
      len += ext;
    }
  }
  const inner = s + len;
  if (inner >= e) return;
  const v = b[inner] >> 4;
  if (v === 4) enter(TunnelKind.GtpU, Inner.Ipv4, 0, b, inner, e, out);
  else if (v === 6) enter(TunnelKind.GtpU, Inner.Ipv6, 0, b, inner, e, out);
}

/** Teredo (RFC 4380): optional authentication and origin indication, then IPv6. */
function teredo(b: Uint8Array, s: number, e: number, out: Decoded): void {
  if (e - s >= 4 && b[s] === 0 && b[s + 1] === 1) {
    const len = 4 + b[s + 2] + b[s + 3] + 9;
    if (e - s < len) return;
    s += len;
  }
  if (e - s >= 8 && b[s] === 0 && b[s + 1] === 0) s += 8;
  if (e - s >= 40 && b[s] >> 4 === 6) enter(TunnelKind.Teredo, Inner.Ipv6, 0, b, s, e, out);
}
