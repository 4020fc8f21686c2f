//! Packet decode: link -> network -> transport, tunnels included.
//!
//! [`decode`] reads one frame and fills a reused [`Decoded`]. It never fails: a frame is decoded
//! as far as its bytes allow, and why it stopped is recorded as a [`Problem`] that the caller
//! counts. Every IP header met is kept as a [`Layer`], outermost first; the innermost complete
//! layer is the packet's flow, the ones before it are the tunnels that carried it.
//!
//! Tunnels decapsulated: IP-in-IP (4), IPv6-in-IP (41, 6in4), GRE (incl. PPTP's enhanced GRE,
//! transparent Ethernet bridging, MPLS, ERSPAN II/III), VXLAN (UDP 4789), Geneve (UDP 6081),
//! Teredo (UDP 3544), GTP-U (UDP 2152) and MPLS pseudowires with a control word.
//! Layers inside ICMP error payloads are not decoded, as tshark does.

mod link;
mod network;
mod problem;
mod transport;
mod tunnel;

pub use problem::{DecodeStats, Problem, ProblemKind, Proto};
pub use tunnel::TunnelKind;

use crate::addr::Addr;
use crate::record::{flag, PacketRecord};

/// Most IP layers kept per frame (so at most three tunnels deep).
pub const MAX_LAYERS: usize = 4;

/// LINKTYPE_* values understood by [`decode`].
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const PPP: u32 = 9;
    pub const RAW_OPENBSD: u32 = 12;
    pub const PPP_HDLC: u32 = 50;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// One IP header of a frame, with the transport header that follows it when there is one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layer {
    pub src: Addr,
    /// Destination in the IP header.
    pub dst: Addr,
    /// Destination of the flow: the IP header's, or the final one named by an IPv6 routing
    /// header with segments left (tshark's TCP/UDP conversations use this one too).
    pub flow_dst: Addr,
    /// IP protocol number after extension headers.
    pub proto: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp_flags: u8,
    /// Differentiated Services code point: IPv4 TOS or IPv6 traffic class, upper six bits.
    pub dscp: u8,
    /// [`flag`] bits that describe this layer (FRAGMENT, FIRST_FRAGMENT, HAS_PORTS).
    pub flags: u8,
    /// The tunnel this layer carries (its payload is the next layer), or `None`.
    pub carries: TunnelKind,
    /// IPv4 identification or IPv6 fragment identification (for fragment bookkeeping).
    pub frag_id: u32,
}

/// The result of decoding one frame; reused across frames to avoid per-packet work.
#[derive(Clone, Debug, Default)]
pub struct Decoded {
    layers: [Layer; MAX_LAYERS],
    len: usize,
    /// Outermost VLAN id, 0 when untagged.
    pub vlan: u16,
    /// Ethertype of a frame that carries no IP (ARP, ...); 0 otherwise or for 802.3/LLC frames.
    pub ethertype: u16,
    /// Why decoding stopped early, if it did.
    pub problem: Option<Problem>,
    /// The innermost TCP or UDP payload: offset in the frame and length (0 when none), and
    /// the TCP sequence number of its first byte.
    payload_at: usize,
    payload_len: usize,
    pub tcp_seq: u32,
    /// Address of the frame being decoded (payload offsets are taken from it).
    base: usize,
}

impl Decoded {
    /// Every IP layer met, outermost first (empty for frames without IP).
    pub fn layers(&self) -> &[Layer] {
        &self.layers[..self.len]
    }

    /// The innermost IP layer: the packet's own flow.
    pub fn inner(&self) -> Option<&Layer> {
        self.layers().last()
    }

    /// The innermost layer's TCP or UDP payload in `frame` (the frame given to [`decode`]).
    pub fn payload<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        frame.get(self.payload_at..self.payload_at + self.payload_len).unwrap_or(&[])
    }

    fn set_payload(&mut self, payload: &[u8]) {
        self.payload_at = (payload.as_ptr() as usize).wrapping_sub(self.base);
        self.payload_len = payload.len();
    }

    fn reset(&mut self, frame: &[u8]) {
        self.len = 0;
        self.vlan = 0;
        self.ethertype = 0;
        self.problem = None;
        self.payload_len = 0;
        self.base = frame.as_ptr() as usize;
    }

    /// Starts a new layer; false (and a problem) when the frame nests too deep.
    fn push(&mut self, layer: Layer) -> bool {
        if self.len == MAX_LAYERS {
            self.problem = Some(Problem::malformed(Proto::Tunnel, "tunnels nested deeper than 3"));
            return false;
        }
        self.layers[self.len] = layer;
        self.len += 1;
        // An outer layer's payload is this layer, not the packet's.
        self.payload_len = 0;
        true
    }

    fn top(&mut self) -> &mut Layer {
        &mut self.layers[self.len - 1]
    }

    /// Builds the packet record from the innermost layer.
    pub fn record(&self, ts_ns: u64, wire_len: u32, cap_len: u32, interface: u16) -> PacketRecord {
        let mut r = PacketRecord {
            ts_ns,
            wire_len,
            cap_len,
            interface,
            vlan: self.vlan,
            ethertype: self.ethertype,
            ..PacketRecord::default()
        };
        if let Some(l) = self.inner() {
            r.src = l.src;
            r.dst = l.flow_dst;
            r.proto = l.proto;
            r.src_port = l.src_port;
            r.dst_port = l.dst_port;
            r.tcp_flags = l.tcp_flags;
            r.dscp = l.dscp;
            r.flags = l.flags;
            if self.len > 1 {
                r.flags |= flag::TUNNELLED;
                r.tunnel = self.layers[0].carries as u8;
            }
        }
        match self.problem.map(|p| p.kind) {
            Some(ProblemKind::Truncated) => r.flags |= flag::TRUNCATED,
            Some(ProblemKind::Malformed) => r.flags |= flag::MALFORMED,
            _ => {}
        }
        r
    }
}

/// A big-endian u16 at `at`; the caller has checked the length.
#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Decodes one captured frame of the given link type into `out`.
pub fn decode(data: &[u8], link_type: u32, out: &mut Decoded) {
    out.reset(data);
    link::decode_link(data, link_type, out);
}

#[cfg(test)]
mod tests;
