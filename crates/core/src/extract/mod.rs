//! Packets back out of a capture: the frames of one flow (its 5-tuple both ways, or its
//! Community ID), of addresses or networks, of a time range, and of a filter the binding
//! supplies (libpcap's BPF), written as a new capture with each frame's original bytes, lengths
//! and time. Streaming: the input comes in chunks and the output leaves in chunks, up to a
//! size limit.
//!
//! A frame belongs to a flow as the flow table counts it: by its innermost IP layer (the
//! tunnels around it do not matter) and, for TCP, UDP, SCTP and ICMP, its ports or type/code;
//! fragments after the first carry no ports and match only a filter without ports.

use std::collections::HashMap;

pub mod index;

use crate::addr::{Addr, Cidr};
use crate::analysis::FrameFilter;
use crate::capture::{CaptureReader, Frame};
use crate::decode::{decode, Decoded};
use crate::flow::community_id::community_id;
use crate::record::{flag, PacketRecord};

/// The file written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// pcapng: one interface per input interface, nanosecond times.
    PcapNg,
    /// pcap with nanosecond times; one link type (the first frame's): frames of another are
    /// skipped and counted.
    Pcap,
}

/// One flow, either direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowTuple {
    pub a: Addr,
    pub a_port: u16,
    pub b: Addr,
    pub b_port: u16,
    pub proto: u8,
}

/// What is cut out: a frame is kept when it answers every part given.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub flow: Option<FlowTuple>,
    /// A Community ID v1 ("1:base64") and the seed it was made with.
    pub community_id: Option<(String, u16)>,
    /// Source or destination in one of these.
    pub networks: Vec<Cidr>,
    /// Capture time in [from, to), nanoseconds since the epoch.
    pub from_ns: Option<u64>,
    pub to_ns: Option<u64>,
}

/// Community ID matches remembered per 5-tuple: one SHA-1 per flow, not per frame.
pub type IdMatches = HashMap<(Addr, Addr, u8, u16, u16), bool>;

impl Selection {
    /// Whether frames of this 5-tuple (ports 0 without `ports`) answer the flow, Community ID and
    /// network parts of the selection (time and BPF are per frame).
    #[allow(clippy::too_many_arguments)]
    pub fn matches_flow(
        &self,
        src: Addr,
        sp: u16,
        dst: Addr,
        dp: u16,
        proto: u8,
        ports: bool,
        ids: &mut IdMatches,
    ) -> bool {
        if !self.networks.is_empty() && !self.networks.iter().any(|n| n.contains(&src) || n.contains(&dst)) {
            return false;
        }
        if let Some(t) = self.flow {
            let forward = src == t.a && sp == t.a_port && dst == t.b && dp == t.b_port;
            let back = src == t.b && sp == t.b_port && dst == t.a && dp == t.a_port;
            if proto != t.proto || !(forward || back) {
                return false;
            }
        }
        if let Some((id, seed)) = &self.community_id {
            let key = (src, dst, proto, sp, dp);
            let hit = match ids.get(&key) {
                Some(hit) => *hit,
                None => {
                    let hit = community_id(*seed, src, dst, proto, ports.then_some((sp, dp)))
                        .is_some_and(|c| c.as_str() == id);
                    if ids.len() < MAX_REMEMBERED_IDS {
                        ids.insert(key, hit);
                    }
                    hit
                }
            };
            if !hit {
                return false;
            }
        }
        true
    }

