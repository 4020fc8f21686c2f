//! pcapng framing: blocks of `type, total length, body, total length`, in sections that each start
//! with a Section Header Block fixing the byte order. See draft-ietf-opsawg-pcapng.

use super::reader::Need;
use super::{CaptureError, CaptureStats, Frame, MAX_RECORD_LEN};

/// Section Header Block type; a palindrome, so it reads the same in both byte orders.
pub(super) const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const OBSOLETE_PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

const OPT_END: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// Type + length + trailer.
const BLOCK_OVERHEAD: usize = 12;
/// SHB: overhead + byte-order magic + version + section length.
const SHB_MIN_LEN: usize = 28;
/// IDB: overhead + link type, reserved, snaplen.
const IDB_MIN_LEN: usize = 20;
/// EPB / obsolete PB: overhead + 20-byte fixed part.
const PB_MIN_LEN: usize = 32;
/// SPB: overhead + original length.
const SPB_MIN_LEN: usize = 16;

fn u16_at(b: &[u8], at: usize, be: bool) -> u16 {
    match b.get(at..at.saturating_add(2)) {
        Some(&[x, y]) => {
            if be {
                u16::from_be_bytes([x, y])
            } else {
                u16::from_le_bytes([x, y])
            }
        }
        _ => 0,
    }
}

fn u32_at(b: &[u8], at: usize, be: bool) -> u32 {
    match b.get(at..at.saturating_add(4)) {
        Some(&[x, y, z, w]) => {
            if be {
                u32::from_be_bytes([x, y, z, w])
            } else {
                u32::from_le_bytes([x, y, z, w])
            }
        }
        _ => 0,
    }
}

fn u64_at(b: &[u8], at: usize, be: bool) -> u64 {
    let first = u64::from(u32_at(b, at, be));
    let second = u64::from(u32_at(b, at.saturating_add(4), be));
    if be {
        (first << 32) | second
    } else {
        (second << 32) | first
    }
}

/// Converts interface time units to nanoseconds (if_tsresol).
#[derive(Clone, Copy, Debug)]
enum TsScale {
    /// 10^-n with n <= 9: multiply by 10^(9-n).
    Mul(u64),
    /// 10^-n with n > 9: divide by 10^(n-9).
    Div(u128),
    /// 2^-n: multiply by 10^9, then shift right by n.
    Shift(u32),
    /// Resolution so fine that every 64-bit count is under 1 ns.
    Zero,
}

impl TsScale {
    fn from_tsresol(v: u8) -> TsScale {
        let exp = u32::from(v & 0x7F);
        if v & 0x80 != 0 {
            TsScale::Shift(exp)
        } else if exp <= 9 {
            TsScale::Mul(10u64.pow(9 - exp))
        } else {
            10u128.checked_pow(exp - 9).map_or(TsScale::Zero, TsScale::Div)
        }
    }

