//! Community ID v1 (https://github.com/corelight/community-id-spec): the flow hash Zeek,
//! Suricata, Arkime and Elastic log beside each flow, so one flow can be found in every tool's
//! records with one string comparison.
//!
//! SHA-1 over `seed (2 bytes BE) . src addr (4 or 16) . dst addr . proto (1) . 0 (1) .
//! src port (2 BE) . dst port (2 BE)`, rendered as `"1:" + base64(digest)`. The endpoints are
//! ordered so the smaller address comes first (bytes in network order), the smaller port when
//! the addresses are equal. Ports are hashed for TCP, UDP, SCTP, ICMP and ICMPv6 only; other
//! protocols hash the addresses and protocol alone. ICMP type and code become ports as in Zeek
//! (pycommunityid's `icmp.py`, `icmp6.py`): a type with a counterpart (echo request/reply, ...)
//! gives (type, counterpart type), so both directions get one ID; any other type gives
//! (type, code) and is one-way: its endpoints are never swapped.
//!
//! The core has no dependencies, so SHA-1 (FIPS 180-4) and base64 (RFC 4648) are written here;
//! both only ever see the 40-byte tuple, so they are simple rather than fast.

use crate::addr::{Addr, Family};
use core::fmt;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
const PROTO_SCTP: u8 = 132;

/// Length of a rendered ID: "1:" and 28 base64 characters (20 bytes, one `=` of padding).
const LEN: usize = 30;

/// A rendered Community ID, kept inline (no allocation per flow).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommunityId([u8; LEN]);

impl CommunityId {
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for CommunityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CommunityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Whether the spec hashes ports for this IP protocol.
pub fn has_ports(proto: u8) -> bool {
    matches!(proto, PROTO_TCP | PROTO_UDP | PROTO_SCTP | PROTO_ICMP | PROTO_ICMPV6)
}

/// The message type answering `ty` (and the other way round), for ICMP (`proto` 1) and ICMPv6
/// (58) messages that come in pairs.
fn icmp_counterpart(proto: u8, ty: u16) -> Option<u16> {
    let pairs: &[(u16, u16)] = match proto {
        // echo, router solicitation/advertisement, timestamp, information, address mask
        PROTO_ICMP => &[(8, 0), (10, 9), (13, 14), (15, 16), (17, 18)],
        // echo, MLD query/report, router and neighbor solicitation/advertisement, who-are-you,
        // home agent address discovery
        PROTO_ICMPV6 => &[(128, 129), (130, 131), (133, 134), (135, 136), (139, 140), (144, 145)],
        _ => return None,
    };
    pairs.iter().find(|&&(q, r)| q == ty || r == ty).map(|&(q, r)| if q == ty { r } else { q })
}

/// ICMP or ICMPv6 type and code as the spec's (source port, destination port, one-way).
pub fn icmp_ports(proto: u8, ty: u16, code: u16) -> (u16, u16, bool) {
    match icmp_counterpart(proto, ty) {
        Some(other) => (ty, other, false),
        None => (ty, code, true),
    }
}

/// The Community ID of a flow tuple. `ports` are (source, destination) ports, or (type, code)
/// for ICMP and ICMPv6; they are ignored for protocols the spec hashes without ports. `None`
/// when the tuple cannot be hashed: no IP, mixed families, or a protocol that needs ports
/// given none (the spec allows an empty ID then).
pub fn community_id(seed: u16, src: Addr, dst: Addr, proto: u8, ports: Option<(u16, u16)>) -> Option<CommunityId> {
    if src.family == Family::None || src.family != dst.family {
        return None;
    }
    let (mut ports, one_way) = match (has_ports(proto), ports) {
        (false, _) => (None, false),
        (true, None) => return None,
        (true, Some((s, d))) if proto == PROTO_ICMP || proto == PROTO_ICMPV6 => {
            let (s, d, one_way) = icmp_ports(proto, s, d);
            (Some((s, d)), one_way)
        }
        (true, Some(p)) => (Some(p), false),
    };
    let (mut sa, mut da) = (network_bytes(&src), network_bytes(&dst));
    let swap = !one_way && (sa > da || (sa == da && ports.is_some_and(|(s, d)| s > d)));
    if swap {
        (sa, da) = (da, sa);
        ports = ports.map(|(s, d)| (d, s));
    }
    let mut input = [0u8; 40];
    let mut n = 0;
    let mut put = |b: &[u8]| {
        input[n..n + b.len()].copy_from_slice(b);
        n += b.len();
    };
    put(&seed.to_be_bytes());
    put(sa);
    put(da);
    put(&[proto, 0]);
    if let Some((s, d)) = ports {
        put(&s.to_be_bytes());
        put(&d.to_be_bytes());
    }
    let digest = sha1(&input[..n]);
    let mut out = [0u8; LEN];
    out[..2].copy_from_slice(b"1:");
    base64(&digest, &mut out[2..]);
    Some(CommunityId(out))
}

/// The address as it is on the wire: 4 bytes for IPv4, 16 for IPv6.
fn network_bytes(a: &Addr) -> &[u8] {
    if a.family == Family::V4 {
        &a.bytes[12..]
    } else {
        &a.bytes
    }
}

/// SHA-1 (FIPS 180-4) of `data`.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0];
    let mut blocks = data.chunks_exact(64);
    for block in &mut blocks {
        sha1_block(&mut h, block);
    }
    // Padding: 0x80, zeros, then the message length in bits (64-bit big-endian), filling one
    // block, or two when fewer than 9 bytes are left in the last.
    let rest = blocks.remainder();
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let end = if rest.len() < 56 { 64 } else { 128 };
    tail[end - 8..end].copy_from_slice(&(data.len() as u64).wrapping_mul(8).to_be_bytes());
    for block in tail[..end].chunks_exact(64) {
        sha1_block(&mut h, block);
    }
    let mut out = [0u8; 20];
    for (o, v) in out.chunks_exact_mut(4).zip(h) {
        o.copy_from_slice(&v.to_be_bytes());
    }
    out
}

