//! Checking one incoming JSON event and turning it into a storable [`EventRow`].

use super::{Consent, Limits};
use kindred_training::data::EventType;
use kindred_training::data::write::EventRow;
use serde_json::{Map, Value};

/// A valid event: the row to store (ids already rewritten for the visitor's consent) and
/// the consent it was sent with.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEvent {
    pub row: EventRow,
    pub consent: Consent,
}

const TOP_LEVEL: [&str; 13] = [
    "event_id",
    "ts",
    "customer_id",
    "anonymous_id",
    "type",
    "item_id",
    "page",
    "query",
    "quantity",
    "price",
    "rating",
    "text",
    "context",
];
const CONTEXT: [&str; 5] = ["device", "browser", "browser_version", "channel", "consent"];

fn field_str<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    max_len: usize,
) -> Result<Option<&'a str>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            if s.len() > max_len {
                return Err(format!(
                    "field {name:?} is {} bytes long; at most {max_len} are accepted",
                    s.len()
                ));
            }
            if s.chars().any(char::is_control) && !matches!(name, "text" | "query") {
                return Err(format!("field {name:?} contains control characters"));
            }
            Ok(Some(s.as_str()))
        }
        Some(other) => Err(format!(
            "field {name:?} must be a string, not {}",
            type_name(other)
        )),
    }
}

/// An id: non-empty after trimming, no longer than the limit, no control characters.
fn field_id<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    limits: &Limits,
) -> Result<Option<&'a str>, String> {
    match field_str(obj, name, limits.max_id_bytes)? {
        Some(s) if s.trim().is_empty() => Err(format!("field {name:?} is empty")),
        Some(s) if s.trim() != s => Err(format!(
            "field {name:?} has leading or trailing white space"
        )),
        other => Ok(other),
    }
}

fn field_f64(obj: &Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| format!("field {name:?} is not a finite number")),
        Some(other) => Err(format!(
            "field {name:?} must be a number, not {}",
            type_name(other)
        )),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `ts` as RFC 3339 text or epoch milliseconds, within the accepted window.
fn timestamp(obj: &Map<String, Value>, limits: &Limits, now_ms: i64) -> Result<i64, String> {
    let ms = match obj.get("ts") {
        None | Some(Value::Null) => return Err("missing field \"ts\"".into()),
        Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map_err(|e| format!("field \"ts\" {s:?} is not an RFC 3339 time: {e}"))?
            .timestamp_millis(),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
            format!("field \"ts\" {n} is not a whole number of epoch milliseconds")
        })?,
        Some(other) => {
            return Err(format!(
                "field \"ts\" must be RFC 3339 text or epoch milliseconds, not {}",
                type_name(other)
            ));
        }
    };
    if ms < limits.min_ts_ms {
        return Err(format!(
            "field \"ts\" {ms} ms is before {} and not a plausible event time",
            fmt_ms(limits.min_ts_ms)
        ));
    }
    if ms > now_ms + limits.max_future_ms {
        return Err(format!(
            "field \"ts\" {} lies more than {} s in the future",
            fmt_ms(ms),
            limits.max_future_ms / 1000
        ));
    }
    Ok(ms)
}

fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| format!("{ms} ms"), |t| t.to_rfc3339())
}

/// The coarse device key used for visitors with `anonymous` consent: device class,
/// browser and its major version, nothing that identifies a person.
fn device_key(device: Option<&str>, browser: Option<&str>, version: Option<&str>) -> String {
    let major = version
        .and_then(|v| v.split('.').next())
        .filter(|v| !v.is_empty())
        .unwrap_or("?");
    format!(
        "device:{}/{}/{}",
        device.unwrap_or("?").to_ascii_lowercase(),
        browser.unwrap_or("?").to_ascii_lowercase(),
        major
    )
}

