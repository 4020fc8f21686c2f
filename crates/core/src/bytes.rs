//! Bounds-checked little-endian reading of the compact buffers the core decodes (sketch and
//! window snapshots): every read names what it wanted, so a damaged buffer gives an error that
//! says what, where and why instead of a panic.

pub struct LeReader<'a> {
    pub bytes: &'a [u8],
    pub pos: usize,
    /// What is being read, for messages ("Count-Min snapshot", ...).
    kind: &'static str,
}

impl<'a> LeReader<'a> {
    pub fn new(bytes: &'a [u8], kind: &'static str) -> LeReader<'a> {
        LeReader { bytes, pos: 0, kind }
    }

    /// A reader starting at `pos`.
    pub fn at(bytes: &'a [u8], pos: usize, kind: &'static str) -> LeReader<'a> {
        LeReader { bytes, pos, kind }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        match self.pos.checked_add(n).and_then(|end| self.bytes.get(self.pos..end)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(format!(
                "{} cut short at byte {}: {what} needs {n} bytes, {} left",
                self.kind,
                self.pos,
                self.remaining()
            )),
        }
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, String> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_names_what_is_missing() {
        let mut r = LeReader::new(&[1, 2, 0, 3, 0, 0, 0, 9], "test buffer");
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 2);
        assert_eq!(r.u32("c").unwrap(), 3);
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.u64("d").unwrap_err(), "test buffer cut short at byte 7: d needs 8 bytes, 1 left");
        assert_eq!(r.pos, 7, "a failed read consumes nothing");
        assert!(LeReader::at(&[0; 4], 9, "x").take(1, "e").is_err(), "a position past the end");
        assert!(LeReader::new(&[0; 4], "x").take(usize::MAX, "f").is_err(), "no overflow");
    }
}
