use super::*;
use kindred_training::data::read::{ReadOptions, read_events, read_identities};
use kindred_training::progress::Progress;
use std::collections::HashSet;

const T0: i64 = 1_700_000_000_000;

fn open(dir: &Path) -> Store {
    Store::open(dir, StoreOptions::default()).unwrap()
}

/// A realistic row: customer or anonymous visitor, item events with item, prices on carts.
fn row(i: usize) -> EventRow {
    let kind = EventType::ALL[i % EventType::ALL.len()];
    let mut r = EventRow {
        event_id: Some(format!("e-{i}")),
        customer_id: i.is_multiple_of(3).then(|| format!("c-{}", i % 7)),
        anonymous_id: (!i.is_multiple_of(3)).then(|| format!("a-{}", i % 11)),
        page: Some(format!("/p/sku-{}", i % 13)),
        device: Some("mobile".into()),
        browser: Some("firefox".into()),
        channel: Some("web".into()),
        consent: Some("full".into()),
        ..EventRow::new(T0 + i as i64 * 1_000, kind)
    };
    if kind.needs_item() {
        r.item_id = Some(format!("sku-{}", i % 13));
    }
    match kind {
        EventType::AddToCart | EventType::RemoveFromCart | EventType::Purchase => {
            r.quantity = Some(1 + (i % 3) as i32);
            r.price = Some(9.99 + i as f64);
        }
        EventType::Review => {
            r.rating = Some(1.0 + (i % 5) as f32);
            r.text = Some("fits well".into());
        }
        EventType::Search => r.query = Some("blue sneakers".into()),
        _ => {}
    }
    r
}

fn all(store: &Store) -> Vec<StoredEvent> {
    let mut out = Vec::new();
    store.replay(0, |e| out.push(e)).unwrap();
    out
}

#[test]
fn every_field_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let full = EventRow {
        event_id: Some("e-full".into()),
        customer_id: Some("c-1".into()),
        anonymous_id: Some("a-1".into()),
        item_id: Some("sku-1".into()),
        page: Some("/p/sku-1".into()),
        query: Some("blue sneakers \u{1F45F}".into()),
        quantity: Some(-3),
        price: Some(1234.5678),
        rating: Some(4.3),
        text: Some("line one\nline 'two' \"quoted\"".into()),
        device: Some("tablet".into()),
        browser: Some("safari".into()),
        channel: Some("app".into()),
        consent: Some("anonymous".into()),
        ..EventRow::new(-1, EventType::Review)
    };
    let minimal = EventRow::new(i64::MAX, EventType::EmailClick);
    let rows: Vec<EventRow> = [full, minimal]
        .into_iter()
        .chain((0..EventType::ALL.len()).map(row))
        .collect();
    let out = store.append_blocking(rows.clone()).unwrap();
    assert!(out.iter().all(|a| matches!(a, Appended::Stored { .. })));
    let back = all(&store);
    assert_eq!(back.iter().map(|e| e.row.clone()).collect::<Vec<_>>(), rows);
    assert_eq!(
        back.iter().map(|e| e.seq).collect::<Vec<_>>(),
        out.iter().map(|a| a.seq()).collect::<Vec<_>>()
    );
}

