//! The WebAssembly binding: `extern "C"` exports over linear memory, with the same API shape as
//! `crates/napi` (an `Analyzer` and a `TrafficSource`). It converts arguments, calls the core and
//! hands results back; the options' defaults and error texts are `netspectra_core::options`.
//! `ts/backend/wasm.ts` is its only caller.
//!
//! Conventions:
//! - Inputs (capture chunks, names, options text) are written by the caller into a buffer it got
//!   from [`ns_alloc`] and passed as (pointer, length). The caller reuses that buffer.
//! - Objects are handles: the pointer of a boxed core object, freed by its `*_free` export.
//! - A result (text or bytes) is a boxed byte slice whose (pointer, length) the call leaves in the
//!   two-word result slot at [`ns_result_slot`]; the caller copies it out, then gives it back with
//!   [`ns_free`]. Calls that may or may not produce one return 1 when they did, 0 otherwise.
//! - Errors are results too: a constructor returns a null handle and leaves the error text in the
//!   slot; `feed` and `end_file` return 1 with the capture error text, as napi returns a string.
//! - A panic (the core never panics; this is for diagnosis) records its message, readable with
//!   [`ns_panic_message`], and then traps.
//!
//! One call per chunk, never one per packet.

// Allocation failures are recorded like panics; the hook is unstable, and the wasm build uses
// Debian's compiler with RUSTC_BOOTSTRAP anyway (for -Z build-std).
#![cfg_attr(target_arch = "wasm32", feature(alloc_error_hook))]

mod wire;

use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};
use netspectra_core::analysis::Analysis;
use netspectra_core::batch::{BatchBuilder, BatchIngest, CaptureStats};
use netspectra_core::json::Json;
use netspectra_core::options::ms_to_ns;
use netspectra_synth::TrafficGenerator;
use std::sync::Mutex;

/// (pointer, length) of the last result.
static RESULT: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

fn put(bytes: Vec<u8>) {
    let len = bytes.len();
    let ptr = Box::into_raw(bytes.into_boxed_slice()) as *mut u8;
    RESULT[0].store(ptr as usize, Ordering::Relaxed);
    RESULT[1].store(len, Ordering::Relaxed);
}

/// Puts `Some` text into the slot and returns 1, or returns 0.
fn put_some(text: Option<String>) -> u32 {
    text.map_or(0, |t| {
        put(t.into_bytes());
        1
    })
}

/// # Safety
/// `ptr` and `len` describe a live byte range of this module's memory (or `len` is 0).
unsafe fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        // SAFETY: the caller passes a buffer it got from `ns_alloc`, at most as long as that.
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }
}

/// The address of the result slot: two words, pointer then length.
#[no_mangle]
pub extern "C" fn ns_result_slot() -> *const AtomicUsize {
    RESULT.as_ptr()
}

/// A zeroed buffer of `len` bytes for the caller's inputs; give it back with [`ns_free`].
#[no_mangle]
pub extern "C" fn ns_alloc(len: usize) -> *mut u8 {
    Box::into_raw(vec![0u8; len].into_boxed_slice()) as *mut u8
}

/// Frees a buffer from [`ns_alloc`] or a result.
///
/// # Safety
/// `ptr` and `len` are exactly those of a buffer from [`ns_alloc`] or of a result, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn ns_free(ptr: *mut u8, len: usize) {
    // SAFETY: rebuilds the boxed slice that `ns_alloc` or `put` leaked.
    drop(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(ptr, len)) });
}

/// The last panic's message, at most this long (cut at a character boundary).
const PANIC_CAPACITY: usize = 1024;

struct PanicText {
    bytes: [u8; PANIC_CAPACITY],
    len: usize,
}