    fn to_ns(self, units: u64) -> u128 {
        let units = u128::from(units);
        match self {
            TsScale::Mul(m) => units * u128::from(m),
            TsScale::Div(d) => units / d,
            TsScale::Shift(n) => (units * 1_000_000_000).checked_shr(n).unwrap_or(0),
            TsScale::Zero => 0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: u32,
    snaplen: u32,
    scale: TsScale,
    /// if_tsoffset in ns.
    offset_ns: i128,
}

impl Interface {
    /// None for a time before 1970 or past u64 nanoseconds (2554): the frame has no usable time.
    fn ts_ns(&self, units: u64) -> Option<u64> {
        // to_ns < 2^94 and |offset_ns| < 2^93: the sum cannot overflow i128.
        let ns = self.scale.to_ns(units) as i128 + self.offset_ns;
        u64::try_from(ns).ok()
    }
}

/// State of the current section.
#[derive(Debug)]
pub(super) struct Section {
    big_endian: bool,
    /// IDBs of this section, in order (packet blocks index into it).
    interfaces: Vec<Interface>,
}

/// Byte order of the SHB at the start of `buf` (at least 12 bytes).
fn shb_byte_order(buf: &[u8], offset: u64) -> Result<bool, CaptureError> {
    if u32_at(buf, 8, false) == BYTE_ORDER_MAGIC {
        Ok(false)
    } else if u32_at(buf, 8, true) == BYTE_ORDER_MAGIC {
        Ok(true)
    } else {
        Err(CaptureError::BadByteOrderMagic { offset, magic: u32_at(buf, 8, true) })
    }
}

/// How many bytes the block starting at `buf` takes (or how many are needed to know).
/// `big_endian` is the current section's order (ignored for an SHB, which carries its own).
pub(super) fn block_need(buf: &[u8], big_endian: bool, offset: u64) -> Result<Need, CaptureError> {
    let is_shb = buf.len() >= 4 && u32_at(buf, 0, false) == SHB;
    if is_shb && buf.len() < 12 {
        return Ok(Need::at_least(12, "pcapng section header"));
    }
    if buf.len() < 8 {
        return Ok(Need::at_least(8, "pcapng block header"));
    }
    let be = if is_shb { shb_byte_order(buf, offset)? } else { big_endian };
    let block_type = u32_at(buf, 0, be);
    let len = u32_at(buf, 4, be);
    let bad = |reason| CaptureError::BadBlockLength { offset, block_type, len, reason };
    if (len as usize) < BLOCK_OVERHEAD {
        return Err(bad("shorter than the 12-byte minimum"));
    }
    if len & 3 != 0 {
        return Err(bad("not a multiple of 4"));
    }
    if len > MAX_RECORD_LEN {
        return Err(CaptureError::RecordTooLarge { offset, what: "pcapng block", len: u64::from(len) });
    }
    let what = if is_shb { "pcapng section header" } else { "pcapng block" };
    Ok(Need::known(len as usize, what))
}

/// The trailing length must repeat the leading one.
fn check_trailer(block: &[u8], be: bool, offset: u64) -> Result<(), CaptureError> {
    let len = u32_at(block, 4, be);
    if u32_at(block, block.len().saturating_sub(4), be) != len || block.len() != len as usize {
        return Err(CaptureError::BadBlockLength {
            offset,
            block_type: u32_at(block, 0, be),
            len,
            reason: "trailing length differs from the leading length",
        });
    }
    Ok(())
}

impl Section {
    /// Starts the first section from its complete SHB (`block` as sized by [`block_need`]).
    pub(super) fn from_shb(block: &[u8], offset: u64) -> Result<Section, CaptureError> {
        let mut section = Section { big_endian: false, interfaces: Vec::new() };
        section.start(block, offset)?;
        Ok(section)
    }

    pub(super) fn big_endian(&self) -> bool {
        self.big_endian
    }

    fn start(&mut self, block: &[u8], offset: u64) -> Result<(), CaptureError> {
        let be = shb_byte_order(block, offset)?;
        check_trailer(block, be, offset)?;
        if block.len() < SHB_MIN_LEN {
            return Err(CaptureError::BadBlockLength {
                offset,
                block_type: SHB,
                len: block.len() as u32,
                reason: "too short for a section header block",
            });
        }
        let major = u16_at(block, 12, be);
        let minor = u16_at(block, 14, be);
        if major != 1 {
            return Err(CaptureError::UnsupportedVersion { offset, major, minor });
        }
        self.big_endian = be;
        self.interfaces.clear();
        Ok(())
    }

    /// Handles one complete block of this section (`block` as sized by [`block_need`]).
    pub(super) fn process<F: FnMut(&Frame<'_>)>(
        &mut self,
        block: &[u8],
        offset: u64,
        link_types: &mut Vec<u32>,
        stats: &mut CaptureStats,
        on_frame: &mut F,
    ) -> Result<(), CaptureError> {
        let be = self.big_endian;
        let block_type = u32_at(block, 0, be);
        if block_type == SHB {
            self.start(block, offset)?;
            stats.sections = stats.sections.saturating_add(1);
            return Ok(());
        }
        check_trailer(block, be, offset)?;
        let too_short = |reason| CaptureError::BadBlockLength { offset, block_type, len: block.len() as u32, reason };
        let body = block.get(8..block.len().saturating_sub(4)).unwrap_or(&[]);
        match block_type {
            EPB | OBSOLETE_PB => {
                if block.len() < PB_MIN_LEN {
                    return Err(too_short("too short for a packet block"));
                }
                let interface = if block_type == EPB { u32_at(body, 0, be) } else { u32::from(u16_at(body, 0, be)) };
                let iface = self.interface(interface, offset)?;
                let units = (u64::from(u32_at(body, 4, be)) << 32) | u64::from(u32_at(body, 8, be));
                let caplen = u32_at(body, 12, be);
                let orig_len = u32_at(body, 16, be);
                let Some(data) = body.get(20..).and_then(|d| d.get(..caplen as usize)) else {
                    return Err(CaptureError::BadField {
                        offset,
                        field: "captured length",
                        value: u64::from(caplen),
                        reason: "longer than the block body",
                    });
                };
                let ts = iface.ts_ns(units);
                if ts.is_none() {
                    stats.times_out_of_range += 1;
                }
                on_frame(&Frame {
                    ts_ns: ts.unwrap_or(0),
                    has_ts: ts.is_some(),
                    link_type: iface.link_type,
                    interface,
                    wire_len: orig_len.max(caplen),
                    data,
                });
                stats.packets += 1;
            }
            SPB => {
                if block.len() < SPB_MIN_LEN {
                    return Err(too_short("too short for a simple packet block"));
                }
                let iface = self.interface(0, offset)?;
                let orig_len = u32_at(body, 0, be);
                let available = body.get(4..).unwrap_or(&[]);
                let mut caplen = (orig_len as usize).min(available.len());
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                on_frame(&Frame {
                    ts_ns: 0,
                    has_ts: false,
                    link_type: iface.link_type,
                    interface: 0,
                    wire_len: orig_len,
                    data: available.get(..caplen).unwrap_or(&[]),
                });
                stats.packets += 1;
                stats.packets_without_timestamp += 1;
            }
            IDB => {
                if block.len() < IDB_MIN_LEN {
                    return Err(too_short("too short for an interface description block"));
                }
                let iface = parse_idb(body, be);
                self.interfaces.push(iface);
                link_types.push(iface.link_type);
                stats.interfaces = stats.interfaces.saturating_add(1);
            }
            // NRB, ISB, DSB, custom, local and unknown types carry no packets.
            _ => stats.skipped_blocks += 1,
        }
        Ok(())
    }

    fn interface(&self, interface: u32, offset: u64) -> Result<Interface, CaptureError> {
        match self.interfaces.get(interface as usize) {
            Some(iface) => Ok(*iface),
            None => Err(CaptureError::UnknownInterface {
                offset,
                interface,
                known: u32::try_from(self.interfaces.len()).unwrap_or(u32::MAX),
            }),
        }
    }
}

/// IDB body: link type u16, reserved u16, snaplen u32, options. A malformed option ends the
/// option list (the options read so far still apply); it does not fail the block.
fn parse_idb(body: &[u8], be: bool) -> Interface {
    let mut iface = Interface {
        link_type: u32::from(u16_at(body, 0, be)),
        snaplen: u32_at(body, 4, be),
        scale: TsScale::from_tsresol(6),
        offset_ns: 0,
    };
    let options = body.get(8..).unwrap_or(&[]);
    let mut pos = 0usize;
    while pos + 4 <= options.len() {
        let code = u16_at(options, pos, be);
        let len = usize::from(u16_at(options, pos + 2, be));
        let Some(value) = options.get(pos + 4..pos + 4 + len) else {
            break;
        };
        match code {
            OPT_END => break,
            OPT_IF_TSRESOL => {
                if let Some(&v) = value.first() {
                    iface.scale = TsScale::from_tsresol(v);
                }
            }
            OPT_IF_TSOFFSET if len >= 8 => {
                iface.offset_ns = i128::from(u64_at(value, 0, be) as i64) * 1_000_000_000;
            }
            _ => {}
        }
        pos += 4 + ((len + 3) & !3);
    }
    iface
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_scale_resolutions() {
        assert_eq!(TsScale::from_tsresol(6).to_ns(1_500_000), 1_500_000_000);
        assert_eq!(TsScale::from_tsresol(9).to_ns(123), 123);
        assert_eq!(TsScale::from_tsresol(0).to_ns(2), 2_000_000_000);
        assert_eq!(TsScale::from_tsresol(12).to_ns(5_000), 5);
        // 2^-10 s units: 1024 units = 1 s.
        assert_eq!(TsScale::from_tsresol(0x80 | 10).to_ns(1024), 1_000_000_000);
        assert_eq!(TsScale::from_tsresol(0x80 | 127).to_ns(u64::MAX), 0);
        assert_eq!(TsScale::from_tsresol(127).to_ns(u64::MAX), 0);
        // Times past u64 ns, or before 1970, are not times the core can place.
        let iface = Interface { link_type: 1, snaplen: 0, scale: TsScale::from_tsresol(0), offset_ns: 0 };
        assert_eq!(iface.ts_ns(18_446_744_073), Some(18_446_744_073_000_000_000));
        assert_eq!(iface.ts_ns(18_446_744_074), None);
        let back = Interface { offset_ns: -10_000_000_000, ..iface };
        assert_eq!(back.ts_ns(10), Some(0));
        assert_eq!(back.ts_ns(3), None);
    }

    #[test]
    fn idb_options_stop_at_malformed() {
        // link 1, snaplen 0, if_tsresol=9, then an option claiming 200 bytes.
        let mut body = vec![1, 0, 0, 0, 0, 0, 0, 0];
        body.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]);
        body.extend_from_slice(&[14, 0, 200, 0, 1, 2, 3, 4]);
        let iface = parse_idb(&body, false);
        assert_eq!(iface.link_type, 1);
        assert_eq!(iface.ts_ns(7), Some(7));
        assert_eq!(iface.offset_ns, 0);
    }

    #[test]
    fn u64_reads_both_orders() {
        let b = [0, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(u64_at(&b, 0, true), (1 << 32) | 2);
        let l = [2, 0, 0, 0, 1, 0, 0, 0];
        assert_eq!(u64_at(&l, 0, false), (1 << 32) | 2);
    }
}
