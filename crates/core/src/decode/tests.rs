//! Decoder tests with hand-built frames: every link type, tunnels, cut and malformed headers.

use super::*;
use crate::addr::Addr;
use crate::record::flag;

fn ipv4_header(proto: u8, src: [u8; 4], dst: [u8; 4], payload_len: usize) -> Vec<u8> {
    let total = 20 + payload_len;
    let mut h = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0, 0, 64, proto, 0, 0];
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h
}

fn ipv6_header(next: u8, src_last: u8, dst_last: u8, payload_len: usize) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0, (payload_len >> 8) as u8, payload_len as u8, next, 64];
    let mut a = [0u8; 16];
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = 0xb8;
    a[15] = src_last;
    h.extend_from_slice(&a);
    a[15] = dst_last;
    h.extend_from_slice(&a);
    h
}

fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut u = vec![0u8; 8];
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&dport.to_be_bytes());
    u[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    u.extend_from_slice(payload);
    u
}

fn ipv4_tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut p = ipv4_header(6, src, dst, 20);
    p.extend(tcp(sport, dport, flags));
    p
}

fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let u = udp(sport, dport, payload);
    let mut p = ipv4_header(17, src, dst, u.len());
    p.extend(u);
    p
}

fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0xaa; 6];
    f.extend_from_slice(&[0xbb; 6]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn run(data: &[u8], lt: u32) -> Decoded {
    let mut d = Decoded::default();
    decode(data, lt, &mut d);
    d
}

const A: [u8; 4] = [192, 0, 2, 1];
const B: [u8; 4] = [198, 51, 100, 2];

#[test]
fn ethernet_ipv4_tcp() {
    let d = run(&ether(0x0800, &ipv4_tcp(A, B, 40000, 443, 0x12)), linktype::ETHERNET);
    assert_eq!(d.problem, None);
    let r = d.record(5, 54, 54, 0);
    assert_eq!((r.src, r.dst), (Addr::v4(A), Addr::v4(B)));
    assert_eq!((r.proto, r.src_port, r.dst_port, r.tcp_flags), (6, 40000, 443, 0x12));
    assert!(r.has(flag::HAS_PORTS));
    assert_eq!(r.src.to_string(), "192.0.2.1");
}

#[test]
fn vlan_tags_of_any_depth_keep_the_outermost_id() {
    let ip = ipv4_tcp(A, B, 1, 2, 0x02);
    let mut inner = vec![0x00, 0x14, 0x08, 0x00]; // VLAN 20 -> IPv4
    inner.extend(&ip);
    let mut mid = vec![0x00, 0x0a, 0x81, 0x00]; // VLAN 10 -> 802.1Q
    mid.extend(inner);
    let d = run(&ether(0x88a8, &mid), linktype::ETHERNET);
    assert_eq!(d.vlan, 10);
    assert_eq!(d.inner().unwrap().dst_port, 2);
}

#[test]
fn mpls_stack_then_ipv4_and_pseudowire() {
    let ip = ipv4_udp(A, B, 5, 53, b"q");
    let mut labels = vec![0, 0x10, 0x00, 64, 0, 0x20, 0x01, 64]; // two labels, bottom on the second
    labels.extend(&ip);
    let d = run(&ether(0x8847, &labels), linktype::ETHERNET);
    assert_eq!(d.inner().unwrap().dst_port, 53);

    let mut pw = vec![0, 0x10, 0x01, 64, 0, 0, 0, 0]; // bottom label, then a zero control word
    pw.extend(ether(0x0800, &ip));
    let d = run(&ether(0x8847, &pw), linktype::ETHERNET);
    assert_eq!(d.inner().unwrap().src, Addr::v4(A));
}

#[test]
fn pppoe_session_carries_ipv4() {
    let ip = ipv4_udp(A, B, 5, 53, b"q");
    let mut s = vec![0x11, 0x00, 0x12, 0x34, 0, (ip.len() + 2) as u8, 0x00, 0x21];
    s.extend(&ip);
    let d = run(&ether(0x8864, &s), linktype::ETHERNET);
    assert_eq!(d.inner().unwrap().proto, 17);
}

#[test]
fn linux_cooked_v1_and_v2() {
    let ip = ipv4_udp(A, B, 5, 53, b"q");
    let mut sll = vec![0u8; 14];
    sll.extend_from_slice(&[0x08, 0x00]);
    sll.extend(&ip);
    assert_eq!(run(&sll, linktype::LINUX_SLL).inner().unwrap().dst_port, 53);
    let mut sll2 = vec![0x08, 0x00];
    sll2.extend_from_slice(&[0u8; 18]);
    sll2.extend(&ip);
    assert_eq!(run(&sll2, linktype::LINUX_SLL2).inner().unwrap().dst_port, 53);
}

#[test]
fn bsd_loopback_in_both_byte_orders_and_raw_ip() {
    let v6 = {
        let mut p = ipv6_header(17, 1, 2, 9);
        p.extend(udp(9, 10, b"x"));
        p
    };
    for af in [[30u8, 0, 0, 0], [0, 0, 0, 30], [24, 0, 0, 0]] {
        let mut f = af.to_vec();
        f.extend(&v6);
        assert_eq!(run(&f, linktype::NULL).inner().unwrap().dst_port, 10, "AF bytes {af:?}");
    }
    let mut lo = vec![0, 0, 0, 2];
    lo.extend(ipv4_tcp(A, B, 1, 2, 0));
    assert_eq!(run(&lo, linktype::LOOP).inner().unwrap().proto, 6);
    assert_eq!(run(&v6, linktype::RAW).inner().unwrap().src.family, crate::addr::Family::V6);
    assert_eq!(run(&v6, linktype::IPV6).inner().unwrap().dst_port, 10);
    assert_eq!(run(&ipv4_tcp(A, B, 1, 2, 0), linktype::IPV4).inner().unwrap().dst_port, 2);
}

#[test]
fn ppp_with_and_without_address_control() {
    let ip = ipv4_tcp(A, B, 1, 2, 0);
    let mut f = vec![0xff, 0x03, 0x00, 0x21];
    f.extend(&ip);
    assert_eq!(run(&f, linktype::PPP).inner().unwrap().dst_port, 2);
    let mut compressed = vec![0x21];
    compressed.extend(&ip);
    assert_eq!(run(&compressed, linktype::PPP).inner().unwrap().dst_port, 2);
}

#[test]
fn ipv4_fragments() {
    let mut first = ipv4_udp(A, B, 5, 53, &[0u8; 40]);
    first[6] = 0x20; // MF
    let d = run(&first, linktype::RAW);
    let l = d.inner().unwrap();
    assert_eq!(l.flags & (flag::FRAGMENT | flag::FIRST_FRAGMENT), flag::FRAGMENT | flag::FIRST_FRAGMENT);
    assert_eq!(l.dst_port, 53);

    let mut later = ipv4_header(17, A, B, 16);
    later[7] = 6; // offset 48 bytes
    later.extend_from_slice(&[0xee; 16]);
    let d = run(&later, linktype::RAW);
    let l = d.inner().unwrap();
    assert_eq!(l.flags & flag::FRAGMENT, flag::FRAGMENT);
    assert_eq!(l.flags & flag::HAS_PORTS, 0, "no transport header in a later fragment");
    assert_eq!(d.problem, None);
}

#[test]
fn ipv6_extension_chain_fragment_and_routing_header() {
    // hop-by-hop -> routing (type 0, 1 segment left, one address) -> fragment (first) -> UDP
    let u = udp(7, 8, b"abc");
    let mut ext = vec![43, 0, 1, 4, 0, 0, 0, 0]; // hop-by-hop, 8 bytes, next routing
    let mut rh = vec![44, 2, 0, 1, 0, 0, 0, 0];
    let mut final_dst = [0u8; 16];
    final_dst[0] = 0x20;
    final_dst[1] = 0x01;
    final_dst[15] = 0x99;
    rh.extend_from_slice(&final_dst);
    ext.extend(rh);
    ext.extend_from_slice(&[17, 0, 0x00, 0x01, 0, 0, 0, 9]); // fragment: offset 0, M=1, id 9
    ext.extend(&u);
    let mut p = ipv6_header(0, 1, 2, ext.len());
    p.extend(ext);
    let d = run(&p, linktype::RAW);
    assert_eq!(d.problem, None);
    let l = d.inner().unwrap();
    assert_eq!((l.proto, l.src_port, l.dst_port), (17, 7, 8));
    assert_eq!(l.dst.bytes[15], 2, "the header destination stays");
    assert_eq!(l.flow_dst, Addr::v6(final_dst), "the flow goes to the final destination");
    assert_eq!(l.frag_id, 9);
    assert_eq!(l.flags & flag::FIRST_FRAGMENT, flag::FIRST_FRAGMENT);
    assert_eq!(d.record(0, 0, 0, 0).dst, Addr::v6(final_dst));
}

#[test]
fn tunnels_keep_every_ip_layer() {
    // VXLAN: outer IPv4/UDP 4789 -> Ethernet -> IPv4/TCP
    let inner = ether(0x0800, &ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], 1000, 22, 0x18));
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
    vx.extend(inner);
    let f = ether(0x0800, &ipv4_udp(A, B, 50000, 4789, &vx));
    let d = run(&f, linktype::ETHERNET);
    assert_eq!(d.layers().len(), 2);
    assert_eq!(d.layers()[0].carries, TunnelKind::Vxlan);
    assert_eq!(d.layers()[0].dst_port, 4789);
    let r = d.record(0, f.len() as u32, f.len() as u32, 0);
    assert_eq!((r.src, r.dst_port), (Addr::v4([10, 0, 0, 1]), 22));
    assert!(r.has(flag::TUNNELLED));
    assert_eq!(r.tunnel, TunnelKind::Vxlan as u8);

    // 6in4 and GRE carrying IPv4
    let mut v6 = ipv6_header(6, 1, 2, 20);
    v6.extend(tcp(1, 80, 2));
    let mut six = ipv4_header(41, A, B, v6.len());
    six.extend(&v6);
    let d = run(&six, linktype::RAW);
    assert_eq!(d.layers()[0].carries, TunnelKind::Ipv6InIp);
    assert_eq!(d.inner().unwrap().dst_port, 80);

    let mut gre = vec![0x20, 0x00, 0x08, 0x00, 0, 0, 0, 7]; // key present
    gre.extend(ipv4_tcp([10, 1, 1, 1], [10, 1, 1, 2], 3, 4, 0));
    let mut outer = ipv4_header(47, A, B, gre.len());
    outer.extend(gre);
    let d = run(&outer, linktype::RAW);
    assert_eq!(d.layers().len(), 2);
    assert_eq!(d.inner().unwrap().dst_port, 4);
}

