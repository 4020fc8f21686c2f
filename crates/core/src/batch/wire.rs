//! The `PacketBatch` message of `proto/netspectra/v1/packet.proto`, encoded and parsed here so
//! that neither the probe nor the engine builds one JS object per packet. A small protobuf
//! subset: the fields below, unknown fields skipped, groups refused.

use crate::record::PacketRecord;

/// Record layout version carried in `PacketBatch.version`.
pub const RECORD_VERSION: u32 = 1;

/// Counters of the capture at the moment a batch was flushed (cumulative since the probe
/// started, so the latest batch of a probe says everything).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames libpcap handed to the probe.
    pub captured: u64,
    /// pcap_stats ps_drop: dropped by the kernel (buffer full).
    pub kernel_dropped: u64,
    /// pcap_stats ps_ifdrop: dropped by the interface or driver.
    pub interface_dropped: u64,
    /// Packets the probe itself discarded (publish queue full while NATS was unreachable).
    pub probe_dropped: u64,
}

/// A parsed batch; `records` borrows the message bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PacketBatch<'a> {
    pub version: u32,
    pub probe_id: &'a str,
    pub sequence: u64,
    pub partition: u32,
    pub partitions: u32,
    pub interface: &'a str,
    pub records: &'a [u8],
    pub stats: CaptureStats,
    /// Wall time the probe flushed the batch, ns since the epoch.
    pub sent_ns: u64,
    /// What the probe read from flows' first payloads, by record index (ascending).
    pub names: Vec<FlowName<'a>>,
}

/// A flow's application and server name as the probe read them from the payload of the
/// record at `index` (the engine has records only, not payloads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowName<'a> {
    pub index: u32,
    pub app: u8,
    pub server_name: &'a str,
    pub alpn: &'a str,
}

impl<'a> FlowName<'a> {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, 1, self.index as u64);
        put_u64(out, 2, self.app as u64);
        put_bytes(out, 3, self.server_name.as_bytes());
        put_bytes(out, 4, self.alpn.as_bytes());
    }

    fn parse(bytes: &'a [u8]) -> Result<FlowName<'a>, WireError> {
        let mut n = FlowName::default();
        let mut r = Reader { bytes, at: 0 };
        while let Some((field, value)) = r.field()? {
            match (field, value) {
                (1, Value::Varint(v)) => n.index = u32::try_from(v).unwrap_or(u32::MAX),
                (2, Value::Varint(v)) => n.app = u8::try_from(v).unwrap_or(0),
                (3, Value::Bytes(s)) => n.server_name = text(s, "names.server_name")?,
                (4, Value::Bytes(s)) => n.alpn = text(s, "names.alpn")?,
                (1..=4, _) => return Err(WireError::Garbage(format!("names field {field} has the wrong wire type"))),
                _ => {}
            }
        }
        Ok(n)
    }
}

/// Why a message is not a batch this engine can apply. The kinds are what the engine counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not a protobuf message: a bad tag, wire type or varint.
    Garbage(String),
    /// A length or varint runs past the end of the message.
    Truncated(String),
    /// The record layout version is missing or not one this build reads.
    Version(u32),
    /// The records field is not a whole number of records, or a text is not UTF-8.
    Invalid(String),
}

impl WireError {
    pub fn kind(&self) -> &'static str {
        match self {
            WireError::Garbage(_) => "garbage",
            WireError::Truncated(_) => "truncated",
            WireError::Version(_) => "version",
            WireError::Invalid(_) => "invalid",
        }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Garbage(m) => write!(f, "not a PacketBatch: {m}"),
            WireError::Truncated(m) => write!(f, "truncated PacketBatch: {m}"),
            WireError::Version(0) => write!(f, "PacketBatch without a record version"),
            WireError::Version(v) => {
                write!(f, "PacketBatch record version {v} is not supported (this engine reads {RECORD_VERSION})")
            }
            WireError::Invalid(m) => write!(f, "invalid PacketBatch: {m}"),
        }
    }
}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (field as u64) << 3 | wire as u64);
}

/// proto3 leaves zero values out.
fn put_u64(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_tag(out, field, VARINT);
        put_varint(out, v);
    }
}

fn put_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    if !b.is_empty() {
        put_tag(out, field, LEN);
        put_varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }
}

