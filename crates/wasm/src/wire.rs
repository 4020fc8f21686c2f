//! The options text that `ts/backend/wasm.ts` writes into linear memory, decoded into the core's
//! option structs (which hold the defaults and the error texts users read).
//!
//! The text is a list of fields, each `<name> <length>:<value>\n`, where `<length>` is the
//! value's length in bytes (UTF-8) in decimal, so a value may hold any character. Numbers are
//! JavaScript's `String(n)`: counts arrive already converted to u32 the way Node-API converts
//! them (ToUint32), and f64 fields round-trip exactly (including `NaN` and `Infinity`).
//! Booleans are `true` or `false`. An absent field is an absent option.
//!
//! Analyzer fields: `seed`, `window_seconds`, `top`, `keep_windows`, `snapshots`, `threads`,
//! then per task `task`
//! (its name; starts the task) followed by that task's `type`, `key`, `distinct`, `element`,
//! `depth`, `width`, `conservative`, `heavy_hitters`, `registers`, `register_bits`, `decay_base`,
//! `threshold`. Flow records: `flows` (`true`) and its `flows.idle_tcp`, `flows.idle_udp`,
//! `flows.idle_icmp`, `flows.idle_other`, `flows.active_timeout`, `flows.closed_linger`,
//! `flows.max_flows`, `flows.local_networks`, `flows.probe`, `flows.names`; `seconds`; `source` and `run` (storage
//! rows). Traffic fields: `seed`, `packets`, `hosts`, `duration_seconds`, `start_ms`.
//!
//! A malformed text is a bug in the TypeScript encoder; the error says where it broke.

use netspectra_core::options::{AnalyzerOptions, BatcherOptions, FlowOptions, TaskOptions};
use netspectra_synth::TrafficOptions;

/// The fields of an options text, in order.
struct Fields<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(&'a str, &'a str), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let at = self.offset;
        let bad = |what: &str| Some(Err(format!("wasm options: {what} in the field at byte {at}")));
        let Some(space) = self.rest.iter().position(|&b| b == b' ') else { return bad("no space after the name") };
        let Some(colon) = self.rest[space..].iter().position(|&b| b == b':').map(|c| space + c) else {
            return bad("no colon after the length");
        };
        let Ok(name) = core::str::from_utf8(&self.rest[..space]) else { return bad("a name that is not UTF-8") };
        let len = match core::str::from_utf8(&self.rest[space + 1..colon]).map(str::parse::<usize>) {
            Ok(Ok(n)) => n,
            _ => return bad("a length that is not a decimal number"),
        };
        let start = colon + 1;
        if self.rest.len() < start + len + 1 || self.rest[start + len] != b'\n' {
            return bad("a value that does not end with a newline at its length");
        }
        let Ok(value) = core::str::from_utf8(&self.rest[start..start + len]) else {
            return bad("a value that is not UTF-8");
        };
        self.rest = &self.rest[start + len + 1..];
        self.offset += start + len + 1;
        Some(Ok((name, value)))
    }
}

fn fields(text: &[u8]) -> Fields<'_> {
    Fields { rest: text, offset: 0 }
}

fn number<T: core::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("wasm options: {name} = \"{value}\" is not a number of its type"))
}

fn boolean(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("wasm options: {name} = \"{value}\" is not true or false")),
    }
}

pub fn analyzer_options(text: &[u8]) -> Result<AnalyzerOptions, String> {
    let mut o = AnalyzerOptions::default();
    for field in fields(text) {
        let (name, v) = field?;
        match name {
            "seed" => o.seed = Some(v.to_string()),
            "window_seconds" => o.window_seconds = Some(number(name, v)?),
            "top" => o.top = Some(number(name, v)?),
            "keep_windows" => o.keep_windows = Some(boolean(name, v)?),
            "snapshots" => o.snapshots = Some(boolean(name, v)?),
            "seconds" => o.seconds = Some(number(name, v)?),
            "source" => o.source = Some(v.to_string()),
            "run" => o.run = Some(v.to_string()),
            "threads" => o.threads = Some(number(name, v)?),
            "flows" => {
                if boolean(name, v)? {
                    o.flows.get_or_insert_with(FlowOptions::default);
                }
            }
            _ if name.starts_with("flows.") => flow_field(o.flows.get_or_insert_with(FlowOptions::default), name, v)?,
            "task" => o.tasks.push(TaskOptions { name: v.to_string(), ..TaskOptions::default() }),
            _ => {
                let Some(t) = o.tasks.last_mut() else {
                    return Err(format!("wasm options: unknown field \"{name}\" (task fields follow a task)"));
                };
                match name {
                    "type" => t.kind = v.to_string(),
                    "key" => t.key = v.to_string(),
                    "distinct" => t.distinct = Some(v.to_string()),
                    "element" => t.element = Some(v.to_string()),
                    "depth" => t.depth = Some(number(name, v)?),
                    "width" => t.width = Some(number(name, v)?),
                    "conservative" => t.conservative = Some(boolean(name, v)?),
                    "heavy_hitters" => t.heavy_hitters = Some(number(name, v)?),
                    "registers" => t.registers = Some(number(name, v)?),
                    "register_bits" => t.register_bits = Some(number(name, v)?),
                    "decay_base" => t.decay_base = Some(number(name, v)?),
                    "threshold" => t.threshold = Some(number(name, v)?),
                    _ => return Err(format!("wasm options: unknown field \"{name}\"")),
                }
            }
        }
    }
    Ok(o)
}

