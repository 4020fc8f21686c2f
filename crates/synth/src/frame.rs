//! Frame builders: complete Ethernet II frames with correct lengths and checksums.
//!
//! Every builder appends to a caller's `Vec<u8>` and writes nothing when it returns an error.
//! Checksums are summed as 64-bit words with end-around carry (RFC 1071: one's-complement
//! arithmetic mod 2^64 - 1 folds to the 16-bit sum); filler payload checksums come from prefix
//! sums, without a pass over the payload.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q C-tag TPID.
pub const TPID_8021Q: u16 = 0x8100;
/// 802.1ad S-tag TPID.
pub const TPID_8021AD: u16 = 0x88a8;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

pub const ETHERNET_HEADER_LEN: usize = 14;
pub const VLAN_TAG_LEN: usize = 4;
pub const IPV4_HEADER_LEN: usize = 20;
pub const IPV6_HEADER_LEN: usize = 40;
pub const TCP_HEADER_LEN: usize = 20;
pub const UDP_HEADER_LEN: usize = 8;
pub const ICMP_HEADER_LEN: usize = 8;
/// Shortest Ethernet frame without FCS; shorter frames are zero-padded on the wire.
pub const MIN_FRAME_LEN: usize = 60;
/// Most VLAN tags a [`VlanStack`] holds.
pub const MAX_VLAN_TAGS: usize = 4;

/// TCP flag bits (the 13th header byte).
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// Echo message types of ICMP (IPv4) and ICMPv6.
pub mod icmp_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const ECHO_REQUEST: u8 = 8;
    pub const V6_ECHO_REQUEST: u8 = 128;
    pub const V6_ECHO_REPLY: u8 = 129;
}

/// VLAN tags between the MAC addresses and the ethertype, outermost first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VlanStack {
    outer_tpid: u16,
    ids: [u16; MAX_VLAN_TAGS],
    len: u8,
}

impl Default for VlanStack {
    fn default() -> Self {
        VlanStack::NONE
    }
}

impl VlanStack {
    pub const NONE: VlanStack = VlanStack { outer_tpid: TPID_8021Q, ids: [0; MAX_VLAN_TAGS], len: 0 };

    /// One 802.1Q tag.
    pub const fn single(vid: u16) -> VlanStack {
        VlanStack { outer_tpid: TPID_8021Q, ids: [vid & 0x0fff, 0, 0, 0], len: 1 }
    }

    /// 802.1ad S-tag (TPID 0x88a8) followed by an 802.1Q C-tag.
    pub const fn qinq(s_vid: u16, c_vid: u16) -> VlanStack {
        VlanStack { outer_tpid: TPID_8021AD, ids: [s_vid & 0x0fff, c_vid & 0x0fff, 0, 0], len: 2 }
    }

    /// 802.1Q tags (all TPID 0x8100), outermost first; `None` for more than [`MAX_VLAN_TAGS`].
    pub fn dot1q(ids: &[u16]) -> Option<VlanStack> {
        let mut stack = VlanStack::NONE;
        for (slot, vid) in stack.ids.iter_mut().zip(ids) {
            *slot = vid & 0x0fff;
        }
        stack.len = u8::try_from(ids.len()).ok().filter(|&n| n as usize <= MAX_VLAN_TAGS)?;
        Some(stack)
    }

    /// VLAN ids, outermost first.
    pub fn ids(&self) -> &[u16] {
        self.ids.get(..self.len as usize).unwrap_or(&[])
    }

    /// TPID of the outermost tag (0x8100, or 0x88a8 for [`VlanStack::qinq`]).
    pub fn outer_tpid(&self) -> u16 {
        self.outer_tpid
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the tags add to the Ethernet header.
    pub fn header_len(&self) -> usize {
        self.len as usize * VLAN_TAG_LEN
    }
}

/// The transport header. Ports and identifiers are from the sender's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    /// ICMP over IPv4, ICMPv6 over IPv6; the second header word is identifier and sequence.
    Icmp {
        ty: u8,
        code: u8,
        id: u16,
        seq: u16,
    },
}

