// Offline analysis of capture files (crates/core/src/analysis.rs): framing -> decode -> the exact
// tables and the engine's windows, and the report. The caller does the I/O: beginFile, feed
// chunks, endFile, then reportJson. Every output is built in a total order, byte for byte as the
// core writes it.
import { addrText } from './addr.js';
import type { CaptureError } from './capture/capture-error.js';
import type { Frame } from './capture/frame.js';
import { CaptureReader, type Format } from './capture/reader.js';
import { compareProblems, decode, Decoded, DecodeStats, kindName, problemText, ProblemKind, protoName, tunnelName } from './decode/index.js';
import { epochText, Json } from './json.js';
import { ethertypeName, ipProtoName, tcpFlagsText } from '../../shared/index.js';
import { emptyRecord, RecordFlag, type PacketRecord } from './record.js';
import { ConversationTable, U64_MAX, type ConvRow } from './table/conversation.js';
import { FragmentPorts } from './table/fragments.js';
import { HostTable } from './table/hosts.js';
import { closedWindowBuffer } from '../closed-window.js';

/** A closed window as the engine hands it over (ts/backend/js/engine WindowSnapshot). */
export interface ClosedWindow {
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly counters: { packets: number; bytes: number; late: number; syn: number; timed: number; firstNs: bigint; lastNs: bigint };
  encode(): Uint8Array;
  writeJson(j: Json, topN: number): void;
}

/** The engine's per-packet surface (ts/backend/js/engine Engine). */
export interface WindowEngine {
  add(r: PacketRecord, hasTs: boolean): ClosedWindow | null;
  closeWindow(): ClosedWindow | null;
}

export interface AnalysisConfig {
  seed: bigint;
  /** Rows per top-N list in window reports (rendered when the window closes). */
  topN: number;
  /** Keep each closed window (closed window format) until taken. */
  keepWindows: boolean;
  /** Datagrams whose fragments are tracked at once. */
  fragmentCapacity: number;
}

export const DEFAULT_SEED = 0x6e65_7473_7065_6374n;
export const CONVERSATION_RECORD_LEN = 96;

interface FileSummary {
  name: string;
  format: Format | null;
  linkTypes: number[];
  packets: number;
  bytesRead: number;
  skippedBlocks: number;
  timesOutOfRange: number;
  error: CaptureError | null;
}

/** Packets and bytes of one protocol class: (family, IP protocol) or, without IP, an ethertype. */
interface ProtocolClass {
  family: number;
  proto: number;
  ethertype: number;
  packets: number;
  bytes: number;
}

interface Totals {
  packets: number;
  bytes: number;
  capturedBytes: number;
  firstNs: bigint | null;
  lastNs: bigint | null;
  minNs: bigint | null;
  maxNs: bigint | null;
  packetsWithoutTimestamp: number;
  /** Packets whose innermost IP header is a fragment (IPv4 or IPv6). */
  fragments: number;
}

export class Analysis {
  private reader = new CaptureReader();
  private readonly files: FileSummary[] = [];
  private readonly decoded = new Decoded();
  private readonly record = emptyRecord();
  private readonly totals: Totals = {
    packets: 0,
    bytes: 0,
    capturedBytes: 0,
    firstNs: null,
    lastNs: null,
    minNs: null,
    maxNs: null,
    packetsWithoutTimestamp: 0,
    fragments: 0,
  };
  private readonly protocols: ProtocolClass[] = [];
  /** Packets and bytes per outermost tunnel kind. */
  private readonly tunnels: [number, number][] = Array.from({ length: 8 }, () => [0, 0]);
  private readonly conversations = new ConversationTable();
  /**
   * Layers whose flow goes past the header's destination (IPv6 routing header): by header
   * destination and by flow destination, to correct the derived address pairs.
   */
  private readonly routedByHeader = new ConversationTable();
  private readonly routedByFlow = new ConversationTable();
  /** Closed windows rendered as report JSON, and (when kept) as compact snapshots. */
  private readonly windowReports: string[] = [];
  private snapshots: Uint8Array[] = [];
  private readonly fragments: FragmentPorts;
  private readonly problems = new DecodeStats();
  private readonly onFrame = (f: Frame) => this.addFrame(f);

