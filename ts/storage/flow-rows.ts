// Flow records (ts/flows/types.ts) checked before they become rows of the `flows` table
// (local-rows.ts), and stored rows made into records again.
import { isIP } from 'node:net';
import { ipProtoName } from '../backend/js/names.js';
import type { FlowRecordJson } from '../flows/types.js';
import { addressText } from './row-binary.js';

const EPOCH_TEXT = /^\d{1,11}\.\d{9}$/;

/** Throws an error naming the record (by index) and the field that is not what the core emits. */
export function checkFlowRecords(records: readonly FlowRecordJson[]): void {
  records.forEach((r, i) => {
    const bad = (field: string, rule: string) => new Error(`flow record ${i}: ${field} ${JSON.stringify((r as unknown as Record<string, unknown>)?.[field])} ${rule}`);
    if (typeof r !== 'object' || r === null) throw new Error(`flow record ${i}: not an object`);
    for (const f of ['srcIp', 'dstIp'] as const) {
      if (typeof r[f] !== 'string' || (r[f] !== '-' && !isIP(r[f]))) throw bad(f, 'is not an IP address');
    }
    if (familyOf(r.srcIp) !== familyOf(r.dstIp)) throw bad('dstIp', `is not of the family of srcIp ${JSON.stringify(r.srcIp)}`);
    const ints: [keyof FlowRecordJson, number][] = [
      ['srcPort', 65_535], ['dstPort', 65_535], ['proto', 255], ['vlan', 65_535],
      ['packetsAtoB', Number.MAX_SAFE_INTEGER], ['bytesAtoB', Number.MAX_SAFE_INTEGER], ['packetsBtoA', Number.MAX_SAFE_INTEGER], ['bytesBtoA', Number.MAX_SAFE_INTEGER],
    ];
    for (const [f, max] of ints) {
      const v = r[f];
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > max) throw bad(f, `is not an integer 0..${max}`);
    }
    for (const f of ['firstTime', 'lastTime'] as const) {
      if (r[f] !== null && (typeof r[f] !== 'string' || !EPOCH_TEXT.test(r[f]))) throw bad(f, 'is not null or epoch seconds with 9 decimals');
    }
    if (r.communityId !== null && typeof r.communityId !== 'string') throw bad('communityId', 'is not null or text');
    for (const f of ['probe', 'interface', 'tcpFlagsAtoB', 'tcpFlagsBtoA', 'state', 'reason', 'direction'] as const) {
      if (typeof r[f] !== 'string') throw bad(f, 'is not text');
    }
  });
}

function familyOf(ip: string): number {
  return ip === '-' ? 0 : isIP(ip);
}

/** The columns a query selects to make records again (aliases unlike the column names: an alias
 * named like its column would replace it in WHERE). */
export const FLOW_SELECT = `community_id AS r_community_id, family AS r_family, toString(src_ip) AS r_src_ip, src_port AS r_src_port,
  toString(dst_ip) AS r_dst_ip, dst_port AS r_dst_port, proto AS r_proto, toString(toUnixTimestamp64Nano(first_seen)) AS r_first,
  toString(toUnixTimestamp64Nano(last_seen)) AS r_last, packets_ab AS r_packets_ab, bytes_ab AS r_bytes_ab, packets_ba AS r_packets_ba,
  bytes_ba AS r_bytes_ba, tcp_flags_ab AS r_flags_ab, tcp_flags_ba AS r_flags_ba, state AS r_state, reason AS r_reason,
  probe AS r_probe, interface AS r_interface, vlan AS r_vlan, direction AS r_direction`;

export type FlowRow = Record<
  | 'r_family' | 'r_src_ip' | 'r_src_port' | 'r_dst_ip' | 'r_dst_port' | 'r_proto' | 'r_packets_ab' | 'r_bytes_ab' | 'r_packets_ba'
  | 'r_bytes_ba' | 'r_flags_ab' | 'r_flags_ba' | 'r_state' | 'r_reason' | 'r_probe' | 'r_interface' | 'r_vlan' | 'r_direction',
  string | number
> & { r_community_id: string | null; r_first: string | null; r_last: string | null };

/** Nanoseconds since the epoch as the core writes times: "seconds.nanoseconds". */
function epochText(ns: string | null): string | null {
  if (ns === null) return null;
  const n = BigInt(ns);
  return `${n / 1_000_000_000n}.${String(n % 1_000_000_000n).padStart(9, '0')}`;
}

/** A stored row as the record the core emitted. */
export function flowRecordOf(row: FlowRow): FlowRecordJson {
  const family = Number(row.r_family);
  const address = (ip: string) => addressText(ip, family) || '-';
  const proto = Number(row.r_proto);
  return {
    communityId: row.r_community_id,
    srcIp: address(String(row.r_src_ip)),
    srcPort: Number(row.r_src_port),
    dstIp: address(String(row.r_dst_ip)),
    dstPort: Number(row.r_dst_port),
    proto,
    protoName: ipProtoName(proto) ?? '',
    firstTime: epochText(row.r_first),
    lastTime: epochText(row.r_last),
    packetsAtoB: Number(row.r_packets_ab),
    bytesAtoB: Number(row.r_bytes_ab),
    packetsBtoA: Number(row.r_packets_ba),
    bytesBtoA: Number(row.r_bytes_ba),
    tcpFlagsAtoB: String(row.r_flags_ab),
    tcpFlagsBtoA: String(row.r_flags_ba),
    state: row.r_state as FlowRecordJson['state'],
    reason: row.r_reason as FlowRecordJson['reason'],
    probe: String(row.r_probe),
    interface: String(row.r_interface),
    vlan: Number(row.r_vlan),
    direction: row.r_direction as FlowRecordJson['direction'],
  };
}
