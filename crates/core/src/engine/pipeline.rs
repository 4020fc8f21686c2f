//! How the packet path hands its [`Op`]s to the derived half: on the same thread, one op at a
//! time, or in batches to a thread of its own, so the two halves of the engine run on two
//! cores. The ops are the same and are applied in the same order either way, so every output
//! is byte-identical to one thread's.
//!
//! The channel is bounded: when the derived half falls behind, the packet path waits, and the
//! ops in flight stay a few batches (memory does not grow with the input). A thread that
//! panics is found at the next hand-off; the engine then reports it (`failure`) and counts
//! nothing more, so a run never ends with a silently partial result.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use super::derive::{Derive, Op};

/// Ops per batch sent to the thread.
const BATCH: usize = 4096;
/// Batches in flight: the thread works on one while the packet path fills the next.
const IN_FLIGHT: usize = 4;

pub(crate) enum Back {
    Inline(Box<Derive>),
    Thread(Worker),
}

pub(crate) struct Worker {
    tx: Option<SyncSender<Vec<Op>>>,
    /// Emptied batches coming back, to be filled again.
    free: Receiver<Vec<Op>>,
    batch: Vec<Op>,
    handle: Option<JoinHandle<()>>,
    failure: Option<String>,
}

impl Back {
    /// The derived half on its own thread when `threaded`; fails where threads cannot start.
    pub(crate) fn new(derive: Derive, threaded: bool) -> Result<Back, String> {
        if !threaded {
            return Ok(Back::Inline(Box::new(derive)));
        }
        let (tx, rx) = mpsc::sync_channel::<Vec<Op>>(IN_FLIGHT);
        let (free_tx, free) = mpsc::channel::<Vec<Op>>();
        let mut derive = derive;
        let handle = std::thread::Builder::new()
            .name("netspectra-derive".into())
            .spawn(move || {
                while let Ok(mut batch) = rx.recv() {
                    for op in batch.drain(..) {
                        derive.apply(op);
                    }
                    // The packet path may be gone already: then the batch is just dropped.
                    let _ = free_tx.send(batch);
                }
            })
            .map_err(|e| format!("cannot start the engine's second thread: {e}"))?;
        Ok(Back::Thread(Worker {
            tx: Some(tx),
            free,
            batch: Vec::with_capacity(BATCH),
            handle: Some(handle),
            failure: None,
        }))
    }

    #[inline]
    pub(crate) fn push(&mut self, op: Op) {
        match self {
            Back::Inline(d) => d.apply(op),
            Back::Thread(w) => {
                w.batch.push(op);
                if w.batch.len() >= BATCH {
                    w.send();
                }
            }
        }
    }

    /// Sends what is batched (the end of a chunk of input).
    pub(crate) fn flush(&mut self) {
        if let Back::Thread(w) = self {
            if !w.batch.is_empty() {
                w.send();
            }
        }
    }

    /// Runs `f` on the derived half after every op pushed so far, and returns its result;
    /// an error when the thread failed.
    pub(crate) fn call<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Derive) -> R + Send + 'static,
    ) -> Result<R, String> {
        match self {
            Back::Inline(d) => Ok(f(d)),
            Back::Thread(w) => {
                let (tx, rx) = mpsc::sync_channel(1);
                w.batch.push(Op::Call(Box::new(move |d| {
                    let _ = tx.send(f(d));
                })));
                w.send();
                match rx.recv() {
                    Ok(r) => Ok(r),
                    Err(_) => Err(w.fail()),
                }
            }
        }
    }

    /// Waits until every op pushed so far is applied.
    pub(crate) fn sync(&mut self) -> Result<(), String> {
        self.call(|_| ())
    }

    pub(crate) fn failure(&self) -> Option<&str> {
        match self {
            Back::Inline(_) => None,
            Back::Thread(w) => w.failure.as_deref(),
        }
    }

    /// Pushes an op that makes the thread panic.
    #[cfg(test)]
    pub(crate) fn inject_failure(&mut self) {
        if let Back::Thread(w) = self {
            w.batch.push(Op::Fail);
            w.send();
        }
    }
}

