use super::dns::AnswerData;
use super::tls::tests::{hello_message, records};
use super::*;

fn packet(proto: u8, src_port: u16, dst_port: u16, len: usize) -> PacketRecord {
    PacketRecord {
        src: Addr::v4([10, 0, 0, 1]),
        dst: Addr::v4([192, 0, 2, 1]),
        proto,
        src_port,
        dst_port,
        wire_len: len as u32 + 54,
        cap_len: len as u32 + 54,
        ..PacketRecord::default()
    }
}

fn name(i: &Inspector, id: u32) -> String {
    lock_names(i.names()).get(id).unwrap_or("").to_string()
}

#[test]
fn a_client_hello_over_three_segments_with_a_retransmission() {
    let mut i = Inspector::new(SharedNames::default(), 1);
    let mut seen = Seen::default();
    let stream = records(&hello_message("video.example.net", &["h2"], 1800), 16384);
    let (a, b) = stream.split_at(700);
    let (b, c) = b.split_at(700);
    let seq = 1000u32;
    i.inspect(&mut seen, 7, 0, &packet(TCP, 40000, 443, a.len()), a, seq);
    assert_eq!(seen.app, App::Unknown);
    // The server's ACK without payload, and a retransmission of the first segment: skipped.
    i.inspect(&mut seen, 7, 1, &packet(TCP, 443, 40000, 0), &[], 5);
    i.inspect(&mut seen, 7, 0, &packet(TCP, 40000, 443, a.len()), a, seq);
    i.inspect(&mut seen, 7, 0, &packet(TCP, 40000, 443, b.len()), b, seq + 700);
    i.inspect(&mut seen, 7, 0, &packet(TCP, 40000, 443, c.len()), c, seq + 1400);
    assert_eq!(seen.app, App::Tls);
    assert_eq!(name(&i, seen.name), "video.example.net");
    assert_eq!(name(&i, seen.alpn), "h2");
    assert!(i.pending.is_empty());
}

#[test]
fn a_gap_in_the_hello_ends_the_gathering_and_a_reused_slot_starts_clean() {
    let mut i = Inspector::new(SharedNames::default(), 1);
    let mut seen = Seen::default();
    let stream = records(&hello_message("a.example", &[], 1800), 16384);
    i.inspect(&mut seen, 3, 0, &packet(TCP, 40000, 443, 700), &stream[..700], 0);
    i.inspect(&mut seen, 3, 0, &packet(TCP, 40000, 443, 300), &stream[1400..1700], 1400);
    assert_eq!(seen.name, 0);
    assert!(i.pending.is_empty());
    // A new flow in a slot whose old flow left bytes behind.
    let mut old = Seen::default();
    i.inspect(&mut old, 4, 0, &packet(TCP, 40001, 443, 700), &stream[..700], 0);
    let mut new = Seen::default();
    let request = b"GET / HTTP/1.1\r\nHost: intranet.example\r\n\r\n";
    i.inspect(&mut new, 4, 0, &packet(TCP, 40002, 80, request.len()), request, 0);
    assert_eq!((new.app, name(&i, new.name)), (App::Http, "intranet.example".to_string()));
}

#[test]
fn dns_names_the_flow_and_its_answers_fill_the_passive_table() {
    let mut i = Inspector::new(SharedNames::default(), 1);
    let mut seen = Seen::default();
    let answers = [
        AnswerData::Cname("cdn.example.net".into()),
        AnswerData::A([198, 51, 100, 9]),
        AnswerData::Aaaa([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]),
    ];
    let response = dns::tests::message("www.example.com", true, &answers);
    i.inspect(&mut seen, 1, 1, &packet(UDP, 53, 5000, response.len()), &response, 0);
    assert_eq!((seen.app, name(&i, seen.name)), (App::Dns, "www.example.com".to_string()));
    assert_eq!(i.passive.len(), 2);
    assert_eq!(name(&i, i.passive[&Addr::v4([198, 51, 100, 9])]), "www.example.com");
}

#[test]
fn broken_payloads_are_counted_by_protocol_and_reason_and_cut_ones_apart() {
    let mut i = Inspector::new(SharedNames::default(), 1);
    let mut good = dns::tests::message("x.example", true, &[AnswerData::A([1, 2, 3, 4])]);
    good.truncate(good.len() - 2);
    i.inspect(&mut Seen::default(), 1, 0, &packet(UDP, 53, 5000, good.len()), &good, 0);
    let mut cut = packet(UDP, 53, 5000, good.len());
    cut.wire_len += 100;
    i.inspect(&mut Seen::default(), 2, 0, &cut, &good, 0);
    let mut hello = records(&hello_message("a.example", &[], 4), 16384);
    hello[5] = 2;
    i.inspect(&mut Seen::default(), 3, 0, &packet(TCP, 40000, 443, hello.len()), &hello, 0);
    assert_eq!((i.problems.dns, i.problems.tls, i.problems.cut), (1, 1, 1));
    assert_eq!(
        i.problems.reasons,
        vec![("DNS", "answer data past the end", 1), ("TLS", "first handshake message is not a ClientHello", 1)]
    );
}

#[test]
fn a_flow_is_looked_at_for_its_first_packets_only() {
    let mut i = Inspector::new(SharedNames::default(), 1);
    let mut seen = Seen::default();
    for n in 0..LOOK_PACKETS as u32 + 1 {
        i.inspect(&mut seen, 1, 0, &packet(TCP, 40000, 443, 4), b"\x00\x01\x02\x03", n * 4);
    }
    let late = records(&hello_message("late.example", &[], 4), 16384);
    i.inspect(&mut seen, 1, 0, &packet(TCP, 40000, 443, late.len()), &late, 100);
    assert_eq!(seen.name, 0);
}

#[test]
fn quic_sni_from_the_clients_initials_with_a_server_initial_between() {
    use super::quic::tests::{crypto_frame, initial};
    let mut i = Inspector::new(SharedNames::default(), 1);
    let mut seen = Seen::default();
    let hello = hello_message("www.example.com", &["h3"], 1500);
    let dcid = [1, 2, 3, 4, 5, 6, 7, 8];
    let first = initial(quic::V1, &dcid, &crypto_frame(0, &hello[..1000]));
    i.inspect(&mut seen, 5, 0, &packet(UDP, 50000, 443, first.len()), &first, 0);
    assert_eq!((seen.app, seen.name), (App::Quic, 0));
    // The server's Initial (its own keys: unreadable with the client's) is not the hello.
    let server = initial(quic::V1, &[7; 8], &crypto_frame(0, b"\x02\x00\x00\x01x"));
    i.inspect(&mut seen, 5, 1, &packet(UDP, 443, 50000, server.len()), &server, 0);
    let second = initial(quic::V1, &dcid, &crypto_frame(1000, &hello[1000..]));
    i.inspect(&mut seen, 5, 0, &packet(UDP, 50000, 443, second.len()), &second, 0);
    assert_eq!((name(&i, seen.name), name(&i, seen.alpn)), ("www.example.com".to_string(), "h3".to_string()));
    assert_eq!(i.problems, AppProblems::default());
}
