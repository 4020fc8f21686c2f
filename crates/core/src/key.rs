//! Flow keys: which fields make a key ([`KeyFields`], as configured), and a key packed to
//! bytes ([`PackedKey`], the form exact tables hold and sketches hash and report).

use crate::addr::{Addr, Cidr, Family};
use crate::app::mmdb::Geo;
use crate::record::PacketRecord;
use core::fmt;
use std::sync::Arc;

/// Which fields make a key (a bit set), with the lengths of its prefixes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyFields {
    bits: u32,
    /// SrcPrefix's IPv4 and IPv6 lengths, then DstPrefix's (0 when the field is not set).
    prefix: [u8; 4],
}

/// One field of a key as configured: its name, its bit, and its bytes in a packed key.
struct Field {
    name: &'static str,
    bit: u32,
    len: usize,
}

/// Every field, in key order.
const FIELDS: [Field; 20] = [
    Field { name: "SrcIP", bit: KeyFields::SRC_IP.bits, len: 17 },
    Field { name: "DstIP", bit: KeyFields::DST_IP.bits, len: 17 },
    Field { name: "SrcPrefix", bit: KeyFields::SRC_PREFIX.bits, len: 17 },
    Field { name: "DstPrefix", bit: KeyFields::DST_PREFIX.bits, len: 17 },
    Field { name: "SrcAS", bit: KeyFields::SRC_AS.bits, len: 4 },
    Field { name: "DstAS", bit: KeyFields::DST_AS.bits, len: 4 },
    Field { name: "SrcCountry", bit: KeyFields::SRC_COUNTRY.bits, len: 2 },
    Field { name: "DstCountry", bit: KeyFields::DST_COUNTRY.bits, len: 2 },
    Field { name: "App", bit: KeyFields::APP.bits, len: 1 },
    Field { name: "ServerName", bit: KeyFields::SERVER_NAME.bits, len: 4 },
    Field { name: "SrcPort", bit: KeyFields::SRC_PORT.bits, len: 2 },
    Field { name: "DstPort", bit: KeyFields::DST_PORT.bits, len: 2 },
    Field { name: "Protocol", bit: KeyFields::PROTOCOL.bits, len: 1 },
    Field { name: "ICMPType", bit: KeyFields::ICMP_TYPE.bits, len: 1 },
    Field { name: "ICMPCode", bit: KeyFields::ICMP_CODE.bits, len: 1 },
    Field { name: "TCPFlags", bit: KeyFields::TCP_FLAGS.bits, len: 1 },
    Field { name: "DSCP", bit: KeyFields::DSCP.bits, len: 1 },
    Field { name: "VLAN", bit: KeyFields::VLAN.bits, len: 2 },
    Field { name: "Direction", bit: KeyFields::DIRECTION.bits, len: 1 },
    Field { name: "Interface", bit: KeyFields::INTERFACE.bits, len: 2 },
];

/// What a flow's first payloads told, as keys hold it: the application ([`crate::app::App`]
/// as u8) and the server name's id in the flow cache's name table (0: none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowNames {
    pub app: u8,
    pub name: u32,
}

/// A packet's direction by its endpoints and the local networks, as flow records name it.
pub const DIRECTIONS: [&str; 4] = ["external", "outbound", "inbound", "local"];

/// What keys on an endpoint's AS or country, or on the direction, look up: the country and AS
/// databases (none: AS 0 and no country) and the local networks.
#[derive(Clone, Debug, Default)]
pub struct KeyContext {
    pub geo: Option<Arc<Geo>>,
    pub local: Vec<Cidr>,
}

impl KeyContext {
    pub const NONE: KeyContext = KeyContext { geo: None, local: Vec::new() };

    fn geo(&self, a: &Addr) -> (u32, [u8; 2]) {
        self.geo.as_ref().map_or((0, [0; 2]), |g| g.asn_country(a))
    }

    fn direction(&self, src: &Addr, dst: &Addr) -> u8 {
        direction_index(&self.local, src, dst)
    }
}

/// The direction from `src` to `dst` as an index in [`DIRECTIONS`]: source local and
/// destination not is outbound.
pub fn direction_index(local: &[Cidr], src: &Addr, dst: &Addr) -> u8 {
    let is_local = |x: &Addr| local.iter().any(|n| n.contains(x));
    is_local(src) as u8 | (is_local(dst) as u8) << 1
}

