//! The approximate index: hnsw_rs over normalised rows with [`DotDistance`].

use super::best_first;
use super::brute::BruteForce;
use super::distance::DotDistance;
use super::{IndexError, RowFilter, VectorIndex, normalised_query};
use crate::models::keep_best;
use hnsw_rs::api::AnnT;
use hnsw_rs::hnsw::Hnsw;
use hnsw_rs::hnswio::HnswIo;
use ndarray::Array2;
use std::path::Path;

/// hnsw_rs's maximum number of layers; `file_dump` only works with exactly this many.
const MAX_LAYER: usize = 16;

/// Build and search parameters of an [`HnswIndex`].
///
/// Defaults (`HnswParams::default()`): `m` 16, `ef_construction` 100, `ef_search` 100,
/// `min_filter_share` 0.02, `exact_scan_rows` 50,000, `full_scan_rows` 10,000. Measured on the embeddings of a
/// 100k-customer shop (ALS, 64 factors): customers recall@10 0.962 at ef_construction 100 /
/// ef_search 100 (0.967 at 200 / 64, but the build took 2.2× longer); items 0.993. Graph construction is not seeded: parallel insertion makes the
/// graph depend on thread timing, so two builds can differ slightly (recall does not).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HnswParams {
    /// Maximum connections per node and layer (hnsw_rs `max_nb_connection`).
    pub m: usize,
    /// Candidate list size while inserting; larger builds slower and finds better neighbours.
    pub ef_construction: usize,
    /// Candidate list size while searching (at least `k` is always used).
    pub ef_search: usize,
    /// A filtered search whose filter keeps less than this share of the rows scans them
    /// exactly instead: a graph walk would rarely find `k` allowed rows.
    pub min_filter_share: f64,
    /// A filtered search whose filter keeps at most about this many rows scans them exactly
    /// instead: hnsw_rs's filtered walk loses its early exit and measured about 10× slower
    /// than an unfiltered one, slower than scanning 20k rows of dimension 64.
    pub exact_scan_rows: usize,
    /// A search (filtered or not) over an index of at most this many rows scans them
    /// exactly: a graph walk in hnsw_rs costs about as much as scanning ~15k rows of
    /// dimension 64 (a filtered walk far more), so small catalogs are both faster and exact
    /// without it (qdrant's full-scan threshold). 0 always walks the graph (to measure the
    /// index itself).
    pub full_scan_rows: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 100,
            ef_search: 100,
            min_filter_share: 0.02,
            exact_scan_rows: 50_000,
            full_scan_rows: 10_000,
        }
    }
}

/// A rule of [`HnswParams::check`] that failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HnswParamsError {
    #[error("m must be between 2 and 255, got {0}")]
    M(usize),
    #[error("ef_construction must be at least m ({m}), got {ef}")]
    EfConstruction { m: usize, ef: usize },
    #[error("ef_search must be at least 1, got {0}")]
    EfSearch(usize),
    #[error("min_filter_share must be within [0, 1], got {0}")]
    MinFilterShare(f64),
}

impl HnswParams {
    /// Checks every rule, returning the first that fails.
    pub fn check(&self) -> Result<(), HnswParamsError> {
        if !(2..=255).contains(&self.m) {
            return Err(HnswParamsError::M(self.m));
        }
        if self.ef_construction < self.m {
            return Err(HnswParamsError::EfConstruction {
                m: self.m,
                ef: self.ef_construction,
            });
        }
        if self.ef_search == 0 {
            return Err(HnswParamsError::EfSearch(self.ef_search));
        }
        if !(0.0..=1.0).contains(&self.min_filter_share) {
            return Err(HnswParamsError::MinFilterShare(self.min_filter_share));
        }
        Ok(())
    }
}

/// Approximate cosine search: an HNSW graph over the non-zero normalised rows, with an
/// exact scan as fallback for zero queries, narrow filters and short results.
///
/// `Send + Sync + 'static`: the server can keep it in an `Arc`.
pub struct HnswIndex {
    hnsw: Hnsw<'static, f32, DotDistance>,
    exact: BruteForce,
    params: HnswParams,
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("rows", &self.exact.len())
            .field("dim", &self.exact.dim())
            .field("graph_points", &self.hnsw.get_nb_point())
            .field("params", &self.params)
            .finish()
    }
}

impl HnswIndex {
    /// Builds the graph over the rows of `vectors` with all cores (`parallel_insert`).
    /// Zero rows are kept out of the graph.
    pub fn build(vectors: &Array2<f32>, params: HnswParams) -> Result<Self, IndexError> {
        params.check()?;
        let exact = BruteForce::new(vectors);
        let rows: Vec<(Vec<f32>, usize)> = (0..exact.len())
            .filter(|&r| exact.is_nonzero(r))
            .map(|r| (exact.row(r).to_vec(), r))
            .collect();
        let hnsw = Hnsw::new(
            params.m,
            rows.len().max(1),
            MAX_LAYER,
            params.ef_construction,
            DotDistance,
        );
        let refs: Vec<(&Vec<f32>, usize)> = rows.iter().map(|(v, r)| (v, *r)).collect();
        hnsw.parallel_insert(&refs);
        Ok(Self {
            hnsw,
            exact,
            params,
        })
    }