#[test]
fn duplicates_are_detected_across_and_within_calls() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = store.append_blocking(vec![row(1), row(2)]).unwrap();
    let (s1, s2) = (first[0].seq(), first[1].seq());
    assert_eq!(first[0], Appended::Stored { seq: s1 });

    let mut changed = row(1);
    changed.item_id = Some("other".into());
    let no_id = EventRow {
        event_id: None,
        ..row(3)
    };
    let out = store
        .append_blocking(vec![
            changed,
            row(3),
            row(3),
            no_id.clone(),
            no_id.clone(),
            row(2),
        ])
        .unwrap();
    assert_eq!(out[0], Appended::Duplicate { seq: s1 });
    let s3 = out[1].seq();
    assert_eq!(out[1], Appended::Stored { seq: s3 });
    assert_eq!(out[2], Appended::Duplicate { seq: s3 });
    assert!(matches!(out[3], Appended::Stored { .. }));
    assert!(matches!(out[4], Appended::Stored { .. }));
    assert_ne!(
        out[3].seq(),
        out[4].seq(),
        "rows without event_id always stored"
    );
    assert_eq!(out[5], Appended::Duplicate { seq: s2 });

    let back = all(&store);
    assert_eq!(back.len(), 5);
    // The first version of a duplicated event is kept.
    assert_eq!(back[0].row, row(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_after_drop_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<EventRow> = (0..300).map(row).collect();
    let last = {
        let store = open(dir.path());
        let out = store.append(rows.clone()).await.unwrap();
        store.link("a-1".into(), "c-1".into(), T0).await.unwrap();
        store.erase_customer("c-gone".into()).await.unwrap();
        out.last().unwrap().seq()
    };
    let store = open(dir.path());
    let back = all(&store);
    assert_eq!(
        back.into_iter().map(|e| e.row).collect::<Vec<_>>(),
        rows,
        "every event survives a reopen"
    );
    assert_eq!(store.links().unwrap().len(), 1);
    assert_eq!(store.erased().unwrap(), vec!["c-gone".to_owned()]);
    let next = store.append(vec![row(1000)]).await.unwrap();
    assert!(next[0].seq() > last, "seq keeps increasing after a reopen");
    assert_eq!(
        store.append(vec![row(5)]).await.unwrap()[0],
        Appended::Duplicate { seq: 6 },
        "event ids stay unique across a reopen"
    );
    let stats = store.stats().unwrap();
    assert_eq!((stats.events, stats.links, stats.erasures), (301, 1, 1));
    assert!(stats.file_bytes > 0);
}

#[test]
fn concurrent_appends_are_all_stored_with_distinct_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let seqs: Vec<Vec<i64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                s.spawn(move || {
                    let mut seqs = Vec::new();
                    for b in 0..50 {
                        let rows: Vec<_> =
                            (0..100).map(|i| row(t * 1_000_000 + b * 100 + i)).collect();
                        let out = store.append_blocking(rows).unwrap();
                        assert_eq!(out.len(), 100);
                        for a in out {
                            assert!(matches!(a, Appended::Stored { .. }));
                            seqs.push(a.seq());
                        }
                    }
                    seqs
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all_seqs: Vec<i64> = seqs.into_iter().flatten().collect();
    assert_eq!(all_seqs.len(), 40_000);
    assert_eq!(all_seqs.iter().collect::<HashSet<_>>().len(), 40_000);
    assert_eq!(store.stats().unwrap().events, 40_000);
    assert_eq!(all(&store).len(), 40_000);
}

#[tokio::test]
async fn link_upserts_and_reports_the_previous_customer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let out = store.link("a-1".into(), "c-1".into(), T0).await.unwrap();
    assert_eq!(out.previous, None);
    let out = store
        .link("a-1".into(), "c-1".into(), T0 + 5)
        .await
        .unwrap();
    assert_eq!(out.previous, None, "same customer is not a change");
    store
        .link("a-2".into(), "c-1".into(), T0 + 1)
        .await
        .unwrap();
    let out = store
        .link("a-1".into(), "c-2".into(), T0 + 9)
        .await
        .unwrap();
    assert_eq!(out.previous.as_deref(), Some("c-1"));
    let link = |a: &str, c: &str, ts| Link {
        anonymous_id: a.into(),
        customer_id: c.into(),
        ts_ms: ts,
    };
    assert_eq!(
        store.links().unwrap(),
        vec![link("a-1", "c-2", T0 + 9), link("a-2", "c-1", T0 + 1)]
    );
}

#[tokio::test]
async fn erase_removes_the_customer_and_their_anonymous_events_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ev = |i: usize, c: Option<&str>, a: Option<&str>| EventRow {
        customer_id: c.map(Into::into),
        anonymous_id: a.map(Into::into),
        ..row(i)
    };
    store
        .append(vec![
            ev(0, Some("c-1"), None),
            ev(1, Some("c-1"), Some("a-1")),
            ev(2, None, Some("a-1")),
            ev(3, None, Some("a-2")),
            ev(4, Some("c-2"), Some("a-3")),
            ev(5, None, Some("a-3")),
            ev(6, None, Some("a-free")),
        ])
        .await
        .unwrap();
    store.link("a-1".into(), "c-1".into(), T0).await.unwrap();
    store.link("a-2".into(), "c-1".into(), T0).await.unwrap();
    store.link("a-3".into(), "c-2".into(), T0).await.unwrap();

    let erased = store.erase_customer("c-1".into()).await.unwrap();
    assert_eq!(
        erased,
        Erased {
            events: 4,
            links: 2,
            anonymous_ids: vec!["a-1".into(), "a-2".into()],
        }
    );
    let left: Vec<String> = all(&store)
        .into_iter()
        .map(|e| e.row.event_id.unwrap())
        .collect();
    assert_eq!(left, ["e-4", "e-5", "e-6"]);
    assert_eq!(store.links().unwrap().len(), 1);
    assert_eq!(store.links().unwrap()[0].customer_id, "c-2");
    assert_eq!(store.erased().unwrap(), ["c-1"]);
    let again = store.erase_customer("c-1".into()).await.unwrap();
    assert_eq!(again, Erased::default());
    assert_eq!(store.erased().unwrap(), ["c-1"]);
}

