//! API keys and scopes.
//!
//! Each route needs one scope ([`required_scope`]): `ingest` to send events and identify
//! visitors, `read` for every query, `admin` for erasure and `/admin/*`. The operations
//! routes (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`) are open. A request names its
//! key with `Authorization: Bearer <key>` or `X-Api-Key: <key>`; a missing or unknown key is
//! a 401, a key without the route's scope a 403. With no keys configured everything is open.

use super::AppState;
use super::error::ApiError;
use crate::config::{ApiKey, Scope};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The scope a route needs, or `None` for the open operations routes.
pub fn required_scope(method: &Method, route: &str) -> Option<Scope> {
    match route {
        "/healthz" | "/readyz" | "/metrics" | "/openapi.json" => None,
        "/v1/events" | "/v1/identify" => Some(Scope::Ingest),
        r if r.starts_with("/admin/") => Some(Scope::Admin),
        "/v1/customers/{id}" if method == Method::DELETE => Some(Scope::Admin),
        _ => Some(Scope::Read),
    }
}

/// The key a request presents, if any.
fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        return Some(v.strip_prefix("Bearer ").map_or(v, str::trim));
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Compares in time independent of where the first difference is.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The configured key matching `key`.
pub fn find_key<'a>(keys: &'a [ApiKey], key: &str) -> Option<&'a ApiKey> {
    keys.iter()
        .find(|k| k.key.as_deref().is_some_and(|own| same_key(own, key)))
}

/// Checks the request's key against the route's scope.
pub fn check(
    keys: &[ApiKey],
    method: &Method,
    route: &str,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if keys.is_empty() {
        return Ok(());
    }
    let Some(scope) = required_scope(method, route) else {
        return Ok(());
    };
    let key = presented(headers).ok_or(ApiError::Unauthorized(
        "this route needs an API key (Authorization: Bearer <key> or X-Api-Key)".into(),
    ))?;
    let found = find_key(keys, key)
        .ok_or_else(|| ApiError::Unauthorized("the API key is not known".into()))?;
    if found.scopes.contains(&scope) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "the API key {:?} lacks the {:?} scope that {method} {route} needs",
            found.name,
            scope.as_str()
        )))
    }
}

/// The middleware: runs [`check`] on every matched route.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let keys = &state.config().api_keys;
    if !keys.is_empty() {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("", |m| m.as_str());
        if let Err(e) = check(keys, req.method(), route, req.headers()) {
            return e.into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn keys() -> Vec<ApiKey> {
        vec![
            ApiKey {
                name: "storefront".into(),
                key: Some("storefront-key-0123456789".into()),
                key_env: None,
                scopes: vec![Scope::Ingest, Scope::Read],
            },
            ApiKey {
                name: "ops".into(),
                key: Some("operations-key-0123456789".into()),
                key_env: None,
                scopes: vec![Scope::Admin],
            },
        ]
    }

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn scopes_decide_per_route() {
        let k = keys();
        let store = headers("authorization", "Bearer storefront-key-0123456789");
        let ops = headers("x-api-key", "operations-key-0123456789");
        assert_eq!(check(&k, &Method::POST, "/v1/events", &store), Ok(()));
        assert_eq!(
            check(
                &k,
                &Method::GET,
                "/v1/customers/{id}/recommendations",
                &store
            ),
            Ok(())
        );
        let denied = check(&k, &Method::DELETE, "/v1/customers/{id}", &store).unwrap_err();
        assert!(matches!(&denied, ApiError::Forbidden(m) if m.contains("\"admin\"")));
        assert_eq!(check(&k, &Method::POST, "/admin/reload", &ops), Ok(()));
        assert!(matches!(
            check(&k, &Method::POST, "/v1/events", &ops),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            check(&k, &Method::GET, "/v1/segments", &HeaderMap::new()),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            check(
                &k,
                &Method::GET,
                "/v1/segments",
                &headers("x-api-key", "storefront-key-012345678X")
            ),
            Err(ApiError::Unauthorized(_))
        ));
        assert_eq!(
            check(&k, &Method::GET, "/healthz", &HeaderMap::new()),
            Ok(())
        );
        assert_eq!(
            check(
                &[],
                &Method::DELETE,
                "/v1/customers/{id}",
                &HeaderMap::new()
            ),
            Ok(())
        );
    }
}
