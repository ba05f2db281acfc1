//! The on-disk layout of the event store: file name, pragmas, tables, and the schema version.
//!
//! The version lives in SQLite's `user_version` header field. A file without tables (version
//! 0) is initialised to [`SCHEMA_VERSION`]; a file written by a newer kindred is refused with
//! [`StoreError::NewerSchema`] rather than half understood. A future migration from version
//! `n` to `n + 1` goes into [`open_writer`], inside the same `BEGIN IMMEDIATE` that creates the
//! tables today.

use super::StoreError;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "events.sqlite3";

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// How long a connection waits for a lock held by another connection (another process
/// checkpointing, an export starting its read) before giving up with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements the writer keeps prepared.
const STATEMENT_CACHE: usize = 32;

/// Version 1.
///
/// `seq` is `AUTOINCREMENT` so that a sequence number is never handed out twice, not even
/// after the newest events were erased: replay cursors (`after_seq`) stay correct.
const DDL_V1: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT UNIQUE,
    ts_ms        INTEGER NOT NULL,
    customer_id  TEXT,
    anonymous_id TEXT,
    type         TEXT NOT NULL,
    item_id      TEXT,
    page         TEXT,
    query        TEXT,
    quantity     INTEGER,
    price        REAL,
    rating       REAL,
    text         TEXT,
    device       TEXT,
    browser      TEXT,
    channel      TEXT,
    consent      TEXT
);
CREATE INDEX IF NOT EXISTS events_customer_id ON events(customer_id);
CREATE INDEX IF NOT EXISTS events_anonymous_id ON events(anonymous_id);
CREATE TABLE IF NOT EXISTS links (
    anonymous_id TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    ts_ms        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS links_customer_id ON links(customer_id);
CREATE TABLE IF NOT EXISTS erasures (
    customer_id TEXT PRIMARY KEY,
    ts_ms       INTEGER NOT NULL
);
";

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens (creating if needed) the database for writing: WAL journal, `synchronous=FULL` (a
/// commit survives power loss, not only a process crash), [`BUSY_TIMEOUT`], and the schema
/// created or checked.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let err = sqlite(path);
    let mut conn = Connection::open(path).map_err(&err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(&err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(&err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(&err)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    let version = user_version(&tx).map_err(&err)?;
    match version {
        0 => {
            tx.execute_batch(DDL_V1).map_err(&err)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(&err)?;
        }
        SCHEMA_VERSION => {}
        found => return Err(version_error(path, found)),
    }
    tx.commit().map_err(&err)?;
    Ok(conn)
}

/// Opens an existing database read-only (it never creates or changes the file, and works
/// beside a writer thanks to WAL) and checks its schema version.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Missing {
            path: path.to_path_buf(),
        });
    }
    let err = sqlite(path);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(&err)?;
    match user_version(&conn).map_err(&err)? {
        SCHEMA_VERSION => Ok(conn),
        found => Err(version_error(path, found)),
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

fn version_error(path: &Path, found: i64) -> StoreError {
    if found > SCHEMA_VERSION {
        StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        }
    } else {
        StoreError::NotAStore {
            path: path.to_path_buf(),
            found,
        }
    }
}
