// PackedKey (crates/core/src/sketch/key.rs): the selected fields of a packet record as bytes,
// in the order SrcIP, DstIP, SrcPort, DstPort, Protocol: an address as its family byte and 16
// bytes, a port as 2 bytes big-endian, the protocol as 1 byte. Keys live in caller-owned byte
// arrays (no object per key); this module packs, compares and prints them.

import { addrText } from '../addr.js';
import { ipProtoName } from '../../../shared/index.js';
import type { PacketRecord } from '../record.js';
import { DST_IP, DST_PORT, PROTOCOL, SRC_IP, SRC_PORT } from './key-fields.js';

export const MAX_KEY = 39;

/** Packs the `fields` of `r` into `out` at `at`; returns the key length. */
export function packKey(r: PacketRecord, fields: number, out: Uint8Array, at: number): number {
  const start = at;
  if (fields & SRC_IP) {
    out[at] = r.srcFamily;
    const a = r.src;
    for (let i = 0; i < 16; i++) out[at + 1 + i] = a[i];
    at += 17;
  }
  if (fields & DST_IP) {
    out[at] = r.dstFamily;
    const a = r.dst;
    for (let i = 0; i < 16; i++) out[at + 1 + i] = a[i];
    at += 17;
  }
  if (fields & SRC_PORT) {
    out[at] = r.srcPort >>> 8;
    out[at + 1] = r.srcPort & 0xff;
    at += 2;
  }
  if (fields & DST_PORT) {
    out[at] = r.dstPort >>> 8;
    out[at + 1] = r.dstPort & 0xff;
    at += 2;
  }
  if (fields & PROTOCOL) {
    out[at] = r.proto;
    at += 1;
  }
  return at - start;
}

/** Lexicographic order of two byte strings (a proper prefix is smaller), as slices compare. */
export function compareBytes(a: Uint8Array, aAt: number, aLen: number, b: Uint8Array, bAt: number, bLen: number): number {
  const n = aLen < bLen ? aLen : bLen;
  for (let i = 0; i < n; i++) {
    const d = a[aAt + i] - b[bAt + i];
    if (d !== 0) return d;
  }
  return aLen - bLen;
}

export function sameBytes(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

/** A key's fields, each present when the key holds it (key.rs KeyParts). */
export interface KeyParts {
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  proto?: number;
}

/** The fields back out of `len` key bytes at `at` (`fields` must be the ones it was packed with). */
export function keyParts(b: Uint8Array, at: number, len: number, fields: number): KeyParts {
  const end = at + len;
  let p = at;
  const parts: KeyParts = {};
  const addr = (): string | undefined => {
    const a = p + 17 <= end ? addrText(b[p], b, p + 1) : undefined;
    p += 17;
    return a;
  };
  const port = (): number | undefined => {
    const v = p + 2 <= end ? (b[p] << 8) | b[p + 1] : undefined;
    p += 2;
    return v;
  };
  if (fields & SRC_IP) parts.src = addr();
  if (fields & DST_IP) parts.dst = addr();
  if (fields & SRC_PORT) parts.srcPort = port();
  if (fields & DST_PORT) parts.dstPort = port();
  if (fields & PROTOCOL && p < end) parts.proto = b[p];
  return parts;
}

/** Human text of a key for its fields, e.g. "10.0.0.1 443 TCP". */
export function keyText(b: Uint8Array, at: number, len: number, fields: number): string {
  const p = keyParts(b, at, len, fields);
  const out: string[] = [];
  if (p.src !== undefined) out.push(p.src);
  if (p.dst !== undefined) out.push(p.dst);
  if (p.srcPort !== undefined) out.push(String(p.srcPort));
  if (p.dstPort !== undefined) out.push(String(p.dstPort));
  if (p.proto !== undefined) out.push(ipProtoName(p.proto) ?? String(p.proto));
  return out.join(' ');
}
