//! The model bundle: everything the online server needs, written atomically as
//! `models/<version>/`.
//!
//! A bundle is a folder of plain files (JSON, Parquet, HNSW dumps) plus `manifest.json`,
//! which records the format version, how the bundle was made, its figures, and the size and
//! CRC-32 of every other file. [`BundleWriter`] builds the folder under a temporary name and
//! renames it into place only when complete, so a reader never sees half a bundle;
//! [`BundleReader`] refuses a bundle of a newer format or with a missing or corrupt file.

use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use ndarray::Array2;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The bundle format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Name of the manifest inside a bundle.
pub const MANIFEST: &str = "manifest.json";
/// Each customer's nearest customers ([`crate::index::NeighbourLists`]); optional: bundles
/// trained with `neighbour_lists = 0` (or before it existed) have none.
pub const CUSTOMER_NEIGHBOURS: &str = "customers.neighbours";
/// Each item's most similar items, like [`CUSTOMER_NEIGHBOURS`].
pub const ITEM_NEIGHBOURS: &str = "items.neighbours";

/// Problems writing or reading a bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a model bundle (no {MANIFEST})")]
    NotABundle { path: PathBuf },
    #[error(
        "{path}: bundle format version {found} is newer than this kindred supports ({supported}); upgrade kindred"
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: file {file} listed in the manifest is missing")]
    MissingFile { path: PathBuf, file: String },
    #[error("{path}: file {file} is corrupt ({reason})")]
    Corrupt {
        path: PathBuf,
        file: String,
        reason: String,
    },
    #[error("{path}: no model bundle found")]
    NoBundle { path: PathBuf },
    #[error("{path}: version {version} already exists")]
    Exists { path: PathBuf, version: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Size and checksum of one bundle file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    pub bytes: u64,
    pub crc32: u32,
}

/// The manifest of a bundle. Parameters, counts and metrics are free-form JSON so that
/// adding a figure does not need a new format version.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// The folder name, e.g. `20261204-170500`.
    pub version: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    pub kindred_version: String,
    /// CRC-32 of the input data, to tell whether two bundles saw the same data.
    pub data_fingerprint: String,
    pub params: serde_json::Value,
    pub counts: serde_json::Value,
    pub metrics: serde_json::Value,
    pub index_recall: serde_json::Value,
    pub files: BTreeMap<String, FileEntry>,
}

fn checksum(path: &Path) -> Result<FileEntry, BundleError> {
    let mut file = fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileEntry {
        bytes,
        crc32: hasher.finalize(),
    })
}

/// A new version name from the current UTC time.
pub fn new_version() -> String {
    chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string()
}

/// The newest bundle folder under `models_dir`: the latest `created_at` of its manifest
/// (the version name breaks ties).
pub fn newest(models_dir: &Path) -> Result<PathBuf, BundleError> {
    let entries = fs::read_dir(models_dir).map_err(io_err(models_dir))?;
    // Newest by the manifest's creation time; bundles whose time cannot be read rank
    // below those whose time can, and the folder name breaks ties.
    let mut best: Option<((i64, String), PathBuf)> = None;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let manifest = path.join(MANIFEST);
        if name.starts_with('.') || !manifest.is_file() {
            continue;
        }
        let created = fs::read(&manifest)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc3339(v.get("created_at")?.as_str()?).ok())
            .map_or(i64::MIN, |t| t.timestamp_millis());
        let key = (created, name);
        if best.as_ref().is_none_or(|(b, _)| key > *b) {
            best = Some((key, path));
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| BundleError::NoBundle {
        path: models_dir.to_owned(),
    })
}

/// Builds a bundle in a hidden temporary folder and renames it into place on
/// [`BundleWriter::commit`]. Dropping an uncommitted writer removes the temporary folder.
#[derive(Debug)]
pub struct BundleWriter {
    models_dir: PathBuf,
    version: String,
    tmp: PathBuf,
    committed: bool,
}

impl BundleWriter {
    /// Starts bundle `version` under `models_dir` (created if needed).
    pub fn create(models_dir: &Path, version: &str) -> Result<BundleWriter, BundleError> {
        fs::create_dir_all(models_dir).map_err(io_err(models_dir))?;
        let final_dir = models_dir.join(version);
        if final_dir.exists() {
            return Err(BundleError::Exists {
                path: models_dir.to_owned(),
                version: version.to_owned(),
            });
        }
        let tmp = models_dir.join(format!(".tmp-{version}-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        Ok(BundleWriter {
            models_dir: models_dir.to_owned(),
            version: version.to_owned(),
            tmp,
            committed: false,
        })
    }

