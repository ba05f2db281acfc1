//! What the answers mean, on the committed demo shop (trained once, ~20 s): the index agrees
//! with brute force, similar items share categories far above chance, and "also want" leans
//! to the customer's segment.
#![allow(clippy::unwrap_used)]

mod common;

use kindred::serving::{ListQuery, Model, also_want, category_under, similar_items};
use kindred_training::index::HnswParams;
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

fn demo() -> &'static Model {
    static M: OnceLock<(tempfile::TempDir, Model)> = OnceLock::new();
    &M.get_or_init(|| {
        let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/demo");
        let tmp = tempfile::tempdir().unwrap();
        common::train_into(&shop, tmp.path(), "demo");
        let mut model = Model::load(&tmp.path().join("demo")).unwrap();
        // The demo catalog is small enough for the full scan, and the trainer's stored
        // neighbour lists would answer before any search; measure the graph itself.
        model.item_neighbours = None;
        model.customer_neighbours = None;
        for index in [&mut model.item_index, &mut model.customer_index] {
            let params = HnswParams {
                full_scan_rows: 0,
                ..index.params()
            };
            index.set_search_params(params).unwrap();
        }
        (tmp, model)
    })
    .1
}

#[test]
fn hnsw_agrees_with_brute_force_on_200_random_items() {
    let m = demo();
    let mut rows: Vec<usize> = (0..m.items.len()).collect();
    rows.shuffle(&mut StdRng::seed_from_u64(3));
    rows.truncate(200);
    let (mut hits, mut total) = (0usize, 0usize);
    for &r in &rows {
        let id = &m.items.items[r].item_id;
        let approx = similar_items(m, id, &ListQuery::default()).unwrap();
        let exact = similar_items(
            m,
            id,
            &ListQuery {
                exact: true,
                ..ListQuery::default()
            },
        )
        .unwrap();
        assert_eq!(approx.len(), 10);
        total += exact.len();
        hits += exact
            .iter()
            .filter(|e| approx.iter().any(|a| a.item_id == e.item_id))
            .count();
    }
    let agreement = hits as f64 / total as f64;
    eprintln!(
        "similar: HNSW agrees with exact on {:.1}% of the top-10 (200 items)",
        agreement * 100.0
    );
    assert!(agreement >= 0.95, "{agreement}");
}

#[test]
fn similar_items_share_the_top_category_far_above_chance() {
    let m = demo();
    // Chance: two catalog items drawn at random share a top-level category.
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for it in &m.items.items {
        *counts.entry(it.top_category()).or_default() += 1;
    }
    let n = m.items.len() as f64;
    let chance: f64 = counts.values().map(|&c| (c as f64 / n).powi(2)).sum();
    let (mut same, mut pairs) = (0usize, 0usize);
    for it in m.items.items.iter().step_by(3) {
        for s in similar_items(m, &it.item_id, &ListQuery::default()).unwrap() {
            pairs += 1;
            same += usize::from(s.category.split('/').next() == Some(it.top_category()));
        }
    }
    let share = same as f64 / pairs as f64;
    eprintln!(
        "similar: {:.1}% share the top-level category; chance {:.1}%",
        share * 100.0,
        chance * 100.0
    );
    assert!(share > 3.0 * chance, "share {share} vs chance {chance}");
    assert!(share > 0.5, "{share}");
}

#[test]
fn also_want_leans_to_the_segment_categories() {
    let m = demo();
    let seg = m.segmentation.as_ref().unwrap();
    let tops: HashMap<u32, Vec<String>> = seg
        .segments
        .iter()
        .map(|s| {
            (
                s.id,
                s.top_categories.iter().map(|(c, _)| c.clone()).collect(),
            )
        })
        .collect();
    let in_segment =
        |sid: u32, category: &str| tops[&sid].iter().any(|t| category_under(category, t));
    // Chance: the share of all carts and purchases that fall in a customer's segment's top
    // categories, averaged the same way over the sampled customers.
    let mut all: Vec<&str> = Vec::new();
    for h in &m.histories {
        for e in h.iter().filter(|e| e.weight >= m.cart_weight) {
            all.push(&m.items.items[e.item as usize].category);
        }
    }
    let (mut hits, mut total, mut chance_sum) = (0usize, 0usize, 0f64);
    let customers: Vec<usize> = (0..m.customers.len())
        .filter(|&c| !m.customers.id(c as u32).starts_with("anon:"))
        .step_by(10)
        .take(200)
        .collect();
    for &c in &customers {
        let sid = seg.assignments[c];
        let got = also_want(m, &m.bundle_visitor(c), &ListQuery::default()).unwrap();
        let base = all.iter().filter(|cat| in_segment(sid, cat)).count() as f64 / all.len() as f64;
        for it in &got {
            total += 1;
            hits += usize::from(in_segment(sid, &it.category));
            chance_sum += base;
        }
    }
    let share = hits as f64 / total as f64;
    let chance = chance_sum / total as f64;
    eprintln!(
        "also-want: {:.1}% of {total} items in the customer's segment top categories; chance {:.1}%",
        share * 100.0,
        chance * 100.0
    );
    assert!(
        share > 1.3 * chance && share > chance + 0.1,
        "share {share} vs chance {chance}"
    );
}
