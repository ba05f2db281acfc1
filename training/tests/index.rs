//! The HNSW index against exact search: recall on realistic low-rank vectors, filters,
//! persistence, and the edge cases (zero rows, k > n, empty index).
#![allow(clippy::unwrap_used)]

use kindred_training::index::{
    BruteForce, HnswIndex, HnswParams, HnswParamsError, VectorIndex, dot, recall_at_k, sample_rows,
};
use ndarray::Array2;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::OnceLock;

/// `n × dim` vectors made from `factors` latent factors plus noise, like learned embeddings:
/// rows belong to one of `clusters` taste centres, with a spread of norms (popularity).
fn low_rank(
    n: usize,
    dim: usize,
    factors: usize,
    clusters: usize,
    noise: f32,
    seed: u64,
) -> Array2<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut normal = move || -> f32 {
        // Box–Muller
        let u1: f32 = rng.r#gen::<f32>().max(1e-7);
        let u2: f32 = rng.r#gen();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    };
    let mixing: Vec<f32> = (0..factors * dim).map(|_| normal()).collect();
    let centres: Vec<f32> = (0..clusters * factors).map(|_| normal()).collect();
    let mut out = Array2::<f32>::zeros((n, dim));
    for r in 0..n {
        let c = r % clusters;
        let latent: Vec<f32> = (0..factors)
            .map(|f| centres[c * factors + f] + 0.7 * normal())
            .collect();
        let scale = 0.2 + 2.0 * (normal().abs());
        for d in 0..dim {
            let mut v = 0.0;
            for f in 0..factors {
                v += latent[f] * mixing[f * dim + d];
            }
            out[[r, d]] = scale * (v + noise * normal());
        }
    }
    out
}

struct Fixture {
    vectors: Array2<f32>,
    exact: BruteForce,
    hnsw: HnswIndex,
}

fn items() -> &'static Fixture {
    static ITEMS: OnceLock<Fixture> = OnceLock::new();
    ITEMS.get_or_init(|| {
        let vectors = low_rank(20_000, 64, 16, 40, 0.3, 1);
        let exact = BruteForce::new(&vectors);
        // Every filter that is not too narrow walks the graph (no exact scan of small sets),
        // so that the filtered tests exercise hnsw_rs's `search_filter`.
        let params = HnswParams {
            exact_scan_rows: 0,
            ..HnswParams::default()
        };
        let hnsw = HnswIndex::build(&vectors, params).unwrap();
        Fixture {
            vectors,
            exact,
            hnsw,
        }
    })
}

#[test]
fn hnsw_recall_on_item_like_vectors() {
    let f = items();
    let queries = sample_rows(f.vectors.nrows(), 400, 11);
    let recall = recall_at_k(&f.hnsw, &f.exact, &queries, 10);
    assert!(recall >= 0.95, "item recall@10 = {recall}");
}

#[test]
fn hnsw_recall_on_customer_like_vectors() {
    // Customers: fewer, broader tastes (more noise relative to the factors).
    let vectors = low_rank(12_000, 64, 16, 12, 0.6, 2);
    let exact = BruteForce::new(&vectors);
    let hnsw = HnswIndex::build(&vectors, HnswParams::default()).unwrap();
    let queries = sample_rows(vectors.nrows(), 400, 12);
    let recall = recall_at_k(&hnsw, &exact, &queries, 10);
    assert!(recall >= 0.95, "customer recall@10 = {recall}");
}

#[test]
fn filtered_search_returns_k_allowed_rows_that_agree_with_exact() {
    let f = items();
    let allowed = |r: usize| r.is_multiple_of(5);
    let mut agree = 0usize;
    let queries = sample_rows(f.vectors.nrows(), 100, 13);
    for &q in &queries {
        let query = f.vectors.row(q).to_vec();
        let got = f.hnsw.search(&query, 10, Some(&allowed));
        let truth = f.exact.search(&query, 10, Some(&allowed));
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|&(r, _)| allowed(r as usize)), "{got:?}");
        assert!(
            got.windows(2).all(|w| w[0].1 >= w[1].1),
            "not best first: {got:?}"
        );
        agree += got
            .iter()
            .filter(|(r, _)| truth.iter().any(|(t, _)| t == r))
            .count();
    }
    let recall = agree as f64 / (10 * queries.len()) as f64;
    assert!(recall >= 0.95, "filtered recall@10 = {recall}");
}

