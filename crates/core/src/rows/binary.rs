//! ClickHouse's RowBinary format, the part the stored tables use: values are written one after
//! another, row after row, with no separators. Binary so that nothing can be misread: a time
//! is its count of nanoseconds, not text a parser may take for a date.
//!
//! | type | bytes |
//! |---|---|
//! | `String`, `LowCardinality(String)` | length as unsigned LEB128, then the UTF-8 bytes |
//! | `UInt8`, `UInt16`, `UInt64` | little-endian |
//! | `Float64` | IEEE-754 binary64, little-endian |
//! | `IPv6` | 16 bytes, network order (IPv4 mapped as `::ffff:a.b.c.d`) |
//! | `DateTime64(9, 'UTC')` | signed 64-bit nanoseconds since the epoch, little-endian |
//! | `Nullable(T)` | 1 for null, else 0 then `T` |
//!
//! A DateTime64(9) holds 1677-09-21 to 2262-04-11T23:47:16.854775807Z: a later time (a pcapng
//! timestamp can say so) cannot be stored and the row is kept aside ([`TimeOutOfRange`]).

use crate::bytes::LeReader;
use crate::json::{epoch_text, Json};

/// A column's ClickHouse type, as far as the stored tables use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    String,
    LowCardinalityString,
    UInt8,
    UInt16,
    UInt64,
    Float64,
    IPv6,
    Time,
    NullableTime,
    NullableString,
}

impl ColumnType {
    /// The type as ClickHouse names it (what `DESCRIBE TABLE` prints).
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::String => "String",
            ColumnType::LowCardinalityString => "LowCardinality(String)",
            ColumnType::UInt8 => "UInt8",
            ColumnType::UInt16 => "UInt16",
            ColumnType::UInt64 => "UInt64",
            ColumnType::Float64 => "Float64",
            ColumnType::IPv6 => "IPv6",
            ColumnType::Time => "DateTime64(9, 'UTC')",
            ColumnType::NullableTime => "Nullable(DateTime64(9, 'UTC'))",
            ColumnType::NullableString => "Nullable(String)",
        }
    }
}

/// The latest time a DateTime64(9) holds, in nanoseconds since the epoch.
pub const MAX_TIME_NS: u64 = i64::MAX as u64;

/// A time past [`MAX_TIME_NS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeOutOfRange {
    pub column: &'static str,
    pub ns: u64,
}

impl core::fmt::Display for TimeOutOfRange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} {} s is past 2262-04-11T23:47:16.854775807Z, the last time the store's DateTime64(9) holds",
            self.column,
            epoch_text(self.ns)
        )
    }
}

