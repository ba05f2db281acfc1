//! Readers for every supported training-data format, with bad-input handling.
//!
//! kindred reads tracking events, the catalog and identity links from Parquet, CSV and JSON
//! lines, ratings from MovieLens `u.data` files and ratings-style CSVs, and interaction files
//! (`kindred split` output, or files written by pandas / polars) for evaluation.
//!
//! Every reader follows the same contract:
//! - a problem with the whole file (missing, empty, no header, a missing required column,
//!   a column of an unusable type, unreadable Parquet, a duplicate catalog id) is a
//!   [`DataError`] naming the file (and column / rows where there is one);
//! - a problem with one row becomes a [`Rejection`] naming file, 1-based data row, column
//!   and reason, counted in [`Rejections`], and the row is skipped;
//! - a file whose rows are all rejected is a [`DataError::AllRejected`] quoting the first
//!   reason, so bad data never turns silently into a smaller model.
//!
//! [`read_interactions`] / [`write_interactions`] handle the `user, item, ts, weight` files of
//! the evaluation protocol, and [`looks_like_interactions`] tells such a file from an event
//! file by its columns.
//!
//! Layout: [`columns`] converts cell values (the rules for ids, timestamps, numbers);
//! `parquet`, `csv` and `jsonl` are the sources, which turn a file into rows of cells;
//! `events`, `catalog`, `identities` and `interactions` are the sinks, which check rows
//! and build the in-memory types.

pub mod columns;

mod catalog;
mod csv;
mod events;
mod identities;
mod interactions;
mod jsonl;
mod parquet;

pub use interactions::{looks_like_interactions, read_interactions, write_interactions};

use crate::data::{Catalog, DataError, EventLog, IdentityLinks, Rejection, Rejections};
use crate::progress::Progress;
use columns::{Field, TimeRule, Value};
use std::path::Path;

/// The file format of an input, or [`Format::Auto`] to choose by file name.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Format {
    /// By extension: `.parquet`/`.pq` → Parquet, `.csv`/`.tsv`/`.txt` → CSV,
    /// `.jsonl`/`.ndjson`/`.json` → JSON lines; MovieLens by name (`u.data`, `u1.base`,
    /// `ua.test`, …). The default.
    #[default]
    Auto,
    Parquet,
    /// CSV with a header row; the delimiter (`,`, tab or `;`) is detected from the header.
    Csv,
    /// One JSON object per line (a `.json` file holding one array of objects also works).
    JsonLines,
    /// MovieLens 100k `u.data`: `user item rating ts`, tab-separated, no header.
    MovieLens,
    /// A CSV of ratings or purchases whose column names the caller gives.
    RatingsCsv(RatingsColumns),
}

/// Column names of a ratings-style CSV ([`Format::RatingsCsv`]).
///
/// Each row becomes one event of the customer `user` on item `item`: a
/// [`Review`](crate::data::EventType::Review) carrying the rating when a rating column is
/// given, otherwise a [`Purchase`](crate::data::EventType::Purchase). Every row counts as one
/// implicit interaction (weight 1.0) unless [`RatingsColumns::weight_from_rating`] is set.
/// Without a `ts` column, an event's timestamp is its 1-based row number, so that file order
/// stands in for time in temporal splits.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingsColumns {
    pub user: String,
    pub item: String,
    pub ts: Option<String>,
    pub rating: Option<String>,
    /// Use the rating itself as the interaction weight (default false: 1.0 per row).
    pub weight_from_rating: bool,
    /// Inclusive range of valid ratings; others are rejected (default 1..=5).
    pub rating_scale: (f32, f32),
}