/// One `flows.*` field of the analyzer's or the batcher's options.
fn flow_field(f: &mut FlowOptions, name: &str, v: &str) -> Result<(), String> {
    match &name[6..] {
        "idle_tcp" => f.idle_tcp = Some(number(name, v)?),
        "idle_udp" => f.idle_udp = Some(number(name, v)?),
        "idle_icmp" => f.idle_icmp = Some(number(name, v)?),
        "idle_other" => f.idle_other = Some(number(name, v)?),
        "active_timeout" => f.active_timeout = Some(number(name, v)?),
        "closed_linger" => f.closed_linger = Some(number(name, v)?),
        "max_flows" => f.max_flows = Some(number(name, v)?),
        "local_networks" => f.local_networks = Some(v.to_string()),
        "probe" => f.probe = Some(v.to_string()),
        "names" => f.names = Some(boolean(name, v)?),
        _ => return Err(format!("wasm options: unknown field \"{name}\"")),
    }
    Ok(())
}

/// Batcher fields: `probe_id`, `interface`, `partitions`, `batch_packets`, `seed`, and the
/// analyzer's `flows.*` fields (the engine's flow settings, for names).
pub fn batcher_options(text: &[u8]) -> Result<BatcherOptions, String> {
    let mut o = BatcherOptions::default();
    for field in fields(text) {
        let (name, v) = field?;
        match name {
            "probe_id" => o.probe_id = v.to_string(),
            "interface" => o.interface = v.to_string(),
            "partitions" => o.partitions = number(name, v)?,
            "batch_packets" => o.batch_packets = number(name, v)?,
            "seed" => o.seed = Some(v.to_string()),
            _ if name.starts_with("flows.") => flow_field(o.flows.get_or_insert_with(FlowOptions::default), name, v)?,
            _ => return Err(format!("wasm options: unknown batcher field \"{name}\"")),
        }
    }
    Ok(o)
}

