//! The synthetic shop generator: determinism, schemas, counts, referential integrity,
//! identity links, cold items and recoverable taste groups.
#![allow(clippy::unwrap_used)]

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;
use kindred_training::data::write::{events_schema, identities_schema, items_schema};
use kindred_training::generate::{
    END_MS, GenerateError, GenerateParams, GenerateReport, TasteGroup, generate_shop,
    ground_truth_schema, read_ground_truth,
};
use kindred_training::progress::Progress;
use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::Array2;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn small_params(seed: u64) -> GenerateParams {
    GenerateParams {
        customers: 1500,
        items: 400,
        days: 60,
        seed,
        events: None,
        groups: 6,
    }
}

/// One generated shop shared by the read-only tests (generated once per test binary).
fn shop() -> &'static (tempfile::TempDir, GenerateReport) {
    static SHOP: OnceLock<(tempfile::TempDir, GenerateReport)> = OnceLock::new();
    SHOP.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let report = generate_shop(&small_params(11), dir.path(), Progress::Hidden).unwrap();
        (dir, report)
    })
}

fn read(path: &Path) -> (SchemaRef, Vec<RecordBatch>) {
    let file = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let batches = builder.build().unwrap().map(|b| b.unwrap()).collect();
    (schema, batches)
}

/// The string column `name` of every batch, nulls as `None`.
fn strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let col = b.column_by_name(name).unwrap().as_string::<i32>();
        out.extend((0..col.len()).map(|i| (!col.is_null(i)).then(|| col.value(i).to_owned())));
    }
    out
}

fn timestamps(batches: &[RecordBatch], name: &str) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            let col = b.column_by_name(name).unwrap();
            col.as_primitive::<TimestampMillisecondType>()
                .values()
                .to_vec()
        })
        .collect()
}

struct Events {
    event_id: Vec<Option<String>>,
    ts: Vec<i64>,
    customer: Vec<Option<String>>,
    anonymous: Vec<Option<String>>,
    kind: Vec<String>,
    item: Vec<Option<String>>,
    channel: Vec<Option<String>>,
    device: Vec<Option<String>>,
    consent: Vec<Option<String>>,
}

fn events(dir: &Path) -> Events {
    let (_, b) = read(&dir.join("events.parquet"));
    Events {
        event_id: strings(&b, "event_id"),
        ts: timestamps(&b, "ts"),
        customer: strings(&b, "customer_id"),
        anonymous: strings(&b, "anonymous_id"),
        kind: strings(&b, "type")
            .into_iter()
            .map(|k| k.unwrap())
            .collect(),
        item: strings(&b, "item_id"),
        channel: strings(&b, "channel"),
        device: strings(&b, "device"),
        consent: strings(&b, "consent"),
    }
}

