//! Cell values as every format delivers them, and their conversion into the typed values
//! kindred needs (ids, text, timestamps, numbers, booleans).
//!
//! Each source format hands a reader a `Value` per wanted column and row; the checks
//! that turn a value into an id, a timestamp or a number live here once, so a CSV file, a
//! JSON line and a Parquet row reject the same bad value with the same reason.

use std::borrow::Cow;

/// Longest accepted external id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// 1995-01-01T00:00:00Z: events before this are taken for broken clocks or wrong units.
pub const EARLIEST_TS: i64 = 788_918_400;

/// How far past the reference time a timestamp may lie (clock skew between machines).
pub const FUTURE_SLACK_SECS: i64 = 2 * 86_400;

/// How a logical column may be typed in a file, used to refuse unusable Parquet types up
/// front and to choose the per-row conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An external id: string, integer, or an integral float (pandas' nullable ints).
    Id,
    /// Free text.
    Text,
    /// A timestamp: Timestamp/Date types, epoch seconds or milliseconds, RFC 3339 text.
    Time,
    /// A number: integer, float, decimal or numeric text.
    Number,
    /// A boolean: bool, 0/1 or "true"/"false".
    Bool,
}

impl Kind {
    pub(crate) fn expected(self) -> &'static str {
        match self {
            Kind::Id => "a string or integer id",
            Kind::Text => "a string",
            Kind::Time => "a timestamp, date, epoch seconds or milliseconds, or RFC 3339 text",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
        }
    }
}

/// One column a reader wants, by its name in the file.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: String,
    pub kind: Kind,
    /// Read only to validate the text (CSV/JSON UTF-8); Parquet strings are validated by
    /// the decoder, so Parquet sources skip these columns entirely.
    pub validate_only: bool,
}

impl Field {
    pub(crate) fn new(name: impl Into<String>, kind: Kind) -> Self {
        Self {
            name: name.into(),
            kind,
            validate_only: false,
        }
    }

    pub(crate) fn validate_only(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: Kind::Text,
            validate_only: true,
        }
    }
}

/// One cell as a source format delivered it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    /// An unsigned integer too large for `i64` (only usable as an id).
    BigUint(u64),
    Float(f64),
    Bool(bool),
    /// Already seconds since the epoch (from a Timestamp or Date column).
    Secs(i64),
    /// The cell exists but cannot be used at all (invalid UTF-8, a nested JSON value).
    Invalid(Bad),
}

/// Why one value was refused: a stable short class for the tally plus a full reason.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bad {
    pub kind: &'static str,
    pub reason: String,
}

impl Bad {
    pub(crate) fn new(kind: &'static str, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }
}

/// Which timestamps are plausible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeRule {
    /// Tracking data: not negative, not before 1995, not more than two days after `now`.
    Strict { now: i64 },
    /// Derived interaction files (any non-negative time; they may carry synthetic times).
    NonNegative,
}

fn preview(s: &str) -> String {
    const MAX: usize = 40;
    if s.len() <= MAX {
        return format!("{s:?}");
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &s[..end])
}