pub fn traffic_options(text: &[u8]) -> Result<TrafficOptions, String> {
    let mut o = TrafficOptions::default();
    for field in fields(text) {
        let (name, v) = field?;
        match name {
            "seed" => o.seed = Some(number(name, v)?),
            "packets" => o.packets = Some(number(name, v)?),
            "hosts" => o.hosts = Some(number(name, v)?),
            "duration_seconds" => o.duration_seconds = Some(number(name, v)?),
            "start_ms" => o.start_ms = Some(number(name, v)?),
            _ => return Err(format!("wasm options: unknown field \"{name}\"")),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(fields: &[(&str, &str)]) -> Vec<u8> {
        fields.iter().flat_map(|(n, v)| format!("{n} {}:{v}\n", v.len()).into_bytes()).collect()
    }

    #[test]
    fn empty_text_is_no_options() {
        assert_eq!(analyzer_options(b"").unwrap(), AnalyzerOptions::default());
        assert_eq!(traffic_options(b"").unwrap(), TrafficOptions::default());
    }

    #[test]
    fn analyzer_fields_and_tasks() {
        let t = text(&[
            ("seed", "42"),
            ("window_seconds", "0.25"),
            ("top", "4294967295"),
            ("keep_windows", "true"),
            ("task", "line\nbreak: and spaces"),
            ("type", "countmin"),
            ("key", "SrcIP,DstIP"),
            ("depth", "3"),
            ("conservative", "false"),
            ("task", "ß"),
            ("type", "superspread"),
            ("key", "SrcIP"),
            ("element", "DstIP"),
            ("decay_base", "1.08"),
            ("threshold", "Infinity"),
        ]);
        let o = analyzer_options(&t).unwrap();
        assert_eq!(o.seed.as_deref(), Some("42"));
        assert_eq!(o.window_seconds, Some(0.25));
        assert_eq!(o.top, Some(u32::MAX));
        assert_eq!(o.keep_windows, Some(true));
        assert_eq!(o.tasks.len(), 2);
        assert_eq!(o.tasks[0].name, "line\nbreak: and spaces");
        assert_eq!(
            (o.tasks[0].kind.as_str(), o.tasks[0].depth, o.tasks[0].conservative),
            ("countmin", Some(3), Some(false))
        );
        assert_eq!(o.tasks[1].name, "ß");
        assert_eq!(o.tasks[1].element.as_deref(), Some("DstIP"));
        assert_eq!(o.tasks[1].decay_base, Some(1.08));
        assert_eq!(o.tasks[1].threshold, Some(f64::INFINITY));
    }

    #[test]
    fn javascript_number_texts_round_trip() {
        for (s, v) in [("NaN", f64::NAN), ("-Infinity", f64::NEG_INFINITY), ("1e+21", 1e21), ("5e-324", 5e-324)] {
            let o = analyzer_options(&text(&[("window_seconds", s)])).unwrap();
            let w = o.window_seconds.unwrap();
            assert!(w == v || (w.is_nan() && v.is_nan()), "{s}");
        }
    }

    #[test]
    fn batcher_fields() {
        let o = batcher_options(&text(&[
            ("probe_id", "edge 1"),
            ("interface", "eth0"),
            ("partitions", "4"),
            ("batch_packets", "1024"),
            ("seed", "9"),
        ]))
        .unwrap();
        let cfg = o.config().unwrap();
        assert_eq!(
            (cfg.probe_id.as_str(), cfg.interface.as_str(), cfg.partitions, cfg.batch_packets, cfg.seed),
            ("edge 1", "eth0", 4, 1024, 9)
        );
        assert!(batcher_options(&text(&[("snaplen", "1")])).unwrap_err().contains("unknown batcher field \"snaplen\""));
    }

    #[test]
    fn traffic_fields() {
        let o = traffic_options(&text(&[
            ("seed", "7"),
            ("packets", "10"),
            ("hosts", "3"),
            ("duration_seconds", "1.5"),
            ("start_ms", "-5"),
        ]))
        .unwrap();
        assert_eq!(
            o,
            TrafficOptions {
                seed: Some(7),
                packets: Some(10),
                hosts: Some(3),
                duration_seconds: Some(1.5),
                start_ms: Some(-5.0)
            }
        );
    }

    #[test]
    fn malformed_texts_say_where() {
        assert_eq!(
            analyzer_options(b"top 1:5").unwrap_err(),
            "wasm options: a value that does not end with a newline at its length in the field at byte 0"
        );
        assert_eq!(
            analyzer_options(b"top 1:5\ntop").unwrap_err(),
            "wasm options: no space after the name in the field at byte 8"
        );
        assert_eq!(
            analyzer_options(b"top x:5\n").unwrap_err(),
            "wasm options: a length that is not a decimal number in the field at byte 0"
        );
        assert_eq!(
            analyzer_options(b"top 2:5\n").unwrap_err(),
            "wasm options: a value that does not end with a newline at its length in the field at byte 0"
        );
        assert_eq!(
            analyzer_options(&text(&[("top", "-1")])).unwrap_err(),
            "wasm options: top = \"-1\" is not a number of its type"
        );
        assert_eq!(
            analyzer_options(&text(&[("keep_windows", "1")])).unwrap_err(),
            "wasm options: keep_windows = \"1\" is not true or false"
        );
        assert_eq!(
            analyzer_options(&text(&[("depth", "1")])).unwrap_err(),
            "wasm options: unknown field \"depth\" (task fields follow a task)"
        );
        assert_eq!(
            analyzer_options(&text(&[("task", "t"), ("colour", "red")])).unwrap_err(),
            "wasm options: unknown field \"colour\""
        );
        assert_eq!(traffic_options(&text(&[("top", "1")])).unwrap_err(), "wasm options: unknown field \"top\"");
    }
}
