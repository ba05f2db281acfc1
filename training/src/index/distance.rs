//! The dot product and the hnsw_rs distance built on it.

use anndists::dist::Distance;

/// Dot product of two slices (over the shorter length), in chunks of 8 with 8 independent
/// accumulators so that the compiler vectorises it.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut acc = [0f32; 8];
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum = (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]);
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

/// Cosine distance `1 - a·b` for vectors that are already L2-normalised, clamped at 0
/// (rounding can push the dot of near-identical unit vectors past 1; anndists' `DistDot`
/// panics there). The type name is written into HNSW dumps and checked on reload.
#[derive(Debug, Default, Clone, Copy)]
pub struct DotDistance;

impl Distance<f32> for DotDistance {
    #[inline]
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        (1.0 - dot(va, vb)).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_sum_for_every_remainder() {
        for n in 0..20 {
            let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 2.0).collect();
            let b: Vec<f32> = (0..n).map(|i| 1.0 - i as f32 * 0.25).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "n = {n}");
        }
    }

    #[test]
    fn distance_is_clamped_at_zero() {
        let v = [1.0000001f32, 0.0];
        assert_eq!(DotDistance.eval(&v, &v), 0.0);
        assert!((DotDistance.eval(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-6);
    }
}
