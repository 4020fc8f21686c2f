// Closed windows (crates/core/src/engine/snapshot.rs): what every task held when its window
// ended, as JSON for reports and as the compact NSWS buffer.
//
// Buffer layout (little-endian), version 3:
//   "NSWS" u16 version, u64 start_ns, u64 end_ns, u64 packets, u64 bytes, u64 late,
//   u64 first_ns, u64 last_ns, u64 syn, u32 server name count and u16 origin count (and the
//   names: none here), u16 task count, then per task:
//   u8 name length, name (UTF-8), u8 type (1 exact, 2 countmin, 3 superspread), key fields,
//   distinct/element fields (each u32 field bits and four u8 prefix lengths, zero here: this
//   backend keys on the five flow fields only), u32 payload length, payload:
//     exact: u32 rows, then per row u8 key length, key bytes, u64 packets, u64 bytes, u64 distinct
//     countmin / superspread: the sketch's own encoding.

import { epochText, type Json } from '../json.js';
import { ipProtoName, serviceName } from '../../../shared/index.js';
import { ByteWriter } from './byte-writer.js';
import { CountMin } from './count-min.js';
import { ExactTable, type ExactRank } from './exact-table.js';
import { keyFieldsText } from './key-fields.js';
import { keyParts, keyText } from './packed-key.js';
import { secondFields, type TaskSnapshot } from './task.js';

export interface WindowCounters {
  packets: number;
  bytes: number;
  /** Packets with a time, and the earliest and latest of their times (0 when none had one). */
  timed: number;
  firstNs: bigint;
  lastNs: bigint;
  /** Packets older than the window they were counted in. */
  late: number;
  /** TCP packets with SYN and without ACK: connection attempts. */
  syn: number;
}

const encoder = new TextEncoder();

export class WindowSnapshot {
  constructor(
    readonly startNs: bigint,
    readonly endNs: bigint,
    readonly counters: WindowCounters,
    readonly tasks: TaskSnapshot[],
  ) {}

  /** An exact task of this window with the given key (and, when asked, distinct fields). */
  private exactWith(key: number, distinct?: number): TaskSnapshot | undefined {
    return this.tasks.find(
      (t) => t.spec.key === key && t.spec.kind.type === 'exact' && (distinct === undefined || distinct === t.spec.kind.distinct),
    );
  }

  encode(): Uint8Array {
    const out = new ByteWriter(4096);
    for (const ch of 'NSWS') out.u8(ch.charCodeAt(0));
    out.u16(3);
    const c = this.counters;
    // No timed packet: the first time past the last, as the core writes it.
    const first = c.timed > 0 ? c.firstNs : (1n << 64n) - 1n;
    for (const v of [this.startNs, this.endNs, c.packets, c.bytes, c.late, first, c.lastNs, c.syn]) out.u64(v);
    // Server names and origins keys refer to: none (this backend keys on the five flow fields).
    out.u32(0);
    out.u16(0);
    out.u16(this.tasks.length);
    for (const t of this.tasks) {
      const name = encoder.encode(t.spec.name);
      const n = Math.min(name.length, 255);
      out.u8(n);
      out.bytes(name, 0, n);
      const s = t.state;
      out.u8(s instanceof ExactTable ? 1 : s instanceof CountMin ? 2 : 3);
      for (const f of [t.spec.key, secondFields(t.spec)]) {
        out.u32(f);
        for (let i = 0; i < 4; i++) out.u8(0);
      }
      const lenAt = out.length;
      out.u32(0);
      if (s instanceof ExactTable) {
        const rows = s.topBy(s.size, 'bytes');
        out.u32(rows.length);
        const kl = s.keyLen;
        for (const e of rows) {
          out.u8(kl);
          out.bytes(s.keys, e * kl, kl);
          out.u64(s.packets[e]);
          out.u64(s.bytes[e]);
          out.u64(s.distinct[e]);
        }
      } else {
        s.encode(out);
      }
      out.setU32(lenAt, out.length - lenAt - 4);
    }
    return out.finish();
  }

  writeJson(j: Json, topN: number): void {
    j.beginObject();
    j.str('start', epochText(this.startNs));
    j.str('end', epochText(this.endNs));
    j.u64('packets', this.counters.packets);
    j.u64('bytes', this.counters.bytes);
    j.u64('latePackets', this.counters.late);
    j.u64('tcpSyn', this.counters.syn);
    j.beginArray('tasks');
    for (const t of this.tasks) this.taskJson(j, t, topN);
    j.endArray();
    j.endObject();
  }

