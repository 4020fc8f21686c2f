//! Finished flow records on their way out: their Community IDs, the summary `analyze` reports,
//! and the rows of the `flows` table or JSON they leave as. The flow cache finishes records on
//! the packet path; everything here can run on another thread (see `engine`), as it only reads
//! the records and the names of where they were captured.

use super::meter::write_record_with;
use super::{direction, FlowRecord};
use crate::addr::{Cidr, Family};
use crate::app::mmdb::{Geo, GeoInfo};
use crate::app::{lock_names, App, NameTable, SharedNames};
use crate::json::Json;
use crate::names;
use crate::rows::{check_times, row_json, Quarantined, StorageRows, FLOWS, TABLES};
use std::sync::Arc;

/// What finished records are taken as (see [`FlowOutput::take`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowOut<'a> {
    /// Rows of the `flows` table, with this source and run.
    pub rows: Option<(&'a str, &'a str)>,
    /// A JSON array (ts/flows/types.ts).
    pub json: bool,
}

/// Finished records as taken.
#[derive(Debug, Default)]
pub struct TakenFlows {
    pub rows: Option<StorageRows>,
    pub json: Option<String>,
    pub records: usize,
}

/// What `analyze` reports of its flow records: counts by end reason and direction, and the
/// largest records by bytes (ties: the one finished first), built as records finish.
#[derive(Clone, Debug, Default)]
pub struct FlowSummary {
    top_n: usize,
    records: u64,
    packets: u64,
    bytes: u64,
    by_reason: Vec<(&'static str, u64)>,
    by_direction: Vec<(&'static str, u64)>,
    /// Largest first, with the record's JSON.
    top: Vec<(u64, String)>,
    /// Per server name id: (application, records, bytes).
    by_name: std::collections::HashMap<u32, (App, u64, u64)>,
    /// Per country and per AS (with its name) of either endpoint: records, bytes (with country
    /// and AS databases; a record counts once where both ends share one).
    by_country: std::collections::HashMap<String, (u64, u64)>,
    by_as: std::collections::HashMap<u32, (String, u64, u64)>,
    /// The names, resolved when the summary is taken.
    names: SharedNames,
}

fn count(list: &mut Vec<(&'static str, u64)>, name: &'static str) {
    match list.iter_mut().find(|(n, _)| *n == name) {
        Some(e) => e.1 += 1,
        None => list.push((name, 1)),
    }
}

impl FlowSummary {
    pub fn new(top_n: usize) -> FlowSummary {
        FlowSummary { top_n, ..FlowSummary::default() }
    }

    /// A record's endpoints' countries and AS, each counted once.
    fn add_geo(&mut self, a: &GeoInfo, b: &GeoInfo, bytes: u64) {
        for (i, g) in [a, b].into_iter().enumerate() {
            // B's country and AS count unless they are A's.
            let new_country = i == 0 || g.country != a.country;
            let new_as = i == 0 || g.asn != a.asn;
            if new_country && !g.country.is_empty() {
                let e = self.by_country.entry(g.country.clone()).or_default();
                e.0 += 1;
                e.1 += bytes;
            }
            if new_as && g.asn != 0 {
                let e = self.by_as.entry(g.asn).or_insert_with(|| (g.as_name.clone(), 0, 0));
                e.1 += 1;
                e.2 += bytes;
            }
        }
    }

    /// The summary as JSON (ts/flows/summary.ts, FlowSummary).
    pub fn json(&self) -> String {
        self.json_with(|_| {})
    }

    /// The summary as JSON with more fields written by `more` at its end.
    pub fn json_with(&self, more: impl FnOnce(&mut Json)) -> String {
        let mut j = Json::new();
        j.begin_object(None);
        j.u64("records", self.records);
        j.u64("packets", self.packets);
        j.u64("bytes", self.bytes);
        for (name, list) in [("byReason", &self.by_reason), ("byDirection", &self.by_direction)] {
            j.begin_object(Some(name));
            for (k, n) in list.iter() {
                j.u64(k, *n);
            }
            j.end_object();
        }
        j.begin_array(Some("top"));
        for (_, r) in &self.top {
            j.raw_item(r);
        }
        j.end_array();
        // The server names with the most bytes (ties: by name).
        let names = lock_names(&self.names);
        let mut by_name: Vec<(&str, App, u64, u64)> =
            self.by_name.iter().filter_map(|(id, (app, n, b))| Some((names.get(*id)?, *app, *n, *b))).collect();
        by_name.sort_by(|x, y| y.3.cmp(&x.3).then(x.0.cmp(y.0)));
        j.begin_array(Some("serverNames"));
        for (name, app, records, bytes) in by_name.into_iter().take(self.top_n) {
            j.begin_object(None);
            j.str("name", name);
            j.str("app", app.name());
            j.u64("records", records);
            j.u64("bytes", bytes);
            j.end_object();
        }
        j.end_array();
        let mut countries: Vec<(&String, &(u64, u64))> = self.by_country.iter().collect();
        countries.sort_by(|x, y| y.1 .1.cmp(&x.1 .1).then(x.0.cmp(y.0)));
        j.begin_array(Some("countries"));
        for (country, (records, bytes)) in countries.into_iter().take(self.top_n) {
            j.begin_object(None);
            j.str("country", country);
            j.u64("records", *records);
            j.u64("bytes", *bytes);
            j.end_object();
        }
        j.end_array();
        let mut systems: Vec<(&u32, &(String, u64, u64))> = self.by_as.iter().collect();
        systems.sort_by(|x, y| y.1 .2.cmp(&x.1 .2).then(x.0.cmp(y.0)));
        j.begin_array(Some("autonomousSystems"));
        for (asn, (name, records, bytes)) in systems.into_iter().take(self.top_n) {
            j.begin_object(None);
            j.u64("asn", u64::from(*asn));
            j.str("name", name);
            j.u64("records", *records);
            j.u64("bytes", *bytes);
            j.end_object();
        }
        j.end_array();
        more(&mut j);
        j.end_object();
        j.finish()
    }
}

/// Finished records waiting to be taken, with what they are written with.
#[derive(Debug, Default)]
pub struct FlowOutput {
    /// (probe, interface) names; a record's `interface` field is an index here (the same list
    /// as the flow meter's).
    origins: Vec<(String, String)>,
    local: Vec<Cidr>,
    community_id_seed: u16,
    summary: Option<FlowSummary>,
    pending: Vec<FlowRecord>,
    /// Rows written as records finish, with this source and run (the usual way out: made on
    /// the thread that finishes records, not the one that takes them).
    rows_as: Option<(String, String)>,
    rows: StorageRows,
    /// The table the records' name ids are in (the flow cache's).
    names: SharedNames,
    /// Country and AS databases of the endpoints (None: no enrichment).
    geo: Option<Arc<Geo>>,
}

/// Gives each record its Community ID (the costly part of a record's way out).
pub fn hash_records(records: &mut [FlowRecord], seed: u16) {
    for r in records.iter_mut() {
        if r.community_id.is_none() {
            *r = r.with_community_id(seed);
        }
    }
}

impl FlowOutput {
    pub fn new(local: Vec<Cidr>, community_id_seed: u16) -> FlowOutput {
        FlowOutput { local, community_id_seed, ..FlowOutput::default() }
    }

    /// The country and AS databases records are written with from now on.
    pub fn set_geo(&mut self, geo: Option<Arc<Geo>>) {
        self.geo = geo;
    }

    /// The flow cache's name table (records carry ids in it).
    pub fn set_names(&mut self, names: SharedNames) {
        if let Some(s) = &mut self.summary {
            s.names = names.clone();
        }
        self.names = names;
    }

    /// Writes the rows of the `flows` table as records finish, with this source and run.
    pub fn write_rows_as(&mut self, source: &str, run: &str) {
        self.rows_as = Some((source.to_string(), run.to_string()));
    }

    /// Keeps a summary of the records finished, with the `top_n` largest.
    pub fn summarize(&mut self, top_n: usize) {
        self.summary = Some(FlowSummary { names: self.names.clone(), ..FlowSummary::new(top_n) });
    }

    pub fn summary(&self) -> Option<&FlowSummary> {
        self.summary.as_ref()
    }

    pub fn community_id_seed(&self) -> u16 {
        self.community_id_seed
    }

    /// Names the next origin (the flow meter's list, in the same order).
    pub fn add_origin(&mut self, probe: &str, interface: &str) {
        self.origins.push((probe.to_string(), interface.to_string()));
    }

    /// Records that finished (in the order they did), into the summary and the pending list.
    pub fn add(&mut self, mut records: Vec<FlowRecord>) {
        if self.rows_as.is_some() {
            hash_records(&mut records, self.community_id_seed);
        }
        let names = self.names.clone();
        let names = lock_names(&names);
        // Each endpoint is looked up once, for the summary and the row alike.
        let places: Vec<Places> = if self.summary.is_some() || self.rows_as.is_some() {
            records.iter().map(|r| self.places(r)).collect()
        } else {
            Vec::new()
        };
        if let Some(summary) = &mut self.summary {
            for (r, (a, b)) in records.iter().zip(&places) {
                summary.records += 1;
                summary.packets += r.packets();
                summary.bytes += r.bytes();
                count(&mut summary.by_reason, r.reason.name());
                count(&mut summary.by_direction, direction(&self.local, &r.a, &r.b));
                if r.server_name != 0 {
                    let e = summary.by_name.entry(r.server_name).or_insert((r.app, 0, 0));
                    e.1 += 1;
                    e.2 += r.bytes();
                }
                summary.add_geo(a, b, r.bytes());
                let bytes = r.bytes();
                if summary.top.len() < summary.top_n || summary.top.last().is_some_and(|(b, _)| bytes > *b) {
                    let mut j = Json::new();
                    let r = if r.community_id.is_none() { r.with_community_id(self.community_id_seed) } else { *r };
                    write_record_with(&self.origins, &self.local, &names, self.geo.as_deref(), &mut j, &r, false);
                    summary.top.push((bytes, j.finish()));
                    // Stable: of equal sizes, the one finished first stays ahead.
                    summary.top.sort_by_key(|b| std::cmp::Reverse(b.0));
                    summary.top.truncate(summary.top_n);
                }
            }
        }
        if let Some((source, run)) = &self.rows_as {
            let mut rows = std::mem::take(&mut self.rows);
            for (r, p) in records.iter().zip(&places) {
                self.write_row(&mut rows, source, run, r, &names, p);
            }
            self.rows = rows;
        }
        if self.pending.is_empty() {
            self.pending = records;
        } else {
            self.pending.extend(records);
        }
    }

    /// The records finished since the last call, as rows and/or JSON.
    pub fn take(&mut self, out: FlowOut<'_>) -> TakenFlows {
        let mut records = std::mem::take(&mut self.pending);
        if out.rows.is_some() || out.json {
            hash_records(&mut records, self.community_id_seed);
        }
        let mut taken = TakenFlows { records: records.len(), ..TakenFlows::default() };
        let names = self.names.clone();
        let names = lock_names(&names);
        let written = std::mem::take(&mut self.rows);
        if out.rows.is_some() && out.rows == self.rows_as.as_ref().map(|(s, r)| (s.as_str(), r.as_str())) {
            taken.rows = Some(written);
        } else if let Some((source, run)) = out.rows {
            let mut rows = StorageRows::default();
            for r in &records {
                self.write_row(&mut rows, source, run, r, &names, &self.places(r));
            }
            taken.rows = Some(rows);
        }
        if out.json {
            let mut j = Json::new();
            j.begin_array(None);
            for r in &records {
                write_record_with(&self.origins, &self.local, &names, self.geo.as_deref(), &mut j, r, false);
            }
            j.end_array();
            taken.json = Some(j.finish());
        }
        taken
    }

    /// Where a record's endpoints are (country, AS), by the databases.
    fn places(&self, r: &FlowRecord) -> Places {
        self.geo.as_ref().map(|g| (g.lookup(&r.a), g.lookup(&r.b))).unwrap_or_default()
    }

    /// One record as a row of the `flows` table (quarantined when a time is past 2262).
    fn write_row(
        &self,
        rows: &mut StorageRows,
        source: &str,
        run: &str,
        r: &FlowRecord,
        names: &NameTable,
        place: &Places,
    ) {
        let (probe, interface) = origin_names(&self.origins, r.interface);
        let times: Vec<(&'static str, u64)> = [("first_seen", r.first_ns), ("last_seen", r.last_ns)]
            .into_iter()
            .filter_map(|(c, t)| t.map(|t| (c, t)))
            .collect();
        let w = &mut rows.tables[FLOWS];
        let start = w.buf.len();
        w.string(source);
        w.string(run);
        w.string(probe);
        w.string(interface);
        match &r.community_id {
            Some(id) => {
                w.u8(0);
                w.string(id.as_str());
            }
            None => w.u8(1),
        }
        w.u8(if r.a.family == Family::None { 0 } else { r.a.family as u8 });
        w.ipv6(&r.a.bytes);
        w.ipv6(&r.b.bytes);
        w.u16(r.port_a);
        w.u16(r.port_b);
        w.u8(r.proto);
        w.nullable_time(r.first_ns);
        w.nullable_time(r.last_ns);
        for v in [r.packets_ab, r.bytes_ab, r.packets_ba, r.bytes_ba] {
            w.u64(v);
        }
        w.string(&names::tcp_flags(r.tcp_flags_ab));
        w.string(&names::tcp_flags(r.tcp_flags_ba));
        w.string(r.state.name());
        w.string(r.reason.name());
        w.u16(r.vlan);
        w.string(direction(&self.local, &r.a, &r.b));
        w.string(r.app.name());
        w.string(names.get(r.server_name).unwrap_or(""));
        w.string(names.get(r.alpn).unwrap_or(""));
        let (a, b) = place;
        w.string(&a.country);
        w.string(&b.country);
        w.u64(a.asn as u64);
        w.u64(b.asn as u64);
        w.string(&a.as_name);
        w.string(&b.as_name);
        w.end_row();
        if let Err(e) = check_times(&times) {
            let bytes = w.buf.split_off(start);
            w.rows -= 1;
            if let Ok((json, _)) = row_json(TABLES[FLOWS].columns, &bytes) {
                rows.quarantined.push(Quarantined { table: FLOWS, reason: e.to_string(), json });
            }
        }
    }
}

/// Country and AS of a record's endpoints A and B (unknown without databases).
type Places = (GeoInfo, GeoInfo);

fn origin_names(origins: &[(String, String)], interface: u16) -> (&str, &str) {
    origins.get(interface as usize).map(|(p, i)| (p.as_str(), i.as_str())).unwrap_or(("", ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geo(country: &str, asn: u32, name: &str) -> GeoInfo {
        GeoInfo { country: country.into(), asn, as_name: name.into() }
    }

    #[test]
    fn countries_and_systems_count_a_record_once_per_place() {
        let mut s = FlowSummary::new(10);
        // Both ends in one country and AS: once; ends in two: once each; unknown: not at all.
        s.add_geo(&geo("NL", 1136, "KPN"), &geo("NL", 1136, "KPN"), 100);
        s.add_geo(&geo("NL", 1136, "KPN"), &geo("DE", 3320, "DTAG"), 10);
        s.add_geo(&geo("", 0, ""), &geo("DE", 3320, "DTAG"), 1);
        s.add_geo(&geo("", 0, ""), &geo("", 0, ""), 1000);
        let j = s.json();
        assert!(
            j.contains(
                r#""countries":[{"country":"NL","records":2,"bytes":110},{"country":"DE","records":2,"bytes":11}]"#
            ),
            "{j}"
        );
        assert!(
            j.contains(
                r#""autonomousSystems":[{"asn":1136,"name":"KPN","records":2,"bytes":110},{"asn":3320,"name":"DTAG","records":2,"bytes":11}]"#
            ),
            "{j}"
        );
    }
}
