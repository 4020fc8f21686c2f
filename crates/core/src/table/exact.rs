//! Exact per-key accounting with a configurable key (any subset of the five flow fields), and
//! optionally the exact number of distinct element values per key: the ground truth that the
//! SuperSpread estimates are measured against.

use crate::hash::{flow_map, FlowMap};
use crate::key::{KeyFields, PackedKey};
use crate::record::PacketRecord;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExactStats {
    pub packets: u64,
    pub bytes: u64,
    /// Distinct element values seen with the key (0 when not counted).
    pub distinct: u64,
}

#[derive(Clone, Debug)]
pub struct ExactTable {
    fields: KeyFields,
    distinct_fields: KeyFields,
    map: FlowMap<PackedKey, ExactStats>,
    pairs: FlowMap<(PackedKey, PackedKey), ()>,
}

impl ExactTable {
    /// `distinct_fields` empty: no distinct counting.
    pub fn new(fields: KeyFields, distinct_fields: KeyFields, seed: u64) -> ExactTable {
        ExactTable { fields, distinct_fields, map: flow_map(seed), pairs: flow_map(seed) }
    }

    pub fn fields(&self) -> KeyFields {
        self.fields
    }

    pub fn distinct_fields(&self) -> KeyFields {
        self.distinct_fields
    }

    #[inline]
    pub fn add(&mut self, r: &PacketRecord) {
        self.add_key(PackedKey::of(r, self.fields), r);
    }

    /// As [`ExactTable::add`] with the key already packed (callers that share it across tasks).
    #[inline]
    #[allow(clippy::map_entry)] // `entry` reserves first: a full set would grow for a known pair
    pub fn add_key(&mut self, key: PackedKey, r: &PacketRecord) {
        // Look up before inserting: `entry` would move the 40-byte key on every packet.
        let s = match self.map.get_mut(&key) {
            Some(s) => s,
            None => self.map.entry(key).or_default(),
        };
        s.packets += 1;
        s.bytes += r.wire_len as u64;
        if !self.distinct_fields.is_empty() {
            let pair = (key, PackedKey::of(r, self.distinct_fields));
            if !self.pairs.contains_key(&pair) {
                self.pairs.insert(pair, ());
                s.distinct += 1;
            }
        }
    }

    /// Packets and bytes of a key at once (a flow's share of a window), and with distinct
    /// counting, the element they came with.
    #[inline]
    #[allow(clippy::map_entry)] // as in add_key
    pub fn add_counts(&mut self, key: PackedKey, packets: u64, bytes: u64, element: Option<PackedKey>) {
        let s = match self.map.get_mut(&key) {
            Some(s) => s,
            None => self.map.entry(key).or_default(),
        };
        s.packets += packets;
        s.bytes += bytes;
        if let Some(e) = element {
            if !self.pairs.contains_key(&(key, e)) {
                self.pairs.insert((key, e), ());
                s.distinct += 1;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, k: &PackedKey) -> Option<&ExactStats> {
        self.map.get(k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&PackedKey, &ExactStats)> {
        self.map.iter()
    }

    /// The `n` largest keys by `rank` (descending), ties broken by key: a total order.
    pub fn top_by(&self, n: usize, rank: impl Fn(&ExactStats) -> (u64, u64)) -> Vec<(PackedKey, ExactStats)> {
        let mut rows: Vec<_> = self.map.iter().map(|(k, v)| (*k, *v)).collect();
        let order =
            |x: &(PackedKey, ExactStats), y: &(PackedKey, ExactStats)| rank(&y.1).cmp(&rank(&x.1)).then(x.0.cmp(&y.0));
        if rows.len() > n {
            rows.select_nth_unstable_by(n, order);
            rows.truncate(n);
        }
        rows.sort_unstable_by(order);
        rows
    }

    /// The `n` largest keys by bytes, then packets.
    pub fn top(&self, n: usize) -> Vec<(PackedKey, ExactStats)> {
        self.top_by(n, |s| (s.bytes, s.packets))
    }

    /// Bytes held per tracked key (the map entry, and the pair entries when counting distinct).
    pub fn bytes_per_key(&self) -> f64 {
        let entry = core::mem::size_of::<(PackedKey, ExactStats)>() + 1;
        let pair = core::mem::size_of::<(PackedKey, PackedKey)>() + 1;
        let keys = self.map.len().max(1) as f64;
        (self.map.capacity() * entry + self.pairs.capacity() * pair) as f64 / keys
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.pairs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Addr;

    fn rec(src: [u8; 4], dst: [u8; 4], dport: u16, len: u32) -> PacketRecord {
        PacketRecord {
            src: Addr::v4(src),
            dst: Addr::v4(dst),
            proto: 6,
            src_port: 1234,
            dst_port: dport,
            wire_len: len,
            ..PacketRecord::default()
        }
    }

    #[test]
    fn key_keeps_only_the_configured_fields() {
        let f = KeyFields::parse("SrcIP, DstPort").unwrap();
        let mut t = ExactTable::new(f, KeyFields::NONE, 1);
        t.add(&rec([10, 0, 0, 1], [10, 0, 0, 9], 80, 100));
        t.add(&rec([10, 0, 0, 1], [10, 0, 0, 8], 80, 50));
        t.add(&rec([10, 0, 0, 1], [10, 0, 0, 8], 443, 10));
        assert_eq!(t.len(), 2);
        let top = t.top(1);
        assert_eq!(top[0].1, ExactStats { packets: 2, bytes: 150, distinct: 0 });
        assert_eq!(top[0].0.text(f), "10.0.0.1 80");
    }

    #[test]
    fn distinct_counts_each_element_once_per_key() {
        let mut t = ExactTable::new(KeyFields::SRC_IP, KeyFields::DST_IP, 1);
        for d in 0..50u8 {
            for _ in 0..3 {
                t.add(&rec([10, 0, 0, 1], [192, 0, 2, d], 80, 60));
            }
        }
        t.add(&rec([10, 0, 0, 2], [192, 0, 2, 1], 80, 60));
        let top = t.top_by(2, |s| (s.distinct, 0));
        assert_eq!((top[0].1.distinct, top[0].1.packets), (50, 150));
        assert_eq!(top[1].1.distinct, 1);
    }

    #[test]
    fn parse_names_the_bad_field() {
        assert_eq!(
            KeyFields::parse("SrcIP,DestIP").unwrap_err(),
            "unknown key field \"DestIP\": expected one of SrcIP, DstIP, SrcPrefix, DstPrefix, SrcAS, DstAS, SrcCountry, DstCountry, App, ServerName, SrcPort, DstPort, Protocol, ICMPType, ICMPCode, TCPFlags, DSCP, VLAN, Direction, Interface"
        );
        assert!(KeyFields::parse("").is_err());
        assert_eq!(KeyFields::parse("Protocol,SrcIP").unwrap().to_string(), "SrcIP,Protocol");
    }

    #[test]
    fn top_is_a_total_order() {
        let mut t = ExactTable::new(KeyFields::SRC_IP, KeyFields::NONE, 3);
        for i in 0..50u8 {
            t.add(&rec([10, 0, 0, i], [1, 1, 1, 1], 80, 100));
        }
        let srcs: Vec<String> = t.top(5).iter().map(|r| r.0.text(KeyFields::SRC_IP)).collect();
        assert_eq!(srcs, vec!["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    }
}
