//! Options as the bindings receive them, and their mapping to the core's configurations.
//!
//! Every field is optional, and numbers have the types JavaScript hands over (counts already as
//! `u32`, lengths and times as `f64`). The defaults and the error texts live here, once: the napi
//! and wasm bindings only convert their inputs into these structs, so every compiled backend
//! accepts and rejects the same options with the same words.

use crate::addr::Cidr;
use crate::analysis::{Analysis, AnalysisConfig};
use crate::engine::{TaskKind, TaskSpec};
use crate::flow::{FlowConfig, FlowMeterConfig};
use crate::key::KeyFields;
use crate::sketch::countmin::CountMinConfig;
use crate::sketch::superspread::SuperSpreadConfig;

/// The longest window, in seconds (one day).
pub const MAX_WINDOW_SECONDS: f64 = 86_400.0;

/// One task. Field lists are text such as "SrcIP,DstPort".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskOptions {
    pub name: String,
    /// "exact", "countmin" or "superspread".
    pub kind: String,
    pub key: String,
    /// exact: the fields counted distinct per key.
    pub distinct: Option<String>,
    /// superspread: the element fields.
    pub element: Option<String>,
    pub depth: Option<u32>,
    pub width: Option<u32>,
    pub conservative: Option<bool>,
    pub heavy_hitters: Option<u32>,
    pub registers: Option<u32>,
    pub register_bits: Option<u32>,
    pub decay_base: Option<f64>,
    pub threshold: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnalyzerOptions {
    /// Hash seed as decimal text (a u64 does not fit a JavaScript number).
    pub seed: Option<String>,
    /// Window length in seconds; 0 makes the whole input one window.
    pub window_seconds: Option<f64>,
    /// Rows per top-N list.
    pub top: Option<u32>,
    /// Keep closed windows until taken.
    pub keep_windows: Option<bool>,
    /// Kept windows carry their snapshot (NSWS); default true. Off when only their JSON and
    /// rows are read (the snapshot of a large window costs a sort of every exact table).
    pub snapshots: Option<bool>,
    pub tasks: Vec<TaskOptions>,
    /// Flow records: a flow cache beside the tasks when present.
    pub flows: Option<FlowOptions>,
    /// Live engine: per-second counters kept for this many seconds (0 or absent: none).
    pub seconds: Option<u32>,
    /// Closed windows and flow records also as storage rows written as this source (and `run`,
    /// an analysis run; empty for an engine).
    pub source: Option<String>,
    pub run: Option<String>,
    /// Threads the engine runs on: 1 (the default) or 2 (its derived half on a second thread;
    /// the results are the same bytes).
    pub threads: Option<u32>,
}

/// The flow cache's options; times in seconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowOptions {
    pub idle_tcp: Option<f64>,
    pub idle_udp: Option<f64>,
    pub idle_icmp: Option<f64>,
    pub idle_other: Option<f64>,
    pub active_timeout: Option<f64>,
    pub closed_linger: Option<f64>,
    pub max_flows: Option<u32>,
    /// Local networks, comma separated ("10.0.0.0/8,fc00::/7"); absent: none.
    pub local_networks: Option<String>,
    /// Probe name of records made from capture files (the host's name).
    pub probe: Option<String>,
    /// Read flows' first payloads for their application and server name (default true).
    pub names: Option<bool>,
}

impl FlowOptions {
    pub fn config(&self, seed: u64) -> Result<FlowMeterConfig, String> {
        let mut cache = FlowConfig { seed, ..FlowConfig::default() };
        for (name, value, field) in [
            ("idleTcp", self.idle_tcp, &mut cache.idle_tcp_ns),
            ("idleUdp", self.idle_udp, &mut cache.idle_udp_ns),
            ("idleIcmp", self.idle_icmp, &mut cache.idle_icmp_ns),
            ("idleOther", self.idle_other, &mut cache.idle_other_ns),
            ("activeTimeout", self.active_timeout, &mut cache.active_ns),
            ("closedLinger", self.closed_linger, &mut cache.closed_linger_ns),
        ] {
            if let Some(v) = value {
                if !(0.0..=MAX_FLOW_SECONDS).contains(&v) {
                    return Err(format!("flows.{name}: {v} s is outside 0..{MAX_FLOW_SECONDS}"));
                }
                *field = (v * 1e9).round() as u64;
            }
        }
        if let Some(n) = self.max_flows {
            cache.max_flows = n.max(1) as usize;
        }
        let local = match self.local_networks.as_deref() {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .filter(|n| !n.trim().is_empty())
                .map(|n| Cidr::parse(n).map_err(|e| format!("flows.localNetworks: {e}")))
                .collect::<Result<_, _>>()?,
        };
        Ok(FlowMeterConfig {
            cache,
            local,
            probe: self.probe.clone().unwrap_or_default(),
            names: self.names.unwrap_or(true),
        })
    }
}

