//! In-process speed of the read queries on the demo shop (trained once before timing):
//! `similar_items` (HNSW and brute force), `recommend_for_customer`, `also_want`.
#![allow(clippy::unwrap_used)]

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use kindred::serving::{ListQuery, also_want, lookalikes, recommend, similar_items};
use kindred_training::index::VectorIndex;
use std::hint::black_box;

fn serving(c: &mut Criterion) {
    let (_tmp, m) = common::demo_model();
    let items: Vec<String> = m
        .items
        .items
        .iter()
        .step_by(7)
        .map(|i| i.item_id.clone())
        .collect();
    let customers = common::sample_customers(&m);
    let q = ListQuery::default();
    let exact = ListQuery {
        exact: true,
        ..ListQuery::default()
    };
    let mut i = 0usize;
    c.bench_function("similar_items", |b| {
        b.iter(|| {
            i += 1;
            black_box(similar_items(&m, &items[i % items.len()], &q).unwrap())
        })
    });
    c.bench_function("similar_items_exact", |b| {
        b.iter(|| {
            i += 1;
            black_box(similar_items(&m, &items[i % items.len()], &exact).unwrap())
        })
    });
    c.bench_function("recommend_for_customer", |b| {
        b.iter(|| {
            i += 1;
            let v = m.visitor(&customers[i % customers.len()]).unwrap();
            black_box(recommend(&m, &v, &q).unwrap())
        })
    });
    c.bench_function("also_want", |b| {
        b.iter(|| {
            i += 1;
            let v = m.visitor(&customers[i % customers.len()]).unwrap();
            black_box(also_want(&m, &v, &q).unwrap())
        })
    });
    // The online search of a visitor's 50 nearest customers (what a visitor with live
    // events gets; bundle customers read the trainer's lists).
    let queries: Vec<Vec<f32>> = (0..m.customers.len())
        .step_by(13)
        .map(|c| m.customer_index.exact().row(c).to_vec())
        .collect();
    c.bench_function("customer_search_50", |b| {
        b.iter(|| {
            i += 1;
            black_box(
                m.customer_index
                    .search(&queries[i % queries.len()], 51, None),
            )
        })
    });
    // The neighbour search alone that also-want starts with (50 nearest customers).
    c.bench_function("lookalikes_50", |b| {
        b.iter(|| {
            i += 1;
            let v = m.visitor(&customers[i % customers.len()]).unwrap();
            black_box(lookalikes(&m, &v, 50, false).unwrap())
        })
    });
}

criterion_group!(benches, serving);
criterion_main!(benches);
