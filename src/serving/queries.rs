//! The read queries, as plain functions over a [`Model`].

use super::{CompiledFilter, ListQuery, Model, QueryError, Visitor};
use kindred_training::index::{VectorIndex, dot};
use kindred_training::models::{HistoryEntry, Recommender, best_first, keep_best, top_k};
use std::collections::HashSet;

/// Nearest customers consulted by [`also_want`].
pub const ALSO_WANT_NEIGHBOURS: usize = 50;
/// Most recent distinct items considered when explaining a recommendation.
const REASON_HISTORY: usize = 20;

/// One returned item, with what the shop shows and why it was chosen.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ScoredItem {
    pub item_id: String,
    /// Higher is better; the scale depends on the endpoint (cosine similarity for `similar`).
    pub score: f32,
    pub title: String,
    pub category: String,
    pub price: Option<f64>,
    pub in_stock: bool,
    /// Why it was chosen, for people ("similar to Blue Runner 42").
    pub reason: String,
    /// The item-table row of the model that answered (not sent: rows change between
    /// bundles), so in-process callers such as the landing page need no id lookup.
    #[serde(skip)]
    #[schema(ignore)]
    pub row: u32,
}

/// A customer similar to the one asked about.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Lookalike {
    pub customer_id: String,
    /// Cosine similarity of the customers' embeddings.
    pub score: f32,
    /// The lookalike's segment id, when the bundle has segments.
    pub segment: Option<u32>,
}

/// A segment named in a profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SegmentRef {
    pub id: u32,
    pub name: String,
    pub description: String,
}

/// Counters of a customer's history in the bundle.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ProfileCounts {
    /// Weighted interactions (views, carts, purchases, reviews, …).
    pub interactions: usize,
    pub distinct_items: usize,
    /// Interactions at least as strong as an add-to-cart.
    pub carts_or_purchases: usize,
    /// Epoch seconds of the first and last interaction.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
}

/// An item of a customer's recent history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RecentItem {
    pub item_id: String,
    pub title: String,
    pub category: String,
    pub price: Option<f64>,
    pub in_stock: bool,
    /// Epoch seconds of the latest interaction with it.
    pub ts: i64,
}

/// What the bundle knows about a customer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ProfileOut {
    pub customer_id: String,
    pub segment: Option<SegmentRef>,
    pub counts: ProfileCounts,
    /// Up to 10 distinct items, newest first.
    pub recent_items: Vec<RecentItem>,
}

/// A category and its share of a segment's weighted item events.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CategoryShare {
    pub category: String,
    pub share: f64,
}

/// A segment, as `GET /v1/segments` describes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SegmentOut {
    pub id: u32,
    pub name: String,
    pub description: String,
    pub size: usize,
    /// Share of all customers.
    pub share: f64,
    pub top_categories: Vec<CategoryShare>,
    pub avg_order_value: f64,
    pub conversion_rate: f64,
    /// Trending items in the segment (only on `GET /v1/segments/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_items: Option<Vec<ScoredItem>>,
}

fn item_out(model: &Model, row: usize, score: f32, reason: String) -> ScoredItem {
    let item = &model.items.items[row];
    ScoredItem {
        item_id: item.item_id.clone(),
        score,
        title: item.title.clone(),
        category: item.category.clone(),
        price: item.price,
        in_stock: item.in_stock,
        reason,
        row: row as u32,
    }
}

fn index_of(model: &Model, customers: bool, exact: bool) -> &dyn VectorIndex {
    let index = if customers {
        &model.customer_index
    } else {
        &model.item_index
    };
    if exact { index.exact() } else { index }
}

/// The `q.k` items nearest to `item_id` by embedding (cosine), the item itself left out,
/// filters applied before the cut.
pub fn similar_items(
    model: &Model,
    item_id: &str,
    q: &ListQuery,
) -> Result<Vec<ScoredItem>, QueryError> {
    let row = model.item_row(item_id)?;
    let found = similar_rows(model, row, q)?;
    let reason = format!("similar to {}", model.items.items[row].title);
    Ok(found
        .into_iter()
        .map(|(r, s)| item_out(model, r as usize, s, reason.clone()))
        .collect())
}

