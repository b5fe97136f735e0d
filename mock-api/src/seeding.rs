//! How the mock turns its one seed into independent, reproducible streams: FNV-1a hashes
//! names (a route, a ticker, a day) into numbers, and SplitMix64's finaliser mixes them
//! with the seed and a counter into the seed of a small RNG. Every seeded choice (a
//! request's latency and failure, a job's outcome, the seed data, the market) goes
//! through these two, so one `--seed` reproduces a run.

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
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
