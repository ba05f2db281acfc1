//! The group-commit writer: one thread owns the write connection and commits the requests of
//! many callers together.
//!
//! The thread blocks for the first request, then drains whatever else is queued (up to
//! `max_group_ops`) and runs the whole group in one `BEGIN IMMEDIATE … COMMIT`, each request
//! inside its own savepoint: a request that fails is rolled back alone and answered with its
//! error, the others commit. Replies go out only after `COMMIT` returned, so nothing is
//! acknowledged that a crash could still take away. Under load the queue fills while a commit
//! is being synced, and the next group takes all of it: one fsync serves many requests.

use super::{Appended, Erased, Link, LinkOutcome, StoreError};
use kindred_training::data::write::EventRow;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write request and where its answer goes.
pub(crate) enum Op {
    Append {
        rows: std::sync::Arc<[EventRow]>,
        reply: Reply<Vec<Appended>>,
    },
    Link {
        link: Link,
        reply: Reply<LinkOutcome>,
    },
    Erase {
        customer_id: String,
        now_ms: i64,
        reply: Reply<Erased>,
    },
}

/// A finished request whose answer waits for the group's commit.
enum Done {
    Append(Reply<Vec<Appended>>, Result<Vec<Appended>, StoreError>),
    Link(Reply<LinkOutcome>, Result<LinkOutcome, StoreError>),
    Erase(Reply<Erased>, Result<Erased, StoreError>),
}

impl Done {
    fn is_ok(&self) -> bool {
        match self {
            Done::Append(_, r) => r.is_ok(),
            Done::Link(_, r) => r.is_ok(),
            Done::Erase(_, r) => r.is_ok(),
        }
    }

    /// A request that never ran because its group failed first.
    fn unrun(op: Op, err: StoreError) -> Done {
        match op {
            Op::Append { reply, .. } => Done::Append(reply, Err(err)),
            Op::Link { reply, .. } => Done::Link(reply, Err(err)),
            Op::Erase { reply, .. } => Done::Erase(reply, Err(err)),
        }
    }

    /// Answers the caller; `failed` replaces a success when the group did not commit.
    fn send(self, failed: Option<&dyn Fn() -> StoreError>) {
        fn pick<T>(
            r: Result<T, StoreError>,
            failed: Option<&dyn Fn() -> StoreError>,
        ) -> Result<T, StoreError> {
            match (r, failed) {
                (Ok(_), Some(f)) => Err(f()),
                (r, _) => r,
            }
        }
        // A caller that stopped waiting (a dropped request future) is not an error.
        match self {
            Done::Append(tx, r) => drop(tx.send(pick(r, failed))),
            Done::Link(tx, r) => drop(tx.send(pick(r, failed))),
            Done::Erase(tx, r) => drop(tx.send(pick(r, failed))),
        }
    }
}

/// Starts the writer thread on `conn`; it runs until every sender is dropped.
pub(crate) fn spawn(
    conn: Connection,
    path: PathBuf,
    max_group_ops: usize,
) -> Result<(mpsc::Sender<Op>, JoinHandle<()>), StoreError> {
    let (tx, rx) = mpsc::channel();
    let thread_path = path.clone();
    let handle = std::thread::Builder::new()
        .name("kindred-store-writer".into())
        .spawn(move || run(conn, &thread_path, &rx, max_group_ops))
        .map_err(|source| StoreError::Spawn { path, source })?;
    Ok((tx, handle))
}

fn run(mut conn: Connection, path: &Path, rx: &mpsc::Receiver<Op>, max_group_ops: usize) {
    let mut group = Vec::with_capacity(max_group_ops);
    // `recv` keeps delivering queued requests after the last sender is gone, then fails.
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < max_group_ops {
            match rx.try_recv() {
                Ok(op) => group.push(op),
                Err(_) => break,
            }
        }
        commit_group(&mut conn, path, &mut group);
    }
}

