//! Tunnels: each one keeps its carrier as an outer layer and decodes the payload as a new layer.

use super::link::{ethernet, ethertype, mpls, ppp, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use super::network::{ipv4, ipv6};
use super::problem::{Problem, Proto};
use super::{be16, Decoded};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TunnelKind {
    #[default]
    None = 0,
    IpInIp = 1,
    Ipv6InIp = 2,
    Gre = 3,
    Vxlan = 4,
    Geneve = 5,
    Teredo = 6,
    GtpU = 7,
}

impl TunnelKind {
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::None => "none",
            TunnelKind::IpInIp => "ipip",
            TunnelKind::Ipv6InIp => "6in4",
            TunnelKind::Gre => "gre",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::Teredo => "teredo",
            TunnelKind::GtpU => "gtp-u",
        }
    }

    pub fn from_u8(v: u8) -> TunnelKind {
        match v {
            1 => TunnelKind::IpInIp,
            2 => TunnelKind::Ipv6InIp,
            3 => TunnelKind::Gre,
            4 => TunnelKind::Vxlan,
            5 => TunnelKind::Geneve,
            6 => TunnelKind::Teredo,
            7 => TunnelKind::GtpU,
            _ => TunnelKind::None,
        }
    }
}

pub const UDP_PORT_VXLAN: u16 = 4789;
pub const UDP_PORT_GENEVE: u16 = 6081;
pub const UDP_PORT_TEREDO: u16 = 3544;
pub const UDP_PORT_GTPU: u16 = 2152;

const GRE_CHECKSUM: u16 = 0x8000;
const GRE_ROUTING: u16 = 0x4000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQUENCE: u16 = 0x1000;
const GRE_ACK: u16 = 0x0080;
const GRE_PROTO_BRIDGING: u16 = 0x6558;
const GRE_PROTO_PPP: u16 = 0x880b;
const GRE_PROTO_ERSPAN2: u16 = 0x88be;
const GRE_PROTO_ERSPAN3: u16 = 0x22eb;
const GRE_PROTO_CISCO_METADATA: u16 = 0x8909;
const GRE_PROTO_MPLS: u16 = 0x8847;

/// Marks the innermost layer as carrying `kind` and decodes the payload; if no inner IP layer
/// came out of it (not IP, or unusable), the carrier stays the innermost layer.
pub fn enter(kind: TunnelKind, out: &mut Decoded, inner: impl FnOnce(&mut Decoded)) {
    let depth = out.layers().len();
    out.top().carries = kind;
    inner(out);
    if out.layers().len() == depth {
        out.top().carries = TunnelKind::None;
    }
}

/// UDP-borne tunnels, recognised by port and a sane header; anything else stays plain UDP.
pub fn udp_tunnel(sport: u16, dport: u16, payload: &[u8], out: &mut Decoded) {
    let is = |port: u16| sport == port || dport == port;
    if is(UDP_PORT_VXLAN) {
        // Flags byte with the I bit set, then 3 reserved bytes, VNI and a reserved byte.
        if payload.len() >= 8 && payload[0] & 0x08 != 0 {
            enter(TunnelKind::Vxlan, out, |out| ethernet(&payload[8..], out));
        }
    } else if is(UDP_PORT_GENEVE) {
        if payload.len() >= 8 && payload[0] >> 6 == 0 {
            let header_len = 8 + ((payload[0] & 0x3f) as usize) * 4;
            let protocol = be16(payload, 2);
            if payload.len() >= header_len {
                let inner = &payload[header_len..];
                enter(TunnelKind::Geneve, out, |out| match protocol {
                    GRE_PROTO_BRIDGING => ethernet(inner, out),
                    other => ethertype(other, inner, out),
                });
            } else {
                out.problem = Some(Problem::truncated(Proto::Geneve));
            }
        }
    } else if is(UDP_PORT_GTPU) {
        gtpu(payload, out);
    } else if is(UDP_PORT_TEREDO) {
        teredo(payload, out);
    }
}

