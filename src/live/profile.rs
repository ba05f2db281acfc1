//! One visitor's live profile.

use crate::events::Consent;
use kindred_training::data::EventType;
use std::collections::VecDeque;
use std::sync::Arc;

/// One item event of a live profile.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEntry {
    pub item: Arc<str>,
    /// The event's implicit-feedback weight (negative for removals and bad reviews).
    pub weight: f32,
    pub kind: EventType,
    pub ts_ms: i64,
}

/// The cached real-time embedding of a profile.
#[derive(Debug, Clone, PartialEq)]
struct EmbeddingCache {
    model_version: String,
    revision: u64,
    embedding: Option<Vec<f32>>,
    segment: Option<u32>,
}

/// What one visitor did since the bundle was trained (and before, back to the last
/// restart's replay): recent item events, counters per event type, consent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// Item events, oldest first, at most `max_recent`.
    recent: VecDeque<LiveEntry>,
    /// Events per [`EventType`] (in `EventType::ALL` order), all of them.
    counts: [u32; 9],
    first_ts_ms: i64,
    last_ts_ms: i64,
    consent: Consent,
    /// Anonymous ids linked to this customer.
    linked: Vec<Box<str>>,
    /// Bumped by every change; keys the embedding cache.
    revision: u64,
    cache: Option<Box<EmbeddingCache>>,
}

/// A copy of what a profile says, for `GET /v1/customers/{id}/profile`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSnapshot {
    pub counts: Vec<(EventType, u32)>,
    pub first_ts_ms: i64,
    pub last_ts_ms: i64,
    pub consent: Consent,
    pub linked: Vec<String>,
    /// Item events kept, newest first.
    pub recent: Vec<LiveEntry>,
}

fn type_index(kind: EventType) -> usize {
    EventType::ALL
        .iter()
        .position(|t| *t == kind)
        .unwrap_or_default()
}

impl Profile {
    /// Counts one event and keeps its item entry, newest last.
    pub fn record(
        &mut self,
        kind: EventType,
        ts_ms: i64,
        consent: Consent,
        entry: Option<LiveEntry>,
        max_recent: usize,
    ) {
        let total: u32 = self.counts.iter().sum();
        if total == 0 || ts_ms < self.first_ts_ms {
            self.first_ts_ms = ts_ms;
        }
        self.last_ts_ms = self.last_ts_ms.max(ts_ms);
        self.counts[type_index(kind)] = self.counts[type_index(kind)].saturating_add(1);
        self.consent = consent;
        if let Some(e) = entry {
            // Events usually arrive in order; a late one is put in its place.
            let at = self
                .recent
                .iter()
                .rposition(|r| r.ts_ms <= e.ts_ms)
                .map_or(0, |p| p + 1);
            self.recent.insert(at, e);
            while self.recent.len() > max_recent.max(1) {
                self.recent.pop_front();
            }
        }
        self.revision += 1;
    }

