//! The flow cache against tshark's TCP and UDP conversations (`/work/shared/oracle`, TShark
//! 4.0.17), through the same capture -> decode -> fragment-ports path `Analysis` uses.
//!
//! Timeouts are longer than any capture, so flows end only by closing (FIN/RST, a SYN on a
//! closed flow) or at the end; tshark splits a reused 4-tuple into streams. Neither split
//! matters: both sides are summed per 5-tuple, packets and bytes per direction, mapped by
//! endpoint. Where the rules differ by design:
//! - Tunnels: a record is the innermost flow, so the cache has no flow for a tunnel's carrier,
//!   while tshark also counts the outer UDP conversation of VXLAN, Geneve, Teredo and GTP-U.
//!   Those rows (a port of one of these tunnels) are dropped from tshark's side; the inner
//!   flows must agree.
//! - Fragments: every fragment counts in its flow (with its first fragment's ports); tshark
//!   counts a reassembled datagram once, on the frame that completes it, and may find TCP or UDP
//!   headers in reassembled garbage. [`FRAGMENTED`] captures are held to the rule the
//!   conversation oracle test uses: totals differ by at most their fragments.
//!
//! Every other shared capture must agree exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use netspectra_core::flow::FlowRecord;

mod common;
use common::{whole_capture_cache, SHARED};

/// UDP ports of the tunnels whose carrier tshark counts as a UDP conversation.
const TUNNEL_PORTS: [u64; 4] = [4789, 6081, 3544, 2152];

/// Captures whose flows differ from tshark's through fragments, and how.
const FRAGMENTED: [(&str, &str); 3] = [
    ("ndpi-dns_fragmented.pcap", "fragmented DNS answers: every fragment counts, tshark counts each answer once"),
    ("ndpi-fuzz-2006-06-26-2594.pcap", "one fragmented DNS answer counted once by tshark"),
    ("ndpi-ip_fragmented_garbage.pcap", "tshark reads TCP ports from two reassembled garbage datagrams"),
];

/// Per (protocol, lower endpoint, higher endpoint), endpoints as "address|port": packets and
/// bytes from the lower endpoint, then from the higher.
type Counts = BTreeMap<(u8, String, String), [u64; 4]>;

fn add(m: &mut Counts, proto: u8, a: String, b: String, ab: [u64; 2], ba: [u64; 2]) {
    // One endpoint on both sides: tshark puts every frame in A->B.
    let (lo, hi, fwd, rev) = if a == b {
        (a.clone(), b, [ab[0] + ba[0], ab[1] + ba[1]], [0, 0])
    } else if a < b {
        (a, b, ab, ba)
    } else {
        (b, a, ba, ab)
    };
    let v = m.entry((proto, lo, hi)).or_default();
    v[0] += fwd[0];
    v[1] += fwd[1];
    v[2] += rev[0];
    v[3] += rev[1];
}

/// Every record of a capture, and how many of its packets were fragments.
fn flows(capture: &str) -> (Vec<FlowRecord>, u64) {
    let (mut cache, fragment_packets) = whole_capture_cache(capture, false);
    assert_eq!(cache.active(), 0);
    let records = cache.take_finished();
    let c = cache.counters();
    assert_eq!(records.iter().map(FlowRecord::packets).sum::<u64>() + c.non_ip, c.packets, "{capture}");
    (records, fragment_packets)
}

fn ours(records: &[FlowRecord]) -> Counts {
    let mut m = Counts::new();
    for r in records {
        if (r.proto == 6 || r.proto == 17) && (r.port_a, r.port_b) != (0, 0) {
            let a = format!("{}|{}", r.a, r.port_a);
            let b = format!("{}|{}", r.b, r.port_b);
            add(&mut m, r.proto, a, b, [r.packets_ab, r.bytes_ab], [r.packets_ba, r.bytes_ba]);
        }
    }
    m
}

