//! Canonical Parquet writers (snappy) for events, the catalog and identity links.
//!
//! These are the files that `kindred generate` produces and that export writes; the readers in
//! [`crate::data::read`] accept exactly these schemas (and more). The schema constructors
//! ([`events_schema`], [`items_schema`], [`identities_schema`]) are public so that readers and
//! exporters share one definition.
//!
//! Every writer is atomic: it writes `NAME.tmp` next to the target and renames it into place
//! when the file is complete, so a crash never leaves a half-written file under the real name.
//! [`EventWriter`] streams: rows arrive in batches and are flushed in row groups of
//! [`ROW_GROUP_ROWS`], so tens of millions of events never sit in memory at once.

use crate::data::{Catalog, EventLog, EventType};
use arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per Parquet row group in every file written here.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

/// A file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{path}: cannot write: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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
}

/// One event as it is stored in `events.parquet`: external string ids, time in milliseconds,
/// and the context columns. This is the row type of [`EventWriter`].
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Optional idempotency key, unique per event when present.
    pub event_id: Option<String>,
    /// Milliseconds since the Unix epoch (UTC).
    pub ts_ms: i64,
    pub customer_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub kind: EventType,
    pub item_id: Option<String>,
    /// The page the event happened on (`/`, `/c/shoes`, `/p/sku-00012`, ...).
    pub page: Option<String>,
    /// The search text of `search` events.
    pub query: Option<String>,
    pub quantity: Option<i32>,
    /// Unit price at the time of the event.
    pub price: Option<f64>,
    /// Review rating 1–5 of `review` events.
    pub rating: Option<f32>,
    /// Review text.
    pub text: Option<String>,
    /// `mobile`, `desktop` or `tablet`.
    pub device: Option<String>,
    pub browser: Option<String>,
    /// `web`, `app` or `email`.
    pub channel: Option<String>,
    /// `full`, `anonymous` or `none`.
    pub consent: Option<String>,
}

impl EventRow {
    /// A row with only the required columns set; fill the rest with struct update syntax.
    pub fn new(ts_ms: i64, kind: EventType) -> Self {
        EventRow {
            event_id: None,
            ts_ms,
            customer_id: None,
            anonymous_id: None,
            kind,
            item_id: None,
            page: None,
            query: None,
            quantity: None,
            price: None,
            rating: None,
            text: None,
            device: None,
            browser: None,
            channel: None,
            consent: None,
        }
    }
}

fn utc_millis() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The canonical schema of `events.parquet`.
///
/// `event_id` Utf8?, `ts` Timestamp(ms, UTC), `customer_id` Utf8?, `anonymous_id` Utf8?,
/// `type` Utf8 (snake_case [`EventType`] name), `item_id` Utf8?, `page` Utf8?, `query` Utf8?,
/// `quantity` Int32?, `price` Float64?, `rating` Float32?, `text` Utf8?, `device` Utf8?,
/// `browser` Utf8?, `channel` Utf8?, `consent` Utf8? (`?` = nullable).
pub fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Utf8, true),
        Field::new("ts", utc_millis(), false),
        Field::new("customer_id", DataType::Utf8, true),
        Field::new("anonymous_id", DataType::Utf8, true),
        Field::new("type", DataType::Utf8, false),
        Field::new("item_id", DataType::Utf8, true),
        Field::new("page", DataType::Utf8, true),
        Field::new("query", DataType::Utf8, true),
        Field::new("quantity", DataType::Int32, true),
        Field::new("price", DataType::Float64, true),
        Field::new("rating", DataType::Float32, true),
        Field::new("text", DataType::Utf8, true),
        Field::new("device", DataType::Utf8, true),
        Field::new("browser", DataType::Utf8, true),
        Field::new("channel", DataType::Utf8, true),
        Field::new("consent", DataType::Utf8, true),
    ]))
}

/// The canonical schema of `items.parquet`.
///
/// `item_id` Utf8, `title` Utf8, `category` Utf8 (a path like `shoes/sneakers`), `brand` Utf8?,
/// `color` Utf8?, `price` Float64?, `in_stock` Boolean, `image_url` Utf8?, `url` Utf8?.
pub fn items_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("item_id", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("brand", DataType::Utf8, true),
        Field::new("color", DataType::Utf8, true),
        Field::new("price", DataType::Float64, true),
        Field::new("in_stock", DataType::Boolean, false),
        Field::new("image_url", DataType::Utf8, true),
        Field::new("url", DataType::Utf8, true),
    ]))
}

