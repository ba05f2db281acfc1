//! The serving shortcuts answer exactly what the full computation answers, on the small
//! shop:
//! - the trainer's stored neighbour lists: every customer's also-want and lookalikes and
//!   every item's similar items, with and without filters, equal the answers of the same
//!   model searching online (an exact scan either way); a bundle trained without lists
//!   loads and searches;
//! - a category-filtered recommendation ranks only the category's items: it equals the
//!   unfiltered ranking's items of that category.
#![allow(clippy::unwrap_used)]

mod common;

use kindred::serving::{
    Filters, ListQuery, Model, Visitor, also_want, category_under, lookalikes, recommend,
    similar_items,
};
use kindred_training::pipeline::train::TrainParams;
use std::borrow::Cow;

/// The same model without its stored lists: every query searches.
fn searching(m: &Model) -> Model {
    let mut copy = Model::load(&m.dir).unwrap();
    copy.customer_neighbours = None;
    copy.item_neighbours = None;
    copy
}

#[test]
fn stored_lists_answer_what_the_search_answers() {
    let m = common::small_model();
    assert!(
        m.customer_neighbours.is_some() && m.item_neighbours.is_some(),
        "the trainer stores neighbour lists by default"
    );
    let s = searching(m);
    let queries = [
        ListQuery::default(),
        ListQuery {
            k: 25,
            ..ListQuery::default()
        },
        ListQuery {
            k: 8,
            filters: Filters {
                in_stock: true,
                ..Filters::default()
            },
            ..ListQuery::default()
        },
    ];
    let (mut customers, mut from_lists) = (0, 0);
    for c in 0..m.customers.len() {
        let (v, sv) = (m.bundle_visitor(c), s.bundle_visitor(c));
        if v.embedding.is_none() {
            continue;
        }
        customers += 1;
        from_lists += usize::from(m.stored_neighbours(&v, 50).is_some());
        for q in &queries {
            assert_eq!(
                also_want(m, &v, q).unwrap(),
                also_want(&s, &sv, q).unwrap(),
                "also-want of customer row {c}, {q:?}"
            );
        }
        assert_eq!(
            lookalikes(m, &v, 10, false).unwrap(),
            lookalikes(&s, &sv, 10, false).unwrap(),
            "lookalikes of customer row {c}"
        );
    }
    assert!(customers > 500, "{customers} customers with embeddings");
    assert_eq!(
        from_lists, customers,
        "every bundle customer is read from the lists"
    );

    // Filtered by a category: the lists answer when enough of them pass, else the search.
    let category = m.items.items[0].top_category().to_owned();
    for r in 0..m.items.len() {
        let id = &m.items.items[r].item_id;
        for q in queries.iter().cloned().chain([ListQuery {
            k: 5,
            filters: Filters {
                category: Some(category.clone()),
                ..Filters::default()
            },
            ..ListQuery::default()
        }]) {
            assert_eq!(
                similar_items(m, id, &q).unwrap(),
                similar_items(&s, id, &q).unwrap(),
                "similar items of {id}, {q:?}"
            );
        }
    }
}

#[test]
fn a_visitor_with_a_new_embedding_is_searched_not_read_from_the_lists() {
    let m = common::small_model();
    let c = (0..m.customers.len())
        .find(|&c| m.bundle_visitor(c).embedding.is_some())
        .unwrap();
    let v = m.bundle_visitor(c);
    assert!(m.stored_neighbours(&v, 50).is_some());
    // A live fold-in gives the visitor an embedding of their own: the stored list of their
    // bundle row no longer describes them.
    let moved: Vec<f32> = v
        .embedding
        .as_deref()
        .unwrap()
        .iter()
        .rev()
        .copied()
        .collect();
    let live = Visitor {
        embedding: Some(Cow::Owned(moved)),
        ..v.clone()
    };
    assert!(m.stored_neighbours(&live, 50).is_none());
    assert_ne!(
        lookalikes(m, &live, 10, false).unwrap(),
        lookalikes(m, &v, 10, false).unwrap(),
        "the moved embedding has other neighbours"
    );
    assert!(
        m.stored_neighbours(&v, 51).is_none(),
        "more than the lists hold"
    );
}

