//! Recommendation models behind one small contract.
//!
//! Every model is fitted into an immutable value that implements [`Recommender`]: given a
//! visitor's history (oldest first) it scores every item. Scoring from a history rather than
//! a stored user row is what lets the server fold in a visitor's live clicks, and lets a
//! brand-new visitor be served from their session alone.
//!
//! - [`popularity::Popularity`]: time-decayed popularity (the baseline, and the fallback).
//! - [`ease::Ease`]: EASE, a closed-form item–item model; strong on small and mid catalogs.
//! - [`als::Als`]: implicit-feedback matrix factorisation; gives the item and customer
//!   embeddings the indexes and segments use.
//! - [`hybrid::Hybrid`]: the model kindred serves: a tuned blend of the above with
//!   recency-weighted histories.

pub mod als;
pub mod ease;
pub mod hybrid;
pub mod popularity;
pub mod tune;

use crate::interactions::InteractionLog;
use std::cmp::Ordering;

/// One past interaction of a visitor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryEntry {
    pub item: u32,
    pub weight: f32,
    pub ts: i64,
}

/// Scores every item for a visitor.
pub trait Recommender: Send + Sync {
    /// A short name for reports ("popularity", "ease", "als", "hybrid").
    fn name(&self) -> &str;
    /// The number of items the model scores.
    fn n_items(&self) -> usize;
    /// Writes a score per item into `out` (length [`Recommender::n_items`]) for a visitor
    /// whose history, oldest first, is `history`. Higher is better.
    fn score(&self, history: &[HistoryEntry], out: &mut [f32]);
}

/// Each user's interactions, oldest first (ties by item id), as model input.
pub fn histories(log: &InteractionLog) -> Vec<Vec<HistoryEntry>> {
    let mut out: Vec<Vec<HistoryEntry>> = vec![Vec::new(); log.users.len()];
    for r in &log.rows {
        out[r.user as usize].push(HistoryEntry {
            item: r.item,
            weight: r.weight,
            ts: r.ts,
        });
    }
    for h in &mut out {
        h.sort_by(|a, b| {
            a.ts.cmp(&b.ts)
                .then_with(|| log.items.id(a.item).cmp(log.items.id(b.item)))
        });
    }
    out
}

/// Sums a history per item, weighting the entry `p` places before the newest by
/// `0.5^(p / half_life)` (no decay when `half_life` is `None`). Returns `(item, weight)` with
/// positive weight, in first-seen order.
pub fn aggregate(history: &[HistoryEntry], half_life: Option<f32>) -> Vec<(u32, f32)> {
    let n = history.len();
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(n);
    let mut pos: std::collections::HashMap<u32, usize> =
        std::collections::HashMap::with_capacity(n);
    for (p, h) in history.iter().enumerate() {
        let age = (n - 1 - p) as f32;
        let decay = half_life.map_or(1.0, |hl| 0.5f32.powf(age / hl));
        let w = h.weight * decay;
        match pos.get(&h.item) {
            Some(&slot) => out[slot].1 += w,
            None => {
                pos.insert(h.item, out.len());
                out.push((h.item, w));
            }
        }
    }
    out.retain(|(_, w)| *w > 0.0);
    out
}

/// Orders `(index, score)` best first: higher score, then the lower index.
pub fn best_first(a: &(u32, f32), b: &(u32, f32)) -> Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// Cuts `v` to its best `k` under `order` (best first) and sorts them: a linear selection,
/// then a sort of only the `k`.
pub fn keep_best<T>(v: &mut Vec<T>, k: usize, order: impl Fn(&T, &T) -> Ordering) {
    if k > 0 && v.len() > k {
        v.select_nth_unstable_by(k - 1, &order);
    }
    v.truncate(k);
    v.sort_unstable_by(order);
}

