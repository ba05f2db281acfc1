//! Parquet source: batch by batch, reading only the wanted columns.
//!
//! Strings may be `Utf8`, `LargeUtf8`, `Utf8View`, binary or dictionary-encoded; ids may be
//! integers; times may be `Timestamp` of any unit (with or without a time zone), `Date32`/
//! `Date64`, epoch integers or text; numbers may be integers, floats or decimals. A wanted
//! column of any other type is refused up front with [`DataError::ColumnType`].
//! Device fields may also sit in a `context` struct column.

use super::columns::{Bad, Kind, Value};
use super::csv::file_name;
use super::{Row, Sink, Tally};
use crate::data::DataError;
use crate::progress::Progress;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch};
use arrow_schema::{DataType, Schema, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::Path;

/// Rows per decoded batch.
const BATCH_ROWS: usize = 8 * 1024;

/// Fields that may sit inside a `context` struct column.
const CONTEXT_FIELDS: [&str; 4] = ["device", "browser", "channel", "consent"];

/// Where a wanted field lives in the file.
#[derive(Debug, Clone)]
enum Place {
    Absent,
    Top(String),
    Context(String),
}

pub(super) fn read(
    path: &Path,
    progress: Progress,
    sink: &mut dyn Sink,
    tally: &mut Tally<'_>,
) -> Result<(), DataError> {
    let io = |source| DataError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() == 0 {
        return Err(DataError::Empty {
            path: path.to_owned(),
        });
    }
    let parquet_err = |source| DataError::Parquet {
        path: path.to_owned(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
    let schema = builder.schema().clone();
    let total_rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let found: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();

    let mut places = Vec::with_capacity(sink.fields().len());
    let mut roots = Vec::new();
    for field in sink.fields() {
        if field.validate_only {
            places.push(Place::Absent);
            continue;
        }
        let (place, root, data_type) = locate(&schema, &field.name);
        if let (Some(root), Some(data_type)) = (root, data_type) {
            if !usable(field.kind, data_type) {
                return Err(DataError::ColumnType {
                    path: path.to_owned(),
                    column: field.name.clone(),
                    found: data_type.to_string(),
                    expected: field.kind.expected().to_owned(),
                });
            }
            roots.push(root);
        }
        places.push(place);
    }
    let present: Vec<bool> = places.iter().map(|p| !matches!(p, Place::Absent)).collect();
    tally.check_columns(sink, &present, &found)?;
    roots.sort_unstable();
    roots.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(parquet_err)?;

    let bar = progress.bar(total_rows, &format!("reading {}", file_name(path)));
    let mut offset = 0usize;
    for batch in reader {
        let batch = batch.map_err(|source| DataError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        let cols: Vec<Col<'_>> = places.iter().map(|p| bind(&batch, p)).collect();
        for i in 0..batch.num_rows() {
            tally.feed(sink, offset + i + 1, &BatchRow { cols: &cols, i })?;
        }
        offset += batch.num_rows();
        bar.set_position(offset as u64);
    }
    bar.finish_and_clear();
    Ok(())
}

/// The top-level column names of a Parquet file.
pub(super) fn column_names(path: &Path) -> Result<Vec<String>, DataError> {
    let file = File::open(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| DataError::Parquet {
            path: path.to_owned(),
            source,
        })?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// Finds a field by name (exactly, then ignoring ASCII case), also inside `context`.
fn locate<'s>(schema: &'s Schema, name: &str) -> (Place, Option<usize>, Option<&'s DataType>) {
    let fields = schema.fields();
    let top = fields.iter().position(|f| f.name() == name).or_else(|| {
        fields
            .iter()
            .position(|f| f.name().eq_ignore_ascii_case(name))
    });
    if let Some(i) = top {
        let f = &fields[i];
        return (Place::Top(f.name().clone()), Some(i), Some(f.data_type()));
    }
    if CONTEXT_FIELDS.contains(&name)
        && let Some(ci) = fields.iter().position(|f| f.name() == "context")
        && let DataType::Struct(children) = fields[ci].data_type()
        && let Some(child) = children.iter().find(|c| c.name() == name)
    {
        return (
            Place::Context(child.name().clone()),
            Some(ci),
            Some(child.data_type()),
        );
    }
    (Place::Absent, None, None)
}

fn is_string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
    )
}

fn is_int(t: &DataType) -> bool {
    t.is_integer()
}

/// Whether a column of type `t` can feed a field of kind `kind`.
fn usable(kind: Kind, t: &DataType) -> bool {
    if let DataType::Dictionary(_, values) = t {
        return usable(kind, values);
    }
    if is_string(t) || matches!(t, DataType::Null) {
        return true;
    }
    let float = matches!(t, DataType::Float32 | DataType::Float64);
    match kind {
        Kind::Id => is_int(t) || float,
        Kind::Text => is_int(t),
        Kind::Time => {
            is_int(t)
                || float
                || matches!(
                    t,
                    DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64
                )
        }
        Kind::Number => is_int(t) || float || matches!(t, DataType::Decimal128(_, _)),
        Kind::Bool => is_int(t) || matches!(t, DataType::Boolean),
    }
}

/// A column of one batch, ready for per-row access.
enum Col<'a> {
    Absent,
    Str(&'a arrow_array::StringArray),
    LargeStr(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    Bin(&'a arrow_array::BinaryArray),
    LargeBin(&'a arrow_array::LargeBinaryArray),
    Bool(&'a arrow_array::BooleanArray),
    Prim {
        array: &'a dyn Array,
        get: fn(&dyn Array, usize) -> Value<'static>,
    },
    Dict {
        keys: &'a dyn Array,
        index: Vec<usize>,
        values: Box<Col<'a>>,
    },
}

fn bind<'a>(batch: &'a RecordBatch, place: &Place) -> Col<'a> {
    let array: Option<&'a dyn Array> = match place {
        Place::Absent => None,
        Place::Top(name) => batch.column_by_name(name).map(|a| a.as_ref()),
        Place::Context(name) => batch
            .column_by_name("context")
            .and_then(|c| c.as_struct_opt())
            .and_then(|s| s.column_by_name(name))
            .map(|a| a.as_ref()),
    };
    array.map_or(Col::Absent, col)
}

fn col(a: &dyn Array) -> Col<'_> {
    match a.data_type() {
        DataType::Utf8 => a.as_string_opt::<i32>().map_or(Col::Absent, Col::Str),
        DataType::LargeUtf8 => a.as_string_opt::<i64>().map_or(Col::Absent, Col::LargeStr),
        DataType::Utf8View => a.as_string_view_opt().map_or(Col::Absent, Col::View),
        DataType::Binary => a.as_binary_opt::<i32>().map_or(Col::Absent, Col::Bin),
        DataType::LargeBinary => a.as_binary_opt::<i64>().map_or(Col::Absent, Col::LargeBin),
        DataType::Boolean => a.as_boolean_opt().map_or(Col::Absent, Col::Bool),
        DataType::Dictionary(_, _) => match a.as_any_dictionary_opt() {
            Some(d) if !d.values().is_empty() => Col::Dict {
                keys: d.keys(),
                index: d.normalized_keys(),
                values: Box::new(col(d.values().as_ref())),
            },
            _ => Col::Absent,
        },
        t => match getter(t) {
            Some(get) => Col::Prim { array: a, get },
            None => Col::Absent,
        },
    }
}

fn getter(t: &DataType) -> Option<fn(&dyn Array, usize) -> Value<'static>> {
    Some(match t {
        DataType::Int8 => int::<Int8Type>,
        DataType::Int16 => int::<Int16Type>,
        DataType::Int32 => int::<Int32Type>,
        DataType::Int64 => int::<Int64Type>,
        DataType::UInt8 => int::<UInt8Type>,
        DataType::UInt16 => int::<UInt16Type>,
        DataType::UInt32 => int::<UInt32Type>,
        DataType::UInt64 => uint64,
        DataType::Float32 => float32,
        DataType::Float64 => float64,
        DataType::Decimal128(_, _) => decimal128,
        DataType::Timestamp(TimeUnit::Second, _) => stamp::<TimestampSecondType, 1>,
        DataType::Timestamp(TimeUnit::Millisecond, _) => stamp::<TimestampMillisecondType, 1_000>,
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            stamp::<TimestampMicrosecondType, 1_000_000>
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            stamp::<TimestampNanosecondType, 1_000_000_000>
        }
        DataType::Date32 => date32,
        DataType::Date64 => stamp::<Date64Type, 1_000>,
        _ => return None,
    })
}