#[test]
fn gtpu_teredo_and_geneve() {
    let inner = ipv4_tcp([10, 9, 9, 9], [8, 8, 8, 8], 5555, 80, 0x02);
    let mut gtp = vec![0x30, 0xff, 0, inner.len() as u8, 0, 0, 0, 1];
    gtp.extend(&inner);
    let d = run(&ipv4_udp(A, B, 2152, 2152, &gtp), linktype::RAW);
    assert_eq!(d.layers()[0].carries, TunnelKind::GtpU);
    assert_eq!(d.inner().unwrap().dst_port, 80);

    let mut v6 = ipv6_header(58, 1, 2, 8);
    v6.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]);
    let d = run(&ipv4_udp(A, B, 3544, 40000, &v6), linktype::RAW);
    assert_eq!(d.layers()[0].carries, TunnelKind::Teredo);
    assert_eq!(d.inner().unwrap().proto, 58);

    let mut gnv = vec![0x00, 0x00, 0x65, 0x58, 0, 0, 1, 0];
    gnv.extend(ether(0x0800, &inner));
    let d = run(&ipv4_udp(A, B, 1, 6081, &gnv), linktype::RAW);
    assert_eq!(d.layers()[0].carries, TunnelKind::Geneve);
    assert_eq!(d.inner().unwrap().src_port, 5555);
}

