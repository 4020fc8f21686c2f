//! Storage rows of a closed window: the window's NSWS snapshot turned into TabSeparated rows for
//! each stored table, ready for ClickHouse's `FORMAT TabSeparated` (and read back the same way).
//!
//! Every row starts with the source (which engine or analysis wrote it), window start and end
//! (epoch seconds with nine decimals) and, for task rows, the task name. Key columns are always
//! all present: family (4, 6, or 0 when the key has no address or the packet no IP layer),
//! src_ip, dst_ip (IPv6 text, IPv4 mapped), src_port, dst_port, proto; a field outside the
//! task's key is written as `::` or 0. Column orders are in [`TABLE_COLUMNS`].
//!
//! Output layout for the bindings, per table in [`TABLES`] order: u32 rows, u32 byte length,
//! that many bytes of TabSeparated text.

use super::snapshot::{SNAPSHOT_MAGIC, SNAPSHOT_VERSION};
use crate::addr::{Addr, Family};
use crate::bytes::LeReader;
use crate::json::epoch_text;
use crate::sketch::countmin::CountMin;
use crate::sketch::superspread::SuperSpread;
use crate::sketch::PackedKey;
use crate::table::KeyFields;
use std::fmt::Write;

pub const TABLES: [&str; 5] = ["windows", "window_tasks", "exact_rows", "heavy_hitters", "spreaders"];

/// Column lists in the order rows are written, one per table of [`TABLES`].
pub const TABLE_COLUMNS: [&str; 5] = [
    "source, window_start, window_end, packets, bytes, late_packets, first_seen, last_seen",
    "source, window_start, window_end, task, type, key_fields, second_fields, keys, stream_packets, stream_bytes, payload_bytes",
    "source, window_start, window_end, task, family, src_ip, dst_ip, src_port, dst_port, proto, packets, bytes, distinct_count",
    "source, window_start, window_end, task, rank, family, src_ip, dst_ip, src_port, dst_port, proto, packets, bytes",
    "source, window_start, window_end, task, family, src_ip, dst_ip, src_port, dst_port, proto, spread",
];

/// The rows of one window, per table.
#[derive(Debug, Default)]
pub struct StorageRows {
    pub text: [String; 5],
    pub rows: [u32; 5],
}

impl StorageRows {
    /// The bindings' buffer (layout in the module documentation).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.iter().map(|t| t.len() + 8).sum());
        for (text, rows) in self.text.iter().zip(self.rows) {
            out.extend_from_slice(&rows.to_le_bytes());
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out
    }

    fn row(&mut self, table: usize, prefix: &str) -> &mut String {
        self.rows[table] += 1;
        let t = &mut self.text[table];
        t.push_str(prefix);
        t
    }
}

/// TabSeparated text of a string: backslash, tab and newline escaped.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
}

fn push_addr(out: &mut String, a: Option<Addr>) {
    match a {
        Some(a) if a.family != Family::None => {
            let _ = write!(out, "{}", std::net::Ipv6Addr::from(a.bytes));
        }
        _ => out.push_str("::"),
    }
}

/// `\tfamily\tsrc_ip\tdst_ip\tsrc_port\tdst_port\tproto` of a key.
fn push_key(out: &mut String, key: &PackedKey, fields: KeyFields) {
    let p = key.parts(fields);
    let family = p.src.or(p.dst).map_or(0, |a| a.family as u8);
    let _ = write!(out, "\t{family}\t");
    push_addr(out, p.src);
    out.push('\t');
    push_addr(out, p.dst);
    let _ = write!(out, "\t{}\t{}\t{}", p.src_port.unwrap_or(0), p.dst_port.unwrap_or(0), p.proto.unwrap_or(0));
}

