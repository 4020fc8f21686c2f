// The human-readable report of `netspectra analyze`.
import { icmpTypeText } from '../shared/index.js';
import { extraFieldTexts } from './key-text.js';
import { table } from './table.js';
import type { AnalysisReport, ConversationRow, KeyColumns, StorageReport, TaskReport } from './types.js';
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

/** The key of packets without an IP header (ARP, LLDP, ...): the core writes its addresses as
 * "-" and its ports and protocol as 0. */
const NON_IP = '-';

/** "443 https": a port with its service name, when it has one. */
const named = (port: number, service: string | undefined) => (service ? `${port} ${service}` : String(port));

function keyCells(row: KeyColumns, fields: string[]): string[] {
  const cell = fieldCells(row);
  const names = fields.map((f) => f.split('/')[0]);
  // Without addresses in the key, protocol 0 with no name is the same packets.
  if (row.srcIp === NON_IP || row.dstIp === NON_IP || row.srcPrefix === NON_IP || row.dstPrefix === NON_IP || (row.proto === 0 && !row.protoName && names.includes('Protocol'))) {
    // One label, not "- - 0 0 0": these packets have no addresses, ports or IP protocol (their
    // other fields, such as the interface, stay).
    const ip = ['SrcIP', 'DstIP', 'SrcPrefix', 'DstPrefix', 'Protocol'];
    return names.map((f) => (ip.includes(f) ? 'non-IP' : f.endsWith('Port') ? '' : (cell[f] ?? '')));
  }
  // A prefix is written with its lengths in the key ("SrcPrefix/24/48"): the cell by its name.
  return names.map((f) => cell[f] ?? '');
}

/** Each key field of a row as text, by field name. */
function fieldCells(row: KeyColumns): Record<string, string | undefined> {
  return {
    SrcIP: row.srcIp,
    DstIP: row.dstIp,
    SrcPort: row.srcPort === undefined ? undefined : named(row.srcPort, row.srcService),
    // ICMP keeps its type and code in the destination port: named, not a number.
    DstPort: row.dstPort === undefined ? undefined : ((row.proto !== undefined ? icmpTypeText(row.proto, row.dstPort) : null) ?? named(row.dstPort, row.dstService)),
    Protocol: row.protoName || row.proto?.toString(),
    ...extraFieldTexts(row),
  };
}

/** "+12.5%" style relative error of an estimate, or "exact". */
function relError(estimate: number, exact: number | undefined): string {
  if (exact === undefined) return '';
  if (estimate === exact) return 'exact';
  if (exact === 0) return 'new';
  const e = (100 * (estimate - exact)) / exact;
  return `${e > 0 ? '+' : ''}${e.toFixed(1)}%`;
}