    /// The temporary folder, for writers of other file kinds (HNSW dumps).
    pub fn dir(&self) -> &Path {
        &self.tmp
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Writes `value` as pretty JSON to `name`.
    pub fn write_json<T: serde::Serialize>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), BundleError> {
        let path = self.tmp.join(name);
        let text = serde_json::to_vec_pretty(value).map_err(|e| BundleError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        fs::write(&path, text).map_err(io_err(&path))
    }

    /// Writes raw bytes to `name`.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> Result<(), BundleError> {
        let path = self.tmp.join(name);
        fs::write(&path, bytes).map_err(io_err(&path))
    }

    /// Writes row embeddings with their external ids as Parquet (`id` Utf8,
    /// `embedding` FixedSizeList<Float32>).
    pub fn write_embeddings(
        &self,
        name: &str,
        ids: &[String],
        vectors: &Array2<f32>,
    ) -> Result<(), BundleError> {
        let path = self.tmp.join(name);
        write_embeddings_file(&path, ids, vectors)
    }

    /// Checksums every file, writes the manifest, syncs and renames the folder into place.
    pub fn commit(mut self, mut manifest: Manifest) -> Result<PathBuf, BundleError> {
        manifest.files.clear();
        let entries = fs::read_dir(&self.tmp).map_err(io_err(&self.tmp))?;
        for entry in entries {
            let entry = entry.map_err(io_err(&self.tmp))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == MANIFEST || !entry.path().is_file() {
                continue;
            }
            manifest.files.insert(name, checksum(&entry.path())?);
        }
        manifest.format_version = FORMAT_VERSION;
        manifest.version = self.version.clone();
        let path = self.tmp.join(MANIFEST);
        let text = serde_json::to_vec_pretty(&manifest).map_err(|e| BundleError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let mut f = fs::File::create(&path).map_err(io_err(&path))?;
        f.write_all(&text).map_err(io_err(&path))?;
        f.sync_all().map_err(io_err(&path))?;
        for name in manifest.files.keys() {
            let p = self.tmp.join(name);
            if let Ok(f) = fs::File::open(&p) {
                f.sync_all().map_err(io_err(&p))?;
            }
        }
        let final_dir = self.models_dir.join(&self.version);
        fs::rename(&self.tmp, &final_dir).map_err(io_err(&final_dir))?;
        if let Ok(d) = fs::File::open(&self.models_dir) {
            let _ = d.sync_all();
        }
        self.committed = true;
        Ok(final_dir)
    }
}

impl Drop for BundleWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Writes an embeddings Parquet file (see [`BundleWriter::write_embeddings`]).
pub fn write_embeddings_file(
    path: &Path,
    ids: &[String],
    vectors: &Array2<f32>,
) -> Result<(), BundleError> {
    let dim = vectors.ncols();
    let corrupt = |reason: String| BundleError::Corrupt {
        path: path.to_owned(),
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        reason,
    };
    if ids.len() != vectors.nrows() {
        return Err(corrupt(format!(
            "{} ids for {} vectors",
            ids.len(),
            vectors.nrows()
        )));
    }
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item.clone(), dim as i32),
            false,
        ),
    ]));
    let file = fs::File::create(path).map_err(io_err(path))?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
        .map_err(|e| corrupt(e.to_string()))?;
    const CHUNK: usize = 65_536;
    let mut start = 0;
    while start < ids.len() || (start == 0 && ids.is_empty()) {
        let end = (start + CHUNK).min(ids.len());
        let id_col: ArrayRef = Arc::new(StringArray::from_iter_values(&ids[start..end]));
        let values: Vec<f32> = vectors
            .slice(ndarray::s![start..end, ..])
            .iter()
            .copied()
            .collect();
        let list = FixedSizeListArray::try_new(
            item.clone(),
            dim as i32,
            Arc::new(Float32Array::from(values)),
            None,
        )
        .map_err(|e| corrupt(e.to_string()))?;
        let batch = RecordBatch::try_new(schema.clone(), vec![id_col, Arc::new(list)])
            .map_err(|e| corrupt(e.to_string()))?;
        writer.write(&batch).map_err(|e| corrupt(e.to_string()))?;
        if end == ids.len() {
            break;
        }
        start = end;
    }
    writer.close().map_err(|e| corrupt(e.to_string()))?;
    Ok(())
}