    /// Takes in another profile of the same person (an anonymous session that identified).
    pub fn absorb(&mut self, other: Profile, max_recent: usize) {
        let mine: u32 = self.counts.iter().sum();
        let theirs: u32 = other.counts.iter().sum();
        if theirs > 0 {
            self.first_ts_ms = if mine == 0 {
                other.first_ts_ms
            } else {
                self.first_ts_ms.min(other.first_ts_ms)
            };
            self.last_ts_ms = self.last_ts_ms.max(other.last_ts_ms);
        }
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a = a.saturating_add(b);
        }
        let mut merged: Vec<LiveEntry> = self.recent.drain(..).chain(other.recent).collect();
        merged.sort_by_key(|e| e.ts_ms);
        let skip = merged.len().saturating_sub(max_recent.max(1));
        self.recent = merged.into_iter().skip(skip).collect();
        for a in other.linked {
            if !self.linked.contains(&a) {
                self.linked.push(a);
            }
        }
        self.revision += 1;
    }

    pub fn add_linked(&mut self, anonymous_id: &str) {
        if !self.linked.iter().any(|a| a.as_ref() == anonymous_id) {
            self.linked.push(anonymous_id.into());
            self.revision += 1;
        }
    }

    /// Anonymous ids linked to this customer.
    pub fn linked(&self) -> &[Box<str>] {
        &self.linked
    }

    /// Item events, oldest first.
    pub fn recent(&self) -> impl Iterator<Item = &LiveEntry> {
        self.recent.iter()
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub(super) fn cached(
        &self,
        model_version: &str,
        revision: u64,
    ) -> Option<(Option<Vec<f32>>, Option<u32>)> {
        let c = self.cache.as_ref()?;
        (c.revision == revision && c.model_version == model_version)
            .then(|| (c.embedding.clone(), c.segment))
    }

    pub(super) fn cache(
        &mut self,
        model_version: &str,
        revision: u64,
        embedding: Option<Vec<f32>>,
        segment: Option<u32>,
    ) {
        self.cache = Some(Box::new(EmbeddingCache {
            model_version: model_version.to_owned(),
            revision,
            embedding,
            segment,
        }));
    }

    pub fn snapshot(&self) -> ProfileSnapshot {
        ProfileSnapshot {
            counts: EventType::ALL
                .iter()
                .zip(self.counts)
                .filter(|(_, n)| *n > 0)
                .map(|(t, n)| (*t, n))
                .collect(),
            first_ts_ms: self.first_ts_ms,
            last_ts_ms: self.last_ts_ms,
            consent: self.consent,
            linked: self.linked.iter().map(|a| a.to_string()).collect(),
            recent: self.recent.iter().rev().cloned().collect(),
        }
    }

    /// Heap bytes held by this profile (item ids are shared, counted once elsewhere).
    pub fn heap_bytes(&self) -> usize {
        self.recent.capacity() * std::mem::size_of::<LiveEntry>()
            + self.linked.iter().map(|a| a.len() + 16).sum::<usize>()
            + self.cache.as_ref().map_or(0, |c| {
                std::mem::size_of::<EmbeddingCache>()
                    + c.model_version.capacity()
                    + c.embedding.as_ref().map_or(0, |e| e.capacity() * 4)
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(item: &str, ts_ms: i64) -> Option<LiveEntry> {
        Some(LiveEntry {
            item: Arc::from(item),
            weight: 1.0,
            kind: EventType::View,
            ts_ms,
        })
    }

    #[test]
    fn keeps_the_newest_entries_in_time_order() {
        let mut p = Profile::default();
        for (item, ts) in [("a", 10), ("b", 30), ("c", 20), ("d", 40)] {
            p.record(EventType::View, ts, Consent::Full, entry(item, ts), 3);
        }
        let items: Vec<&str> = p.recent().map(|e| e.item.as_ref()).collect();
        assert_eq!(items, ["c", "b", "d"]);
        let s = p.snapshot();
        assert_eq!(s.counts, [(EventType::View, 4)]);
        assert_eq!((s.first_ts_ms, s.last_ts_ms), (10, 40));
        assert_eq!(p.revision(), 4);
    }

    #[test]
    fn absorbing_a_session_merges_counts_and_history() {
        let mut customer = Profile::default();
        customer.record(EventType::Purchase, 100, Consent::Full, entry("x", 100), 10);
        let mut session = Profile::default();
        session.record(EventType::View, 50, Consent::Full, entry("y", 50), 10);
        session.record(EventType::Search, 60, Consent::Full, None, 10);
        customer.absorb(session, 10);
        let items: Vec<&str> = customer.recent().map(|e| e.item.as_ref()).collect();
        assert_eq!(items, ["y", "x"]);
        let s = customer.snapshot();
        assert_eq!(s.first_ts_ms, 50);
        assert_eq!(s.counts.iter().map(|c| c.1).sum::<u32>(), 3);
    }
}