  private taskJson(j: Json, t: TaskSnapshot, topN: number): void {
    const key = t.spec.key;
    const s = t.state;
    j.beginObject();
    j.str('name', t.spec.name);
    j.str('type', t.spec.kind.type);
    j.str('key', keyFieldsText(key));
    if (s instanceof ExactTable) {
      const distinct = s.distinctFields;
      if (distinct === 0) j.null('distinct');
      else j.str('distinct', keyFieldsText(distinct));
      j.u64('keys', s.size);
      j.f64('bytesPerKey', s.bytesPerKey(), 1);
      const kl = s.keyLen;
      const rows = (name: string, by: ExactRank) => {
        j.beginArray(name);
        for (const e of s.topBy(topN, by)) {
          j.beginObject();
          keyJson(j, s.keys, e * kl, kl, key);
          j.u64('packets', s.packets[e]);
          j.u64('bytes', s.bytes[e]);
          if (distinct !== 0) j.u64('distinct', s.distinct[e]);
          j.endObject();
        }
        j.endArray();
      };
      rows('top', 'bytes');
      if (distinct !== 0) rows('topByDistinct', 'distinct');
    } else if (s instanceof CountMin) {
      const cfg = s.cfg;
      j.u64('depth', cfg.depth);
      j.u64('width', cfg.width);
      j.bool('conservative', cfg.conservative);
      j.u64('counterBytes', s.counterBytes());
      j.u64('memoryBytes', s.memoryBytes());
      j.u64('streamPackets', s.totalPackets);
      j.u64('streamBytes', s.totalBytes);
      const [ebPackets, ebBytes] = s.errorBound();
      j.f64('errorBoundPackets', ebPackets, 1);
      j.f64('errorBoundBytes', ebBytes, 1);
      const beside = this.exactWith(key);
      if (beside) j.str('exactTask', beside.spec.name);
      else j.null('exactTask');
      const exact = beside?.state instanceof ExactTable ? beside.state : undefined;
      for (const [name, rows] of [
        ['heavyHittersByPackets', s.heavyHittersByPackets()],
        ['heavyHittersByBytes', s.heavyHittersByBytes()],
      ] as const) {
        j.beginArray(name);
        for (const r of rows.slice(0, topN)) {
          j.beginObject();
          keyJson(j, r.keys, r.at, r.len, key);
          j.u64('packets', r.packets);
          j.u64('bytes', r.bytes);
          if (exact) {
            const e = exact.get(r.keys, r.at, r.len);
            j.u64('exactPackets', e < 0 ? 0 : exact.packets[e]);
            j.u64('exactBytes', e < 0 ? 0 : exact.bytes[e]);
          }
          j.endObject();
        }
        j.endArray();
      }
    } else {
      const cfg = s.cfg;
      const element = secondFields(t.spec);
      j.str('element', keyFieldsText(element));
      j.u64('depth', cfg.depth);
      j.u64('width', cfg.width);
      j.u64('registers', cfg.registers);
      j.u64('registerBits', cfg.registerBits);
      j.u64('threshold', cfg.threshold);
      j.u64('registerBytes', s.registerBytes());
      j.u64('memoryBytes', s.memoryBytes());
      const beside = this.exactWith(key, element);
      if (beside) j.str('exactTask', beside.spec.name);
      else j.null('exactTask');
      const exact = beside?.state instanceof ExactTable ? beside.state : undefined;
      j.beginArray('spreaders');
      for (const r of s.spreaders().slice(0, topN)) {
        j.beginObject();
        keyJson(j, r.key, 0, r.key.length, key);
        j.u64('spread', r.spread);
        if (exact) {
          const e = exact.get(r.key, 0, r.key.length);
          j.u64('exactSpread', e < 0 ? 0 : exact.distinct[e]);
        }
        j.endObject();
      }
      j.endArray();
    }
    j.endObject();
  }
}

/** The key as text and as its separate fields. */
function keyJson(j: Json, b: Uint8Array, at: number, len: number, fields: number): void {
  j.str('key', keyText(b, at, len, fields));
  const p = keyParts(b, at, len, fields);
  if (p.src !== undefined) j.str('srcIp', p.src);
  if (p.dst !== undefined) j.str('dstIp', p.dst);
  if (p.srcPort !== undefined) j.u64('srcPort', p.srcPort);
  if (p.dstPort !== undefined) j.u64('dstPort', p.dstPort);
  if (p.proto !== undefined) {
    j.u64('proto', p.proto);
    j.str('protoName', ipProtoName(p.proto) ?? '');
  }
  // Named after the fields: a key with ports but no protocol names the ports all agree on.
  const srcService = p.srcPort === undefined ? undefined : serviceName(p.proto, p.srcPort);
  if (srcService) j.str('srcService', srcService);
  const dstService = p.dstPort === undefined ? undefined : serviceName(p.proto, p.dstPort);
  if (dstService) j.str('dstService', dstService);
}