/// Turns an NSWS window snapshot into storage rows; `source` names who wrote the window.
pub fn storage_rows(snapshot: &[u8], source: &str) -> Result<StorageRows, String> {
    let mut r = LeReader::new(snapshot, "window snapshot");
    if r.take(4, "magic")? != SNAPSHOT_MAGIC {
        return Err("not a window snapshot (bad magic)".to_string());
    }
    let version = r.u16("version")?;
    if version != SNAPSHOT_VERSION {
        return Err(format!("unsupported window snapshot version {version} (expected {SNAPSHOT_VERSION})"));
    }
    let [start, end, packets, bytes, late, first, last, _syn] = {
        let mut v = [0u64; 8];
        for (x, what) in v.iter_mut().zip(["start", "end", "packets", "bytes", "late", "first", "last", "syn"]) {
            *x = r.u64(what)?;
        }
        v
    };
    let mut out = StorageRows::default();
    let mut prefix = String::new();
    push_escaped(&mut prefix, source);
    let _ = write!(prefix, "\t{}\t{}", epoch_text(start), epoch_text(end));
    // No timed packet in the window (pcapng simple packets only): no first or last time.
    let seen = |ns: u64| if last > 0 { epoch_text(ns) } else { "\\N".to_string() };
    let row = out.row(0, &prefix);
    let _ = writeln!(row, "\t{packets}\t{bytes}\t{late}\t{}\t{}", seen(first), seen(last));

    let tasks = r.u16("task count")?;
    for _ in 0..tasks {
        let name_len = r.u8("task name length")? as usize;
        let name = std::str::from_utf8(r.take(name_len, "task name")?)
            .map_err(|_| "window snapshot: task name is not UTF-8".to_string())?;
        let kind = r.u8("task type")?;
        let key = KeyFields(r.u8("key fields")?);
        let second = KeyFields(r.u8("second fields")?);
        let len = r.u32("task payload length")? as usize;
        let payload = r.take(len, "task payload")?;
        let mut task_prefix = prefix.clone();
        task_prefix.push('\t');
        push_escaped(&mut task_prefix, name);
        let context = |e: String| format!("task \"{name}\": {e}");
        let (type_name, keys, stream) = match kind {
            1 => {
                let (keys, stream) = exact_rows(payload, key, &task_prefix, &mut out).map_err(context)?;
                ("exact", keys, stream)
            }
            2 => {
                let cm = CountMin::decode(payload).map_err(context)?;
                let mut keys = 0;
                for (rank, rows) in [("packets", cm.heavy_hitters_by_packets()), ("bytes", cm.heavy_hitters_by_bytes())]
                {
                    for (k, p, b) in rows {
                        keys += 1;
                        let row = out.row(3, &task_prefix);
                        let _ = write!(row, "\t{rank}");
                        push_key(row, &k, key);
                        let _ = writeln!(row, "\t{p}\t{b}");
                    }
                }
                ("countmin", keys, cm.total())
            }
            3 => {
                let ss = SuperSpread::decode(payload).map_err(context)?;
                let spreaders = ss.spreaders();
                for (k, spread) in &spreaders {
                    let row = out.row(4, &task_prefix);
                    push_key(row, k, key);
                    let _ = writeln!(row, "\t{spread}");
                }
                ("superspread", spreaders.len() as u64, (0, 0))
            }
            other => return Err(format!("task \"{name}\": unknown task type {other}")),
        };
        let row = out.row(1, &prefix);
        row.push('\t');
        push_escaped(row, name);
        let _ = writeln!(row, "\t{type_name}\t{key}\t{second}\t{keys}\t{}\t{}\t{len}", stream.0, stream.1);
    }
    if r.remaining() > 0 {
        return Err(format!("window snapshot has {} bytes past its last task", r.remaining()));
    }
    Ok(out)
}