/// The canonical schema of `identities.parquet`: `anonymous_id` Utf8, `customer_id` Utf8,
/// `ts` Timestamp(ms, UTC) (when the link was made, e.g. registration or login).
pub fn identities_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("anonymous_id", DataType::Utf8, false),
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("ts", utc_millis(), false),
    ]))
}

/// The writer properties shared by every canonical file: snappy, [`ROW_GROUP_ROWS`] rows per
/// row group, dictionary encoding on (the default).
pub fn writer_properties() -> WriterProperties {
    writer_builder().build()
}

fn writer_builder() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
}

/// `path` with `.tmp` appended to its file name.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// A Parquet file being written under `NAME.tmp`, renamed into place by [`AtomicParquet::finish`].
struct AtomicParquet {
    path: PathBuf,
    tmp: PathBuf,
    writer: ArrowWriter<BufWriter<File>>,
    schema: SchemaRef,
    rows: usize,
}

impl AtomicParquet {
    fn create(path: &Path, schema: SchemaRef) -> Result<Self, WriteError> {
        Self::create_with(path, schema, writer_properties())
    }

    fn create_with(
        path: &Path,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Result<Self, WriteError> {
        let tmp = tmp_path(path);
        let file = File::create(&tmp).map_err(|source| WriteError::Io {
            path: tmp.clone(),
            source,
        })?;
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            schema.clone(),
            Some(props),
        )
        .map_err(|source| WriteError::Parquet {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(AtomicParquet {
            path: path.to_path_buf(),
            tmp,
            writer,
            schema,
            rows: 0,
        })
    }

    fn write(&mut self, columns: Vec<ArrayRef>) -> Result<(), WriteError> {
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|source| {
            WriteError::Arrow {
                path: self.path.clone(),
                source,
            }
        })?;
        self.rows += batch.num_rows();
        self.writer
            .write(&batch)
            .map_err(|source| WriteError::Parquet {
                path: self.path.clone(),
                source,
            })
    }

    fn finish(self) -> Result<usize, WriteError> {
        let AtomicParquet {
            path,
            tmp,
            writer,
            rows,
            ..
        } = self;
        writer.close().map_err(|source| WriteError::Parquet {
            path: path.clone(),
            source,
        })?;
        std::fs::rename(&tmp, &path).map_err(|source| WriteError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(rows)
    }
}

/// Streams [`EventRow`]s into `events.parquet` with the canonical [`events_schema`].
///
/// ```no_run
/// # use kindred_training::data::write::{EventRow, EventWriter};
/// # use kindred_training::data::EventType;
/// let mut w = EventWriter::create(std::path::Path::new("events.parquet"))?;
/// w.write_batch(&[EventRow::new(1_700_000_000_000, EventType::PageView)])?;
/// let rows = w.finish()?;
/// # Ok::<(), kindred_training::data::write::WriteError>(())
/// ```
///
/// Nothing appears under the final name until [`EventWriter::finish`] succeeds; dropping the
/// writer without finishing leaves only `NAME.tmp`.
pub struct EventWriter {
    file: AtomicParquet,
}

impl EventWriter {
    /// Starts writing to `path` (through `path.tmp`).
    pub fn create(path: &Path) -> Result<Self, WriteError> {
        // Event ids are unique: a dictionary would only cost time before falling back.
        let props = writer_builder()
            .set_column_dictionary_enabled(ColumnPath::from("event_id"), false)
            .build();
        Ok(EventWriter {
            file: AtomicParquet::create_with(path, events_schema(), props)?,
        })
    }

    /// Appends rows. Batches of any size are fine; row groups are cut at [`ROW_GROUP_ROWS`].
    pub fn write_batch(&mut self, rows: &[EventRow]) -> Result<(), WriteError> {
        if rows.is_empty() {
            return Ok(());
        }
        let n = rows.len();
        let mut event_id = StringBuilder::with_capacity(n, n * 16);
        let mut ts = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        let mut customer_id = StringBuilder::with_capacity(n, n * 12);
        let mut anonymous_id = StringBuilder::with_capacity(n, n * 18);
        let mut kind = StringBuilder::with_capacity(n, n * 8);
        let mut item_id = StringBuilder::with_capacity(n, n * 10);
        let mut page = StringBuilder::with_capacity(n, n * 12);
        let mut query = StringBuilder::new();
        let mut quantity = Int32Builder::with_capacity(n);
        let mut price = Float64Builder::with_capacity(n);
        let mut rating = Float32Builder::with_capacity(n);
        let mut text = StringBuilder::new();
        let mut device = StringBuilder::with_capacity(n, n * 7);
        let mut browser = StringBuilder::with_capacity(n, n * 7);
        let mut channel = StringBuilder::with_capacity(n, n * 4);
        let mut consent = StringBuilder::with_capacity(n, n * 4);
        for r in rows {
            event_id.append_option(r.event_id.as_deref());
            ts.append_value(r.ts_ms);
            customer_id.append_option(r.customer_id.as_deref());
            anonymous_id.append_option(r.anonymous_id.as_deref());
            kind.append_value(r.kind.as_str());
            item_id.append_option(r.item_id.as_deref());
            page.append_option(r.page.as_deref());
            query.append_option(r.query.as_deref());
            quantity.append_option(r.quantity);
            price.append_option(r.price);
            rating.append_option(r.rating);
            text.append_option(r.text.as_deref());
            device.append_option(r.device.as_deref());
            browser.append_option(r.browser.as_deref());
            channel.append_option(r.channel.as_deref());
            consent.append_option(r.consent.as_deref());
        }
        self.file.write(vec![
            Arc::new(event_id.finish()),
            Arc::new(ts.finish()),
            Arc::new(customer_id.finish()),
            Arc::new(anonymous_id.finish()),
            Arc::new(kind.finish()),
            Arc::new(item_id.finish()),
            Arc::new(page.finish()),
            Arc::new(query.finish()),
            Arc::new(quantity.finish()),
            Arc::new(price.finish()),
            Arc::new(rating.finish()),
            Arc::new(text.finish()),
            Arc::new(device.finish()),
            Arc::new(browser.finish()),
            Arc::new(channel.finish()),
            Arc::new(consent.finish()),
        ])
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.file.rows
    }

    /// Closes the file and renames it into place; returns the number of rows written.
    pub fn finish(self) -> Result<usize, WriteError> {
        self.file.finish()
    }
}

/// Writes an in-memory [`EventLog`] as canonical `events.parquet`.
///
/// The log keeps less than the file can hold: times are whole seconds, `event_id`, `page`,
/// `query`, `text`, `channel` and `consent` are not kept and are written as null, the interned
/// device key goes to `device` (with `browser` null), and explicit interaction weights are
/// not representable in the canonical schema and are dropped. `quantity` is written for cart
/// and purchase events and whenever it differs from 1.
pub fn write_events(path: &Path, log: &EventLog) -> Result<(), WriteError> {
    let mut writer = EventWriter::create(path)?;
    let mut batch = Vec::with_capacity(ROW_GROUP_ROWS.min(log.len()));
    for e in &log.events {
        let quantity = matches!(
            e.kind,
            EventType::AddToCart | EventType::RemoveFromCart | EventType::Purchase
        ) || e.quantity != 1.0;
        batch.push(EventRow {
            customer_id: e.customer.map(|c| log.customers.id(c).to_owned()),
            anonymous_id: e.anonymous.map(|a| log.anonymous.id(a).to_owned()),
            item_id: e.item.map(|i| log.items.id(i).to_owned()),
            quantity: quantity.then(|| e.quantity.round() as i32),
            price: e.price.map(f64::from),
            rating: e.rating,
            device: e.device.map(|d| log.devices.id(d).to_owned()),
            ..EventRow::new(e.ts.saturating_mul(1000), e.kind)
        });
        if batch.len() == ROW_GROUP_ROWS {
            writer.write_batch(&batch)?;
            batch.clear();
        }
    }
    writer.write_batch(&batch)?;
    writer.finish()?;
    Ok(())
}

/// Writes the catalog as canonical `items.parquet`, in catalog order.
pub fn write_catalog(path: &Path, catalog: &Catalog) -> Result<(), WriteError> {
    let mut file = AtomicParquet::create(path, items_schema())?;
    for chunk in catalog.items.chunks(ROW_GROUP_ROWS) {
        let n = chunk.len();
        let mut item_id = StringBuilder::with_capacity(n, n * 10);
        let mut title = StringBuilder::with_capacity(n, n * 32);
        let mut category = StringBuilder::with_capacity(n, n * 16);
        let mut brand = StringBuilder::with_capacity(n, n * 10);
        let mut color = StringBuilder::with_capacity(n, n * 6);
        let mut price = Float64Builder::with_capacity(n);
        let mut in_stock = BooleanBuilder::with_capacity(n);
        let mut image_url = StringBuilder::with_capacity(n, n * 48);
        let mut url = StringBuilder::with_capacity(n, n * 40);
        for item in chunk {
            item_id.append_value(&item.item_id);
            title.append_value(&item.title);
            category.append_value(&item.category);
            brand.append_option(item.brand.as_deref());
            color.append_option(item.color.as_deref());
            price.append_option(item.price);
            in_stock.append_value(item.in_stock);
            image_url.append_option(item.image_url.as_deref());
            url.append_option(item.url.as_deref());
        }
        file.write(vec![
            Arc::new(item_id.finish()),
            Arc::new(title.finish()),
            Arc::new(category.finish()),
            Arc::new(brand.finish()),
            Arc::new(color.finish()),
            Arc::new(price.finish()),
            Arc::new(in_stock.finish()),
            Arc::new(image_url.finish()),
            Arc::new(url.finish()),
        ])?;
    }
    file.finish()?;
    Ok(())
}

/// Writes identity links as canonical `identities.parquet`: `(anonymous_id, customer_id,
/// ts in ms)` rows in the given order.
pub fn write_identities(path: &Path, links: &[(String, String, i64)]) -> Result<(), WriteError> {
    let mut file = AtomicParquet::create(path, identities_schema())?;
    for chunk in links.chunks(ROW_GROUP_ROWS) {
        let n = chunk.len();
        let mut anonymous_id = StringBuilder::with_capacity(n, n * 18);
        let mut customer_id = StringBuilder::with_capacity(n, n * 12);
        let mut ts = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
        for (anon, customer, ms) in chunk {
            anonymous_id.append_value(anon);
            customer_id.append_value(customer);
            ts.append_value(*ms);
        }
        file.write(vec![
            Arc::new(anonymous_id.finish()),
            Arc::new(customer_id.finish()),
            Arc::new(ts.finish()),
        ])?;
    }
    file.finish()?;
    Ok(())
}

/// Writes record batches of `schema` to `path` atomically with the canonical
/// [`writer_properties`]; for files beyond the three canonical ones (ground truth, exports of
/// embeddings and segments). Returns the number of rows written.
pub fn write_record_batches(
    path: &Path,
    schema: SchemaRef,
    batches: impl IntoIterator<Item = RecordBatch>,
) -> Result<usize, WriteError> {
    let mut file = AtomicParquet::create(path, schema)?;
    for batch in batches {
        file.write(batch.columns().to_vec())?;
    }
    file.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::data::{Event, Item};
    use crate::ids::IdMap;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type, TimestampMillisecondType};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn read_all(path: &Path) -> (SchemaRef, Vec<RecordBatch>) {
        let file = File::open(path).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let schema = builder.schema().clone();
        let batches = builder
            .build()
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        (schema, batches)
    }

    #[test]
    fn event_writer_round_trips_rows_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        let mut w = EventWriter::create(&path).unwrap();
        assert!(!path.exists(), "nothing under the final name before finish");
        let rows = vec![
            EventRow {
                event_id: Some("e-1".into()),
                customer_id: Some("c-1".into()),
                item_id: Some("sku-1".into()),
                quantity: Some(2),
                price: Some(9.5),
                channel: Some("web".into()),
                ..EventRow::new(1_000, EventType::Purchase)
            },
            EventRow {
                anonymous_id: Some("a-1".into()),
                query: Some("blue sneakers".into()),
                ..EventRow::new(2_000, EventType::Search)
            },
        ];
        w.write_batch(&rows).unwrap();
        w.write_batch(&[]).unwrap();
        assert_eq!(w.finish().unwrap(), 2);
        assert!(path.exists());
        assert!(!tmp_path(&path).exists());

        let (schema, batches) = read_all(&path);
        assert_eq!(schema.as_ref(), events_schema().as_ref());
        let b = &batches[0];
        assert_eq!(b.num_rows(), 2);
        let ts = b.column(1).as_primitive::<TimestampMillisecondType>();
        assert_eq!((ts.value(0), ts.value(1)), (1_000, 2_000));
        let kind = b.column(4).as_string::<i32>();
        assert_eq!((kind.value(0), kind.value(1)), ("purchase", "search"));
        let customer = b.column(2).as_string::<i32>();
        assert_eq!(customer.value(0), "c-1");
        assert!(customer.is_null(1));
        let qty = b.column(8).as_primitive::<Int32Type>();
        assert_eq!(qty.value(0), 2);
        assert!(qty.is_null(1));
        let price = b.column(9).as_primitive::<Float64Type>();
        assert_eq!(price.value(0), 9.5);
        assert_eq!(b.column(7).as_string::<i32>().value(1), "blue sneakers");
    }

