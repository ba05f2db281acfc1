//! Errors and rejection tallies of the data layer.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A file could not be used at all (as opposed to single bad rows, which become
/// [`Rejection`]s).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the file is empty")]
    Empty { path: PathBuf },
    #[error("{path}: unsupported format ({reason})")]
    Format { path: PathBuf, reason: String },
    #[error("{path}: missing column {column:?} (found: {found})")]
    MissingColumn {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("{path}: column {column:?} has type {found}, expected {expected}")]
    ColumnType {
        path: PathBuf,
        column: String,
        found: String,
        expected: String,
    },
    #[error("{path}: row {row}: {message}")]
    Row {
        path: PathBuf,
        row: usize,
        message: String,
    },
    #[error("{path}: duplicate item id {id:?} at rows {first} and {second}")]
    DuplicateId {
        path: PathBuf,
        id: String,
        first: usize,
        second: usize,
    },
    #[error("{path}: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{path}: {source}")]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow_schema::ArrowError,
    },
    #[error("{path}: every one of {rows} rows was rejected; first: {first}")]
    AllRejected {
        path: PathBuf,
        rows: usize,
        first: String,
    },
}

/// One row that was read but not used, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rejection {
    pub file: String,
    /// 1-based data row (header excluded).
    pub row: usize,
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} row {}, column {:?}: {}",
            self.file, self.row, self.column, self.reason
        )
    }
}

/// Rejected rows counted by reason, keeping the first few examples of each for the report.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Rejections {
    /// Count per `column: reason-kind` key.
    pub counts: BTreeMap<String, usize>,
    /// Up to [`Rejections::EXAMPLES`] examples per key.
    pub examples: Vec<Rejection>,
    pub total: usize,
}

impl Rejections {
    pub const EXAMPLES: usize = 3;

    /// Records a rejection. `kind` is a short stable reason class ("unknown event type").
    pub fn add(&mut self, kind: &str, rejection: Rejection) {
        let key = format!("{}: {}", rejection.column, kind);
        let count = self.counts.entry(key).or_insert(0);
        *count += 1;
        if *count <= Self::EXAMPLES {
            self.examples.push(rejection);
        }
        self.total += 1;
    }

    pub fn merge(&mut self, other: Rejections) {
        for (k, v) in other.counts {
            *self.counts.entry(k).or_insert(0) += v;
        }
        self.examples.extend(other.examples);
        self.total += other.total;
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}
