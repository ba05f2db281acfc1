//! The events sink: checks each row and appends it to an [`EventLog`].

use super::columns::{Field, Kind, TimeRule};
use super::{RatingsColumns, Reject, Row, Sink};
use crate::data::{DataError, Event, EventLog, EventType};
use std::borrow::Cow;
use std::str::FromStr;

/// Positions of the logical event columns in the sink's field list.
#[derive(Debug, Default)]
struct Slots {
    ts: Option<usize>,
    kind: Option<usize>,
    customer: Option<usize>,
    anonymous: Option<usize>,
    item: usize,
    quantity: Option<usize>,
    price: Option<usize>,
    rating: Option<usize>,
    device: Option<usize>,
    browser: Option<usize>,
    weight: Option<usize>,
    /// Text columns read only to validate them.
    validate: Vec<usize>,
}

/// Builds events from rows of the canonical event schema or of a ratings file.
pub(crate) struct EventSink<'l> {
    log: &'l mut EventLog,
    fields: Vec<Field>,
    slots: Slots,
    rule: TimeRule,
    /// Ratings files: every row has this type.
    fixed_kind: Option<EventType>,
    /// Ratings files: weight of every row (`None` with `weight_from_rating`).
    fixed_weight: Option<f32>,
    rating_scale: (f32, f32),
    /// Columns that must be present (ratings files).
    required: Vec<usize>,
}

impl<'l> EventSink<'l> {
    /// The canonical event schema (DESIGN.md).
    pub(crate) fn events(log: &'l mut EventLog, rule: TimeRule) -> Self {
        let fields = vec![
            Field::new("ts", Kind::Time),
            Field::new("type", Kind::Text),
            Field::new("customer_id", Kind::Id),
            Field::new("anonymous_id", Kind::Id),
            Field::new("item_id", Kind::Id),
            Field::new("quantity", Kind::Number),
            Field::new("price", Kind::Number),
            Field::new("rating", Kind::Number),
            Field::new("device", Kind::Text),
            Field::new("browser", Kind::Text),
            Field::new("weight", Kind::Number),
            Field::validate_only("event_id"),
            Field::validate_only("page"),
            Field::validate_only("query"),
            Field::validate_only("text"),
            Field::validate_only("channel"),
            Field::validate_only("consent"),
        ];
        let slots = Slots {
            ts: Some(0),
            kind: Some(1),
            customer: Some(2),
            anonymous: Some(3),
            item: 4,
            quantity: Some(5),
            price: Some(6),
            rating: Some(7),
            device: Some(8),
            browser: Some(9),
            weight: Some(10),
            validate: (11..17).collect(),
        };
        Self {
            log,
            fields,
            slots,
            rule,
            fixed_kind: None,
            fixed_weight: None,
            rating_scale: (1.0, 5.0),
            required: vec![0, 1],
        }
    }

    /// A ratings file: user → customer, item, optional time and rating.
    pub(crate) fn ratings(log: &'l mut EventLog, cols: &RatingsColumns, rule: TimeRule) -> Self {
        let mut fields = vec![
            Field::new(&cols.user, Kind::Id),
            Field::new(&cols.item, Kind::Id),
        ];
        let mut slots = Slots {
            customer: Some(0),
            item: 1,
            ..Slots::default()
        };
        if let Some(ts) = &cols.ts {
            slots.ts = Some(fields.len());
            fields.push(Field::new(ts, Kind::Time));
        }
        if let Some(rating) = &cols.rating {
            slots.rating = Some(fields.len());
            fields.push(Field::new(rating, Kind::Number));
        }
        let required = (0..fields.len()).collect();
        Self {
            log,
            fields,
            slots,
            rule,
            fixed_kind: Some(if cols.rating.is_some() {
                EventType::Review
            } else {
                EventType::Purchase
            }),
            fixed_weight: if cols.weight_from_rating && cols.rating.is_some() {
                None
            } else {
                Some(1.0)
            },
            rating_scale: cols.rating_scale,
            required,
        }
    }

    fn name(&self, field: usize) -> &str {
        &self.fields[field].name
    }

