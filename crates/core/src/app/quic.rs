//! QUIC Initial packets from the client (RFC 9000 section 17.2.2, RFC 9001 section 5; version 2:
//! RFC 9369): the Initial keys are derived from the Destination Connection ID on the wire, so a
//! passive reader can remove header protection, decrypt the payload, and gather the CRYPTO
//! frames that carry the TLS ClientHello. Versions 1 and 2 are read; others are named QUIC only.

use super::crypto::{gcm_keystream_xor, hkdf_expand_label, hkdf_extract, Aes128};

pub const V1: u32 = 0x0000_0001;
pub const V2: u32 = 0x6b33_43cf;
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f,
    0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e,
    0xd9,
];

/// Most ClientHello bytes gathered from CRYPTO frames.
pub const MAX_CRYPTO: usize = 16 * 1024;

/// A long header of version 1 or 2 (the first byte's two high bits set).
pub fn is_long_header(p: &[u8]) -> bool {
    p.len() >= 7 && p[0] & 0xc0 == 0xc0 && matches!(version(p), V1 | V2)
}

fn version(p: &[u8]) -> u32 {
    u32::from_be_bytes([p[1], p[2], p[3], p[4]])
}

/// The client's Initial keys of a connection.
pub struct InitialKeys {
    aes: Aes128,
    iv: [u8; 12],
    hp: Aes128,
}

impl InitialKeys {
    pub fn client(version: u32, dcid: &[u8]) -> InitialKeys {
        let (salt, prefix) = if version == V2 { (&SALT_V2, "quicv2") } else { (&SALT_V1, "quic") };
        let initial = hkdf_extract(salt, dcid);
        let mut secret = [0u8; 32];
        hkdf_expand_label(&initial, "client in", &mut secret);
        let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
        hkdf_expand_label(&secret, &format!("{prefix} key"), &mut key);
        hkdf_expand_label(&secret, &format!("{prefix} iv"), &mut iv);
        hkdf_expand_label(&secret, &format!("{prefix} hp"), &mut hp);
        InitialKeys { aes: Aes128::new(&key), iv, hp: Aes128::new(&hp) }
    }
}

/// A variable-length integer (RFC 9000 section 16) at `*at`.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let first = *b.get(*at)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(*at..*at + len)?;
    let mut v = (first & 0x3f) as u64;
    for &x in &bytes[1..] {
        v = v << 8 | x as u64;
    }
    *at += len;
    Some(v)
}

/// The ClientHello bytes gathered so far from a connection's Initial packets.
#[derive(Clone, Debug, Default)]
pub struct Crypto {
    bytes: Vec<u8>,
    /// Byte ranges of `bytes` filled (CRYPTO frames come in any order).
    filled: Vec<(usize, usize)>,
}

impl Crypto {
    /// The bytes from offset 0 with no gap.
    pub fn contiguous(&self) -> &[u8] {
        let mut end = 0;
        let mut ranges = self.filled.clone();
        ranges.sort_unstable();
        for (s, e) in ranges {
            if s > end {
                break;
            }
            end = end.max(e);
        }
        &self.bytes[..end]
    }

    fn add(&mut self, offset: usize, data: &[u8]) -> Result<(), &'static str> {
        let end = offset + data.len();
        if end > MAX_CRYPTO {
            return Err("CRYPTO data past 16 KiB");
        }
        if self.bytes.len() < end {
            self.bytes.resize(end, 0);
        }
        self.bytes[offset..end].copy_from_slice(data);
        self.filled.push((offset, end));
        Ok(())
    }
}

