//! MaxMind DB files (the MMDB format, <https://maxmind.github.io/MaxMind-DB/>), read for the
//! country and the autonomous system of an address: MaxMind's GeoLite2/GeoIP2 Country and ASN
//! databases and the `@ip-location-db` packages' `*-mmdb` files. The bytes are given by the
//! caller (no I/O here); a file that breaks the format is refused when loaded, with the reason,
//! and a lookup never reads past the bytes.

use crate::addr::{Addr, Family};

const METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";
/// Nesting of maps and arrays a lookup follows, at most (real files nest 2 or 3 deep).
const MAX_DEPTH: u32 = 16;

/// What an address's record tells, as far as the file has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2 country code ("DE"), empty when unknown.
    pub country: String,
    /// Autonomous system number, 0 when unknown, and its organisation.
    pub asn: u32,
    pub as_name: String,
}

/// One MMDB file, checked when loaded.
pub struct Mmdb {
    bytes: Vec<u8>,
    node_count: u32,
    record_size: u16,
    ip_version: u16,
    /// Where the data section starts (after the tree and its 16-byte separator).
    data_at: usize,
    /// The node an IPv4 address starts from in an IPv6 tree (after 96 zero bits).
    ipv4_start: u32,
    pub database_type: String,
}

/// A decoded data-section value (the subset the lookups need; others are skipped).
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Str(String),
    Uint(u64),
    Map(Vec<(String, Value)>),
    Other,
}

impl Mmdb {
    /// Checks the file: metadata, tree size, record size. `name` is used in error texts.
    pub fn new(bytes: Vec<u8>, name: &str) -> Result<Mmdb, String> {
        let bad = |why: &str| format!("{name}: not a MaxMind DB file: {why}");
        let marker = bytes
            .windows(METADATA_MARKER.len())
            .rposition(|w| w == METADATA_MARKER)
            .ok_or_else(|| bad("no metadata marker"))?;
        let meta_at = marker + METADATA_MARKER.len();
        let (meta, _) = decode(&bytes, meta_at, meta_at, 0).map_err(|e| bad(&format!("metadata: {e}")))?;
        let Value::Map(meta) = meta else { return Err(bad("metadata is not a map")) };
        let uint = |k: &str| {
            meta.iter().find(|(n, _)| n == k).and_then(|(_, v)| if let Value::Uint(u) = v { Some(*u) } else { None })
        };
        let text = |k: &str| {
            meta.iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| if let Value::Str(s) = v { Some(s.clone()) } else { None })
        };
        let node_count = uint("node_count").ok_or_else(|| bad("metadata has no node_count"))?;
        let record_size = uint("record_size").ok_or_else(|| bad("metadata has no record_size"))?;
        let ip_version = uint("ip_version").ok_or_else(|| bad("metadata has no ip_version"))?;
        if ![24, 28, 32].contains(&record_size) {
            return Err(bad(&format!("record size {record_size} (24, 28 or 32)")));
        }
        if ip_version != 4 && ip_version != 6 {
            return Err(bad(&format!("ip version {ip_version}")));
        }
        let tree_len = node_count
            .checked_mul(record_size / 4)
            .filter(|&n| n + 16 <= marker as u64)
            .ok_or_else(|| bad("search tree larger than the file"))?;
        let mut db = Mmdb {
            data_at: tree_len as usize + 16,
            node_count: u32::try_from(node_count).map_err(|_| bad("node count"))?,
            record_size: record_size as u16,
            ip_version: ip_version as u16,
            ipv4_start: 0,
            database_type: text("database_type").unwrap_or_default(),
            bytes,
        };
        if db.ip_version == 6 {
            let mut node = 0;
            for _ in 0..96 {
                if node >= db.node_count {
                    break;
                }
                node = db.record(node, 0);
            }
            db.ipv4_start = node;
        }
        Ok(db)
    }

    /// Record `side` (0 left, 1 right) of tree node `node` (the caller checked node < count).
    fn record(&self, node: u32, side: u32) -> u32 {
        let b = &self.bytes;
        match self.record_size {
            24 => {
                let at = node as usize * 6 + side as usize * 3;
                u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]])
            }
            28 => {
                let at = node as usize * 7;
                if side == 0 {
                    u32::from_be_bytes([b[at + 3] >> 4, b[at], b[at + 1], b[at + 2]])
                } else {
                    u32::from_be_bytes([b[at + 3] & 0x0f, b[at + 4], b[at + 5], b[at + 6]])
                }
            }
            _ => {
                let at = node as usize * 8 + side as usize * 4;
                u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
            }
        }
    }

    /// The country and AS of an address; empty when the file has no record for it, or its
    /// record cannot be read.
    pub fn lookup(&self, addr: &Addr) -> GeoInfo {
        let (bits, mut node): (&[u8], u32) = match addr.family {
            Family::V4 if self.ip_version == 6 => (&addr.bytes[12..16], self.ipv4_start),
            Family::V4 => (&addr.bytes[12..16], 0),
            Family::V6 if self.ip_version == 6 => (&addr.bytes[..], 0),
            _ => return GeoInfo::default(),
        };
        for i in 0..bits.len() * 8 {
            if node >= self.node_count {
                break;
            }
            node = self.record(node, ((bits[i / 8] >> (7 - i % 8)) & 1) as u32);
        }
        if node <= self.node_count {
            return GeoInfo::default();
        }
        // A record points 16 bytes past the tree's end into the data section.
        let Some(at) = ((node - self.node_count) as usize).checked_sub(16) else { return GeoInfo::default() };
        match decode(&self.bytes, self.data_at + at, self.data_at, 0) {
            Ok((Value::Map(fields), _)) => info(&fields),
            _ => GeoInfo::default(),
        }
    }
}

