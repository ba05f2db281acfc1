//! Loading a bundle into a [`Model`].

use super::QueryError;
use kindred_training::bundle::{
    BundleError, BundleReader, CUSTOMER_NEIGHBOURS, ITEM_NEIGHBOURS, load_recommender,
};
use kindred_training::data::Catalog;
use kindred_training::data::read::{ReadOptions, read_catalog, read_interactions};
use kindred_training::ids::IdMap;
use kindred_training::index::{
    HnswIndex, HnswParams, IndexError, NeighbourError, NeighbourLists, VectorIndex,
};
use kindred_training::models::HistoryEntry;
use kindred_training::models::hybrid::Hybrid;
use kindred_training::pipeline::train::PopularityLists;
use kindred_training::segments::Segmentation;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

/// Why a bundle could not be loaded; the old model keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Neighbours(#[from] NeighbourError),
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error("{path}: {what} has {found} rows but {expected} were expected")]
    Shape {
        path: PathBuf,
        what: &'static str,
        found: usize,
        expected: usize,
    },
}

/// The fitted recommender with the maps between its item space and the item table.
#[derive(Debug)]
pub(crate) struct Scorer {
    pub model: Hybrid,
    /// Model item → item-table row.
    pub to_row: Vec<Option<u32>>,
    /// Item-table row → model item.
    pub to_model: Vec<Option<u32>>,
}

/// One bundle in memory, ready to answer queries. Immutable once loaded.
#[derive(Debug)]
pub struct Model {
    /// The bundle's version (folder name).
    pub version: String,
    /// RFC 3339 creation time of the bundle.
    pub created_at: String,
    /// The bundle folder.
    pub dir: PathBuf,
    /// The item table: rows are the rows of the item embeddings and index.
    pub items: Catalog,
    pub item_index: HnswIndex,
    /// Each item's most similar items as the trainer found them with `item_index` (when the
    /// bundle has them).
    pub item_neighbours: Option<NeighbourLists>,
    /// Customer ids in the order of the customer embeddings, index and segment assignments.
    pub customers: IdMap,
    pub customer_index: HnswIndex,
    /// Each customer's nearest customers as the trainer found them with
    /// `customer_index` (when the bundle has them): what a search with the customer's
    /// bundle embedding returns.
    pub customer_neighbours: Option<NeighbourLists>,
    /// Each customer's interactions, oldest first, with items as item-table rows.
    pub histories: Vec<Vec<HistoryEntry>>,
    pub segmentation: Option<Segmentation>,
    pub popularity: PopularityLists,
    /// An interaction of at least this weight counts as "bought or carted" (the bundle's
    /// add-to-cart event weight; default 3).
    pub cart_weight: f32,
    /// Per customer, the distinct items (rows, ascending) of their interactions of at least
    /// `cart_weight`: what "customers like you also want" adds up over a visitor's nearest
    /// customers (a fraction of their histories, which are mostly views).
    pub bought_or_carted: Vec<Vec<u32>>,
    /// Epoch seconds of the newest interaction the bundle was trained on: live events
    /// after it are new to the model.
    pub trained_until: i64,
    /// The popularity lists with items as item-table rows (global and per segment).
    pub popularity_rows: PopularityRows,
    /// Item rows by category, for the live intent of personal recommendations.
    pub categories: super::visitor::CategoryRows,
    /// Customers whose bundle data is withheld until the next training (erased since it
    /// was trained): no query reads them as anyone's neighbour. The one part of a loaded
    /// model that changes.
    pub withheld: Withheld,
    pub(crate) scorer: Option<Scorer>,
}

/// Customer rows withheld from every query (see [`Model::withheld`]). Checking costs one
/// atomic load while nothing is withheld.
#[derive(Debug, Default)]
pub struct Withheld {
    any: AtomicBool,
    rows: RwLock<HashSet<u32>>,
}

impl Withheld {
    /// Withholds customer row `row`.
    pub fn insert(&self, row: u32) {
        self.rows
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(row);
        self.any.store(true, Ordering::Release);
    }

