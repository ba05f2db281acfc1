//! Incoming tracking events: the JSON batch of `POST /v1/events`, checked event by event.
//!
//! [`parse_batch`] turns a request body into the valid events to store and, per rejected
//! event, its index and reason. A body that is not a JSON array of objects, or holds more
//! events than allowed, is rejected as a whole; otherwise every event stands on its own, so
//! a batch with some bad events stores exactly the good ones.
//!
//! Consent (`context.consent`) is applied here, before anything is stored:
//! - `full` (the default): the event keeps its `customer_id` / `anonymous_id`;
//! - `anonymous`: both ids are dropped and the event is tied to a coarse device key
//!   (`device:<device>/<browser>/<major version>`), which becomes its `anonymous_id`;
//! - `none`: the event is acknowledged and nothing of it is stored.

mod validate;

pub use validate::{ValidEvent, validate};

use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// What a visitor allowed us to keep.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Events are kept with the visitor's ids.
    #[default]
    Full,
    /// Events are kept under a coarse device key only.
    Anonymous,
    /// Nothing is kept.
    None,
}

impl Consent {
    pub fn as_str(self) -> &'static str {
        match self {
            Consent::Full => "full",
            Consent::Anonymous => "anonymous",
            Consent::None => "none",
        }
    }
}

impl fmt::Display for Consent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Consent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(Consent::Full),
            "anonymous" => Ok(Consent::Anonymous),
            "none" => Ok(Consent::None),
            other => Err(format!(
                "unknown consent {other:?} (expected full, anonymous or none)"
            )),
        }
    }
}

/// The bounds an event must respect.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Most events in one request (config `max_batch_events`, default 1000).
    pub max_batch: usize,
    /// Longest id (`event_id`, `customer_id`, `anonymous_id`, `item_id`), in bytes (256).
    pub max_id_bytes: usize,
    /// Longest `page`, `query` or `text`, in bytes (8192).
    pub max_text_bytes: usize,
    /// Largest `quantity` (10,000).
    pub max_quantity: u32,
    /// Earliest accepted `ts` (2000-01-01T00:00:00Z).
    pub min_ts_ms: i64,
    /// How far `ts` may lie in the future of the server's clock (1 day).
    pub max_future_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_batch: 1000,
            max_id_bytes: 256,
            max_text_bytes: 8192,
            max_quantity: 10_000,
            min_ts_ms: 946_684_800_000,
            max_future_ms: 86_400_000,
        }
    }
}

/// One rejected event of a batch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Rejected {
    /// Position of the event in the request's array (from 0).
    pub index: usize,
    /// Why it was rejected, naming the field.
    pub reason: String,
}

/// A checked batch: the events to store (with their index in the request) and the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub valid: Vec<(usize, ValidEvent)>,
    /// Valid events whose visitor's consent is `none`: acknowledged, not stored.
    pub not_stored: usize,
    pub rejected: Vec<Rejected>,
}

/// Why a whole request body was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    #[error("malformed JSON: {0}")]
    Malformed(String),
    #[error("the body must be a JSON array of events (or one event object), not {0}")]
    NotAnArray(&'static str),
    #[error("the batch holds {found} events; at most {max} are accepted per request")]
    TooMany { found: usize, max: usize },
    #[error("the batch is empty")]
    Empty,
}

