// The push-based reader (crates/core/src/capture/reader.rs): recognises the format from the magic
// number, then walks records in place in each chunk, carrying only the one record that straddles
// a chunk boundary. Errors, offsets and stats follow the core step by step, so a file gives the
// same result in any chunking and in every backend.
import { CaptureError } from './capture-error.js';
import { newFrame, setNeed, u32le, type CaptureStats, type FrameSink, type Need } from './frame.js';
import { FILE_HEADER_LEN, parseFileHeader, pcapMagic, recordNeed, walk, type PcapFile } from './pcap.js';
import { blockNeed, Section, SHB } from './pcapng.js';

export type Format = { kind: 'pcap'; bigEndian: boolean; nanos: boolean } | { kind: 'pcapng' };

export class CaptureReader {
  /** Set once the file header / first section header has been read. */
  private pcap: PcapFile | null = null;
  private section: Section | null = null;
  /** The incomplete unit at the end of the previous chunk (at offset `stats.bytesConsumed`). */
  private carry = new Uint8Array(64);
  private carryLen = 0;
  /** LINKTYPE of every interface seen, in file order across all pcapng sections. */
  readonly linkTypes: number[] = [];
  readonly stats: CaptureStats = { packets: 0, bytesConsumed: 0, sections: 0, interfaces: 0, skippedBlocks: 0, packetsWithoutTimestamp: 0, timesOutOfRange: 0 };
  private error: CaptureError | null = null;
  private readonly need: Need = { len: 0, known: false, what: '' };
  private readonly frame = newFrame();

  /**
   * Feeds the next chunk (any size, including 0 or 1 byte); calls `onFrame` once per packet
   * record completed by this chunk, in file order. Returns the error once the file cannot be
   * read further (and the same error on every later call).
   */
  feed(chunk: Uint8Array, onFrame: FrameSink): CaptureError | null {
    if (this.error) return this.error;
    try {
      this.feedInner(chunk, onFrame);
      return null;
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      this.error = e;
      return e;
    }
  }

  /**
   * End of input: an error if a header, record or block is incomplete (every packet before it
   * has been delivered), or if there was no input at all.
   */
  finish(): CaptureError | null {
    if (this.error) return this.error;
    if (this.carryLen === 0 && (this.pcap || this.section)) return null;
    try {
      this.needAt(this.carry, 0, this.carryLen);
      const n = this.need;
      this.error = new CaptureError({
        kind: 'Truncated',
        offset: this.stats.bytesConsumed,
        what: n.what,
        needed: n.len,
        available: this.carryLen,
      });
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      this.error = e;
    }
    return this.error;
  }

  /** The format, once its file header / first section header has been read. */
  format(): Format | null {
    if (this.pcap) return { kind: 'pcap', bigEndian: this.pcap.bigEndian, nanos: this.pcap.nanos };
    if (this.section) return { kind: 'pcapng' };
    return null;
  }

  private feedInner(chunk: Uint8Array, onFrame: FrameSink): void {
    let pos = 0;
    if (this.carryLen > 0) {
      pos = this.completeCarry(chunk, onFrame);
      if (this.carryLen > 0) return;
    }
    const used = this.parseInPlace(chunk, pos, onFrame);
    // Bounded: parseInPlace stops only before a unit whose length was checked, or inside a
    // header shorter than 24 bytes.
    this.append(chunk, pos + used, chunk.length);
  }

  private append(b: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    if (this.carryLen + n > this.carry.length) {
      const grown = new Uint8Array(Math.max(this.carryLen + n, this.carry.length * 2));
      grown.set(this.carry.subarray(0, this.carryLen));
      this.carry = grown;
    }
    this.carry.set(b.subarray(start, end), this.carryLen);
    this.carryLen += n;
  }

  /**
   * Tops up the carried unit from `chunk` with just the bytes it still needs, delivers it when
   * complete, and returns the position in `chunk` after what it took.
   */
  private completeCarry(chunk: Uint8Array, onFrame: FrameSink): number {
    let pos = 0;
    for (;;) {
      this.needAt(this.carry, 0, this.carryLen);
      const { len, known } = this.need;
      const take = Math.min(Math.max(len - this.carryLen, 0), chunk.length - pos);
      this.append(chunk, pos, pos + take);
      pos += take;
      if (this.carryLen < len) return pos;
      if (known) {
        const unitLen = this.carryLen;
        this.carryLen = 0;
        // The carry buffer is not written again before the unit is processed.
        this.processUnit(this.carry, 0, unitLen, onFrame);
        return pos;
      }
      // Header complete: loop to learn the unit's length.
    }
  }

  /** Delivers every complete unit in `chunk[from..]`; returns the bytes they took. */
  private parseInPlace(chunk: Uint8Array, from: number, onFrame: FrameSink): number {
    let pos = from;
    const end = chunk.length;
    for (;;) {
      if (this.pcap) return pos - from + walk(this.pcap, chunk, pos, end, this.stats, this.frame, onFrame);
      this.needAt(chunk, pos, end);
      const { len, known } = this.need;
      if (!known || end - pos < len) return pos - from;
      this.processUnit(chunk, pos, pos + len, onFrame);
      pos += len;
    }
  }

  /** Sizes the unit at `b[start..end]` (which begins at `stats.bytesConsumed`) into `this.need`. */
  private needAt(b: Uint8Array, start: number, end: number): void {
    const offset = this.stats.bytesConsumed;
    if (this.pcap) return recordNeed(b, start, end, this.pcap.bigEndian, offset, this.need);
    if (this.section) return blockNeed(b, start, end, this.section.bigEndian, offset, this.need);
    if (end - start < 4) return setNeed(this.need, 4, false, 'file header');
    if (pcapMagic(b, start)) return setNeed(this.need, FILE_HEADER_LEN, true, 'pcap file header');
    if (u32le(b, start) === SHB) return blockNeed(b, start, end, false, offset, this.need);
    throw new CaptureError({ kind: 'NotACapture', magic: [b[start], b[start + 1], b[start + 2], b[start + 3]] });
  }

  /** Handles one complete unit, sized by needAt. */
  private processUnit(b: Uint8Array, start: number, end: number, onFrame: FrameSink): void {
    const offset = this.stats.bytesConsumed;
    const stats = this.stats;
    if (this.pcap) {
      walk(this.pcap, b, start, end, stats, this.frame, onFrame);
    } else if (this.section) {
      this.section.process(b, start, end, offset, this.linkTypes, stats, this.frame, onFrame);
      stats.bytesConsumed += end - start;
    } else {
      if (pcapMagic(b, start)) {
        const file = parseFileHeader(b, start);
        this.linkTypes.push(file.linkType);
        stats.sections = 1;
        stats.interfaces = 1;
        this.pcap = file;
      } else {
        this.section = Section.fromShb(b, start, end, offset);
        stats.sections = 1;
      }
      stats.bytesConsumed += end - start;
    }
  }
}
