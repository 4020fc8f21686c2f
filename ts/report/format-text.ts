// The human-readable report of `netspectra analyze`.
import { table } from './table.js';
import type { AnalysisReport, ConversationRow } from './types.js';
import { bytes, duration, epochText, grouped, percent, si } from './units.js';

function endpoint(addr: string, port: number, proto: string): string {
  const withPort = proto === 'TCP' || proto === 'UDP' || proto === 'SCTP' || proto === 'UDPLite' || proto === 'DCCP';
  if (!withPort) return addr;
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function conversationRows(rows: ConversationRow[]): string[][] {
  return rows.map((c) => [
    c.proto,
    endpoint(c.a, c.portA, c.proto),
    endpoint(c.b, c.portB, c.proto),
    grouped(c.packetsAtoB + c.packetsBtoA),
    bytes(c.bytesAtoB + c.bytesBtoA),
    `${grouped(c.packetsAtoB)}/${grouped(c.packetsBtoA)}`,
    c.tcpFlags || '-',
    c.tunnel === 'none' ? '' : `carries ${c.tunnel}`,
  ]);
}

export function formatText(r: AnalysisReport): string {
  const out: string[] = [];
  const t = r.totals;
  const section = (title: string) => out.push('', title, '='.repeat(title.length));

  out.push(`NetSpectra analysis (backend: ${r.backend}, ${(r.elapsedMs / 1000).toFixed(2)} s)`);
  for (const f of r.files) {
    const fmt = f.format === 'pcap' ? `pcap ${f.byteOrder}, ${f.resolution}` : f.format;
    out.push(`  ${f.name}: ${fmt}, link type ${[...new Set(f.linkTypes)].join('/') || '-'}, ${grouped(f.packets)} packets${f.error ? `  [WARNING: ${f.error}]` : ''}`);
  }

  section('Totals');
  out.push(
    table(
      ['', ''],
      [
        ['packets', grouped(t.packets)],
        ['bytes (on the wire)', `${grouped(t.bytes)} (${bytes(t.bytes)})`],
        ['bytes captured', `${grouped(t.capturedBytes)} (${bytes(t.capturedBytes)})`],
        ['first packet', epochText(t.firstTime)],
        ['last packet', epochText(t.lastTime)],
        ['duration', duration(t.durationNs)],
        ['average rate', `${si(t.pps, 'pps')}, ${si(t.bps, 'bit/s')}`],
        ...(t.packetsWithoutTimestamp ? [['packets without time', grouped(t.packetsWithoutTimestamp)]] : []),
      ],
      [false, false],
    ).split('\n').slice(2).join('\n'),
  );

  section('Protocols');
  out.push(
    table(
      ['protocol', 'packets', 'share', 'bytes', 'share'],
      r.protocols.map((p) => [p.name, grouped(p.packets), percent(p.packets, t.packets), bytes(p.bytes), percent(p.bytes, t.bytes)]),
      [false, true, true, true, true],
    ),
  );

  if (r.tunnels.length) {
    section('Tunnels (packets carried, by outermost tunnel)');
    out.push(table(['tunnel', 'packets', 'bytes'], r.tunnels.map((x) => [x.kind, grouped(x.packets), bytes(x.bytes)]), [false, true, true]));
  }

  section(`Top talkers (by bytes sent + received)`);
  out.push(
    table(
      ['host', 'bytes', 'sent', 'received', 'packets'],
      r.topTalkers.map((h) => [h.addr, bytes(h.txBytes + h.rxBytes), bytes(h.txBytes), bytes(h.rxBytes), grouped(h.txPackets + h.rxPackets)]),
      [false, true, true, true, true],
    ),
  );

  section(`Top conversations (of ${grouped(r.tables.conversations)})`);
  out.push(
    table(
      ['proto', 'endpoint A', 'endpoint B', 'packets', 'bytes', 'A->B/B->A', 'TCP flags', ''],
      conversationRows(r.topConversations),
      [false, false, false, true, true, true, false, false],
    ),
  );

  for (const task of r.tasks) {
    section(`Task ${task.name} (exact, key ${task.key}, ${grouped(task.keys)} keys)`);
    const fields = task.key.split(',');
    out.push(
      table(
        [...fields, 'packets', 'bytes'],
        task.top.map((row) => [
          ...fields.map((f) => String({ SrcIP: row.srcIp, DstIP: row.dstIp, SrcPort: row.srcPort, DstPort: row.dstPort, Protocol: row.protoName || row.proto }[f] ?? '')),
          grouped(row.packets),
          bytes(row.bytes),
        ]),
        [...fields.map((f) => f.endsWith('Port')), true, true],
      ),
    );
  }

  section('Decode problems');
  const p = r.problems;
  if (p.details.length === 0) {
    out.push('none: every packet was decoded to its last header');
  } else {
    out.push(`truncated ${grouped(p.truncated)}, malformed ${grouped(p.malformed)}, unsupported ${grouped(p.unsupported)} packets`);
    out.push(table(['packets', 'problem'], p.details.map((d) => [grouped(d.packets), d.text]), [true, false]));
  }
  return out.join('\n') + '\n';
}
