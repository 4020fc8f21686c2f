// Human names for protocol numbers, ethertypes and TCP flags (crates/core/src/names.rs).

const IP_PROTO: Record<number, string> = {
  1: 'ICMP',
  2: 'IGMP',
  4: 'IPIP',
  6: 'TCP',
  17: 'UDP',
  33: 'DCCP',
  41: 'IPv6',
  47: 'GRE',
  50: 'ESP',
  51: 'AH',
  58: 'ICMPv6',
  88: 'EIGRP',
  89: 'OSPF',
  103: 'PIM',
  112: 'VRRP',
  132: 'SCTP',
  136: 'UDPLite',
};

const ETHERTYPE: Record<number, string> = {
  0: 'LLC',
  0x0806: 'ARP',
  0x8035: 'RARP',
  0x809b: 'AppleTalk',
  0x8137: 'IPX',
  0x8809: 'Slow protocols',
  0x8863: 'PPPoE discovery',
  0x888e: '802.1X',
  0x88cc: 'LLDP',
  0x88f7: 'PTP',
  0x8906: 'FCoE',
  0x9000: 'Loopback',
};

export function ipProtoName(p: number): string | undefined {
  return IP_PROTO[p];
}

const IP_PROTO_BY_NAME = new Map(Object.entries(IP_PROTO).map(([n, name]) => [name.toLowerCase(), Number(n)]));

/** The protocol number of a name, any case ("tcp", "ICMPv6"); undefined when unknown. */
export function ipProtoNumber(name: string): number | undefined {
  return IP_PROTO_BY_NAME.get(name.toLowerCase());
}

/** A protocol as people write it: a name (any case) or a number 0..255; undefined otherwise. */
export function ipProtoOf(text: string): number | undefined {
  const t = text.trim();
  if (/^\d{1,3}$/.test(t)) return Number(t) <= 255 ? Number(t) : undefined;
  return ipProtoNumber(t);
}

export function ipProtoNames(): string[] {
  return Object.values(IP_PROTO);
}

export function ethertypeName(et: number): string | undefined {
  return ETHERTYPE[et];
}

const FLAG_NAMES = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];

/** "SYN,ACK"-style text for a TCP flags byte. */
export function tcpFlagsText(f: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) if (f & (1 << i)) parts.push(FLAG_NAMES[i]);
  return parts.join(',');
}

/** ICMP (RFC 792) and ICMPv6 (RFC 4443, 4861) message types, and the codes worth a name. */
const ICMP_TYPES: Record<number, string> = {
  0: 'echo-reply', 3: 'unreachable', 4: 'source-quench', 5: 'redirect', 8: 'echo-request', 9: 'router-advert', 10: 'router-solicit',
  11: 'time-exceeded', 12: 'parameter-problem', 13: 'timestamp', 14: 'timestamp-reply',
};
const ICMP_UNREACHABLE: Record<number, string> = {
  0: 'net-unreachable', 1: 'host-unreachable', 2: 'protocol-unreachable', 3: 'port-unreachable', 4: 'fragmentation-needed',
  5: 'source-route-failed', 9: 'net-prohibited', 10: 'host-prohibited', 13: 'admin-prohibited',
};
const ICMPV6_TYPES: Record<number, string> = {
  1: 'unreachable', 2: 'packet-too-big', 3: 'time-exceeded', 4: 'parameter-problem', 128: 'echo-request', 129: 'echo-reply',
  130: 'mld-query', 131: 'mld-report', 132: 'mld-done', 133: 'router-solicit', 134: 'router-advert', 135: 'neighbor-solicit',
  136: 'neighbor-advert', 137: 'redirect', 143: 'mldv2-report',
};
const ICMPV6_UNREACHABLE: Record<number, string> = { 0: 'no-route', 1: 'admin-prohibited', 3: 'address-unreachable', 4: 'port-unreachable' };

/** An ICMP or ICMPv6 destination "port" (NetFlow's convention: type << 8 | code) as
 * "type/code name", e.g. 771 over ICMP is "3/3 port-unreachable"; null for other protocols. */
export function icmpTypeText(proto: number, port: number): string | null {
  if (proto !== 1 && proto !== 58) return null;
  const type = port >> 8;
  const code = port & 0xff;
  const v6 = proto === 58;
  const unreachable = v6 ? type === 1 : type === 3;
  const name = (unreachable ? (v6 ? ICMPV6_UNREACHABLE : ICMP_UNREACHABLE)[code] : undefined) ?? (v6 ? ICMPV6_TYPES : ICMP_TYPES)[type];
  return `${type}/${code}${name ? ` ${name}` : ''}`;
}
