//! Closed windows: what every task held when its window ended, as values, as JSON for reports,
//! and as a compact buffer for storage and alerting.
//!
//! Buffer layout (little-endian), version 3:
//!   "NSWS" u16 version, u64 start_ns, u64 end_ns, u64 packets, u64 bytes, u64 late,
//!   u64 first_ns, u64 last_ns (of the timed packets; first_ns u64::MAX and last_ns 0 when no
//!   packet had a time), u64 syn, u32 name count, per name u32 id, u16 length, the server name
//!   (UTF-8; the names the tasks' ServerName keys refer to), u16 origin count, per origin the
//!   probe and the interface (each u16 length, UTF-8; what Interface keys refer to by index),
//!   u16 task count, then per task:
//!   u8 name length, name (UTF-8), u8 type (1 exact, 2 countmin, 3 superspread), key fields,
//!   distinct/element fields (each u32 field bits and u8 prefix lengths SrcPrefix IPv4, IPv6,
//!   DstPrefix IPv4, IPv6; see `key`), u32 payload length, payload:
//!     exact: u32 rows, then per row u8 key length, key bytes, u64 packets, u64 bytes, u64 distinct
//!     countmin / superspread: the sketch's own encoding (sketch::countmin, sketch::superspread).

use super::task::{TaskKind, TaskSpec, TaskState};
use super::WindowCounters;
use crate::app::NameTable;
use crate::json::{epoch_text, Json};
use crate::key::{app_text, country_text, prefix_text, server_name_text, KeyFields, KeyNames, PackedKey};
use crate::names;
use crate::table::ExactTable;

pub struct TaskSnapshot {
    pub spec: TaskSpec,
    pub(super) state: TaskState,
}

pub struct WindowSnapshot {
    pub start_ns: u64,
    pub end_ns: u64,
    pub counters: WindowCounters,
    pub tasks: Vec<TaskSnapshot>,
    /// The server names the tasks' keys refer to by id.
    pub names: KeyNames,
}

