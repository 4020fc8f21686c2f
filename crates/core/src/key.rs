//! Flow keys: which fields make a key ([`KeyFields`], as configured), and a key packed to
//! bytes ([`PackedKey`], the form exact tables hold and sketches hash and report).

use crate::addr::{Addr, Family};
use crate::record::PacketRecord;
use core::fmt;

/// Which flow fields make a key (a bit set).
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

    pub fn is_empty(self) -> bool {
        self.0 == 0
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

/// The selected fields of a key, in the order SrcIP, DstIP, SrcPort, DstPort, Protocol: an
/// address as its family byte and 16 bytes, a port as 2 bytes big-endian, the protocol as 1 byte.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PackedKey {
    bytes: [u8; PackedKey::MAX],
    len: u8,
}

impl PackedKey {
    pub const MAX: usize = 39;
    /// The key of no fields.
    pub const EMPTY: PackedKey = PackedKey { bytes: [0; PackedKey::MAX], len: 0 };

    pub fn of(r: &PacketRecord, fields: KeyFields) -> PackedKey {
        let mut k = PackedKey { bytes: [0; PackedKey::MAX], len: 0 };
        if fields.has(KeyFields::SRC_IP) {
            k.push_addr(&r.src);
        }
        if fields.has(KeyFields::DST_IP) {
            k.push_addr(&r.dst);
        }
        if fields.has(KeyFields::SRC_PORT) {
            k.push(&r.src_port.to_be_bytes());
        }
        if fields.has(KeyFields::DST_PORT) {
            k.push(&r.dst_port.to_be_bytes());
        }
        if fields.has(KeyFields::PROTOCOL) {
            k.push(&[r.proto]);
        }
        k
    }

    pub fn from_bytes(b: &[u8]) -> Option<PackedKey> {
        if b.len() > PackedKey::MAX {
            return None;
        }
        let mut k = PackedKey { bytes: [0; PackedKey::MAX], len: 0 };
        k.push(b);
        Some(k)
    }

    #[inline]
    fn push(&mut self, b: &[u8]) {
        let at = self.len as usize;
        self.bytes[at..at + b.len()].copy_from_slice(b);
        self.len += b.len() as u8;
    }

    #[inline]
    fn push_addr(&mut self, a: &Addr) {
        self.push(&[a.family as u8]);
        self.push(&a.bytes);
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// The fields back out of the bytes (`fields` must be the ones the key was packed with).
    pub fn parts(&self, fields: KeyFields) -> KeyParts {
        let b = self.as_bytes();
        let mut at = 0;
        let mut parts = KeyParts::default();
        let addr = |at: &mut usize| {
            let a = b.get(*at + 1..*at + 17).map(|raw| {
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(raw);
                Addr { family: Family::from_u8(b[*at]), bytes }
            });
            *at += 17;
            a
        };
        if fields.has(KeyFields::SRC_IP) {
            parts.src = addr(&mut at);
        }
        if fields.has(KeyFields::DST_IP) {
            parts.dst = addr(&mut at);
        }
        let port = |at: &mut usize| {
            let p = b.get(*at..*at + 2).map(|p| u16::from_be_bytes([p[0], p[1]]));
            *at += 2;
            p
        };
        if fields.has(KeyFields::SRC_PORT) {
            parts.src_port = port(&mut at);
        }
        if fields.has(KeyFields::DST_PORT) {
            parts.dst_port = port(&mut at);
        }
        if fields.has(KeyFields::PROTOCOL) {
            parts.proto = b.get(at).copied();
        }
        parts
    }

    /// Human text of the key for the given fields, e.g. "10.0.0.1 443 TCP".
    pub fn text(&self, fields: KeyFields) -> String {
        let p = self.parts(fields);
        let mut out: Vec<String> = Vec::new();
        out.extend(p.src.map(|a| a.to_string()));
        out.extend(p.dst.map(|a| a.to_string()));
        out.extend(p.src_port.map(|v| v.to_string()));
        out.extend(p.dst_port.map(|v| v.to_string()));
        out.extend(p.proto.map(|v| crate::names::ip_proto(v).map_or_else(|| v.to_string(), str::to_string)));
        out.join(" ")
    }
}

/// A key's fields, each present when the key holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyParts {
    pub src: Option<Addr>,
    pub dst: Option<Addr>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub proto: Option<u8>,
}

impl core::hash::Hash for PackedKey {
    /// Only the words the key fills (the bytes past `len` are always zero), then the length:
    /// this runs per packet per exact task, and most keys are short.
    #[inline]
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        let b = &self.bytes;
        let word = |at: usize| match b.get(at..at + 8) {
            Some(c) => u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
            None => b.get(at..).map_or(0, |c| c.iter().rev().fold(0u64, |w, &x| w << 8 | x as u64)),
        };
        let mut at = 0;
        while at < self.len as usize {
            state.write_u64(word(at));
            at += 8;
        }
        state.write_u8(self.len);
    }
}

impl fmt::Debug for PackedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_fields_in_order_and_prints_them() {
        let r = PacketRecord {
            src: Addr::v4([10, 0, 0, 1]),
            dst: Addr::v4([10, 0, 0, 2]),
            dst_port: 443,
            proto: 6,
            ..PacketRecord::default()
        };
        let f = KeyFields(KeyFields::SRC_IP.0 | KeyFields::DST_PORT.0 | KeyFields::PROTOCOL.0);
        let k = PackedKey::of(&r, f);
        assert_eq!(k.as_bytes().len(), 17 + 2 + 1);
        assert_eq!(k.text(f), "10.0.0.1 443 TCP");
        let v6 = PacketRecord { src: Addr::v6(r.src.bytes), ..r };
        assert_ne!(PackedKey::of(&v6, f), k, "the family is part of the key");
    }
}
