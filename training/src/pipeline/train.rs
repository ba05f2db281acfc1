//! `kindred train`: from event files to a model bundle, with a readable report.

use super::evaluate::{EvalOutcome, evaluate_split};
use crate::bundle::{
    BundleError, BundleReader, BundleWriter, CUSTOMER_NEIGHBOURS, ITEM_NEIGHBOURS, Manifest,
    new_version,
};
use crate::content::{ContentModel, content_embeddings};
use crate::data::read::{self, ReadOptions};
use crate::data::write::{WriteError, write_catalog};
use crate::data::{Catalog, DataError, EventLog, IdentityLinks, Item, Rejections};
use crate::eval::temporal_split;
use crate::index::{
    BruteForce, HnswIndex, HnswParams, IndexError, NeighbourError, NeighbourLists, VectorIndex,
    recall_at_k, sample_rows,
};
use crate::interactions::{EventWeights, InteractionLog, ResolveStats, resolve};
use crate::models::hybrid::Hybrid;
use crate::models::popularity::Popularity;
use crate::models::tune::{ModelError, TuneParams, fit_hybrid, tune};
use crate::progress::Progress;
use crate::segments::{SegmentError, SegmentParams, Segmentation, segment};
use ndarray::Array2;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The files a training run reads.
#[derive(Debug, Clone, Default)]
pub struct TrainInputs {
    /// One or more event files (any supported format).
    pub events: Vec<PathBuf>,
    /// The catalog; without it items are known by id only (no cold start, no categories).
    pub items: Option<PathBuf>,
    /// Identity links (anonymous → customer).
    pub identities: Option<PathBuf>,
    pub read: ReadOptions,
}

/// Parameters of a training run; every default is documented on its type.
#[derive(Debug, Clone)]
pub struct TrainParams {
    pub weights: EventWeights,
    pub tune: TuneParams,
    /// Hold out the protocol's test part and report metrics (default true).
    pub evaluate: bool,
    pub segments: SegmentParams,
    pub hnsw: HnswParams,
    /// Query rows sampled to measure index recall@10 (default 1,000).
    pub recall_sample: usize,
    /// Length of each stored popularity list (default 200).
    pub popularity_limit: usize,
    /// The held-out test metrics are computed on at most this many users, sampled at
    /// random (default 5,000; `kindred eval` always uses every user).
    pub eval_users: usize,
    /// Nearest neighbours stored per customer and per item (`customers.neighbours`,
    /// `items.neighbours`; default 50, what "customers like you also want" consults), so
    /// the server reads a bundle customer's neighbours and an item's similar items instead
    /// of searching the index per request. 8 bytes per neighbour (400 bytes per customer
    /// or item at 50); 0 stores none and the server searches.
    pub neighbour_lists: usize,
    /// Bundle version name (default: the current UTC time).
    pub version: Option<String>,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            weights: EventWeights::default(),
            tune: TuneParams::default(),
            evaluate: true,
            segments: SegmentParams::default(),
            hnsw: HnswParams::default(),
            recall_sample: 1_000,
            popularity_limit: 200,
            eval_users: 5_000,
            neighbour_lists: 50,
            version: None,
        }
    }
}

/// Why a training run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Segment(#[from] SegmentError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Neighbours(#[from] NeighbourError),
    #[error("no event files given")]
    NoEvents,
    #[error(
        "{files}: no item interactions to learn from ({events} events read, none with an item and a positive weight)"
    )]
    NoInteractions { files: String, events: usize },
}

/// Popularity lists stored in the bundle (`popularity.json`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PopularityLists {
    /// Half-life used, in days (`None`: all time).
    pub half_life_days: Option<f64>,
    pub global: Vec<(String, f32)>,
    /// Per category path prefix (`shoes`, `shoes/sneakers`).
    pub by_category: BTreeMap<String, Vec<(String, f32)>>,
    /// Per segment id.
    pub by_segment: BTreeMap<u32, Vec<(String, f32)>>,
}

/// Index recall figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IndexRecall {
    pub k: usize,
    pub sample: usize,
    pub items: f64,
    pub customers: f64,
}

