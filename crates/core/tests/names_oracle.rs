//! Server names of flows against tshark's dissectors, run live on the shared captures
//! (`tshark -T fields -e tls.handshake.extensions_server_name -e http.host -e dns.qry.name`).
//! Skipped, and said, where tshark is not installed.
//!
//! A flow's name is the first one its payloads carry (the first DNS, mDNS or LLMNR query name,
//! the first ClientHello's SNI, the first request's Host), so for each TCP or UDP 5-tuple
//! tshark's first name must be ours, and we name no flow tshark does not. Where the rules
//! differ by design, [`known`] says why.

use std::collections::BTreeMap;
use std::process::Command;

use netspectra_core::app::lock_names;

mod common;
use common::{shared_captures, whole_capture_cache, SHARED};

/// (proto, lower "addr|port", higher "addr|port") -> name.
type Names = BTreeMap<(u8, String, String), String>;

/// Why a difference is expected, if it is: (capture, flow, tshark's name).
fn known(capture: &str, k: &(u8, String, String), theirs: Option<&String>) -> Option<&'static str> {
    let port = |p: &str| k.1.ends_with(&format!("|{p}")) && k.2.ends_with(&format!("|{p}"));
    if capture == "ndpi-fuzz-2006-06-26-2594.pcap" {
        return Some("fuzzed DNS: tshark prints names out of messages we refuse (forward pointers, reserved label types), and bytes that are not UTF-8 as U+FFFD where we escape them");
    }
    if port("1900") && theirs.is_none() {
        return Some("SSDP NOTIFY between ports 1900: tshark's SSDP dissector leaves http.host empty, we read its Host as M-SEARCH's");
    }
    None
}

fn key(proto: u8, a: String, b: String) -> (u8, String, String) {
    if a <= b {
        (proto, a, b)
    } else {
        (proto, b, a)
    }
}

fn ours(capture: &str) -> Names {
    let (mut cache, _) = whole_capture_cache(capture, true);
    let records = cache.take_finished();
    let names = lock_names(cache.inspector().names());
    let mut out = Names::new();
    for r in records {
        if let Some(n) = names.get(r.server_name) {
            out.insert(key(r.proto, format!("{}|{}", r.a, r.port_a), format!("{}|{}", r.b, r.port_b)), n.to_string());
        }
    }
    out
}

fn tshark(capture: &str) -> Option<Names> {
    let out = Command::new("tshark")
        .args([
            "-n",
            "-r",
            &format!("{SHARED}/pcaps/{capture}"),
            "-T",
            "fields",
            "-E",
            "separator=\t",
            "-E",
            "occurrence=l",
        ])
        .args(["-e", "frame.protocols"])
        .args([
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.dst",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
        ])
        .args([
            "-e",
            "udp.srcport",
            "-e",
            "udp.dstport",
            "-e",
            "tls.handshake.extensions_server_name",
            "-e",
            "http.host",
            "-e",
            "dns.qry.name",
        ])
        .args(["-Y", "tls.handshake.type == 1 || http.request || dns || mdns || llmnr"])
        .output()
        .ok()?;
    let mut m = Names::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (protocols, line) = line.split_once('\t').unwrap_or_default();
        let f: Vec<&str> = line.split('\t').collect();
        // The innermost IP header is the flow's (6in4: IPv6 in IPv4).
        let protocols = format!(":{protocols}:");
        let v6_inner = protocols.rfind(":ipv6:") > protocols.rfind(":ip:");
        let (src, dst) = if !v6_inner { (f[0], f[1]) } else { (f[2], f[3]) };
        let (proto, sp, dp) = if !f[4].is_empty() { (6, f[4], f[5]) } else { (17, f[6], f[7]) };
        // http.host as sent; ours is without the port.
        let host = String::from_utf8_lossy(netspectra_core::app::http::without_port(f[9].as_bytes())).to_string();
        let name = [f[8], &host, f[10]].into_iter().find(|n| !n.is_empty());
        if let Some(n) = name {
            m.entry(key(proto, format!("{src}|{sp}"), format!("{dst}|{dp}"))).or_insert_with(|| n.to_lowercase());
        }
    }
    Some(m)
}