/// Reads an embeddings Parquet file back into ids and a matrix.
pub fn read_embeddings_file(path: &Path) -> Result<(Vec<String>, Array2<f32>), BundleError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let corrupt = |reason: String| BundleError::Corrupt {
        path: path.to_owned(),
        file: name.clone(),
        reason,
    };
    let file = fs::File::open(path).map_err(io_err(path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| corrupt(e.to_string()))?;
    let mut ids = Vec::new();
    let mut values: Vec<f32> = Vec::new();
    let mut dim = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(e.to_string()))?;
        let id_col = batch
            .column_by_name("id")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| corrupt("column id missing or not Utf8".into()))?;
        let emb = batch
            .column_by_name("embedding")
            .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
            .ok_or_else(|| corrupt("column embedding missing or not a fixed-size list".into()))?;
        dim = emb.value_length() as usize;
        let floats = emb
            .values()
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or_else(|| corrupt("embedding values are not Float32".into()))?;
        let offset = emb.offset() * dim;
        values.extend_from_slice(&floats.values()[offset..offset + emb.len() * dim]);
        ids.extend(id_col.iter().map(|s| s.unwrap_or_default().to_owned()));
    }
    let n = ids.len();
    let matrix = Array2::from_shape_vec((n, dim), values).map_err(|e| corrupt(e.to_string()))?;
    Ok((ids, matrix))
}

/// `model.json`: the served recommender's parameters and item space.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelFile {
    pub params: crate::models::hybrid::HybridParams,
    pub description: String,
    /// External item ids in the model's index order.
    pub items: Vec<String>,
    /// Popularity score per model item.
    pub popularity: Vec<f32>,
    /// Items with an EASE weight row, in row order (when EASE is in the blend).
    pub ease_items: Option<Vec<String>>,
}

/// The fitted recommender of a bundle with its item id map.
#[derive(Debug, Clone)]
pub struct LoadedRecommender {
    pub model: crate::models::hybrid::Hybrid,
    /// Model item index ↔ external item id.
    pub items: crate::ids::IdMap,
}

/// Rebuilds the served [`crate::models::hybrid::Hybrid`] from a verified bundle.
pub fn load_recommender(reader: &BundleReader) -> Result<LoadedRecommender, BundleError> {
    use crate::models::als::Als;
    use crate::models::ease::Ease;
    use crate::models::hybrid::Hybrid;
    use crate::models::popularity::Popularity;
    let corrupt = |file: &str, reason: String| BundleError::Corrupt {
        path: reader.dir.clone(),
        file: file.to_owned(),
        reason,
    };
    let file: ModelFile = reader.read_json("model.json")?;
    let items = crate::ids::IdMap::from_ids(file.items.iter().cloned());
    let n = items.len();
    if file.popularity.len() != n {
        return Err(corrupt(
            "model.json",
            format!("{} popularity scores for {n} items", file.popularity.len()),
        ));
    }
    let ease = match (&file.params.ease, &file.ease_items) {
        (Some((p, _)), Some(ids)) => {
            let path = reader.require("ease_weights.f32")?;
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let m = ids.len();
            if bytes.len() != m * m * 4 {
                return Err(corrupt(
                    "ease_weights.f32",
                    format!("{} bytes for {m} × {m} weights", bytes.len()),
                ));
            }
            let values: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let weights = Array2::from_shape_vec((m, m), values)
                .map_err(|e| corrupt("ease_weights.f32", e.to_string()))?;
            let modelled = ids
                .iter()
                .map(|id| items.get(id))
                .collect::<Option<Vec<u32>>>()
                .ok_or_else(|| corrupt("model.json", "an EASE item is not a model item".into()))?;
            Some(
                Ease::from_parts(*p, n, modelled, weights)
                    .ok_or_else(|| corrupt("ease_weights.f32", "shape mismatch".into()))?,
            )
        }
        (None, _) => None,
        (Some(_), None) => return Err(corrupt("model.json", "EASE without ease_items".into())),
    };
    let als = match &file.params.als {
        Some((p, _)) => {
            let (ids, item_factors) = reader.read_embeddings("als_item_factors.parquet")?;
            if ids.len() != n || item_factors.ncols() != p.factors {
                return Err(corrupt(
                    "als_item_factors.parquet",
                    format!(
                        "{} × {} factors for {n} items of {} factors",
                        ids.len(),
                        item_factors.ncols(),
                        p.factors
                    ),
                ));
            }
            let (_, user_factors) = reader.read_embeddings("customer_embeddings.parquet")?;
            Some(Als::from_factors(*p, user_factors, item_factors))
        }
        None => None,
    };
    let popularity = Popularity {
        scores: file.popularity,
        params: file.params.popularity.0,
    };
    Ok(LoadedRecommender {
        model: Hybrid::from_parts(file.params, ease, als, popularity),
        items,
    })
}

