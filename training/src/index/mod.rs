//! Nearest-neighbour search over embeddings: an exact [`BruteForce`] scan and an approximate
//! [`HnswIndex`] (hnsw_rs), behind one [`VectorIndex`] trait so that callers — and the tests —
//! can swap one for the other.
//!
//! Both work on L2-normalised copies of the rows and score by cosine similarity. A row whose
//! norm is zero (or not finite) stays a zero vector: it scores 0 against everything and is
//! returned only when no other row passes the filter. Results are `(row, similarity)`, best
//! first, ties broken by the smaller row.
//!
//! [`recall_at_k`] measures an approximate index against the exact one on sample rows
//! ([`sample_rows`]); the pipeline records it in the bundle manifest.

mod brute;
mod distance;
mod hnsw;
mod neighbours;
mod recall;

pub use brute::BruteForce;
pub use distance::{DotDistance, dot};
pub use hnsw::{HnswIndex, HnswParams, HnswParamsError};
pub use neighbours::{NeighbourError, NeighbourLists};
pub use recall::{recall_at_k, sample_rows};

use std::path::PathBuf;

/// A row filter: `true` keeps the row. Filters apply before the cut to `k`.
pub type RowFilter<'a> = &'a (dyn Fn(usize) -> bool + Sync);

/// Nearest-neighbour search over the rows of an embedding matrix.
pub trait VectorIndex: Send + Sync {
    /// Number of indexed rows.
    fn len(&self) -> usize;

    /// Whether the index holds no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Dimension of the indexed vectors.
    fn dim(&self) -> usize;

    /// The `k` rows most similar to `query` by cosine similarity, best first, among the rows
    /// that `filter` keeps. Returns fewer than `k` only when fewer rows pass the filter, and
    /// nothing when `query` does not have [`dim`](VectorIndex::dim) components.
    fn search(&self, query: &[f32], k: usize, filter: Option<RowFilter<'_>>) -> Vec<(u32, f32)>;
}

/// Errors of building, saving and loading indexes.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("invalid HNSW parameters: {0}")]
    Params(#[from] HnswParamsError),
    #[error("the index has {rows} rows; hnsw_rs supports at most {max}")]
    TooManyRows { rows: usize, max: usize },
    #[error("cannot dump the HNSW index to {dir}/{basename}: {message}")]
    Dump {
        dir: PathBuf,
        basename: String,
        message: String,
    },
    #[error("cannot load the HNSW index {dir}/{basename}: {message}")]
    Load {
        dir: PathBuf,
        basename: String,
        message: String,
    },
    #[error(
        "the HNSW dump {dir}/{basename} holds {found} points of dimension {found_dim}, \
         but the given vectors are {rows} × {dim}"
    )]
    Mismatch {
        dir: PathBuf,
        basename: String,
        found: usize,
        found_dim: usize,
        rows: usize,
        dim: usize,
    },
}

/// A standard-layout copy of `vectors` with every row scaled to unit length, and which rows
/// are non-zero (zero and non-finite rows become all zeros).
pub(crate) fn normalised_copy(vectors: &ndarray::Array2<f32>) -> (ndarray::Array2<f32>, Vec<bool>) {
    let mut out = vectors.as_standard_layout().into_owned();
    let mut nonzero = Vec::with_capacity(out.nrows());
    for mut row in out.rows_mut() {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm.is_finite() && norm > 0.0 {
            row.mapv_inplace(|x| x / norm);
            nonzero.push(true);
        } else {
            row.fill(0.0);
            nonzero.push(false);
        }
    }
    (out, nonzero)
}

/// `query` scaled to unit length, or `None` when its norm is zero or not finite.
pub(crate) fn normalised_query(query: &[f32]) -> Option<Vec<f32>> {
    let norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm.is_finite() && norm > 0.0).then(|| query.iter().map(|x| x / norm).collect())
}

/// Orders `(row, score)` best first: higher score, then smaller row.
pub(crate) use crate::models::best_first;
