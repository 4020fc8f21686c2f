//! TLS ClientHello (RFC 8446 section 4.1.2): the server name (SNI) and the ALPN protocols.
//!
//! Input is the client's first bytes of the connection, as many TCP segments as have come; the
//! handshake message may span records and segments, so an incomplete one asks for more bytes.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hello {
    /// A whole ClientHello.
    Client { sni: Option<String>, alpn: Vec<String> },
    /// A ClientHello so far; the whole needs this many bytes of the stream.
    NeedMore(usize),
    /// Not a TLS handshake.
    NotTls,
    /// A TLS handshake that breaks the format, with the reason.
    Malformed(&'static str),
}

/// Most bytes a ClientHello is waited for (post-quantum key shares make them about 1.8 KB).
pub const MAX_HELLO: usize = 16 * 1024;

/// Is this the start of a TLS handshake record (content type 22, version 3.x)?
pub fn looks_like(stream: &[u8]) -> bool {
    stream.len() >= 3 && stream[0] == 22 && stream[1] == 3 && stream[2] <= 4
}

/// Reads the ClientHello at the start of a client's stream.
pub fn client_hello(stream: &[u8]) -> Hello {
    if !looks_like(stream) {
        return Hello::NotTls;
    }
    // The handshake message, gathered from as many records as it spans.
    let mut message = Vec::new();
    let mut at = 0;
    let mut needed = None;
    while needed.map_or(true, |n| message.len() < n) {
        let Some(header) = stream.get(at..at + 5) else { return Hello::NeedMore(at + 5) };
        if header[0] != 22 {
            return Hello::Malformed("handshake record followed by another record type");
        }
        let len = u16::from_be_bytes([header[3], header[4]]) as usize;
        if len == 0 || len > 16 * 1024 + 2048 {
            return Hello::Malformed("record length out of range");
        }
        let end = at + 5 + len;
        if end > MAX_HELLO {
            return Hello::Malformed("ClientHello longer than 16 KiB");
        }
        let Some(body) = stream.get(at + 5..end) else { return Hello::NeedMore(end) };
        message.extend_from_slice(body);
        at = end;
        if needed.is_none() && message.len() >= 4 {
            if message[0] != 1 {
                return Hello::Malformed("first handshake message is not a ClientHello");
            }
            needed = Some(4 + ((message[1] as usize) << 16 | (message[2] as usize) << 8 | message[3] as usize));
        }
    }
    match parse_hello(&message[4..needed.unwrap()]) {
        Ok((sni, alpn)) => Hello::Client { sni, alpn },
        Err(why) => Hello::Malformed(why),
    }
}

/// A cursor that refuses to read past the end.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], &'static str> {
        let s = self.b.get(self.at..self.at + n).ok_or(what)?;
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self, what: &'static str) -> Result<usize, &'static str> {
        Ok(self.take(1, what)?[0] as usize)
    }
    fn u16(&mut self, what: &'static str) -> Result<usize, &'static str> {
        let s = self.take(2, what)?;
        Ok(u16::from_be_bytes([s[0], s[1]]) as usize)
    }
    fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], &'static str> {
        let n = self.u8(what)?;
        self.take(n, what)
    }
    fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], &'static str> {
        let n = self.u16(what)?;
        self.take(n, what)
    }
    fn done(&self) -> bool {
        self.at >= self.b.len()
    }
}

type HelloNames = (Option<String>, Vec<String>);