    #[test]
    fn write_events_converts_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        let mut log = EventLog {
            customers: IdMap::from_ids(["c-1"]),
            anonymous: IdMap::from_ids(["a-1"]),
            items: IdMap::from_ids(["sku-1", "sku-2"]),
            devices: IdMap::from_ids(["mobile"]),
            events: vec![],
        };
        log.events.push(Event {
            ts: 10,
            customer: Some(0),
            anonymous: Some(0),
            kind: EventType::View,
            item: Some(1),
            quantity: 1.0,
            price: None,
            rating: None,
            device: Some(0),
            weight: None,
        });
        log.events.push(Event {
            ts: 20,
            customer: None,
            anonymous: Some(0),
            kind: EventType::AddToCart,
            item: Some(0),
            quantity: 3.0,
            price: Some(4.25),
            rating: None,
            device: None,
            weight: None,
        });
        write_events(&path, &log).unwrap();
        let (_, batches) = read_all(&path);
        let b = &batches[0];
        let ts = b.column(1).as_primitive::<TimestampMillisecondType>();
        assert_eq!((ts.value(0), ts.value(1)), (10_000, 20_000));
        let item = b.column(5).as_string::<i32>();
        assert_eq!((item.value(0), item.value(1)), ("sku-2", "sku-1"));
        let qty = b.column(8).as_primitive::<Int32Type>();
        assert!(qty.is_null(0), "views carry no quantity");
        assert_eq!(qty.value(1), 3);
        assert!(b.column(2).is_null(1));
        assert_eq!(b.column(12).as_string::<i32>().value(0), "mobile");
    }

    #[test]
    fn catalog_and_identities_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let items = vec![Item {
            item_id: "sku-1".into(),
            title: "Blue Runner Sneakers 42".into(),
            category: "shoes/sneakers".into(),
            brand: None,
            color: Some("blue".into()),
            price: Some(79.0),
            in_stock: false,
            image_url: None,
            url: Some("https://shop.example/p/sku-1".into()),
        }];
        let catalog = Catalog {
            ids: IdMap::from_ids(["sku-1"]),
            items,
        };
        let path = dir.path().join("items.parquet");
        write_catalog(&path, &catalog).unwrap();
        let (schema, batches) = read_all(&path);
        assert_eq!(schema.as_ref(), items_schema().as_ref());
        let b = &batches[0];
        assert_eq!(
            b.column(1).as_string::<i32>().value(0),
            "Blue Runner Sneakers 42"
        );
        assert!(b.column(3).is_null(0));
        assert!(!b.column(6).as_boolean().value(0));

        let path = dir.path().join("identities.parquet");
        write_identities(&path, &[("a-1".into(), "c-1".into(), 5_000)]).unwrap();
        let (schema, batches) = read_all(&path);
        assert_eq!(schema.as_ref(), identities_schema().as_ref());
        let b = &batches[0];
        assert_eq!(b.column(0).as_string::<i32>().value(0), "a-1");
        assert_eq!(
            b.column(2)
                .as_primitive::<TimestampMillisecondType>()
                .value(0),
            5_000
        );
    }
}
