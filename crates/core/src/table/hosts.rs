//! Per-host traffic: what each address sent and received (the "top talkers"), derived from the
//! conversations at report time instead of costing two more lookups per packet.

use super::ConversationTable;
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
        HostTable { map: flow_map(seed) }
    }

    /// Endpoints of every conversation (every IP layer, as tshark's endpoint tables count).
    pub fn from_conversations(conversations: &ConversationTable, seed: u64) -> HostTable {
        let mut hosts = HostTable { map: flow_map(seed) };
        for (k, s) in conversations.iter() {
            let a = hosts.map.entry(k.a).or_default();
            a.tx_packets += s.packets_ab;
            a.tx_bytes += s.bytes_ab;
            a.rx_packets += s.packets_ba;
            a.rx_bytes += s.bytes_ba;
            let b = hosts.map.entry(k.b).or_default();
            b.tx_packets += s.packets_ba;
            b.tx_bytes += s.bytes_ba;
            b.rx_packets += s.packets_ab;
            b.rx_bytes += s.bytes_ab;
        }
        hosts
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
            y.1.bytes().cmp(&x.1.bytes()).then(y.1.packets().cmp(&x.1.packets())).then(x.0.cmp(&y.0))
        };
        if rows.len() > n {
            rows.select_nth_unstable_by(n, order);
            rows.truncate(n);
        }
        rows.sort_unstable_by(order);
        rows
    }
}