fn sha1_block(h: &mut [u32; 5], block: &[u8]) {
    let mut w = [0u32; 80];
    for (i, b) in block.chunks_exact(4).enumerate() {
        w[i] = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    }
    for i in 16..80 {
        w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
    }
    let [mut a, mut b, mut c, mut d, mut e] = *h;
    for (i, wi) in w.iter().enumerate() {
        let (f, k) = match i {
            0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
            20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
            40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
            _ => (b ^ c ^ d, 0xca62_c1d6),
        };
        let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = t;
    }
    for (x, v) in h.iter_mut().zip([a, b, c, d, e]) {
        *x = x.wrapping_add(v);
    }
}

/// Standard base64 with padding (RFC 4648 section 4) into `out`, which holds at least
/// `4 * ceil(data.len() / 3)` bytes; returns the bytes written.
fn base64(data: &[u8], out: &mut [u8]) -> usize {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut n = 0;
    for chunk in data.chunks(3) {
        let v = (chunk[0] as u32) << 16
            | (chunk.get(1).copied().unwrap_or(0) as u32) << 8
            | chunk.get(2).copied().unwrap_or(0) as u32;
        for i in 0..4 {
            out[n + i] = if i <= chunk.len() { ALPHABET[(v >> (18 - 6 * i)) as usize & 63] } else { b'=' };
        }
        n += 4;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Protocol, source, destination, ports, and the expected IDs with seed 0 and seed 1.
    type Vector = (u8, &'static str, &'static str, Option<(u16, u16)>, &'static str, &'static str);

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn b64(data: &[u8]) -> String {
        let mut out = vec![0u8; data.len().div_ceil(3) * 4];
        let n = base64(data, &mut out);
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    fn ip(s: &str) -> Addr {
        match s.parse::<std::net::IpAddr>().unwrap() {
            std::net::IpAddr::V4(a) => Addr::v4(a.octets()),
            std::net::IpAddr::V6(a) => Addr::v6(a.octets()),
        }
    }

    fn id(seed: u16, proto: u8, src: &str, dst: &str, ports: Option<(u16, u16)>) -> String {
        community_id(seed, ip(src), ip(dst), proto, ports).map(|c| c.to_string()).unwrap_or_default()
    }

    #[test]
    fn sha1_matches_fips_180_vectors() {
        assert_eq!(hex(&sha1(b"abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            hex(&sha1(
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
            )),
            "a49b2446a02c645bf419f995b67091253a04a259"
        );
        assert_eq!(hex(&sha1("a".repeat(1_000_000).as_bytes())), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
        // 55, 56 and 64 bytes, the padding boundaries: values from Python's hashlib (the others are
        // the FIPS 180 / RFC 3174 examples).
        assert_eq!(hex(&sha1(&[b'a'; 55])), "c1c8bbdc22796e28c0e15163d20899b65621d65a");
        assert_eq!(hex(&sha1(&[b'a'; 56])), "c2db330f6083854c99d4b5bfb6e8f29f201be699");
        assert_eq!(hex(&sha1(&[b'a'; 64])), "0098ba824b5c16427bd7a1122a5a442a25ec644d");
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(b64(plain.as_bytes()), encoded, "{plain:?}");
        }
    }

    /// The tables of the spec's baseline/README.md (made by pycommunityid's make-tables.py):
    /// published values, with the seed-0 and seed-1 columns.
    #[test]
    fn matches_the_spec_baseline_tables() {
        let (v4a, v4b) = ("1.2.3.4", "5.6.7.8");
        let (v6a, v6b) = ("fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D");
        #[rustfmt::skip]
        let rows: [Vector; 16] = [
            (6, v4a, v4b, Some((1122, 3344)), "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
            (6, v4b, v4a, Some((3344, 1122)), "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
            (17, v4a, v4b, Some((1122, 3344)), "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", "1:OShq+iKDAMVouh/4bMxB9Sz4amw="),
            (17, v4b, v4a, Some((3344, 1122)), "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", "1:OShq+iKDAMVouh/4bMxB9Sz4amw="),
            (132, v4a, v4b, Some((1122, 3344)), "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", "1:uitchpn5MMGAQKBJh7bIr/bAr7s="),
            (132, v4b, v4a, Some((3344, 1122)), "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", "1:uitchpn5MMGAQKBJh7bIr/bAr7s="),
            (1, v4a, v4b, Some((8, 0)), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="),
            (1, v4b, v4a, Some((0, 0)), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="),
            (1, v4a, v4b, Some((11, 0)), "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=", "1:1DD7cWGC/Yg91YGsQeni8du3pIA="),
            (58, v6a, v6b, Some((128, 0)), "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", "1:IO27GQzPuCtNnwFvjWALMHu5tJE="),
            (58, v6b, v6a, Some((129, 0)), "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", "1:IO27GQzPuCtNnwFvjWALMHu5tJE="),
            (58, v6a, v6b, Some((146, 0)), "1:fYC8+pz24E+EhANP1EZhpX0Dw10=", "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s="),
            (46, v4a, v4b, None, "1:ikv3kmf89luf73WPz1jOs49S768=", "1:/buhqeOmaRCopOZFy9HnoJd5XW8="),
            (46, v4b, v4a, None, "1:ikv3kmf89luf73WPz1jOs49S768=", "1:/buhqeOmaRCopOZFy9HnoJd5XW8="),
            (46, v6a, v6b, None, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=", "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM="),
            (46, v6b, v6a, None, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=", "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM="),
        ];
        for (proto, src, dst, ports, seed0, seed1) in rows {
            assert_eq!(id(0, proto, src, dst, ports), seed0, "{proto} {src} -> {dst} {ports:?}");
            assert_eq!(id(1, proto, src, dst, ports), seed1, "seed 1: {proto} {src} -> {dst} {ports:?}");
        }
    }

    /// The spec's baseline/baseline_deflt.json and baseline_seed1.json (pycommunityid over the
    /// spec's combined.pcap; published values). Their ICMP ports are already mapped, so the ICMP
    /// rows here give the message type and code the capture carried: a two-way type keeps its
    /// counterpart as "code" in the file, which the mapping ignores.
    #[test]
    fn matches_the_spec_baseline_json() {
        #[rustfmt::skip]
        let rows: [Vector; 21] = [
            (6, "128.232.110.120", "66.35.250.204", Some((34855, 80)), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="),
            (6, "66.35.250.204", "128.232.110.120", Some((80, 34855)), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="),
            (17, "192.168.1.52", "8.8.8.8", Some((54585, 53)), "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="),
            (17, "8.8.8.8", "192.168.1.52", Some((53, 54585)), "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="),
            (132, "192.168.170.8", "192.168.170.56", Some((7, 7)), "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="),
            (132, "192.168.170.56", "192.168.170.8", Some((7, 7)), "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="),
            (6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", Some((63943, 25)), "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="),
            (6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", Some((25, 63943)), "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="),
            (46, "10.1.12.1", "10.1.12.2", None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI="),
            (46, "10.1.12.2", "10.1.12.1", None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI="),
            // ICMP echo request and reply, and a one-way time exceeded.
            (1, "192.168.0.89", "192.168.0.1", Some((8, 0)), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="),
            (1, "192.168.0.1", "192.168.0.89", Some((0, 0)), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="),
            (1, "10.0.0.1", "10.0.0.2", Some((11, 0)), "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20="),
            // ICMPv6 echo request and reply.
            (58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", Some((128, 0)), "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="),
            (58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", Some((129, 0)), "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="),
            // Neighbor solicitation from each side, each answered by an advertisement.
            (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", Some((135, 0)), "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="),
            (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", Some((136, 0)), "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="),
            (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", Some((135, 0)), "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="),
            // Router solicitation to all routers (two-way type, multicast destination).
            (58, "fe80::200:86ff:fe05:80da", "ff02::2", Some((133, 0)), "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8="),
            // One-way: time exceeded, destination unreachable (type, code).
            (58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", Some((3, 0)), "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4="),
            (58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", Some((1, 4)), "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8="),
        ];
        for (proto, src, dst, ports, seed0, seed1) in rows {
            assert_eq!(id(0, proto, src, dst, ports), seed0, "{proto} {src} -> {dst} {ports:?}");
            assert_eq!(id(1, proto, src, dst, ports), seed1, "seed 1: {proto} {src} -> {dst} {ports:?}");
        }
    }

    #[test]
    fn one_way_icmp_is_never_swapped_and_port_protocols_need_ports() {
        // Destination unreachable, once from each side: two IDs (a two-way type would give one).
        let there = id(0, 1, "10.0.0.2", "10.0.0.1", Some((3, 1)));
        let back = id(0, 1, "10.0.0.1", "10.0.0.2", Some((3, 1)));
        assert_ne!(there, back);
        assert_eq!(icmp_ports(1, 8, 0), (8, 0, false));
        assert_eq!(icmp_ports(58, 136, 0), (136, 135, false));
        assert_eq!(icmp_ports(1, 3, 1), (3, 1, true));
        assert_eq!(icmp_ports(17, 8, 0), (8, 0, true), "no counterparts outside ICMP");
        assert!(community_id(0, ip("10.0.0.1"), ip("10.0.0.2"), 6, None).is_none());
        assert!(community_id(0, ip("10.0.0.1"), ip("::1"), 6, Some((1, 2))).is_none());
        assert!(community_id(0, Addr::NONE, Addr::NONE, 0, None).is_none());
    }
}
