//! [`NeighbourLists`]: every row's nearest other rows, found once by the trainer.
//!
//! "Customers like you also want" starts from a customer's nearest customers. For a customer
//! whose embedding is the bundle's, that set is a function of the bundle alone, so the
//! trainer finds it once per customer (the same index search the server would run) and
//! stores it; the server then reads it instead of scanning every customer on each request.
//! A visitor whose embedding changed since (live events) is still searched online.
//!
//! File layout (little-endian): the magic `KNBR`, the format version (`u32`, 1), the row
//! count `n` and the list length `k` (`u32` each), then `n × k` entries of a neighbour row
//! (`u32`) and its cosine similarity (`f32`), best first. A row with fewer than `k`
//! neighbours is padded with [`NeighbourLists::PAD`].

use super::{HnswIndex, VectorIndex};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"KNBR";
const FORMAT: u32 = 1;
const HEADER: usize = 16;
const ENTRY: usize = 8;

/// The `k` nearest other rows of every row of an index, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourLists {
    k: usize,
    /// `rows × k` entries; unused places hold `(PAD, 0.0)`.
    entries: Vec<(u32, f32)>,
}

/// Why a neighbour file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NeighbourError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl NeighbourLists {
    /// Marks an unused place in a list.
    pub const PAD: u32 = u32::MAX;

    /// Searches `index` for the `k` nearest other rows of each of its rows (in parallel),
    /// exactly as a query with the row's own vector would: `k + 1` found, the row itself
    /// left out. A zero row has no neighbours.
    pub fn compute(index: &HnswIndex, k: usize) -> NeighbourLists {
        let n = index.len();
        let exact = index.exact();
        let mut entries = vec![(Self::PAD, 0.0f32); n * k];
        if k > 0 {
            entries.par_chunks_mut(k).enumerate().for_each(|(r, list)| {
                if !exact.is_nonzero(r) {
                    return;
                }
                let found = index.search(exact.row(r), k + 1, None);
                let others = found.into_iter().filter(|(c, _)| *c as usize != r);
                for (place, entry) in list.iter_mut().zip(others) {
                    *place = entry;
                }
            });
        }
        NeighbourLists { k, entries }
    }

    /// Length of each list.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.entries.len().checked_div(self.k).unwrap_or(0)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The neighbours of row `r` (row, cosine similarity), best first; empty for a row out
    /// of range.
    pub fn of(&self, r: usize) -> &[(u32, f32)] {
        let Some(list) = self.entries.get(r * self.k..(r + 1) * self.k) else {
            return &[];
        };
        let used = list
            .iter()
            .position(|(c, _)| *c == Self::PAD)
            .unwrap_or(list.len());
        &list[..used]
    }

    /// Writes the lists to `path` (format in the module docs).
    pub fn save(&self, path: &Path) -> Result<(), NeighbourError> {
        let mut bytes = Vec::with_capacity(HEADER + self.entries.len() * ENTRY);
        bytes.extend_from_slice(MAGIC);
        for v in [FORMAT, self.len() as u32, self.k as u32] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        for (row, sim) in &self.entries {
            bytes.extend_from_slice(&row.to_le_bytes());
            bytes.extend_from_slice(&sim.to_le_bytes());
        }
        std::fs::write(path, bytes).map_err(|source| NeighbourError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Reads lists written by [`save`](Self::save) for an index of `rows` rows, checking
    /// the header, the size and every entry.
    pub fn load(path: &Path, rows: usize) -> Result<NeighbourLists, NeighbourError> {
        let bytes = std::fs::read(path).map_err(|source| NeighbourError::Io {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |message: String| NeighbourError::Invalid {
            path: path.to_owned(),
            message,
        };
        let word = |at: usize| {
            bytes
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
        };
        if bytes.get(..4) != Some(&MAGIC[..]) {
            return Err(invalid("not a neighbour file (no KNBR header)".into()));
        }
        let (Some(format), Some(n), Some(k)) = (word(4), word(8), word(12)) else {
            return Err(invalid("truncated header".into()));
        };
        if format != FORMAT {
            return Err(invalid(format!(
                "format version {format}; this kindred reads version {FORMAT}"
            )));
        }
        let (n, k) = (n as usize, k as usize);
        if n != rows {
            return Err(invalid(format!(
                "lists for {n} rows, but the index has {rows}"
            )));
        }
        let expected = n
            .checked_mul(k)
            .and_then(|e| e.checked_mul(ENTRY))
            .and_then(|e| e.checked_add(HEADER));
        if expected != Some(bytes.len()) {
            return Err(invalid(format!(
                "{} bytes, expected {} for {n} lists of {k}",
                bytes.len(),
                expected.map_or_else(|| "more than addressable".to_owned(), |e| e.to_string())
            )));
        }
        let mut entries = Vec::with_capacity(n * k);
        for (i, e) in bytes[HEADER..].chunks_exact(ENTRY).enumerate() {
            let row = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            let sim = f32::from_le_bytes([e[4], e[5], e[6], e[7]]);
            if (row != Self::PAD && row as usize >= n) || !sim.is_finite() {
                return Err(invalid(format!(
                    "list of row {}, place {}: neighbour {row} with similarity {sim} \
                     (rows are below {n}, similarities finite)",
                    i / k,
                    i % k
                )));
            }
            entries.push((row, sim));
        }
        Ok(NeighbourLists { k, entries })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::index::HnswParams;
    use ndarray::Array2;

    fn vectors() -> Array2<f32> {
        // 40 rows on a circle, one zero row at the end.
        let mut v = Array2::zeros((41, 2));
        for r in 0..40 {
            let a = r as f32 * std::f32::consts::TAU / 40.0;
            v[[r, 0]] = a.cos();
            v[[r, 1]] = a.sin();
        }
        v
    }

    #[test]
    fn lists_are_what_a_search_for_the_row_returns() {
        let index = HnswIndex::build(&vectors(), HnswParams::default()).unwrap();
        let lists = NeighbourLists::compute(&index, 5);
        assert_eq!((lists.len(), lists.k()), (41, 5));
        for r in 0..40 {
            let mut want = index.search(index.exact().row(r), 6, None);
            want.retain(|(c, _)| *c as usize != r);
            want.truncate(5);
            assert_eq!(lists.of(r), &want[..], "row {r}");
            // The circle's neighbours of row r are r ± 1 and r ± 2.
            let near: Vec<u32> = lists.of(r)[..2].iter().map(|(c, _)| *c).collect();
            assert!(near.contains(&(((r + 1) % 40) as u32)), "row {r}: {near:?}");
        }
        assert!(lists.of(40).is_empty(), "a zero row has no neighbours");
        assert!(lists.of(41).is_empty(), "out of range");
    }

    #[test]
    fn save_and_load_round_trip_and_bad_files_are_named() {
        let index = HnswIndex::build(&vectors(), HnswParams::default()).unwrap();
        let lists = NeighbourLists::compute(&index, 4);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customers.neighbours");
        lists.save(&path).unwrap();
        assert_eq!(NeighbourLists::load(&path, 41).unwrap(), lists);

        let err = NeighbourLists::load(&path, 40).unwrap_err().to_string();
        assert!(
            err.contains("customers.neighbours") && err.contains("41 rows"),
            "{err}"
        );

        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, &bytes).unwrap();
        let err = NeighbourLists::load(&path, 41).unwrap_err().to_string();
        assert!(err.contains("expected"), "{err}");

        lists.save(&path).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let at = HEADER + 7 * ENTRY;
        bytes[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let err = NeighbourLists::load(&path, 41).unwrap_err().to_string();
        assert!(err.contains("row 1, place 3: neighbour 1000"), "{err}");

        std::fs::write(&path, b"nope").unwrap();
        let err = NeighbourLists::load(&path, 41).unwrap_err().to_string();
        assert!(err.contains("KNBR"), "{err}");
    }
}