#[test]
fn server_names_match_tshark() {
    let mut report = String::new();
    let mut checked = 0;
    for capture in shared_captures() {
        let Some(theirs) = tshark(&capture) else {
            eprintln!("names oracle skipped: tshark is not installed");
            return;
        };
        let ours = ours(&capture);
        let keys: std::collections::BTreeSet<_> = theirs.keys().chain(ours.keys()).collect();
        for k in keys {
            checked += 1;
            let (t, o) = (theirs.get(k), ours.get(k));
            if t != o && known(&capture, k, t).is_none() {
                report.push_str(&format!("{capture}: {k:?}: tshark {t:?}, ours {o:?}\n"));
            }
        }
    }
    assert!(report.is_empty(), "{checked} names checked:\n{report}");
    eprintln!("{checked} flows named by tshark or by us: the same names");
}

/// Why a difference from nDPI is expected, if it is.
fn ndpi_known(capture: &str, app: &str) -> Option<&'static str> {
    match (capture, app) {
        ("ndpi-fuzz-2006-06-26-2594.pcap", _) => Some("fuzzed DNS (as with tshark)"),
        // Google QUIC (Q046 and older) and IETF drafts: nDPI reads their hellos, we read v1 and v2.
        ("ndpi-quic.pcap", "QUIC") => Some("QUIC versions other than 1 and 2"),
        // A response whose question is not its query's (e872.h -> e872.g): nDPI keeps the
        // response's name, tshark and we the query's.
        ("tcpreplay-test.pcap", "DNS") => Some("a response with another question than its query"),
        _ => None,
    }
}

/// nDPI's view (`ndpiReader -v 2`): per flow, its application ("TLS", "HTTP", "DNS", "QUIC",
/// the master protocol of e.g. "TLS.Wikipedia") and Hostname/SNI. Keyed like [`ours`].
/// Flow -> (nDPI's application, its Hostname/SNI).
type NdpiNames = BTreeMap<(u8, String, String), (String, String)>;

fn ndpi(capture: &str) -> Option<NdpiNames> {
    let out =
        Command::new("ndpiReader").args(["-q", "-v", "2", "-i", &format!("{SHARED}/pcaps/{capture}")]).output().ok()?;
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name_at) = line.find("[Hostname/SNI: ") else { continue };
        let name = &line[name_at + 15..];
        let name = &name[..name.find(']').unwrap_or(name.len())];
        let mut words = line.split_whitespace().skip(1);
        let (Some(proto), Some(a), Some("<->"), Some(b)) = (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        let proto = match proto {
            "TCP" => 6,
            "UDP" => 17,
            _ => continue,
        };
        // "10.0.0.1:53" or "[2001:db8::1]:53", addresses written as we write them (RFC 5952).
        let endpoint = |e: &str| {
            let (addr, port) = e.rsplit_once(':').unwrap_or((e, "0"));
            let addr = addr.trim_start_matches('[').trim_end_matches(']');
            format!("{}|{port}", addr.parse::<std::net::IpAddr>().map_or(addr.to_string(), |a| a.to_string()))
        };
        let app = line
            .split("[proto: ")
            .nth(1)
            .and_then(|p| p.split('/').nth(1))
            .map(|p| p.split(['.', ']']).next().unwrap_or(""))
            .unwrap_or("");
        m.insert(key(proto, endpoint(a), endpoint(b)), (app.to_string(), name.to_lowercase()));
    }
    Some(m)
}

#[test]
fn server_names_match_ndpi() {
    let mut report = String::new();
    let mut checked = 0;
    for capture in shared_captures() {
        let Some(theirs) = ndpi(&capture) else {
            eprintln!("nDPI oracle skipped: ndpiReader is not installed (apt install libndpi-bin)");
            return;
        };
        let ours = ours(&capture);
        for (k, (app, name)) in &theirs {
            // The protocols read here; nDPI also names others (mDNS, NetBIOS, DHCP...).
            if !["TLS", "HTTP", "DNS", "QUIC"].contains(&app.as_str()) {
                continue;
            }
            checked += 1;
            let o = ours.get(k).map(|n| n.to_lowercase());
            if o.as_deref() != Some(name.as_str()) && ndpi_known(&capture, app).is_none() {
                report.push_str(&format!("{capture}: {k:?}: nDPI {app} {name:?}, ours {o:?}\n"));
            }
        }
    }
    assert!(report.is_empty(), "{checked} names checked:\n{report}");
    eprintln!("{checked} flows named by nDPI: the same names");
}