impl RatingsColumns {
    /// Columns `user` and `item`, no time, no rating, weight 1.0, ratings scale 1..=5.
    pub fn new(user: impl Into<String>, item: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            item: item.into(),
            ts: None,
            rating: None,
            weight_from_rating: false,
            rating_scale: (1.0, 5.0),
        }
    }

    /// Sets the timestamp column.
    pub fn ts(mut self, column: impl Into<String>) -> Self {
        self.ts = Some(column.into());
        self
    }

    /// Sets the rating column (rows become reviews).
    pub fn rating(mut self, column: impl Into<String>) -> Self {
        self.rating = Some(column.into());
        self
    }

    /// Uses the rating as the interaction weight.
    pub fn weight_from_rating(mut self, yes: bool) -> Self {
        self.weight_from_rating = yes;
        self
    }

    /// The Dunnhumby "Complete Journey" `transactions*.csv` layout: `household_id` buys
    /// `product_id` at `transaction_epoch_s`.
    pub fn complete_journey() -> Self {
        Self::new("household_id", "product_id").ts("transaction_epoch_s")
    }

    fn movielens() -> Self {
        Self::new("user", "item").ts("ts").rating("rating")
    }
}

/// How to read a file. `ReadOptions::default()` detects the format, draws no progress bar
/// and checks timestamps against the system clock.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub format: Format,
    pub progress: Progress,
    /// Reference time (epoch seconds) for the "more than 2 days in the future" check;
    /// `None` (the default) uses the system clock.
    pub now: Option<i64>,
}

impl ReadOptions {
    /// Options with the given format and the other defaults.
    pub fn with_format(format: Format) -> Self {
        Self {
            format,
            ..Self::default()
        }
    }

    fn time_rule(&self) -> TimeRule {
        TimeRule::Strict {
            now: self.now.unwrap_or_else(|| chrono::Utc::now().timestamp()),
        }
    }
}

/// Reads tracking events (or ratings, for the ratings formats) from one file.
pub fn read_events(path: &Path, opts: &ReadOptions) -> Result<(EventLog, Rejections), DataError> {
    let mut log = EventLog::default();
    let mut rejections = Rejections::default();
    read_events_into(path, opts, &mut log, &mut rejections)?;
    Ok((log, rejections))
}

/// Appends the events of one file to `log` (to read several files into one log), adding its
/// rejected rows to `rejections`; returns how many events were accepted.
///
/// On an error no event of this file stays in `log` (ids it interned may remain).
pub fn read_events_into(
    path: &Path,
    opts: &ReadOptions,
    log: &mut EventLog,
    rejections: &mut Rejections,
) -> Result<usize, DataError> {
    let rule = opts.time_rule();
    let (source, ratings) = match resolve_format(path, &opts.format)? {
        Resolved::Source(source) => (source, None),
        Resolved::MovieLens => (
            Source::Csv {
                delimiter: Some(b'\t'),
                header: Some(["user", "item", "rating", "ts"].map(String::from).to_vec()),
            },
            Some(RatingsColumns::movielens()),
        ),
        Resolved::Ratings(cols) => (Source::csv(), Some(cols)),
    };
    let before = log.events.len();
    let mut sink = match ratings {
        Some(cols) => events::EventSink::ratings(log, &cols, rule),
        None => events::EventSink::events(log, rule),
    };
    let mut tally = Tally::new(path, rejections);
    let result = read_source(path, &source, opts.progress, &mut sink, &mut tally)
        .and_then(|()| tally.finish());
    if result.is_err() {
        log.events.truncate(before);
    }
    result
}

/// Reads a catalog. A duplicate `item_id` is an error naming both rows.
pub fn read_catalog(path: &Path, opts: &ReadOptions) -> Result<(Catalog, Rejections), DataError> {
    let source = table_source(path, &opts.format, "a catalog")?;
    let mut rejections = Rejections::default();
    let mut sink = catalog::CatalogSink::new(path);
    let mut tally = Tally::new(path, &mut rejections);
    read_source(path, &source, opts.progress, &mut sink, &mut tally)?;
    tally.finish()?;
    Ok((sink.into_catalog(), rejections))
}