impl L4 {
    /// Echo request of the family's ICMP (type 8, or 128 for ICMPv6).
    pub fn echo_request(v6: bool, id: u16, seq: u16) -> L4 {
        let ty = if v6 { icmp_type::V6_ECHO_REQUEST } else { icmp_type::ECHO_REQUEST };
        L4::Icmp { ty, code: 0, id, seq }
    }

    /// Echo reply of the family's ICMP (type 0, or 129 for ICMPv6).
    pub fn echo_reply(v6: bool, id: u16, seq: u16) -> L4 {
        let ty = if v6 { icmp_type::V6_ECHO_REPLY } else { icmp_type::ECHO_REPLY };
        L4::Icmp { ty, code: 0, id, seq }
    }

    /// IP protocol number (ICMP becomes ICMPv6 over IPv6).
    pub fn proto(&self, v6: bool) -> u8 {
        match self {
            L4::Tcp { .. } => PROTO_TCP,
            L4::Udp { .. } => PROTO_UDP,
            L4::Icmp { .. } if v6 => PROTO_ICMPV6,
            L4::Icmp { .. } => PROTO_ICMP,
        }
    }

    pub fn header_len(&self) -> usize {
        match self {
            L4::Tcp { .. } => TCP_HEADER_LEN,
            L4::Udp { .. } => UDP_HEADER_LEN,
            L4::Icmp { .. } => ICMP_HEADER_LEN,
        }
    }
}

/// Everything needed to build one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSpec {
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    pub vlans: VlanStack,
    /// Source and destination must be of the same family.
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification (unused for IPv6).
    pub ip_id: u16,
    /// IPv4 Don't Fragment bit (unused for IPv6).
    pub dont_fragment: bool,
    /// IPv4 DSCP/ECN byte or IPv6 traffic class.
    pub tos: u8,
    pub l4: L4,
    /// Filler bytes after the transport header ([`build_frame`]).
    pub payload_len: usize,
    /// Selects the filler content: same seed and length, same bytes.
    pub payload_seed: u64,
    /// Zero-pad frames under [`MIN_FRAME_LEN`], as a wire tap sees them.
    pub pad_to_min: bool,
}

impl FrameSpec {
    /// A spec with plain defaults: fixed locally administered MACs, no VLAN, TTL 64, DF set,
    /// no payload, no padding. Override fields with struct update syntax.
    pub fn new(src: IpAddr, dst: IpAddr, l4: L4) -> FrameSpec {
        FrameSpec {
            dst_mac: [0x02, 0, 0, 0, 0, 0x02],
            src_mac: [0x02, 0, 0, 0, 0, 0x01],
            vlans: VlanStack::NONE,
            src,
            dst,
            ttl: 64,
            ip_id: 0,
            dont_fragment: true,
            tos: 0,
            l4,
            payload_len: 0,
            payload_seed: 0,
            pad_to_min: false,
        }
    }
}