impl<'a> Value<'a> {
    /// The value as an external id; `None` for null or blank.
    pub(crate) fn id(&self) -> Result<Option<Cow<'a, str>>, Bad> {
        let id: Cow<'a, str> = match self {
            Value::Null => return Ok(None),
            Value::Str(s) => {
                let t = s.trim();
                if t.is_empty() {
                    return Ok(None);
                }
                Cow::Borrowed(t)
            }
            Value::Int(i) => Cow::Owned(i.to_string()),
            Value::BigUint(u) => Cow::Owned(u.to_string()),
            Value::Float(f) if f.is_nan() => return Ok(None),
            Value::Float(f) => {
                if f.fract() != 0.0 || !f.is_finite() || f.abs() >= 9.0e15 {
                    return Err(Bad::new("not an id", format!("{f} is not an integer id")));
                }
                Cow::Owned(format!("{}", *f as i64))
            }
            Value::Bool(b) => {
                return Err(Bad::new("not an id", format!("boolean {b} is not an id")));
            }
            Value::Secs(s) => {
                return Err(Bad::new("not an id", format!("timestamp {s} is not an id")));
            }
            Value::Invalid(b) => return Err(b.clone()),
        };
        if id.len() > MAX_ID_BYTES {
            return Err(Bad::new(
                "id too long",
                format!(
                    "id of {} bytes is longer than {MAX_ID_BYTES} ({})",
                    id.len(),
                    preview(&id)
                ),
            ));
        }
        Ok(Some(id))
    }

    /// The value as text; `None` for null or empty.
    pub(crate) fn text(&self) -> Result<Option<Cow<'a, str>>, Bad> {
        match self {
            Value::Null => Ok(None),
            Value::Str(s) if s.trim().is_empty() => Ok(None),
            Value::Str(s) => Ok(Some(Cow::Borrowed(*s))),
            Value::Int(i) => Ok(Some(Cow::Owned(i.to_string()))),
            Value::BigUint(u) => Ok(Some(Cow::Owned(u.to_string()))),
            Value::Float(f) if f.is_nan() => Ok(None),
            Value::Float(f) => Ok(Some(Cow::Owned(f.to_string()))),
            Value::Bool(b) => Ok(Some(Cow::Owned(b.to_string()))),
            Value::Secs(s) => Ok(Some(Cow::Owned(s.to_string()))),
            Value::Invalid(b) => Err(b.clone()),
        }
    }

    /// The value as a finite number; `None` for null, empty or NaN.
    pub(crate) fn number(&self) -> Result<Option<f64>, Bad> {
        let f = match self {
            Value::Null => return Ok(None),
            Value::Str(s) => {
                let t = s.trim();
                if t.is_empty() {
                    return Ok(None);
                }
                t.parse::<f64>().map_err(|_| {
                    Bad::new("not a number", format!("{} is not a number", preview(t)))
                })?
            }
            Value::Int(i) => *i as f64,
            Value::BigUint(u) => *u as f64,
            Value::Float(f) => *f,
            Value::Bool(b) => {
                return Err(Bad::new(
                    "not a number",
                    format!("boolean {b} is not a number"),
                ));
            }
            Value::Secs(s) => *s as f64,
            Value::Invalid(b) => return Err(b.clone()),
        };
        if f.is_nan() {
            return Ok(None);
        }
        if !f.is_finite() {
            return Err(Bad::new(
                "not a number",
                format!("{f} is not a finite number"),
            ));
        }
        Ok(Some(f))
    }

    /// The value as a boolean: bool, 0/1, or true/false/yes/no/t/f text (any case).
    pub(crate) fn boolean(&self) -> Result<Option<bool>, Bad> {
        match self {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            Value::Int(0) => Ok(Some(false)),
            Value::Int(1) => Ok(Some(true)),
            Value::Str(s) => {
                let t = s.trim();
                match t.to_ascii_lowercase().as_str() {
                    "" => Ok(None),
                    "true" | "t" | "1" | "yes" | "y" => Ok(Some(true)),
                    "false" | "f" | "0" | "no" | "n" => Ok(Some(false)),
                    _ => Err(Bad::new(
                        "not a boolean",
                        format!(
                            "{} is not a boolean (expected true/false or 1/0)",
                            preview(t)
                        ),
                    )),
                }
            }
            Value::Invalid(b) => Err(b.clone()),
            other => Err(Bad::new(
                "not a boolean",
                format!("{other:?} is not a boolean (expected true/false or 1/0)"),
            )),
        }
    }

    /// The value as seconds since the epoch, checked against `rule`; `None` for null/empty.
    ///
    /// Integers are seconds when below 1e11 in magnitude, milliseconds when below 1e14, and
    /// refused beyond that; text is epoch seconds/milliseconds, RFC 3339, `YYYY-MM-DD
    /// HH:MM:SS` (UTC) or `YYYY-MM-DD`.
    pub(crate) fn ts(&self, rule: TimeRule) -> Result<Option<i64>, Bad> {
        let secs = match self {
            Value::Null => return Ok(None),
            Value::Secs(s) => *s,
            Value::Int(i) => epoch_int(*i)?,
            Value::BigUint(u) => return Err(absurd(&u.to_string())),
            Value::Float(f) if f.is_nan() => return Ok(None),
            Value::Float(f) => epoch_float(*f)?,
            Value::Str(s) => {
                let t = s.trim();
                if t.is_empty() {
                    return Ok(None);
                }
                parse_time(t)?
            }
            Value::Bool(b) => {
                return Err(Bad::new(
                    "unparseable timestamp",
                    format!("boolean {b} is not a timestamp"),
                ));
            }
            Value::Invalid(b) => return Err(b.clone()),
        };
        check_time(secs, rule).map(Some)
    }
}

fn absurd(v: &str) -> Bad {
    Bad::new(
        "absurd timestamp",
        format!("timestamp {v} is too large for epoch seconds or milliseconds"),
    )
}

fn epoch_int(i: i64) -> Result<i64, Bad> {
    let a = i.unsigned_abs();
    if a < 100_000_000_000 {
        Ok(i)
    } else if a < 100_000_000_000_000 {
        Ok(i.div_euclid(1000))
    } else {
        Err(absurd(&i.to_string()))
    }
}