/// Prefix lengths when a key names SrcPrefix or DstPrefix without them.
pub const DEFAULT_PREFIX: (u8, u8) = (24, 48);

impl KeyFields {
    pub const NONE: KeyFields = KeyFields::bit(0);
    pub const SRC_IP: KeyFields = KeyFields::bit(1);
    pub const DST_IP: KeyFields = KeyFields::bit(2);
    pub const SRC_PORT: KeyFields = KeyFields::bit(4);
    pub const DST_PORT: KeyFields = KeyFields::bit(8);
    pub const PROTOCOL: KeyFields = KeyFields::bit(16);
    pub const FIVE_TUPLE: KeyFields = KeyFields::bit(31);
    pub const SRC_PREFIX: KeyFields = KeyFields { bits: 32, prefix: [DEFAULT_PREFIX.0, DEFAULT_PREFIX.1, 0, 0] };
    pub const DST_PREFIX: KeyFields = KeyFields { bits: 64, prefix: [0, 0, DEFAULT_PREFIX.0, DEFAULT_PREFIX.1] };
    pub const ICMP_TYPE: KeyFields = KeyFields::bit(128);
    pub const ICMP_CODE: KeyFields = KeyFields::bit(256);
    pub const TCP_FLAGS: KeyFields = KeyFields::bit(512);
    pub const DSCP: KeyFields = KeyFields::bit(1024);
    pub const VLAN: KeyFields = KeyFields::bit(2048);
    pub const SRC_AS: KeyFields = KeyFields::bit(4096);
    pub const DST_AS: KeyFields = KeyFields::bit(8192);
    pub const SRC_COUNTRY: KeyFields = KeyFields::bit(16384);
    pub const DST_COUNTRY: KeyFields = KeyFields::bit(32768);
    pub const DIRECTION: KeyFields = KeyFields::bit(65536);
    pub const APP: KeyFields = KeyFields::bit(1 << 17);
    pub const SERVER_NAME: KeyFields = KeyFields::bit(1 << 18);
    /// The probe and interface a packet was captured on (its origin; see `Engine::origin`).
    pub const INTERFACE: KeyFields = KeyFields::bit(1 << 19);
    /// Fields a flow learns from its payloads: known for the whole flow at the end of a window,
    /// not for its first packets, so their tasks are always derived from the flows' shares.
    const NAMED: u32 = KeyFields::APP.bits | KeyFields::SERVER_NAME.bits;
    /// Fields that may change from one packet of a flow to the next: a task keyed on one of
    /// them counts every packet by itself instead of deriving from the flow's share.
    const PER_PACKET: u32 =
        KeyFields::TCP_FLAGS.bits | KeyFields::DSCP.bits | KeyFields::VLAN.bits | KeyFields::INTERFACE.bits;
    /// Fields looked up in a [`KeyContext`].
    const LOOKED_UP: u32 = KeyFields::SRC_AS.bits
        | KeyFields::DST_AS.bits
        | KeyFields::SRC_COUNTRY.bits
        | KeyFields::DST_COUNTRY.bits
        | KeyFields::DIRECTION.bits;
    const ALL: u32 = (1 << 20) - 1;

    const fn bit(bits: u32) -> KeyFields {
        KeyFields { bits, prefix: [0; 4] }
    }

    /// The bit set and prefix lengths as stored (snapshots); None when they do not make a key.
    pub fn from_raw(bits: u32, prefix: [u8; 4]) -> Option<KeyFields> {
        let f = KeyFields { bits, prefix };
        let prefix_ok = |set: bool, v4: u8, v6: u8| {
            if set {
                (1..=32).contains(&v4) && (1..=128).contains(&v6)
            } else {
                v4 == 0 && v6 == 0
            }
        };
        (bits & !KeyFields::ALL == 0
            && prefix_ok(f.has(KeyFields::SRC_PREFIX), prefix[0], prefix[1])
            && prefix_ok(f.has(KeyFields::DST_PREFIX), prefix[2], prefix[3])
            && f.packed_len() <= PackedKey::MAX)
            .then_some(f)
    }

    pub fn bits(self) -> u32 {
        self.bits
    }

    pub fn prefix_lengths(self) -> [u8; 4] {
        self.prefix
    }

    pub fn has(self, f: KeyFields) -> bool {
        self.bits & f.bits != 0
    }

    pub fn is_empty(self) -> bool {
        self.bits == 0
    }

