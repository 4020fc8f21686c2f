//! Link layers: Ethernet (VLAN tags, MPLS, PPPoE), Linux cooked (SLL, SLL2), BSD loopback, PPP,
//! raw IP.

use super::network::{ipv4, ipv6, raw_ip};
use super::problem::{Problem, Proto};
use super::{be16, linktype, Decoded};

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_QINQ_OLD2: u16 = 0x9200;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;

const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS: u16 = 0x0281;
const PPP_MPLS_MULTICAST: u16 = 0x0283;

pub fn decode_link(data: &[u8], link_type: u32, out: &mut Decoded) {
    match link_type {
        linktype::ETHERNET => ethernet(data, out),
        linktype::RAW | linktype::RAW_OPENBSD => raw_ip(data, out),
        linktype::IPV4 => ipv4(data, out),
        linktype::IPV6 => ipv6(data, out),
        linktype::NULL => null(data, false, out),
        linktype::LOOP => null(data, true, out),
        linktype::PPP | linktype::PPP_HDLC => ppp_frame(data, out),
        linktype::LINUX_SLL => {
            if data.len() < 16 {
                out.problem = Some(Problem::truncated(Proto::LinuxSll));
                return;
            }
            ethertype(be16(data, 14), &data[16..], out);
        }
        linktype::LINUX_SLL2 => {
            if data.len() < 20 {
                out.problem = Some(Problem::truncated(Proto::LinuxSll));
                return;
            }
            ethertype(be16(data, 0), &data[20..], out);
        }
        other => {
            out.problem = Some(Problem::unsupported(Proto::LinkType, "link type not supported", other));
        }
    }
}

/// Ethernet II or 802.3; also the payload of VXLAN, Geneve, GRE bridging and pseudowires.
pub fn ethernet(data: &[u8], out: &mut Decoded) {
    if data.len() < 14 {
        out.problem = Some(Problem::truncated(Proto::Ethernet));
        return;
    }
    let et = be16(data, 12);
    if et <= 1500 {
        // 802.3 length field: LLC follows; SNAP may still carry an ethertype.
        let llc = &data[14..];
        if llc.len() >= 8 && llc[0] == 0xaa && llc[1] == 0xaa && llc[2] == 0x03 {
            ethertype(be16(llc, 6), &llc[8..], out);
        }
        return;
    }
    ethertype(et, &data[14..], out);
}

/// Dispatches on an ethertype, walking any depth of VLAN tags.
pub fn ethertype(mut et: u16, mut payload: &[u8], out: &mut Decoded) {
    loop {
        match et {
            ETHERTYPE_IPV4 => return ipv4(payload, out),
            ETHERTYPE_IPV6 => return ipv6(payload, out),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD | ETHERTYPE_QINQ_OLD2 => {
                if payload.len() < 4 {
                    out.problem = Some(Problem::truncated(Proto::Vlan));
                    return;
                }
                if out.vlan == 0 && out.layers().is_empty() {
                    out.vlan = be16(payload, 0) & 0x0fff;
                }
                et = be16(payload, 2);
                payload = &payload[4..];
                if et <= 1500 {
                    return; // 802.3/LLC inside the tag (STP, CDP, ...)
                }
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => return mpls(payload, out),
            ETHERTYPE_PPPOE_SESSION => {
                if payload.len() < 8 {
                    out.problem = Some(Problem::truncated(Proto::Pppoe));
                    return;
                }
                return ppp_protocol(be16(payload, 6), &payload[8..], out);
            }
            other => {
                if out.layers().is_empty() {
                    out.ethertype = other;
                }
                return;
            }
        }
    }
}

/// An MPLS label stack, then IPv4, IPv6 or an Ethernet pseudowire with a control word.
pub fn mpls(mut data: &[u8], out: &mut Decoded) {
    loop {
        if data.len() < 4 {
            out.problem = Some(Problem::truncated(Proto::Mpls));
            return;
        }
        let bottom = data[2] & 1 != 0;
        data = &data[4..];
        if bottom {
            break;
        }
    }
    match data.first().map(|b| b >> 4) {
        Some(4) => ipv4(data, out),
        Some(6) => ipv6(data, out),
        Some(0) if data.len() >= 4 => ethernet(&data[4..], out),
        Some(_) => {
            let nibble = (data[0] >> 4) as u32;
            out.problem =
                Some(Problem::unsupported(Proto::Mpls, "payload is not IP or an Ethernet pseudowire", nibble));
        }
        None => out.problem = Some(Problem::truncated(Proto::Mpls)),
    }
}

/// BSD loopback: a 4-byte address family, in host byte order (NULL) or network order (LOOP).
fn null(data: &[u8], network_order: bool, out: &mut Decoded) {
    if data.len() < 4 {
        out.problem = Some(Problem::truncated(Proto::Null));
        return;
    }
    let b = [data[0], data[1], data[2], data[3]];
    let mut af = if network_order { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) };
    if af > 0xffff {
        af = af.swap_bytes(); // written on a host of the other byte order
    }
    match af {
        2 => ipv4(&data[4..], out),
        10 | 24 | 28 | 30 => ipv6(&data[4..], out),
        other => out.problem = Some(Problem::unsupported(Proto::Null, "address family not IP", other)),
    }
}

/// A PPP frame, with or without the HDLC address/control bytes.
fn ppp_frame(data: &[u8], out: &mut Decoded) {
    let data = if data.len() >= 2 && data[0] == 0xff && data[1] == 0x03 { &data[2..] } else { data };
    match data.first() {
        None => out.problem = Some(Problem::truncated(Proto::Ppp)),
        // Protocol-field compression: an odd first byte is a one-byte protocol.
        Some(&b) if b & 1 == 1 => ppp_protocol(b as u16, &data[1..], out),
        Some(_) if data.len() < 2 => out.problem = Some(Problem::truncated(Proto::Ppp)),
        Some(_) => ppp_protocol(be16(data, 0), &data[2..], out),
    }
}

pub fn ppp(data: &[u8], out: &mut Decoded) {
    ppp_frame(data, out)
}

fn ppp_protocol(protocol: u16, payload: &[u8], out: &mut Decoded) {
    match protocol {
        PPP_IPV4 => ipv4(payload, out),
        PPP_IPV6 => ipv6(payload, out),
        PPP_MPLS | PPP_MPLS_MULTICAST => mpls(payload, out),
        _ => {} // LCP, IPCP, CHAP, ...: link control, not IP traffic
    }
}
