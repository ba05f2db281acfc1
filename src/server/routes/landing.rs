//! `POST /v1/landing-page` (the composed page as JSON for the landing-page generator),
//! `GET /v1/landing-page/{id}` (the same page as HTML, for a marketer) and
//! `GET /v1/landing-page/preview` (every segment with a link to a sample customer's page).

use crate::landing::html::{self, PreviewRow};
use crate::landing::{self, LandingPage};
use crate::server::AppState;
use crate::server::error::{ApiError, ErrorBody, IdPath, JsonBody, QueryPairs};
use crate::server::params::check_known;
use crate::serving::{Model, Visitor};
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

/// Body of `POST /v1/landing-page`: who the page is for (`customer_id`, `anonymous_id` or
/// both: a logged-in visitor's cookie is used when the customer is unknown) and which page.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LandingRequest {
    pub customer_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// A page of the `[landing]` configuration; default: its `default_page` (`home`).
    pub page: Option<String>,
}

fn non_empty(name: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        Some(s) if s.trim().is_empty() => Err(ApiError::InvalidParameter {
            name: name.to_owned(),
            message: format!("{name} must not be empty"),
        }),
        other => Ok(other),
    }
}

/// The visitor a page is for, and the notice when an unknown customer falls back to an
/// anonymous page.
fn resolve<'m>(
    state: &AppState,
    model: &'m Model,
    customer_id: Option<&str>,
    anonymous_id: Option<&str>,
) -> Result<(Visitor<'m>, Option<String>), ApiError> {
    match (customer_id, anonymous_id) {
        (Some(c), anon) => match state.visitor(model, c) {
            Ok(v) => Ok((v, None)),
            Err(ApiError::UnknownCustomer(_)) => {
                let v = match anon {
                    Some(a) => state.session_visitor(model, a),
                    None => Visitor::unknown(c.to_owned()),
                };
                let notice = format!(
                    "unknown customer {c:?}: this is the page of an anonymous visitor{}",
                    if anon.is_some() {
                        " (from the anonymous_id's session)"
                    } else {
                        ""
                    }
                );
                Ok((v, Some(notice)))
            }
            Err(e) => Err(e),
        },
        (None, Some(a)) => Ok((state.session_visitor(model, a), None)),
        (None, None) => Err(ApiError::InvalidParameter {
            name: "customer_id".into(),
            message: "give customer_id or anonymous_id (or both)".into(),
        }),
    }
}

fn page_for<'m>(
    state: &AppState,
    model: &'m Model,
    customer_id: Option<&str>,
    anonymous_id: Option<&str>,
    page: Option<&str>,
) -> Result<LandingPage<'m>, ApiError> {
    let config = &state.config().landing;
    let page = page.unwrap_or(&config.default_page);
    if !config.pages.contains_key(page) {
        return Err(ApiError::UnknownPage {
            page: page.to_owned(),
            known: config.page_names().join(", "),
        });
    }
    let (visitor, notice) = resolve(state, model, customer_id, anonymous_id)?;
    let now = chrono::Utc::now().timestamp();
    let mut out = landing::compose(model, &visitor, config, page, now)?;
    if notice.is_some() {
        out.visitor.anonymous_fallback = true;
        out.visitor.notice = notice;
    }
    Ok(out)
}

