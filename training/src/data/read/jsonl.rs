//! JSON lines source: one object per line (`.jsonl`, `.ndjson`, `.json`), or a `.json` file
//! holding one array of objects.
//!
//! The device fields may be flat columns or nested in a `context` object
//! (`{"context": {"device": …, "browser": …, "channel": …, "consent": …}}`), as the HTTP API
//! sends them. Row numbers are line numbers (array index + 1 for an array file).

use super::columns::{Bad, Value};
use super::csv::file_name;
use super::{PROGRESS_EVERY, Reject, Row, Sink, Tally};
use crate::data::DataError;
use crate::progress::Progress;
use serde_json::{Map, Value as Json};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Fields that may sit inside a nested `context` object.
const CONTEXT_FIELDS: [&str; 4] = ["device", "browser", "channel", "consent"];

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
    let len = file.metadata().map_err(io)?.len();
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let first = loop {
        let buf = reader.fill_buf().map_err(io)?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => break Some(buf[i]),
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    if first.is_none() {
        return Err(DataError::Empty {
            path: path.to_owned(),
        });
    }
    let names: Vec<String> = sink.fields().iter().map(|f| f.name.clone()).collect();
    let mut seen = vec![false; names.len()];
    let mut keys = BTreeSet::new();
    let bar = progress.bar(len, &format!("reading {}", file_name(path)));
    if first == Some(b'[') {
        let mut text = Vec::new();
        reader.read_to_end(&mut text).map_err(io)?;
        let rows: Vec<Json> = serde_json::from_slice(&text).map_err(|e| DataError::Format {
            path: path.to_owned(),
            reason: format!("not a JSON array of objects: {e}"),
        })?;
        for (i, value) in rows.iter().enumerate() {
            object_row(i + 1, value, &names, &mut seen, &mut keys, sink, tally)?;
        }
    } else {
        let mut line = Vec::new();
        let mut line_no = 0usize;
        let mut consumed = 0u64;
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(io)?;
            if n == 0 {
                break;
            }
            line_no += 1;
            consumed += n as u64;
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            let Ok(text) = std::str::from_utf8(trimmed) else {
                tally.reject(
                    line_no,
                    Reject::new("*", "not UTF-8", "line is not valid UTF-8"),
                );
                continue;
            };
            match serde_json::from_str::<Json>(text) {
                Ok(value) => {
                    object_row(line_no, &value, &names, &mut seen, &mut keys, sink, tally)?
                }
                Err(e) => tally.reject(
                    line_no,
                    Reject::new("*", "invalid JSON", format!("invalid JSON: {e}")),
                ),
            }
            if line_no.is_multiple_of(PROGRESS_EVERY) {
                bar.set_position(consumed);
            }
        }
    }
    bar.finish_and_clear();
    // A required column that no object ever had is a whole-file problem.
    if tally.rows > 0 && !keys.is_empty() {
        let found: Vec<String> = keys.into_iter().collect();
        tally.check_columns(sink, &seen, &found)?;
    }
    Ok(())
}

fn object_row(
    row: usize,
    value: &Json,
    names: &[String],
    seen: &mut [bool],
    keys: &mut BTreeSet<String>,
    sink: &mut dyn Sink,
    tally: &mut Tally<'_>,
) -> Result<(), DataError> {
    let Json::Object(object) = value else {
        tally.reject(
            row,
            Reject::new("*", "not a JSON object", "line is not a JSON object"),
        );
        return Ok(());
    };
    let context = match object.get("context") {
        Some(Json::Object(c)) => Some(c),
        _ => None,
    };
    for (i, name) in names.iter().enumerate() {
        if !seen[i] && lookup(object, context, name).is_some() {
            seen[i] = true;
        }
    }
    if keys.len() < 256 {
        for k in object.keys() {
            if !keys.contains(k) {
                keys.insert(k.clone());
            }
        }
    }
    tally.feed(
        sink,
        row,
        &JsonRow {
            object,
            context,
            names,
        },
    )
}

fn lookup<'v>(
    object: &'v Map<String, Json>,
    context: Option<&'v Map<String, Json>>,
    name: &str,
) -> Option<&'v Json> {
    match object.get(name) {
        Some(v) => Some(v),
        None if CONTEXT_FIELDS.contains(&name) => context.and_then(|c| c.get(name)),
        None => None,
    }
}

struct JsonRow<'v> {
    object: &'v Map<String, Json>,
    context: Option<&'v Map<String, Json>>,
    names: &'v [String],
}

impl Row for JsonRow<'_> {
    fn get(&self, field: usize) -> Value<'_> {
        match lookup(self.object, self.context, &self.names[field]) {
            None | Some(Json::Null) => Value::Null,
            Some(Json::String(s)) => Value::Str(s),
            Some(Json::Bool(b)) => Value::Bool(*b),
            Some(Json::Number(n)) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Value::Int(i),
                (None, Some(u), _) => Value::BigUint(u),
                (None, None, Some(f)) => Value::Float(f),
                (None, None, None) => {
                    Value::Invalid(Bad::new("not a number", format!("{n} is not a number")))
                }
            },
            Some(other) => Value::Invalid(Bad::new(
                "wrong type",
                format!(
                    "expected a string, number or boolean, found {}",
                    if other.is_array() {
                        "an array"
                    } else {
                        "an object"
                    }
                ),
            )),
        }
    }
}
