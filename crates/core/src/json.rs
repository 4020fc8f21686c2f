//! A small JSON writer for reports (no dependencies): what leaves the core as text is built here,
//! so every binding returns byte-identical reports.

use core::fmt::Write;

pub struct Json {
    out: String,
    /// Whether the current container already holds an element (so the next needs a comma).
    filled: Vec<bool>,
}

impl Default for Json {
    fn default() -> Self {
        Json::new()
    }
}

impl Json {
    pub fn new() -> Json {
        Json { out: String::with_capacity(4096), filled: vec![false] }
    }

    pub fn finish(self) -> String {
        self.out
    }

    fn sep(&mut self) {
        if let Some(f) = self.filled.last_mut() {
            if *f {
                self.out.push(',');
            }
            *f = true;
        }
    }

    fn key(&mut self, k: &str) {
        self.sep();
        self.string_raw(k);
        self.out.push(':');
    }

    fn string_raw(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    pub fn begin_object(&mut self, key: Option<&str>) {
        match key {
            Some(k) => self.key(k),
            None => self.sep(),
        }
        self.out.push('{');
        self.filled.push(false);
    }

    pub fn end_object(&mut self) {
        self.filled.pop();
        self.out.push('}');
    }

    pub fn begin_array(&mut self, key: Option<&str>) {
        match key {
            Some(k) => self.key(k),
            None => self.sep(),
        }
        self.out.push('[');
        self.filled.push(false);
    }

    pub fn end_array(&mut self) {
        self.filled.pop();
        self.out.push(']');
    }

    pub fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.string_raw(v);
    }

    pub fn u64(&mut self, k: &str, v: u64) {
        self.key(k);
        let _ = write!(self.out, "{v}");
    }

    /// A finite float with fixed precision (so output is deterministic across platforms).
    pub fn f64(&mut self, k: &str, v: f64, decimals: usize) {
        self.key(k);
        if v.is_finite() {
            let _ = write!(self.out, "{v:.decimals$}");
        } else {
            self.out.push_str("null");
        }
    }

    pub fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
    }

    pub fn null(&mut self, k: &str) {
        self.key(k);
        self.out.push_str("null");
    }

    /// An array element that is a string.
    pub fn item_str(&mut self, v: &str) {
        self.sep();
        self.string_raw(v);
    }

    /// An array element that is already JSON text (a rendered sub-report).
    pub fn raw_item(&mut self, json: &str) {
        self.sep();
        self.out.push_str(json);
    }

    pub fn item_u64(&mut self, v: u64) {
        self.sep();
        let _ = write!(self.out, "{v}");
    }
}

/// Nanoseconds since the epoch as "seconds.nanoseconds", the way tshark prints epoch times.
pub fn epoch_text(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_values_with_escapes() {
        let mut j = Json::new();
        j.begin_object(None);
        j.str("a", "x\"y\n");
        j.begin_array(Some("b"));
        j.item_u64(1);
        j.item_str("z");
        j.begin_object(None);
        j.bool("c", true);
        j.end_object();
        j.end_array();
        j.f64("d", 1.5, 2);
        j.end_object();
        assert_eq!(j.finish(), r#"{"a":"x\"y\n","b":[1,"z",{"c":true}],"d":1.50}"#);
    }

    #[test]
    fn epoch_text_pads_nanoseconds() {
        assert_eq!(epoch_text(1_340_954_905_298_858_000), "1340954905.298858000");
    }
}