/// Rows of an exact task's payload; returns the number of keys and the packets and bytes summed.
fn exact_rows(
    payload: &[u8],
    key: KeyFields,
    prefix: &str,
    out: &mut StorageRows,
) -> Result<(u64, (u64, u64)), String> {
    let mut r = LeReader::new(payload, "exact task payload");
    let rows = r.u32("exact row count")?;
    let (mut packets, mut bytes) = (0u64, 0u64);
    for _ in 0..rows {
        let len = r.u8("key length")? as usize;
        let k = PackedKey::from_bytes(r.take(len, "key")?).ok_or("key longer than any key")?;
        let (p, b, d) = (r.u64("packets")?, r.u64("bytes")?, r.u64("distinct")?);
        packets += p;
        bytes += b;
        let row = out.row(2, prefix);
        push_key(row, &k, key);
        let _ = writeln!(row, "\t{p}\t{b}\t{d}");
    }
    if r.remaining() > 0 {
        return Err("exact payload longer than its rows".to_string());
    }
    Ok((rows as u64, (packets, bytes)))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{rec, tasks, SECOND};
    use super::*;
    use crate::engine::{Engine, EngineConfig};

    fn window_snapshot(packets: &[(u8, u8, u32)]) -> Vec<u8> {
        let mut e = Engine::new(&EngineConfig { window_ns: 10 * SECOND, tasks: tasks() }, 1).unwrap();
        for &(src, dst, len) in packets {
            e.add(&rec(1_000_000_003.5, src, dst, len), true);
        }
        let mut out = Vec::new();
        e.close_window().unwrap().encode(&mut out);
        out
    }

    fn lines(rows: &StorageRows, table: &str) -> Vec<Vec<String>> {
        let i = TABLES.iter().position(|t| *t == table).unwrap();
        let text = &rows.text[i];
        let out: Vec<Vec<String>> = text.lines().map(|l| l.split('\t').map(str::to_string).collect()).collect();
        assert_eq!(out.len(), rows.rows[i] as usize, "{table}: row count");
        let columns = TABLE_COLUMNS[i].split(", ").count();
        assert!(out.iter().all(|r| r.len() == columns), "{table}: every row has {columns} columns");
        out
    }

    #[test]
    fn every_table_gets_its_rows() {
        // 10.0.0.1 talks to 8 hosts (a spreader at threshold 5), 10.0.0.2 to one.
        let mut packets: Vec<(u8, u8, u32)> = (1..=8).map(|d| (1, d, 100)).collect();
        packets.push((2, 1, 60));
        let rows = storage_rows(&window_snapshot(&packets), "probe\tA").unwrap();

        let windows = lines(&rows, "windows");
        assert_eq!(windows[0][..6], ["probe\\tA", "1000000000.000000000", "1000000010.000000000", "9", "860", "0"]);
        assert_eq!(windows[0][6], "1000000003.500000000");

        let exact = lines(&rows, "exact_rows");
        assert_eq!(exact.len(), 2);
        let first = &exact[0];
        assert_eq!(first[3], "src");
        assert_eq!(first[4..10], ["4", "::ffff:10.0.0.1", "::", "0", "0", "0"]);
        assert_eq!(first[10..], ["8", "800", "8"]);

        let heavy = lines(&rows, "heavy_hitters");
        assert!(heavy.iter().any(|r| r[4] == "packets" && r[6] == "::ffff:10.0.0.1" && r[11] == "8"));
        assert!(heavy.iter().any(|r| r[4] == "bytes" && r[6] == "::ffff:10.0.0.2" && r[12] == "60"));

        let spreaders = lines(&rows, "spreaders");
        assert_eq!(spreaders.len(), 1);
        assert_eq!(spreaders[0][5], "::ffff:10.0.0.1");

        let per_task = lines(&rows, "window_tasks");
        let names: Vec<&str> = per_task.iter().map(|r| r[3].as_str()).collect();
        assert_eq!(names, ["src", "hh", "ss"]);
        assert_eq!(per_task[0][4..10], ["exact", "SrcIP", "DstIP", "2", "9", "860"]);
        assert_eq!(per_task[1][8..10], ["9", "860"], "the Count-Min stream totals");
    }

    #[test]
    fn encode_frames_each_table() {
        let rows = storage_rows(&window_snapshot(&[(1, 1, 64)]), "s").unwrap();
        let buf = rows.encode();
        let mut at = 0;
        for i in 0..TABLES.len() {
            let n = u32::from_le_bytes(buf[at..at + 4].try_into().unwrap());
            let len = u32::from_le_bytes(buf[at + 4..at + 8].try_into().unwrap()) as usize;
            assert_eq!(n, rows.rows[i]);
            assert_eq!(&buf[at + 8..at + 8 + len], rows.text[i].as_bytes());
            at += 8 + len;
        }
        assert_eq!(at, buf.len());
    }

    #[test]
    fn damaged_snapshots_are_refused_without_panicking() {
        let good = window_snapshot(&[(1, 1, 64), (1, 2, 64)]);
        for cut in 0..good.len() {
            assert!(storage_rows(&good[..cut], "s").is_err(), "cut at {cut}");
        }
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(storage_rows(&bad, "s").err().unwrap(), "not a window snapshot (bad magic)");
        let mut longer = good.clone();
        longer.push(0);
        assert!(storage_rows(&longer, "s").unwrap_err().contains("past its last task"));
        // Flipped bytes anywhere: an error or rows, never a panic.
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0xa5;
            let _ = storage_rows(&b, "s");
        }
    }

    #[test]
    fn a_peeked_window_keeps_counting() {
        let mut e = Engine::new(&EngineConfig { window_ns: 10 * SECOND, tasks: tasks() }, 1).unwrap();
        e.add(&rec(1_000_000_001.0, 1, 1, 100), true);
        let peeked = e.peek_window().unwrap();
        assert_eq!(peeked.counters.packets, 1);
        e.add(&rec(1_000_000_002.0, 1, 2, 100), true);
        let closed = e.close_window().unwrap();
        assert_eq!(closed.counters.packets, 2);
        let mut buf = Vec::new();
        closed.encode(&mut buf);
        let exact = lines(&storage_rows(&buf, "s").unwrap(), "exact_rows");
        assert_eq!(exact[0][10..], ["2", "200", "2"]);
        assert!(e.peek_window().is_none(), "nothing open after the close");
    }
}
