// The packet record of the pure TypeScript backend: the same fields as the core's PacketRecord
// (crates/core/src/record.rs). The decoder fills one record per packet and reuses it, so
// consumers must copy what they keep.

/** `flags` bits, as in the core. */
export const enum RecordFlag {
  Fragment = 1 << 0,
  FirstFragment = 1 << 1,
  Tunnelled = 1 << 2,
  Truncated = 1 << 3,
  Malformed = 1 << 4,
  HasPorts = 1 << 5,
}

/** Address family byte: 0 none, 4 IPv4, 6 IPv6. */
export type Family = 0 | 4 | 6;

export interface PacketRecord {
  /** Capture time, nanoseconds since the Unix epoch (u64 does not fit a JS number). */
  tsNs: bigint;
  srcFamily: Family;
  /** 16 bytes; IPv4 stored IPv4-mapped (::ffff:a.b.c.d) as in the core. */
  src: Uint8Array;
  dstFamily: Family;
  dst: Uint8Array;
  proto: number;
  srcPort: number;
  dstPort: number;
  tcpFlags: number;
  /** DSCP of the innermost IP header (0 without IP). */
  dscp: number;
  vlan: number;
  wireLen: number;
  capLen: number;
  flags: number;
  tunnel: number;
  ethertype: number;
  interface: number;
}

export function emptyRecord(): PacketRecord {
  return {
    tsNs: 0n,
    srcFamily: 0,
    src: new Uint8Array(16),
    dstFamily: 0,
    dst: new Uint8Array(16),
    proto: 0,
    srcPort: 0,
    dstPort: 0,
    tcpFlags: 0,
    dscp: 0,
    vlan: 0,
    wireLen: 0,
    capLen: 0,
    flags: 0,
    tunnel: 0,
    ethertype: 0,
    interface: 0,
  };
}
