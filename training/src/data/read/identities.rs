//! The identity-link sink: `anonymous_id` → `customer_id`, optional `ts`.

use super::columns::{Field, Kind, TimeRule};
use super::{Reject, Row, Sink};
use crate::data::{DataError, IdentityLinks};

const ANONYMOUS: usize = 0;
const CUSTOMER: usize = 1;
const TS: usize = 2;

/// Collects links; [`IdentitySink::into_links`] orders them by time when every link has one.
pub(crate) struct IdentitySink {
    fields: Vec<Field>,
    rule: TimeRule,
    links: Vec<(Option<i64>, String, String)>,
}

impl IdentitySink {
    pub(crate) fn new(rule: TimeRule) -> Self {
        Self {
            fields: vec![
                Field::new("anonymous_id", Kind::Id),
                Field::new("customer_id", Kind::Id),
                Field::new("ts", Kind::Time),
            ],
            rule,
            links: Vec::new(),
        }
    }

    pub(crate) fn into_links(mut self) -> IdentityLinks {
        if self.links.iter().all(|l| l.0.is_some()) {
            self.links.sort_by_key(|l| l.0);
        }
        IdentityLinks {
            links: self.links.into_iter().map(|(_, a, c)| (a, c)).collect(),
        }
    }
}

impl Sink for IdentitySink {
    fn fields(&self) -> &[Field] {
        &self.fields
    }

    fn missing(&self, present: &[bool]) -> Option<String> {
        [ANONYMOUS, CUSTOMER]
            .into_iter()
            .find(|&f| !present[f])
            .map(|f| self.fields[f].name.clone())
    }

    fn accept(&mut self, _row: usize, values: &dyn Row) -> Result<Result<(), Reject>, DataError> {
        let id = |f: usize| -> Result<String, Reject> {
            let name = self.fields[f].name.as_str();
            match values.get(f).id() {
                Ok(Some(id)) => Ok(id.into_owned()),
                Ok(None) => Err(Reject::new(name, "missing id", format!("missing {name}"))),
                Err(b) => Err(Reject::from_bad(name, b)),
            }
        };
        let checked = id(ANONYMOUS).and_then(|a| {
            let c = id(CUSTOMER)?;
            let ts = values
                .get(TS)
                .ts(self.rule)
                .map_err(|b| Reject::from_bad("ts", b))?;
            Ok((ts, a, c))
        });
        Ok(checked.map(|link| self.links.push(link)))
    }
}