  constructor(
    private readonly config: AnalysisConfig,
    private readonly engine: WindowEngine,
  ) {
    this.fragments = new FragmentPorts(Math.max(config.fragmentCapacity, 1));
  }

  /** Starts a new capture file; its packets add to the same tables as earlier files. */
  beginFile(name: string): void {
    this.reader = new CaptureReader();
    this.files.push({ name, format: null, linkTypes: [], packets: 0, bytesRead: 0, skippedBlocks: 0, timesOutOfRange: 0, error: null });
  }

  feed(chunk: Uint8Array): CaptureError | null {
    const e = this.reader.feed(chunk, this.onFrame);
    if (e) this.noteError(e);
    return e;
  }

  /** Ends the current file; an error means it was cut short (packets before the damage count). */
  endFile(): CaptureError | null {
    const e = this.reader.finish();
    if (e) this.noteError(e);
    const f = this.files[this.files.length - 1];
    if (f) {
      const stats = this.reader.stats;
      f.format = this.reader.format();
      f.linkTypes = [...this.reader.linkTypes];
      f.packets = stats.packets;
      f.bytesRead = stats.bytesConsumed;
      f.skippedBlocks = stats.skippedBlocks;
      f.timesOutOfRange = stats.timesOutOfRange;
    }
    return e;
  }

  private noteError(e: CaptureError): void {
    const f = this.files[this.files.length - 1];
    if (f && !f.error) f.error = e;
  }

  packets(): number {
    return this.totals.packets;
  }

  /** Closes the open window (end of the input): its tasks are snapshotted and reported. */
  closeWindow(): void {
    const w = this.engine.closeWindow();
    if (w) this.closed(w);
  }

  /** The windows closed since the last call (when kept), in the core's closed window format. */
  takeWindows(): Uint8Array[] {
    const s = this.snapshots;
    this.snapshots = [];
    return s;
  }

  private closed(w: ClosedWindow): void {
    const j = new Json();
    w.writeJson(j, this.config.topN);
    const json = j.finish();
    this.windowReports.push(json);
    if (this.config.keepWindows) {
      const c = w.counters;
      // No timed packet: the first time past the last, as the core writes it.
      const [firstNs, lastNs] = c.timed > 0 ? [c.firstNs, c.lastNs] : [(1n << 64n) - 1n, 0n];
      this.snapshots.push(closedWindowBuffer({ startNs: w.startNs, endNs: w.endNs, ...c, firstNs, lastNs, json, snapshot: w.encode() }));
    }
  }

  /** Address pairs of every IP layer, as the IP header names them. */
  private ipPairs(): ConversationTable {
    const pairs = this.conversations.byAddressPair();
    if (this.routedByFlow.size > 0) {
      pairs.subtract(this.routedByFlow);
      pairs.merge(this.routedByHeader);
    }
    return pairs;
  }

