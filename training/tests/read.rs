//! Readers of training data: formats, column types, and every kind of bad input.
#![allow(clippy::unwrap_used)]

use arrow_array::builder::{StringDictionaryBuilder, TimestampMillisecondBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, LargeStringArray,
    RecordBatch, StringArray, StructArray, TimestampMicrosecondArray, TimestampNanosecondArray,
    TimestampSecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use kindred_training::data::read::{
    Format, RatingsColumns, ReadOptions, looks_like_interactions, read_catalog, read_events,
    read_events_into, read_identities, read_interactions, write_interactions,
};
use kindred_training::data::{DataError, EventLog, EventType, Rejections};
use kindred_training::interactions::InteractionLog;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// 2023-11-14T22:13:20Z: the reference "now" of every test.
const NOW: i64 = 1_700_000_000;
/// 2023-11-01T00:00:00Z.
const T0: i64 = 1_698_796_800;

fn opts() -> ReadOptions {
    ReadOptions {
        now: Some(NOW),
        ..ReadOptions::default()
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn write_parquet(dir: &Path, name: &str, columns: Vec<(&str, ArrayRef)>) -> PathBuf {
    let path = dir.join(name);
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}

fn strings(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

const HEADER: &str =
    "event_id,ts,customer_id,anonymous_id,type,item_id,quantity,price,rating,device,browser";

fn good_row(n: usize) -> String {
    format!("e{n},{},c{n},,view,i{n},,,,,", T0 + n as i64)
}

// ---------------------------------------------------------------------------------------
// Happy paths

#[test]
fn csv_events_carry_every_column() {
    let dir = tempfile::tempdir().unwrap();
    let csv = format!(
        "{HEADER}\n\
         e1,{T0},c1,a1,purchase,sku-1,2,19.5,,mobile,safari\n\
         e2,2023-11-01T00:00:10Z,,a2,page_view,,,,,desktop,\n\
         e3,{},c1,,review,sku-2,,,4,,\n",
        (T0 + 20) * 1000
    );
    let path = write(dir.path(), "events.csv", csv.as_bytes());
    let (log, rejections) = read_events(&path, &opts()).unwrap();
    assert!(rejections.is_empty(), "{rejections:?}");
    assert_eq!(log.len(), 3);
    let [a, b, c] = &log.events[..] else { panic!() };
    assert_eq!(
        (a.ts, a.kind, a.quantity, a.price),
        (T0, EventType::Purchase, 2.0, Some(19.5))
    );
    assert_eq!(log.customers.id(a.customer.unwrap()), "c1");
    assert_eq!(log.anonymous.id(a.anonymous.unwrap()), "a1");
    assert_eq!(log.items.id(a.item.unwrap()), "sku-1");
    assert_eq!(log.devices.id(a.device.unwrap()), "mobile/safari");
    assert_eq!(a.weight, None);
    assert_eq!(
        (b.ts, b.kind, b.customer, b.item, b.quantity),
        (T0 + 10, EventType::PageView, None, None, 1.0)
    );
    assert_eq!(log.devices.id(b.device.unwrap()), "desktop");
    assert_eq!(
        (c.ts, c.kind, c.rating),
        (T0 + 20, EventType::Review, Some(4.0)),
        "milliseconds become seconds"
    );
    assert_eq!(c.customer, a.customer);
}

#[test]
fn csv_delimiters_are_detected_and_weight_is_read() {
    let dir = tempfile::tempdir().unwrap();
    for (name, d) in [("events.tsv", '\t'), ("semi.csv", ';'), ("tab.csv", '\t')] {
        let text =
            format!("ts{d}customer_id{d}type{d}item_id{d}weight\n{T0}{d}c1{d}view{d}i1{d}2.5\n");
        let path = write(dir.path(), name, text.as_bytes());
        let (log, _) = read_events(&path, &opts()).unwrap();
        assert_eq!(log.events[0].weight, Some(2.5), "{name}");
        assert_eq!(log.items.id(0), "i1", "{name}");
    }
}

#[test]
fn several_files_read_into_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.csv",
        format!("{HEADER}\n{}\n{}\n", good_row(1), good_row(2)).as_bytes(),
    );
    let b = write(
        dir.path(),
        "b.jsonl",
        format!("{{\"ts\":{T0},\"customer_id\":\"c1\",\"type\":\"view\",\"item_id\":\"i9\"}}\n")
            .as_bytes(),
    );
    let bad = write(
        dir.path(),
        "bad.csv",
        format!("{HEADER}\ne,-1,c1,,view,i1,,,,,\n").as_bytes(),
    );
    let mut log = EventLog::default();
    let mut rejections = Rejections::default();
    assert_eq!(
        read_events_into(&a, &opts(), &mut log, &mut rejections).unwrap(),
        2
    );
    assert_eq!(
        read_events_into(&b, &opts(), &mut log, &mut rejections).unwrap(),
        1
    );
    assert!(matches!(
        read_events_into(&bad, &opts(), &mut log, &mut rejections),
        Err(DataError::AllRejected { rows: 1, .. })
    ));
    assert_eq!(log.len(), 3);
    assert_eq!(log.customers.len(), 2, "c1 from both files is one customer");
    assert_eq!(rejections.total, 1);
}

#[test]
fn jsonl_reads_nested_context_and_names_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{{\"ts\":\"2023-11-01T00:00:00Z\",\"anonymous_id\":\"a1\",\"type\":\"add_to_cart\",\"item_id\":\"i1\",\"quantity\":3,\
           \"context\":{{\"device\":\"mobile\",\"browser\":\"firefox\",\"consent\":\"full\"}}}}\n\
         \n\
         {{not json\n\
         [1,2]\n\
         {{\"ts\":{T0},\"customer_id\":42,\"type\":\"view\",\"item_id\":7,\"device\":\"tv\"}}\n\
         {{\"ts\":{T0},\"customer_id\":\"c\",\"type\":\"view\",\"item_id\":{{\"a\":1}}}}\n"
    );
    let path = write(dir.path(), "events.jsonl", text.as_bytes());
    let (log, rejections) = read_events(&path, &opts()).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(
        log.devices.id(log.events[0].device.unwrap()),
        "mobile/firefox"
    );
    assert_eq!(log.events[0].quantity, 3.0);
    assert_eq!(
        log.customers.id(log.events[1].customer.unwrap()),
        "42",
        "integer ids become decimal strings"
    );
    assert_eq!(log.items.id(log.events[1].item.unwrap()), "7");
    assert_eq!(log.devices.id(log.events[1].device.unwrap()), "tv");
    assert_eq!(rejections.total, 3);
    let shown: Vec<String> = rejections
        .examples
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        shown[0].contains("events.jsonl row 3") && shown[0].contains("invalid JSON"),
        "{shown:?}"
    );
    assert!(
        shown[1].contains("row 4") && shown[1].contains("not a JSON object"),
        "{shown:?}"
    );
    assert!(
        shown[2].contains("row 6") && shown[2].contains("\"item_id\""),
        "{shown:?}"
    );
}

#[test]
fn json_array_file_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("[{{\"ts\":{T0},\"customer_id\":\"c\",\"type\":\"search\"}}]");
    let path = write(dir.path(), "events.json", text.as_bytes());
    let (log, _) = read_events(&path, &opts()).unwrap();
    assert_eq!(log.events[0].kind, EventType::Search);
}

