//! The application-layer readers (DNS, TLS ClientHello, HTTP request head, QUIC Initial) on
//! arbitrary bytes, one at a time and through the inspector as a flow's segments; and the same
//! bytes as an MMDB file looked up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netspectra_core::addr::Addr;
use netspectra_core::app::{dns, http, mmdb, quic, tls, Inspector, Seen, SharedNames};
use netspectra_core::record::PacketRecord;

fuzz_target!(|data: &[u8]| {
    let _ = dns::parse(data);
    let _ = tls::client_hello(data);
    let _ = http::request(data);
    let _ = quic::read_initials(data, &mut quic::Crypto::default());
    if let Ok(db) = mmdb::Mmdb::new(data.to_vec(), "fuzz") {
        let _ = db.lookup(&Addr::v4([192, 0, 2, 1]));
        let _ = db.lookup(&Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    }
    // The same bytes as the segments of one TCP flow to port 443, and as a DNS datagram.
    let mut inspector = Inspector::new(SharedNames::default(), 1);
    let mut seen = Seen::default();
    let r = PacketRecord { proto: 6, src_port: 40000, dst_port: 443, ..PacketRecord::default() };
    let mut seq = 0u32;
    for chunk in data.chunks(97) {
        inspector.inspect(&mut seen, 0, 0, &r, chunk, seq);
        seq = seq.wrapping_add(chunk.len() as u32);
    }
    let r = PacketRecord { proto: 17, src_port: 53, dst_port: 5353, ..PacketRecord::default() };
    inspector.inspect(&mut Seen::default(), 1, 0, &r, data, 0);
});