  private addFrame(f: Frame): void {
    const d = this.decoded;
    const r = this.record;
    decode(f.buf, f.start, f.end, f.linkType, d);
    d.fillRecord(r, f.tsNs, f.wireLen, f.end - f.start, f.interface);
    if (r.flags & RecordFlag.Fragment) this.fillFragmentPorts(r);
    this.countTotals(r, f.hasTs);
    this.countProtocol(r);
    const bytes = r.wireLen;
    const ts = f.hasTs ? r.tsNs : null;
    const n = d.len;
    for (let i = 0; i < n; i++) {
      const l = d.layers[i];
      // The innermost layer uses the record, which may have ports learned from an earlier
      // fragment.
      let sport: number, dport: number, hasPorts: boolean, tcpFlags: number;
      if (i === n - 1) {
        sport = r.srcPort;
        dport = r.dstPort;
        hasPorts = (r.flags & RecordFlag.HasPorts) !== 0;
        tcpFlags = r.tcpFlags;
      } else {
        sport = l.srcPort;
        dport = l.dstPort;
        hasPorts = (l.flags & RecordFlag.HasPorts) !== 0;
        tcpFlags = l.tcpFlags;
      }
      const carries = l.carries;
      if (l.routed && !l.flowDst.equals(l.dst)) {
        this.routedByHeader.add(l.src.family, l.src.bytes, 0, l.dst.family, l.dst.bytes, 0, 0, bytes, ts, 0, carries);
        this.routedByFlow.add(l.src.family, l.src.bytes, 0, l.flowDst.family, l.flowDst.bytes, 0, 0, bytes, ts, 0, carries);
      }
      if (!hasPorts) {
        sport = 0;
        dport = 0;
      }
      this.conversations.add(l.src.family, l.src.bytes, sport, l.flowDst.family, l.flowDst.bytes, dport, l.proto, bytes, ts, tcpFlags, carries);
    }
    if (n > 1) {
      const t = this.tunnels[d.layers[0].carries & 7];
      t[0]++;
      t[1] += bytes;
    }
    const w = this.engine.add(r, f.hasTs);
    if (w) this.closed(w);
    if (d.problem) this.problems.count(d.problem);
  }

  /** Non-first fragments carry no transport header: take the ports of the first fragment. */
  private fillFragmentPorts(r: PacketRecord): void {
    const d = this.decoded;
    if (d.len === 0) return;
    const l = d.layers[d.len - 1];
    if (r.flags & RecordFlag.FirstFragment) {
      if (r.flags & RecordFlag.HasPorts) {
        this.fragments.remember(r.srcFamily, r.src, r.dstFamily, r.dst, r.proto, l.fragId, r.srcPort, r.dstPort);
      }
    } else {
      const ports = this.fragments.lookup(r.srcFamily, r.src, r.dstFamily, r.dst, r.proto, l.fragId);
      if (ports >= 0) {
        r.srcPort = ports >>> 16;
        r.dstPort = ports & 0xffff;
        r.flags |= RecordFlag.HasPorts;
      }
    }
  }

  private countTotals(r: PacketRecord, hasTs: boolean): void {
    const t = this.totals;
    t.packets++;
    t.bytes += r.wireLen;
    t.capturedBytes += r.capLen;
    if (r.flags & RecordFlag.Fragment) t.fragments++;
    if (hasTs) {
      const ts = r.tsNs;
      if (t.firstNs === null) t.firstNs = ts;
      t.lastNs = ts;
      if (t.minNs === null || ts < t.minNs) t.minNs = ts;
      if (t.maxNs === null || ts > t.maxNs) t.maxNs = ts;
    } else {
      t.packetsWithoutTimestamp++;
    }
  }

  private countProtocol(r: PacketRecord): void {
    const family = r.srcFamily;
    const proto = r.proto;
    const ethertype = family === 0 ? r.ethertype : 0;
    // A handful of classes: a short list beats a map here.
    for (const c of this.protocols) {
      if (c.family === family && c.proto === proto && c.ethertype === ethertype) {
        c.packets++;
        c.bytes += r.wireLen;
        return;
      }
    }
    this.protocols.push({ family, proto, ethertype, packets: 1, bytes: r.wireLen });
  }

  /**
   * All rows of the 5-tuple conversation table (`ipPairs` false) or of the address-pair table
   * (true) as fixed-width records, see encodeConversation.
   */
  exportConversations(ipPairs: boolean): Uint8Array {
    const rows = (ipPairs ? this.ipPairs() : this.conversations).sorted();
    const out = new Uint8Array(rows.length * CONVERSATION_RECORD_LEN);
    const view = new DataView(out.buffer);
    rows.forEach((row, i) => encodeConversation(row, out, view, i * CONVERSATION_RECORD_LEN));
    return out;
  }