fn epoch_float(f: f64) -> Result<i64, Bad> {
    if !f.is_finite() {
        return Err(Bad::new(
            "unparseable timestamp",
            format!("{f} is not a timestamp"),
        ));
    }
    if f.abs() >= 1e14 {
        return Err(absurd(&f.to_string()));
    }
    epoch_int(f.floor() as i64)
}

fn parse_time(t: &str) -> Result<i64, Bad> {
    if let Ok(i) = t.parse::<i64>() {
        return epoch_int(i);
    }
    if t.bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
        && let Ok(f) = t.parse::<f64>()
    {
        return epoch_float(f);
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(dt.and_utc().timestamp());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
        && let Some(dt) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(dt.and_utc().timestamp());
    }
    Err(Bad::new(
        "unparseable timestamp",
        format!(
            "{} is not a timestamp (expected RFC 3339 such as 2024-05-01T12:00:00Z, or epoch seconds)",
            preview(t)
        ),
    ))
}

fn check_time(secs: i64, rule: TimeRule) -> Result<i64, Bad> {
    if secs < 0 {
        return Err(Bad::new(
            "negative timestamp",
            format!("timestamp {secs} is negative"),
        ));
    }
    if let TimeRule::Strict { now } = rule {
        if secs < EARLIEST_TS {
            return Err(Bad::new(
                "timestamp before 1995",
                format!("timestamp {secs} ({}) is before 1995-01-01", render(secs)),
            ));
        }
        if secs > now.saturating_add(FUTURE_SLACK_SECS) {
            return Err(Bad::new(
                "timestamp in the future",
                format!(
                    "timestamp {secs} ({}) is more than 2 days in the future",
                    render(secs)
                ),
            ));
        }
    }
    Ok(secs)
}

fn render(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "out of range".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: TimeRule = TimeRule::Strict { now: 1_700_000_000 };

    #[test]
    fn timestamps_accept_units_and_text() {
        assert_eq!(Value::Int(1_600_000_000).ts(NOW), Ok(Some(1_600_000_000)));
        assert_eq!(
            Value::Int(1_600_000_000_123).ts(NOW),
            Ok(Some(1_600_000_000))
        );
        assert_eq!(Value::Str("1600000000").ts(NOW), Ok(Some(1_600_000_000)));
        assert_eq!(
            Value::Str("2020-09-13T12:26:40Z").ts(NOW),
            Ok(Some(1_600_000_000))
        );
        assert_eq!(
            Value::Str("2020-09-13T14:26:40+02:00").ts(NOW),
            Ok(Some(1_600_000_000))
        );
        assert_eq!(
            Value::Str("2020-09-13 12:26:40").ts(NOW),
            Ok(Some(1_600_000_000))
        );
        assert_eq!(Value::Str("2020-09-13").ts(NOW), Ok(Some(1_599_955_200)));
        assert_eq!(
            Value::Float(1_600_000_000.7).ts(NOW),
            Ok(Some(1_600_000_000))
        );
        assert_eq!(Value::Str(" ").ts(NOW), Ok(None));
    }

    #[test]
    fn timestamps_refuse_implausible_values() {
        let kind = |v: Value| v.ts(NOW).map_err(|b| b.kind);
        assert_eq!(kind(Value::Int(-5)), Err("negative timestamp"));
        assert_eq!(kind(Value::Int(12)), Err("timestamp before 1995"));
        assert_eq!(
            kind(Value::Int(1_700_000_000 + 3 * 86_400)),
            Err("timestamp in the future")
        );
        assert_eq!(
            kind(Value::Int(1_600_000_000_000_000)),
            Err("absurd timestamp")
        );
        assert_eq!(kind(Value::Str("yesterday")), Err("unparseable timestamp"));
        assert_eq!(Value::Int(12).ts(TimeRule::NonNegative), Ok(Some(12)));
    }

    #[test]
    fn ids_numbers_and_booleans() {
        assert_eq!(
            Value::Float(42.0).id(),
            Ok(Some(Cow::Owned("42".to_owned())))
        );
        assert!(Value::Float(4.5).id().is_err());
        assert_eq!(Value::Str(" a ").id(), Ok(Some(Cow::Borrowed("a"))));
        let long = "x".repeat(MAX_ID_BYTES + 1);
        assert_eq!(
            Value::Str(&long).id().map_err(|b| b.kind),
            Err("id too long")
        );
        assert_eq!(Value::Str("NaN").number(), Ok(None));
        assert_eq!(Value::Str("2.5").number(), Ok(Some(2.5)));
        assert_eq!(Value::Str("TRUE").boolean(), Ok(Some(true)));
        assert_eq!(Value::Int(0).boolean(), Ok(Some(false)));
        assert!(Value::Str("maybe").boolean().is_err());
    }
}