/// GRE version 0 (RFC 2784/2890) and version 1 (PPTP's enhanced GRE, RFC 2637).
pub fn gre(data: &[u8], out: &mut Decoded) {
    if data.len() < 4 {
        out.problem = Some(Problem::truncated(Proto::Gre));
        return;
    }
    let flags = be16(data, 0);
    let version = flags & 7;
    let protocol = be16(data, 2);
    if version > 1 {
        out.problem = Some(Problem::unsupported(Proto::Gre, "GRE version", version as u32));
        return;
    }
    if flags & GRE_ROUTING != 0 {
        out.problem = Some(Problem::unsupported(Proto::Gre, "GRE source routing", 1));
        return;
    }
    let mut len = 4;
    if flags & GRE_CHECKSUM != 0 {
        len += 4;
    }
    if flags & GRE_KEY != 0 {
        len += 4;
    }
    if flags & GRE_SEQUENCE != 0 {
        len += 4;
    }
    if version == 1 && flags & GRE_ACK != 0 {
        len += 4;
    }
    if data.len() < len {
        out.problem = Some(Problem::truncated(Proto::Gre));
        return;
    }
    let payload = &data[len..];
    match protocol {
        GRE_PROTO_BRIDGING => ethernet(payload, out),
        GRE_PROTO_PPP => ppp(payload, out),
        GRE_PROTO_MPLS => mpls(payload, out),
        // ERSPAN type II: an 8-byte header, then the mirrored frame (type I has none).
        GRE_PROTO_ERSPAN2 if flags & GRE_SEQUENCE == 0 => ethernet(payload, out),
        GRE_PROTO_ERSPAN2 if payload.len() >= 8 => ethernet(&payload[8..], out),
        // ERSPAN type III: 12 bytes, plus an 8-byte platform sub-header when the O bit is set.
        GRE_PROTO_ERSPAN3 if payload.len() >= 12 => {
            let skip = if payload[11] & 1 != 0 { 20 } else { 12 };
            if payload.len() >= skip {
                ethernet(&payload[skip..], out);
            }
        }
        // Cisco MetaData in GRE: the inner ethertype, version, length, option, SGT (8 bytes).
        GRE_PROTO_CISCO_METADATA if payload.len() >= 8 => ethertype(be16(payload, 0), &payload[8..], out),
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => ethertype(protocol, payload, out),
        other => ethertype(other, payload, out),
    }
}

/// GTP-U (3GPP TS 29.281): G-PDU messages carry user IP packets.
fn gtpu(data: &[u8], out: &mut Decoded) {
    if data.len() < 8 || data[0] >> 5 != 1 || data[0] & 0x10 == 0 || data[1] != 0xff {
        return; // not a version-1 G-PDU: signalling or another protocol on the port
    }
    let mut len = 8;
    if data[0] & 0x07 != 0 {
        if data.len() < 12 {
            out.problem = Some(Problem::truncated(Proto::GtpU));
            return;
        }
        let mut next = data[11];
        len = 12;
        while next != 0 {
            let Some(&units) = data.get(len) else {
                out.problem = Some(Problem::truncated(Proto::GtpU));
                return;
            };
            let ext = units as usize * 4;
            if ext == 0 {
                out.problem = Some(Problem::malformed(Proto::GtpU, "extension header of length 0"));
                return;
            }
            if data.len() < len + ext {
                out.problem = Some(Problem::truncated(Proto::GtpU));
                return;
            }
            next = data[len + ext - 1];
            len += ext;
        }
    }
    let inner = &data[len..];
    match inner.first().map(|b| b >> 4) {
        Some(4) => enter(TunnelKind::GtpU, out, |out| ipv4(inner, out)),
        Some(6) => enter(TunnelKind::GtpU, out, |out| ipv6(inner, out)),
        _ => {}
    }
}

/// Teredo (RFC 4380): optional authentication and origin indication, then IPv6.
fn teredo(mut data: &[u8], out: &mut Decoded) {
    if data.len() >= 4 && data[0] == 0 && data[1] == 1 {
        let len = 4 + data[2] as usize + data[3] as usize + 9;
        if data.len() < len {
            return;
        }
        data = &data[len..];
    }
    if data.len() >= 8 && data[0] == 0 && data[1] == 0 {
        data = &data[8..];
    }
    if data.len() >= 40 && data[0] >> 4 == 6 {
        enter(TunnelKind::Teredo, out, |out| ipv6(data, out));
    }
}
