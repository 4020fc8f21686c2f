// One address form for both IP families, as in the core (crates/core/src/addr.rs): 16 bytes plus
// an explicit family. IPv4 is stored IPv4-mapped, never equals the IPv6 address ::ffff:a.b.c.d,
// and always prints as a dotted quad.
import type { Family } from './record.js';

export class Addr {
  family: Family = 0;
  readonly bytes = new Uint8Array(16);

  /** Reads 4 bytes at `at` as IPv4 (the caller has checked the length). */
  setV4(b: Uint8Array, at: number): void {
    const x = this.bytes;
    // The mapped prefix is already there when the address was IPv4 before (the common case).
    if (this.family !== 4) {
      for (let i = 0; i < 10; i++) x[i] = 0;
      x[10] = 0xff;
      x[11] = 0xff;
    }
    x[12] = b[at];
    x[13] = b[at + 1];
    x[14] = b[at + 2];
    x[15] = b[at + 3];
    this.family = 4;
  }

  /** Reads 16 bytes at `at` as IPv6 (the caller has checked the length). */
  setV6(b: Uint8Array, at: number): void {
    const x = this.bytes;
    for (let i = 0; i < 16; i++) x[i] = b[at + i];
    this.family = 6;
  }

  copyFrom(o: Addr): void {
    this.family = o.family;
    copy16(this.bytes, o.bytes);
  }

  clear(): void {
    this.family = 0;
    this.bytes.fill(0);
  }

  equals(o: Addr): boolean {
    return this.family === o.family && sameBytes(this.bytes, o.bytes);
  }
}

/** Copies 16 bytes (a loop beats TypedArray.set at this size). */
export function copy16(to: Uint8Array, from: Uint8Array): void {
  for (let i = 0; i < 16; i++) to[i] = from[i];
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic order of two 16-byte arrays, as Rust's `[u8; 16]::cmp`. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 16; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return 0;
}

/** The core's derived `Ord` for Addr: family first, then bytes. */
export function compareAddr(fa: number, a: Uint8Array, fb: number, b: Uint8Array): number {
  return fa !== fb ? fa - fb : compareBytes(a, b);
}

/** A short string that identifies (family, bytes), for map keys: 2 code units per IPv4 address. */
export function addrKey(family: number, b: Uint8Array): string {
  if (family === 4) return String.fromCharCode(4, (b[12] << 8) | b[13], (b[14] << 8) | b[15]);
  return String.fromCharCode(
    family,
    (b[0] << 8) | b[1],
    (b[2] << 8) | b[3],
    (b[4] << 8) | b[5],
    (b[6] << 8) | b[7],
    (b[8] << 8) | b[9],
    (b[10] << 8) | b[11],
    (b[12] << 8) | b[13],
    (b[14] << 8) | b[15],
  );
}

/**
 * Address text exactly as the core's Display (addr.rs): "-", a dotted quad, or Rust's Ipv6Addr
 * text, for the 16 bytes at `b[at..]`.
 */
export function addrText(family: number, b: Uint8Array, at = 0): string {
  if (family === 4) return `${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  if (family !== 6) return '-';
  return ipv6Text(b, at);
}

/**
 * Rust's `Ipv6Addr` Display of the 16 bytes at `b[at..]`: IPv4-mapped addresses as
 * ::ffff:a.b.c.d; otherwise lower-case hex groups with the first longest run of two or more zero
 * groups written as "::".
 */
export function ipv6Text(b: Uint8Array, at = 0): string {
  const seg: number[] = [];
  for (let i = 0; i < 8; i++) seg.push((b[at + 2 * i] << 8) | b[at + 2 * i + 1]);
  if (seg[0] === 0 && seg[1] === 0 && seg[2] === 0 && seg[3] === 0 && seg[4] === 0 && seg[5] === 0xffff) {
    return `::ffff:${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  }
  let bestStart = 0;
  let bestLen = 0;
  let curStart = 0;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (seg[i] === 0) {
      if (curLen === 0) curStart = i;
      curLen++;
      if (curLen > bestLen) {
        bestStart = curStart;
        bestLen = curLen;
      }
    } else {
      curLen = 0;
    }
  }
  const hex = (s: number[]) => s.map((x) => x.toString(16)).join(':');
  if (bestLen > 1) return `${hex(seg.slice(0, bestStart))}::${hex(seg.slice(bestStart + bestLen))}`;
  return hex(seg);
}
