//! Rows of the stored tables, made here so that their columns and encoding exist in one place.
//!
//! Every table the core fills (the window tables, and the flow records') is listed in
//! [`TABLES`] with its columns (name and ClickHouse
//! type, the order rows carry them); the bindings export the list, and the store's tests check
//! it against the tables the migrations made. Rows are RowBinary ([`binary`]). A row whose
//! values the store cannot hold (a time past 2262) is not written to its table: it is kept in
//! [`StorageRows::quarantined`] as JSON with the reason, for the store's quarantine.
//!
//! The bindings' buffer ([`StorageRows::encode`]), little-endian: per table of [`TABLES`], in
//! order, u32 rows, u32 byte length, that many bytes of RowBinary; then u32 quarantined rows,
//! each u8 table index, u32 reason length, reason (UTF-8), u32 row length, the row as JSON.

pub mod binary;
mod window;

pub use binary::{check_times, row_json, ColumnType, RowWriter, TimeOutOfRange, MAX_TIME_NS};
pub use window::{storage_rows, window_rows};

/// A table the core makes rows for, and its columns.
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, ColumnType)],
}

const WINDOW: [(&str, ColumnType); 4] = [
    ("source", ColumnType::LowCardinalityString),
    ("run", ColumnType::LowCardinalityString),
    ("window_start", ColumnType::Time),
    ("window_end", ColumnType::Time),
];

macro_rules! columns {
    ($($prefix:expr),* ; $($name:literal : $ty:ident),* $(,)?) => {
        &[$($prefix[0], $prefix[1], $prefix[2], $prefix[3],)* $(($name, ColumnType::$ty)),*]
    };
}

/// Index in [`TABLES`] of the flow records' table.
pub const FLOWS: usize = 5;

pub const TABLES: [Table; 6] = [
    Table {
        name: "windows",
        columns: columns!(WINDOW; "packets": UInt64, "bytes": UInt64, "late_packets": UInt64,
            "first_seen": NullableTime, "last_seen": NullableTime),
    },
    Table {
        name: "window_tasks",
        columns: columns!(WINDOW; "task": LowCardinalityString, "type": LowCardinalityString,
            "key_fields": LowCardinalityString, "second_fields": LowCardinalityString, "keys": UInt64,
            "stream_packets": UInt64, "stream_bytes": UInt64, "payload_bytes": UInt64),
    },
    Table {
        name: "exact_rows",
        columns: columns!(WINDOW; "task": LowCardinalityString, "family": UInt8, "src_ip": IPv6, "dst_ip": IPv6,
            "src_port": UInt16, "dst_port": UInt16, "proto": UInt8,
            "src_prefix_len": UInt8, "dst_prefix_len": UInt8, "icmp_type": UInt8, "icmp_code": UInt8,
            "tcp_flags": UInt8, "dscp": UInt8, "vlan": UInt16, "src_as": UInt64, "dst_as": UInt64,
            "src_country": LowCardinalityString, "dst_country": LowCardinalityString,
            "direction": LowCardinalityString, "app": LowCardinalityString, "server_name": String,
            "probe": LowCardinalityString, "interface": LowCardinalityString, "packets": UInt64,
            "bytes": UInt64, "distinct_count": UInt64),
    },
    Table {
        name: "heavy_hitters",
        columns: columns!(WINDOW; "task": LowCardinalityString, "rank": LowCardinalityString, "family": UInt8,
            "src_ip": IPv6, "dst_ip": IPv6, "src_port": UInt16, "dst_port": UInt16, "proto": UInt8,
            "src_prefix_len": UInt8, "dst_prefix_len": UInt8, "icmp_type": UInt8, "icmp_code": UInt8,
            "tcp_flags": UInt8, "dscp": UInt8, "vlan": UInt16, "src_as": UInt64, "dst_as": UInt64,
            "src_country": LowCardinalityString, "dst_country": LowCardinalityString,
            "direction": LowCardinalityString, "app": LowCardinalityString, "server_name": String,
            "probe": LowCardinalityString, "interface": LowCardinalityString,
            "packets": UInt64, "bytes": UInt64),
    },
    Table {
        name: "spreaders",
        columns: columns!(WINDOW; "task": LowCardinalityString, "family": UInt8, "src_ip": IPv6, "dst_ip": IPv6,
            "src_port": UInt16, "dst_port": UInt16, "proto": UInt8,
            "src_prefix_len": UInt8, "dst_prefix_len": UInt8, "icmp_type": UInt8, "icmp_code": UInt8,
            "tcp_flags": UInt8, "dscp": UInt8, "vlan": UInt16, "src_as": UInt64, "dst_as": UInt64,
            "src_country": LowCardinalityString, "dst_country": LowCardinalityString,
            "direction": LowCardinalityString, "app": LowCardinalityString, "server_name": String,
            "probe": LowCardinalityString, "interface": LowCardinalityString, "spread": UInt64),
    },
    Table {
        name: "flows",
        columns: &[
            ("source", ColumnType::LowCardinalityString),
            ("run", ColumnType::LowCardinalityString),
            ("probe", ColumnType::LowCardinalityString),
            ("interface", ColumnType::LowCardinalityString),
            ("community_id", ColumnType::NullableString),
            ("family", ColumnType::UInt8),
            ("src_ip", ColumnType::IPv6),
            ("dst_ip", ColumnType::IPv6),
            ("src_port", ColumnType::UInt16),
            ("dst_port", ColumnType::UInt16),
            ("proto", ColumnType::UInt8),
            ("first_seen", ColumnType::NullableTime),
            ("last_seen", ColumnType::NullableTime),
            ("packets_ab", ColumnType::UInt64),
            ("bytes_ab", ColumnType::UInt64),
            ("packets_ba", ColumnType::UInt64),
            ("bytes_ba", ColumnType::UInt64),
            ("tcp_flags_ab", ColumnType::LowCardinalityString),
            ("tcp_flags_ba", ColumnType::LowCardinalityString),
            ("state", ColumnType::LowCardinalityString),
            ("reason", ColumnType::LowCardinalityString),
            ("vlan", ColumnType::UInt16),
            ("direction", ColumnType::LowCardinalityString),
            ("app", ColumnType::LowCardinalityString),
            ("server_name", ColumnType::String),
            ("alpn", ColumnType::LowCardinalityString),
            ("src_country", ColumnType::LowCardinalityString),
            ("dst_country", ColumnType::LowCardinalityString),
            ("src_as", ColumnType::UInt64),
            ("dst_as", ColumnType::UInt64),
            ("src_as_name", ColumnType::LowCardinalityString),
            ("dst_as_name", ColumnType::LowCardinalityString),
        ],
    },
];

