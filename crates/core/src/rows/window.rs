//! Storage rows of a closed window, from its NSWS snapshot.
//!
//! Every row starts with the source (which engine or analysis wrote it), the run (an analysis
//! run's id; empty for an engine) and the window's start and end. Key columns are always all
//! present: family (4, 6, or 0 when the key has no address or the packet no IP layer), src_ip,
//! dst_ip (IPv4 mapped; a prefix's network), src_port, dst_port, proto, src_prefix_len,
//! dst_prefix_len, icmp_type, icmp_code, tcp_flags, dscp, vlan, src_as, dst_as, src_country,
//! dst_country, direction, app, server_name, probe, interface; a field outside the task's key
//! is `::`, 0 or empty.

use super::{check_times, RowWriter, StorageRows};
use crate::addr::{Addr, Family};
use crate::bytes::LeReader;
use crate::engine::{WindowSnapshot, SNAPSHOT_MAGIC, SNAPSHOT_VERSION};
use crate::key::{app_text, server_name_text, KeyFields, KeyNames, PackedKey};
use crate::sketch::countmin::CountMin;
use crate::sketch::superspread::SuperSpread;

const WINDOWS: usize = 0;
const WINDOW_TASKS: usize = 1;
const EXACT_ROWS: usize = 2;
const HEAVY_HITTERS: usize = 3;
const SPREADERS: usize = 4;

/// The columns every row of a window starts with.
struct Prefix<'a> {
    source: &'a str,
    run: &'a str,
    start: u64,
    end: u64,
}

impl Prefix<'_> {
    fn write(&self, w: &mut RowWriter) {
        w.string(self.source);
        w.string(self.run);
        w.time(self.start);
        w.time(self.end);
    }

    fn task(&self, w: &mut RowWriter, task: &str) {
        self.write(w);
        w.string(task);
    }
}

const NO_ADDR: [u8; 16] = [0; 16];

fn addr_bytes(a: &Option<Addr>) -> &[u8; 16] {
    match a {
        Some(a) if a.family != Family::None => &a.bytes,
        _ => &NO_ADDR,
    }
}

/// family, src_ip, dst_ip, src_port, dst_port, proto, then the other fields of a key: a
/// prefix is its network in src_ip/dst_ip with its length beside.
fn write_key(w: &mut RowWriter, key: &PackedKey, fields: KeyFields, names: &KeyNames) {
    let p = key.parts(fields);
    let src = p.src.or(p.src_prefix.map(|(a, _)| a));
    let dst = p.dst.or(p.dst_prefix.map(|(a, _)| a));
    w.u8(src.or(dst).map_or(0, |a| a.family as u8));
    w.ipv6(addr_bytes(&src));
    w.ipv6(addr_bytes(&dst));
    w.u16(p.src_port.unwrap_or(0));
    w.u16(p.dst_port.unwrap_or(0));
    w.u8(p.proto.unwrap_or(0));
    w.u8(p.src_prefix.map_or(0, |(_, l)| l));
    w.u8(p.dst_prefix.map_or(0, |(_, l)| l));
    w.u8(p.icmp_type.unwrap_or(0));
    w.u8(p.icmp_code.unwrap_or(0));
    w.u8(p.tcp_flags.unwrap_or(0));
    w.u8(p.dscp.unwrap_or(0));
    w.u16(p.vlan.unwrap_or(0));
    w.u64(p.src_as.unwrap_or(0) as u64);
    w.u64(p.dst_as.unwrap_or(0) as u64);
    let country = |c: Option<[u8; 2]>| {
        c.filter(|c| *c != [0, 0]).map(|c| String::from_utf8_lossy(&c).into_owned()).unwrap_or_default()
    };
    w.string(&country(p.src_country));
    w.string(&country(p.dst_country));
    w.string(p.direction.unwrap_or(""));
    w.string(&p.app.map(app_text).unwrap_or_default());
    w.string(&p.server_name.map(|id| server_name_text(id, names)).unwrap_or_default());
    let (probe, interface) = p.interface.and_then(|i| names.origin(i)).unwrap_or(("", ""));
    w.string(probe);
    w.string(interface);
}

/// The rows of a window being written: the window's own row, then each task's.
struct WindowRows<'a> {
    out: StorageRows,
    prefix: Prefix<'a>,
    /// The server names and origins keys refer to.
    names: KeyNames,
}

