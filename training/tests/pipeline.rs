//! The whole offline pipeline on a generated shop: bundle contents, reload, bad input, and
//! the committed golden bundle of every format version.

#![allow(clippy::unwrap_used)]

use kindred_training::bundle::{BundleReader, FORMAT_VERSION, load_recommender, newest};
use kindred_training::data::read::{ReadOptions, read_events, read_identities};
use kindred_training::generate::{GenerateParams, generate_shop};
use kindred_training::interactions::{EventWeights, resolve};
use kindred_training::models::tune::fit_hybrid;
use kindred_training::models::{Recommender, histories};
use kindred_training::pipeline::{TrainInputs, TrainParams, train};
use kindred_training::progress::Progress;
use kindred_training::segments::Segmentation;
use std::path::{Path, PathBuf};

fn shop(dir: &Path, customers: usize, items: usize, seed: u64) {
    let params = GenerateParams {
        customers,
        items,
        days: 60,
        seed,
        events: None,
        groups: 4,
    };
    generate_shop(&params, dir, Progress::Hidden).unwrap();
}

fn inputs(dir: &Path) -> TrainInputs {
    TrainInputs {
        events: vec![dir.join("events.parquet")],
        items: Some(dir.join("items.parquet")),
        identities: Some(dir.join("identities.parquet")),
        read: ReadOptions::default(),
    }
}

#[test]
fn trains_a_complete_bundle_that_reloads_into_the_same_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("shop");
    shop(&data, 500, 150, 3);
    let models = tmp.path().join("models");
    let report = train(
        &inputs(&data),
        &TrainParams::default(),
        &models,
        Progress::Hidden,
    )
    .unwrap();
    let text = report.to_string();
    assert!(
        text.contains("Segments:") && text.contains("popularity"),
        "{text}"
    );
    let eval = report.eval.as_ref().unwrap();
    assert!(
        eval.report.metrics.ndcg > eval.report.baseline.ndcg,
        "{text}"
    );
    assert!(
        report.recall.items >= 0.95 && report.recall.customers >= 0.95,
        "{text}"
    );
    assert!(
        report.counts.cold_items > 0,
        "the generator leaves some items without events"
    );

    let dir = newest(&models).unwrap();
    assert_eq!(dir, report.bundle);
    let reader = BundleReader::open(&dir).unwrap();
    let m = &reader.manifest;
    assert_eq!(m.format_version, FORMAT_VERSION);
    for file in [
        "items.parquet",
        "item_embeddings.parquet",
        "customer_embeddings.parquet",
        "interactions.parquet",
        "segments.json",
        "popularity.json",
        "model.json",
        "content.json",
        "als_item_factors.parquet",
    ] {
        assert!(
            m.files.contains_key(file),
            "{file} missing from {:?}",
            m.files.keys()
        );
    }
    assert!(m.files.keys().any(|f| f.starts_with("items.hnsw")));
    assert_eq!(m.counts["interactions"], report.counts.interactions);
    assert!(m.metrics["test"]["metrics"]["ndcg"].as_f64().unwrap() > 0.0);
    let segments: Segmentation = reader.read_json("segments.json").unwrap();
    assert!(segments.segments.iter().all(|s| !s.description.is_empty()));
    let (item_ids, item_vectors) = reader.read_embeddings("item_embeddings.parquet").unwrap();
    assert_eq!(item_ids.len(), 150);
    assert!(item_vectors.iter().all(|v| v.is_finite()));

    // Cold start: items without interactions get content embeddings whose nearest warm
    // items mostly share their top-level category (chance: about 1 in 10 categories).
    let (catalog, _) = kindred_training::data::read::read_catalog(
        &reader.path("items.parquet"),
        &ReadOptions::default(),
    )
    .unwrap();
    let warm: std::collections::HashSet<String> = {
        let (ids, _) = reader.read_embeddings("als_item_factors.parquet").unwrap();
        ids.into_iter().collect()
    };
    let exact = kindred_training::index::BruteForce::new(&item_vectors);
    let (mut same, mut total) = (0usize, 0usize);
    for (row, item) in catalog.items.iter().enumerate() {
        if warm.contains(&item.item_id) {
            continue;
        }
        let keep = |r: usize| warm.contains(&catalog.items[r].item_id);
        let hits = kindred_training::index::VectorIndex::search(
            &exact,
            item_vectors.row(row).as_slice().unwrap(),
            10,
            Some(&keep),
        );
        assert_eq!(hits.len(), 10);
        same += hits
            .iter()
            .filter(|(r, _)| catalog.items[*r as usize].top_category() == item.top_category())
            .count();
        total += hits.len();
    }
    assert!(total > 0);
    assert!(
        same * 10 >= total * 6,
        "cold items: {same} of {total} neighbours share the category"
    );

    // The reloaded recommender scores exactly like a fresh fit with the same parameters.
    let loaded = load_recommender(&reader).unwrap();
    let opts = ReadOptions::default();
    let (log, _) = read_events(&data.join("events.parquet"), &opts).unwrap();
    let (links, _) = read_identities(&data.join("identities.parquet"), &opts).unwrap();
    let (interactions, _) = resolve(&log, &links, &EventWeights::default());
    let fresh = fit_hybrid(&interactions, &loaded.model.params, Progress::Hidden).unwrap();
    let hist = histories(&interactions);
    let n = fresh.n_items();
    assert_eq!(loaded.items.ids(), interactions.items.ids());
    let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
    for user in [0usize, 7, 42] {
        fresh.score(&hist[user], &mut a);
        loaded.model.score(&hist[user], &mut b);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-4 * x.abs().max(1.0), "{x} vs {y}");
        }
    }
}