/// Counts for the report and the manifest.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub events: usize,
    pub rejected: usize,
    pub catalog_items: usize,
    pub catalog_rejected: usize,
    pub identity_links: usize,
    pub interactions: usize,
    pub customers: usize,
    pub anonymous_visitors: usize,
    pub items: usize,
    pub warm_items: usize,
    pub cold_items: usize,
    /// Items seen in events but missing from the catalog.
    pub unknown_items: usize,
    pub resolve: ResolveStats,
}

/// What a training run did.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub bundle: PathBuf,
    pub counts: Counts,
    pub rejections: Rejections,
    pub eval: Option<EvalOutcome>,
    pub model: String,
    pub segmentation: Option<Segmentation>,
    pub segment_note: Option<String>,
    pub recall: IndexRecall,
    pub timings: Vec<(String, f64)>,
}

struct Timer {
    start: Instant,
    steps: Vec<(String, f64)>,
}

impl Timer {
    fn lap(&mut self, name: &str) {
        let now = Instant::now();
        self.steps
            .push((name.to_owned(), (now - self.start).as_secs_f64()));
        self.start = now;
    }
}

/// Runs the whole offline pipeline and writes `models_dir/<version>/`.
pub fn train(
    inputs: &TrainInputs,
    params: &TrainParams,
    models_dir: &Path,
    progress: Progress,
) -> Result<TrainReport, TrainError> {
    let mut timer = Timer {
        start: Instant::now(),
        steps: Vec::new(),
    };
    if inputs.events.is_empty() {
        return Err(TrainError::NoEvents);
    }
    // 1. Read.
    let mut log = EventLog::default();
    let mut rejections = Rejections::default();
    for path in &inputs.events {
        read::read_events_into(path, &inputs.read, &mut log, &mut rejections)?;
    }
    let (catalog, catalog_rejections) = match &inputs.items {
        Some(p) => read::read_catalog(p, &inputs.read)?,
        None => (Catalog::default(), Rejections::default()),
    };
    let (links, link_rejections) = match &inputs.identities {
        Some(p) => read::read_identities(p, &inputs.read)?,
        None => (IdentityLinks::default(), Rejections::default()),
    };
    let catalog_rejected = catalog_rejections.total;
    let events_rejected = rejections.total;
    rejections.merge(catalog_rejections);
    rejections.merge(link_rejections);
    timer.lap("read");

    // 2. Resolve identities into weighted interactions.
    let (interactions, resolve_stats) = resolve(&log, &links, &params.weights);
    if interactions.is_empty() {
        return Err(TrainError::NoInteractions {
            files: inputs
                .events
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            events: log.len(),
        });
    }
    timer.lap("resolve identities");

    // 3. Evaluate by the protocol (tuning only on validation), or just tune.
    let (eval, chosen) = if params.evaluate {
        let parts = temporal_split(&interactions, &params.tune.split);
        let mut test = parts.test_set();
        test.sample(params.eval_users, params.tune.seed);
        let outcome = evaluate_split(
            &parts.train,
            &test,
            parts.test.len(),
            &params.tune,
            progress,
        )?;
        let chosen = outcome.tuning.params;
        (Some(outcome), chosen)
    } else {
        (None, tune(&interactions, &params.tune, progress)?.params)
    };
    timer.lap("tune and evaluate");

    // 4. Fit on everything.
    let model = fit_hybrid(&interactions, &chosen, progress)?;
    timer.lap("fit final model");

    // 5. Item table (catalog order, then items only seen in events) and embeddings.
    let items = item_table(&catalog, &interactions);
    let (item_vectors, warm_items, content) = item_embeddings(&items, &interactions, &model);
    let customer_vectors = model
        .als
        .as_ref()
        .map(|a| a.user_factors.clone())
        .unwrap_or_else(|| Array2::zeros((interactions.users.len(), 1)));
    timer.lap("embeddings and cold start");

    // 6. Segments.
    let (segmentation, segment_note) = match segment(
        &log,
        &links,
        &items,
        &interactions.users,
        &params.segments,
        progress,
    ) {
        Ok(s) => (Some(s), None),
        Err(SegmentError::TooFewUsers { users, k_min }) => (
            None,
            Some(format!(
                "no segments: {users} customers are too few for {k_min} segments"
            )),
        ),
        Err(e) => return Err(e.into()),
    };
    timer.lap("segments");

    // 7. Indexes and their recall against brute force.
    let spinner = progress.spinner("building HNSW indexes");
    let mut item_index = HnswIndex::build(&item_vectors, params.hnsw)?;
    let mut customer_index = HnswIndex::build(&customer_vectors, params.hnsw)?;
    spinner.finish_and_clear();
    let recall = IndexRecall {
        k: 10,
        sample: params.recall_sample,
        items: measured_recall(&mut item_index, item_vectors.nrows(), params.recall_sample)?,
        customers: measured_recall(
            &mut customer_index,
            customer_vectors.nrows(),
            params.recall_sample,
        )?,
    };
    timer.lap("indexes");
    let neighbours = (params.neighbour_lists > 0).then(|| {
        let spinner = progress.spinner("finding each customer's and item's nearest neighbours");
        let k = params.neighbour_lists;
        let lists = (
            NeighbourLists::compute(&customer_index, k),
            NeighbourLists::compute(&item_index, k),
        );
        spinner.finish_and_clear();
        lists
    });
    timer.lap("neighbour lists");

    // 8. Popularity lists.
    let popularity = popularity_lists(
        &model,
        &interactions,
        &items,
        segmentation.as_ref(),
        params.popularity_limit,
    );
    timer.lap("popularity");

    // 9. The bundle.
    let counts = Counts {
        events: log.len(),
        rejected: events_rejected,
        catalog_items: catalog.len(),
        catalog_rejected,
        identity_links: links.links.len(),
        interactions: interactions.len(),
        customers: interactions
            .users
            .ids()
            .iter()
            .filter(|u| !u.starts_with(crate::interactions::ANONYMOUS_PREFIX))
            .count(),
        anonymous_visitors: interactions
            .users
            .ids()
            .iter()
            .filter(|u| u.starts_with(crate::interactions::ANONYMOUS_PREFIX))
            .count(),
        items: items.len(),
        warm_items,
        cold_items: items.len() - warm_items,
        unknown_items: items.len() - catalog.len(),
        resolve: resolve_stats,
    };
    let version = params.version.clone().unwrap_or_else(new_version);
    let writer = BundleWriter::create(models_dir, &version)?;
    writer.write_embeddings("item_embeddings.parquet", items.ids.ids(), &item_vectors)?;
    writer.write_embeddings(
        "customer_embeddings.parquet",
        interactions.users.ids(),
        &customer_vectors,
    )?;
    write_catalog(&writer.dir().join("items.parquet"), &items)?;
    read::write_interactions(&writer.dir().join("interactions.parquet"), &interactions)?;
    if let Some(s) = &segmentation {
        writer.write_json("segments.json", s)?;
    }
    writer.write_json("popularity.json", &popularity)?;
    if let Some(content) = &content {
        writer.write_json("content.json", content)?;
    }
    write_model(&writer, &model, &interactions)?;
    item_index.save(writer.dir(), "items")?;
    customer_index.save(writer.dir(), "customers")?;
    if let Some((customers, items)) = &neighbours {
        customers.save(&writer.dir().join(CUSTOMER_NEIGHBOURS))?;
        items.save(&writer.dir().join(ITEM_NEIGHBOURS))?;
    }
    let eval_json = eval
        .as_ref()
        .map(|e| serde_json::to_value(&e.report).unwrap_or_default())
        .unwrap_or(serde_json::Value::Null);
    let manifest = Manifest {
        format_version: crate::bundle::FORMAT_VERSION,
        version: version.clone(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        kindred_version: env!("CARGO_PKG_VERSION").to_owned(),
        data_fingerprint: fingerprint(&interactions),
        params: serde_json::json!({
            "model": chosen,
            "model_description": chosen.describe(),
            "event_weights": params.weights,
            "segments": params.segments,
            "hnsw": params.hnsw,
            "tuning": params.tune,
        }),
        counts: serde_json::to_value(&counts).unwrap_or_default(),
        metrics: serde_json::json!({
            "test": eval_json,
            "validation": eval.as_ref().map(|e| serde_json::json!({
                "ndcg": e.tuning.validation.ndcg,
                "baseline_ndcg": e.tuning.validation_baseline.ndcg,
            })),
            "segments": segmentation.as_ref().map(|s| serde_json::json!({"k": s.k, "silhouette": s.silhouette})),
        }),
        index_recall: serde_json::to_value(recall).unwrap_or_default(),
        files: BTreeMap::new(),
    };
    let bundle = writer.commit(manifest)?;
    timer.lap("write bundle");
    Ok(TrainReport {
        bundle,
        counts,
        rejections,
        eval,
        model: chosen.describe(),
        segmentation,
        segment_note,
        recall,
        timings: timer.steps,
    })
}

/// The category path given to items that events mention but the catalog lacks.
pub const UNCATEGORISED: &str = "uncategorised";

/// The catalog plus a minimal row (category [`UNCATEGORISED`]) for every item that events
/// mention but the catalog lacks, so the bundle's item table reads back like any catalog.
fn item_table(catalog: &Catalog, interactions: &InteractionLog) -> Catalog {
    let mut items = catalog.clone();
    for id in interactions.items.ids() {
        if items.ids.get(id).is_none() {
            items.ids.intern(id);
            items.items.push(Item {
                item_id: id.clone(),
                title: id.clone(),
                category: UNCATEGORISED.to_owned(),
                brand: None,
                color: None,
                price: None,
                in_stock: true,
                image_url: None,
                url: None,
            });
        }
    }
    items
}

/// ALS factors for items with interactions; content embeddings for the rest. Returns the
/// vectors, the number of warm items, and the content model (stored for new items).
fn item_embeddings(
    items: &Catalog,
    interactions: &InteractionLog,
    model: &Hybrid,
) -> (Array2<f32>, usize, Option<ContentModel>) {
    let Some(als) = &model.als else {
        return (Array2::zeros((items.len(), 1)), 0, None);
    };
    let k = als.params.factors;
    let mut out = Array2::<f32>::zeros((items.len(), k));
    let mut rows: Vec<Option<usize>> = vec![None; items.len()];
    let mut warm = 0;
    for (i, id) in items.ids.ids().iter().enumerate() {
        if let Some(r) = interactions.items.get(id) {
            let v = als.item_factors.row(r as usize);
            if v.iter().any(|x| *x != 0.0) {
                out.row_mut(i).assign(&v);
                rows[i] = Some(r as usize);
                warm += 1;
            }
        }
    }
    let content = content_embeddings(items, &rows, &als.item_factors);
    for (i, v) in content.cold_embeddings(items, &rows) {
        if v.len() == k {
            out.row_mut(i)
                .assign(&ndarray::ArrayView1::from(v.as_slice()));
        }
    }
    (out, warm, Some(content))
}

/// Recall@10 of the graph itself (the small-index full scan switched off while measuring).
fn measured_recall(index: &mut HnswIndex, rows: usize, sample: usize) -> Result<f64, IndexError> {
    let queries: Vec<usize> = sample_rows(rows, sample, 11)
        .into_iter()
        .filter(|&r| index.exact().is_nonzero(r))
        .collect();
    if queries.is_empty() || index.is_empty() {
        return Ok(1.0);
    }
    let params = index.params();
    index.set_search_params(HnswParams {
        full_scan_rows: 0,
        ..params
    })?;
    let exact: &BruteForce = index.exact();
    let recall = recall_at_k(&*index, exact, &queries, 10);
    index.set_search_params(params)?;
    Ok(recall)
}

fn popularity_lists(
    model: &Hybrid,
    interactions: &InteractionLog,
    items: &Catalog,
    segmentation: Option<&Segmentation>,
    limit: usize,
) -> PopularityLists {
    let pop = &model.popularity;
    let id_of = |i: u32| interactions.items.id(i).to_owned();
    let global: Vec<(String, f32)> = pop
        .ranking(limit)
        .into_iter()
        .map(|(i, s)| (id_of(i), s))
        .collect();
    let mut by_category: BTreeMap<String, Vec<(String, f32)>> = BTreeMap::new();
    let mut ranked: Vec<(u32, f32)> = pop.ranking(pop.scores.len());
    ranked.retain(|(_, s)| *s > 0.0);
    for (i, s) in ranked {
        let id = interactions.items.id(i);
        let Some(item) = items.get(id) else { continue };
        let mut prefix = String::new();
        for part in item.category.split('/').filter(|p| !p.is_empty()) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            let list = by_category.entry(prefix.clone()).or_default();
            if list.len() < limit {
                list.push((id.to_owned(), s));
            }
        }
    }
    let mut by_segment = BTreeMap::new();
    if let Some(seg) = segmentation {
        let now = interactions.max_ts();
        for s in &seg.segments {
            let rows: Vec<_> = interactions
                .rows
                .iter()
                .filter(|r| seg.assignments.get(r.user as usize) == Some(&s.id))
                .copied()
                .collect();
            let p = Popularity::fit_rows(interactions.items.len(), &rows, now, pop.params);
            by_segment.insert(
                s.id,
                p.ranking(limit)
                    .into_iter()
                    .map(|(i, sc)| (id_of(i), sc))
                    .collect(),
            );
        }
    }
    PopularityLists {
        half_life_days: pop.params.half_life_days,
        global,
        by_category,
        by_segment,
    }
}

