//! EASE (Steck, 2019): a closed-form item–item model, `B = I − P · diag(1 / diag(P))` with
//! `P = (XᵀX + λI)⁻¹`, zero diagonal. Very strong for catalogs up to a few thousand items;
//! its cost grows with the cube of the number of items, so only the
//! [`EaseParams::max_items`] most popular items are modelled (the rest score 0).

use super::{HistoryEntry, Recommender, aggregate};
use crate::interactions::SparseMatrix;
use faer::linalg::solvers::DenseSolveCore;
use ndarray::Array2;

/// EASE hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EaseParams {
    /// L2 regularisation λ added to the Gram matrix's diagonal (default 200).
    pub lambda: f32,
    /// At most this many items (the most popular) are modelled (default 6,000: a 6k × 6k
    /// weight matrix, about 140 MB, fitted in seconds).
    pub max_items: usize,
    /// Half-life, in history positions, of a visitor's entries when scoring: the newest
    /// entry weighs 1, the one `h` places earlier 0.5. `None` weighs all alike.
    pub history_half_life: Option<f32>,
}

impl Default for EaseParams {
    fn default() -> Self {
        Self {
            lambda: 200.0,
            max_items: 6_000,
            history_half_life: None,
        }
    }
}

/// Why EASE could not be fitted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EaseError {
    #[error("EASE lambda must be positive and finite, got {0}")]
    Lambda(f32),
    #[error("EASE max_items must be at least 2, got {0}")]
    MaxItems(usize),
    #[error("the regularised Gram matrix is not positive definite (lambda {0} too small?)")]
    NotPositiveDefinite(f32),
}

impl EaseParams {
    pub fn check(&self) -> Result<(), EaseError> {
        if !(self.lambda.is_finite() && self.lambda > 0.0) {
            return Err(EaseError::Lambda(self.lambda));
        }
        if self.max_items < 2 {
            return Err(EaseError::MaxItems(self.max_items));
        }
        Ok(())
    }
}

/// A fitted EASE model.
#[derive(Debug, Clone)]
pub struct Ease {
    pub params: EaseParams,
    n_items: usize,
    /// Global item index of each modelled item.
    pub modelled: Vec<u32>,
    /// Local row of each global item, if modelled.
    local: Vec<Option<u32>>,
    /// `m × m` item–item weights (row: from, column: to).
    pub weights: Array2<f32>,
}

impl Ease {
    /// Fits on a user × item matrix; values are binarised (any positive cell is 1).
    pub fn fit(matrix: &SparseMatrix, params: EaseParams) -> Result<Ease, EaseError> {
        params.check()?;
        let n_items = matrix.n_cols;
        let mut counts = vec![0u32; n_items];
        for &c in &matrix.indices {
            counts[c as usize] += 1;
        }
        let mut order: Vec<u32> = (0..n_items as u32)
            .filter(|&i| counts[i as usize] > 0)
            .collect();
        order.sort_by(|a, b| counts[*b as usize].cmp(&counts[*a as usize]).then(a.cmp(b)));
        order.truncate(params.max_items);
        order.sort_unstable();
        let m = order.len();
        let mut local = vec![None; n_items];
        for (l, &g) in order.iter().enumerate() {
            local[g as usize] = Some(l as u32);
        }
        let mut gram = faer::Mat::<f64>::zeros(m, m);
        let mut row_local: Vec<usize> = Vec::new();
        for u in 0..matrix.n_rows {
            row_local.clear();
            row_local.extend(
                matrix
                    .row(u)
                    .0
                    .iter()
                    .filter_map(|&c| local[c as usize])
                    .map(|l| l as usize),
            );
            for (a, &i) in row_local.iter().enumerate() {
                for &j in &row_local[a..] {
                    gram[(i, j)] += 1.0;
                }
            }
        }
        for i in 0..m {
            for j in 0..i {
                gram[(i, j)] = gram[(j, i)];
            }
            gram[(i, i)] += f64::from(params.lambda);
        }
        let llt = gram
            .llt(faer::Side::Lower)
            .map_err(|_| EaseError::NotPositiveDefinite(params.lambda))?;
        drop(gram);
        let p = llt.inverse();
        let mut weights = Array2::<f32>::zeros((m, m));
        for j in 0..m {
            let d = p[(j, j)];
            for i in 0..m {
                if i != j {
                    weights[[i, j]] = (-p[(i, j)] / d) as f32;
                }
            }
        }
        Ok(Ease {
            params,
            n_items,
            modelled: order,
            local,
            weights,
        })
    }

