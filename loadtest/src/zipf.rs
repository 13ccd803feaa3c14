//! Zipf popularity over a catalog, and the small deterministic generator that drives it.
//!
//! Rank k (0-based) is drawn with probability proportional to 1/(k+1)^s: the first SKU is the
//! best seller, the tail is long. Sampling inverts a precomputed cumulative table by binary
//! search: O(log n) per draw and exact for any exponent, which a rejection sampler is not.

use crate::limits::SKUS_MAX;

#[derive(Clone, Debug)]
pub struct Zipf {
    /// cdf[k] = P(rank <= k); the last entry is 1.0 exactly.
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, exponent: f64) -> Result<Zipf, String> {
        if n == 0 || n > SKUS_MAX {
            return Err(format!("zipf needs 1..={SKUS_MAX} items, got {n}"));
        }
        if !exponent.is_finite() || exponent < 0.0 {
            return Err(format!(
                "zipf exponent {exponent} must be a finite number >= 0"
            ));
        }
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-exponent)).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        // Rounding may leave the last entry a hair below 1; pin it so every u in [0,1) lands.
        if let Some(last) = cdf.last_mut() {
            *last = 1.0;
        }
        Ok(Zipf { cdf })
    }

    pub fn len(&self) -> usize {
        self.cdf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cdf.is_empty()
    }

    /// The rank for a uniform draw `u` in [0, 1).
    pub fn rank(&self, u: f64) -> usize {
        let i = self.cdf.partition_point(|&c| c <= u);
        i.min(self.cdf.len() - 1)
    }

    pub fn sample(&self, rng: &mut SplitMix64) -> usize {
        self.rank(rng.next_f64())
    }
}

/// SplitMix64: tiny, fast and seedable, so a run's choices follow from (seed, operation index)
/// and a run can be repeated. Not for anything secret.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// A generator for one operation of a run: independent streams per index.
    pub fn for_operation(seed: u64, index: u64) -> SplitMix64 {
        let mut g = SplitMix64::new(seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
        g.next_u64();
        g
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in lo..=hi.
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        let span = hi - lo + 1;
        lo + self.next_u64() % span
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(z: &Zipf, draws: usize, seed: u64) -> Vec<usize> {
        let mut rng = SplitMix64::new(seed);
        let mut counts = vec![0usize; z.len()];
        for _ in 0..draws {
            counts[z.sample(&mut rng)] += 1;
        }
        counts
    }

    #[test]
    fn head_is_about_two_to_the_s_times_the_second() {
        let z = Zipf::new(100, 1.0).expect("valid");
        let c = histogram(&z, 200_000, 7);
        let ratio = c[0] as f64 / c[1] as f64;
        assert!((1.85..2.15).contains(&ratio), "rank0/rank1 = {ratio}");
        // Share of the top item: 1 / H(100) = 0.1928.
        let share = c[0] as f64 / 200_000.0;
        assert!((0.185..0.200).contains(&share), "top share {share}");
    }

    #[test]
    fn popularity_decreases_along_the_head() {
        let z = Zipf::new(50, 1.2).expect("valid");
        let c = histogram(&z, 200_000, 11);
        for k in 0..5 {
            assert!(
                c[k] > c[k + 1],
                "rank {k} ({}) should beat rank {} ({})",
                c[k],
                k + 1,
                c[k + 1]
            );
        }
        assert!(
            c.iter().all(|&n| n > 0) || z.len() > 1_000,
            "every SKU is drawn at least once"
        );
    }

    #[test]
    fn exponent_zero_is_uniform() {
        let z = Zipf::new(10, 0.0).expect("valid");
        let c = histogram(&z, 100_000, 3);
        for n in c {
            assert!((9_000..11_000).contains(&n), "uniform bucket {n}");
        }
    }

    #[test]
    fn ranks_stay_in_range_at_the_edges() {
        let z = Zipf::new(3, 1.0).expect("valid");
        assert_eq!(z.rank(0.0), 0);
        assert_eq!(z.rank(0.999_999_999_999), 2);
        assert_eq!(z.rank(1.0), 2);
        assert_eq!(Zipf::new(1, 2.0).expect("valid").rank(0.5), 0);
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert!(Zipf::new(0, 1.0).is_err());
        assert!(Zipf::new(SKUS_MAX + 1, 1.0).is_err());
        assert!(Zipf::new(10, -0.5).is_err());
    }

    #[test]
    fn generator_is_deterministic_and_uniform_enough() {
        let mut a = SplitMix64::for_operation(42, 9);
        let mut b = SplitMix64::for_operation(42, 9);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut g = SplitMix64::new(1);
        let mean: f64 = (0..100_000).map(|_| g.next_f64()).sum::<f64>() / 100_000.0;
        assert!((0.49..0.51).contains(&mean));
        for _ in 0..1_000 {
            let v = g.range_inclusive(1, 3);
            assert!((1..=3).contains(&v));
        }
    }
}
