//! Names from the traffic: which application a flow speaks and the server name it asked for.
//!
//! The flow cache hands each flow's first payloads to an [`Inspector`]: DNS over UDP and TCP
//! (the query name; the answers' addresses go to a passive-DNS table), the TLS ClientHello's
//! server name (SNI) and ALPN, also when the hello spans TCP segments, and HTTP/1.x's method and
//! Host; QUIC v1 and v2 client Initial packets, decrypted with the keys RFC 9001 derives from
//! the connection id (`quic.rs`, primitives in `crypto.rs`), for the ClientHello's SNI and ALPN,
//! also when it spans Initial packets. A flow is looked at for its first [`LOOK_PACKETS`]
//! payloads at most, so the cost per packet stays flat.
//!
//! Names are interned in a [`NameTable`] shared with the flow output, so a record stays a small
//! `Copy` value that carries name ids.

mod crypto;
pub mod dns;
pub mod http;
pub mod mmdb;
pub mod quic;
pub mod tls;

use crate::addr::Addr;
use crate::hash::{flow_map, FlowMap};
use crate::record::{flag, PacketRecord};
use std::sync::{Arc, Mutex};

/// The application of a flow, as far as its first payloads tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum App {
    #[default]
    Unknown = 0,
    Dns = 1,
    Tls = 2,
    Http = 3,
    Quic = 4,
}

impl App {
    /// From its number on the wire (`PacketBatch.names`); unknown numbers are `Unknown`.
    pub fn from_u8(v: u8) -> App {
        match v {
            1 => App::Dns,
            2 => App::Tls,
            3 => App::Http,
            4 => App::Quic,
            _ => App::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            App::Unknown => "",
            App::Dns => "DNS",
            App::Tls => "TLS",
            App::Http => "HTTP",
            App::Quic => "QUIC",
        }
    }
}

/// Payload-carrying packets of a flow looked at, at most.
pub const LOOK_PACKETS: u8 = 8;
const DONE: u8 = u8::MAX;
/// Flows whose first bytes are being gathered (a TLS hello over several segments), at most.
const MAX_PENDING: usize = 4096;
/// Distinct names kept (beyond, a new name is counted and not kept).
const MAX_NAMES: usize = 1 << 20;
/// Addresses in the passive-DNS table, at most.
const MAX_PASSIVE: usize = 1 << 20;

/// What a flow's payloads told so far. Kept in the flow's cache slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub app: App,
    /// Server name (SNI, Host or DNS query name) and ALPN as [`NameTable`] ids; 0: none.
    pub name: u32,
    pub alpn: u32,
    looked: u8,
}

impl Seen {
    /// The same application and names (however far the reading got).
    pub fn same_names(&self, other: &Seen) -> bool {
        (self.app, self.name, self.alpn) == (other.app, other.name, other.alpn)
    }
}

/// Interned names: id `n` is `list[n - 1]`.
#[derive(Debug)]
pub struct NameTable {
    list: Vec<Box<str>>,
    index: FlowMap<Box<str>, u32>,
    pub dropped: u64,
}

impl Default for NameTable {
    fn default() -> NameTable {
        NameTable::new(0)
    }
}

impl NameTable {
    /// `seed`: of the index's hash (names come from the traffic: a seed per run keeps crafted
    /// collisions out).
    pub fn new(seed: u64) -> NameTable {
        NameTable { list: Vec::new(), index: flow_map(seed), dropped: 0 }
    }

    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        if self.list.len() >= MAX_NAMES {
            self.dropped += 1;
            return 0;
        }
        self.list.push(name.into());
        let id = self.list.len() as u32;
        self.index.insert(name.into(), id);
        id
    }

    pub fn get(&self, id: u32) -> Option<&str> {
        id.checked_sub(1).and_then(|i| self.list.get(i as usize)).map(|s| &**s)
    }
}

pub type SharedNames = Arc<Mutex<NameTable>>;

/// The table, also after a thread panicked holding it (it is only ever appended to).
pub fn lock_names(names: &SharedNames) -> std::sync::MutexGuard<'_, NameTable> {
    names.lock().unwrap_or_else(|e| e.into_inner())
}

/// Payloads that did not parse, by protocol and reason (first reason of each kind kept).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppProblems {
    pub dns: u64,
    pub tls: u64,
    pub http: u64,
    pub quic: u64,
    /// Payloads cut by the capture's snap length or a fragment boundary: not judged.
    pub cut: u64,
    /// Hellos not gathered because too many flows were being gathered at once.
    pub not_gathered: u64,
    pub reasons: Vec<(&'static str, &'static str, u64)>,
}

