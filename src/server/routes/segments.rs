//! `GET /v1/segments`, `GET /v1/segments/{id}`.

use crate::server::AppState;
use crate::server::error::{ApiError, ErrorBody, IdPath, QueryPairs};
use crate::server::params::check_known;
use crate::serving::{self, SegmentOut};
use axum::Json;
use axum::extract::State;

/// Every segment of the served bundle.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SegmentsOut {
    pub model_version: String,
    pub segments: Vec<SegmentOut>,
}

/// Segment descriptions, sizes and top categories, largest first.
#[utoipa::path(
    get,
    path = "/v1/segments",
    responses((status = 200, body = SegmentsOut), (status = 404, body = ErrorBody, description = "the bundle has no segments"))
)]
pub async fn list(
    State(state): State<AppState>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<SegmentsOut>, ApiError> {
    check_known(&pairs, &[])?;
    let model = state.model()?;
    Ok(Json(SegmentsOut {
        model_version: model.version.clone(),
        segments: serving::segments(&model)?,
    }))
}

/// One segment with its trending items.
#[utoipa::path(
    get,
    path = "/v1/segments/{id}",
    params(("id" = u32, Path, description = "segment id")),
    responses((status = 200, body = SegmentOut), (status = 404, body = ErrorBody, description = "unknown segment"))
)]
pub async fn one(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<SegmentOut>, ApiError> {
    check_known(&pairs, &[])?;
    let model = state.model()?;
    Ok(Json(serving::segment(&model, &id)?))
}
