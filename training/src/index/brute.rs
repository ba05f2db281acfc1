//! Exact search by scanning every row.

use super::{RowFilter, VectorIndex, distance::dot, normalised_copy, normalised_query};
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
        let dim = self.dim;
        // Four rows at a time: each query vector is loaded once for four rows, and the four
        // rows' sums are independent chains the CPU overlaps. Each row's sum is formed
        // exactly as `simd_dot` forms it (even and odd vectors apart, then the tail), so
        // the results are the same bits either way.
        let blocks = self.rows.chunks_exact(4 * dim);
        let rest = blocks.remainder();
        let (out4, out_rest) = self.out.split_at_mut(self.rows.len() / dim / 4 * 4);
        let (qh, qt) = S::as_simd_f32s(self.query);
        let zero = simd.splat_f32s(0.0);
        for (o, block) in out4.chunks_exact_mut(4).zip(blocks) {
            let (r0, r) = block.split_at(dim);
            let (r1, r) = r.split_at(dim);
            let (r2, r3) = r.split_at(dim);
            let rows = [r0, r1, r2, r3].map(|r| S::as_simd_f32s(r));
            let mut even = [zero; 4];
            let mut odd = [zero; 4];
            let pairs = qh.len() / 2;
            for i in 0..pairs {
                let (q0, q1) = (qh[2 * i], qh[2 * i + 1]);
                for j in 0..4 {
                    let h = rows[j].0;
                    even[j] = simd.mul_add_f32s(h[2 * i], q0, even[j]);
                    odd[j] = simd.mul_add_f32s(h[2 * i + 1], q1, odd[j]);
                }
            }
            if qh.len() % 2 == 1 {
                let q = qh[qh.len() - 1];
                for j in 0..4 {
                    even[j] = simd.mul_add_f32s(rows[j].0[qh.len() - 1], q, even[j]);
                }
            }
            for j in 0..4 {
                let mut sum = simd.reduce_sum_f32s(simd.add_f32s(even[j], odd[j]));
                for (x, y) in rows[j].1.iter().zip(qt) {
                    sum += x * y;
                }
                o[j] = sum;
            }
        }
        for (o, row) in out_rest.iter_mut().zip(rest.chunks_exact(dim)) {
            *o = crate::models::als::simd_dot(simd, row, self.query);
        }
    }
}
