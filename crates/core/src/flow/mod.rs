//! Flow records: packets grouped into bidirectional flows that end, as NetFlow/IPFIX exporters,
//! Zeek and Suricata end them, and leave as records with the Community ID that lets them be
//! joined with those tools' logs. The conversation table counts a whole capture per 5-tuple;
//! a flow cache is bounded in memory and time, so it can run on a live stream forever.
//!
//! Input is the [`PacketRecord`](crate::PacketRecord) of each packet, in capture order, as
//! `Analysis` and `BatchBuilder` make them (later fragments already carry their datagram's
//! ports). A record describes the innermost flow only, so unlike the conversation table the
//! cache does not count tunnel endpoints.
//!
//! - **Key**: addresses, protocol and ports in canonical order, as the conversation table keys
//!   them. A packet whose transport header was not read (cut, malformed, a later fragment whose
//!   first fragment was not seen) goes to a flow of its addresses and protocol without ports,
//!   the conversation table's ports-0 row. ICMP and ICMPv6 use type and code as ports the way
//!   the Community ID does: echo request and reply (and the other paired types) are one flow;
//!   any other type is one-way, a flow per sender. (The decoder leaves ICMP's `HAS_PORTS`
//!   unset, so the conversation table puts all ICMP in ports 0; here type and code are read
//!   from the record's destination port.) Interface and VLAN are not part of the key; a record
//!   carries those of its first packet.
//! - **Direction**: endpoint A of a record is the source of the flow's first packet (tshark's
//!   convention), also when that is a SYN-ACK: no guessing of the initiator.
//! - **TCP state**: `New` (no SYN seen) -> `SynSent` -> `Established` (an ACK answering the
//!   SYN-ACK) -> `Closing` (a FIN) -> `Closed` (FINs both ways); a RST from either side gives
//!   `Reset`. Other protocols are `Active`.
//! - **Finalization**, by [`EndReason`]: `Fin`/`Rst` once a closed or reset flow has lingered
//!   `closed_linger_ns` without packets (default 5 s, Zeek's close delay), so the last ACK and
//!   retransmissions stay in it instead of starting a flow of their own; a SYN on a lingering
//!   flow's ports finalizes it at once and starts a new flow; with a linger of 0 the record ends
//!   at the packet that closes it. `IdleTimeout` per protocol (TCP 120 s, UDP 30 s, ICMP 10 s,
//!   other 30 s). `ActiveTimeout`: a record older than `active_ns` (30 min) ends at the flow's
//!   next packet, which starts the next record of the same flow (same A, same state).
//!   `Eviction`: when `max_flows` are held, a new flow first finalizes a lingering closed flow
//!   (with its own reason), else the least recently seen flow. `EndOfInput`: [`FlowCache::flush`].
//! - **Time** is packet time: each timed packet moves the clock forward (never back), and the
//!   flows idle at the new time are finalized before the packet is counted. A packet older than
//!   the clock (out of order) is counted in its flow and its time widens the record's
//!   first/last times, but the clock stays. A packet without time (`NO_TIME`) is counted at the
//!   current clock; idle and active timeouts are measured on the clock (the time a flow was last
//!   touched), so a late packet keeps its flow alive as of now.
//! - **Order**: records leave in the order they are finalized; those finalized together (by
//!   one clock step, or by `flush`) are ordered by last time, then endpoints and protocol. The
//!   order depends only on the input, never on hash-map iteration.
//!
//! Expiry and eviction are O(1) per packet (amortized over finished flows); `cache.rs` says how.

mod cache;
pub mod community_id;
mod meter;
mod output;
mod record;

pub use cache::{FlowCache, FlowConfig, FlowCounters, Segment, SegmentKey, Touch};
pub use community_id::CommunityId;
pub use meter::{direction, FlowMeter, FlowMeterConfig, FlowQuery, FlowSort, MAX_FLOW_PAGE};
pub use output::{hash_records, FlowOut, FlowOutput, FlowSummary, TakenFlows};
pub use record::{EndReason, FlowRecord, FlowState, RecordContext};
