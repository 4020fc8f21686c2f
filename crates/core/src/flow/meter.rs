//! A flow cache as the engine and `analyze` run it: records carry the names of where their
//! packets were captured (probe and interface, or the capture file) and a direction from the
//! configured local networks, and leave as JSON. The live flow table is a filtered, sorted
//! page of the flows still held.

use super::output::{FlowOut, FlowOutput};
use super::{EndReason, FlowCache, FlowConfig, FlowRecord, RecordContext, Touch};
use crate::addr::{Addr, Cidr};
use crate::app::mmdb::Geo;
use crate::app::{lock_names, NameTable};
use crate::json::Json;
use crate::key::{direction_index, DIRECTIONS};
use crate::record::PacketRecord;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct FlowMeterConfig {
    pub cache: FlowConfig,
    /// Networks that are local (direction); none: every record is external.
    pub local: Vec<Cidr>,
    /// The probe name of records made from capture files (`analyze`: the host's name).
    pub probe: String,
    /// Payloads given to [`FlowMeter::add_payload`] are read for names (else ignored).
    pub names: bool,
}

/// A record's direction by its endpoints: A (the initiator) local and B not is outbound.
pub fn direction(local: &[Cidr], a: &Addr, b: &Addr) -> &'static str {
    DIRECTIONS[direction_index(local, a, b) as usize]
}

pub struct FlowMeter {
    cache: FlowCache,
    local: Vec<Cidr>,
    /// (probe, interface) names; a record's `interface` field is an index here.
    origins: Vec<(String, String)>,
    /// The cache's clock as of the last packet: idle time counts from here.
    last_packet_clock: Option<u64>,
    names: bool,
    /// Country and AS databases for the live flow table's records.
    geo: Option<Arc<Geo>>,
}

impl FlowMeter {
    pub fn new(cfg: FlowMeterConfig) -> FlowMeter {
        FlowMeter {
            cache: FlowCache::new(cfg.cache),
            local: cfg.local,
            origins: Vec::new(),
            last_packet_clock: None,
            names: cfg.names,
            geo: None,
        }
    }

    /// The country and AS databases records are written with (None: no enrichment).
    pub fn set_geo(&mut self, geo: Option<Arc<Geo>>) {
        self.geo = geo;
    }

    pub fn cache(&self) -> &FlowCache {
        &self.cache
    }

    /// How many (probe, interface) pairs are named.
    pub fn origins(&self) -> usize {
        self.origins.len()
    }

    /// The index of a (probe, interface) pair, to pass to [`FlowMeter::add`].
    pub fn origin(&mut self, probe: &str, interface: &str) -> u16 {
        if let Some(i) = self.origins.iter().position(|(p, n)| p == probe && n == interface) {
            return i as u16;
        }
        // More than 65,535 distinct interfaces is not a real deployment: the last one takes them.
        if self.origins.len() > u16::MAX as usize {
            return u16::MAX;
        }
        self.origins.push((probe.to_string(), interface.to_string()));
        (self.origins.len() - 1) as u16
    }

    #[inline]
    pub fn add(&mut self, r: &PacketRecord, origin: u16) -> Option<Touch> {
        self.add_payload(r, origin, &[], 0)
    }

    /// [`FlowMeter::add`] with the packet's payload (see [`FlowCache::add_payload`]).
    #[inline]
    pub fn add_payload(&mut self, r: &PacketRecord, origin: u16, payload: &[u8], tcp_seq: u32) -> Option<Touch> {
        let mut r = *r;
        r.interface = origin;
        let payload = if self.names { payload } else { &[] };
        let touch = self.cache.add_payload(&r, payload, tcp_seq);
        self.last_packet_clock = self.cache.clock();
        touch
    }

    pub fn cache_mut(&mut self) -> &mut FlowCache {
        &mut self.cache
    }

    /// No packet came for `ns` (wall clock): flows idle by the last packet's time plus `ns` end.
    /// Called again with a longer wait it goes further; never moves the clock back.
    pub fn idle_for(&mut self, ns: u64) {
        if let Some(t) = self.last_packet_clock {
            self.cache.advance_to(t.saturating_add(ns));
        }
    }

    /// Ends every flow (end of input, or the engine stops).
    pub fn flush(&mut self) {
        self.cache.flush();
    }

    /// Where records finished by this meter are written from: its origins and local networks.
    pub fn output(&self) -> FlowOutput {
        let mut out = FlowOutput::new(self.local.clone(), self.cache.community_id_seed());
        out.set_names(self.cache.inspector().names().clone());
        for (probe, interface) in &self.origins {
            out.add_origin(probe, interface);
        }
        out
    }

