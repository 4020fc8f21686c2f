//! Synthetic traffic: deterministic, realistic pcap captures written in memory.
//!
//! [`TrafficGenerator`] streams an enterprise-edge capture in chunks with bounded memory (for the
//! demo and for benchmark files of any size) and reports what it planted in [`TrafficTruth`].
//! [`frame`] builds single frames with correct lengths and checksums, for decoder tests.
//! [`TrafficOptions`] are the generator's options as the bindings receive them.
//!
//! A crate of its own: the core's hot path does not carry it; the bindings, the core's tests
//! and its benchmark do.

pub mod frame;
pub mod traffic;

pub use frame::{
    build_frame, build_frame_with_payload, build_ip_packet, build_ip_packet_with_payload, FrameError, FrameSpec,
    VlanStack, L4,
};
pub use traffic::{TrafficConfig, TrafficGenerator, TrafficTruth};

/// The synthetic traffic generator's options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrafficOptions {
    pub seed: Option<u32>,
    pub packets: Option<u32>,
    pub hosts: Option<u32>,
    pub duration_seconds: Option<f64>,
    /// Start time, ms since the epoch.
    pub start_ms: Option<f64>,
}

impl TrafficOptions {
    /// The generator's configuration: the defaults of [`TrafficConfig`] where a field is absent;
    /// negative times count as 0.
    pub fn config(&self) -> TrafficConfig {
        let mut cfg = TrafficConfig::default();
        if let Some(v) = self.seed {
            cfg.seed = v as u64;
        }
        if let Some(v) = self.packets {
            cfg.packets = v as u64;
        }
        if let Some(v) = self.hosts {
            cfg.hosts = v;
        }
        if let Some(v) = self.duration_seconds {
            cfg.duration_ns = (v.max(0.0) * 1e9) as u64;
        }
        if let Some(v) = self.start_ms {
            cfg.start_ns = (v.max(0.0) * 1e6) as u64;
        }
        cfg
    }
}

/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// pcap magic for nanosecond timestamps (written little-endian).
pub const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
pub const PCAP_FILE_HEADER_LEN: usize = 24;
pub const PCAP_RECORD_HEADER_LEN: usize = 16;

/// A little-endian pcap 2.4 file header with nanosecond timestamps.
pub fn pcap_header(snaplen: u32, link_type: u32) -> [u8; PCAP_FILE_HEADER_LEN] {
    let mut h = [0u8; PCAP_FILE_HEADER_LEN];
    h[0..4].copy_from_slice(&PCAP_MAGIC_NANOS.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs stay 0.
    h[16..20].copy_from_slice(&snaplen.to_le_bytes());
    h[20..24].copy_from_slice(&link_type.to_le_bytes());
    h
}

/// Appends one record: header then `data` (captured length = `data.len()`, cut to `u32::MAX`).
/// Seconds past `u32::MAX` (year 2106) are clamped to it.
pub fn write_pcap_record(ts_ns: u64, wire_len: u32, data: &[u8], out: &mut Vec<u8>) {
    let data = data.get(..u32::MAX as usize).unwrap_or(data);
    out.extend_from_slice(&record_header(ts_ns, data.len() as u32, wire_len));
    out.extend_from_slice(data);
}

pub(crate) fn record_header(ts_ns: u64, cap_len: u32, wire_len: u32) -> [u8; PCAP_RECORD_HEADER_LEN] {
    let secs = u32::try_from(ts_ns / 1_000_000_000).unwrap_or(u32::MAX);
    let nanos = (ts_ns % 1_000_000_000) as u32;
    let mut h = [0u8; PCAP_RECORD_HEADER_LEN];
    h[0..4].copy_from_slice(&secs.to_le_bytes());
    h[4..8].copy_from_slice(&nanos.to_le_bytes());
    h[8..12].copy_from_slice(&cap_len.to_le_bytes());
    h[12..16].copy_from_slice(&wire_len.to_le_bytes());
    h
}

/// Generates a whole capture in one buffer (memory grows with `cfg.packets`; stream with
/// [`TrafficGenerator::next_chunk`] for large files).
pub fn generate(cfg: TrafficConfig) -> (Vec<u8>, TrafficTruth) {
    let mut generator = TrafficGenerator::new(cfg);
    let mut out = Vec::new();
    while generator.next_chunk(1 << 16, &mut out) > 0 {}
    (out, generator.truth().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_options() {
        assert_eq!(TrafficOptions::default().config(), TrafficConfig::default());
        let cfg = TrafficOptions {
            seed: Some(7),
            packets: Some(10),
            hosts: Some(3),
            duration_seconds: Some(-2.0),
            start_ms: Some(1500.0),
        }
        .config();
        assert_eq!((cfg.seed, cfg.packets, cfg.hosts, cfg.duration_ns, cfg.start_ns), (7, 10, 3, 0, 1_500_000_000));
    }

    #[test]
    fn pcap_header_layout() {
        let h = pcap_header(65535, LINKTYPE_ETHERNET);
        assert_eq!(h, [0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn record_layout() {
        let mut out = vec![9];
        write_pcap_record(1_767_225_600_123_456_789, 60, &[1, 2, 3], &mut out);
        let secs = 1_767_225_600u32.to_le_bytes();
        let nanos = 123_456_789u32.to_le_bytes();
        let mut expected = vec![9];
        expected.extend_from_slice(&secs);
        expected.extend_from_slice(&nanos);
        expected.extend_from_slice(&[3, 0, 0, 0, 60, 0, 0, 0, 1, 2, 3]);
        assert_eq!(out, expected);
    }

    #[test]
    fn record_seconds_clamp() {
        let mut out = Vec::new();
        write_pcap_record(u64::MAX, 0, &[], &mut out);
        assert_eq!(out[0..4], u32::MAX.to_le_bytes());
        assert_eq!(u32::from_le_bytes([out[4], out[5], out[6], out[7]]), (u64::MAX % 1_000_000_000) as u32);
    }

    #[test]
    fn generate_small_capture() {
        let (bytes, truth) = generate(TrafficConfig { packets: 1000, ..TrafficConfig::default() });
        assert_eq!(truth.packets, 1000);
        assert_eq!(bytes.len() as u64, 24 + 16 * 1000 + truth.captured_bytes);
    }
}