impl AppProblems {
    fn count(&mut self, proto: &'static str, why: &'static str) {
        match proto {
            "DNS" => self.dns += 1,
            "TLS" => self.tls += 1,
            "QUIC" => self.quic += 1,
            _ => self.http += 1,
        }
        match self.reasons.iter_mut().find(|(p, w, _)| *p == proto && *w == why) {
            Some(r) => r.2 += 1,
            None => self.reasons.push((proto, why, 1)),
        }
    }
}

/// A flow's first bytes in one direction, gathered in sequence order.
#[derive(Clone, Debug)]
struct Pending {
    dir: u8,
    next_seq: u32,
    bytes: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct Inspector {
    names: SharedNames,
    pending: FlowMap<u32, Pending>,
    /// QUIC connections whose ClientHello is being gathered from Initial packets, with the
    /// client's direction (the server's Initials have keys of their own).
    quic: FlowMap<u32, (u8, quic::Crypto)>,
    /// Address -> the name a client resolved it from (the last answer seen).
    pub passive: FlowMap<Addr, u32>,
    pub problems: AppProblems,
}

const UDP: u8 = 17;
const TCP: u8 = 6;

impl Inspector {
    pub fn new(names: SharedNames, seed: u64) -> Inspector {
        Inspector {
            names,
            pending: flow_map(seed),
            quic: flow_map(seed),
            passive: flow_map(seed),
            problems: AppProblems::default(),
        }
    }

    pub fn names(&self) -> &SharedNames {
        &self.names
    }

    /// Looks at one payload of the flow in `slot` (`dir`: its direction in the flow).
    pub fn inspect(&mut self, seen: &mut Seen, slot: u32, dir: u8, r: &PacketRecord, payload: &[u8], tcp_seq: u32) {
        if seen.looked == DONE || payload.is_empty() {
            return;
        }
        if seen.looked == 0 {
            // The slot's previous flow may have left bytes behind.
            self.pending.remove(&slot);
            self.quic.remove(&slot);
        }
        seen.looked += 1;
        if seen.looked > LOOK_PACKETS {
            self.finish(seen, slot);
            return;
        }
        // A cut payload says nothing about the protocol's format.
        let cut = r.cap_len < r.wire_len || r.flags & flag::FRAGMENT != 0;
        let port = |p: u16| r.src_port == p || r.dst_port == p;
        match r.proto {
            UDP if port(53) || port(5353) || port(5355) => self.dns(seen, payload, cut),
            UDP if quic::is_long_header(payload) => self.quic(seen, slot, dir, payload, cut),
            // SSDP and other HTTP over UDP: one datagram, one request.
            UDP if http::looks_like(payload).is_some() => {
                if let http::Request::Head { host, .. } = http::request(payload) {
                    seen.app = App::Http;
                    seen.name = host.map_or(0, |h| self.intern(&h));
                }
                self.finish(seen, slot);
            }
            TCP if port(53) => {
                // Two bytes of length, then the message (the first segment's message only).
                if payload.len() > 2 {
                    let len = u16::from_be_bytes([payload[0], payload[1]]) as usize;
                    let msg = &payload[2..];
                    self.dns(seen, &msg[..len.min(msg.len())], cut || msg.len() < len);
                }
            }
            TCP => self.stream(seen, slot, dir, payload, tcp_seq, cut),
            _ => self.finish(seen, slot),
        }
    }

    fn finish(&mut self, seen: &mut Seen, slot: u32) {
        seen.looked = DONE;
        self.pending.remove(&slot);
        self.quic.remove(&slot);
    }

    /// A client Initial's CRYPTO frames, gathered until they hold the whole ClientHello.
    fn quic(&mut self, seen: &mut Seen, slot: u32, dir: u8, datagram: &[u8], cut: bool) {
        seen.app = App::Quic;
        let (client, mut crypto) = self.quic.remove(&slot).unwrap_or((dir, quic::Crypto::default()));
        if client != dir {
            // The server's packets: not the client's hello.
            self.quic.insert(slot, (client, crypto));
            return;
        }
        match quic::read_initials(datagram, &mut crypto) {
            Ok(()) => {}
            // A 0-RTT or Handshake packet: not the hello.
            Err("no Initial packet") => {
                self.quic.insert(slot, (client, crypto));
                return;
            }
            Err(_) if cut => {
                self.problems.cut += 1;
                return self.finish(seen, slot);
            }
            Err(why) => {
                self.problems.count("QUIC", why);
                return self.finish(seen, slot);
            }
        }
        let hello = crypto.contiguous();
        if hello.len() >= 4 {
            if hello[0] != 1 {
                self.problems.count("QUIC", "first CRYPTO message is not a ClientHello");
                return self.finish(seen, slot);
            }
            let len = 4 + ((hello[1] as usize) << 16 | (hello[2] as usize) << 8 | hello[3] as usize);
            if hello.len() >= len {
                match tls::parse_hello(&hello[4..len]) {
                    Ok((sni, alpn)) => {
                        seen.name = sni.map_or(0, |s| self.intern(&s));
                        seen.alpn = alpn.first().map_or(0, |a| self.intern(a));
                    }
                    Err(why) => self.problems.count("QUIC", why),
                }
                return self.finish(seen, slot);
            }
        }
        if self.quic.len() < MAX_PENDING {
            self.quic.insert(slot, (client, crypto));
        } else {
            self.problems.not_gathered += 1;
            self.finish(seen, slot);
        }
    }

