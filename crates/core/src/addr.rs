//! One address form for both IP families.
//!
//! IPv4 is stored IPv4-mapped (`::ffff:a.b.c.d`) so both families share 16 bytes, and the family is
//! kept beside it: an IPv4 address never collides with the IPv6 address `::ffff:a.b.c.d`, and it
//! always prints as a dotted quad.

use core::fmt;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Family {
    /// No IP layer (ARP, STP, an unsupported link type, ...).
    #[default]
    None = 0,
    V4 = 4,
    V6 = 6,
}

impl Family {
    pub fn from_u8(v: u8) -> Family {
        match v {
            4 => Family::V4,
            6 => Family::V6,
            _ => Family::None,
        }
    }
}

#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr {
    pub family: Family,
    pub bytes: [u8; 16],
}

impl Addr {
    pub const NONE: Addr = Addr { family: Family::None, bytes: [0; 16] };

    pub fn v4(octets: [u8; 4]) -> Addr {
        let mut bytes = [0u8; 16];
        bytes[10] = 0xff;
        bytes[11] = 0xff;
        bytes[12..].copy_from_slice(&octets);
        Addr { family: Family::V4, bytes }
    }

    pub fn v6(bytes: [u8; 16]) -> Addr {
        Addr { family: Family::V6, bytes }
    }

    /// Reads 4 (IPv4) or 16 (IPv6) bytes; the caller has checked the length.
    pub fn from_slice(family: Family, b: &[u8]) -> Addr {
        match family {
            Family::V4 => Addr::v4([b[0], b[1], b[2], b[3]]),
            Family::V6 => {
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&b[..16]);
                Addr::v6(bytes)
            }
            Family::None => Addr::NONE,
        }
    }

    /// Feeds the 16 address bytes to a hasher as two words (both families share the form).
    #[inline]
    pub fn hash_words<H: std::hash::Hasher>(&self, state: &mut H) {
        let w = |i: usize| u64::from_le_bytes(self.bytes[i..i + 8].try_into().unwrap_or([0; 8]));
        state.write_u64(w(0));
        state.write_u64(w(8));
    }

    pub fn octets_v4(&self) -> [u8; 4] {
        [self.bytes[12], self.bytes[13], self.bytes[14], self.bytes[15]]
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Family::None => f.write_str("-"),
            Family::V4 => {
                let o = self.octets_v4();
                write!(f, "{}.{}.{}.{}", o[0], o[1], o[2], o[3])
            }
            Family::V6 => fmt::Display::fmt(&std::net::Ipv6Addr::from(self.bytes), f),
        }
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A network: an address family, a prefix and its length ("10.0.0.0/8", "fe80::/10"; an address
/// alone is a network of one address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub network: Addr,
    /// Prefix bits of the family's address (0..=32 for IPv4, 0..=128 for IPv6).
    pub bits: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let network = if let Ok(v4) = addr.parse::<std::net::Ipv4Addr>() {
            Addr::v4(v4.octets())
        } else if let Ok(v6) = addr.parse::<std::net::Ipv6Addr>() {
            Addr::v6(v6.octets())
        } else {
            return Err(format!("\"{text}\" is not an address or a network (such as 10.0.0.0/8 or 2001:db8::/32)"));
        };
        let max = if network.family == Family::V4 { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => match b.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("\"{text}\": the prefix length must be 0 to {max}")),
            },
        };
        Ok(Cidr { network, bits })
    }

    /// Whether the address is in the network (never across families).
    pub fn contains(&self, a: &Addr) -> bool {
        if a.family != self.network.family {
            return false;
        }
        // IPv4 lives in the last 4 bytes of the mapped form: its prefix starts at bit 96.
        let skip = if a.family == Family::V4 { 96 } else { 0 };
        let bits = skip + self.bits as usize;
        let whole = bits / 8;
        if a.bytes[skip / 8..whole] != self.network.bytes[skip / 8..whole] {
            return false;
        }
        let rest = bits % 8;
        rest == 0 || (a.bytes[whole] ^ self.network.bytes[whole]) & (0xffu8 << (8 - rest)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_prints_dotted_quad_and_never_equals_mapped_ipv6() {
        let v4 = Addr::v4([10, 0, 0, 1]);
        assert_eq!(v4.to_string(), "10.0.0.1");
        let mapped = Addr::v6(v4.bytes);
        assert_eq!(mapped.to_string(), "::ffff:10.0.0.1");
        assert_ne!(v4, mapped);
    }

    #[test]
    fn ipv6_uses_compressed_text() {
        let mut b = [0u8; 16];
        b[0] = 0x20;
        b[1] = 0x01;
        b[2] = 0x0d;
        b[3] = 0xb8;
        b[15] = 1;
        assert_eq!(Addr::v6(b).to_string(), "2001:db8::1");
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let n = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(n.contains(&Addr::v4([10, 1, 200, 3])));
        assert!(!n.contains(&Addr::v4([10, 2, 0, 1])));
        assert!(!n.contains(&Addr::v6(Addr::v4([10, 1, 0, 1]).bytes)));
        let odd = Cidr::parse("172.16.0.0/12").unwrap();
        assert!(odd.contains(&Addr::v4([172, 31, 255, 255])));
        assert!(!odd.contains(&Addr::v4([172, 32, 0, 0])));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(&Addr::v4([8, 8, 8, 8])));
        let v6 = Cidr::parse("fe80::/10").unwrap();
        assert!(v6.contains(&Addr::v6("fe80::1".parse::<std::net::Ipv6Addr>().unwrap().octets())));
        assert!(!v6.contains(&Addr::v6("fec0::1".parse::<std::net::Ipv6Addr>().unwrap().octets())));
        let host = Cidr::parse("192.0.2.7").unwrap();
        assert!(host.contains(&Addr::v4([192, 0, 2, 7])) && !host.contains(&Addr::v4([192, 0, 2, 8])));
        assert!(Cidr::parse("10.0.0.0/33").unwrap_err().contains("0 to 32"));
        assert!(Cidr::parse("ten/8").unwrap_err().contains("not an address"));
    }
}