#[test]
fn catalog_reads_defaults_and_rejects_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let text = "item_id,title,category,brand,price,in_stock\n\
                s1,Blue sneaker,shoes/sneakers,Acme,59.9,\n\
                s2,Black sneaker,shoes/sneakers,,49,false\n\
                s3,No category,,Acme,10,true\n\
                s4,Bad price,shoes,Acme,-1,true\n\
                s5,Bad stock,shoes,Acme,1,maybe\n";
    let path = write(dir.path(), "items.csv", text.as_bytes());
    let (catalog, rejections) = read_catalog(&path, &opts()).unwrap();
    assert_eq!(catalog.len(), 2);
    let s1 = catalog.get("s1").unwrap();
    assert_eq!(
        (s1.in_stock, s1.price, s1.brand.as_deref()),
        (true, Some(59.9), Some("Acme"))
    );
    assert_eq!(s1.top_category(), "shoes");
    let s2 = catalog.get("s2").unwrap();
    assert_eq!((s2.in_stock, s2.brand.as_deref()), (false, None));
    let shown: Vec<String> = rejections
        .examples
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(
        shown[0].contains("items.csv row 3") && shown[0].contains("\"category\""),
        "{shown:?}"
    );
    assert!(
        shown[1].contains("row 4")
            && shown[1].contains("\"price\"")
            && shown[1].contains("negative")
    );
    assert!(
        shown[2].contains("row 5")
            && shown[2].contains("\"in_stock\"")
            && shown[2].contains("maybe")
    );
    assert_eq!(rejections.counts.get("category: empty category"), Some(&1));
}