/// The country and AS databases a flow's endpoints are looked up in (either may be absent),
/// with a bounded cache of the answers: a flow is looked up when its record is written, and
/// most records share their addresses with others.
pub struct Geo {
    pub asn: Option<Mmdb>,
    pub country: Option<Mmdb>,
    cache: std::sync::Mutex<std::collections::HashMap<Addr, GeoInfo>>,
}

/// Addresses whose answers are kept (the cache is emptied when it holds more).
const GEO_CACHE: usize = 1 << 16;

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = |db: &Option<Mmdb>| db.as_ref().map(|d| d.database_type.clone());
        f.debug_struct("Geo").field("asn", &kind(&self.asn)).field("country", &kind(&self.country)).finish()
    }
}

impl Geo {
    pub fn new(asn: Option<Mmdb>, country: Option<Mmdb>) -> Geo {
        Geo { asn, country, cache: Default::default() }
    }

    /// From the files' names (for error texts) and bytes; None when neither is given.
    pub fn from_files(
        asn: Option<(String, Vec<u8>)>,
        country: Option<(String, Vec<u8>)>,
    ) -> Result<Option<Geo>, String> {
        let asn = asn.map(|(name, b)| Mmdb::new(b, &name)).transpose()?;
        let country = country.map(|(name, b)| Mmdb::new(b, &name)).transpose()?;
        Ok((asn.is_some() || country.is_some()).then(|| Geo::new(asn, country)))
    }

    /// The AS number and country code of an address (0 and [0, 0] when unknown), without
    /// copying the AS name: what keys hold.
    pub fn asn_country(&self, addr: &Addr) -> (u32, [u8; 2]) {
        let codes = |g: &GeoInfo| match g.country.as_bytes() {
            [a, b] => (g.asn, [*a, *b]),
            _ => (g.asn, [0, 0]),
        };
        if let Some(g) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(addr) {
            return codes(g);
        }
        codes(&self.lookup(addr))
    }

