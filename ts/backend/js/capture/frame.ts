// What the capture reader hands out per packet, and the small shared pieces of its framing code.

/**
 * One packet, borrowed from the input: `buf[start..end]` are the captured bytes. The reader
 * reuses one Frame (and may reuse `buf`), so a consumer copies what it keeps.
 */
export interface Frame {
  /** Nanoseconds since the Unix epoch; 0 when the record carries no time (pcapng SPB). */
  tsNs: bigint;
  /** False for records without a timestamp (pcapng Simple Packet Blocks). */
  hasTs: boolean;
  /** LINKTYPE_* of the interface that captured it. */
  linkType: number;
  /** Interface index (pcapng IDB order within the section; 0 for pcap). */
  interface: number;
  /** Original length on the wire. */
  wireLen: number;
  buf: Uint8Array;
  start: number;
  end: number;
}

export type FrameSink = (f: Frame) => void;

export function newFrame(): Frame {
  return { tsNs: 0n, hasTs: false, linkType: 0, interface: 0, wireLen: 0, buf: new Uint8Array(0), start: 0, end: 0 };
}

/** Running totals of one reader (bytes and counts stay far below 2^53). */
export interface CaptureStats {
  /** Frames delivered. */
  packets: number;
  /** Absolute input offset parsed so far (end of the last complete header, record or block). */
  bytesConsumed: number;
  /** pcapng Section Header Blocks seen (1 for pcap). */
  sections: number;
  /** Interface Description Blocks seen in total (1 for pcap). */
  interfaces: number;
  /** pcapng blocks skipped (NRB, ISB, DSB, custom, unknown types). */
  skippedBlocks: number;
  /** Frames without a timestamp (pcapng Simple Packet Blocks). */
  packetsWithoutTimestamp: number;
  /** Frames whose time is before 1970 or past 2554 (pcapng resolution and offset): no time. */
  timesOutOfRange: number;
}

/** Size of the next unit (file header, record or block): reused, filled by the `need` functions. */
export interface Need {
  /** Total length when `known`, else the header bytes needed to learn it. */
  len: number;
  known: boolean;
  /** Names the unit in a Truncated error. */
  what: string;
}

export function setNeed(n: Need, len: number, known: boolean, what: string): void {
  n.len = len;
  n.known = known;
  n.what = what;
}

export function u16le(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8);
}

export function u16be(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

export function u32le(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

export function u32be(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}
