//! What the oracle tests share: the shared captures, and a capture run through the flow cache
//! the way `Analysis` runs it (capture -> decode -> fragment ports -> cache).

use std::fs;

use netspectra_core::capture::CaptureReader;
use netspectra_core::decode::{decode, Decoded};
use netspectra_core::flow::{FlowCache, FlowConfig};
use netspectra_core::record::flag;
use netspectra_core::table::FragmentPorts;

pub const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

/// The shared captures, by name, sorted.
pub fn shared_captures() -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(format!("{SHARED}/pcaps"))
        .expect("the shared captures")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".pcap") || n.ends_with(".cap"))
        .collect();
    names.sort();
    names
}

/// Every packet of a capture in a flow cache whose timeouts are longer than any capture (flows
/// end only by closing, or at the end), with payloads read for names when `payloads`. Also
/// returns how many packets were fragments. A damaged file ends at the damage, as in `Analysis`.
pub fn whole_capture_cache(capture: &str, payloads: bool) -> (FlowCache, u64) {
    let data = fs::read(format!("{SHARED}/pcaps/{capture}")).unwrap_or_else(|e| panic!("{capture}: {e}"));
    let mut cache = FlowCache::new(FlowConfig {
        idle_tcp_ns: u64::MAX,
        idle_udp_ns: u64::MAX,
        idle_icmp_ns: u64::MAX,
        idle_other_ns: u64::MAX,
        closed_linger_ns: u64::MAX,
        active_ns: u64::MAX,
        max_flows: 1 << 20,
        ..FlowConfig::default()
    });
    let mut reader = CaptureReader::new();
    let mut decoded = Decoded::default();
    let mut fragments = FragmentPorts::new(65_536, 0);
    let mut fragment_packets = 0;
    let _ = reader.feed(&data, |f| {
        decode(f.data, f.link_type, &mut decoded);
        let mut r = decoded.record(f.ts_ns, f.wire_len, f.data.len() as u32, f.interface as u16);
        fragments.fill(&decoded, &mut r);
        if !f.has_ts {
            r.flags |= flag::NO_TIME;
        }
        fragment_packets += r.has(flag::FRAGMENT) as u64;
        if payloads {
            cache.add_payload(&r, decoded.payload(f.data), decoded.tcp_seq);
        } else {
            cache.add(&r);
        }
    });
    let _ = reader.finish();
    cache.flush();
    (cache, fragment_packets)
}
