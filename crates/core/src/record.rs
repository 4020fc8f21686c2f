//! The packet record: what leaves the decoder for every packet.
//!
//! Small, `Copy`, and with a fixed-width little-endian encoding ([`PacketRecord::encode`]) that is
//! also the packed form carried in transport batches.

use crate::addr::{Addr, Family};

/// `flags` bits.
pub mod flag {
    /// The innermost IP header is a fragment (IPv4 MF or offset, IPv6 fragment header).
    pub const FRAGMENT: u8 = 1 << 0;
    /// ...and it is the first fragment (offset 0), which carries the transport header.
    pub const FIRST_FRAGMENT: u8 = 1 << 1;
    /// The packet was carried in at least one tunnel; addresses are the innermost ones.
    pub const TUNNELLED: u8 = 1 << 2;
    /// The captured bytes ended before the decoder reached the end of the headers it needed.
    pub const TRUNCATED: u8 = 1 << 3;
    /// A header was malformed; fields after it are zero.
    pub const MALFORMED: u8 = 1 << 4;
    /// Ports are known (TCP, UDP, SCTP, or ICMP type/code as ports).
    pub const HAS_PORTS: u8 = 1 << 5;
    /// The capture gave the packet no time (pcapng simple packet block); `ts_ns` is 0 and the
    /// packet belongs to whichever window is open.
    pub const NO_TIME: u8 = 1 << 6;
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketRecord {
    /// Capture time in nanoseconds since the Unix epoch (UTC).
    pub ts_ns: u64,
    pub src: Addr,
    pub dst: Addr,
    /// IP protocol number of the innermost IP payload after extension headers (0 without IP).
    pub proto: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// TCP flags byte (FIN=0x01 ... CWR=0x80), 0 when not TCP.
    pub tcp_flags: u8,
    /// Outermost 802.1Q/802.1ad VLAN id, 0 when untagged.
    pub vlan: u16,
    /// DSCP of the innermost IP header (0 without IP).
    pub dscp: u8,
    /// Length on the wire (frame.len).
    pub wire_len: u32,
    /// Captured length (frame.cap_len).
    pub cap_len: u32,
    /// [`flag`] bits.
    pub flags: u8,
    /// Kind of the outermost tunnel ([`crate::decode::TunnelKind`] as u8), 0 when none.
    pub tunnel: u8,
    /// Ethertype of a frame without IP (ARP 0x0806, ...), or 0.
    pub ethertype: u16,
    /// Capture interface index (pcapng interface id; 0 for pcap).
    pub interface: u16,
}

impl PacketRecord {
    /// Bytes of the fixed-width encoding.
    pub const ENCODED_LEN: usize = 64;

    pub fn family(&self) -> Family {
        self.src.family
    }

    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// Fixed-width little-endian encoding, see proto/netspectra/v1/packet.proto for the layout.
    pub fn encode(&self, out: &mut [u8; Self::ENCODED_LEN]) {
        out[0..8].copy_from_slice(&self.ts_ns.to_le_bytes());
        out[8..24].copy_from_slice(&self.src.bytes);
        out[24..40].copy_from_slice(&self.dst.bytes);
        out[40..44].copy_from_slice(&self.wire_len.to_le_bytes());
        out[44..48].copy_from_slice(&self.cap_len.to_le_bytes());
        out[48..50].copy_from_slice(&self.src_port.to_le_bytes());
        out[50..52].copy_from_slice(&self.dst_port.to_le_bytes());
        out[52..54].copy_from_slice(&self.vlan.to_le_bytes());
        out[54..56].copy_from_slice(&self.ethertype.to_le_bytes());
        out[56..58].copy_from_slice(&self.interface.to_le_bytes());
        out[58] = self.src.family as u8;
        out[59] = self.proto;
        out[60] = self.tcp_flags;
        out[61] = self.flags;
        out[62] = self.tunnel;
        out[63] = self.dscp;
    }

    pub fn decode(b: &[u8; Self::ENCODED_LEN]) -> PacketRecord {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let family = Family::from_u8(b[58]);
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&b[8..24]);
        dst.copy_from_slice(&b[24..40]);
        PacketRecord {
            ts_ns: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            src: Addr { family, bytes: src },
            dst: Addr { family, bytes: dst },
            wire_len: u32_at(40),
            cap_len: u32_at(44),
            src_port: u16_at(48),
            dst_port: u16_at(50),
            vlan: u16_at(52),
            ethertype: u16_at(54),
            interface: u16_at(56),
            proto: b[59],
            tcp_flags: b[60],
            flags: b[61],
            tunnel: b[62],
            dscp: b[63],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let r = PacketRecord {
            ts_ns: 1_700_000_000_123_456_789,
            src: Addr::v4([192, 0, 2, 1]),
            dst: Addr::v4([198, 51, 100, 7]),
            proto: 6,
            src_port: 443,
            dst_port: 51000,
            tcp_flags: 0x12,
            vlan: 100,
            dscp: 46,
            wire_len: 1514,
            cap_len: 160,
            flags: flag::HAS_PORTS | flag::TRUNCATED,
            tunnel: 3,
            ethertype: 0,
            interface: 2,
        };
        let mut buf = [0u8; PacketRecord::ENCODED_LEN];
        r.encode(&mut buf);
        assert_eq!(PacketRecord::decode(&buf), r);
    }
}
