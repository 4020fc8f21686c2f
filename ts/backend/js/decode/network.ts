// IPv4 (options, fragments) and IPv6 (extension header chain, fragments, routing headers)
// (crates/core/src/decode/network.rs). Every function decodes `b[s..e]`.
import type { Addr } from '../addr.js';
import { RecordFlag } from '../record.js';
import type { Decoded } from './decoded.js';
import { be16 } from './link.js';
import { malformed, Proto, truncated } from './problem.js';
import { transport } from './transport.js';

const IPV4_MF = 0x2000;
const IPV4_OFFSET_MASK = 0x1fff;

/** Raw IP link types: the version nibble decides. */
export function rawIp(b: Uint8Array, s: number, e: number, out: Decoded): void {
  if (s >= e) {
    out.problem = truncated(Proto.Ipv4);
    return;
  }
  const v = b[s] >> 4;
  if (v === 4) ipv4(b, s, e, out);
  else if (v === 6) ipv6(b, s, e, out);
  else out.problem = malformed(Proto.Ipv4, 'raw IP version is neither 4 nor 6', v);
}

export function ipv4(b: Uint8Array, s: number, e: number, out: Decoded): void {
  const len = e - s;
  if (len < 20) {
    out.problem = truncated(Proto.Ipv4);
    return;
  }
  const version = b[s] >> 4;
  if (version !== 4) {
    out.problem = malformed(Proto.Ipv4, 'version is not 4', version);
    return;
  }
  const headerLen = (b[s] & 0x0f) * 4;
  if (headerLen < 20) {
    out.problem = malformed(Proto.Ipv4, 'header length under 20 bytes', headerLen);
    return;
  }
  if (len < headerLen) {
    out.problem = truncated(Proto.Ipv4);
    return;
  }
  const totalLen = be16(b, s + 2);
  // Total length 0 is what TSO/BIG TCP captures carry: the datagram is the rest of the frame.
  let end: number;
  if (totalLen === 0) {
    end = e;
  } else if (totalLen < headerLen) {
    out.problem = malformed(Proto.Ipv4, 'total length shorter than the header', totalLen);
    return;
  } else {
    end = s + Math.min(totalLen, len);
  }
  const frag = be16(b, s + 6);
  const offset = frag & IPV4_OFFSET_MASK;
  let flags = 0;
  if (frag & IPV4_MF || offset !== 0) {
    flags |= RecordFlag.Fragment;
    if (offset === 0) flags |= RecordFlag.FirstFragment;
  }
  const l = out.push();
  if (!l) return;
  l.src.setV4(b, s + 12);
  l.dst.setV4(b, s + 16);
  l.flowDst.setV4(b, s + 16);
  l.proto = b[s + 9];
  l.dscp = b[s + 1] >> 2;
  l.flags = flags;
  l.fragId = be16(b, s + 4);
  if (offset === 0) transport(b, s + headerLen, end, out);
}

export function ipv6(b: Uint8Array, s: number, e: number, out: Decoded): void {
  if (e - s < 40) {
    out.problem = truncated(Proto.Ipv6);
    return;
  }
  const version = b[s] >> 4;
  if (version !== 6) {
    out.problem = malformed(Proto.Ipv6, 'version is not 6', version);
    return;
  }
  const payloadLen = be16(b, s + 4);
  // Payload length 0 means a jumbogram or a GSO capture: the datagram is the rest of the frame.
  const end = payloadLen === 0 ? e : Math.min(s + 40 + payloadLen, e);
  const top = out.push();
  if (!top) return;
  top.src.setV6(b, s + 8);
  top.dst.setV6(b, s + 24);
  top.flowDst.copyFrom(top.dst);
  // Traffic class: the low nibble of byte 0 and the high one of byte 1.
  top.dscp = ((b[s] & 0x0f) << 2) | (b[s + 1] >> 6);
  let next = b[s + 6];
  top.proto = next;
  let r = s + 40;
  for (;;) {
    const rest = end - r;
    switch (next) {
      // Hop-by-hop, destination options, mobility, HIP, shim6, experimental: (next, len*8+8).
      case 0:
      case 60:
      case 135:
      case 139:
      case 140:
      case 253:
      case 254: {
        const len = extLen(b, r, end, out);
        if (len < 0) return;
        next = b[r];
        r += len;
        break;
      }
      // Authentication header: its length is in 4-octet units, minus 2.
      case 51: {
        if (rest < 2) {
          out.problem = truncated(Proto.Ipv6Ext);
          return;
        }
        const len = (b[r + 1] + 2) * 4;
        if (rest < len) {
          out.problem = truncated(Proto.Ipv6Ext);
          return;
        }
        next = b[r];
        r += len;
        break;
      }
      case 43: {
        const len = extLen(b, r, end, out);
        if (len < 0) return;
        if (routingFinalDestination(b, r, len, top.flowDst)) top.routed = true;
        next = b[r];
        r += len;
        break;
      }
      case 44: {
        if (rest < 8) {
          out.problem = truncated(Proto.Ipv6Ext);
          return;
        }
        const offFlags = be16(b, r + 2);
        const offset = offFlags >> 3;
        const more = (offFlags & 1) !== 0;
        next = b[r];
        top.proto = next;
        top.fragId = ((b[r + 4] << 24) | (b[r + 5] << 16) | (b[r + 6] << 8) | b[r + 7]) >>> 0;
        // An atomic fragment (offset 0, no more) is a whole datagram.
        if (offset !== 0 || more) {
          top.flags |= RecordFlag.Fragment;
          if (offset === 0) top.flags |= RecordFlag.FirstFragment;
          else return;
        }
        r += 8;
        break;
      }
      default:
        top.proto = next;
        transport(b, r, end, out);
        return;
    }
    top.proto = next;
  }
}

/**
 * Length of a generic extension header (`(hdr_ext_len + 1) * 8` bytes) at `b[r..end]`, checked
 * against the bytes left; -1 (and a problem) when it does not fit.
 */
function extLen(b: Uint8Array, r: number, end: number, out: Decoded): number {
  if (end - r < 2) {
    out.problem = truncated(Proto.Ipv6Ext);
    return -1;
  }
  const len = (b[r + 1] + 1) * 8;
  if (end - r < len) {
    out.problem = truncated(Proto.Ipv6Ext);
    return -1;
  }
  return len;
}

/**
 * The final destination named by a routing header (`b[h..h+len]`) with segments left: the last
 * address of a type 0 or type 2 header, the first segment (Segment List[0]) of a segment routing
 * header. Written into `flowDst` when there is one (then true).
 */
function routingFinalDestination(b: Uint8Array, h: number, len: number, flowDst: Addr): boolean {
  const kind = b[h + 2];
  const segmentsLeft = b[h + 3];
  if (segmentsLeft === 0) return false;
  const count = Math.floor((len - 8) / 16);
  if (count === 0) return false;
  let index: number;
  if (kind === 0 || kind === 2) index = count - 1;
  else if (kind === 4) index = 0;
  else return false;
  flowDst.setV6(b, h + 8 + index * 16);
  return true;
}