/// The `k` best-scoring items, best first, skipping items for which `exclude` is true and
/// NaN scores. Ties are broken by the lower item index.
///
/// Candidates collect in a buffer of a few `k`; when it is full it is cut to its best `k`
/// (a linear selection) and the `k`-th score becomes the bar a later item must beat. Most
/// items then cost one comparison, and `exclude` is asked only about items that clear the
/// bar: a few per query, not one per item.
///
/// When the bar would come late (clustered scores keep raising it), a long input is first
/// tried with a bar estimated from every [`SAMPLE_STEP`]-th score: set so that about `2k`
/// items clear it, every item above it is kept, and when at least `k` did (nearly always)
/// they hold the answer, since everything below ranks lower.
pub fn top_k(scores: &[f32], k: usize, exclude: impl Fn(usize) -> bool) -> Vec<(u32, f32)> {
    if k == 0 {
        return Vec::new();
    }
    if scores.len() >= SAMPLE_MIN * k
        && let Some(found) = top_k_sampled(scores, k, &exclude)
    {
        return found;
    }
    let cap = (4 * k).max(64);
    let mut kept: Vec<(u32, f32)> = Vec::with_capacity(cap.min(scores.len()));
    // The k-th best score kept so far, once the buffer was cut. Items come in index order,
    // so an item tying with the bar ranks below it and cannot enter.
    let mut bar = f32::NEG_INFINITY;
    let mut cut = false;
    for (i, &s) in scores.iter().enumerate() {
        if s.is_nan() || (cut && s <= bar) || exclude(i) {
            continue;
        }
        kept.push((i as u32, s));
        if kept.len() == cap {
            kept.select_nth_unstable_by(k - 1, best_first);
            kept.truncate(k);
            bar = kept[k - 1].1;
            cut = true;
        }
    }
    keep_best(&mut kept, k, best_first);
    kept
}

/// [`top_k`] samples every this many scores to estimate its bar…
const SAMPLE_STEP: usize = 8;
/// …for inputs at least this many times longer than `k`.
const SAMPLE_MIN: usize = 32;

/// [`top_k`] with a bar estimated from a sample: `None` when fewer than `k` items cleared it.
fn top_k_sampled(
    scores: &[f32],
    k: usize,
    exclude: &impl Fn(usize) -> bool,
) -> Option<Vec<(u32, f32)>> {
    let mut sample: Vec<f32> = scores
        .iter()
        .step_by(SAMPLE_STEP)
        .copied()
        .filter(|s| !s.is_nan())
        .collect();
    // The sample's m-th largest: about m·SAMPLE_STEP = 2k items lie above it.
    let m = (2 * k).div_ceil(SAMPLE_STEP);
    if sample.len() <= m {
        return None;
    }
    sample.select_nth_unstable_by(m, |a, b| b.total_cmp(a));
    let bar = sample[m];
    let mut kept: Vec<(u32, f32)> = Vec::with_capacity(4 * k);
    for (i, &s) in scores.iter().enumerate() {
        if s > bar && !exclude(i) {
            kept.push((i as u32, s));
        }
    }
    if kept.len() < k {
        return None;
    }
    keep_best(&mut kept, k, best_first);
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn top_k_matches_sort_and_truncate(scores in prop::collection::vec(-5i32..5, 0..60), k in 0usize..12, m in 1usize..4) {
            let scores: Vec<f32> = scores.into_iter().map(|s| s as f32).collect();
            let got = top_k(&scores, k, |i| i % m == 0 && m > 1);
            let mut want: Vec<(u32, f32)> = scores.iter().enumerate()
                .filter(|(i, _)| !(i % m == 0 && m > 1))
                .map(|(i, &s)| (i as u32, s)).collect();
            want.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            want.truncate(k);
            prop_assert_eq!(got, want);
        }

        /// Long inputs take the sampled bar: clustered runs, ties, NaN and exclusions.
        #[test]
        fn top_k_of_long_inputs_matches_sort_and_truncate(
            runs in prop::collection::vec((-20i32..20, 1usize..200), 1..40),
            k in 1usize..40,
            m in 1usize..5,
            nan_every in 0usize..50,
        ) {
            let mut scores: Vec<f32> = Vec::new();
            for (v, len) in runs {
                scores.extend(std::iter::repeat_n(v as f32 * 0.25, len));
            }
            for (i, s) in scores.iter_mut().enumerate() {
                *s += (i % 7) as f32 * 0.01;
                if nan_every > 0 && i % nan_every == 0 {
                    *s = f32::NAN;
                }
            }
            let excluded = |i: usize| m > 1 && i.is_multiple_of(m);
            let got = top_k(&scores, k, excluded);
            let mut want: Vec<(u32, f32)> = scores.iter().enumerate()
                .filter(|(i, s)| !excluded(*i) && !s.is_nan())
                .map(|(i, &s)| (i as u32, s)).collect();
            want.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            want.truncate(k);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn aggregate_decays_by_position() {
        let h = [
            HistoryEntry {
                item: 1,
                weight: 1.0,
                ts: 0,
            },
            HistoryEntry {
                item: 2,
                weight: 1.0,
                ts: 1,
            },
            HistoryEntry {
                item: 1,
                weight: 1.0,
                ts: 2,
            },
        ];
        let a = aggregate(&h, Some(1.0));
        assert_eq!(a[0].0, 1);
        assert!((a[0].1 - (1.0 + 0.25)).abs() < 1e-6);
        assert!((a[1].1 - 0.5).abs() < 1e-6);
    }
}
