//! A deterministic synthetic shop with real, hidden structure (`kindred generate`).
//!
//! [`generate_shop`] writes a catalog, tracking events and identity links in the canonical
//! Parquet schemas of [`crate::data::write`], plus the hidden truth behind the behaviour in a
//! separate `ground_truth/` folder that only tests and evaluations may read:
//!
//! ```text
//! OUT/items.parquet                  the catalog: a category tree, brands in three price tiers,
//!                                    colors, log-normal prices, ~7% out of stock, ~2% brand new
//! OUT/events.parquet                 sessions of page views, searches, views, carts, purchases,
//!                                    reviews and e-mail clicks, by known and anonymous visitors
//! OUT/identities.parquet             anonymous_id -> customer_id links made at registration
//! OUT/ground_truth/customers.parquet customer_id, group, group_name
//! OUT/ground_truth/groups.json       each taste group's definition ([`TasteGroup`])
//! ```
//!
//! Every customer belongs to a hidden taste group with favourite categories, colors, a brand
//! tier (price level), a channel and device mix and its own cart and purchase propensities;
//! about 80% of a customer's sessions focus on the group's favourites. Popularity within a
//! subcategory is Zipf-skewed and activity per customer is heavy-tailed. About a quarter of
//! customers' sessions happen anonymously before they registered, and a tenth as many visitors
//! as customers never register at all.
//!
//! The output is a pure function of [`GenerateParams`]: the period ends at the fixed
//! [`END_MS`] (2026-11-01T00:00:00Z), every random stream is seeded from `seed`, and visitors are
//! simulated in fixed-size chunks (in parallel) whose results are written in order. Events are
//! streamed to disk, so a million customers and twenty million events fit in well under 1 GB.

mod behaviour;
mod catalog;
mod groups;
mod sample;

pub use catalog::Tier;
pub use groups::{CHANNELS, DEVICES, TasteGroup};

use crate::data::write::{self, EventWriter, WriteError};
use crate::progress::Progress;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use behaviour::{DAY, VISITORS_PER_CHUNK, World};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rayon::prelude::*;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The simulated period ends here (2026-11-01T00:00:00Z, in ms), not "now", so the output of
/// a seed never changes.
pub const END_MS: i64 = 1_793_491_200_000;

/// The most days a shop may span (ten years).
pub const MAX_DAYS: u32 = 3650;

/// Events per customer when [`GenerateParams::events`] is `None`.
pub const DEFAULT_EVENTS_PER_CUSTOMER: usize = 20;

/// Chunks simulated per parallel round (while the previous round is written).
const CHUNKS_PER_ROUND: usize = 4;

/// What to generate. [`GenerateParams::demo`] (also the [`Default`]) is the committed demo
/// shop in `datasets/demo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateParams {
    /// Registered customers (each has a hidden taste group).
    pub customers: usize,
    /// Catalog items.
    pub items: usize,
    /// Length of the simulated period, ending at [`END_MS`].
    pub days: u32,
    /// Seed of every random choice: same parameters, same files.
    pub seed: u64,
    /// target number of events; default 20 per customer
    pub events: Option<usize>,
    /// Number of hidden taste groups (default 6).
    pub groups: usize,
}

impl GenerateParams {
    /// The committed demo shop: 3,000 customers, 800 items, 90 days, seed 42, about 60,000
    /// events, 6 taste groups.
    pub fn demo() -> Self {
        GenerateParams {
            customers: 3000,
            items: 800,
            days: 90,
            seed: 42,
            events: None,
            groups: 6,
        }
    }

    /// The number of events aimed at: `events`, or 20 per customer.
    pub fn target_events(&self) -> usize {
        self.events
            .unwrap_or(self.customers.saturating_mul(DEFAULT_EVENTS_PER_CUSTOMER))
    }

