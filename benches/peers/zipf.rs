//! A Zipfian key stream, hand-written and seeded so that every run and every
//! cache sees the same requests: rank `k` of `n` is drawn with probability
//! proportional to `1 / k^s`, by inverting the cumulative distribution.

/// The distribution over ranks `1..=n`.
pub(crate) struct Zipf {
    /// `cdf[i]`: the probability of a rank at most `i + 1`.
    cdf: Vec<f64>,
}

impl Zipf {
    pub(crate) fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for rank in 1..=n {
            total += (rank as f64).powf(-s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    /// The probability that a request is for one of the `k` most frequent keys:
    /// the best hit ratio a cache of `k` entries can have on this distribution.
    pub(crate) fn top_mass(&self, k: usize) -> f64 {
        self.cdf[k.min(self.cdf.len()) - 1]
    }

    /// `count` ranks drawn with the seeded generator.
    pub(crate) fn trace(&self, count: usize, seed: u64) -> Vec<u64> {
        let mut rng = SplitMix64(seed);
        (0..count)
            .map(|_| {
                let u = rng.unit();
                let index = self.cdf.partition_point(|&c| c < u);
                index.min(self.cdf.len() - 1) as u64 + 1
            })
            .collect()
    }
}

/// Steele, Lea and Flood's SplitMix64: small, fast and reproducible.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