fn mismatch() -> Value<'static> {
    Value::Invalid(Bad::new(
        "wrong type",
        "column changed type within the file",
    ))
}

fn int<T: ArrowPrimitiveType>(a: &dyn Array, i: usize) -> Value<'static>
where
    T::Native: Into<i64>,
{
    a.as_primitive_opt::<T>()
        .map_or_else(mismatch, |p| Value::Int(p.value(i).into()))
}

fn uint64(a: &dyn Array, i: usize) -> Value<'static> {
    match a.as_primitive_opt::<UInt64Type>().map(|p| p.value(i)) {
        Some(v) => i64::try_from(v).map_or(Value::BigUint(v), Value::Int),
        None => mismatch(),
    }
}

fn float32(a: &dyn Array, i: usize) -> Value<'static> {
    a.as_primitive_opt::<Float32Type>()
        .map_or_else(mismatch, |p| Value::Float(f64::from(p.value(i))))
}

fn float64(a: &dyn Array, i: usize) -> Value<'static> {
    a.as_primitive_opt::<Float64Type>()
        .map_or_else(mismatch, |p| Value::Float(p.value(i)))
}

fn decimal128(a: &dyn Array, i: usize) -> Value<'static> {
    a.as_primitive_opt::<Decimal128Type>()
        .map_or_else(mismatch, |p| {
            Value::Float(p.value(i) as f64 / 10f64.powi(i32::from(p.scale())))
        })
}