/// An opened, verified bundle.
#[derive(Debug, Clone)]
pub struct BundleReader {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl BundleReader {
    /// Opens `dir`, checking the format version and every file's size and checksum.
    pub fn open(dir: &Path) -> Result<BundleReader, BundleError> {
        let path = dir.join(MANIFEST);
        if !path.is_file() {
            return Err(BundleError::NotABundle {
                path: dir.to_owned(),
            });
        }
        let text = fs::read(&path).map_err(io_err(&path))?;
        let raw: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| BundleError::Corrupt {
                path: dir.to_owned(),
                file: MANIFEST.into(),
                reason: e.to_string(),
            })?;
        let found = raw
            .get("format_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| BundleError::Corrupt {
                path: dir.to_owned(),
                file: MANIFEST.into(),
                reason: "no format_version".into(),
            })?;
        if found > u64::from(FORMAT_VERSION) {
            return Err(BundleError::NewerFormat {
                path: dir.to_owned(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
        let manifest: Manifest = serde_json::from_value(raw).map_err(|e| BundleError::Corrupt {
            path: dir.to_owned(),
            file: MANIFEST.into(),
            reason: e.to_string(),
        })?;
        for (name, want) in &manifest.files {
            let p = dir.join(name);
            if !p.is_file() {
                return Err(BundleError::MissingFile {
                    path: dir.to_owned(),
                    file: name.clone(),
                });
            }
            let got = checksum(&p)?;
            if got != *want {
                return Err(BundleError::Corrupt {
                    path: dir.to_owned(),
                    file: name.clone(),
                    reason: format!(
                        "expected {} bytes with CRC-32 {:08x}, found {} bytes with CRC-32 {:08x}",
                        want.bytes, want.crc32, got.bytes, got.crc32
                    ),
                });
            }
        }
        Ok(BundleReader {
            dir: dir.to_owned(),
            manifest,
        })
    }

    /// Path of a file inside the bundle.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The path of `name`, which the manifest must list.
    pub fn require(&self, name: &str) -> Result<PathBuf, BundleError> {
        if !self.manifest.files.contains_key(name) {
            return Err(BundleError::MissingFile {
                path: self.dir.clone(),
                file: name.to_owned(),
            });
        }
        Ok(self.dir.join(name))
    }

    /// Parses a JSON file of the bundle.
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, BundleError> {
        let path = self.require(name)?;
        let text = fs::read(&path).map_err(io_err(&path))?;
        serde_json::from_slice(&text).map_err(|e| BundleError::Corrupt {
            path: self.dir.clone(),
            file: name.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Reads an embeddings file of the bundle.
    pub fn read_embeddings(&self, name: &str) -> Result<(Vec<String>, Array2<f32>), BundleError> {
        let path = self.require(name)?;
        read_embeddings_file(&path)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            version: String::new(),
            created_at: "2026-12-04T00:00:00Z".into(),
            kindred_version: "test".into(),
            data_fingerprint: "0".into(),
            params: serde_json::json!({}),
            counts: serde_json::json!({"items": 2}),
            metrics: serde_json::json!({}),
            index_recall: serde_json::json!({}),
            files: BTreeMap::new(),
        }
    }

    fn write(models: &Path) -> PathBuf {
        let w = BundleWriter::create(models, "v1").unwrap();
        let ids = vec!["a".to_owned(), "b".to_owned()];
        let m = Array2::from_shape_vec((2, 3), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        w.write_embeddings("items.parquet", &ids, &m).unwrap();
        w.write_json("extra.json", &serde_json::json!({"x": 1}))
            .unwrap();
        w.commit(manifest()).unwrap()
    }

    #[test]
    fn round_trip_and_newest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = write(tmp.path());
        assert_eq!(newest(tmp.path()).unwrap(), dir);
        let r = BundleReader::open(&dir).unwrap();
        assert_eq!(r.manifest.files.len(), 2);
        let (ids, m) = r.read_embeddings("items.parquet").unwrap();
        assert_eq!(ids, vec!["a", "b"]);
        assert_eq!(m[[1, 2]], 6.0);
        // No temporary folder is left behind.
        let leftovers: Vec<_> = fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn refuses_newer_missing_and_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = write(tmp.path());
        fs::write(dir.join("extra.json"), b"{\"x\": 2}").unwrap();
        let err = BundleReader::open(&dir).unwrap_err().to_string();
        assert!(err.contains("extra.json is corrupt"), "{err}");
        fs::remove_file(dir.join("extra.json")).unwrap();
        let err = BundleReader::open(&dir).unwrap_err().to_string();
        assert!(
            err.contains("extra.json listed in the manifest is missing"),
            "{err}"
        );
        let text = fs::read_to_string(dir.join(MANIFEST)).unwrap();
        let newer = text.replacen("\"format_version\": 1", "\"format_version\": 99", 1);
        fs::write(dir.join(MANIFEST), newer).unwrap();
        let err = BundleReader::open(&dir).unwrap_err().to_string();
        assert!(err.contains("format version 99 is newer"), "{err}");
        let err = BundleReader::open(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("not a model bundle"), "{err}");
    }
}
