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
