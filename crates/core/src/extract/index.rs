//! An index of a pcap file, kept beside it: the file's time range and, per flow (its 5-tuple,
//! both directions as one), the offsets of its records. An extraction by flow, Community ID or
//! address reads the records the index names instead of the whole file, and skips files whose
//! time range is outside the one asked for. The extractor still checks every record it is
//! given, so an index can only narrow the reading, never change what is written.
//!
//! Only pcap files (what `probe --persist` writes): a record's offset is the file header plus
//! the records before it. Layout, little-endian:
//!
//! ```text
//! "NSIX" u32 version | u64 indexed bytes | u64 frames | u64 first ns | u64 last ns | u32 flows
//! per flow: u8 family | u8 proto | u8 has ports | u8 0 | [16] a | [16] b | u16 a port | u16 b port
//!           | u32 records | records x u32 offset
//! ```

use std::collections::HashMap;

use crate::addr::{Addr, Family};
use crate::capture::{CaptureReader, Format, Frame};
use crate::decode::{decode, Decoded};
use crate::record::flag;

use super::{IdMatches, Selection};

const MAGIC: &[u8; 4] = b"NSIX";
const VERSION: u32 = 1;
const PCAP_HEADER: u64 = 24;
/// Offsets are u32: a file past 4 GiB is not indexed (the rotation keeps files far smaller).
const MAX_FILE: u64 = u32::MAX as u64;

/// A flow as the index keys it: the lower endpoint first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FlowKey {
    a: Addr,
    b: Addr,
    a_port: u16,
    b_port: u16,
    proto: u8,
    ports: bool,
}

impl FlowKey {
    fn of(src: Addr, sp: u16, dst: Addr, dp: u16, proto: u8, ports: bool) -> FlowKey {
        if (src, sp) <= (dst, dp) {
            FlowKey { a: src, b: dst, a_port: sp, b_port: dp, proto, ports }
        } else {
            FlowKey { a: dst, b: src, a_port: dp, b_port: sp, proto, ports }
        }
    }
}

/// Builds the index of one pcap file from its bytes, fed in chunks.
pub struct Indexer {
    reader: CaptureReader,
    state: State,
}

struct State {
    next_offset: u64,
    frames: u64,
    first_ns: u64,
    last_ns: u64,
    flows: HashMap<FlowKey, Vec<u32>>,
    order: Vec<FlowKey>,
    decoded: Decoded,
    too_large: bool,
}

impl Default for Indexer {
    fn default() -> Self {
        Indexer::new()
    }
}

impl Indexer {
    pub fn new() -> Indexer {
        Indexer {
            reader: CaptureReader::new(),
            state: State {
                next_offset: PCAP_HEADER,
                frames: 0,
                first_ns: 0,
                last_ns: 0,
                flows: HashMap::new(),
                order: Vec::new(),
                decoded: Decoded::default(),
                too_large: false,
            },
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        let state = &mut self.state;
        self.reader.feed(chunk, |f| state.frame(f)).map_err(|e| e.to_string())?;
        match self.reader.format() {
            Some(Format::Pcap { .. }) | None => {}
            Some(Format::PcapNg) => {
                return Err("only pcap files are indexed (what probe --persist writes), not pcapng".to_string())
            }
        }
        if self.state.too_large {
            return Err(format!("a file over {MAX_FILE} bytes is not indexed"));
        }
        Ok(())
    }

    /// The index of the file fed (an error when it ended inside a record: a file still being
    /// written, or cut, is indexed once it is whole).
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        self.reader.finish().map_err(|e| e.to_string())?;
        let s = self.state;
        let mut out = Vec::with_capacity(44 + s.order.len() * 48 + s.frames as usize * 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        for v in [s.next_offset, s.frames, s.first_ns, s.last_ns] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(s.order.len() as u32).to_le_bytes());
        for k in &s.order {
            let offsets = &s.flows[k];
            out.extend_from_slice(&[k.a.family as u8, k.proto, k.ports as u8, 0]);
            out.extend_from_slice(&k.a.bytes);
            out.extend_from_slice(&k.b.bytes);
            out.extend_from_slice(&k.a_port.to_le_bytes());
            out.extend_from_slice(&k.b_port.to_le_bytes());
            out.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
            for o in offsets {
                out.extend_from_slice(&o.to_le_bytes());
            }
        }
        Ok(out)
    }
}

