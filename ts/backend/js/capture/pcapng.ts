// pcapng framing: blocks of `type, total length, body, total length`, in sections that each start
// with a Section Header Block fixing the byte order (crates/core/src/capture/pcapng.rs). See
// draft-ietf-opsawg-pcapng.
import { CaptureError, MAX_RECORD_LEN } from './capture-error.js';
import { setNeed, u16be, u16le, u32be, u32le, type CaptureStats, type Frame, type FrameSink, type Need } from './frame.js';

/** Section Header Block type; a palindrome, so it reads the same in both byte orders. */
export const SHB = 0x0a0d0d0a;
const IDB = 1;
const OBSOLETE_PB = 2;
const SPB = 3;
const EPB = 6;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

/** Type + length + trailer. */
const BLOCK_OVERHEAD = 12;
/** SHB: overhead + byte-order magic + version + section length. */
const SHB_MIN_LEN = 28;
/** IDB: overhead + link type, reserved, snaplen. */
const IDB_MIN_LEN = 20;
/** EPB / obsolete PB: overhead + 20-byte fixed part. */
const PB_MIN_LEN = 32;
/** SPB: overhead + original length. */
const SPB_MIN_LEN = 16;

const U64_MAX = 0xffff_ffff_ffff_ffffn;

// Bounded reads of `b[start..end]` at a relative position: 0 past the end, as the core's helpers.
function u16At(b: Uint8Array, start: number, end: number, at: number, be: boolean): number {
  const i = start + at;
  if (i + 2 > end) return 0;
  return be ? u16be(b, i) : u16le(b, i);
}

function u32At(b: Uint8Array, start: number, end: number, at: number, be: boolean): number {
  const i = start + at;
  if (i + 4 > end) return 0;
  return be ? u32be(b, i) : u32le(b, i);
}

function u64At(b: Uint8Array, start: number, end: number, at: number, be: boolean): bigint {
  const first = BigInt(u32At(b, start, end, at, be));
  const second = BigInt(u32At(b, start, end, at + 4, be));
  return be ? (first << 32n) | second : (second << 32n) | first;
}

/** Converts interface time units to nanoseconds (if_tsresol), in the core's u128 arithmetic. */
const enum Scale {
  /** 10^-n with n <= 9: multiply by 10^(9-n). */
  Mul,
  /** 10^-n with n > 9: divide by 10^(n-9). */
  Div,
  /** 2^-n: multiply by 10^9, then shift right by n. */
  Shift,
  /** Resolution so fine that every 64-bit count is under 1 ns. */
  Zero,
}

interface Interface {
  linkType: number;
  snaplen: number;
  scale: Scale;
  factor: bigint;
  /** if_tsoffset in ns. */
  offsetNs: bigint;
}

function setTsresol(iface: Interface, v: number): void {
  const exp = v & 0x7f;
  if (v & 0x80) {
    iface.scale = Scale.Shift;
    iface.factor = BigInt(exp);
  } else if (exp <= 9) {
    iface.scale = Scale.Mul;
    iface.factor = 10n ** BigInt(9 - exp);
  } else if (exp - 9 <= 38) {
    // 10^38 is the largest power of ten in a u128.
    iface.scale = Scale.Div;
    iface.factor = 10n ** BigInt(exp - 9);
  } else {
    iface.scale = Scale.Zero;
    iface.factor = 0n;
  }
}

/** Time of `hi << 32 | lo` interface units, in the core's u128/i128 arithmetic; -1 when it is
 * before 1970 or past u64 nanoseconds (no usable time). */
