//! Ingestion speed of the event store: `ingest_batch` appends batches of 100 realistic events
//! from 4 threads at once (as concurrent `POST /v1/events` requests do), durable per batch
//! (`synchronous=FULL`, group commit). Reported as events per second.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use kindred::store::{Store, StoreOptions};
use kindred_training::data::EventType;
use kindred_training::data::write::EventRow;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

const THREADS: usize = 4;
const BATCH: usize = 100;
const BATCHES_PER_THREAD: usize = 10;
const EVENTS_PER_ITER: usize = THREADS * BATCH * BATCHES_PER_THREAD;

/// A realistic event: mostly views and page views, some carts and purchases, half of them by
/// known customers, with context columns filled as a storefront sends them.
fn event(rng: &mut StdRng, n: u64) -> EventRow {
    let kind = match rng.gen_range(0..100) {
        0..40 => EventType::View,
        40..70 => EventType::PageView,
        70..80 => EventType::Search,
        80..92 => EventType::AddToCart,
        92..97 => EventType::Purchase,
        _ => EventType::Review,
    };
    let item = format!("sku-{:05}", rng.gen_range(0..20_000));
    let known = rng.gen_bool(0.5);
    EventRow {
        event_id: Some(format!("evt-{n:012}")),
        customer_id: known.then(|| format!("cust-{:06}", rng.gen_range(0..100_000))),
        anonymous_id: Some(format!("anon-{:08x}", rng.r#gen::<u32>())),
        item_id: kind.needs_item().then(|| item.clone()),
        page: Some(format!("/p/{item}")),
        query: (kind == EventType::Search).then(|| "blue running sneakers".to_owned()),
        quantity: matches!(kind, EventType::AddToCart | EventType::Purchase).then_some(1),
        price: matches!(kind, EventType::AddToCart | EventType::Purchase)
            .then(|| rng.gen_range(5.0..300.0)),
        rating: (kind == EventType::Review).then(|| rng.gen_range(1..=5) as f32),
        text: (kind == EventType::Review).then(|| "fits well, true to size".to_owned()),
        device: Some("mobile".into()),
        browser: Some("safari".into()),
        channel: Some("web".into()),
        consent: Some("full".into()),
        ..EventRow::new(1_700_000_000_000 + n as i64, kind)
    }
}

fn ingest_batch(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut next_id = 0u64;

    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(EVENTS_PER_ITER as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.bench_function("ingest_batch", |b| {
        b.iter_custom(|iters| {
            // Unique events for every iteration, built before the clock starts.
            let mut per_thread: Vec<Vec<Vec<EventRow>>> = vec![Vec::new(); THREADS];
            for _ in 0..iters {
                for batches in &mut per_thread {
                    for _ in 0..BATCHES_PER_THREAD {
                        let batch = (0..BATCH)
                            .map(|_| {
                                next_id += 1;
                                event(&mut rng, next_id)
                            })
                            .collect();
                        batches.push(batch);
                    }
                }
            }
            let start = Instant::now();
            std::thread::scope(|s| {
                for batches in per_thread {
                    let store = store.clone();
                    s.spawn(move || {
                        for batch in batches {
                            store.append_blocking(batch).unwrap();
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = ingest_batch
}
criterion_main!(benches);