#[test]
fn narrow_filter_falls_back_to_exact_and_still_returns_k() {
    let f = items();
    // 0.5% of the rows: a graph walk would rarely find 10 of them.
    let allowed = |r: usize| r % 200 == 7;
    for q in [0usize, 123, 19_999] {
        let query = f.vectors.row(q).to_vec();
        let got = f.hnsw.search(&query, 10, Some(&allowed));
        let truth = f.exact.search(&query, 10, Some(&allowed));
        assert_eq!(got, truth);
        assert_eq!(got.len(), 10);
    }
    // Fewer allowed rows than k: all of them.
    let three = |r: usize| r == 5 || r == 500 || r == 5_000;
    let got = f.hnsw.search(&f.vectors.row(1).to_vec(), 10, Some(&three));
    let mut rows: Vec<u32> = got.iter().map(|g| g.0).collect();
    rows.sort_unstable();
    assert_eq!(rows, vec![5, 500, 5_000]);
}

#[test]
fn self_query_finds_itself_first_with_similarity_one() {
    let f = items();
    for q in [3usize, 4_242, 17_001] {
        let got = f.hnsw.search(&f.vectors.row(q).to_vec(), 5, None);
        assert_eq!(got[0].0 as usize, q);
        assert!((got[0].1 - 1.0).abs() < 1e-4, "{got:?}");
    }
}