impl Write for PanicText {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let mut n = s.len().min(PANIC_CAPACITY - self.len);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

static PANIC: Mutex<PanicText> = Mutex::new(PanicText { bytes: [0; PANIC_CAPACITY], len: 0 });

fn record(message: core::fmt::Arguments<'_>) {
    if let Ok(mut p) = PANIC.lock() {
        p.len = 0;
        let _ = p.write_fmt(message);
    }
}

#[cfg(target_arch = "wasm32")]
fn alloc_failed(layout: std::alloc::Layout) {
    record(format_args!("memory allocation of {} bytes failed", layout.size()));
}

/// Records the messages of panics and failed allocations (without allocating) for
/// [`ns_panic_message`]; call once after instantiation.
#[no_mangle]
pub extern "C" fn ns_init() {
    std::panic::set_hook(Box::new(|info| record(format_args!("{info}"))));
    #[cfg(target_arch = "wasm32")]
    std::alloc::set_alloc_error_hook(alloc_failed);
}

/// Puts the last panic's message in the result slot (it lives in static memory: do not free
/// it) and returns its length; 0 when there was none.
#[no_mangle]
pub extern "C" fn ns_panic_message() -> usize {
    let Ok(p) = PANIC.lock() else { return 0 };
    RESULT[0].store(p.bytes.as_ptr() as usize, Ordering::Relaxed);
    RESULT[1].store(p.len, Ordering::Relaxed);
    p.len
}

/// A new analyzer from an options text (see [`wire`]); null with the error text in the slot.
///
/// # Safety
/// (`opts`, `len`) is a live input buffer.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_new(opts: *const u8, len: usize) -> *mut Analysis {
    // SAFETY: the caller's input buffer.
    let text = unsafe { input(opts, len) };
    match wire::analyzer_options(text).and_then(|o| o.analysis()) {
        Ok(a) => Box::into_raw(Box::new(a)),
        Err(e) => {
            put(e.into_bytes());
            core::ptr::null_mut()
        }
    }
}

/// The analyzer behind a handle.
///
/// # Safety
/// `h` came from [`ns_analyzer_new`] and has not been freed.
unsafe fn analyzer<'a>(h: *mut Analysis) -> &'a mut Analysis {
    // SAFETY: see above; the caller never uses a handle after freeing it.
    unsafe { &mut *h }
}

/// # Safety
/// `h` is a live analyzer handle; it is dead afterwards.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_free(h: *mut Analysis) {
    // SAFETY: the box `ns_analyzer_new` leaked.
    drop(unsafe { Box::from_raw(h) });
}

/// # Safety
/// `h` is a live analyzer handle and (`name`, `len`) a live input buffer holding UTF-8.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_begin_file(h: *mut Analysis, name: *const u8, len: usize) {
    // SAFETY: the caller's handle and input buffer.
    let (a, name) = unsafe { (analyzer(h), input(name, len)) };
    a.begin_file(&String::from_utf8_lossy(name));
}

/// Parses a chunk; 1 with the capture error text in the slot when the file cannot be read further.
///
/// # Safety
/// `h` is a live analyzer handle and (`chunk`, `len`) a live input buffer.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_feed(h: *mut Analysis, chunk: *const u8, len: usize) -> u32 {
    // SAFETY: the caller's handle and input buffer.
    let (a, chunk) = unsafe { (analyzer(h), input(chunk, len)) };
    put_some(a.feed(chunk).err().map(|e| e.to_string()))
}

/// Ends the file; 1 with the error text in the slot when it was cut short.
///
/// # Safety
/// `h` is a live analyzer handle.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_end_file(h: *mut Analysis) -> u32 {
    // SAFETY: the caller's handle.
    put_some(unsafe { analyzer(h) }.end_file().err().map(|e| e.to_string()))
}

/// # Safety
/// `h` is a live analyzer handle.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_close_window(h: *mut Analysis) {
    // SAFETY: the caller's handle.
    unsafe { analyzer(h) }.close_window();
}

/// The windows closed since the last call (closed window format), each a result of its own,
/// and in the slot a table of their (pointer, length) u64 word pairs (a result too). Returns
/// how many.
///
/// # Safety
/// `h` is a live analyzer handle.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_take_windows(h: *mut Analysis) -> u32 {
    // SAFETY: the caller's handle.
    put_buffers(unsafe { analyzer(h) }.take_windows())
}

/// Leaks each buffer as a result of its own and puts the table of their (pointer, length) u64
/// word pairs in the slot; returns how many.
fn put_buffers(buffers: Vec<Vec<u8>>) -> u32 {
    let count = buffers.len() as u32;
    let table: Vec<u64> = buffers.into_iter().flat_map(leak).collect();
    put_table(&table);
    count
}

