//! Capture-file framing: pcap and pcapng, pushed in chunks of any size.
//!
//! The caller owns the I/O: it feeds the file (or a stream) in chunks of any size, and the reader
//! calls back once per packet with a borrowed [`Frame`]. Records are parsed in place from the
//! chunk; only a record that straddles two chunks is copied (into a carry buffer bounded by the
//! largest record, [`MAX_RECORD_LEN`]). The format is recognised from the magic number, never
//! from the file name.

mod pcap;
mod pcapng;
mod reader;

pub use reader::{CaptureReader, CaptureStats};

use core::fmt;

/// A record (pcap) or block (pcapng) larger than this is refused as damage, before allocating.
pub const MAX_RECORD_LEN: u32 = 16 * 1024 * 1024;

/// One packet from a capture file, borrowed from the input.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Nanoseconds since the Unix epoch; 0 when the record carries no time (pcapng SPB).
    pub ts_ns: u64,
    /// False for records without a timestamp (pcapng Simple Packet Blocks).
    pub has_ts: bool,
    /// LINKTYPE_* of the interface that captured it.
    pub link_type: u32,
    /// Interface index (pcapng IDB order within the section; 0 for pcap).
    pub interface: u32,
    /// Original length on the wire.
    pub wire_len: u32,
    /// The captured bytes (caplen of them).
    pub data: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap { big_endian: bool, nanos: bool },
    PcapNg,
}

/// A reason the file cannot be read further. `offset` is the absolute byte offset in the input of
/// the record or block at fault. Packets before the damage have already been delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureError {
    /// The first four bytes are not a pcap or pcapng magic number.
    NotACapture { magic: [u8; 4] },
    /// Input ended inside a header, record or block.
    Truncated { offset: u64, what: &'static str, needed: u64, available: u64 },
    /// A record or block length over [`MAX_RECORD_LEN`] (or over the bytes that can follow).
    RecordTooLarge { offset: u64, what: &'static str, len: u64 },
    /// A pcap file version other than 2.x or a pcapng section version other than 1.x.
    UnsupportedVersion { offset: u64, major: u16, minor: u16 },
    /// A pcapng block whose length is under 12, not a multiple of 4, or disagrees with its trailer.
    BadBlockLength { offset: u64, block_type: u32, len: u32, reason: &'static str },
    /// A pcapng packet block naming an interface that has no Interface Description Block.
    UnknownInterface { offset: u64, interface: u32, known: u32 },
    /// A pcapng Section Header Block with an unknown byte-order magic.
    BadByteOrderMagic { offset: u64, magic: u32 },
    /// A length field inside a record that is impossible (caplen over the block, ...).
    BadField { offset: u64, field: &'static str, value: u64, reason: &'static str },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CaptureError::*;
        match self {
            NotACapture { magic } => write!(
                f,
                "not a pcap or pcapng file: magic number {:02x}{:02x}{:02x}{:02x} at offset 0",
                magic[0], magic[1], magic[2], magic[3]
            ),
            Truncated { offset, what, needed, available } => write!(
                f,
                "file cut short at offset {offset}: {what} needs {needed} bytes, only {available} remain"
            ),
            RecordTooLarge { offset, what, len } => write!(
                f,
                "{what} at offset {offset} claims {len} bytes, over the {MAX_RECORD_LEN}-byte limit"
            ),
            UnsupportedVersion { offset, major, minor } => {
                write!(f, "unsupported format version {major}.{minor} at offset {offset}")
            }
            BadBlockLength { offset, block_type, len, reason } => write!(
                f,
                "pcapng block 0x{block_type:08x} at offset {offset} has length {len}: {reason}"
            ),
            UnknownInterface { offset, interface, known } => write!(
                f,
                "packet block at offset {offset} names interface {interface}, but only {known} interface(s) are described"
            ),
            BadByteOrderMagic { offset, magic } => write!(
                f,
                "pcapng section header at offset {offset} has byte-order magic 0x{magic:08x}, expected 0x1a2b3c4d"
            ),
            BadField { offset, field, value, reason } => {
                write!(f, "record at offset {offset}: {field} = {value}: {reason}")
            }
        }
    }
}

impl std::error::Error for CaptureError {}
