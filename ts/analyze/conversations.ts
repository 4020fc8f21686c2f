// Reads the fixed-width conversation rows exported by the engine (layout: Rust
// netspectra_core::analysis::encode_conversation).

export const CONVERSATION_RECORD_LEN = 96;

export interface Conversation {
  family: 0 | 4 | 6;
  proto: number;
  a: string;
  portA: number;
  b: string;
  portB: number;
  packetsAtoB: number;
  bytesAtoB: number;
  packetsBtoA: number;
  bytesBtoA: number;
  tcpFlagsAtoB: number;
  tcpFlagsBtoA: number;
  /** Nanoseconds since the epoch; 0n when no packet had a time. */
  firstNs: bigint;
  lastNs: bigint;
  /** Tunnel kind this conversation carries (0 = none). */
  carries: number;
}

/** RFC 5952 text for 16 address bytes (IPv4 as a dotted quad from the mapped form). */
export function addressText(b: Uint8Array, family: number): string {
  if (family === 4) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  if (family !== 6) return '-';
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  // The longest run of two or more zero groups becomes "::" (the first one on a tie).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function decodeConversations(buf: Uint8Array): Conversation[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const rows: Conversation[] = [];
  for (let off = 0; off + CONVERSATION_RECORD_LEN <= buf.byteLength; off += CONVERSATION_RECORD_LEN) {
    const family = buf[off + 32] as 0 | 4 | 6;
    rows.push({
      family,
      proto: buf[off + 33],
      a: addressText(buf.subarray(off, off + 16), family),
      b: addressText(buf.subarray(off + 16, off + 32), family),
      portA: view.getUint16(off + 34, true),
      portB: view.getUint16(off + 36, true),
      tcpFlagsAtoB: buf[off + 38],
      tcpFlagsBtoA: buf[off + 39],
      packetsAtoB: Number(view.getBigUint64(off + 40, true)),
      bytesAtoB: Number(view.getBigUint64(off + 48, true)),
      packetsBtoA: Number(view.getBigUint64(off + 56, true)),
      bytesBtoA: Number(view.getBigUint64(off + 64, true)),
      firstNs: view.getBigUint64(off + 72, true),
      lastNs: view.getBigUint64(off + 80, true),
      carries: buf[off + 88],
    });
  }
  return rows;
}
