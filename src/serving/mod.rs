//! The loaded model and the read queries the server answers, as plain functions that the
//! HTTP layer, the benches and the tests share.
//!
//! A [`Model`] is one bundle in memory: the item table (catalog order, the rows of the item
//! embeddings and index), the item and customer HNSW indexes, every customer's history
//! (oldest first, in item-table rows), the segments, the popularity lists and the fitted
//! recommender. It is immutable; the server swaps whole models ([`crate::server`]).
//!
//! - [`similar_items`]: nearest items by embedding, filters before the cut.
//! - [`recommend`]: personal recommendations from the customer's history.
//! - [`also_want`]: what the customer's nearest customers bought or carted.
//! - [`lookalikes`]: the customer's nearest customers.
//! - [`profile`], [`segments`], [`segment`]: what the bundle knows about a customer and the
//!   segments.

pub mod filters;
mod load;
mod queries;
mod visitor;

pub use filters::{CompiledFilter, Filters, category_under};
pub use load::{LoadError, Model};
pub use queries::{
    AlsoWanted, Lookalike, PersonalScores, ProfileCounts, ProfileOut, RecentItem, ScoredItem,
    SegmentOut, SegmentRef, also_want, also_want_rows, lookalikes, personal_scores, profile,
    recommend, recommend_scored_rows, segment, segments, similar_items, similar_rows,
};
pub use visitor::Visitor;

/// Why a query could not be answered. The server maps each case to a status and code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("unknown item {0:?}")]
    UnknownItem(String),
    #[error("unknown customer {0:?}")]
    UnknownCustomer(String),
    #[error("unknown segment {0}")]
    UnknownSegment(String),
    #[error("{message}")]
    Invalid { name: String, message: String },
    #[error("this model bundle has no {0}")]
    Unavailable(&'static str),
}

/// How a list query is asked: how many results, filters, and brute force or the index.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Number of results (the server checks 1 ≤ k ≤ its configured maximum; default 10).
    pub k: usize,
    /// Scan every row exactly instead of walking the HNSW graph (default false).
    pub exact: bool,
    pub filters: Filters,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            k: 10,
            exact: false,
            filters: Filters::default(),
        }
    }
}
