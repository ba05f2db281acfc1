//! Live profiles: what visitors did since the served bundle was trained.
//!
//! Every accepted event updates its visitor's [`Profile`] in memory in the same request
//! (recent item events, counters per event type, consent), so the very next query sees it.
//! A profile is keyed by the visitor's id: the customer id for known visitors, and
//! `anon:<anonymous_id>` for anonymous ones (with `anonymous` consent the anonymous id is
//! the coarse device key). When an anonymous visitor identifies, [`Live::link`] moves their
//! profile into the customer's and later events of that anonymous id go to the customer.
//!
//! [`Live::visitor`] merges a profile with the bundle's view of the same visitor into a
//! [`Visitor`]: the bundle's history, the bundle histories of the anonymous ids linked since,
//! and the live item events newer than the bundle's training data, oldest first. The
//! real-time embedding is a fold-in of that history against the model's item factors (one
//! small k×k solve), computed when a query first needs it after a change and cached in the
//! profile until the next event or model swap.
//!
//! Profiles are rebuilt from the event store at start-up ([`Live::rebuild`]): links first,
//! then every stored event in order, so a restart loses nothing.

mod profile;

pub use profile::{LiveEntry, Profile, ProfileSnapshot};

use crate::events::Consent;
use crate::serving::{Model, Visitor};
use dashmap::{DashMap, DashSet};
use kindred_training::data::write::EventRow;
use kindred_training::interactions::{ANONYMOUS_PREFIX, EventWeights};
use kindred_training::models::HistoryEntry;
use std::borrow::Cow;
use std::sync::Arc;

/// Settings of the live layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveParams {
    /// Item events kept per visitor, newest win (default 50; older ones stay in the store
    /// and reach the model at the next training).
    pub max_recent: usize,
    /// How much each event type counts (the trainer's defaults).
    pub weights: EventWeights,
    /// How strongly personal recommendations follow the latest live clicks: the weight of
    /// the intent term beside the recommender's scores scaled to a best of 1 (default 1.0;
    /// 0 turns it off).
    pub intent_weight: f32,
    /// Latest live item events that make up the intent (default 10), each counting 0.8×
    /// the one after it.
    pub intent_items: usize,
}

impl Default for LiveParams {
    fn default() -> Self {
        Self {
            max_recent: 50,
            weights: EventWeights::default(),
            intent_weight: 1.0,
            intent_items: 10,
        }
    }
}

/// The live profiles of every visitor, with identity links and erasures.
#[derive(Debug, Default)]
pub struct Live {
    params: LiveParams,
    profiles: DashMap<Box<str>, Profile>,
    /// `anon:<id>` → the customer it was linked to.
    aliases: DashMap<Box<str>, Box<str>>,
    /// Erased customers and their linked `anon:<id>` keys: the bundle's data about them is
    /// no longer served.
    erased: DashSet<Box<str>>,
    /// Interned item ids, shared by every profile.
    items: DashSet<Arc<str>>,
}

/// The profile key of an anonymous id.
pub fn anonymous_key(anonymous_id: &str) -> String {
    format!("{ANONYMOUS_PREFIX}{anonymous_id}")
}

impl Live {
    pub fn new(params: LiveParams) -> Live {
        Live {
            params,
            ..Live::default()
        }
    }

