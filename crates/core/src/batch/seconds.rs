//! Per-second counters of the live stream, by packet time, for the console's rate chart and
//! `/api/counters`: packets, bytes, TCP connection attempts, and packets and bytes per protocol
//! class. Bounded: seconds older than the history before the newest are dropped.

use std::collections::VecDeque;

use crate::json::Json;
use crate::record::{flag, PacketRecord};

const SECOND: u64 = 1_000_000_000;
/// Protocol classes, by the innermost IP protocol.
pub const CLASSES: [&str; 4] = ["TCP", "UDP", "ICMP", "Other"];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Second {
    /// Seconds since the epoch.
    pub sec: u64,
    pub packets: u64,
    pub bytes: u64,
    /// TCP SYN without ACK.
    pub syn: u64,
    /// Packets and bytes per [`CLASSES`] entry.
    pub classes: [(u64, u64); 4],
}

pub struct SecondCounters {
    history: u64,
    seconds: VecDeque<Second>,
    /// Packets older than the history kept (late beyond it): not counted here.
    pub too_old: u64,
}

fn class(proto: u8) -> usize {
    match proto {
        6 => 0,
        17 => 1,
        1 | 58 => 2,
        _ => 3,
    }
}

impl SecondCounters {
    /// Keeps `history` seconds (at least 1).
    pub fn new(history: u64) -> SecondCounters {
        SecondCounters { history: history.max(1), seconds: VecDeque::new(), too_old: 0 }
    }

    /// Counts a timed packet (untimed ones have no second).
    #[inline]
    pub fn add(&mut self, r: &PacketRecord) {
        if r.has(flag::NO_TIME) {
            return;
        }
        let sec = r.ts_ns / SECOND;
        let i = match self.seconds.back() {
            Some(last) if last.sec == sec => self.seconds.len() - 1,
            Some(last) if last.sec > sec => {
                if last.sec - sec >= self.history {
                    self.too_old += 1;
                    return;
                }
                // A late packet: its second, made if the stream skipped it.
                let i = self.seconds.partition_point(|s| s.sec < sec);
                if self.seconds.get(i).map_or(true, |s| s.sec != sec) {
                    self.seconds.insert(i, Second { sec, ..Second::default() });
                }
                i
            }
            _ => {
                self.seconds.push_back(Second { sec, ..Second::default() });
                while self.seconds.front().is_some_and(|f| f.sec + self.history <= sec) {
                    self.seconds.pop_front();
                }
                self.seconds.len() - 1
            }
        };
        let s = &mut self.seconds[i];
        let bytes = r.wire_len as u64;
        s.packets += 1;
        s.bytes += bytes;
        if r.proto == 6 && r.tcp_flags & 0x12 == 0x02 {
            s.syn += 1;
        }
        let c = &mut s.classes[class(r.proto)];
        c.0 += 1;
        c.1 += bytes;
    }

    /// Seconds that began in [from, to) (ns), oldest first; seconds without packets are absent.
    pub fn range(&self, from_ns: u64, to_ns: u64) -> impl Iterator<Item = &Second> {
        self.seconds.iter().filter(move |s| s.sec * SECOND >= from_ns && s.sec * SECOND < to_ns)
    }

    /// As [`SecondCounters::range`], as a JSON array of
    /// `{"t":ms,"packets","bytes","tcpSyn","protocols":{"TCP":{"packets","bytes"},...}}`.
    pub fn range_json(&self, from_ns: u64, to_ns: u64) -> String {
        let mut j = Json::new();
        j.begin_array(None);
        for s in self.range(from_ns, to_ns) {
            j.begin_object(None);
            j.u64("t", s.sec * 1000);
            j.u64("packets", s.packets);
            j.u64("bytes", s.bytes);
            j.u64("tcpSyn", s.syn);
            j.begin_object(Some("protocols"));
            for (name, (p, b)) in CLASSES.iter().zip(s.classes) {
                j.begin_object(Some(name));
                j.u64("packets", p);
                j.u64("bytes", b);
                j.end_object();
            }
            j.end_object();
            j.end_object();
        }
        j.end_array();
        j.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64, proto: u8, flags: u8) -> PacketRecord {
        PacketRecord {
            ts_ns: ms * 1_000_000,
            proto,
            tcp_flags: flags,
            wire_len: 100,
            cap_len: 100,
            ..PacketRecord::default()
        }
    }

    #[test]
    fn counts_per_second_by_protocol_and_keeps_the_history() {
        let mut c = SecondCounters::new(3);
        c.add(&at(1_000, 6, 0x02));
        c.add(&at(1_500, 6, 0x12));
        c.add(&at(1_999, 17, 0));
        c.add(&at(3_000, 58, 0));
        c.add(&at(2_100, 47, 0)); // late, inside the history: second 2 is made
        let s: Vec<_> = c.range(0, u64::MAX).copied().collect();
        assert_eq!(
            s.iter().map(|s| (s.sec, s.packets, s.syn)).collect::<Vec<_>>(),
            vec![(1, 3, 1), (2, 1, 0), (3, 1, 0)]
        );
        assert_eq!(s[0].classes, [(2, 200), (1, 100), (0, 0), (0, 0)]);
        assert_eq!(s[2].classes[2], (1, 100));
        assert_eq!(s[1].classes[3], (1, 100));
        c.add(&at(4_000, 6, 0));
        assert_eq!(c.range(0, u64::MAX).next().unwrap().sec, 2);
        c.add(&at(1_000, 6, 0)); // beyond the history
        assert_eq!(c.too_old, 1);
        let untimed = PacketRecord { flags: flag::NO_TIME, ..at(5_000, 6, 0) };
        c.add(&untimed);
        assert_eq!(c.range(0, u64::MAX).count(), 3);
        assert_eq!(c.range(3_000_000_000, 4_000_000_000).count(), 1);
        assert!(c.range_json(4_000_000_000, 5_000_000_000).starts_with(
            r#"[{"t":4000,"packets":1,"bytes":100,"tcpSyn":0,"protocols":{"TCP":{"packets":1,"bytes":100},"UDP""#
        ));
    }
}
