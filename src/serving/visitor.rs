//! [`Visitor`]: who a personal query is about.
//!
//! The bundle knows the customers it was trained on (a row of the customer embeddings and
//! index, a history, a segment). The live layer knows what visitors did since (their events
//! folded into a history and a real-time embedding). A `Visitor` is the two merged, so the
//! personal queries ([`super::recommend`], [`super::also_want`], [`super::lookalikes`]) and
//! the landing-page composer answer a brand-new session, a bundle customer and a customer
//! with fresh clicks through one code path.

use super::{Model, QueryError};
use kindred_training::index::VectorIndex;
use kindred_training::models::HistoryEntry;
use std::borrow::Cow;
use std::collections::HashMap;

/// What a personal query knows about one visitor. Borrowed from the model where it can be.
#[derive(Debug, Clone, PartialEq)]
pub struct Visitor<'m> {
    /// The id asked about (a customer id, or `anon:<id>` for an anonymous visitor).
    pub id: Cow<'m, str>,
    /// The customer's row in the bundle (embeddings, index, segment assignment), when the
    /// bundle was trained on them.
    pub row: Option<usize>,
    /// Interactions, oldest first, items as item-table rows: the bundle's history followed
    /// by the live events since the bundle was trained.
    pub history: Cow<'m, [HistoryEntry]>,
    /// The customer embedding: the bundle's row, or a live fold-in of the history. `None`
    /// when nothing is known (a visitor without item events).
    pub embedding: Option<Cow<'m, [f32]>>,
    /// The segment id: the bundle's assignment, or the nearest segment of a live visitor.
    pub segment: Option<u32>,
    /// The visitor's current intent: their latest live item events (item-table rows,
    /// newest first) with weights summing to the configured intent weight. Personal
    /// recommendations add the candidates' similarity to these items, so they follow the
    /// latest clicks at once; empty for visitors without live events.
    pub intent: Vec<(u32, f32)>,
}

impl<'m> Visitor<'m> {
    /// A visitor the bundle has never seen and who has done nothing yet.
    pub fn unknown(id: impl Into<String>) -> Visitor<'static> {
        Visitor {
            id: Cow::Owned(id.into()),
            row: None,
            history: Cow::Owned(Vec::new()),
            embedding: None,
            segment: None,
            intent: Vec::new(),
        }
    }

    /// Whether anything is known about the visitor (bundle row or events).
    pub fn is_known(&self) -> bool {
        self.row.is_some() || !self.history.is_empty()
    }
}

