// Per-host traffic (crates/core/src/table/hosts.rs): what each address sent and received, derived
// from the conversations at report time instead of costing two more lookups per packet.
import { addrKey, compareAddr } from '../addr.js';
import type { ConversationTable } from './conversation.js';

export class HostRow {
  readonly bytes = new Uint8Array(16);
  txPackets = 0;
  txBytes = 0;
  rxPackets = 0;
  rxBytes = 0;

  constructor(
    readonly family: number,
    bytes: Uint8Array,
  ) {
    this.bytes.set(bytes);
  }

  totalBytes(): number {
    return this.txBytes + this.rxBytes;
  }

  totalPackets(): number {
    return this.txPackets + this.rxPackets;
  }
}

export class HostTable {
  private readonly map = new Map<string, HostRow>();

  /** Endpoints of every conversation (every IP layer, as tshark's endpoint tables count). */
  static fromConversations(conversations: ConversationTable): HostTable {
    const hosts = new HostTable();
    for (const s of conversations.rowList()) {
      const a = hosts.entry(s.aFamily, s.a);
      a.txPackets += s.packetsAb;
      a.txBytes += s.bytesAb;
      a.rxPackets += s.packetsBa;
      a.rxBytes += s.bytesBa;
      const b = hosts.entry(s.bFamily, s.b);
      b.txPackets += s.packetsBa;
      b.txBytes += s.bytesBa;
      b.rxPackets += s.packetsAb;
      b.rxBytes += s.bytesAb;
    }
    return hosts;
  }

  private entry(family: number, bytes: Uint8Array): HostRow {
    const key = addrKey(family, bytes);
    let h = this.map.get(key);
    if (!h) this.map.set(key, (h = new HostRow(family, bytes)));
    return h;
  }

  get size(): number {
    return this.map.size;
  }

  /** The `n` hosts with the most bytes sent and received (then packets, then address). */
  top(n: number): HostRow[] {
    const rows = [...this.map.values()];
    rows.sort((x, y) => y.totalBytes() - x.totalBytes() || y.totalPackets() - x.totalPackets() || compareAddr(x.family, x.bytes, y.family, y.bytes));
    return rows.slice(0, n);
  }
}
