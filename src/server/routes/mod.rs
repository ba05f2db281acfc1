//! Thin handlers: extract, call a [`crate::serving`] function, wrap the result.

pub mod customers;
pub mod events;
pub mod items;
pub mod landing;
pub mod ops;
pub mod segments;

use super::AppState;
use crate::serving::ScoredItem;
use axum::Router;
use axum::routing::{delete, get, post};

/// A list of items with the model version that produced it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ItemsOut {
    pub model_version: String,
    pub items: Vec<ScoredItem>,
}

/// Every route of the API (the layers are added by [`super::with_layers`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/events", post(events::ingest))
        .route("/v1/identify", post(events::identify))
        .route("/v1/customers/{id}", delete(events::erase))
        .route(
            "/v1/sessions/{anonymous_id}/recommendations",
            get(events::session_recommendations),
        )
        .route("/v1/items/{id}/similar", get(items::similar))
        .route(
            "/v1/customers/{id}/recommendations",
            get(customers::recommendations),
        )
        .route("/v1/customers/{id}/also-want", get(customers::also_want))
        .route("/v1/customers/{id}/lookalikes", get(customers::lookalikes))
        .route("/v1/customers/{id}/profile", get(customers::profile))
        .route("/v1/segments", get(segments::list))
        .route("/v1/segments/{id}", get(segments::one))
        .route("/v1/landing-page", post(landing::compose))
        .route("/v1/landing-page/preview", get(landing::preview_index))
        .route("/v1/landing-page/{id}", get(landing::preview_page))
        .route("/admin/reload", post(ops::reload))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
}

/// Query parameters shared by the item list endpoints (documentation only; parsing is
/// [`super::params`]).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FilterParams {
    /// Number of results, 1 ..= max_k (default 10).
    k: Option<usize>,
    /// Keep only items under this category path (prefix match: `shoes` keeps `shoes/sneakers`).
    category: Option<String>,
    /// Drop items under this category path.
    exclude_category: Option<String>,
    min_price: Option<f64>,
    max_price: Option<f64>,
    /// Keep only items in stock.
    in_stock: Option<bool>,
    /// Drop the items this customer has already interacted with.
    exclude_customer: Option<String>,
}

/// `exact=true`: brute force over all rows instead of the HNSW index.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ExactParam {
    /// Scan every row exactly instead of walking the HNSW graph (default false).
    exact: Option<bool>,
}
