// Human names for protocol numbers, ethertypes, TCP flags, DSCP values, ports and ICMP types
// (crates/core/src/names.rs).

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

/** Short names of the standard DSCP values (class selectors, assured and expedited forwarding,
 * voice-admit, lower effort). */
const DSCP: Record<number, string> = {
  0: 'CS0', 1: 'LE', 8: 'CS1', 10: 'AF11', 12: 'AF12', 14: 'AF13', 16: 'CS2', 18: 'AF21', 20: 'AF22', 22: 'AF23', 24: 'CS3',
  26: 'AF31', 28: 'AF32', 30: 'AF33', 32: 'CS4', 34: 'AF41', 36: 'AF42', 38: 'AF43', 40: 'CS5', 44: 'VOICE-ADMIT', 46: 'EF', 48: 'CS6',
  56: 'CS7',
};

export function dscpName(v: number): string | undefined {
  return DSCP[v];
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

/** IANA service names of ports (crates/core/src/names.rs `SERVICES`, kept equal by a test):
 * the same over TCP, UDP and SCTP, except the ports in the per-protocol tables. */
const SERVICES: Record<number, string> = {
  20: 'ftp-data', 21: 'ftp', 22: 'ssh', 23: 'telnet', 25: 'smtp', 43: 'whois',
  49: 'tacacs', 53: 'domain', 67: 'bootps', 68: 'bootpc', 69: 'tftp', 80: 'http',
  88: 'kerberos', 110: 'pop3', 111: 'sunrpc', 119: 'nntp', 123: 'ntp', 135: 'epmap',
  137: 'netbios-ns', 138: 'netbios-dgm', 139: 'netbios-ssn', 143: 'imap', 161: 'snmp', 162: 'snmptrap',
  179: 'bgp', 389: 'ldap', 443: 'https', 445: 'microsoft-ds', 464: 'kpasswd', 465: 'submissions',
  500: 'isakmp', 515: 'printer', 546: 'dhcpv6-client', 547: 'dhcpv6-server', 554: 'rtsp', 587: 'submission',
  631: 'ipp', 636: 'ldaps', 853: 'domain-s', 873: 'rsync', 989: 'ftps-data', 990: 'ftps',
  993: 'imaps', 995: 'pop3s', 1080: 'socks', 1194: 'openvpn', 1433: 'ms-sql-s', 1701: 'l2tp',
  1723: 'pptp', 1812: 'radius', 1813: 'radius-acct', 1883: 'mqtt', 1900: 'ssdp', 2049: 'nfs',
  3260: 'iscsi-target', 3306: 'mysql', 3389: 'ms-wbt-server', 3478: 'stun', 4500: 'ipsec-nat-t', 4789: 'vxlan',
  5060: 'sip', 5061: 'sips', 5353: 'mdns', 5355: 'llmnr', 5432: 'postgresql', 5671: 'amqps',
  5672: 'amqp', 5900: 'rfb', 6081: 'geneve', 6379: 'redis', 6653: 'openflow', 8080: 'http-alt',
  8883: 'secure-mqtt', 11211: 'memcache', 27017: 'mongodb',
};
const SERVICES_TCP: Record<number, string> = { 514: 'shell', 513: 'login', 512: 'exec' };
const SERVICES_UDP: Record<number, string> = { 514: 'syslog', 513: 'who', 512: 'biff', 520: 'router' };

/** The service name of a port over TCP, UDP, SCTP or UDP-Lite, or over any of them when the
 * protocol is not known (undefined); undefined for other protocols and unnamed ports. */
export function serviceName(proto: number | undefined, port: number): string | undefined {
  switch (proto) {
    case 6:
      return SERVICES_TCP[port] ?? SERVICES[port];
    case 17:
    case 136:
      return SERVICES_UDP[port] ?? SERVICES[port];
    case 132:
    case undefined:
      return SERVICES[port];
    default:
      return undefined;
  }
}

/** The three tables, for the test that keeps them equal to the core's. */
export const serviceTables = { SERVICES, SERVICES_TCP, SERVICES_UDP };

/** A port as reports write it: "443 https", "771" over ICMP as "3/3 port-unreachable", else the
 * number. */
export function portText(proto: number | undefined, port: number): string {
  const icmp = proto === undefined ? null : icmpTypeText(proto, port);
  if (icmp) return icmp;
  const name = serviceName(proto, port);
  return name ? `${port} ${name}` : String(port);
}