fn groups_json(dir: &Path) -> Vec<TasteGroup> {
    let text = std::fs::read_to_string(dir.join("ground_truth/groups.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Item id -> top-level category, and item id -> price.
fn catalog(dir: &Path) -> (HashMap<String, String>, HashMap<String, f64>) {
    let (_, b) = read(&dir.join("items.parquet"));
    let ids = strings(&b, "item_id");
    let cats = strings(&b, "category");
    let prices: Vec<f64> = b
        .iter()
        .flat_map(|b| {
            b.column_by_name("price")
                .unwrap()
                .as_primitive::<Float64Type>()
                .values()
                .to_vec()
        })
        .collect();
    let mut top = HashMap::new();
    let mut price = HashMap::new();
    for ((id, cat), p) in ids.into_iter().zip(cats).zip(prices) {
        let id = id.unwrap();
        let cat = cat.unwrap();
        top.insert(id.clone(), cat.split('/').next().unwrap().to_owned());
        price.insert(id, p);
    }
    (top, price)
}

/// The customer behind each event: its customer id, or the customer its anonymous id links to.
fn resolved_customers(dir: &Path, ev: &Events) -> Vec<Option<String>> {
    let (_, b) = read(&dir.join("identities.parquet"));
    let links: HashMap<String, String> = strings(&b, "anonymous_id")
        .into_iter()
        .zip(strings(&b, "customer_id"))
        .map(|(a, c)| (a.unwrap(), c.unwrap()))
        .collect();
    ev.customer
        .iter()
        .zip(&ev.anonymous)
        .map(|(c, a)| {
            c.clone()
                .or_else(|| a.as_ref().and_then(|a| links.get(a).cloned()))
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_and_other_seed_other_data() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let params = GenerateParams {
        customers: 5000, // more than one chunk of visitors, simulated in parallel
        items: 300,
        days: 20,
        seed: 3,
        events: Some(30_000),
        groups: 4,
    };
    let ra = generate_shop(&params, a.path(), Progress::Hidden).unwrap();
    let rb = generate_shop(&params, b.path(), Progress::Hidden).unwrap();
    assert_eq!(ra.events, rb.events);
    for file in [
        "items.parquet",
        "events.parquet",
        "identities.parquet",
        "ground_truth/customers.parquet",
        "ground_truth/groups.json",
    ] {
        let x = std::fs::read(a.path().join(file)).unwrap();
        let y = std::fs::read(b.path().join(file)).unwrap();
        assert!(x == y, "{file} differs between two runs of the same seed");
    }
    generate_shop(
        &GenerateParams { seed: 4, ..params },
        c.path(),
        Progress::Hidden,
    )
    .unwrap();
    let ea = events(a.path());
    let ec = events(c.path());
    assert_ne!(ea.item, ec.item, "another seed gives other events");
    let (_, ia) = read(&a.path().join("items.parquet"));
    let (_, ic) = read(&c.path().join("items.parquet"));
    assert_ne!(strings(&ia, "title"), strings(&ic, "title"));
    assert!(ea.event_id[0].as_deref().unwrap().starts_with("e-3-"));
    assert!(ec.event_id[0].as_deref().unwrap().starts_with("e-4-"));
}

#[test]
fn files_have_the_canonical_schemas() {
    let (dir, report) = shop();
    let d = dir.path();
    assert_eq!(read(&d.join("events.parquet")).0, events_schema());
    assert_eq!(read(&d.join("items.parquet")).0, items_schema());
    assert_eq!(read(&d.join("identities.parquet")).0, identities_schema());
    assert_eq!(
        read(&d.join("ground_truth/customers.parquet")).0,
        ground_truth_schema()
    );
    let names: Vec<String> = events_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names.join(","),
        "event_id,ts,customer_id,anonymous_id,type,item_id,page,query,quantity,price,rating,\
         text,device,browser,channel,consent"
    );
    let expected: Vec<PathBuf> = [
        "items.parquet",
        "events.parquet",
        "identities.parquet",
        "ground_truth/customers.parquet",
        "ground_truth/groups.json",
    ]
    .iter()
    .map(|f| d.join(f))
    .collect();
    assert_eq!(report.files, expected);
    // No temporary files are left behind.
    for entry in std::fs::read_dir(d).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.ends_with(".tmp"), "{name} left behind");
    }
}

#[test]
fn counts_are_near_the_targets() {
    let (dir, report) = shop();
    let ev = events(dir.path());
    assert_eq!(report.events, ev.ts.len());
    let target = 1500.0 * 20.0;
    let ratio = ev.ts.len() as f64 / target;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{} events for {target}",
        ev.ts.len()
    );
    assert_eq!(report.customers, 1500);
    assert_eq!(report.items, 400);
    assert_eq!(report.groups, 6);
    let truth = read_ground_truth(dir.path()).unwrap();
    assert_eq!(truth.len(), 1500);
    assert_eq!(truth[0].0, "c-00000");
    let groups: BTreeSet<u32> = truth.iter().map(|(_, g)| *g).collect();
    assert_eq!(groups, (0..6).collect());
    // Every customer id in the events is a known customer.
    let customers: HashSet<&str> = truth.iter().map(|(c, _)| c.as_str()).collect();
    for c in ev.customer.iter().flatten() {
        assert!(customers.contains(c.as_str()), "unknown customer {c}");
    }
    // Activity is heavy-tailed: the busiest 10% of customers make well over 10% of events.
    let mut per: HashMap<&str, usize> = HashMap::new();
    for c in ev.customer.iter().flatten() {
        *per.entry(c).or_default() += 1;
    }
    let mut counts: Vec<usize> = per.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: usize = counts[..counts.len() / 10].iter().sum();
    let share = top as f64 / counts.iter().sum::<usize>() as f64;
    assert!(share > 0.25, "top decile share {share}");
    let text = report.to_string();
    assert!(text.contains("1500 customers"), "{text}");
    assert!(text.contains("events.parquet"), "{text}");
}

#[test]
fn events_are_well_formed() {
    let (dir, _) = shop();
    let ev = events(dir.path());
    let (top, _) = catalog(dir.path());
    let start = END_MS - 60 * 86_400_000;
    let mut ids = HashSet::new();
    let mut kinds = BTreeSet::new();
    for i in 0..ev.ts.len() {
        assert!(
            ids.insert(ev.event_id[i].clone().unwrap()),
            "duplicate event id"
        );
        assert!(
            (start..END_MS).contains(&ev.ts[i]),
            "ts {} out of range",
            ev.ts[i]
        );
        assert!(ev.customer[i].is_some() || ev.anonymous[i].is_some());
        let kind: kindred_training::data::EventType = ev.kind[i].parse().unwrap();
        kinds.insert(ev.kind[i].clone());
        match &ev.item[i] {
            Some(item) => assert!(top.contains_key(item), "unknown item {item}"),
            None => assert!(!kind.needs_item(), "{} without item", ev.kind[i]),
        }
        assert!(["web", "app", "email"].contains(&ev.channel[i].as_deref().unwrap()));
        assert!(["mobile", "desktop", "tablet"].contains(&ev.device[i].as_deref().unwrap()));
        assert!(["full", "anonymous"].contains(&ev.consent[i].as_deref().unwrap()));
    }
    // Every event type of the schema occurs.
    assert_eq!(kinds.len(), 9, "{kinds:?}");
    // Events of one visitor are in time order.
    let mut last: HashMap<&str, i64> = HashMap::new();
    for i in 0..ev.ts.len() {
        let visitor = ev.anonymous[i].as_deref().unwrap();
        if let Some(&prev) = last.get(visitor)
            && !visitor.starts_with("dk-")
        {
            assert!(ev.ts[i] >= prev, "visitor {visitor} goes back in time");
        }
        last.insert(visitor, ev.ts[i]);
    }
    // Purchases carry quantity and price; reviews a rating and text.
    let (_, b) = read(&dir.path().join("events.parquet"));
    for batch in &b {
        let kind = batch.column_by_name("type").unwrap().as_string::<i32>();
        let qty = batch
            .column_by_name("quantity")
            .unwrap()
            .as_primitive::<Int32Type>();
        let price = batch.column_by_name("price").unwrap();
        let rating = batch.column_by_name("rating").unwrap();
        let text = batch.column_by_name("text").unwrap();
        let query = batch.column_by_name("query").unwrap();
        for i in 0..batch.num_rows() {
            match kind.value(i) {
                "purchase" => {
                    assert!((1..=3).contains(&qty.value(i)) && !qty.is_null(i));
                    assert!(!price.is_null(i));
                }
                "review" => assert!(!rating.is_null(i) && !text.is_null(i)),
                "search" => assert!(!query.is_null(i)),
                _ => {}
            }
        }
    }
}

#[test]
fn identities_link_anonymous_history_to_customers() {
    let (dir, report) = shop();
    let d = dir.path();
    let ev = events(d);
    let (_, b) = read(&d.join("identities.parquet"));
    let anon = strings(&b, "anonymous_id");
    let cust = strings(&b, "customer_id");
    let ts = timestamps(&b, "ts");
    assert_eq!(anon.len(), report.identity_links);
    assert!(
        report.identity_links > 300,
        "{} links",
        report.identity_links
    );
    let anonymous_ids: HashSet<&str> = ev.anonymous.iter().flatten().map(String::as_str).collect();
    let linked: HashMap<&str, (&str, i64)> = anon
        .iter()
        .zip(&cust)
        .zip(&ts)
        .map(|((a, c), t)| (a.as_deref().unwrap(), (c.as_deref().unwrap(), *t)))
        .collect();
    assert_eq!(linked.len(), anon.len(), "one link per anonymous id");
    for a in linked.keys() {
        assert!(
            anonymous_ids.contains(a),
            "linked id {a} never seen in events"
        );
    }
    // Events before the link are anonymous, events after it are known.
    let mut anonymous_before = 0;
    for i in 0..ev.ts.len() {
        let Some(&(customer, at)) = ev.anonymous[i].as_deref().and_then(|a| linked.get(a)) else {
            continue;
        };
        if ev.ts[i] < at {
            assert_eq!(ev.customer[i], None);
            anonymous_before += 1;
        } else {
            assert_eq!(ev.customer[i].as_deref(), Some(customer));
        }
    }
    assert!(anonymous_before > 0);
    // Roughly a quarter of customers' events happen before they registered.
    let resolved = resolved_customers(d, &ev);
    let customer_events = resolved.iter().filter(|c| c.is_some()).count();
    let share = anonymous_before as f64 / customer_events as f64;
    assert!((0.15..=0.35).contains(&share), "anonymous share {share}");
    // Some visitors never register: anonymous ids with neither a link nor a known event.
    let known_cookies: HashSet<&str> = (0..ev.ts.len())
        .filter(|&i| ev.customer[i].is_some())
        .filter_map(|i| ev.anonymous[i].as_deref())
        .collect();
    let never = anonymous_ids
        .iter()
        .filter(|a| !linked.contains_key(*a) && !known_cookies.contains(*a))
        .count();
    assert!(never >= 100, "{never} never-registered visitors");
    assert_eq!(report.anonymous_visitors, 150);
}

#[test]
fn some_items_are_never_touched_and_popularity_is_skewed() {
    let (dir, _) = shop();
    let ev = events(dir.path());
    let (top, _) = catalog(dir.path());
    let mut views: HashMap<&str, usize> = HashMap::new();
    for (i, kind) in ev.kind.iter().enumerate() {
        if kind == "view" {
            *views.entry(ev.item[i].as_deref().unwrap()).or_default() += 1;
        }
    }
    let touched: HashSet<&str> = ev.item.iter().flatten().map(String::as_str).collect();
    let untouched = top.keys().filter(|k| !touched.contains(k.as_str())).count();
    assert!(
        untouched >= 8,
        "{untouched} items without events (2% of 400 is 8)"
    );
    assert!(untouched < 60, "{untouched} items without events");
    let mut counts: Vec<usize> = views.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let total: usize = counts.iter().sum();
    let top_share = counts[..counts.len() / 10].iter().sum::<usize>() as f64 / total as f64;
    assert!(top_share > 0.3, "top 10% of items get {top_share} of views");
}

#[test]
fn groups_concentrate_on_their_favourite_categories() {
    let (dir, _) = shop();
    let d = dir.path();
    let ev = events(d);
    let (top, _) = catalog(d);
    let groups = groups_json(d);
    assert_eq!(groups.len(), 6);
    let truth: HashMap<String, u32> = read_ground_truth(d).unwrap().into_iter().collect();
    let resolved = resolved_customers(d, &ev);
    // Views per group per top category.
    let mut per_group: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    let mut all_in: Vec<usize> = vec![0; groups.len()];
    let mut all = 0;
    for i in 0..ev.ts.len() {
        if ev.kind[i] != "view" {
            continue;
        }
        let category = &top[ev.item[i].as_deref().unwrap()];
        all += 1;
        for (g, group) in groups.iter().enumerate() {
            if group.favourite_categories.contains(category) {
                all_in[g] += 1;
            }
        }
        let Some(g) = resolved[i].as_ref().and_then(|c| truth.get(c)) else {
            continue;
        };
        let entry = per_group.entry(*g).or_default();
        entry.1 += 1;
        if groups[*g as usize].favourite_categories.contains(category) {
            entry.0 += 1;
        }
    }
    for (g, (inside, total)) in per_group {
        let share = inside as f64 / total as f64;
        let chance = all_in[g as usize] as f64 / all as f64;
        assert!(
            (0.65..=0.9).contains(&share) && share > 2.5 * chance,
            "group {g}: {share:.2} of views in favourites, {chance:.2} overall"
        );
    }
}

/// Adjusted Rand index of two labelings.
fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    let pairs = |n: f64| n * (n - 1.0) / 2.0;
    let mut table: HashMap<(usize, usize), f64> = HashMap::new();
    let mut rows: HashMap<usize, f64> = HashMap::new();
    let mut cols: HashMap<usize, f64> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *table.entry((x, y)).or_default() += 1.0;
        *rows.entry(x).or_default() += 1.0;
        *cols.entry(y).or_default() += 1.0;
    }
    let index: f64 = table.values().map(|&n| pairs(n)).sum();
    let row_sum: f64 = rows.values().map(|&n| pairs(n)).sum();
    let col_sum: f64 = cols.values().map(|&n| pairs(n)).sum();
    let expected = row_sum * col_sum / pairs(a.len() as f64);
    let max = (row_sum + col_sum) / 2.0;
    (index - expected) / (max - expected)
}