#[test]
fn duplicate_catalog_id_names_both_rows() {
    let dir = tempfile::tempdir().unwrap();
    let text = "item_id,title,category\ns1,A,x\ns2,B,x\ns1,C,y\n";
    let path = write(dir.path(), "items.csv", text.as_bytes());
    let err = read_catalog(&path, &opts()).unwrap_err().to_string();
    assert!(
        err.contains("items.csv") && err.contains("\"s1\"") && err.contains("rows 1 and 3"),
        "{err}"
    );
}

#[test]
fn identities_are_ordered_by_time_when_every_link_has_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "anonymous_id,customer_id,ts\na1,c2,{}\na1,c1,{T0}\na2,,{T0}\n",
        T0 + 100
    );
    let path = write(dir.path(), "identities.csv", text.as_bytes());
    let (links, rejections) = read_identities(&path, &opts()).unwrap();
    assert_eq!(
        links.links,
        vec![
            ("a1".to_owned(), "c1".to_owned()),
            ("a1".to_owned(), "c2".to_owned())
        ]
    );
    assert!(
        rejections.examples[0]
            .to_string()
            .contains("row 3, column \"customer_id\"")
    );
}

#[test]
fn movielens_and_ratings_csv_become_weighted_reviews_and_purchases() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "u.data",
        b"196\t242\t3\t881250949\n186\t302\t7\t891717742\n22\t377\t1\t878887116\n",
    );
    let (log, rejections) = read_events(&path, &opts()).unwrap();
    assert_eq!(log.len(), 2);
    let e = &log.events[0];
    assert_eq!(
        (e.kind, e.rating, e.weight, e.ts),
        (EventType::Review, Some(3.0), Some(1.0), 881_250_949)
    );
    assert_eq!(log.customers.id(e.customer.unwrap()), "196");
    let r = rejections.examples[0].to_string();
    assert!(
        r.contains("u.data row 2") && r.contains("\"rating\"") && r.contains("outside"),
        "{r}"
    );

    let path = write(dir.path(), "ratings.csv", b"u,i,stars\nx,a,2\ny,b,5\n");
    let cols = RatingsColumns::new("u", "i")
        .rating("stars")
        .weight_from_rating(true);
    let (log, _) = read_events(
        &path,
        &ReadOptions {
            format: Format::RatingsCsv(cols),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(
        log.events.iter().map(|e| e.weight).collect::<Vec<_>>(),
        [Some(2.0), Some(5.0)]
    );
    assert_eq!(
        log.events.iter().map(|e| e.ts).collect::<Vec<_>>(),
        [1, 2],
        "file order stands in for time"
    );

    let path = write(
        dir.path(),
        "tx.csv",
        b"household_id,product_id,transaction_epoch_s\n1,10,1485630413\n",
    );
    let format = Format::RatingsCsv(RatingsColumns::complete_journey());
    let (log, _) = read_events(&path, &ReadOptions { format, ..opts() }).unwrap();
    let e = &log.events[0];
    assert_eq!(
        (e.kind, e.weight, e.ts),
        (EventType::Purchase, Some(1.0), 1_485_630_413)
    );
}

// ---------------------------------------------------------------------------------------
// Row-level bad input: a counted rejection naming file, column and row

#[test]
fn every_bad_row_is_rejected_with_file_column_and_row() {
    let long = "x".repeat(300);
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "unknown type",
            format!("e,{T0},c1,,teleport,i1,,,,,"),
            "type",
            "\"teleport\"",
        ),
        (
            "missing ids",
            format!("e,{T0},,,view,i1,,,,,"),
            "customer_id",
            "neither customer_id nor anonymous_id",
        ),
        (
            "item event without item",
            format!("e,{T0},c1,,purchase,,,,,,"),
            "item_id",
            "purchase event needs item_id",
        ),
        (
            "negative ts",
            "e,-5,c1,,view,i1,,,,,".to_owned(),
            "ts",
            "negative",
        ),
        (
            "ts before 1995",
            "e,86400,c1,,view,i1,,,,,".to_owned(),
            "ts",
            "before 1995-01-01",
        ),
        (
            "ts in the future",
            format!("e,{},c1,,view,i1,,,,,", NOW + 3 * 86_400),
            "ts",
            "in the future",
        ),
        (
            "absurd ts",
            "e,17000000000000000,c1,,view,i1,,,,,".to_owned(),
            "ts",
            "too large",
        ),
        (
            "unparseable ts",
            "e,last tuesday,c1,,view,i1,,,,,".to_owned(),
            "ts",
            "not a timestamp",
        ),
        (
            "rating out of range",
            format!("e,{T0},c1,,review,i1,,,9,,"),
            "rating",
            "outside 1..=5",
        ),
        (
            "negative price",
            format!("e,{T0},c1,,purchase,i1,1,-3,,,"),
            "price",
            "negative",
        ),
        (
            "zero quantity",
            format!("e,{T0},c1,,purchase,i1,0,,,,"),
            "quantity",
            "not positive",
        ),
        (
            "long id",
            format!("e,{T0},{long},,view,i1,,,,,"),
            "customer_id",
            "longer than 256",
        ),
        (
            "not a number",
            format!("e,{T0},c1,,purchase,i1,lots,,,,"),
            "quantity",
            "not a number",
        ),
        (
            "field count",
            format!("e,{T0},c1,,view,i1"),
            "*",
            "6 fields, the header has 11",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, bad, column, reason) in cases {
        let text = format!(
            "{HEADER}\n{}\n{}\n{bad}\n{}\n",
            good_row(1),
            good_row(2),
            good_row(4)
        );
        let path = write(dir.path(), "events.csv", text.as_bytes());
        let (log, rejections) = read_events(&path, &opts()).unwrap();
        assert_eq!((log.len(), rejections.total), (3, 1), "{what}");
        let shown = rejections.examples[0].to_string();
        assert!(shown.contains("events.csv"), "{what}: {shown}");
        assert!(shown.contains("row 3"), "{what}: {shown}");
        assert!(
            shown.contains(&format!("column {column:?}")),
            "{what}: {shown}"
        );
        assert!(shown.contains(reason), "{what}: {shown}");
    }
}