/// What [`similar_items`] returns for item-table row `row`, as rows with similarities.
///
/// The trainer's stored list of the item's nearest items answers when the first `q.k` of it
/// that pass the filters are there: those are then exactly what the search would keep,
/// since every item outside the list is less similar than all in it. Otherwise (a narrow
/// filter, `exact`, a bundle without lists) the index is searched.
pub fn similar_rows(
    model: &Model,
    row: usize,
    q: &ListQuery,
) -> Result<Vec<(u32, f32)>, QueryError> {
    let cf = q.filters.compile(model)?;
    let filtered = !q.filters.is_empty();
    if !q.exact
        && let Some(lists) = &model.item_neighbours
        && lists.k() >= q.k
    {
        let picked: Vec<(u32, f32)> = lists
            .of(row)
            .iter()
            .filter(|(r, _)| !filtered || cf.keep(*r as usize))
            .take(q.k)
            .copied()
            .collect();
        if picked.len() == q.k {
            return Ok(picked);
        }
    }
    let index = index_of(model, false, q.exact);
    let query = model.item_index.exact().row(row).to_vec();
    Ok(if filtered {
        let keep = |r: usize| r != row && cf.keep(r);
        index.search(&query, q.k, Some(&keep))
    } else {
        // No filter: a plain (fast) graph walk for one more, then drop the item itself.
        let mut f = index.search(&query, q.k + 1, None);
        f.retain(|(r, _)| *r as usize != row);
        f.truncate(q.k);
        f
    })
}

/// The customer's [`REASON_HISTORY`] most recent distinct items (item-table rows), newest
/// first: the candidates [`because_of`] explains a recommendation with.
fn reason_candidates(history: &[HistoryEntry]) -> Vec<usize> {
    let mut recent: Vec<usize> = Vec::with_capacity(REASON_HISTORY);
    for h in history.iter().rev() {
        if recent.len() == REASON_HISTORY {
            break;
        }
        let item = h.item as usize;
        if !recent.contains(&item) {
            recent.push(item);
        }
    }
    recent
}

