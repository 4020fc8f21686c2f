//! DNS messages (RFC 1035): header, the first question, and the A, AAAA and CNAME answers.
//!
//! Names are read with compression; a pointer must point before the label it replaces, so a
//! loop is impossible, and a name is at most 255 bytes of at most 63-byte labels. A message that
//! breaks a rule is refused with the reason; nothing reads past the slice.

/// Why a DNS message was refused.
pub type DnsError = &'static str;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsMessage {
    pub id: u16,
    pub response: bool,
    pub rcode: u8,
    /// The first question's name (lower case, no trailing dot) and type; empty and 0 without one.
    pub qname: String,
    pub qtype: u16,
    pub answers: Vec<DnsAnswer>,
    /// Why the answers were not read to the end (the question was): a message cut by a fragment
    /// or the snap length, or a broken record. The answers before it are kept.
    pub problem: Option<DnsError>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswer {
    pub name: String,
    pub data: AnswerData,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerData {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Cname(String),
}

/// At most this many answers are read (the rest are not needed to name addresses).
const MAX_ANSWERS: usize = 64;

/// Parses a DNS message (over UDP; over TCP without its two-byte length): an error when the
/// header or the questions are broken, else the message with the answers read up to the first
/// problem.
pub fn parse(msg: &[u8]) -> Result<DnsMessage, DnsError> {
    if msg.len() < 12 {
        return Err("shorter than the 12-byte header");
    }
    let be16 = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]);
    let flags = be16(2);
    if (flags >> 11) & 0xf > 6 {
        return Err("unknown opcode");
    }
    let mut out =
        DnsMessage { id: be16(0), response: flags & 0x8000 != 0, rcode: (flags & 0xf) as u8, ..DnsMessage::default() };
    let questions = be16(4) as usize;
    let answers = be16(6) as usize;
    let mut at = 12;
    for i in 0..questions {
        let (name, next) = read_name(msg, at)?;
        if next + 4 > msg.len() {
            return Err("question cut short");
        }
        if i == 0 {
            out.qname = name;
            out.qtype = be16(next);
        }
        at = next + 4;
    }
    for _ in 0..answers.min(MAX_ANSWERS) {
        match answer(msg, at) {
            Ok((a, next)) => {
                out.answers.extend(a);
                at = next;
            }
            Err(why) => {
                out.problem = Some(why);
                break;
            }
        }
    }
    Ok(out)
}

/// One resource record at `at`: the answer (if of a type read here) and where the next starts.
fn answer(msg: &[u8], at: usize) -> Result<(Option<DnsAnswer>, usize), DnsError> {
    let (name, next) = read_name(msg, at)?;
    if next + 10 > msg.len() {
        return Err("answer cut short");
    }
    let be16 = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]);
    let rtype = be16(next);
    let rdlen = be16(next + 8) as usize;
    let rdata = next + 10;
    if rdata + rdlen > msg.len() {
        return Err("answer data past the end");
    }
    let data = match (rtype, rdlen) {
        (1, 4) => Some(AnswerData::A(msg[rdata..rdata + 4].try_into().unwrap())),
        (28, 16) => Some(AnswerData::Aaaa(msg[rdata..rdata + 16].try_into().unwrap())),
        (5, _) => Some(AnswerData::Cname(read_name(msg, rdata)?.0)),
        (1, _) | (28, _) => return Err("address answer of the wrong length"),
        _ => None,
    };
    Ok((data.map(|data| DnsAnswer { name, data }), rdata + rdlen))
}

/// Reads a (possibly compressed) name at `at`: the name and where the field ends.
fn read_name(msg: &[u8], mut at: usize) -> Result<(String, usize), DnsError> {
    let mut name = String::new();
    let mut end = None;
    // Every pointer must go strictly backwards from the label it replaces: no loops.
    let mut limit = at;
    loop {
        let Some(&len) = msg.get(at) else { return Err("name runs past the end") };
        match len >> 6 {
            0 if len == 0 => {
                return Ok((name, end.unwrap_or(at + 1)));
            }
            0 => {
                let len = len as usize;
                let label = msg.get(at + 1..at + 1 + len).ok_or("label runs past the end")?;
                if name.len() + len + 1 > 255 {
                    return Err("name longer than 255 bytes");
                }
                if !name.is_empty() {
                    name.push('.');
                }
                push_label(&mut name, label);
                at += 1 + len;
            }
            3 => {
                let Some(&low) = msg.get(at + 1) else { return Err("pointer cut short") };
                let target = (((len & 0x3f) as usize) << 8) | low as usize;
                if target >= limit {
                    return Err("compression pointer does not point backwards (a loop)");
                }
                end.get_or_insert(at + 2);
                limit = target;
                at = target;
            }
            _ => return Err("label length over 63 (reserved label type)"),
        }
    }
}