impl Model {
    /// The bundle's view of customer `id` (no live events); 404 when the bundle lacks them.
    pub fn visitor<'m>(&'m self, id: &str) -> Result<Visitor<'m>, QueryError> {
        let c = self.customer_row(id)?;
        Ok(self.bundle_visitor(c))
    }

    /// The bundle's view of customer row `c`.
    pub fn bundle_visitor(&self, c: usize) -> Visitor<'_> {
        let embedding = self.customer_index.exact().row(c);
        Visitor {
            id: Cow::Borrowed(self.customers.id(c as u32)),
            row: Some(c),
            history: Cow::Borrowed(self.histories[c].as_slice()),
            embedding: embedding
                .iter()
                .any(|x| *x != 0.0)
                .then_some(Cow::Borrowed(embedding)),
            segment: self
                .segmentation
                .as_ref()
                .and_then(|s| s.assignments.get(c).copied()),
            intent: Vec::new(),
        }
    }

    /// The `k` customers nearest to `visitor` as the trainer stored them (best first, the
    /// visitor left out), when that is what a search would return: the visitor is a bundle
    /// customer whose embedding is still their bundle row (no live events since) and the
    /// bundle stores at least `k` per customer. `None`: search the index.
    pub fn stored_neighbours(&self, visitor: &Visitor<'_>, k: usize) -> Option<&[(u32, f32)]> {
        let lists = self.customer_neighbours.as_ref()?;
        let c = visitor.row?;
        let embedding = visitor.embedding.as_deref()?;
        if lists.k() < k || !std::ptr::eq(embedding, self.customer_index.exact().row(c)) {
            return None;
        }
        let list = lists.of(c);
        Some(&list[..list.len().min(k)])
    }

    /// A real-time embedding for `history` (item-table rows): the ALS fold-in of the
    /// summed positive weights per item against the model's item factors (one k×k solve),
    /// normalised like the customer embeddings. `None` without ALS or without a positive
    /// item the model knows.
    pub fn fold_in(&self, history: &[HistoryEntry]) -> Option<Vec<f32>> {
        let scorer = self.scorer.as_ref()?;
        let als = scorer.model.als.as_ref()?;
        let mut strength: HashMap<u32, f32> = HashMap::new();
        for h in history {
            if let Some(Some(mi)) = scorer.to_model.get(h.item as usize) {
                *strength.entry(*mi).or_default() += h.weight;
            }
        }
        let mut items: Vec<(u32, f32)> = strength.into_iter().filter(|(_, w)| *w > 0.0).collect();
        if items.is_empty() {
            return None;
        }
        items.sort_unstable_by_key(|(i, _)| *i);
        let mut v = als.fold_in(&items);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            return None;
        }
        v.iter_mut().for_each(|x| *x /= norm);
        Some(v)
    }

    /// The segment most of the 15 customers nearest to `embedding` belong to (ties to the
    /// nearer customer's segment).
    pub fn nearest_segment(&self, embedding: &[f32]) -> Option<u32> {
        let s = self.segmentation.as_ref()?;
        let found = self.customer_index.search(embedding, 15, None);
        let mut votes: Vec<(u32, usize, usize)> = Vec::new();
        for (rank, (r, _)) in found.iter().enumerate() {
            let Some(&seg) = s.assignments.get(*r as usize) else {
                continue;
            };
            if self.withheld.contains(*r) {
                continue;
            }
            match votes.iter_mut().find(|v| v.0 == seg) {
                Some(v) => v.1 += 1,
                None => votes.push((seg, 1, rank)),
            }
        }
        votes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
            .map(|v| v.0)
    }

    /// Adds the visitor's intent to `scores` (the recommender's scores, model item space):
    /// the scores are first scaled so the best is 1, then each candidate gains, for every
    /// intent item j of weight wⱼ, `wⱼ · (cos(item, j) + ½·[same top-level category] +
    /// ½·[same category path])`. The cosine part goes to the [`INTENT_CANDIDATES`] items
    /// nearest to the weighted sum of the intent items' embeddings (one index search); the
    /// category part to the items of those categories.
    pub(crate) fn add_intent(&self, visitor: &Visitor<'_>, scores: &mut [f32]) {
        let Some(scorer) = self.scorer.as_ref() else {
            return;
        };
        if visitor.intent.is_empty() {
            return;
        }
        let exact = self.item_index.exact();
        let dim = exact.row(0).len();
        let mut query = vec![0f32; dim];
        for &(row, w) in &visitor.intent {
            for (q, x) in query.iter_mut().zip(exact.row(row as usize)) {
                *q += w * x;
            }
        }
        // The index answers cosine to the normalised query; times its norm that is
        // `item · query = Σ wⱼ cos(item, itemⱼ)`.
        let norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            return;
        }
        let max = scores
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(0f32, f32::max);
        if max > 0.0 {
            scores.iter_mut().for_each(|x| *x /= max);
        }
        let mut add = |row: u32, v: f32| {
            if let Some(Some(mi)) = scorer.to_model.get(row as usize)
                && let Some(s) = scores.get_mut(*mi as usize)
            {
                *s += v;
            }
        };
        for (row, sim) in self.item_index.search(&query, INTENT_CANDIDATES, None) {
            add(row, sim * norm);
        }
        for &(row, w) in &visitor.intent {
            let Some(item) = self.items.items.get(row as usize) else {
                continue;
            };
            for list in [
                self.categories.top.get(item.top_category()),
                self.categories.path.get(item.category.as_str()),
            ]
            .into_iter()
            .flatten()
            {
                for &r in list {
                    add(r, 0.5 * w);
                }
            }
        }
    }
}

/// Items considered for the intent boost of one request.
pub const INTENT_CANDIDATES: usize = 200;

/// The item-table rows of each category path and of each top-level category.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CategoryRows {
    pub path: HashMap<String, Vec<u32>>,
    pub top: HashMap<String, Vec<u32>>,
}

impl CategoryRows {
    pub fn of(items: &kindred_training::data::Catalog) -> CategoryRows {
        let mut out = CategoryRows::default();
        for (r, item) in items.items.iter().enumerate() {
            if item.category.is_empty() {
                continue;
            }
            out.path
                .entry(item.category.clone())
                .or_default()
                .push(r as u32);
            out.top
                .entry(item.top_category().to_owned())
                .or_default()
                .push(r as u32);
        }
        out
    }
}
