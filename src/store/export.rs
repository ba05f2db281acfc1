//! `kindred export`: a data directory's events and identity links as the canonical Parquet
//! files that `kindred train` reads.

use super::{EVENT_COLUMNS, StoreError, read_links, schema, stored_event};
use kindred_training::data::write::{EventWriter, ROW_GROUP_ROWS, write_identities};
use kindred_training::progress::Progress;
use std::path::{Path, PathBuf};

/// What [`export`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// Events written to `events.parquet`.
    pub events: usize,
    /// Links written to `identities.parquet`.
    pub links: usize,
    pub events_path: PathBuf,
    pub identities_path: PathBuf,
}

/// Exports the store in `data_dir` to `out_dir/events.parquet` and
/// `out_dir/identities.parquet` (creating `out_dir`).
///
/// - Reads through a read-only connection in one snapshot: safe while a server is writing to
///   the same directory, and it changes nothing there. A missing store is
///   [`StoreError::Missing`].
/// - Events with `ts_ms >= since_ms` (all when `None`), ordered by time, then seq, in the
///   canonical schema of [`EventWriter`]. An anonymous event (no `customer_id`) whose
///   `anonymous_id` is linked gets the linked customer's id, so training attributes it.
/// - Every identity link, whatever `since_ms`, sorted by anonymous id.
/// - Each file appears under its final name only when complete (written as `NAME.tmp`, then
///   renamed).
pub fn export(
    data_dir: &Path,
    out_dir: &Path,
    since_ms: Option<i64>,
    progress: Progress,
) -> Result<ExportReport, StoreError> {
    let path = data_dir.join(schema::DB_FILE);
    let sqlite = |source| StoreError::Sqlite {
        path: path.clone(),
        source,
    };
    let mut conn = schema::open_reader(&path)?;
    std::fs::create_dir_all(out_dir).map_err(|source| StoreError::CreateDir {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let events_path = out_dir.join("events.parquet");
    let identities_path = out_dir.join("identities.parquet");
    let export_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Export { path, source }
    };

    // One read transaction: events and links come from the same snapshot.
    let tx = conn.transaction().map_err(sqlite)?;
    let since = since_ms.unwrap_or(i64::MIN);
    let total: i64 = tx
        .query_row(
            "SELECT count(*) FROM events WHERE ts_ms >= ?1",
            [since],
            |r| r.get(0),
        )
        .map_err(sqlite)?;
    let bar = progress.bar(total.max(0) as u64, "exporting events");

    // Columns prefixed with `e.` so the join's `links.customer_id` cannot shadow them.
    let columns = EVENT_COLUMNS
        .split(", ")
        .map(|c| match c.trim() {
            "customer_id" => "COALESCE(e.customer_id, l.customer_id)".to_owned(),
            c => format!("e.{c}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns} FROM events e \
         LEFT JOIN links l ON e.customer_id IS NULL AND l.anonymous_id = e.anonymous_id \
         WHERE e.ts_ms >= ?1 ORDER BY e.ts_ms, e.seq"
    );
    let mut writer = EventWriter::create(&events_path).map_err(export_err(&events_path))?;
    {
        let mut stmt = tx.prepare(&sql).map_err(sqlite)?;
        let mut rows = stmt.query([since]).map_err(sqlite)?;
        let mut batch = Vec::with_capacity(ROW_GROUP_ROWS.min(total.max(0) as usize));
        while let Some(row) = rows.next().map_err(sqlite)? {
            batch.push(stored_event(&path, row)?.row);
            if batch.len() == ROW_GROUP_ROWS {
                writer
                    .write_batch(&batch)
                    .map_err(export_err(&events_path))?;
                bar.inc(batch.len() as u64);
                batch.clear();
            }
        }
        writer
            .write_batch(&batch)
            .map_err(export_err(&events_path))?;
        bar.inc(batch.len() as u64);
    }
    let links = read_links(&tx).map_err(sqlite)?;
    drop(tx);
    let events = writer.finish().map_err(export_err(&events_path))?;
    bar.finish_and_clear();

    let rows: Vec<(String, String, i64)> = links
        .into_iter()
        .map(|l| (l.anonymous_id, l.customer_id, l.ts_ms))
        .collect();
    write_identities(&identities_path, &rows).map_err(export_err(&identities_path))?;
    Ok(ExportReport {
        events,
        links: rows.len(),
        events_path,
        identities_path,
    })
}
