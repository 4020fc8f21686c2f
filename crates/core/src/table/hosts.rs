//! Per-host traffic: what each address sent and received (the "top talkers").

use crate::addr::Addr;
use crate::hash::{flow_map, FlowMap};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
}

impl HostStats {
    pub fn bytes(&self) -> u64 {
        self.tx_bytes + self.rx_bytes
    }

    pub fn packets(&self) -> u64 {
        self.tx_packets + self.rx_packets
    }
}

#[derive(Clone, Debug)]
pub struct HostTable {
    map: FlowMap<Addr, HostStats>,
}

impl HostTable {
    pub fn new(seed: u64) -> HostTable {
        HostTable {
            map: flow_map(seed),
        }
    }

    #[inline]
    pub fn add(&mut self, src: Addr, dst: Addr, bytes: u64) {
        let s = self.map.entry(src).or_default();
        s.tx_packets += 1;
        s.tx_bytes += bytes;
        let d = self.map.entry(dst).or_default();
        d.rx_packets += 1;
        d.rx_bytes += bytes;
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The `n` hosts with the most bytes sent and received.
    pub fn top(&self, n: usize) -> Vec<(Addr, HostStats)> {
        let mut rows: Vec<_> = self.map.iter().map(|(k, v)| (*k, *v)).collect();
        let order = |x: &(Addr, HostStats), y: &(Addr, HostStats)| {
            y.1.bytes()
                .cmp(&x.1.bytes())
                .then(y.1.packets().cmp(&x.1.packets()))
                .then(x.0.cmp(&y.0))
        };
        if rows.len() > n {
            rows.select_nth_unstable_by(n, order);
            rows.truncate(n);
        }
        rows.sort_unstable_by(order);
        rows
    }
}
