//! A tiny seeded PRNG (SplitMix64).
//!
//! Why not an external crate: generated captures are committed to the
//! repository and compared byte for byte, so the random stream must never
//! change under us because a dependency changed its algorithm. SplitMix64 is
//! a dozen lines, passes common statistical test batteries well enough for
//! traffic synthesis, and any 64-bit seed (including 0) is valid.
//! It is not cryptographically secure and must not be used as such.

/// Golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// Finalising mix function of SplitMix64: a bijective 64-bit hash.
///
/// Useful on its own to derive stable values (ISNs, MAC addresses…) from
/// other values without carrying a generator around.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Deterministic pseudo-random generator (SplitMix64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// Creates a generator; the same seed always yields the same sequence.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix64(self.state)
    }

    /// Next 32 random bits (the high half of [`Rng::next_u64`]).
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform value in `0..n`; returns 0 when `n` is 0.
    ///
    /// Uses the widening-multiply method; its bias is below 2^-32 for every
    /// `n` used in traffic synthesis, which is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform value in `lo..hi` (half open); returns `lo` when the range is empty.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo)
    }

    /// True with probability `num / den` (false when `den` is 0).
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        den != 0 && self.below(den) < num
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    /// A new independent generator derived from this one and a stream label.
    ///
    /// Advances `self` by one step, so successive forks differ even with the
    /// same label.
    pub fn fork(&mut self, label: u64) -> Rng {
        Rng::new(mix64(self.next_u64() ^ mix64(label)))
    }

    /// Picks an element of `items` uniformly; `None` if it is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let idx = self.below(items.len() as u64) as usize;
        items.get(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = Rng::new(43);
        assert_ne!(Rng::new(42).next_u64(), c.next_u64());
    }

    #[test]
    fn known_splitmix64_values() {
        // Reference values of SplitMix64 seeded with 0 (first outputs of the
        // published algorithm), pinning the stream forever.
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(r.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn below_and_range_stay_in_bounds() {
        let mut r = Rng::new(7);
        assert_eq!(r.below(0), 0);
        assert_eq!(r.range(5, 5), 5);
        let mut seen = [false; 10];
        for _ in 0..10_000 {
            let v = r.below(10);
            assert!(v < 10);
            seen[v as usize] = true;
            let w = r.range(100, 103);
            assert!((100..103).contains(&w));
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn chance_extremes() {
        let mut r = Rng::new(1);
        for _ in 0..100 {
            assert!(!r.chance(0, 10));
            assert!(r.chance(10, 10));
            assert!(!r.chance(1, 0));
        }
    }

    #[test]
    fn fill_is_deterministic_and_covers_tail() {
        let mut a = [0u8; 13];
        let mut b = [0u8; 13];
        Rng::new(9).fill(&mut a);
        Rng::new(9).fill(&mut b);
        assert_eq!(a, b);
        assert!(a[8..].iter().any(|&x| x != 0));
    }

    #[test]
    fn forks_differ() {
        let mut r = Rng::new(3);
        let mut f1 = r.fork(1);
        let mut f2 = r.fork(1);
        assert_ne!(f1.next_u64(), f2.next_u64());
        assert!(Rng::new(5).pick::<u8>(&[]).is_none());
        assert_eq!(Rng::new(5).pick(&[9]), Some(&9));
    }
}
