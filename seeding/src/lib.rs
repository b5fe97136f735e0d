//! How the workspace turns one seed into independent, reproducible streams, in one place
//! that mock-api, loadgen and the harness all reach (a leaf crate with no dependencies,
//! so none of them depends on another for it): FNV-1a hashes names (a route, a ticker,
//! a day) into numbers, SplitMix64's finaliser mixes them with the seed and a counter
//! into the seed of a small RNG, and [`SplitMix64`] is the generator itself where a few
//! draws need no RNG crate. Every seeded choice goes through these, so one `--seed`
//! reproduces a run.

#![warn(missing_docs, unreachable_pub)]

/// SplitMix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// FNV-1a over the parts, separated so ("AB","C") and ("A","BC") differ. Stable across
/// Rust versions, unlike `DefaultHasher`.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(std::iter::once(&0xff)) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// SplitMix64 finaliser: turns a weak seed into well-mixed bits.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The SplitMix64 generator: a seeded stream of 64-bit numbers.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The stream of `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let out = mix64(self.0);
        self.0 = self.0.wrapping_add(GAMMA);
        out
    }

    /// A uniform draw in (0, 1] from 53 random bits (never 0, so its logarithm is finite).
    pub fn next_f64(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix64_matches_the_reference_splitmix64() {
        // The first outputs of Vigna's splitmix64.c seeded with 0.
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(g.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(mix64(0), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn fnv1a_separates_parts_and_matches_the_reference() {
        assert_ne!(fnv1a(&[b"AB", b"C"]), fnv1a(&[b"A", b"BC"]));
        // FNV-1a 64 of the empty input is its offset basis; here one separator byte.
        let mut want: u64 = 0xcbf2_9ce4_8422_2325;
        want ^= 0xff;
        want = want.wrapping_mul(0x0000_0100_0000_01b3);
        assert_eq!(fnv1a(&[b""]), want);
    }

    #[test]
    fn uniform_draws_stay_in_the_half_open_interval() {
        let mut g = SplitMix64::new(7);
        for _ in 0..10_000 {
            let u = g.next_f64();
            assert!(u > 0.0 && u <= 1.0, "{u}");
        }
    }
}