/// Reads the client Initial packets of a UDP datagram into `crypto`. Err: why the datagram is
/// not a readable Initial (other long-header types, e.g. 0-RTT or Handshake, are skipped).
pub fn read_initials(datagram: &[u8], crypto: &mut Crypto) -> Result<(), &'static str> {
    let mut rest = datagram;
    let mut read = false;
    while is_long_header(rest) {
        let v = version(rest);
        let kind = (rest[0] >> 4) & 0x03;
        let initial = if v == V2 { 0b01 } else { 0b00 };
        let mut at = 5;
        let dcid_len = rest[at] as usize;
        if dcid_len > 20 {
            return Err("connection id longer than 20 bytes");
        }
        let dcid = rest.get(at + 1..at + 1 + dcid_len).ok_or("cut in the destination connection id")?;
        at += 1 + dcid_len;
        let scid_len = *rest.get(at).ok_or("cut in the source connection id")? as usize;
        at += 1 + scid_len;
        if kind == initial {
            let token = varint(rest, &mut at).ok_or("cut in the token length")? as usize;
            at += token;
        }
        let length = varint(rest, &mut at).ok_or("cut in the length")? as usize;
        let end = at.checked_add(length).filter(|&e| e <= rest.len()).ok_or("packet length past the datagram")?;
        if kind == initial {
            let keys = InitialKeys::client(v, dcid);
            let mut packet = rest[..end].to_vec();
            decrypt(&keys, &mut packet, at)?;
            read = true;
            frames(&packet[at..], crypto)?;
        }
        rest = &rest[end..];
    }
    if read {
        Ok(())
    } else {
        Err("no Initial packet")
    }
}

/// Removes header protection and decrypts the packet whose packet number starts at `pn_at`;
/// afterwards `packet[pn_at..]` holds the plaintext frames (the packet number and tag removed).
fn decrypt(keys: &InitialKeys, packet: &mut Vec<u8>, pn_at: usize) -> Result<(), &'static str> {
    let sample: [u8; 16] =
        packet.get(pn_at + 4..pn_at + 20).ok_or("too short for the header protection sample")?.try_into().unwrap();
    let mut mask = sample;
    keys.hp.encrypt_block(&mut mask);
    packet[0] ^= mask[0] & 0x0f;
    let pn_len = (packet[0] & 0x03) as usize + 1;
    let mut nonce = keys.iv;
    for i in 0..pn_len {
        packet[pn_at + i] ^= mask[1 + i];
        nonce[12 - pn_len + i] ^= packet[pn_at + i];
    }
    let body = pn_at + pn_len;
    if packet.len() < body + 16 {
        return Err("shorter than its authentication tag");
    }
    let tag_at = packet.len() - 16;
    gcm_keystream_xor(&keys.aes, &nonce, &mut packet[body..tag_at]);
    packet.truncate(tag_at);
    packet.drain(pn_at..body);
    Ok(())
}