#[test]
fn unknown_event_type_lists_the_allowed_types() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}\n{}\ne,{T0},c1,,View,i1,,,,,\n", good_row(1));
    let path = write(dir.path(), "events.csv", text.as_bytes());
    let (_, rejections) = read_events(&path, &opts()).unwrap();
    let reason = &rejections.examples[0].reason;
    assert!(
        reason.contains("\"View\"") && reason.contains("page_view, view, search"),
        "{reason}"
    );
    assert_eq!(rejections.counts.get("type: unknown event type"), Some(&1));
}

#[test]
fn non_utf8_field_rejects_only_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("{HEADER}\n{}\n", good_row(1)).into_bytes();
    text.extend_from_slice(format!("e2,{T0},c").as_bytes());
    text.extend_from_slice(b"\xff\xfe,,view,i2,,,,,\n");
    text.extend_from_slice(format!("e3,{T0},c3,,view,i3,,,,,\n").as_bytes());
    let path = write(dir.path(), "events.csv", &text);
    let (log, rejections) = read_events(&path, &opts()).unwrap();
    assert_eq!(log.len(), 2);
    let shown = rejections.examples[0].to_string();
    assert!(
        shown.contains("events.csv row 2, column \"customer_id\"") && shown.contains("UTF-8"),
        "{shown}"
    );
}

#[test]
fn rejections_are_counted_by_kind_with_a_few_examples() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("{HEADER}\n{}\n", good_row(1));
    for _ in 0..10 {
        text.push_str("e,-1,c1,,view,i1,,,,,\n");
    }
    let path = write(dir.path(), "events.csv", text.as_bytes());
    let (_, rejections) = read_events(&path, &opts()).unwrap();
    assert_eq!(rejections.total, 10);
    assert_eq!(rejections.counts.get("ts: negative timestamp"), Some(&10));
    assert_eq!(rejections.examples.len(), Rejections::EXAMPLES);
}

// ---------------------------------------------------------------------------------------
// Whole-file problems: a clear error naming the file (and column)

