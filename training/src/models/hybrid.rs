//! The model kindred serves: a weighted blend of EASE, ALS and time-decayed popularity.
//!
//! Each component's scores are scaled to a maximum of 1 for the visitor before blending, so
//! the weights mean the same on every data set. [`crate::models::tune`] picks the
//! components and weights on a validation split.

use super::als::{Als, AlsParams};
use super::ease::{Ease, EaseParams};
use super::popularity::{Popularity, PopularityParams};
use super::{HistoryEntry, Recommender};

/// What the blend is made of.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HybridParams {
    /// EASE component and its weight (none when the catalog is too big or it did not help).
    pub ease: Option<(EaseParams, f32)>,
    /// ALS component and its weight.
    pub als: Option<(AlsParams, f32)>,
    /// Popularity component and its weight.
    pub popularity: (PopularityParams, f32),
}

impl Default for HybridParams {
    fn default() -> Self {
        Self {
            ease: Some((EaseParams::default(), 1.0)),
            als: Some((AlsParams::default(), 0.2)),
            popularity: (PopularityParams::default(), 0.1),
        }
    }
}

impl HybridParams {
    /// A short human description ("ease(λ=200, h=20) + 0.2·als(64f) + 0.1·popularity(30d)").
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some((e, w)) = &self.ease {
            let h = e
                .history_half_life
                .map_or("off".to_owned(), |h| format!("{h}"));
            parts.push(format!("{w}·ease(λ={}, recency half-life={h})", e.lambda));
        }
        if let Some((a, w)) = &self.als {
            parts.push(format!(
                "{w}·als({} factors, α={}, reg={})",
                a.factors, a.alpha, a.regularization
            ));
        }
        let (p, w) = &self.popularity;
        if *w > 0.0 || parts.is_empty() {
            let h = p
                .half_life_days
                .map_or("all time".to_owned(), |h| format!("half-life {h} days"));
            parts.push(format!("{w}·popularity({h})"));
        }
        parts.join(" + ")
    }
}

/// A fitted blend.
#[derive(Debug, Clone)]
pub struct Hybrid {
    pub params: HybridParams,
    pub ease: Option<Ease>,
    pub als: Option<Als>,
    pub popularity: Popularity,
}

fn scale_to_unit(v: &mut [f32]) {
    let max = v
        .iter()
        .copied()
        .fold(0f32, |m, x| if x.is_finite() { m.max(x.abs()) } else { m });
    if max > 0.0 {
        for x in v.iter_mut() {
            *x /= max;
        }
    }
}

impl Hybrid {
    /// Assembles a blend from fitted parts (weights from `params`).
    pub fn from_parts(
        params: HybridParams,
        ease: Option<Ease>,
        als: Option<Als>,
        popularity: Popularity,
    ) -> Hybrid {
        Hybrid {
            params,
            ease,
            als,
            popularity,
        }
    }
}

impl Recommender for Hybrid {
    fn name(&self) -> &str {
        "kindred"
    }

    fn n_items(&self) -> usize {
        self.popularity.scores.len()
    }

    fn score(&self, history: &[HistoryEntry], out: &mut [f32]) {
        let n = out.len();
        let (_, pw) = self.params.popularity;
        out.copy_from_slice(&self.popularity.scores);
        scale_to_unit(out);
        for x in out.iter_mut() {
            *x *= pw;
        }
        if history.is_empty() {
            // Nothing personal to add: popularity alone orders the items.
            if pw <= 0.0 {
                out.copy_from_slice(&self.popularity.scores);
            }
            return;
        }
        let mut part = vec![0f32; n];
        if let (Some(ease), Some((_, w))) = (&self.ease, &self.params.ease)
            && *w > 0.0
        {
            ease.score(history, &mut part);
            scale_to_unit(&mut part);
            for (o, p) in out.iter_mut().zip(&part) {
                *o += w * p;
            }
        }
        if let (Some(als), Some((_, w))) = (&self.als, &self.params.als)
            && *w > 0.0
        {
            als.score(history, &mut part);
            scale_to_unit(&mut part);
            for (o, p) in out.iter_mut().zip(&part) {
                *o += w * p;
            }
        }
    }
}
