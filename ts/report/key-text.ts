// Key fields beyond the five flow fields as text, by field name: the report's task tables and
// the console's top lists show them alike.
import type { KeyColumns } from './types.js';

/** What the texts are made of: a report's key row, or the API's FlowKey. */
type ExtraFields = Omit<KeyColumns, 'key' | 'srcIp' | 'dstIp' | 'srcPort' | 'dstPort' | 'proto' | 'protoName' | 'srcService' | 'dstService'>;

export function extraFieldTexts(row: ExtraFields): Record<string, string | undefined> {
  return {
    SrcPrefix: row.srcPrefix,
    DstPrefix: row.dstPrefix,
    SrcAS: row.srcAs === undefined ? undefined : `AS${row.srcAs}`,
    DstAS: row.dstAs === undefined ? undefined : `AS${row.dstAs}`,
    SrcCountry: row.srcCountry,
    DstCountry: row.dstCountry,
    App: row.app,
    ServerName: row.serverName,
    ICMPType: row.icmpType?.toString(),
    ICMPCode: row.icmpCode?.toString(),
    TCPFlags: row.tcpFlagsText,
    DSCP: row.dscp === undefined ? undefined : row.dscpName || String(row.dscp),
    VLAN: row.vlan?.toString(),
    Direction: row.direction,
    Interface: row.probe === undefined ? undefined : `${row.probe}/${row.interface}`,
  };
}