    fn intern(&self, name: &str) -> u32 {
        lock_names(&self.names).intern(name)
    }

    fn dns(&mut self, seen: &mut Seen, msg: &[u8], cut: bool) {
        // A further query of a named flow tells nothing new (responses fill the passive table).
        if seen.name != 0 && msg.len() > 2 && msg[2] & 0x80 == 0 {
            return;
        }
        match dns::parse(msg) {
            Ok(m) => {
                seen.app = App::Dns;
                match m.problem {
                    Some(_) if cut => self.problems.cut += 1,
                    Some(why) => self.problems.count("DNS", why),
                    None => {}
                }
                if seen.name == 0 && !m.qname.is_empty() {
                    seen.name = self.intern(&m.qname);
                }
                if m.response && !m.qname.is_empty() {
                    let id = if seen.name != 0 { seen.name } else { self.intern(&m.qname) };
                    for a in &m.answers {
                        let addr = match a.data {
                            dns::AnswerData::A(x) => Addr::v4(x),
                            dns::AnswerData::Aaaa(x) => Addr::v6(x),
                            dns::AnswerData::Cname(_) => continue,
                        };
                        if self.passive.len() < MAX_PASSIVE || self.passive.contains_key(&addr) {
                            self.passive.insert(addr, id);
                        }
                    }
                }
            }
            Err(_) if cut => self.problems.cut += 1,
            Err(why) => self.problems.count("DNS", why),
        }
    }

    fn stream(&mut self, seen: &mut Seen, slot: u32, dir: u8, payload: &[u8], seq: u32, cut: bool) {
        let next_seq = seq.wrapping_add(payload.len() as u32);
        match self.pending.remove(&slot) {
            Some(mut p) if p.dir == dir => {
                let ahead = seq.wrapping_sub(p.next_seq);
                if ahead != 0 && ahead < 1 << 31 {
                    // A gap (a segment lost or not captured): the hello cannot be completed.
                    self.finish(seen, slot);
                    return;
                }
                // Bytes already gathered (a retransmission) are skipped.
                let behind = p.next_seq.wrapping_sub(seq) as usize;
                if behind >= payload.len() {
                    self.pending.insert(slot, p);
                    return;
                }
                p.bytes.extend_from_slice(&payload[behind..]);
                p.next_seq = next_seq;
                if self.read_start(seen, &p.bytes, cut) {
                    self.pending.insert(slot, p);
                } else {
                    self.finish(seen, slot);
                }
            }
            // The other direction while one is gathered: not what is waited for.
            Some(p) => {
                self.pending.insert(slot, p);
            }
            None if tls::looks_like(payload) || http::looks_like(payload).is_some() => {
                if !self.read_start(seen, payload, cut) {
                    self.finish(seen, slot);
                } else if self.pending.len() < MAX_PENDING {
                    self.pending.insert(slot, Pending { dir, next_seq, bytes: payload.to_vec() });
                } else {
                    self.problems.not_gathered += 1;
                    self.finish(seen, slot);
                }
            }
            // Not the start of a protocol read here (mid-connection, or the server speaks first).
            None => {}
        }
    }

    /// Reads a TLS hello or HTTP request head at the start of `bytes`; true when it needs more.
    fn read_start(&mut self, seen: &mut Seen, bytes: &[u8], cut: bool) -> bool {
        let need_more = match tls::client_hello(bytes) {
            tls::Hello::Client { sni, alpn } => {
                seen.app = App::Tls;
                seen.name = sni.map_or(0, |s| self.intern(&s));
                seen.alpn = alpn.first().map_or(0, |a| self.intern(a));
                false
            }
            tls::Hello::NeedMore(_) => true,
            tls::Hello::Malformed(why) => {
                seen.app = App::Tls;
                if cut {
                    self.problems.cut += 1;
                } else {
                    self.problems.count("TLS", why);
                }
                false
            }
            tls::Hello::NotTls => match http::request(bytes) {
                http::Request::Head { host, .. } => {
                    seen.app = App::Http;
                    seen.name = host.map_or(0, |h| self.intern(&h));
                    false
                }
                http::Request::NeedMore => true,
                http::Request::NotHttp => false,
            },
        };
        if need_more && cut {
            // The rest of the segment was not captured: the start cannot be completed.
            self.problems.cut += 1;
            return false;
        }
        need_more
    }
}

#[cfg(test)]
mod tests;
