//! What the flow cache hands out: one [`FlowRecord`] per finished flow (or per slice of a flow
//! cut by the active timeout), its [`FlowState`] and [`EndReason`], and the [`FlowKey`] flows are
//! found by.

use super::community_id::CommunityId;
use crate::addr::Addr;
use crate::app::mmdb::Geo;
use crate::app::{App, NameTable};
use crate::json::{epoch_text, Json};
use crate::names;
use core::hash::{Hash, Hasher};

/// A flow's identity. Endpoints in canonical order (the smaller address, then port, is `a`), as
/// in the conversation table, except one-way ICMP messages, which keep sender first. `ports` is
/// false when the transport header was not read (cut, malformed, or a later fragment whose first
/// fragment was not seen): such packets form their own flow with ports 0, apart from real port 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FlowKey {
    pub a: Addr,
    pub b: Addr,
    pub proto: u8,
    pub port_a: u16,
    pub port_b: u16,
    pub ports: bool,
}

impl Hash for FlowKey {
    /// Five words, as `ConvKey` hashes (both families share the 16-byte form).
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.a.hash_words(state);
        self.b.hash_words(state);
        state.write_u64(
            (self.a.family as u64)
                | (self.proto as u64) << 8
                | (self.port_a as u64) << 16
                | (self.port_b as u64) << 32
                | (self.ports as u64) << 48,
        );
    }
}

/// Where a flow stands. TCP flows move through the first six; every other protocol is `Active`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlowState {
    /// TCP without a SYN seen: picked up mid-connection.
    New,
    /// A SYN (or SYN-ACK) seen, the handshake not completed.
    SynSent,
    /// The handshake's final ACK seen.
    Established,
    /// A FIN seen in one direction.
    Closing,
    /// FINs seen in both directions.
    Closed,
    /// A RST seen (from either side).
    Reset,
    /// Not TCP: no state beyond having packets.
    Active,
}

impl FlowState {
    pub fn name(self) -> &'static str {
        match self {
            FlowState::New => "new",
            FlowState::SynSent => "synSent",
            FlowState::Established => "established",
            FlowState::Closing => "closing",
            FlowState::Closed => "closed",
            FlowState::Reset => "reset",
            FlowState::Active => "active",
        }
    }

    /// The reason a flow in this state ends by itself (TCP closed or reset), if any.
    pub fn end_reason(self) -> Option<EndReason> {
        match self {
            FlowState::Closed => Some(EndReason::Fin),
            FlowState::Reset => Some(EndReason::Rst),
            _ => None,
        }
    }
}

/// Why a record was finalized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndReason {
    /// TCP FINs from both sides.
    Fin,
    /// TCP RST.
    Rst,
    /// No packet for the idle timeout of the flow's protocol.
    IdleTimeout,
    /// The record reached the active timeout; the flow continues in a new record.
    ActiveTimeout,
    /// The cache was full and this was the least recently seen flow.
    Eviction,
    /// Flushed at the end of the input.
    EndOfInput,
}

impl EndReason {
    pub const COUNT: usize = 6;
    pub const ALL: [EndReason; EndReason::COUNT] = [
        EndReason::Fin,
        EndReason::Rst,
        EndReason::IdleTimeout,
        EndReason::ActiveTimeout,
        EndReason::Eviction,
        EndReason::EndOfInput,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::IdleTimeout => "idleTimeout",
            EndReason::ActiveTimeout => "activeTimeout",
            EndReason::Eviction => "eviction",
            EndReason::EndOfInput => "endOfInput",
        }
    }
}

/// Names a record is written with outside the cache (see [`FlowRecord::write_json_in`]).
pub struct RecordContext<'a> {
    pub probe: &'a str,
    pub interface: &'a str,
    pub direction: &'a str,
    /// The flow is still in the cache (a page of the live flow table).
    pub open: bool,
    /// The table the record's name ids are in.
    pub names: &'a NameTable,
    /// Country and AS databases of the endpoints, when configured.
    pub geo: Option<&'a Geo>,
}

/// One finished flow, or one active-timeout slice of a long one. Endpoint A is the source of
/// the flow's first packet (tshark's convention); for ICMP the ports are the Community ID's
/// (type, counterpart type) or (type, code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    pub a: Addr,
    pub port_a: u16,
    pub b: Addr,
    pub port_b: u16,
    pub proto: u8,
    /// Time of the first and last timed packet; `None` when every packet lacked a time.
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
    pub packets_ab: u64,
    pub bytes_ab: u64,
    pub packets_ba: u64,
    pub bytes_ba: u64,
    /// TCP flags seen from A and from B (OR of every packet of this record).
    pub tcp_flags_ab: u8,
    pub tcp_flags_ba: u8,
    pub state: FlowState,
    pub reason: EndReason,
    /// With the cache's seed; `None` when the spec cannot hash the flow (ports not read).
    pub community_id: Option<CommunityId>,
    /// Capture interface and outermost VLAN of the flow's first packet.
    pub interface: u16,
    pub vlan: u16,
    /// The transport header gave the ports (the Community ID needs them).
    pub(crate) ports: bool,
    /// What the flow's first payloads told: the application, and the server name (SNI, HTTP
    /// Host, DNS query name) and first ALPN protocol as ids in the cache's name table (0: none).
    pub app: App,
    pub server_name: u32,
    pub alpn: u32,
}

