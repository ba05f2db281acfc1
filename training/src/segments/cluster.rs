//! KMeans over the weighted profiles, with k chosen by silhouette on a sample.

use super::{SegmentError, SegmentParams};
use crate::progress::Progress;
use linfa::DatasetBase;
use linfa::traits::{Fit, Predict};
use linfa_clustering::KMeans;
use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample;

/// The chosen clustering.
#[derive(Debug, Clone)]
pub struct Clustering {
    pub k: usize,
    pub silhouette: f64,
    /// Cluster of every row.
    pub labels: Vec<u32>,
    /// Silhouette of every k tried, for the report.
    pub scores: Vec<(usize, f64)>,
}

/// Up to `count` distinct rows of `0..n`, sorted, drawn with `seed`.
fn sample_rows(n: usize, count: usize, seed: u64) -> Vec<usize> {
    if count >= n {
        return (0..n).collect();
    }
    let mut rows = sample(&mut StdRng::seed_from_u64(seed), n, count).into_vec();
    rows.sort_unstable();
    rows
}

/// Fits KMeans for every k of the range and keeps the one with the best silhouette
/// (the smaller k on a tie). KMeans is fitted on up to `params.fit_sample` rows and
/// every row is then assigned to its nearest centroid.
pub fn choose_k(
    x: &Array2<f64>,
    params: &SegmentParams,
    progress: Progress,
) -> Result<Clustering, SegmentError> {
    let n = x.nrows();
    let k_max = params.k_max.min(n.saturating_sub(1));
    if n < 2 || k_max < params.k_min {
        return Err(SegmentError::TooFewUsers {
            users: n,
            k_min: params.k_min,
        });
    }
    let fit_rows = sample_rows(n, params.fit_sample, params.seed);
    let fit_x = x.select(Axis(0), &fit_rows);
    let sil_rows = sample_rows(n, params.sample, params.seed ^ 0x5151);
    let sil_x = x.select(Axis(0), &sil_rows);
    let distances = pairwise_distances(&sil_x);
    let bar = progress.bar((k_max - params.k_min + 1) as u64, "segments: choosing k");
    let mut best: Option<Clustering> = None;
    let mut scores = Vec::new();
    for k in params.k_min..=k_max {
        let rng = StdRng::seed_from_u64(params.seed.wrapping_add(k as u64));
        let model = KMeans::params_with_rng(k, rng)
            .max_n_iterations(params.max_iter)
            .n_runs(params.n_runs)
            .tolerance(1e-5)
            .fit(&DatasetBase::from(fit_x.clone()))
            .map_err(|e| SegmentError::Clustering {
                k,
                message: e.to_string(),
            })?;
        let sil_labels: Vec<u32> = model.predict(&sil_x).iter().map(|&l| l as u32).collect();
        let score = silhouette(&distances, &sil_labels, k);
        scores.push((k, score));
        bar.inc(1);
        if best.as_ref().is_none_or(|b| score > b.silhouette + 1e-9) {
            let labels = model.predict(x).iter().map(|&l| l as u32).collect();
            best = Some(Clustering {
                k,
                silhouette: score,
                labels,
                scores: Vec::new(),
            });
        }
    }
    bar.finish_and_clear();
    let mut best = best.ok_or(SegmentError::TooFewUsers {
        users: n,
        k_min: params.k_min,
    })?;
    best.scores = scores;
    Ok(best)
}

/// Euclidean distances between all rows (a row-major `n × n` matrix).
fn pairwise_distances(x: &Array2<f64>) -> Vec<f64> {
    let n = x.nrows();
    let mut d = vec![0.0; n * n];
    for i in 0..n {
        for j in (i + 1)..n {
            let dist = x
                .row(i)
                .iter()
                .zip(x.row(j).iter())
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            d[i * n + j] = dist;
            d[j * n + i] = dist;
        }
    }
    d
}

/// Mean silhouette of a labelling given all pairwise distances (rows in singleton clusters
/// score 0, as in scikit-learn).
pub fn silhouette(distances: &[f64], labels: &[u32], k: usize) -> f64 {
    let n = labels.len();
    if n < 2 || k < 2 {
        return 0.0;
    }
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l as usize] += 1;
    }
    let mut total = 0.0;
    let mut sums = vec![0.0; k];
    for i in 0..n {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for j in 0..n {
            sums[labels[j] as usize] += distances[i * n + j];
        }
        let own = labels[i] as usize;
        if sizes[own] < 2 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && sizes[c] > 0)
            .map(|c| sums[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / n as f64
}

/// The adjusted Rand index of two labellings of the same items (1 for identical partitions
/// up to renaming, about 0 for independent ones). Returns 1.0 for fewer than two items and
/// when both labellings are a single cluster.
pub fn adjusted_rand_index(a: &[u32], b: &[u32]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return 1.0;
    }
    let mut table: std::collections::HashMap<(u32, u32), u64> = std::collections::HashMap::new();
    let mut rows: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
    let mut cols: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
    for i in 0..n {
        *table.entry((a[i], b[i])).or_default() += 1;
        *rows.entry(a[i]).or_default() += 1;
        *cols.entry(b[i]).or_default() += 1;
    }
    let pairs = |c: u64| (c * c.saturating_sub(1)) as f64 / 2.0;
    let index: f64 = table.values().map(|&c| pairs(c)).sum();
    let sum_a: f64 = rows.values().map(|&c| pairs(c)).sum();
    let sum_b: f64 = cols.values().map(|&c| pairs(c)).sum();
    let expected = sum_a * sum_b / pairs(n as u64);
    let max = (sum_a + sum_b) / 2.0;
    if (max - expected).abs() < 1e-12 {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silhouette_of_two_tight_pairs_is_high() {
        // Points 0, 0.1 and 10, 10.1 on a line.
        let x = ndarray::arr2(&[[0.0], [0.1], [10.0], [10.1]]);
        let d = pairwise_distances(&x);
        let s = silhouette(&d, &[0, 0, 1, 1], 2);
        // a = 0.1, b ≈ 10 for every point: s = 1 - 0.1/10.0x ≈ 0.99.
        assert!(s > 0.98 && s < 1.0, "{s}");
        assert!(silhouette(&d, &[0, 1, 0, 1], 2) < 0.0);
    }
}