    /// Whether the selection names flows or addresses (an index can narrow the reading), not
    /// only times or a filter.
    pub fn by_flow(&self) -> bool {
        self.flow.is_some() || self.community_id.is_some() || !self.networks.is_empty()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Frames read from the input.
    pub frames_read: u64,
    /// Frames written.
    pub frames_written: u64,
    /// Bytes of the output so far, headers included.
    pub bytes_written: u64,
    /// Selected frames not written to a pcap because their link type is not the file's.
    pub other_link_type: u64,
    /// The size limit stopped the output: the next selected frame did not fit.
    pub limit_reached: bool,
}

/// An input interface and the output interface its frames are written as.
struct Interface {
    input: u32,
    link_type: u32,
    output: u32,
}

pub struct Extractor {
    reader: CaptureReader,
    sink: Sink,
}

struct Sink {
    selection: Selection,
    filter: Option<Box<dyn FrameFilter>>,
    filter_error: Option<String>,
    format: OutputFormat,
    max_bytes: u64,
    out: Vec<u8>,
    decoded: Decoded,
    interfaces: Vec<Interface>,
    header_written: bool,
    ids: IdMatches,
    stats: ExtractStats,
}

/// Cap on the remembered Community ID matches; past it they are recomputed.
const MAX_REMEMBERED_IDS: usize = 1 << 20;

const SNAPLEN: u32 = 262_144;

impl Extractor {
    pub fn new(selection: Selection, format: OutputFormat, max_bytes: u64) -> Extractor {
        Extractor {
            reader: CaptureReader::new(),
            sink: Sink {
                selection,
                filter: None,
                filter_error: None,
                format,
                max_bytes,
                out: Vec::new(),
                decoded: Decoded::default(),
                interfaces: Vec::new(),
                header_written: false,
                ids: HashMap::new(),
                stats: ExtractStats::default(),
            },
        }
    }

    /// Keeps only the frames `filter` keeps too (`--bpf`).
    pub fn set_filter(&mut self, filter: Box<dyn FrameFilter>) {
        self.sink.filter = Some(filter);
    }

    /// Reads a chunk of one input file. Several files may be read one after the other
    /// ([`Extractor::next_file`] between them): the output is one capture.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        if self.sink.stats.limit_reached {
            return Ok(());
        }
        let sink = &mut self.sink;
        self.reader.feed(chunk, |f| sink.frame(f)).map_err(|e| e.to_string())?;
        match self.sink.filter_error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Ends the current input file (an error when it was cut short) and gets ready for the next.
    pub fn next_file(&mut self) -> Result<(), String> {
        let done = self.reader.finish().map_err(|e| e.to_string());
        self.reader = CaptureReader::new();
        // Interfaces are per file: the next file's interface 0 is another one.
        for i in &mut self.sink.interfaces {
            i.input = u32::MAX;
        }
        done
    }

    /// The output made so far (taken: the next call returns what follows). The file header is
    /// written even when no frame was selected, so that the output is always a valid capture.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.sink.out)
    }

    /// Writes the file header if nothing was written yet (an empty but valid capture).
    pub fn finish(&mut self) {
        let sink = &mut self.sink;
        if !sink.header_written {
            sink.header(crate::decode::linktype::ETHERNET);
        }
    }

    pub fn stats(&self) -> ExtractStats {
        self.sink.stats
    }
}

impl Sink {
    fn frame(&mut self, f: &Frame<'_>) {
        self.stats.frames_read += 1;
        if self.stats.limit_reached || self.filter_error.is_some() || !self.selected(f) {
            return;
        }
        self.write(f);
    }

    fn selected(&mut self, f: &Frame<'_>) -> bool {
        let s = &self.selection;
        if s.from_ns.is_some_and(|from| !f.has_ts || f.ts_ns < from)
            || s.to_ns.is_some_and(|to| !f.has_ts || f.ts_ns >= to)
        {
            return false;
        }
        if s.by_flow() {
            decode(f.data, f.link_type, &mut self.decoded);
            let r = self.decoded.record(f.ts_ns, f.wire_len, f.data.len() as u32, f.interface as u16);
            if !self.matches(&r) {
                return false;
            }
        }
        if let Some(filter) = &mut self.filter {
            match filter.keep(f.link_type, f.data, f.wire_len) {
                Ok(keep) => return keep,
                Err(e) => {
                    self.filter_error = Some(e);
                    return false;
                }
            }
        }
        true
    }

    fn matches(&mut self, r: &PacketRecord) -> bool {
        let ports = r.has(flag::HAS_PORTS);
        let (sp, dp) = if ports { (r.src_port, r.dst_port) } else { (0, 0) };
        self.selection.matches_flow(r.src, sp, r.dst, dp, r.proto, ports, &mut self.ids)
    }

