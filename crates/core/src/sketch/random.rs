//! A counter-based generator: draw n is splitmix64(seed + n * golden). Given the seed and the
//! order of draws it is the same in every backend, with no hidden state beyond the counter.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterRng {
    seed: u64,
    counter: u64,
}

impl CounterRng {
    pub fn new(seed: u64) -> CounterRng {
        CounterRng { seed, counter: 0 }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        let mut z = self.seed.wrapping_add(self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n) by multiply-shift (n > 0).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    pub fn reset(&mut self) {
        self.counter = 0;
    }

    pub fn draws(&self) -> u64 {
        self.counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic_and_spread() {
        let mut a = CounterRng::new(7);
        let mut b = CounterRng::new(7);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut c = CounterRng::new(7);
        let below: Vec<u64> = (0..10_000).map(|_| c.below(10)).collect();
        for v in 0..10 {
            let n = below.iter().filter(|&&x| x == v).count();
            assert!((800..1200).contains(&n), "value {v} drawn {n} times");
        }
    }
}
