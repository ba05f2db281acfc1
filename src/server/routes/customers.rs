//! `GET /v1/customers/{id}/…`: recommendations, also-want, lookalikes, profile.

use super::ItemsOut;
use crate::events::Consent;
use crate::server::AppState;
use crate::server::error::{ApiError, ErrorBody, IdPath, QueryPairs};
use crate::server::params::{FILTERED, FILTERED_EXACT, K_EXACT, check_known, list_query};
use crate::serving::{self, Lookalike, ProfileOut};
use axum::Json;
use axum::extract::State;

/// Personal recommendations, without what the customer already has.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/recommendations",
    params(("id" = String, Path, description = "customer id (`anon:<id>` for anonymous visitors)"), super::FilterParams),
    responses(
        (status = 200, body = ItemsOut),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "unknown customer"),
    )
)]
pub async fn recommendations(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<ItemsOut>, ApiError> {
    let q = list_query(&pairs, FILTERED, state.config())?;
    let model = state.model()?;
    let visitor = state.visitor(&model, &id)?;
    let items = serving::recommend(&model, &visitor, &q)?;
    Ok(Json(ItemsOut {
        model_version: model.version.clone(),
        items,
    }))
}

/// What the customer's nearest customers bought or carted that this customer lacks.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/also-want",
    params(("id" = String, Path, description = "customer id"), super::FilterParams, super::ExactParam),
    responses(
        (status = 200, body = ItemsOut),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "unknown customer"),
    )
)]
pub async fn also_want(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<ItemsOut>, ApiError> {
    let q = list_query(&pairs, FILTERED_EXACT, state.config())?;
    let model = state.model()?;
    let visitor = state.visitor(&model, &id)?;
    let items = serving::also_want(&model, &visitor, &q)?;
    Ok(Json(ItemsOut {
        model_version: model.version.clone(),
        items,
    }))
}

/// Nearest customers with their similarity.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LookalikesOut {
    pub model_version: String,
    pub customers: Vec<Lookalike>,
}

/// The customer's nearest customers by embedding.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/lookalikes",
    params(
        ("id" = String, Path, description = "customer id"),
        ("k" = Option<usize>, Query, description = "number of results, 1 ..= max_k (default 10)"),
        super::ExactParam,
    ),
    responses(
        (status = 200, body = LookalikesOut),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "unknown customer"),
    )
)]
pub async fn lookalikes(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<LookalikesOut>, ApiError> {
    let q = list_query(&pairs, K_EXACT, state.config())?;
    let model = state.model()?;
    let visitor = state.visitor(&model, &id)?;
    // Erased customers stay in the bundle's index until the next training: ask for enough
    // more to leave them out.
    let live = state.live();
    let extra = live.erased_count().min(100);
    let mut customers = serving::lookalikes(&model, &visitor, q.k + extra, q.exact)?;
    if extra > 0 {
        customers.retain(|c| !live.is_erased(&c.customer_id));
    }
    customers.truncate(q.k);
    Ok(Json(LookalikesOut {
        model_version: model.version.clone(),
        customers,
    }))
}

/// What the live layer knows of a visitor beyond the bundle.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LiveOut {
    /// Events received per type since the event store began (or since erasure).
    pub counts: std::collections::BTreeMap<String, u32>,
    pub consent: Consent,
    /// Epoch milliseconds of the first and last live event.
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Anonymous ids linked to this customer.
    pub linked_anonymous_ids: Vec<String>,
}

/// A visitor's profile: the merged view of bundle and live events, and the live counters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CustomerProfileOut {
    #[serde(flatten)]
    pub profile: ProfileOut,
    /// Present when the visitor sent events to this server.
    pub live: Option<LiveOut>,
}

/// The customer's segment, counters and recent items (bundle and live events merged), with
/// the live counters and consent.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/profile",
    params(("id" = String, Path, description = "customer id")),
    responses(
        (status = 200, body = CustomerProfileOut),
        (status = 404, body = ErrorBody, description = "unknown customer"),
    )
)]
pub async fn profile(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<CustomerProfileOut>, ApiError> {
    check_known(&pairs, &[])?;
    let model = state.model()?;
    let visitor = state.visitor(&model, &id)?;
    let profile = serving::profile(&model, &visitor)?;
    let live = state.live().snapshot(&id).map(|s| LiveOut {
        counts: s
            .counts
            .iter()
            .map(|(t, n)| (t.as_str().to_owned(), *n))
            .collect(),
        consent: s.consent,
        first_seen_ms: s.first_ts_ms,
        last_seen_ms: s.last_ts_ms,
        linked_anonymous_ids: s.linked,
    });
    Ok(Json(CustomerProfileOut { profile, live }))
}
