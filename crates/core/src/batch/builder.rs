//! Probe side: frames in, `PacketBatch` messages out.
//!
//! Live frames arrive as one buffer of framed packets, each `u64 ts_ns, u32 wire_len,
//! u32 cap_len` (little-endian, [`FRAME_HEADER_LEN`] bytes) followed by `cap_len` bytes; a capture
//! file arrives in chunks. Either way each packet is decoded exactly as `analyze` decodes it
//! (fragment ports included) and its record goes to a partition chosen by its address pair, so
//! both directions of a conversation travel in the same partition.
//!
//! With `names`, the probe also reads each flow's first payloads (a flow cache of its own with
//! the engine's flow settings, so that its flows begin and end where the engine's do) and sends
//! a flow's application and server name with the record of the packet that told them: the
//! engine receives records, never payloads.

use super::wire::{CaptureStats, FlowName, PacketBatch, RECORD_VERSION};
use crate::app::lock_names;
use crate::capture::{CaptureError, CaptureReader, Frame};
use crate::decode::{self, Decoded};
use crate::flow::{FlowCache, FlowConfig, Segment};
use crate::hash::{derived_seed, murmur3_32};
use crate::record::{flag, PacketRecord};
use crate::table::FragmentPorts;

pub const FRAME_HEADER_LEN: usize = 16;

/// Most partitions a probe may split its stream into.
pub const MAX_PARTITIONS: u32 = 1024;
/// Most packets in one batch (64 B each: 4 MiB).
pub const MAX_BATCH_PACKETS: u32 = 65_536;

#[derive(Clone, Debug)]
pub struct BatchConfig {
    pub probe_id: String,
    pub interface: String,
    pub partitions: u32,
    /// A partition's batch is sealed when it holds this many packets.
    pub batch_packets: u32,
    pub seed: u64,
    /// Read flows' first payloads for their application and server name, in a flow cache of
    /// these settings (the engine's); None: no names.
    pub names: Option<FlowConfig>,
}

/// A flow's names as a batch carries them.
#[derive(Clone, Debug)]
struct OwnedName {
    index: u32,
    app: u8,
    server_name: String,
    alpn: String,
}

impl BatchConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.probe_id.is_empty() || self.probe_id.len() > 255 {
            return Err("probe id must be 1 to 255 bytes".into());
        }
        if !(1..=MAX_PARTITIONS).contains(&self.partitions) {
            return Err(format!("partitions {} is outside 1..{MAX_PARTITIONS}", self.partitions));
        }
        if !(1..=MAX_BATCH_PACKETS).contains(&self.batch_packets) {
            return Err(format!("batch of {} packets is outside 1..{MAX_BATCH_PACKETS}", self.batch_packets));
        }
        Ok(())
    }
}

/// One message ready to publish.
pub struct SealedBatch {
    pub partition: u32,
    pub sequence: u64,
    pub packets: u32,
    pub message: Vec<u8>,
}

struct Recorder {
    decoded: Decoded,
    fragments: FragmentPorts,
    pair_seed: u32,
    partitions: u32,
    batch_len: usize,
    /// Encoded records per partition, and the full batches waiting for `take`.
    open: Vec<Vec<u8>>,
    sealed: Vec<(u32, Vec<u8>, Vec<OwnedName>)>,
    packets: u64,
    /// Flows followed for their names, and the names of each open batch.
    names: Option<FlowCache>,
    open_names: Vec<Vec<OwnedName>>,
    scratch: Vec<Segment>,
}

impl Recorder {
    #[inline]
    fn add(&mut self, data: &[u8], ts_ns: u64, has_ts: bool, wire_len: u32, link_type: u32, interface: u16) {
        decode::decode(data, link_type, &mut self.decoded);
        let mut r = self.decoded.record(ts_ns, wire_len, data.len() as u32, interface);
        self.fragments.fill(&self.decoded, &mut r);
        if !has_ts {
            r.flags |= flag::NO_TIME;
        }
        let p = self.partition(&r);
        if let Some(cache) = &mut self.names {
            cache.add_payload(&r, self.decoded.payload(data), self.decoded.tcp_seq);
            if let Some(told) = cache.take_news() {
                let names = lock_names(cache.inspector().names());
                self.open_names[p].push(OwnedName {
                    index: (self.open[p].len() / PacketRecord::ENCODED_LEN) as u32,
                    app: told.app as u8,
                    server_name: names.get(told.name).unwrap_or("").to_string(),
                    alpn: names.get(told.alpn).unwrap_or("").to_string(),
                });
            }
            // The cache's shares of windows are not wanted here.
            if cache.has_ended() {
                cache.take_ended(&mut self.scratch);
                self.scratch.clear();
            }
        }
        let open = &mut self.open[p];
        if open.capacity() == 0 {
            open.reserve_exact(self.batch_len);
        }
        let mut buf = [0u8; PacketRecord::ENCODED_LEN];
        r.encode(&mut buf);
        open.extend_from_slice(&buf);
        self.packets += 1;
        if open.len() >= self.batch_len {
            let full = std::mem::take(open);
            self.sealed.push((p as u32, full, std::mem::take(&mut self.open_names[p])));
        }
    }

    /// The same for both directions: the hash of the lower address then the higher.
    #[inline]
    fn partition(&self, r: &PacketRecord) -> usize {
        if self.partitions == 1 {
            return 0;
        }
        let (a, b) = if (r.src.family as u8, r.src.bytes) <= (r.dst.family as u8, r.dst.bytes) {
            (r.src, r.dst)
        } else {
            (r.dst, r.src)
        };
        let mut key = [0u8; 34];
        key[0] = a.family as u8;
        key[1..17].copy_from_slice(&a.bytes);
        key[17] = b.family as u8;
        key[18..34].copy_from_slice(&b.bytes);
        (murmur3_32(self.pair_seed, &key) % self.partitions) as usize
    }
}

