//! The one error type of the HTTP API, its mapping to status codes and the
//! `{"error": {"code", "message"}}` body, and the extractors that turn malformed input into
//! that shape.

use crate::landing::LandingError;
use crate::serving::QueryError;
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

/// Every way a request can fail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("unknown item {0:?}")]
    UnknownItem(String),
    #[error("unknown customer {0:?}")]
    UnknownCustomer(String),
    #[error("unknown segment {0:?}")]
    UnknownSegment(String),
    #[error("unknown page {page:?}; the configured pages are: {known}")]
    UnknownPage { page: String, known: String },
    #[error("no route for {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("{message}")]
    InvalidParameter { name: String, message: String },
    #[error("unknown parameter {name:?}; this endpoint accepts: {allowed}")]
    UnknownParameter { name: String, allowed: String },
    #[error("malformed JSON body: {0}")]
    MalformedJson(String),
    #[error("request body larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the loaded model bundle has no {0}")]
    NotAvailable(&'static str),
    #[error("no model loaded yet")]
    NotReady,
    #[error("the request took longer than {0} ms")]
    Timeout(u64),
    #[error("a reload is already in progress")]
    ReloadInProgress,
    #[error("reload failed, the previous model keeps serving: {0}")]
    ReloadFailed(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    InvalidEvents {
        message: String,
        rejected: Vec<crate::events::Rejected>,
    },
    #[error("{0}")]
    BatchTooLarge(String),
    #[error("this server has no event store")]
    NoStore,
    #[error("the event store failed; nothing of this request was stored")]
    Store(String),
    #[error("internal error")]
    Internal(String),
}

/// The error body: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The `error` object of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `item_not_found`, `invalid_parameter`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// Per-item details where one request carries many (the rejected events of a batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Vec<crate::events::Rejected>>,
}

impl ApiError {
    /// The HTTP status and stable code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::UnknownItem(_) => (StatusCode::NOT_FOUND, "item_not_found"),
            ApiError::UnknownCustomer(_) => (StatusCode::NOT_FOUND, "customer_not_found"),
            ApiError::UnknownSegment(_) => (StatusCode::NOT_FOUND, "segment_not_found"),
            ApiError::UnknownPage { .. } => (StatusCode::NOT_FOUND, "page_not_found"),
            ApiError::RouteNotFound { .. } => (StatusCode::NOT_FOUND, "route_not_found"),
            ApiError::InvalidParameter { .. } => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            ApiError::UnknownParameter { .. } => (StatusCode::BAD_REQUEST, "unknown_parameter"),
            ApiError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::NotAvailable(_) => (StatusCode::NOT_FOUND, "not_available"),
            ApiError::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::Timeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::ReloadInProgress => (StatusCode::CONFLICT, "reload_in_progress"),
            ApiError::ReloadFailed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "reload_failed"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::InvalidEvents { .. } => (StatusCode::BAD_REQUEST, "invalid_events"),
            ApiError::BatchTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large"),
            ApiError::NoStore => (StatusCode::SERVICE_UNAVAILABLE, "no_event_store"),
            ApiError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_failed"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The body sent for this error (internal details are logged, not sent).
    pub fn body(&self) -> ErrorBody {
        let (_, code) = self.status_and_code();
        ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message: self.to_string(),
                rejected: match self {
                    ApiError::InvalidEvents { rejected, .. } => Some(rejected.clone()),
                    _ => None,
                },
            },
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::UnknownItem(id) => ApiError::UnknownItem(id),
            QueryError::UnknownCustomer(id) => ApiError::UnknownCustomer(id),
            QueryError::UnknownSegment(id) => ApiError::UnknownSegment(id),
            QueryError::Invalid { name, message } => ApiError::InvalidParameter { name, message },
            QueryError::Unavailable(what) => ApiError::NotAvailable(what),
        }
    }
}

impl From<LandingError> for ApiError {
    fn from(e: LandingError) -> Self {
        match e {
            LandingError::UnknownPage { page, known } => ApiError::UnknownPage { page, known },
            LandingError::Query(q) => q.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _) = self.status_and_code();
        match &self {
            ApiError::Internal(detail) => tracing::error!(%detail, "internal error"),
            ApiError::Store(detail) => tracing::error!(%detail, "event store failure"),
            _ => {}
        }
        (status, Json(self.body())).into_response()
    }
}

/// The query string as `(key, value)` pairs, percent-decoded (`+` is a space, invalid
/// UTF-8 is replaced), in order.
#[derive(Debug, Clone, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // The same decoding axum's `Query` applies (it parses with `form_urlencoded` too),
        // without rebuilding a URI from the query first.
        let q = parts.uri.query().unwrap_or("");
        Ok(QueryPairs(
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

/// One path segment (an item, customer or segment id).
#[derive(Debug, Clone)]
pub struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| IdPath(id))
            .map_err(|e| ApiError::InvalidParameter {
                name: "id".into(),
                message: e.body_text(),
            })
    }
}

/// An optional JSON body: empty means `None`; malformed JSON is a 400 `malformed_json` and
/// a body over the configured limit a 413 `payload_too_large`, both in the project's shape.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub Option<T>);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(usize::MAX, |l| l.0);
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(limit)
                } else {
                    ApiError::MalformedJson(e.body_text())
                }
            })?;
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(JsonBody(None));
        }
        serde_json::from_slice(&bytes)
            .map(|v| JsonBody(Some(v)))
            .map_err(|e| ApiError::MalformedJson(e.to_string()))
    }
}

/// The configured body limit, put into request extensions so errors can name it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);