impl FlowRecord {
    pub fn packets(&self) -> u64 {
        self.packets_ab + self.packets_ba
    }

    pub fn bytes(&self) -> u64 {
        self.bytes_ab + self.bytes_ba
    }

    /// The order records finalized together leave in: last time, then endpoints and protocol.
    /// The record's Community ID, hashed now (a SHA-1: only for records that are shown or
    /// stored).
    pub fn with_community_id(self, seed: u16) -> FlowRecord {
        let (a, b, pa, pb) = (self.a, self.b, self.port_a, self.port_b);
        FlowRecord {
            community_id: super::community_id::community_id(seed, a, b, self.proto, self.ports.then_some((pa, pb))),
            ..self
        }
    }

    /// The service the flow is for: the name of B's port (the responder's), else of A's.
    pub fn service(&self) -> Option<&'static str> {
        if !self.ports {
            return None;
        }
        let proto = Some(self.proto);
        names::service(proto, self.port_b).or_else(|| names::service(proto, self.port_a))
    }

    pub(crate) fn sort_key(&self) -> (Option<u64>, Addr, u16, Addr, u16, u8) {
        (self.last_ns, self.a, self.port_a, self.b, self.port_b, self.proto)
    }

    /// The record as a JSON object (an element of the caller's current array, or the document);
    /// `src` is endpoint A. The interface is its index, as the record holds it.
    pub fn write_json(&self, j: &mut Json) {
        self.write_json_in(j, None);
    }

    /// As [`FlowRecord::write_json`], with the names and direction a [`FlowMeter`](super::FlowMeter)
    /// knows: the interface as its name, the probe, and the direction; `reason` is "open" for a
    /// flow still in the cache.
    pub fn write_json_in(&self, j: &mut Json, ctx: Option<&RecordContext<'_>>) {
        j.begin_object(None);
        match &self.community_id {
            Some(id) => j.str("communityId", id.as_str()),
            None => j.null("communityId"),
        }
        j.str("srcIp", &self.a.to_string());
        j.u64("srcPort", self.port_a as u64);
        j.str("dstIp", &self.b.to_string());
        j.u64("dstPort", self.port_b as u64);
        j.u64("proto", self.proto as u64);
        j.str("protoName", names::ip_proto(self.proto).unwrap_or(""));
        j.str("service", self.service().unwrap_or(""));
        match (self.first_ns, self.last_ns) {
            (Some(first), Some(last)) => {
                j.str("firstTime", &epoch_text(first));
                j.str("lastTime", &epoch_text(last));
            }
            _ => {
                j.null("firstTime");
                j.null("lastTime");
            }
        }
        j.u64("packetsAtoB", self.packets_ab);
        j.u64("bytesAtoB", self.bytes_ab);
        j.u64("packetsBtoA", self.packets_ba);
        j.u64("bytesBtoA", self.bytes_ba);
        j.str("tcpFlagsAtoB", &names::tcp_flags(self.tcp_flags_ab));
        j.str("tcpFlagsBtoA", &names::tcp_flags(self.tcp_flags_ba));
        j.str("state", self.state.name());
        match ctx {
            None => {
                j.str("reason", self.reason.name());
                j.u64("interface", self.interface as u64);
            }
            Some(c) => {
                j.str("reason", if c.open { "open" } else { self.reason.name() });
                j.str("probe", c.probe);
                j.str("interface", c.interface);
            }
        }
        j.u64("vlan", self.vlan as u64);
        if let Some(c) = ctx {
            j.str("direction", c.direction);
            j.str("app", self.app.name());
            j.str("serverName", c.names.get(self.server_name).unwrap_or(""));
            j.str("alpn", c.names.get(self.alpn).unwrap_or(""));
            let (a, b) = c.geo.map(|g| (g.lookup(&self.a), g.lookup(&self.b))).unwrap_or_default();
            j.str("srcCountry", &a.country);
            j.str("dstCountry", &b.country);
            j.u64("srcAs", a.asn as u64);
            j.u64("dstAs", b.asn as u64);
            j.str("srcAsName", &a.as_name);
            j.str("dstAsName", &b.as_name);
        }
        j.end_object();
    }

    pub fn to_json(&self) -> String {
        let mut j = Json::new();
        self.write_json(&mut j);
        j.finish()
    }
}
