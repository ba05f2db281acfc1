//! Exact search by scanning every row.

use super::{RowFilter, VectorIndex, best_first, distance::dot, normalised_copy, normalised_query};
use ndarray::Array2;

/// Exact cosine-similarity search over L2-normalised copies of the rows.
///
/// One query scans all rows on the calling thread (about 20k × 64 in well under a
/// millisecond); use it for `exact=true` requests, as the fallback of a narrow HNSW filter,
/// and as the reference that recall is measured against.
#[derive(Debug, Clone)]
pub struct BruteForce {
    vectors: Array2<f32>,
    nonzero: Vec<bool>,
}

impl BruteForce {
    /// Indexes the rows of `vectors` (copied and normalised).
    pub fn new(vectors: &Array2<f32>) -> Self {
        let (vectors, nonzero) = normalised_copy(vectors);
        Self { vectors, nonzero }
    }

    /// The normalised rows.
    pub fn vectors(&self) -> &Array2<f32> {
        &self.vectors
    }

    /// The normalised row `r` (all zeros for a zero row).
    pub fn row(&self, r: usize) -> &[f32] {
        let dim = self.vectors.ncols();
        match self.vectors.as_slice() {
            Some(s) => &s[r * dim..(r + 1) * dim],
            None => &[],
        }
    }

    /// Whether row `r` had a non-zero, finite norm.
    pub fn is_nonzero(&self, r: usize) -> bool {
        self.nonzero.get(r).copied().unwrap_or(false)
    }

    /// Cosine similarity of row `r` to an already normalised query.
    pub(crate) fn similarity(&self, r: usize, unit_query: &[f32]) -> f32 {
        dot(self.row(r), unit_query)
    }

    /// The similarity of every row to an already normalised query, computed in the widest
    /// SIMD the CPU offers (chosen at run time).
    pub(crate) fn scan(&self, unit_query: &[f32]) -> Vec<f32> {
        let dim = self.vectors.ncols();
        let mut out = vec![0f32; self.len()];
        if let Some(rows) = self.vectors.as_slice()
            && dim > 0
            && unit_query.len() == dim
        {
            pulp::Arch::new().dispatch(ScanDots {
                rows,
                dim,
                query: unit_query,
                out: &mut out,
            });
        }
        out
    }

    /// Exact search with an already normalised query (`None` for a zero query).
    pub(crate) fn search_unit(
        &self,
        unit_query: Option<&[f32]>,
        k: usize,
        filter: Option<RowFilter<'_>>,
    ) -> Vec<(u32, f32)> {
        if k == 0 {
            return Vec::new();
        }
        let keep = |r: usize| filter.is_none_or(|f| f(r));
        let sims = match unit_query {
            Some(q) => self.scan(q),
            None => vec![0.0; self.len()],
        };
        // A bounded heap over the similarities: the filter (and the zero-row check) is asked
        // only about rows that would enter it, a few per query once it is full.
        let mut scored = crate::models::top_k(&sims, k, |r| !self.nonzero[r] || !keep(r));
        if scored.len() < k {
            // Too few non-zero rows: zero rows (similarity 0) fill up, lowest row first.
            let zeros = (0..self.len()).filter(|&r| !self.nonzero[r] && keep(r));
            scored.extend(zeros.take(k - scored.len()).map(|r| (r as u32, 0.0)));
        }
        scored
    }
}

/// Keeps the best `k` of `scored`, sorted best first.
pub(crate) fn top_k(scored: &mut Vec<(u32, f32)>, k: usize) {
    if scored.len() > k && k > 0 {
        scored.select_nth_unstable_by(k - 1, best_first);
    }
    scored.truncate(k);
    scored.sort_unstable_by(best_first);
}

impl VectorIndex for BruteForce {
    fn len(&self) -> usize {
        self.vectors.nrows()
    }

    fn dim(&self) -> usize {
        self.vectors.ncols()
    }

    fn search(&self, query: &[f32], k: usize, filter: Option<RowFilter<'_>>) -> Vec<(u32, f32)> {
        if query.len() != self.dim() {
            return Vec::new();
        }
        let unit = normalised_query(query);
        self.search_unit(unit.as_deref(), k, filter)
    }
}

/// Dot products of one query with every row, inside [`pulp::Arch::dispatch`] (a
/// `WithSimd` type, so the loop is compiled for the dispatched instruction set).
struct ScanDots<'a> {
    rows: &'a [f32],
    dim: usize,
    query: &'a [f32],
    out: &'a mut [f32],
}

impl pulp::WithSimd for ScanDots<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        for (o, row) in self.out.iter_mut().zip(self.rows.chunks_exact(self.dim)) {
            *o = crate::models::als::simd_dot(simd, row, self.query);
        }
    }
}