/// Packets counted so far (as napi, an f64).
///
/// # Safety
/// `h` is a live analyzer handle.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_packets(h: *mut Analysis) -> f64 {
    // SAFETY: the caller's handle.
    unsafe { analyzer(h) }.totals().packets as f64
}

/// The report JSON, in the slot.
///
/// # Safety
/// `h` is a live analyzer handle.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_report_json(h: *mut Analysis, top_n: u32) {
    // SAFETY: the caller's handle.
    put(unsafe { analyzer(h) }.report_json(top_n as usize).into_bytes());
}

/// 1 with the flow records finished since the last call (JSON array) in the slot; `flush`
/// (non-zero) ends every open flow first. 0 without flow records.
///
/// # Safety
/// `h` is a live analyzer handle.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_take_flows(h: *mut Analysis, flush: u32) -> u32 {
    // SAFETY: the caller's handle.
    put_some(unsafe { analyzer(h) }.take_flows_json(flush != 0))
}

/// 1 with the flow records finished since the last call as `flows` rows (the core's rows
/// buffer) in the slot; 0 without flow records or a `source`.
///
/// # Safety
/// `h` is a live analyzer handle.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_take_flow_rows(h: *mut Analysis, flush: u32) -> u32 {
    // SAFETY: the caller's handle.
    match unsafe { analyzer(h) }.take_flow_rows(flush != 0) {
        Some(rows) => {
            put(rows);
            1
        }
        None => 0,
    }
}

/// 1 with the summary of the flow records taken (JSON) in the slot; 0 without flow records.
///
/// # Safety
/// `h` is a live analyzer handle.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_flow_summary_json(h: *mut Analysis) -> u32 {
    // SAFETY: the caller's handle.
    put_some(unsafe { analyzer(h) }.flow_summary_json())
}

/// 1 with the flow cache's counters (JSON) in the slot, 0 without flow records.
///
/// # Safety
/// `h` is a live analyzer handle.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_flow_stats_json(h: *mut Analysis) -> u32 {
    // SAFETY: the caller's handle.
    put_some(unsafe { analyzer(h) }.flow_counters_json())
}

/// Fixed-width conversation rows (`netspectra_core::analysis::encode_conversation`), in the slot.
///
/// # Safety
/// `h` is a live analyzer handle.
#[no_mangle]
pub unsafe extern "C" fn ns_analyzer_export_conversations(h: *mut Analysis, ip_pairs: u32) {
    // SAFETY: the caller's handle.
    put(unsafe { analyzer(h) }.export_conversations(ip_pairs != 0));
}

/// A new traffic generator from an options text (see [`wire`]); null with the error in the slot.
///
/// # Safety
/// (`opts`, `len`) is a live input buffer.
#[no_mangle]
pub unsafe extern "C" fn ns_traffic_new(opts: *const u8, len: usize) -> *mut TrafficGenerator {
    // SAFETY: the caller's input buffer.
    match wire::traffic_options(unsafe { input(opts, len) }) {
        Ok(o) => Box::into_raw(Box::new(TrafficGenerator::new(o.config()))),
        Err(e) => {
            put(e.into_bytes());
            core::ptr::null_mut()
        }
    }
}

/// # Safety
/// `h` came from [`ns_traffic_new`] and has not been freed; it is dead afterwards.
#[no_mangle]
pub unsafe extern "C" fn ns_traffic_free(h: *mut TrafficGenerator) {
    // SAFETY: the box `ns_traffic_new` leaked.
    drop(unsafe { Box::from_raw(h) });
}

/// The next part of the pcap file (its header first), in the slot; empty when done.
///
/// # Safety
/// `h` is a live traffic generator handle.
#[no_mangle]
pub unsafe extern "C" fn ns_traffic_next_chunk(h: *mut TrafficGenerator, max_packets: u32) {
    let mut out = Vec::new();
    // SAFETY: the caller's handle.
    unsafe { &mut *h }.next_chunk(max_packets as u64, &mut out);
    put(out);
}