/// Why a frame cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// One address is IPv4 and the other IPv6.
    MixedFamilies,
    /// The IPv4 total length or IPv6 payload length would pass 65535.
    TooLong { ip_len: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::MixedFamilies => f.write_str("source and destination addresses are of different IP families"),
            FrameError::TooLong { ip_len } => {
                write!(f, "IP length {ip_len} does not fit the 16-bit length field")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Appends an Ethernet frame with filler payload; returns the frame length.
pub fn build_frame(spec: &FrameSpec, out: &mut Vec<u8>) -> Result<usize, FrameError> {
    push_frame(spec, Payload::Filler, true, out)
}

/// Appends an Ethernet frame carrying `payload` (`payload_len` and `payload_seed` are ignored).
pub fn build_frame_with_payload(spec: &FrameSpec, payload: &[u8], out: &mut Vec<u8>) -> Result<usize, FrameError> {
    push_frame(spec, Payload::Bytes(payload), true, out)
}

/// Appends the IP packet alone (no Ethernet, no padding), with filler payload: for raw-IP link
/// types and tunnel inner packets.
pub fn build_ip_packet(spec: &FrameSpec, out: &mut Vec<u8>) -> Result<usize, FrameError> {
    push_frame(spec, Payload::Filler, false, out)
}

/// [`build_ip_packet`] carrying `payload`.
pub fn build_ip_packet_with_payload(spec: &FrameSpec, payload: &[u8], out: &mut Vec<u8>) -> Result<usize, FrameError> {
    push_frame(spec, Payload::Bytes(payload), false, out)
}

/// Appends an Ethernet II header: MACs, VLAN tags, ethertype.
pub fn push_ethernet(dst: [u8; 6], src: [u8; 6], vlans: &VlanStack, ethertype: u16, out: &mut Vec<u8>) {
    out.extend_from_slice(&dst);
    out.extend_from_slice(&src);
    for (i, vid) in vlans.ids().iter().enumerate() {
        let tpid = if i == 0 { vlans.outer_tpid } else { TPID_8021Q };
        out.extend_from_slice(&tpid.to_be_bytes());
        out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    }
    out.extend_from_slice(&ethertype.to_be_bytes());
}

/// Appends `len` filler bytes: a pure function of `seed` and the position, hard to compress.
pub fn fill_payload(seed: u64, len: usize, out: &mut Vec<u8>) {
    push_filler(seed, len, out);
}

/// RFC 1071 Internet checksum of `data` (an odd last byte is padded with zero).
pub fn internet_checksum(data: &[u8]) -> u16 {
    !fold16(sum_words(data))
}

#[derive(Clone, Copy)]
enum Payload<'a> {
    Filler,
    Bytes(&'a [u8]),
}

fn push_frame(spec: &FrameSpec, payload: Payload<'_>, ethernet: bool, out: &mut Vec<u8>) -> Result<usize, FrameError> {
    let payload_len = match payload {
        Payload::Filler => spec.payload_len,
        Payload::Bytes(b) => b.len(),
    };
    let l4_len = spec.l4.header_len().saturating_add(payload_len);
    let v6 = match (spec.src, spec.dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => false,
        (IpAddr::V6(_), IpAddr::V6(_)) => true,
        _ => return Err(FrameError::MixedFamilies),
    };
    // The IPv4 length field covers the header; IPv6's covers only what follows it.
    let ip_len_field = if v6 { l4_len } else { l4_len.saturating_add(IPV4_HEADER_LEN) };
    let Ok(ip_len_field) = u16::try_from(ip_len_field) else {
        return Err(FrameError::TooLong { ip_len: ip_len_field });
    };
    let l4_len = l4_len as u16; // <= ip_len_field
    let proto = spec.l4.proto(v6);

    let start = out.len();
    let ip_header_len = if v6 { IPV6_HEADER_LEN } else { IPV4_HEADER_LEN };
    out.reserve(ETHERNET_HEADER_LEN + spec.vlans.header_len() + ip_header_len + l4_len as usize + MIN_FRAME_LEN);
    if ethernet {
        let ethertype = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
        push_ethernet(spec.dst_mac, spec.src_mac, &spec.vlans, ethertype, out);
    }
    let pseudo = match (spec.src, spec.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            push_ipv4_header(spec, src, dst, proto, ip_len_field, out);
            // ICMPv4 has no pseudo-header.
            if matches!(spec.l4, L4::Icmp { .. }) {
                0
            } else {
                pseudo_v4(src, dst, proto, l4_len)
            }
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            push_ipv6_header(spec, src, dst, proto, l4_len, out);
            pseudo_v6(src, dst, proto, l4_len)
        }
        _ => 0, // refused above
    };

    let l4_start = out.len();
    let checksum_at = push_l4_header(&spec.l4, l4_len, out);
    let header_sum = sum_words(out.get(l4_start..).unwrap_or(&[]));
    // Headers are 8 or 20 bytes, so the payload starts on a 16-bit word boundary.
    let payload_sum = match payload {
        Payload::Filler => push_filler(spec.payload_seed, payload_len, out),
        Payload::Bytes(b) => {
            out.extend_from_slice(b);
            sum_words(b)
        }
    };
    let mut checksum = !fold16(ones_add(ones_add(pseudo, header_sum), payload_sum));
    if checksum == 0 && matches!(spec.l4, L4::Udp { .. }) {
        checksum = 0xffff; // 0 means "no checksum" in UDP
    }
    if let Some(field) = out.get_mut(l4_start + checksum_at..l4_start + checksum_at + 2) {
        field.copy_from_slice(&checksum.to_be_bytes());
    }

    if ethernet && spec.pad_to_min && out.len() - start < MIN_FRAME_LEN {
        out.resize(start + MIN_FRAME_LEN, 0);
    }
    Ok(out.len() - start)
}

fn push_ipv4_header(spec: &FrameSpec, src: Ipv4Addr, dst: Ipv4Addr, proto: u8, total_len: u16, out: &mut Vec<u8>) {
    let [len_hi, len_lo] = total_len.to_be_bytes();
    let [id_hi, id_lo] = spec.ip_id.to_be_bytes();
    let [s0, s1, s2, s3] = src.octets();
    let [d0, d1, d2, d3] = dst.octets();
    let flags = if spec.dont_fragment { 0x40 } else { 0 };
    let mut header =
        [0x45, spec.tos, len_hi, len_lo, id_hi, id_lo, flags, 0, spec.ttl, proto, 0, 0, s0, s1, s2, s3, d0, d1, d2, d3];
    let [c_hi, c_lo] = internet_checksum(&header).to_be_bytes();
    header[10] = c_hi;
    header[11] = c_lo;
    out.extend_from_slice(&header);
}

fn push_ipv6_header(spec: &FrameSpec, src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload_len: u16, out: &mut Vec<u8>) {
    let [len_hi, len_lo] = payload_len.to_be_bytes();
    // Flow label 0.
    out.extend_from_slice(&[0x60 | (spec.tos >> 4), spec.tos << 4, 0, 0, len_hi, len_lo, next, spec.ttl]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
}

/// Writes the transport header with a zero checksum; returns the checksum's offset in it.
fn push_l4_header(l4: &L4, l4_len: u16, out: &mut Vec<u8>) -> usize {
    match *l4 {
        L4::Tcp { sport, dport, seq, ack, flags, window } => {
            out.extend_from_slice(&sport.to_be_bytes());
            out.extend_from_slice(&dport.to_be_bytes());
            out.extend_from_slice(&seq.to_be_bytes());
            out.extend_from_slice(&ack.to_be_bytes());
            out.extend_from_slice(&[5 << 4, flags]);
            out.extend_from_slice(&window.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
            16
        }
        L4::Udp { sport, dport } => {
            out.extend_from_slice(&sport.to_be_bytes());
            out.extend_from_slice(&dport.to_be_bytes());
            out.extend_from_slice(&l4_len.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            6
        }
        L4::Icmp { ty, code, id, seq } => {
            out.extend_from_slice(&[ty, code, 0, 0]);
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&seq.to_be_bytes());
            2
        }
    }
}

fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4_len: u16) -> u64 {
    let s = u32::from(src) as u64;
    let d = u32::from(dst) as u64;
    (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + proto as u64 + l4_len as u64
}

fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, l4_len: u16) -> u64 {
    let words: u64 = src.segments().iter().chain(dst.segments().iter()).map(|&w| w as u64).sum();
    words + next as u64 + l4_len as u64
}

/// One's-complement addition modulo 2^64 - 1, a multiple of 2^16 - 1: folding the result to 16
/// bits gives the RFC 1071 sum.
#[inline]
fn ones_add(a: u64, b: u64) -> u64 {
    let (sum, carry) = a.overflowing_add(b);
    sum + carry as u64
}

#[inline]
fn fold16(mut s: u64) -> u16 {
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// Sum of big-endian 16-bit words, unfolded.
fn sum_words(data: &[u8]) -> u64 {
    let mut acc = 0u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        acc = ones_add(acc, u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
    }
    let mut tail = [0u8; 8];
    let rest = chunks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    ones_add(acc, u64::from_be_bytes(tail))
}

const WEYL: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn filler_word(counter: u64) -> u64 {
    let x = (counter ^ (counter >> 31)).wrapping_mul(0xd6e8_feb8_6659_fd93);
    x ^ (x >> 32)
}

/// Words a filler window may start at.
const POOL_OFFSETS: usize = 8192;
/// Longest window taken from the pool at once (a whole maximum-size payload).
const FILLER_BLOCK: usize = 1 << 16;
const POOL_WORDS: usize = POOL_OFFSETS + FILLER_BLOCK / 8 + 1;

/// Random words shared by all filler: a payload is a window of the pool with a per-payload key
/// added to every little-endian 64-bit word (one's-complement addition), so payloads differ and
/// do not compress, while their checksum comes from prefix sums instead of a pass over the
/// bytes. Built once (256 KiB).
struct FillerPool {
    bytes: Vec<u8>,
    /// `prefix[i]`: one's-complement sum of words `0..i`.
    prefix: Vec<u64>,
}

fn filler_pool() -> &'static FillerPool {
    static POOL: std::sync::OnceLock<FillerPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let mut bytes = Vec::with_capacity(POOL_WORDS * 8);
        let mut prefix = Vec::with_capacity(POOL_WORDS + 1);
        let mut acc = 0u64;
        prefix.push(acc);
        for i in 0..POOL_WORDS as u64 {
            let w = filler_word(i.wrapping_mul(WEYL));
            bytes.extend_from_slice(&w.to_le_bytes());
            acc = ones_add(acc, w);
            prefix.push(acc);
        }
        FillerPool { bytes, prefix }
    })
}