    pub fn lookup(&self, addr: &Addr) -> GeoInfo {
        if addr.family == Family::None {
            return GeoInfo::default();
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = cache.get(addr) {
            return g.clone();
        }
        let mut g = self.asn.as_ref().map(|db| db.lookup(addr)).unwrap_or_default();
        if let Some(db) = &self.country {
            let c = db.lookup(addr);
            if !c.country.is_empty() {
                g.country = c.country;
            }
        }
        if cache.len() >= GEO_CACHE {
            cache.clear();
        }
        cache.insert(*addr, g.clone());
        g
    }
}

/// The fields of MaxMind's and ip-location-db's records: `country.iso_code` or `country_code`;
/// `autonomous_system_number` and `autonomous_system_organization`.
fn info(fields: &[(String, Value)]) -> GeoInfo {
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let country = match (get("country"), get("country_code")) {
        (Some(Value::Map(c)), _) => {
            c.iter()
                .find(|(n, _)| n == "iso_code")
                .and_then(|(_, v)| if let Value::Str(s) = v { Some(s.clone()) } else { None })
        }
        (_, Some(Value::Str(s))) => Some(s.clone()),
        _ => None,
    };
    GeoInfo {
        country: country.unwrap_or_default(),
        asn: match get("autonomous_system_number") {
            Some(Value::Uint(n)) => u32::try_from(*n).unwrap_or(0),
            _ => 0,
        },
        as_name: match get("autonomous_system_organization") {
            Some(Value::Str(s)) => s.clone(),
            _ => String::new(),
        },
    }
}

/// Decodes the value at `at` (pointers are relative to `base`, the data section's start):
/// the value and where the next one starts.
fn decode(b: &[u8], at: usize, base: usize, depth: u32) -> Result<(Value, usize), &'static str> {
    if depth > MAX_DEPTH {
        return Err("values nested too deep (a pointer loop?)");
    }
    let control = *b.get(at).ok_or("value past the end")?;
    let mut at = at + 1;
    let mut kind = (control >> 5) as u16;
    if kind == 0 {
        kind = 7 + *b.get(at).ok_or("extended type past the end")? as u16;
        at += 1;
    }
    if kind == 1 {
        // A pointer: 2 bits of size, then 11 to 32 bits of offset.
        let size = ((control >> 3) & 0x3) as usize;
        let rest = b.get(at..at + size + 1).ok_or("pointer past the end")?;
        let low = (control & 0x7) as usize;
        let offset = match size {
            0 => (low << 8) | rest[0] as usize,
            1 => ((low << 16) | (rest[0] as usize) << 8 | rest[1] as usize) + 2048,
            2 => ((low << 24) | (rest[0] as usize) << 16 | (rest[1] as usize) << 8 | rest[2] as usize) + 526_336,
            _ => u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize,
        };
        let (v, _) = decode(b, base + offset, base, depth + 1)?;
        return Ok((v, at + size + 1));
    }
    let mut size = (control & 0x1f) as usize;
    if size >= 29 {
        let extra = size - 28;
        let s = b.get(at..at + extra).ok_or("size past the end")?;
        size = match extra {
            1 => 29 + s[0] as usize,
            2 => 285 + ((s[0] as usize) << 8 | s[1] as usize),
            _ => 65_821 + ((s[0] as usize) << 16 | (s[1] as usize) << 8 | s[2] as usize),
        };
        at += extra;
    }
    match kind {
        2 => {
            let s = b.get(at..at + size).ok_or("string past the end")?;
            Ok((Value::Str(String::from_utf8_lossy(s).into_owned()), at + size))
        }
        5 | 6 | 9 | 10 => {
            let s = b.get(at..at + size).ok_or("integer past the end")?;
            // A uint128 wider than 64 bits is of no field read here.
            let v = if size > 8 { Value::Other } else { Value::Uint(s.iter().fold(0u64, |v, &x| v << 8 | x as u64)) };
            Ok((v, at + size))
        }
        7 => {
            let mut fields = Vec::with_capacity(size.min(64));
            for _ in 0..size {
                let (k, next) = decode(b, at, base, depth + 1)?;
                let Value::Str(k) = k else { return Err("map key is not a string") };
                let (v, next) = decode(b, next, base, depth + 1)?;
                fields.push((k, v));
                at = next;
            }
            Ok((Value::Map(fields), at))
        }
        11 => {
            for _ in 0..size {
                at = decode(b, at, base, depth + 1)?.1;
            }
            Ok((Value::Other, at))
        }
        // double (8 bytes), bytes, int32, uint128, float (4 bytes), boolean (no payload).
        3 => Ok((Value::Other, at + 8)),
        4 | 8 | 14 => Ok((Value::Other, at + if kind == 14 { 0 } else { size })),
        15 => Ok((Value::Other, at + 4)),
        _ => Err("unknown value type"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A value of the data section, as the tests write it.
    pub(crate) enum W<'a> {
        Str(&'a str),
        U32(u32),
        Map(Vec<(&'a str, W<'a>)>),
    }

    fn put(out: &mut Vec<u8>, kind: u8, len: usize) {
        assert!(len < 285);
        let size = len.min(29) as u8;
        if kind <= 7 {
            out.push(kind << 5 | size);
        } else {
            out.push(size);
            out.push(kind - 7);
        }
        if len >= 29 {
            out.push((len - 29) as u8);
        }
    }

    fn write(out: &mut Vec<u8>, v: &W<'_>) {
        match v {
            W::Str(s) => {
                put(out, 2, s.len());
                out.extend_from_slice(s.as_bytes());
            }
            W::U32(n) => {
                let b = n.to_be_bytes();
                let skip = b.iter().take_while(|&&x| x == 0).count();
                put(out, 6, 4 - skip);
                out.extend_from_slice(&b[skip..]);
            }
            W::Map(fields) => {
                put(out, 7, fields.len());
                for (k, v) in fields {
                    write(out, &W::Str(k));
                    write(out, v);
                }
            }
        }
    }

    /// An IPv6-tree MMDB file (24-bit records) of (address, prefix length, record); IPv4
    /// networks are given as `::a.b.c.d` with 96 added to their length.
    pub(crate) fn mmdb(networks: &[(Addr, u32, W<'_>)], database_type: &str) -> Vec<u8> {
        #[derive(Clone, Copy)]
        enum Child {
            Empty,
            Node(u32),
            Data(u32),
        }
        let mut nodes: Vec<[Child; 2]> = vec![[Child::Empty; 2]];
        let mut data = Vec::new();
        for (addr, len, record) in networks {
            let offset = data.len() as u32;
            write(&mut data, record);
            let bytes = if addr.family == Family::V4 {
                let mut b = [0u8; 16];
                b[12..].copy_from_slice(&addr.bytes[12..]);
                b
            } else {
                addr.bytes
            };
            let mut node = 0usize;
            for i in 0..*len as usize {
                let bit = ((bytes[i / 8] >> (7 - i % 8)) & 1) as usize;
                if i + 1 == *len as usize {
                    nodes[node][bit] = Child::Data(offset);
                } else {
                    node = match nodes[node][bit] {
                        Child::Node(n) => n as usize,
                        _ => {
                            nodes.push([Child::Empty; 2]);
                            let n = nodes.len() - 1;
                            nodes[node][bit] = Child::Node(n as u32);
                            n
                        }
                    };
                }
            }
        }
        let count = nodes.len() as u32;
        let mut out = Vec::new();
        for n in &nodes {
            for c in n {
                let v = match *c {
                    Child::Empty => count,
                    Child::Node(i) => i,
                    Child::Data(off) => count + 16 + off,
                };
                out.extend_from_slice(&v.to_be_bytes()[1..]);
            }
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&data);
        out.extend_from_slice(METADATA_MARKER);
        let meta = W::Map(vec![
            ("node_count", W::U32(count)),
            ("record_size", W::U32(24)),
            ("ip_version", W::U32(6)),
            ("database_type", W::Str(database_type)),
        ]);
        write(&mut out, &meta);
        out
    }

    fn v4(a: [u8; 4]) -> Addr {
        Addr::v4(a)
    }

    #[test]
    fn countries_and_autonomous_systems_of_both_layouts() {
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        let maxmind = mmdb(
            &[
                (v4([192, 0, 2, 0]), 96 + 24, W::Map(vec![("country", W::Map(vec![("iso_code", W::Str("DE"))]))])),
                (Addr::v6(v6), 32, W::Map(vec![("country", W::Map(vec![("iso_code", W::Str("JP"))]))])),
            ],
            "GeoLite2-Country",
        );
        let db = Mmdb::new(maxmind, "country.mmdb").unwrap();
        assert_eq!(db.database_type, "GeoLite2-Country");
        assert_eq!(db.lookup(&v4([192, 0, 2, 77])).country, "DE");
        assert_eq!(db.lookup(&v4([192, 0, 3, 1])), GeoInfo::default());
        let mut inside = v6;
        inside[15] = 9;
        assert_eq!(db.lookup(&Addr::v6(inside)).country, "JP");
        let asn = mmdb(
            &[(
                v4([198, 51, 100, 0]),
                96 + 22,
                W::Map(vec![
                    ("autonomous_system_number", W::U32(64_500)),
                    ("autonomous_system_organization", W::Str("Example Net")),
                ]),
            )],
            "asn",
        );
        let db = Mmdb::new(asn, "asn.mmdb").unwrap();
        assert_eq!(
            db.lookup(&v4([198, 51, 103, 255])),
            GeoInfo { country: String::new(), asn: 64_500, as_name: "Example Net".into() }
        );
        assert_eq!(db.lookup(&v4([198, 51, 104, 0])).asn, 0);
        // ip-location-db's layout: a flat country_code.
        let flat = mmdb(&[(v4([10, 0, 0, 0]), 96 + 8, W::Map(vec![("country_code", W::Str("FR"))]))], "country");
        assert_eq!(Mmdb::new(flat, "c.mmdb").unwrap().lookup(&v4([10, 1, 2, 3])).country, "FR");
    }

    #[test]
    fn broken_files_are_refused_with_the_file_and_the_reason() {
        assert_eq!(
            Mmdb::new(b"not a database".to_vec(), "x.mmdb").err().unwrap(),
            "x.mmdb: not a MaxMind DB file: no metadata marker"
        );
        let good = mmdb(&[(v4([192, 0, 2, 0]), 96 + 24, W::Map(vec![("country_code", W::Str("DE"))]))], "country");
        // Every cut is refused or loads, never a panic; lookups in what loads never panic.
        for cut in 0..good.len() {
            if let Ok(db) = Mmdb::new(good[..cut].to_vec(), "cut.mmdb") {
                let _ = db.lookup(&v4([192, 0, 2, 1]));
            }
        }
        // An extended type past the last one (found by fuzzing: 7 + 255 overflowed a byte).
        assert_eq!(decode(&[0x00, 0xff], 0, 0, 0), Err("unknown value type"));
        // A tree larger than the file, and a record size the format does not have.
        let marker =
            good.windows(METADATA_MARKER.len()).rposition(|w| w == METADATA_MARKER).unwrap() + METADATA_MARKER.len();
        for (count, size, why) in
            [(1_000_000, 24, "search tree larger than the file"), (1, 20, "record size 20 (24, 28 or 32)")]
        {
            let mut bad = good[..marker].to_vec();
            write(
                &mut bad,
                &W::Map(vec![("node_count", W::U32(count)), ("record_size", W::U32(size)), ("ip_version", W::U32(6))]),
            );
            assert_eq!(Mmdb::new(bad, "bad.mmdb").err().unwrap(), format!("bad.mmdb: not a MaxMind DB file: {why}"));
        }
        // Flipped bytes anywhere: refused or read, never a panic.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xa5;
            if let Ok(db) = Mmdb::new(bad, "flip.mmdb") {
                let _ = db.lookup(&v4([192, 0, 2, 1]));
            }
        }
    }
}
