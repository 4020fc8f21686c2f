//! Packet batches between probes and engines: the probe side decodes captured frames (or a
//! capture file) into packed records and cuts them into `PacketBatch` messages, one stream per
//! partition; the engine side parses those messages and runs its tasks over the records.

mod builder;
mod ingest;
pub mod seconds;
mod wire;

pub use builder::{BatchBuilder, BatchConfig, SealedBatch, FRAME_HEADER_LEN};
pub use ingest::{Applied, BatchIngest};
pub use wire::{CaptureStats, PacketBatch, WireError, RECORD_VERSION};
