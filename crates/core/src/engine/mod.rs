//! The engine core: several aggregation tasks over one packet stream, in tumbling windows.
//!
//! Every task accumulates the current window. When a packet's time passes the window's end (or
//! the caller closes the window, live), every task is snapshotted and reset in the same step, so
//! no packet is counted in two windows and none is lost at a boundary. Windows are aligned to
//! multiples of their length since the epoch; offline they follow packet time.

mod snapshot;
mod task;

pub use snapshot::{TaskSnapshot, WindowSnapshot, SNAPSHOT_MAGIC, SNAPSHOT_VERSION};
pub use task::{Task, TaskKind, TaskSpec, BATCH};

use crate::record::PacketRecord;
use crate::sketch::PackedKey;
use crate::table::KeyFields;

const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;

#[derive(Clone, Debug, Default)]
pub struct EngineConfig {
    /// Window length in nanoseconds; 0 makes the whole stream one window.
    pub window_ns: u64,
    pub tasks: Vec<TaskSpec>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowCounters {
    pub packets: u64,
    pub bytes: u64,
    /// Packets with a time, and the earliest and latest of their times (0 when none had one).
    pub timed: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    /// Packets older than the window they were counted in (out of order by more than the window).
    pub late: u64,
    /// TCP packets with SYN and without ACK: connection attempts (SYN floods, scans).
    pub syn: u64,
}

pub struct Engine {
    window_ns: u64,
    tasks: Vec<Task>,
    /// Start of the open window; None before the first timed packet.
    start: Option<u64>,
    counters: WindowCounters,
    /// Each distinct field set the tasks use, packed once per packet.
    fields: Vec<KeyFields>,
    /// Per task: indexes into `fields` of its key and of its element (the key again when none).
    slots: Vec<(usize, usize)>,
    /// Records of the open window not yet given to the tasks, and their packed keys (field set
    /// `f` of record `i` at `f * BATCH + i`): tasks take a batch at a time, which lets the
    /// sketches overlap their cache misses.
    pending: Vec<PacketRecord>,
    keys: Vec<PackedKey>,
}

impl Engine {
    pub fn new(cfg: &EngineConfig, seed: u64) -> Result<Engine, String> {
        let tasks = cfg.tasks.iter().map(|t| Task::new(t, seed)).collect::<Result<Vec<_>, _>>()?;
        let mut fields: Vec<KeyFields> = Vec::new();
        let mut slot = |f: KeyFields| match fields.iter().position(|&x| x == f) {
            Some(i) => i,
            None => {
                fields.push(f);
                fields.len() - 1
            }
        };
        let slots = tasks
            .iter()
            .map(|t: &Task| {
                let key = slot(t.spec().key);
                (key, t.element_fields().map_or(key, &mut slot))
            })
            .collect();
        let keys = vec![PackedKey::EMPTY; fields.len() * BATCH];
        Ok(Engine {
            window_ns: cfg.window_ns,
            tasks,
            start: None,
            counters: WindowCounters::default(),
            fields,
            slots,
            pending: Vec::with_capacity(BATCH),
            keys,
        })
    }

    /// Counts one packet; returns the previous window when this packet's time closed it.
    /// `has_ts` false (pcapng simple packets) puts the packet in the open window.
    #[inline]
    pub fn add(&mut self, r: &PacketRecord, has_ts: bool) -> Option<WindowSnapshot> {
        let mut closed = None;
        if has_ts && self.window_ns > 0 {
            match self.start {
                None => self.start = Some(r.ts_ns - r.ts_ns % self.window_ns),
                Some(start) if r.ts_ns >= start.saturating_add(self.window_ns) => {
                    closed = self.close_window();
                    self.start = Some(r.ts_ns - r.ts_ns % self.window_ns);
                }
                Some(start) if r.ts_ns < start => self.counters.late += 1,
                Some(_) => {}
            }
        }
        let c = &mut self.counters;
        if has_ts {
            if c.timed == 0 || c.first_ns > r.ts_ns {
                c.first_ns = r.ts_ns;
            }
            c.last_ns = c.last_ns.max(r.ts_ns);
            c.timed += 1;
        }
        c.packets += 1;
        c.bytes += r.wire_len as u64;
        if r.proto == 6 && r.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN {
            c.syn += 1;
        }
        if !self.tasks.is_empty() {
            let i = self.pending.len();
            for (f, &fields) in self.fields.iter().enumerate() {
                if let Some(k) = self.keys.get_mut(f * BATCH + i) {
                    *k = PackedKey::of(r, fields);
                }
            }
            self.pending.push(*r);
            if self.pending.len() >= BATCH {
                self.flush();
            }
        }
        closed
    }

    /// Gives the pending records to every task.
    fn flush(&mut self) {
        let n = self.pending.len();
        let keys = |f: usize| self.keys.get(f * BATCH..f * BATCH + n).unwrap_or(&[]);
        for (t, &(key, element)) in self.tasks.iter_mut().zip(&self.slots) {
            t.add_batch(&self.pending, keys(key), keys(element));
        }
        self.pending.clear();
    }