/// The composed landing page of one visitor: segment, hero campaign and item slots, no item
/// twice, nothing out of stock. An unknown `customer_id` gets an anonymous visitor's page,
/// flagged `visitor.anonymous_fallback`.
#[utoipa::path(
    post,
    path = "/v1/landing-page",
    request_body = LandingRequest,
    responses(
        (status = 200, body = LandingPage),
        (status = 400, body = ErrorBody, description = "malformed body, or neither customer_id nor anonymous_id"),
        (status = 404, body = ErrorBody, description = "unknown page"),
    )
)]
pub async fn compose(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<LandingRequest>,
) -> Result<Response, ApiError> {
    let body = body.ok_or_else(|| {
        ApiError::MalformedJson(
            "a JSON body is required: {\"customer_id\": ..., \"page\": \"home\"}".into(),
        )
    })?;
    let customer_id = non_empty("customer_id", body.customer_id)?;
    let anonymous_id = non_empty("anonymous_id", body.anonymous_id)?;
    let page = non_empty("page", body.page)?;
    let model = state.model()?;
    let out = page_for(
        &state,
        &model,
        customer_id.as_deref(),
        anonymous_id.as_deref(),
        page.as_deref(),
    )?;
    // The page borrows from the model, so it is written here, into a buffer sized for a
    // typical page (some 12 KB) rather than grown from empty.
    let mut body = Vec::with_capacity(PAGE_BUFFER);
    out.write_json(&mut body);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Initial capacity of a page's JSON buffer.
const PAGE_BUFFER: usize = 16 * 1024;

/// The page of customer `id` as a self-contained HTML document, for a marketer to preview.
#[utoipa::path(
    get,
    path = "/v1/landing-page/{id}",
    params(
        ("id" = String, Path, description = "customer id (unknown: the anonymous page, with a notice)"),
        ("page" = Option<String>, Query, description = "page name (default: the configured default page)"),
    ),
    responses(
        (status = 200, content_type = "text/html", body = String),
        (status = 404, body = ErrorBody, description = "unknown page"),
    )
)]
pub async fn preview_page(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    QueryPairs(pairs): QueryPairs,
) -> Result<Html<String>, ApiError> {
    check_known(&pairs, &["page"])?;
    let page = pairs
        .iter()
        .find(|(k, _)| k == "page")
        .map(|(_, v)| v.as_str());
    let model = state.model()?;
    let out = page_for(&state, &model, Some(&id), None, page)?;
    Ok(Html(html::render_page(&out)))
}

/// Every segment with the campaign it sees now and a link to a sample customer's page (the
/// member with the longest history).
#[utoipa::path(
    get,
    path = "/v1/landing-page/preview",
    params(("page" = Option<String>, Query, description = "page the links open (default: the configured default page)")),
    responses(
        (status = 200, content_type = "text/html", body = String),
        (status = 404, body = ErrorBody, description = "unknown page, or the bundle has no segments"),
    )
)]
pub async fn preview_index(
    State(state): State<AppState>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Html<String>, ApiError> {
    check_known(&pairs, &["page"])?;
    let config = &state.config().landing;
    let page = pairs
        .iter()
        .find(|(k, _)| k == "page")
        .map_or(config.default_page.as_str(), |(_, v)| v.as_str());
    if !config.pages.contains_key(page) {
        return Err(ApiError::UnknownPage {
            page: page.to_owned(),
            known: config.page_names().join(", "),
        });
    }
    let model = state.model()?;
    let seg = model
        .segmentation
        .as_ref()
        .ok_or(ApiError::NotAvailable("segments"))?;
    // The known customer with the longest history, per segment.
    let mut best: Vec<Option<(usize, usize)>> = vec![None; seg.segments.len()];
    for (c, &s) in seg.assignments.iter().enumerate() {
        let Some(pos) = seg.segments.iter().position(|x| x.id == s) else {
            continue;
        };
        let id = model.customers.id(c as u32);
        if id.starts_with(kindred_training::interactions::ANONYMOUS_PREFIX) {
            continue;
        }
        let n = model.histories.get(c).map_or(0, Vec::len);
        if best[pos].is_none_or(|(_, m)| n > m) {
            best[pos] = Some((c, n));
        }
    }
    let now = chrono::Utc::now().timestamp();
    let rows: Vec<PreviewRow> = seg
        .segments
        .iter()
        .zip(&best)
        .map(|(s, b)| {
            let campaign = landing::campaign_for(&model, config, Some(s), now);
            PreviewRow {
                segment_id: s.id,
                name: s.name.clone(),
                description: s.description.clone(),
                size: s.size,
                campaign: (!std::ptr::eq(campaign, &config.default_hero))
                    .then(|| (campaign.id.clone(), campaign.headline.clone())),
                sample_customer: b.map(|(c, _)| model.customers.id(c as u32).to_owned()),
            }
        })
        .collect();
    Ok(Html(html::render_index(&model.version, page, &rows)))
}
