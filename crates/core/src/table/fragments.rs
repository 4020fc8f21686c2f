//! Ports for non-first fragments, learned from the first fragment of the same datagram, so every
//! fragment of a UDP datagram is accounted to its conversation (tshark counts the datagram once,
//! on the frame that completes reassembly). Bounded: when full it starts over, and counts that.

use crate::addr::Addr;
use crate::decode::Decoded;
use crate::hash::{flow_map, FlowMap};
use crate::record::{flag, PacketRecord};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct DatagramId {
    src: Addr,
    dst: Addr,
    proto: u8,
    id: u32,
}

#[derive(Clone, Debug)]
pub struct FragmentPorts {
    map: FlowMap<DatagramId, (u16, u16)>,
    capacity: usize,
    /// Times the table was full and was cleared.
    pub resets: u64,
}

impl FragmentPorts {
    pub fn new(capacity: usize, seed: u64) -> FragmentPorts {
        FragmentPorts { map: flow_map(seed), capacity, resets: 0 }
    }

    pub fn remember(&mut self, src: Addr, dst: Addr, proto: u8, id: u32, ports: (u16, u16)) {
        if self.map.len() >= self.capacity {
            self.map.clear();
            self.resets += 1;
        }
        self.map.insert(DatagramId { src, dst, proto, id }, ports);
    }

    /// Remembers the ports of a first fragment, or gives a later fragment the ports of its
    /// datagram's first fragment (`r` was just made from `decoded`).
    #[inline]
    pub fn fill(&mut self, decoded: &Decoded, r: &mut PacketRecord) {
        if !r.has(flag::FRAGMENT) {
            return;
        }
        let Some(l) = decoded.inner() else {
            return;
        };
        if r.has(flag::FIRST_FRAGMENT) {
            if r.has(flag::HAS_PORTS) {
                self.remember(r.src, r.dst, r.proto, l.frag_id, (r.src_port, r.dst_port));
            }
        } else if let Some((s, d)) = self.lookup(r.src, r.dst, r.proto, l.frag_id) {
            r.src_port = s;
            r.dst_port = d;
            r.flags |= flag::HAS_PORTS;
        }
    }

    pub fn lookup(&self, src: Addr, dst: Addr, proto: u8, id: u32) -> Option<(u16, u16)> {
        self.map.get(&DatagramId { src, dst, proto, id }).copied()
    }
}
