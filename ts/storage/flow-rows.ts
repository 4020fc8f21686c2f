// Stored rows of the `flows` table (the core writes them) made into records again, as the core
// emits them (ts/flows/types.ts).
import { ipProtoName, serviceName } from '../shared/index.js';
import type { FlowRecordJson } from '../flows/types.js';
import { addressText } from './row-binary.js';

/** The columns a query selects to make records again (aliases unlike the column names: an alias
 * named like its column would replace it in WHERE). */
export const FLOW_SELECT = `community_id AS r_community_id, family AS r_family, toString(src_ip) AS r_src_ip, src_port AS r_src_port,
  toString(dst_ip) AS r_dst_ip, dst_port AS r_dst_port, proto AS r_proto, toString(toUnixTimestamp64Nano(first_seen)) AS r_first,
  toString(toUnixTimestamp64Nano(last_seen)) AS r_last, packets_ab AS r_packets_ab, bytes_ab AS r_bytes_ab, packets_ba AS r_packets_ba,
  bytes_ba AS r_bytes_ba, tcp_flags_ab AS r_flags_ab, tcp_flags_ba AS r_flags_ba, state AS r_state, reason AS r_reason,
  probe AS r_probe, interface AS r_interface, vlan AS r_vlan, direction AS r_direction, app AS r_app, server_name AS r_server_name,
  alpn AS r_alpn, src_country AS r_src_country, dst_country AS r_dst_country, src_as AS r_src_as, dst_as AS r_dst_as,
  src_as_name AS r_src_as_name, dst_as_name AS r_dst_as_name`;

export type FlowRow = Record<
  | 'r_family' | 'r_src_ip' | 'r_src_port' | 'r_dst_ip' | 'r_dst_port' | 'r_proto' | 'r_packets_ab' | 'r_bytes_ab' | 'r_packets_ba'
  | 'r_bytes_ba' | 'r_flags_ab' | 'r_flags_ba' | 'r_state' | 'r_reason' | 'r_probe' | 'r_interface' | 'r_vlan' | 'r_direction'
  | 'r_app' | 'r_server_name' | 'r_alpn' | 'r_src_country' | 'r_dst_country' | 'r_src_as' | 'r_dst_as' | 'r_src_as_name' | 'r_dst_as_name',
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
    service: serviceName(proto, Number(row.r_dst_port)) ?? serviceName(proto, Number(row.r_src_port)) ?? '',
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
    app: row.r_app as FlowRecordJson['app'],
    serverName: String(row.r_server_name),
    alpn: String(row.r_alpn),
    srcCountry: String(row.r_src_country),
    dstCountry: String(row.r_dst_country),
    srcAs: Number(row.r_src_as),
    dstAs: Number(row.r_dst_as),
    srcAsName: String(row.r_src_as_name),
    dstAsName: String(row.r_dst_as_name),
  };
}
