//! Random bodies thrown at `POST /v1/events` (through the real router, in process): no
//! panic, no 5xx, every answer in the API's shapes, and the store holds exactly what was
//! acknowledged as accepted.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
        "[a-z_]{1,12}".prop_map(Value::from),
        Just(Value::from("x".repeat(5000))),
    ]
}

fn field_value(name: &'static str) -> BoxedStrategy<Value> {
    let now = common::now_ms();
    match name {
        "type" => prop_oneof![
            prop::sample::select(vec![
                "view",
                "purchase",
                "add_to_cart",
                "search",
                "review",
                "page_view",
                "fly"
            ])
            .prop_map(Value::from),
            scalar()
        ]
        .boxed(),
        "ts" => prop_oneof![
            (now - 10_000_000..now + 200_000_000).prop_map(Value::from),
            Just(Value::from("2026-12-01T10:00:00Z")),
            scalar()
        ]
        .boxed(),
        "context" => prop_oneof![
            prop::sample::select(vec!["full", "anonymous", "none", "maybe"])
                .prop_map(|c| json!({"consent": c, "device": "mobile"})),
            scalar()
        ]
        .boxed(),
        _ => prop_oneof!["[a-z0-9-]{1,20}".prop_map(Value::from), scalar()].boxed(),
    }
}

fn event() -> impl Strategy<Value = Value> {
    let names = [
        "event_id",
        "ts",
        "customer_id",
        "anonymous_id",
        "type",
        "item_id",
        "quantity",
        "price",
        "rating",
        "query",
        "context",
        "bogus",
    ];
    prop::collection::vec(
        prop::sample::select(names.to_vec())
            .prop_flat_map(|n| field_value(n).prop_map(move |v| (n, v))),
        0..10,
    )
    .prop_map(|fields| Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(prop_oneof![event(), scalar()], 0..30)
            .prop_map(|v| serde_json::to_vec(&v).unwrap()),
        event().prop_map(|e| serde_json::to_vec(&e).unwrap()),
        (prop::collection::vec(event(), 1..5), any::<usize>()).prop_map(|(v, cut)| {
            let bytes = serde_json::to_vec(&v).unwrap();
            bytes[..cut % bytes.len()].to_vec()
        }),
    ]
}

#[test]
fn random_bodies_get_4xx_or_2xx_never_5xx() {
    let (models, data) = (common::private_models(), tempfile::tempdir().unwrap());
    let config = kindred::config::Config {
        max_batch_events: 25,
        ..kindred::config::Config::default()
    };
    let state = common::live_state_with(models.path(), data.path(), config);
    let app = kindred::server::app(state);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let accepted = std::cell::Cell::new(0u64);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    runner
        .run(&body(), |bytes| {
            let (status, json) = rt.block_on(async {
                let req = Request::post("/v1/events")
                    .header("content-type", "application/json")
                    .body(Body::from(bytes.clone()))
                    .unwrap();
                let r = app.clone().oneshot(req).await.unwrap();
                let status = r.status().as_u16();
                let b = axum::body::to_bytes(r.into_body(), usize::MAX)
                    .await
                    .unwrap();
                (status, serde_json::from_slice::<Value>(&b))
            });
            let json = json.map_err(|e| {
                TestCaseError::fail(format!("status {status}: body is not JSON: {e}"))
            })?;
            prop_assert!(status < 500, "status {status}: {json}");
            if status == 200 {
                prop_assert!(
                    json["accepted"].is_u64() && json["rejected"].is_array(),
                    "{json}"
                );
                accepted.set(accepted.get() + json["accepted"].as_u64().unwrap());
            } else {
                prop_assert!((400..500).contains(&status));
                prop_assert!(
                    json["error"]["code"].is_string() && json["error"]["message"].is_string(),
                    "{json}"
                );
            }
            Ok(())
        })
        .unwrap();
    let store = kindred::store::Store::open(data.path(), Default::default()).unwrap();
    assert_eq!(store.stats().unwrap().events, accepted.get());
}

#[tokio::test]
async fn an_oversize_body_is_413_in_the_error_shape() {
    let (models, data) = (common::private_models(), tempfile::tempdir().unwrap());
    let app = kindred::server::app(common::live_state(models.path(), data.path()));
    let req = Request::post("/v1/events")
        .header("content-type", "application/json")
        .body(Body::from(vec![b' '; 2 << 20]))
        .unwrap();
    let r = app.oneshot(req).await.unwrap();
    assert_eq!(r.status(), 413);
    let b = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(
        v,
        json!({"error": {"code": "payload_too_large", "message": "request body larger than the limit of 1048576 bytes"}})
    );
}
