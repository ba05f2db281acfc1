//! Business filters of the read endpoints (`category`, `exclude_category`, `min_price`,
//! `max_price`, `in_stock`, `exclude_customer`), checked once when a request is parsed and
//! applied to item rows before the cut to `k`.

use super::{Model, QueryError};
use std::borrow::Cow;
use std::collections::HashSet;

/// The item filters of one request. The default keeps every item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// Keep only items whose category path starts with this path (`shoes` keeps `shoes` and
    /// `shoes/sneakers`, not `shoeshine`).
    pub category: Option<String>,
    /// Drop items whose category path starts with this path.
    pub exclude_category: Option<String>,
    pub min_price: Option<f64>,
    pub max_price: Option<f64>,
    /// Keep only items in stock.
    pub in_stock: bool,
    /// Drop the items this customer has interacted with.
    pub exclude_customer: Option<String>,
}

/// Whether `category` lies under the path `prefix` (segment-wise prefix match).
pub fn category_under(category: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        return true;
    }
    category == prefix
        || (category.len() > prefix.len()
            && category.starts_with(prefix)
            && category.as_bytes()[prefix.len()] == b'/')
}

impl Filters {
    /// Checks the rules between filters (`min_price ≤ max_price`, non-negative prices).
    pub fn check(&self) -> Result<(), QueryError> {
        for (name, v) in [("min_price", self.min_price), ("max_price", self.max_price)] {
            if let Some(v) = v
                && (!v.is_finite() || v < 0.0)
            {
                return Err(QueryError::Invalid {
                    name: name.into(),
                    message: format!("{name} must be a finite, non-negative number, got {v}"),
                });
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_price, self.max_price)
            && lo > hi
        {
            return Err(QueryError::Invalid {
                name: "min_price".into(),
                message: format!("min_price ({lo}) is greater than max_price ({hi})"),
            });
        }
        Ok(())
    }

    /// Whether only the always-on exclusions remain (nothing to filter on).
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }

    /// Resolves the filters against a model: an unknown `exclude_customer` is a 404.
    pub fn compile<'m>(&self, model: &'m Model) -> Result<CompiledFilter<'m>, QueryError> {
        self.check()?;
        let excluded = match &self.exclude_customer {
            Some(id) => {
                let c = model.customer_row(id)?;
                model.histories[c].iter().map(|h| h.item).collect()
            }
            None => HashSet::new(),
        };
        Ok(CompiledFilter {
            model,
            filters: self.clone(),
            excluded,
        })
    }
}

/// [`Filters`] bound to a model, as a row predicate.
#[derive(Debug)]
pub struct CompiledFilter<'m> {
    model: &'m Model,
    filters: Filters,
    excluded: HashSet<u32>,
}

impl<'m> CompiledFilter<'m> {
    /// The item rows the `category` filter can keep (unordered), when there is one: the
    /// rows of a top-level category as the model indexes them, or those of every category
    /// path under a deeper prefix. A query can score just these instead of every item.
    pub fn category_rows(&self) -> Option<Cow<'m, [u32]>> {
        let prefix = self.filters.category.as_deref()?.trim_matches('/');
        if prefix.is_empty() {
            return None;
        }
        let categories = &self.model.categories;
        if !prefix.contains('/') {
            let rows = categories.top.get(prefix).map_or(&[][..], Vec::as_slice);
            return Some(Cow::Borrowed(rows));
        }
        Some(Cow::Owned(
            categories
                .path
                .iter()
                .filter(|(path, _)| category_under(path, prefix))
                .flat_map(|(_, rows)| rows.iter().copied())
                .collect(),
        ))
    }

    /// Whether item row `row` passes every filter.
    pub fn keep(&self, row: usize) -> bool {
        let Some(item) = self.model.items.items.get(row) else {
            return false;
        };
        let f = &self.filters;
        if let Some(c) = &f.category
            && !category_under(&item.category, c)
        {
            return false;
        }
        if let Some(c) = &f.exclude_category
            && category_under(&item.category, c)
        {
            return false;
        }
        if f.in_stock && !item.in_stock {
            return false;
        }
        if f.min_price.is_some() || f.max_price.is_some() {
            let Some(p) = item.price else { return false };
            if f.min_price.is_some_and(|lo| p < lo) || f.max_price.is_some_and(|hi| p > hi) {
                return false;
            }
        }
        !self.excluded.contains(&(row as u32))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn category_prefix_is_segment_wise() {
        assert!(category_under("shoes/sneakers", "shoes"));
        assert!(category_under("shoes", "shoes"));
        assert!(category_under("shoes/sneakers", "shoes/sneakers/"));
        assert!(!category_under("shoeshine", "shoes"));
        assert!(!category_under("bags/shoes", "shoes"));
        assert!(category_under("anything", ""));
    }

    #[test]
    fn price_rules() {
        let f = Filters {
            min_price: Some(10.0),
            max_price: Some(5.0),
            ..Filters::default()
        };
        let err = f.check().unwrap_err().to_string();
        assert_eq!(err, "min_price (10) is greater than max_price (5)");
        let f = Filters {
            min_price: Some(-1.0),
            ..Filters::default()
        };
        assert!(f.check().unwrap_err().to_string().contains("non-negative"));
        assert!(Filters::default().check().is_ok());
    }
}
