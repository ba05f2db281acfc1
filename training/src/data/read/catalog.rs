//! The catalog sink: one [`Item`] per row; a repeated `item_id` is an error.

use super::columns::{Field, Kind};
use super::{Reject, Row, Sink};
use crate::data::{Catalog, DataError, Item};
use std::path::{Path, PathBuf};

const ITEM_ID: usize = 0;
const TITLE: usize = 1;
const CATEGORY: usize = 2;
const BRAND: usize = 3;
const COLOR: usize = 4;
const PRICE: usize = 5;
const IN_STOCK: usize = 6;
const IMAGE_URL: usize = 7;
const URL: usize = 8;

/// Builds a [`Catalog`] in file order.
pub(crate) struct CatalogSink {
    path: PathBuf,
    fields: Vec<Field>,
    catalog: Catalog,
    /// File row of each accepted item, to name both rows of a duplicate.
    rows: Vec<usize>,
}

impl CatalogSink {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            fields: vec![
                Field::new("item_id", Kind::Id),
                Field::new("title", Kind::Text),
                Field::new("category", Kind::Text),
                Field::new("brand", Kind::Text),
                Field::new("color", Kind::Text),
                Field::new("price", Kind::Number),
                Field::new("in_stock", Kind::Bool),
                Field::new("image_url", Kind::Text),
                Field::new("url", Kind::Text),
            ],
            catalog: Catalog::default(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn into_catalog(self) -> Catalog {
        self.catalog
    }

    fn check(&self, values: &dyn Row) -> Result<Item, Reject> {
        let name = |f: usize| self.fields[f].name.as_str();
        let bad = |f: usize| move |b| Reject::from_bad(name(f), b);
        let item_id = values
            .get(ITEM_ID)
            .id()
            .map_err(bad(ITEM_ID))?
            .ok_or_else(|| Reject::new("item_id", "missing", "missing item_id"))?;
        let text = |f: usize| -> Result<Option<String>, Reject> {
            Ok(values
                .get(f)
                .text()
                .map_err(bad(f))?
                .map(|t| t.trim().to_owned()))
        };
        let title = text(TITLE)?.ok_or_else(|| Reject::new("title", "missing", "missing title"))?;
        let category = text(CATEGORY)?
            .ok_or_else(|| Reject::new("category", "empty category", "empty category"))?;
        let price = values.get(PRICE).number().map_err(bad(PRICE))?;
        if let Some(p) = price.filter(|p| *p < 0.0) {
            return Err(Reject::new(
                "price",
                "negative price",
                format!("price {p} is negative"),
            ));
        }
        Ok(Item {
            item_id: item_id.into_owned(),
            title,
            category,
            brand: text(BRAND)?,
            color: text(COLOR)?,
            price,
            in_stock: values
                .get(IN_STOCK)
                .boolean()
                .map_err(bad(IN_STOCK))?
                .unwrap_or(true),
            image_url: text(IMAGE_URL)?,
            url: text(URL)?,
        })
    }
}

impl Sink for CatalogSink {
    fn fields(&self) -> &[Field] {
        &self.fields
    }

    fn missing(&self, present: &[bool]) -> Option<String> {
        [ITEM_ID, TITLE, CATEGORY]
            .into_iter()
            .find(|&f| !present[f])
            .map(|f| self.fields[f].name.clone())
    }

    fn accept(&mut self, row: usize, values: &dyn Row) -> Result<Result<(), Reject>, DataError> {
        let item = match self.check(values) {
            Ok(item) => item,
            Err(r) => return Ok(Err(r)),
        };
        if let Some(first) = self.catalog.ids.get(&item.item_id) {
            return Err(DataError::DuplicateId {
                path: self.path.clone(),
                id: item.item_id,
                first: self.rows[first as usize],
                second: row,
            });
        }
        self.catalog.ids.intern(&item.item_id);
        self.catalog.items.push(item);
        self.rows.push(row);
        Ok(Ok(()))
    }
}
