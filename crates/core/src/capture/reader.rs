//! The push-based reader: recognises the format from the magic number, then walks records in
//! place in each chunk, carrying only the one record that straddles a chunk boundary.
//!
//! Interface numbering: [`Frame::interface`] is the index of the IDB within its pcapng section
//! (what the packet block says), while [`CaptureReader::link_types`] lists every IDB of the file
//! in order, across sections. For single-section files (nearly all) the two agree.

use super::pcap::{self, PcapFile};
use super::pcapng::{self, Section};
use super::{CaptureError, Format, Frame};
use core::fmt;

/// Running totals; see the field docs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames delivered.
    pub packets: u64,
    /// Absolute input offset parsed so far (end of the last complete header, record or block).
    pub bytes_consumed: u64,
    /// pcapng Section Header Blocks seen (1 for pcap).
    pub sections: u32,
    /// Interface Description Blocks seen in total (1 for pcap).
    pub interfaces: u32,
    /// pcapng blocks skipped (NRB, ISB, DSB, custom, unknown types).
    pub skipped_blocks: u64,
    /// Frames without a timestamp (pcapng Simple Packet Blocks).
    pub packets_without_timestamp: u64,
    /// Frames whose time (units, resolution and offset of a pcapng interface) is before 1970 or
    /// past 2554: delivered without a time.
    pub times_out_of_range: u64,
}

/// Size of the next unit (file header, record or block) at a position.
#[derive(Clone, Copy, Debug)]
pub(super) struct Need {
    /// Total length when `known`, else the header bytes needed to learn it.
    pub len: usize,
    pub known: bool,
    /// Names the unit in a Truncated error.
    pub what: &'static str,
}

impl Need {
    pub(super) fn known(len: usize, what: &'static str) -> Need {
        Need { len, known: true, what }
    }
    pub(super) fn at_least(len: usize, what: &'static str) -> Need {
        Need { len, known: false, what }
    }
}

enum Stage {
    /// Nothing recognised yet; the next unit is the file header / first SHB.
    Magic,
    Pcap(PcapFile),
    PcapNg(Section),
}

/// Streaming pcap / pcapng reader. Feed chunks of any size with [`CaptureReader::feed`], then call
/// [`CaptureReader::finish`]. After an error it stays failed and repeats that error.
pub struct CaptureReader {
    stage: Stage,
    /// The incomplete unit at the end of the previous chunk (at offset `stats.bytes_consumed`).
    carry: Vec<u8>,
    link_types: Vec<u32>,
    stats: CaptureStats,
    error: Option<CaptureError>,
}

impl Default for CaptureReader {
    fn default() -> Self {
        CaptureReader::new()
    }
}

impl fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format())
            .field("stats", &self.stats)
            .field("pending_bytes", &self.carry.len())
            .field("error", &self.error)
            .finish()
    }
}

impl CaptureReader {
    pub fn new() -> CaptureReader {
        CaptureReader {
            stage: Stage::Magic,
            carry: Vec::new(),
            link_types: Vec::new(),
            stats: CaptureStats::default(),
            error: None,
        }
    }

    /// Feeds the next chunk (any size, including 0 or 1 byte). Calls `on_frame` once per packet
    /// record completed by this chunk, in file order.
    pub fn feed<F: FnMut(&Frame<'_>)>(&mut self, chunk: &[u8], mut on_frame: F) -> Result<(), CaptureError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = self.feed_inner(chunk, &mut on_frame);
        if let Err(e) = &result {
            self.error = Some(e.clone());
        }
        result
    }