    /// Checks every rule, returning the first one broken.
    pub fn check(&self) -> Result<(), GenerateError> {
        if self.customers == 0 {
            return Err(GenerateError::NoCustomers);
        }
        if self.customers > u32::MAX as usize {
            return Err(GenerateError::TooManyCustomers {
                customers: self.customers,
            });
        }
        if self.items == 0 {
            return Err(GenerateError::NoItems);
        }
        if self.days == 0 {
            return Err(GenerateError::NoDays);
        }
        if self.days > MAX_DAYS {
            return Err(GenerateError::TooManyDays {
                days: self.days,
                max: MAX_DAYS,
            });
        }
        if self.groups == 0 {
            return Err(GenerateError::NoGroups);
        }
        if self.target_events() < self.customers {
            return Err(GenerateError::TooFewEvents {
                events: self.target_events(),
                customers: self.customers,
            });
        }
        Ok(())
    }
}

impl Default for GenerateParams {
    fn default() -> Self {
        Self::demo()
    }
}

/// Why a shop could not be generated, or its ground truth not read.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("customers must be at least 1")]
    NoCustomers,
    #[error("customers must be at most {} (got {customers})", u32::MAX)]
    TooManyCustomers { customers: usize },
    #[error("items must be at least 1")]
    NoItems,
    #[error("days must be at least 1")]
    NoDays,
    #[error("days must be at most {max} (got {days})")]
    TooManyDays { days: u32, max: u32 },
    #[error("groups must be at least 1")]
    NoGroups,
    #[error("events ({events}) must be at least the number of customers ({customers})")]
    TooFewEvents { events: usize, customers: usize },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: not a ground-truth file: {reason}")]
    GroundTruth { path: PathBuf, reason: String },
}

/// What [`generate_shop`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateReport {
    pub customers: usize,
    pub items: usize,
    /// Events written.
    pub events: usize,
    /// Visitors who never registered (their events carry only `anonymous_id`).
    pub anonymous_visitors: usize,
    /// Rows of `identities.parquet`: customers who browsed anonymously before registering.
    pub identity_links: usize,
    pub groups: usize,
    /// Items that appear in no event (brand-new products).
    pub cold_items: usize,
    pub files: Vec<PathBuf>,
    pub seconds: f64,
}

impl fmt::Display for GenerateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "generated a synthetic shop in {:.1} s: {} customers, {} items ({} brand new), {} events",
            self.seconds, self.customers, self.items, self.cold_items, self.events
        )?;
        writeln!(
            f,
            "  {} identity links, {} visitors who never registered, {} hidden taste groups",
            self.identity_links, self.anonymous_visitors, self.groups
        )?;
        write!(f, "  files:")?;
        for file in &self.files {
            write!(f, "\n    {}", file.display())?;
        }
        Ok(())
    }
}

