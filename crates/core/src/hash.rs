//! Seeded, fast, deterministic hashing for the tables.
//!
//! Keys are hashed as a few 64-bit words (multiply-rotate, as FxHash does) and finished with a
//! full avalanche so that every output bit depends on every input bit: hashbrown takes its
//! control byte from the top seven bits, which a plain multiply would leave weak.

use core::hash::{BuildHasher, Hasher};

const K: u64 = 0x517c_c1b7_2722_0a95;

#[derive(Clone, Copy, Debug)]
pub struct FlowHasher {
    state: u64,
}

impl FlowHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FlowHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.mix(v as u64);
    }

    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.mix(v as u64);
    }

    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.mix(v as u64);
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }

    #[inline]
    fn finish(&self) -> u64 {
        fmix64(self.state)
    }
}

/// MurmurHash3's 64-bit finaliser.
#[inline]
pub fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// Builds [`FlowHasher`]s that start from a configured seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowHashBuilder {
    pub seed: u64,
}

impl BuildHasher for FlowHashBuilder {
    type Hasher = FlowHasher;

    #[inline]
    fn build_hasher(&self) -> FlowHasher {
        FlowHasher { state: self.seed ^ 0x9e37_79b9_7f4a_7c15 }
    }
}

pub type FlowMap<K, V> = std::collections::HashMap<K, V, FlowHashBuilder>;

pub fn flow_map<K, V>(seed: u64) -> FlowMap<K, V> {
    std::collections::HashMap::with_hasher(FlowHashBuilder { seed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::Hash;

    fn h<T: Hash>(seed: u64, v: T) -> u64 {
        let mut s = FlowHashBuilder { seed }.build_hasher();
        v.hash(&mut s);
        s.finish()
    }

    #[test]
    fn seed_changes_hash_and_hash_is_deterministic() {
        assert_eq!(h(1, 42u64), h(1, 42u64));
        assert_ne!(h(1, 42u64), h(2, 42u64));
        assert_ne!(h(1, 42u64), h(1, 43u64));
    }

    #[test]
    fn top_bits_vary_for_sequential_keys() {
        let tops: std::collections::HashSet<u64> = (0..1000u64).map(|i| h(0, i) >> 57).collect();
        assert!(tops.len() > 100, "only {} distinct top-7-bit values", tops.len());
    }
}
