//! Dense internal indices for external ids.
//!
//! Shops speak in string ids (`"sku-1234"`, `"cust-42"`); every algorithm in kindred works on
//! dense `u32` offsets. [`IdMap`] converts once, at the edge, and back again when results leave.
//! [`ItemIdx`] and [`CustomerIdx`] keep the two id spaces from being mixed up.

use std::collections::HashMap;

/// Dense index of an item in one model (0..n_items).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ItemIdx(pub u32);

/// Dense index of a customer (or a never-identified visitor) in one model (0..n_customers).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct CustomerIdx(pub u32);

impl ItemIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl CustomerIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A two-way map between external string ids and dense `u32` offsets, in insertion order.
#[derive(Debug, Clone, Default)]
pub struct IdMap {
    ids: Vec<String>,
    index: HashMap<String, u32>,
}

impl IdMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a map from ids in the given order. Duplicates keep their first position.
    pub fn from_ids<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Self {
        let mut map = Self::new();
        for id in ids {
            map.intern(&id.into());
        }
        map
    }

    /// Returns the offset of `id`, adding it at the end when it is new.
    pub fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.ids.push(id.to_owned());
        self.index.insert(id.to_owned(), i);
        i
    }

    /// The offset of `id`, or `None` when the map has never seen it (a cold id).
    pub fn get(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The external id at `offset`. Panics only on an offset this map never handed out.
    pub fn id(&self, offset: u32) -> &str {
        &self.ids[offset as usize]
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn ids(&self) -> &[String] {
        &self.ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_reversible() {
        let mut m = IdMap::new();
        assert_eq!(m.intern("b"), 0);
        assert_eq!(m.intern("a"), 1);
        assert_eq!(m.intern("b"), 0);
        assert_eq!(m.id(1), "a");
        assert_eq!(m.get("c"), None);
        assert_eq!(m.len(), 2);
    }
}
