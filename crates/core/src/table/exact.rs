//! Exact per-key accounting with a configurable key: any subset of the five flow fields.

use crate::addr::Addr;
use crate::hash::{flow_map, FlowMap};
use crate::record::PacketRecord;
use core::fmt;
use core::hash::{Hash, Hasher};

/// Which flow fields make the key (a bit set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyFields(pub u8);

impl KeyFields {
    pub const SRC_IP: KeyFields = KeyFields(1);
    pub const DST_IP: KeyFields = KeyFields(2);
    pub const SRC_PORT: KeyFields = KeyFields(4);
    pub const DST_PORT: KeyFields = KeyFields(8);
    pub const PROTOCOL: KeyFields = KeyFields(16);
    pub const FIVE_TUPLE: KeyFields = KeyFields(31);

    /// Field names as written in configuration, in key order.
    pub const NAMES: [(&'static str, KeyFields); 5] = [
        ("SrcIP", KeyFields::SRC_IP),
        ("DstIP", KeyFields::DST_IP),
        ("SrcPort", KeyFields::SRC_PORT),
        ("DstPort", KeyFields::DST_PORT),
        ("Protocol", KeyFields::PROTOCOL),
    ];

    pub fn has(self, f: KeyFields) -> bool {
        self.0 & f.0 != 0
    }

    pub fn from_name(name: &str) -> Option<KeyFields> {
        KeyFields::NAMES.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// Parses "SrcIP,DstPort" style lists.
    pub fn parse(list: &str) -> Result<KeyFields, String> {
        let mut f = 0u8;
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match KeyFields::from_name(part) {
                Some(k) => f |= k.0,
                None => {
                    return Err(format!(
                        "unknown key field \"{part}\": expected one of SrcIP, DstIP, SrcPort, DstPort, Protocol"
                    ))
                }
            }
        }
        if f == 0 {
            return Err("a key needs at least one field".into());
        }
        Ok(KeyFields(f))
    }
}

impl fmt::Display for KeyFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, k) in KeyFields::NAMES {
            if self.has(k) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A key with the fields outside [`KeyFields`] zeroed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExactKey {
    pub src: Addr,
    pub dst: Addr,
    pub proto: u8,
    pub src_port: u16,
    pub dst_port: u16,
}

impl Hash for ExactKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let w = |b: &[u8; 16], i: usize| {
            u64::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]])
        };
        state.write_u64(w(&self.src.bytes, 0));
        state.write_u64(w(&self.src.bytes, 8));
        state.write_u64(w(&self.dst.bytes, 0));
        state.write_u64(w(&self.dst.bytes, 8));
        state.write_u64(
            (self.src.family as u64)
                | (self.dst.family as u64) << 8
                | (self.proto as u64) << 16
                | (self.src_port as u64) << 24
                | (self.dst_port as u64) << 40,
        );
    }
}

impl ExactKey {
    #[inline]
    pub fn of(r: &PacketRecord, fields: KeyFields) -> ExactKey {
        ExactKey {
            src: if fields.has(KeyFields::SRC_IP) { r.src } else { Addr::NONE },
            dst: if fields.has(KeyFields::DST_IP) { r.dst } else { Addr::NONE },
            proto: if fields.has(KeyFields::PROTOCOL) { r.proto } else { 0 },
            src_port: if fields.has(KeyFields::SRC_PORT) { r.src_port } else { 0 },
            dst_port: if fields.has(KeyFields::DST_PORT) { r.dst_port } else { 0 },
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExactStats {
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug)]
pub struct ExactTable {
    fields: KeyFields,
    map: FlowMap<ExactKey, ExactStats>,
}

impl ExactTable {
    pub fn new(fields: KeyFields, seed: u64) -> ExactTable {
        ExactTable { fields, map: flow_map(seed) }
    }

    pub fn fields(&self) -> KeyFields {
        self.fields
    }

    #[inline]
    pub fn add(&mut self, r: &PacketRecord) {
        let s = self.map.entry(ExactKey::of(r, self.fields)).or_default();
        s.packets += 1;
        s.bytes += r.wire_len as u64;
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, k: &ExactKey) -> Option<&ExactStats> {
        self.map.get(k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ExactKey, &ExactStats)> {
        self.map.iter()
    }

    /// The `n` largest keys by bytes (then packets, then key), in that order.
    pub fn top(&self, n: usize) -> Vec<(ExactKey, ExactStats)> {
        let mut rows: Vec<_> = self.map.iter().map(|(k, v)| (*k, *v)).collect();
        let order = |x: &(ExactKey, ExactStats), y: &(ExactKey, ExactStats)| {
            y.1.bytes.cmp(&x.1.bytes).then(y.1.packets.cmp(&x.1.packets)).then(x.0.cmp(&y.0))
        };
        if rows.len() > n {
            rows.select_nth_unstable_by(n, order);
            rows.truncate(n);
        }
        rows.sort_unstable_by(order);
        rows
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut t = ExactTable::new(KeyFields::parse("SrcIP, DstPort").unwrap(), 1);
        t.add(&rec([10, 0, 0, 1], [10, 0, 0, 9], 80, 100));
        t.add(&rec([10, 0, 0, 1], [10, 0, 0, 8], 80, 50));
        t.add(&rec([10, 0, 0, 1], [10, 0, 0, 8], 443, 10));
        assert_eq!(t.len(), 2);
        let top = t.top(1);
        assert_eq!(top[0].1, ExactStats { packets: 2, bytes: 150 });
        assert_eq!(top[0].0.dst, Addr::NONE);
        assert_eq!(top[0].0.dst_port, 80);
    }

    #[test]
    fn parse_names_the_bad_field() {
        assert_eq!(
            KeyFields::parse("SrcIP,DestIP").unwrap_err(),
            "unknown key field \"DestIP\": expected one of SrcIP, DstIP, SrcPort, DstPort, Protocol"
        );
        assert!(KeyFields::parse("").is_err());
        assert_eq!(KeyFields::parse("Protocol,SrcIP").unwrap().to_string(), "SrcIP,Protocol");
    }

    #[test]
    fn top_is_a_total_order() {
        let mut t = ExactTable::new(KeyFields::SRC_IP, 3);
        for i in 0..50u8 {
            t.add(&rec([10, 0, 0, i], [1, 1, 1, 1], 80, 100));
        }
        let top = t.top(5);
        let srcs: Vec<u8> = top.iter().map(|r| r.0.src.octets_v4()[3]).collect();
        assert_eq!(srcs, vec![0, 1, 2, 3, 4]);
    }
}
