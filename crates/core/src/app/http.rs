//! HTTP/1.x requests: the method and the Host header of the first request of a connection. The
//! host is kept without its port, as a server name (SNI has none either).

/// Methods a request may start with (RFC 9110, WebDAV's common ones, and SSDP's over UDP).
const METHODS: [&str; 15] = [
    "GET",
    "POST",
    "HEAD",
    "PUT",
    "DELETE",
    "OPTIONS",
    "PATCH",
    "CONNECT",
    "TRACE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "M-SEARCH",
    "NOTIFY",
];

/// Most bytes of request head read for the Host header.
pub const MAX_HEAD: usize = 8 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// A request line, and the Host header if the head holds one.
    Head {
        method: &'static str,
        host: Option<String>,
    },
    /// A request line whose head is not whole yet.
    NeedMore,
    NotHttp,
}

/// Does the stream start like an HTTP request (a method and a space)?
pub fn looks_like(stream: &[u8]) -> Option<&'static str> {
    METHODS
        .iter()
        .copied()
        .find(|m| stream.len() > m.len() && stream.starts_with(m.as_bytes()) && stream[m.len()] == b' ')
}

/// Reads the request head at the start of a client's stream.
pub fn request(stream: &[u8]) -> Request {
    let Some(method) = looks_like(stream) else { return Request::NotHttp };
    let head = &stream[..stream.len().min(MAX_HEAD)];
    let Some(line_end) = find(head, b"\r\n") else {
        return if stream.len() >= MAX_HEAD { Request::NotHttp } else { Request::NeedMore };
    };
    let line = &head[..line_end];
    if !line.ends_with(b" HTTP/1.1") && !line.ends_with(b" HTTP/1.0") {
        return Request::NotHttp;
    }
    let mut at = line_end + 2;
    while let Some(len) = find(&head[at..], b"\r\n") {
        if len == 0 {
            return Request::Head { method, host: None };
        }
        let line = &head[at..at + len];
        if line.len() > 5 && line[..5].eq_ignore_ascii_case(b"host:") {
            let value = without_port(line[5..].trim_ascii());
            return Request::Head { method, host: Some(super::tls::printable(value)) };
        }
        at += len + 2;
    }
    // The head goes on past what has come (or past MAX_HEAD: no Host within it).
    if stream.len() >= MAX_HEAD {
        Request::Head { method, host: None }
    } else {
        Request::NeedMore
    }
}

/// "example.com:8080" -> "example.com", "[2001:db8::1]:80" -> "[2001:db8::1]".
pub fn without_port(host: &[u8]) -> &[u8] {
    if host.first() == Some(&b'[') {
        return match host.iter().position(|&c| c == b']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    // More than one colon: a bare IPv6 address (not valid in a Host header, but seen).
    if host.iter().filter(|&&c| c == b':').count() > 1 {
        return host;
    }
    match host.iter().rposition(|&c| c == b':') {
        Some(at) if at + 1 < host.len() && host[at + 1..].iter().all(u8::is_ascii_digit) => &host[..at],
        _ => host,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_and_host() {
        let req = b"GET /index.html HTTP/1.1\r\nUser-Agent: x\r\nHOST:  www.example.com:8080 \r\n\r\n";
        assert_eq!(request(req), Request::Head { method: "GET", host: Some("www.example.com".into()) });
        assert_eq!(without_port(b"[2001:db8::1]:8080"), b"[2001:db8::1]");
        assert_eq!(
            without_port(b"2001:db8::1"),
            b"2001:db8::1".as_slice(),
            "a bare IPv6 address is not cut at its last colon"
        );
        assert_eq!(without_port(b"host:"), b"host:");
        assert_eq!(request(b"POST /x HTTP/1.0\r\n\r\n"), Request::Head { method: "POST", host: None });
        for cut in 4..req.len() - 30 {
            assert_eq!(request(&req[..cut]), Request::NeedMore, "cut {cut}");
        }
        assert_eq!(request(b"GETTING"), Request::NotHttp);
        assert_eq!(request(b"GET / SPDY/3\r\n\r\n"), Request::NotHttp);
        assert_eq!(request(&[b'G', b'E', b'T', b' ', 0xff, 0xfe]), Request::NeedMore);
    }
}