  reportJson(topN: number): string {
    const t = this.totals;
    const j = new Json();
    j.beginObject();

    j.beginArray('files');
    for (const f of this.files) {
      j.beginObject();
      j.str('name', f.name);
      j.str('format', f.format ? f.format.kind : 'unknown');
      if (f.format?.kind === 'pcap') {
        j.str('byteOrder', f.format.bigEndian ? 'big-endian' : 'little-endian');
        j.str('resolution', f.format.nanos ? 'ns' : 'us');
      }
      j.beginArray('linkTypes');
      for (const lt of f.linkTypes) j.itemU64(lt);
      j.endArray();
      j.u64('packets', f.packets);
      j.u64('bytesRead', f.bytesRead);
      j.u64('skippedBlocks', f.skippedBlocks);
      j.u64('timesOutOfRange', f.timesOutOfRange);
      if (f.error) j.str('error', f.error.message);
      else j.null('error');
      j.endObject();
    }
    j.endArray();

    j.beginObject('totals');
    j.u64('packets', t.packets);
    j.u64('bytes', t.bytes);
    j.u64('capturedBytes', t.capturedBytes);
    j.u64('packetsWithoutTimestamp', t.packetsWithoutTimestamp);
    j.u64('fragments', t.fragments);
    if (t.minNs !== null && t.maxNs !== null) {
      j.str('firstTime', epochText(t.firstNs ?? t.minNs));
      j.str('lastTime', epochText(t.lastNs ?? t.maxNs));
      const duration = t.maxNs - t.minNs;
      j.u64('durationNs', duration);
      // u64 -> f64 rounds to nearest, ties to even, in both languages.
      const secs = Number(duration) / 1e9;
      const pps = secs > 0 ? t.packets / secs : 0;
      const bps = secs > 0 ? (t.bytes * 8) / secs : 0;
      j.f64('pps', pps, 3);
      j.f64('bps', bps, 3);
    } else {
      j.null('firstTime');
      j.null('lastTime');
      j.u64('durationNs', 0);
      j.f64('pps', 0, 3);
      j.f64('bps', 0, 3);
    }
    j.endObject();

    const protocols = [...this.protocols].sort(
      (x, y) => y.bytes - x.bytes || y.packets - x.packets || x.family - y.family || x.proto - y.proto || x.ethertype - y.ethertype,
    );
    j.beginArray('protocols');
    for (const c of protocols) {
      j.beginObject();
      j.str('name', protocolClassName(c.family, c.proto, c.ethertype));
      j.u64('family', c.family);
      j.u64('proto', c.proto);
      j.u64('ethertype', c.ethertype);
      j.u64('packets', c.packets);
      j.u64('bytes', c.bytes);
      j.endObject();
    }
    j.endArray();

    const hosts = HostTable.fromConversations(this.conversations);
    j.beginArray('topTalkers');
    for (const h of hosts.top(topN)) {
      j.beginObject();
      j.str('addr', addrText(h.family, h.bytes));
      j.u64('txPackets', h.txPackets);
      j.u64('txBytes', h.txBytes);
      j.u64('rxPackets', h.rxPackets);
      j.u64('rxBytes', h.rxBytes);
      j.endObject();
    }
    j.endArray();

    j.beginArray('topConversations');
    for (const row of this.conversations.sorted().slice(0, topN)) conversationJson(j, row);
    j.endArray();

    j.beginArray('tunnels');
    this.tunnels.forEach(([packets, bytes], kind) => {
      if (packets > 0) {
        j.beginObject();
        j.str('kind', tunnelName(kind));
        j.u64('packets', packets);
        j.u64('bytes', bytes);
        j.endObject();
      }
    });
    j.endArray();

    j.beginArray('windows');
    for (const w of this.windowReports) j.rawItem(w);
    j.endArray();

    j.beginObject('problems');
    j.u64('truncated', this.problems.total(ProblemKind.Truncated));
    j.u64('malformed', this.problems.total(ProblemKind.Malformed));
    j.u64('unsupported', this.problems.total(ProblemKind.Unsupported));
    j.beginArray('details');
    const details = [...this.problems.entries].sort((x, y) => y.count - x.count || compareProblems(x.problem, y.problem));
    for (const { problem: p, count } of details) {
      j.beginObject();
      j.str('kind', kindName(p.kind));
      j.str('layer', protoName(p.proto));
      j.str('reason', p.reason);
      j.u64('value', p.value);
      j.str('text', problemText(p));
      j.u64('packets', count);
      j.endObject();
    }
    j.endArray();
    j.endObject();

    j.beginObject('tables');
    j.u64('conversations', this.conversations.size);
    j.u64('ipPairs', this.ipPairs().size);
    j.u64('hosts', hosts.size);
    j.str('seed', this.config.seed.toString());
    j.u64('fragmentTableResets', this.fragments.resets);
    j.endObject();

    j.endObject();
    return j.finish();
  }
}

