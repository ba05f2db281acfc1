//! `kindred eval`: self-tuned training and evaluation by the protocol.

use crate::eval::metrics::evaluate_with;
use crate::eval::{EvalReport, Metrics, SplitParams, TestSet, temporal_split};
use crate::interactions::InteractionLog;
use crate::models::histories;
use crate::models::popularity::{Popularity, PopularityParams};
use crate::models::tune::{ModelError, TuneOutcome, TuneParams, fit_hybrid, tune};
use crate::progress::Progress;
use std::time::Instant;

/// Everything an evaluation found.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalOutcome {
    pub report: EvalReport,
    /// What tuning chose on the validation split (never the test part).
    pub tuning: TuneOutcome,
    pub train_interactions: usize,
    pub test_interactions: usize,
    pub seconds: f64,
}

impl EvalOutcome {
    /// The JSON object `kindred eval --json` prints.
    pub fn to_json(&self) -> serde_json::Value {
        fn figures(m: &Metrics) -> serde_json::Value {
            let k = m.k;
            serde_json::json!({
                "users": m.users,
                format!("recall@{k}"): m.recall,
                format!("ndcg@{k}"): m.ndcg,
                format!("hr@{k}"): m.hr,
                "coverage": m.coverage,
            })
        }
        let mut out = figures(&self.report.metrics);
        if let serde_json::Value::Object(map) = &mut out {
            map.insert("model".into(), self.report.model.clone().into());
            map.insert("baseline".into(), figures(&self.report.baseline));
            map.insert(
                "validation".into(),
                serde_json::json!({
                    "ndcg": self.tuning.validation.ndcg,
                    "baseline_ndcg": self.tuning.validation_baseline.ndcg,
                    "trials": self.tuning.trials.len(),
                }),
            );
        }
        out
    }
}

impl std::fmt::Display for EvalOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.report.metrics;
        let b = &self.report.baseline;
        let k = m.k;
        writeln!(
            f,
            "Evaluated on {} users ({} training / {} test interactions) in {:.1}s",
            m.users, self.train_interactions, self.test_interactions, self.seconds
        )?;
        writeln!(f, "Model chosen on validation: {}", self.report.model)?;
        writeln!(
            f,
            "{:<12} {:>10} {:>10} {:>10} {:>10}",
            "",
            format!("recall@{k}"),
            format!("ndcg@{k}"),
            format!("hr@{k}"),
            "coverage"
        )?;
        for (name, x) in [("kindred", m), ("popularity", b)] {
            writeln!(
                f,
                "{:<12} {:>10.4} {:>10.4} {:>10.4} {:>10.4}",
                name, x.recall, x.ndcg, x.hr, x.coverage
            )?;
        }
        Ok(())
    }
}

/// Tunes on a validation split of `train`, fits the chosen blend on all of `train` and
/// evaluates it and all-time popularity on `test`.
pub fn evaluate_split(
    train: &InteractionLog,
    test: &TestSet,
    test_interactions: usize,
    tune_params: &TuneParams,
    progress: Progress,
) -> Result<EvalOutcome, ModelError> {
    let start = Instant::now();
    let tuning = tune(train, tune_params, progress)?;
    let model = fit_hybrid(train, &tuning.params, progress)?;
    let k = tune_params.k;
    let hist = histories(train);
    let metrics = evaluate_with(&model, train, &hist, test, k);
    let baseline_model = Popularity::fit(train, PopularityParams::default());
    let baseline = evaluate_with(&baseline_model, train, &hist, test, k);
    Ok(EvalOutcome {
        report: EvalReport {
            model: tuning.params.describe(),
            metrics,
            baseline,
        },
        tuning,
        train_interactions: train.len(),
        test_interactions,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Splits `log` by the protocol, then [`evaluate_split`].
pub fn evaluate_log(
    log: &InteractionLog,
    split: &SplitParams,
    tune_params: &TuneParams,
    progress: Progress,
) -> Result<EvalOutcome, ModelError> {
    let parts = temporal_split(log, split);
    let test = parts.test_set();
    evaluate_split(&parts.train, &test, parts.test.len(), tune_params, progress)
}
