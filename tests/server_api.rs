//! The HTTP API through `app(state)` with `tower::ServiceExt::oneshot`, on a small generated
//! shop: bodies, filters, error shapes, operations endpoints.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use kindred::config::Config;
use kindred::server::{AppState, app, with_layers};
use kindred::serving::category_under;
use kindred_training::index::VectorIndex;
use serde_json::{Value, json};
use std::collections::HashSet;
use tower::ServiceExt;

async fn call(state: &AppState, method: &str, uri: &str, body: Body) -> (StatusCode, Value) {
    let resp = app(state.clone())
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(body)
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, Value) {
    call(state, "GET", uri, Body::empty()).await
}

fn state() -> AppState {
    common::state_for(&common::small().models)
}

fn ids(v: &Value, key: &str, field: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[field].as_str().unwrap().to_owned())
        .collect()
}

fn assert_sorted(v: &Value, key: &str) {
    let scores: Vec<f64> = v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "not best first: {scores:?}"
    );
}

/// A customer with a long history (more signal for the tests).
fn busy_customer() -> (usize, String) {
    let m = common::small_model();
    let c = (0..m.customers.len())
        .filter(|&c| !m.customers.id(c as u32).starts_with("anon:"))
        .max_by_key(|&c| m.histories[c].len())
        .unwrap();
    (c, m.customers.id(c as u32).to_owned())
}

#[tokio::test]
async fn similar_returns_k_described_items_without_the_item() {
    let s = state();
    let m = common::small_model();
    let item = &m.items.items[3];
    let (status, body) = get(&s, &format!("/v1/items/{}/similar?k=5", item.item_id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["model_version"], "v1");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for it in items {
        assert_ne!(it["item_id"], item.item_id.as_str());
        let row = m.items.ids.get(it["item_id"].as_str().unwrap()).unwrap() as usize;
        let known = &m.items.items[row];
        assert_eq!(it["title"], known.title.as_str());
        assert_eq!(it["category"], known.category.as_str());
        assert_eq!(it["in_stock"], known.in_stock);
        assert_eq!(it["price"].as_f64(), known.price);
        assert_eq!(it["reason"], format!("similar to {}", item.title).as_str());
    }
    assert_sorted(&body, "items");
    // Brute force gives the same list here (small catalog) and scores are cosines.
    let (_, exact) = get(
        &s,
        &format!("/v1/items/{}/similar?k=5&exact=true", item.item_id),
    )
    .await;
    let first = exact["items"][0]["score"].as_f64().unwrap();
    assert!(first <= 1.0001 && first > 0.0, "{first}");
}

#[tokio::test]
async fn similar_filters_apply_before_the_cut() {
    let s = state();
    let m = common::small_model();
    let item = &m.items.items[0];
    let top = item.top_category().to_owned();
    // category include: k results, all under the category, equal to filter-then-sort.
    let (status, body) = get(
        &s,
        &format!(
            "/v1/items/{}/similar?k=10&category={top}&exact=true",
            item.item_id
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = ids(&body, "items", "item_id");
    let exact = m.item_index.exact();
    let q = exact.row(0).to_vec();
    let keep = |r: usize| r != 0 && category_under(&m.items.items[r].category, &top);
    let want: Vec<String> = exact
        .search(&q, 10, Some(&keep))
        .into_iter()
        .map(|(r, _)| m.items.items[r as usize].item_id.clone())
        .collect();
    assert_eq!(got, want);
    assert_eq!(got.len(), 10);
    // exclude_category, price range and stock.
    let (_, body) = get(
        &s,
        &format!("/v1/items/{}/similar?k=10&exclude_category={top}&min_price=10&max_price=80&in_stock=true", item.item_id),
    )
    .await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 10, "{body}");
    for it in items {
        assert!(!category_under(it["category"].as_str().unwrap(), &top));
        let p = it["price"].as_f64().unwrap();
        assert!((10.0..=80.0).contains(&p), "{p}");
        assert_eq!(it["in_stock"], true);
    }
    // exclude_customer drops what that customer has.
    let (c, cid) = busy_customer();
    let owned: HashSet<String> = m.histories[c]
        .iter()
        .map(|h| m.items.items[h.item as usize].item_id.clone())
        .collect();
    let (_, body) = get(
        &s,
        &format!(
            "/v1/items/{}/similar?k=20&exclude_customer={cid}",
            item.item_id
        ),
    )
    .await;
    let got = ids(&body, "items", "item_id");
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|i| !owned.contains(i)));
}