/// The chosen model's parameters, its item space, popularity scores, ALS item factors and,
/// when EASE is part of it, its item–item weights (read back by
/// [`crate::bundle::load_recommender`]).
fn write_model(
    writer: &BundleWriter,
    model: &Hybrid,
    interactions: &InteractionLog,
) -> Result<(), BundleError> {
    let ease_items: Option<Vec<&str>> = model.ease.as_ref().map(|e| {
        e.modelled
            .iter()
            .map(|&i| interactions.items.id(i))
            .collect()
    });
    writer.write_json(
        "model.json",
        &crate::bundle::ModelFile {
            params: model.params,
            description: model.params.describe(),
            items: interactions.items.ids().to_vec(),
            popularity: model.popularity.scores.clone(),
            ease_items: ease_items.map(|v| v.into_iter().map(str::to_owned).collect()),
        },
    )?;
    if let Some(als) = &model.als {
        writer.write_embeddings(
            "als_item_factors.parquet",
            interactions.items.ids(),
            &als.item_factors,
        )?;
    }
    if let Some(e) = &model.ease {
        let mut bytes = Vec::with_capacity(e.weights.len() * 4);
        for v in e.weights.iter() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        writer.write_bytes("ease_weights.f32", &bytes)?;
    }
    Ok(())
}