/// Reads identity links (`anonymous_id` → `customer_id`, optional `ts`). When every link
/// has a time, links are ordered by it (so the latest link of an anonymous id wins);
/// otherwise file order is kept.
pub fn read_identities(
    path: &Path,
    opts: &ReadOptions,
) -> Result<(IdentityLinks, Rejections), DataError> {
    let source = table_source(path, &opts.format, "identity links")?;
    let mut rejections = Rejections::default();
    let mut sink = identities::IdentitySink::new(opts.time_rule());
    let mut tally = Tally::new(path, &mut rejections);
    read_source(path, &source, opts.progress, &mut sink, &mut tally)?;
    tally.finish()?;
    Ok((sink.into_links(), rejections))
}

// ---------------------------------------------------------------------------------------
// Formats and sources

/// How the bytes of a file become rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    Parquet,
    /// `delimiter: None` detects `,`, tab or `;` from the header line; `header: Some`
    /// names the columns of a file without a header row.
    Csv {
        delimiter: Option<u8>,
        header: Option<Vec<String>>,
    },
    JsonLines,
}

impl Source {
    fn csv() -> Self {
        Source::Csv {
            delimiter: None,
            header: None,
        }
    }
}

enum Resolved {
    Source(Source),
    MovieLens,
    Ratings(RatingsColumns),
}

fn resolve_format(path: &Path, format: &Format) -> Result<Resolved, DataError> {
    Ok(match format {
        Format::Parquet => Resolved::Source(Source::Parquet),
        Format::Csv => Resolved::Source(Source::csv()),
        Format::JsonLines => Resolved::Source(Source::JsonLines),
        Format::MovieLens => Resolved::MovieLens,
        Format::RatingsCsv(cols) => Resolved::Ratings(cols.clone()),
        Format::Auto => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
            match ext {
                "parquet" | "pq" => Resolved::Source(Source::Parquet),
                "csv" | "tsv" | "txt" => Resolved::Source(Source::csv()),
                "jsonl" | "ndjson" | "json" => Resolved::Source(Source::JsonLines),
                "data" | "base" | "test" if name.starts_with('u') => Resolved::MovieLens,
                _ => {
                    return Err(DataError::Format {
                        path: path.to_owned(),
                        reason:
                            "cannot tell the format from the file name; expected .parquet, .pq, \
                                 .csv, .tsv, .jsonl, .ndjson, .json or a MovieLens u.data"
                                .to_owned(),
                    });
                }
            }
        }
    })
}

fn table_source(path: &Path, format: &Format, what: &str) -> Result<Source, DataError> {
    match resolve_format(path, format)? {
        Resolved::Source(s) => Ok(s),
        Resolved::MovieLens | Resolved::Ratings(_) => Err(DataError::Format {
            path: path.to_owned(),
            reason: format!("a ratings file cannot be read as {what}"),
        }),
    }
}

pub(crate) fn read_source(
    path: &Path,
    source: &Source,
    progress: Progress,
    sink: &mut dyn Sink,
    tally: &mut Tally<'_>,
) -> Result<(), DataError> {
    match source {
        Source::Parquet => {
            // The Parquet decoder is third-party code facing untrusted bytes; should a corrupt
            // file make it panic, that is reported as a corrupt file, not a crash.
            let run = std::panic::AssertUnwindSafe(|| parquet::read(path, progress, sink, tally));
            std::panic::catch_unwind(run).unwrap_or_else(|panic| {
                let detail = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("no detail");
                Err(DataError::Format {
                    path: path.to_owned(),
                    reason: format!("corrupt Parquet file (the decoder failed: {detail})"),
                })
            })
        }
        Source::Csv { delimiter, header } => {
            csv::read(path, *delimiter, header.as_deref(), progress, sink, tally)
        }
        Source::JsonLines => jsonl::read(path, progress, sink, tally),
    }
}

// ---------------------------------------------------------------------------------------
// Rows, sinks and the tally that every source shares