    fn write(&mut self, f: &Frame<'_>) {
        if !self.header_written {
            self.header(f.link_type);
        }
        let before = self.out.len();
        let known = self.interfaces.len();
        let output_interface = match self.format {
            OutputFormat::Pcap => {
                if self.interfaces[0].link_type != f.link_type {
                    self.stats.other_link_type += 1;
                    return;
                }
                0
            }
            OutputFormat::PcapNg => self.interface(f.interface, f.link_type),
        };
        let data = f.data;
        let size = match self.format {
            OutputFormat::Pcap => 16 + data.len(),
            OutputFormat::PcapNg => 32 + padded(data.len()),
        };
        // With the interface block it may need: both or neither.
        let pending = (self.out.len() - before + size) as u64;
        if self.stats.bytes_written + pending > self.max_bytes {
            self.out.truncate(before);
            self.interfaces.truncate(known);
            self.stats.limit_reached = true;
            return;
        }
        let ts = if f.has_ts { f.ts_ns } else { 0 };
        match self.format {
            OutputFormat::Pcap => {
                put32(&mut self.out, (ts / 1_000_000_000) as u32);
                put32(&mut self.out, (ts % 1_000_000_000) as u32);
                put32(&mut self.out, data.len() as u32);
                put32(&mut self.out, f.wire_len);
                self.out.extend_from_slice(data);
            }
            OutputFormat::PcapNg => {
                let len = size as u32;
                put32(&mut self.out, 6); // Enhanced Packet Block
                put32(&mut self.out, len);
                put32(&mut self.out, output_interface);
                put32(&mut self.out, (ts >> 32) as u32);
                put32(&mut self.out, ts as u32);
                put32(&mut self.out, data.len() as u32);
                put32(&mut self.out, f.wire_len);
                self.out.extend_from_slice(data);
                self.out.resize(self.out.len() + padded(data.len()) - data.len(), 0);
                put32(&mut self.out, len);
            }
        }
        self.stats.bytes_written += pending;
        self.stats.frames_written += 1;
    }

    /// The file header: pcap's, or pcapng's Section Header Block (interfaces follow as met).
    fn header(&mut self, link_type: u32) {
        self.header_written = true;
        let before = self.out.len();
        match self.format {
            OutputFormat::Pcap => {
                put32(&mut self.out, 0xa1b2_3c4d); // nanosecond pcap
                self.out.extend_from_slice(&2u16.to_le_bytes());
                self.out.extend_from_slice(&4u16.to_le_bytes());
                put32(&mut self.out, 0);
                put32(&mut self.out, 0);
                put32(&mut self.out, SNAPLEN);
                put32(&mut self.out, link_type);
                self.interfaces.push(Interface { input: 0, link_type, output: 0 });
            }
            OutputFormat::PcapNg => {
                put32(&mut self.out, 0x0a0d_0d0a);
                put32(&mut self.out, 28);
                put32(&mut self.out, 0x1a2b_3c4d);
                self.out.extend_from_slice(&1u16.to_le_bytes());
                self.out.extend_from_slice(&0u16.to_le_bytes());
                self.out.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown
                put32(&mut self.out, 28);
            }
        }
        self.stats.bytes_written += (self.out.len() - before) as u64;
    }

    /// The output interface of an input interface, its Interface Description Block written
    /// the first time (nanosecond times: if_tsresol 9).
    fn interface(&mut self, input: u32, link_type: u32) -> u32 {
        if let Some(i) = self.interfaces.iter().find(|i| i.input == input && i.link_type == link_type) {
            return i.output;
        }
        let output = self.interfaces.len() as u32;
        self.interfaces.push(Interface { input, link_type, output });
        put32(&mut self.out, 1);
        put32(&mut self.out, 32);
        self.out.extend_from_slice(&(link_type as u16).to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes());
        put32(&mut self.out, SNAPLEN);
        // if_tsresol = 9 (10^-9 s), then opt_endofopt.
        self.out.extend_from_slice(&9u16.to_le_bytes());
        self.out.extend_from_slice(&1u16.to_le_bytes());
        self.out.extend_from_slice(&[9, 0, 0, 0]);
        put32(&mut self.out, 0);
        put32(&mut self.out, 32);
        output
    }
}

