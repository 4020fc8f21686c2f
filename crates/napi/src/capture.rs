//! Live capture through libpcap, loaded at run time (dlopen), so the addon loads and analyses
//! files on machines without libpcap; only `LiveCapture` needs it. This is the binding's one I/O
//! module: libpcap is native, and reading it here lets a whole poll of frames reach Rust in one
//! call instead of one JS callback per packet.
//!
//! The capture is non-blocking: `poll` drains what the kernel ring holds into one buffer of
//! framed packets (`netspectra_core::batch::FRAME_HEADER_LEN` header, then the captured bytes).

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};

use napi::bindgen_prelude::{Buffer, Result};
use napi::Error;
use napi_derive::napi;

#[repr(C)]
pub(crate) struct PcapHeader {
    pub(crate) tv_sec: i64,
    /// Nanoseconds: the handle is opened with nanosecond precision.
    pub(crate) tv_frac: i64,
    pub(crate) caplen: u32,
    pub(crate) len: u32,
}

#[repr(C)]
struct PcapStat {
    ps_recv: c_uint,
    ps_drop: c_uint,
    ps_ifdrop: c_uint,
}

#[repr(C)]
pub(crate) struct BpfProgram {
    pub(crate) bf_len: c_uint,
    pub(crate) bf_insns: *mut c_void,
}

pub(crate) type Handle = *mut c_void;
type Callback = extern "C" fn(*mut u8, *const PcapHeader, *const u8);

const RTLD_NOW: c_int = 2;
const PCAP_TSTAMP_PRECISION_NANO: c_int = 1;
pub(crate) const PCAP_NETMASK_UNKNOWN: u32 = 0xffff_ffff;
const PCAP_ERRBUF_SIZE: usize = 256;

