//! NetSpectra core: the hot path, with no I/O.
//!
//! Layers, bottom up: capture-file framing ([`capture`]) -> link/network/transport decode
//! ([`decode`]) -> one owned [`PacketRecord`] per packet -> aggregation tables ([`table`]).
//! Callers (the napi and wasm bindings) hand in large byte chunks and read back compact results;
//! nothing here allocates per packet or panics on any input.
#![forbid(unsafe_code)]

pub mod addr;
pub mod analysis;
pub mod app;
pub mod batch;
pub mod bytes;
pub mod capture;
pub mod decode;
pub mod engine;
pub mod extract;
pub mod flow;
pub mod hash;
pub mod json;
pub mod key;
pub mod names;
pub mod options;
pub mod record;
pub mod rows;
pub mod sketch;
pub mod table;

pub use addr::{Addr, Family};
pub use analysis::FrameFilter;
pub use record::PacketRecord;