impl<'a> WindowRows<'a> {
    fn new(source: &'a str, run: &'a str, start: u64, end: u64, names: KeyNames) -> WindowRows<'a> {
        WindowRows { out: StorageRows::default(), prefix: Prefix { source, run, start, end }, names }
    }

    /// The `windows` row; `first`/`last` are the timed packets' times (None: no timed packet).
    fn window(&mut self, packets: u64, bytes: u64, late: u64, first: Option<u64>, last: Option<u64>) {
        let w = &mut self.out.tables[WINDOWS];
        self.prefix.write(w);
        w.u64(packets);
        w.u64(bytes);
        w.u64(late);
        w.nullable_time(first);
        w.nullable_time(last);
        w.end_row();
    }

    /// Rows of an exact task's keys (in the order given); returns their packets and bytes.
    fn exact(
        &mut self,
        task: &str,
        key: KeyFields,
        rows: impl Iterator<Item = (PackedKey, u64, u64, u64)>,
    ) -> (u64, (u64, u64)) {
        let (mut n, mut packets, mut bytes) = (0u64, 0u64, 0u64);
        let w = &mut self.out.tables[EXACT_ROWS];
        for (k, p, b, d) in rows {
            n += 1;
            packets += p;
            bytes += b;
            self.prefix.task(w, task);
            write_key(w, &k, key, &self.names);
            w.u64(p);
            w.u64(b);
            w.u64(d);
            w.end_row();
        }
        (n, (packets, bytes))
    }

    fn countmin(&mut self, task: &str, key: KeyFields, cm: &CountMin) -> (u64, (u64, u64)) {
        let mut keys = 0;
        let w = &mut self.out.tables[HEAVY_HITTERS];
        for (rank, rows) in [("packets", cm.heavy_hitters_by_packets()), ("bytes", cm.heavy_hitters_by_bytes())] {
            for (k, p, b) in rows {
                keys += 1;
                self.prefix.task(w, task);
                w.string(rank);
                write_key(w, &k, key, &self.names);
                w.u64(p);
                w.u64(b);
                w.end_row();
            }
        }
        (keys, cm.total())
    }

    fn superspread(&mut self, task: &str, key: KeyFields, ss: &SuperSpread) -> (u64, (u64, u64)) {
        let spreaders = ss.spreaders();
        let w = &mut self.out.tables[SPREADERS];
        for (k, spread) in &spreaders {
            self.prefix.task(w, task);
            write_key(w, k, key, &self.names);
            w.u64(*spread);
            w.end_row();
        }
        (spreaders.len() as u64, (0, 0))
    }

    /// The `window_tasks` row of a task.
    #[allow(clippy::too_many_arguments)]
    fn task(
        &mut self,
        name: &str,
        type_name: &str,
        key: KeyFields,
        second: KeyFields,
        keys: u64,
        stream: (u64, u64),
        payload: u64,
    ) {
        let w = &mut self.out.tables[WINDOW_TASKS];
        self.prefix.task(w, name);
        w.string(type_name);
        w.string(&key.to_string());
        w.string(&second.to_string());
        w.u64(keys);
        w.u64(stream.0);
        w.u64(stream.1);
        w.u64(payload);
        w.end_row();
    }

    /// The rows, or all of them in the quarantine when a time is past what the store holds.
    fn finish(mut self, first: Option<u64>, last: Option<u64>) -> Result<StorageRows, String> {
        let p = &self.prefix;
        let mut times = vec![("window_start", p.start), ("window_end", p.end)];
        times.extend(first.map(|t| ("first_seen", t)));
        times.extend(last.map(|t| ("last_seen", t)));
        if let Err(e) = check_times(&times) {
            self.out.quarantine_all(&e.to_string())?;
        }
        Ok(self.out)
    }
}