impl CaptureStats {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, 1, self.captured);
        put_u64(out, 2, self.kernel_dropped);
        put_u64(out, 3, self.interface_dropped);
        put_u64(out, 4, self.probe_dropped);
    }

    fn parse(bytes: &[u8]) -> Result<CaptureStats, WireError> {
        let mut s = CaptureStats::default();
        let mut r = Reader { bytes, at: 0 };
        while let Some((field, value)) = r.field()? {
            let v = match value {
                Value::Varint(v) => v,
                _ => continue,
            };
            match field {
                1 => s.captured = v,
                2 => s.kernel_dropped = v,
                3 => s.interface_dropped = v,
                4 => s.probe_dropped = v,
                _ => {}
            }
        }
        Ok(s)
    }
}

impl PacketBatch<'_> {
    /// Appends the protobuf encoding (fields in number order, zero values left out).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, 1, self.version as u64);
        put_bytes(out, 2, self.probe_id.as_bytes());
        put_u64(out, 3, self.sequence);
        put_u64(out, 4, self.partition as u64);
        put_u64(out, 5, self.partitions as u64);
        put_bytes(out, 6, self.interface.as_bytes());
        put_bytes(out, 7, self.records);
        let mut stats = Vec::new();
        self.stats.encode(&mut stats);
        if !stats.is_empty() {
            put_bytes(out, 8, &stats);
        }
        put_u64(out, 9, self.sent_ns);
        let mut name = Vec::new();
        for n in &self.names {
            name.clear();
            n.encode(&mut name);
            put_tag(out, 10, LEN);
            put_varint(out, name.len() as u64);
            out.extend_from_slice(&name);
        }
    }

    /// Parses a message; the records are checked for length, not content (every 64-byte
    /// pattern decodes to some record).
    pub fn parse(bytes: &[u8]) -> Result<PacketBatch<'_>, WireError> {
        let mut b = PacketBatch::default();
        let mut r = Reader { bytes, at: 0 };
        while let Some((field, value)) = r.field()? {
            match (field, value) {
                (1, Value::Varint(v)) => b.version = u32::try_from(v).unwrap_or(u32::MAX),
                (2, Value::Bytes(s)) => b.probe_id = text(s, "probe_id")?,
                (3, Value::Varint(v)) => b.sequence = v,
                (4, Value::Varint(v)) => b.partition = v as u32,
                (5, Value::Varint(v)) => b.partitions = v as u32,
                (6, Value::Bytes(s)) => b.interface = text(s, "interface")?,
                (7, Value::Bytes(s)) => b.records = s,
                (8, Value::Bytes(s)) => b.stats = CaptureStats::parse(s)?,
                (9, Value::Varint(v)) => b.sent_ns = v,
                (10, Value::Bytes(s)) => b.names.push(FlowName::parse(s)?),
                (1..=10, _) => return Err(WireError::Garbage(format!("field {field} has the wrong wire type"))),
                _ => {}
            }
        }
        if b.version != RECORD_VERSION {
            return Err(WireError::Version(b.version));
        }
        if b.records.len() % PacketRecord::ENCODED_LEN != 0 {
            return Err(WireError::Invalid(format!(
                "records field of {} bytes is not a multiple of {}",
                b.records.len(),
                PacketRecord::ENCODED_LEN
            )));
        }
        Ok(b)
    }

    pub fn packets(&self) -> usize {
        self.records.len() / PacketRecord::ENCODED_LEN
    }

    pub fn iter_records(&self) -> impl Iterator<Item = PacketRecord> + '_ {
        self.records.chunks_exact(PacketRecord::ENCODED_LEN).map(|c| {
            let mut b = [0u8; PacketRecord::ENCODED_LEN];
            b.copy_from_slice(c);
            PacketRecord::decode(&b)
        })
    }
}