#[test]
fn whole_file_problems_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let check = |path: &Path, want: &[&str]| {
        let err = read_events(path, &opts()).unwrap_err().to_string();
        for w in want {
            assert!(err.contains(w), "{err:?} should contain {w:?}");
        }
    };
    check(&d.join("missing.csv"), &["missing.csv", "cannot read"]);
    check(&write(d, "empty.csv", b""), &["empty.csv", "empty"]);
    check(
        &write(d, "header.csv", format!("{HEADER}\n").as_bytes()),
        &["header.csv", "empty"],
    );
    check(
        &write(d, "blank.jsonl", b"\n  \n"),
        &["blank.jsonl", "empty"],
    );
    check(
        &write(d, "nots.csv", b"customer_id,type,item_id\nc,view,i\n"),
        &[
            "nots.csv",
            "missing column \"ts\"",
            "found: customer_id, type, item_id",
        ],
    );
    check(
        &write(d, "noid.csv", format!("ts,type\n{T0},view\n").as_bytes()),
        &["noid.csv", "customer_id or anonymous_id"],
    );
    check(
        &write(
            d,
            "notype.jsonl",
            format!("{{\"ts\":{T0},\"customer_id\":\"c\"}}\n").as_bytes(),
        ),
        &["notype.jsonl", "missing column \"type\""],
    );
    check(
        &write(
            d,
            "allbad.csv",
            b"ts,customer_id,type,item_id\n12,c,view,i\n-3,c,view,i\n",
        ),
        &[
            "allbad.csv",
            "every one of 2 rows",
            "row 1",
            "\"ts\"",
            "before 1995",
        ],
    );
    check(
        &write(d, "junk.parquet", b"PAR1 this is not parquet at all"),
        &["junk.parquet"],
    );
    check(
        &write(d, "events.xlsx", b"whatever"),
        &["events.xlsx", "cannot tell the format"],
    );
    check(
        &write(d, "bad_header.csv", b"ts,\xff\xfe\nx,y\n"),
        &["bad_header.csv", "header", "UTF-8"],
    );
    let bool_ts = write_parquet(
        d,
        "bool_ts.parquet",
        vec![
            ("ts", Arc::new(BooleanArray::from(vec![true])) as ArrayRef),
            ("customer_id", strings(&["c"])),
            ("type", strings(&["view"])),
        ],
    );
    check(
        &bool_ts,
        &[
            "bool_ts.parquet",
            "\"ts\"",
            "Boolean",
            "expected a timestamp",
        ],
    );
    let ratings = ReadOptions::with_format(Format::MovieLens);
    let err = read_catalog(&write(d, "u.data", b"1\t2\t3\t4\n"), &ratings).unwrap_err();
    assert!(matches!(err, DataError::Format { .. }), "{err}");
}

#[test]
fn empty_parquet_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Int64, false),
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
    ]));
    let writer = ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
    writer.close().unwrap();
    let err = read_events(&path, &opts()).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------
// Parquet column types

fn ids(kind: &str, values: &[&str]) -> ArrayRef {
    match kind {
        "utf8" => strings(values),
        "large" => Arc::new(LargeStringArray::from(values.to_vec())),
        "dict" => {
            let mut b = StringDictionaryBuilder::<Int32Type>::new();
            for v in values {
                b.append_value(v);
            }
            Arc::new(b.finish())
        }
        "int" => Arc::new(Int64Array::from(
            values
                .iter()
                .map(|v| v.parse::<i64>().unwrap())
                .collect::<Vec<_>>(),
        )),
        "u64" => Arc::new(UInt64Array::from(
            values
                .iter()
                .map(|v| v.parse::<u64>().unwrap())
                .collect::<Vec<_>>(),
        )),
        _ => unreachable!(),
    }
}

fn times(kind: &str, secs: &[i64]) -> ArrayRef {
    match kind {
        "int64" => Arc::new(Int64Array::from(secs.to_vec())),
        "int32" => Arc::new(Int32Array::from(
            secs.iter().map(|s| *s as i32).collect::<Vec<_>>(),
        )),
        "int64_ms" => Arc::new(Int64Array::from(
            secs.iter().map(|s| s * 1000 + 999).collect::<Vec<_>>(),
        )),
        "ts_s" => Arc::new(TimestampSecondArray::from(secs.to_vec())),
        "ts_ms_utc" => {
            let mut b = TimestampMillisecondBuilder::new().with_timezone("UTC");
            for s in secs {
                b.append_value(s * 1000 + 1);
            }
            Arc::new(b.finish())
        }
        "ts_us" => Arc::new(TimestampMicrosecondArray::from(
            secs.iter().map(|s| s * 1_000_000).collect::<Vec<_>>(),
        )),
        "ts_ns" => Arc::new(TimestampNanosecondArray::from(
            secs.iter()
                .map(|s| s * 1_000_000_000 + 5)
                .collect::<Vec<_>>(),
        )),
        _ => unreachable!(),
    }
}

