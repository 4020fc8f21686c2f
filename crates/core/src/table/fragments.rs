//! Ports for non-first fragments, learned from the first fragment of the same datagram, so every
//! fragment of a UDP datagram is accounted to its conversation (tshark counts the datagram once,
//! on the frame that completes reassembly). Bounded: when full it starts over, and counts that.

use crate::addr::Addr;
use crate::hash::{flow_map, FlowMap};

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

    pub fn lookup(&self, src: Addr, dst: Addr, proto: u8, id: u32) -> Option<(u16, u16)> {
        self.map.get(&DatagramId { src, dst, proto, id }).copied()
    }
}