/// Storage rows of a closed (or peeked) window; `payloads`: the task payload lengths its NSWS
/// encoding gave; `source` names who wrote it, `run` the analysis run (empty for an engine).
/// The same rows [`storage_rows`] makes of its snapshot.
pub fn window_rows(w: &WindowSnapshot, payloads: &[u64], source: &str, run: &str) -> StorageRows {
    let c = &w.counters;
    let (first, last) = if c.timed > 0 { (Some(c.first_ns), Some(c.last_ns)) } else { (None, None) };
    let mut rows = WindowRows::new(source, run, w.start_ns, w.end_ns, w.names.clone());
    rows.window(c.packets, c.bytes, c.late, first, last);
    for (t, &payload) in w.tasks.iter().zip(payloads) {
        let name = t.spec.name.as_str();
        let key = t.spec.key;
        let (keys, stream) = if let Some(table) = t.exact() {
            rows.exact(name, key, table.top(table.len()).into_iter().map(|(k, s)| (k, s.packets, s.bytes, s.distinct)))
        } else if let Some(cm) = t.countmin() {
            rows.countmin(name, key, cm)
        } else if let Some(ss) = t.superspread() {
            rows.superspread(name, key, ss)
        } else {
            continue;
        };
        rows.task(name, t.spec.type_name(), key, t.second_fields(), keys, stream, payload);
    }
    // Only a time past 2262 can be refused, and a window's rows always decode.
    rows.finish(first, last).unwrap_or_default()
}

/// Turns an NSWS window snapshot into storage rows; `source` names who wrote the window, `run`
/// the analysis run (empty for an engine).
pub fn storage_rows(snapshot: &[u8], source: &str, run: &str) -> Result<StorageRows, String> {
    let mut r = LeReader::new(snapshot, "window snapshot");
    if r.take(4, "magic")? != SNAPSHOT_MAGIC {
        return Err("not a window snapshot (bad magic)".to_string());
    }
    let version = r.u16("version")?;
    // Version 2 held the five flow fields in one byte each for the key and second fields.
    if version != SNAPSHOT_VERSION && version != 2 {
        return Err(format!("unsupported window snapshot version {version} (expected 2 or {SNAPSHOT_VERSION})"));
    }
    let [start, end, packets, bytes, late, first, last, _syn] = {
        let mut v = [0u64; 8];
        for (x, what) in v.iter_mut().zip(["start", "end", "packets", "bytes", "late", "first", "last", "syn"]) {
            *x = r.u64(what)?;
        }
        v
    };
    // No timed packet in the window (pcapng simple packets only): no first or last time.
    let timed = first <= last;
    let (first, last) = if timed { (Some(first), Some(last)) } else { (None, None) };
    let mut names = KeyNames::default();
    if version != 2 {
        for _ in 0..r.u32("name count")? {
            let id = r.u32("name id")?;
            let len = r.u16("name length")? as usize;
            let name = std::str::from_utf8(r.take(len, "name")?)
                .map_err(|_| "window snapshot: a server name is not UTF-8".to_string())?;
            names.servers.push((id, name.into()));
        }
        if !names.servers.windows(2).all(|w| w[0].0 < w[1].0) {
            return Err("window snapshot: server names are not in id order".to_string());
        }
        for _ in 0..r.u16("origin count")? {
            let mut text = |what: &str| -> Result<Box<str>, String> {
                let len = r.u16(what)? as usize;
                std::str::from_utf8(r.take(len, what)?)
                    .map(Into::into)
                    .map_err(|_| format!("window snapshot: a {what} is not UTF-8"))
            };
            let probe = text("probe name")?;
            let interface = text("interface name")?;
            names.origins.push((probe, interface));
        }
    }
    let mut rows = WindowRows::new(source, run, start, end, names);
    rows.window(packets, bytes, late, first, last);
    let tasks = r.u16("task count")?;
    for _ in 0..tasks {
        let name_len = r.u8("task name length")? as usize;
        let name = std::str::from_utf8(r.take(name_len, "task name")?)
            .map_err(|_| "window snapshot: task name is not UTF-8".to_string())?;
        let kind = r.u8("task type")?;
        let (key, second) = if version == 2 {
            (fields_v2(&mut r, "key fields")?, fields_v2(&mut r, "second fields")?)
        } else {
            (fields(&mut r, "key fields")?, fields(&mut r, "second fields")?)
        };
        let len = r.u32("task payload length")? as usize;
        let payload = r.take(len, "task payload")?;
        let context = |e: String| format!("task \"{name}\": {e}");
        let (type_name, (keys, stream)) = match kind {
            1 => ("exact", rows.exact(name, key, exact_payload(payload).map_err(context)?.into_iter())),
            2 => ("countmin", rows.countmin(name, key, &CountMin::decode(payload).map_err(context)?)),
            3 => ("superspread", rows.superspread(name, key, &SuperSpread::decode(payload).map_err(context)?)),
            other => return Err(format!("task \"{name}\": unknown task type {other}")),
        };
        rows.task(name, type_name, key, second, keys, stream, len as u64);
    }
    if r.remaining() > 0 {
        return Err(format!("window snapshot has {} bytes past its last task", r.remaining()));
    }
    rows.finish(first, last)
}

