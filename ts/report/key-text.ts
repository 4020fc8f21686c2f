// Key fields beyond the five flow fields as text, by field name: the report's task tables and
// the console's top lists show them alike.
import type { KeyColumns } from './types.js';

export function extraFieldTexts(row: KeyColumns): Record<string, string | undefined> {
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
