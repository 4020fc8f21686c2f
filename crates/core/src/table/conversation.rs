//! Bidirectional conversations: one row per unordered endpoint pair, counted per direction.

use crate::addr::Addr;
use crate::hash::{flow_map, FlowMap};
use core::cmp::Ordering;
use core::hash::{Hash, Hasher};

/// A conversation key in canonical order: endpoint A is the smaller (address, port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConvKey {
    pub a: Addr,
    pub b: Addr,
    pub proto: u8,
    pub port_a: u16,
    pub port_b: u16,
}

impl Hash for ConvKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.a.hash_words(state);
        self.b.hash_words(state);
        state.write_u64(
            (self.a.family as u64) | (self.proto as u64) << 8 | (self.port_a as u64) << 16 | (self.port_b as u64) << 32,
        );
    }
}

impl ConvKey {
    /// The canonical key for a packet from (src, sport) to (dst, dport), and whether the packet
    /// goes from A to B.
    #[inline]
    pub fn canonical(src: Addr, sport: u16, dst: Addr, dport: u16, proto: u8) -> (ConvKey, bool) {
        let forward = match src.bytes.cmp(&dst.bytes) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => sport <= dport,
        };
        if forward {
            (ConvKey { a: src, b: dst, proto, port_a: sport, port_b: dport }, true)
        } else {
            (ConvKey { a: dst, b: src, proto, port_a: dport, port_b: sport }, false)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvStats {
    pub packets_ab: u64,
    pub bytes_ab: u64,
    pub packets_ba: u64,
    pub bytes_ba: u64,
    /// Time of the first and last packet (ns); `first_ns` is u64::MAX until a timed packet.
    pub first_ns: u64,
    pub last_ns: u64,
    /// TCP flags seen from A and from B.
    pub tcp_flags_ab: u8,
    pub tcp_flags_ba: u8,
    /// Tunnel kind carried by this conversation (for tunnel endpoints), else 0.
    pub carries: u8,
}

impl Default for ConvStats {
    /// Empty, with `first_ns` above any time so the first packet's time replaces it.
    fn default() -> ConvStats {
        ConvStats {
            packets_ab: 0,
            bytes_ab: 0,
            packets_ba: 0,
            bytes_ba: 0,
            first_ns: u64::MAX,
            last_ns: 0,
            tcp_flags_ab: 0,
            tcp_flags_ba: 0,
            carries: 0,
        }
    }
}

impl ConvStats {
    pub fn packets(&self) -> u64 {
        self.packets_ab + self.packets_ba
    }

    pub fn bytes(&self) -> u64 {
        self.bytes_ab + self.bytes_ba
    }

    pub fn merge(&mut self, o: &ConvStats) {
        self.packets_ab += o.packets_ab;
        self.bytes_ab += o.bytes_ab;
        self.packets_ba += o.packets_ba;
        self.bytes_ba += o.bytes_ba;
        self.first_ns = self.first_ns.min(o.first_ns);
        self.last_ns = self.last_ns.max(o.last_ns);
        self.tcp_flags_ab |= o.tcp_flags_ab;
        self.tcp_flags_ba |= o.tcp_flags_ba;
        self.carries = self.carries.max(o.carries);
    }
}

/// One packet's contribution to a conversation.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConvUpdate {
    pub src: Addr,
    pub dst: Addr,
    pub proto: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub bytes: u64,
    /// None for packets without a timestamp.
    pub ts_ns: Option<u64>,
    pub tcp_flags: u8,
    pub carries: u8,
}

#[derive(Clone, Debug)]
pub struct ConversationTable {
    map: FlowMap<ConvKey, ConvStats>,
}

impl ConversationTable {
    pub fn new(seed: u64) -> ConversationTable {
        ConversationTable { map: flow_map(seed) }
    }

    #[inline]
    pub fn add(&mut self, u: &ConvUpdate) {
        let (key, forward) = ConvKey::canonical(u.src, u.src_port, u.dst, u.dst_port, u.proto);
        let s = self.map.entry(key).or_default();
        if forward {
            s.packets_ab += 1;
            s.bytes_ab += u.bytes;
            s.tcp_flags_ab |= u.tcp_flags;
        } else {
            s.packets_ba += 1;
            s.bytes_ba += u.bytes;
            s.tcp_flags_ba |= u.tcp_flags;
        }
        if let Some(ts) = u.ts_ns {
            s.first_ns = s.first_ns.min(ts);
            s.last_ns = s.last_ns.max(ts);
        }
        s.carries = s.carries.max(u.carries);
    }

    /// Counts already in the key's orientation (a flow's share of a window).
    #[inline]
    pub fn add_stats(&mut self, key: ConvKey, s: &ConvStats) {
        self.map.entry(key).or_default().merge(s);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ConvKey, &ConvStats)> {
        self.map.iter()
    }

    pub fn get(&self, k: &ConvKey) -> Option<&ConvStats> {
        self.map.get(k)
    }

    pub fn merge(&mut self, other: &ConversationTable) {
        for (k, v) in other.iter() {
            self.map.entry(*k).or_default().merge(v);
        }
    }

