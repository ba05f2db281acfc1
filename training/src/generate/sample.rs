//! Small sampling helpers on top of rand 0.8 (no `rand_distr` dependency).

use rand::Rng;

/// SplitMix64 finaliser: a bijection on `u64` that scatters nearby inputs.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed for the stream `tag`/`index` derived from the user's seed.
pub(crate) fn derive_seed(seed: u64, tag: u64, index: u64) -> u64 {
    splitmix(splitmix(seed ^ tag.wrapping_mul(0xA24B_AED4_963E_E407)) ^ index)
}

/// A standard normal draw (Box–Muller).
pub(crate) fn normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = rng.r#gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A log-normal factor with median `exp(-sigma^2/2)`, i.e. mean 1.
pub(crate) fn lognormal_mean_one<R: Rng>(rng: &mut R, sigma: f64) -> f64 {
    (sigma * normal(rng) - sigma * sigma / 2.0).exp()
}

/// An index drawn with probability proportional to `weights` (all zero: index 0).
pub(crate) fn weighted<R: Rng>(rng: &mut R, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return 0;
    }
    let mut u = rng.r#gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

/// Inclusive prefix sums of `weights`, for [`pick_in`].
pub(crate) fn cumulative(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .into_iter()
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

/// An index in `range` of the prefix-sum array `cum`, drawn by the weights the range covers;
/// `None` when those weights sum to zero.
pub(crate) fn pick_in<R: Rng>(
    rng: &mut R,
    cum: &[f64],
    range: std::ops::Range<usize>,
) -> Option<usize> {
    if range.is_empty() {
        return None;
    }
    let lo = if range.start == 0 {
        0.0
    } else {
        cum[range.start - 1]
    };
    let hi = cum[range.end - 1];
    if hi <= lo {
        return None;
    }
    let u = lo + rng.r#gen::<f64>() * (hi - lo);
    let i = range.start + cum[range.clone()].partition_point(|&c| c <= u);
    Some(i.min(range.end - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn pick_in_follows_the_weights_and_skips_zero_weights() {
        let cum = cumulative([1.0, 0.0, 3.0, 0.0]);
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = [0usize; 4];
        for _ in 0..8000 {
            counts[pick_in(&mut rng, &cum, 0..4).unwrap_or(9)] += 1;
        }
        assert_eq!(counts[1] + counts[3], 0);
        let share = counts[2] as f64 / 8000.0;
        assert!((share - 0.75).abs() < 0.03, "share {share}");
        assert_eq!(pick_in(&mut rng, &cum, 3..4), None);
        assert_eq!(pick_in(&mut rng, &cum, 2..2), None);
        assert_eq!(pick_in(&mut rng, &cum, 1..3), Some(2));
    }

    #[test]
    fn lognormal_has_mean_one() {
        let mut rng = StdRng::seed_from_u64(2);
        let n = 200_000;
        let mean: f64 = (0..n)
            .map(|_| lognormal_mean_one(&mut rng, 0.8))
            .sum::<f64>()
            / n as f64;
        assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn derived_seeds_differ() {
        assert_ne!(derive_seed(1, 2, 3), derive_seed(1, 2, 4));
        assert_ne!(derive_seed(1, 2, 3), derive_seed(2, 2, 3));
        assert_ne!(derive_seed(1, 2, 3), derive_seed(1, 3, 3));
    }
}