/// Why `row` suits a customer: the most similar of their recent items (`recent`, from
/// [`reason_candidates`]).
fn because_of(model: &Model, recent: &[usize], row: usize) -> String {
    let exact = model.item_index.exact();
    let target = exact.row(row);
    let best = recent
        .iter()
        .map(|&r| (r, dot(exact.row(r), target)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    match best {
        Some((r, s)) if s > 0.0 => format!("because you liked {}", model.items.items[r].title),
        _ => "popular in the shop".to_owned(),
    }
}

/// Personal recommendations: the recommender scores the visitor's history (oldest first);
/// items the visitor already has are left out, filters apply before the cut. A visitor
/// without history gets the shop's most popular items.
pub fn recommend(
    model: &Model,
    visitor: &Visitor<'_>,
    q: &ListQuery,
) -> Result<Vec<ScoredItem>, QueryError> {
    let cf = q.filters.compile(model)?;
    SCORES.with_borrow_mut(|scores| {
        fill_scores(model, visitor, scores)?;
        let owned = owned_rows(visitor);
        let recent = reason_candidates(&visitor.history);
        cut(model, scores, &owned, &recent, q.k, &cf)
    })
}

/// A visitor's recommender scores for every item, computed once to be cut many times
/// ([`recommend_scored_rows`]): a landing page asks for several filtered lists of one visitor.
#[derive(Debug, Clone)]
pub struct PersonalScores {
    scores: Vec<f32>,
    owned: Vec<u32>,
    recent: Vec<usize>,
}

/// Scores every item for `visitor` (as [`recommend`] does before its cut).
pub fn personal_scores(model: &Model, visitor: &Visitor<'_>) -> Result<PersonalScores, QueryError> {
    let mut scores = Vec::new();
    fill_scores(model, visitor, &mut scores)?;
    Ok(PersonalScores {
        scores,
        owned: owned_rows(visitor),
        recent: reason_candidates(&visitor.history),
    })
}

/// What [`recommend`] returns for `q`, from scores computed once by [`personal_scores`], as
/// item-table rows with scores, best first, without building the items' strings (ask
/// [`PersonalScores::reason`] for the reason of those used).
pub fn recommend_scored_rows(
    model: &Model,
    scored: &PersonalScores,
    q: &ListQuery,
) -> Result<Vec<(u32, f32)>, QueryError> {
    let cf = q.filters.compile(model)?;
    cut_rows(model, &scored.scores, &scored.owned, q.k, &cf)
}

impl PersonalScores {
    /// Why item-table row `row` suits the visitor ("because you liked …").
    pub fn reason(&self, model: &Model, row: usize) -> String {
        because_of(model, &self.recent, row)
    }
}

/// The recommender's scores (model item space) for the visitor's history, plus the intent
/// of their latest live clicks, into `scores`.
fn fill_scores(
    model: &Model,
    visitor: &Visitor<'_>,
    scores: &mut Vec<f32>,
) -> Result<(), QueryError> {
    let scorer = model
        .scorer
        .as_ref()
        .ok_or(QueryError::Unavailable("recommender"))?;
    let history: Vec<HistoryEntry> = visitor
        .history
        .iter()
        .filter_map(|h| {
            scorer
                .to_model
                .get(h.item as usize)
                .copied()
                .flatten()
                .map(|mi| HistoryEntry { item: mi, ..*h })
        })
        .collect();
    scores.clear();
    scores.resize(scorer.model.n_items(), 0.0);
    scorer.model.score(&history, scores);
    model.add_intent(visitor, scores);
    Ok(())
}

/// What the visitor already has (item rows), sorted, for a binary search per candidate.
fn owned_rows(visitor: &Visitor<'_>) -> Vec<u32> {
    let mut owned: Vec<u32> = visitor.history.iter().map(|h| h.item).collect();
    owned.sort_unstable();
    owned.dedup();
    owned
}

/// The best `k` of `scores` the visitor does not have and the filter keeps, with reasons.
fn cut(
    model: &Model,
    scores: &[f32],
    owned: &[u32],
    recent: &[usize],
    k: usize,
    cf: &CompiledFilter<'_>,
) -> Result<Vec<ScoredItem>, QueryError> {
    Ok(cut_rows(model, scores, owned, k, cf)?
        .into_iter()
        .map(|(row, s)| {
            item_out(
                model,
                row as usize,
                s,
                because_of(model, recent, row as usize),
            )
        })
        .collect())
}

/// The best `k` of `scores` (model item space) as item-table rows, best first.
fn cut_rows(
    model: &Model,
    scores: &[f32],
    owned: &[u32],
    k: usize,
    cf: &CompiledFilter<'_>,
) -> Result<Vec<(u32, f32)>, QueryError> {
    let scorer = model
        .scorer
        .as_ref()
        .ok_or(QueryError::Unavailable("recommender"))?;
    let top = if let Some(rows) = cf.category_rows() {
        // A category filter: only its items can pass, so only they are ranked (model items,
        // in the order of `top_k`).
        let mut found: Vec<(u32, f32)> = rows
            .iter()
            .filter(|&&r| owned.binary_search(&r).is_err() && cf.keep(r as usize))
            .filter_map(|&r| {
                let mi = scorer.to_model.get(r as usize).copied().flatten()?;
                let s = *scores.get(mi as usize)?;
                (!s.is_nan()).then_some((mi, s))
            })
            .collect();
        keep_best(&mut found, k, best_first);
        found
    } else {
        top_k(scores, k, |mi| {
            match scorer.to_row.get(mi).copied().flatten() {
                Some(r) => owned.binary_search(&r).is_ok() || !cf.keep(r as usize),
                None => true,
            }
        })
    };
    Ok(top
        .into_iter()
        .filter_map(|(mi, s)| Some((scorer.to_row.get(mi as usize).copied().flatten()?, s)))
        .collect())
}

thread_local! {
    /// Per-item (score, customers) accumulators of [`also_want_rows`].
    static ALSO_WANT: std::cell::RefCell<Vec<(f32, u32)>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Per-thread scratch for [`recommend`]'s score per model item, reused across requests.
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The `k` customers nearest to the visitor's embedding `query`, the visitor and withheld
/// (erased) customers left out: the trainer's stored list for a bundle customer without
/// live events when it holds nobody withheld (the same search, done once), else an
/// unfiltered search (the index's fast path) for a few more.
fn nearest_customers<'a>(
    model: &'a Model,
    visitor: &Visitor<'_>,
    query: &[f32],
    k: usize,
    exact: bool,
) -> std::borrow::Cow<'a, [(u32, f32)]> {
    if !exact
        && let Some(stored) = model.stored_neighbours(visitor, k)
        && !model.withheld.any(stored.iter().map(|(r, _)| *r))
    {
        return std::borrow::Cow::Borrowed(stored);
    }
    // With customers withheld (erased), search for as many more as are withheld (up to
    // 4k), so that k remain once they are left out.
    let extra = model.withheld.len().min(4 * k);
    let mut found = index_of(model, true, exact).search(query, k + 1 + extra, None);
    found.retain(|(r, _)| Some(*r as usize) != visitor.row && !model.withheld.contains(*r));
    found.truncate(k);
    std::borrow::Cow::Owned(found)
}

/// "Customers like this also want": the customer's [`ALSO_WANT_NEIGHBOURS`] nearest
/// customers, each item they bought or carted scored by the sum of their similarities,
/// minus what this customer already has; filters apply before the cut.
pub fn also_want(
    model: &Model,
    visitor: &Visitor<'_>,
    q: &ListQuery,
) -> Result<Vec<ScoredItem>, QueryError> {
    Ok(also_want_rows(model, visitor, q)?
        .into_iter()
        .map(|w| item_out(model, w.row as usize, w.score, w.reason()))
        .collect())
}

/// An item of [`also_want_rows`]: its item-table row, score (the summed similarity of the
/// neighbours who bought or carted it) and how many of them did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlsoWanted {
    pub row: u32,
    pub score: f32,
    pub customers: u32,
}