/// Leaks `bytes` as a result of its own and returns its (pointer, length) as table words.
fn leak(bytes: Vec<u8>) -> [u64; 2] {
    let len = bytes.len();
    [Box::into_raw(bytes.into_boxed_slice()) as *mut u8 as usize as u64, len as u64]
}

/// Puts a table of little-endian u64 words in the slot.
fn put_table(words: &[u64]) {
    put(words.iter().flat_map(|w| w.to_le_bytes()).collect());
}

/// A new probe batcher from an options text (see [`wire`]); null with the error in the slot.
///
/// # Safety
/// (`opts`, `len`) is a live input buffer.
#[no_mangle]
pub unsafe extern "C" fn ns_batcher_new(opts: *const u8, len: usize) -> *mut BatchBuilder {
    // SAFETY: the caller's input buffer.
    match wire::batcher_options(unsafe { input(opts, len) }).and_then(|o| o.batcher()) {
        Ok(b) => Box::into_raw(Box::new(b)),
        Err(e) => {
            put(e.into_bytes());
            core::ptr::null_mut()
        }
    }
}

/// # Safety
/// `h` is a live batcher handle; it is dead afterwards.
#[no_mangle]
pub unsafe extern "C" fn ns_batcher_free(h: *mut BatchBuilder) {
    // SAFETY: the box `ns_batcher_new` leaked.
    drop(unsafe { Box::from_raw(h) });
}

/// Decodes framed packets; the count, or -1 with the error text in the slot.
///
/// # Safety
/// `h` is a live batcher handle and (`frames`, `len`) a live input buffer.
#[no_mangle]
pub unsafe extern "C" fn ns_batcher_add_frames(
    h: *mut BatchBuilder,
    frames: *const u8,
    len: usize,
    link_type: u32,
    interface: u32,
) -> i32 {
    // SAFETY: the caller's handle and input buffer.
    let (b, frames) = unsafe { (&mut *h, input(frames, len)) };
    match b.add_frames(frames, link_type, interface as u16) {
        Ok(n) => n as i32,
        Err(e) => {
            put(e.into_bytes());
            -1
        }
    }
}

/// # Safety
/// `h` is a live batcher handle.
#[no_mangle]
pub unsafe extern "C" fn ns_batcher_begin_capture(h: *mut BatchBuilder) {
    // SAFETY: the caller's handle.
    unsafe { &mut *h }.begin_capture();
}

/// 1 with the capture error text in the slot when the file cannot be read further.
///
/// # Safety
/// `h` is a live batcher handle and (`chunk`, `len`) a live input buffer.
#[no_mangle]
pub unsafe extern "C" fn ns_batcher_add_capture(h: *mut BatchBuilder, chunk: *const u8, len: usize) -> u32 {
    // SAFETY: the caller's handle and input buffer.
    let (b, chunk) = unsafe { (&mut *h, input(chunk, len)) };
    put_some(b.add_capture(chunk).err().map(|e| e.to_string()))
}

/// # Safety
/// `h` is a live batcher handle.
#[no_mangle]
pub unsafe extern "C" fn ns_batcher_end_capture(h: *mut BatchBuilder) -> u32 {
    // SAFETY: the caller's handle.
    put_some(unsafe { &mut *h }.end_capture().err().map(|e| e.to_string()))
}

/// Packets decoded so far (0) or not yet taken (1), as an f64.
///
/// # Safety
/// `h` is a live batcher handle.
#[no_mangle]
pub unsafe extern "C" fn ns_batcher_count(h: *mut BatchBuilder, pending: u32) -> f64 {
    // SAFETY: the caller's handle.
    let b = unsafe { &*h };
    (if pending != 0 { b.pending() } else { b.packets() }) as f64
}