function taskSection(task: TaskReport, when: string): string[] {
  const fields = task.key.split(',');
  const numeric = (extra: number) => [...fields.map((f) => f.endsWith('Port') || ['ICMPType', 'ICMPCode', 'VLAN'].includes(f)), ...Array(extra).fill(true)];
  const heading = (title: string) => [title, '='.repeat(title.length)];
  switch (task.type) {
    case 'exact': {
      // The core ranks an exact table's top by bytes, then packets: said, so nobody reads it as packets.
      const lines = heading(`Task ${task.name} (exact, key ${task.key}, ${grouped(task.keys)} keys${when}; largest by bytes, then packets)`);
      const withDistinct = task.distinct !== null;
      lines.push(
        table(
          [...fields, 'packets', 'bytes', ...(withDistinct ? [`distinct ${task.distinct}`] : [])],
          task.top.map((row) => [...keyCells(row, fields), grouped(row.packets), bytes(row.bytes), ...(withDistinct ? [grouped(row.distinct ?? 0)] : [])]),
          numeric(withDistinct ? 3 : 2),
        ),
      );
      return lines;
    }
    case 'countmin': {
      const conf = (100 * (1 - Math.exp(-task.depth))).toFixed(1);
      const lines = heading(`Heavy hitters: ${task.name} (Count-Min ${task.depth} x ${task.width}${task.conservative ? ', conservative' : ''}, ${bytes(task.counterBytes)}${when})`);
      lines.push(
        `estimates never fall below the truth and exceed it by at most ${grouped(Math.ceil(task.errorBoundPackets))} packets / ${bytes(Math.ceil(task.errorBoundBytes))} with ${conf}% confidence`,
      );
      const exact = task.exactTask !== null;
      for (const [title, rows, by] of [['by packets', task.heavyHittersByPackets, 'packets'], ['by bytes', task.heavyHittersByBytes, 'bytes']] as const) {
        lines.push('', title);
        lines.push(
          table(
            [...fields, 'packets', 'bytes', ...(exact ? [`exact ${by}`, 'error'] : [])],
            rows.map((h) => {
              const est = by === 'packets' ? h.packets : h.bytes;
              const truth = by === 'packets' ? h.exactPackets : h.exactBytes;
              const fmt = (n: number) => (by === 'packets' ? grouped(n) : bytes(n));
              return [...keyCells(h, fields), grouped(h.packets), bytes(h.bytes), ...(exact ? [fmt(truth ?? 0), relError(est, truth)] : [])];
            }),
            numeric(exact ? 4 : 2),
          ),
        );
      }
      return lines;
    }
    case 'superspread': {
      const lines = heading(
        `Super-spreaders: ${task.name} (distinct ${task.element} per ${task.key}; SuperSpread ${task.depth} x ${task.width}, ${task.registers} x ${task.registerBits}-bit registers, ${bytes(task.registerBytes)}${when})`,
      );
      if (task.spreaders.length === 0) {
        lines.push(`no key reached the threshold of ${grouped(task.threshold)}`);
        return lines;
      }
      const exact = task.exactTask !== null;
      lines.push(
        table(
          [...fields, `distinct ${task.element}`, ...(exact ? ['exact', 'error'] : [])],
          task.spreaders.map((s) => [...keyCells(s, fields), grouped(s.spread), ...(exact ? [grouped(s.exactSpread ?? 0), relError(s.spread, s.exactSpread)] : [])]),
          numeric(exact ? 3 : 1),
        ),
      );
      lines.push(`threshold ${grouped(task.threshold)}`);
      return lines;
    }
  }
}

