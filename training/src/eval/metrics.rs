//! Ranking metrics at K (recall, nDCG with binary gains, hit rate, coverage).

use super::split::TestSet;
use crate::interactions::InteractionLog;
use crate::models::{HistoryEntry, Recommender, histories, top_k};
use rayon::prelude::*;

/// Averages over the evaluated users, plus catalog coverage.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub k: usize,
    pub users: usize,
    pub recall: f64,
    pub ndcg: f64,
    pub hr: f64,
    /// Distinct recommended items / items in training.
    pub coverage: f64,
}

/// A model's metrics beside the popularity baseline's.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalReport {
    pub model: String,
    pub metrics: Metrics,
    pub baseline: Metrics,
}

/// Per-user metric values for one ranked list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserMetrics {
    pub recall: f64,
    pub ndcg: f64,
    pub hit: bool,
}

/// Scores one ranked list against the user's relevant items (binary gains).
pub fn user_metrics(ranked: &[u32], relevant: &[Option<u32>], k: usize) -> UserMetrics {
    let denom = k.min(relevant.len());
    if denom == 0 {
        return UserMetrics {
            recall: 0.0,
            ndcg: 0.0,
            hit: false,
        };
    }
    let mut hits = 0usize;
    let mut dcg = 0.0;
    for (pos, item) in ranked.iter().take(k).enumerate() {
        if relevant.contains(&Some(*item)) {
            hits += 1;
            dcg += 1.0 / ((pos + 2) as f64).log2();
        }
    }
    let idcg: f64 = (0..denom).map(|p| 1.0 / ((p + 2) as f64).log2()).sum();
    UserMetrics {
        recall: hits as f64 / denom as f64,
        ndcg: dcg / idcg,
        hit: hits > 0,
    }
}

/// Evaluates `model` by the protocol: for every test user, the top `k` items among those in
/// training, excluding the user's own training items.
pub fn evaluate(
    model: &dyn Recommender,
    train: &InteractionLog,
    test: &TestSet,
    k: usize,
) -> Metrics {
    let hist = histories(train);
    evaluate_with(model, train, &hist, test, k)
}

/// [`evaluate`] with the users' histories already built (for repeated evaluations).
pub fn evaluate_with(
    model: &dyn Recommender,
    train: &InteractionLog,
    hist: &[Vec<HistoryEntry>],
    test: &TestSet,
    k: usize,
) -> Metrics {
    let n_items = train.items.len();
    let mut in_train = vec![false; n_items];
    for r in &train.rows {
        in_train[r.item as usize] = true;
    }
    let n_train_items = in_train.iter().filter(|&&b| b).count();
    let empty: Vec<HistoryEntry> = Vec::new();
    let jobs: Vec<(&[HistoryEntry], &[Option<u32>])> = test
        .users
        .iter()
        .map(|(u, items)| (hist[*u as usize].as_slice(), items.as_slice()))
        .chain(
            test.cold_users
                .iter()
                .map(|(_, items)| (empty.as_slice(), items.as_slice())),
        )
        .collect();
    let results: Vec<(UserMetrics, Vec<u32>)> = jobs
        .par_iter()
        .map_init(
            || (vec![0f32; n_items], vec![false; n_items]),
            |(scores, seen), (history, relevant)| {
                model.score(history, scores);
                for h in history.iter() {
                    seen[h.item as usize] = true;
                }
                let ranked: Vec<u32> = top_k(scores, k, |i| !in_train[i] || seen[i])
                    .into_iter()
                    .map(|(i, _)| i)
                    .collect();
                for h in history.iter() {
                    seen[h.item as usize] = false;
                }
                (user_metrics(&ranked, relevant, k), ranked)
            },
        )
        .collect();
    let users = results.len();
    let mut recommended = vec![false; n_items];
    let (mut recall, mut ndcg, mut hr) = (0.0, 0.0, 0.0);
    for (m, ranked) in &results {
        recall += m.recall;
        ndcg += m.ndcg;
        hr += f64::from(u8::from(m.hit));
        for &i in ranked {
            recommended[i as usize] = true;
        }
    }
    let n = users.max(1) as f64;
    Metrics {
        k,
        users,
        recall: recall / n,
        ndcg: ndcg / n,
        hr: hr / n,
        coverage: recommended.iter().filter(|&&b| b).count() as f64 / n_train_items.max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computed_values() {
        // Relevant {1, 5}; ranked [5, 2, 1]: hits at positions 1 and 3.
        let m = user_metrics(&[5, 2, 1], &[Some(1), Some(5)], 3);
        assert!((m.recall - 1.0).abs() < 1e-12);
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2();
        assert!((m.ndcg - dcg / idcg).abs() < 1e-12, "{}", m.ndcg);
        assert!(m.hit);
        // K smaller than the relevant set: denominator min(K, |test|).
        let m = user_metrics(&[7, 1], &[Some(1), Some(5), Some(6)], 2);
        assert!((m.recall - 0.5).abs() < 1e-12);
        let expected = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        assert!((m.ndcg - expected).abs() < 1e-12);
        // An item unknown to training can never be hit but still counts in the ideal.
        let m = user_metrics(&[3], &[None], 1);
        assert_eq!(m.recall, 0.0);
        assert!(!m.hit);
    }
}