/// One row of a source, giving the cell of each field the sink asked for.
pub(crate) trait Row {
    /// The value of the sink's field number `field` (`Value::Null` when absent).
    fn get(&self, field: usize) -> Value<'_>;
}

/// Why a row was refused, by column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reject {
    pub column: String,
    pub kind: &'static str,
    pub reason: String,
}

impl Reject {
    pub(crate) fn new(column: &str, kind: &'static str, reason: impl Into<String>) -> Self {
        Self {
            column: column.to_owned(),
            kind,
            reason: reason.into(),
        }
    }

    pub(crate) fn from_bad(column: &str, bad: columns::Bad) -> Self {
        Self {
            column: column.to_owned(),
            kind: bad.kind,
            reason: bad.reason,
        }
    }
}

/// What a reader does with rows: checks them and builds its output.
pub(crate) trait Sink {
    /// The columns it wants, by name in the file.
    fn fields(&self) -> &[Field];
    /// The name of a required column absent from the file (`present` is indexed like
    /// [`Sink::fields`]), if any.
    fn missing(&self, present: &[bool]) -> Option<String>;
    /// Takes one row: `Ok(Ok(()))` accepted, `Ok(Err(_))` rejected, `Err` fatal for the file.
    fn accept(&mut self, row: usize, values: &dyn Row) -> Result<Result<(), Reject>, DataError>;
}

/// Counts rows, accepted rows and rejections of one file.
pub(crate) struct Tally<'a> {
    pub path: &'a Path,
    file: String,
    rejections: &'a mut Rejections,
    pub rows: usize,
    pub accepted: usize,
    first: Option<String>,
}

impl<'a> Tally<'a> {
    pub(crate) fn new(path: &'a Path, rejections: &'a mut Rejections) -> Self {
        Self {
            path,
            file: path.display().to_string(),
            rejections,
            rows: 0,
            accepted: 0,
            first: None,
        }
    }

    /// Passes one row to the sink and counts the outcome.
    pub(crate) fn feed(
        &mut self,
        sink: &mut dyn Sink,
        row: usize,
        values: &dyn Row,
    ) -> Result<(), DataError> {
        match sink.accept(row, values)? {
            Ok(()) => {
                self.rows += 1;
                self.accepted += 1;
            }
            Err(r) => self.reject(row, r),
        }
        Ok(())
    }

    /// Counts a row that the source itself could not turn into cells.
    pub(crate) fn reject(&mut self, row: usize, r: Reject) {
        self.rows += 1;
        let rejection = Rejection {
            file: self.file.clone(),
            row,
            column: r.column,
            reason: r.reason,
        };
        if self.first.is_none() {
            self.first = Some(rejection.to_string());
        }
        self.rejections.add(r.kind, rejection);
    }

    /// The missing-column error for a sink, given which of its fields the file has.
    pub(crate) fn check_columns(
        &self,
        sink: &dyn Sink,
        present: &[bool],
        found: &[String],
    ) -> Result<(), DataError> {
        match sink.missing(present) {
            None => Ok(()),
            Some(column) => Err(DataError::MissingColumn {
                path: self.path.to_owned(),
                column,
                found: if found.is_empty() {
                    "no columns".to_owned()
                } else {
                    found.join(", ")
                },
            }),
        }
    }

    /// The number of accepted rows, or the error for a file without rows or without one
    /// usable row.
    pub(crate) fn finish(&self) -> Result<usize, DataError> {
        if self.rows == 0 {
            return Err(DataError::Empty {
                path: self.path.to_owned(),
            });
        }
        if self.accepted == 0 {
            return Err(DataError::AllRejected {
                path: self.path.to_owned(),
                rows: self.rows,
                first: self.first.clone().unwrap_or_default(),
            });
        }
        Ok(self.accepted)
    }
}

/// Rows between progress-bar updates.
pub(crate) const PROGRESS_EVERY: usize = 64 * 1024;
