//! Landing pages: composition invariants on the small generated shop, the HTTP endpoints
//! (JSON, HTML preview, preview index, errors), and on the demo shop with the sample
//! configuration, that pages differ by segment and share the hero within one.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use kindred::config::Config;
use kindred::landing::{LandingConfig, LandingPage, Strategy, compose};
use kindred::server::{AppState, app};
use kindred::serving::{Model, Visitor};
use kindred_training::models::HistoryEntry;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::OnceLock;
use tower::ServiceExt;

/// 2026-12-04, inside the sample campaigns' validity.
const NOW: i64 = 1_796_342_400;

fn sample_config() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("kindred.toml.sample");
    let text = std::fs::read_to_string(&path).unwrap();
    let c = Config::from_toml(&text, &path).unwrap();
    c.validate().unwrap();
    c
}

fn state(landing: LandingConfig) -> AppState {
    let models = &common::small().models;
    let config = Config {
        models_dir: models.clone(),
        landing,
        ..Config::default()
    };
    let model = Model::load(&models.join("v1")).unwrap();
    AppState::new(config, Some(model))
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    body: Body,
) -> (StatusCode, String, String) {
    let resp = app(state.clone())
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .header("content-type", "application/json")
                .body(body)
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, ctype, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn post(state: &AppState, body: Value) -> (StatusCode, Value) {
    let (status, _, text) = call(
        state,
        "POST",
        "/v1/landing-page",
        Body::from(body.to_string()),
    )
    .await;
    (status, serde_json::from_str(&text).unwrap())
}

fn known_customers(m: &Model) -> Vec<usize> {
    (0..m.customers.len())
        .filter(|&c| !m.customers.id(c as u32).starts_with("anon:"))
        .collect()
}

fn page_items<'a>(p: &'a LandingPage<'_>) -> Vec<&'a str> {
    p.slots
        .iter()
        .flat_map(|s| s.items.iter().map(|i| &*i.item_id))
        .collect()
}

/// No item twice, nothing out of stock, no slot over its size.
fn assert_invariants(m: &Model, config: &LandingConfig, p: &LandingPage) {
    // The JSON the server sends (written directly) is what serde_json writes.
    let mut written = Vec::new();
    p.write_json(&mut written);
    assert_eq!(
        String::from_utf8(written).unwrap(),
        serde_json::to_string(p).unwrap()
    );
    let items = page_items(p);
    let distinct: HashSet<&str> = items.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        items.len(),
        "an item appears twice: {items:?}"
    );
    for id in &items {
        assert!(m.items.get(id).unwrap().in_stock, "{id} is out of stock");
    }
    let template = &config.pages[&p.page];
    for s in &p.slots {
        let t = template.slots.iter().find(|t| t.id() == s.id).unwrap();
        assert!(s.items.len() <= t.size, "slot {} over its size", s.id);
        assert_eq!(s.kind, t.strategy);
    }
}

#[test]
fn composition_invariants_hold_for_customers_and_new_visitors() {
    let m = common::small_model();
    for config in [LandingConfig::default(), sample_config().landing] {
        let out_of_stock = m.items.items.iter().filter(|i| !i.in_stock).count();
        assert!(
            out_of_stock > 0,
            "the fixture should have out-of-stock items"
        );
        for c in known_customers(m).into_iter().step_by(7) {
            let v = m.bundle_visitor(c);
            let p = compose(m, &v, &config, "home", NOW).unwrap();
            assert_invariants(m, &config, &p);
            assert!(p.visitor.known);
            assert_eq!(p.slots[0].kind, Strategy::Hero);
        }
        // A brand-new visitor still gets a full page: every slot with a fallback is full,
        // and the slots that need a history are filled by trending or left out.
        let v = Visitor::unknown("anon:fresh");
        let p = compose(m, &v, &config, "home", NOW).unwrap();
        assert_invariants(m, &config, &p);
        assert!(!p.visitor.known && p.visitor.segment.is_none());
        let template = &config.pages["home"];
        for t in template
            .slots
            .iter()
            .filter(|t| t.fallback.is_some() && t.size > 0)
        {
            let s = p.slots.iter().find(|s| s.id == t.id()).unwrap();
            assert_eq!(
                s.items.len(),
                t.size,
                "slot {} not full for a new visitor",
                s.id
            );
        }
        assert!(!p.slots.iter().any(|s| s.kind == Strategy::RecentlyViewed));
        let byv = p
            .slots
            .iter()
            .find(|s| s.kind == Strategy::BecauseYouViewed)
            .unwrap();
        assert_eq!(byv.title, "Trending now");
        assert_eq!(byv.fallback_items, byv.items.len());
        assert!(byv.anchor.is_none());
        assert!(page_items(&p).len() >= 20, "{}", page_items(&p).len());
    }
}