    /// Number of visitors with a live profile.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// The key a visitor id resolves to: a linked anonymous key becomes its customer.
    pub fn resolve<'a>(&self, key: &'a str) -> Cow<'a, str> {
        match self.aliases.get(key) {
            Some(c) => Cow::Owned(c.value().to_string()),
            None => Cow::Borrowed(key),
        }
    }

    /// The customer an anonymous id is linked to, if any.
    pub fn linked_customer(&self, anonymous_id: &str) -> Option<String> {
        self.aliases
            .get(anonymous_key(anonymous_id).as_str())
            .map(|c| c.value().to_string())
    }

    /// The profile key of an event: its customer, else its anonymous id's customer, else
    /// `anon:<id>`.
    fn key_of(&self, row: &EventRow) -> Option<String> {
        if let Some(c) = &row.customer_id {
            return Some(c.clone());
        }
        let key = anonymous_key(row.anonymous_id.as_deref()?);
        Some(self.resolve(&key).into_owned())
    }

    fn intern(&self, item: &str) -> Arc<str> {
        if let Some(i) = self.items.get(item) {
            return i.clone();
        }
        let i: Arc<str> = Arc::from(item);
        self.items.insert(i.clone());
        i
    }

    /// Applies one stored event to its visitor's profile.
    pub fn apply(&self, row: &EventRow) {
        let Some(key) = self.key_of(row) else {
            return;
        };
        let consent = row
            .consent
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(Consent::Full);
        let entry = row.item_id.as_deref().and_then(|item| {
            let weight = self.params.weights.weight(
                row.kind,
                row.rating,
                row.quantity.map_or(1.0, |q| q as f32),
            )?;
            Some(LiveEntry {
                item: self.intern(item),
                weight,
                kind: row.kind,
                ts_ms: row.ts_ms,
            })
        });
        self.profiles
            .entry(key.into_boxed_str())
            .or_default()
            .record(row.kind, row.ts_ms, consent, entry, self.params.max_recent);
    }

    /// Links `anonymous_id` to `customer_id`: the anonymous profile merges into the
    /// customer's at once, later events of the anonymous id go to the customer, and the
    /// bundle's history of `anon:<anonymous_id>` becomes part of the customer's.
    pub fn link(&self, anonymous_id: &str, customer_id: &str) {
        let anon = anonymous_key(anonymous_id);
        if self.resolve(&anon) == customer_id {
            return;
        }
        self.aliases
            .insert(anon.clone().into_boxed_str(), customer_id.into());
        let moved = self.profiles.remove(anon.as_str()).map(|(_, p)| p);
        let mut target = self.profiles.entry(customer_id.into()).or_default();
        if let Some(p) = moved {
            target.absorb(p, self.params.max_recent);
        }
        target.add_linked(anonymous_id);
    }

    /// Forgets a customer and the anonymous ids linked to them: profiles, links, and from
    /// now on the bundle's data about them.
    pub fn erase(&self, customer_id: &str, anonymous_ids: &[String]) {
        let mut keys: Vec<String> = anonymous_ids.iter().map(|a| anonymous_key(a)).collect();
        if let Some(p) = self.profiles.get(customer_id) {
            keys.extend(p.linked().iter().map(|a| anonymous_key(a)));
        }
        self.aliases.retain(|_, c| c.as_ref() != customer_id);
        for k in &keys {
            self.aliases.remove(k.as_str());
            self.profiles.remove(k.as_str());
            self.erased.insert(k.clone().into_boxed_str());
        }
        self.profiles.remove(customer_id);
        self.erased.insert(customer_id.into());
    }

    /// Marks a customer (or `anon:` key) as erased, as read back from the store.
    pub fn mark_erased(&self, key: &str) {
        self.erased.insert(key.into());
    }

    /// Whether the bundle's data about `key` is withheld because it was erased.
    pub fn is_erased(&self, key: &str) -> bool {
        !self.erased.is_empty() && self.erased.contains(key)
    }

    /// Every erased customer and `anon:` key.
    pub fn erased_keys(&self) -> Vec<String> {
        self.erased.iter().map(|k| k.to_string()).collect()
    }

    /// Number of erased customers and sessions.
    pub fn erased_count(&self) -> usize {
        self.erased.len()
    }

    /// What the live layer knows of `key` (after resolving links), for the profile view.
    pub fn snapshot(&self, key: &str) -> Option<ProfileSnapshot> {
        let key = self.resolve(key);
        self.profiles.get(key.as_ref()).map(|p| p.snapshot())
    }

    /// The visitor behind `id` (a customer id or an `anon:` key): the bundle's view merged
    /// with the live profile. `None` when neither knows them (or they were erased and have
    /// not come back). `with_embedding` computes the real-time embedding when the live
    /// events changed it (also-want, lookalikes, landing pages need it; recommendations
    /// do not).
    pub fn visitor<'m>(
        &self,
        model: &'m Model,
        id: &str,
        with_embedding: bool,
    ) -> Option<Visitor<'m>> {
        let key = self.resolve(id);
        let key = key.as_ref();
        let row = if self.is_erased(key) {
            None
        } else {
            model.customers.get(key).map(|c| c as usize)
        };
        let Some(profile) = self.profiles.get(key) else {
            return row.map(|c| model.bundle_visitor(c));
        };
        let trained_until_ms = model.trained_until.saturating_mul(1000);
        let linked: Vec<usize> = profile
            .linked()
            .iter()
            .filter_map(|a| {
                let k = anonymous_key(a);
                (!self.is_erased(&k))
                    .then(|| model.customers.get(&k))
                    .flatten()
                    .map(|c| c as usize)
            })
            .collect();
        let live: Vec<HistoryEntry> = profile
            .recent()
            .filter(|e| e.ts_ms > trained_until_ms)
            .filter_map(|e| {
                Some(HistoryEntry {
                    item: model.items.ids.get(&e.item)?,
                    weight: e.weight,
                    ts: e.ts_ms.div_euclid(1000),
                })
            })
            .collect();
        let intent = self.intent(&live);
        if live.is_empty()
            && linked.is_empty()
            && let Some(c) = row
        {
            return Some(model.bundle_visitor(c));
        }
        let mut history: Vec<HistoryEntry> = row
            .iter()
            .chain(&linked)
            .flat_map(|&c| model.histories[c].iter().copied())
            .collect();
        history.extend(live);
        history.sort_by_key(|h| h.ts);
        let bundle_segment = row.and_then(|c| {
            model
                .segmentation
                .as_ref()
                .and_then(|s| s.assignments.get(c).copied())
        });
        let mut visitor = Visitor {
            id: Cow::Owned(key.to_owned()),
            row,
            history: Cow::Owned(history),
            embedding: None,
            segment: bundle_segment,
            intent,
        };
        if with_embedding {
            let revision = profile.revision();
            drop(profile);
            let (embedding, segment) = self.embedding(model, key, revision, &visitor);
            visitor.embedding = embedding.map(Cow::Owned);
            visitor.segment = visitor.segment.or(segment);
        }
        Some(visitor)
    }

    /// The intent of the live `history` (oldest first): its latest positive item events,
    /// newest first, weights decaying by 0.8 and summing to `intent_weight`.
    fn intent(&self, history: &[HistoryEntry]) -> Vec<(u32, f32)> {
        let w = self.params.intent_weight;
        if w <= 0.0 {
            return Vec::new();
        }
        let mut out: Vec<(u32, f32)> = Vec::new();
        let mut decay = 1.0f32;
        for h in history.iter().rev().filter(|h| h.weight > 0.0) {
            if out.len() >= self.params.intent_items {
                break;
            }
            out.push((h.item, decay));
            decay *= 0.8;
        }
        let total: f32 = out.iter().map(|(_, d)| d).sum();
        if total > 0.0 {
            out.iter_mut().for_each(|(_, d)| *d *= w / total);
        }
        out
    }

    /// The real-time embedding of `visitor` and, for a visitor the bundle has no segment
    /// for, the segment most of their nearest customers belong to; cached per profile
    /// revision and model version.
    fn embedding(
        &self,
        model: &Model,
        key: &str,
        revision: u64,
        visitor: &Visitor<'_>,
    ) -> (Option<Vec<f32>>, Option<u32>) {
        if let Some(p) = self.profiles.get(key)
            && let Some(hit) = p.cached(&model.version, revision)
        {
            return hit;
        }
        let embedding = model.fold_in(&visitor.history);
        let segment = match (&embedding, visitor.segment) {
            (Some(e), None) => model.nearest_segment(e),
            _ => None,
        };
        if let Some(mut p) = self.profiles.get_mut(key) {
            p.cache(&model.version, revision, embedding.clone(), segment);
        }
        (embedding, segment)
    }

    /// Rebuilds every profile from `store`: erasures and links first, then every stored
    /// event in order. Returns the number of events replayed.
    pub fn rebuild(&self, store: &crate::store::Store) -> Result<u64, crate::store::StoreError> {
        for key in store.erased()? {
            self.mark_erased(&key);
        }
        for l in store.links()? {
            self.aliases.insert(
                anonymous_key(&l.anonymous_id).into_boxed_str(),
                l.customer_id.clone().into_boxed_str(),
            );
            self.profiles
                .entry(l.customer_id.into_boxed_str())
                .or_default()
                .add_linked(&l.anonymous_id);
        }
        store.replay(0, |e| self.apply(&e.row))
    }

    /// Approximate heap bytes held by the profiles, links and interned items.
    pub fn heap_bytes(&self) -> usize {
        let profiles: usize = self
            .profiles
            .iter()
            .map(|p| p.key().len() + std::mem::size_of::<Profile>() + p.value().heap_bytes() + 16)
            .sum();
        let aliases: usize = self
            .aliases
            .iter()
            .map(|a| a.key().len() + a.value().len() + 48)
            .sum();
        let items: usize = self.items.iter().map(|i| i.len() + 32).sum();
        profiles + aliases + items
    }
}
