//! The durable embedded event store: every accepted event, identity link and erasure, in one
//! SQLite file (`<data_dir>/events.sqlite3`, WAL mode, `synchronous=FULL`).
//!
//! # When to use it
//!
//! The server opens one [`Store`] at start-up and clones the handle into every request:
//! `POST /v1/events` calls [`Store::append`], `POST /v1/identify` calls [`Store::link`],
//! `DELETE /v1/customers/{id}` calls [`Store::erase_customer`], and start-up rebuilds live
//! profiles with [`Store::replay`]. `kindred export` calls [`export`] to turn a data directory
//! into the canonical Parquet files that `kindred train` reads.
//!
//! # Durability and speed
//!
//! Every write returns only after the transaction that holds it has committed with
//! `synchronous=FULL`, so an acknowledged write survives a crash or power loss. Writes are
//! made by one writer thread that *group-commits*: it takes every request that is queued
//! (up to [`StoreOptions::max_group_ops`]) and commits them in one transaction, one fsync for
//! all, each inside its own savepoint so that one failing request does not fail the others.
//! Reads use their own read-only connections and run beside the writer.
//!
//! ```no_run
//! # use kindred::store::{Store, StoreOptions, Appended};
//! # use kindred_training::data::{EventType, write::EventRow};
//! let store = Store::open(std::path::Path::new("data"), StoreOptions::default())?;
//! let row = EventRow {
//!     event_id: Some("e-1".into()),
//!     customer_id: Some("c-1".into()),
//!     item_id: Some("sku-1".into()),
//!     ..EventRow::new(1_700_000_000_000, EventType::View)
//! };
//! let out = store.append_blocking(vec![row.clone(), row])?;
//! assert!(matches!(out[1], Appended::Duplicate { .. }));
//! # Ok::<(), kindred::store::StoreError>(())
//! ```

mod export;
pub mod schema;
mod writer;

pub use export::{ExportReport, export};

use kindred_training::data::EventType;
use kindred_training::data::write::EventRow;
use rusqlite::{Connection, Row};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use tokio::sync::oneshot;
use writer::Op;

/// Everything that can go wrong in the store. Every variant names the database file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: cannot create the data directory: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: no event store here (expected a file written by `kindred serve`)")]
    Missing { path: PathBuf },
    #[error(
        "{path}: written by a newer kindred (schema version {found}; this build reads up to {supported}); upgrade kindred"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("{path}: not a kindred event store (schema version {found})")]
    NotAStore { path: PathBuf, found: i64 },
    #[error("{path}: SQLite refused WAL mode (journal mode is {mode:?})")]
    NoWal { path: PathBuf, mode: String },
    #[error("{path}: stored event seq {seq} is unreadable: {reason}")]
    BadRow {
        path: PathBuf,
        seq: i64,
        reason: String,
    },
    #[error("{path}: the transaction failed and nothing of this request was stored: {message}")]
    Commit { path: PathBuf, message: String },
    #[error("{path}: cannot start the store's writer thread: {source}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the store's writer thread has stopped")]
    Closed { path: PathBuf },
    #[error("{path}: cannot open the lock of the read connection")]
    Poisoned { path: PathBuf },
    #[error("export to {path}: {source}")]
    Export {
        path: PathBuf,
        #[source]
        source: kindred_training::data::write::WriteError,
    },
}

/// Tuning of [`Store::open`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The most write requests (one `append`, `link` or `erase_customer` call each) that go
    /// into one transaction. Default 256. Larger groups mean fewer fsyncs under load; a group
    /// never waits to fill up, it takes what is queued.
    pub max_group_ops: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_group_ops: 256 }
    }
}

/// What happened to one row given to [`Store::append`], in input order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Newly stored under this sequence number.
    Stored { seq: i64 },
    /// Its `event_id` was already stored (earlier, or earlier in the same call) under `seq`;
    /// nothing was written.
    Duplicate { seq: i64 },
}

impl Appended {
    /// The sequence number of the stored event, new or earlier.
    pub fn seq(self) -> i64 {
        match self {
            Appended::Stored { seq } | Appended::Duplicate { seq } => seq,
        }
    }
}

/// A stored event with its sequence number (increasing in commit order, never reused).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub row: EventRow,
}

/// An identity link: the anonymous visitor `anonymous_id` is the customer `customer_id`
/// since `ts_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub anonymous_id: String,
    pub customer_id: String,
    pub ts_ms: i64,
}

/// The result of [`Store::link`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkOutcome {
    /// The customer the anonymous id pointed to before, when that was a different one.
    pub previous: Option<String>,
}

