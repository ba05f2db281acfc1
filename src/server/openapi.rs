//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations.

use super::routes::{customers, events, items, landing, ops, segments};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kindred",
        description = "Recommendation and similarity engine for online shops"
    ),
    paths(
        events::ingest,
        events::identify,
        events::erase,
        events::session_recommendations,
        items::similar,
        customers::recommendations,
        customers::also_want,
        customers::lookalikes,
        customers::profile,
        segments::list,
        segments::one,
        landing::compose,
        landing::preview_page,
        landing::preview_index,
        ops::reload,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi,
    )
)]
struct ApiDoc;

/// The OpenAPI 3 document of the API.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