    /// Whether the key needs a [`KeyContext`] (AS, country, direction).
    pub fn looks_up(self) -> bool {
        self.bits & KeyFields::LOOKED_UP != 0
    }

    /// Whether the key holds what a flow's payloads told (App, ServerName).
    pub fn named(self) -> bool {
        self.bits & KeyFields::NAMED != 0
    }

    /// Whether a field of this key may differ between packets of one flow.
    pub fn per_packet(self) -> bool {
        self.bits & KeyFields::PER_PACKET != 0
    }

    /// Bytes of a key packed with these fields.
    pub fn packed_len(self) -> usize {
        FIELDS.iter().filter(|f| self.bits & f.bit != 0).map(|f| f.len).sum()
    }

    /// Parses "SrcIP,DstPort" style lists; a prefix may give its lengths, "SrcPrefix/16" (IPv4)
    /// or "SrcPrefix/16/40" (IPv4, IPv6), else they are /24 and /48.
    pub fn parse(list: &str) -> Result<KeyFields, String> {
        let mut f = KeyFields::NONE;
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut pieces = part.split('/');
            let name = pieces.next().unwrap_or("");
            let Some(field) = FIELDS.iter().find(|x| x.name == name) else {
                let names: Vec<&str> = FIELDS.iter().map(|x| x.name).collect();
                return Err(format!("unknown key field \"{part}\": expected one of {}", names.join(", ")));
            };
            let lengths: Vec<&str> = pieces.collect();
            let slot = match field.bit {
                b if b == KeyFields::SRC_PREFIX.bits => Some(0),
                b if b == KeyFields::DST_PREFIX.bits => Some(2),
                _ => None,
            };
            match slot {
                None if !lengths.is_empty() => {
                    return Err(format!("key field \"{part}\": only SrcPrefix and DstPrefix take a length"))
                }
                None => {}
                Some(at) => {
                    if lengths.len() > 2 {
                        return Err(format!(
                            "key field \"{part}\": at most two lengths, IPv4 then IPv6 (\"{name}/24/48\")"
                        ));
                    }
                    let length = |i: usize, max: u8, dflt: u8| -> Result<u8, String> {
                        match lengths.get(i) {
                            None => Ok(dflt),
                            Some(t) => t.parse::<u8>().ok().filter(|v| (1..=max).contains(v)).ok_or_else(|| {
                                format!(
                                    "key field \"{part}\": the {} length \"{t}\" is not a number from 1 to {max}",
                                    ["IPv4", "IPv6"][i]
                                )
                            }),
                        }
                    };
                    f.prefix[at] = length(0, 32, DEFAULT_PREFIX.0)?;
                    f.prefix[at + 1] = length(1, 128, DEFAULT_PREFIX.1)?;
                }
            }
            f.bits |= field.bit;
        }
        if f.is_empty() {
            return Err("a key needs at least one field".into());
        }
        for (ip, prefix, name) in
            [(KeyFields::SRC_IP, KeyFields::SRC_PREFIX, "Src"), (KeyFields::DST_IP, KeyFields::DST_PREFIX, "Dst")]
        {
            if f.has(ip) && f.has(prefix) {
                return Err(format!("{name}IP and {name}Prefix are the same address, whole and cut short: choose one"));
            }
        }
        if f.named() && f.per_packet() {
            return Err(format!(
                "the key {f} mixes a flow's names (App, ServerName: known for the whole flow) with a packet's fields (TCPFlags, DSCP, VLAN, Interface): choose one kind"
            ));
        }
        if f.packed_len() > PackedKey::MAX {
            return Err(format!(
                "the key {f} takes {} bytes, more than the {} a key holds (an address or a prefix takes 17, an AS or a server name 4, a port, a country or the VLAN 2, any other field 1)",
                f.packed_len(),
                PackedKey::MAX
            ));
        }
        Ok(f)
    }
}

impl core::ops::BitOr for KeyFields {
    type Output = KeyFields;
    fn bitor(self, o: KeyFields) -> KeyFields {
        let mut prefix = self.prefix;
        for (p, q) in prefix.iter_mut().zip(o.prefix) {
            if *p == 0 {
                *p = q;
            }
        }
        KeyFields { bits: self.bits | o.bits, prefix }
    }
}

