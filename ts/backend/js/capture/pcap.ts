// pcap (libpcap) framing: a 24-byte file header, then records of a 16-byte header + caplen bytes
// (crates/core/src/capture/pcap.rs). See draft-ietf-opsawg-pcap.
import { CaptureError, MAX_RECORD_LEN } from './capture-error.js';
import { setNeed, u16be, u16le, u32be, u32le, type CaptureStats, type Frame, type FrameSink, type Need } from './frame.js';

export const FILE_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;
const NS_PER_S = 1_000_000_000n;

/** What the file header fixes for every record. */
export interface PcapFile {
  bigEndian: boolean;
  nanos: boolean;
  linkType: number;
}

/** 0: not a pcap magic; else bit 1 = big-endian, bit 2 = nanoseconds, bit 0 set. */
export function pcapMagic(b: Uint8Array, at: number): number {
  const m = u32be(b, at);
  switch (m) {
    case 0xd4c3b2a1:
      return 1;
    case 0xa1b2c3d4:
      return 1 | 2;
    case 0x4d3cb2a1:
      return 1 | 4;
    case 0xa1b23c4d:
      return 1 | 2 | 4;
    default:
      return 0;
  }
}

/** Parses the file header (`b[at..at+24]`, complete and with a pcap magic). */
export function parseFileHeader(b: Uint8Array, at: number): PcapFile {
  const m = pcapMagic(b, at);
  const bigEndian = (m & 2) !== 0;
  const nanos = (m & 4) !== 0;
  const u16 = bigEndian ? u16be : u16le;
  const major = u16(b, at + 4);
  const minor = u16(b, at + 6);
  if (major !== 2) throw new CaptureError({ kind: 'UnsupportedVersion', offset: 0, major, minor });
  const network = bigEndian ? u32be(b, at + 20) : u32le(b, at + 20);
  // Upper 16 bits carry FCS length / reserved bits, not the link type.
  return { bigEndian, nanos, linkType: network & 0xffff };
}

function checkCaplen(caplen: number, offset: number): void {
  if (caplen > MAX_RECORD_LEN) throw new CaptureError({ kind: 'RecordTooLarge', offset, what: 'pcap record', len: caplen });
}

/** How many bytes the record at `b[start..end]` takes (or how many are needed to know). */
export function recordNeed(b: Uint8Array, start: number, end: number, bigEndian: boolean, offset: number, need: Need): void {
  if (end - start < 12) {
    setNeed(need, RECORD_HEADER_LEN, false, 'pcap record header');
    return;
  }
  const caplen = bigEndian ? u32be(b, start + 8) : u32le(b, start + 8);
  checkCaplen(caplen, offset);
  setNeed(need, RECORD_HEADER_LEN + caplen, true, 'pcap record');
}

/**
 * Delivers every complete record in `b[start..end]` (which starts on a record boundary at
 * absolute offset `stats.bytesConsumed`) and returns how many bytes they took; the incomplete
 * tail is left. `stats` is updated for the records delivered even when an error stops the walk.
 */
export function walk(file: PcapFile, b: Uint8Array, start: number, end: number, stats: CaptureStats, frame: Frame, onFrame: FrameSink): number {
  const base = stats.bytesConsumed;
  const be = file.bigEndian;
  const fracScale = file.nanos ? 1 : 1000;
  frame.hasTs = true;
  frame.linkType = file.linkType;
  frame.interface = 0;
  frame.buf = b;
  // The seconds of consecutive records repeat: keep the last product to save a bigint multiply.
  let lastSec = -1;
  let secNs = 0n;
  let pos = start;
  let packets = 0;
  try {
    for (;;) {
      if (end - pos < RECORD_HEADER_LEN) break;
      const caplen = be ? u32be(b, pos + 8) : u32le(b, pos + 8);
      checkCaplen(caplen, base + (pos - start));
      const dataStart = pos + RECORD_HEADER_LEN;
      if (end - dataStart < caplen) break;
      const sec = be ? u32be(b, pos) : u32le(b, pos);
      const frac = be ? u32be(b, pos + 4) : u32le(b, pos + 4);
      const origLen = be ? u32be(b, pos + 12) : u32le(b, pos + 12);
      if (sec !== lastSec) {
        lastSec = sec;
        secNs = BigInt(sec) * NS_PER_S;
      }
      // sec * 1e9 + frac * 1000 < 2^63: the core's wrapping arithmetic never wraps here.
      frame.tsNs = secNs + BigInt(frac * fracScale);
      frame.wireLen = origLen > caplen ? origLen : caplen;
      frame.start = dataStart;
      frame.end = dataStart + caplen;
      onFrame(frame);
      packets++;
      pos = dataStart + caplen;
    }
  } finally {
    stats.packets += packets;
    stats.bytesConsumed = base + (pos - start);
  }
  return pos - start;
}