/// Key fields as a snapshot holds them: u32 bits, then four prefix lengths.
fn fields(r: &mut LeReader<'_>, what: &str) -> Result<KeyFields, String> {
    let bits = r.u32(what)?;
    let mut prefix = [0u8; 4];
    for p in prefix.iter_mut() {
        *p = r.u8(what)?;
    }
    KeyFields::from_raw(bits, prefix)
        .ok_or_else(|| format!("window snapshot: {what} {bits:#x} with prefix lengths {prefix:?} are not a key"))
}

fn fields_v2(r: &mut LeReader<'_>, what: &str) -> Result<KeyFields, String> {
    let bits = r.u8(what)?;
    KeyFields::from_raw(bits as u32 & 31, [0; 4])
        .filter(|_| bits < 32)
        .ok_or_else(|| format!("window snapshot: {what} {bits:#x} are not a key"))
}

/// The keys of an exact task's payload: key, packets, bytes, distinct.
fn exact_payload(payload: &[u8]) -> Result<Vec<(PackedKey, u64, u64, u64)>, String> {
    let mut r = LeReader::new(payload, "exact task payload");
    let rows = r.u32("exact row count")?;
    let mut out = Vec::with_capacity((rows as usize).min(payload.len() / 25));
    for _ in 0..rows {
        let len = r.u8("key length")? as usize;
        let k = PackedKey::from_bytes(r.take(len, "key")?).ok_or("key longer than any key")?;
        out.push((k, r.u64("packets")?, r.u64("bytes")?, r.u64("distinct")?));
    }
    if r.remaining() > 0 {
        return Err("exact payload longer than its rows".to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{row_json, TABLES};
    use super::*;
    use crate::engine::tests::{rec, tasks, SECOND};
    use crate::engine::{Engine, EngineConfig};
    use crate::record::PacketRecord;

    fn window_snapshot_at(ts_s: f64, packets: &[(u8, u8, u32)]) -> Vec<u8> {
        let mut e =
            Engine::new(&EngineConfig { window_ns: 10 * SECOND, tasks: tasks(), ..Default::default() }, 1).unwrap();
        for &(src, dst, len) in packets {
            e.add_taking(&rec(ts_s, src, dst, len), true, 0);
        }
        let mut out = Vec::new();
        e.close_taking().unwrap().encode(&mut out);
        out
    }

    fn window_snapshot(packets: &[(u8, u8, u32)]) -> Vec<u8> {
        window_snapshot_at(1_000_000_003.5, packets)
    }

    /// Every row of a table as JSON objects.
    fn objects(rows: &StorageRows, table: &str) -> Vec<String> {
        let i = TABLES.iter().position(|t| t.name == table).unwrap();
        let w = &rows.tables[i];
        let mut at = 0;
        let mut out = Vec::new();
        for _ in 0..w.rows {
            let (json, used) = row_json(TABLES[i].columns, &w.buf[at..]).unwrap();
            at += used;
            out.push(json);
        }
        assert_eq!(at, w.buf.len(), "{table}: rows fill the buffer exactly");
        out
    }

    #[test]
    fn every_table_gets_its_rows() {
        // 10.0.0.1 talks to 8 hosts (a spreader at threshold 5), 10.0.0.2 to one.
        let mut packets: Vec<(u8, u8, u32)> = (1..=8).map(|d| (1, d, 100)).collect();
        packets.push((2, 1, 60));
        let rows = storage_rows(&window_snapshot(&packets), "probe\tA", "r1").unwrap();
        assert!(rows.quarantined.is_empty());

        let windows = objects(&rows, "windows");
        assert_eq!(
            windows,
            [
                r#"{"source":"probe\tA","run":"r1","window_start":"1000000000.000000000","window_end":"1000000010.000000000","packets":9,"bytes":860,"late_packets":0,"first_seen":"1000000003.500000000","last_seen":"1000000003.500000000"}"#
            ]
        );

        let exact = objects(&rows, "exact_rows");
        assert_eq!(exact.len(), 2);
        assert!(
            exact[0].contains(r#""task":"src","family":4,"src_ip":"::ffff:10.0.0.1","dst_ip":"::","src_port":0,"dst_port":0,"proto":0,"src_prefix_len":0,"dst_prefix_len":0,"icmp_type":0,"icmp_code":0,"tcp_flags":0,"dscp":0,"vlan":0,"src_as":0,"dst_as":0,"src_country":"","dst_country":"","direction":"","app":"","server_name":"","probe":"","interface":"","packets":8,"bytes":800,"distinct_count":8"#),
            "{}",
            exact[0]
        );

        let heavy = objects(&rows, "heavy_hitters");
        assert!(heavy.iter().any(|r| r.contains(r#""rank":"packets","family":4,"src_ip":"::ffff:10.0.0.1""#)
            && r.contains(r#""packets":8,"#)));
        assert!(heavy
            .iter()
            .any(|r| r.contains(r#""rank":"bytes","family":4,"src_ip":"::ffff:10.0.0.2""#)
                && r.contains(r#""bytes":60}"#)));

        let spreaders = objects(&rows, "spreaders");
        assert_eq!(spreaders.len(), 1);
        assert!(spreaders[0].contains(r#""src_ip":"::ffff:10.0.0.1""#));

        let per_task = objects(&rows, "window_tasks");
        assert_eq!(per_task.len(), 3);
        assert!(per_task[0].contains(
            r#""task":"src","type":"exact","key_fields":"SrcIP","second_fields":"DstIP","keys":2,"stream_packets":9,"stream_bytes":860"#
        ));
        assert!(
            per_task[1].contains(r#""task":"hh","type":"countmin""#)
                && per_task[1].contains(r#""stream_packets":9,"stream_bytes":860"#)
        );
        assert!(per_task[2].contains(r#""task":"ss","type":"superspread""#));
    }

    #[test]
    fn rows_of_a_window_equal_the_rows_of_its_snapshot() {
        let mut packets: Vec<(u8, u8, u32)> = (1..=8).map(|d| (1, d, 100)).collect();
        packets.push((2, 1, 60));
        let mut e =
            Engine::new(&EngineConfig { window_ns: 10 * SECOND, tasks: tasks(), ..Default::default() }, 1).unwrap();
        for &(src, dst, len) in &packets {
            e.add_taking(&rec(1_000_000_003.5, src, dst, len), true, 0);
        }
        let w = e.close_taking().unwrap();
        let mut snap = Vec::new();
        let payloads = w.encode(&mut snap);
        assert_eq!(window_rows(&w, &payloads, "s", "r").encode(), storage_rows(&snap, "s", "r").unwrap().encode());
    }

    #[test]
    fn server_names_and_interfaces_travel_with_the_snapshot() {
        use crate::app::App;
        use crate::engine::{TaskKind, TaskSpec};
        let exact = |name: &str, key: &str| TaskSpec {
            name: name.into(),
            key: KeyFields::parse(key).unwrap(),
            kind: TaskKind::Exact { distinct: KeyFields::NONE },
        };
        let tasks = vec![exact("names", "App,ServerName"), exact("interfaces", "Interface")];
        let mut e = Engine::new(&EngineConfig { window_ns: 10 * SECOND, tasks, ..Default::default() }, 1).unwrap();
        let eth1 = e.origin("probe\tA", "eth1");
        let r = rec(1_000_000_003.5, 1, 2, 100);
        e.add_named(&r, true, eth1, App::Tls, "www.example.org", "h2");
        e.add(&PacketRecord { src: r.dst, dst: r.src, src_port: r.dst_port, dst_port: r.src_port, ..r }, true, eth1);
        let w = e.close_taking().unwrap();
        let mut snap = Vec::new();
        let payloads = w.encode(&mut snap);
        let rows = storage_rows(&snap, "s", "r").unwrap();
        assert_eq!(window_rows(&w, &payloads, "s", "r").encode(), rows.encode());
        let exact = objects(&rows, "exact_rows");
        assert_eq!(exact.len(), 2, "{exact:?}");
        assert!(
            exact[0].contains(
                r#""app":"TLS","server_name":"www.example.org","probe":"","interface":"","packets":2,"bytes":200"#
            ),
            "{}",
            exact[0]
        );
        assert!(
            exact[1].contains(r#""app":"","server_name":"","probe":"probe\tA","interface":"eth1","packets":2"#),
            "{}",
            exact[1]
        );
        // Cut inside the names: refused, not misread.
        let names_at = 6 + 8 * 8;
        assert!(storage_rows(&snap[..names_at + 10], "s", "r").is_err());
    }

    #[test]
    fn a_window_past_2262_is_quarantined_whole_with_its_reason() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks(), ..Default::default() }, 1).unwrap();
        e.add_taking(&PacketRecord { ts_ns: u64::MAX - 5, ..rec(0.0, 1, 1, 64) }, true, 0);
        let mut snap = Vec::new();
        e.close_taking().unwrap().encode(&mut snap);
        let rows = storage_rows(&snap, "s", "").unwrap();
        assert!(rows.tables.iter().all(|t| t.rows == 0 && t.buf.is_empty()));
        assert_eq!(rows.quarantined.len(), 1 + 3 + 1 + 2, "window, three tasks, one exact key, two candidates");
        let q = &rows.quarantined[0];
        assert_eq!(q.table, 0);
        assert!(q.reason.starts_with("window_start 18446744073.709551610 s is past 2262-04-11"), "{}", q.reason);
        assert!(q.json.contains(r#""window_start":"18446744073.709551610""#), "{}", q.json);
    }

    #[test]
    fn time_zero_and_times_before_1973_are_stored_as_they_are() {
        let rows = storage_rows(&window_snapshot_at(0.0, &[(1, 1, 64)]), "s", "").unwrap();
        assert!(rows.quarantined.is_empty());
        assert!(objects(&rows, "windows")[0].contains(r#""window_start":"0.000000000""#));
        let rows = storage_rows(&window_snapshot_at(99_999_999.25, &[(1, 1, 64)]), "s", "").unwrap();
        assert!(objects(&rows, "windows")[0].contains(r#""first_seen":"99999999.250000000""#));
    }

    #[test]
    fn encode_frames_each_table_and_the_quarantine() {
        let rows = storage_rows(&window_snapshot(&[(1, 1, 64)]), "s", "").unwrap();
        let buf = rows.encode();
        let mut at = 0;
        for t in &rows.tables {
            let n = u32::from_le_bytes(buf[at..at + 4].try_into().unwrap());
            let len = u32::from_le_bytes(buf[at + 4..at + 8].try_into().unwrap()) as usize;
            assert_eq!(n, t.rows);
            assert_eq!(&buf[at + 8..at + 8 + len], &t.buf[..]);
            at += 8 + len;
        }
        assert_eq!(&buf[at..], &[0, 0, 0, 0], "no quarantined row");
    }

    #[test]
    fn damaged_snapshots_are_refused_without_panicking() {
        let good = window_snapshot(&[(1, 1, 64), (1, 2, 64)]);
        for cut in 0..good.len() {
            assert!(storage_rows(&good[..cut], "s", "").is_err(), "cut at {cut}");
        }
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(storage_rows(&bad, "s", "").err().unwrap(), "not a window snapshot (bad magic)");
        let mut longer = good.clone();
        longer.push(0);
        assert!(storage_rows(&longer, "s", "").unwrap_err().contains("past its last task"));
        // Flipped bytes anywhere: an error or rows, never a panic.
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0xa5;
            let _ = storage_rows(&b, "s", "");
        }
    }

    #[test]
    fn a_peeked_window_keeps_counting() {
        let mut e =
            Engine::new(&EngineConfig { window_ns: 10 * SECOND, tasks: tasks(), ..Default::default() }, 1).unwrap();
        e.add_taking(&rec(1_000_000_001.0, 1, 1, 100), true, 0);
        let peeked = e.peek_snapshot().unwrap().unwrap();
        assert_eq!(peeked.counters.packets, 1);
        e.add_taking(&rec(1_000_000_002.0, 1, 2, 100), true, 0);
        let closed = e.close_taking().unwrap();
        assert_eq!(closed.counters.packets, 2);
        let mut buf = Vec::new();
        closed.encode(&mut buf);
        let exact = objects(&storage_rows(&buf, "s", "").unwrap(), "exact_rows");
        assert!(exact[0].contains(r#""packets":2,"bytes":200,"distinct_count":2"#), "{}", exact[0]);
        assert!(e.peek_snapshot().unwrap().is_none(), "nothing open after the close");
    }
}