/// Checks one event. `Ok(None)` is a valid event the visitor's consent forbids storing.
pub fn validate(value: &Value, limits: &Limits, now_ms: i64) -> Result<Option<ValidEvent>, String> {
    let Value::Object(obj) = value else {
        return Err(format!(
            "an event must be a JSON object, not {}",
            type_name(value)
        ));
    };
    if let Some(unknown) = obj.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Err(format!(
            "unknown field {unknown:?} (accepted: {})",
            TOP_LEVEL.join(", ")
        ));
    }
    let kind: EventType = match obj.get("type") {
        None | Some(Value::Null) => return Err("missing field \"type\"".into()),
        Some(Value::String(s)) => s.parse()?,
        Some(other) => {
            return Err(format!(
                "field \"type\" must be a string, not {}",
                type_name(other)
            ));
        }
    };
    let ts_ms = timestamp(obj, limits, now_ms)?;
    let event_id = field_id(obj, "event_id", limits)?;
    let customer_id = field_id(obj, "customer_id", limits)?;
    let anonymous_id = field_id(obj, "anonymous_id", limits)?;
    let item_id = field_id(obj, "item_id", limits)?;
    if kind.needs_item() && item_id.is_none() {
        return Err(format!("a {kind} event needs field \"item_id\""));
    }
    let page = field_str(obj, "page", limits.max_text_bytes)?;
    let query = field_str(obj, "query", limits.max_text_bytes)?;
    let text = field_str(obj, "text", limits.max_text_bytes)?;
    let quantity = match field_f64(obj, "quantity")? {
        None => None,
        Some(q) if q.fract() == 0.0 && (1.0..=limits.max_quantity as f64).contains(&q) => {
            Some(q as i32)
        }
        Some(q) => {
            return Err(format!(
                "field \"quantity\" {q} must be a whole number from 1 to {}",
                limits.max_quantity
            ));
        }
    };
    let price = match field_f64(obj, "price")? {
        Some(p) if p < 0.0 => return Err(format!("field \"price\" {p} is negative")),
        p => p,
    };
    let rating = match field_f64(obj, "rating")? {
        Some(r) if !(1.0..=5.0).contains(&r) => {
            return Err(format!("field \"rating\" {r} is outside 1 to 5"));
        }
        r => r.map(|r| r as f32),
    };
    let empty = Map::new();
    let context = match obj.get("context") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(c)) => c,
        Some(other) => {
            return Err(format!(
                "field \"context\" must be an object, not {}",
                type_name(other)
            ));
        }
    };
    if let Some(unknown) = context.keys().find(|k| !CONTEXT.contains(&k.as_str())) {
        return Err(format!(
            "unknown field \"context.{unknown}\" (accepted: {})",
            CONTEXT.join(", ")
        ));
    }
    let ctx = |name: &str| {
        field_str(context, name, 64).map_err(|e| e.replacen("field \"", "field \"context.", 1))
    };
    let device = ctx("device")?;
    let browser = ctx("browser")?;
    let browser_version = ctx("browser_version")?;
    let channel = ctx("channel")?;
    let consent = match ctx("consent")? {
        None => Consent::Full,
        Some(c) => c.parse()?,
    };
    let (customer_id, anonymous_id) = match consent {
        Consent::None => return Ok(None),
        Consent::Anonymous => {
            if device.is_none() && browser.is_none() {
                return Err(
                    "consent \"anonymous\" needs context.device or context.browser for the device key"
                        .into(),
                );
            }
            (None, Some(device_key(device, browser, browser_version)))
        }
        Consent::Full => {
            if customer_id.is_none() && anonymous_id.is_none() {
                return Err("an event needs \"customer_id\" or \"anonymous_id\"".into());
            }
            (
                customer_id.map(str::to_owned),
                anonymous_id.map(str::to_owned),
            )
        }
    };
    let row = EventRow {
        event_id: event_id.map(str::to_owned),
        customer_id,
        anonymous_id,
        item_id: item_id.map(str::to_owned),
        page: page.map(str::to_owned),
        query: query.map(str::to_owned),
        quantity,
        price,
        rating,
        text: text.map(str::to_owned),
        device: device.map(str::to_owned),
        browser: browser.map(str::to_owned),
        channel: channel.map(str::to_owned),
        consent: Some(consent.as_str().to_owned()),
        ..EventRow::new(ts_ms, kind)
    };
    Ok(Some(ValidEvent { row, consent }))
}
