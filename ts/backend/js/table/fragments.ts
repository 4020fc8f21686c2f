// Ports for non-first fragments (crates/core/src/table/fragments.rs), learned from the first
// fragment of the same datagram. Bounded: when full it starts over, and counts that. Only the
// number of entries decides when, so the resets match the core's whatever the map order.
import { addrKey } from '../addr.js';

export class FragmentPorts {
  /** Datagram id -> (src port << 16) | dst port. */
  private readonly map = new Map<string, number>();
  /** Times the table was full and was cleared. */
  resets = 0;

  constructor(private readonly capacity: number) {}

  private static key(srcFamily: number, src: Uint8Array, dstFamily: number, dst: Uint8Array, proto: number, id: number): string {
    return addrKey(srcFamily, src) + addrKey(dstFamily, dst) + String.fromCharCode(proto, id >>> 16, id & 0xffff);
  }

  remember(srcFamily: number, src: Uint8Array, dstFamily: number, dst: Uint8Array, proto: number, id: number, srcPort: number, dstPort: number): void {
    if (this.map.size >= this.capacity) {
      this.map.clear();
      this.resets++;
    }
    this.map.set(FragmentPorts.key(srcFamily, src, dstFamily, dst, proto, id), srcPort * 65536 + dstPort);
  }

  /** (src port << 16) | dst port of the datagram's first fragment, or -1. */
  lookup(srcFamily: number, src: Uint8Array, dstFamily: number, dst: Uint8Array, proto: number, id: number): number {
    return this.map.get(FragmentPorts.key(srcFamily, src, dstFamily, dst, proto, id)) ?? -1;
  }
}