#[tokio::test]
async fn recommendations_also_want_and_lookalikes() {
    let s = state();
    let m = common::small_model();
    let (c, cid) = busy_customer();
    let owned: HashSet<String> = m.histories[c]
        .iter()
        .map(|h| m.items.items[h.item as usize].item_id.clone())
        .collect();

    let (status, body) = get(&s, &format!("/v1/customers/{cid}/recommendations?k=10")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = ids(&body, "items", "item_id");
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|i| !owned.contains(i)));
    assert_sorted(&body, "items");
    let reasons = ids(&body, "items", "reason");
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("because you liked ") || r == "popular in the shop"),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.starts_with("because you liked ")));
    // With a category filter every result is in it.
    let top = m.items.items[m.histories[c][0].item as usize]
        .top_category()
        .to_owned();
    let (_, body) = get(
        &s,
        &format!("/v1/customers/{cid}/recommendations?k=5&category={top}"),
    )
    .await;
    let cats = ids(&body, "items", "category");
    assert_eq!(cats.len(), 5);
    assert!(cats.iter().all(|x| category_under(x, &top)));

    let (status, body) = get(&s, &format!("/v1/customers/{cid}/also-want?k=8")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = ids(&body, "items", "item_id");
    assert!(!got.is_empty() && got.len() <= 8, "{body}");
    assert!(got.iter().all(|i| !owned.contains(i)));
    assert_sorted(&body, "items");
    for r in ids(&body, "items", "reason") {
        assert!(
            r.starts_with("bought or carted by ") && r.ends_with(" like you"),
            "{r}"
        );
    }

    let (status, body) = get(&s, &format!("/v1/customers/{cid}/lookalikes?k=5")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let who = ids(&body, "customers", "customer_id");
    assert_eq!(who.len(), 5);
    assert!(!who.contains(&cid));
    assert_sorted(&body, "customers");
    let (_, exact) = get(
        &s,
        &format!("/v1/customers/{cid}/lookalikes?k=5&exact=true"),
    )
    .await;
    let q = m.customer_index.exact().row(c).to_vec();
    let keep = |r: usize| r != c;
    let want: Vec<String> = m
        .customer_index
        .exact()
        .search(&q, 5, Some(&keep))
        .into_iter()
        .map(|(r, _)| m.customers.id(r).to_owned())
        .collect();
    assert_eq!(ids(&exact, "customers", "customer_id"), want);
}

#[tokio::test]
async fn profile_and_segments() {
    let s = state();
    let m = common::small_model();
    let (c, cid) = busy_customer();
    let (status, body) = get(&s, &format!("/v1/customers/{cid}/profile")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["customer_id"], cid.as_str());
    assert_eq!(body["counts"]["interactions"], m.histories[c].len());
    assert_eq!(
        body["counts"]["last_seen"],
        m.histories[c].last().unwrap().ts
    );
    let newest = &m.items.items[m.histories[c].last().unwrap().item as usize];
    assert_eq!(body["recent_items"][0]["item_id"], newest.item_id.as_str());
    let seg = m.segmentation.as_ref().unwrap();
    let sid = seg.assignments[c];
    assert_eq!(body["segment"]["id"], sid);
    let described = seg.segments.iter().find(|x| x.id == sid).unwrap();
    assert_eq!(
        body["segment"]["description"],
        described.description.as_str()
    );

    let (status, body) = get(&s, "/v1/segments").await;
    assert_eq!(status, StatusCode::OK);
    let list = body["segments"].as_array().unwrap();
    assert_eq!(list.len(), seg.segments.len());
    let sizes: usize = list
        .iter()
        .map(|x| x["size"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(sizes, seg.assignments.len());
    assert!(list[0]["top_categories"][0]["category"].is_string());
    assert!(list[0].get("top_items").is_none());

    let (status, body) = get(&s, "/v1/segments/0").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], 0);
    let top = body["top_items"].as_array().unwrap();
    assert!(!top.is_empty());
    assert!(
        top[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("trending in segment ")
    );
}

#[tokio::test]
async fn errors_have_the_api_shape() {
    let s = state();
    let item = common::small_model().items.items[0].item_id.clone();
    let cases: Vec<(String, StatusCode, Value)> = vec![
        (
            "/v1/items/nope/similar".into(),
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "item_not_found", "message": "unknown item \"nope\""}}),
        ),
        (
            "/v1/customers/ghost/recommendations".into(),
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "customer_not_found", "message": "unknown customer \"ghost\""}}),
        ),
        (
            format!("/v1/items/{item}/similar?exclude_customer=ghost"),
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "customer_not_found", "message": "unknown customer \"ghost\""}}),
        ),
        (
            format!("/v1/items/{item}/similar?k=0"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "invalid_parameter", "message": "k must be between 1 and 1000, got 0"}}),
        ),
        (
            format!("/v1/items/{item}/similar?k=100000"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "invalid_parameter", "message": "k must be between 1 and 1000, got 100000"}}),
        ),
        (
            format!("/v1/items/{item}/similar?min_price=50&max_price=10"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "invalid_parameter", "message": "min_price (50) is greater than max_price (10)"}}),
        ),
        (
            format!("/v1/items/{item}/similar?colour=red"),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "unknown_parameter", "message": "unknown parameter \"colour\"; this endpoint accepts: k, exact, category, exclude_category, min_price, max_price, in_stock, exclude_customer"}}),
        ),
        (
            "/v1/customers/c-00001/profile?k=3".into(),
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "unknown_parameter", "message": "unknown parameter \"k\"; this endpoint accepts: no parameters"}}),
        ),
        (
            "/v1/segments/99".into(),
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "segment_not_found", "message": "unknown segment \"99\""}}),
        ),
        (
            "/v2/nothing".into(),
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "route_not_found", "message": "no route for GET /v2/nothing"}}),
        ),
    ];
    for (uri, status, want) in cases {
        let (got_status, body) = get(&s, &uri).await;
        assert_eq!((got_status, &body), (status, &want), "{uri}");
    }
    // Malformed and oversized bodies.
    let (status, body) = call(&s, "POST", "/admin/reload", Body::from("{not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "malformed_json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON body: key must be a string"),
        "{body}"
    );
    let big = format!("{{\"version\": \"{}\"}}", "x".repeat(2 << 20));
    let (status, body) = call(&s, "POST", "/admin/reload", Body::from(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body,
        json!({"error": {"code": "payload_too_large", "message": "request body larger than the limit of 1048576 bytes"}})
    );
}

#[tokio::test]
async fn readiness_follows_the_model() {
    let empty = AppState::new(Config::default(), None);
    let (status, body) = get(&empty, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({"error": {"code": "not_ready", "message": "no model loaded yet"}})
    );
    let (status, body) = get(&empty, "/v1/items/x/similar").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("not_ready"))
    );
    let (status, body) = get(&empty, "/healthz").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = get(&state(), "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ready", "model_version": "v1"}));
}