    /// Records finished since the last call, as a JSON array (tests, the bench).
    pub fn take_json(&mut self) -> String {
        let mut out = self.output();
        out.add(self.cache.take_finished_unhashed());
        out.take(FlowOut { rows: None, json: true }).json.unwrap_or_default()
    }

    /// Records finished since the last call, in the order they finished, without Community IDs.
    pub fn take_finished(&mut self) -> Vec<FlowRecord> {
        self.cache.take_finished_unhashed()
    }

    /// Drops the finished records (the bench measures the cache without them).
    pub fn discard_finished(&mut self) {
        self.cache.take_finished_unhashed();
    }

    /// Counters as fields of the caller's open JSON object.
    pub fn write_counters(&self, j: &mut Json) {
        let c = self.cache.counters();
        j.u64("active", self.cache.active() as u64);
        j.u64("started", c.started);
        j.u64("latePackets", c.late);
        j.begin_object(Some("finished"));
        for reason in EndReason::ALL {
            j.u64(reason.name(), c.finished(reason));
        }
        j.end_object();
        self.write_names(j);
    }

    /// What reading flows' payloads gave: addresses in the passive-DNS table, and payloads
    /// that did not parse, by protocol and reason (a `names` field of the open object).
    pub fn write_names(&self, j: &mut Json) {
        let i = self.cache.inspector();
        let p = &i.problems;
        j.begin_object(Some("names"));
        j.u64("passiveDns", i.passive.len() as u64);
        for (name, n) in [
            ("dns", p.dns),
            ("tls", p.tls),
            ("http", p.http),
            ("quic", p.quic),
            ("cut", p.cut),
            ("notGathered", p.not_gathered),
        ] {
            j.u64(name, n);
        }
        j.begin_array(Some("reasons"));
        for (protocol, reason, count) in &p.reasons {
            j.begin_object(None);
            j.str("protocol", protocol);
            j.str("reason", reason);
            j.u64("count", *count);
            j.end_object();
        }
        j.end_array();
        j.end_object();
    }

    /// A page of the flows held now: `{"active":N,"matched":M,"flows":[...]}`.
    pub fn query_json(&self, q: &FlowQuery) -> String {
        let mut rows: Vec<(u32, FlowRecord)> = self.cache.open_records().filter(|(_, r)| q.matches(r)).collect();
        let matched = rows.len();
        let key = |r: &FlowRecord| -> u64 {
            match q.sort {
                FlowSort::Bytes => r.bytes(),
                FlowSort::Packets => r.packets(),
                FlowSort::First => r.first_ns.unwrap_or(0),
                FlowSort::Last => r.last_ns.unwrap_or(0),
                FlowSort::Duration => r.last_ns.unwrap_or(0) - r.first_ns.unwrap_or(0),
            }
        };
        // Ties in a stable order (endpoints), so pages do not overlap.
        rows.sort_unstable_by(|(_, x), (_, y)| {
            let o = key(x).cmp(&key(y));
            let o = if q.descending { o.reverse() } else { o };
            o.then_with(|| x.sort_key().cmp(&y.sort_key()))
        });
        let mut j = Json::new();
        j.begin_object(None);
        j.u64("active", self.cache.active() as u64);
        j.u64("matched", matched as u64);
        j.begin_array(Some("flows"));
        for (slot, r) in rows.iter().skip(q.offset).take(q.limit) {
            let r = FlowRecord { community_id: self.cache.community_id_of(*slot), ..*r };
            self.write_record(&mut j, &r, true);
        }
        j.end_array();
        j.end_object();
        j.finish()
    }

    fn write_record(&self, j: &mut Json, r: &FlowRecord, open: bool) {
        let names = lock_names(self.cache.inspector().names());
        write_record_with(&self.origins, &self.local, &names, self.geo.as_deref(), j, r, open);
    }
}

/// A record as JSON with the names of where it was captured and its direction.
pub(super) fn write_record_with(
    origins: &[(String, String)],
    local: &[Cidr],
    names: &NameTable,
    geo: Option<&Geo>,
    j: &mut Json,
    r: &FlowRecord,
    open: bool,
) {
    let (probe, interface) =
        origins.get(r.interface as usize).map(|(p, i)| (p.as_str(), i.as_str())).unwrap_or(("", ""));
    let ctx = RecordContext { probe, interface, direction: direction(local, &r.a, &r.b), open, names, geo };
    r.write_json_in(j, Some(&ctx));
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowSort {
    Bytes,
    Packets,
    First,
    Last,
    Duration,
}

/// A page request over the live flow table.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowQuery {
    pub limit: usize,
    pub offset: usize,
    pub sort: FlowSort,
    pub descending: bool,
    pub proto: Option<u8>,
    /// Either endpoint in the network.
    pub ip: Option<Cidr>,
    /// Either endpoint's port.
    pub port: Option<u16>,
}