#[test]
fn bad_input_is_named_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    // A CSV without the `type` column.
    let events = tmp.path().join("events.csv");
    std::fs::write(
        &events,
        "ts,customer_id,item_id\n2026-01-01T00:00:00Z,c1,i1\n",
    )
    .unwrap();
    let inputs = TrainInputs {
        events: vec![events],
        ..TrainInputs::default()
    };
    let err = train(&inputs, &TrainParams::default(), &models, Progress::Hidden)
        .unwrap_err()
        .to_string();
    assert!(err.contains("events.csv") && err.contains("type"), "{err}");
    assert!(!models.exists() || std::fs::read_dir(&models).unwrap().next().is_none());

    // Events that carry no item preference at all: a clear error, not an empty model.
    let events = tmp.path().join("pages.csv");
    std::fs::write(
        &events,
        "ts,customer_id,type,page\n2026-01-01T00:00:00Z,c1,page_view,/home\n",
    )
    .unwrap();
    let inputs = TrainInputs {
        events: vec![events],
        ..TrainInputs::default()
    };
    let err = train(&inputs, &TrainParams::default(), &models, Progress::Hidden)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pages.csv") && err.contains("no item interactions"),
        "{err}"
    );
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/bundle-v{FORMAT_VERSION}"))
}

/// Every committed golden bundle (one per format version this build reads) still opens and
/// serves.
#[test]
fn golden_bundles_of_every_supported_version_load() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut seen = 0;
    for version in 1..=FORMAT_VERSION {
        let dir = root.join(format!("bundle-v{version}"));
        assert!(
            dir.is_dir(),
            "no golden bundle for format version {version} at {}",
            dir.display()
        );
        let reader = BundleReader::open(&dir).unwrap();
        assert_eq!(reader.manifest.format_version, version);
        let loaded = load_recommender(&reader).unwrap();
        let mut out = vec![0f32; loaded.model.n_items()];
        loaded.model.score(&[], &mut out);
        assert!(
            out.iter().any(|s| *s > 0.0),
            "popularity fallback scores nothing"
        );
        let (_, customers) = reader
            .read_embeddings("customer_embeddings.parquet")
            .unwrap();
        assert!(customers.nrows() > 0);
        seen += 1;
    }
    assert_eq!(seen, FORMAT_VERSION as usize);
}

/// Writes the golden bundle of the current format version (run by hand when the format
/// version changes: `cargo test -p kindred-training --test pipeline -- --ignored`).
#[test]
#[ignore = "rewrites the committed golden bundle"]
fn regenerate_golden_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("shop");
    shop(&data, 120, 40, 5);
    let models = tmp.path().join("models");
    let params = TrainParams {
        evaluate: false,
        version: Some(format!("bundle-v{FORMAT_VERSION}")),
        ..TrainParams::default()
    };
    train(&inputs(&data), &params, &models, Progress::Hidden).unwrap();
    let target = golden_dir();
    let _ = std::fs::remove_dir_all(&target);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let src = models.join(format!("bundle-v{FORMAT_VERSION}"));
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
    }
}