fn fingerprint(log: &InteractionLog) -> String {
    let mut h = crc32fast::Hasher::new();
    for r in &log.rows {
        h.update(log.users.id(r.user).as_bytes());
        h.update(log.items.id(r.item).as_bytes());
        h.update(&r.ts.to_le_bytes());
        h.update(&r.weight.to_le_bytes());
    }
    format!("{:08x}", h.finalize())
}

impl fmt::Display for TrainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        writeln!(
            f,
            "kindred train: bundle written to {}",
            self.bundle.display()
        )?;
        writeln!(f)?;
        writeln!(f, "Data")?;
        writeln!(
            f,
            "  events       {:>10} read, {} rejected",
            c.events, c.rejected
        )?;
        writeln!(
            f,
            "  catalog      {:>10} items, {} rejected; {} more items known only from events",
            c.catalog_items, c.catalog_rejected, c.unknown_items
        )?;
        writeln!(
            f,
            "  identities   {:>10} links; {} anonymous events attributed to customers",
            c.identity_links, c.resolve.linked_events
        )?;
        writeln!(
            f,
            "  learned from {:>10} interactions of {} customers and {} anonymous visitors",
            c.interactions, c.customers, c.anonymous_visitors
        )?;
        writeln!(
            f,
            "  items        {:>10} with interactions, {} cold (content embeddings)",
            c.warm_items, c.cold_items
        )?;
        if !self.rejections.is_empty() {
            writeln!(f, "  rejected rows by reason:")?;
            for (reason, n) in &self.rejections.counts {
                writeln!(f, "    {n:>8}  {reason}")?;
            }
            for ex in self.rejections.examples.iter().take(5) {
                writeln!(f, "    e.g. {ex}")?;
            }
        }
        writeln!(f)?;
        writeln!(f, "Model: {}", self.model)?;
        if let Some(e) = &self.eval {
            let (m, b) = (&e.report.metrics, &e.report.baseline);
            writeln!(
                f,
                "  held-out test ({} users)  recall@{k}  ndcg@{k}  hr@{k}  coverage",
                m.users,
                k = m.k
            )?;
            for (name, x) in [("kindred", m), ("popularity", b)] {
                writeln!(
                    f,
                    "  {:<24} {:>9.4} {:>8.4} {:>6.4} {:>9.4}",
                    name, x.recall, x.ndcg, x.hr, x.coverage
                )?;
            }
        }
        writeln!(
            f,
            "  HNSW recall@{} vs brute force: items {:.3}, customers {:.3} ({} sampled queries)",
            self.recall.k, self.recall.items, self.recall.customers, self.recall.sample
        )?;
        writeln!(f)?;
        match &self.segmentation {
            Some(s) => write_segments(f, s)?,
            None => writeln!(
                f,
                "{}",
                self.segment_note.as_deref().unwrap_or("no segments")
            )?,
        }
        writeln!(f)?;
        let total: f64 = self.timings.iter().map(|(_, s)| s).sum();
        let steps: Vec<String> = self
            .timings
            .iter()
            .map(|(n, s)| format!("{n} {s:.1}s"))
            .collect();
        writeln!(f, "Took {total:.1}s: {}", steps.join(", "))
    }
}