impl fmt::Display for KeyFields {
    /// The list as [`KeyFields::parse`] reads it, prefixes with their lengths.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for field in FIELDS.iter().filter(|x| self.bits & x.bit != 0) {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(field.name)?;
            if field.bit == KeyFields::SRC_PREFIX.bits {
                write!(f, "/{}/{}", self.prefix[0], self.prefix[1])?;
            } else if field.bit == KeyFields::DST_PREFIX.bits {
                write!(f, "/{}/{}", self.prefix[2], self.prefix[3])?;
            }
            first = false;
        }
        Ok(())
    }
}

/// The selected fields of a key, in key order (see `FIELDS`): an address or prefix as its
/// family byte and 16 bytes (a prefix's host bits zero), a port and the VLAN as 2 bytes
/// big-endian, the protocol, ICMP type and code, TCP flags and DSCP as 1 byte.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PackedKey {
    bytes: [u8; PackedKey::MAX],
    len: u8,
}

impl PackedKey {
    /// The five fields of a flow: two addresses, two ports, the protocol. A key may choose
    /// other fields within the same room (kept small: exact tables and sketches hold keys).
    pub const MAX: usize = 39;
    /// The key of no fields.
    pub const EMPTY: PackedKey = PackedKey { bytes: [0; PackedKey::MAX], len: 0 };

    /// The key of a packet; fields that are looked up (AS, country, direction) are those of no
    /// databases and no local networks: see [`PackedKey::of_in`].
    #[inline]
    pub fn of(r: &PacketRecord, fields: KeyFields) -> PackedKey {
        PackedKey::of_in(r, fields, &KeyContext::NONE)
    }

    /// The key of a packet whose flow's names are not known (none).
    #[inline]
    pub fn of_in(r: &PacketRecord, fields: KeyFields, ctx: &KeyContext) -> PackedKey {
        PackedKey::of_flow(r, FlowNames::default(), fields, ctx)
    }

