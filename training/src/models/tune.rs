//! Self-tuning: choose the blend and its hyper-parameters on a validation split.
//!
//! The validation split is carved out of the training part by the same temporal protocol,
//! so no figure reported on the test part ever influenced a choice. The search is a short,
//! staged grid: popularity decay, then EASE's λ and history recency, then ALS's confidence
//! and regularisation, then the blend weights.

use super::als::{Als, AlsError, AlsParams};
use super::ease::{Ease, EaseError, EaseParams};
use super::hybrid::{Hybrid, HybridParams};
use super::popularity::{Popularity, PopularityParams};
use super::{HistoryEntry, Recommender, histories};
use crate::eval::metrics::evaluate_with;
use crate::eval::{Metrics, SplitParams, TestSet, temporal_split};
use crate::interactions::{InteractionLog, MatrixParams, SparseMatrix};
use crate::progress::Progress;
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// A model could not be fitted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error(transparent)]
    Ease(#[from] EaseError),
    #[error(transparent)]
    Als(#[from] AlsError),
    #[error("no interactions to learn from")]
    NoData,
}

/// How tuning is run.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TuneParams {
    /// Cut-off of the validation metric (nDCG@k; default 10).
    pub k: usize,
    pub split: SplitParams,
    /// Validation users are sampled down to this many (default 3,000).
    pub max_users: usize,
    /// ALS settings that tuning does not search (factors, iterations, seed).
    pub als: AlsParams,
    /// EASE is tried when the catalog has at most this many items with interactions, and is
    /// then fitted on the `max_items` most popular (default 6,000 / 6,000).
    pub ease_max_items: usize,
    /// Whether to try EASE at all.
    pub try_ease: bool,
    /// Tuning fits its candidates on at most this many users, sampled at random
    /// (default 20,000), so that a large shop tunes in seconds.
    pub sample_users: usize,
    pub seed: u64,
}

impl Default for TuneParams {
    fn default() -> Self {
        Self {
            k: 10,
            split: SplitParams::default(),
            max_users: 3_000,
            als: AlsParams::default(),
            ease_max_items: 6_000,
            try_ease: true,
            sample_users: 20_000,
            seed: 7,
        }
    }
}

/// One evaluated candidate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trial {
    pub model: String,
    pub ndcg: f64,
    pub recall: f64,
    /// Time to evaluate the candidate (its fit is not included).
    pub seconds: f64,
}

/// What tuning chose and saw.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TuneOutcome {
    pub params: HybridParams,
    /// The chosen blend's validation metrics.
    pub validation: Metrics,
    /// All-time popularity on the same validation users.
    pub validation_baseline: Metrics,
    pub trials: Vec<Trial>,
}

/// The matrix every model of kindred trains on.
pub fn training_matrix(log: &InteractionLog) -> SparseMatrix {
    SparseMatrix::from_log(log, &MatrixParams::default())
}

/// Fits a blend on `log` with the given parameters.
pub fn fit_hybrid(
    log: &InteractionLog,
    params: &HybridParams,
    progress: Progress,
) -> Result<Hybrid, ModelError> {
    if log.is_empty() {
        return Err(ModelError::NoData);
    }
    let matrix = training_matrix(log);
    let ease = match &params.ease {
        Some((p, _)) => Some(Ease::fit(&matrix, *p)?),
        None => None,
    };
    let als = match &params.als {
        Some((p, _)) => Some(Als::fit(&matrix, *p, progress)?),
        None => None,
    };
    let popularity = Popularity::fit(log, params.popularity.0);
    Ok(Hybrid::from_parts(*params, ease, als, popularity))
}

struct Bench<'a> {
    train: &'a InteractionLog,
    hist: Vec<Vec<HistoryEntry>>,
    valid: TestSet,
    k: usize,
    trials: Vec<Trial>,
}

impl Bench<'_> {
    fn run(&mut self, name: String, model: &dyn Recommender) -> Metrics {
        let start = std::time::Instant::now();
        let m = evaluate_with(model, self.train, &self.hist, &self.valid, self.k);
        let seconds = start.elapsed().as_secs_f64();
        self.trials.push(Trial {
            model: name,
            ndcg: m.ndcg,
            recall: m.recall,
            seconds,
        });
        m
    }
}

fn argmax<T: Clone>(candidates: &[(T, Metrics)]) -> Option<(T, Metrics)> {
    candidates
        .iter()
        .max_by(|a, b| a.1.ndcg.total_cmp(&b.1.ndcg))
        .cloned()
}

/// The interactions of `n` users drawn at random (same id maps).
pub fn subsample_users(log: &InteractionLog, n: usize, seed: u64) -> InteractionLog {
    let mut users: Vec<u32> = (0..log.users.len() as u32).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    users.shuffle(&mut rng);
    let mut keep = vec![false; log.users.len()];
    for &u in users.iter().take(n) {
        keep[u as usize] = true;
    }
    log.with_rows(
        log.rows
            .iter()
            .filter(|r| keep[r.user as usize])
            .copied()
            .collect(),
    )
}