/// The longest flow timeout, in seconds (a week).
pub const MAX_FLOW_SECONDS: f64 = 7.0 * 86_400.0;

fn fields(task: &str, what: &str, list: Option<&str>) -> Result<KeyFields, String> {
    match list {
        None | Some("") => Ok(KeyFields::NONE),
        Some(l) => KeyFields::parse(l).map_err(|e| format!("task \"{task}\": {what}: {e}")),
    }
}

impl TaskOptions {
    /// The task's specification, with the defaults filled in; fails on an unknown type or field.
    /// Ranges are checked when the engine builds the task.
    pub fn spec(&self, seed: u64) -> Result<TaskSpec, String> {
        let name = &self.name;
        let key = KeyFields::parse(&self.key).map_err(|e| format!("task \"{name}\": key: {e}"))?;
        let kind = match self.kind.as_str() {
            "exact" => TaskKind::Exact { distinct: fields(name, "distinct", self.distinct.as_deref())? },
            "countmin" => TaskKind::CountMin(CountMinConfig {
                depth: self.depth.unwrap_or(4),
                width: self.width.unwrap_or(2048),
                conservative: self.conservative.unwrap_or(true),
                heavy_hitters: self.heavy_hitters.unwrap_or(20),
                seed,
            }),
            "superspread" => TaskKind::SuperSpread {
                element: fields(name, "element", self.element.as_deref())?,
                config: SuperSpreadConfig {
                    depth: self.depth.unwrap_or(2),
                    width: self.width.unwrap_or(8192),
                    registers: self.registers.unwrap_or(128),
                    register_bits: self.register_bits.unwrap_or(5),
                    decay_base: self.decay_base.unwrap_or(1.08),
                    threshold: self.threshold.unwrap_or(64.0).max(1.0) as u64,
                    seed,
                },
            },
            other => return Err(format!("task \"{name}\": unknown type \"{other}\"")),
        };
        Ok(TaskSpec { name: name.clone(), key, kind })
    }
}

impl AnalyzerOptions {
    /// The analysis configuration: the defaults of [`AnalysisConfig`] where a field is absent.
    /// Checks, in order, the seed, the window and each task; the message names what is wrong.
    pub fn config(&self) -> Result<AnalysisConfig, String> {
        let mut cfg = AnalysisConfig::default();
        if let Some(seed) = &self.seed {
            cfg.seed = seed.parse().map_err(|_| format!("seed \"{seed}\" is not an unsigned 64-bit integer"))?;
        }
        if let Some(w) = self.window_seconds {
            if !(0.0..=MAX_WINDOW_SECONDS).contains(&w) {
                return Err(format!("window of {w} s is outside 0..86400"));
            }
            cfg.engine.window_ns = (w * 1e9).round() as u64;
        }
        if let Some(top) = self.top {
            cfg.top_n = top as usize;
        }
        cfg.keep_windows = self.keep_windows.unwrap_or(false);
        cfg.snapshots = self.snapshots.unwrap_or(true);
        for t in &self.tasks {
            cfg.engine.tasks.push(t.spec(cfg.seed)?);
        }
        cfg.flows = self.flows.as_ref().map(|f| f.config(cfg.seed)).transpose()?;
        cfg.rows_as = self.source.clone().map(|s| (s, self.run.clone().unwrap_or_default()));
        cfg.threads = match self.threads {
            None | Some(1) => 1,
            Some(2) => 2,
            Some(n) => return Err(format!("threads = {n}: the engine runs on 1 or 2 threads")),
        };
        Ok(cfg)
    }

    /// The analysis these options describe; also fails when the engine rejects a task's ranges.
    pub fn analysis(&self) -> Result<Analysis, String> {
        Analysis::new(&self.config()?)
    }
}

/// A probe's batching options as bindings receive them.
#[derive(Clone, Debug, Default)]
pub struct BatcherOptions {
    pub probe_id: String,
    pub interface: String,
    pub partitions: u32,
    pub batch_packets: u32,
    /// Seed of the partition hash, decimal; the analyzer's default when absent.
    pub seed: Option<String>,
    /// The engine's flow settings: with them (and `names` not false), the probe reads flows'
    /// first payloads for their names and sends them with the records.
    pub flows: Option<FlowOptions>,
}

impl BatcherOptions {
    pub fn config(&self) -> Result<crate::batch::BatchConfig, String> {
        let seed = AnalyzerOptions { seed: self.seed.clone(), ..AnalyzerOptions::default() }.config()?.seed;
        let names = match &self.flows {
            Some(f) => Some(f.config(seed)?).filter(|m| m.names).map(|m| m.cache),
            None => None,
        };
        Ok(crate::batch::BatchConfig {
            probe_id: self.probe_id.clone(),
            interface: self.interface.clone(),
            partitions: self.partitions,
            batch_packets: self.batch_packets,
            seed,
            names,
        })
    }