#[test]
fn the_page_follows_the_visitors_newest_event() {
    // The composer reads only the Visitor: a history with one more, newest event (what the
    // live layer merges in) changes "because you viewed" and the recommendations.
    let m = common::small_model();
    let config = sample_config().landing;
    let c = known_customers(m)
        .into_iter()
        .max_by_key(|&c| m.histories[c].len())
        .unwrap();
    let before = compose(m, &m.bundle_visitor(c), &config, "home", NOW).unwrap();
    let owned: HashSet<u32> = m.histories[c].iter().map(|h| h.item).collect();
    let last_cat = &m.items.items[m.histories[c].last().unwrap().item as usize].category;
    let new_row = (0..m.items.len())
        .find(|&r| !owned.contains(&(r as u32)) && m.items.items[r].category != *last_cat)
        .unwrap();
    let mut history = m.histories[c].clone();
    let ts = history.last().unwrap().ts + 60;
    for k in 0..3 {
        history.push(HistoryEntry {
            item: new_row as u32,
            weight: 3.0,
            ts: ts + k,
        });
    }
    let mut v = m.bundle_visitor(c);
    v.history = Cow::Owned(history);
    let after = compose(m, &v, &config, "home", NOW).unwrap();
    let new_item = &m.items.items[new_row];
    let byv = after
        .slots
        .iter()
        .find(|s| s.kind == Strategy::BecauseYouViewed)
        .unwrap();
    assert_eq!(byv.anchor.as_ref().unwrap().item_id, new_item.item_id);
    assert!(byv.title.contains(&new_item.title), "{}", byv.title);
    let recs = |p: &LandingPage| -> Vec<String> {
        p.slots
            .iter()
            .find(|s| s.kind == Strategy::RecommendedForYou)
            .map(|s| s.items.iter().map(|i| i.item_id.to_string()).collect())
            .unwrap_or_default()
    };
    assert_ne!(recs(&before), recs(&after));
    let recent = after
        .slots
        .iter()
        .find(|s| s.kind == Strategy::RecentlyViewed)
        .unwrap();
    if new_item.in_stock {
        assert_eq!(recent.items[0].item_id, new_item.item_id);
    }
}