#[test]
fn parquet_interactions_accept_the_types_other_tools_write() {
    let dir = tempfile::tempdir().unwrap();
    let secs = [T0, T0 + 60, T0 + 120];
    let weights: [(&str, Option<ArrayRef>, [f32; 3]); 4] = [
        ("none", None, [1.0, 1.0, 1.0]),
        (
            "f32",
            Some(Arc::new(Float32Array::from(vec![0.5, 2.0, 3.0]))),
            [0.5, 2.0, 3.0],
        ),
        (
            "f64",
            Some(Arc::new(Float64Array::from(vec![1.5, -1.0, 4.0]))),
            [1.5, -1.0, 4.0],
        ),
        (
            "int",
            Some(Arc::new(Int32Array::from(vec![1, 2, 3]))),
            [1.0, 2.0, 3.0],
        ),
    ];
    let mut cases = 0;
    for id_kind in ["utf8", "large", "dict", "int", "u64"] {
        for ts_kind in [
            "int64",
            "int32",
            "int64_ms",
            "ts_s",
            "ts_ms_utc",
            "ts_us",
            "ts_ns",
        ] {
            for (w_kind, w, expect_w) in &weights {
                let mut columns = vec![
                    ("user", ids(id_kind, &["10", "20", "10"])),
                    ("item", ids(id_kind, &["7", "8", "9"])),
                    ("ts", times(ts_kind, &secs)),
                ];
                if let Some(w) = w {
                    columns.push(("weight", w.clone()));
                }
                let path = write_parquet(dir.path(), "split.parquet", columns);
                let (log, rejections) = read_interactions(&path).unwrap();
                let case = format!("ids {id_kind}, ts {ts_kind}, weight {w_kind}");
                assert!(rejections.is_empty(), "{case}: {rejections:?}");
                assert_eq!(log.users.ids(), ["10", "20"], "{case}");
                assert_eq!(log.items.ids(), ["7", "8", "9"], "{case}");
                assert_eq!(
                    log.rows.iter().map(|r| r.ts).collect::<Vec<_>>(),
                    secs,
                    "{case}"
                );
                assert_eq!(
                    log.rows.iter().map(|r| r.weight).collect::<Vec<_>>(),
                    expect_w,
                    "{case}"
                );
                assert_eq!(log.rows[2].user, log.rows[0].user, "{case}");
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 5 * 7 * 4);
}

#[test]
fn parquet_events_with_dictionary_types_and_context_struct() {
    let dir = tempfile::tempdir().unwrap();
    let mut types = StringDictionaryBuilder::<Int32Type>::new();
    for t in ["view", "purchase", "bogus", "page_view"] {
        types.append_value(t);
    }
    let context = StructArray::from(vec![
        (
            Arc::new(Field::new("device", DataType::Utf8, true)),
            strings(&["mobile", "desktop", "mobile", "tv"]),
        ),
        (
            Arc::new(Field::new("browser", DataType::Utf8, true)),
            strings(&["safari", "chrome", "safari", "app"]),
        ),
    ]);
    let path = write_parquet(
        dir.path(),
        "events.parquet",
        vec![
            ("ts", times("ts_ms_utc", &[T0, T0 + 1, T0 + 2, T0 + 3])),
            (
                "customer_id",
                Arc::new(StringArray::from(vec![Some("c1"), None, Some("c3"), None])),
            ),
            (
                "anonymous_id",
                Arc::new(StringArray::from(vec![None, Some("a2"), None, None])),
            ),
            ("type", Arc::new(types.finish())),
            ("item_id", ids("int", &["1", "2", "3", "4"])),
            (
                "price",
                Arc::new(Float64Array::from(vec![Some(1.0), Some(9.5), None, None])),
            ),
            ("context", Arc::new(context)),
        ],
    );
    let (log, rejections) = read_events(&path, &opts()).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log.events[1].kind, EventType::Purchase);
    assert_eq!(log.events[1].price, Some(9.5));
    assert_eq!(log.anonymous.id(log.events[1].anonymous.unwrap()), "a2");
    assert_eq!(
        log.devices.id(log.events[0].device.unwrap()),
        "mobile/safari"
    );
    assert_eq!(rejections.total, 2);
    let shown: Vec<String> = rejections
        .examples
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        shown[0].contains("events.parquet row 3, column \"type\"") && shown[0].contains("bogus"),
        "{shown:?}"
    );
    assert!(
        shown[1].contains("row 4, column \"customer_id\""),
        "{shown:?}"
    );
}

#[test]
fn write_then_read_interactions_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = InteractionLog::default();
    for i in 0..70_000i64 {
        log.push(
            &format!("u{}", i % 997),
            &format!("item-{}", i % 313),
            T0 + i,
            (i % 7) as f32 * 0.5 - 1.0,
        );
    }
    let path = dir.path().join("train.parquet");
    write_interactions(&path, &log).unwrap();
    assert!(!dir.path().join("train.parquet.tmp").exists());

    let file = std::fs::File::open(&path).unwrap();
    let schema = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .schema()
        .clone();
    let types: Vec<(String, DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    assert_eq!(
        types,
        [
            ("user".to_owned(), DataType::Utf8),
            ("item".to_owned(), DataType::Utf8),
            ("ts".to_owned(), DataType::Int64),
            ("weight".to_owned(), DataType::Float64)
        ]
    );

    let (back, rejections) = read_interactions(&path).unwrap();
    assert!(rejections.is_empty());
    assert_eq!(back.users.ids(), log.users.ids());
    assert_eq!(back.items.ids(), log.items.ids());
    assert_eq!(back.rows, log.rows);
}