/// Generates the shop of `params` into `out` (created if missing; existing files of the same
/// names are replaced atomically). See the module docs for the files and the model.
pub fn generate_shop(
    params: &GenerateParams,
    out: &Path,
    progress: Progress,
) -> Result<GenerateReport, GenerateError> {
    params.check()?;
    let started = Instant::now();
    let truth_dir = out.join("ground_truth");
    std::fs::create_dir_all(&truth_dir).map_err(|source| GenerateError::Io {
        path: truth_dir.clone(),
        source,
    })?;

    let shop = catalog::build(params.items, params.seed);
    let items_path = out.join("items.parquet");
    write::write_catalog(&items_path, &shop.catalog)?;
    let groups = groups::build(params.groups, params.seed, &shop);

    // Hidden group of every customer.
    let shares = sample::cumulative(groups.iter().map(|g| g.group.share));
    let mut rng = StdRng::seed_from_u64(sample::derive_seed(params.seed, 5, 0));
    let customer_groups: Vec<u32> = (0..params.customers)
        .map(|_| sample::pick_in(&mut rng, &shares, 0..shares.len()).unwrap_or(0) as u32)
        .collect();

    let target = params.target_events() as f64;
    let anonymous = (params.customers + 5) / 10;
    let anonymous_mean = if anonymous == 0 {
        0.0
    } else {
        (0.04 * target / anonymous as f64).max(1.0)
    };
    let customer_mean =
        ((target - anonymous as f64 * anonymous_mean) / params.customers as f64).max(1.0);
    let world = World {
        shop: &shop,
        groups: &groups,
        customer_groups: &customer_groups,
        anonymous,
        customer_mean,
        anonymous_mean,
        start_ms: END_MS - i64::from(params.days) * DAY,
        end_ms: END_MS,
        days: params.days,
        seed: params.seed,
        customer_width: catalog::id_width(params.customers),
    };

    let events_path = out.join("events.parquet");
    let mut writer = EventWriter::create(&events_path)?;
    let mut links = Vec::new();
    let mut next_event = 0usize;
    let visitors = world.visitors();
    let bar = progress.bar(visitors as u64, "simulating visitors");
    let chunks = visitors.div_ceil(VISITORS_PER_CHUNK);
    let mut pending: Vec<behaviour::ChunkOutput> = Vec::new();
    let mut round = 0;
    // Each round simulates the next chunks in parallel while the previous round is written.
    while !pending.is_empty() || round * CHUNKS_PER_ROUND < chunks {
        let first = (round * CHUNKS_PER_ROUND).min(chunks);
        let last = (first + CHUNKS_PER_ROUND).min(chunks);
        let to_write = std::mem::take(&mut pending);
        // Event ids continue after the rows of the round being written.
        let base = next_event + to_write.iter().map(|c| c.rows.len()).sum::<usize>();
        let (simulated, written) = rayon::join(
            || {
                let mut simulated: Vec<_> = (first..last)
                    .into_par_iter()
                    .map(|c| world.simulate_chunk(c))
                    .collect();
                let mut offsets = Vec::with_capacity(simulated.len());
                let mut offset = base;
                for chunk in &simulated {
                    offsets.push(offset);
                    offset += chunk.rows.len();
                }
                simulated
                    .par_iter_mut()
                    .zip(offsets)
                    .for_each(|(chunk, offset)| {
                        for (k, row) in chunk.rows.iter_mut().enumerate() {
                            row.event_id = Some(format!("e-{}-{}", params.seed, offset + k));
                        }
                    });
                simulated
            },
            || -> Result<(), WriteError> {
                for mut chunk in to_write {
                    writer.write_batch(&chunk.rows)?;
                    next_event += chunk.rows.len();
                    links.append(&mut chunk.links);
                    bar.inc(chunk.visitors as u64);
                }
                Ok(())
            },
        );
        written?;
        pending = simulated;
        round += 1;
    }
    let events = writer.finish()?;
    bar.finish_and_clear();

    let identities_path = out.join("identities.parquet");
    write::write_identities(&identities_path, &links)?;
    let customers_path = truth_dir.join("customers.parquet");
    write_ground_truth(&customers_path, &world, &groups)?;
    let groups_path = truth_dir.join("groups.json");
    let definitions: Vec<&TasteGroup> = groups.iter().map(|g| &g.group).collect();
    write_json(&groups_path, &definitions)?;

    Ok(GenerateReport {
        customers: params.customers,
        items: params.items,
        events,
        anonymous_visitors: anonymous,
        identity_links: links.len(),
        groups: params.groups,
        cold_items: shop.cold_items,
        files: vec![
            items_path,
            events_path,
            identities_path,
            customers_path,
            groups_path,
        ],
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Schema of `ground_truth/customers.parquet`: `customer_id` Utf8, `group` UInt32,
/// `group_name` Utf8.
pub fn ground_truth_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("group", DataType::UInt32, false),
        Field::new("group_name", DataType::Utf8, false),
    ]))
}