/// `n * key` in one's-complement (mod 2^64 - 1) arithmetic.
#[inline]
fn ones_mul(n: u64, key: u64) -> u64 {
    let p = n as u128 * key as u128;
    ones_add(p as u64, (p >> 64) as u64)
}

/// Appends filler and returns its unfolded word sum (for a payload starting on a word boundary).
fn push_filler(seed: u64, len: usize, out: &mut Vec<u8>) -> u64 {
    let mut acc = 0u64;
    let mut done = 0usize;
    let mut block_seed = seed;
    while done < len {
        let n = (len - done).min(FILLER_BLOCK);
        acc = ones_add(acc, push_filler_block(block_seed, n, out));
        done += n;
        block_seed = block_seed.wrapping_add(WEYL);
    }
    acc
}

/// Up to [`FILLER_BLOCK`] bytes of filler.
fn push_filler_block(seed: u64, len: usize, out: &mut Vec<u8>) -> u64 {
    let pool = filler_pool();
    let offset = (filler_word(seed) % POOL_OFFSETS as u64) as usize;
    let key = filler_word(seed ^ 0x5bd1_e995_5bd1_e995);
    let words = len / 8;
    let (Some(window), Some(&tail_word)) = (
        pool.bytes.get(offset * 8..offset * 8 + len),
        pool.bytes.get((offset + words) * 8..(offset + words) * 8 + 8).and_then(|b| b.first_chunk::<8>()),
    ) else {
        return 0; // unreachable: the pool holds a whole block past every offset
    };
    let start = out.len();
    out.extend_from_slice(window);
    let mut tail_sum = 0;
    if let Some(buf) = out.get_mut(start..) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            let w =
                u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]);
            chunk.copy_from_slice(&ones_add(w, key).to_le_bytes());
        }
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            let w = ones_add(u64::from_le_bytes(tail_word), key);
            tail.copy_from_slice(&w.to_le_bytes()[..tail.len()]);
            // Only the bytes written count: the low ones of a little-endian word.
            tail_sum = w & ((1u64 << (8 * tail.len())) - 1);
        }
    }
    let (Some(&lo), Some(&hi)) = (pool.prefix.get(offset), pool.prefix.get(offset + words)) else {
        return 0;
    };
    let window_sum = ones_add(hi, !lo); // !x is -x in one's complement
    let le_sum = ones_add(ones_add(window_sum, ones_mul(words as u64, key)), tail_sum);
    // Sums of little-endian words are the byte-swapped big-endian sums (RFC 1071 2.B).
    fold16(le_sum).swap_bytes() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn v6(last: u16) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
    }

    /// Plain 16-bit loop, independent of the 64-bit summing above.
    fn reference_sum(parts: &[&[u8]]) -> u32 {
        let mut bytes = Vec::new();
        for p in parts {
            bytes.extend_from_slice(p);
        }
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        let mut sum = 0u32;
        for w in bytes.chunks(2) {
            sum += u16::from_be_bytes([w[0], w[1]]) as u32;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum
    }

    /// Checks the IP header and transport checksum of a frame without VLANs; returns the
    /// transport segment.
    fn check_frame(frame: &[u8], v6: bool) -> Vec<u8> {
        if v6 {
            let ip = &frame[14..];
            let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            let seg = ip[40..40 + plen].to_vec();
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&ip[8..40]);
            pseudo.extend_from_slice(&(plen as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, ip[6]]);
            assert_eq!(reference_sum(&[&pseudo, &seg]), 0xffff, "v6 transport checksum");
            seg
        } else {
            let ip = &frame[14..];
            assert_eq!(reference_sum(&[&ip[..20]]), 0xffff, "IPv4 header checksum");
            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            let seg = ip[20..total].to_vec();
            if ip[9] != PROTO_ICMP {
                let mut pseudo = Vec::new();
                pseudo.extend_from_slice(&ip[12..20]);
                pseudo.extend_from_slice(&[0, ip[9]]);
                pseudo.extend_from_slice(&(seg.len() as u16).to_be_bytes());
                assert_eq!(reference_sum(&[&pseudo, &seg]), 0xffff, "v4 transport checksum");
            } else {
                assert_eq!(reference_sum(&[&seg]), 0xffff, "ICMP checksum");
            }
            seg
        }
    }

    /// 10.0.0.1:40000 -> 192.0.2.10:443 SYN, seq 0x01020304, window 64240, id 0x1234, TTL 64,
    /// DF. Checksums computed independently with Python (RFC 1071 over the bytes below).
    const SYN_FIXTURE: [u8; 54] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, // Ethernet
        0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x5c, 0x91, // IPv4 ...
        0x0a, 0x00, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x0a, // ... addresses
        0x9c, 0x40, 0x01, 0xbb, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, // TCP ports seq ack
        0x50, 0x02, 0xfa, 0xf0, 0x46, 0xe5, 0x00, 0x00, // offset, SYN, window, checksum, urgent
    ];

    fn syn_spec() -> FrameSpec {
        FrameSpec {
            ip_id: 0x1234,
            ..FrameSpec::new(
                v4(10, 0, 0, 1),
                v4(192, 0, 2, 10),
                L4::Tcp { sport: 40000, dport: 443, seq: 0x0102_0304, ack: 0, flags: tcp_flags::SYN, window: 64240 },
            )
        }
    }

    #[test]
    fn tcp_syn_matches_fixture() {
        let mut out = vec![0xee]; // appends after existing content
        assert_eq!(build_frame(&syn_spec(), &mut out), Ok(54));
        assert_eq!(out[0], 0xee);
        assert_eq!(out[1..], SYN_FIXTURE[..]);
    }

    #[test]
    fn syn_padded_to_minimum() {
        let mut out = Vec::new();
        let spec = FrameSpec { pad_to_min: true, ..syn_spec() };
        assert_eq!(build_frame(&spec, &mut out), Ok(60));
        assert_eq!(out[..54], SYN_FIXTURE[..]);
        assert_eq!(out[54..], [0; 6]);
    }

    /// 2001:db8::1 -> 2001:db8::2 ICMPv6 echo request id 0x0102 seq 3, payload "abcd", hop
    /// limit 64. Checksum 0x5e78 computed independently with Python.
    #[test]
    fn icmpv6_echo_matches_fixture() {
        let spec = FrameSpec::new(v6(1), v6(2), L4::echo_request(true, 0x0102, 3));
        let mut out = Vec::new();
        assert_eq!(build_frame_with_payload(&spec, b"abcd", &mut out), Ok(14 + 40 + 12));
        assert_eq!(out[12..14], [0x86, 0xdd]);
        assert_eq!(out[14..22], [0x60, 0, 0, 0, 0, 12, 58, 64]);
        assert_eq!(out[54..], [128, 0, 0x5e, 0x78, 0x01, 0x02, 0x00, 0x03, b'a', b'b', b'c', b'd']);
    }

    /// 10.0.0.1:5353 -> 10.0.0.2:53 UDP with payload "xyz" (odd length). Checksums from Python.
    #[test]
    fn udp_v4_odd_payload_matches_fixture() {
        let spec = FrameSpec {
            dont_fragment: false,
            ttl: 128,
            ip_id: 7,
            ..FrameSpec::new(v4(10, 0, 0, 1), v4(10, 0, 0, 2), L4::Udp { sport: 5353, dport: 53 })
        };
        let mut out = Vec::new();
        assert_eq!(build_frame_with_payload(&spec, b"xyz", &mut out), Ok(14 + 20 + 11));
        assert_eq!(out[14..34], [0x45, 0, 0, 31, 0, 7, 0, 0, 128, 17, 0x26, 0xc5, 10, 0, 0, 1, 10, 0, 0, 2]);
        assert_eq!(out[34..], [0x14, 0xe9, 0x00, 0x35, 0x00, 0x0b, 0xe4, 0x3d, b'x', b'y', b'z']);
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words sum to 0xddf2.
        assert_eq!(internet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
        assert_eq!(internet_checksum(&[]), 0xffff);
        assert_eq!(internet_checksum(&[0xab]), !0xab00);
    }

    #[test]
    fn checksums_verify_for_every_shape() {
        let l4s = [
            L4::Tcp { sport: 1, dport: 2, seq: 0xffff_ffff, ack: 9, flags: 0x18, window: 0 },
            L4::Udp { sport: 65535, dport: 0 },
            L4::echo_request(false, 0xffff, 0xffff),
        ];
        let addr_pairs = [
            (v4(255, 255, 255, 255), v4(0, 0, 0, 0)),
            (v4(10, 1, 2, 3), v4(203, 0, 113, 9)),
            (v6(0xffff), IpAddr::V6(Ipv6Addr::new(0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff))),
        ];
        for (src, dst) in addr_pairs {
            let is_v6 = src.is_ipv6();
            for l4 in l4s {
                let l4 = match l4 {
                    L4::Icmp { id, seq, .. } => L4::echo_reply(is_v6, id, seq),
                    other => other,
                };
                for payload_len in (0..40).chain([1399, 1400, 1472, 8191]) {
                    for seed in [0, 1, u64::MAX] {
                        let spec = FrameSpec { payload_len, payload_seed: seed, ..FrameSpec::new(src, dst, l4) };
                        let mut out = Vec::new();
                        let len = build_frame(&spec, &mut out).unwrap();
                        assert_eq!(len, out.len());
                        let seg = check_frame(&out, is_v6);
                        assert_eq!(seg.len(), l4.header_len() + payload_len);
                        let mut filler = Vec::new();
                        fill_payload(seed, payload_len, &mut filler);
                        assert_eq!(seg[l4.header_len()..], filler[..]);
                    }
                }
            }
        }
    }

    #[test]
    fn udp_zero_checksum_is_sent_as_ffff() {
        let spec = FrameSpec::new(v4(10, 0, 0, 1), v4(10, 0, 0, 2), L4::Udp { sport: 1, dport: 2 });
        let mut probe = Vec::new();
        build_frame_with_payload(&spec, &[0, 0], &mut probe).unwrap();
        // A payload word equal to that checksum makes the one's-complement sum 0xffff.
        let payload = [probe[40], probe[41]];
        let mut out = Vec::new();
        build_frame_with_payload(&spec, &payload, &mut out).unwrap();
        assert_eq!(out[40..42], [0xff, 0xff]);
        check_frame(&out, false);
    }

    #[test]
    fn vlan_stacks_are_laid_out_outermost_first() {
        let src = v4(10, 0, 0, 1);
        let dst = v4(10, 0, 0, 2);
        let base = FrameSpec::new(src, dst, L4::Udp { sport: 1, dport: 2 });
        let mut out = Vec::new();
        build_frame(&FrameSpec { vlans: VlanStack::single(10), ..base }, &mut out).unwrap();
        assert_eq!(out[12..18], [0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);

        out.clear();
        build_frame(&FrameSpec { vlans: VlanStack::qinq(100, 0x1fff), ..base }, &mut out).unwrap();
        assert_eq!(out[12..22], [0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x0f, 0xff, 0x08, 0x00]);

        out.clear();
        let three = VlanStack::dot1q(&[1, 2, 3]).unwrap();
        assert_eq!(three.ids(), &[1, 2, 3]);
        let len = build_frame(&FrameSpec { vlans: three, ..base }, &mut out).unwrap();
        assert_eq!(len, 14 + 12 + 20 + 8);
        assert_eq!(out[12..26], [0x81, 0, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x08, 0x00]);

        assert!(VlanStack::dot1q(&[1, 2, 3, 4, 5]).is_none());
        assert_eq!(VlanStack::dot1q(&[]), Some(VlanStack::NONE));
        assert_eq!(VlanStack::default(), VlanStack::NONE);
    }

    #[test]
    fn ipv6_fields_and_traffic_class() {
        let spec = FrameSpec {
            tos: 0xb8,
            ttl: 255,
            payload_len: 100,
            vlans: VlanStack::single(20),
            ..FrameSpec::new(v6(1), v6(2), L4::Udp { sport: 443, dport: 50000 })
        };
        let mut out = Vec::new();
        assert_eq!(build_frame(&spec, &mut out), Ok(18 + 40 + 108));
        assert_eq!(out[16..18], [0x86, 0xdd]);
        assert_eq!(out[18..26], [0x6b, 0x80, 0, 0, 0, 108, 17, 255]);
        assert_eq!(out[18 + 40 + 4..18 + 40 + 6], [0, 108]); // UDP length
    }

    #[test]
    fn ip_packet_without_ethernet() {
        let mut out = Vec::new();
        let spec = FrameSpec { pad_to_min: true, ..syn_spec() };
        assert_eq!(build_ip_packet(&spec, &mut out), Ok(40));
        assert_eq!(out[..], SYN_FIXTURE[14..]);
        out.clear();
        assert_eq!(build_ip_packet_with_payload(&spec, b"hi", &mut out), Ok(42));
        assert_eq!(out[2..4], [0, 42]);
    }

    #[test]
    fn errors_append_nothing() {
        let mut out = vec![1, 2, 3];
        let mixed = FrameSpec::new(v4(1, 2, 3, 4), v6(1), L4::Udp { sport: 1, dport: 2 });
        assert_eq!(build_frame(&mixed, &mut out), Err(FrameError::MixedFamilies));
        let big = FrameSpec {
            payload_len: 65535 - 28 + 1,
            ..FrameSpec::new(v4(1, 2, 3, 4), v4(5, 6, 7, 8), L4::Udp { sport: 1, dport: 2 })
        };
        assert_eq!(build_frame(&big, &mut out), Err(FrameError::TooLong { ip_len: 65536 }));
        let huge = FrameSpec { payload_len: usize::MAX, ..big };
        assert!(build_frame(&huge, &mut out).is_err());
        assert_eq!(out, [1, 2, 3]);
        // The largest that fits: IPv4 total 65535; IPv6 payload 65535.
        assert!(build_frame(&FrameSpec { payload_len: 65535 - 28, ..big }, &mut out).is_ok());
        let v6_max =
            FrameSpec { payload_len: 65535 - 8, ..FrameSpec::new(v6(1), v6(2), L4::Udp { sport: 1, dport: 2 }) };
        assert!(build_frame(&v6_max, &mut out).is_ok());
        assert!(build_frame(&FrameSpec { payload_len: 65535 - 7, ..v6_max }, &mut out).is_err());
        assert!(!FrameError::MixedFamilies.to_string().is_empty());
    }

    #[test]
    fn filler_is_deterministic_and_seeded() {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        fill_payload(5, 1000, &mut a);
        fill_payload(5, 1000, &mut b);
        fill_payload(6, 1000, &mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut short = Vec::new();
        fill_payload(5, 13, &mut short);
        assert_eq!(short[..], a[..13]);
        let distinct: std::collections::HashSet<u8> = a.iter().copied().collect();
        assert!(distinct.len() > 200, "filler looks compressible");
    }
}
