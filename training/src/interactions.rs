//! From events to the weighted user × item interaction matrix.
//!
//! [`resolve`] applies identity links (an anonymous visitor who later logged in becomes that
//! customer), turns every item event into a weighted [`Interaction`] by [`EventWeights`], and
//! interns users and items into dense ids. [`SparseMatrix`] is the compressed-row matrix that
//! the models train on, with optional recency decay.

use crate::data::{EventLog, EventType, IdentityLinks};
use crate::ids::IdMap;
use std::collections::HashMap;

/// Prefix of the user id given to a visitor who never identified (`anon:<anonymous_id>`).
pub const ANONYMOUS_PREFIX: &str = "anon:";

/// One weighted user–item interaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interaction {
    pub user: u32,
    pub item: u32,
    /// Seconds since the Unix epoch.
    pub ts: i64,
    pub weight: f32,
}

/// Interactions with their user and item id maps: the input of every model and of the
/// evaluation protocol (`kindred split` writes exactly these columns).
#[derive(Debug, Clone, Default)]
pub struct InteractionLog {
    pub users: IdMap,
    pub items: IdMap,
    pub rows: Vec<Interaction>,
}

impl InteractionLog {
    /// Appends an interaction by external ids.
    pub fn push(&mut self, user: &str, item: &str, ts: i64, weight: f32) {
        let user = self.users.intern(user);
        let item = self.items.intern(item);
        self.rows.push(Interaction {
            user,
            item,
            ts,
            weight,
        });
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// A log with the same id maps and the given rows.
    pub fn with_rows(&self, rows: Vec<Interaction>) -> InteractionLog {
        InteractionLog {
            users: self.users.clone(),
            items: self.items.clone(),
            rows,
        }
    }

    /// Latest timestamp in the log (0 when empty).
    pub fn max_ts(&self) -> i64 {
        self.rows.iter().map(|r| r.ts).max().unwrap_or(0)
    }
}

/// How much each event type counts as implicit feedback.
///
/// Defaults follow DESIGN.md: view < add_to_cart < purchase; a review counts by its rating
/// (a low rating counts against the item); page views, searches and e-mail events carry no
/// item preference and weigh 0.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventWeights {
    pub view: f32,
    pub add_to_cart: f32,
    pub remove_from_cart: f32,
    pub purchase: f32,
    /// Weight of a review rated 5; a rating r counts `review * (r - 3) / 2`.
    pub review: f32,
    pub email_click: f32,
}

impl Default for EventWeights {
    fn default() -> Self {
        Self {
            view: 1.0,
            add_to_cart: 3.0,
            remove_from_cart: -1.0,
            purchase: 5.0,
            review: 4.0,
            email_click: 0.5,
        }
    }
}

impl EventWeights {
    /// The weight of one event, or `None` when the type carries no item preference.
    pub fn weight(&self, kind: EventType, rating: Option<f32>, quantity: f32) -> Option<f32> {
        let w = match kind {
            EventType::View => self.view,
            EventType::AddToCart => self.add_to_cart,
            EventType::RemoveFromCart => self.remove_from_cart,
            EventType::Purchase => self.purchase * quantity.clamp(1.0, 5.0).sqrt(),
            EventType::Review => {
                let r = rating.unwrap_or(4.0);
                self.review * (r - 3.0) / 2.0
            }
            EventType::EmailClick => self.email_click,
            EventType::PageView | EventType::Search | EventType::EmailOpen => return None,
        };
        (w != 0.0).then_some(w)
    }
}

/// What identity resolution did, for the report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResolveStats {
    /// Events attributed to a customer through an identity link.
    pub linked_events: usize,
    /// Events of visitors who never identified (kept under `anon:<id>`).
    pub anonymous_events: usize,
    /// Events without an item or without preference weight (page views, searches, …).
    pub non_item_events: usize,
    pub interactions: usize,
}

