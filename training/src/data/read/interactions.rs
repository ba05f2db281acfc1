//! Interaction files: what `kindred split` writes and `kindred eval --train/--test` reads.
//!
//! Columns `user`, `item` (strings, or integers as pandas / polars often write them), `ts`
//! (epoch seconds or milliseconds as integers, or a Timestamp of any unit) and an optional
//! `weight` (float or integer, default 1.0).

use super::columns::{Field, Kind, TimeRule, Value};
use super::{Reject, Row, Sink, Source, Tally, read_source};
use crate::data::{DataError, Rejections};
use crate::interactions::InteractionLog;
use crate::progress::Progress;
use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field as ArrowField, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const USER: usize = 0;
const ITEM: usize = 1;
const TS: usize = 2;
const WEIGHT: usize = 3;

/// Rows per written batch / row group.
const WRITE_BATCH: usize = 64 * 1024;

/// Reads an interaction file: Parquet (`.parquet`, `.pq`) or CSV (`.csv`, `.tsv`) by
/// extension. Times may be any non-negative epoch time (synthetic times are allowed here).
pub fn read_interactions(path: &Path) -> Result<(InteractionLog, Rejections), DataError> {
    let Some(source) = source_for(path) else {
        return Err(DataError::Format {
            path: path.to_owned(),
            reason: "interaction files must be .parquet, .pq, .csv or .tsv".to_owned(),
        });
    };
    let mut rejections = Rejections::default();
    let mut sink = InteractionSink {
        fields: vec![
            Field::new("user", Kind::Id),
            Field::new("item", Kind::Id),
            Field::new("ts", Kind::Time),
            Field::new("weight", Kind::Number),
        ],
        log: InteractionLog::default(),
    };
    let mut tally = Tally::new(path, &mut rejections);
    read_source(path, &source, Progress::Hidden, &mut sink, &mut tally)?;
    tally.finish()?;
    Ok((sink.log, rejections))
}

/// Whether `path` holds interactions (columns `user`, `item` and `ts`, no event `type`)
/// rather than events: lets a command accept either. Only the header / schema is read;
/// formats other than Parquet and CSV are never interaction files.
pub fn looks_like_interactions(path: &Path) -> Result<bool, DataError> {
    let columns = match source_for(path) {
        Some(Source::Parquet) => super::parquet::column_names(path)?,
        Some(_) => super::csv::header(path)?,
        None => return Ok(false),
    };
    let has = |name: &str| columns.iter().any(|c| c == name);
    Ok(has("user") && has("item") && has("ts") && !has("type"))
}

fn source_for(path: &Path) -> Option<Source> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "parquet" | "pq" => Some(Source::Parquet),
        "csv" | "tsv" => Some(Source::Csv {
            delimiter: None,
            header: None,
        }),
        _ => None,
    }
}

/// Writes `log` as Parquet with exactly the columns `user` (Utf8), `item` (Utf8), `ts`
/// (Int64 epoch seconds) and `weight` (Float64), snappy-compressed. The file appears
/// atomically: it is written as `NAME.tmp` and renamed into place when complete.
pub fn write_interactions(path: &Path, log: &InteractionLog) -> Result<(), DataError> {
    let tmp = tmp_path(path);
    let result = write_to(&tmp, log).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|source| DataError::Io {
            path: path.to_owned(),
            source,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

fn write_to(tmp: &Path, log: &InteractionLog) -> Result<(), DataError> {
    let parquet_err = |source| DataError::Parquet {
        path: tmp.to_owned(),
        source,
    };
    let schema = Arc::new(Schema::new(vec![
        ArrowField::new("user", DataType::Utf8, false),
        ArrowField::new("item", DataType::Utf8, false),
        ArrowField::new("ts", DataType::Int64, false),
        ArrowField::new("weight", DataType::Float64, false),
    ]));
    let file = File::create(tmp).map_err(|source| DataError::Io {
        path: tmp.to_owned(),
        source,
    })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(WRITE_BATCH))
        .build();
    let mut writer = ArrowWriter::try_new(BufWriter::new(file), schema.clone(), Some(props))
        .map_err(parquet_err)?;
    for chunk in log.rows.chunks(WRITE_BATCH) {
        let mut users = StringBuilder::new();
        let mut items = StringBuilder::new();
        let mut ts = Int64Builder::with_capacity(chunk.len());
        let mut weights = Float64Builder::with_capacity(chunk.len());
        for r in chunk {
            users.append_value(log.users.id(r.user));
            items.append_value(log.items.id(r.item));
            ts.append_value(r.ts);
            weights.append_value(f64::from(r.weight));
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(users.finish()),
            Arc::new(items.finish()),
            Arc::new(ts.finish()),
            Arc::new(weights.finish()),
        ];
        let batch =
            RecordBatch::try_new(schema.clone(), columns).map_err(|source| DataError::Arrow {
                path: tmp.to_owned(),
                source,
            })?;
        writer.write(&batch).map_err(parquet_err)?;
    }
    let inner = writer.into_inner().map_err(parquet_err)?;
    let file = inner.into_inner().map_err(|e| DataError::Io {
        path: tmp.to_owned(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(|source| DataError::Io {
        path: tmp.to_owned(),
        source,
    })
}

struct InteractionSink {
    fields: Vec<Field>,
    log: InteractionLog,
}

impl Sink for InteractionSink {
    fn fields(&self) -> &[Field] {
        &self.fields
    }

    fn missing(&self, present: &[bool]) -> Option<String> {
        [USER, ITEM, TS]
            .into_iter()
            .find(|&f| !present[f])
            .map(|f| self.fields[f].name.clone())
    }

    fn accept(&mut self, _row: usize, values: &dyn Row) -> Result<Result<(), Reject>, DataError> {
        let id = |f: usize| {
            let name = self.fields[f].name.as_str();
            match values.get(f).id() {
                Ok(Some(id)) => Ok(id),
                Ok(None) => Err(Reject::new(name, "missing id", format!("missing {name}"))),
                Err(b) => Err(Reject::from_bad(name, b)),
            }
        };
        let checked = (|| {
            let user = id(USER)?;
            let item = id(ITEM)?;
            let ts = values
                .get(TS)
                .ts(TimeRule::NonNegative)
                .map_err(|b| Reject::from_bad("ts", b))?
                .ok_or_else(|| Reject::new("ts", "missing", "missing timestamp"))?;
            let weight = match values.get(WEIGHT) {
                Value::Float(f) if f.is_nan() => {
                    return Err(Reject::new("weight", "not a number", "weight is NaN"));
                }
                v => v
                    .number()
                    .map_err(|b| Reject::from_bad("weight", b))?
                    .unwrap_or(1.0),
            };
            Ok((user, item, ts, weight as f32))
        })();
        Ok(checked.map(|(user, item, ts, weight)| self.log.push(&user, &item, ts, weight)))
    }
}
