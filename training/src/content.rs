//! Content embeddings for items without interactions (cold start).
//!
//! A new product has no collaborative embedding, but it has a catalog row: a category path,
//! a brand, a colour and a price. [`ContentModel::fit`] learns, from the warm items (those with
//! a collaborative embedding), the mean direction of every content feature: each category
//! path prefix (`shoes`, `shoes/sneakers`), brand, colour and price bucket (log-price
//! quantiles within the top category). A cold item gets the weighted mean of its known
//! features ([`ContentWeights`]: deepest known category first, then brand, then colour and
//! price), scaled to the warm items' median norm, so that it lands among the warm items it
//! resembles and is recommendable on day one.
//!
//! The model is serialisable: the server keeps it in the bundle and embeds a brand-new item
//! from its catalog row with [`ContentModel::embed`].

use crate::data::{Catalog, Item};
use ndarray::Array2;
use std::collections::BTreeMap;

/// How much each kind of content feature counts in a cold item's embedding.
///
/// Defaults: the deepest known category prefix 4, each shallower prefix half the one below
/// it (`category_decay` 0.5), brand 2, colour 1, price bucket 1, 4 price buckets per top
/// category.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContentWeights {
    pub category: f32,
    pub category_decay: f32,
    pub brand: f32,
    pub color: f32,
    pub price: f32,
    pub price_buckets: usize,
}

impl Default for ContentWeights {
    fn default() -> Self {
        Self {
            category: 4.0,
            category_decay: 0.5,
            brand: 2.0,
            color: 1.0,
            price: 1.0,
            price_buckets: 4,
        }
    }
}

/// The mean direction of one content feature over the warm items that carry it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureMean {
    /// Mean of the L2-normalised warm embeddings carrying the feature.
    pub mean: Vec<f32>,
    /// Number of warm items it was learned from.
    pub count: usize,
}

/// The learned feature table: everything needed to embed an item from its catalog row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContentModel {
    pub dim: usize,
    pub weights: ContentWeights,
    /// Feature key (`category:shoes/sneakers`, `brand:acme`, `color:black`,
    /// `price:shoes:2`) → mean direction.
    pub features: BTreeMap<String, FeatureMean>,
    /// Top category → ascending inner log-price bucket edges (quantiles over the catalog).
    pub price_edges: BTreeMap<String, Vec<f64>>,
    /// Mean direction of all warm items: the embedding of an item with no known feature.
    pub global_mean: Vec<f32>,
    /// Median norm of the warm embeddings; every content embedding is scaled to it.
    pub target_norm: f32,
    /// Number of warm items the model was learned from.
    pub warm_items: usize,
}