/// Picks the blend for `train` on a validation split carved out of it.
pub fn tune(
    train: &InteractionLog,
    params: &TuneParams,
    progress: Progress,
) -> Result<TuneOutcome, ModelError> {
    if train.is_empty() {
        return Err(ModelError::NoData);
    }
    let sampled;
    let train = if train.users.len() > params.sample_users {
        sampled = subsample_users(train, params.sample_users, params.seed);
        &sampled
    } else {
        train
    };
    let split = temporal_split(train, &params.split);
    let mut valid = split.test_set();
    valid.sample(params.max_users, params.seed);
    let fit = &split.train;
    let matrix = training_matrix(fit);
    let mut bench = Bench {
        train: fit,
        hist: histories(fit),
        valid,
        k: params.k,
        trials: Vec::new(),
    };
    let n_warm_items = {
        let mut seen = vec![false; fit.items.len()];
        for r in &fit.rows {
            seen[r.item as usize] = true;
        }
        seen.iter().filter(|&&b| b).count()
    };
    let try_ease = params.try_ease && n_warm_items <= params.ease_max_items;
    let stages = 3 + usize::from(try_ease);
    let bar = progress.bar(stages as u64, "tuning on validation");

    // 1. Popularity and its time decay.
    let mut pops = Vec::new();
    let mut baseline = Metrics::default();
    for half_life in [None, Some(3.0), Some(14.0), Some(60.0), Some(365.0)] {
        let p = PopularityParams {
            half_life_days: half_life,
        };
        let model = Popularity::fit(fit, p);
        let m = bench.run(format!("popularity(half-life {half_life:?} days)"), &model);
        if half_life.is_none() {
            baseline = m;
        }
        pops.push(((p, model), m));
    }
    let Some(((pop_params, pop_model), pop_metrics)) = argmax(&pops) else {
        return Err(ModelError::NoData);
    };
    bar.inc(1);

    // 2. EASE: λ, then the recency of the visitor's history.
    let mut ease_best: Option<(Ease, Metrics)> = None;
    if try_ease {
        let mut cands = Vec::new();
        for lambda in [30.0, 100.0, 300.0, 1000.0, 3000.0] {
            let p = EaseParams {
                lambda,
                max_items: params.ease_max_items,
                history_half_life: None,
            };
            let model = Ease::fit(&matrix, p)?;
            let m = bench.run(format!("ease(λ={lambda})"), &model);
            cands.push((model, m));
        }
        if let Some((base, _)) = argmax(&cands) {
            for h in [50.0, 20.0, 8.0, 3.0] {
                let model = base.with_history_half_life(Some(h));
                let m = bench.run(
                    format!("ease(λ={}, recency half-life {h})", base.params.lambda),
                    &model,
                );
                cands.push((model, m));
            }
        }
        ease_best = argmax(&cands);
        bar.inc(1);
    }

    // 3. ALS: confidence slope and regularisation.
    let mut als_cands = Vec::new();
    for alpha in [2.0, 10.0, 40.0] {
        for reg in [0.1, 1.0, 10.0] {
            let p = AlsParams {
                alpha,
                regularization: reg,
                ..params.als
            };
            let model = Als::fit(&matrix, p, Progress::Hidden)?;
            let m = bench.run(format!("als(α={alpha}, reg={reg})"), &model);
            als_cands.push((model, m));
        }
    }
    let als_best = argmax(&als_cands);
    bar.inc(1);

    // 4. Blend weights around the best single model.
    let mut blends: Vec<(HybridParams, Metrics)> = Vec::new();
    let pop_only = HybridParams {
        ease: None,
        als: None,
        popularity: (pop_params, 1.0),
    };
    blends.push((pop_only, pop_metrics));
    let ease_weights: &[f32] = if ease_best.is_some() { &[1.0] } else { &[0.0] };
    for &ew in ease_weights {
        for aw in [0.0f32, 0.25, 0.5] {
            for pw in [0.0f32, 0.05, 0.15, 0.3] {
                if ew == 0.0 && aw == 0.0 {
                    continue;
                }
                if aw > 0.0 && als_best.is_none() {
                    continue;
                }
                let ease = ease_best
                    .as_ref()
                    .filter(|_| ew > 0.0)
                    .map(|(e, _)| e.clone());
                let als = als_best
                    .as_ref()
                    .filter(|_| aw > 0.0)
                    .map(|(a, _)| a.clone());
                let hp = HybridParams {
                    ease: ease.as_ref().map(|e| (e.params, ew)),
                    als: als.as_ref().map(|a| (a.params, aw)),
                    popularity: (pop_params, pw),
                };
                let model = Hybrid::from_parts(hp, ease, als, pop_model.clone());
                let m = bench.run(format!("blend {}", hp.describe()), &model);
                blends.push((hp, m));
            }
        }
    }
    bar.inc(1);
    bar.finish_and_clear();
    let Some((mut best, validation)) = argmax(&blends) else {
        return Err(ModelError::NoData);
    };
    // Keep ALS in every bundle for embeddings, even when it does not join the blend.
    if best.als.is_none()
        && let Some((a, _)) = &als_best
    {
        best.als = Some((a.params, 0.0));
    }
    Ok(TuneOutcome {
        params: best,
        validation,
        validation_baseline: baseline,
        trials: bench.trials,
    })
}
