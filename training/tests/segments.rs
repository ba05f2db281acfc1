//! Segments recover the generator's hidden taste groups and read well.
#![allow(clippy::unwrap_used)]

use kindred_training::data::read::{ReadOptions, read_catalog, read_events, read_identities};
use kindred_training::generate::{GenerateParams, generate_shop, read_ground_truth};
use kindred_training::interactions::{EventWeights, resolve};
use kindred_training::progress::Progress;
use kindred_training::segments::{SegmentParams, SegmentParamsError, adjusted_rand_index, segment};
use std::collections::HashMap;
use std::sync::OnceLock;

#[test]
fn adjusted_rand_index_matches_hand_computed_values() {
    // Identical partitions up to renaming.
    assert!((adjusted_rand_index(&[0, 0, 1, 1, 2], &[5, 5, 3, 3, 9]) - 1.0).abs() < 1e-12);
    // a = [0,0,0,1,1,1], b = [0,0,1,1,2,2]: contingency cells 2,1,1,2 → Σ C(n_ij,2) = 2;
    // rows C(3,2)·2 = 6; columns C(2,2)·3 = 3; C(6,2) = 15; expected = 6·3/15 = 1.2;
    // max = 4.5; ARI = (2 - 1.2) / (4.5 - 1.2) = 0.8 / 3.3.
    let ari = adjusted_rand_index(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]);
    assert!((ari - 0.8 / 3.3).abs() < 1e-12, "{ari}");
    // A partition against everything in one cluster: expected equals index → 0.
    assert!(adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 0, 0]).abs() < 1e-12);
}

#[test]
fn params_check_names_the_broken_rule() {
    assert_eq!(SegmentParams::default().check(), Ok(()));
    let p = SegmentParams {
        k_min: 5,
        k_max: 4,
        ..SegmentParams::default()
    };
    assert_eq!(
        p.check(),
        Err(SegmentParamsError::KRange { k_min: 5, k_max: 4 })
    );
    let p = SegmentParams {
        k_min: 1,
        ..SegmentParams::default()
    };
    assert_eq!(p.check(), Err(SegmentParamsError::KMin(1)));
}

struct Shop {
    log: kindred_training::data::EventLog,
    links: kindred_training::data::IdentityLinks,
    catalog: kindred_training::data::Catalog,
    users: kindred_training::ids::IdMap,
    truth: Vec<(String, u32)>,
}

fn shop() -> &'static Shop {
    static SHOP: OnceLock<Shop> = OnceLock::new();
    SHOP.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let params = GenerateParams {
            customers: 3_000,
            items: 800,
            seed: 7,
            ..GenerateParams::demo()
        };
        generate_shop(&params, dir.path(), Progress::Hidden).unwrap();
        let opts = ReadOptions::default();
        let (log, _) = read_events(&dir.path().join("events.parquet"), &opts).unwrap();
        let (catalog, _) = read_catalog(&dir.path().join("items.parquet"), &opts).unwrap();
        let (links, _) = read_identities(&dir.path().join("identities.parquet"), &opts).unwrap();
        let truth = read_ground_truth(&dir.path().join("ground_truth/customers.parquet")).unwrap();
        let (interactions, _) = resolve(&log, &links, &EventWeights::default());
        Shop {
            log,
            links,
            catalog,
            users: interactions.users,
            truth,
        }
    })
}

#[test]
fn segments_recover_hidden_taste_groups() {
    let s = shop();
    let seg = segment(
        &s.log,
        &s.links,
        &s.catalog,
        &s.users,
        &SegmentParams::default(),
        Progress::Hidden,
    )
    .unwrap();
    assert_eq!(seg.assignments.len(), s.users.len());
    let truth: HashMap<&str, u32> = s.truth.iter().map(|(c, g)| (c.as_str(), *g)).collect();
    let (mut found, mut hidden) = (Vec::new(), Vec::new());
    for (u, id) in s.users.ids().iter().enumerate() {
        if let Some(&g) = truth.get(id.as_str()) {
            found.push(seg.assignments[u]);
            hidden.push(g);
        }
    }
    assert!(
        found.len() > 2_000,
        "only {} customers matched the ground truth",
        found.len()
    );
    let ari = adjusted_rand_index(&found, &hidden);
    eprintln!(
        "k = {}, silhouette {:.3} ({:?}), ARI {ari:.3}",
        seg.k, seg.silhouette, seg.silhouette_by_k
    );
    for segment in &seg.segments {
        eprintln!("[{}] {}: {}", segment.id, segment.name, segment.description);
    }
    assert!(ari >= 0.7, "ARI {ari:.3} with k = {}", seg.k);
}

#[test]
fn every_segment_is_described_by_its_top_category() {
    let s = shop();
    let seg = segment(
        &s.log,
        &s.links,
        &s.catalog,
        &s.users,
        &SegmentParams::default(),
        Progress::Hidden,
    )
    .unwrap();
    assert_eq!(seg.segments.len(), seg.k);
    let total: usize = seg.segments.iter().map(|x| x.size).sum();
    assert_eq!(total, s.users.len());
    for (id, segment) in seg.segments.iter().enumerate() {
        assert_eq!(segment.id as usize, id);
        assert_eq!(
            segment.size,
            seg.assignments
                .iter()
                .filter(|&&a| a as usize == id)
                .count()
        );
        assert!(!segment.name.is_empty());
        let (top, share) = &segment.top_categories[0];
        assert!(
            segment.description.contains(top.as_str()),
            "{}",
            segment.description
        );
        assert!(
            segment
                .description
                .contains(&format!("{:.0}%", 100.0 * share)),
            "{}",
            segment.description
        );
        assert!(
            segment.description.contains("What sets them apart"),
            "{}",
            segment.description
        );
        assert!(segment.avg_order_value.is_finite() && segment.price_level.is_finite());
        assert!((0.0..=1.0).contains(&segment.conversion_rate));
    }
    // Largest first.
    assert!(seg.segments.windows(2).all(|w| w[0].size >= w[1].size));
    let names: std::collections::BTreeSet<&str> =
        seg.segments.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names.len(), seg.k, "names repeat");
    let json = serde_json::to_string(&seg).unwrap();
    let back: kindred_training::segments::Segmentation = serde_json::from_str(&json).unwrap();
    assert_eq!(back.assignments, seg.assignments);
    for (x, y) in back.segments.iter().zip(&seg.segments) {
        assert_eq!(
            (&x.name, &x.description, x.size),
            (&y.name, &y.description, y.size)
        );
    }
}

#[test]
fn segmentation_is_deterministic_for_a_seed() {
    let s = shop();
    let params = SegmentParams {
        k_min: 4,
        k_max: 7,
        ..SegmentParams::default()
    };
    let a = segment(
        &s.log,
        &s.links,
        &s.catalog,
        &s.users,
        &params,
        Progress::Hidden,
    )
    .unwrap();
    let b = segment(
        &s.log,
        &s.links,
        &s.catalog,
        &s.users,
        &params,
        Progress::Hidden,
    )
    .unwrap();
    assert_eq!(a, b);
}
