//! Why a frame could not be decoded to the end, and the counters of those reasons.

use core::fmt;

/// The protocol layer where decoding stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    LinkType,
    Ethernet,
    Vlan,
    Mpls,
    Pppoe,
    Ppp,
    LinuxSll,
    Null,
    Ipv4,
    Ipv6,
    Ipv6Ext,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmpv6,
    Gre,
    Vxlan,
    Geneve,
    Teredo,
    GtpU,
    Tunnel,
}

impl Proto {
    pub fn name(self) -> &'static str {
        use Proto::*;
        match self {
            LinkType => "link type",
            Ethernet => "Ethernet",
            Vlan => "802.1Q/802.1ad",
            Mpls => "MPLS",
            Pppoe => "PPPoE",
            Ppp => "PPP",
            LinuxSll => "Linux cooked",
            Null => "BSD loopback",
            Ipv4 => "IPv4",
            Ipv6 => "IPv6",
            Ipv6Ext => "IPv6 extension header",
            Tcp => "TCP",
            Udp => "UDP",
            Sctp => "SCTP",
            Icmp => "ICMP",
            Icmpv6 => "ICMPv6",
            Gre => "GRE",
            Vxlan => "VXLAN",
            Geneve => "Geneve",
            Teredo => "Teredo",
            GtpU => "GTP-U",
            Tunnel => "tunnel",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProblemKind {
    /// The captured bytes end inside a header (snaplen or a cut frame).
    Truncated,
    /// A header breaks its protocol's rules.
    Malformed,
    /// A link type or encapsulation this decoder does not read.
    Unsupported,
}

impl ProblemKind {
    pub fn name(self) -> &'static str {
        match self {
            ProblemKind::Truncated => "truncated",
            ProblemKind::Malformed => "malformed",
            ProblemKind::Unsupported => "unsupported",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Problem {
    pub kind: ProblemKind,
    pub proto: Proto,
    /// The rule that was broken, e.g. "header length under 20 bytes".
    pub reason: &'static str,
    /// The offending value where there is one (a link type, a length), else 0.
    pub value: u32,
}

impl Problem {
    pub fn truncated(proto: Proto) -> Problem {
        Problem { kind: ProblemKind::Truncated, proto, reason: "header cut short", value: 0 }
    }

    pub fn malformed(proto: Proto, reason: &'static str) -> Problem {
        Problem { kind: ProblemKind::Malformed, proto, reason, value: 0 }
    }

    pub fn malformed_value(proto: Proto, reason: &'static str, value: u32) -> Problem {
        Problem { kind: ProblemKind::Malformed, proto, reason, value }
    }

    pub fn unsupported(proto: Proto, reason: &'static str, value: u32) -> Problem {
        Problem { kind: ProblemKind::Unsupported, proto, reason, value }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.kind.name(), self.proto.name(), self.reason)?;
        if self.value != 0 || self.kind == ProblemKind::Unsupported {
            write!(f, " ({})", self.value)?;
        }
        Ok(())
    }
}

/// Counts of decode problems by kind, layer, reason and value. Problems are rare, so a short
/// list searched linearly is enough and keeps the report in first-seen order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    entries: Vec<(Problem, u64)>,
}

impl DecodeStats {
    pub fn count(&mut self, p: Problem) {
        if let Some(e) = self.entries.iter_mut().find(|(q, _)| *q == p) {
            e.1 += 1;
        } else {
            self.entries.push((p, 1));
        }
    }

    pub fn entries(&self) -> &[(Problem, u64)] {
        &self.entries
    }

    pub fn total(&self, kind: ProblemKind) -> u64 {
        self.entries.iter().filter(|(p, _)| p.kind == kind).map(|(_, n)| n).sum()
    }

    pub fn merge(&mut self, other: &DecodeStats) {
        for &(p, n) in &other.entries {
            if let Some(e) = self.entries.iter_mut().find(|(q, _)| *q == p) {
                e.1 += n;
            } else {
                self.entries.push((p, n));
            }
        }
    }
}
