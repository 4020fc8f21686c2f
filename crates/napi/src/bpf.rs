//! `analyze --bpf`: capture files filtered the way `tcpdump -r FILE EXPR` filters them, by
//! libpcap's own compiler and BPF interpreter (loaded at run time, as for live capture). One
//! program per link type, compiled when the link type is first seen: a pcapng file can hold
//! interfaces of several.

use std::ffi::{c_char, c_int, CString};

use netspectra_core::FrameFilter;

use crate::capture::{library, symbol, text, BpfProgram, Handle, PcapHeader, PCAP_NETMASK_UNKNOWN};

/// Snapshot length the programs are compiled for: longer than any frame a file holds.
const SNAPLEN: c_int = 262_144;

struct Lib {
    open_dead: unsafe extern "C" fn(c_int, c_int) -> Handle,
    compile: unsafe extern "C" fn(Handle, *mut BpfProgram, *const c_char, c_int, u32) -> c_int,
    offline_filter: unsafe extern "C" fn(*const BpfProgram, *const PcapHeader, *const u8) -> c_int,
    freecode: unsafe extern "C" fn(*mut BpfProgram),
    geterr: unsafe extern "C" fn(Handle) -> *const c_char,
    close: unsafe extern "C" fn(Handle),
}

/// A filter expression and its compiled programs.
pub struct OfflineFilter {
    lib: Lib,
    expr: CString,
    text: String,
    /// By link type; a file has one or a few, so a scan beats hashing on every frame.
    programs: Vec<(u32, BpfProgram)>,
}

// SAFETY: the programs are owned by this value alone and only read by `pcap_offline_filter`,
// which keeps no state between calls; the value moves to one thread at a time.
unsafe impl Send for OfflineFilter {}

impl OfflineFilter {
    /// Loads libpcap and checks the expression (compiled for Ethernet, the usual link type).
    pub fn new(expr: &str) -> Result<OfflineFilter, String> {
        let lib = library("--bpf")?;
        let lib = Lib {
            open_dead: symbol(lib, "pcap_open_dead\0")?,
            compile: symbol(lib, "pcap_compile\0")?,
            offline_filter: symbol(lib, "pcap_offline_filter\0")?,
            freecode: symbol(lib, "pcap_freecode\0")?,
            geterr: symbol(lib, "pcap_geterr\0")?,
            close: symbol(lib, "pcap_close\0")?,
        };
        let c = CString::new(expr).map_err(|_| format!("--bpf \"{expr}\": the expression holds a NUL byte"))?;
        let mut f = OfflineFilter { lib, expr: c, text: expr.to_string(), programs: Vec::new() };
        f.program(1)?;
        Ok(f)
    }

    /// The program for a link type, compiled on first use.
    fn program(&mut self, link_type: u32) -> Result<&BpfProgram, String> {
        if let Some(i) = self.programs.iter().position(|(lt, _)| *lt == link_type) {
            return Ok(&self.programs[i].1);
        }
        let handle = unsafe { (self.lib.open_dead)(link_type as c_int, SNAPLEN) };
        if handle.is_null() {
            return Err(format!("--bpf: libpcap cannot open link type {link_type}"));
        }
        let mut prog = BpfProgram { bf_len: 0, bf_insns: std::ptr::null_mut() };
        let rc = unsafe { (self.lib.compile)(handle, &mut prog, self.expr.as_ptr(), 1, PCAP_NETMASK_UNKNOWN) };
        let why = if rc != 0 { Some(text(unsafe { (self.lib.geterr)(handle) })) } else { None };
        unsafe { (self.lib.close)(handle) };
        if let Some(why) = why {
            return Err(format!("--bpf \"{}\" (link type {link_type}): {why}", self.text));
        }
        self.programs.push((link_type, prog));
        Ok(&self.programs[self.programs.len() - 1].1)
    }
}

impl FrameFilter for OfflineFilter {
    fn keep(&mut self, link_type: u32, data: &[u8], wire_len: u32) -> Result<bool, String> {
        let offline_filter = self.lib.offline_filter;
        let prog = self.program(link_type)? as *const BpfProgram;
        let header = PcapHeader { tv_sec: 0, tv_frac: 0, caplen: data.len() as u32, len: wire_len };
        // SAFETY: `prog` is a compiled program owned by `self`; `header.caplen` bytes are readable at `data`.
        Ok(unsafe { offline_filter(prog, &header, data.as_ptr()) } != 0)
    }
}

impl Drop for OfflineFilter {
    fn drop(&mut self) {
        for (_, prog) in &mut self.programs {
            unsafe { (self.lib.freecode)(prog) };
        }
    }
}