#[test]
fn replay_streams_in_seq_order_after_a_seq() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for b in 0..3 {
        store
            .append_blocking((b * 10..b * 10 + 10).rev().map(row).collect::<Vec<_>>())
            .unwrap();
    }
    let everything = all(&store);
    let seqs: Vec<i64> = everything.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>());
    assert_eq!(everything[0].row, row(9), "insertion order, not time order");

    let mut tail = Vec::new();
    let n = store.replay(25, |e| tail.push(e.seq)).unwrap();
    assert_eq!(n, 5);
    assert_eq!(tail, [26, 27, 28, 29, 30]);
    assert_eq!(
        store
            .replay(30, |_| panic!("nothing after the end"))
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn erased_seqs_are_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let out = store.append(vec![row(0), row(3)]).await.unwrap();
    store.erase_customer("c-3".into()).await.unwrap();
    let next = store.append(vec![row(1)]).await.unwrap();
    assert!(next[0].seq() > out[1].seq());
}

#[test]
fn a_failing_request_rolls_back_alone_in_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(schema::DB_FILE);
    let mut conn = schema::open_writer(&path).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.item_id = 'poison'
         BEGIN SELECT RAISE(ABORT, 'poisoned row'); END;",
    )
    .unwrap();
    let poisoned = EventRow {
        item_id: Some("poison".into()),
        ..row(2)
    };
    let (tx1, mut rx1) = oneshot::channel();
    let (tx2, mut rx2) = oneshot::channel();
    let (tx3, mut rx3) = oneshot::channel();
    let mut ops = vec![
        Op::Append {
            rows: vec![row(1)].into(),
            reply: tx1,
        },
        Op::Append {
            rows: vec![row(4), poisoned].into(),
            reply: tx2,
        },
        Op::Link {
            link: Link {
                anonymous_id: "a-1".into(),
                customer_id: "c-1".into(),
                ts_ms: T0,
            },
            reply: tx3,
        },
    ];
    writer::commit_group(&mut conn, &path, &mut ops);
    assert!(ops.is_empty());
    assert!(matches!(
        rx1.try_recv().unwrap().unwrap()[..],
        [Appended::Stored { .. }]
    ));
    let err = rx2.try_recv().unwrap().unwrap_err();
    assert!(err.to_string().contains("poisoned row"), "{err}");
    assert_eq!(rx3.try_recv().unwrap().unwrap().previous, None);

    let ids: Vec<String> = conn
        .prepare("SELECT event_id FROM events ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, ["e-1"], "row(4) of the failed request is rolled back");
    let links: i64 = conn
        .query_row("SELECT count(*) FROM links", [], |r| r.get(0))
        .unwrap();
    assert_eq!(links, 1);
}