#[test]
fn save_then_load_gives_identical_results() {
    let vectors = low_rank(3_000, 32, 8, 10, 0.3, 3);
    let built = HnswIndex::build(&vectors, HnswParams::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let basename = built.save(dir.path(), "items").unwrap();
    assert!(dir.path().join(format!("{basename}.hnsw.graph")).is_file());
    let loaded = HnswIndex::load(
        dir.path(),
        &basename,
        vectors.clone(),
        HnswParams::default(),
    )
    .unwrap();
    assert_eq!(loaded.len(), 3_000);
    assert_eq!(loaded.dim(), 32);
    let odd = |r: usize| r % 2 == 1;
    let exact = BruteForce::new(&vectors);
    for q in sample_rows(3_000, 50, 4) {
        let query = vectors.row(q).to_vec();
        assert_eq!(
            built.search(&query, 10, None),
            loaded.search(&query, 10, None)
        );
        // 1,500 allowed rows are below `exact_scan_rows`: an exact scan.
        let filtered = loaded.search(&query, 10, Some(&odd));
        assert_eq!(filtered, exact.search(&query, 10, Some(&odd)));
        assert_eq!(built.search(&query, 10, Some(&odd)), filtered);
    }
    // Embeddings that do not match the dump are refused.
    let other = low_rank(2_000, 32, 8, 10, 0.3, 3);
    let err = HnswIndex::load(dir.path(), &basename, other, HnswParams::default()).unwrap_err();
    assert!(err.to_string().contains("2000 × 32"), "{err}");
    let missing = HnswIndex::load(dir.path(), "nope", vectors, HnswParams::default()).unwrap_err();
    assert!(missing.to_string().contains("nope.hnsw.graph"), "{missing}");
}

#[test]
fn index_is_shareable_across_threads() {
    fn assert_shareable<T: Send + Sync + 'static>() {}
    assert_shareable::<HnswIndex>();
    assert_shareable::<BruteForce>();
}

#[test]
fn zero_rows_are_returned_only_when_nothing_else_exists() {
    let mut vectors = Array2::<f32>::zeros((6, 4));
    vectors
        .row_mut(1)
        .assign(&ndarray::arr1(&[1.0, 0.0, 0.0, 0.0]));
    vectors
        .row_mut(3)
        .assign(&ndarray::arr1(&[0.0, 2.0, 0.0, 0.0]));
    vectors
        .row_mut(4)
        .assign(&ndarray::arr1(&[f32::NAN, 1.0, 0.0, 0.0]));
    let exact = BruteForce::new(&vectors);
    let hnsw = HnswIndex::build(&vectors, HnswParams::default()).unwrap();
    let q = [1.0, 1.0, 0.0, 0.0];
    for index in [&exact as &dyn VectorIndex, &hnsw] {
        let two = index.search(&q, 2, None);
        assert_eq!(two.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 3]);
        assert!((two[0].1 - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-5);
        // k > n: the two real rows, then the zero (and NaN) rows at similarity 0.
        let all = index.search(&q, 10, None);
        assert_eq!(
            all.iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![1, 3, 0, 2, 4, 5]
        );
        assert!(all[2..].iter().all(|r| r.1 == 0.0));
        // A zero query scores everything 0 and still answers.
        assert_eq!(index.search(&[0.0; 4], 2, None).len(), 2);
        // Wrong dimension and k = 0 answer nothing.
        assert!(index.search(&[1.0, 0.0], 3, None).is_empty());
        assert!(index.search(&q, 0, None).is_empty());
    }
}

#[test]
fn empty_index_answers_nothing() {
    let vectors = Array2::<f32>::zeros((0, 8));
    let exact = BruteForce::new(&vectors);
    let hnsw = HnswIndex::build(&vectors, HnswParams::default()).unwrap();
    assert!(hnsw.is_empty());
    assert!(exact.search(&[1.0; 8], 5, None).is_empty());
    assert!(hnsw.search(&[1.0; 8], 5, None).is_empty());
    assert_eq!(recall_at_k(&hnsw, &exact, &[0, 1], 10), 1.0);
}

#[test]
fn params_check_names_the_broken_rule() {
    assert_eq!(HnswParams::default().check(), Ok(()));
    let bad = HnswParams {
        m: 1,
        ..HnswParams::default()
    };
    assert_eq!(bad.check(), Err(HnswParamsError::M(1)));
    let bad = HnswParams {
        ef_construction: 8,
        ..HnswParams::default()
    };
    assert_eq!(
        bad.check(),
        Err(HnswParamsError::EfConstruction { m: 16, ef: 8 })
    );
    let bad = HnswParams {
        min_filter_share: 1.5,
        ..HnswParams::default()
    };
    assert!(HnswIndex::build(&Array2::zeros((2, 2)), bad).is_err());
}

#[test]
fn sample_rows_is_seeded_distinct_and_sorted() {
    let a = sample_rows(1_000, 50, 9);
    assert_eq!(a, sample_rows(1_000, 50, 9));
    assert_ne!(a, sample_rows(1_000, 50, 10));
    assert_eq!(a.len(), 50);
    assert!(a.windows(2).all(|w| w[0] < w[1]) && a.iter().all(|&r| r < 1_000));
    assert_eq!(sample_rows(3, 10, 1), vec![0, 1, 2]);
}

/// The naive reference: score every allowed non-zero row, sort, truncate; zero rows last.
fn naive(
    vectors: &Array2<f32>,
    query: &[f32],
    k: usize,
    allowed: impl Fn(usize) -> bool,
) -> Vec<(u32, f32)> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let qn = norm(query);
    let mut scored = Vec::new();
    let mut zeros = Vec::new();
    for r in 0..vectors.nrows() {
        if !allowed(r) {
            continue;
        }
        let row = vectors.row(r).to_vec();
        let n = norm(&row);
        if n == 0.0 {
            zeros.push((r as u32, 0.0));
            continue;
        }
        let unit: Vec<f32> = row.iter().map(|x| x / n).collect();
        let uq: Vec<f32> = query.iter().map(|x| x / qn).collect();
        scored.push((r as u32, dot(&unit, &uq)));
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.extend(zeros);
    scored.truncate(k);
    scored
}

proptest! {
    #[test]
    fn brute_force_matches_sort_and_truncate(
        rows in prop::collection::vec(prop::collection::vec(-3i8..=3, 5), 0..40),
        query in prop::collection::vec(-3i8..=3, 5),
        k in 0usize..12,
        modulus in 1usize..4,
    ) {
        prop_assume!(query.iter().any(|&x| x != 0));
        let n = rows.len();
        let flat: Vec<f32> = rows.iter().flatten().map(|&x| f32::from(x)).collect();
        let vectors = Array2::from_shape_vec((n, 5), flat).unwrap();
        let query: Vec<f32> = query.iter().map(|&x| f32::from(x)).collect();
        let allowed = move |r: usize| r.is_multiple_of(modulus);
        let got = BruteForce::new(&vectors).search(&query, k, Some(&allowed));
        let want = naive(&vectors, &query, k, allowed);
        // Same normalisation and dot: scores are bit-identical, so ties break alike.
        prop_assert_eq!(got, want);
    }
}