    fn check<'r>(&self, row: usize, values: &'r dyn Row) -> Result<Checked<'r>, Reject> {
        let bad = |field: usize| move |b| Reject::from_bad(self.name(field), b);
        // Ids first: a row without a visitor is useless whatever else it says.
        let customer = match self.slots.customer {
            Some(f) => values.get(f).id().map_err(bad(f))?,
            None => None,
        };
        let anonymous = match self.slots.anonymous {
            Some(f) => values.get(f).id().map_err(bad(f))?,
            None => None,
        };
        if customer.is_none() && anonymous.is_none() {
            let column = self.slots.customer.map_or("customer_id", |f| self.name(f));
            let reason = if self.fixed_kind.is_some() {
                format!("missing {column}")
            } else {
                "neither customer_id nor anonymous_id is set".to_owned()
            };
            return Err(Reject::new(column, "missing id", reason));
        }
        let ts = match self.slots.ts {
            Some(f) => match values.get(f).ts(self.rule).map_err(bad(f))? {
                Some(t) => t,
                None => return Err(Reject::new(self.name(f), "missing", "missing timestamp")),
            },
            None => i64::try_from(row).unwrap_or(i64::MAX),
        };
        let kind = match (self.fixed_kind, self.slots.kind) {
            (Some(k), _) => k,
            (None, Some(f)) => match values.get(f).text().map_err(bad(f))? {
                Some(t) => EventType::from_str(t.trim())
                    .map_err(|reason| Reject::new(self.name(f), "unknown event type", reason))?,
                None => return Err(Reject::new(self.name(f), "missing", "missing event type")),
            },
            (None, None) => EventType::View,
        };
        let f = self.slots.item;
        let item = values.get(f).id().map_err(bad(f))?;
        if item.is_none() && kind.needs_item() {
            return Err(Reject::new(
                self.name(f),
                "missing item",
                format!("a {kind} event needs {}", self.name(f)),
            ));
        }
        let number = |slot: Option<usize>| -> Result<Option<f64>, Reject> {
            match slot {
                Some(f) => values.get(f).number().map_err(bad(f)),
                None => Ok(None),
            }
        };
        let quantity = number(self.slots.quantity)?.unwrap_or(1.0);
        if quantity <= 0.0 {
            let column = self.slots.quantity.map_or("quantity", |f| self.name(f));
            return Err(Reject::new(
                column,
                "quantity not positive",
                format!("quantity {quantity} is not positive"),
            ));
        }
        let price = number(self.slots.price)?;
        if let Some(p) = price.filter(|p| *p < 0.0) {
            let column = self.slots.price.map_or("price", |f| self.name(f));
            return Err(Reject::new(
                column,
                "negative price",
                format!("price {p} is negative"),
            ));
        }
        let rating = number(self.slots.rating)?;
        let (lo, hi) = self.rating_scale;
        if let Some(f) = self.slots.rating {
            match rating {
                Some(r) if r < f64::from(lo) || r > f64::from(hi) => {
                    return Err(Reject::new(
                        self.name(f),
                        "rating out of range",
                        format!("rating {r} is outside {lo}..={hi}"),
                    ));
                }
                None if self.fixed_kind.is_some() => {
                    return Err(Reject::new(self.name(f), "missing", "missing rating"));
                }
                _ => {}
            }
        }
        let weight = match self.slots.weight {
            Some(_) => number(self.slots.weight)?.map(|w| w as f32),
            None if self.fixed_kind.is_some() => self.fixed_weight.or(rating.map(|r| r as f32)),
            None => None,
        };
        let text = |slot: Option<usize>| -> Result<Option<String>, Reject> {
            match slot {
                Some(f) => Ok(values
                    .get(f)
                    .text()
                    .map_err(bad(f))?
                    .map(|t| t.trim().to_owned())),
                None => Ok(None),
            }
        };
        let device = match (text(self.slots.device)?, text(self.slots.browser)?) {
            (Some(d), Some(b)) => Some(format!("{d}/{b}")),
            (d, b) => d.or(b),
        };
        for &f in &self.slots.validate {
            values.get(f).text().map_err(bad(f))?;
        }
        Ok(Checked {
            ts,
            customer,
            anonymous,
            kind,
            item,
            quantity: quantity as f32,
            price: price.map(|p| p as f32),
            rating: rating.map(|r| r as f32),
            device,
            weight,
        })
    }
}

/// A row that passed every check, not yet interned.
struct Checked<'r> {
    ts: i64,
    customer: Option<Cow<'r, str>>,
    anonymous: Option<Cow<'r, str>>,
    kind: EventType,
    item: Option<Cow<'r, str>>,
    quantity: f32,
    price: Option<f32>,
    rating: Option<f32>,
    device: Option<String>,
    weight: Option<f32>,
}

impl Sink for EventSink<'_> {
    fn fields(&self) -> &[Field] {
        &self.fields
    }

    fn missing(&self, present: &[bool]) -> Option<String> {
        if let Some(&f) = self.required.iter().find(|&&f| !present[f]) {
            return Some(self.name(f).to_owned());
        }
        let has = |slot: Option<usize>| slot.is_some_and(|f| present[f]);
        if !has(self.slots.customer) && !has(self.slots.anonymous) {
            return Some(match self.slots.anonymous {
                Some(_) => "customer_id or anonymous_id".to_owned(),
                None => self
                    .slots
                    .customer
                    .map_or("customer_id", |f| self.name(f))
                    .to_owned(),
            });
        }
        None
    }

    fn accept(&mut self, row: usize, values: &dyn Row) -> Result<Result<(), Reject>, DataError> {
        let c = match self.check(row, values) {
            Ok(c) => c,
            Err(r) => return Ok(Err(r)),
        };
        let log = &mut *self.log;
        let event = Event {
            ts: c.ts,
            customer: c.customer.map(|id| log.customers.intern(&id)),
            anonymous: c.anonymous.map(|id| log.anonymous.intern(&id)),
            kind: c.kind,
            item: c.item.map(|id| log.items.intern(&id)),
            quantity: c.quantity,
            price: c.price,
            rating: c.rating,
            device: c.device.map(|d| log.devices.intern(&d)),
            weight: c.weight,
        };
        log.events.push(event);
        Ok(Ok(()))
    }
}
