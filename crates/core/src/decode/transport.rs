//! Transport headers: TCP, UDP (and the tunnels it carries), SCTP, ICMP, ICMPv6, IP-in-IP, GRE.

use super::network::{ipv4, ipv6};
use super::problem::{Problem, Proto};
use super::tunnel::{self, TunnelKind};
use super::{be16, Decoded};
use crate::record::flag;

pub const IPPROTO_IPIP: u8 = 4;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_DCCP: u8 = 33;
pub const IPPROTO_IPV6: u8 = 41;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_GRE: u8 = 47;
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_ICMPV6: u8 = 58;
pub const IPPROTO_SCTP: u8 = 132;
pub const IPPROTO_UDPLITE: u8 = 136;

/// Decodes the payload of the innermost IP layer according to its protocol number.
pub fn transport(data: &[u8], out: &mut Decoded) {
    let proto = out.top().proto;
    match proto {
        IPPROTO_TCP => tcp(data, out),
        IPPROTO_UDP | IPPROTO_UDPLITE => udp(data, proto, out),
        IPPROTO_SCTP | IPPROTO_DCCP => {
            let p = if proto == IPPROTO_SCTP { Proto::Sctp } else { Proto::Tcp };
            if ports(data, out) && data.len() < 12 {
                out.problem = Some(Problem::truncated(p));
            }
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            if data.len() < 4 {
                let p = if proto == IPPROTO_ICMP { Proto::Icmp } else { Proto::Icmpv6 };
                out.problem = Some(Problem::truncated(p));
                return;
            }
            // NetFlow's convention: type and code in the destination port.
            out.top().dst_port = u16::from_be_bytes([data[0], data[1]]);
        }
        IPPROTO_IPIP => tunnel::enter(TunnelKind::IpInIp, out, |out| ipv4(data, out)),
        IPPROTO_IPV6 => tunnel::enter(TunnelKind::Ipv6InIp, out, |out| ipv6(data, out)),
        IPPROTO_GRE => tunnel::enter(TunnelKind::Gre, out, |out| tunnel::gre(data, out)),
        _ => {}
    }
}

/// Reads source and destination ports from the first four bytes; false (and a problem) when
/// they are not there.
fn ports(data: &[u8], out: &mut Decoded) -> bool {
    if data.len() < 4 {
        let p = match out.top().proto {
            IPPROTO_TCP => Proto::Tcp,
            IPPROTO_SCTP => Proto::Sctp,
            _ => Proto::Udp,
        };
        out.problem = Some(Problem::truncated(p));
        return false;
    }
    let top = out.top();
    top.src_port = be16(data, 0);
    top.dst_port = be16(data, 2);
    top.flags |= flag::HAS_PORTS;
    true
}

fn tcp(data: &[u8], out: &mut Decoded) {
    // Ports count only with a whole, valid header (as tshark does): a cut or bogus header says
    // nothing reliable about the connection.
    if data.len() < 20 {
        out.problem = Some(Problem::truncated(Proto::Tcp));
        return;
    }
    let header_len = ((data[12] >> 4) as usize) * 4;
    if header_len < 20 {
        out.problem = Some(Problem::malformed_value(Proto::Tcp, "header length under 20 bytes", header_len as u32));
        return;
    }
    if data.len() < header_len {
        out.problem = Some(Problem::truncated(Proto::Tcp));
        return;
    }
    ports(data, out);
    out.top().tcp_flags = data[13];
    out.tcp_seq = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
    out.set_payload(&data[header_len..]);
}

fn udp(data: &[u8], proto: u8, out: &mut Decoded) {
    if !ports(data, out) {
        return;
    }
    if data.len() < 8 {
        out.problem = Some(Problem::truncated(Proto::Udp));
        return;
    }
    if proto != IPPROTO_UDP {
        return;
    }
    let len = be16(data, 4) as usize;
    // A length under 8 (or 0, as in jumbograms) is not trusted: use what was captured.
    let payload = if len >= 8 { &data[8..len.min(data.len())] } else { &data[8..] };
    out.set_payload(payload);
    let top = *out.top();
    tunnel::udp_tunnel(top.src_port, top.dst_port, payload, out);
}