#[tokio::test]
async fn post_returns_the_composed_page() {
    let s = state(sample_config().landing);
    let m = common::small_model();
    let c = m.customers.id(known_customers(m)[3] as u32).to_owned();
    let (status, body) = post(&s, json!({"customer_id": c, "page": "home"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["page"], "home");
    assert_eq!(body["visitor"]["id"], c.as_str());
    assert_eq!(body["visitor"]["known"], true);
    assert_eq!(body["visitor"]["anonymous_fallback"], false);
    assert!(body["visitor"]["segment"]["name"].is_string());
    assert!(body["visitor"]["segment"]["description"].is_string());
    let slots = body["slots"].as_array().unwrap();
    assert_eq!(slots[0]["kind"], "hero");
    assert!(slots[0]["campaign"]["headline"].is_string());
    for slot in slots {
        for key in ["id", "kind", "title", "items"] {
            assert!(!slot[key].is_null(), "{key} missing in {slot}");
        }
        for it in slot["items"].as_array().unwrap() {
            for key in [
                "item_id",
                "title",
                "category",
                "price",
                "image_url",
                "url",
                "score",
                "reason",
            ] {
                assert!(!it[key].is_null(), "{key} missing in {it}");
            }
        }
    }
    // The page parses back into the documented type, and the default page is "home".
    let page: LandingPage = serde_json::from_value(body.clone()).unwrap();
    let (_, again) = post(&s, json!({"customer_id": c})).await;
    assert_eq!(again["page"], "home");
    assert_eq!(
        page_items(&page).len(),
        page_items(&serde_json::from_value(again).unwrap()).len()
    );
    // An anonymous session nobody has seen: a full anonymous page, not an error.
    let (status, anon) = post(&s, json!({"anonymous_id": "cookie-never-seen"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(anon["visitor"]["known"], false);
    assert_eq!(anon["visitor"]["anonymous_fallback"], false);
    assert_eq!(anon["slots"][0]["campaign"]["default"], true);
}

#[tokio::test]
async fn unknown_customer_gets_an_anonymous_page_and_says_so() {
    let s = state(sample_config().landing);
    let (status, body) = post(&s, json!({"customer_id": "nobody-42"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["visitor"]["anonymous_fallback"], true);
    assert_eq!(body["visitor"]["known"], false);
    assert!(
        body["visitor"]["notice"]
            .as_str()
            .unwrap()
            .starts_with("unknown customer \"nobody-42\""),
        "{body}"
    );
    assert_eq!(body["slots"][0]["campaign"]["id"], "welcome");
    assert!(body["slots"].as_array().unwrap().len() >= 3);
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let s = state(sample_config().landing);
    let m = common::small_model();
    let c = m.customers.id(known_customers(m)[0] as u32).to_owned();
    let (status, body) = post(&s, json!({"customer_id": c, "page": "checkout"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": {"code": "page_not_found",
            "message": "unknown page \"checkout\"; the configured pages are: home"}})
    );
    let (status, body) = post(&s, json!({"page": "home"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_parameter");
    assert_eq!(
        body["error"]["message"],
        "give customer_id or anonymous_id (or both)"
    );
    let (status, body) = post(&s, json!({"customer_id": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "customer_id must not be empty");
    let (status, body) = post(&s, json!({"customer": c})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "malformed_json");
    let (status, _, text) = call(&s, "POST", "/v1/landing-page", Body::empty()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("malformed_json"), "{text}");
    let (status, _, text) = call(
        &s,
        "GET",
        &format!("/v1/landing-page/{c}?page=checkout"),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(text.contains("page_not_found"), "{text}");
    let (status, _, text) = call(
        &s,
        "GET",
        &format!("/v1/landing-page/{c}?pgae=home"),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("unknown_parameter"), "{text}");
}

#[test]
fn invalid_landing_config_stops_start_up_naming_the_key() {
    let text = "[landing.pages.home]\nslots = [{ strategy = \"hero\", size = 1 }, { strategy = \"recommended_for_you\", size = 0 }]\n";
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("kindred.toml");
    std::fs::write(&path, text).unwrap();
    let err = Config::load(Some(&path), |_| None).unwrap_err().to_string();
    assert_eq!(
        err,
        "configuration key landing.pages.home.slots[1].size: must be between 1 and 50 for a \
         recommended_for_you slot, got 0"
    );
    std::fs::write(&path, "[[landing.campaigns]]\nid = \"x\"\nheadline = \"X\"\nsegment = { price = \"budget\" }\ndiscount_code = \"X\"\ndiscount_percent = 120\n").unwrap();
    let err = Config::load(Some(&path), |_| None).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "configuration key landing.campaigns[0].discount_percent: must be between 1 and 90"
        ),
        "{err}"
    );
}

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn html_preview_shows_the_customers_page() {
    let s = state(sample_config().landing);
    let m = common::small_model();
    let c = m.customers.id(known_customers(m)[5] as u32).to_owned();
    let (_, json_page) = post(&s, json!({"customer_id": c})).await;
    let (status, ctype, html) = call(
        &s,
        "GET",
        &format!("/v1/landing-page/{c}?page=home"),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Self-contained: inline style, no scripts, style sheets or fonts from elsewhere.
    assert!(html.contains("<style>"));
    for banned in ["<script", "<link", "@import", "stylesheet"] {
        assert!(!html.contains(banned), "{banned}");
    }
    let text = html_unescape(&html);
    for slot in json_page["slots"].as_array().unwrap() {
        assert!(
            text.contains(slot["title"].as_str().unwrap()),
            "{}",
            slot["title"]
        );
        for it in slot["items"].as_array().unwrap() {
            assert!(
                text.contains(it["title"].as_str().unwrap()),
                "{}",
                it["title"]
            );
            assert!(
                html.contains(it["image_url"].as_str().unwrap()),
                "image of {}",
                it["item_id"]
            );
        }
    }
    assert!(text.contains(&c));
    // An unknown customer: the anonymous page, with the notice shown.
    let (status, _, html) = call(&s, "GET", "/v1/landing-page/who%3Cb%3E", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("unknown customer") && html.contains("who&lt;b&gt;"));
    assert!(!html.contains("who<b>"));
}

#[tokio::test]
async fn preview_index_lists_every_segment_with_a_page_link() {
    let s = state(sample_config().landing);
    let m = common::small_model();
    let (status, ctype, html) = call(&s, "GET", "/v1/landing-page/preview", Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/html"));
    let seg = m.segmentation.as_ref().unwrap();
    assert_eq!(
        html.matches("<tr class=\"segment\">").count(),
        seg.segments.len()
    );
    let text = html_unescape(&html);
    for sg in &seg.segments {
        assert!(text.contains(&sg.name), "{}", sg.name);
    }
    let links = html.matches("href=\"/v1/landing-page/").count();
    assert!(links > seg.segments.len(), "{links}");
    // Every link opens a page.
    let first = html
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let (status, _, page) = call(&s, "GET", &first, Body::empty()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(page.contains("known visitor"));
}

/// The demo shop, trained once (~20 s), with the sample configuration.
fn demo() -> &'static Model {
    static M: OnceLock<(tempfile::TempDir, Model)> = OnceLock::new();
    &M.get_or_init(|| {
        let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/demo");
        let tmp = tempfile::tempdir().unwrap();
        common::train_into(&shop, tmp.path(), "demo");
        let model = Model::load(&tmp.path().join("demo")).unwrap();
        (tmp, model)
    })
    .1
}

#[test]
fn demo_pages_differ_by_segment_and_share_the_hero_within_one() {
    let m = demo();
    let config = sample_config().landing;
    let seg = m.segmentation.as_ref().unwrap();
    for s in &seg.segments {
        eprintln!(
            "segment {} {:?} size {} top {:?} price_level {:.3} -> campaign {}",
            s.id,
            s.name,
            s.size,
            s.top_categories.first(),
            s.price_level,
            kindred::landing::campaign_for(m, &config, Some(s), NOW).id
        );
    }
    // The price tiers campaigns select by agree with the trainer's names.
    for s in &seg.segments {
        let tier = kindred::landing::price_tier(m, s);
        if s.name.starts_with("Budget") {
            assert_eq!(tier, kindred::landing::PriceTier::Budget, "{}", s.name);
        } else if s.name.starts_with("Premium") {
            assert_eq!(tier, kindred::landing::PriceTier::Premium, "{}", s.name);
        }
    }
    // Ten customers of each segment with the longest histories.
    let mut members: HashMap<u32, Vec<usize>> = HashMap::new();
    for c in known_customers(m) {
        members.entry(seg.assignments[c]).or_default().push(c);
    }
    let mut pages: Vec<(u32, String, HashSet<String>)> = Vec::new();
    for (sid, cs) in &mut members {
        cs.sort_by_key(|&c| std::cmp::Reverse(m.histories[c].len()));
        for &c in cs.iter().take(10) {
            let p = compose(m, &m.bundle_visitor(c), &config, "home", NOW).unwrap();
            assert_invariants(m, &config, &p);
            let hero = p.slots[0].campaign.as_ref().unwrap().id.clone();
            let items = page_items(&p).into_iter().map(str::to_owned).collect();
            pages.push((*sid, hero, items));
        }
    }
    // Same segment, same hero.
    let mut hero_of: HashMap<u32, &str> = HashMap::new();
    for (sid, hero, _) in &pages {
        let h = hero_of.entry(*sid).or_insert(hero);
        assert_eq!(h, hero, "segment {sid} shows two heroes");
    }
    // Every demo segment gets a campaign of the sample, and segments show different heroes.
    assert!(hero_of.values().all(|h| *h != "welcome"), "{hero_of:?}");
    let distinct: HashSet<&str> = hero_of.values().copied().collect();
    let (mut pairs, mut differ) = (0usize, 0usize);
    let ids: Vec<u32> = hero_of.keys().copied().collect();
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            pairs += 1;
            differ += usize::from(hero_of[a] != hero_of[b]);
        }
    }
    eprintln!(
        "{} segments, {} distinct heroes, {differ}/{pairs} segment pairs differ",
        ids.len(),
        distinct.len()
    );
    assert!(differ as f64 >= 0.8 * pairs as f64, "{hero_of:?}");
    // Segments led by different categories always show different heroes.
    let lead = |sid: u32| {
        let s = seg.segments.iter().find(|s| s.id == sid).unwrap();
        kindred::landing::favourite_category(s).unwrap().to_owned()
    };
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            if lead(*a) != lead(*b) {
                assert_ne!(hero_of[a], hero_of[b], "segments {a} and {b}");
            }
        }
    }
    // Pages of different segments share few items; pages of one segment share more.
    let jaccard = |a: &HashSet<String>, b: &HashSet<String>| {
        a.intersection(b).count() as f64 / a.union(b).count().max(1) as f64
    };
    let (mut across, mut n_across, mut within, mut n_within) = (0.0, 0usize, 0.0, 0usize);
    for (i, (sa, _, a)) in pages.iter().enumerate() {
        for (sb, _, b) in &pages[i + 1..] {
            if sa == sb {
                within += jaccard(a, b);
                n_within += 1;
            } else {
                across += jaccard(a, b);
                n_across += 1;
            }
        }
    }
    let (across, within) = (across / n_across as f64, within / n_within as f64);
    eprintln!("item overlap (Jaccard): across segments {across:.3}, within a segment {within:.3}");
    assert!(
        across < 0.1,
        "pages of different segments share too much: {across}"
    );
    assert!(within > 2.0 * across, "within {within} vs across {across}");
}