/// Maps each anonymous id of `log` to the customer it was linked to, if any.
pub fn link_table(log: &EventLog, links: &IdentityLinks) -> Vec<Option<String>> {
    let by_anon: HashMap<&str, &str> = links
        .links
        .iter()
        .map(|(a, c)| (a.as_str(), c.as_str()))
        .collect();
    log.anonymous
        .ids()
        .iter()
        .map(|a| by_anon.get(a.as_str()).map(|c| (*c).to_owned()))
        .collect()
}

/// The user id an event belongs to after identity resolution.
pub fn resolved_user(
    log: &EventLog,
    linked: &[Option<String>],
    customer: Option<u32>,
    anonymous: Option<u32>,
) -> Option<(String, bool)> {
    match (customer, anonymous) {
        (Some(c), _) => Some((log.customers.id(c).to_owned(), false)),
        (None, Some(a)) => match &linked[a as usize] {
            Some(c) => Some((c.clone(), true)),
            None => Some((format!("{ANONYMOUS_PREFIX}{}", log.anonymous.id(a)), false)),
        },
        (None, None) => None,
    }
}

/// Resolves identities and weights every item event into an [`InteractionLog`].
pub fn resolve(
    log: &EventLog,
    links: &IdentityLinks,
    weights: &EventWeights,
) -> (InteractionLog, ResolveStats) {
    let linked = link_table(log, links);
    let mut out = InteractionLog::default();
    let mut stats = ResolveStats::default();
    // Cache resolved user offsets per (customer, anonymous) source to avoid string work.
    let mut by_customer: Vec<Option<u32>> = vec![None; log.customers.len()];
    let mut by_anon: Vec<Option<u32>> = vec![None; log.anonymous.len()];
    let mut by_item: Vec<Option<u32>> = vec![None; log.items.len()];
    for e in &log.events {
        let Some(item) = e.item else {
            stats.non_item_events += 1;
            continue;
        };
        let w = match e.weight {
            Some(w) => Some(w),
            None => weights.weight(e.kind, e.rating, e.quantity),
        };
        let Some(w) = w else {
            stats.non_item_events += 1;
            continue;
        };
        let cached = match (e.customer, e.anonymous) {
            (Some(c), _) => by_customer[c as usize],
            (None, Some(a)) => by_anon[a as usize],
            (None, None) => continue,
        };
        let user = match cached {
            Some(u) => u,
            None => {
                let Some((id, _)) = resolved_user(log, &linked, e.customer, e.anonymous) else {
                    continue;
                };
                let u = out.users.intern(&id);
                match (e.customer, e.anonymous) {
                    (Some(c), _) => by_customer[c as usize] = Some(u),
                    (None, Some(a)) => by_anon[a as usize] = Some(u),
                    (None, None) => {}
                }
                u
            }
        };
        if e.customer.is_none() {
            match e.anonymous.and_then(|a| linked[a as usize].as_ref()) {
                Some(_) => stats.linked_events += 1,
                None => stats.anonymous_events += 1,
            }
        }
        let item =
            *by_item[item as usize].get_or_insert_with(|| out.items.intern(log.items.id(item)));
        out.rows.push(super::interactions::Interaction {
            user,
            item,
            ts: e.ts,
            weight: w,
        });
    }
    stats.interactions = out.rows.len();
    (out, stats)
}

/// Compressed sparse rows of `f32` values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseMatrix {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// How interactions become matrix values.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MatrixParams {
    /// Half-life of an interaction's weight in days, counted back from the newest
    /// interaction; `None` keeps every interaction at full weight.
    pub half_life_days: Option<f64>,
    /// Cells whose summed weight is at or below zero are dropped (the customer rather
    /// disliked the item).
    pub drop_non_positive: bool,
}

impl Default for MatrixParams {
    fn default() -> Self {
        Self {
            half_life_days: None,
            drop_non_positive: true,
        }
    }
}

impl SparseMatrix {
    /// Builds the user × item matrix, summing repeated interactions per cell.
    pub fn from_log(log: &InteractionLog, params: &MatrixParams) -> SparseMatrix {
        Self::from_rows(
            log.users.len(),
            log.items.len(),
            &log.rows,
            log.max_ts(),
            params,
        )
    }

