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
}
