//! IPv4 (options, fragments) and IPv6 (extension header chain, fragments, routing headers).

use super::problem::{Problem, Proto};
use super::transport::transport;
use super::{Decoded, Layer};
use crate::addr::{Addr, Family};
use crate::record::flag;

mod field {
    pub const V4_TOTAL_LEN: usize = 2;
    pub const V4_ID: usize = 4;
    pub const V4_FRAG: usize = 6;
    pub const V4_PROTO: usize = 9;
    pub const V4_SRC: usize = 12;
    pub const V4_DST: usize = 16;
    pub const V6_PAYLOAD_LEN: usize = 4;
    pub const V6_NEXT: usize = 6;
    pub const V6_SRC: usize = 8;
    pub const V6_DST: usize = 24;
}

const IPV4_MF: u16 = 0x2000;
const IPV4_OFFSET_MASK: u16 = 0x1fff;

/// Raw IP link types: the version nibble decides.
pub fn raw_ip(data: &[u8], out: &mut Decoded) {
    match data.first().map(|b| b >> 4) {
        Some(4) => ipv4(data, out),
        Some(6) => ipv6(data, out),
        Some(v) => {
            out.problem = Some(Problem::malformed_value(Proto::Ipv4, "raw IP version is neither 4 nor 6", v as u32))
        }
        None => out.problem = Some(Problem::truncated(Proto::Ipv4)),
    }
}

pub fn ipv4(data: &[u8], out: &mut Decoded) {
    if data.len() < 20 {
        out.problem = Some(Problem::truncated(Proto::Ipv4));
        return;
    }
    let version = data[0] >> 4;
    if version != 4 {
        out.problem = Some(Problem::malformed_value(Proto::Ipv4, "version is not 4", version as u32));
        return;
    }
    let header_len = ((data[0] & 0x0f) as usize) * 4;
    if header_len < 20 {
        out.problem = Some(Problem::malformed_value(Proto::Ipv4, "header length under 20 bytes", header_len as u32));
        return;
    }
    if data.len() < header_len {
        out.problem = Some(Problem::truncated(Proto::Ipv4));
        return;
    }
    let total_len = u16::from_be_bytes([data[field::V4_TOTAL_LEN], data[field::V4_TOTAL_LEN + 1]]) as usize;
    // Total length 0 is what TSO/BIG TCP captures carry: the datagram is the rest of the frame.
    let end = if total_len == 0 {
        data.len()
    } else if total_len < header_len {
        out.problem =
            Some(Problem::malformed_value(Proto::Ipv4, "total length shorter than the header", total_len as u32));
        return;
    } else {
        total_len.min(data.len())
    };
    let frag = u16::from_be_bytes([data[field::V4_FRAG], data[field::V4_FRAG + 1]]);
    let offset = frag & IPV4_OFFSET_MASK;
    let mut flags = 0;
    if frag & IPV4_MF != 0 || offset != 0 {
        flags |= flag::FRAGMENT;
        if offset == 0 {
            flags |= flag::FIRST_FRAGMENT;
        }
    }
    let dst = Addr::from_slice(Family::V4, &data[field::V4_DST..]);
    let layer = Layer {
        src: Addr::from_slice(Family::V4, &data[field::V4_SRC..]),
        dst,
        flow_dst: dst,
        proto: data[field::V4_PROTO],
        dscp: data[1] >> 2,
        flags,
        frag_id: u16::from_be_bytes([data[field::V4_ID], data[field::V4_ID + 1]]) as u32,
        ..Layer::default()
    };
    if !out.push(layer) {
        return;
    }
    if offset == 0 {
        transport(&data[header_len..end], out);
    }
}