export function formatText(r: AnalysisReport): string {
  const out: string[] = [];
  const t = r.totals;
  const section = (title: string) => out.push('', title, '='.repeat(title.length));

  out.push(`NetSpectra analysis (backend: ${r.backend}, ${(r.elapsedMs / 1000).toFixed(2)} s)`);
  for (const f of r.files) {
    const fmt = f.format === 'pcap' ? `pcap ${f.byteOrder}, ${f.resolution}` : f.format;
    out.push(`  ${f.name}: ${fmt}, link type ${[...new Set(f.linkTypes)].join('/') || '-'}, ${grouped(f.packets)} packets${f.timesOutOfRange ? ` (${grouped(f.timesOutOfRange)} with a time before 1970 or past 2554: counted without one)` : ''}${f.error ? `  [WARNING: ${f.error}]` : ''}`);
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
      ['proto', 'endpoint A', 'endpoint B', 'packets', 'bytes', 'A→B/B→A', 'TCP flags', ''],
      conversationRows(r.topConversations),
      [false, false, false, true, true, true, false, false],
    ),
  );

  const hidden = new Set(r.besideTasks);
  const many = r.windows.length > 1;
  if (many) {
    section(`Windows (${r.windowSeconds} s, aligned to packet time)`);
    out.push(
      table(
        ['window start', 'packets', 'bytes', 'late'],
        r.windows.map((w) => [epochText(w.start), grouped(w.packets), bytes(w.bytes), grouped(w.latePackets)]),
        [false, true, true, true],
      ),
    );
  }
  for (const w of r.windows) {
    const when = many ? `, window ${epochText(w.start)}` : '';
    for (const task of w.tasks) {
      if (hidden.has(task.name)) continue;
      out.push('', ...taskSection(task, when));
    }
  }

  if (r.alerts) {
    section(`Alerts (${grouped(r.alerts.length)} notification(s) from the rules)`);
    out.push(
      r.alerts.length === 0
        ? 'none: no rule fired'
        : table(
            ['window end', 'state', 'severity', 'alert'],
            r.alerts.map((a) => [a.at.replace('T', ' ').replace('Z', ' UTC'), a.repeat ? 'firing (repeat)' : a.state, a.severity, a.summary]),
            [false, false, false, false],
          ),
    );
  }

  if (r.flows) {
    const f = r.flows;
    const counts = (m: Record<string, number>) => Object.entries(m).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${grouped(n)}`).join(', ');
    section(`Flow records (${grouped(f.records)} records, ${grouped(f.packets)} packets, ${bytes(f.bytes)})`);
    if (f.records) {
      out.push(`ended by: ${counts(f.byReason)}`, `direction: ${counts(f.byDirection)}`, '');
      out.push(
        table(
          ['A', 'B', 'proto', 'service', 'app', 'server name', 'packets A→B', 'bytes A→B', 'packets B→A', 'bytes B→A', 'duration', 'state', 'direction', 'community id'],
          f.top.map((x) => [
            endpoint(x.srcIp, x.srcPort, x.protoName), endpoint(x.dstIp, x.dstPort, x.protoName), x.protoName || String(x.proto), x.service || '-',
            x.app || '-', x.serverName || '-',
            grouped(x.packetsAtoB), bytes(x.bytesAtoB), grouped(x.packetsBtoA), bytes(x.bytesBtoA),
            x.firstTime && x.lastTime ? duration((Number(x.lastTime) - Number(x.firstTime)) * 1e9) : '-', x.state, x.direction, x.communityId ?? '-',
          ]),
          [false, false, false, false, false, false, true, true, true, true, true, false, false, false],
        ),
      );
    }
    const n = f.names;
    if (f.serverNames?.length || (n && n.passiveDns + n.dns + n.tls + n.http + n.quic + n.cut > 0)) {
      section('Server names (TLS/QUIC SNI, HTTP Host, DNS query; by bytes of their flows)');
      if (f.serverNames.length) out.push(table(['server name', 'app', 'flows', 'bytes'], f.serverNames.map((s) => [s.name, s.app, grouped(s.records), bytes(s.bytes)]), [false, false, true, true]));
    }
    if (n && (f.serverNames?.length || n.passiveDns + n.dns + n.tls + n.http + n.quic + n.cut > 0)) {
      const refused = n.dns + n.tls + n.http + n.quic;
      out.push('', `passive DNS: ${grouped(n.passiveDns)} addresses named by DNS answers; payloads not parsed: ${grouped(refused)}` +
        `${refused ? ` (DNS ${grouped(n.dns)}, TLS ${grouped(n.tls)}, HTTP ${grouped(n.http)}, QUIC ${grouped(n.quic)})` : ''}` +
        `${n.cut ? `; cut by the snap length or a fragment: ${grouped(n.cut)}` : ''}`);
      for (const r of n.reasons) out.push(`  ${r.protocol}: ${r.reason} (${grouped(r.count)})`);
    }
    if (f.countries?.length) {
      section('Countries (flows with an endpoint there, by their bytes)');
      out.push(table(['country', 'flows', 'bytes'], f.countries.map((c) => [c.country, grouped(c.records), bytes(c.bytes)]), [false, true, true]));
    }
    if (f.autonomousSystems?.length) {
      section('Autonomous systems (flows with an endpoint in them, by their bytes)');
      out.push(table(['AS', 'flows', 'bytes'], f.autonomousSystems.map((a) => [`${a.asn}${a.name ? ` ${a.name}` : ''}`, grouped(a.records), bytes(a.bytes)]), [false, true, true]));
    }
  }

  if (r.storage) out.push(...storageSection(r.storage));

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

/** Where the rows went, and every row that did not reach its table. */
function storageSection(s: StorageReport): string[] {
  const out = ['', 'Storage', '======='];
  if (s.error) return [...out, `NOT STORED: ${s.error}`];
  out.push(`${grouped(s.windows)} window(s), ${grouped(s.rowsWritten)} rows as "${s.source}" (run ${s.run}) in ${s.where}`);
  if (s.rowsQuarantined) {
    out.push(`${grouped(s.rowsQuarantined)} rows QUARANTINED (kept out of their tables, in the store's quarantine):`);
    for (const [reason, n] of Object.entries(s.quarantineReasons)) out.push(`  ${grouped(n)}: ${reason}`);
  }
  if (s.spillRows) out.push(`${grouped(s.spillRows)} rows WAIT IN THE SPILL: this run is not visible until they are written (the next run replays them)`);
  if (s.rowsLost) out.push(`${grouped(s.rowsLost)} rows LOST (the spill was full or could not be written)`);
  return out;
}
