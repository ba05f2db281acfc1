//! Behaviour segments: profile every user, cluster the profiles, describe the clusters.
//!
//! The life cycle follows the files: [`profile`] turns events and the catalog into one
//! standardised, weighted feature row per user (category affinities, price level, recency /
//! frequency / monetary value, funnel ratios, device and channel mix); [`cluster`] runs
//! linfa's KMeans for every k of a range and keeps the k with the best silhouette on a
//! sample; [`describe`] names each segment and writes the sentence a marketer reads.
//! [`segment`] runs all three.

pub mod cluster;
pub mod describe;
pub mod profile;

pub use cluster::{adjusted_rand_index, silhouette};
pub use profile::{FeatureWeights, Profiles, RawProfile, build_profiles};

use crate::data::{Catalog, EventLog, IdentityLinks};
use crate::ids::IdMap;
use crate::progress::Progress;

/// Parameters of [`segment`].
///
/// Defaults: `k_min` 3, `k_max` 10, `seed` 42, `sample` 2,000 rows for the silhouette,
/// `fit_sample` 20,000 rows for KMeans (the rest are assigned to the nearest centroid),
/// `max_iter` 200, `n_runs` 3 KMeans restarts per k, and [`FeatureWeights::default`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentParams {
    pub k_min: usize,
    pub k_max: usize,
    pub seed: u64,
    pub sample: usize,
    pub fit_sample: usize,
    pub max_iter: u64,
    pub n_runs: usize,
    pub weights: FeatureWeights,
}

impl Default for SegmentParams {
    fn default() -> Self {
        Self {
            k_min: 3,
            k_max: 10,
            seed: 42,
            sample: 2_000,
            fit_sample: 20_000,
            max_iter: 200,
            n_runs: 3,
            weights: FeatureWeights::default(),
        }
    }
}

/// A rule of [`SegmentParams::check`] that failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SegmentParamsError {
    #[error("k_min must be at least 2, got {0}")]
    KMin(usize),
    #[error("k_max ({k_max}) must be at least k_min ({k_min})")]
    KRange { k_min: usize, k_max: usize },
    #[error("sample must be at least 10 rows, got {0}")]
    Sample(usize),
    #[error("fit_sample must be at least k_max ({k_max}), got {fit_sample}")]
    FitSample { k_max: usize, fit_sample: usize },
    #[error("max_iter and n_runs must be at least 1")]
    Iterations,
    #[error("feature weight {name} must be finite and non-negative, got {value}")]
    Weight { name: &'static str, value: f64 },
}

impl SegmentParams {
    /// Checks every rule, returning the first that fails.
    pub fn check(&self) -> Result<(), SegmentParamsError> {
        if self.k_min < 2 {
            return Err(SegmentParamsError::KMin(self.k_min));
        }
        if self.k_max < self.k_min {
            return Err(SegmentParamsError::KRange {
                k_min: self.k_min,
                k_max: self.k_max,
            });
        }
        if self.sample < 10 {
            return Err(SegmentParamsError::Sample(self.sample));
        }
        if self.fit_sample < self.k_max {
            return Err(SegmentParamsError::FitSample {
                k_max: self.k_max,
                fit_sample: self.fit_sample,
            });
        }
        if self.max_iter == 0 || self.n_runs == 0 {
            return Err(SegmentParamsError::Iterations);
        }
        let w = &self.weights;
        for (name, value) in [
            ("categories", w.categories),
            ("price_level", w.price_level),
            ("rfm", w.rfm),
            ("funnel", w.funnel),
            ("devices", w.devices),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(SegmentParamsError::Weight { name, value });
            }
        }
        Ok(())
    }
}

/// Errors of [`segment`].
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("invalid segment parameters: {0}")]
    Params(#[from] SegmentParamsError),
    #[error("{users} users cannot form at least k_min = {k_min} segments")]
    TooFewUsers { users: usize, k_min: usize },
    #[error("KMeans with k = {k} failed: {message}")]
    Clustering { k: usize, message: String },
}

/// One described segment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    /// Segment id: 0 is the largest segment.
    pub id: u32,
    /// A short name, e.g. `Premium shoes lovers`.
    pub name: String,
    /// A sentence for a marketer: size and share, top categories against the shop, average
    /// order value, price level, conversion, device and app use, and what sets it apart.
    pub description: String,
    pub size: usize,
    /// Share of all users.
    pub share: f64,
    /// Up to three top categories with their share of the segment's weighted item events.
    pub top_categories: Vec<(String, f64)>,
    /// Purchase value per purchase day (an order), over the segment.
    pub avg_order_value: f64,
    /// Mean log-price deviation of interacted items from their categories' mean
    /// (0.2 ≈ 22% pricier).
    pub price_level: f64,
    /// Share of members who bought at least once.
    pub conversion_rate: f64,
    /// Share of events per device (mobile, desktop, tablet).
    pub device_mix: Vec<(String, f64)>,
    /// Mean z-score of every profile feature over the members, largest deviation first.
    pub centroid_summary: Vec<(String, f64)>,
}

/// The segments of a user population.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Segmentation {
    pub k: usize,
    /// Mean silhouette of the chosen k on the sample.
    pub silhouette: f64,
    /// Silhouette of every k tried.
    pub silhouette_by_k: Vec<(usize, f64)>,
    /// Segment id of every user, in the order of the users' id map.
    pub assignments: Vec<u32>,
    /// Segments by id (largest first).
    pub segments: Vec<Segment>,
    /// Names of the profile features, as in [`Segment::centroid_summary`].
    pub feature_names: Vec<String>,
}

/// Profiles, clusters and describes every user of `users` (the model's user id map).
/// Users with few or no events still get the nearest segment.
pub fn segment(
    log: &EventLog,
    links: &IdentityLinks,
    catalog: &Catalog,
    users: &IdMap,
    params: &SegmentParams,
    progress: Progress,
) -> Result<Segmentation, SegmentError> {
    params.check()?;
    let spinner = progress.spinner("segments: building profiles");
    let profiles = build_profiles(log, links, catalog, users, &params.weights);
    spinner.finish_and_clear();
    segment_profiles(&profiles, params, progress)
}

/// Clusters and describes already built profiles.
pub fn segment_profiles(
    profiles: &Profiles,
    params: &SegmentParams,
    progress: Progress,
) -> Result<Segmentation, SegmentError> {
    params.check()?;
    let x = profiles.weighted();
    let clustering = cluster::choose_k(&x, params, progress)?;
    // Renumber clusters by size, largest first (ties by the old id) so ids are stable.
    let k = clustering.k;
    let mut sizes = vec![0usize; k];
    for &l in &clustering.labels {
        sizes[l as usize] += 1;
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let mut new_id = vec![0u32; k];
    for (new, &old) in order.iter().enumerate() {
        new_id[old] = new as u32;
    }
    let assignments: Vec<u32> = clustering
        .labels
        .iter()
        .map(|&l| new_id[l as usize])
        .collect();
    let segments = describe::describe(profiles, &assignments, k);
    Ok(Segmentation {
        k,
        silhouette: clustering.silhouette,
        silhouette_by_k: clustering.scores,
        assignments,
        segments,
        feature_names: profiles.feature_names.clone(),
    })
}