#[test]
fn udp_on_a_tunnel_port_that_is_not_a_tunnel_stays_udp() {
    let d = run(&ipv4_udp(A, B, 1, 4789, b"not vxlan"), linktype::RAW);
    assert_eq!(d.layers().len(), 1);
    assert_eq!(d.layers()[0].carries, TunnelKind::None);
}

#[test]
fn cut_and_malformed_headers_are_reported_with_what_was_read() {
    let full = ether(0x0800, &ipv4_tcp(A, B, 40000, 443, 0x10));
    // Cut inside TCP: addresses are kept, ports are not trusted, the packet is truncated.
    let d = run(&full[..14 + 20 + 6], linktype::ETHERNET);
    assert_eq!(d.problem, Some(Problem::truncated(Proto::Tcp)));
    assert_eq!(d.inner().unwrap().src, Addr::v4(A));
    assert_eq!(d.inner().unwrap().flags & flag::HAS_PORTS, 0);
    assert!(d.record(0, 0, 0, 0).has(flag::TRUNCATED));
    // Cut inside the IPv4 header: no layer.
    let d = run(&full[..14 + 10], linktype::ETHERNET);
    assert_eq!(d.problem, Some(Problem::truncated(Proto::Ipv4)));
    assert!(d.layers().is_empty());
    // Header length under 20.
    let mut bad = ipv4_tcp(A, B, 1, 2, 0);
    bad[0] = 0x44;
    let d = run(&bad, linktype::RAW);
    assert_eq!(d.problem.unwrap().to_string(), "malformed IPv4: header length under 20 bytes (16)");
    // Unknown link type.
    let d = run(&[1, 2, 3], 147);
    assert_eq!(d.problem.unwrap().to_string(), "unsupported link type: link type not supported (147)");
    // Empty frame.
    assert_eq!(run(&[], linktype::ETHERNET).problem, Some(Problem::truncated(Proto::Ethernet)));
}

#[test]
fn non_ip_frames_keep_their_ethertype() {
    let d = run(&ether(0x0806, &[0u8; 28]), linktype::ETHERNET);
    assert_eq!((d.ethertype, d.problem), (0x0806, None));
    assert!(d.layers().is_empty());
}

#[test]
fn random_frames_never_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seeds = [
        ether(0x0800, &ipv4_udp(A, B, 1, 4789, &[0x08; 64])),
        ether(0x86dd, &ipv6_header(0, 1, 2, 64)),
        ether(0x8847, &[0; 64]),
    ];
    let mut d = Decoded::default();
    for i in 0..200_000 {
        let mut f = seeds[i % seeds.len()].clone();
        f.resize(f.len() + 40, 0);
        let flips = (next() % 8) as usize;
        for _ in 0..flips {
            let at = (next() as usize) % f.len();
            f[at] = next() as u8;
        }
        let cut = (next() as usize) % (f.len() + 1);
        for lt in [linktype::ETHERNET, linktype::RAW, linktype::NULL, linktype::PPP, linktype::LINUX_SLL] {
            decode(&f[..cut], lt, &mut d);
            let _ = d.record(0, 0, 0, 0);
        }
    }
}