/// A label as text, lower case: UTF-8 as it is (as tshark shows it), other bytes and controls
/// escaped as `\ddd` (RFC 4343's presentation form).
fn push_label(name: &mut String, label: &[u8]) {
    match std::str::from_utf8(label) {
        Ok(text) if !text.chars().any(|c| c.is_control() || c == ' ') => {
            name.extend(text.chars().map(|c| c.to_ascii_lowercase()))
        }
        _ => {
            for &c in label {
                match c {
                    b'!'..=b'~' => name.push(c.to_ascii_lowercase() as char),
                    _ => name.push_str(&format!("\\{c:03}")),
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A query or response for `name` with the given answers (names compressed to the question).
    pub(crate) fn message(name: &str, response: bool, answers: &[AnswerData]) -> Vec<u8> {
        let mut m = vec![
            0x12,
            0x34,
            if response { 0x81 } else { 0x01 },
            if response { 0x80 } else { 0 },
            0,
            1,
            0,
            answers.len() as u8,
            0,
            0,
            0,
            0,
        ];
        for label in name.split('.') {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        for a in answers {
            m.extend_from_slice(&[0xc0, 12]);
            let (t, data): (u16, Vec<u8>) = match a {
                AnswerData::A(x) => (1, x.to_vec()),
                AnswerData::Aaaa(x) => (28, x.to_vec()),
                AnswerData::Cname(n) => {
                    (5, n.split('.').flat_map(|l| std::iter::once(l.len() as u8).chain(l.bytes())).chain([0]).collect())
                }
            };
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            m.extend_from_slice(&(data.len() as u16).to_be_bytes());
            m.extend_from_slice(&data);
        }
        m
    }

    #[test]
    fn query_and_response() {
        let q = parse(&message("WWW.Example.com", false, &[])).unwrap();
        assert_eq!((q.qname.as_str(), q.qtype, q.response), ("www.example.com", 1, false));
        let r = parse(&message(
            "www.example.com",
            true,
            &[AnswerData::Cname("edge.example.net".into()), AnswerData::A([192, 0, 2, 7])],
        ))
        .unwrap();
        assert!(r.response);
        assert_eq!(r.answers.len(), 2);
        assert_eq!(r.answers[0].data, AnswerData::Cname("edge.example.net".into()));
        assert_eq!(r.answers[1], DnsAnswer { name: "www.example.com".into(), data: AnswerData::A([192, 0, 2, 7]) });
    }

    #[test]
    fn malformed_messages_are_refused_with_the_reason() {
        let good = message("a.example", true, &[AnswerData::A([1, 2, 3, 4])]);
        // Every cut of a good message is refused or parsed, never a panic.
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        assert_eq!(parse(&good[..5]), Err("shorter than the 12-byte header"));
        // A pointer to itself, and a pointer forwards: loops.
        let mut looped = good[..12].to_vec();
        looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse(&looped), Err("compression pointer does not point backwards (a loop)"));
        let mut two = good[..12].to_vec();
        two.extend_from_slice(&[1, b'a', 0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse(&two), Err("compression pointer does not point backwards (a loop)"));
        // A pointer past the end.
        let mut past = good[..12].to_vec();
        past.extend_from_slice(&[1, b'a', 0, 0, 1, 0, 1, 0xc0, 0xff]);
        past[7] = 1;
        assert_eq!(parse(&past).unwrap().problem, Some("compression pointer does not point backwards (a loop)"));
        // A label over 63 bytes (0x40: the reserved extended label type).
        let mut long = good[..12].to_vec();
        long.push(64);
        long.extend_from_slice(&[b'x'; 64]);
        long.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(parse(&long), Err("label length over 63 (reserved label type)"));
        // A name over 255 bytes.
        let mut huge = good[..12].to_vec();
        for _ in 0..5 {
            huge.push(63);
            huge.extend_from_slice(&[b'y'; 63]);
        }
        huge.push(0);
        assert_eq!(parse(&huge), Err("name longer than 255 bytes"));
    }
}