#[test]
fn adjusted_rand_index_matches_hand_computed_values() {
    assert!((adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]) - 1.0).abs() < 1e-12);
    // sklearn: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) = 0.5714285714285715
    let ari = adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]);
    assert!((ari - 0.571_428_571_428_571_5).abs() < 1e-12, "{ari}");
}

#[test]
fn taste_groups_are_recoverable_from_behaviour() {
    let (dir, _) = shop();
    let d = dir.path();
    let ev = events(d);
    let (top, price) = catalog(d);
    let truth = read_ground_truth(d).unwrap();
    let index: HashMap<&str, usize> = truth
        .iter()
        .enumerate()
        .map(|(i, (c, _))| (c.as_str(), i))
        .collect();
    let tops: Vec<&str> = {
        let set: BTreeSet<&str> = top.values().map(String::as_str).collect();
        set.into_iter().collect()
    };
    let resolved = resolved_customers(d, &ev);
    // Behaviour profile: category shares of item events, mean log price, channel and device mix.
    let n = truth.len();
    let width = tops.len() + 1 + 3 + 3;
    let mut x = Array2::<f64>::zeros((n, width));
    let mut item_events = vec![0.0f64; n];
    let mut all_events = vec![0.0f64; n];
    for (i, customer) in resolved.iter().enumerate() {
        let Some(c) = customer.as_deref().map(|c| index[c]) else {
            continue;
        };
        all_events[c] += 1.0;
        let channel = ["web", "app", "email"]
            .iter()
            .position(|k| Some(*k) == ev.channel[i].as_deref())
            .unwrap();
        let device = ["mobile", "desktop", "tablet"]
            .iter()
            .position(|k| Some(*k) == ev.device[i].as_deref())
            .unwrap();
        x[[c, tops.len() + 1 + channel]] += 1.0;
        x[[c, tops.len() + 4 + device]] += 1.0;
        if let Some(item) = ev.item[i].as_deref() {
            let t = tops.iter().position(|t| *t == top[item]).unwrap();
            x[[c, t]] += 1.0;
            x[[c, tops.len()]] += price[item].ln();
            item_events[c] += 1.0;
        }
    }
    for c in 0..n {
        for j in 0..=tops.len() {
            x[[c, j]] /= item_events[c].max(1.0);
        }
        for j in tops.len() + 1..width {
            x[[c, j]] /= all_events[c].max(1.0);
        }
    }
    // Standardise the columns; weight the price and context blocks like one category each.
    for j in 0..width {
        let col = x.column(j);
        let mean = col.mean().unwrap();
        let sd = col.std(0.0).max(1e-9);
        let weight = if j < tops.len() { 1.0 } else { 0.6 };
        x.column_mut(j).mapv_inplace(|v| (v - mean) / sd * weight);
    }
    let data = DatasetBase::from(x.clone());
    let model = KMeans::params(6)
        .max_n_iterations(300)
        .tolerance(1e-6)
        .fit(&data)
        .unwrap();
    let found: Vec<usize> = model.predict(&x).to_vec();
    let hidden: Vec<usize> = truth.iter().map(|(_, g)| *g as usize).collect();
    let ari = adjusted_rand_index(&found, &hidden);
    println!("adjusted Rand index of KMeans on behaviour profiles: {ari:.3}");
    assert!(ari >= 0.75, "ARI {ari}");
}