fn write_segments(f: &mut impl fmt::Write, s: &Segmentation) -> fmt::Result {
    writeln!(
        f,
        "Segments: {} (silhouette {:.3})",
        s.segments.len(),
        s.silhouette
    )?;
    writeln!(
        f,
        "  {:>3}  {:<28} {:>8} {:>6}  top categories",
        "id", "name", "size", "share"
    )?;
    for seg in &s.segments {
        let cats: Vec<String> = seg
            .top_categories
            .iter()
            .take(3)
            .map(|(c, v)| format!("{c} {:.0}%", v * 100.0))
            .collect();
        writeln!(
            f,
            "  {:>3}  {:<28} {:>8} {:>5.1}%  {}",
            seg.id,
            seg.name,
            seg.size,
            seg.share * 100.0,
            cats.join(", ")
        )?;
    }
    for seg in &s.segments {
        writeln!(f, "  [{}] {}", seg.id, seg.description)?;
    }
    Ok(())
}

/// The text `kindred inspect` prints: manifest summary and segment descriptions.
pub fn describe_bundle(reader: &BundleReader) -> Result<String, BundleError> {
    let m = &reader.manifest;
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(out, "bundle   {}", reader.dir.display());
    let _ = writeln!(
        out,
        "version  {} (format {}, kindred {}), created {}",
        m.version, m.format_version, m.kindred_version, m.created_at
    );
    let _ = writeln!(out, "data     fingerprint {}", m.data_fingerprint);
    if let Some(d) = m.params.get("model_description").and_then(|v| v.as_str()) {
        let _ = writeln!(out, "model    {d}");
    }
    let _ = writeln!(
        out,
        "counts   {}",
        serde_json::to_string(&m.counts).unwrap_or_default()
    );
    if let Some(t) = m.metrics.get("test").filter(|t| !t.is_null()) {
        for who in ["metrics", "baseline"] {
            if let Some(x) = t.get(who) {
                let get = |k: &str| x.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
                let _ = writeln!(
                    out,
                    "{:<8} recall {:.4}  ndcg {:.4}  hr {:.4}  coverage {:.4}",
                    if who == "metrics" { "test" } else { "popular" },
                    get("recall"),
                    get("ndcg"),
                    get("hr"),
                    get("coverage")
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "index    recall@10 {}",
        serde_json::to_string(&m.index_recall).unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "files    {}",
        m.files
            .iter()
            .map(|(n, e)| format!("{n} ({} KiB)", e.bytes / 1024))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if m.files.contains_key("segments.json") {
        let s: Segmentation = reader.read_json("segments.json")?;
        let _ = writeln!(out);
        let _ = write_segments(&mut out, &s);
    }
    Ok(out)
}