/// What [`Store::erase_customer`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Erased {
    /// Events removed: the customer's own and those of their linked anonymous ids.
    pub events: usize,
    /// Identity links removed.
    pub links: usize,
    /// The anonymous ids that were linked to the customer (the server drops their live
    /// profiles too).
    pub anonymous_ids: Vec<String>,
}

/// Sizes of a store, from [`Store::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    pub events: u64,
    pub links: u64,
    pub erasures: u64,
    /// The database file plus its write-ahead log, in bytes.
    pub file_bytes: u64,
}

/// A handle on an open store. Cheap to clone; every clone talks to the same writer thread.
/// When the last clone is dropped, the writer finishes the queued requests and stops (the
/// drop waits for that, so drop it where blocking for a commit is acceptable).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    ops: Option<mpsc::Sender<Op>>,
    writer: Option<JoinHandle<()>>,
    /// Shared read-only connection for the small reads (`links`, `erased`, `stats`).
    reader: Mutex<Connection>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the writer drain what is queued and return.
        drop(self.ops.take());
        if let Some(Err(_)) = self.writer.take().map(JoinHandle::join) {
            tracing::error!(path = %self.path.display(), "event store writer thread panicked");
        }
    }
}

impl Store {
    /// Opens the store in `data_dir` (creating the directory and `events.sqlite3` when
    /// missing) and starts its writer thread.
    ///
    /// Fails with [`StoreError::NewerSchema`] for a file written by a newer kindred.
    pub fn open(data_dir: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(schema::DB_FILE);
        let conn = schema::open_writer(&path)?;
        let reader = schema::open_reader(&path)?;
        let (ops, writer) = writer::spawn(conn, path.clone(), opts.max_group_ops.max(1))?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                ops: Some(ops),
                writer: Some(writer),
                reader: Mutex::new(reader),
            }),
        })
    }

    /// The database file (`<data_dir>/events.sqlite3`).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Stores validated events; durable when it returns `Ok`.
    ///
    /// Returns one [`Appended`] per input row, in input order. Rows with an `event_id` that is
    /// already stored (earlier, or earlier in the same call) come back as
    /// [`Appended::Duplicate`] with the original seq and are not stored again; rows without
    /// `event_id` are always stored. All rows of one call commit together or not at all.
    pub async fn append(
        &self,
        rows: impl Into<Arc<[EventRow]>>,
    ) -> Result<Vec<Appended>, StoreError> {
        let (reply, rx) = oneshot::channel();
        let rows = rows.into();
        self.send(Op::Append { rows, reply })?;
        rx.await.map_err(|_| self.closed())?
    }

    /// [`Store::append`] for plain threads (benches, tools, tests).
    ///
    /// Blocks the calling thread until the commit. Do not call it on a tokio runtime thread
    /// (it panics there, as `blocking_recv` does); in async code use [`Store::append`] or wrap
    /// this in `spawn_blocking`.
    pub fn append_blocking(
        &self,
        rows: impl Into<Arc<[EventRow]>>,
    ) -> Result<Vec<Appended>, StoreError> {
        let (reply, rx) = oneshot::channel();
        let rows = rows.into();
        self.send(Op::Append { rows, reply })?;
        rx.blocking_recv().map_err(|_| self.closed())?
    }

    /// Links `anonymous_id` to `customer_id` (insert or replace); durable when it returns.
    ///
    /// Re-linking to the same customer keeps the original `ts_ms` (the time the link was first
    /// made); linking to a different customer replaces the link and reports the previous one.
    pub async fn link(
        &self,
        anonymous_id: String,
        customer_id: String,
        ts_ms: i64,
    ) -> Result<LinkOutcome, StoreError> {
        let (reply, rx) = oneshot::channel();
        let link = Link {
            anonymous_id,
            customer_id,
            ts_ms,
        };
        self.send(Op::Link { link, reply })?;
        rx.await.map_err(|_| self.closed())?
    }

    /// Erases a customer: deletes their events, the events of every anonymous id linked to
    /// them and those links, and records a tombstone (listed by [`Store::erased`]) with the
    /// current time. Durable when it returns. Erasing an unknown customer only records the
    /// tombstone.
    pub async fn erase_customer(&self, customer_id: String) -> Result<Erased, StoreError> {
        let (reply, rx) = oneshot::channel();
        let now_ms = chrono::Utc::now().timestamp_millis();
        self.send(Op::Erase {
            customer_id,
            now_ms,
            reply,
        })?;
        rx.await.map_err(|_| self.closed())?
    }

    /// The ids of every erased customer (tombstones), sorted.
    pub fn erased(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached("SELECT customer_id FROM erasures ORDER BY customer_id")
            .map_err(|e| self.sqlite(e))?;
        let ids = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(|e| self.sqlite(e))?;
        Ok(ids)
    }

    /// Every identity link, sorted by anonymous id.
    pub fn links(&self) -> Result<Vec<Link>, StoreError> {
        let conn = self.reader()?;
        read_links(&conn).map_err(|e| self.sqlite(e))
    }

    /// Calls `f` for every stored event with `seq > after_seq`, in seq order; returns how
    /// many it passed. Pass `0` for everything.
    ///
    /// Reads from its own read-only connection inside one read transaction, so it sees one
    /// consistent snapshot and runs beside writes (which it does not block). `f` may call the
    /// store (even write to it); events committed meanwhile are not part of this replay, so
    /// resume with the last seq seen.
    pub fn replay(
        &self,
        after_seq: i64,
        mut f: impl FnMut(StoredEvent),
    ) -> Result<u64, StoreError> {
        let mut conn = schema::open_reader(&self.inner.path)?;
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq");
        let mut stmt = tx.prepare(&sql).map_err(|e| self.sqlite(e))?;
        let mut rows = stmt.query([after_seq]).map_err(|e| self.sqlite(e))?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(|e| self.sqlite(e))? {
            f(stored_event(&self.inner.path, row)?);
            n += 1;
        }
        Ok(n)
    }

    /// Row counts and the size on disk. Counting events scans an index: milliseconds per
    /// million events, so call it for status pages, not per request.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let conn = self.reader()?;
        let count = |table: &str| -> Result<u64, StoreError> {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .map_err(|e| self.sqlite(e))?;
            Ok(n.max(0) as u64)
        };
        let events = count("events")?;
        let links = count("links")?;
        let erasures = count("erasures")?;
        drop(conn);
        let mut wal = self.inner.path.clone().into_os_string();
        wal.push("-wal");
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        Ok(StoreStats {
            events,
            links,
            erasures,
            file_bytes: size(&self.inner.path) + size(Path::new(&wal)),
        })
    }

    fn send(&self, op: Op) -> Result<(), StoreError> {
        self.inner
            .ops
            .as_ref()
            .ok_or_else(|| self.closed())?
            .send(op)
            .map_err(|_| self.closed())
    }

    fn reader(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.inner.reader.lock().map_err(|_| StoreError::Poisoned {
            path: self.inner.path.clone(),
        })
    }

    fn closed(&self) -> StoreError {
        StoreError::Closed {
            path: self.inner.path.clone(),
        }
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.inner.path.clone(),
            source,
        }
    }
}

