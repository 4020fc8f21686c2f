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

/// ceil(2^64 / width), wrapping to 0 for width 1: the constant of [`reduce`].
pub fn width_magic(width: u32) -> u64 {
    (u64::MAX / width.max(1) as u64).wrapping_add(1)
}

/// `x % width` without a division (a division per row dominated sketch updates): Lemire, Kaser
/// & Kurz, "Faster remainder by direct computation" (2019), exact for every 32-bit x and width.
#[inline(always)]
pub fn reduce(x: u32, width: u32, magic: u64) -> usize {
    let low = magic.wrapping_mul(x as u64);
    ((low as u128 * width as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::Hash;

    fn h<T: Hash>(seed: u64, v: T) -> u64 {
        FlowHashBuilder { seed }.hash_one(v)
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

/// MurmurHash3 x86_32: the portable hash of the sketches. Every backend (Rust, wasm,
/// TypeScript) computes it with 32-bit operations only, so sketches built anywhere with the same
/// seed are identical and merge by addition.
pub fn murmur3_32(seed: u32, data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut blocks = data.chunks_exact(4);
    for b in &mut blocks {
        let mut k = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, &b) in tail.iter().enumerate() {
            k |= (b as u32) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= data.len() as u32;
    fmix32(h)
}

/// MurmurHash3's 32-bit finaliser.
#[inline]
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// The 32-bit seed of sketch row `row` (or of any numbered use), derived from the 64-bit
/// configured seed: the same in every engine, so sketches can be merged and reproduced.
pub fn derived_seed(seed: u64, row: u32) -> u32 {
    let lo = seed as u32;
    let hi = (seed >> 32) as u32;
    fmix32(lo ^ fmix32(hi ^ fmix32(row.wrapping_add(0x9e37_79b9))))
}

#[cfg(test)]
mod murmur_tests {
    use super::*;

    #[test]
    fn murmur3_matches_reference_vectors() {
        // Published MurmurHash3_x86_32 test vectors.
        assert_eq!(murmur3_32(0, b""), 0);
        assert_eq!(murmur3_32(1, b""), 0x514e_28b7);
        assert_eq!(murmur3_32(0xffff_ffff, b""), 0x81f1_6f39);
        assert_eq!(murmur3_32(0, &[0xff, 0xff, 0xff, 0xff]), 0x7629_3b50);
        assert_eq!(murmur3_32(0, &[0x21, 0x43, 0x65, 0x87]), 0xf55b_516b);
        assert_eq!(murmur3_32(0x5082_edee, &[0x21, 0x43, 0x65, 0x87]), 0x2362_f9de);
        assert_eq!(murmur3_32(0, &[0x21, 0x43, 0x65]), 0x7e4a_8634);
        assert_eq!(murmur3_32(0, &[0x21, 0x43]), 0xa0f7_b07a);
        assert_eq!(murmur3_32(0, &[0x21]), 0x7266_1cf4);
        assert_eq!(murmur3_32(0x9747_b28c, b"Hello, world!"), 0x2488_4cba);
    }

    #[test]
    fn derived_seeds_differ_per_row_and_seed() {
        let rows: std::collections::HashSet<u32> = (0..64).map(|r| derived_seed(42, r)).collect();
        assert_eq!(rows.len(), 64);
        assert_ne!(derived_seed(1, 0), derived_seed(2, 0));
    }
}