    /// The parameters the index was built (or loaded) with.
    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Sets the search-time parameters (`ef_search`, `min_filter_share`, `exact_scan_rows`,
    /// `full_scan_rows`);
    /// the build parameters of `params` are ignored.
    pub fn set_search_params(&mut self, params: HnswParams) -> Result<(), IndexError> {
        let params = HnswParams {
            m: self.params.m,
            ef_construction: self.params.ef_construction,
            ..params
        };
        params.check()?;
        self.params = params;
        Ok(())
    }

    /// The exact index over the same rows (for `exact=true` requests and recall checks).
    pub fn exact(&self) -> &BruteForce {
        &self.exact
    }

    /// Writes the graph as `<basename>.hnsw.graph` and `<basename>.hnsw.data` into `dir`
    /// (which must exist) and returns the basename actually used: hnsw_rs picks another one
    /// rather than overwrite files it cannot replace.
    pub fn save(&self, dir: &Path, basename: &str) -> Result<String, IndexError> {
        self.hnsw
            .file_dump(dir, basename)
            .map_err(|e| IndexError::Dump {
                dir: dir.to_path_buf(),
                basename: basename.to_owned(),
                message: e.to_string(),
            })
    }

    /// Reloads a graph written by [`save`](Self::save); `vectors` are the same embeddings
    /// the index was built from (the bundle stores them beside the dump).
    pub fn load(
        dir: &Path,
        basename: &str,
        vectors: Array2<f32>,
        params: HnswParams,
    ) -> Result<Self, IndexError> {
        params.check()?;
        let load_err = |message: String| IndexError::Load {
            dir: dir.to_path_buf(),
            basename: basename.to_owned(),
            message,
        };
        for ext in ["hnsw.graph", "hnsw.data"] {
            let path = dir.join(format!("{basename}.{ext}"));
            if !path.is_file() {
                return Err(load_err(format!("{} does not exist", path.display())));
            }
        }
        // The loaded graph borrows from its loader (hnsw_rs ties the lifetimes even when
        // the data is read into memory, as here without mmap). The loader is a few hundred
        // bytes of paths and options; it is leaked so that the graph is 'static.
        let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, basename)));
        let hnsw: Hnsw<'static, f32, DotDistance> = io
            .load_hnsw::<f32, DotDistance>()
            .map_err(|e| load_err(e.to_string()))?;
        let exact = BruteForce::new(&vectors);
        let nonzero = (0..exact.len()).filter(|&r| exact.is_nonzero(r)).count();
        let found_dim = hnsw.get_point_indexation().get_data_dimension();
        if hnsw.get_nb_point() != nonzero || (nonzero > 0 && found_dim != exact.dim()) {
            return Err(IndexError::Mismatch {
                dir: dir.to_path_buf(),
                basename: basename.to_owned(),
                found: hnsw.get_nb_point(),
                found_dim,
                rows: exact.len(),
                dim: exact.dim(),
            });
        }
        Ok(Self {
            hnsw,
            exact,
            params,
        })
    }

    /// Whether a filter keeps too few rows for a graph walk, or few enough that scanning
    /// them is cheaper; estimated on up to 1,024 evenly spaced rows.
    fn filter_too_narrow(&self, filter: RowFilter<'_>) -> bool {
        let n = self.exact.len();
        let step = n.div_ceil(1024).max(1);
        let (mut seen, mut kept) = (0usize, 0usize);
        for r in (0..n).step_by(step) {
            seen += 1;
            kept += usize::from(filter(r));
        }
        if seen == 0 {
            return true;
        }
        let share = kept as f64 / seen as f64;
        share < self.params.min_filter_share
            || share * n as f64 <= self.params.exact_scan_rows as f64
    }
}

impl VectorIndex for HnswIndex {
    fn len(&self) -> usize {
        self.exact.len()
    }

    fn dim(&self) -> usize {
        self.exact.dim()
    }

    fn search(&self, query: &[f32], k: usize, filter: Option<RowFilter<'_>>) -> Vec<(u32, f32)> {
        if query.len() != self.dim() || k == 0 {
            return Vec::new();
        }
        let Some(unit) = normalised_query(query) else {
            return self.exact.search_unit(None, k, filter);
        };
        // Small indexes are scanned exactly, filtered or not (cheaper than walking the
        // graph); larger ones too when the filter keeps too few rows for the graph.
        if self.len() <= self.params.full_scan_rows
            || filter.is_some_and(|f| self.filter_too_narrow(f))
        {
            return self.exact.search_unit(Some(&unit), k, filter);
        }
        let ef = self.params.ef_search.max(k);
        let found = match filter {
            None => self.hnsw.search(&unit, k, ef),
            Some(f) => {
                let keep = |id: &usize| f(*id);
                self.hnsw.search_filter(&unit, k, ef, Some(&keep))
            }
        };
        if found.len() < k {
            // Fewer than k reachable: small or narrow sets, or zero rows are needed to fill.
            return self.exact.search_unit(Some(&unit), k, filter);
        }
        let mut scored: Vec<(u32, f32)> = found
            .iter()
            .map(|n| (n.d_id as u32, self.exact.similarity(n.d_id, &unit)))
            .collect();
        keep_best(&mut scored, k, best_first);
        scored
    }
}