    /// Whether customer row `row` is withheld.
    pub fn contains(&self, row: u32) -> bool {
        self.any.load(Ordering::Acquire)
            && self
                .rows
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&row)
    }

    /// Whether any of `rows` is withheld.
    pub fn any(&self, rows: impl IntoIterator<Item = u32>) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let set = self.rows.read().unwrap_or_else(PoisonError::into_inner);
        rows.into_iter().any(|r| set.contains(&r))
    }

    /// Number of withheld rows.
    pub fn len(&self) -> usize {
        self.rows
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is withheld.
    pub fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Acquire)
    }
}

fn data_err(path: &Path, e: impl std::fmt::Display) -> LoadError {
    LoadError::Data {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

impl Model {
    /// Opens and verifies the bundle at `dir` and loads everything the queries need.
    pub fn load(dir: &Path) -> Result<Model, LoadError> {
        let reader = BundleReader::open(dir)?;
        let m = &reader.manifest;
        let items_path = reader.path("items.parquet");
        let (items, _) = read_catalog(&items_path, &ReadOptions::default())
            .map_err(|e| data_err(&items_path, e))?;
        let (item_ids, item_vectors) = reader.read_embeddings("item_embeddings.parquet")?;
        if item_ids.len() != items.len() {
            return Err(LoadError::Shape {
                path: reader.path("item_embeddings.parquet"),
                what: "item embeddings",
                found: item_ids.len(),
                expected: items.len(),
            });
        }
        if let Some(row) = item_ids
            .iter()
            .zip(items.ids.ids())
            .position(|(a, b)| a != b)
        {
            return Err(data_err(
                &reader.path("item_embeddings.parquet"),
                format!(
                    "row {row} is item {:?}, items.parquet has {:?}",
                    item_ids[row],
                    items.ids.id(row as u32)
                ),
            ));
        }
        let item_index = HnswIndex::load(dir, "items", item_vectors, HnswParams::default())?;
        let (customer_ids, customer_vectors) =
            reader.read_embeddings("customer_embeddings.parquet")?;
        let customers = IdMap::from_ids(customer_ids);
        let customer_index =
            HnswIndex::load(dir, "customers", customer_vectors, HnswParams::default())?;
        // Optional (bundles trained with `neighbour_lists = 0` have none): read when listed.
        let lists = |name: &str, rows: usize| -> Result<Option<NeighbourLists>, LoadError> {
            if !m.files.contains_key(name) {
                return Ok(None);
            }
            Ok(Some(NeighbourLists::load(&reader.path(name), rows)?))
        };
        let customer_neighbours = lists(CUSTOMER_NEIGHBOURS, customer_index.len())?;
        let item_neighbours = lists(ITEM_NEIGHBOURS, item_index.len())?;

        let inter_path = reader.path("interactions.parquet");
        let (log, _) = read_interactions(&inter_path).map_err(|e| data_err(&inter_path, e))?;
        let user_rows: Vec<Option<usize>> = log
            .users
            .ids()
            .iter()
            .map(|u| customers.get(u).map(|c| c as usize))
            .collect();
        let item_rows: Vec<Option<u32>> =
            log.items.ids().iter().map(|i| items.ids.get(i)).collect();
        let trained_until = log.max_ts();
        let mut histories: Vec<Vec<HistoryEntry>> = vec![Vec::new(); customers.len()];
        for r in &log.rows {
            if let (Some(Some(c)), Some(Some(item))) = (
                user_rows.get(r.user as usize),
                item_rows.get(r.item as usize),
            ) {
                histories[*c].push(HistoryEntry {
                    item: *item,
                    weight: r.weight,
                    ts: r.ts,
                });
            }
        }
        for h in &mut histories {
            h.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.item.cmp(&b.item)));
        }

        let segmentation: Option<Segmentation> = if m.files.contains_key("segments.json") {
            let s: Segmentation = reader.read_json("segments.json")?;
            if s.assignments.len() != customers.len() {
                return Err(LoadError::Shape {
                    path: reader.path("segments.json"),
                    what: "segment assignments",
                    found: s.assignments.len(),
                    expected: customers.len(),
                });
            }
            Some(s)
        } else {
            None
        };
        let popularity: PopularityLists = if m.files.contains_key("popularity.json") {
            reader.read_json("popularity.json")?
        } else {
            PopularityLists::default()
        };
        let cart_weight = m
            .params
            .get("event_weights")
            .and_then(|w| w.get("add_to_cart"))
            .and_then(|v| v.as_f64())
            .map_or(3.0, |v| v as f32);
        let bought_or_carted = histories
            .iter()
            .map(|h| {
                let mut items: Vec<u32> = h
                    .iter()
                    .filter(|e| e.weight >= cart_weight)
                    .map(|e| e.item)
                    .collect();
                items.sort_unstable();
                items.dedup();
                items
            })
            .collect();
        let scorer = if m.files.contains_key("model.json") {
            let loaded = load_recommender(&reader)?;
            let to_row: Vec<Option<u32>> = loaded
                .items
                .ids()
                .iter()
                .map(|id| items.ids.get(id))
                .collect();
            let mut to_model = vec![None; items.len()];
            for (mi, row) in to_row.iter().enumerate() {
                if let Some(r) = row {
                    to_model[*r as usize] = Some(mi as u32);
                }
            }
            Some(Scorer {
                model: loaded.model,
                to_row,
                to_model,
            })
        } else {
            None
        };
        let categories = super::visitor::CategoryRows::of(&items);
        let popularity_rows = PopularityRows::of(&popularity, &items);
        Ok(Model {
            version: m.version.clone(),
            created_at: m.created_at.clone(),
            dir: dir.to_owned(),
            items,
            item_index,
            customers,
            customer_index,
            customer_neighbours,
            item_neighbours,
            histories,
            segmentation,
            popularity,
            cart_weight,
            bought_or_carted,
            trained_until,
            categories,
            popularity_rows,
            withheld: Withheld::default(),
            scorer,
        })
    }

    /// Withholds the bundle's data about customer `id` (an erased customer, or an
    /// anonymous visitor's `anon:<id>` key) from every query until the next training. An id
    /// the bundle does not know is ignored.
    pub fn withhold(&self, id: &str) {
        if let Some(r) = self.customers.get(id) {
            self.withheld.insert(r);
        }
    }

    /// The item-table row of an external item id.
    pub fn item_row(&self, id: &str) -> Result<usize, QueryError> {
        self.items
            .ids
            .get(id)
            .map(|r| r as usize)
            .ok_or_else(|| QueryError::UnknownItem(id.to_owned()))
    }

    /// The customer row of an external customer id (`anon:<id>` for anonymous visitors).
    pub fn customer_row(&self, id: &str) -> Result<usize, QueryError> {
        self.customers
            .get(id)
            .map(|r| r as usize)
            .ok_or_else(|| QueryError::UnknownCustomer(id.to_owned()))
    }

    /// The segment of customer row `c`, if the bundle has segments.
    pub fn segment_of(&self, c: usize) -> Option<&kindred_training::segments::Segment> {
        let s = self.segmentation.as_ref()?;
        self.segment(*s.assignments.get(c)?)
    }

    /// Segment `id`, if the bundle has it.
    pub fn segment(&self, id: u32) -> Option<&kindred_training::segments::Segment> {
        let s = self.segmentation.as_ref()?;
        s.segments.iter().find(|seg| seg.id == id)
    }
}

/// [`PopularityLists`] resolved to item-table rows once at load (ids the item table lacks
/// are left out), best first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PopularityRows {
    pub global: Vec<(u32, f32)>,
    pub by_segment: std::collections::HashMap<u32, Vec<(u32, f32)>>,
}

impl PopularityRows {
    fn of(lists: &PopularityLists, items: &Catalog) -> PopularityRows {
        let rows = |list: &[(String, f32)]| -> Vec<(u32, f32)> {
            list.iter()
                .filter_map(|(id, s)| Some((items.ids.get(id)?, *s)))
                .collect()
        };
        PopularityRows {
            global: rows(&lists.global),
            by_segment: lists
                .by_segment
                .iter()
                .map(|(seg, list)| (*seg, rows(list)))
                .collect(),
        }
    }
}