    /// The key of a packet (or a flow's share) with what its flow's payloads told.
    #[inline]
    pub fn of_flow(r: &PacketRecord, names: FlowNames, fields: KeyFields, ctx: &KeyContext) -> PackedKey {
        let mut k = PackedKey { bytes: [0; PackedKey::MAX], len: 0 };
        if fields.has(KeyFields::SRC_IP) {
            k.push_addr(&r.src);
        }
        if fields.has(KeyFields::DST_IP) {
            k.push_addr(&r.dst);
        }
        if fields.bits & !KeyFields::FIVE_TUPLE.bits != 0 {
            if fields.has(KeyFields::SRC_PREFIX) {
                k.push_addr(&prefix_of(&r.src, fields.prefix[0], fields.prefix[1]));
            }
            if fields.has(KeyFields::DST_PREFIX) {
                k.push_addr(&prefix_of(&r.dst, fields.prefix[2], fields.prefix[3]));
            }
            if fields.looks_up() {
                let src =
                    (fields.has(KeyFields::SRC_AS) || fields.has(KeyFields::SRC_COUNTRY)).then(|| ctx.geo(&r.src));
                let dst =
                    (fields.has(KeyFields::DST_AS) || fields.has(KeyFields::DST_COUNTRY)).then(|| ctx.geo(&r.dst));
                if fields.has(KeyFields::SRC_AS) {
                    k.push(&src.unwrap_or_default().0.to_be_bytes());
                }
                if fields.has(KeyFields::DST_AS) {
                    k.push(&dst.unwrap_or_default().0.to_be_bytes());
                }
                if fields.has(KeyFields::SRC_COUNTRY) {
                    k.push(&src.unwrap_or_default().1);
                }
                if fields.has(KeyFields::DST_COUNTRY) {
                    k.push(&dst.unwrap_or_default().1);
                }
            }
            if fields.has(KeyFields::APP) {
                k.push(&[names.app]);
            }
            if fields.has(KeyFields::SERVER_NAME) {
                k.push(&names.name.to_be_bytes());
            }
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
        if fields.bits & !KeyFields::FIVE_TUPLE.bits != 0 {
            // ICMP carries type << 8 | code where ports go; other packets have neither (0).
            let icmp = if r.proto == 1 || r.proto == 58 { r.dst_port } else { 0 };
            if fields.has(KeyFields::ICMP_TYPE) {
                k.push(&[(icmp >> 8) as u8]);
            }
            if fields.has(KeyFields::ICMP_CODE) {
                k.push(&[icmp as u8]);
            }
            if fields.has(KeyFields::TCP_FLAGS) {
                k.push(&[if r.proto == 6 { r.tcp_flags } else { 0 }]);
            }
            if fields.has(KeyFields::DSCP) {
                k.push(&[r.dscp]);
            }
            if fields.has(KeyFields::VLAN) {
                k.push(&r.vlan.to_be_bytes());
            }
            if fields.has(KeyFields::DIRECTION) {
                k.push(&[ctx.direction(&r.src, &r.dst)]);
            }
            if fields.has(KeyFields::INTERFACE) {
                k.push(&r.interface.to_be_bytes());
            }
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
        let two = |at: &mut usize| {
            let p = b.get(*at..*at + 2).map(|p| u16::from_be_bytes([p[0], p[1]]));
            *at += 2;
            p
        };
        let one = |at: &mut usize| {
            let v = b.get(*at).copied();
            *at += 1;
            v
        };
        if fields.has(KeyFields::SRC_IP) {
            parts.src = addr(&mut at);
        }
        if fields.has(KeyFields::DST_IP) {
            parts.dst = addr(&mut at);
        }
        // A packet without IP has no prefix: length 0.
        let length = |a: &Addr, v4: u8, v6: u8| match a.family {
            Family::V4 => v4,
            Family::V6 => v6,
            Family::None => 0,
        };
        if fields.has(KeyFields::SRC_PREFIX) {
            parts.src_prefix = addr(&mut at).map(|a| (a, length(&a, fields.prefix[0], fields.prefix[1])));
        }
        if fields.has(KeyFields::DST_PREFIX) {
            parts.dst_prefix = addr(&mut at).map(|a| (a, length(&a, fields.prefix[2], fields.prefix[3])));
        }
        let four = |at: &mut usize| {
            let v = b.get(*at..*at + 4).map(|p| u32::from_be_bytes([p[0], p[1], p[2], p[3]]));
            *at += 4;
            v
        };
        let code = |at: &mut usize| {
            let v = b.get(*at..*at + 2).map(|p| [p[0], p[1]]);
            *at += 2;
            v
        };
        if fields.has(KeyFields::SRC_AS) {
            parts.src_as = four(&mut at);
        }
        if fields.has(KeyFields::DST_AS) {
            parts.dst_as = four(&mut at);
        }
        if fields.has(KeyFields::SRC_COUNTRY) {
            parts.src_country = code(&mut at);
        }
        if fields.has(KeyFields::DST_COUNTRY) {
            parts.dst_country = code(&mut at);
        }
        if fields.has(KeyFields::APP) {
            parts.app = one(&mut at);
        }
        if fields.has(KeyFields::SERVER_NAME) {
            parts.server_name = four(&mut at);
        }
        if fields.has(KeyFields::SRC_PORT) {
            parts.src_port = two(&mut at);
        }
        if fields.has(KeyFields::DST_PORT) {
            parts.dst_port = two(&mut at);
        }
        if fields.has(KeyFields::PROTOCOL) {
            parts.proto = one(&mut at);
        }
        if fields.has(KeyFields::ICMP_TYPE) {
            parts.icmp_type = one(&mut at);
        }
        if fields.has(KeyFields::ICMP_CODE) {
            parts.icmp_code = one(&mut at);
        }
        if fields.has(KeyFields::TCP_FLAGS) {
            parts.tcp_flags = one(&mut at);
        }
        if fields.has(KeyFields::DSCP) {
            parts.dscp = one(&mut at);
        }
        if fields.has(KeyFields::VLAN) {
            parts.vlan = two(&mut at);
        }
        if fields.has(KeyFields::DIRECTION) {
            parts.direction = one(&mut at).and_then(|d| DIRECTIONS.get(d as usize).copied());
        }
        if fields.has(KeyFields::INTERFACE) {
            parts.interface = two(&mut at);
        }
        parts
    }

    /// Human text of the key for the given fields, e.g. "10.0.0.1 443 TCP"; a server name as
    /// its id (see [`PackedKey::text_named`]).
    pub fn text(&self, fields: KeyFields) -> String {
        self.text_named(fields, &KeyNames::default())
    }

    /// [`PackedKey::text`] with server names looked up by id.
    pub fn text_named(&self, fields: KeyFields, names: &KeyNames) -> String {
        let p = self.parts(fields);
        let mut out: Vec<String> = Vec::new();
        out.extend(p.src.map(|a| a.to_string()));
        out.extend(p.dst.map(|a| a.to_string()));
        out.extend(p.src_prefix.map(prefix_text));
        out.extend(p.dst_prefix.map(prefix_text));
        out.extend(p.src_as.map(|v| format!("AS{v}")));
        out.extend(p.dst_as.map(|v| format!("AS{v}")));
        out.extend(p.src_country.map(country_text));
        out.extend(p.dst_country.map(country_text));
        out.extend(p.app.map(app_text));
        out.extend(p.server_name.map(|id| server_name_text(id, names)));
        out.extend(p.src_port.map(|v| v.to_string()));
        out.extend(p.dst_port.map(|v| v.to_string()));
        out.extend(p.proto.map(|v| crate::names::ip_proto(v).map_or_else(|| v.to_string(), str::to_string)));
        out.extend(p.icmp_type.map(|v| format!("icmp-type {v}")));
        out.extend(p.icmp_code.map(|v| format!("icmp-code {v}")));
        out.extend(
            p.tcp_flags
                .map(|v| format!("flags {}", if v == 0 { "none".to_string() } else { crate::names::tcp_flags(v) })),
        );
        out.extend(p.dscp.map(|v| crate::names::dscp(v).map_or_else(|| format!("dscp {v}"), |n| format!("dscp {n}"))));
        out.extend(p.vlan.map(|v| format!("vlan {v}")));
        out.extend(p.direction.map(str::to_string));
        out.extend(
            p.interface
                .map(|i| names.origin(i).map_or_else(|| format!("#{i}"), |(probe, iface)| format!("{probe}/{iface}"))),
        );
        out.join(" ")
    }
}

/// A country code as text; "-" when unknown (no database, or no record for the address).
pub fn country_text(c: [u8; 2]) -> String {
    if c == [0, 0] {
        "-".to_string()
    } else {
        String::from_utf8_lossy(&c).into_owned()
    }
}

/// An application's name; "-" when none was recognised.
pub fn app_text(v: u8) -> String {
    match crate::app::App::from_u8(v).name() {
        "" => "-".to_string(),
        n => n.to_string(),
    }
}

/// What a window's keys refer to by number: server names by id (sorted by id), and the
/// (probe, interface) pairs by origin index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyNames {
    pub servers: Vec<(u32, Box<str>)>,
    pub origins: Vec<(Box<str>, Box<str>)>,
}

impl KeyNames {
    pub fn get(&self, id: u32) -> Option<&str> {
        self.servers.binary_search_by_key(&id, |e| e.0).ok().map(|i| &*self.servers[i].1)
    }

