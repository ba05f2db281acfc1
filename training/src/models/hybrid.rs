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
    /// The popularity scores scaled to a maximum of 1 and weighted: the same for every
    /// visitor, so computed once (here) rather than per query.
    popularity_part: Vec<f32>,
}

fn scale_to_unit(v: &mut [f32]) {
    let max = max_abs_finite(v);
    if max > 0.0 {
        for x in v.iter_mut() {
            *x /= max;
        }
    }
}

/// The largest finite `|x|` of `v` (0 when there is none), kept in 8 independent lanes so
/// that the loop vectorises (a single running maximum is one long dependency chain).
fn max_abs_finite(v: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            let a = x.abs();
            let a = if a.is_finite() { a } else { 0.0 };
            *m = if a > *m { a } else { *m };
        }
    }
    let mut max = lanes.iter().fold(0f32, |m, &x| if x > m { x } else { m });
    for &x in rest {
        let a = x.abs();
        if a.is_finite() && a > max {
            max = a;
        }
    }
    max
}

impl Hybrid {
    /// Assembles a blend from fitted parts (weights from `params`).
    pub fn from_parts(
        params: HybridParams,
        ease: Option<Ease>,
        als: Option<Als>,
        popularity: Popularity,
    ) -> Hybrid {
        let mut popularity_part = popularity.scores.clone();
        scale_to_unit(&mut popularity_part);
        let (_, pw) = params.popularity;
        for x in &mut popularity_part {
            *x *= pw;
        }
        Hybrid {
            params,
            ease,
            als,
            popularity,
            popularity_part,
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
        out.copy_from_slice(&self.popularity_part);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_abs_finite_skips_nan_and_infinities_at_every_length() {
        for n in 0..20 {
            let mut v: Vec<f32> = (0..n).map(|i| (i as f32 - 7.0) * 0.5).collect();
            let want = v.iter().fold(0f32, |m, x| m.max(x.abs()));
            if n > 3 {
                v[1] = f32::NAN;
                v[2] = f32::INFINITY;
                v[3] = f32::NEG_INFINITY;
            }
            let want = if n > 3 {
                v.iter()
                    .filter(|x| x.is_finite())
                    .fold(0f32, |m, x| m.max(x.abs()))
            } else {
                want
            };
            assert_eq!(max_abs_finite(&v), want, "n = {n}");
        }
        assert_eq!(max_abs_finite(&[f32::NAN; 9]), 0.0);
    }
}
