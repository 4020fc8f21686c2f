//! Human names for protocol numbers, ethertypes and TCP flags.

pub fn ip_proto(p: u8) -> Option<&'static str> {
    Some(match p {
        1 => "ICMP",
        2 => "IGMP",
        4 => "IPIP",
        6 => "TCP",
        17 => "UDP",
        33 => "DCCP",
        41 => "IPv6",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        58 => "ICMPv6",
        88 => "EIGRP",
        89 => "OSPF",
        103 => "PIM",
        112 => "VRRP",
        132 => "SCTP",
        136 => "UDPLite",
        _ => return None,
    })
}

pub fn ethertype(et: u16) -> Option<&'static str> {
    Some(match et {
        0 => "LLC",
        0x0806 => "ARP",
        0x8035 => "RARP",
        0x809b => "AppleTalk",
        0x8137 => "IPX",
        0x8809 => "Slow protocols",
        0x8863 => "PPPoE discovery",
        0x888e => "802.1X",
        0x88cc => "LLDP",
        0x88f7 => "PTP",
        0x8906 => "FCoE",
        0x9000 => "Loopback",
        _ => return None,
    })
}

/// "SYN,ACK"-style text for a TCP flags byte.
pub fn tcp_flags(f: u8) -> String {
    const NAMES: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
    let mut s = String::new();
    for (i, n) in NAMES.iter().enumerate() {
        if f & (1 << i) != 0 {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(n);
        }
    }
    s
}

/// Short names of the standard DSCP values (RFC 2474 class selectors, RFC 2597 assured
/// forwarding, RFC 3246 expedited forwarding, RFC 5865 voice-admit, RFC 8622 lower effort).
pub fn dscp(v: u8) -> Option<&'static str> {
    Some(match v {
        0 => "CS0",
        1 => "LE",
        8 => "CS1",
        10 => "AF11",
        12 => "AF12",
        14 => "AF13",
        16 => "CS2",
        18 => "AF21",
        20 => "AF22",
        22 => "AF23",
        24 => "CS3",
        26 => "AF31",
        28 => "AF32",
        30 => "AF33",
        32 => "CS4",
        34 => "AF41",
        36 => "AF42",
        38 => "AF43",
        40 => "CS5",
        44 => "VOICE-ADMIT",
        46 => "EF",
        48 => "CS6",
        56 => "CS7",
        _ => return None,
    })
}

/// Ports named by their IANA service name (as in /etc/services and Wireshark), the same over
/// TCP, UDP and SCTP; a port registered differently per protocol is in `SERVICES_TCP` or
/// `SERVICES_UDP`. Only services people meet on networks: an ephemeral port stays a number.
pub const SERVICES: &[(u16, &str)] = &[
    (20, "ftp-data"),
    (21, "ftp"),
    (22, "ssh"),
    (23, "telnet"),
    (25, "smtp"),
    (43, "whois"),
    (49, "tacacs"),
    (53, "domain"),
    (67, "bootps"),
    (68, "bootpc"),
    (69, "tftp"),
    (80, "http"),
    (88, "kerberos"),
    (110, "pop3"),
    (111, "sunrpc"),
    (119, "nntp"),
    (123, "ntp"),
    (135, "epmap"),
    (137, "netbios-ns"),
    (138, "netbios-dgm"),
    (139, "netbios-ssn"),
    (143, "imap"),
    (161, "snmp"),
    (162, "snmptrap"),
    (179, "bgp"),
    (389, "ldap"),
    (443, "https"),
    (445, "microsoft-ds"),
    (464, "kpasswd"),
    (465, "submissions"),
    (500, "isakmp"),
    (515, "printer"),
    (546, "dhcpv6-client"),
    (547, "dhcpv6-server"),
    (554, "rtsp"),
    (587, "submission"),
    (631, "ipp"),
    (636, "ldaps"),
    (853, "domain-s"),
    (873, "rsync"),
    (989, "ftps-data"),
    (990, "ftps"),
    (993, "imaps"),
    (995, "pop3s"),
    (1080, "socks"),
    (1194, "openvpn"),
    (1433, "ms-sql-s"),
    (1701, "l2tp"),
    (1723, "pptp"),
    (1812, "radius"),
    (1813, "radius-acct"),
    (1883, "mqtt"),
    (1900, "ssdp"),
    (2049, "nfs"),
    (3260, "iscsi-target"),
    (3306, "mysql"),
    (3389, "ms-wbt-server"),
    (3478, "stun"),
    (4500, "ipsec-nat-t"),
    (4789, "vxlan"),
    (5060, "sip"),
    (5061, "sips"),
    (5353, "mdns"),
    (5355, "llmnr"),
    (5432, "postgresql"),
    (5671, "amqps"),
    (5672, "amqp"),
    (5900, "rfb"),
    (6081, "geneve"),
    (6379, "redis"),
    (6653, "openflow"),
    (8080, "http-alt"),
    (8883, "secure-mqtt"),
    (11211, "memcache"),
    (27017, "mongodb"),
];

/// Ports whose TCP service differs from their UDP one.
pub const SERVICES_TCP: &[(u16, &str)] = &[(514, "shell"), (513, "login"), (512, "exec")];

/// Ports whose UDP service differs from their TCP one.
pub const SERVICES_UDP: &[(u16, &str)] = &[(514, "syslog"), (513, "who"), (512, "biff"), (520, "router")];

/// The service name of a port over an IP protocol (TCP, UDP, SCTP, UDP-Lite), or over any of
/// them when the protocol is not known (a key without it); None for other protocols and for
/// ports without a name.
pub fn service(proto: Option<u8>, port: u16) -> Option<&'static str> {
    let find = |table: &[(u16, &'static str)]| table.iter().find(|(p, _)| *p == port).map(|(_, n)| *n);
    match proto {
        Some(6) => find(SERVICES_TCP).or_else(|| find(SERVICES)),
        Some(17) | Some(136) => find(SERVICES_UDP).or_else(|| find(SERVICES)),
        Some(132) | None => find(SERVICES),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_named_per_protocol() {
        assert_eq!(service(Some(6), 443), Some("https"));
        assert_eq!(service(Some(17), 53), Some("domain"));
        assert_eq!(service(None, 22), Some("ssh"));
        assert_eq!(service(Some(6), 514), Some("shell"));
        assert_eq!(service(Some(17), 514), Some("syslog"));
        assert_eq!(service(None, 514), None, "ambiguous without the protocol");
        assert_eq!(service(Some(1), 80), None, "ICMP has no ports");
        assert_eq!(service(Some(6), 51234), None);
    }

    #[test]
    fn each_port_has_one_name_per_table() {
        for table in [SERVICES, SERVICES_TCP, SERVICES_UDP] {
            let mut ports: Vec<u16> = table.iter().map(|(p, _)| *p).collect();
            ports.sort_unstable();
            ports.dedup();
            assert_eq!(ports.len(), table.len());
        }
        for (p, _) in SERVICES_TCP.iter().chain(SERVICES_UDP) {
            assert!(service(Some(132), *p).is_none(), "{p} is in the shared table too");
        }
    }
}