impl AlsoWanted {
    /// Why it was chosen, for people.
    pub fn reason(&self) -> String {
        let who = if self.customers == 1 {
            "customer"
        } else {
            "customers"
        };
        format!("bought or carted by {} {who} like you", self.customers)
    }
}

/// What [`also_want`] returns, as item rows, without building the items' strings.
pub fn also_want_rows(
    model: &Model,
    visitor: &Visitor<'_>,
    q: &ListQuery,
) -> Result<Vec<AlsoWanted>, QueryError> {
    let cf = q.filters.compile(model)?;
    let Some(query) = visitor.embedding.as_deref() else {
        return Ok(Vec::new());
    };
    let neighbours = nearest_customers(model, visitor, query, ALSO_WANT_NEIGHBOURS, q.exact);
    let owned = owned_rows(visitor);
    // Dense per-item accumulators (score, customers), reused per thread; only the touched
    // items are read back and reset. Each neighbour's items are distinct, so each counts
    // once per neighbour.
    let mut ranked: Vec<AlsoWanted> = ALSO_WANT.with_borrow_mut(|scratch| {
        let n_items = model.items.len();
        if scratch.len() != n_items {
            *scratch = vec![(0.0, 0); n_items];
        }
        let mut touched: Vec<u32> = Vec::new();
        for (n, sim) in neighbours.iter() {
            if *sim <= 0.0 {
                continue;
            }
            let Some(items) = model.bought_or_carted.get(*n as usize) else {
                continue;
            };
            for &item in items {
                let Some(slot) = scratch.get_mut(item as usize) else {
                    continue;
                };
                if slot.1 == 0 {
                    if owned.binary_search(&item).is_ok() || !cf.keep(item as usize) {
                        continue;
                    }
                    touched.push(item);
                }
                slot.0 += sim;
                slot.1 += 1;
            }
        }
        touched
            .into_iter()
            .map(|r| {
                let slot = &mut scratch[r as usize];
                let out = AlsoWanted {
                    row: r,
                    score: slot.0,
                    customers: slot.1,
                };
                *slot = (0.0, 0);
                out
            })
            .collect()
    });
    // The best k by score, ties to the lower row.
    keep_best(&mut ranked, q.k, |a, b| {
        b.score.total_cmp(&a.score).then(a.row.cmp(&b.row))
    });
    Ok(ranked)
}

