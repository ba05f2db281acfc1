//! CSV source: a header row (or caller-given column names), `,` / tab / `;` delimiters.
//!
//! Records are read as bytes and each wanted field is checked for UTF-8 on its own, so one
//! bad field rejects its row and nothing else.

use super::columns::{Bad, Value};
use super::{PROGRESS_EVERY, Reject, Row, Sink, Tally};
use crate::data::DataError;
use crate::progress::Progress;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Reads `path` as CSV into `sink`. `delimiter: None` detects it from the first line;
/// `header: Some` names the columns of a file without a header row.
pub(super) fn read(
    path: &Path,
    delimiter: Option<u8>,
    header: Option<&[String]>,
    progress: Progress,
    sink: &mut dyn Sink,
    tally: &mut Tally<'_>,
) -> Result<(), DataError> {
    let (mut csv, len) = open(path, delimiter)?;
    let mut record = csv::ByteRecord::new();
    let names: Vec<String> = match header {
        Some(names) => names.to_vec(),
        None => {
            if !next(&mut csv, &mut record, path)? {
                return Err(DataError::Empty {
                    path: path.to_owned(),
                });
            }
            header_names(&record, path)?
        }
    };
    let map: Vec<Option<usize>> = sink
        .fields()
        .iter()
        .map(|f| {
            names
                .iter()
                .position(|n| *n == f.name)
                .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(&f.name)))
        })
        .collect();
    let present: Vec<bool> = map.iter().map(Option::is_some).collect();
    tally.check_columns(sink, &present, &names)?;
    let bar = progress.bar(len, &format!("reading {}", file_name(path)));
    let mut row = 0usize;
    while next(&mut csv, &mut record, path)? {
        row += 1;
        if record.len() != names.len() {
            tally.reject(
                row,
                Reject::new(
                    "*",
                    "wrong field count",
                    format!(
                        "row has {} fields, the header has {}",
                        record.len(),
                        names.len()
                    ),
                ),
            );
        } else {
            tally.feed(
                sink,
                row,
                &CsvRow {
                    record: &record,
                    map: &map,
                },
            )?;
        }
        if row.is_multiple_of(PROGRESS_EVERY) {
            bar.set_position(record.position().map_or(0, |p| p.byte()));
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// The column names of a CSV file's header row (delimiter detected as in [`read`]).
pub(super) fn header(path: &Path) -> Result<Vec<String>, DataError> {
    let (mut csv, _) = open(path, None)?;
    let mut record = csv::ByteRecord::new();
    if !next(&mut csv, &mut record, path)? {
        return Err(DataError::Empty {
            path: path.to_owned(),
        });
    }
    header_names(&record, path)
}

/// A CSV reader over a non-empty file (without header handling) and the file's length.
fn open(
    path: &Path,
    delimiter: Option<u8>,
) -> Result<(csv::Reader<BufReader<File>>, u64), DataError> {
    let io = |source| DataError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Err(DataError::Empty {
            path: path.to_owned(),
        });
    }
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let delimiter = match delimiter {
        Some(d) => d,
        None if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tsv")) =>
        {
            b'\t'
        }
        None => {
            let head = reader.fill_buf().map_err(io)?;
            sniff(head.split(|&b| b == b'\n').next().unwrap_or(head))
        }
    };
    let csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(reader);
    Ok((csv, len))
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The most frequent of `,`, tab and `;` in the header line (`,` on ties or none).
fn sniff(line: &[u8]) -> u8 {
    let count = |d: u8| line.iter().filter(|&&b| b == d).count();
    let (comma, tab, semi) = (count(b','), count(b'\t'), count(b';'));
    if tab > comma && tab >= semi {
        b'\t'
    } else if semi > comma && semi > tab {
        b';'
    } else {
        b','
    }
}

fn next<R: std::io::Read>(
    csv: &mut csv::Reader<R>,
    record: &mut csv::ByteRecord,
    path: &Path,
) -> Result<bool, DataError> {
    csv.read_byte_record(record).map_err(|e| {
        let reason = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(source) => DataError::Io {
                path: path.to_owned(),
                source,
            },
            _ => DataError::Format {
                path: path.to_owned(),
                reason,
            },
        }
    })
}

fn header_names(record: &csv::ByteRecord, path: &Path) -> Result<Vec<String>, DataError> {
    let mut names = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        let field = if i == 0 {
            field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field)
        } else {
            field
        };
        let name = std::str::from_utf8(field).map_err(|_| DataError::Format {
            path: path.to_owned(),
            reason: format!("header column {} is not valid UTF-8", i + 1),
        })?;
        names.push(name.trim().to_owned());
    }
    if names.iter().all(String::is_empty) {
        return Err(DataError::Format {
            path: path.to_owned(),
            reason: "the first line is not a header row (no column names)".to_owned(),
        });
    }
    Ok(names)
}

struct CsvRow<'r> {
    record: &'r csv::ByteRecord,
    map: &'r [Option<usize>],
}

impl Row for CsvRow<'_> {
    fn get(&self, field: usize) -> Value<'_> {
        let Some(bytes) = self.map[field].and_then(|c| self.record.get(c)) else {
            return Value::Null;
        };
        if bytes.is_empty() {
            return Value::Null;
        }
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
}