impl Worker {
    fn send(&mut self) {
        let next = self.free.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH));
        let batch = std::mem::replace(&mut self.batch, next);
        if self.failure.is_some() {
            return;
        }
        let sent = self.tx.as_ref().map(|tx| tx.send(batch).is_ok()).unwrap_or(false);
        if !sent {
            self.fail();
        }
    }

    /// The thread is gone: why (its panic message), kept for every later call.
    fn fail(&mut self) -> String {
        if self.failure.is_none() {
            self.tx = None;
            let why = match self.handle.take().map(|h| h.join()) {
                Some(Err(payload)) => payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into()),
                _ => "it stopped".into(),
            };
            self.failure = Some(format!("the engine's second thread failed: {why}; the results are incomplete"));
        }
        self.failure.clone().unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread once it has applied what was sent.
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::Analysis;
    use crate::flow::FlowOut;
    use crate::options::{AnalyzerOptions, FlowOptions, TaskOptions};
    use crate::rows::FLOWS;
    use netspectra_synth::{TrafficConfig, TrafficGenerator};

    const PCAPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/pcaps");

    /// The default task set with an exact task beside each sketch, 1 s windows kept with their
    /// rows, flow records from a small table (evictions, slots reused).
    fn options(threads: u32) -> AnalyzerOptions {
        let task = |name: &str, kind: &str, key: &str, second: Option<&str>| TaskOptions {
            name: name.into(),
            kind: kind.into(),
            key: key.into(),
            distinct: second.filter(|_| kind == "exact").map(Into::into),
            element: second.filter(|_| kind == "superspread").map(Into::into),
            width: (kind != "exact").then_some(256),
            ..TaskOptions::default()
        };
        let five = "SrcIP,DstIP,SrcPort,DstPort,Protocol";
        AnalyzerOptions {
            window_seconds: Some(1.0),
            top: Some(10),
            keep_windows: Some(true),
            tasks: vec![
                task("src_ip", "exact", "SrcIP", None),
                task("dst_port", "exact", "DstPort,Protocol", None),
                task("heavy_flows", "countmin", five, None),
                task("scanners", "superspread", "SrcIP", Some("DstIP")),
                task("victims", "superspread", "DstIP", Some("SrcIP")),
                task("heavy_flows_exact", "exact", five, None),
                task("scanners_exact", "exact", "SrcIP", Some("DstIP")),
            ],
            flows: Some(FlowOptions { max_flows: Some(300), probe: Some("p".into()), ..FlowOptions::default() }),
            source: Some("src".into()),
            run: Some("r".into()),
            threads: Some(threads),
            ..AnalyzerOptions::default()
        }
    }

    /// Every output of an analysis fed in chunks, taken as a reader takes them.
    fn outputs(threads: u32, data: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut a = Analysis::new(&options(threads).config().unwrap()).unwrap();
        a.begin_file("capture");
        let (mut windows, mut flows) = (Vec::new(), Vec::new());
        for part in data.chunks(chunk) {
            if a.feed(part).is_err() {
                break;
            }
            windows.extend(a.take_windows());
            flows.extend(flow_rows(&mut a, false));
        }
        let _ = a.end_file();
        a.close_window();
        windows.extend(a.take_windows());
        flows.extend(flow_rows(&mut a, true));
        assert!(a.failure().is_none());
        vec![
            windows.concat(),
            flows,
            a.report_json(10).into_bytes(),
            a.export_conversations(false),
            a.export_conversations(true),
            a.flow_summary_json().unwrap_or_default().into_bytes(),
        ]
    }

    /// The rows of the flow records taken (not their buffer: its framing counts the takes).
    fn flow_rows(a: &mut Analysis, flush: bool) -> Vec<u8> {
        let taken = a.take_flows(flush, FlowOut { rows: Some(("src", "r")), json: false }).unwrap();
        let rows = taken.rows.unwrap();
        assert!(rows.quarantined.is_empty());
        rows.tables[FLOWS].buf.clone()
    }

    fn generated(packets: u64) -> Vec<u8> {
        let mut g = TrafficGenerator::new(TrafficConfig { packets, ..TrafficConfig::default() });
        let mut pcap = Vec::new();
        while g.next_chunk(4096, &mut pcap) > 0 {}
        pcap
    }

    #[test]
    fn two_threads_give_the_bytes_of_one() {
        let mut inputs: Vec<(String, Vec<u8>)> = vec![("generated".into(), generated(60_000))];
        for name in ["debian-pathspider-real.pcap", "ndpi-1kxun.pcap", "ndpi-6in4tunnel.pcap", "ndpi-badpackets.pcap"] {
            let data = std::fs::read(format!("{PCAPS}/{name}")).unwrap_or_else(|e| panic!("{PCAPS}/{name}: {e}"));
            inputs.push((name.into(), data));
        }
        for (name, data) in &inputs {
            let one = outputs(1, data, data.len().max(1));
            for chunk in [65_536, 1_000_003] {
                let two = outputs(2, data, chunk);
                for (i, (a, b)) in one.iter().zip(&two).enumerate() {
                    assert!(a == b, "{name}, chunks of {chunk}: output {i} differs ({} vs {} bytes)", a.len(), b.len());
                }
                assert!(!one[0].is_empty() && !one[2].is_empty(), "{name}: windows and a report");
            }
        }
    }

    #[test]
    fn a_failed_thread_ends_the_analysis_with_an_error() {
        let data = generated(20_000);
        let mut a = Analysis::new(&options(2).config().unwrap()).unwrap();
        a.begin_file("capture");
        let (head, tail) = data.split_at(data.len() / 2);
        a.feed(head).unwrap();
        a.inject_failure();
        for part in tail.chunks(4096) {
            let _ = a.feed(part);
            a.take_windows();
        }
        let _ = a.end_file();
        a.close_window();
        let why = a.failure().expect("the failure is reported").to_string();
        assert!(why.contains("second thread failed: injected failure"), "{why}");
        // Every later call answers (none waits on the dead thread), and the failure stays.
        a.take_flow_rows(true);
        a.report_json(5);
        a.export_conversations(false);
        assert_eq!(a.failure(), Some(why.as_str()));
    }
}
