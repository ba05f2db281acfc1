//! `kindred export` end to end: a store written through the library, exported by the real
//! binary, read back with the training reader.

#![allow(clippy::unwrap_used)]

use kindred::store::{Store, StoreOptions};
use kindred_training::data::EventType;
use kindred_training::data::read::{ReadOptions, read_events, read_identities};
use kindred_training::data::write::EventRow;
use std::path::Path;
use std::process::{Command, Output};

const T0: i64 = 1_700_000_000_000;

fn kindred(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kindred"))
        .args(args)
        .arg("--quiet")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn fill(data: &Path) {
    let store = Store::open(data, StoreOptions::default()).unwrap();
    let rows: Vec<EventRow> = (0..200)
        .map(|i| EventRow {
            event_id: Some(format!("e-{i}")),
            customer_id: (i % 2 == 0).then(|| format!("c-{}", i % 5)),
            anonymous_id: (i % 2 == 1).then(|| format!("a-{}", i % 3)),
            item_id: Some(format!("sku-{}", i % 17)),
            ..EventRow::new(T0 + i * 60_000, EventType::View)
        })
        .collect();
    store.append_blocking(rows).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(store.link("a-1".into(), "c-1".into(), T0))
        .unwrap();
    // Dropping the last handle finishes the writer; the file is complete.
    drop(store);
}

#[test]
fn export_writes_parquet_that_training_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = tmp.path().join("export");
    fill(&data);

    let run = kindred(&["export", "--data", p(&data), "--out", p(&out)]);
    assert!(run.status.success(), "{}", text(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("exported 200 events and 1 identity links"),
        "{stdout}"
    );

    let (log, rejected) =
        read_events(&out.join("events.parquet"), &ReadOptions::default()).unwrap();
    assert_eq!(rejected.total, 0);
    assert_eq!(log.len(), 200);
    let ts: Vec<i64> = log.events.iter().map(|e| e.ts).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "ordered by time");
    // Events of a-1 (i % 2 == 1 and i % 3 == 1: 34 of them) are attributed to c-1.
    let attributed = log
        .events
        .iter()
        .filter(|e| {
            e.anonymous.map(|a| log.anonymous.id(a)) == Some("a-1")
                && e.customer.map(|c| log.customers.id(c)) == Some("c-1")
        })
        .count();
    assert_eq!(attributed, 34);
    let (links, _) =
        read_identities(&out.join("identities.parquet"), &ReadOptions::default()).unwrap();
    assert_eq!(links.links, [("a-1".to_owned(), "c-1".to_owned())]);

    // --since in RFC 3339 and in epoch milliseconds select the same 100 newest events.
    let since_ms = T0 + 100 * 60_000;
    let since_rfc = chrono::DateTime::from_timestamp_millis(since_ms)
        .unwrap()
        .to_rfc3339();
    for since in [since_rfc, since_ms.to_string()] {
        let out = tmp.path().join("since");
        let run = kindred(&[
            "export",
            "--data",
            p(&data),
            "--out",
            p(&out),
            "--since",
            &since,
        ]);
        assert!(run.status.success(), "{}", text(&run));
        let (log, _) = read_events(&out.join("events.parquet"), &ReadOptions::default()).unwrap();
        assert_eq!(log.len(), 100, "--since {since}");
        assert!(log.events.iter().all(|e| e.ts * 1000 >= since_ms));
    }
}

#[test]
fn export_rejects_a_bad_since_and_a_missing_store() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let run = kindred(&[
        "export",
        "--data",
        p(tmp.path()),
        "--out",
        p(&out),
        "--since",
        "yesterday",
    ]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("RFC 3339") && stderr.contains("yesterday"),
        "{stderr}"
    );

    let run = kindred(&["export", "--data", p(tmp.path()), "--out", p(&out)]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("no event store here"), "{stderr}");
    assert!(stderr.contains("events.sqlite3"), "{stderr}");
}
