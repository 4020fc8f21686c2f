//! pcap (libpcap) framing: a 24-byte file header, then records of a 16-byte header + caplen bytes.
//! See draft-ietf-opsawg-pcap.

use super::reader::Need;
use super::{CaptureError, CaptureStats, Frame, MAX_RECORD_LEN};

pub(super) const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// What the file header fixes for every record.
#[derive(Clone, Copy, Debug)]
pub(super) struct PcapFile {
    pub big_endian: bool,
    pub nanos: bool,
    pub link_type: u32,
}

/// `(big_endian, nanos)` for a pcap magic number as found in the first four bytes.
pub(super) fn magic(bytes: [u8; 4]) -> Option<(bool, bool)> {
    match bytes {
        [0xd4, 0xc3, 0xb2, 0xa1] => Some((false, false)),
        [0xa1, 0xb2, 0xc3, 0xd4] => Some((true, false)),
        [0x4d, 0x3c, 0xb2, 0xa1] => Some((false, true)),
        [0xa1, 0xb2, 0x3c, 0x4d] => Some((true, true)),
        _ => None,
    }
}

#[inline(always)]
fn u32_from<const BE: bool>(b: [u8; 4]) -> u32 {
    if BE {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// Parses the file header (`header` is exactly the first 24 bytes).
pub(super) fn parse_file_header(header: &[u8]) -> Result<PcapFile, CaptureError> {
    let Ok(h) = <&[u8; FILE_HEADER_LEN]>::try_from(header) else {
        return Err(CaptureError::Truncated {
            offset: 0,
            what: "pcap file header",
            needed: FILE_HEADER_LEN as u64,
            available: header.len() as u64,
        });
    };
    let Some((big_endian, nanos)) = magic([h[0], h[1], h[2], h[3]]) else {
        return Err(CaptureError::NotACapture { magic: [h[0], h[1], h[2], h[3]] });
    };
    let u16_at = |a: u8, b: u8| {
        if big_endian {
            u16::from_be_bytes([a, b])
        } else {
            u16::from_le_bytes([a, b])
        }
    };
    let major = u16_at(h[4], h[5]);
    let minor = u16_at(h[6], h[7]);
    if major != 2 {
        return Err(CaptureError::UnsupportedVersion { offset: 0, major, minor });
    }
    let network = if big_endian {
        u32_from::<true>([h[20], h[21], h[22], h[23]])
    } else {
        u32_from::<false>([h[20], h[21], h[22], h[23]])
    };
    // Upper 16 bits carry FCS length / reserved bits, not the link type.
    Ok(PcapFile { big_endian, nanos, link_type: network & 0xFFFF })
}

/// How many bytes the record starting at `buf` takes (or how many are needed to know).
pub(super) fn record_need(buf: &[u8], big_endian: bool, offset: u64) -> Result<Need, CaptureError> {
    let Some(&[a, b, c, d]) = buf.get(8..12) else {
        return Ok(Need::at_least(RECORD_HEADER_LEN, "pcap record header"));
    };
    let caplen = if big_endian { u32::from_be_bytes([a, b, c, d]) } else { u32::from_le_bytes([a, b, c, d]) };
    check_caplen(caplen, offset)?;
    Ok(Need::known(RECORD_HEADER_LEN + caplen as usize, "pcap record"))
}

#[inline(always)]
fn check_caplen(caplen: u32, offset: u64) -> Result<(), CaptureError> {
    if caplen > MAX_RECORD_LEN {
        return Err(CaptureError::RecordTooLarge { offset, what: "pcap record", len: u64::from(caplen) });
    }
    Ok(())
}

/// Delivers every complete record in `buf` (which starts on a record boundary at absolute offset
/// `stats.bytes_consumed`) and returns how many bytes they took; the incomplete tail is left.
/// `stats` is updated for the records delivered even when an error stops the walk.
pub(super) fn walk<F: FnMut(&Frame<'_>)>(
    file: PcapFile,
    buf: &[u8],
    stats: &mut CaptureStats,
    on_frame: &mut F,
) -> Result<usize, CaptureError> {
    // Byte order as a const parameter: one branch-free loop per order.
    match (file.big_endian, file.nanos) {
        (false, false) => walk_in::<false, false, F>(file.link_type, buf, stats, on_frame),
        (false, true) => walk_in::<false, true, F>(file.link_type, buf, stats, on_frame),
        (true, false) => walk_in::<true, false, F>(file.link_type, buf, stats, on_frame),
        (true, true) => walk_in::<true, true, F>(file.link_type, buf, stats, on_frame),
    }
}

#[inline(always)]
fn walk_in<const BE: bool, const NANOS: bool, F: FnMut(&Frame<'_>)>(
    link_type: u32,
    buf: &[u8],
    stats: &mut CaptureStats,
    on_frame: &mut F,
) -> Result<usize, CaptureError> {
    let base = stats.bytes_consumed;
    let mut pos = 0usize;
    let mut packets = 0u64;
    let result = loop {
        let Some(rest) = buf.get(pos..) else {
            break Ok(());
        };
        let Some((h, after)) = rest.split_first_chunk::<RECORD_HEADER_LEN>() else {
            break Ok(());
        };
        let caplen = u32_from::<BE>([h[8], h[9], h[10], h[11]]);
        if let Err(e) = check_caplen(caplen, base + pos as u64) {
            break Err(e);
        }
        let Some(data) = after.get(..caplen as usize) else {
            break Ok(());
        };
        let sec = u64::from(u32_from::<BE>([h[0], h[1], h[2], h[3]]));
        let frac = u64::from(u32_from::<BE>([h[4], h[5], h[6], h[7]]));
        let orig_len = u32_from::<BE>([h[12], h[13], h[14], h[15]]);
        let frac_ns = if NANOS { frac } else { frac.wrapping_mul(1000) };
        on_frame(&Frame {
            ts_ns: sec.wrapping_mul(1_000_000_000).wrapping_add(frac_ns),
            has_ts: true,
            link_type,
            interface: 0,
            wire_len: orig_len.max(caplen),
            data,
        });
        packets += 1;
        pos += RECORD_HEADER_LEN + data.len();
    };
    stats.packets += packets;
    stats.bytes_consumed = base + pos as u64;
    result.map(|()| pos)
}