#[tokio::test]
async fn metrics_count_requests_per_route() {
    let s = state();
    let item = common::small_model().items.items[0].item_id.clone();
    for _ in 0..3 {
        get(&s, &format!("/v1/items/{item}/similar")).await;
    }
    get(&s, "/v1/items/nope/similar").await;
    let resp = app(s.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    for line in [
        "kindred_http_requests_total{method=\"GET\",route=\"/v1/items/{id}/similar\",status=\"200\"} 3",
        "kindred_http_requests_total{method=\"GET\",route=\"/v1/items/{id}/similar\",status=\"404\"} 1",
        "kindred_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/items/{id}/similar\"} 4",
        "kindred_model_loaded 1",
        "kindred_model_info{version=\"v1\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let age: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("kindred_model_bundle_age_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..3600.0).contains(&age), "{age}");
}

#[tokio::test]
async fn openapi_documents_exactly_the_routes() {
    let s = state();
    let (status, doc) = get(&s, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths: HashSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let want: HashSet<String> = [
        "/v1/events",
        "/v1/identify",
        "/v1/customers/{id}",
        "/v1/sessions/{anonymous_id}/recommendations",
        "/v1/items/{id}/similar",
        "/v1/customers/{id}/recommendations",
        "/v1/customers/{id}/also-want",
        "/v1/customers/{id}/lookalikes",
        "/v1/customers/{id}/profile",
        "/v1/segments",
        "/v1/segments/{id}",
        "/v1/landing-page",
        "/v1/landing-page/{id}",
        "/v1/landing-page/preview",
        "/admin/reload",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(paths, want);
    // Every documented path is served (never the router's fallback).
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let uri = path.replace("{id}", "0");
            let (_, body) = call(&s, &method.to_uppercase(), &uri, Body::empty()).await;
            assert_ne!(body["error"]["code"], "route_not_found", "{method} {uri}");
            if method == "post" {
                continue;
            }
        }
    }
    let params: Vec<&str> = doc["paths"]["/v1/items/{id}/similar"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in kindred::server::params::FILTERED_EXACT {
        assert!(params.contains(p), "{p} not documented: {params:?}");
    }
}

#[tokio::test]
async fn reload_swaps_and_a_bad_bundle_keeps_the_old_model() {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().to_owned();
    // v1 in a private models folder.
    let src = common::small().models.clone();
    let v1 = models.join("v1");
    std::fs::create_dir_all(&v1).unwrap();
    for e in std::fs::read_dir(src.join("v1")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), v1.join(e.file_name())).unwrap();
    }
    let s = common::state_for(&models);
    common::copy_bundle(&models, "v1", "v2");
    let (status, body) = call(&s, "POST", "/admin/reload", Body::empty()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], "v2");
    assert_eq!(body["previous"], "v1");
    // A corrupt newer bundle: rejected, v2 keeps serving.
    let v3 = common::copy_bundle(&models, "v1", "v3");
    std::fs::write(v3.join("popularity.json"), b"{}").unwrap();
    let (status, body) = call(&s, "POST", "/admin/reload", Body::empty()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"]["code"], "reload_failed");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("reload failed, the previous model keeps serving: ")
            && msg.contains("popularity.json is corrupt"),
        "{msg}"
    );
    let (status, body) = get(&s, "/readyz").await;
    assert_eq!(
        (status, body["model_version"].as_str()),
        (StatusCode::OK, Some("v2"))
    );
    // An explicit version goes back to v1; a path-like version is refused.
    let (status, body) = call(
        &s,
        "POST",
        "/admin/reload",
        Body::from(r#"{"version": "v1"}"#),
    )
    .await;
    assert_eq!(
        (status, body["version"].as_str()),
        (StatusCode::OK, Some("v1")),
        "{body}"
    );
    let (status, body) = call(
        &s,
        "POST",
        "/admin/reload",
        Body::from(r#"{"version": "../x"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["message"],
        "version \"../x\" is not a bundle folder name"
    );
    let (_, metrics) = get(&s, "/metrics").await;
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains("kindred_reloads_total{result=\"ok\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("kindred_reloads_total{result=\"failed\"} 1\n"),
        "{text}"
    );
}

#[tokio::test]
async fn slow_requests_time_out_in_the_api_shape() {
    let config = Config {
        request_timeout_ms: 50,
        ..Config::default()
    };
    let s = AppState::new(config, None);
    let router = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            "late"
        }),
    );
    let resp = with_layers(router, s)
        .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_slice(
        &axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": "timeout", "message": "the request took longer than 50 ms"}})
    );
}