    /// Every row, sorted by bytes, then packets (both descending), then key: a total order, so
    /// the output does not depend on hash-map iteration order.
    pub fn sorted(&self) -> Vec<(ConvKey, ConvStats)> {
        let mut rows: Vec<_> = self.map.iter().map(|(k, v)| (*k, *v)).collect();
        rows.sort_unstable_by(|x, y| {
            y.1.bytes().cmp(&x.1.bytes()).then(y.1.packets().cmp(&x.1.packets())).then(x.0.cmp(&y.0))
        });
        rows
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Takes away counts that were added under another key (times cannot be taken away; a row
    /// left with no packets is removed).
    pub fn subtract(&mut self, other: &ConversationTable) {
        for (k, o) in other.iter() {
            if let Some(s) = self.map.get_mut(k) {
                s.packets_ab = s.packets_ab.saturating_sub(o.packets_ab);
                s.bytes_ab = s.bytes_ab.saturating_sub(o.bytes_ab);
                s.packets_ba = s.packets_ba.saturating_sub(o.packets_ba);
                s.bytes_ba = s.bytes_ba.saturating_sub(o.bytes_ba);
                if s.packets() == 0 {
                    self.map.remove(k);
                }
            }
        }
    }

    /// The same traffic per address pair (protocol and ports dropped). Between one address and
    /// itself every packet counts as A to B, as tshark does.
    pub fn by_address_pair(&self, seed: u64) -> ConversationTable {
        let mut pairs = ConversationTable::new(seed);
        for (k, s) in self.iter() {
            let key = ConvKey { a: k.a, b: k.b, proto: 0, port_a: 0, port_b: 0 };
            let mut s = *s;
            if k.a == k.b {
                s.packets_ab += s.packets_ba;
                s.bytes_ab += s.bytes_ba;
                s.tcp_flags_ab |= s.tcp_flags_ba;
                (s.packets_ba, s.bytes_ba, s.tcp_flags_ba) = (0, 0, 0);
            }
            pairs.map.entry(key).or_default().merge(&s);
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upd(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, bytes: u64, ts: u64) -> ConvUpdate {
        ConvUpdate {
            src: Addr::v4(src),
            dst: Addr::v4(dst),
            proto: 6,
            src_port: sport,
            dst_port: dport,
            bytes,
            ts_ns: Some(ts),
            tcp_flags: 0x02,
            carries: 0,
        }
    }

    #[test]
    fn both_directions_land_in_one_row() {
        let mut t = ConversationTable::new(7);
        t.add(&upd([10, 0, 0, 2], 40000, [10, 0, 0, 1], 80, 100, 5));
        t.add(&upd([10, 0, 0, 1], 80, [10, 0, 0, 2], 40000, 1500, 9));
        t.add(&upd([10, 0, 0, 1], 80, [10, 0, 0, 2], 40000, 1500, 7));
        assert_eq!(t.len(), 1);
        let (k, s) = t.sorted()[0];
        assert_eq!(k.a, Addr::v4([10, 0, 0, 1]));
        assert_eq!((k.port_a, k.port_b), (80, 40000));
        assert_eq!((s.packets_ab, s.bytes_ab, s.packets_ba, s.bytes_ba), (2, 3000, 1, 100));
        assert_eq!((s.first_ns, s.last_ns), (5, 9));
    }

    #[test]
    fn address_pairs_sum_every_conversation_of_the_pair() {
        let mut t = ConversationTable::new(1);
        t.add(&upd([10, 0, 0, 2], 40000, [10, 0, 0, 1], 80, 100, 5));
        t.add(&upd([10, 0, 0, 1], 443, [10, 0, 0, 2], 40001, 1000, 9));
        t.add(&upd([10, 0, 0, 3], 1, [10, 0, 0, 3], 2, 7, 1));
        t.add(&upd([10, 0, 0, 3], 2, [10, 0, 0, 3], 1, 7, 2));
        let pairs = t.by_address_pair(1).sorted();
        assert_eq!(pairs.len(), 2);
        let (k, s) = pairs[0];
        assert_eq!((k.a, k.b, k.proto, k.port_a), (Addr::v4([10, 0, 0, 1]), Addr::v4([10, 0, 0, 2]), 0, 0));
        assert_eq!((s.packets_ab, s.bytes_ab, s.packets_ba, s.bytes_ba), (1, 1000, 1, 100));
        assert_eq!((s.first_ns, s.last_ns), (5, 9));
        let (_, s) = pairs[1];
        assert_eq!((s.packets_ab, s.packets_ba), (2, 0), "one address talking to itself counts as A to B");
    }

    #[test]
    fn same_address_orders_by_port() {
        let (k, fwd) = ConvKey::canonical(Addr::v4([127, 0, 0, 1]), 9000, Addr::v4([127, 0, 0, 1]), 80, 17);
        assert!(!fwd);
        assert_eq!((k.port_a, k.port_b), (80, 9000));
    }

    #[test]
    fn ipv4_and_mapped_ipv6_are_different_conversations() {
        let mut t = ConversationTable::new(0);
        let mut u = upd([10, 0, 0, 1], 1, [10, 0, 0, 2], 2, 10, 1);
        t.add(&u);
        u.src = Addr::v6(u.src.bytes);
        u.dst = Addr::v6(u.dst.bytes);
        t.add(&u);
        assert_eq!(t.len(), 2);
    }
}
