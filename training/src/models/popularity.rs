//! Time-decayed popularity: the baseline beside every figure, and the fallback for visitors
//! without history.

use super::{HistoryEntry, Recommender};
use crate::interactions::{Interaction, InteractionLog};

/// Popularity parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PopularityParams {
    /// Half-life in days of an interaction's contribution, counted back from the newest
    /// interaction. `None` (the default) counts every user once per item, whenever it was:
    /// the classic most-popular baseline.
    pub half_life_days: Option<f64>,
}

/// Item scores by (decayed) number of users who interacted.
#[derive(Debug, Clone, PartialEq)]
pub struct Popularity {
    pub scores: Vec<f32>,
    pub params: PopularityParams,
}

impl Popularity {
    /// Counts each user once per item (at their latest interaction with it).
    pub fn fit(log: &InteractionLog, params: PopularityParams) -> Popularity {
        Self::fit_rows(log.items.len(), &log.rows, log.max_ts(), params)
    }

    /// [`Popularity::fit`] over a subset of rows (a category, a segment).
    pub fn fit_rows(
        n_items: usize,
        rows: &[Interaction],
        now: i64,
        params: PopularityParams,
    ) -> Popularity {
        let mut latest: std::collections::HashMap<(u32, u32), i64> =
            std::collections::HashMap::with_capacity(rows.len());
        for r in rows {
            if r.weight <= 0.0 {
                continue;
            }
            let e = latest.entry((r.user, r.item)).or_insert(r.ts);
            *e = (*e).max(r.ts);
        }
        let lambda = params
            .half_life_days
            .filter(|h| *h > 0.0)
            .map(|h| std::f64::consts::LN_2 / (h * 86_400.0));
        let mut scores = vec![0f64; n_items];
        for (&(_, item), &ts) in &latest {
            scores[item as usize] += match lambda {
                Some(l) => (-(l * (now - ts).max(0) as f64)).exp(),
                None => 1.0,
            };
        }
        Popularity {
            scores: scores.into_iter().map(|s| s as f32).collect(),
            params,
        }
    }

    /// Items by descending score (ties by index), those with a zero score left out.
    pub fn ranking(&self, limit: usize) -> Vec<(u32, f32)> {
        super::top_k(&self.scores, limit, |i| self.scores[i] <= 0.0)
    }
}

impl Recommender for Popularity {
    fn name(&self) -> &str {
        "popularity"
    }

    fn n_items(&self) -> usize {
        self.scores.len()
    }

    fn score(&self, _history: &[HistoryEntry], out: &mut [f32]) {
        out.copy_from_slice(&self.scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_users_once_and_decays() {
        let mut log = InteractionLog::default();
        log.push("u1", "a", 0, 1.0);
        log.push("u1", "a", 1, 1.0);
        log.push("u2", "a", 0, 1.0);
        log.push("u2", "b", 86_400, 1.0);
        let p = Popularity::fit(&log, PopularityParams::default());
        assert_eq!(p.scores, vec![2.0, 1.0]);
        let p = Popularity::fit(
            &log,
            PopularityParams {
                half_life_days: Some(1.0),
            },
        );
        assert!((p.scores[0] - 1.0).abs() < 1e-4, "{:?}", p.scores);
        assert!((p.scores[1] - 1.0).abs() < 1e-6);
        assert_eq!(p.ranking(5)[0].0, 0);
    }
}