function tsNs(iface: Interface, hi: number, lo: number): bigint {
  // Below 2^53 the count is exact as a number: one conversion instead of three.
  const units = hi < 0x200000 ? BigInt(hi * 4294967296 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
  let ns: bigint;
  switch (iface.scale) {
    case Scale.Mul:
      ns = units * iface.factor;
      break;
    case Scale.Div:
      ns = units / iface.factor;
      break;
    case Scale.Shift:
      ns = (units * 1_000_000_000n) >> iface.factor;
      break;
    default:
      ns = 0n;
  }
  ns += iface.offsetNs;
  return ns < 0n || ns > U64_MAX ? -1n : ns;
}

/** Byte order of the SHB at `b[start..]` (at least 12 bytes); true for big-endian. */
function shbByteOrder(b: Uint8Array, start: number, end: number, offset: number): boolean {
  if (u32At(b, start, end, 8, false) === BYTE_ORDER_MAGIC) return false;
  if (u32At(b, start, end, 8, true) === BYTE_ORDER_MAGIC) return true;
  throw new CaptureError({ kind: 'BadByteOrderMagic', offset, magic: u32At(b, start, end, 8, true) });
}

/**
 * How many bytes the block at `b[start..end]` takes (or how many are needed to know).
 * `bigEndian` is the current section's order (ignored for an SHB, which carries its own).
 */
export function blockNeed(b: Uint8Array, start: number, end: number, bigEndian: boolean, offset: number, need: Need): void {
  const avail = end - start;
  const isShb = avail >= 4 && u32le(b, start) === SHB;
  if (isShb && avail < 12) return setNeed(need, 12, false, 'pcapng section header');
  if (avail < 8) return setNeed(need, 8, false, 'pcapng block header');
  const be = isShb ? shbByteOrder(b, start, end, offset) : bigEndian;
  const blockType = u32At(b, start, end, 0, be);
  const len = u32At(b, start, end, 4, be);
  if (len < BLOCK_OVERHEAD) {
    throw new CaptureError({ kind: 'BadBlockLength', offset, blockType, len, reason: 'shorter than the 12-byte minimum' });
  }
  if (len & 3) throw new CaptureError({ kind: 'BadBlockLength', offset, blockType, len, reason: 'not a multiple of 4' });
  if (len > MAX_RECORD_LEN) throw new CaptureError({ kind: 'RecordTooLarge', offset, what: 'pcapng block', len });
  setNeed(need, len, true, isShb ? 'pcapng section header' : 'pcapng block');
}

/** The trailing length must repeat the leading one. */
function checkTrailer(b: Uint8Array, start: number, end: number, be: boolean, offset: number): void {
  const len = u32At(b, start, end, 4, be);
  const size = end - start;
  if (u32At(b, start, end, Math.max(size - 4, 0), be) !== len || size !== len) {
    throw new CaptureError({
      kind: 'BadBlockLength',
      offset,
      blockType: u32At(b, start, end, 0, be),
      len,
      reason: 'trailing length differs from the leading length',
    });
  }
}

/** State of the current section. */
export class Section {
  bigEndian = false;
  /** IDBs of this section, in order (packet blocks index into it). */
  private interfaces: Interface[] = [];

  /** Starts the first section from its complete SHB (sized by blockNeed). */
  static fromShb(b: Uint8Array, start: number, end: number, offset: number): Section {
    const s = new Section();
    s.start(b, start, end, offset);
    return s;
  }

  private start(b: Uint8Array, start: number, end: number, offset: number): void {
    const be = shbByteOrder(b, start, end, offset);
    checkTrailer(b, start, end, be, offset);
    if (end - start < SHB_MIN_LEN) {
      throw new CaptureError({ kind: 'BadBlockLength', offset, blockType: SHB, len: end - start, reason: 'too short for a section header block' });
    }
    const major = u16At(b, start, end, 12, be);
    const minor = u16At(b, start, end, 14, be);
    if (major !== 1) throw new CaptureError({ kind: 'UnsupportedVersion', offset, major, minor });
    this.bigEndian = be;
    this.interfaces = [];
  }

  /** Handles one complete block of this section (`b[start..end]`, sized by blockNeed). */
  process(b: Uint8Array, start: number, end: number, offset: number, linkTypes: number[], stats: CaptureStats, frame: Frame, onFrame: FrameSink): void {
    const be = this.bigEndian;
    const blockType = u32At(b, start, end, 0, be);
    if (blockType === SHB) {
      this.start(b, start, end, offset);
      stats.sections = Math.min(stats.sections + 1, 0xffff_ffff);
      return;
    }
    checkTrailer(b, start, end, be, offset);
    const size = end - start;
    const tooShort = (reason: string) => new CaptureError({ kind: 'BadBlockLength', offset, blockType, len: size, reason });
    // The body: after type and length, before the trailer.
    const bs = start + 8;
    const bodyEnd = end - 4;
    switch (blockType) {
      case EPB:
      case OBSOLETE_PB: {
        if (size < PB_MIN_LEN) throw tooShort('too short for a packet block');
        const index = blockType === EPB ? u32At(b, bs, bodyEnd, 0, be) : u16At(b, bs, bodyEnd, 0, be);
        const iface = this.interface(index, offset);
        const caplen = u32At(b, bs, bodyEnd, 12, be);
        const origLen = u32At(b, bs, bodyEnd, 16, be);
        if (bodyEnd - (bs + 20) < caplen) {
          throw new CaptureError({ kind: 'BadField', offset, field: 'captured length', value: caplen, reason: 'longer than the block body' });
        }
        const ts = tsNs(iface, u32At(b, bs, bodyEnd, 4, be), u32At(b, bs, bodyEnd, 8, be));
        frame.hasTs = ts >= 0n;
        frame.tsNs = frame.hasTs ? ts : 0n;
        if (!frame.hasTs) stats.timesOutOfRange++;
        frame.linkType = iface.linkType;
        frame.interface = index;
        frame.wireLen = origLen > caplen ? origLen : caplen;
        frame.buf = b;
        frame.start = bs + 20;
        frame.end = bs + 20 + caplen;
        onFrame(frame);
        stats.packets++;
        break;
      }
      case SPB: {
        if (size < SPB_MIN_LEN) throw tooShort('too short for a simple packet block');
        const iface = this.interface(0, offset);
        const origLen = u32At(b, bs, bodyEnd, 0, be);
        const available = bodyEnd - (bs + 4);
        let caplen = Math.min(origLen, available);
        if (iface.snaplen !== 0) caplen = Math.min(caplen, iface.snaplen);
        frame.tsNs = 0n;
        frame.hasTs = false;
        frame.linkType = iface.linkType;
        frame.interface = 0;
        frame.wireLen = origLen;
        frame.buf = b;
        frame.start = bs + 4;
        frame.end = bs + 4 + caplen;
        onFrame(frame);
        stats.packets++;
        stats.packetsWithoutTimestamp++;
        break;
      }
      case IDB: {
        if (size < IDB_MIN_LEN) throw tooShort('too short for an interface description block');
        const iface = parseIdb(b, bs, bodyEnd, be);
        this.interfaces.push(iface);
        linkTypes.push(iface.linkType);
        stats.interfaces = Math.min(stats.interfaces + 1, 0xffff_ffff);
        break;
      }
      // NRB, ISB, DSB, custom, local and unknown types carry no packets.
      default:
        stats.skippedBlocks++;
    }
  }

  private interface(index: number, offset: number): Interface {
    const iface = this.interfaces[index];
    if (index < this.interfaces.length && iface) return iface;
    throw new CaptureError({ kind: 'UnknownInterface', offset, interface: index, known: this.interfaces.length });
  }
}

/**
 * IDB body: link type u16, reserved u16, snaplen u32, options. A malformed option ends the
 * option list (the options read so far still apply); it does not fail the block.
 */
function parseIdb(b: Uint8Array, start: number, end: number, be: boolean): Interface {
  const iface: Interface = {
    linkType: u16At(b, start, end, 0, be),
    snaplen: u32At(b, start, end, 4, be),
    scale: Scale.Mul,
    factor: 1000n,
    offsetNs: 0n,
  };
  const os = start + 8;
  const optLen = Math.max(end - os, 0);
  let pos = 0;
  while (pos + 4 <= optLen) {
    const code = u16At(b, os, end, pos, be);
    const len = u16At(b, os, end, pos + 2, be);
    if (pos + 4 + len > optLen) break;
    const value = os + pos + 4;
    if (code === OPT_END) break;
    if (code === OPT_IF_TSRESOL) {
      if (len > 0) setTsresol(iface, b[value]);
    } else if (code === OPT_IF_TSOFFSET && len >= 8) {
      iface.offsetNs = BigInt.asIntN(64, u64At(b, value, value + len, 0, be)) * 1_000_000_000n;
    }
    pos += 4 + ((len + 3) & ~3);
  }
  return iface;
}