    /// Builds a matrix of `n_rows × n_cols` from interactions, decaying from `now`.
    pub fn from_rows(
        n_rows: usize,
        n_cols: usize,
        rows: &[Interaction],
        now: i64,
        params: &MatrixParams,
    ) -> SparseMatrix {
        let decay = params
            .half_life_days
            .filter(|h| *h > 0.0)
            .map(|h| std::f64::consts::LN_2 / (h * 86_400.0));
        let mut counts = vec![0usize; n_rows + 1];
        for r in rows {
            counts[r.user as usize + 1] += 1;
        }
        for i in 0..n_rows {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut cells: Vec<(u32, f32)> = vec![(0, 0.0); rows.len()];
        for r in rows {
            let w = match decay {
                Some(lambda) => r.weight * (-(lambda * (now - r.ts).max(0) as f64)).exp() as f32,
                None => r.weight,
            };
            let slot = &mut fill[r.user as usize];
            cells[*slot] = (r.item, w);
            *slot += 1;
        }
        let mut indptr = Vec::with_capacity(n_rows + 1);
        let mut indices = Vec::with_capacity(rows.len());
        let mut values = Vec::with_capacity(rows.len());
        indptr.push(0);
        for u in 0..n_rows {
            let row = &mut cells[counts[u]..counts[u + 1]];
            row.sort_unstable_by_key(|c| c.0);
            let mut k = 0;
            while k < row.len() {
                let item = row[k].0;
                let mut w = 0.0;
                while k < row.len() && row[k].0 == item {
                    w += row[k].1;
                    k += 1;
                }
                if !params.drop_non_positive || w > 0.0 {
                    indices.push(item);
                    values.push(w);
                }
            }
            indptr.push(indices.len());
        }
        SparseMatrix {
            n_rows,
            n_cols,
            indptr,
            indices,
            values,
        }
    }

    /// Column indices and values of row `r`.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The transpose (item × user for a user × item matrix).
    pub fn transpose(&self) -> SparseMatrix {
        let mut counts = vec![0usize; self.n_cols + 1];
        for &c in &self.indices {
            counts[c as usize + 1] += 1;
        }
        for i in 0..self.n_cols {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0f32; self.nnz()];
        for r in 0..self.n_rows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let slot = &mut fill[c as usize];
                indices[*slot] = r as u32;
                values[*slot] = v;
                *slot += 1;
            }
        }
        SparseMatrix {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr: counts,
            indices,
            values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> InteractionLog {
        let mut l = InteractionLog::default();
        l.push("u1", "a", 10, 1.0);
        l.push("u1", "a", 20, 2.0);
        l.push("u2", "b", 20, 1.0);
        l.push("u1", "b", 5, -1.0);
        l
    }

    #[test]
    fn matrix_sums_cells_and_drops_non_positive() {
        let m = SparseMatrix::from_log(&log(), &MatrixParams::default());
        assert_eq!(m.row(0), (&[0u32][..], &[3.0f32][..]));
        assert_eq!(m.row(1), (&[1u32][..], &[1.0f32][..]));
        let t = m.transpose();
        assert_eq!(t.row(0), (&[0u32][..], &[3.0f32][..]));
        assert_eq!(t.row(1), (&[1u32][..], &[1.0f32][..]));
    }

    #[test]
    fn recency_decay_halves_at_half_life() {
        let mut l = InteractionLog::default();
        l.push("u", "old", 0, 1.0);
        l.push("u", "new", 86_400, 1.0);
        let m = SparseMatrix::from_log(
            &l,
            &MatrixParams {
                half_life_days: Some(1.0),
                drop_non_positive: true,
            },
        );
        let (_, v) = m.row(0);
        assert!(
            (v[0] - 0.5).abs() < 1e-6 && (v[1] - 1.0).abs() < 1e-6,
            "{v:?}"
        );
    }
}