    /// Start and end of the open window, when it holds packets (end 0 without windows).
    pub fn open_window(&self) -> Option<(u64, u64)> {
        if self.counters.packets == 0 {
            return None;
        }
        let start = self.start.unwrap_or(0);
        Some((start, if self.window_ns > 0 { start.saturating_add(self.window_ns) } else { 0 }))
    }

    /// Start and end a snapshot of the open window carries (first and last packet without windows).
    fn bounds(&self) -> (u64, u64) {
        match self.start {
            Some(start) if self.window_ns > 0 => (start, start.saturating_add(self.window_ns)),
            _ => (self.counters.first_ns, self.counters.last_ns),
        }
    }

    /// Snapshots every task and resets it: the window is over. None for an empty window.
    pub fn close_window(&mut self) -> Option<WindowSnapshot> {
        self.flush();
        if self.counters.packets == 0 {
            return None;
        }
        let (start_ns, end_ns) = self.bounds();
        let tasks = self.tasks.iter_mut().map(|t| t.snapshot_and_reset()).collect();
        let snapshot = WindowSnapshot { start_ns, end_ns, counters: self.counters, tasks };
        self.counters = WindowCounters::default();
        Some(snapshot)
    }

    /// A copy of the open window as it stands, which keeps counting (live queries). None when
    /// it holds no packet.
    pub fn peek_window(&mut self) -> Option<WindowSnapshot> {
        self.flush();
        if self.counters.packets == 0 {
            return None;
        }
        let (start_ns, end_ns) = self.bounds();
        let tasks = self.tasks.iter().map(Task::snapshot).collect();
        Some(WindowSnapshot { start_ns, end_ns, counters: self.counters, tasks })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::addr::Addr;
    use crate::sketch::countmin::{CountMin, CountMinConfig};
    use crate::sketch::superspread::{SuperSpread, SuperSpreadConfig};
    use crate::sketch::PackedKey;
    use crate::table::KeyFields;

    pub(crate) const SECOND: u64 = 1_000_000_000;

    pub(crate) fn rec(ts_s: f64, src: u8, dst: u8, len: u32) -> PacketRecord {
        PacketRecord {
            ts_ns: (ts_s * 1e9) as u64,
            src: Addr::v4([10, 0, 0, src]),
            dst: Addr::v4([192, 0, 2, dst]),
            proto: 6,
            src_port: 1000,
            dst_port: 80,
            wire_len: len,
            ..PacketRecord::default()
        }
    }

    pub(crate) fn tasks() -> Vec<TaskSpec> {
        vec![
            TaskSpec {
                name: "src".into(),
                key: KeyFields::SRC_IP,
                kind: TaskKind::Exact { distinct: KeyFields::DST_IP },
            },
            TaskSpec {
                name: "hh".into(),
                key: KeyFields::SRC_IP,
                kind: TaskKind::CountMin(CountMinConfig {
                    depth: 3,
                    width: 256,
                    conservative: true,
                    heavy_hitters: 5,
                    seed: 9,
                }),
            },
            TaskSpec {
                name: "ss".into(),
                key: KeyFields::SRC_IP,
                kind: TaskKind::SuperSpread {
                    element: KeyFields::DST_IP,
                    config: SuperSpreadConfig {
                        depth: 2,
                        width: 64,
                        registers: 32,
                        register_bits: 5,
                        decay_base: 1.08,
                        threshold: 5,
                        seed: 9,
                    },
                },
            },
        ]
    }

    #[test]
    fn windows_follow_packet_time_and_lose_nothing_at_boundaries() {
        let mut e = Engine::new(&EngineConfig { window_ns: 10 * SECOND, tasks: tasks() }, 1).unwrap();
        let base = 1_000_000_000 * SECOND;
        let times_ns =
            [base + 3 * SECOND, base + 10 * SECOND - 1, base + 10 * SECOND, base + 19 * SECOND, base + 47 * SECOND];
        let mut closed = Vec::new();
        for (i, t) in times_ns.into_iter().enumerate() {
            closed.extend(e.add(&PacketRecord { ts_ns: t, ..rec(0.0, 1, i as u8, 100) }, true));
        }
        closed.extend(e.close_window());
        let starts: Vec<u64> = closed.iter().map(|w| w.start_ns / SECOND).collect();
        assert_eq!(starts, vec![1_000_000_000, 1_000_000_010, 1_000_000_040], "empty windows are skipped");
        let packets: Vec<u64> = closed.iter().map(|w| w.counters.packets).collect();
        assert_eq!(packets, vec![2, 2, 1], "the packet at exactly 10 s opens the second window");
        for w in &closed {
            let exact = w.tasks[0].exact().unwrap();
            assert_eq!(exact.iter().map(|(_, s)| s.packets).sum::<u64>(), w.counters.packets);
            assert_eq!(w.tasks[1].countmin().unwrap().total().0, w.counters.packets, "sketch reset with the window");
            assert_eq!(w.end_ns - w.start_ns, 10 * SECOND);
        }
    }

    #[test]
    fn late_packets_stay_in_the_open_window_and_are_counted() {
        let mut e = Engine::new(&EngineConfig { window_ns: SECOND, tasks: tasks() }, 1).unwrap();
        assert!(e.add(&rec(100.5, 1, 1, 60), true).is_none());
        assert!(e.add(&rec(101.2, 1, 2, 60), true).is_some());
        assert!(e.add(&rec(100.9, 1, 3, 60), true).is_none());
        let w = e.close_window().unwrap();
        assert_eq!((w.counters.packets, w.counters.late), (2, 1));
    }

    #[test]
    fn connection_attempts_are_syn_without_ack() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks() }, 1).unwrap();
        for (flags, proto) in [(0x02, 6), (0x12, 6), (0x10, 6), (0x02 | 0x08, 6), (0x02, 17), (0x04, 6)] {
            e.add(&PacketRecord { tcp_flags: flags, proto, ..rec(1.0, 1, 1, 60) }, true);
        }
        let w = e.close_window().unwrap();
        assert_eq!(w.counters.syn, 2, "SYN and SYN+PSH count; SYN-ACK, ACK, RST and a non-TCP flags byte do not");
    }

    #[test]
    fn window_zero_is_the_whole_stream() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks() }, 1).unwrap();
        for i in 0..100u32 {
            assert!(e.add(&rec(1000.0 + i as f64 * 60.0, 1, (i % 50) as u8, 100), true).is_none());
        }
        let w = e.close_window().unwrap();
        assert_eq!(w.counters.packets, 100);
        assert_eq!((w.start_ns / SECOND, w.end_ns / SECOND), (1000, 1000 + 99 * 60));
        assert!(e.close_window().is_none(), "an empty window is not reported");
    }

    #[test]
    fn snapshot_buffer_carries_every_task() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks() }, 1).unwrap();
        for d in 0..40u8 {
            e.add(&rec(5.0, 7, d, 100), true);
        }
        e.add(&rec(6.0, 8, 1, 1500), true);
        let w = e.close_window().unwrap();
        let mut buf = Vec::new();
        w.encode(&mut buf);
        assert_eq!(&buf[..4], b"NSWS");
        assert_eq!(u16::from_le_bytes([buf[4], buf[5]]), 2);
        assert_eq!(u64::from_le_bytes(buf[22..30].try_into().unwrap()), 41, "packets");
        let mut at = 6 + 8 * 8;
        assert_eq!(u16::from_le_bytes([buf[at], buf[at + 1]]), 3);
        at += 2;
        let mut kinds = Vec::new();
        for _ in 0..3 {
            let name_len = buf[at] as usize;
            at += 1 + name_len;
            let kind = buf[at];
            at += 3;
            let len = u32::from_le_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
            at += 4;
            let payload = &buf[at..at + len];
            match kind {
                1 => assert_eq!(u32::from_le_bytes(payload[..4].try_into().unwrap()), 2, "two source keys"),
                2 => assert_eq!(CountMin::decode(payload).unwrap().total().0, 41),
                3 => {
                    let ss = SuperSpread::decode(payload).unwrap();
                    let key = PackedKey::of(&rec(0.0, 7, 0, 0), KeyFields::SRC_IP);
                    assert!(ss.estimate(&key) > 0);
                }
                other => panic!("unknown task type {other}"),
            }
            kinds.push(kind);
            at += len;
        }
        assert_eq!(kinds, vec![1, 2, 3]);
        assert_eq!(at, buf.len());
    }

    #[test]
    fn report_puts_exact_values_beside_estimates() {
        let mut e = Engine::new(&EngineConfig { window_ns: 0, tasks: tasks() }, 1).unwrap();
        for d in 0..30u8 {
            e.add(&rec(5.0, 7, d, 100), true);
        }
        let w = e.close_window().unwrap();
        let mut j = crate::json::Json::new();
        w.write_json(&mut j, 5);
        let text = j.finish();
        assert!(text.contains(r#""exactTask":"src""#), "{text}");
        assert!(
            text.contains(
                r#""key":"10.0.0.7","srcIp":"10.0.0.7","packets":30,"bytes":3000,"exactPackets":30,"exactBytes":3000"#
            ),
            "{text}"
        );
        assert!(text.contains(r#""exactSpread":30"#), "{text}");
    }

    #[test]
    fn invalid_task_configuration_names_the_task() {
        let mut bad = tasks();
        bad[1].kind =
            TaskKind::CountMin(CountMinConfig { depth: 3, width: 0, conservative: true, heavy_hitters: 5, seed: 9 });
        let err = Engine::new(&EngineConfig { window_ns: 0, tasks: bad }, 1).err().unwrap();
        assert!(err.starts_with("task \"hh\": "), "{err}");
    }
}