fn tshark(capture: &str) -> Counts {
    let path = format!("{SHARED}/oracle/{capture}.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let oracle = json::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut m = Counts::new();
    for (table, proto) in [("tcp", 6), ("udp", 17)] {
        for row in oracle.get("conv").and_then(|c| c.get(table)).and_then(json::Value::array).unwrap_or(&[]) {
            let num = |k: &str| row.get(k).and_then(json::Value::number).unwrap_or_else(|| panic!("{path}: no {k}"));
            let text = |k: &str| row.get(k).and_then(json::Value::string).unwrap_or_else(|| panic!("{path}: no {k}"));
            if proto == 17 && (TUNNEL_PORTS.contains(&num("portA")) || TUNNEL_PORTS.contains(&num("portB"))) {
                continue;
            }
            let a = format!("{}|{}", text("addrA"), num("portA"));
            let b = format!("{}|{}", text("addrB"), num("portB"));
            add(&mut m, proto, a, b, [num("framesAtoB"), num("bytesAtoB")], [num("framesBtoA"), num("bytesBtoA")]);
        }
    }
    m
}

/// The shared captures that have an oracle.
fn captures() -> Vec<String> {
    common::shared_captures()
        .into_iter()
        .filter(|n| fs::metadata(format!("{SHARED}/oracle/{n}.json")).is_ok())
        .collect()
}

#[test]
fn flows_agree_with_tshark_per_5_tuple() {
    let names = captures();
    assert!(names.len() >= 39, "expected the 39 shared captures, found {}", names.len());
    let mut failures = Vec::new();
    let mut tuples = 0;
    for name in names.iter().filter(|n| !FRAGMENTED.iter().any(|(f, _)| f == n)) {
        let (theirs, ours) = (tshark(name), ours(&flows(name).0));
        tuples += theirs.len();
        let keys: BTreeSet<_> = theirs.keys().chain(ours.keys()).collect();
        for k in keys.into_iter().filter(|k| theirs.get(*k) != ours.get(*k)) {
            failures.push(format!("{name} {k:?}: tshark {:?}, ours {:?}", theirs.get(k), ours.get(k)));
        }
        if name == "debian-pathspider-real.pcap" {
            assert!(theirs.len() > 6000, "pathspider has {} TCP/UDP 5-tuples", theirs.len());
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
    println!("{} captures, {tuples} TCP/UDP 5-tuples equal", names.len() - FRAGMENTED.len());
}

#[test]
fn fragmented_captures_differ_by_at_most_their_fragments() {
    for (name, why) in FRAGMENTED {
        let (records, fragments) = flows(name);
        let (theirs, ours) = (tshark(name), ours(&records));
        let total = |m: &Counts| m.values().map(|v| v[0] + v[2]).sum::<u64>();
        let excess = total(&theirs).abs_diff(total(&ours));
        assert!(fragments > 0 && theirs != ours, "{name} ({why}) now agrees: move it to the exact captures");
        assert!(excess <= fragments, "{name}: packets differ by {excess}, more than its {fragments} fragments");
    }
}

/// Just enough JSON to read the oracle files (no dependencies in the core, not even for tests).
mod json {
    pub enum Value {
        /// null, true or false: the oracles' booleans are not read.
        Literal,
        Number(f64),
        String(String),
        Array(Vec<Value>),
        Object(Vec<(String, Value)>),
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }

        pub fn array(&self) -> Option<&[Value]> {
            match self {
                Value::Array(items) => Some(items),
                _ => None,
            }
        }

        /// A non-negative integer.
        pub fn number(&self) -> Option<u64> {
            match *self {
                Value::Number(n) if n >= 0.0 && n.fract() == 0.0 => Some(n as u64),
                _ => None,
            }
        }

        pub fn string(&self) -> Option<&str> {
            match self {
                Value::String(s) => Some(s),
                _ => None,
            }
        }
    }

    pub fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser { b: text.as_bytes(), i: 0 };
        let v = p.value()?;
        p.ws();
        if p.i != p.b.len() {
            return Err(format!("trailing bytes at {}", p.i));
        }
        Ok(v)
    }

    struct Parser<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
                self.i += 1;
            }
        }

        fn eat(&mut self, c: u8) -> Result<(), String> {
            self.ws();
            if self.b.get(self.i) == Some(&c) {
                self.i += 1;
                Ok(())
            } else {
                Err(format!("expected {:?} at {}", c as char, self.i))
            }
        }

        fn value(&mut self) -> Result<Value, String> {
            self.ws();
            let rest = &self.b[self.i..];
            for word in ["null", "true", "false"] {
                if rest.starts_with(word.as_bytes()) {
                    self.i += word.len();
                    return Ok(Value::Literal);
                }
            }
            match rest.first() {
                Some(b'"') => self.string().map(Value::String),
                Some(b'[') => {
                    self.i += 1;
                    let mut items = Vec::new();
                    self.ws();
                    if self.b.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(Value::Array(items));
                    }
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            _ => break,
                        }
                    }
                    self.eat(b']')?;
                    Ok(Value::Array(items))
                }
                Some(b'{') => {
                    self.i += 1;
                    let mut fields = Vec::new();
                    self.ws();
                    if self.b.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        return Ok(Value::Object(fields));
                    }
                    loop {
                        self.ws();
                        let k = self.string()?;
                        self.eat(b':')?;
                        fields.push((k, self.value()?));
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            _ => break,
                        }
                    }
                    self.eat(b'}')?;
                    Ok(Value::Object(fields))
                }
                _ => {
                    let start = self.i;
                    while self.b.get(self.i).is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c)) {
                        self.i += 1;
                    }
                    std::str::from_utf8(&self.b[start..self.i])
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .map(Value::Number)
                        .ok_or_else(|| format!("bad value at {start}"))
                }
            }
        }

        fn string(&mut self) -> Result<String, String> {
            self.eat(b'"')?;
            let mut out = String::new();
            loop {
                let start = self.i;
                while self.b.get(self.i).is_some_and(|&c| c != b'"' && c != b'\\') {
                    self.i += 1;
                }
                out.push_str(std::str::from_utf8(&self.b[start..self.i]).map_err(|e| e.to_string())?);
                match self.b.get(self.i) {
                    Some(b'"') => {
                        self.i += 1;
                        return Ok(out);
                    }
                    Some(b'\\') => {
                        let esc = *self.b.get(self.i + 1).ok_or("cut escape")?;
                        self.i += 2;
                        match esc {
                            b'n' => out.push('\n'),
                            b't' => out.push('\t'),
                            b'r' => out.push('\r'),
                            b'b' => out.push('\u{8}'),
                            b'f' => out.push('\u{c}'),
                            b'u' => {
                                let hex = self.b.get(self.i..self.i + 4).ok_or("cut \\u escape")?;
                                let code = std::str::from_utf8(hex)
                                    .ok()
                                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                                    .ok_or("bad \\u escape")?;
                                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                                self.i += 4;
                            }
                            c => out.push(c as char),
                        }
                    }
                    _ => return Err("unterminated string".into()),
                }
            }
        }
    }
}