/**
 * One exported row, little-endian: 0 a[16], 16 b[16], 32 family u8, 33 proto u8, 34 port_a u16,
 * 36 port_b u16, 38 tcp_flags_ab u8, 39 tcp_flags_ba u8, 40 packets_ab u64, 48 bytes_ab u64,
 * 56 packets_ba u64, 64 bytes_ba u64, 72 first_ns u64, 80 last_ns u64 (both 0 when no packet had
 * a time), 88 carries u8 (tunnel kind), 89..96 zero.
 */
function encodeConversation(s: ConvRow, out: Uint8Array, view: DataView, at: number): void {
  out.set(s.a, at);
  out.set(s.b, at + 16);
  out[at + 32] = s.aFamily;
  out[at + 33] = s.proto;
  view.setUint16(at + 34, s.portA, true);
  view.setUint16(at + 36, s.portB, true);
  out[at + 38] = s.flagsAb;
  out[at + 39] = s.flagsBa;
  view.setBigUint64(at + 40, BigInt(s.packetsAb), true);
  view.setBigUint64(at + 48, BigInt(s.bytesAb), true);
  view.setBigUint64(at + 56, BigInt(s.packetsBa), true);
  view.setBigUint64(at + 64, BigInt(s.bytesBa), true);
  const timed = s.firstNs !== U64_MAX;
  view.setBigUint64(at + 72, timed ? s.firstNs : 0n, true);
  view.setBigUint64(at + 80, timed ? s.lastNs : 0n, true);
  out[at + 88] = s.carries;
}

function conversationJson(j: Json, s: ConvRow): void {
  j.beginObject();
  j.str('proto', ipProtoName(s.proto) ?? String(s.proto));
  j.str('a', addrText(s.aFamily, s.a));
  j.u64('portA', s.portA);
  j.str('b', addrText(s.bFamily, s.b));
  j.u64('portB', s.portB);
  j.u64('packetsAtoB', s.packetsAb);
  j.u64('bytesAtoB', s.bytesAb);
  j.u64('packetsBtoA', s.packetsBa);
  j.u64('bytesBtoA', s.bytesBa);
  if (s.firstNs !== U64_MAX) {
    j.str('firstTime', epochText(s.firstNs));
    j.str('lastTime', epochText(s.lastNs));
  } else {
    j.null('firstTime');
    j.null('lastTime');
  }
  j.str('tcpFlags', tcpFlagsText(s.flagsAb | s.flagsBa));
  j.str('tunnel', tunnelName(s.carries));
  j.endObject();
}

export function protocolClassName(family: number, proto: number, ethertype: number): string {
  if (family !== 4 && family !== 6) return ethertypeName(ethertype) ?? `ethertype 0x${ethertype.toString(16).padStart(4, '0')}`;
  const f = family === 4 ? 'IPv4' : 'IPv6';
  const p = ipProtoName(proto);
  return p !== undefined ? `${f}/${p}` : `${f}/proto ${proto}`;
}