/// Checks that every `(column, ns)` time can be stored.
pub fn check_times(times: &[(&'static str, u64)]) -> Result<(), TimeOutOfRange> {
    match times.iter().find(|(_, ns)| *ns > MAX_TIME_NS) {
        Some(&(column, ns)) => Err(TimeOutOfRange { column, ns }),
        None => Ok(()),
    }
}

/// Appends RowBinary values to a buffer. Times must have been checked ([`check_times`]): one
/// past the range is written as its raw bits, which a reader of the quarantine decodes back.
#[derive(Clone, Debug, Default)]
pub struct RowWriter {
    pub buf: Vec<u8>,
    pub rows: u32,
}

impl RowWriter {
    pub fn string(&mut self, s: &str) {
        let mut n = s.len();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.buf.push(byte);
                break;
            }
            self.buf.push(byte | 0x80);
        }
        self.buf.extend_from_slice(s.as_bytes());
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn ipv6(&mut self, bytes: &[u8; 16]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn time(&mut self, ns: u64) {
        self.buf.extend_from_slice(&ns.to_le_bytes());
    }

    pub fn nullable_time(&mut self, ns: Option<u64>) {
        match ns {
            Some(ns) => {
                self.buf.push(0);
                self.time(ns);
            }
            None => self.buf.push(1),
        }
    }

    /// Ends a row.
    pub fn end_row(&mut self) {
        self.rows += 1;
    }
}

/// One row of RowBinary bytes as a JSON object (for the quarantine: people read it). Times are
/// read as unsigned, so a time past the store's range reads back as what it was. Returns the
/// object and the bytes it took.
pub fn row_json(columns: &[(&str, ColumnType)], bytes: &[u8]) -> Result<(String, usize), String> {
    let mut r = LeReader::new(bytes, "RowBinary row");
    let mut j = Json::new();
    j.begin_object(None);
    for &(name, ty) in columns {
        let null = matches!(ty, ColumnType::NullableTime | ColumnType::NullableString) && r.u8(name)? == 1;
        if null {
            j.null(name);
            continue;
        }
        match ty {
            ColumnType::String | ColumnType::LowCardinalityString | ColumnType::NullableString => {
                let mut n = 0usize;
                let mut shift = 0;
                loop {
                    let b = r.u8(name)?;
                    n |= ((b & 0x7f) as usize) << shift;
                    if b & 0x80 == 0 {
                        break;
                    }
                    shift += 7;
                    if shift > 35 {
                        return Err(format!("RowBinary row: {name}: string length is not a LEB128 number"));
                    }
                }
                let s = r.take(n, name)?;
                j.str(name, &String::from_utf8_lossy(s));
            }
            ColumnType::UInt8 => j.u64(name, r.u8(name)? as u64),
            ColumnType::UInt16 => j.u64(name, r.u16(name)? as u64),
            ColumnType::UInt64 => j.u64(name, r.u64(name)?),
            ColumnType::Float64 => j.f64(name, f64::from_bits(r.u64(name)?), 6),
            ColumnType::IPv6 => {
                let b = r.take(16, name)?;
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                j.str(name, &std::net::Ipv6Addr::from(a).to_string());
            }
            ColumnType::Time | ColumnType::NullableTime => j.str(name, &epoch_text(r.u64(name)?)),
        }
    }
    j.end_object();
    Ok((j.finish(), r.pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_clickhouse_reads_them() {
        let mut w = RowWriter::default();
        w.string("ab");
        w.u16(0x0102);
        w.nullable_time(None);
        w.nullable_time(Some(1_500_000_000));
        let mut a = [0u8; 16];
        a[10] = 0xff;
        a[11] = 0xff;
        a[12] = 10;
        a[15] = 1;
        w.ipv6(&a);
        w.end_row();
        // The bytes ClickHouse itself writes for these values (SELECT ... FORMAT RowBinary).
        let want = "02616202010100002f68590000000000000000000000000000ffff0a000001";
        let hex: String = w.buf.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, want);
        let long = "x".repeat(300);
        let mut w = RowWriter::default();
        w.string(&long);
        assert_eq!(&w.buf[..2], &[0xac, 0x02], "300 as LEB128");
    }

    #[test]
    fn a_row_reads_back_as_json_with_out_of_range_times_intact() {
        let columns =
            [("s", ColumnType::LowCardinalityString), ("t", ColumnType::Time), ("f", ColumnType::NullableTime)];
        let mut w = RowWriter::default();
        w.string("a\"b");
        w.time(u64::MAX);
        w.nullable_time(None);
        let (json, used) = row_json(&columns, &w.buf).unwrap();
        assert_eq!(used, w.buf.len());
        assert_eq!(json, r#"{"s":"a\"b","t":"18446744073.709551615","f":null}"#);
        assert!(row_json(&columns, &w.buf[..5]).unwrap_err().contains("cut short"));
    }

    #[test]
    fn times_past_the_range_are_named() {
        assert!(check_times(&[("a", 0), ("b", MAX_TIME_NS)]).is_ok());
        let e = check_times(&[("a", 0), ("window_end", MAX_TIME_NS + 1)]).unwrap_err();
        assert_eq!(e.column, "window_end");
        assert!(e.to_string().starts_with("window_end 9223372036.854775808 s is past 2262-04-11"), "{e}");
    }
}