    /// Rebuilds a fitted model from stored parts (a loaded bundle): `modelled` lists the
    /// global index of each weight row, `weights` is `m × m`.
    pub fn from_parts(
        params: EaseParams,
        n_items: usize,
        modelled: Vec<u32>,
        weights: Array2<f32>,
    ) -> Option<Ease> {
        if weights.nrows() != modelled.len() || weights.ncols() != modelled.len() {
            return None;
        }
        let mut local = vec![None; n_items];
        for (l, &g) in modelled.iter().enumerate() {
            *local.get_mut(g as usize)? = Some(l as u32);
        }
        Some(Ease {
            params,
            n_items,
            modelled,
            local,
            weights,
        })
    }

    /// The same fitted weights, scoring histories with another half-life.
    pub fn with_history_half_life(&self, half_life: Option<f32>) -> Ease {
        let mut e = self.clone();
        e.params.history_half_life = half_life;
        e
    }
}

impl Recommender for Ease {
    fn name(&self) -> &str {
        "ease"
    }

    fn n_items(&self) -> usize {
        self.n_items
    }

    fn score(&self, history: &[HistoryEntry], out: &mut [f32]) {
        out.fill(0.0);
        let binary: Vec<HistoryEntry> = history
            .iter()
            .map(|h| HistoryEntry {
                weight: if h.weight > 0.0 { 1.0 } else { h.weight },
                ..*h
            })
            .collect();
        let agg = aggregate(&binary, self.params.history_half_life);
        let mut local_scores = vec![0f32; self.modelled.len()];
        // The row sums run in the widest instruction set the CPU has (same sums on any CPU).
        pulp::Arch::new().dispatch(|| {
            for &(item, w) in &agg {
                let Some(l) = self.local[item as usize] else {
                    continue;
                };
                let row = self.weights.row(l as usize);
                let w = w.min(1.0);
                // A contiguous row (always, for the `Array2` EASE builds) as a slice, so the
                // loop vectorises; ndarray's strided iterator does not.
                match row.as_slice() {
                    Some(row) => {
                        for (s, b) in local_scores.iter_mut().zip(row) {
                            *s += w * b;
                        }
                    }
                    None => {
                        for (s, b) in local_scores.iter_mut().zip(row.iter()) {
                            *s += w * b;
                        }
                    }
                }
            }
        });
        for (l, &g) in self.modelled.iter().enumerate() {
            out[g as usize] = local_scores[l];
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::interactions::{InteractionLog, MatrixParams};

    #[test]
    fn co_consumed_items_score_highest() {
        let mut log = InteractionLog::default();
        // a and b always together; c with d.
        for u in 0..20 {
            let user = format!("u{u}");
            if u % 2 == 0 {
                log.push(&user, "a", 0, 1.0);
                log.push(&user, "b", 0, 1.0);
            } else {
                log.push(&user, "c", 0, 1.0);
                log.push(&user, "d", 0, 1.0);
            }
        }
        let m = SparseMatrix::from_log(&log, &MatrixParams::default());
        let ease = Ease::fit(
            &m,
            EaseParams {
                lambda: 1.0,
                ..EaseParams::default()
            },
        )
        .unwrap();
        let mut out = vec![0f32; 4];
        ease.score(
            &[HistoryEntry {
                item: 0,
                weight: 1.0,
                ts: 0,
            }],
            &mut out,
        );
        assert!(out[1] > 0.5, "{out:?}");
        assert!(out[2].abs() < 1e-3 && out[3].abs() < 1e-3, "{out:?}");
        assert_eq!(ease.weights[[0, 0]], 0.0);
    }

    #[test]
    fn rejects_bad_lambda() {
        let p = EaseParams {
            lambda: 0.0,
            ..EaseParams::default()
        };
        assert_eq!(p.check(), Err(EaseError::Lambda(0.0)));
    }
}