/// Learns a [`ContentModel`] with default weights. `item_rows[i]` is the row of catalog item
/// `i` in `warm` (`None` or missing for items without a collaborative embedding).
pub fn content_embeddings(
    catalog: &Catalog,
    item_rows: &[Option<usize>],
    warm: &Array2<f32>,
) -> ContentModel {
    ContentModel::fit(catalog, item_rows, warm, ContentWeights::default())
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

fn key_text(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The category path prefixes of an item, shallowest first (`shoes`, `shoes/sneakers`).
fn category_prefixes(category: &str) -> Vec<String> {
    let parts: Vec<String> = category
        .split('/')
        .map(key_text)
        .filter(|p| !p.is_empty())
        .collect();
    (1..=parts.len()).map(|d| parts[..d].join("/")).collect()
}

fn log_price(item: &Item) -> Option<f64> {
    item.price
        .filter(|p| p.is_finite() && *p > 0.0)
        .map(f64::ln)
}

impl ContentModel {
    /// Learns feature means from the warm items of `catalog` (see the module docs).
    pub fn fit(
        catalog: &Catalog,
        item_rows: &[Option<usize>],
        warm: &Array2<f32>,
        weights: ContentWeights,
    ) -> Self {
        let dim = warm.ncols();
        let mut model = ContentModel {
            dim,
            price_edges: Self::price_edges(catalog, weights.price_buckets),
            weights,
            features: BTreeMap::new(),
            global_mean: vec![0.0; dim],
            target_norm: 0.0,
            warm_items: 0,
        };
        let mut sums: BTreeMap<String, (Vec<f64>, usize)> = BTreeMap::new();
        let mut global = vec![0f64; dim];
        let mut norms = Vec::new();
        for (i, item) in catalog.items.iter().enumerate() {
            let Some(row) = item_rows
                .get(i)
                .copied()
                .flatten()
                .filter(|&r| r < warm.nrows())
            else {
                continue;
            };
            let v = warm.row(row);
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if !n.is_finite() || n == 0.0 {
                continue;
            }
            norms.push(n);
            for (g, x) in global.iter_mut().zip(v.iter()) {
                *g += f64::from(x / n);
            }
            for key in model.feature_keys(item).into_iter().map(|(k, _)| k) {
                let entry = sums.entry(key).or_insert_with(|| (vec![0.0; dim], 0));
                for (s, x) in entry.0.iter_mut().zip(v.iter()) {
                    *s += f64::from(x / n);
                }
                entry.1 += 1;
            }
        }
        model.warm_items = norms.len();
        if norms.is_empty() {
            return model;
        }
        norms.sort_unstable_by(f32::total_cmp);
        model.target_norm = norms[norms.len() / 2];
        let count = norms.len() as f64;
        model.global_mean = global.iter().map(|g| (g / count) as f32).collect();
        model.features = sums
            .into_iter()
            .map(|(key, (sum, count))| {
                let mean = sum.iter().map(|s| (s / count as f64) as f32).collect();
                (key, FeatureMean { mean, count })
            })
            .collect();
        model
    }

    /// Inner quantile edges of log price per top category.
    fn price_edges(catalog: &Catalog, buckets: usize) -> BTreeMap<String, Vec<f64>> {
        let mut by_top: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for item in &catalog.items {
            if let Some(lp) = log_price(item) {
                by_top
                    .entry(key_text(item.top_category()))
                    .or_default()
                    .push(lp);
            }
        }
        by_top
            .into_iter()
            .map(|(top, mut prices)| {
                prices.sort_unstable_by(f64::total_cmp);
                let edges = (1..buckets.max(1))
                    .map(|b| prices[(b * prices.len() / buckets).min(prices.len() - 1)])
                    .collect();
                (top, edges)
            })
            .collect()
    }

    /// The feature keys of an item with their weights, before skipping unknown features.
    /// Category prefixes come deepest first with weight 1 as a placeholder (set in `embed`).
    fn feature_keys(&self, item: &Item) -> Vec<(String, f32)> {
        let w = &self.weights;
        let mut keys: Vec<(String, f32)> = category_prefixes(&item.category)
            .into_iter()
            .rev()
            .map(|p| (format!("category:{p}"), 1.0))
            .collect();
        if let Some(b) = item
            .brand
            .as_deref()
            .map(key_text)
            .filter(|b| !b.is_empty())
        {
            keys.push((format!("brand:{b}"), w.brand));
        }
        if let Some(c) = item
            .color
            .as_deref()
            .map(key_text)
            .filter(|c| !c.is_empty())
        {
            keys.push((format!("color:{c}"), w.color));
        }
        let top = key_text(item.top_category());
        if let (Some(lp), Some(edges)) = (log_price(item), self.price_edges.get(&top)) {
            let bucket = edges.iter().filter(|&&e| lp >= e).count();
            keys.push((format!("price:{top}:{bucket}"), w.price));
        }
        keys
    }

    /// The content embedding of an item from its catalog row: the weighted mean of its known
    /// features' directions, scaled to the warm items' median norm; the global mean when no
    /// feature is known. `None` when the model saw no warm item at all.
    pub fn embed(&self, item: &Item) -> Option<Vec<f32>> {
        if self.warm_items == 0 || self.dim == 0 {
            return None;
        }
        let mut combined = vec![0f32; self.dim];
        let mut total = 0f32;
        let mut category_weight = self.weights.category;
        for (key, weight) in self.feature_keys(item) {
            let Some(feature) = self.features.get(&key) else {
                continue;
            };
            let weight = if key.starts_with("category:") {
                let w = category_weight;
                category_weight *= self.weights.category_decay;
                w
            } else {
                weight
            };
            if weight <= 0.0 || !weight.is_finite() {
                continue;
            }
            for (c, m) in combined.iter_mut().zip(&feature.mean) {
                *c += weight * m;
            }
            total += weight;
        }
        if total == 0.0 || norm(&combined) == 0.0 {
            combined.clone_from(&self.global_mean);
        }
        let n = norm(&combined);
        if n.is_finite() && n > 0.0 {
            let scale = self.target_norm / n;
            combined.iter_mut().for_each(|c| *c *= scale);
        } else {
            combined.fill(0.0);
        }
        Some(combined)
    }

    /// Content embeddings of the catalog items that have no warm row, as
    /// `(catalog index, embedding)` in catalog order.
    pub fn cold_embeddings(
        &self,
        catalog: &Catalog,
        item_rows: &[Option<usize>],
    ) -> Vec<(usize, Vec<f32>)> {
        catalog
            .items
            .iter()
            .enumerate()
            .filter(|(i, _)| item_rows.get(*i).copied().flatten().is_none())
            .filter_map(|(i, item)| self.embed(item).map(|v| (i, v)))
            .collect()
    }
}