/// Parses and checks a request body: a JSON array of events, or a single event object.
pub fn parse_batch(body: &[u8], limits: &Limits, now_ms: i64) -> Result<Batch, BatchError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| BatchError::Malformed(e.to_string()))?;
    let events = match value {
        Value::Array(events) => events,
        obj @ Value::Object(_) => vec![obj],
        Value::Null => return Err(BatchError::NotAnArray("null")),
        Value::Bool(_) => return Err(BatchError::NotAnArray("a boolean")),
        Value::Number(_) => return Err(BatchError::NotAnArray("a number")),
        Value::String(_) => return Err(BatchError::NotAnArray("a string")),
    };
    if events.is_empty() {
        return Err(BatchError::Empty);
    }
    if events.len() > limits.max_batch {
        return Err(BatchError::TooMany {
            found: events.len(),
            max: limits.max_batch,
        });
    }
    let mut batch = Batch::default();
    for (index, event) in events.iter().enumerate() {
        match validate(event, limits, now_ms) {
            Ok(Some(valid)) => batch.valid.push((index, valid)),
            Ok(None) => batch.not_stored += 1,
            Err(reason) => batch.rejected.push(Rejected { index, reason }),
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use kindred_training::data::EventType;
    use serde_json::json;

    const NOW: i64 = 1_780_000_000_000;

    fn check(v: Value) -> Result<Option<ValidEvent>, String> {
        validate(&v, &Limits::default(), NOW)
    }

    #[test]
    fn a_full_event_keeps_every_field() {
        let e = check(json!({
            "event_id": "e1", "ts": "2026-05-28T20:26:40Z", "customer_id": "c1",
            "anonymous_id": "a1", "type": "purchase", "item_id": "i1", "page": "/p/i1",
            "quantity": 2, "price": 9.5, "context": {"device": "mobile", "browser": "Firefox",
            "browser_version": "128.0.1", "channel": "web"}
        }))
        .unwrap()
        .unwrap();
        assert_eq!(e.consent, Consent::Full);
        let r = e.row;
        assert_eq!(r.ts_ms, 1_780_000_000_000);
        assert_eq!(r.kind, EventType::Purchase);
        assert_eq!(
            (r.customer_id.as_deref(), r.anonymous_id.as_deref()),
            (Some("c1"), Some("a1"))
        );
        assert_eq!((r.quantity, r.price), (Some(2), Some(9.5)));
        assert_eq!(r.browser.as_deref(), Some("Firefox"));
        assert_eq!(r.consent.as_deref(), Some("full"));
        let ms = check(json!({"ts": 1_780_000_000_123_i64, "anonymous_id": "a", "type": "search", "query": "red shoes"}))
            .unwrap()
            .unwrap();
        assert_eq!(ms.row.ts_ms, 1_780_000_000_123);
    }

    #[test]
    fn consent_rewrites_or_drops_the_ids() {
        let anon = check(json!({"ts": NOW, "customer_id": "c1", "anonymous_id": "cookie", "type": "view",
            "item_id": "i", "context": {"consent": "anonymous", "device": "Mobile", "browser": "Safari", "browser_version": "17.4"}}))
        .unwrap()
        .unwrap();
        assert_eq!(anon.row.customer_id, None);
        assert_eq!(
            anon.row.anonymous_id.as_deref(),
            Some("device:mobile/safari/17")
        );
        assert_eq!(
            check(
                json!({"ts": NOW, "customer_id": "c1", "type": "view", "item_id": "i", "context": {"consent": "none"}})
            ),
            Ok(None)
        );
        assert!(
            check(json!({"ts": NOW, "type": "view", "item_id": "i", "context": {"consent": "anonymous"}}))
                .unwrap_err()
                .contains("context.device")
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!([]), "JSON object"),
            (
                json!({"ts": NOW, "type": "view", "item_id": "i"}),
                "customer_id",
            ),
            (
                json!({"ts": NOW, "customer_id": "c", "type": "teleport"}),
                "unknown event type",
            ),
            (
                json!({"ts": NOW, "customer_id": "c", "type": "view"}),
                "item_id",
            ),
            (
                json!({"customer_id": "c", "type": "search"}),
                "missing field \"ts\"",
            ),
            (
                json!({"ts": "yesterday", "customer_id": "c", "type": "search"}),
                "RFC 3339",
            ),
            (
                json!({"ts": 12, "customer_id": "c", "type": "search"}),
                "plausible",
            ),
            (
                json!({"ts": NOW + 2 * 86_400_000, "customer_id": "c", "type": "search"}),
                "future",
            ),
            (
                json!({"ts": NOW, "customer_id": 7, "type": "search"}),
                "\"customer_id\" must be a string",
            ),
            (
                json!({"ts": NOW, "customer_id": "x".repeat(300), "type": "search"}),
                "300 bytes",
            ),
            (
                json!({"ts": NOW, "customer_id": " ", "type": "search"}),
                "empty",
            ),
            (
                json!({"ts": NOW, "customer_id": "a\u{0}b", "type": "search"}),
                "control",
            ),
            (
                json!({"ts": NOW, "customer_id": "c", "type": "purchase", "item_id": "i", "quantity": 0}),
                "quantity",
            ),
            (
                json!({"ts": NOW, "customer_id": "c", "type": "purchase", "item_id": "i", "price": -1}),
                "negative",
            ),
            (
                json!({"ts": NOW, "customer_id": "c", "type": "review", "item_id": "i", "rating": 9}),
                "rating",
            ),
            (
                json!({"ts": NOW, "customer_id": "c", "type": "search", "colour": "red"}),
                "unknown field \"colour\"",
            ),
            (
                json!({"ts": NOW, "customer_id": "c", "type": "search", "context": {"os": "x"}}),
                "context.os",
            ),
            (
                json!({"ts": NOW, "customer_id": "c", "type": "search", "context": {"consent": "maybe"}}),
                "unknown consent",
            ),
            (
                json!({"ts": NOW, "customer_id": "c", "type": "search", "context": "web"}),
                "\"context\" must be an object",
            ),
        ];
        for (event, needle) in cases {
            let err = check(event.clone()).unwrap_err();
            assert!(err.contains(needle), "{event}: {err:?} lacks {needle:?}");
        }
    }

    #[test]
    fn a_batch_keeps_the_good_events_and_names_the_bad() {
        let body = json!([
            {"ts": NOW, "customer_id": "c", "type": "view", "item_id": "i"},
            {"ts": NOW, "customer_id": "c", "type": "view"},
            {"ts": NOW, "customer_id": "c", "type": "view", "item_id": "j", "context": {"consent": "none"}},
            {"ts": NOW, "anonymous_id": "a", "type": "add_to_cart", "item_id": "k"},
        ]);
        let b = parse_batch(body.to_string().as_bytes(), &Limits::default(), NOW).unwrap();
        assert_eq!(b.valid.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 3]);
        assert_eq!(b.not_stored, 1);
        assert_eq!(b.rejected.len(), 1);
        assert_eq!(b.rejected[0].index, 1);
    }

    #[test]
    fn whole_body_errors() {
        let l = Limits {
            max_batch: 2,
            ..Limits::default()
        };
        assert!(matches!(
            parse_batch(b"[{", &l, NOW),
            Err(BatchError::Malformed(_))
        ));
        assert!(matches!(
            parse_batch(b"\"x\"", &l, NOW),
            Err(BatchError::NotAnArray(_))
        ));
        assert_eq!(parse_batch(b"[]", &l, NOW), Err(BatchError::Empty));
        assert_eq!(
            parse_batch(b"[{},{},{}]", &l, NOW),
            Err(BatchError::TooMany { found: 3, max: 2 })
        );
        assert!(matches!(
            parse_batch(b"[{\"ts\": \"\xff\"}]", &l, NOW),
            Err(BatchError::Malformed(_))
        ));
        let one = parse_batch(
            br#"{"ts": 1780000000000, "customer_id": "c", "type": "page_view", "page": "/"}"#,
            &l,
            NOW,
        )
        .unwrap();
        assert_eq!(one.valid.len(), 1);
    }
}