#[test]
fn interactions_csv_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "test.csv",
        b"user,item,ts,weight\nu1,i1,5,2\nu2,,6,1\nu3,i3,-1,1\nu4,i4,7,\n",
    );
    let (log, rejections) = read_interactions(&path).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!((log.rows[0].ts, log.rows[0].weight), (5, 2.0));
    assert_eq!(log.rows[1].weight, 1.0);
    let shown: Vec<String> = rejections
        .examples
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        shown[0].contains("test.csv row 2, column \"item\""),
        "{shown:?}"
    );
    assert!(shown[1].contains("row 3, column \"ts\""), "{shown:?}");
    let err = read_interactions(&write(dir.path(), "x.csv", b"user,ts\nu,1\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x.csv") && err.contains("missing column \"item\""),
        "{err}"
    );
}

#[test]
fn interaction_files_are_told_apart_from_event_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut log = InteractionLog::default();
    log.push("u", "i", T0, 1.0);
    write_interactions(&d.join("train.parquet"), &log).unwrap();
    assert!(looks_like_interactions(&d.join("train.parquet")).unwrap());
    assert!(looks_like_interactions(&write(d, "t.csv", b"user,item,ts\nu,i,1\n")).unwrap());
    assert!(looks_like_interactions(&write(d, "t.tsv", b"user\titem\tts\tweight\n")).unwrap());
    assert!(
        !looks_like_interactions(&write(d, "e.csv", format!("{HEADER}\n").as_bytes())).unwrap()
    );
    assert!(!looks_like_interactions(&write(d, "u.data", b"1\t2\t3\t4\n")).unwrap());
    let events = write_parquet(
        d,
        "e.parquet",
        vec![("ts", times("int64", &[T0])), ("type", strings(&["view"]))],
    );
    assert!(!looks_like_interactions(&events).unwrap());
    assert!(looks_like_interactions(&d.join("missing.csv")).is_err());
}

// ---------------------------------------------------------------------------------------
// Real data (licensed; read from KINDRED_DATASETS, never copied into the project)

fn datasets() -> Option<PathBuf> {
    let dir = std::env::var_os("KINDRED_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: datasets not found at {} (set KINDRED_DATASETS)",
            dir.display()
        );
        None
    }
}

#[test]
fn movielens_100k_loads_completely() {
    let Some(dir) = datasets() else { return };
    let path = dir.join("movielens-100k/u.data");
    if !path.is_file() {
        eprintln!("skipping: {} not found", path.display());
        return;
    }
    let (log, rejections) = read_events(&path, &ReadOptions::default()).unwrap();
    assert!(rejections.is_empty(), "{rejections:?}");
    assert_eq!(log.len(), 100_000);
    assert_eq!(log.customers.len(), 943);
    assert_eq!(log.items.len(), 1_682);
    assert!(
        log.events
            .iter()
            .all(|e| e.kind == EventType::Review && e.weight == Some(1.0))
    );
    let (interactions, _) =
        kindred_training::interactions::resolve(&log, &Default::default(), &Default::default());
    assert_eq!(
        (
            interactions.len(),
            interactions.users.len(),
            interactions.items.len()
        ),
        (100_000, 943, 1_682)
    );
}

#[test]
fn generated_demo_shop_reads_without_rejections() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/demo");
    if !dir.join("events.parquet").is_file() {
        eprintln!("skipping: no generated demo shop at {}", dir.display());
        return;
    }
    let opts = ReadOptions::default();
    let (log, rejected) = read_events(&dir.join("events.parquet"), &opts).unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    let (catalog, rejected) = read_catalog(&dir.join("items.parquet"), &opts).unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    let (links, rejected) = read_identities(&dir.join("identities.parquet"), &opts).unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    assert!(log.len() > 1_000 && catalog.len() > 10 && !links.links.is_empty());
    assert!(
        log.items.ids().iter().all(|id| catalog.get(id).is_some()),
        "events name unknown items"
    );
}

