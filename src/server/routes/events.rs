//! Real-time events: `POST /v1/events`, `POST /v1/identify`, `DELETE /v1/customers/{id}`
//! and `GET /v1/sessions/{anonymous_id}/recommendations`.

use super::ItemsOut;
use crate::events::{self, BatchError, Rejected};
use crate::server::AppState;
use crate::server::error::{ApiError, BodyLimit, ErrorBody, IdPath, JsonBody, QueryPairs};
use crate::server::params::{FILTERED, list_query};
use crate::serving;
use crate::store::{Appended, StoreError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use kindred_training::data::write::EventRow;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What happened to a batch of events.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct EventsOut {
    /// Events stored now (durable: the store committed them before this answer).
    pub accepted: usize,
    /// Events whose `event_id` was stored before: acknowledged, not stored twice.
    pub duplicates: usize,
    /// Valid events whose visitor's consent is `none`: acknowledged, nothing stored.
    pub not_stored: usize,
    /// Each rejected event's index in the request and the reason; nothing of it is stored.
    pub rejected: Vec<Rejected>,
}

fn store_err(e: StoreError) -> ApiError {
    ApiError::Store(e.to_string())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The raw body, with the body limit reported in the API's error shape.
async fn body_bytes(state: &AppState, req: Request) -> Result<Bytes, ApiError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map_or(state.config().body_limit_bytes, |l| l.0);
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(limit)
        } else {
            ApiError::MalformedJson(e.body_text())
        }
    })
}

/// Validates a batch, stores the valid events durably (batched with other requests'
/// writes), updates the live profiles, and links anonymous ids that arrive together with a
/// customer id.
#[utoipa::path(
    post,
    path = "/v1/events",
    request_body(content = Vec<serde_json::Value>, description = "a JSON array of events (DESIGN.md schema), or one event object"),
    responses(
        (status = 200, body = EventsOut, description = "at least one event accepted (or acknowledged); `rejected` lists the others"),
        (status = 400, body = ErrorBody, description = "malformed JSON, not an array, or every event rejected (`error.rejected` lists why)"),
        (status = 413, body = ErrorBody, description = "more events than `max_batch_events`, or a body over the limit"),
        (status = 503, body = ErrorBody, description = "the event store failed; nothing was stored"),
    )
)]
pub async fn ingest(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<EventsOut>, ApiError> {
    let store = state.store()?.clone();
    let body = body_bytes(&state, req).await?;
    let batch = events::parse_batch(&body, state.limits(), now_ms()).map_err(|e| match e {
        BatchError::TooMany { .. } => ApiError::BatchTooLarge(e.to_string()),
        BatchError::Malformed(m) => ApiError::MalformedJson(m),
        other => ApiError::InvalidEvents {
            message: other.to_string(),
            rejected: Vec::new(),
        },
    })?;
    if batch.valid.is_empty() && batch.not_stored == 0 {
        let n = batch.rejected.len();
        let first = batch
            .rejected
            .first()
            .map(|r| format!("; event {}: {}", r.index, r.reason))
            .unwrap_or_default();
        return Err(ApiError::InvalidEvents {
            message: format!("all {n} events were rejected{first}"),
            rejected: batch.rejected,
        });
    }
    // Shared with the store's writer thread: the rows are not copied for it.
    let rows: Arc<[EventRow]> = batch.valid.into_iter().map(|(_, v)| v.row).collect();
    let outcomes = if rows.is_empty() {
        Vec::new()
    } else {
        store.append(rows.clone()).await.map_err(store_err)?
    };
    let live = state.live();
    let (mut accepted, mut duplicates) = (0, 0);
    let mut links = BTreeSet::new();
    for (row, outcome) in rows.iter().zip(&outcomes) {
        match outcome {
            Appended::Stored { .. } => {
                accepted += 1;
                if let (Some(c), Some(a)) = (&row.customer_id, &row.anonymous_id)
                    && live.linked_customer(a).as_deref() != Some(c.as_str())
                {
                    links.insert((a.clone(), c.clone(), row.ts_ms));
                }
                live.apply(row);
            }
            Appended::Duplicate { .. } => duplicates += 1,
        }
    }
    for (anon, customer, ts_ms) in links {
        store
            .link(anon.clone(), customer.clone(), ts_ms)
            .await
            .map_err(store_err)?;
        live.link(&anon, &customer);
    }
    Ok(Json(EventsOut {
        accepted,
        duplicates,
        not_stored: batch.not_stored,
        rejected: batch.rejected,
    }))
}

/// `POST /v1/identify`: an anonymous visitor logged in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyIn {
    pub anonymous_id: String,
    pub customer_id: String,
    /// When the link was made (RFC 3339 or epoch ms as for events; default now).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub ts: Option<serde_json::Value>,
}

