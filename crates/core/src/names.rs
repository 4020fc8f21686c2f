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