extern "C" {
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// The libpcap functions used, resolved once.
struct Pcap {
    create: unsafe extern "C" fn(*const c_char, *mut c_char) -> Handle,
    set_snaplen: unsafe extern "C" fn(Handle, c_int) -> c_int,
    set_promisc: unsafe extern "C" fn(Handle, c_int) -> c_int,
    set_buffer_size: unsafe extern "C" fn(Handle, c_int) -> c_int,
    set_timeout: unsafe extern "C" fn(Handle, c_int) -> c_int,
    set_immediate_mode: unsafe extern "C" fn(Handle, c_int) -> c_int,
    set_tstamp_precision: unsafe extern "C" fn(Handle, c_int) -> c_int,
    activate: unsafe extern "C" fn(Handle) -> c_int,
    compile: unsafe extern "C" fn(Handle, *mut BpfProgram, *const c_char, c_int, u32) -> c_int,
    setfilter: unsafe extern "C" fn(Handle, *mut BpfProgram) -> c_int,
    freecode: unsafe extern "C" fn(*mut BpfProgram),
    setnonblock: unsafe extern "C" fn(Handle, c_int, *mut c_char) -> c_int,
    dispatch: unsafe extern "C" fn(Handle, c_int, Callback, *mut u8) -> c_int,
    stats: unsafe extern "C" fn(Handle, *mut PcapStat) -> c_int,
    datalink: unsafe extern "C" fn(Handle) -> c_int,
    geterr: unsafe extern "C" fn(Handle) -> *const c_char,
    statustostr: unsafe extern "C" fn(c_int) -> *const c_char,
    close: unsafe extern "C" fn(Handle),
}

/// The libpcap library, opened with `dlopen`; `need` says what it is needed for.
pub(crate) fn library(need: &str) -> std::result::Result<*mut c_void, String> {
    for name in [c"libpcap.so.1", c"libpcap.so.0.8", c"libpcap.so"] {
        let lib = unsafe { dlopen(name.as_ptr(), RTLD_NOW) };
        if !lib.is_null() {
            return Ok(lib);
        }
    }
    Err(format!("{need} needs libpcap (libpcap.so.1 or libpcap.so.0.8); install libpcap0.8"))
}

fn load() -> std::result::Result<Pcap, String> {
    let lib = library("live capture")?;
    macro_rules! sym {
        ($name:literal) => {
            symbol(lib, concat!($name, "\0"))?
        };
    }
    Ok(Pcap {
        create: sym!("pcap_create"),
        set_snaplen: sym!("pcap_set_snaplen"),
        set_promisc: sym!("pcap_set_promisc"),
        set_buffer_size: sym!("pcap_set_buffer_size"),
        set_timeout: sym!("pcap_set_timeout"),
        set_immediate_mode: sym!("pcap_set_immediate_mode"),
        set_tstamp_precision: sym!("pcap_set_tstamp_precision"),
        activate: sym!("pcap_activate"),
        compile: sym!("pcap_compile"),
        setfilter: sym!("pcap_setfilter"),
        freecode: sym!("pcap_freecode"),
        setnonblock: sym!("pcap_setnonblock"),
        dispatch: sym!("pcap_dispatch"),
        stats: sym!("pcap_stats"),
        datalink: sym!("pcap_datalink"),
        geterr: sym!("pcap_geterr"),
        statustostr: sym!("pcap_statustostr"),
        close: sym!("pcap_close"),
    })
}

/// A function of the library; `T` is its `extern "C" fn` type.
pub(crate) fn symbol<T: Copy>(lib: *mut c_void, name: &str) -> std::result::Result<T, String> {
    let p = unsafe { dlsym(lib, name.as_ptr() as *const c_char) };
    if p.is_null() {
        return Err(format!("libpcap has no {}: it is older than 1.5", name.trim_end_matches('\0')));
    }
    debug_assert_eq!(std::mem::size_of::<T>(), std::mem::size_of::<*mut c_void>());
    // SAFETY: `T` is the C signature libpcap documents for this symbol.
    Ok(unsafe { std::mem::transmute_copy::<*mut c_void, T>(&p) })
}

pub(crate) fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[napi(object)]
pub struct LiveCaptureOptions {
    pub interface: String,
    /// BPF filter expression (pcap-filter syntax); empty for every packet.
    pub filter: Option<String>,
    pub snaplen: Option<u32>,
    pub promiscuous: Option<bool>,
    /// Kernel ring buffer size in bytes.
    pub buffer_bytes: Option<u32>,
}

#[napi(object)]
pub struct LiveCaptureStats {
    /// Packets the filter accepted (pcap_stats ps_recv).
    pub received: f64,
    /// Dropped because the ring was full (ps_drop).
    pub dropped: f64,
    /// Dropped by the interface or driver (ps_ifdrop).
    pub interface_dropped: f64,
}

/// What one `dispatch` callback writes into.
struct Sink {
    out: Vec<u8>,
}

extern "C" fn on_packet(user: *mut u8, h: *const PcapHeader, data: *const u8) {
    // SAFETY: libpcap passes back the `Sink` given to dispatch and a valid header and
    // `caplen` bytes of data for the duration of the callback.
    let (sink, h) = unsafe { (&mut *(user as *mut Sink), &*h) };
    let bytes = unsafe { std::slice::from_raw_parts(data, h.caplen as usize) };
    let ts_ns = (h.tv_sec.max(0) as u64).wrapping_mul(1_000_000_000).wrapping_add(h.tv_frac.max(0) as u64);
    sink.out.extend_from_slice(&ts_ns.to_le_bytes());
    sink.out.extend_from_slice(&h.len.max(h.caplen).to_le_bytes());
    sink.out.extend_from_slice(&h.caplen.to_le_bytes());
    sink.out.extend_from_slice(bytes);
}

/// An open libpcap capture.
#[napi]
pub struct LiveCapture {
    pcap: Pcap,
    handle: Handle,
}

impl LiveCapture {
    fn fail(&self, what: &str) -> Error {
        Error::from_reason(format!("{what}: {}", text(unsafe { (self.pcap.geterr)(self.handle) })))
    }
}

#[napi]
impl LiveCapture {
    #[napi(constructor)]
    pub fn new(opts: LiveCaptureOptions) -> Result<LiveCapture> {
        let pcap = load().map_err(Error::from_reason)?;
        let iface = CString::new(opts.interface.clone())
            .map_err(|_| Error::from_reason("interface name contains a NUL byte"))?;
        let mut errbuf = [0 as c_char; PCAP_ERRBUF_SIZE];
        let handle = unsafe { (pcap.create)(iface.as_ptr(), errbuf.as_mut_ptr()) };
        if handle.is_null() {
            return Err(Error::from_reason(format!(
                "cannot open interface {}: {}",
                opts.interface,
                text(errbuf.as_ptr())
            )));
        }
        let cap = LiveCapture { pcap, handle };
        let p = &cap.pcap;
        let snaplen = opts.snaplen.unwrap_or(65_535).clamp(16, 262_144) as c_int;
        unsafe {
            (p.set_snaplen)(handle, snaplen);
            (p.set_promisc)(handle, opts.promiscuous.unwrap_or(true) as c_int);
            (p.set_buffer_size)(handle, opts.buffer_bytes.unwrap_or(32 << 20).min(i32::MAX as u32) as c_int);
            (p.set_timeout)(handle, 10);
            (p.set_immediate_mode)(handle, 0);
            (p.set_tstamp_precision)(handle, PCAP_TSTAMP_PRECISION_NANO);
        }
        let status = unsafe { (p.activate)(handle) };
        if status < 0 {
            let detail = match text(unsafe { (p.geterr)(handle) }) {
                e if e.is_empty() => text(unsafe { (p.statustostr)(status) }),
                e => e,
            };
            return Err(Error::from_reason(format!("cannot capture on {}: {detail}", opts.interface)));
        }
        let filter = opts.filter.unwrap_or_default();
        if !filter.is_empty() {
            let expr =
                CString::new(filter.clone()).map_err(|_| Error::from_reason("BPF filter contains a NUL byte"))?;
            let mut prog = BpfProgram { bf_len: 0, bf_insns: std::ptr::null_mut() };
            if unsafe { (p.compile)(handle, &mut prog, expr.as_ptr(), 1, PCAP_NETMASK_UNKNOWN) } != 0 {
                return Err(cap.fail(&format!("BPF filter \"{filter}\" does not compile")));
            }
            let set = unsafe { (p.setfilter)(handle, &mut prog) };
            unsafe { (p.freecode)(&mut prog) };
            if set != 0 {
                return Err(cap.fail("cannot set the BPF filter"));
            }
        }
        if unsafe { (p.setnonblock)(handle, 1, errbuf.as_mut_ptr()) } != 0 {
            return Err(Error::from_reason(format!("cannot make the capture non-blocking: {}", text(errbuf.as_ptr()))));
        }
        Ok(cap)
    }

    /// LINKTYPE_* of the interface.
    #[napi]
    pub fn link_type(&self) -> u32 {
        unsafe { (self.pcap.datalink)(self.handle) as u32 }
    }

    /// Everything waiting in the ring, up to about `max_bytes`, as framed packets; empty when
    /// nothing is waiting.
    #[napi]
    pub fn poll(&mut self, max_bytes: u32) -> Result<Buffer> {
        if self.handle.is_null() {
            return Err(Error::from_reason("capture is closed"));
        }
        let mut sink = Sink { out: Vec::with_capacity(256 << 10) };
        while sink.out.len() < max_bytes as usize {
            let n = unsafe { (self.pcap.dispatch)(self.handle, -1, on_packet, &mut sink as *mut Sink as *mut u8) };
            if n < 0 {
                return Err(self.fail("capture failed"));
            }
            if n == 0 {
                break;
            }
        }
        Ok(sink.out.into())
    }

    #[napi]
    pub fn stats(&self) -> Result<LiveCaptureStats> {
        let mut s = PcapStat { ps_recv: 0, ps_drop: 0, ps_ifdrop: 0 };
        if self.handle.is_null() {
            return Err(Error::from_reason("capture is closed"));
        }
        if unsafe { (self.pcap.stats)(self.handle, &mut s) } != 0 {
            return Err(self.fail("cannot read capture statistics"));
        }
        Ok(LiveCaptureStats {
            received: s.ps_recv as f64,
            dropped: s.ps_drop as f64,
            interface_dropped: s.ps_ifdrop as f64,
        })
    }

    #[napi]
    pub fn close(&mut self) {
        if !self.handle.is_null() {
            unsafe { (self.pcap.close)(self.handle) };
            self.handle = std::ptr::null_mut();
        }
    }
}

impl Drop for LiveCapture {
    fn drop(&mut self) {
        self.close();
    }
}