pub fn ipv6(data: &[u8], out: &mut Decoded) {
    if data.len() < 40 {
        out.problem = Some(Problem::truncated(Proto::Ipv6));
        return;
    }
    let version = data[0] >> 4;
    if version != 6 {
        out.problem = Some(Problem::malformed_value(Proto::Ipv6, "version is not 6", version as u32));
        return;
    }
    let payload_len = u16::from_be_bytes([data[field::V6_PAYLOAD_LEN], data[field::V6_PAYLOAD_LEN + 1]]) as usize;
    // Payload length 0 means a jumbogram or a GSO capture: the datagram is the rest of the frame.
    let end = if payload_len == 0 { data.len() } else { (40 + payload_len).min(data.len()) };
    let dst = Addr::from_slice(Family::V6, &data[field::V6_DST..]);
    let layer = Layer {
        src: Addr::from_slice(Family::V6, &data[field::V6_SRC..]),
        dst,
        flow_dst: dst,
        proto: data[field::V6_NEXT],
        // Traffic class: the low nibble of byte 0 and the high one of byte 1.
        dscp: ((data[0] & 0x0f) << 2) | (data[1] >> 6),
        ..Layer::default()
    };
    if !out.push(layer) {
        return;
    }
    let mut next = data[field::V6_NEXT];
    let mut rest = &data[40..end];
    loop {
        match next {
            // Hop-by-hop, destination options, mobility, HIP, shim6, experimental: (next, len*8+8).
            0 | 60 | 135 | 139 | 140 | 253 | 254 => {
                let Some(len) = ext_len(rest, 8, out) else {
                    return;
                };
                next = rest[0];
                rest = &rest[len..];
            }
            // Authentication header: its length is in 4-octet units, minus 2.
            51 => {
                if rest.len() < 2 {
                    out.problem = Some(Problem::truncated(Proto::Ipv6Ext));
                    return;
                }
                let len = (rest[1] as usize + 2) * 4;
                if rest.len() < len {
                    out.problem = Some(Problem::truncated(Proto::Ipv6Ext));
                    return;
                }
                next = rest[0];
                rest = &rest[len..];
            }
            43 => {
                let Some(len) = ext_len(rest, 8, out) else {
                    return;
                };
                if let Some(final_dst) = routing_final_destination(&rest[..len]) {
                    out.top().flow_dst = final_dst;
                }
                next = rest[0];
                rest = &rest[len..];
            }
            44 => {
                if rest.len() < 8 {
                    out.problem = Some(Problem::truncated(Proto::Ipv6Ext));
                    return;
                }
                let off_flags = u16::from_be_bytes([rest[2], rest[3]]);
                let offset = off_flags >> 3;
                let more = off_flags & 1 != 0;
                next = rest[0];
                let top = out.top();
                top.proto = next;
                top.frag_id = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
                // An atomic fragment (offset 0, no more) is a whole datagram.
                if offset != 0 || more {
                    top.flags |= flag::FRAGMENT;
                    if offset == 0 {
                        top.flags |= flag::FIRST_FRAGMENT;
                    } else {
                        return;
                    }
                }
                rest = &rest[8..];
            }
            _ => break,
        }
        out.top().proto = next;
    }
    out.top().proto = next;
    transport(rest, out);
}

/// Length of a generic extension header (`(hdr_ext_len + 1) * unit` bytes), checked against the
/// bytes left.
fn ext_len(rest: &[u8], unit: usize, out: &mut Decoded) -> Option<usize> {
    if rest.len() < 2 {
        out.problem = Some(Problem::truncated(Proto::Ipv6Ext));
        return None;
    }
    let len = (rest[1] as usize + 1) * unit;
    if rest.len() < len {
        out.problem = Some(Problem::truncated(Proto::Ipv6Ext));
        return None;
    }
    Some(len)
}

/// The final destination named by a routing header with segments left: the last address of a
/// type 0 or type 2 header, the first segment (Segment List[0]) of a segment routing header.
fn routing_final_destination(h: &[u8]) -> Option<Addr> {
    let (kind, segments_left) = (h[2], h[3]);
    if segments_left == 0 {
        return None;
    }
    let addresses = &h[8..];
    let count = addresses.len() / 16;
    let index = match kind {
        0 | 2 if count > 0 => count - 1,
        4 if count > 0 => 0,
        _ => return None,
    };
    Some(Addr::from_slice(Family::V6, &addresses[index * 16..]))
}
