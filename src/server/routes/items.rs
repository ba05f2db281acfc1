//! `GET /v1/items/{id}/similar`.

use super::ItemsOut;
use crate::server::AppState;
use crate::server::error::{ApiError, ErrorBody, IdPath, QueryPairs};
use crate::server::params::{FILTERED_EXACT, list_query};
use crate::serving::similar_items;
use axum::Json;
use axum::extract::State;

/// Items nearest to an item by embedding, filters applied before the cut to k.
#[utoipa::path(
    get,
    path = "/v1/items/{id}/similar",
    params(("id" = String, Path, description = "item id"), super::FilterParams, super::ExactParam),
    responses(
        (status = 200, body = ItemsOut),
        (status = 400, body = ErrorBody, description = "bad or unknown parameter"),
        (status = 404, body = ErrorBody, description = "unknown item or exclude_customer"),
    )
)]
pub async fn similar(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<ItemsOut>, ApiError> {
    let q = list_query(&pairs, FILTERED_EXACT, state.config())?;
    let model = state.model()?;
    let items = similar_items(&model, &id, &q)?;
    Ok(Json(ItemsOut {
        model_version: model.version.clone(),
        items,
    }))
}