fn text<'a>(b: &'a [u8], field: &str) -> Result<&'a str, WireError> {
    std::str::from_utf8(b).map_err(|_| WireError::Invalid(format!("{field} is not UTF-8")))
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err(WireError::Truncated(format!("varint cut at byte {}", self.at)));
            };
            self.at += 1;
            if i == 9 && b > 1 {
                return Err(WireError::Garbage(format!("varint longer than 64 bits at byte {}", self.at - 1)));
            }
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(WireError::Garbage(format!("varint longer than 10 bytes at byte {}", self.at)))
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], WireError> {
        let left = (self.bytes.len() - self.at) as u64;
        if n > left {
            return Err(WireError::Truncated(format!(
                "{what} of {n} bytes at byte {} but only {left} remain",
                self.at
            )));
        }
        let s = &self.bytes[self.at..self.at + n as usize];
        self.at += n as usize;
        Ok(s)
    }

    /// The next field, or None at the end of the message.
    fn field(&mut self) -> Result<Option<(u32, Value<'a>)>, WireError> {
        if self.at == self.bytes.len() {
            return Ok(None);
        }
        let at = self.at;
        let tag = self.varint()?;
        let field = tag >> 3;
        if field == 0 || field > u32::MAX as u64 >> 3 {
            return Err(WireError::Garbage(format!("field number {field} at byte {at}")));
        }
        let value = match (tag & 7) as u8 {
            VARINT => Value::Varint(self.varint()?),
            FIXED64 => {
                self.take(8, "fixed64")?;
                Value::Fixed
            }
            LEN => {
                let n = self.varint()?;
                Value::Bytes(self.take(n, "length-delimited field")?)
            }
            FIXED32 => {
                self.take(4, "fixed32")?;
                Value::Fixed
            }
            w => return Err(WireError::Garbage(format!("wire type {w} at byte {at}"))),
        };
        Ok(Some((field as u32, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(records: &[u8]) -> PacketBatch<'_> {
        PacketBatch {
            version: RECORD_VERSION,
            probe_id: "probe-1",
            sequence: 300,
            partition: 2,
            partitions: 4,
            interface: "eth0",
            records,
            stats: CaptureStats { captured: 10, kernel_dropped: 1, interface_dropped: 0, probe_dropped: 7 },
            sent_ns: 1_700_000_000_000_000_000,
            names: vec![
                FlowName { index: 0, app: 2, server_name: "www.example.org", alpn: "h2" },
                FlowName { index: 1, app: 1, server_name: "", alpn: "" },
            ],
        }
    }

    #[test]
    fn round_trips() {
        let records = vec![0xabu8; 128];
        let b = sample(&records);
        let mut out = Vec::new();
        b.encode(&mut out);
        assert_eq!(PacketBatch::parse(&out).unwrap(), b);
        assert_eq!(PacketBatch::parse(&out).unwrap().packets(), 2);
    }

    #[test]
    fn skips_unknown_fields() {
        let mut out = Vec::new();
        sample(&[]).encode(&mut out);
        put_u64(&mut out, 42, 5);
        put_bytes(&mut out, 43, b"later");
        out.extend_from_slice(&[0x65, 1, 2, 3, 4]); // field 12, fixed32
        assert_eq!(PacketBatch::parse(&out).unwrap().sequence, 300);
    }

    #[test]
    fn refuses_what_is_not_a_batch() {
        let mut good = Vec::new();
        sample(&[7u8; 64]).encode(&mut good);
        assert_eq!(PacketBatch::parse(&good[..good.len() - 30]).unwrap_err().kind(), "truncated");
        assert_eq!(PacketBatch::parse(b"\x0f\x01").unwrap_err().kind(), "garbage");
        assert_eq!(PacketBatch::parse(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01").unwrap_err().kind(), "garbage");
        assert_eq!(PacketBatch::parse(b"").unwrap_err(), WireError::Version(0));
        let mut v2 = Vec::new();
        PacketBatch { version: 2, ..sample(&[]) }.encode(&mut v2);
        assert_eq!(PacketBatch::parse(&v2).unwrap_err(), WireError::Version(2));
        let mut odd = Vec::new();
        sample(&[1u8; 65]).encode(&mut odd);
        assert_eq!(PacketBatch::parse(&odd).unwrap_err().kind(), "invalid");
        let mut wrong_type = Vec::new();
        put_u64(&mut wrong_type, 1, 1);
        put_tag(&mut wrong_type, 7, VARINT);
        put_varint(&mut wrong_type, 3);
        assert_eq!(PacketBatch::parse(&wrong_type).unwrap_err().kind(), "garbage");
    }

    #[test]
    fn never_panics_on_mutations() {
        let mut good = Vec::new();
        sample(&[9u8; 192]).encode(&mut good);
        for i in 0..good.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut m = good.clone();
                m[i] = v;
                let _ = PacketBatch::parse(&m);
                let _ = PacketBatch::parse(&m[..i]);
            }
        }
    }
}
