//! The synthetic catalog: a fixed category tree, brands in three price tiers, colors,
//! log-normal prices, readable titles, Zipf-skewed popularity within each subcategory and a
//! few brand-new items that nobody has touched yet.

use super::sample::{cumulative, derive_seed, normal, weighted};
use crate::data::{Catalog, Item};
use crate::ids::IdMap;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// A brand's (and a taste group's) price tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Budget,
    Mid,
    Premium,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Budget, Tier::Mid, Tier::Premium];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Budget => "budget",
            Tier::Mid => "mid",
            Tier::Premium => "premium",
        }
    }

    /// Price multiplier of a brand in this tier.
    fn price_factor(self) -> f64 {
        match self {
            Tier::Budget => 0.6,
            Tier::Mid => 1.0,
            Tier::Premium => 1.9,
        }
    }
}

/// How an item's title ends.
#[derive(Clone, Copy)]
enum Variant {
    ShoeSize,
    ApparelSize,
    Weight,
    Plain,
}

struct SubSpec {
    name: &'static str,
    /// Typical (median) price of a mid-tier item.
    base_price: f64,
    nouns: &'static [&'static str],
}

struct TopSpec {
    name: &'static str,
    colored: bool,
    variant: Variant,
    subs: &'static [SubSpec],
    /// Two budget, two mid and two premium brands, in that order.
    brands: [&'static str; 6],
}

const fn sub(name: &'static str, base_price: f64, nouns: &'static [&'static str]) -> SubSpec {
    SubSpec {
        name,
        base_price,
        nouns,
    }
}

/// Colors of colored items, most common first.
pub(crate) const COLORS: [&str; 12] = [
    "black", "white", "grey", "navy", "blue", "red", "green", "beige", "brown", "pink", "yellow",
    "purple",
];
const COLOR_WEIGHTS: [f64; 12] = [3.0, 2.5, 2.0, 1.5, 1.5, 1.0, 1.0, 1.0, 1.0, 0.8, 0.6, 0.5];

const TREE: &[TopSpec] = &[
    TopSpec {
        name: "shoes",
        colored: true,
        variant: Variant::ShoeSize,
        subs: &[
            sub(
                "sneakers",
                85.0,
                &[
                    "Runner Sneakers",
                    "Court Sneakers",
                    "Canvas Sneakers",
                    "High-Top Sneakers",
                ],
            ),
            sub(
                "boots",
                130.0,
                &["Chelsea Boots", "Hiking Boots", "Ankle Boots"],
            ),
            sub("sandals", 40.0, &["Slide Sandals", "Strap Sandals"]),
            sub("loafers", 95.0, &["Penny Loafers", "Suede Loafers"]),
            sub("slippers", 25.0, &["Felt Slippers", "Moccasin Slippers"]),
        ],
        brands: [
            "Pacer",
            "Footloft",
            "Stride",
            "Trailmark",
            "Aurelio",
            "Velocita",
        ],
    },
    TopSpec {
        name: "clothing",
        colored: true,
        variant: Variant::ApparelSize,
        subs: &[
            sub(
                "t-shirts",
                22.0,
                &["Crew T-Shirt", "V-Neck T-Shirt", "Graphic T-Shirt"],
            ),
            sub(
                "jeans",
                65.0,
                &["Slim Jeans", "Straight Jeans", "Relaxed Jeans"],
            ),
            sub(
                "dresses",
                75.0,
                &["Wrap Dress", "Midi Dress", "Shirt Dress"],
            ),
            sub(
                "jackets",
                140.0,
                &["Rain Jacket", "Puffer Jacket", "Denim Jacket"],
            ),
            sub("sweaters", 60.0, &["Wool Sweater", "Cardigan", "Hoodie"]),
        ],
        brands: [
            "Basix",
            "Threadly",
            "Northwear",
            "Linea",
            "Maison Vell",
            "Atelier Noor",
        ],
    },
    TopSpec {
        name: "electronics",
        colored: true,
        variant: Variant::Plain,
        subs: &[
            sub("phones", 650.0, &["Smartphone", "Phone Pro", "Phone Mini"]),
            sub(
                "headphones",
                140.0,
                &["Wireless Headphones", "Earbuds", "Studio Headphones"],
            ),
            sub("laptops", 1100.0, &["Ultrabook", "Laptop 14", "Laptop 16"]),
            sub(
                "cameras",
                550.0,
                &["Mirrorless Camera", "Action Camera", "Compact Camera"],
            ),
            sub("smartwatches", 260.0, &["Smartwatch", "Fitness Tracker"]),
            sub(
                "accessories",
                25.0,
                &["USB-C Charger", "Power Bank", "Phone Case"],
            ),
        ],
        brands: ["Voltix", "Zento", "Lumen", "Auralis", "Precisio", "Helion"],
    },
    TopSpec {
        name: "home",
        colored: true,
        variant: Variant::Plain,
        subs: &[
            sub(
                "furniture",
                320.0,
                &["Armchair", "Coffee Table", "Bookshelf"],
            ),
            sub(
                "lighting",
                65.0,
                &["Floor Lamp", "Desk Lamp", "Pendant Light"],
            ),
            sub(
                "bedding",
                75.0,
                &["Duvet Cover", "Pillow Set", "Linen Sheets"],
            ),
            sub(
                "kitchen",
                45.0,
                &["Chef Knife", "Frying Pan", "Espresso Cups"],
            ),
            sub("decor", 35.0, &["Vase", "Wall Mirror", "Scented Candle"]),
        ],
        brands: [
            "Homely",
            "Casa Mia",
            "Nordhus",
            "Oakline",
            "Villeroy Lane",
            "Atrium",
        ],
    },
    TopSpec {
        name: "beauty",
        colored: false,
        variant: Variant::Plain,
        subs: &[
            sub("skincare", 32.0, &["Face Serum", "Moisturiser", "Cleanser"]),
            sub("makeup", 24.0, &["Lipstick", "Mascara", "Foundation"]),
            sub("fragrance", 75.0, &["Eau de Parfum", "Eau de Toilette"]),
            sub("haircare", 18.0, &["Shampoo", "Hair Mask", "Conditioner"]),
        ],
        brands: [
            "Glowly",
            "Purea",
            "Botanica",
            "Lumiere",
            "Maison Rose",
            "Aurum Skin",
        ],
    },
    TopSpec {
        name: "sports",
        colored: true,
        variant: Variant::Plain,
        subs: &[
            sub(
                "fitness",
                45.0,
                &["Dumbbell Set", "Kettlebell", "Resistance Bands"],
            ),
            sub(
                "cycling",
                300.0,
                &["Bike Helmet", "Bike Lights", "City Bike"],
            ),
            sub(
                "running",
                55.0,
                &["Running Shorts", "Running Vest", "Running Cap"],
            ),
            sub("outdoor", 95.0, &["Tent", "Backpack", "Sleeping Bag"]),
            sub("yoga", 35.0, &["Yoga Mat", "Yoga Block", "Yoga Towel"]),
        ],
        brands: [
            "Actif",
            "Sprintex",
            "Peakform",
            "Trailhead",
            "Alpenwerk",
            "Veloce",
        ],
    },
    TopSpec {
        name: "toys",
        colored: true,
        variant: Variant::Plain,
        subs: &[
            sub("puzzles", 20.0, &["Jigsaw Puzzle", "3D Puzzle"]),
            sub("dolls", 30.0, &["Fashion Doll", "Rag Doll"]),
            sub("building-blocks", 55.0, &["Building Set", "Brick Box"]),
            sub(
                "board-games",
                35.0,
                &["Strategy Game", "Family Game", "Card Game"],
            ),
        ],
        brands: [
            "Playbox",
            "Funzo",
            "Brickly",
            "Wonderkin",
            "Heirloom Toys",
            "Atelier Jouet",
        ],
    },
    TopSpec {
        name: "books",
        colored: false,
        variant: Variant::Plain,
        subs: &[
            sub("fiction", 16.0, &["Novel", "Thriller", "Short Stories"]),
            sub("cookbooks", 28.0, &["Cookbook", "Baking Book"]),
            sub("children", 12.0, &["Picture Book", "Bedtime Stories"]),
            sub("business", 24.0, &["Leadership Guide", "Startup Handbook"]),
        ],
        brands: [
            "Paperleaf",
            "Pocket Press",
            "Harbor House",
            "Northlight",
            "Folio Editions",
            "Gilded Page",
        ],
    },
    TopSpec {
        name: "grocery",
        colored: false,
        variant: Variant::Weight,
        subs: &[
            sub(
                "coffee",
                12.0,
                &["Espresso Beans", "Filter Coffee", "Coffee Capsules"],
            ),
            sub("tea", 8.0, &["Green Tea", "Black Tea", "Herbal Tea"]),
            sub(
                "snacks",
                5.0,
                &["Granola Bars", "Dark Chocolate", "Trail Mix"],
            ),
            sub("pantry", 7.0, &["Olive Oil", "Pasta", "Basmati Rice"]),
        ],
        brands: [
            "Daily Basics",
            "Pantry Pal",
            "Green Valley",
            "Roastery Co",
            "Terroir",
            "Maison Cafe",
        ],
    },
    TopSpec {
        name: "garden",
        colored: true,
        variant: Variant::Plain,
        subs: &[
            sub("plants", 22.0, &["Monstera", "Olive Tree", "Herb Set"]),
            sub("tools", 38.0, &["Pruning Shears", "Garden Hose", "Spade"]),
            sub(
                "outdoor-furniture",
                240.0,
                &["Lounge Chair", "Garden Table", "Parasol"],
            ),
            sub("grills", 280.0, &["Charcoal Grill", "Gas Grill"]),
        ],
        brands: [
            "Sprout",
            "Greenly",
            "Gardenia",
            "Verdant",
            "Hortus",
            "Teak & Stone",
        ],
    },
];

/// Names of the top-level categories, in tree order.
pub(crate) fn top_names() -> Vec<&'static str> {
    TREE.iter().map(|t| t.name).collect()
}

/// Share of items that are brand new: in the catalog, never in an event.
pub(crate) const COLD_SHARE: f64 = 0.02;
/// Share of items out of stock.
const OUT_OF_STOCK_SHARE: f64 = 0.07;
/// Zipf exponent of popularity within a subcategory.
const ZIPF_EXPONENT: f64 = 1.05;

/// The catalog plus what the behaviour model needs to sample items quickly.
pub(crate) struct ShopCatalog {
    pub catalog: Catalog,
    /// Names of the top-level categories.
    pub tops: Vec<&'static str>,
    /// Top category of each item (index into [`top_names`]).
    pub top: Vec<u8>,
    /// Global subcategory index of each item.
    pub sub: Vec<u16>,
    pub tier: Vec<Tier>,
    /// Index into [`COLORS`], for colored items.
    pub color: Vec<Option<u8>>,
    /// Base popularity; zero for cold items.
    pub popularity: Vec<f64>,
    /// Item indices per top category, ordered by (subcategory, item).
    pub by_top: Vec<Vec<u32>>,
    /// Per global subcategory: its top and its range inside `by_top[top]`.
    pub sub_ranges: Vec<(usize, std::ops::Range<usize>)>,
    /// Search words of each global subcategory (`running shoes`).
    pub sub_words: Vec<String>,
    /// Prefix sums of `popularity` over all items (random exploration).
    pub global_cum: Vec<f64>,
    pub cold_items: usize,
}

/// Width of zero-padded numeric ids for `n` ids (at least 5 digits).
pub(crate) fn id_width(n: usize) -> usize {
    n.saturating_sub(1).max(1).to_string().len().max(5)
}

/// Builds the catalog of `n_items` items deterministically from `seed`.
pub(crate) fn build(n_items: usize, seed: u64) -> ShopCatalog {
    let mut rng = StdRng::seed_from_u64(derive_seed(seed, 1, 0));
    // Global subcategory table.
    let mut subs: Vec<(usize, usize)> = Vec::new(); // (top, sub within top)
    for (t, top) in TREE.iter().enumerate() {
        for s in 0..top.subs.len() {
            subs.push((t, s));
        }
    }
    let sub_weight: Vec<f64> = subs.iter().map(|_| rng.gen_range(0.5..1.5)).collect();

    // Every subcategory gets at least one item when there are enough items.
    let mut item_sub: Vec<usize> = (0..subs.len().min(n_items)).collect();
    while item_sub.len() < n_items {
        item_sub.push(weighted(&mut rng, &sub_weight));
    }
    item_sub.shuffle(&mut rng);

    let width = id_width(n_items);
    let mut items = Vec::with_capacity(n_items);
    let mut top = Vec::with_capacity(n_items);
    let mut tiers = Vec::with_capacity(n_items);
    let mut colors = Vec::with_capacity(n_items);
    for (i, &gs) in item_sub.iter().enumerate() {
        let (t, s) = subs[gs];
        let spec = &TREE[t];
        let sub_spec = &spec.subs[s];
        let brand_index = weighted(&mut rng, &[0.22, 0.18, 0.2, 0.16, 0.13, 0.11]);
        let tier = Tier::ALL[brand_index / 2];
        let brand = spec.brands[brand_index];
        let color = spec
            .colored
            .then(|| weighted(&mut rng, &COLOR_WEIGHTS) as u8);
        let raw = sub_spec.base_price * tier.price_factor() * (0.3 * normal(&mut rng)).exp();
        let price = if raw >= 2.0 {
            raw.floor() + 0.99
        } else {
            (raw * 100.0).round().max(49.0) / 100.0
        };
        let noun = sub_spec.nouns[rng.gen_range(0..sub_spec.nouns.len())];
        let variant = match spec.variant {
            Variant::ShoeSize => format!(" {}", rng.gen_range(36..=46)),
            Variant::ApparelSize => {
                format!(" {}", ["XS", "S", "M", "L", "XL"][rng.gen_range(0..5)])
            }
            Variant::Weight => format!(" {}", ["250g", "500g", "1kg"][rng.gen_range(0..3)]),
            Variant::Plain => String::new(),
        };
        let title = match color {
            Some(c) => format!("{brand} {} {noun}{variant}", capitalise(COLORS[c as usize])),
            None => format!("{brand} {noun}{variant}"),
        };
        let item_id = format!("sku-{i:0width$}");
        items.push(Item {
            title,
            category: format!("{}/{}", spec.name, sub_spec.name),
            brand: Some(brand.to_owned()),
            color: color.map(|c| COLORS[c as usize].to_owned()),
            price: Some(price),
            in_stock: rng.r#gen::<f64>() >= OUT_OF_STOCK_SHARE,
            image_url: Some(format!("https://shop.example/img/{item_id}.jpg")),
            url: Some(format!("https://shop.example/p/{item_id}")),
            item_id,
        });
        top.push(t as u8);
        tiers.push(tier);
        colors.push(color);
    }

    // Brand-new items: no interactions at all.
    let cold_items = (n_items as f64 * COLD_SHARE).floor() as usize;
    let mut order: Vec<usize> = (0..n_items).collect();
    order.shuffle(&mut rng);
    let mut cold = vec![false; n_items];
    for &i in &order[..cold_items] {
        cold[i] = true;
    }

    // Zipf popularity within each subcategory, in a random rank order.
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); subs.len()];
    for (i, &gs) in item_sub.iter().enumerate() {
        members[gs].push(i as u32);
    }
    let mut popularity = vec![0.0; n_items];
    for (gs, list) in members.iter().enumerate() {
        let mut ranked: Vec<u32> = list
            .iter()
            .copied()
            .filter(|&i| !cold[i as usize])
            .collect();
        ranked.shuffle(&mut rng);
        for (rank, &i) in ranked.iter().enumerate() {
            popularity[i as usize] = sub_weight[gs] / ((rank + 1) as f64).powf(ZIPF_EXPONENT);
        }
    }

    let mut by_top: Vec<Vec<u32>> = vec![Vec::new(); TREE.len()];
    let mut sub_ranges = Vec::with_capacity(subs.len());
    for (gs, &(t, _)) in subs.iter().enumerate() {
        let start = by_top[t].len();
        by_top[t].extend_from_slice(&members[gs]);
        sub_ranges.push((t, start..by_top[t].len()));
    }
    let sub_words = subs
        .iter()
        .map(|&(t, s)| TREE[t].subs[s].name.replace('-', " "))
        .collect();

    let ids = IdMap::from_ids(items.iter().map(|i| i.item_id.as_str()));
    ShopCatalog {
        catalog: Catalog { ids, items },
        tops: top_names(),
        top,
        sub: item_sub.iter().map(|&s| s as u16).collect(),
        tier: tiers,
        color: colors,
        global_cum: cumulative(popularity.iter().copied()),
        popularity,
        by_top,
        sub_ranges,
        sub_words,
        cold_items,
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_complete_and_plausible() {
        let shop = build(2000, 7);
        let items = &shop.catalog.items;
        assert_eq!(items.len(), 2000);
        assert_eq!(items[0].item_id, "sku-00000");
        assert_eq!(shop.catalog.ids.get("sku-01999"), Some(1999));
        assert_eq!(shop.cold_items, 40);
        let zero = shop.popularity.iter().filter(|&&p| p == 0.0).count();
        assert_eq!(zero, 40, "exactly the cold items have no popularity");
        let out = items.iter().filter(|i| !i.in_stock).count();
        assert!((80..=200).contains(&out), "{out} out of stock");
        // Every subcategory is populated and its range lists only its items.
        for (gs, (t, range)) in shop.sub_ranges.iter().enumerate() {
            assert!(!range.is_empty(), "subcategory {gs} is empty");
            for &i in &shop.by_top[*t][range.clone()] {
                assert_eq!(shop.sub[i as usize] as usize, gs);
            }
        }
        // Premium items cost more than budget items of the same subcategory, on average.
        let sneakers: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].category == "shoes/sneakers")
            .collect();
        let mean = |tier: Tier| {
            let p: Vec<f64> = sneakers
                .iter()
                .filter(|&&i| shop.tier[i] == tier)
                .map(|&i| items[i].price.unwrap())
                .collect();
            p.iter().sum::<f64>() / p.len() as f64
        };
        assert!(mean(Tier::Premium) > 2.0 * mean(Tier::Budget));
        let shoe = &items[sneakers[0]];
        assert!(shoe.title.ends_with(char::is_numeric), "{}", shoe.title);
        assert!(shoe.title.starts_with(shoe.brand.as_deref().unwrap()));
    }

    #[test]
    fn tiny_catalogs_work() {
        let shop = build(1, 1);
        assert_eq!(shop.catalog.len(), 1);
        assert_eq!(shop.cold_items, 0);
        assert!(shop.popularity[0] > 0.0);
    }
}