/// The `k` customers nearest to the visitor by embedding, the visitor left out. Empty when
/// the visitor has no embedding yet.
pub fn lookalikes(
    model: &Model,
    visitor: &Visitor<'_>,
    k: usize,
    exact: bool,
) -> Result<Vec<Lookalike>, QueryError> {
    let Some(query) = visitor.embedding.as_deref() else {
        return Ok(Vec::new());
    };
    Ok(nearest_customers(model, visitor, query, k, exact)
        .iter()
        .map(|&(r, s)| Lookalike {
            customer_id: model.customers.id(r).to_owned(),
            score: s,
            segment: model
                .segmentation
                .as_ref()
                .and_then(|seg| seg.assignments.get(r as usize).copied()),
        })
        .collect())
}

/// A visitor's segment, counters and recent items.
pub fn profile(model: &Model, visitor: &Visitor<'_>) -> Result<ProfileOut, QueryError> {
    let h = &visitor.history[..];
    let distinct: HashSet<u32> = h.iter().map(|e| e.item).collect();
    let mut seen = HashSet::new();
    let recent_items = h
        .iter()
        .rev()
        .filter(|e| seen.insert(e.item))
        .take(10)
        .map(|e| {
            let item = &model.items.items[e.item as usize];
            RecentItem {
                item_id: item.item_id.clone(),
                title: item.title.clone(),
                category: item.category.clone(),
                price: item.price,
                in_stock: item.in_stock,
                ts: e.ts,
            }
        })
        .collect();
    Ok(ProfileOut {
        customer_id: visitor.id.to_string(),
        segment: visitor
            .segment
            .and_then(|id| model.segment(id))
            .map(|s| SegmentRef {
                id: s.id,
                name: s.name.clone(),
                description: s.description.clone(),
            }),
        counts: ProfileCounts {
            interactions: h.len(),
            distinct_items: distinct.len(),
            carts_or_purchases: h.iter().filter(|e| e.weight >= model.cart_weight).count(),
            first_seen: h.first().map(|e| e.ts),
            last_seen: h.last().map(|e| e.ts),
        },
        recent_items,
    })
}

fn segment_out(s: &kindred_training::segments::Segment) -> SegmentOut {
    SegmentOut {
        id: s.id,
        name: s.name.clone(),
        description: s.description.clone(),
        size: s.size,
        share: s.share,
        top_categories: s
            .top_categories
            .iter()
            .map(|(c, v)| CategoryShare {
                category: c.clone(),
                share: *v,
            })
            .collect(),
        avg_order_value: s.avg_order_value,
        conversion_rate: s.conversion_rate,
        top_items: None,
    }
}

/// Every segment of the bundle (largest first).
pub fn segments(model: &Model) -> Result<Vec<SegmentOut>, QueryError> {
    let s = model
        .segmentation
        .as_ref()
        .ok_or(QueryError::Unavailable("segments"))?;
    Ok(s.segments.iter().map(segment_out).collect())
}

/// One segment with its 10 trending items.
pub fn segment(model: &Model, id: &str) -> Result<SegmentOut, QueryError> {
    let s = model
        .segmentation
        .as_ref()
        .ok_or(QueryError::Unavailable("segments"))?;
    let seg = id
        .parse::<u32>()
        .ok()
        .and_then(|n| s.segments.iter().find(|seg| seg.id == n))
        .ok_or_else(|| QueryError::UnknownSegment(id.to_owned()))?;
    let mut out = segment_out(seg);
    let items = model
        .popularity
        .by_segment
        .get(&seg.id)
        .map(|list| {
            list.iter()
                .filter_map(|(item, score)| {
                    let row = model.items.ids.get(item)? as usize;
                    Some(item_out(
                        model,
                        row,
                        *score,
                        format!("trending in segment {}", seg.name),
                    ))
                })
                .take(10)
                .collect()
        })
        .unwrap_or_default();
    out.top_items = Some(items);
    Ok(out)
}
