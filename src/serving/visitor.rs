//! [`Visitor`]: who a personal query is about.
//!
//! The bundle knows the customers it was trained on (a row of the customer embeddings and
//! index, a history, a segment). The live layer knows what visitors did since (their events
//! folded into a history and a real-time embedding). A `Visitor` is the two merged, so the
//! personal queries ([`super::recommend`], [`super::also_want`], [`super::lookalikes`]) and
//! the landing-page composer answer a brand-new session, a bundle customer and a customer
//! with fresh clicks through one code path.

use super::{Model, QueryError};
use kindred_training::models::HistoryEntry;
use std::borrow::Cow;

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
        }
    }
}