    pub fn origin(&self, i: u16) -> Option<(&str, &str)> {
        self.origins.get(i as usize).map(|(p, n)| (&**p, &**n))
    }
}

/// A server name by its id; "-" for none, "#id" when the name is not at hand.
pub fn server_name_text(id: u32, names: &KeyNames) -> String {
    match (id, names.get(id)) {
        (0, _) => "-".to_string(),
        (_, Some(n)) => n.to_string(),
        (_, None) => format!("#{id}"),
    }
}

/// "10.1.0.0/16"; "-" for a packet without IP.
pub fn prefix_text((a, len): (Addr, u8)) -> String {
    if a.family == Family::None {
        a.to_string()
    } else {
        format!("{a}/{len}")
    }
}

/// The network of `a` at the family's length (host bits zero).
fn prefix_of(a: &Addr, v4: u8, v6: u8) -> Addr {
    let (start, len) = match a.family {
        Family::V4 => (12, v4 as usize),
        Family::V6 => (0, v6 as usize),
        Family::None => return *a,
    };
    let mut out = *a;
    let keep = start * 8 + len;
    for (i, b) in out.bytes.iter_mut().enumerate().skip(start) {
        let bit = i * 8;
        if bit >= keep {
            *b = 0;
        } else if bit + 8 > keep {
            *b &= 0xffu8 << (bit + 8 - keep);
        }
    }
    out
}

/// A key's fields, each present when the key holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyParts {
    pub src: Option<Addr>,
    pub dst: Option<Addr>,
    /// A prefix: its network address and length.
    pub src_prefix: Option<(Addr, u8)>,
    pub dst_prefix: Option<(Addr, u8)>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub proto: Option<u8>,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
    pub tcp_flags: Option<u8>,
    pub dscp: Option<u8>,
    pub vlan: Option<u16>,
    /// AS number (0: unknown) and ISO country code ([0, 0]: unknown) of an endpoint.
    pub src_as: Option<u32>,
    pub dst_as: Option<u32>,
    pub src_country: Option<[u8; 2]>,
    pub dst_country: Option<[u8; 2]>,
    /// One of [`DIRECTIONS`].
    pub direction: Option<&'static str>,
    /// [`crate::app::App`] as u8, and the server name's id (0: none).
    pub app: Option<u8>,
    pub server_name: Option<u32>,
    /// The origin: an index into the engine's (probe, interface) pairs.
    pub interface: Option<u16>,
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
        let f = KeyFields::SRC_IP | KeyFields::DST_PORT | KeyFields::PROTOCOL;
        let k = PackedKey::of(&r, f);
        assert_eq!(k.as_bytes().len(), 17 + 2 + 1);
        assert_eq!(k.text(f), "10.0.0.1 443 TCP");
        let v6 = PacketRecord { src: Addr::v6(r.src.bytes), ..r };
        assert_ne!(PackedKey::of(&v6, f), k, "the family is part of the key");
    }

    #[test]
    fn prefixes_cut_addresses_at_each_familys_length() {
        let f = KeyFields::parse("SrcPrefix/20, DstPrefix/8/33").unwrap();
        assert_eq!(f.to_string(), "SrcPrefix/20/48,DstPrefix/8/33");
        assert_eq!(KeyFields::parse(&f.to_string()).unwrap(), f, "the text parses back");
        let v4 =
            PacketRecord { src: Addr::v4([192, 0, 2, 200]), dst: Addr::v4([10, 9, 8, 7]), ..PacketRecord::default() };
        let mut six = [0u8; 16];
        six[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd]);
        let mut dst6 = [0xffu8; 16];
        dst6[0] = 0x20;
        let v6 = PacketRecord { src: Addr::v6(six), dst: Addr::v6(dst6), ..PacketRecord::default() };
        assert_eq!(PackedKey::of(&v4, f).text(f), "192.0.0.0/20 10.0.0.0/8");
        assert_eq!(PackedKey::of(&v6, f).text(f), "2001:db8:abcd::/48 20ff:ffff:8000::/33");
        let p = PackedKey::of(&v4, f).parts(f);
        assert_eq!(p.src_prefix, Some((Addr::v4([192, 0, 0, 0]), 20)));
        assert_eq!(p.src, None);
        // Two addresses of one prefix make one key.
        let near = PacketRecord { src: Addr::v4([192, 0, 15, 1]), ..v4 };
        assert_eq!(PackedKey::of(&near, f), PackedKey::of(&v4, f));
        let full = KeyFields::parse("SrcPrefix/32/128").unwrap();
        assert_eq!(PackedKey::of(&v6, full).text(full), "2001:db8:abcd::/128");
    }

    #[test]
    fn per_packet_fields_pack_and_print() {
        let f = KeyFields::parse("Protocol,ICMPType,ICMPCode,TCPFlags,DSCP,VLAN").unwrap();
        assert!(f.per_packet());
        assert!(!KeyFields::parse("SrcPrefix,ICMPType,ICMPCode").unwrap().per_packet());
        let tcp =
            PacketRecord { proto: 6, tcp_flags: 0x12, dscp: 46, vlan: 300, dst_port: 443, ..PacketRecord::default() };
        assert_eq!(PackedKey::of(&tcp, f).text(f), "TCP icmp-type 0 icmp-code 0 flags SYN,ACK dscp EF vlan 300");
        let echo = PacketRecord { proto: 1, dst_port: 8 << 8, tcp_flags: 0x02, dscp: 7, ..PacketRecord::default() };
        let p = PackedKey::of(&echo, f).parts(f);
        assert_eq!(
            (p.icmp_type, p.icmp_code, p.tcp_flags, p.dscp, p.vlan),
            (Some(8), Some(0), Some(0), Some(7), Some(0))
        );
        assert_eq!(PackedKey::of(&echo, f).text(f), "ICMP icmp-type 8 icmp-code 0 flags none dscp 7 vlan 0");
        let unreachable = PacketRecord { proto: 58, dst_port: 1 << 8 | 4, ..PacketRecord::default() };
        let p = PackedKey::of(&unreachable, f).parts(f);
        assert_eq!((p.icmp_type, p.icmp_code), (Some(1), Some(4)));
    }

    #[test]
    fn as_country_and_direction_are_looked_up_in_the_context() {
        use crate::app::mmdb::tests::{mmdb, W};
        use crate::app::mmdb::{Geo, Mmdb};
        let asn = mmdb(
            &[(Addr::v4([198, 51, 100, 0]), 96 + 24, W::Map(vec![("autonomous_system_number", W::U32(64_500))]))],
            "asn",
        );
        let country = mmdb(
            &[(Addr::v4([10, 0, 0, 0]), 96 + 8, W::Map(vec![("country", W::Map(vec![("iso_code", W::Str("DE"))]))]))],
            "GeoLite2-Country",
        );
        let geo = Geo::new(Some(Mmdb::new(asn, "a").unwrap()), Some(Mmdb::new(country, "c").unwrap()));
        let ctx = KeyContext { geo: Some(Arc::new(geo)), local: vec![Cidr::parse("10.0.0.0/8").unwrap()] };
        let f = KeyFields::parse("SrcAS,DstAS,SrcCountry,DstCountry,Direction").unwrap();
        assert!(!f.per_packet() && f.looks_up());
        let out =
            PacketRecord { src: Addr::v4([10, 1, 2, 3]), dst: Addr::v4([198, 51, 100, 7]), ..PacketRecord::default() };
        let k = PackedKey::of_in(&out, f, &ctx);
        assert_eq!(k.text(f), "AS0 AS64500 DE - outbound");
        let back = PacketRecord { src: out.dst, dst: out.src, ..out };
        assert_eq!(PackedKey::of_in(&back, f, &ctx).text(f), "AS64500 AS0 - DE inbound");
        let p = k.parts(f);
        assert_eq!(
            (p.src_as, p.dst_as, p.src_country, p.dst_country),
            (Some(0), Some(64_500), Some(*b"DE"), Some([0, 0]))
        );
        // Without databases or local networks: unknown, external.
        assert_eq!(PackedKey::of(&out, f).text(f), "AS0 AS0 - - external");
        let local = PacketRecord { dst: Addr::v4([10, 9, 9, 9]), ..out };
        assert_eq!(PackedKey::of_in(&local, KeyFields::DIRECTION, &ctx).text(KeyFields::DIRECTION), "local");
    }

    #[test]
    fn bad_keys_say_why() {
        let err = |l: &str| KeyFields::parse(l).unwrap_err();
        assert_eq!(err("SrcPort/24"), "key field \"SrcPort/24\": only SrcPrefix and DstPrefix take a length");
        assert_eq!(
            err("SrcPrefix/33"),
            "key field \"SrcPrefix/33\": the IPv4 length \"33\" is not a number from 1 to 32"
        );
        assert_eq!(
            err("DstPrefix/24/0"),
            "key field \"DstPrefix/24/0\": the IPv6 length \"0\" is not a number from 1 to 128"
        );
        assert_eq!(
            err("DstPrefix/24/x"),
            "key field \"DstPrefix/24/x\": the IPv6 length \"x\" is not a number from 1 to 128"
        );
        assert_eq!(
            err("SrcPrefix/1/2/3"),
            "key field \"SrcPrefix/1/2/3\": at most two lengths, IPv4 then IPv6 (\"SrcPrefix/24/48\")"
        );
        assert_eq!(err("SrcIP,SrcPrefix"), "SrcIP and SrcPrefix are the same address, whole and cut short: choose one");
        assert_eq!(
            err("SrcIP,DstIP,SrcPort,DstPort,Protocol,DSCP"),
            "the key SrcIP,DstIP,SrcPort,DstPort,Protocol,DSCP takes 40 bytes, more than the 39 a key holds (an address or a prefix takes 17, an AS or a server name 4, a port, a country or the VLAN 2, any other field 1)"
        );
        assert_eq!(KeyFields::parse("SrcIP,DstIP,DstPort,DSCP,VLAN").unwrap().packed_len(), 39);
        // Stored fields are checked as parsed ones are.
        assert_eq!(KeyFields::from_raw(32, [24, 48, 0, 0]), Some(KeyFields::SRC_PREFIX));
        assert_eq!(KeyFields::from_raw(32, [0, 48, 0, 0]), None, "a prefix without its length");
        assert_eq!(KeyFields::from_raw(1, [24, 48, 0, 0]), None, "a length without its prefix");
        assert_eq!(KeyFields::from_raw(1 << 20, [0; 4]), None, "an unknown field");
        assert_eq!(
            err("ServerName,DSCP"),
            "the key ServerName,DSCP mixes a flow's names (App, ServerName: known for the whole flow) with a packet's fields (TCPFlags, DSCP, VLAN, Interface): choose one kind"
        );
    }
}