#[test]
fn a_bundle_trained_without_lists_loads_and_searches() {
    let models = tempfile::tempdir().unwrap();
    let params = TrainParams {
        neighbour_lists: 0,
        ..TrainParams::default()
    };
    common::train_with(&common::small().shop, models.path(), "bare", params);
    let dir = models.path().join("bare");
    assert!(!dir.join("customers.neighbours").exists());
    assert!(!dir.join("items.neighbours").exists());
    let bare = Model::load(&dir).unwrap();
    assert!(bare.customer_neighbours.is_none() && bare.item_neighbours.is_none());
    let m = common::small_model();
    let id = &m.items.items[3].item_id;
    assert_eq!(
        similar_items(&bare, id, &ListQuery::default())
            .unwrap()
            .len(),
        10
    );
}

#[test]
fn category_filtered_recommendations_are_the_full_rankings_category_items() {
    let m = common::small_model();
    let mut prefixes: Vec<String> = m
        .items
        .items
        .iter()
        .flat_map(|i| [i.top_category().to_owned(), i.category.clone()])
        .collect();
    prefixes.sort();
    prefixes.dedup();
    prefixes.truncate(12);
    prefixes.push("no-such-category".into());
    let everything = ListQuery {
        k: m.items.len(),
        ..ListQuery::default()
    };
    let mut compared = 0;
    for c in (0..m.customers.len()).step_by(7) {
        let v = m.bundle_visitor(c);
        let full = recommend(m, &v, &everything).unwrap();
        for p in &prefixes {
            for k in [3, 10] {
                let q = ListQuery {
                    k,
                    filters: Filters {
                        category: Some(format!("{p}/")),
                        in_stock: k == 3,
                        ..Filters::default()
                    },
                    ..ListQuery::default()
                };
                let want: Vec<_> = full
                    .iter()
                    .filter(|i| category_under(&i.category, p) && (k != 3 || i.in_stock))
                    .take(k)
                    .cloned()
                    .collect();
                assert_eq!(recommend(m, &v, &q).unwrap(), want, "row {c}, {q:?}");
                compared += want.len();
            }
        }
    }
    assert!(compared > 1000, "{compared} items compared");
}

#[test]
fn a_withheld_customer_is_nobodys_neighbour() {
    // Its own copy: withholding changes the model.
    let m = Model::load(&common::small_model().dir).unwrap();
    // A customer whose nearest customer bought or carted something they do not have.
    let y = (0..m.customers.len())
        .find(|&c| {
            let v = m.bundle_visitor(c);
            let Some(nearest) = m.stored_neighbours(&v, 1).and_then(|n| n.first()) else {
                return false;
            };
            m.bought_or_carted[nearest.0 as usize]
                .iter()
                .any(|i| v.history.iter().all(|h| h.item != *i))
        })
        .unwrap();
    let v = m.bundle_visitor(y);
    let q = ListQuery {
        k: 50,
        ..ListQuery::default()
    };
    let before = lookalikes(&m, &v, 10, false).unwrap();
    let also_before = also_want(&m, &v, &q).unwrap();
    let x = before[0].customer_id.clone();
    m.withhold(&x);
    assert!(
        m.stored_neighbours(&v, 50).is_some(),
        "the list is still there"
    );
    let after = lookalikes(&m, &v, 10, false).unwrap();
    assert_eq!(after.len(), 10);
    assert!(after.iter().all(|l| l.customer_id != x), "{after:?}");
    assert_eq!(after[..9], before[1..], "the others move up by one");
    let also_after = also_want(&m, &v, &q).unwrap();
    assert_ne!(
        also_after, also_before,
        "the withheld customer's carts no longer count"
    );
}
