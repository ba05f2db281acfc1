//! Recall of an approximate index against exact search.

use super::VectorIndex;
use super::brute::BruteForce;
use rand::SeedableRng;
use rand::seq::index::sample;

/// Mean recall@k of `index` against `exact` over `queries` (rows of the indexed data used as
/// queries). The query row itself is excluded from both result lists; a query whose exact
/// list is empty does not count. Returns 1.0 when no query counts.
pub fn recall_at_k(
    index: &dyn VectorIndex,
    exact: &BruteForce,
    queries: &[usize],
    k: usize,
) -> f64 {
    let (mut sum, mut counted) = (0.0, 0usize);
    for &q in queries {
        if q >= exact.len() || !exact.is_nonzero(q) {
            continue;
        }
        let query = exact.row(q);
        // Ask for one more and drop the query row: an unfiltered search, as served.
        let without_self = |mut found: Vec<(u32, f32)>| {
            found.retain(|&(r, _)| r as usize != q);
            found.truncate(k);
            found
        };
        let truth = without_self(exact.search(query, k + 1, None));
        if truth.is_empty() {
            continue;
        }
        let got = without_self(index.search(query, k + 1, None));
        let hits = got
            .iter()
            .filter(|(r, _)| truth.iter().any(|(t, _)| t == r))
            .count();
        sum += hits as f64 / truth.len() as f64;
        counted += 1;
    }
    if counted == 0 {
        1.0
    } else {
        sum / counted as f64
    }
}

/// `count` distinct rows out of `0..n` (all of them when `count >= n`), sorted, drawn with
/// a seeded RNG so that recorded recall is reproducible.
pub fn sample_rows(n: usize, count: usize, seed: u64) -> Vec<usize> {
    if count >= n {
        return (0..n).collect();
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut rows = sample(&mut rng, n, count).into_vec();
    rows.sort_unstable();
    rows
}