#[test]
fn a_newer_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let path = dir.path().join(schema::DB_FILE);
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", schema::SCHEMA_VERSION + 1)
        .unwrap();
    let err = Store::open(dir.path(), StoreOptions::default())
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("newer kindred"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    let out = tempfile::tempdir().unwrap();
    let err = export(dir.path(), out.path(), None, Progress::Hidden).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------
// Export

/// `(ts seconds, customer, anonymous, type, item)` of an event as the training reader sees it.
type Seen = (
    i64,
    Option<String>,
    Option<String>,
    EventType,
    Option<String>,
);

/// Every event of an exported file, through the training reader.
fn read_back(path: &Path) -> Vec<Seen> {
    let (log, rejected) = read_events(path, &ReadOptions::default()).unwrap();
    assert_eq!(rejected.total, 0, "{rejected:?}");
    log.events
        .iter()
        .map(|e| {
            (
                e.ts,
                e.customer.map(|c| log.customers.id(c).to_owned()),
                e.anonymous.map(|a| log.anonymous.id(a).to_owned()),
                e.kind,
                e.item.map(|i| log.items.id(i).to_owned()),
            )
        })
        .collect()
}

fn expected(rows: &[EventRow]) -> Vec<Seen> {
    rows.iter()
        .map(|r| {
            (
                r.ts_ms.div_euclid(1000),
                r.customer_id.clone(),
                r.anonymous_id.clone(),
                r.kind,
                r.item_id.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn export_round_trips_through_the_training_reader() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // Stored out of time order; the export sorts by time, then seq.
    let mut rows: Vec<EventRow> = (0..500).map(row).collect();
    rows.reverse();
    rows.push(EventRow {
        event_id: Some("same-ts".into()),
        ..row(0)
    });
    store.append(rows.clone()).await.unwrap();
    store
        .link("a-1".into(), "c-1".into(), T0 + 7)
        .await
        .unwrap();
    store
        .link("a-2".into(), "c-9".into(), T0 + 8)
        .await
        .unwrap();

    // The store stays open: export reads beside the writer.
    let report = export(dir.path(), out.path(), None, Progress::Hidden).unwrap();
    assert_eq!(report.events, 501);
    assert_eq!(report.links, 2);
    assert_eq!(report.events_path, out.path().join("events.parquet"));
    assert!(!out.path().join("events.parquet.tmp").exists());

    // Linked anonymous events carry the customer; events with a customer keep theirs.
    let mut want = rows.clone();
    for r in &mut want {
        if r.customer_id.is_none() {
            r.customer_id = match r.anonymous_id.as_deref() {
                Some("a-1") => Some("c-1".into()),
                Some("a-2") => Some("c-9".into()),
                _ => None,
            };
        }
    }
    // Stable sort by time keeps seq order among equal times (row(0) before "same-ts").
    let mut order: Vec<usize> = (0..want.len()).collect();
    order.sort_by_key(|&i| want[i].ts_ms);
    let want: Vec<EventRow> = order.into_iter().map(|i| want[i].clone()).collect();
    let got = read_back(&report.events_path);
    assert_eq!(got, expected(&want));
    assert!(
        got.iter()
            .any(|e| e.1.as_deref() == Some("c-9") && e.2.as_deref() == Some("a-2"))
    );

    let (links, rejected) =
        read_identities(&report.identities_path, &ReadOptions::default()).unwrap();
    assert_eq!(rejected.total, 0);
    assert_eq!(
        links.links,
        [
            ("a-1".to_owned(), "c-1".to_owned()),
            ("a-2".to_owned(), "c-9".to_owned())
        ]
    );
}

#[test]
fn export_since_keeps_only_newer_events() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let rows: Vec<EventRow> = (0..100).map(row).collect();
    store.append_blocking(rows.clone()).unwrap();
    let since = T0 + 60_000;
    let report = export(dir.path(), out.path(), Some(since), Progress::Hidden).unwrap();
    assert_eq!(report.events, 40);
    let want: Vec<EventRow> = rows.into_iter().filter(|r| r.ts_ms >= since).collect();
    assert_eq!(read_back(&report.events_path), expected(&want));
}

#[test]
fn export_of_a_missing_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = export(dir.path(), out.path(), None, Progress::Hidden).unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("events.sqlite3"), "{err}");
    assert!(
        !dir.path().join(schema::DB_FILE).exists(),
        "export creates nothing"
    );
}
