// Packet decode (crates/core/src/decode/mod.rs): link -> network -> transport, tunnels included.
// It never fails: a frame is decoded as far as its bytes allow, and why it stopped is recorded as
// a Problem the caller counts. Layers inside ICMP error payloads are not decoded, as tshark does.
import type { Decoded } from './decoded.js';
import { decodeLink } from './link.js';

export { Decoded, Layer, MAX_LAYERS, TunnelKind, tunnelName } from './decoded.js';
export { compareProblems, DecodeStats, kindName, problemText, protoName, ProblemKind, type Problem } from './problem.js';

/** Decodes the frame `b[start..end]` of the given link type into `out` (reused). */
export function decode(b: Uint8Array, start: number, end: number, linkType: number, out: Decoded): void {
  out.reset();
  decodeLink(b, start, end, linkType, out);
}