/// The server names of the keys tasks report (exact keys, Count-Min candidates, spreaders),
/// from the flow cache's name table.
pub(crate) fn server_names_of(tasks: &[TaskSnapshot], table: &NameTable) -> Vec<(u32, Box<str>)> {
    let mut ids = Vec::new();
    for t in tasks.iter().filter(|t| t.spec.key.has(KeyFields::SERVER_NAME)) {
        let mut id = |k: &PackedKey| ids.extend(k.parts(t.spec.key).server_name.filter(|&i| i != 0));
        match &t.state {
            TaskState::Exact(e) => e.iter().for_each(|(k, _)| id(k)),
            TaskState::CountMin(cm) => {
                cm.heavy_hitters_by_packets().iter().chain(&cm.heavy_hitters_by_bytes()).for_each(|(k, _, _)| id(k))
            }
            TaskState::SuperSpread(ss) => ss.spreaders().iter().for_each(|(k, _)| id(k)),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter().filter_map(|i| table.get(i).map(|n| (i, n.into()))).collect()
}

pub const SNAPSHOT_MAGIC: &[u8; 4] = b"NSWS";
pub const SNAPSHOT_VERSION: u16 = 3;

/// A closed (or peeked) window as it leaves the core: its counters, its JSON as reports show
/// it, its snapshot (NSWS), and its storage rows when the engine knows who it writes as.
///
/// The bindings' buffer, little-endian: "NSCW", then u64 start_ns, end_ns, packets, bytes,
/// late, syn, timed, first_ns, last_ns (u64::MAX and 0 when no packet had a time); then u32 length and bytes of the JSON, of the snapshot,
/// and of the rows ([`crate::rows::StorageRows::encode`]; length 0 without rows).
pub struct ClosedWindow {
    pub start_ns: u64,
    pub end_ns: u64,
    pub counters: WindowCounters,
    pub json: String,
    pub snapshot: Vec<u8>,
    pub rows: Option<crate::rows::StorageRows>,
}

pub const CLOSED_WINDOW_MAGIC: &[u8; 4] = b"NSCW";

impl ClosedWindow {
    /// `top_n`: rows per top list in the JSON; `snapshot`: keep the snapshot (else it is
    /// empty); `rows`: the source and run to write rows as.
    pub fn new(w: WindowSnapshot, top_n: usize, snapshot: bool, rows: Option<(&str, &str)>) -> ClosedWindow {
        let mut j = Json::new();
        w.write_json(&mut j, top_n);
        let mut encoded = Vec::new();
        let rows = if snapshot || rows.is_some() {
            let payloads = w.encode(&mut encoded);
            rows.map(|(source, run)| crate::rows::window_rows(&w, &payloads, source, run))
        } else {
            None
        };
        if !snapshot {
            encoded = Vec::new();
        }
        ClosedWindow {
            start_ns: w.start_ns,
            end_ns: w.end_ns,
            counters: w.counters,
            json: j.finish(),
            snapshot: encoded,
            rows,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let rows = self.rows.as_ref().map(|r| r.encode()).unwrap_or_default();
        let mut out = Vec::with_capacity(4 + 9 * 8 + 12 + self.json.len() + self.snapshot.len() + rows.len());
        out.extend_from_slice(CLOSED_WINDOW_MAGIC);
        let c = &self.counters;
        // As in the snapshot: no timed packet, first past last.
        let (first, last) = if c.timed > 0 { (c.first_ns, c.last_ns) } else { (u64::MAX, 0) };
        for v in [self.start_ns, self.end_ns, c.packets, c.bytes, c.late, c.syn, c.timed, first, last] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for part in [self.json.as_bytes(), &self.snapshot, &rows] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
        out
    }
}

impl TaskSnapshot {
    pub fn exact(&self) -> Option<&ExactTable> {
        match &self.state {
            TaskState::Exact(t) => Some(t),
            _ => None,
        }
    }

    pub fn countmin(&self) -> Option<&crate::sketch::countmin::CountMin> {
        match &self.state {
            TaskState::CountMin(c) => Some(c),
            _ => None,
        }
    }

    pub fn superspread(&self) -> Option<&crate::sketch::superspread::SuperSpread> {
        match &self.state {
            TaskState::SuperSpread(s) => Some(s),
            _ => None,
        }
    }

    fn encode_payload(&self, out: &mut Vec<u8>) {
        match &self.state {
            TaskState::Exact(table) => {
                let rows = table.top(table.len());
                out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
                for (k, s) in rows {
                    out.push(k.as_bytes().len() as u8);
                    out.extend_from_slice(k.as_bytes());
                    for v in [s.packets, s.bytes, s.distinct] {
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
            TaskState::CountMin(cm) => cm.encode(out),
            TaskState::SuperSpread(ss) => ss.encode(out),
        }
    }

    pub fn second_fields(&self) -> KeyFields {
        self.spec.second_fields()
    }
}

impl WindowSnapshot {
    /// An exact task of this window with the given key (and, when asked, distinct fields).
    fn exact_with(&self, key: KeyFields, distinct: Option<KeyFields>) -> Option<&TaskSnapshot> {
        self.tasks.iter().find(|t| {
            t.spec.key == key
                && matches!(t.spec.kind, TaskKind::Exact { distinct: d } if distinct.map_or(true, |want| want == d))
        })
    }

    /// Appends the NSWS buffer; returns the length of each task's payload (what `window_tasks`
    /// stores as payload_bytes).
    pub fn encode(&self, out: &mut Vec<u8>) -> Vec<u64> {
        let mut lens = Vec::with_capacity(self.tasks.len());
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        let c = &self.counters;
        let first = if c.timed > 0 { c.first_ns } else { u64::MAX };
        for v in [self.start_ns, self.end_ns, c.packets, c.bytes, c.late, first, c.last_ns, c.syn] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let text = |out: &mut Vec<u8>, t: &str| {
            let t = &t.as_bytes()[..t.len().min(u16::MAX as usize)];
            out.extend_from_slice(&(t.len() as u16).to_le_bytes());
            out.extend_from_slice(t);
        };
        out.extend_from_slice(&(self.names.servers.len() as u32).to_le_bytes());
        for (id, name) in &self.names.servers {
            out.extend_from_slice(&id.to_le_bytes());
            text(out, name);
        }
        out.extend_from_slice(&(self.names.origins.len() as u16).to_le_bytes());
        for (probe, interface) in &self.names.origins {
            text(out, probe);
            text(out, interface);
        }
        out.extend_from_slice(&(self.tasks.len() as u16).to_le_bytes());
        for t in &self.tasks {
            let name = t.spec.name.as_bytes();
            out.push(name.len().min(255) as u8);
            out.extend_from_slice(&name[..name.len().min(255)]);
            out.push(match t.state {
                TaskState::Exact(_) => 1,
                TaskState::CountMin(_) => 2,
                TaskState::SuperSpread(_) => 3,
            });
            for f in [t.spec.key, t.second_fields()] {
                out.extend_from_slice(&f.bits().to_le_bytes());
                out.extend_from_slice(&f.prefix_lengths());
            }
            let len_at = out.len();
            out.extend_from_slice(&[0; 4]);
            t.encode_payload(out);
            let payload = (out.len() - len_at - 4) as u32;
            out[len_at..len_at + 4].copy_from_slice(&payload.to_le_bytes());
            lens.push(payload as u64);
        }
        lens
    }

    pub fn write_json(&self, j: &mut Json, top_n: usize) {
        j.begin_object(None);
        j.str("start", &epoch_text(self.start_ns));
        j.str("end", &epoch_text(self.end_ns));
        j.u64("packets", self.counters.packets);
        j.u64("bytes", self.counters.bytes);
        j.u64("latePackets", self.counters.late);
        j.u64("tcpSyn", self.counters.syn);
        j.begin_array(Some("tasks"));
        for t in &self.tasks {
            self.task_json(j, t, top_n);
        }
        j.end_array();
        j.end_object();
    }

    fn task_json(&self, j: &mut Json, t: &TaskSnapshot, top_n: usize) {
        let key = t.spec.key;
        j.begin_object(None);
        j.str("name", &t.spec.name);
        j.str("type", t.spec.type_name());
        j.str("key", &key.to_string());
        match &t.state {
            TaskState::Exact(table) => {
                let distinct = table.distinct_fields();
                if distinct.is_empty() {
                    j.null("distinct");
                } else {
                    j.str("distinct", &distinct.to_string());
                }
                j.u64("keys", table.len() as u64);
                j.f64("bytesPerKey", table.bytes_per_key(), 1);
                j.begin_array(Some("top"));
                for (k, s) in table.top(top_n) {
                    j.begin_object(None);
                    key_json(j, &k, key, &self.names);
                    j.u64("packets", s.packets);
                    j.u64("bytes", s.bytes);
                    if !distinct.is_empty() {
                        j.u64("distinct", s.distinct);
                    }
                    j.end_object();
                }
                j.end_array();
                if !distinct.is_empty() {
                    j.begin_array(Some("topByDistinct"));
                    for (k, s) in table.top_by(top_n, |s| (s.distinct, s.packets)) {
                        j.begin_object(None);
                        key_json(j, &k, key, &self.names);
                        j.u64("packets", s.packets);
                        j.u64("bytes", s.bytes);
                        j.u64("distinct", s.distinct);
                        j.end_object();
                    }
                    j.end_array();
                }
            }
            TaskState::CountMin(cm) => {
                let cfg = cm.config();
                j.u64("depth", cfg.depth as u64);
                j.u64("width", cfg.width as u64);
                j.bool("conservative", cfg.conservative);
                j.u64("counterBytes", cm.counter_bytes() as u64);
                j.u64("memoryBytes", cm.memory_bytes() as u64);
                let (n_packets, n_bytes) = cm.total();
                j.u64("streamPackets", n_packets);
                j.u64("streamBytes", n_bytes);
                let (eb_packets, eb_bytes) = cm.error_bound();
                j.f64("errorBoundPackets", eb_packets, 1);
                j.f64("errorBoundBytes", eb_bytes, 1);
                let exact = self.exact_with(key, None).and_then(TaskSnapshot::exact);
                match self.exact_with(key, None) {
                    Some(e) => j.str("exactTask", &e.spec.name),
                    None => j.null("exactTask"),
                }
                for (name, rows) in [
                    ("heavyHittersByPackets", cm.heavy_hitters_by_packets()),
                    ("heavyHittersByBytes", cm.heavy_hitters_by_bytes()),
                ] {
                    j.begin_array(Some(name));
                    for (k, packets, bytes) in rows.into_iter().take(top_n) {
                        j.begin_object(None);
                        key_json(j, &k, key, &self.names);
                        j.u64("packets", packets);
                        j.u64("bytes", bytes);
                        if let Some(e) = exact {
                            let s = e.get(&k).copied().unwrap_or_default();
                            j.u64("exactPackets", s.packets);
                            j.u64("exactBytes", s.bytes);
                        }
                        j.end_object();
                    }
                    j.end_array();
                }
            }
            TaskState::SuperSpread(ss) => {
                let cfg = ss.config();
                let element = &t.second_fields();
                j.str("element", &element.to_string());
                j.u64("depth", cfg.depth as u64);
                j.u64("width", cfg.width as u64);
                j.u64("registers", cfg.registers as u64);
                j.u64("registerBits", cfg.register_bits as u64);
                j.u64("threshold", cfg.threshold);
                j.u64("registerBytes", ss.register_bytes() as u64);
                j.u64("memoryBytes", ss.memory_bytes() as u64);
                let exact = self.exact_with(key, Some(*element));
                match exact {
                    Some(e) => j.str("exactTask", &e.spec.name),
                    None => j.null("exactTask"),
                }
                let exact = exact.and_then(TaskSnapshot::exact);
                j.begin_array(Some("spreaders"));
                for (k, spread) in ss.spreaders().into_iter().take(top_n) {
                    j.begin_object(None);
                    key_json(j, &k, key, &self.names);
                    j.u64("spread", spread);
                    if let Some(e) = exact {
                        j.u64("exactSpread", e.get(&k).map_or(0, |s| s.distinct));
                    }
                    j.end_object();
                }
                j.end_array();
            }
        }
        j.end_object();
    }
}

/// The key as text and as its separate fields.
fn key_json(j: &mut Json, k: &PackedKey, fields: KeyFields, names: &KeyNames) {
    j.str("key", &k.text_named(fields, names));
    let p = k.parts(fields);
    if let Some(a) = p.src {
        j.str("srcIp", &a.to_string());
    }
    if let Some(a) = p.dst {
        j.str("dstIp", &a.to_string());
    }
    if let Some(v) = p.src_port {
        j.u64("srcPort", v as u64);
    }
    if let Some(v) = p.dst_port {
        j.u64("dstPort", v as u64);
    }
    if let Some(p) = p.src_prefix {
        j.str("srcPrefix", &prefix_text(p));
    }
    if let Some(p) = p.dst_prefix {
        j.str("dstPrefix", &prefix_text(p));
    }
    if let Some(v) = p.src_as {
        j.u64("srcAs", v as u64);
    }
    if let Some(v) = p.dst_as {
        j.u64("dstAs", v as u64);
    }
    if let Some(c) = p.src_country {
        j.str("srcCountry", &country_text(c));
    }
    if let Some(c) = p.dst_country {
        j.str("dstCountry", &country_text(c));
    }
    if let Some(v) = p.proto {
        j.u64("proto", v as u64);
        j.str("protoName", names::ip_proto(v).unwrap_or(""));
    }
    if let Some(v) = p.icmp_type {
        j.u64("icmpType", v as u64);
    }
    if let Some(v) = p.icmp_code {
        j.u64("icmpCode", v as u64);
    }
    if let Some(v) = p.tcp_flags {
        j.u64("tcpFlags", v as u64);
        j.str("tcpFlagsText", &if v == 0 { "none".to_string() } else { names::tcp_flags(v) });
    }
    if let Some(v) = p.dscp {
        j.u64("dscp", v as u64);
        j.str("dscpName", names::dscp(v).unwrap_or(""));
    }
    if let Some(v) = p.vlan {
        j.u64("vlan", v as u64);
    }
    if let Some(d) = p.direction {
        j.str("direction", d);
    }
    if let Some(v) = p.app {
        j.str("app", &app_text(v));
    }
    if let Some(id) = p.server_name {
        j.str("serverName", &server_name_text(id, names));
    }
    if let Some(i) = p.interface {
        let (probe, interface) = names.origin(i).unwrap_or(("", ""));
        j.str("probe", probe);
        j.str("interface", interface);
    }
    // Named after the fields: a key with ports but no protocol names the ports all agree on.
    if let Some(name) = p.src_port.and_then(|v| names::service(p.proto, v)) {
        j.str("srcService", name);
    }
    if let Some(name) = p.dst_port.and_then(|v| names::service(p.proto, v)) {
        j.str("dstService", name);
    }
}