/// The sealed batches, each message a result of its own; the slot holds a table of five u64
/// words per batch: partition, packets, sequence, message pointer, message length. Returns how
/// many.
///
/// # Safety
/// `h` is a live batcher handle.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ns_batcher_take(
    h: *mut BatchBuilder,
    all: u32,
    captured: f64,
    kernel_dropped: f64,
    interface_dropped: f64,
    probe_dropped: f64,
    sent_ms: f64,
) -> u32 {
    let stats = CaptureStats {
        captured: captured as u64,
        kernel_dropped: kernel_dropped as u64,
        interface_dropped: interface_dropped as u64,
        probe_dropped: probe_dropped as u64,
    };
    // SAFETY: the caller's handle.
    let batches = unsafe { &mut *h }.take(all != 0, &stats, ms_to_ns(sent_ms));
    let count = batches.len() as u32;
    let mut table = Vec::with_capacity(batches.len() * 5);
    for b in batches {
        table.extend_from_slice(&[b.partition as u64, b.packets as u64, b.sequence]);
        table.extend_from_slice(&leak(b.message));
    }
    put_table(&table);
    count
}

/// A new batch engine from an analyzer options text (see [`wire`]); null with the error in the
/// slot.
///
/// # Safety
/// (`opts`, `len`) is a live input buffer.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_new(opts: *const u8, len: usize) -> *mut BatchIngest {
    // SAFETY: the caller's input buffer.
    match wire::analyzer_options(unsafe { input(opts, len) }).and_then(|o| o.batch_ingest()) {
        Ok(e) => Box::into_raw(Box::new(e)),
        Err(e) => {
            put(e.into_bytes());
            core::ptr::null_mut()
        }
    }
}

/// # Safety
/// `h` is a live engine handle; it is dead afterwards.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_free(h: *mut BatchIngest) {
    // SAFETY: the box `ns_engine_new` leaked.
    drop(unsafe { Box::from_raw(h) });
}

/// Applies one message; the outcome as JSON in the slot (the napi `ApplyResult` fields).
///
/// # Safety
/// `h` is a live engine handle and (`message`, `len`) a live input buffer.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_apply(h: *mut BatchIngest, message: *const u8, len: usize) {
    // SAFETY: the caller's handle and input buffer.
    let (e, message) = unsafe { (&mut *h, input(message, len)) };
    let mut j = Json::new();
    j.begin_object(None);
    match e.apply(message) {
        Ok(a) => {
            j.str("probeId", &a.probe_id);
            j.u64("sequence", a.sequence);
            j.u64("packets", a.packets as u64);
            j.bool("duplicate", a.duplicate);
            j.u64("skipped", a.skipped as u64);
        }
        Err(err) => {
            j.str("probeId", "");
            j.u64("sequence", 0);
            j.u64("packets", 0);
            j.bool("duplicate", false);
            j.u64("skipped", 0);
            j.str("errorKind", err.kind());
            j.str("error", &err.to_string());
        }
    }
    j.end_object();
    put(j.finish().into_bytes());
}

/// # Safety
/// `h` is a live engine handle.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_skip_before(h: *mut BatchIngest, ms: f64) {
    // SAFETY: the caller's handle.
    unsafe { &mut *h }.skip_before(ms_to_ns(ms));
}

/// # Safety
/// `h` is a live engine handle.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_close_window(h: *mut BatchIngest) {
    // SAFETY: the caller's handle.
    unsafe { &mut *h }.close_window();
}

/// The windows closed since the last call (closed window format), as
/// [`ns_analyzer_take_windows`] hands them out. Returns how many.
///
/// # Safety
/// `h` is a live engine handle.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_take_windows(h: *mut BatchIngest) -> u32 {
    // SAFETY: the caller's handle.
    put_buffers(unsafe { &mut *h }.take_windows().into_iter().map(|w| w.encode()).collect())
}

/// 1 with the open window's start and end (two u64 ns words) in the slot, or 0.
///
/// # Safety
/// `h` is a live engine handle.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_open_window(h: *mut BatchIngest) -> u32 {
    // SAFETY: the caller's handle.
    match unsafe { &*h }.open_window() {
        Some((start, end)) => {
            put_table(&[start, end]);
            1
        }
        None => 0,
    }
}

/// 1 with a copy of the open window (closed window format) in the slot, or 0 when nothing is
/// open.
///
/// # Safety
/// `h` is a live engine handle.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_peek_window(h: *mut BatchIngest) -> u32 {
    // SAFETY: the caller's handle.
    match unsafe { &mut *h }.peek_window() {
        Some(w) => {
            put(w.encode());
            1
        }
        None => 0,
    }
}

