//! Real-time events against a real server on 127.0.0.1:0 with an event store in a temp
//! folder: ingestion and its errors, live recommendations, identity stitching, consent,
//! erasure, API keys, restart.
#![allow(clippy::unwrap_used)]

mod common;

use common::now_ms;
use kindred::config::{ApiKey, Config, Scope};
use serde_json::{Value, json};
use std::collections::HashMap;

struct Server {
    base: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    async fn start(state: kindred::server::AppState) -> Server {
        let (addr, stop, handle) = common::start(state).await;
        Server {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    async fn events(&self, events: Value) -> Value {
        let (status, body) = self.post("/v1/events", events.to_string()).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }
}

/// Items of the small shop by top-level category (in stock or not).
fn by_category() -> HashMap<String, Vec<String>> {
    let m = common::small_model();
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for it in &m.items.items {
        out.entry(it.top_category().to_owned())
            .or_default()
            .push(it.item_id.clone());
    }
    out
}

fn categories_of(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["category"]
                .as_str()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn views(visitor: (&str, &str), items: &[String], t0: i64) -> Value {
    Value::Array(
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                json!({"type": "view", visitor.0: visitor.1, "item_id": item, "ts": t0 + i as i64 * 1000})
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_follows_its_category_on_the_next_request() {
    let (models, data) = (common::private_models(), tempfile::tempdir().unwrap());
    let s = Server::start(common::live_state(models.path(), data.path())).await;
    let cats = by_category();
    let total: usize = cats.values().map(Vec::len).sum();
    let (cat, items) = cats.iter().max_by_key(|(c, v)| (v.len(), *c)).unwrap();
    let chance = items.len() as f64 / total as f64;
    // Before: a session nobody has seen gets the shop's popular items.
    let (status, before) = s.get("/v1/sessions/visitor-a/recommendations?k=10").await;
    assert_eq!(status, 200);
    assert_eq!(before["items"].as_array().unwrap().len(), 10);
    let out = s
        .events(views(
            ("anonymous_id", "visitor-a"),
            &items[..5],
            now_ms() - 60_000,
        ))
        .await;
    assert_eq!(out["accepted"], 5);
    let (_, after) = s.get("/v1/sessions/visitor-a/recommendations?k=10").await;
    let got = categories_of(&after);
    let share = got.iter().filter(|c| *c == cat).count() as f64 / got.len() as f64;
    eprintln!(
        "session after 5 views of {cat}: {:.0}% of 10 in {cat}; chance {:.0}%",
        share * 100.0,
        chance * 100.0
    );
    assert_eq!(got.len(), 10);
    assert!(share > 0.5, "{share} of {got:?}");
    // Nothing the visitor viewed comes back.
    let returned: Vec<&str> = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_id"].as_str().unwrap())
        .collect();
    assert!(items[..5].iter().all(|v| !returned.contains(&v.as_str())));
    // The profile of the session shows the live counters.
    let (status, profile) = s.get("/v1/customers/anon:visitor-a/profile").await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["live"]["counts"]["view"], 5);
    assert_eq!(profile["recent_items"][0]["item_id"], items[4].as_str());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_new_category_rises_on_the_next_request() {
    let (models, data) = (common::private_models(), tempfile::tempdir().unwrap());
    let s = Server::start(common::live_state(models.path(), data.path())).await;
    let m = common::small_model();
    let cats = by_category();
    // A customer with a history, and the category least present in their recommendations.
    let customer = m
        .customers
        .ids()
        .iter()
        .find(|c| {
            !c.starts_with("anon:") && m.histories[m.customers.get(c).unwrap() as usize].len() >= 5
        })
        .unwrap()
        .clone();
    let (_, before) = s
        .get(&format!("/v1/customers/{customer}/recommendations?k=20"))
        .await;
    let before_cats = categories_of(&before);
    // Among the categories with room for 20 unseen items, the one least recommended now.
    let mut big: Vec<(&String, &Vec<String>)> =
        cats.iter().filter(|(_, v)| v.len() >= 26).collect();
    big.sort();
    let (new_cat, items) = big
        .into_iter()
        .min_by_key(|(c, _)| before_cats.iter().filter(|b| b == c).count())
        .unwrap();
    let share =
        |cats: &[String]| cats.iter().filter(|c| *c == new_cat).count() as f64 / cats.len() as f64;
    let t0 = now_ms() - 60_000;
    let mut events = Vec::new();
    for (i, item) in items.iter().take(6).enumerate() {
        events.push(json!({"type": "view", "customer_id": customer, "item_id": item, "ts": t0 + i as i64 * 1000}));
        if i % 2 == 0 {
            events.push(json!({"type": "add_to_cart", "customer_id": customer, "item_id": item, "ts": t0 + i as i64 * 1000 + 500}));
        }
    }
    let out = s.events(Value::Array(events)).await;
    assert_eq!(out["accepted"], 9);
    let (_, after) = s
        .get(&format!("/v1/customers/{customer}/recommendations?k=20"))
        .await;
    let (b, a) = (share(&before_cats), share(&categories_of(&after)));
    eprintln!(
        "{customer}: {new_cat} share of top-20 {:.0}% before, {:.0}% after 6 views + 3 carts",
        b * 100.0,
        a * 100.0
    );
    assert!(a >= b + 0.25, "before {b}, after {a}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identify_makes_the_session_history_the_customers_at_once() {
    let (models, data) = (common::private_models(), tempfile::tempdir().unwrap());
    let s = Server::start(common::live_state(models.path(), data.path())).await;
    let cats = by_category();
    let (_, items) = cats.iter().max_by_key(|(_, v)| v.len()).unwrap();
    s.events(views(
        ("anonymous_id", "cookie-9"),
        &items[..4],
        now_ms() - 60_000,
    ))
    .await;
    // A customer the bundle has never seen logs in.
    let (status, out) = s
        .post(
            "/v1/identify",
            json!({"anonymous_id": "cookie-9", "customer_id": "new-customer-9"}).to_string(),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["previous"], Value::Null);
    let (status, profile) = s.get("/v1/customers/new-customer-9/profile").await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["live"]["counts"]["view"], 4);
    assert_eq!(profile["live"]["linked_anonymous_ids"], json!(["cookie-9"]));
    assert_eq!(profile["counts"]["interactions"], 4);
    // The customer's and the session's recommendations are now the same.
    let (_, customer) = s
        .get("/v1/customers/new-customer-9/recommendations?k=5")
        .await;
    let (_, session) = s.get("/v1/sessions/cookie-9/recommendations?k=5").await;
    assert_eq!(customer["items"], session["items"]);
    // Later anonymous events of the cookie go to the customer.
    s.events(views(
        ("anonymous_id", "cookie-9"),
        &items[4..6],
        now_ms() - 30_000,
    ))
    .await;
    let (_, profile) = s.get("/v1/customers/new-customer-9/profile").await;
    assert_eq!(profile["live"]["counts"]["view"], 6);
    // An event carrying both ids links them too.
    s.events(json!([{"type": "view", "customer_id": "new-customer-9", "anonymous_id": "phone-2", "item_id": items[7], "ts": now_ms()}])).await;
    let (_, profile) = s.get("/v1/customers/new-customer-9/profile").await;
    assert_eq!(
        profile["live"]["linked_anonymous_ids"],
        json!(["cookie-9", "phone-2"])
    );
    // Also-want and lookalikes work for a customer known only live.
    let (status, also) = s.get("/v1/customers/new-customer-9/also-want?k=5").await;
    assert_eq!(status, 200, "{also}");
    assert!(!also["items"].as_array().unwrap().is_empty());
    let (_, look) = s.get("/v1/customers/new-customer-9/lookalikes?k=3").await;
    assert_eq!(look["customers"].as_array().unwrap().len(), 3);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_idempotent_and_bad_events_are_named() {
    let (models, data) = (common::private_models(), tempfile::tempdir().unwrap());
    let s = Server::start(common::live_state(models.path(), data.path())).await;
    let item = common::small_model().items.items[0].item_id.clone();
    let t = now_ms();
    let batch = json!([
        {"event_id": "e-1", "type": "view", "customer_id": "c-x", "item_id": item, "ts": t},
        {"event_id": "e-2", "type": "view", "customer_id": "c-x", "ts": t},
        {"event_id": "e-3", "type": "teleport", "customer_id": "c-x", "ts": t},
        {"event_id": "e-4", "type": "purchase", "customer_id": "c-x", "item_id": item, "ts": "2026-13-01T00:00:00Z"},
        {"event_id": "e-5", "type": "page_view", "customer_id": "c-x", "page": "/", "ts": t, "context": {"consent": "none"}},
        {"event_id": "e-6", "type": "add_to_cart", "customer_id": "c-x", "item_id": "sku-never-seen", "ts": t}
    ]);
    let out = s.events(batch.clone()).await;
    assert_eq!(out["accepted"], 2);
    assert_eq!(out["duplicates"], 0);
    assert_eq!(out["not_stored"], 1);
    let rejected = out["rejected"].as_array().unwrap();
    assert_eq!(
        rejected
            .iter()
            .map(|r| r["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(rejected[0]["reason"].as_str().unwrap().contains("item_id"));
    assert!(rejected[1]["reason"].as_str().unwrap().contains("teleport"));
    assert!(rejected[2]["reason"].as_str().unwrap().contains("RFC 3339"));
    // The retry stores nothing twice.
    let again = s.events(batch).await;
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    let (_, profile) = s.get("/v1/customers/c-x/profile").await;
    assert_eq!(
        profile["live"]["counts"],
        json!({"view": 1, "add_to_cart": 1})
    );
    // Whole-body errors, in the API's error shape.
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"[{\"type\": ".to_vec(), 400, "malformed_json"),
        (b"\"view\"".to_vec(), 400, "invalid_events"),
        (b"[]".to_vec(), 400, "invalid_events"),
        (
            b"[{\"type\": \"view\", \"customer_id\": \"\xff\xfe\"}]".to_vec(),
            400,
            "malformed_json",
        ),
        (
            json!([{"type": "view"}]).to_string().into_bytes(),
            400,
            "invalid_events",
        ),
        (
            serde_json::to_vec(&vec![
                json!({"type": "page_view", "customer_id": "c", "ts": t});
                1001
            ])
            .unwrap(),
            413,
            "batch_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (got, err) = s.post("/v1/events", body).await;
        assert_eq!(
            (got, err["error"]["code"].as_str()),
            (status, Some(code)),
            "{err}"
        );
    }
    let (_, all_bad) = s
        .post(
            "/v1/events",
            json!([{"type": "view", "customer_id": "c"}]).to_string(),
        )
        .await;
    assert_eq!(all_bad["error"]["rejected"][0]["index"], 0);
    assert!(
        all_bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("all 1 events were rejected")
    );
    // Nothing of the rejected events reached the store.
    let store = kindred::store::Store::open(data.path(), Default::default()).unwrap();
    let mut ids = Vec::new();
    store
        .replay(0, |e| ids.push(e.row.event_id.clone()))
        .unwrap();
    assert_eq!(ids, [Some("e-1".to_owned()), Some("e-6".to_owned())]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_and_erasure() {
    let (models, data) = (common::private_models(), tempfile::tempdir().unwrap());
    let state = common::live_state(models.path(), data.path());
    let s = Server::start(state.clone()).await;
    let m = common::small_model();
    let item = m.items.items[3].item_id.clone();
    let t = now_ms();
    // `anonymous` consent: no cookie id, only the coarse device key.
    s.events(json!([{"type": "view", "anonymous_id": "cookie-secret", "customer_id": "c-private", "item_id": item, "ts": t,
        "context": {"consent": "anonymous", "device": "mobile", "browser": "Firefox", "browser_version": "128.0"}}])).await;
    let (status, _) = s.get("/v1/customers/c-private/profile").await;
    assert_eq!(status, 404);
    let (status, device) = s
        .get("/v1/customers/anon:device:mobile%2Ffirefox%2F128/profile")
        .await;
    assert_eq!(status, 200, "{device}");
    assert_eq!(device["live"]["consent"], "anonymous");
    // Erasure of a customer the bundle knows, who also identified a session live.
    let customer = m
        .customers
        .ids()
        .iter()
        .find(|c| !c.starts_with("anon:"))
        .unwrap()
        .clone();
    s.events(views(
        ("anonymous_id", "cookie-e"),
        std::slice::from_ref(&item),
        t - 5000,
    ))
    .await;
    s.post(
        "/v1/identify",
        json!({"anonymous_id": "cookie-e", "customer_id": customer}).to_string(),
    )
    .await;
    s.events(views(
        ("customer_id", &customer),
        std::slice::from_ref(&item),
        t - 1000,
    ))
    .await;
    let r = s
        .client
        .delete(format!("{}/v1/customers/{customer}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let erased: Value = r.json().await.unwrap();
    assert_eq!(
        (erased["events"].as_u64(), erased["links"].as_u64()),
        (Some(2), Some(1))
    );
    for path in [
        format!("/v1/customers/{customer}/profile"),
        format!("/v1/customers/{customer}/recommendations"),
    ] {
        let (status, body) = s.get(&path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("customer_not_found")),
            "{path}"
        );
    }
    // The erased session is a stranger again.
    let (_, session) = s.get("/v1/customers/anon:cookie-e/profile").await;
    assert_eq!(session["error"]["code"], "customer_not_found");
    // Nobody's neighbour any more (also-want, lookalikes): the served model withholds them,
    // and so does a model loaded after the erasure.
    let row = m.customer_row(&customer).unwrap() as u32;
    let served = state.model().unwrap();
    assert!(served.withheld.contains(row));
    let (status, body) = s.post("/admin/reload", String::new()).await;
    assert_eq!(status, 200, "{body}");
    let reloaded = state.model().unwrap();
    assert!(!std::sync::Arc::ptr_eq(&served, &reloaded), "a new model");
    assert!(reloaded.withheld.contains(row));
    // Later exports do not contain them.
    let out = tempfile::tempdir().unwrap();
    let report = kindred::store::export(
        data.path(),
        out.path(),
        None,
        kindred_training::progress::Progress::Hidden,
    )
    .unwrap();
    assert_eq!((report.events, report.links), (1, 0));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_scopes() {
    let (models, data) = (common::private_models(), tempfile::tempdir().unwrap());
    let config = Config {
        api_keys: vec![
            ApiKey {
                name: "storefront".into(),
                key: Some("storefront-0123456789abcdef".into()),
                key_env: None,
                scopes: vec![Scope::Ingest, Scope::Read],
            },
            ApiKey {
                name: "ops".into(),
                key: Some("operations-0123456789abcdef".into()),
                key_env: None,
                scopes: vec![Scope::Admin],
            },
        ],
        ..Config::default()
    };
    let s = Server::start(common::live_state_with(models.path(), data.path(), config)).await;
    let send = |method: reqwest::Method, path: &str, key: Option<&str>| {
        let mut r = s.client.request(method, format!("{}{path}", s.base));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r.header("content-type", "application/json")
            .body(json!([{"type": "page_view", "customer_id": "c", "ts": now_ms()}]).to_string())
            .send()
    };
    let store_key = Some("storefront-0123456789abcdef");
    let ops_key = Some("operations-0123456789abcdef");
    let cases = [
        (
            reqwest::Method::POST,
            "/v1/events",
            None,
            401,
            Some("unauthorized"),
        ),
        (
            reqwest::Method::POST,
            "/v1/events",
            Some("wrong-key-0123456789abcdef"),
            401,
            Some("unauthorized"),
        ),
        (reqwest::Method::POST, "/v1/events", store_key, 200, None),
        (
            reqwest::Method::GET,
            "/v1/sessions/x/recommendations",
            store_key,
            200,
            None,
        ),
        (
            reqwest::Method::DELETE,
            "/v1/customers/c",
            store_key,
            403,
            Some("forbidden"),
        ),
        (
            reqwest::Method::POST,
            "/admin/reload",
            store_key,
            403,
            Some("forbidden"),
        ),
        (
            reqwest::Method::POST,
            "/v1/events",
            ops_key,
            403,
            Some("forbidden"),
        ),
        (
            reqwest::Method::DELETE,
            "/v1/customers/c",
            ops_key,
            200,
            None,
        ),
        (reqwest::Method::GET, "/healthz", None, 200, None),
    ];
    for (method, path, key, status, code) in cases {
        let r = send(method.clone(), path, key).await.unwrap();
        let got = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(got, status, "{method} {path} {key:?}: {body}");
        if let Some(code) = code {
            assert_eq!(body["error"]["code"], code);
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_profiles_survive_a_restart() {
    let (models, data) = (common::private_models(), tempfile::tempdir().unwrap());
    let cats = by_category();
    let (_, items) = cats.iter().max_by_key(|(_, v)| v.len()).unwrap();
    let s = Server::start(common::live_state(models.path(), data.path())).await;
    s.events(views(
        ("anonymous_id", "visitor-r"),
        &items[..5],
        now_ms() - 60_000,
    ))
    .await;
    s.post(
        "/v1/identify",
        json!({"anonymous_id": "visitor-r", "customer_id": "c-restart"}).to_string(),
    )
    .await;
    let (_, before) = s.get("/v1/customers/c-restart/recommendations?k=10").await;
    s.stop().await;
    let s = Server::start(common::live_state(models.path(), data.path())).await;
    let (status, after) = s.get("/v1/customers/c-restart/recommendations?k=10").await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(before["items"], after["items"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_landing_page_follows_new_events() {
    let (models, data) = (common::private_models(), tempfile::tempdir().unwrap());
    let s = Server::start(common::live_state(models.path(), data.path())).await;
    let m = common::small_model();
    let customer = m
        .customers
        .ids()
        .iter()
        .find(|c| !c.starts_with("anon:"))
        .unwrap()
        .clone();
    let page = || {
        s.post(
            "/v1/landing-page",
            json!({"customer_id": customer, "page": "home"}).to_string(),
        )
    };
    let slot = |page: &Value, kind: &str| {
        page["slots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|sl| sl["kind"] == kind)
            .cloned()
    };
    let (status, before) = page().await;
    assert_eq!(status, 200, "{before}");
    // The customer views an in-stock item they never had.
    let owned: Vec<u32> = m.histories[m.customers.get(&customer).unwrap() as usize]
        .iter()
        .map(|h| h.item)
        .collect();
    let (row, item) = m
        .items
        .items
        .iter()
        .enumerate()
        .find(|(r, i)| i.in_stock && !owned.contains(&(*r as u32)))
        .unwrap();
    let _ = row;
    s.events(
        json!([{"type": "view", "customer_id": customer, "item_id": item.item_id, "ts": now_ms()}]),
    )
    .await;
    let (_, after) = page().await;
    let byv = slot(&after, "because_you_viewed").expect("a because_you_viewed slot");
    assert_eq!(byv["anchor"]["item_id"], item.item_id.as_str(), "{byv}");
    assert!(
        byv["title"].as_str().unwrap().contains(&item.title),
        "{byv}"
    );
    let items = |p: &Value, kind: &str| slot(p, kind).map(|sl| sl["items"].clone());
    assert_ne!(
        items(&before, "because_you_viewed"),
        items(&after, "because_you_viewed")
    );
    s.stop().await;
}