/// The ClientHello body: version, random, session id, cipher suites, compression, extensions.
pub(crate) fn parse_hello(body: &[u8]) -> Result<HelloNames, &'static str> {
    let mut r = Reader { b: body, at: 0 };
    r.take(2 + 32, "ClientHello cut in its version or random")?;
    r.vec8("session id past the end")?;
    r.vec16("cipher suites past the end")?;
    r.vec8("compression methods past the end")?;
    if r.done() {
        return Ok((None, Vec::new()));
    }
    let mut ext = Reader { b: r.vec16("extensions past the end")?, at: 0 };
    let (mut sni, mut alpn) = (None, Vec::new());
    while !ext.done() {
        let kind = ext.u16("extension cut in its type")?;
        let mut data = Reader { b: ext.vec16("extension past the end")?, at: 0 };
        match kind {
            0 if !data.done() => {
                let mut list = Reader { b: data.vec16("server name list past the end")?, at: 0 };
                while !list.done() {
                    let name_type = list.u8("server name cut")?;
                    let name = list.vec16("server name past the end")?;
                    if name_type == 0 && sni.is_none() {
                        sni = Some(printable(name));
                    }
                }
            }
            16 => {
                let mut list = Reader { b: data.vec16("ALPN list past the end")?, at: 0 };
                while !list.done() {
                    alpn.push(printable(list.vec8("ALPN protocol past the end")?));
                }
            }
            _ => {}
        }
    }
    Ok((sni, alpn))
}

/// Bytes as text, non-printable ones escaped (names on the wire are not always clean).
pub(crate) fn printable(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        match c {
            b' '..=b'~' => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello with the given SNI and ALPN, as one handshake message.
    pub(crate) fn hello_message(sni: &str, alpn: &[&str], padding: usize) -> Vec<u8> {
        let mut ext = Vec::new();
        let mut name = vec![0u8];
        name.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        name.extend_from_slice(sni.as_bytes());
        let mut list = (name.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&name);
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
        ext.extend_from_slice(&list);
        if !alpn.is_empty() {
            let protos: Vec<u8> = alpn.iter().flat_map(|p| std::iter::once(p.len() as u8).chain(p.bytes())).collect();
            ext.extend_from_slice(&[0, 16]);
            ext.extend_from_slice(&((protos.len() + 2) as u16).to_be_bytes());
            ext.extend_from_slice(&(protos.len() as u16).to_be_bytes());
            ext.extend_from_slice(&protos);
        }
        // Padding (21), as browsers add: it makes a hello span segments.
        ext.extend_from_slice(&[0, 21]);
        ext.extend_from_slice(&(padding as u16).to_be_bytes());
        ext.extend(std::iter::repeat(0).take(padding));
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut m = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
        m.extend_from_slice(&body);
        m
    }

    /// The handshake message in TLS records of at most `record` bytes each.
    pub(crate) fn records(message: &[u8], record: usize) -> Vec<u8> {
        message
            .chunks(record)
            .flat_map(|c| [22, 3, 1, (c.len() >> 8) as u8, c.len() as u8].into_iter().chain(c.iter().copied()))
            .collect()
    }

    #[test]
    fn sni_and_alpn_from_one_record_or_many() {
        let m = hello_message("www.example.org", &["h2", "http/1.1"], 10);
        let want = Hello::Client { sni: Some("www.example.org".into()), alpn: vec!["h2".into(), "http/1.1".into()] };
        assert_eq!(client_hello(&records(&m, 16384)), want);
        assert_eq!(client_hello(&records(&m, 20)), want);
    }

    #[test]
    fn a_hello_cut_asks_for_more_and_bad_ones_are_refused() {
        let stream = records(&hello_message("a.example", &["h2"], 1500), 16384);
        for cut in 0..stream.len() {
            match client_hello(&stream[..cut]) {
                Hello::NeedMore(n) => assert!(n > cut && n <= stream.len(), "cut {cut} asks for {n}"),
                Hello::NotTls => assert!(cut < 3),
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\n"), Hello::NotTls);
        // A ServerHello first.
        let mut server = stream.clone();
        server[5] = 2;
        assert_eq!(client_hello(&server), Hello::Malformed("first handshake message is not a ClientHello"));
        // An extension whose length runs past the message: every byte flipped is handled.
        let m = hello_message("a.example", &["h2"], 4);
        for i in 4..m.len() {
            let mut bad = m.clone();
            bad[i] ^= 0xff;
            let _ = client_hello(&records(&bad, 16384));
        }
        let mut bad = m.clone();
        let ext_at = 4 + 2 + 32 + 1 + 4 + 2;
        bad[ext_at] = 0xff;
        assert_eq!(client_hello(&records(&bad, 16384)), Hello::Malformed("extensions past the end"));
    }
}