/// The flow records finished since the last call; `flush` (non-zero) ends every open flow
/// first. 1 with a table in the slot: rows pointer and length (the `flows` rows, with a
/// `source`), JSON pointer and length (with `json` non-zero), each a result of its own, a
/// missing one with length u64::MAX; 0 without flow records.
///
/// # Safety
/// `h` is a live engine handle.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_take_flows(h: *mut BatchIngest, flush: u32, json: u32) -> u32 {
    // SAFETY: the caller's handle.
    match unsafe { &mut *h }.take_flows(flush != 0, json != 0) {
        Some(t) => {
            let part = |b: Option<Vec<u8>>| b.map_or([0, u64::MAX], leak);
            let [rp, rl] = part(t.rows.map(|r| r.encode()));
            let [jp, jl] = part(t.json.map(String::into_bytes));
            put_table(&[rp, rl, jp, jl]);
            1
        }
        None => 0,
    }
}

/// # Safety
/// `h` is a live engine handle.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_flows_idle(h: *mut BatchIngest, ms: f64) {
    // SAFETY: the caller's handle.
    unsafe { &mut *h }.flows_idle(ms_to_ns(ms));
}

/// A page of the open flows for the query string in the input: 0 with the page in the slot,
/// 1 with the error text, 2 without flow records.
///
/// # Safety
/// `h` is a live engine handle; (`q`, `len`) a live input buffer.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_query_flows(h: *mut BatchIngest, q: *const u8, len: usize) -> u32 {
    // SAFETY: the caller's input buffer and handle.
    let text = String::from_utf8_lossy(unsafe { input(q, len) }).into_owned();
    match netspectra_core::flow::FlowQuery::parse(&text) {
        Err(e) => {
            put(e.into_bytes());
            1
        }
        Ok(q) => match unsafe { &*h }.query_flows(&q) {
            Some(page) => {
                put(page.into_bytes());
                0
            }
            None => 2,
        },
    }
}

/// 1 with per-second counters of [from, to) ms (JSON array) in the slot, 0 without them.
///
/// # Safety
/// `h` is a live engine handle.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_seconds_json(h: *mut BatchIngest, from_ms: f64, to_ms: f64) -> u32 {
    // SAFETY: the caller's handle.
    put_some(unsafe { &*h }.seconds_json(ms_to_ns(from_ms), ms_to_ns(to_ms)))
}

/// Storage rows of a window snapshot (layout in `netspectra_core::rows`) in the slot and 0, or
/// the error text and 1. Input: u32 source length, the source, u32 run length, the run (both
/// UTF-8), the snapshot.
///
/// # Safety
/// (`data`, `len`) is a live input buffer.
#[no_mangle]
pub unsafe extern "C" fn ns_storage_rows(data: *const u8, len: usize) -> u32 {
    // SAFETY: the caller's input buffer.
    let data = unsafe { input(data, len) };
    let text = |at: usize| -> Option<(&[u8], usize)> {
        let n = data.get(at..at + 4)?;
        let n = u32::from_le_bytes([n[0], n[1], n[2], n[3]]) as usize;
        Some((data.get(at + 4..at + 4 + n)?, at + 4 + n))
    };
    let split = text(0).and_then(|(source, at)| text(at).map(|(run, at)| (source, run, at)));
    let rows = match split {
        Some((source, run, at)) => netspectra_core::rows::storage_rows(
            &data[at..],
            &String::from_utf8_lossy(source),
            &String::from_utf8_lossy(run),
        ),
        None => Err("storage rows: input shorter than its source and run".to_string()),
    };
    match rows {
        Ok(r) => {
            put(r.encode());
            0
        }
        Err(e) => {
            put(e.into_bytes());
            1
        }
    }
}

/// The stored tables and their columns (JSON), in the slot.
#[no_mangle]
pub extern "C" fn ns_tables_json() {
    put(netspectra_core::rows::tables_json().into_bytes());
}