#[test]
fn check_rejects_empty_shops_before_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shop");
    let params = GenerateParams {
        customers: 0,
        ..small_params(1)
    };
    let err = generate_shop(&params, &out, Progress::Hidden).unwrap_err();
    assert!(matches!(err, GenerateError::NoCustomers), "{err}");
    assert!(!out.exists());
    let params = GenerateParams {
        items: 0,
        ..small_params(1)
    };
    assert!(matches!(params.check(), Err(GenerateError::NoItems)));
    let params = GenerateParams {
        days: 0,
        ..small_params(1)
    };
    assert!(matches!(params.check(), Err(GenerateError::NoDays)));
}

#[test]
fn tiny_shops_work() {
    let dir = tempfile::tempdir().unwrap();
    let params = GenerateParams {
        customers: 1,
        items: 1,
        days: 1,
        seed: 0,
        events: Some(3),
        groups: 1,
    };
    let report = generate_shop(&params, dir.path(), Progress::Hidden).unwrap();
    assert_eq!(report.customers, 1);
    let ev = events(dir.path());
    assert_eq!(ev.ts.len(), report.events);
    assert!(ev.item.iter().flatten().all(|i| i == "sku-00000"));
    assert_eq!(
        read_ground_truth(dir.path()).unwrap(),
        vec![("c-00000".to_owned(), 0)]
    );
}

