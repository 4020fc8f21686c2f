//! Exact aggregation tables, kept in hash maps with the seeded [`crate::hash::FlowHasher`].

mod conversation;
mod exact;
mod fragments;
mod hosts;

pub use conversation::{ConvKey, ConvStats, ConvUpdate, ConversationTable};
pub use exact::{ExactStats, ExactTable};
pub use fragments::FragmentPorts;
pub use hosts::{HostStats, HostTable};