#[test]
fn complete_journey_transactions_load_completely() {
    let Some(dir) = datasets() else { return };
    let path = dir.join("completejourney/csv/transactions_sample.csv");
    if !path.is_file() {
        eprintln!("skipping: {} not found", path.display());
        return;
    }
    let format = Format::RatingsCsv(RatingsColumns::complete_journey());
    let (log, rejections) = read_events(&path, &ReadOptions::with_format(format)).unwrap();
    assert!(rejections.is_empty(), "{rejections:?}");
    assert_eq!(log.len(), 75_000);
    assert!(
        log.events
            .iter()
            .all(|e| e.kind == EventType::Purchase && e.weight == Some(1.0))
    );
    assert!(
        log.customers.len() > 1_000 && log.items.len() > 10_000,
        "{} {}",
        log.customers.len(),
        log.items.len()
    );
}

// ---------------------------------------------------------------------------------------
// No input makes a reader panic, and every row is either accepted or rejected

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Data rows of a CSV as the reader sees them.
    fn csv_rows(bytes: &[u8]) -> usize {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(bytes);
        r.byte_records().filter(Result::is_ok).count()
    }

    fn check(result: Result<(EventLog, Rejections), DataError>, rows: usize) {
        match result {
            Ok((log, rejections)) => assert_eq!(log.len() + rejections.total, rows),
            Err(DataError::AllRejected { rows: n, .. }) => assert_eq!(n, rows),
            Err(_) => {}
        }
    }

    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("view".to_owned()),
            Just("purchase".to_owned()),
            Just("page_view".to_owned()),
            Just(T0.to_string()),
            Just("-1".to_owned()),
            Just("2023-11-01T00:00:00Z".to_owned()),
            Just("\"a,b\"".to_owned()),
            Just("\"".to_owned()),
            "[a-z0-9]{1,4}",
            any::<i64>().prop_map(|i| i.to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
            ".{0,6}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let dir = tempfile::tempdir().unwrap();
            let csv = write(dir.path(), "e.csv", &bytes);
            let _ = read_events(&csv, &opts());
            let _ = read_catalog(&csv, &opts());
            let _ = read_interactions(&csv);
            let jsonl = write(dir.path(), "e.jsonl", &bytes);
            let _ = read_events(&jsonl, &opts());
            let _ = read_identities(&jsonl, &opts());
            let pq = write(dir.path(), "e.parquet", &bytes);
            let _ = read_events(&pq, &opts());
            let data = write(dir.path(), "u.data", &bytes);
            let _ = read_events(&data, &opts());
        }

        #[test]
        fn corrupted_parquet(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
            let dir = tempfile::tempdir().unwrap();
            let n = 50;
            let path = write_parquet(dir.path(), "e.parquet", vec![
                ("ts", times("int64", &vec![T0; n])),
                ("customer_id", strings(&vec!["c1"; n])),
                ("type", strings(&vec!["view"; n])),
                ("item_id", ids("dict", &vec!["i1"; n])),
            ]);
            let mut bytes = std::fs::read(&path).unwrap();
            let len = bytes.len();
            for (at, value) in flips {
                // Keep the magic numbers so the decoder gets past the first check.
                let i = 4 + at.index(len - 8);
                bytes[i] = value;
            }
            std::fs::write(&path, &bytes).unwrap();
            match read_events(&path, &opts()) {
                Ok((log, rejections)) => prop_assert_eq!(log.len() + rejections.total, n),
                Err(e) => prop_assert!(e.to_string().contains("e.parquet"), "{}", e),
            }
        }

        #[test]
        fn random_csv_lines(lines in proptest::collection::vec(proptest::collection::vec(field(), 0..7), 0..12)) {
            let mut text = String::from("ts,customer_id,type,item_id,quantity,rating\n");
            for line in &lines {
                text.push_str(&line.join(","));
                text.push('\n');
            }
            let dir = tempfile::tempdir().unwrap();
            let path = write(dir.path(), "e.csv", text.as_bytes());
            check(read_events(&path, &opts()), csv_rows(text.as_bytes()));
        }

        #[test]
        fn random_json_lines(lines in proptest::collection::vec(
            (field(), field(), field(), any::<bool>(), any::<i32>()), 0..12)) {
            let mut text = String::new();
            for (ts, kind, item, flag, n) in &lines {
                let v = serde_json::json!({"ts": ts, "customer_id": n, "type": kind, "item_id": item, "rating": n, "device": flag});
                text.push_str(&v.to_string());
                text.push('\n');
            }
            let dir = tempfile::tempdir().unwrap();
            let path = write(dir.path(), "e.jsonl", text.as_bytes());
            check(read_events(&path, &opts()), lines.len());
        }
    }
}