    /// End of input: an error if a header, record or block is incomplete (every packet before it
    /// has been delivered), or if there was no input at all.
    pub fn finish(&mut self) -> Result<(), CaptureError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.carry.is_empty() && !matches!(self.stage, Stage::Magic) {
            return Ok(());
        }
        let error = match self.need(&self.carry) {
            Ok(need) => CaptureError::Truncated {
                offset: self.stats.bytes_consumed,
                what: need.what,
                needed: need.len as u64,
                available: self.carry.len() as u64,
            },
            Err(e) => e,
        };
        self.error = Some(error.clone());
        Err(error)
    }

    /// The format, once its file header / first section header has been read.
    pub fn format(&self) -> Option<Format> {
        match &self.stage {
            Stage::Magic => None,
            Stage::Pcap(file) => Some(Format::Pcap { big_endian: file.big_endian, nanos: file.nanos }),
            Stage::PcapNg(_) => Some(Format::PcapNg),
        }
    }

    /// LINKTYPE of every interface seen, in file order across all pcapng sections (pcap: the
    /// file's link type at index 0). Frame::interface is per section; see the module doc.
    pub fn link_types(&self) -> &[u32] {
        &self.link_types
    }

    pub fn stats(&self) -> CaptureStats {
        self.stats
    }

    fn feed_inner<F: FnMut(&Frame<'_>)>(&mut self, mut chunk: &[u8], on_frame: &mut F) -> Result<(), CaptureError> {
        if !self.carry.is_empty() {
            chunk = self.complete_carry(chunk, on_frame)?;
            if !self.carry.is_empty() {
                return Ok(());
            }
        }
        let used = self.parse_in_place(chunk, on_frame)?;
        // Bounded: parse_in_place stops only before a unit whose length was checked, or inside
        // a header shorter than 24 bytes.
        self.carry.extend_from_slice(chunk.get(used..).unwrap_or(&[]));
        Ok(())
    }

    /// Tops up the carried unit from `chunk` with just the bytes it still needs, delivers it when
    /// complete, and returns the rest of the chunk (empty if the unit is still incomplete).
    fn complete_carry<'c, F: FnMut(&Frame<'_>)>(
        &mut self,
        mut chunk: &'c [u8],
        on_frame: &mut F,
    ) -> Result<&'c [u8], CaptureError> {
        loop {
            let need = self.need(&self.carry)?;
            let take = need.len.saturating_sub(self.carry.len()).min(chunk.len());
            let (head, rest) = chunk.split_at(take);
            self.carry.extend_from_slice(head);
            chunk = rest;
            if self.carry.len() < need.len {
                return Ok(chunk);
            }
            if need.known {
                let unit = core::mem::take(&mut self.carry);
                let result = self.process_unit(&unit, on_frame);
                self.carry = unit;
                self.carry.clear();
                result?;
                return Ok(chunk);
            }
            // Header complete: loop to learn the unit's length.
        }
    }

    /// Delivers every complete unit at the start of `chunk`; returns the bytes they took.
    fn parse_in_place<F: FnMut(&Frame<'_>)>(&mut self, chunk: &[u8], on_frame: &mut F) -> Result<usize, CaptureError> {
        let mut pos = 0usize;
        loop {
            let rest = chunk.get(pos..).unwrap_or(&[]);
            if let Stage::Pcap(file) = self.stage {
                return Ok(pos + pcap::walk(file, rest, &mut self.stats, on_frame)?);
            }
            let need = self.need(rest)?;
            let Some(unit) = rest.get(..need.len).filter(|_| need.known) else {
                return Ok(pos);
            };
            self.process_unit(unit, on_frame)?;
            pos += need.len;
        }
    }

    /// Size of the unit at the start of `buf` (which begins at `stats.bytes_consumed`).
    fn need(&self, buf: &[u8]) -> Result<Need, CaptureError> {
        let offset = self.stats.bytes_consumed;
        match &self.stage {
            Stage::Magic => {
                let Some(&[a, b, c, d]) = buf.get(..4) else {
                    return Ok(Need::at_least(4, "file header"));
                };
                if pcap::magic([a, b, c, d]).is_some() {
                    Ok(Need::known(pcap::FILE_HEADER_LEN, "pcap file header"))
                } else if u32::from_le_bytes([a, b, c, d]) == pcapng::SHB {
                    pcapng::block_need(buf, false, offset)
                } else {
                    Err(CaptureError::NotACapture { magic: [a, b, c, d] })
                }
            }
            Stage::Pcap(file) => pcap::record_need(buf, file.big_endian, offset),
            Stage::PcapNg(section) => pcapng::block_need(buf, section.big_endian(), offset),
        }
    }

    /// Handles one complete unit, sized by [`Self::need`].
    fn process_unit<F: FnMut(&Frame<'_>)>(&mut self, unit: &[u8], on_frame: &mut F) -> Result<(), CaptureError> {
        let offset = self.stats.bytes_consumed;
        match &mut self.stage {
            Stage::Magic => {
                let is_pcap = matches!(unit.first_chunk::<4>(), Some(m) if pcap::magic(*m).is_some());
                if is_pcap {
                    let file = pcap::parse_file_header(unit)?;
                    self.link_types.push(file.link_type);
                    self.stats.sections = 1;
                    self.stats.interfaces = 1;
                    self.stage = Stage::Pcap(file);
                } else {
                    self.stage = Stage::PcapNg(Section::from_shb(unit, offset)?);
                    self.stats.sections = 1;
                }
                self.stats.bytes_consumed += unit.len() as u64;
            }
            Stage::Pcap(file) => {
                let file = *file;
                pcap::walk(file, unit, &mut self.stats, on_frame)?;
            }
            Stage::PcapNg(section) => {
                section.process(unit, offset, &mut self.link_types, &mut self.stats, on_frame)?;
                self.stats.bytes_consumed += unit.len() as u64;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::MAX_RECORD_LEN;
    use std::path::{Path, PathBuf};

    const PCAP_DIR: &str = "/work/shared/pcaps";
    const ORACLE_DIR: &str = "/work/shared/oracle";

    // ---- fixture builders ----

    fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
    }
    fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
    }

    fn pcap_header(be: bool, nanos: bool, network: u32) -> Vec<u8> {
        let mut v = Vec::new();
        put32(&mut v, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }, be);
        put16(&mut v, 2, be);
        put16(&mut v, 4, be);
        put32(&mut v, 0, be);
        put32(&mut v, 0, be);
        put32(&mut v, 65535, be);
        put32(&mut v, network, be);
        v
    }

    fn pcap_record(v: &mut Vec<u8>, be: bool, sec: u32, frac: u32, data: &[u8], orig_len: u32) {
        put32(v, sec, be);
        put32(v, frac, be);
        put32(v, data.len() as u32, be);
        put32(v, orig_len, be);
        v.extend_from_slice(data);
    }

    fn block(be: bool, block_type: u32, body: &[u8]) -> Vec<u8> {
        let padded = (body.len() + 3) & !3;
        let len = (12 + padded) as u32;
        let mut v = Vec::new();
        put32(&mut v, block_type, be);
        put32(&mut v, len, be);
        v.extend_from_slice(body);
        v.resize(8 + padded, 0);
        put32(&mut v, len, be);
        v
    }

    fn shb(be: bool) -> Vec<u8> {
        let mut body = Vec::new();
        put32(&mut body, 0x1A2B_3C4D, be);
        put16(&mut body, 1, be);
        put16(&mut body, 0, be);
        body.extend_from_slice(&[0xFF; 8]);
        block(be, 0x0A0D_0D0A, &body)
    }

    fn idb(be: bool, link: u16, snaplen: u32, options: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        put16(&mut body, link, be);
        put16(&mut body, 0, be);
        put32(&mut body, snaplen, be);
        for (code, value) in options {
            put16(&mut body, *code, be);
            put16(&mut body, value.len() as u16, be);
            body.extend_from_slice(value);
            body.resize((body.len() + 3) & !3, 0);
        }
        if !options.is_empty() {
            body.extend_from_slice(&[0; 4]);
        }
        block(be, 1, &body)
    }

    fn epb(be: bool, interface: u32, units: u64, data: &[u8], orig_len: u32) -> Vec<u8> {
        let mut body = Vec::new();
        put32(&mut body, interface, be);
        put32(&mut body, (units >> 32) as u32, be);
        put32(&mut body, units as u32, be);
        put32(&mut body, data.len() as u32, be);
        put32(&mut body, orig_len, be);
        body.extend_from_slice(data);
        block(be, 6, &body)
    }

    fn obsolete_pb(be: bool, interface: u16, units: u64, data: &[u8], orig_len: u32) -> Vec<u8> {
        let mut body = Vec::new();
        put16(&mut body, interface, be);
        put16(&mut body, 0, be);
        put32(&mut body, (units >> 32) as u32, be);
        put32(&mut body, units as u32, be);
        put32(&mut body, data.len() as u32, be);
        put32(&mut body, orig_len, be);
        body.extend_from_slice(data);
        block(be, 2, &body)
    }

    fn spb(be: bool, orig_len: u32, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        put32(&mut body, orig_len, be);
        body.extend_from_slice(data);
        block(be, 3, &body)
    }

    fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    // ---- running the reader ----

    #[derive(Clone, Debug, PartialEq, Eq)]
    struct OwnedFrame {
        ts_ns: u64,
        has_ts: bool,
        link_type: u32,
        interface: u32,
        wire_len: u32,
        data: Vec<u8>,
    }

    #[derive(Debug, PartialEq, Eq)]
    struct Run {
        frames: Vec<OwnedFrame>,
        result: Result<(), CaptureError>,
        stats: CaptureStats,
        link_types: Vec<u32>,
        format: Option<Format>,
    }

    /// Feeds `input` in chunks of `chunk` bytes (0: all at once), stopping at the first error.
    fn run(input: &[u8], chunk: usize) -> Run {
        let mut reader = CaptureReader::new();
        let mut frames = Vec::new();
        let result = feed_all(&mut reader, input, chunk, |f| {
            frames.push(OwnedFrame {
                ts_ns: f.ts_ns,
                has_ts: f.has_ts,
                link_type: f.link_type,
                interface: f.interface,
                wire_len: f.wire_len,
                data: f.data.to_vec(),
            })
        });
        Run { frames, result, stats: reader.stats(), link_types: reader.link_types().to_vec(), format: reader.format() }
    }

    fn feed_all<F: FnMut(&Frame<'_>)>(
        reader: &mut CaptureReader,
        input: &[u8],
        chunk: usize,
        mut on_frame: F,
    ) -> Result<(), CaptureError> {
        let size = if chunk == 0 { input.len().max(1) } else { chunk };
        for part in input.chunks(size) {
            reader.feed(part, &mut on_frame)?;
        }
        reader.finish()
    }

    /// What the oracle compares, plus a digest of every frame, for large inputs.
    #[derive(Debug, PartialEq, Eq)]
    struct Summary {
        packets: u64,
        wire_bytes: u64,
        captured_bytes: u64,
        first_ts: Option<u64>,
        last_ts: Option<u64>,
        without_ts: u64,
        digest: u64,
        result: Result<(), CaptureError>,
        stats: CaptureStats,
    }

    fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        h
    }

    fn summarize(input: &[u8], chunk: usize) -> Summary {
        let mut reader = CaptureReader::new();
        let mut s = Summary {
            packets: 0,
            wire_bytes: 0,
            captured_bytes: 0,
            first_ts: None,
            last_ts: None,
            without_ts: 0,
            digest: 0xcbf2_9ce4_8422_2325,
            result: Ok(()),
            stats: CaptureStats::default(),
        };
        let result = feed_all(&mut reader, input, chunk, |f| {
            s.packets += 1;
            s.wire_bytes += u64::from(f.wire_len);
            s.captured_bytes += f.data.len() as u64;
            if f.has_ts {
                s.first_ts.get_or_insert(f.ts_ns);
                s.last_ts = Some(f.ts_ns);
            } else {
                s.without_ts += 1;
            }
            let mut h = fnv(s.digest, &f.ts_ns.to_le_bytes());
            h = fnv(h, &[u8::from(f.has_ts)]);
            h = fnv(h, &f.link_type.to_le_bytes());
            h = fnv(h, &f.interface.to_le_bytes());
            h = fnv(h, &f.wire_len.to_le_bytes());
            h = fnv(h, &(f.data.len() as u64).to_le_bytes());
            s.digest = fnv(h, f.data);
        });
        s.result = result;
        s.stats = reader.stats();
        s
    }

    fn ts_string(ns: u64) -> String {
        format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
    }

    fn assert_chunking_invariant(name: &str, input: &[u8]) {
        let whole = run(input, 0);
        for chunk in [1, 2, 3, 5, 7, 13, 64, 4096, 65536] {
            assert_eq!(run(input, chunk), whole, "{name}: chunks of {chunk} differ from one feed");
        }
    }

    // ---- pcap fixtures ----

    fn pcap_fixture(be: bool, nanos: bool) -> Vec<u8> {
        let mut v = pcap_header(be, nanos, 1);
        pcap_record(&mut v, be, 1_600_000_000, 123_456, &[0xAA; 60], 60);
        pcap_record(&mut v, be, 1_600_000_001, 999_999, &[0xBB; 14], 1514); // snapped
        pcap_record(&mut v, be, 1_600_000_002, 0, &[], 0); // zero-length record
        pcap_record(&mut v, be, 1_600_000_003, 1, &[1, 2, 3, 4], 2); // origlen < caplen
        v
    }

    #[test]
    fn pcap_both_orders_usec_and_nsec() {
        for be in [false, true] {
            for nanos in [false, true] {
                let r = run(&pcap_fixture(be, nanos), 0);
                assert_eq!(r.result, Ok(()));
                assert_eq!(r.format, Some(Format::Pcap { big_endian: be, nanos }));
                assert_eq!(r.link_types, vec![1]);
                let scale = if nanos { 1 } else { 1000 };
                let ts: Vec<u64> = r.frames.iter().map(|f| f.ts_ns).collect();
                assert_eq!(
                    ts,
                    vec![
                        1_600_000_000_000_000_000 + 123_456 * scale,
                        1_600_000_001_000_000_000 + 999_999 * scale,
                        1_600_000_002_000_000_000,
                        1_600_000_003_000_000_000 + scale,
                    ]
                );
                let wire: Vec<u32> = r.frames.iter().map(|f| f.wire_len).collect();
                assert_eq!(wire, vec![60, 1514, 0, 4]);
                assert_eq!(r.frames[1].data, vec![0xBB; 14]);
                assert!(r.frames[2].data.is_empty());
                assert!(r.frames.iter().all(|f| f.has_ts && f.interface == 0 && f.link_type == 1));
                assert_eq!(
                    r.stats,
                    CaptureStats {
                        packets: 4,
                        bytes_consumed: 24 + 4 * 16 + 60 + 14 + 4,
                        sections: 1,
                        interfaces: 1,
                        skipped_blocks: 0,
                        packets_without_timestamp: 0,
                        times_out_of_range: 0,
                    }
                );
                assert_chunking_invariant("pcap fixture", &pcap_fixture(be, nanos));
            }
        }
    }

    #[test]
    fn pcap_link_type_drops_fcs_bits() {
        // FCS present (bit 26) with 4-byte FCS length in the top bits.
        let mut v = pcap_header(false, false, 0x4400_0000 | 105);
        pcap_record(&mut v, false, 1, 0, &[0; 8], 8);
        let r = run(&v, 0);
        assert_eq!(r.link_types, vec![105]);
        assert_eq!(r.frames[0].link_type, 105);
    }

    #[test]
    fn pcap_unsupported_version() {
        let mut v = pcap_header(false, false, 1);
        v[4] = 1;
        let r = run(&v, 0);
        let err = r.result.unwrap_err();
        assert_eq!(err, CaptureError::UnsupportedVersion { offset: 0, major: 1, minor: 4 });
        assert_eq!(err.to_string(), "unsupported format version 1.4 at offset 0");
    }

    #[test]
    fn large_record_straddling_many_chunks() {
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut v = pcap_header(false, false, 1);
        pcap_record(&mut v, false, 5, 6, &data, 200_000);
        pcap_record(&mut v, false, 7, 8, &[9; 3], 3);
        let mut reader = CaptureReader::new();
        let mut seen = Vec::new();
        for part in v.chunks(4096) {
            reader.feed(part, |f| seen.push((f.ts_ns, f.data.len(), f.data.first().copied()))).unwrap();
            // Never more than one record in the carry buffer.
            assert!(reader.carry.len() <= 16 + 200_000);
        }
        reader.finish().unwrap();
        assert_eq!(seen, vec![(5_000_006_000, 200_000, Some(0)), (7_000_008_000, 3, Some(9))]);
        assert_eq!(reader.stats().bytes_consumed, v.len() as u64);
        assert_eq!(run(&v, 0).frames[0].data, data);
    }

    #[test]
    fn bytes_consumed_stops_at_last_complete_record() {
        let v = pcap_fixture(false, false);
        let mut reader = CaptureReader::new();
        let mut n = 0;
        reader.feed(&v[..24 + 16 + 30], |_| n += 1).unwrap();
        assert_eq!((n, reader.stats().bytes_consumed), (0, 24));
        reader.feed(&v[24 + 16 + 30..24 + 16 + 60 + 5], |_| n += 1).unwrap();
        assert_eq!((n, reader.stats().bytes_consumed), (1, 24 + 16 + 60));
        assert_eq!(
            reader.finish(),
            Err(CaptureError::Truncated { offset: 100, what: "pcap record header", needed: 16, available: 5 })
        );
    }

    // ---- pcapng fixtures ----

    /// Section 1 (LE): IDB0 ether usec, IDB1 SLL nsec + tsoffset, IDB2 raw 2^-10 s, packets on
    /// each, an SPB, skipped NRB/ISB/custom/unknown blocks, an obsolete PB. Section 2 (BE): its own
    /// IDB0 (link 0) and an EPB on it.
    fn pcapng_fixture() -> Vec<u8> {
        let le = false;
        let be = true;
        concat(&[
            shb(le),
            idb(le, 1, 96, &[]),
            idb(le, 113, 0, &[(9, &[9]), (14, &(-100i64).to_le_bytes())]),
            idb(le, 101, 0, &[(2, b"eth9"), (9, &[0x80 | 10])]),
            block(le, 4, &[0, 0, 0, 0]), // NRB
            epb(le, 0, 1_340_954_905_298_858, &[0x11; 42], 342),
            epb(le, 1, 1_700_000_000_123_456_789, &[0x22; 20], 20),
            spb(le, 300, &[0x33; 96]), // snapped to IDB0's 96
            spb(le, 10, &[0x44; 12]),  // origlen 10 < body 12
            epb(le, 2, 1536, &[0x55; 4], 4),
            block(le, 5, &[0; 16]),          // ISB
            block(le, 0x0000_0BAD, &[0; 8]), // custom
            block(le, 0x0000_000A, &[0; 4]), // DSB
            block(le, 0x0123_4567, &[]),     // unknown
            obsolete_pb(le, 0, 2_000_000, &[0x66; 5], 64),
            shb(be),
            idb(be, 0, 0, &[]),
            epb(be, 0, 3_000_000, &[0x77; 8], 8),
        ])
    }

    #[test]
    fn pcapng_interfaces_resolutions_sections() {
        let r = run(&pcapng_fixture(), 0);
        assert_eq!(r.result, Ok(()));
        assert_eq!(r.format, Some(Format::PcapNg));
        assert_eq!(r.link_types, vec![1, 113, 101, 0]);
        let got: Vec<(u64, bool, u32, u32, u32, usize)> =
            r.frames.iter().map(|f| (f.ts_ns, f.has_ts, f.link_type, f.interface, f.wire_len, f.data.len())).collect();
        assert_eq!(
            got,
            vec![
                (1_340_954_905_298_858_000, true, 1, 0, 342, 42),
                (1_700_000_000_123_456_789 - 100_000_000_000, true, 113, 1, 20, 20),
                (0, false, 1, 0, 300, 96),
                (0, false, 1, 0, 10, 10),
                (1_500_000_000, true, 101, 2, 4, 4),
                (2_000_000_000, true, 1, 0, 64, 5),
                (3_000_000_000, true, 0, 0, 8, 8),
            ]
        );
        assert_eq!(r.frames[2].data, vec![0x33; 96]);
        assert_eq!(r.frames[3].data, vec![0x44; 10]);
        assert_eq!(
            r.stats,
            CaptureStats {
                packets: 7,
                bytes_consumed: pcapng_fixture().len() as u64,
                sections: 2,
                interfaces: 4,
                skipped_blocks: 5,
                packets_without_timestamp: 2,
                times_out_of_range: 0,
            }
        );
    }

    #[test]
    fn pcapng_big_endian_section_first() {
        let v = concat(&[shb(true), idb(true, 1, 0, &[(9, &[3])]), epb(true, 0, 1234, &[1, 2, 3], 3)]);
        let r = run(&v, 0);
        assert_eq!(r.result, Ok(()));
        assert_eq!(r.frames.len(), 1);
        assert_eq!(r.frames[0].ts_ns, 1_234_000_000);
        assert_eq!(r.frames[0].data, vec![1, 2, 3]);
        assert_chunking_invariant("pcapng BE", &v);
    }

    #[test]
    fn pcapng_new_section_resets_interfaces() {
        let v = concat(&[shb(false), idb(false, 1, 0, &[]), idb(false, 1, 0, &[]), shb(false), idb(false, 1, 0, &[])]);
        let at = v.len() as u64;
        let v = concat(&[v, epb(false, 1, 0, &[], 0)]);
        let r = run(&v, 0);
        let err = r.result.unwrap_err();
        assert_eq!(err, CaptureError::UnknownInterface { offset: at, interface: 1, known: 1 });
        assert_eq!(
            err.to_string(),
            format!("packet block at offset {at} names interface 1, but only 1 interface(s) are described")
        );
    }

    #[test]
    fn fixtures_chunking_invariant() {
        assert_chunking_invariant("pcapng fixture", &pcapng_fixture());
        let mut damaged = pcapng_fixture();
        damaged.truncate(damaged.len() - 5);
        assert_chunking_invariant("cut pcapng fixture", &damaged);
        let mut cut = pcap_fixture(true, true);
        cut.truncate(cut.len() - 2);
        assert_chunking_invariant("cut pcap fixture", &cut);
    }

    // ---- bad input ----

    fn error_of(input: &[u8]) -> CaptureError {
        let whole = run(input, 0);
        assert_eq!(run(input, 1), whole, "1-byte chunks disagree");
        whole.result.expect_err("expected an error")
    }

    #[test]
    fn empty_and_tiny_inputs() {
        let e = error_of(&[]);
        assert_eq!(e, CaptureError::Truncated { offset: 0, what: "file header", needed: 4, available: 0 });
        assert_eq!(e.to_string(), "file cut short at offset 0: file header needs 4 bytes, only 0 remain");
        let mut reader = CaptureReader::new();
        reader.feed(&[], |_| {}).unwrap();
        assert!(reader.finish().is_err());
        assert_eq!(
            error_of(&[0xd4, 0xc3, 0xb2]),
            CaptureError::Truncated { offset: 0, what: "file header", needed: 4, available: 3 }
        );
    }

    #[test]
    fn garbage_magic() {
        let e = error_of(b"GET / HTTP/1.1\r\n");
        assert_eq!(e, CaptureError::NotACapture { magic: *b"GET " });
        assert_eq!(e.to_string(), "not a pcap or pcapng file: magic number 47455420 at offset 0");
    }

    #[test]
    fn truncated_headers_and_records() {
        let v = pcap_fixture(false, false);
        assert_eq!(
            error_of(&v[..10]),
            CaptureError::Truncated { offset: 0, what: "pcap file header", needed: 24, available: 10 }
        );
        let e = error_of(&v[..24 + 16 + 59]);
        assert_eq!(e, CaptureError::Truncated { offset: 24, what: "pcap record", needed: 76, available: 75 });
        assert_eq!(e.to_string(), "file cut short at offset 24: pcap record needs 76 bytes, only 75 remain");
        let ng = pcapng_fixture();
        assert_eq!(
            error_of(&ng[..6]),
            CaptureError::Truncated { offset: 0, what: "pcapng section header", needed: 12, available: 6 }
        );
        assert_eq!(
            error_of(&ng[..20]),
            CaptureError::Truncated { offset: 0, what: "pcapng section header", needed: 28, available: 20 }
        );
        assert_eq!(
            error_of(&ng[..28 + 5]),
            CaptureError::Truncated { offset: 28, what: "pcapng block header", needed: 8, available: 5 }
        );
        assert_eq!(
            error_of(&ng[..28 + 19]),
            CaptureError::Truncated { offset: 28, what: "pcapng block", needed: 20, available: 19 }
        );
    }

    #[test]
    fn huge_record_refused_without_allocating() {
        let mut v = pcap_header(false, false, 1);
        pcap_record(&mut v, false, 1, 1, &[7; 4], 4);
        let at = v.len() as u64;
        put32(&mut v, 1, false);
        put32(&mut v, 1, false);
        put32(&mut v, 0xFFFF_FFF0, false);
        put32(&mut v, 0xFFFF_FFF0, false);
        v.extend_from_slice(&[0; 100]);
        for chunk in [0, 1, 7] {
            let mut reader = CaptureReader::new();
            let mut n = 0;
            let e = feed_all(&mut reader, &v, chunk, |_| n += 1).unwrap_err();
            assert_eq!(n, 1);
            assert_eq!(e, CaptureError::RecordTooLarge { offset: at, what: "pcap record", len: 0xFFFF_FFF0 });
            assert!(reader.carry.capacity() < 4096, "carry grew to {}", reader.carry.capacity());
        }
        assert_eq!(
            error_of(&v).to_string(),
            format!("pcap record at offset {at} claims 4294967280 bytes, over the 16777216-byte limit")
        );
    }

    #[test]
    fn bad_block_lengths() {
        let head = concat(&[shb(false), idb(false, 1, 0, &[])]);
        let at = head.len() as u64;
        let with_len = |len: u32| {
            let mut v = head.clone();
            put32(&mut v, 6, false);
            put32(&mut v, len, false);
            v.extend_from_slice(&[0; 64]);
            v
        };
        let e = error_of(&with_len(13));
        assert_eq!(
            e,
            CaptureError::BadBlockLength { offset: at, block_type: 6, len: 13, reason: "not a multiple of 4" }
        );
        assert_eq!(e.to_string(), format!("pcapng block 0x00000006 at offset {at} has length 13: not a multiple of 4"));
        assert_eq!(
            error_of(&with_len(8)),
            CaptureError::BadBlockLength {
                offset: at,
                block_type: 6,
                len: 8,
                reason: "shorter than the 12-byte minimum"
            }
        );
        assert_eq!(
            error_of(&with_len(0xFFFF_FFF0)),
            CaptureError::RecordTooLarge { offset: at, what: "pcapng block", len: 0xFFFF_FFF0 }
        );
        let mut mismatch = concat(&[head.clone(), epb(false, 0, 1, &[1; 8], 8)]);
        let n = mismatch.len();
        mismatch[n - 4] = 0x99;
        assert_eq!(
            error_of(&mismatch),
            CaptureError::BadBlockLength {
                offset: at,
                block_type: 6,
                len: 40,
                reason: "trailing length differs from the leading length"
            }
        );
        // EPB claiming more captured bytes than its body holds.
        let mut long_caplen = concat(&[head.clone(), epb(false, 0, 1, &[1; 8], 8)]);
        long_caplen[at as usize + 20] = 9;
        let e = error_of(&long_caplen);
        assert_eq!(
            e,
            CaptureError::BadField {
                offset: at,
                field: "captured length",
                value: 9,
                reason: "longer than the block body"
            }
        );
        assert_eq!(e.to_string(), format!("record at offset {at}: captured length = 9: longer than the block body"));
    }

    #[test]
    fn bad_section_headers() {
        let mut magic = shb(false);
        magic[8..12].copy_from_slice(&[1, 2, 3, 4]);
        let e = error_of(&magic);
        assert_eq!(e, CaptureError::BadByteOrderMagic { offset: 0, magic: 0x0102_0304 });
        assert_eq!(
            e.to_string(),
            "pcapng section header at offset 0 has byte-order magic 0x01020304, expected 0x1a2b3c4d"
        );
        let mut version = shb(true);
        version[12..14].copy_from_slice(&[0, 2]);
        assert_eq!(error_of(&version), CaptureError::UnsupportedVersion { offset: 0, major: 2, minor: 0 });
        let tiny = block(false, 0x0A0D_0D0A, &0x1A2B_3C4Du32.to_le_bytes());
        assert!(matches!(error_of(&tiny), CaptureError::BadBlockLength { len: 16, .. }));
    }

    #[test]
    fn packet_before_any_interface() {
        let v = concat(&[shb(false), epb(false, 0, 1, &[1], 1)]);
        assert_eq!(error_of(&v), CaptureError::UnknownInterface { offset: 28, interface: 0, known: 0 });
        let v = concat(&[shb(false), spb(false, 1, &[1])]);
        assert_eq!(error_of(&v), CaptureError::UnknownInterface { offset: 28, interface: 0, known: 0 });
    }

    #[test]
    fn garbage_after_valid_header() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for (i, head) in
            [pcap_header(false, false, 1), pcap_header(true, true, 1), shb(false), shb(true)].into_iter().enumerate()
        {
            let mut v = head;
            v.extend((0..1000).map(|_| rng.next() as u8));
            let r = run(&v, 0);
            assert!(r.result.is_err(), "header {i}: garbage accepted: {:?}", r.stats);
            assert_eq!(run(&v, 7), r);
        }
    }

    #[test]
    fn poisoned_after_error() {
        let mut v = pcap_fixture(false, false);
        v.truncate(24 + 16 + 60 + 16 + 3);
        v[24 + 16 + 60 + 8..24 + 16 + 60 + 12].copy_from_slice(&0x0100_0001u32.to_le_bytes());
        let mut reader = CaptureReader::new();
        let mut n = 0;
        let e = reader.feed(&v, |_| n += 1).unwrap_err();
        assert_eq!(n, 1);
        assert!(matches!(e, CaptureError::RecordTooLarge { offset: 100, .. }));
        assert_eq!(reader.feed(&pcap_fixture(false, false), |_| n += 1), Err(e.clone()));
        assert_eq!(reader.finish(), Err(e.clone()));
        assert_eq!(n, 1);
        // Truncation found by finish poisons too.
        let mut reader = CaptureReader::new();
        reader.feed(&[0xd4], |_| {}).unwrap();
        let e = reader.finish().unwrap_err();
        assert_eq!(reader.feed(&pcap_fixture(false, false), |_| n += 1), Err(e));
        assert_eq!(n, 1);
    }

    // ---- random input ----

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let prefixes = [
            Vec::new(),
            pcap_header(false, false, 1),
            pcap_header(true, true, 1),
            concat(&[shb(false), idb(false, 1, 64, &[(9, &[9])])]),
            concat(&[shb(true), idb(true, 1, 0, &[(9, &[0x85])])]),
        ];
        let seeds = [pcap_fixture(false, true), pcapng_fixture()];
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        for i in 0..10_000u64 {
            let mut input = match i % 3 {
                // Valid prefix + random tail.
                0 => {
                    let mut v = prefixes[rng.below(prefixes.len() as u64) as usize].clone();
                    let n = rng.below(600);
                    v.extend((0..n).map(|_| rng.next() as u8));
                    v
                }
                // A valid file with a few bytes flipped, maybe cut.
                1 => {
                    let mut v = seeds[rng.below(2) as usize].clone();
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(v.len() as u64) as usize;
                        v[at] = rng.next() as u8;
                    }
                    v
                }
                _ => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
            };
            if rng.below(4) == 0 {
                let cut = rng.below(input.len() as u64 + 1) as usize;
                input.truncate(cut);
            }
            let whole = run(&input, 0);
            let chunk = 1 + rng.below(40) as usize;
            assert_eq!(run(&input, chunk), whole, "iteration {i}: chunks of {chunk} disagree");
            assert!(whole.stats.bytes_consumed <= input.len() as u64);
            assert!(whole.frames.iter().all(|f| f.data.len() <= MAX_RECORD_LEN as usize));
        }
    }

    // ---- real captures ----

    fn capture_files() -> Vec<PathBuf> {
        let Ok(dir) = std::fs::read_dir(PCAP_DIR) else {
            println!("note: {PCAP_DIR} absent, skipping real-capture tests");
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x != "md"))
            .collect();
        files.sort();
        files
    }

    fn file_name(p: &Path) -> String {
        p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Value of a top-level key (one-space indent) in the oracle JSON.
    fn json_raw<'a>(json: &'a str, key: &str) -> Option<&'a str> {
        let pat = format!("\n \"{key}\": ");
        let start = json.find(&pat)? + pat.len();
        let rest = &json[start..];
        let end = rest.find([',', '\n']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }

    fn json_u64(json: &str, key: &str) -> u64 {
        json_raw(json, key).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("oracle lacks {key}"))
    }

    fn json_str(json: &str, key: &str) -> Option<String> {
        json_raw(json, key).filter(|v| v.starts_with('"')).map(|v| v.trim_matches('"').to_string())
    }

    #[test]
    fn real_captures_chunking_invariant() {
        for path in capture_files() {
            let name = file_name(&path);
            let input = std::fs::read(&path).unwrap();
            let whole = summarize(&input, 0);
            let mut chunks = vec![7, 4096, 65536];
            if input.len() < 100_000 {
                chunks.push(1);
            }
            for chunk in chunks {
                assert_eq!(summarize(&input, chunk), whole, "{name}: chunks of {chunk} differ");
            }
        }
    }

    #[test]
    fn real_captures_match_oracle() {
        let mut checked = 0;
        for path in capture_files() {
            let name = file_name(&path);
            let Ok(json) = std::fs::read_to_string(Path::new(ORACLE_DIR).join(format!("{name}.json"))) else {
                println!("note: no oracle for {name}");
                continue;
            };
            let input = std::fs::read(&path).unwrap();
            let s = summarize(&input, 65536);
            assert_eq!(s.packets, json_u64(&json, "packets"), "{name}: packets");
            assert_eq!(s.wire_bytes, json_u64(&json, "bytes"), "{name}: bytes");
            assert_eq!(s.captured_bytes, json_u64(&json, "captured_bytes"), "{name}: captured_bytes");
            assert_eq!(s.without_ts, json_u64(&json, "packets_without_timestamp"), "{name}: without ts");
            assert_eq!(s.first_ts.map(ts_string), json_str(&json, "first_ts"), "{name}: first_ts");
            assert_eq!(s.last_ts.map(ts_string), json_str(&json, "last_ts"), "{name}: last_ts");
            let damaged = name == "debian-pcapfix-test_damaged.pcap";
            match &s.result {
                Ok(()) => assert!(!damaged, "{name}: damage not detected"),
                Err(e) => {
                    assert!(damaged, "{name}: unexpected error: {e}");
                    println!("{name}: {} packet(s), then: {e}", s.packets);
                }
            }
            checked += 1;
        }
        println!("{checked} captures agree with the tshark oracle");
    }

    #[test]
    fn damaged_file_reports_offset() {
        let path = Path::new(PCAP_DIR).join("debian-pcapfix-test_damaged.pcap");
        let Ok(input) = std::fs::read(&path) else {
            println!("note: {} absent, skipping", path.display());
            return;
        };
        let r = run(&input, 4096);
        assert_eq!(r.frames.len(), 1);
        let e = r.result.unwrap_err();
        // Header 24 + record 16 + 74: the second record header claims 16896 bytes.
        assert_eq!(
            e,
            CaptureError::Truncated {
                offset: 114,
                what: "pcap record",
                needed: 16 + 16896,
                available: input.len() as u64 - 114
            }
        );
        assert!(e.to_string().contains("offset 114"), "{e}");
    }

    #[test]
    fn gopacket_test202_structure() {
        let path = Path::new(PCAP_DIR).join("gopacket-le-test202.pcapng");
        let Ok(input) = std::fs::read(&path) else {
            println!("note: {} absent, skipping", path.display());
            return;
        };
        let r = run(&input, 0);
        assert_eq!(r.result, Ok(()));
        assert_eq!((r.stats.sections, r.stats.interfaces, r.stats.packets), (3, 5, 8));
        assert_eq!(r.link_types.len(), 5);
        println!("test202: {:?}, link types {:?}", r.stats, r.link_types);
    }

    /// `cargo test --release -p netspectra-core capture::reader::tests::throughput -- --ignored --nocapture`
    /// Each capture is walked 100 times from memory; the callback only sums lengths.
    #[test]
    #[ignore]
    fn throughput() {
        for name in ["debian-pathspider-real.pcap", "ndpi-alexa-app.pcapng"] {
            let path = Path::new(PCAP_DIR).join(name);
            let Ok(input) = std::fs::read(&path) else {
                println!("note: {} absent, skipping", path.display());
                continue;
            };
            for chunk in [0usize, 65536] {
                let start = std::time::Instant::now();
                let mut records = 0u64;
                let mut lengths = 0u64;
                for _ in 0..100 {
                    let mut reader = CaptureReader::new();
                    feed_all(&mut reader, std::hint::black_box(&input), chunk, |f| {
                        records += 1;
                        lengths += u64::from(f.wire_len) + f.data.len() as u64;
                    })
                    .unwrap();
                }
                let secs = start.elapsed().as_secs_f64();
                std::hint::black_box(lengths);
                let how = if chunk == 0 { "one chunk".to_string() } else { format!("{chunk}-byte chunks") };
                println!(
                    "throughput {name} ({how}): {records} records in {secs:.3} s = {:.1} M records/s, {:.2} GB/s",
                    records as f64 / secs / 1e6,
                    (input.len() as f64 * 100.0) / secs / 1e9
                );
            }
        }
    }
}