fn padded(n: usize) -> usize {
    n.div_ceil(4) * 4
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The options as the bindings pass them (text where people write text), checked here once for
/// every binding.
#[derive(Clone, Debug, Default)]
pub struct ExtractOptions {
    /// A flow: both addresses, the protocol, and the ports for TCP, UDP and SCTP.
    pub a_ip: Option<String>,
    pub a_port: Option<u32>,
    pub b_ip: Option<String>,
    pub b_port: Option<u32>,
    pub protocol: Option<u32>,
    pub community_id: Option<String>,
    pub community_id_seed: u32,
    /// Addresses or networks ("10.0.0.0/8", "2001:db8::1").
    pub networks: Vec<String>,
    pub from_ns: Option<u64>,
    pub to_ns: Option<u64>,
    /// "pcapng" (the default) or "pcap".
    pub format: Option<String>,
    /// 0: no limit.
    pub max_bytes: u64,
}

impl ExtractOptions {
    pub fn extractor(&self) -> Result<Extractor, String> {
        let selection = self.selection()?;
        let format = match self.format.as_deref() {
            None | Some("pcapng") => OutputFormat::PcapNg,
            Some("pcap") => OutputFormat::Pcap,
            Some(other) => return Err(format!("format \"{other}\" is not pcapng or pcap")),
        };
        Ok(Extractor::new(selection, format, if self.max_bytes == 0 { u64::MAX } else { self.max_bytes }))
    }

    /// The selection alone (an index lookup needs no output).
    pub fn selection(&self) -> Result<Selection, String> {
        let address = |what: &str, text: &Option<String>| -> Result<Addr, String> {
            let text = text.as_deref().ok_or_else(|| format!("a flow needs {what}"))?;
            match Cidr::parse(text) {
                Ok(c) if c.bits == if c.network.family == crate::addr::Family::V4 { 32 } else { 128 } => Ok(c.network),
                _ => Err(format!("{what} \"{text}\" is not an address")),
            }
        };
        let port = |what: &str, p: Option<u32>| -> Result<u16, String> {
            match p {
                None => Ok(0),
                Some(p) if p <= 65_535 => Ok(p as u16),
                Some(p) => Err(format!("{what} {p} is not a port (0 to 65535)")),
            }
        };
        let flow = if self.a_ip.is_some() || self.b_ip.is_some() || self.protocol.is_some() {
            let proto = match self.protocol {
                Some(p) if p <= 255 => p as u8,
                Some(p) => return Err(format!("protocol {p} is not an IP protocol number (0 to 255)")),
                None => return Err("a flow needs its protocol".to_string()),
            };
            let (a, b) = (address("the first address", &self.a_ip)?, address("the second address", &self.b_ip)?);
            if a.family != b.family {
                return Err(format!("the flow's addresses {a} and {b} are of different families"));
            }
            // Their frames always carry ports: a flow of them without ports would select nothing.
            if matches!(proto, 6 | 17 | 132 | 136) && (self.a_port.is_none() || self.b_port.is_none()) {
                let name = crate::names::ip_proto(proto).unwrap_or("this protocol");
                return Err(format!("a {name} flow needs both ports"));
            }
            Some(FlowTuple {
                a,
                a_port: port("the first port", self.a_port)?,
                b,
                b_port: port("the second port", self.b_port)?,
                proto,
            })
        } else {
            None
        };
        let community_id = match &self.community_id {
            None => None,
            Some(id) if id.starts_with("1:") && id.len() == 30 => {
                let seed = u16::try_from(self.community_id_seed)
                    .map_err(|_| format!("Community ID seed {} is over 65535", self.community_id_seed))?;
                Some((id.clone(), seed))
            }
            Some(id) => return Err(format!("\"{id}\" is not a Community ID v1 (\"1:\" and 28 base64 characters)")),
        };
        let networks = self.networks.iter().map(|n| Cidr::parse(n)).collect::<Result<Vec<_>, _>>()?;
        if let (Some(from), Some(to)) = (self.from_ns, self.to_ns) {
            if from >= to {
                return Err("the time range is empty: its start is not before its end".to_string());
            }
        }
        Ok(Selection { flow, community_id, networks, from_ns: self.from_ns, to_ns: self.to_ns })
    }
}

/// Captures the tests of extraction and of the index are made of.
#[cfg(test)]
mod test_capture {
    /// An Ethernet/IPv4/UDP frame with `payload` bytes.
    pub fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = 20 + 8 + payload;
        f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.resize(f.len() + payload, 0xab);
        f
    }

    /// A little-endian nanosecond pcap of Ethernet frames at their times.
    pub fn pcap(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [0xa1b2_3c4du32, 0x0004_0002, 0, 0, 65535, 1] {
            super::put32(&mut out, w);
        }
        for (ts, f) in frames {
            for w in [(ts / 1_000_000_000) as u32, (ts % 1_000_000_000) as u32, f.len() as u32, f.len() as u32] {
                super::put32(&mut out, w);
            }
            out.extend_from_slice(f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::test_capture::{pcap, udp};
    use super::*;
    use crate::capture::CaptureReader;

    /// (time, bytes) of each frame of a capture, read back with the core's reader.
    fn frames_of(file: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut r = CaptureReader::new();
        let mut out = Vec::new();
        r.feed(file, |f| out.push((f.ts_ns, f.data.to_vec()))).unwrap();
        r.finish().unwrap();
        out
    }

    fn input() -> Vec<(u64, Vec<u8>)> {
        vec![
            (1_000_000_001, udp([10, 0, 0, 1], 5000, [10, 0, 0, 2], 53, 10)),
            (1_000_000_002, udp([10, 0, 0, 3], 5000, [10, 0, 0, 2], 53, 11)),
            (2_000_000_003, udp([10, 0, 0, 2], 53, [10, 0, 0, 1], 5000, 13)),
            (3_000_000_004, udp([192, 168, 0, 9], 1, [10, 0, 0, 1], 5001, 7)),
        ]
    }

    fn extract(selection: Selection, format: OutputFormat, max: u64, chunk: usize) -> (Vec<u8>, ExtractStats) {
        let file = pcap(&input());
        let mut x = Extractor::new(selection, format, max);
        let mut out = Vec::new();
        for c in file.chunks(chunk) {
            x.feed(c).unwrap();
            out.extend(x.take_output());
        }
        x.next_file().unwrap();
        x.finish();
        out.extend(x.take_output());
        (out, x.stats())
    }

    fn ip(a: [u8; 4]) -> Addr {
        Addr::v4(a)
    }

    #[test]
    fn a_flow_both_ways_in_order_with_times_and_bytes_kept() {
        let flow = FlowTuple { a: ip([10, 0, 0, 2]), a_port: 53, b: ip([10, 0, 0, 1]), b_port: 5000, proto: 17 };
        let all = input();
        for format in [OutputFormat::Pcap, OutputFormat::PcapNg] {
            for chunk in [1, 7, 4096] {
                let (out, stats) =
                    extract(Selection { flow: Some(flow), ..Selection::default() }, format, u64::MAX, chunk);
                assert_eq!(frames_of(&out), vec![all[0].clone(), all[2].clone()], "{format:?} in chunks of {chunk}");
                assert_eq!(stats.frames_read, 4);
                assert_eq!(stats.frames_written, 2);
                assert_eq!(stats.bytes_written, out.len() as u64);
            }
        }
    }

    #[test]
    fn community_id_networks_and_time_select_the_same_way() {
        let all = input();
        // The spec's ID of 10.0.0.1:5000 <-> 10.0.0.2:53 UDP, seed 0, from the core's hash.
        let id = community_id(0, ip([10, 0, 0, 1]), ip([10, 0, 0, 2]), 17, Some((5000, 53))).unwrap();
        let (out, _) = extract(
            Selection { community_id: Some((id.as_str().to_string(), 0)), ..Selection::default() },
            OutputFormat::PcapNg,
            u64::MAX,
            64,
        );
        assert_eq!(frames_of(&out), vec![all[0].clone(), all[2].clone()]);
        let nets = vec![Cidr::parse("192.168.0.0/16").unwrap(), Cidr::parse("10.0.0.3").unwrap()];
        let (out, _) = extract(Selection { networks: nets, ..Selection::default() }, OutputFormat::Pcap, u64::MAX, 64);
        assert_eq!(frames_of(&out), vec![all[1].clone(), all[3].clone()]);
        let (out, _) = extract(
            Selection { from_ns: Some(1_000_000_002), to_ns: Some(3_000_000_004), ..Selection::default() },
            OutputFormat::Pcap,
            u64::MAX,
            64,
        );
        assert_eq!(frames_of(&out), vec![all[1].clone(), all[2].clone()]);
    }

    #[test]
    fn the_size_limit_stops_at_a_whole_frame_and_says_so() {
        let (whole, _) = extract(Selection::default(), OutputFormat::Pcap, u64::MAX, 4096);
        let limit = 24 + (16 + 52) + (16 + 53) - 1; // the header and the first frame, not the second
        let (out, stats) = extract(Selection::default(), OutputFormat::Pcap, limit as u64, 4096);
        assert!(stats.limit_reached);
        assert_eq!(frames_of(&out).len(), 1);
        assert!(out.len() <= limit && whole.starts_with(&out));
        assert_eq!(stats.bytes_written, out.len() as u64);
    }

    #[test]
    fn options_are_checked_and_named() {
        let err = |o: ExtractOptions| o.extractor().err().unwrap();
        let flow = ExtractOptions {
            a_ip: Some("10.0.0.1".into()),
            b_ip: Some("10.0.0.2".into()),
            protocol: Some(6),
            a_port: Some(1),
            b_port: Some(2),
            ..Default::default()
        };
        assert!(flow.extractor().is_ok());
        assert_eq!(err(ExtractOptions { protocol: None, ..flow.clone() }), "a flow needs its protocol");
        assert_eq!(err(ExtractOptions { b_port: None, ..flow.clone() }), "a TCP flow needs both ports");
        assert!(
            ExtractOptions { protocol: Some(1), a_port: None, b_port: None, ..flow.clone() }.extractor().is_ok(),
            "ICMP has none"
        );
        assert_eq!(
            err(ExtractOptions { b_ip: Some("10.0.0.0/8".into()), ..flow.clone() }),
            "the second address \"10.0.0.0/8\" is not an address"
        );
        assert_eq!(
            err(ExtractOptions { b_ip: Some("::1".into()), ..flow.clone() }),
            "the flow's addresses 10.0.0.1 and ::1 are of different families"
        );
        assert_eq!(
            err(ExtractOptions { a_port: Some(70_000), ..flow.clone() }),
            "the first port 70000 is not a port (0 to 65535)"
        );
        assert!(err(ExtractOptions { community_id: Some("1:abc".into()), ..Default::default() })
            .contains("not a Community ID"));
        assert!(err(ExtractOptions { networks: vec!["10.0.0.0/33".into()], ..Default::default() })
            .contains("prefix length"));
        assert!(err(ExtractOptions { from_ns: Some(5), to_ns: Some(5), ..Default::default() }).contains("empty"));
        assert_eq!(
            err(ExtractOptions { format: Some("erf".into()), ..Default::default() }),
            "format \"erf\" is not pcapng or pcap"
        );
    }

    #[test]
    fn nothing_selected_is_still_a_capture_and_damage_is_an_error() {
        let (out, stats) =
            extract(Selection { from_ns: Some(u64::MAX), ..Selection::default() }, OutputFormat::PcapNg, u64::MAX, 64);
        assert_eq!(stats.frames_written, 0);
        assert!(frames_of(&out).is_empty());
        let mut x = Extractor::new(Selection::default(), OutputFormat::Pcap, u64::MAX);
        assert!(x.feed(b"not a capture at all").is_err());
        let file = pcap(&input());
        let mut x = Extractor::new(Selection::default(), OutputFormat::Pcap, u64::MAX);
        x.feed(&file[..file.len() - 5]).unwrap();
        let err = x.next_file().unwrap_err();
        assert!(err.contains("cut short"), "{err}");
    }
}
