//! Prints the conversation tables of capture files as tab-separated rows:
//! `table family proto a port_a b port_b packets_ab bytes_ab packets_ba bytes_ba`.
//! A development aid for comparing with other tools (`cargo run --example conversations -- FILE`).

use netspectra_core::analysis::{Analysis, AnalysisConfig};

fn main() {
    for path in std::env::args().skip(1) {
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let Ok(mut a) = Analysis::new(&AnalysisConfig::default()) else { return };
        a.begin_file(&path);
        let fed = a.feed(&data);
        let end = a.end_file();
        if let Err(e) = fed.and(end) {
            eprintln!("{path}: {e}");
        }
        println!("# {path} packets={} bytes={}", a.totals().packets, a.totals().bytes);
        for (name, table) in [("ip", &a.ip_pairs()), ("l4", &a.conversations())] {
            for (k, s) in table.sorted() {
                println!(
                    "{name}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    k.a.family as u8,
                    k.proto,
                    k.a,
                    k.port_a,
                    k.b,
                    k.port_b,
                    s.packets_ab,
                    s.bytes_ab,
                    s.packets_ba,
                    s.bytes_ba
                );
            }
        }
        for (p, n) in a.problems().entries() {
            println!("problem\t{p}\t{n}");
        }
    }
}