fn write_ground_truth(
    path: &Path,
    world: &World<'_>,
    groups: &[groups::GroupModel],
) -> Result<(), GenerateError> {
    let schema = ground_truth_schema();
    let mut batches = Vec::new();
    let all = world.customer_groups;
    for (chunk_index, chunk) in all.chunks(write::ROW_GROUP_ROWS).enumerate() {
        let offset = chunk_index * write::ROW_GROUP_ROWS;
        let ids: StringArray = (0..chunk.len())
            .map(|i| Some(world.customer_id(offset + i)))
            .collect();
        let names: StringArray = chunk
            .iter()
            .map(|&g| Some(groups[g as usize].group.name.as_str()))
            .collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ids),
            Arc::new(UInt32Array::from(chunk.to_vec())),
            Arc::new(names),
        ];
        let batch =
            RecordBatch::try_new(schema.clone(), columns).map_err(|source| WriteError::Arrow {
                path: path.to_path_buf(),
                source,
            })?;
        batches.push(batch);
    }
    write::write_record_batches(path, schema, batches)?;
    Ok(())
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), GenerateError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|source| GenerateError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    let io = |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Reads the hidden `(customer_id, group)` of every customer, in customer order.
///
/// `path` is `ground_truth/customers.parquet` itself, or a generated shop's folder (the one
/// given to [`generate_shop`]), or its `ground_truth/` folder. Only tests and evaluations may
/// use this: trainers must never see the ground truth.
pub fn read_ground_truth(path: &Path) -> Result<Vec<(String, u32)>, GenerateError> {
    let file_path = if path.is_dir() {
        let nested = path.join("ground_truth").join("customers.parquet");
        if nested.exists() {
            nested
        } else {
            path.join("customers.parquet")
        }
    } else {
        path.to_path_buf()
    };
    let bad = |reason: String| GenerateError::GroundTruth {
        path: file_path.clone(),
        reason,
    };
    let file = std::fs::File::open(&file_path).map_err(|source| GenerateError::Io {
        path: file_path.clone(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| bad(e.to_string()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        let ids = batch
            .column_by_name("customer_id")
            .ok_or_else(|| bad("missing column \"customer_id\"".into()))?;
        let groups = batch
            .column_by_name("group")
            .ok_or_else(|| bad("missing column \"group\"".into()))?;
        let group_at = |row: usize| -> Option<u32> {
            if groups.is_null(row) {
                return None;
            }
            match groups.data_type() {
                DataType::UInt32 => Some(groups.as_primitive::<UInt32Type>().value(row)),
                DataType::Int32 => {
                    u32::try_from(groups.as_primitive::<Int32Type>().value(row)).ok()
                }
                DataType::Int64 => {
                    u32::try_from(groups.as_primitive::<Int64Type>().value(row)).ok()
                }
                DataType::UInt64 => {
                    u32::try_from(groups.as_primitive::<UInt64Type>().value(row)).ok()
                }
                _ => None,
            }
        };
        for row in 0..batch.num_rows() {
            let id = match ids.data_type() {
                DataType::Utf8 if !ids.is_null(row) => ids.as_string::<i32>().value(row),
                DataType::LargeUtf8 if !ids.is_null(row) => ids.as_string::<i64>().value(row),
                other => {
                    return Err(bad(format!(
                        "row {}: column \"customer_id\" ({other}) is not a non-null string",
                        rows.len() + 1
                    )));
                }
            };
            let group = group_at(row).ok_or_else(|| {
                bad(format!(
                    "row {}: column \"group\" ({}) is not a non-negative 32-bit integer",
                    rows.len() + 1,
                    groups.data_type()
                ))
            })?;
            rows.push((id.to_owned(), group));
        }
    }
    Ok(rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn check_names_the_broken_rule() {
        let ok = GenerateParams::demo();
        assert!(ok.check().is_ok());
        let with = |f: fn(&mut GenerateParams)| {
            let mut p = ok.clone();
            f(&mut p);
            p.check().unwrap_err()
        };
        assert!(matches!(
            with(|p| p.customers = 0),
            GenerateError::NoCustomers
        ));
        assert!(matches!(with(|p| p.items = 0), GenerateError::NoItems));
        assert!(matches!(with(|p| p.days = 0), GenerateError::NoDays));
        assert!(matches!(with(|p| p.groups = 0), GenerateError::NoGroups));
        assert!(matches!(
            with(|p| p.days = 4000),
            GenerateError::TooManyDays { days: 4000, .. }
        ));
        assert!(matches!(
            with(|p| p.events = Some(10)),
            GenerateError::TooFewEvents {
                events: 10,
                customers: 3000
            }
        ));
        assert_eq!(
            with(|p| p.items = 0).to_string(),
            "items must be at least 1"
        );
    }

    #[test]
    fn demo_is_the_default_and_targets_twenty_events_per_customer() {
        let p = GenerateParams::default();
        assert_eq!(p, GenerateParams::demo());
        assert_eq!(p.target_events(), 60_000);
    }

    #[test]
    fn end_is_the_first_of_november_2026() {
        let end = chrono::DateTime::from_timestamp_millis(END_MS).unwrap();
        assert_eq!(end.to_rfc3339(), "2026-11-01T00:00:00+00:00");
    }
}