impl State {
    fn frame(&mut self, f: &Frame<'_>) {
        let offset = self.next_offset;
        self.next_offset += 16 + f.data.len() as u64;
        if offset > MAX_FILE {
            self.too_large = true;
            return;
        }
        self.frames += 1;
        if f.has_ts {
            if self.first_ns == 0 || f.ts_ns < self.first_ns {
                self.first_ns = f.ts_ns;
            }
            self.last_ns = self.last_ns.max(f.ts_ns);
        }
        decode(f.data, f.link_type, &mut self.decoded);
        let r = self.decoded.record(f.ts_ns, f.wire_len, f.data.len() as u32, f.interface as u16);
        let ports = r.has(flag::HAS_PORTS);
        let (sp, dp) = if ports { (r.src_port, r.dst_port) } else { (0, 0) };
        let key = FlowKey::of(r.src, sp, r.dst, dp, r.proto, ports);
        match self.flows.get_mut(&key) {
            Some(v) => v.push(offset as u32),
            None => {
                self.flows.insert(key, vec![offset as u32]);
                self.order.push(key);
            }
        }
    }
}

/// What an index says of a file for a selection.
#[derive(Debug, PartialEq, Eq)]
pub enum Candidates {
    /// No frame of the file can answer (its time range, or no flow of it does).
    None,
    /// The index cannot narrow it (a selection by time or filter only): read the whole file.
    All,
    /// Only these records can answer, in file order (offsets of their record headers).
    Records(Vec<u32>),
}

/// The file size the index was made from (a file of another size is not the one indexed).
pub fn indexed_size(index: &[u8]) -> Result<u64, String> {
    header(index).map(|h| h.size)
}

struct Header {
    size: u64,
    first_ns: u64,
    last_ns: u64,
    frames: u64,
    flows: u32,
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| "the index is cut short".to_string())
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, String> {
    b.get(at..at + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| "the index is cut short".to_string())
}

fn header(b: &[u8]) -> Result<Header, String> {
    if b.len() < 44 || &b[..4] != MAGIC {
        return Err("not a NetSpectra capture index".to_string());
    }
    let version = u32_at(b, 4)?;
    if version != VERSION {
        return Err(format!("index version {version}, this version reads {VERSION}"));
    }
    Ok(Header {
        size: u64_at(b, 8)?,
        frames: u64_at(b, 16)?,
        first_ns: u64_at(b, 24)?,
        last_ns: u64_at(b, 32)?,
        flows: u32_at(b, 40)?,
    })
}

