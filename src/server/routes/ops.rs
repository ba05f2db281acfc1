//! Operations: reload, health, readiness, metrics, the OpenAPI document.

use crate::server::error::{ApiError, ErrorBody, JsonBody};
use crate::server::{AppState, ReloadOut};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

/// Optional body of `POST /admin/reload`.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReloadRequest {
    /// A bundle folder name under the models folder; default: the newest bundle.
    pub version: Option<String>,
}

/// Loads the newest bundle (or the given version) in the background and swaps it in
/// atomically; requests in flight finish on the old model. On failure the old model keeps
/// serving.
#[utoipa::path(
    post,
    path = "/admin/reload",
    request_body(content = Option<ReloadRequest>, description = "optional; empty body loads the newest bundle"),
    responses(
        (status = 200, body = ReloadOut),
        (status = 400, body = ErrorBody, description = "malformed body"),
        (status = 409, body = ErrorBody, description = "a reload is already running"),
        (status = 413, body = ErrorBody, description = "body too large"),
        (status = 500, body = ErrorBody, description = "the bundle failed to load; the old model keeps serving"),
    )
)]
pub async fn reload(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ReloadRequest>,
) -> Result<Json<ReloadOut>, ApiError> {
    let version = body.and_then(|b| b.version);
    Ok(Json(state.reload(version).await?))
}

/// Liveness.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct HealthOut {
    pub status: String,
    /// The served bundle's version, when one is loaded.
    pub model_version: Option<String>,
}

/// Always 200 while the process serves.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = HealthOut)))]
pub async fn healthz() -> Json<HealthOut> {
    Json(HealthOut {
        status: "ok".into(),
        model_version: None,
    })
}

/// 200 only with a model loaded.
#[utoipa::path(
    get,
    path = "/readyz",
    responses((status = 200, body = HealthOut), (status = 503, body = ErrorBody, description = "no model loaded"))
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<HealthOut>, ApiError> {
    let model = state.model()?;
    Ok(Json(HealthOut {
        status: "ready".into(),
        model_version: Some(model.version.clone()),
    }))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = state.metrics().render(state.model_gauges().as_ref());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// The OpenAPI 3 document of this API, generated from the handlers.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI document")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::server::openapi::document())
}