/// The engine's counters as JSON, in the slot.
///
/// # Safety
/// `h` is a live engine handle.
#[no_mangle]
pub unsafe extern "C" fn ns_engine_stats_json(h: *mut BatchIngest) {
    // SAFETY: the caller's handle.
    put(unsafe { &*h }.stats_json().into_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take() -> Vec<u8> {
        let (ptr, len) = (RESULT[0].load(Ordering::Relaxed), RESULT[1].load(Ordering::Relaxed));
        let v = unsafe { core::slice::from_raw_parts(ptr as *const u8, len) }.to_vec();
        unsafe { ns_free(ptr as *mut u8, len) };
        v
    }

    fn options(text: &str) -> (*mut u8, usize) {
        let p = ns_alloc(text.len());
        unsafe { core::slice::from_raw_parts_mut(p, text.len()) }.copy_from_slice(text.as_bytes());
        (p, text.len())
    }

    // The slot is global, so everything that uses it runs in one test.
    #[test]
    fn analyzer_round_trip() {
        let (p, n) = options("task 1:k\ntype 5:exact\nkey 6:SrcMac\n");
        assert!(unsafe { ns_analyzer_new(p, n) }.is_null());
        let e = String::from_utf8(take()).unwrap();
        assert!(e.starts_with("task \"k\": key: unknown key field \"SrcMac\""), "{e}");
        unsafe { ns_free(p, n) };

        let (p, n) = options("keep_windows 4:true\ntask 1:k\ntype 5:exact\nkey 5:SrcIP\n");
        let h = unsafe { ns_analyzer_new(p, n) };
        unsafe { ns_free(p, n) };
        assert!(!h.is_null());
        let mut pcap = Vec::new();
        let cfg = netspectra_synth::TrafficOptions { packets: Some(50), ..Default::default() }.config();
        let mut gen = TrafficGenerator::new(cfg);
        while gen.next_chunk(16, &mut pcap) > 0 {}
        unsafe {
            let (name, n) = options("a.pcap");
            ns_analyzer_begin_file(h, name, n);
            ns_free(name, n);
            let (buf, n) = options("");
            ns_free(buf, n);
            let buf = ns_alloc(pcap.len());
            core::slice::from_raw_parts_mut(buf, pcap.len()).copy_from_slice(&pcap);
            assert_eq!(ns_analyzer_feed(h, buf, pcap.len()), 0);
            ns_free(buf, pcap.len());
            assert_eq!(ns_analyzer_end_file(h), 0);
            let (garbage, n) = options("not a capture file");
            ns_analyzer_begin_file(h, garbage, 0);
            assert_eq!(ns_analyzer_feed(h, garbage, n), 1);
            assert!(String::from_utf8(take()).unwrap().contains("magic"));
            ns_free(garbage, n);
            assert_eq!(ns_analyzer_end_file(h), 1);
            assert!(!take().is_empty());
            assert_eq!(ns_analyzer_packets(h), 50.0);
            ns_analyzer_close_window(h);
            assert_eq!(ns_analyzer_take_windows(h), 1);
            let table = take();
            let word = |i: usize| u64::from_le_bytes(table[i * 8..(i + 1) * 8].try_into().unwrap()) as usize;
            assert_eq!(table.len(), 16);
            let window = core::slice::from_raw_parts(word(0) as *const u8, word(1));
            assert_eq!(&window[..4], b"NSCW");
            ns_free(word(0) as *mut u8, word(1));
            assert_eq!(ns_analyzer_take_windows(h), 0);
            assert!(take().is_empty());
            ns_analyzer_report_json(h, 10);
            assert!(take().starts_with(b"{"));
            ns_analyzer_export_conversations(h, 1);
            assert_eq!(take().len() % netspectra_core::analysis::CONVERSATION_RECORD_LEN, 0);
            ns_analyzer_free(h);
        }

        let (p, n) = options("packets 1:3\n");
        let t = unsafe { ns_traffic_new(p, n) };
        unsafe {
            ns_free(p, n);
            ns_traffic_next_chunk(t, 10);
            assert!(take().len() > 24);
            ns_traffic_next_chunk(t, 10);
            assert!(take().is_empty());
            ns_traffic_free(t);
        }
    }
}
