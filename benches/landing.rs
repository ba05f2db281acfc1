//! In-process speed of `compose_landing_page` on the demo shop (trained once before timing)
//! with the sample configuration's home page (`kindred.toml.sample`): known customers in
//! rotation, the same customers with fresh live events, and a brand-new visitor (every slot
//! from fallbacks).
#![allow(clippy::unwrap_used)]

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use kindred::config::Config;
use kindred::landing::compose;
use kindred::live::{Live, LiveParams};
use kindred::serving::Visitor;
use kindred_training::data::EventType;
use kindred_training::data::write::EventRow;
use std::hint::black_box;
use std::path::Path;

fn landing(c: &mut Criterion) {
    let (_tmp, m) = common::demo_model();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("kindred.toml.sample");
    let config = Config::from_toml(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
    config.validate().unwrap();
    let landing = config.landing;
    let now = chrono::Utc::now().timestamp();
    let customers = common::sample_customers(&m);
    let mut i = 0usize;
    c.bench_function("compose_landing_page", |b| {
        b.iter(|| {
            i += 1;
            let v = m.visitor(&customers[i % customers.len()]).unwrap();
            black_box(compose(&m, &v, &landing, "home", now).unwrap())
        })
    });
    // The same customers after three live views each (newer than the bundle): their
    // embedding is a fold-in of the merged history, so the page searches their nearest
    // customers online instead of reading the trainer's lists.
    let live = Live::new(LiveParams::default());
    let ts_ms = (m.trained_until + 3_600) * 1000;
    for (n, id) in customers.iter().enumerate() {
        for v in 0..3 {
            let item = &m.items.items[(n * 7 + v * 31) % m.items.len()].item_id;
            live.apply(&EventRow {
                customer_id: Some(id.clone()),
                item_id: Some(item.clone()),
                ..EventRow::new(ts_ms + v as i64, EventType::View)
            });
        }
    }
    c.bench_function("compose_landing_page_live_visitor", |b| {
        b.iter(|| {
            i += 1;
            let v = live
                .visitor(&m, &customers[i % customers.len()], true)
                .unwrap();
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