#[test]
fn read_ground_truth_names_a_file_without_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("items.parquet");
    let (shop_dir, _) = shop();
    std::fs::copy(shop_dir.path().join("items.parquet"), &path).unwrap();
    let err = read_ground_truth(&path).unwrap_err();
    assert!(matches!(err, GenerateError::GroundTruth { .. }), "{err}");
    assert!(err.to_string().contains("customer_id"), "{err}");
}

/// The committed demo shop is exactly what `GenerateParams::demo()` generates (compared by
/// content, so a newer Parquet writer does not break it).
#[test]
fn committed_demo_matches_the_demo_parameters() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/demo");
    if !demo.join("events.parquet").exists() {
        panic!(
            "datasets/demo is missing: run `cargo test -p kindred-training --test generate -- --ignored regenerate_demo`"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    generate_shop(&GenerateParams::demo(), dir.path(), Progress::Hidden).unwrap();
    for file in [
        "items.parquet",
        "events.parquet",
        "identities.parquet",
        "ground_truth/customers.parquet",
    ] {
        let (sa, ba) = read(&demo.join(file));
        let (sb, bb) = read(&dir.path().join(file));
        assert_eq!(sa, sb, "{file}: schema");
        assert!(
            ba == bb,
            "{file}: the committed demo differs from GenerateParams::demo()"
        );
    }
    assert_eq!(
        std::fs::read_to_string(demo.join("ground_truth/groups.json")).unwrap(),
        std::fs::read_to_string(dir.path().join("ground_truth/groups.json")).unwrap()
    );
}

/// Writes the committed demo shop into `datasets/demo` (run once, by hand).
#[test]
#[ignore = "writes datasets/demo; run by hand after changing the generator"]
fn regenerate_demo() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/demo");
    let report = generate_shop(&GenerateParams::demo(), &demo, Progress::Hidden).unwrap();
    println!("{report}");
}

fn scale_run(customers: usize, items: usize, events: usize) {
    let out = std::env::temp_dir().join(format!("kindred-scale-{customers}"));
    let params = GenerateParams {
        customers,
        items,
        days: 180,
        seed: 1,
        events: Some(events),
        groups: 6,
    };
    let report = generate_shop(&params, &out, Progress::Bars).unwrap();
    println!("{report}");
    for file in &report.files {
        println!(
            "{:>12} bytes  {}",
            std::fs::metadata(file).unwrap().len(),
            file.display()
        );
    }
    assert!((report.events as f64 / events as f64 - 1.0).abs() < 0.1);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
#[ignore = "scale: 100k customers, 20k items, 2M events (about a minute)"]
fn scale_100k_customers_2m_events() {
    scale_run(100_000, 20_000, 2_000_000);
}

#[test]
#[ignore = "scale: 1M customers, 100k items, 20M events (several minutes)"]
fn scale_1m_customers_20m_events() {
    scale_run(1_000_000, 100_000, 20_000_000);
}