/// What identifying did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct IdentifyOut {
    pub anonymous_id: String,
    pub customer_id: String,
    /// The customer the anonymous id pointed to before, if another.
    pub previous: Option<String>,
}

fn check_id(name: &str, id: &str, max: usize) -> Result<(), ApiError> {
    let invalid = |message: String| ApiError::InvalidParameter {
        name: name.to_owned(),
        message,
    };
    if id.trim().is_empty() {
        return Err(invalid(format!("{name} is empty")));
    }
    if id.len() > max {
        return Err(invalid(format!(
            "{name} is {} bytes long; at most {max} are accepted",
            id.len()
        )));
    }
    if id.trim() != id || id.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{name} has surrounding white space or control characters"
        )));
    }
    Ok(())
}

/// Links `anonymous_id` to `customer_id`: the visitor's anonymous history becomes the
/// customer's at once (live profile and store), and later exports attribute it.
#[utoipa::path(
    post,
    path = "/v1/identify",
    request_body = IdentifyIn,
    responses(
        (status = 200, body = IdentifyOut),
        (status = 400, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "the event store failed; nothing changed"),
    )
)]
pub async fn identify(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<IdentifyIn>,
) -> Result<Json<IdentifyOut>, ApiError> {
    let store = state.store()?.clone();
    let body = body.ok_or_else(|| {
        ApiError::MalformedJson(
            "the body must be {\"anonymous_id\": ..., \"customer_id\": ...}".into(),
        )
    })?;
    let max = state.limits().max_id_bytes;
    check_id("anonymous_id", &body.anonymous_id, max)?;
    check_id("customer_id", &body.customer_id, max)?;
    let ts_ms = match &body.ts {
        None | Some(serde_json::Value::Null) => now_ms(),
        Some(ts) => {
            let probe = serde_json::json!({"ts": ts, "customer_id": "x", "type": "page_view"});
            events::validate(&probe, state.limits(), now_ms())
                .map_err(|message| ApiError::InvalidParameter {
                    name: "ts".into(),
                    message,
                })?
                .map_or_else(now_ms, |v| v.row.ts_ms)
        }
    };
    let outcome = store
        .link(body.anonymous_id.clone(), body.customer_id.clone(), ts_ms)
        .await
        .map_err(store_err)?;
    state.live().link(&body.anonymous_id, &body.customer_id);
    Ok(Json(IdentifyOut {
        anonymous_id: body.anonymous_id,
        customer_id: body.customer_id,
        previous: outcome.previous,
    }))
}

/// What erasing a customer removed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErasedOut {
    pub customer_id: String,
    /// Stored events deleted (the customer's and those of their linked anonymous ids).
    pub events: usize,
    /// Identity links deleted.
    pub links: usize,
}

/// Erases a customer: their stored events, identity links and live profile; the bundle's
/// data about them is no longer served, and later exports do not contain them.
#[utoipa::path(
    delete,
    path = "/v1/customers/{id}",
    params(("id" = String, Path, description = "customer id")),
    responses(
        (status = 200, body = ErasedOut),
        (status = 503, body = ErrorBody, description = "the event store failed; nothing was erased"),
    )
)]
pub async fn erase(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> Result<Json<ErasedOut>, ApiError> {
    let store = state.store()?.clone();
    check_id("id", &id, state.limits().max_id_bytes)?;
    let erased = store.erase_customer(id.clone()).await.map_err(store_err)?;
    state.live().erase(&id, &erased.anonymous_ids);
    if let Ok(model) = state.model() {
        state.withhold_erased(&model);
    }
    tracing::info!(
        events = erased.events,
        links = erased.links,
        "customer erased"
    );
    Ok(Json(ErasedOut {
        customer_id: id,
        events: erased.events,
        links: erased.links,
    }))
}

/// Recommendations for an anonymous session, from its live events (and what the bundle
/// knows of it). A session nobody has seen yet gets the shop's popular items; a session
/// that identified gets its customer's recommendations.
#[utoipa::path(
    get,
    path = "/v1/sessions/{anonymous_id}/recommendations",
    params(("anonymous_id" = String, Path, description = "the visitor's anonymous id"), super::FilterParams),
    responses(
        (status = 200, body = ItemsOut),
        (status = 400, body = ErrorBody),
    )
)]
pub async fn session_recommendations(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<ItemsOut>, ApiError> {
    let q = list_query(&pairs, FILTERED, state.config())?;
    let model = state.model()?;
    let visitor = state.session_visitor(&model, &id);
    let items = serving::recommend(&model, &visitor, &q)?;
    Ok(Json(ItemsOut {
        model_version: model.version.clone(),
        items,
    }))
}