/// The tables and their columns as JSON, for the bindings:
/// `{"windows":[["source","LowCardinality(String)"],...],...}`.
pub fn tables_json() -> String {
    let mut j = crate::json::Json::new();
    j.begin_object(None);
    for t in &TABLES {
        j.begin_array(Some(t.name));
        for (name, ty) in t.columns {
            j.begin_array(None);
            j.item_str(name);
            j.item_str(ty.name());
            j.end_array();
        }
        j.end_array();
    }
    j.end_object();
    j.finish()
}

/// A row kept out of its table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    /// Index in [`TABLES`].
    pub table: usize,
    pub reason: String,
    pub json: String,
}

/// The rows of one window (or of finished flows), per table of [`TABLES`].
#[derive(Debug, Default)]
pub struct StorageRows {
    pub tables: [RowWriter; 6],
    pub quarantined: Vec<Quarantined>,
}

impl StorageRows {
    /// Moves every row into the quarantine with `reason` (their tables cannot hold them).
    pub fn quarantine_all(&mut self, reason: &str) -> Result<(), String> {
        for (i, w) in self.tables.iter_mut().enumerate() {
            let mut at = 0;
            for _ in 0..w.rows {
                let (json, used) = row_json(TABLES[i].columns, &w.buf[at..])?;
                at += used;
                self.quarantined.push(Quarantined { table: i, reason: reason.to_string(), json });
            }
            *w = RowWriter::default();
        }
        Ok(())
    }

    /// The bindings' buffer (layout in the module documentation).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.tables.iter().map(|t| t.buf.len() + 8).sum::<usize>() + 4);
        for t in &self.tables {
            out.extend_from_slice(&t.rows.to_le_bytes());
            out.extend_from_slice(&(t.buf.len() as u32).to_le_bytes());
            out.extend_from_slice(&t.buf);
        }
        out.extend_from_slice(&(self.quarantined.len() as u32).to_le_bytes());
        for q in &self.quarantined {
            out.push(q.table as u8);
            for text in [&q.reason, &q.json] {
                out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_starts_with_source_run_and_window() {
        for t in TABLES.iter().take(FLOWS) {
            let names: Vec<&str> = t.columns.iter().take(4).map(|c| c.0).collect();
            assert_eq!(names, ["source", "run", "window_start", "window_end"], "{}", t.name);
        }
        let json = tables_json();
        assert!(json.starts_with(r#"{"windows":[["source","LowCardinality(String)"],["run","#), "{json}");
        assert!(json.contains(r#"["first_seen","Nullable(DateTime64(9, 'UTC'))"]"#));
    }
}