    pub fn batcher(&self) -> Result<crate::batch::BatchBuilder, String> {
        crate::batch::BatchBuilder::new(self.config()?)
    }
}

impl AnalyzerOptions {
    /// The live engine these options describe (the analysis's tasks, seed, window and top-N).
    pub fn batch_ingest(&self) -> Result<crate::batch::BatchIngest, String> {
        let cfg = self.config()?;
        let engine = crate::engine::EngineConfig {
            records: cfg.flows.is_some(),
            flows: cfg.flows.unwrap_or_default(),
            threads: cfg.threads,
            ..cfg.engine
        };
        let mut ingest = crate::batch::BatchIngest::new(&engine, cfg.seed, cfg.top_n, cfg.rows_as)?;
        if let Some(n) = self.seconds.filter(|&n| n > 0) {
            ingest.keep_seconds(n as u64);
        }
        Ok(ingest)
    }
}

/// Milliseconds, as JavaScript numbers carry times, to nanoseconds; exact for whole milliseconds
/// (a plain `ms * 1e6` in f64 is not, past 2^53 ns).
pub fn ms_to_ns(ms: f64) -> u64 {
    let ms = ms.max(0.0);
    (ms.trunc() as u64).saturating_mul(1_000_000).saturating_add((ms.fract() * 1e6).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, kind: &str, key: &str) -> TaskOptions {
        TaskOptions { name: name.into(), kind: kind.into(), key: key.into(), ..TaskOptions::default() }
    }

    fn error(o: AnalyzerOptions) -> String {
        o.analysis().err().expect("options should be rejected")
    }

    #[test]
    fn empty_options_are_the_default_config() {
        let cfg = AnalyzerOptions::default().config().unwrap();
        let d = AnalysisConfig::default();
        assert_eq!(cfg.seed, d.seed);
        assert_eq!(cfg.top_n, d.top_n);
        assert_eq!(cfg.engine.window_ns, 0);
        assert!(!cfg.keep_windows);
        assert!(cfg.engine.tasks.is_empty());
    }

    #[test]
    fn fields_map_to_the_config() {
        let o = AnalyzerOptions {
            seed: Some("18446744073709551615".into()),
            window_seconds: Some(1.5),
            top: Some(7),
            keep_windows: Some(true),
            tasks: vec![task("a", "exact", "SrcIP")],
            flows: Some(FlowOptions {
                idle_udp: Some(5.5),
                max_flows: Some(100),
                local_networks: Some("10.0.0.0/8, fc00::/7".into()),
                probe: Some("host-1".into()),
                ..FlowOptions::default()
            }),
            seconds: Some(60),
            source: Some("analyze:x".into()),
            run: None,
            threads: Some(2),
            snapshots: None,
        };
        let cfg = o.config().unwrap();
        assert_eq!(cfg.rows_as, Some(("analyze:x".to_string(), String::new())));
        assert_eq!(cfg.threads, 2);
        assert_eq!(
            AnalyzerOptions { threads: Some(3), ..AnalyzerOptions::default() }.config().err().unwrap(),
            "threads = 3: the engine runs on 1 or 2 threads"
        );
        assert_eq!(cfg.seed, u64::MAX);
        assert_eq!(cfg.engine.window_ns, 1_500_000_000);
        assert_eq!(cfg.top_n, 7);
        assert!(cfg.keep_windows);
        assert_eq!(cfg.engine.tasks.len(), 1);
        let flows = cfg.flows.unwrap();
        assert_eq!(
            (flows.cache.idle_udp_ns, flows.cache.idle_tcp_ns, flows.cache.max_flows),
            (5_500_000_000, 120_000_000_000, 100)
        );
        assert_eq!((flows.local.len(), flows.probe.as_str(), flows.cache.seed), (2, "host-1", u64::MAX));
    }

    #[test]
    fn bad_flow_options_are_named() {
        let bad =
            |f: FlowOptions| AnalyzerOptions { flows: Some(f), ..AnalyzerOptions::default() }.config().unwrap_err();
        assert_eq!(
            bad(FlowOptions { idle_tcp: Some(-1.0), ..FlowOptions::default() }),
            "flows.idleTcp: -1 s is outside 0..604800"
        );
        let e = bad(FlowOptions { local_networks: Some("10.0.0.0/8,lan".into()), ..FlowOptions::default() });
        assert!(e.starts_with("flows.localNetworks: \"lan\" is not an address or a network"), "{e}");
    }

    #[test]
    fn task_defaults() {
        let cm = task("cm", "countmin", "SrcIP,DstIP").spec(9).unwrap();
        assert_eq!(cm.key, KeyFields::SRC_IP | KeyFields::DST_IP);
        assert_eq!(
            cm.kind,
            TaskKind::CountMin(CountMinConfig {
                depth: 4,
                width: 2048,
                conservative: true,
                heavy_hitters: 20,
                seed: 9
            })
        );
        let ss = TaskOptions { element: Some("DstIP".into()), ..task("ss", "superspread", "SrcIP") }.spec(9).unwrap();
        assert_eq!(
            ss.kind,
            TaskKind::SuperSpread {
                element: KeyFields::DST_IP,
                config: SuperSpreadConfig {
                    depth: 2,
                    width: 8192,
                    registers: 128,
                    register_bits: 5,
                    decay_base: 1.08,
                    threshold: 64,
                    seed: 9,
                },
            }
        );
        let ex = TaskOptions { distinct: Some(String::new()), ..task("ex", "exact", "DstPort") }.spec(9).unwrap();
        assert_eq!(ex.kind, TaskKind::Exact { distinct: KeyFields::NONE });
    }

    #[test]
    fn given_values_override_defaults() {
        let t = TaskOptions {
            depth: Some(3),
            width: Some(100),
            registers: Some(64),
            register_bits: Some(6),
            decay_base: Some(1.5),
            threshold: Some(0.2),
            element: Some("DstPort".into()),
            ..task("ss", "superspread", "SrcIP")
        };
        let TaskKind::SuperSpread { config, .. } = t.spec(1).unwrap().kind else { panic!("not a superspread") };
        assert_eq!((config.depth, config.width, config.registers, config.register_bits), (3, 100, 64, 6));
        assert_eq!(config.decay_base, 1.5);
        // The threshold is at least 1.
        assert_eq!(config.threshold, 1);
    }

    #[test]
    fn error_texts() {
        let with = |t: TaskOptions| AnalyzerOptions { tasks: vec![t], ..AnalyzerOptions::default() };
        assert_eq!(
            error(with(task("k", "exact", "SrcMac"))),
            "task \"k\": key: unknown key field \"SrcMac\": expected one of SrcIP, DstIP, SrcPrefix, DstPrefix, SrcAS, DstAS, SrcCountry, DstCountry, App, ServerName, SrcPort, DstPort, Protocol, ICMPType, ICMPCode, TCPFlags, DSCP, VLAN, Direction, Interface"
        );
        assert_eq!(error(with(task("k", "exact", ""))), "task \"k\": key: a key needs at least one field");
        assert_eq!(
            error(with(TaskOptions { distinct: Some("Nope".into()), ..task("d", "exact", "SrcIP") })),
            "task \"d\": distinct: unknown key field \"Nope\": expected one of SrcIP, DstIP, SrcPrefix, DstPrefix, SrcAS, DstAS, SrcCountry, DstCountry, App, ServerName, SrcPort, DstPort, Protocol, ICMPType, ICMPCode, TCPFlags, DSCP, VLAN, Direction, Interface"
        );
        assert_eq!(
            error(with(TaskOptions { element: Some("X".into()), ..task("e", "superspread", "SrcIP") })),
            "task \"e\": element: unknown key field \"X\": expected one of SrcIP, DstIP, SrcPrefix, DstPrefix, SrcAS, DstAS, SrcCountry, DstCountry, App, ServerName, SrcPort, DstPort, Protocol, ICMPType, ICMPCode, TCPFlags, DSCP, VLAN, Direction, Interface"
        );
        assert_eq!(error(with(task("t", "bloom", "SrcIP"))), "task \"t\": unknown type \"bloom\"");
        assert_eq!(
            error(AnalyzerOptions { seed: Some("-1".into()), ..AnalyzerOptions::default() }),
            "seed \"-1\" is not an unsigned 64-bit integer"
        );
        for (w, text) in [(-1.0, "-1"), (86_400.5, "86400.5"), (f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
            assert_eq!(
                error(AnalyzerOptions { window_seconds: Some(w), ..AnalyzerOptions::default() }),
                format!("window of {text} s is outside 0..86400")
            );
        }
        // Ranges are the engine's to check; its message names the task.
        let e = error(with(TaskOptions { width: Some(0), ..task("w", "countmin", "SrcIP") }));
        assert!(e.starts_with("task \"w\": "), "{e}");
    }

    #[test]
    fn the_seed_is_checked_before_the_tasks() {
        let o = AnalyzerOptions {
            seed: Some("x".into()),
            window_seconds: Some(-1.0),
            tasks: vec![task("k", "bloom", "SrcIP")],
            ..AnalyzerOptions::default()
        };
        assert_eq!(error(o), "seed \"x\" is not an unsigned 64-bit integer");
    }
}
