//! In-process speed of `compose_landing_page` on the demo shop (trained once before timing)
//! with the sample configuration's home page (`kindred.toml.sample`): known customers in
//! rotation, and a brand-new visitor (every slot from fallbacks).
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use kindred::config::Config;
use kindred::landing::compose;
use kindred::serving::{Model, Visitor};
use kindred_training::pipeline::{TrainInputs, TrainParams, train};
use kindred_training::progress::Progress;
use std::hint::black_box;
use std::path::Path;

fn model() -> (tempfile::TempDir, Model) {
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/demo");
    let tmp = tempfile::tempdir().unwrap();
    let inputs = TrainInputs {
        events: vec![shop.join("events.parquet")],
        items: Some(shop.join("items.parquet")),
        identities: Some(shop.join("identities.parquet")),
        ..TrainInputs::default()
    };
    let params = TrainParams {
        evaluate: false,
        version: Some("bench".into()),
        ..TrainParams::default()
    };
    train(&inputs, &params, tmp.path(), Progress::Hidden).unwrap();
    let m = Model::load(&tmp.path().join("bench")).unwrap();
    (tmp, m)
}

fn landing(c: &mut Criterion) {
    let (_tmp, m) = model();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("kindred.toml.sample");
    let config = Config::from_toml(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
    config.validate().unwrap();
    let landing = config.landing;
    let now = chrono::Utc::now().timestamp();
    let customers: Vec<String> = m
        .customers
        .ids()
        .iter()
        .filter(|c| !c.starts_with("anon:"))
        .step_by(13)
        .cloned()
        .collect();
    let mut i = 0usize;
    c.bench_function("compose_landing_page", |b| {
        b.iter(|| {
            i += 1;
            let v = m.visitor(&customers[i % customers.len()]).unwrap();
            black_box(compose(&m, &v, &landing, "home", now).unwrap())
        })
    });
    let fresh = Visitor::unknown("anon:bench-new-visitor");
    c.bench_function("compose_landing_page_new_visitor", |b| {
        b.iter(|| black_box(compose(&m, &fresh, &landing, "home", now).unwrap()))
    });
}

criterion_group!(benches, landing);
criterion_main!(benches);