pub struct BatchBuilder {
    cfg: BatchConfig,
    reader: CaptureReader,
    recorder: Recorder,
    sequence: u64,
}

impl BatchBuilder {
    pub fn new(cfg: BatchConfig) -> Result<BatchBuilder, String> {
        cfg.validate()?;
        let recorder = Recorder {
            decoded: Decoded::default(),
            fragments: FragmentPorts::new(65_536, cfg.seed),
            pair_seed: derived_seed(cfg.seed, 200),
            partitions: cfg.partitions,
            batch_len: cfg.batch_packets as usize * PacketRecord::ENCODED_LEN,
            open: vec![Vec::new(); cfg.partitions as usize],
            sealed: Vec::new(),
            packets: 0,
            names: cfg.names.clone().map(|flows| {
                let mut cache = FlowCache::new(flows);
                cache.discard_records();
                cache
            }),
            open_names: vec![Vec::new(); cfg.partitions as usize],
            scratch: Vec::new(),
        };
        Ok(BatchBuilder { cfg, reader: CaptureReader::new(), recorder, sequence: 0 })
    }

    /// Decodes a buffer of framed packets (see the module doc); returns how many it held. A
    /// buffer that ends inside a frame is refused whole, with the offset of that frame.
    pub fn add_frames(&mut self, frames: &[u8], link_type: u32, interface: u16) -> Result<u32, String> {
        let mut at = 0;
        let mut n = 0u32;
        // Check the framing first, so a bad buffer adds nothing.
        while at < frames.len() {
            let Some(h) = frames.get(at..at + FRAME_HEADER_LEN) else {
                return Err(format!("frame buffer ends inside the header of frame {n} at byte {at}"));
            };
            let cap_len = u32::from_le_bytes([h[12], h[13], h[14], h[15]]) as usize;
            if frames.len() - at - FRAME_HEADER_LEN < cap_len {
                return Err(format!(
                    "frame {n} at byte {at} claims {cap_len} captured bytes past the end of the buffer"
                ));
            }
            at += FRAME_HEADER_LEN + cap_len;
            n += 1;
        }
        at = 0;
        while at < frames.len() {
            let h = &frames[at..at + FRAME_HEADER_LEN];
            let ts_ns = u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
            let wire_len = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
            let cap_len = u32::from_le_bytes([h[12], h[13], h[14], h[15]]) as usize;
            let data = &frames[at + FRAME_HEADER_LEN..at + FRAME_HEADER_LEN + cap_len];
            self.recorder.add(data, ts_ns, true, wire_len, link_type, interface);
            at += FRAME_HEADER_LEN + cap_len;
        }
        Ok(n)
    }

    /// Starts reading a capture file (its packets are batched like live frames).
    pub fn begin_capture(&mut self) {
        self.reader = CaptureReader::new();
    }

    pub fn add_capture(&mut self, chunk: &[u8]) -> Result<(), CaptureError> {
        let rec = &mut self.recorder;
        self.reader.feed(chunk, |f: &Frame<'_>| {
            rec.add(f.data, f.ts_ns, f.has_ts, f.wire_len, f.link_type, f.interface as u16)
        })
    }

    pub fn end_capture(&mut self) -> Result<(), CaptureError> {
        self.reader.finish()
    }

    /// Packets decoded so far.
    pub fn packets(&self) -> u64 {
        self.recorder.packets
    }

    /// Packets decoded but not yet taken.
    pub fn pending(&self) -> u64 {
        let open: usize = self.recorder.open.iter().map(Vec::len).sum();
        let sealed: usize = self.recorder.sealed.iter().map(|(_, b, _)| b.len()).sum();
        ((open + sealed) / PacketRecord::ENCODED_LEN) as u64
    }

    /// The full batches, and with `all` the partly filled ones too, as messages numbered in the
    /// order they are returned.
    pub fn take(&mut self, all: bool, stats: &CaptureStats, sent_ns: u64) -> Vec<SealedBatch> {
        let rec = &mut self.recorder;
        if all {
            for (p, open) in rec.open.iter_mut().enumerate() {
                if !open.is_empty() {
                    rec.sealed.push((p as u32, std::mem::take(open), std::mem::take(&mut rec.open_names[p])));
                }
            }
        }
        if let Some(cache) = &mut rec.names {
            cache.window_segments(true, &mut rec.scratch);
            rec.scratch.clear();
        }
        let sealed = std::mem::take(&mut rec.sealed);
        sealed
            .into_iter()
            .map(|(partition, records, names)| {
                self.sequence += 1;
                let batch = PacketBatch {
                    version: RECORD_VERSION,
                    probe_id: &self.cfg.probe_id,
                    sequence: self.sequence,
                    partition,
                    partitions: self.cfg.partitions,
                    interface: &self.cfg.interface,
                    records: &records,
                    stats: *stats,
                    sent_ns,
                    names: names
                        .iter()
                        .map(|n| FlowName { index: n.index, app: n.app, server_name: &n.server_name, alpn: &n.alpn })
                        .collect(),
                };
                let mut message = Vec::with_capacity(records.len() + 128);
                batch.encode(&mut message);
                SealedBatch {
                    partition,
                    sequence: self.sequence,
                    packets: (records.len() / PacketRecord::ENCODED_LEN) as u32,
                    message,
                }
            })
            .collect()
    }
}