fn stamp<T: ArrowPrimitiveType, const PER_SEC: i64>(a: &dyn Array, i: usize) -> Value<'static>
where
    T::Native: Into<i64>,
{
    a.as_primitive_opt::<T>().map_or_else(mismatch, |p| {
        Value::Secs(Into::<i64>::into(p.value(i)).div_euclid(PER_SEC))
    })
}

fn date32(a: &dyn Array, i: usize) -> Value<'static> {
    a.as_primitive_opt::<Date32Type>()
        .map_or_else(mismatch, |p| Value::Secs(i64::from(p.value(i)) * 86_400))
}

fn utf8(bytes: &[u8]) -> Value<'_> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::Str(s),
        Err(e) => Value::Invalid(Bad::new(
            "not UTF-8",
            format!(
                "text is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )),
    }
}

impl Col<'_> {
    fn value(&self, i: usize) -> Value<'_> {
        match self {
            Col::Absent => Value::Null,
            Col::Str(a) if a.is_valid(i) => Value::Str(a.value(i)),
            Col::LargeStr(a) if a.is_valid(i) => Value::Str(a.value(i)),
            Col::View(a) if a.is_valid(i) => Value::Str(a.value(i)),
            Col::Bin(a) if a.is_valid(i) => utf8(a.value(i)),
            Col::LargeBin(a) if a.is_valid(i) => utf8(a.value(i)),
            Col::Bool(a) if a.is_valid(i) => Value::Bool(a.value(i)),
            Col::Prim { array, get } if array.is_valid(i) => get(*array, i),
            Col::Dict {
                keys,
                index,
                values,
            } if keys.is_valid(i) => match index.get(i) {
                Some(&k) => values.value(k),
                None => Value::Null,
            },
            _ => Value::Null,
        }
    }
}

struct BatchRow<'b> {
    cols: &'b [Col<'b>],
    i: usize,
}

impl Row for BatchRow<'_> {
    fn get(&self, field: usize) -> Value<'_> {
        self.cols[field].value(self.i)
    }
}
