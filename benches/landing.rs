//! In-process speed of `compose_landing_page` on the demo shop (trained once before timing)
//! with the sample configuration's home page (`kindred.toml.sample`): known customers in
//! rotation, and a brand-new visitor (every slot from fallbacks).
#![allow(clippy::unwrap_used)]

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use kindred::config::Config;
use kindred::landing::compose;
use kindred::serving::Visitor;
use std::hint::black_box;
use std::path::Path;

fn landing(c: &mut Criterion) {
    let (_tmp, m) = common::demo_model();
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