/// Runs `ops` in one transaction and answers every one of them; leaves `ops` empty.
pub(super) fn commit_group(conn: &mut Connection, path: &Path, ops: &mut Vec<Op>) {
    let mut done = Vec::with_capacity(ops.len());
    let mut pending = ops.drain(..);
    let outcome = (|| -> rusqlite::Result<()> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for op in pending.by_ref() {
            let mut sp = tx.savepoint()?;
            let d = apply(&sp, path, op);
            if !d.is_ok() {
                // Undo this request's writes; the release below then keeps nothing of it.
                sp.rollback()?;
            }
            sp.commit()?;
            done.push(d);
        }
        tx.commit()
    })();
    match outcome {
        Ok(()) => done.into_iter().for_each(|d| d.send(None)),
        Err(e) => {
            // Nothing of this group is stored: the transaction rolled back when it dropped.
            tracing::error!(path = %path.display(), error = %e, "event store commit failed");
            let message = e.to_string();
            let failed = || StoreError::Commit {
                path: path.to_path_buf(),
                message: message.clone(),
            };
            done.into_iter().for_each(|d| d.send(Some(&failed)));
            for op in pending {
                Done::unrun(op, failed()).send(None);
            }
        }
    }
}

/// Runs one request on the group's transaction (inside its savepoint).
fn apply(conn: &Connection, path: &Path, op: Op) -> Done {
    let sqlite = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    match op {
        Op::Append { rows, reply } => Done::Append(reply, append(conn, &rows).map_err(sqlite)),
        Op::Link { link, reply } => Done::Link(reply, upsert_link(conn, &link).map_err(sqlite)),
        Op::Erase {
            customer_id,
            now_ms,
            reply,
        } => Done::Erase(reply, erase(conn, &customer_id, now_ms).map_err(sqlite)),
    }
}

const INSERT_EVENT: &str = "INSERT INTO events (event_id, ts_ms, customer_id, anonymous_id, \
    type, item_id, page, query, quantity, price, rating, text, device, browser, channel, consent) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
    ON CONFLICT (event_id) DO NOTHING";

fn append(conn: &Connection, rows: &[EventRow]) -> rusqlite::Result<Vec<Appended>> {
    let mut insert = conn.prepare_cached(INSERT_EVENT)?;
    let mut existing = conn.prepare_cached("SELECT seq FROM events WHERE event_id = ?1")?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let changed = insert.execute(params![
            r.event_id,
            r.ts_ms,
            r.customer_id,
            r.anonymous_id,
            r.kind.as_str(),
            r.item_id,
            r.page,
            r.query,
            r.quantity,
            r.price,
            r.rating.map(f64::from),
            r.text,
            r.device,
            r.browser,
            r.channel,
            r.consent,
        ])?;
        if changed == 1 {
            out.push(Appended::Stored {
                seq: conn.last_insert_rowid(),
            });
        } else {
            // Only a conflicting event_id skips the insert.
            let seq = existing.query_row([&r.event_id], |row| row.get(0))?;
            out.push(Appended::Duplicate { seq });
        }
    }
    Ok(out)
}

fn upsert_link(conn: &Connection, link: &Link) -> rusqlite::Result<LinkOutcome> {
    let before: Option<String> = conn
        .prepare_cached("SELECT customer_id FROM links WHERE anonymous_id = ?1")?
        .query_row([&link.anonymous_id], |r| r.get(0))
        .optional()?;
    if before.as_deref() == Some(link.customer_id.as_str()) {
        return Ok(LinkOutcome { previous: None });
    }
    conn.prepare_cached(
        "INSERT INTO links (anonymous_id, customer_id, ts_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (anonymous_id) DO UPDATE SET customer_id = excluded.customer_id, \
             ts_ms = excluded.ts_ms",
    )?
    .execute(params![link.anonymous_id, link.customer_id, link.ts_ms])?;
    Ok(LinkOutcome { previous: before })
}

fn erase(conn: &Connection, customer_id: &str, now_ms: i64) -> rusqlite::Result<Erased> {
    let anonymous_ids = conn
        .prepare_cached(
            "SELECT anonymous_id FROM links WHERE customer_id = ?1 ORDER BY anonymous_id",
        )?
        .query_map([customer_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    let mut events = conn
        .prepare_cached("DELETE FROM events WHERE customer_id = ?1")?
        .execute([customer_id])?;
    let mut by_anonymous = conn.prepare_cached("DELETE FROM events WHERE anonymous_id = ?1")?;
    for a in &anonymous_ids {
        events += by_anonymous.execute([a])?;
    }
    let links = conn
        .prepare_cached("DELETE FROM links WHERE customer_id = ?1")?
        .execute([customer_id])?;
    conn.prepare_cached(
        "INSERT INTO erasures (customer_id, ts_ms) VALUES (?1, ?2) \
             ON CONFLICT (customer_id) DO UPDATE SET ts_ms = excluded.ts_ms",
    )?
    .execute(params![customer_id, now_ms])?;
    Ok(Erased {
        events,
        links,
        anonymous_ids,
    })
}