/// The records of the indexed file that may answer the selection. Errors on a damaged index
/// (the caller rebuilds it or reads the whole file).
pub fn candidates(index: &[u8], selection: &Selection) -> Result<Candidates, String> {
    let h = header(index)?;
    let timed = h.frames > 0 && h.first_ns > 0 && h.last_ns >= h.first_ns;
    if timed
        && (selection.from_ns.is_some_and(|from| h.last_ns < from)
            || selection.to_ns.is_some_and(|to| h.first_ns >= to))
    {
        return Ok(Candidates::None);
    }
    if !selection.by_flow() {
        return Ok(Candidates::All);
    }
    let mut ids = IdMatches::new();
    let mut out = Vec::new();
    let mut at = 44usize;
    for _ in 0..h.flows {
        let head = index.get(at..at + 44).ok_or("the index is cut short")?;
        let family = Family::from_u8(head[0]);
        let (proto, ports) = (head[1], head[2] != 0);
        let addr = |bytes: &[u8]| Addr { family, bytes: bytes.try_into().unwrap() };
        let (a, b) = (addr(&head[4..20]), addr(&head[20..36]));
        let a_port = u16::from_le_bytes([head[36], head[37]]);
        let b_port = u16::from_le_bytes([head[38], head[39]]);
        let n = u32::from_le_bytes(head[40..44].try_into().unwrap()) as usize;
        let records = index.get(at + 44..at + 44 + n * 4).ok_or("the index is cut short")?;
        at += 44 + n * 4;
        if selection.matches_flow(a, a_port, b, b_port, proto, ports, &mut ids) {
            out.extend(records.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())));
        }
    }
    if at != index.len() {
        return Err("the index has bytes past its last flow".to_string());
    }
    if out.is_empty() {
        return Ok(Candidates::None);
    }
    out.sort_unstable();
    Ok(Candidates::Records(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Cidr;
    use crate::extract::test_capture::{pcap, udp};
    use crate::extract::FlowTuple;

    fn index_of(file: &[u8]) -> Vec<u8> {
        let mut x = Indexer::new();
        for c in file.chunks(13) {
            x.feed(c).unwrap();
        }
        x.finish().unwrap()
    }

    #[test]
    fn a_flows_records_both_ways_and_the_files_time_range() {
        let frames = vec![
            (5_000_000_000, udp([10, 0, 0, 1], 5000, [10, 0, 0, 2], 53, 10)),
            (5_000_000_001, udp([10, 0, 0, 3], 5000, [10, 0, 0, 2], 53, 11)),
            (6_000_000_000, udp([10, 0, 0, 2], 53, [10, 0, 0, 1], 5000, 12)),
        ];
        let file = pcap(&frames);
        let index = index_of(&file);
        assert_eq!(indexed_size(&index).unwrap(), file.len() as u64);
        let flow =
            FlowTuple { a: Addr::v4([10, 0, 0, 1]), a_port: 5000, b: Addr::v4([10, 0, 0, 2]), b_port: 53, proto: 17 };
        let first = 24u32;
        let third = first + 2 * 16 + frames[0].1.len() as u32 + frames[1].1.len() as u32;
        let by_flow = Selection { flow: Some(flow), ..Selection::default() };
        assert_eq!(candidates(&index, &by_flow).unwrap(), Candidates::Records(vec![first, third]));
        // Each offset is a record header whose frame is the flow's.
        for o in [first, third] {
            let caplen = u32::from_le_bytes(file[o as usize + 8..o as usize + 12].try_into().unwrap()) as usize;
            assert!(caplen == frames[0].1.len() || caplen == frames[2].1.len());
        }
        let by_net = Selection { networks: vec![Cidr::parse("10.0.0.3").unwrap()], ..Selection::default() };
        assert_eq!(
            candidates(&index, &by_net).unwrap(),
            Candidates::Records(vec![first + 16 + frames[0].1.len() as u32])
        );
        let elsewhere = Selection { networks: vec![Cidr::parse("192.0.2.0/24").unwrap()], ..Selection::default() };
        assert_eq!(candidates(&index, &elsewhere).unwrap(), Candidates::None);
        let before = Selection { to_ns: Some(5_000_000_000), ..by_flow.clone() };
        assert_eq!(candidates(&index, &before).unwrap(), Candidates::None);
        let after = Selection { from_ns: Some(6_000_000_001), ..Selection::default() };
        assert_eq!(candidates(&index, &after).unwrap(), Candidates::None);
        let during = Selection { from_ns: Some(6_000_000_000), ..Selection::default() };
        assert_eq!(candidates(&index, &during).unwrap(), Candidates::All);
    }

    #[test]
    fn damaged_indexes_and_unindexable_files_are_refused() {
        let file = pcap(&[(1, udp([10, 0, 0, 1], 1, [10, 0, 0, 2], 2, 1))]);
        let index = index_of(&file);
        let sel = Selection { networks: vec![Cidr::parse("10.0.0.1").unwrap()], ..Selection::default() };
        assert!(candidates(&index[..index.len() - 1], &sel).unwrap_err().contains("cut short"));
        assert!(candidates(b"NSIX", &sel).unwrap_err().contains("not a NetSpectra capture index"));
        let mut longer = index.clone();
        longer.push(0);
        assert!(candidates(&longer, &sel).unwrap_err().contains("past its last flow"));
        let mut x = Indexer::new();
        x.feed(&file[..file.len() - 3]).unwrap();
        assert!(x.finish().unwrap_err().contains("cut short"));
        let mut ng = Indexer::new();
        let shb = [
            0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255,
            255, 28, 0, 0, 0,
        ];
        assert!(ng.feed(&shb).unwrap_err().contains("only pcap files"));
    }
}
