//! Query-string parsing for the read endpoints: every parameter is checked here, once, and
//! unknown ones are refused so that a typo (`min_prise`) is not silently ignored.

use super::error::ApiError;
use crate::config::Config;
use crate::serving::{Filters, ListQuery};

/// Parameters of `similar` and `also-want`.
pub const FILTERED_EXACT: &[&str] = &[
    "k",
    "exact",
    "category",
    "exclude_category",
    "min_price",
    "max_price",
    "in_stock",
    "exclude_customer",
];
/// Parameters of `recommendations`.
pub const FILTERED: &[&str] = &[
    "k",
    "category",
    "exclude_category",
    "min_price",
    "max_price",
    "in_stock",
    "exclude_customer",
];
/// Parameters of `lookalikes`.
pub const K_EXACT: &[&str] = &["k", "exact"];

fn invalid(name: &str, message: String) -> ApiError {
    ApiError::InvalidParameter {
        name: name.to_owned(),
        message,
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid(
            name,
            format!("{name} must be true or false, got {v:?}"),
        )),
    }
}

fn parse_price(name: &str, v: &str) -> Result<f64, ApiError> {
    v.parse::<f64>()
        .ok()
        .filter(|p| p.is_finite())
        .ok_or_else(|| invalid(name, format!("{name} must be a number, got {v:?}")))
}

fn non_empty(name: &str, v: &str) -> Result<String, ApiError> {
    if v.is_empty() {
        return Err(invalid(name, format!("{name} must not be empty")));
    }
    Ok(v.to_owned())
}

/// Refuses any parameter outside `allowed` (and repeated ones).
pub fn check_known(pairs: &[(String, String)], allowed: &[&str]) -> Result<(), ApiError> {
    let mut seen: Vec<&str> = Vec::new();
    for (key, _) in pairs {
        if !allowed.contains(&key.as_str()) {
            return Err(ApiError::UnknownParameter {
                name: key.clone(),
                allowed: if allowed.is_empty() {
                    "no parameters".to_owned()
                } else {
                    allowed.join(", ")
                },
            });
        }
        if seen.contains(&key.as_str()) {
            return Err(invalid(
                key,
                format!("parameter {key} is given more than once"),
            ));
        }
        seen.push(key);
    }
    Ok(())
}

/// Parses `k`, `exact` and the filters, allowing only the parameters in `allowed`.
pub fn list_query(
    pairs: &[(String, String)],
    allowed: &[&str],
    config: &Config,
) -> Result<ListQuery, ApiError> {
    check_known(pairs, allowed)?;
    let mut q = ListQuery {
        k: config.default_k,
        exact: false,
        filters: Filters::default(),
    };
    for (key, v) in pairs {
        let v = v.as_str();
        match key.as_str() {
            "k" => {
                let k: usize = v.parse().map_err(|_| {
                    invalid(
                        "k",
                        format!(
                            "k must be a whole number between 1 and {}, got {v:?}",
                            config.max_k
                        ),
                    )
                })?;
                if k == 0 || k > config.max_k {
                    return Err(invalid(
                        "k",
                        format!("k must be between 1 and {}, got {k}", config.max_k),
                    ));
                }
                q.k = k;
            }
            "exact" => q.exact = parse_bool(key, v)?,
            "in_stock" => q.filters.in_stock = parse_bool(key, v)?,
            "category" => q.filters.category = Some(non_empty(key, v)?),
            "exclude_category" => q.filters.exclude_category = Some(non_empty(key, v)?),
            "exclude_customer" => q.filters.exclude_customer = Some(non_empty(key, v)?),
            "min_price" => q.filters.min_price = Some(parse_price(key, v)?),
            "max_price" => q.filters.max_price = Some(parse_price(key, v)?),
            _ => {}
        }
    }
    q.filters.check().map_err(ApiError::from)?;
    Ok(q)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn parses_every_parameter() {
        let c = Config::default();
        let q = list_query(
            &pairs(&[
                ("k", "7"),
                ("exact", "true"),
                ("category", "shoes"),
                ("exclude_category", "shoes/boots"),
                ("min_price", "10"),
                ("max_price", "20.5"),
                ("in_stock", "true"),
                ("exclude_customer", "c-1"),
            ]),
            FILTERED_EXACT,
            &c,
        )
        .unwrap();
        assert_eq!(q.k, 7);
        assert!(q.exact && q.filters.in_stock);
        assert_eq!(q.filters.category.as_deref(), Some("shoes"));
        assert_eq!(q.filters.max_price, Some(20.5));
        assert_eq!(list_query(&[], K_EXACT, &c).unwrap().k, 10);
    }

    #[test]
    fn refuses_bad_values_with_messages() {
        let c = Config::default();
        let err = |q: &[(&str, &str)], allowed: &[&str]| {
            list_query(&pairs(q), allowed, &c).unwrap_err().to_string()
        };
        assert_eq!(
            err(&[("k", "0")], K_EXACT),
            "k must be between 1 and 1000, got 0"
        );
        assert_eq!(
            err(&[("k", "100000")], K_EXACT),
            "k must be between 1 and 1000, got 100000"
        );
        assert_eq!(
            err(&[("k", "ten")], K_EXACT),
            "k must be a whole number between 1 and 1000, got \"ten\""
        );
        assert_eq!(
            err(&[("exact", "yes")], K_EXACT),
            "exact must be true or false, got \"yes\""
        );
        assert_eq!(
            err(&[("colour", "red")], K_EXACT),
            "unknown parameter \"colour\"; this endpoint accepts: k, exact"
        );
        assert_eq!(
            err(&[("exact", "true")], FILTERED),
            "unknown parameter \"exact\"; this endpoint accepts: k, category, exclude_category, min_price, max_price, in_stock, exclude_customer"
        );
        assert_eq!(
            err(&[("k", "1"), ("k", "2")], K_EXACT),
            "parameter k is given more than once"
        );
        assert_eq!(
            err(&[("min_price", "30"), ("max_price", "20")], FILTERED),
            "min_price (30) is greater than max_price (20)"
        );
        assert_eq!(
            err(&[("min_price", "NaN")], FILTERED),
            "min_price must be a number, got \"NaN\""
        );
    }
}