/// The frames of a decrypted Initial: CRYPTO data into `crypto`; PADDING, PING, ACK and
/// CONNECTION_CLOSE skipped; any other frame is not allowed in an Initial.
fn frames(mut p: &[u8], crypto: &mut Crypto) -> Result<(), &'static str> {
    while !p.is_empty() {
        let mut at = 0;
        let kind = varint(p, &mut at).ok_or("cut in a frame type")?;
        match kind {
            0x00 | 0x01 => {}
            0x02 | 0x03 => {
                let _largest = varint(p, &mut at).ok_or("cut ACK frame")?;
                let _delay = varint(p, &mut at).ok_or("cut ACK frame")?;
                let ranges = varint(p, &mut at).ok_or("cut ACK frame")?;
                let _first = varint(p, &mut at).ok_or("cut ACK frame")?;
                for _ in 0..ranges.min(256) {
                    varint(p, &mut at).ok_or("cut ACK frame")?;
                    varint(p, &mut at).ok_or("cut ACK frame")?;
                }
                if kind == 0x03 {
                    for _ in 0..3 {
                        varint(p, &mut at).ok_or("cut ACK frame")?;
                    }
                }
            }
            0x06 => {
                let offset = varint(p, &mut at).ok_or("cut CRYPTO frame")? as usize;
                let len = varint(p, &mut at).ok_or("cut CRYPTO frame")? as usize;
                let data = p.get(at..at + len).ok_or("CRYPTO frame past the packet")?;
                crypto.add(offset, data)?;
                at += len;
            }
            0x1c => {
                varint(p, &mut at).ok_or("cut CONNECTION_CLOSE")?;
                varint(p, &mut at).ok_or("cut CONNECTION_CLOSE")?;
                let reason = varint(p, &mut at).ok_or("cut CONNECTION_CLOSE")? as usize;
                at = at.checked_add(reason).filter(|&e| e <= p.len()).ok_or("CONNECTION_CLOSE past the packet")?;
            }
            _ => return Err("a frame type an Initial packet cannot carry (not decrypted right)"),
        }
        p = &p[at..];
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 9001 appendix A.1: the client's Initial keys for DCID 0x8394c8f03e515708.
    #[test]
    fn initial_keys_match_rfc_9001() {
        let dcid = hex("8394c8f03e515708");
        let initial = hkdf_extract(&SALT_V1, &dcid);
        assert_eq!(initial.to_vec(), hex("7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44"));
        let mut secret = [0u8; 32];
        hkdf_expand_label(&initial, "client in", &mut secret);
        assert_eq!(secret.to_vec(), hex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"));
        let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
        hkdf_expand_label(&secret, "quic key", &mut key);
        hkdf_expand_label(&secret, "quic iv", &mut iv);
        hkdf_expand_label(&secret, "quic hp", &mut hp);
        assert_eq!(key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
    }

    /// A client Initial of `version` carrying `frames`, sealed as a client would (the tag is
    /// zeros: readers do not check it). Packet number 1, two bytes.
    pub(crate) fn initial(version: u32, dcid: &[u8], frames: &[u8]) -> Vec<u8> {
        let keys = InitialKeys::client(version, dcid);
        let kind = if version == V2 { 0b01 } else { 0b00 };
        let mut p = vec![0xc0 | kind << 4 | 0x01];
        p.extend_from_slice(&version.to_be_bytes());
        p.push(dcid.len() as u8);
        p.extend_from_slice(dcid);
        p.extend_from_slice(&[0, 0]); // no source connection id, no token
        let length = 2 + frames.len() + 16;
        p.extend_from_slice(&(0x4000 | length as u16).to_be_bytes());
        let pn_at = p.len();
        p.extend_from_slice(&[0, 1]);
        let mut body = frames.to_vec();
        let mut nonce = keys.iv;
        nonce[11] ^= 1;
        gcm_keystream_xor(&keys.aes, &nonce, &mut body);
        p.extend_from_slice(&body);
        p.extend_from_slice(&[0; 16]);
        let mut mask: [u8; 16] = p[pn_at + 4..pn_at + 20].try_into().unwrap();
        keys.hp.encrypt_block(&mut mask);
        p[0] ^= mask[0] & 0x0f;
        p[pn_at] ^= mask[1];
        p[pn_at + 1] ^= mask[2];
        p
    }

    /// A CRYPTO frame.
    pub(crate) fn crypto_frame(offset: usize, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06, 0x80 | (offset >> 24) as u8, (offset >> 16) as u8, (offset >> 8) as u8, offset as u8];
        f.extend_from_slice(&[0x40 | (data.len() >> 8) as u8, data.len() as u8]);
        f.extend_from_slice(data);
        f
    }

    #[test]
    fn a_client_hello_in_crypto_frames_out_of_order_over_two_initials() {
        let hello = crate::app::tls::tests::hello_message("quic.example.org", &["h3"], 1500);
        for version in [V1, V2] {
            let (a, b) = hello.split_at(700);
            let (b, c) = b.split_at(400);
            let mut first = crypto_frame(700, b);
            first.extend_from_slice(&[0x01, 0x00, 0x00]); // PING, PADDING
            first.extend_from_slice(&crypto_frame(0, a));
            let mut crypto = Crypto::default();
            read_initials(&initial(version, &[9, 8, 7, 6, 5, 4, 3, 2], &first), &mut crypto).unwrap();
            assert_eq!(crypto.contiguous().len(), 1100);
            read_initials(&initial(version, &[9, 8, 7, 6, 5, 4, 3, 2], &crypto_frame(1100, c)), &mut crypto).unwrap();
            assert_eq!(crypto.contiguous(), &hello[..]);
        }
    }

    #[test]
    fn garbage_is_refused_never_a_panic() {
        let mut crypto = Crypto::default();
        let mut p = vec![0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x41, 0x00];
        p.extend(std::iter::repeat(0x5a).take(300));
        let _ = read_initials(&p, &mut crypto);
        for cut in 0..p.len() {
            let _ = read_initials(&p[..cut], &mut crypto);
        }
        assert_eq!(read_initials(b"\x40\x00", &mut crypto), Err("no Initial packet"));
    }
}