impl Default for FlowQuery {
    fn default() -> FlowQuery {
        FlowQuery { limit: 100, offset: 0, sort: FlowSort::Bytes, descending: true, proto: None, ip: None, port: None }
    }
}

/// The largest page.
pub const MAX_FLOW_PAGE: usize = 10_000;

impl FlowQuery {
    /// From a query string: `limit=50&offset=0&sort=bytes&dir=desc&proto=6&ip=10.0.0.0/8&port=443`
    /// (empty values are absent). Errors name the parameter.
    pub fn parse(text: &str) -> Result<FlowQuery, String> {
        let mut q = FlowQuery::default();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() {
                continue;
            }
            let number = |max: u64| -> Result<u64, String> {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|&n| n <= max)
                    .ok_or_else(|| format!("{name}: \"{value}\" is not a number from 0 to {max}"))
            };
            match name {
                "limit" => q.limit = number(MAX_FLOW_PAGE as u64)?.max(1) as usize,
                "offset" => q.offset = number(u32::MAX as u64)? as usize,
                "sort" => {
                    q.sort = match value {
                        "bytes" => FlowSort::Bytes,
                        "packets" => FlowSort::Packets,
                        "first" => FlowSort::First,
                        "last" => FlowSort::Last,
                        "duration" => FlowSort::Duration,
                        _ => {
                            return Err(format!(
                                "sort: \"{value}\" is not one of bytes, packets, first, last, duration"
                            ))
                        }
                    }
                }
                "dir" => {
                    q.descending = match value {
                        "desc" => true,
                        "asc" => false,
                        _ => return Err(format!("dir: \"{value}\" is not asc or desc")),
                    }
                }
                "proto" => q.proto = Some(number(255)? as u8),
                "port" => q.port = Some(number(65_535)? as u16),
                "ip" => q.ip = Some(Cidr::parse(value).map_err(|e| format!("ip: {e}"))?),
                _ => {
                    return Err(format!(
                        "\"{name}\" is not a flow table parameter (limit, offset, sort, dir, proto, ip, port)"
                    ))
                }
            }
        }
        Ok(q)
    }

    fn matches(&self, r: &FlowRecord) -> bool {
        self.proto.map_or(true, |p| r.proto == p)
            && self.port.map_or(true, |p| r.port_a == p || r.port_b == p)
            && self.ip.as_ref().map_or(true, |n| n.contains(&r.a) || n.contains(&r.b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::flag;

    fn packet(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, ts_s: u64, len: u32) -> PacketRecord {
        PacketRecord {
            ts_ns: ts_s * 1_000_000_000,
            src: Addr::v4(src),
            dst: Addr::v4(dst),
            wire_len: len,
            cap_len: len,
            proto: 17,
            src_port: sport,
            dst_port: dport,
            flags: flag::HAS_PORTS,
            ..PacketRecord::default()
        }
    }

    fn meter_config() -> FlowMeterConfig {
        let local = vec![Cidr::parse("10.0.0.0/8").unwrap()];
        FlowMeterConfig { cache: FlowConfig::default(), local, probe: String::new(), names: true }
    }

    fn meter() -> FlowMeter {
        FlowMeter::new(meter_config())
    }

    #[test]
    fn records_carry_origin_names_and_direction() {
        let mut m = meter();
        let eth0 = m.origin("probe-a", "eth0");
        let eth1 = m.origin("probe-a", "eth1");
        assert_eq!((eth0, eth1, m.origin("probe-a", "eth0")), (0, 1, 0));
        m.add(&packet([10, 0, 0, 1], 5000, [8, 8, 8, 8], 53, 100, 80), eth0);
        m.add(&packet([9, 9, 9, 9], 4000, [10, 0, 0, 2], 53, 100, 90), eth1);
        m.add(&packet([10, 0, 0, 3], 1, [10, 0, 0, 4], 2, 100, 60), eth0);
        m.add(&packet([1, 1, 1, 1], 1, [2, 2, 2, 2], 2, 100, 60), eth0);
        assert_eq!(m.take_json(), "[]");
        m.flush();
        let out = m.take_json();
        for (flow, want) in [
            (r#""srcIp":"10.0.0.1""#, r#""probe":"probe-a","interface":"eth0","vlan":0,"direction":"outbound""#),
            (r#""srcIp":"9.9.9.9""#, r#""interface":"eth1","vlan":0,"direction":"inbound""#),
            (r#""srcIp":"10.0.0.3""#, r#""direction":"local""#),
            (r#""srcIp":"1.1.1.1""#, r#""direction":"external""#),
        ] {
            let rec = out.split("},{").find(|r| r.contains(flow)).unwrap_or_else(|| panic!("{flow} in {out}"));
            assert!(rec.contains(want), "{want} in {rec}");
            assert!(rec.contains(r#""reason":"endOfInput""#));
        }
    }

    #[test]
    fn names_are_read_from_payloads_unless_turned_off() {
        // A DNS query for www.example.com (header, question).
        let mut query = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["www", "example", "com"] {
            query.push(label.len() as u8);
            query.extend_from_slice(label.as_bytes());
        }
        query.extend_from_slice(&[0, 0, 1, 0, 1]);
        for (names, want) in [(true, "\"serverName\":\"www.example.com\""), (false, "\"serverName\":\"\"")] {
            let mut m = FlowMeter::new(FlowMeterConfig { names, ..meter_config() });
            let o = m.origin("p", "eth0");
            m.add_payload(&packet([10, 0, 0, 1], 40000, [192, 0, 2, 53], 53, 1, 80), o, &query, 0);
            m.flush();
            let json = m.take_json();
            assert!(json.contains(want), "names {names}: {json}");
        }
    }

    #[test]
    fn idle_time_ends_flows_without_packets() {
        let mut m = meter();
        let o = m.origin("p", "i");
        m.add(&packet([10, 0, 0, 1], 5000, [8, 8, 8, 8], 53, 100, 80), o);
        m.idle_for(29_000_000_000);
        assert_eq!(m.cache().active(), 1);
        m.idle_for(31_000_000_000);
        assert_eq!(m.cache().active(), 0);
        assert!(m.take_json().contains(r#""reason":"idleTimeout""#));
        // Waits do not add up: the same wait again ends nothing more.
        m.add(&packet([10, 0, 0, 1], 5001, [8, 8, 8, 8], 53, 131, 80), o);
        m.idle_for(20_000_000_000);
        m.idle_for(20_000_000_000);
        assert_eq!(m.cache().active(), 1);
    }

    #[test]
    fn pages_filter_sort_and_name_open_flows() {
        let mut m = meter();
        let o = m.origin("p", "i");
        for i in 0..30u8 {
            let len = 100 + i as u32;
            m.add(
                &packet(
                    [10, 0, 0, i],
                    1000 + i as u16,
                    [192, 0, 2, 1],
                    if i % 2 == 0 { 443 } else { 53 },
                    100 + i as u64,
                    len,
                ),
                o,
            );
        }
        let page = m.query_json(&FlowQuery::parse("limit=5&sort=bytes&dir=desc&port=443").unwrap());
        assert!(page.starts_with(r#"{"active":30,"matched":15,"flows":[{"communityId":"1:"#), "{page}");
        assert_eq!(page.matches(r#""reason":"open""#).count(), 5);
        let first = page.find(r#""srcIp":"10.0.0.28""#).unwrap();
        let second = page.find(r#""srcIp":"10.0.0.26""#).unwrap();
        assert!(first < second);
        let next = m.query_json(&FlowQuery::parse("limit=5&offset=5&sort=bytes&dir=desc&port=443").unwrap());
        assert!(next.contains(r#""srcIp":"10.0.0.18""#) && !next.contains(r#""srcIp":"10.0.0.26""#));
        let asc = m.query_json(&FlowQuery::parse("limit=1&sort=first&dir=asc&ip=10.0.0.7").unwrap());
        assert!(asc.contains(r#""matched":1,"#) && asc.contains(r#""srcIp":"10.0.0.7""#));
        let none = m.query_json(&FlowQuery::parse("proto=6").unwrap());
        assert!(none.contains(r#""matched":0,"flows":[]"#));
    }

    #[test]
    fn bad_parameters_are_named() {
        for (q, want) in [
            ("limit=x", "limit: \"x\" is not a number from 0 to 10000"),
            ("limit=10001", "limit:"),
            ("sort=size", "sort: \"size\" is not one of"),
            ("dir=up", "dir: \"up\" is not asc or desc"),
            ("proto=300", "proto: \"300\""),
            ("port=70000", "port: \"70000\""),
            ("ip=10.0.0.0/40", "ip: \"10.0.0.0/40\": the prefix length must be 0 to 32"),
            ("host=a", "\"host\" is not a flow table parameter"),
        ] {
            let e = FlowQuery::parse(q).unwrap_err();
            assert!(e.contains(want), "{q}: {e}");
        }
        assert_eq!(FlowQuery::parse("").unwrap(), FlowQuery::default());
        assert_eq!(FlowQuery::parse("limit=&ip=").unwrap(), FlowQuery::default());
    }
}