/// The stored columns in [`EventRow`] field order, after `seq`; read by [`stored_event`].
pub(crate) const EVENT_COLUMNS: &str = "seq, event_id, ts_ms, customer_id, anonymous_id, type, \
    item_id, page, query, quantity, price, rating, text, device, browser, channel, consent";

/// Decodes a row selected with [`EVENT_COLUMNS`].
pub(crate) fn stored_event(path: &Path, r: &Row<'_>) -> Result<StoredEvent, StoreError> {
    let sqlite = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let seq: i64 = r.get(0).map_err(sqlite)?;
    let kind: String = r.get(5).map_err(sqlite)?;
    let kind: EventType = kind.parse().map_err(|reason| StoreError::BadRow {
        path: path.to_path_buf(),
        seq,
        reason,
    })?;
    let rating: Option<f64> = r.get(11).map_err(sqlite)?;
    let row = EventRow {
        event_id: r.get(1).map_err(sqlite)?,
        ts_ms: r.get(2).map_err(sqlite)?,
        customer_id: r.get(3).map_err(sqlite)?,
        anonymous_id: r.get(4).map_err(sqlite)?,
        kind,
        item_id: r.get(6).map_err(sqlite)?,
        page: r.get(7).map_err(sqlite)?,
        query: r.get(8).map_err(sqlite)?,
        quantity: r.get(9).map_err(sqlite)?,
        price: r.get(10).map_err(sqlite)?,
        // Stored as REAL (f64); every f32 converts exactly there and back.
        rating: rating.map(|v| v as f32),
        text: r.get(12).map_err(sqlite)?,
        device: r.get(13).map_err(sqlite)?,
        browser: r.get(14).map_err(sqlite)?,
        channel: r.get(15).map_err(sqlite)?,
        consent: r.get(16).map_err(sqlite)?,
    };
    Ok(StoredEvent { seq, row })
}

/// Every link, sorted by anonymous id.
pub(crate) fn read_links(conn: &Connection) -> rusqlite::Result<Vec<Link>> {
    let mut stmt = conn.prepare_cached(
        "SELECT anonymous_id, customer_id, ts_ms FROM links ORDER BY anonymous_id",
    )?;
    stmt.query_map([], |r| {
        Ok(Link {
            anonymous_id: r.get(0)?,
            customer_id: r.get(1)?,
            ts_ms: r.get(2)?,
        })
    })?
    .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
