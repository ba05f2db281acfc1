//! Per-user temporal split.
//!
//! A user with at least [`SplitParams::min_items`] distinct items has the chronologically last
//! `ceil(holdout × n)` of their `n` interactions (ordered by `ts`, then item id) held out; the
//! rest is training. The user's test set is the distinct held-out items that are not in their
//! training part. Users with fewer distinct items stay entirely in training.

use crate::interactions::{Interaction, InteractionLog};
use std::collections::HashSet;

/// Parameters of the split protocol; the defaults are DESIGN.md's protocol.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitParams {
    /// Share of each user's interactions held out (default 0.2).
    pub holdout: f64,
    /// Users with fewer distinct items are not split (default 5).
    pub min_items: usize,
}

impl Default for SplitParams {
    fn default() -> Self {
        Self {
            holdout: 0.2,
            min_items: 5,
        }
    }
}

/// Held-out items per user, by the ids of the training log.
#[derive(Debug, Clone, Default)]
pub struct TestSet {
    /// `(user, items)`: users with a non-empty test set; `user` indexes the training log's
    /// user map, items its item map (`None` for items the training part never saw).
    pub users: Vec<(u32, Vec<Option<u32>>)>,
    /// Test users unknown to the training part, with their test item count; they are
    /// evaluated as cold visitors with an empty history.
    pub cold_users: Vec<(String, Vec<Option<u32>>)>,
}

impl TestSet {
    /// Number of users evaluated.
    pub fn n_users(&self) -> usize {
        self.users.len() + self.cold_users.len()
    }

    /// Keeps at most `n` users (known and cold together), drawn at random with `seed`.
    pub fn sample(&mut self, n: usize, seed: u64) {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        if self.n_users() <= n {
            return;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let share = n as f64 / self.n_users() as f64;
        let known = ((self.users.len() as f64) * share).round() as usize;
        self.users.shuffle(&mut rng);
        self.users.truncate(known);
        self.users.sort_by_key(|(u, _)| *u);
        self.cold_users.shuffle(&mut rng);
        self.cold_users.truncate(n.saturating_sub(known));
    }

    /// Maps a test log (possibly with its own id maps) into the ids of `train`.
    pub fn from_logs(train: &InteractionLog, test: &InteractionLog) -> TestSet {
        let mut per_user: Vec<Vec<u32>> = vec![Vec::new(); test.users.len()];
        for r in &test.rows {
            per_user[r.user as usize].push(r.item);
        }
        let train_items_of = user_item_sets(train);
        let mut set = TestSet::default();
        for (tu, items) in per_user.into_iter().enumerate() {
            if items.is_empty() {
                continue;
            }
            let uid = test.users.id(tu as u32);
            let mut seen = HashSet::new();
            let mapped_user = train.users.get(uid);
            let mut mapped = Vec::new();
            for ti in items {
                let iid = test.items.id(ti);
                if !seen.insert(ti) {
                    continue;
                }
                let item = train.items.get(iid);
                if let (Some(u), Some(i)) = (mapped_user, item)
                    && train_items_of[u as usize].contains(&i)
                {
                    continue;
                }
                mapped.push(item);
            }
            if mapped.is_empty() {
                continue;
            }
            match mapped_user {
                Some(u) => set.users.push((u, mapped)),
                None => set.cold_users.push((uid.to_owned(), mapped)),
            }
        }
        set.users.sort_by_key(|(u, _)| *u);
        set
    }
}

fn user_item_sets(log: &InteractionLog) -> Vec<HashSet<u32>> {
    let mut sets = vec![HashSet::new(); log.users.len()];
    for r in &log.rows {
        sets[r.user as usize].insert(r.item);
    }
    sets
}

/// The two parts of a split, sharing the id maps of the input log.
#[derive(Debug, Clone)]
pub struct Split {
    pub train: InteractionLog,
    /// Held-out interactions (all of them, including items also in the training part).
    pub test: InteractionLog,
}

impl Split {
    /// The evaluation targets: distinct held-out items not in the user's training part.
    pub fn test_set(&self) -> TestSet {
        TestSet::from_logs(&self.train, &self.test)
    }
}

/// Splits `log` by the protocol. Both parts keep `log`'s id maps.
pub fn temporal_split(log: &InteractionLog, params: &SplitParams) -> Split {
    let mut by_user: Vec<Vec<Interaction>> = vec![Vec::new(); log.users.len()];
    for r in &log.rows {
        by_user[r.user as usize].push(*r);
    }
    let mut train = Vec::with_capacity(log.rows.len());
    let mut test = Vec::new();
    for mut rows in by_user {
        let distinct: HashSet<u32> = rows.iter().map(|r| r.item).collect();
        if distinct.len() < params.min_items {
            train.extend(rows);
            continue;
        }
        rows.sort_by(|a, b| {
            a.ts.cmp(&b.ts)
                .then_with(|| log.items.id(a.item).cmp(log.items.id(b.item)))
        });
        let n_test = ((rows.len() as f64) * params.holdout).ceil() as usize;
        let cut = rows.len() - n_test.min(rows.len());
        test.extend_from_slice(&rows[cut..]);
        rows.truncate(cut);
        train.extend(rows);
    }
    Split {
        train: log.with_rows(train),
        test: log.with_rows(test),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn holds_out_last_ceil_fifth_by_time_then_item() {
        let mut log = InteractionLog::default();
        // u1: 6 interactions over 5 distinct items, two at the same last second.
        for (item, ts) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("f", 9), ("e", 9)] {
            log.push("u1", item, ts, 1.0);
        }
        // u2: only 4 distinct items: stays in training.
        for (item, ts) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("d", 5)] {
            log.push("u2", item, ts, 1.0);
        }
        let split = temporal_split(&log, &SplitParams::default());
        // ceil(0.2 × 6) = 2 held out: the two at ts 9, ordered e then f.
        let held: Vec<&str> = split
            .test
            .rows
            .iter()
            .map(|r| log.items.id(r.item))
            .collect();
        assert_eq!(held, vec!["e", "f"]);
        assert_eq!(split.train.rows.len(), 4 + 5);
        let set = split.test_set();
        assert_eq!(set.users.len(), 1);
        assert_eq!(set.users[0].1.len(), 2);
    }

    #[test]
    fn test_items_seen_in_training_are_not_targets() {
        let mut log = InteractionLog::default();
        for (item, ts) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("a", 6)] {
            log.push("u", item, ts, 1.0);
        }
        let split = temporal_split(&log, &SplitParams::default());
        // ceil(1.2) = 2 held out: e and a; a is in training, so only e is a target.
        let set = split.test_set();
        let targets: Vec<&str> = set.users[0]
            .1
            .iter()
            .map(|i| log.items.id(i.unwrap()))
            .collect();
        assert_eq!(targets, vec!["e"]);
    }
}
