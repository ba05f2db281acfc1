//! Cold-start content embeddings land among the warm items they resemble.
#![allow(clippy::unwrap_used)]

use kindred_training::content::{ContentModel, ContentWeights, content_embeddings};
use kindred_training::data::{Catalog, Item};
use kindred_training::ids::IdMap;
use kindred_training::index::{BruteForce, VectorIndex};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TOPS: [&str; 4] = ["shoes", "bags", "books", "garden"];
const SUBS: [&str; 3] = ["a", "b", "c"];
const BRANDS: [&str; 6] = ["acme", "globex", "initech", "umbrella", "hooli", "stark"];

fn item(i: usize, category: &str, brand: Option<&str>, price: f64) -> Item {
    Item {
        item_id: format!("sku-{i}"),
        title: format!("item {i}"),
        category: category.to_owned(),
        brand: brand.map(str::to_owned),
        color: Some(["black", "blue", "red"][i % 3].to_owned()),
        price: Some(price),
        in_stock: true,
        image_url: None,
        url: None,
    }
}

/// 600 warm items whose embeddings cluster by subcategory (and a little by brand), plus the
/// catalog rows; returns (catalog, item_rows, warm embeddings).
fn fixture() -> (Catalog, Vec<Option<usize>>, Array2<f32>) {
    let dim = 16;
    let mut rng = StdRng::seed_from_u64(5);
    let mut centre =
        |_: usize| -> Vec<f32> { (0..dim).map(|_| rng.r#gen::<f32>() * 2.0 - 1.0).collect() };
    let top_centres: Vec<Vec<f32>> = (0..TOPS.len()).map(&mut centre).collect();
    let sub_centres: Vec<Vec<f32>> = (0..TOPS.len() * SUBS.len()).map(&mut centre).collect();
    let brand_centres: Vec<Vec<f32>> = (0..BRANDS.len()).map(&mut centre).collect();
    let mut rng = StdRng::seed_from_u64(6);
    let mut items = Vec::new();
    let mut warm = Array2::<f32>::zeros((600, dim));
    for i in 0..600 {
        let (t, s, b) = (i % 4, (i / 4) % 3, (i / 12) % 6);
        items.push(item(
            i,
            &format!("{}/{}", TOPS[t], SUBS[s]),
            Some(BRANDS[b]),
            10.0 + (i % 50) as f64,
        ));
        let scale = 0.5 + rng.r#gen::<f32>() * 2.0;
        for d in 0..dim {
            let v = 2.0 * top_centres[t][d]
                + sub_centres[t * 3 + s][d]
                + 0.4 * brand_centres[b][d]
                + 0.6 * (rng.r#gen::<f32>() - 0.5);
            warm[[i, d]] = scale * v;
        }
    }
    // Two cold items: a known category and brand, and an unseen category with an unseen brand.
    items.push(item(600, "shoes/b", Some("acme"), 30.0));
    let mut unknown = item(601, "kitchen/knives", Some("nobrand"), 55.0);
    unknown.color = Some("mauve".to_owned());
    items.push(unknown);
    items.push(item(602, "kitchen/pots", Some("Globex"), 20.0));
    let ids = IdMap::from_ids(items.iter().map(|i| i.item_id.clone()));
    let mut rows: Vec<Option<usize>> = (0..600).map(Some).collect();
    rows.extend([None, None, None]);
    (Catalog { ids, items }, rows, warm)
}

#[test]
fn cold_item_lands_among_warm_items_of_its_category() {
    let (catalog, rows, warm) = fixture();
    let model = content_embeddings(&catalog, &rows, &warm);
    let v = model.embed(&catalog.items[600]).unwrap();
    assert_eq!(v.len(), 16);
    let index = BruteForce::new(&warm);
    let nearest = index.search(&v, 10, None);
    let same_sub = nearest
        .iter()
        .filter(|(r, _)| catalog.items[*r as usize].category == "shoes/b")
        .count();
    let same_top = nearest
        .iter()
        .filter(|(r, _)| catalog.items[*r as usize].top_category() == "shoes")
        .count();
    assert!(same_sub >= 6, "{same_sub} of 10 share shoes/b: {nearest:?}");
    assert_eq!(same_top, 10);
    // Scaled to the warm items' median norm.
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(
        (norm - model.target_norm).abs() < 1e-3 * model.target_norm,
        "{norm} vs {}",
        model.target_norm
    );
}

#[test]
fn unseen_category_and_brand_fall_back_without_nans() {
    let (catalog, rows, warm) = fixture();
    let model = content_embeddings(&catalog, &rows, &warm);
    // Nothing known (category, brand, colour, price bucket): the global mean direction.
    let unknown = model.embed(&catalog.items[601]).unwrap();
    assert!(unknown.iter().all(|x| x.is_finite()));
    let global_norm = model.global_mean.iter().map(|x| x * x).sum::<f32>().sqrt();
    let cos: f32 = unknown
        .iter()
        .zip(&model.global_mean)
        .map(|(a, b)| a * b)
        .sum::<f32>()
        / (global_norm * model.target_norm);
    assert!((cos - 1.0).abs() < 1e-4, "cosine to the global mean {cos}");
    // Unseen category, known brand (case-insensitive): the brand's warm items come first.
    let branded = model.embed(&catalog.items[602]).unwrap();
    assert!(branded.iter().all(|x| x.is_finite()));
    let brand = &model.features["brand:globex"];
    let brand_norm = brand.mean.iter().map(|x| x * x).sum::<f32>().sqrt();
    let brand_cos: f32 = branded
        .iter()
        .zip(&brand.mean)
        .map(|(a, b)| a * b)
        .sum::<f32>()
        / (brand_norm * model.target_norm);
    assert!(brand_cos > 0.9, "cosine to the brand mean {brand_cos}");
}

#[test]
fn cold_embeddings_cover_exactly_the_cold_items_and_the_model_round_trips() {
    let (catalog, rows, warm) = fixture();
    let model = ContentModel::fit(&catalog, &rows, &warm, ContentWeights::default());
    assert_eq!(model.warm_items, 600);
    assert!(model.features.contains_key("category:shoes"));
    assert!(model.features.contains_key("category:shoes/b"));
    assert!(model.features.contains_key("price:shoes:0"));
    assert_eq!(model.features["category:shoes/b"].count, 50);
    let cold = model.cold_embeddings(&catalog, &rows);
    assert_eq!(
        cold.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![600, 601, 602]
    );
    let json = serde_json::to_string(&model).unwrap();
    let back: ContentModel = serde_json::from_str(&json).unwrap();
    assert_eq!(
        back.embed(&catalog.items[600]),
        model.embed(&catalog.items[600])
    );
}

#[test]
fn no_warm_items_gives_no_embedding() {
    let (catalog, _, warm) = fixture();
    let model = content_embeddings(&catalog, &vec![None; catalog.len()], &warm);
    assert_eq!(model.warm_items, 0);
    assert_eq!(model.embed(&catalog.items[0]), None);
}
