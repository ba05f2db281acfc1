//! A real server on 127.0.0.1:0: response bodies over TCP, hot swap under load, graceful
//! shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use kindred::server::{AppState, serve};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

async fn start(
    state: AppState,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(serve(listener, state, async {
        let _ = rx.await;
    }));
    (addr, tx, handle)
}

fn private_models() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let v1 = tmp.path().join("v1");
    std::fs::create_dir_all(&v1).unwrap();
    for e in std::fs::read_dir(common::small().models.join("v1")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), v1.join(e.file_name())).unwrap();
    }
    tmp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serves_bodies_over_tcp_and_shuts_down_gracefully() {
    let models = private_models();
    let (addr, stop, handle) = start(common::state_for(models.path())).await;
    let client = reqwest::Client::new();
    let m = common::small_model();
    let item = &m.items.items[1].item_id;
    let r = client
        .get(format!("http://{addr}/v1/items/{item}/similar?k=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 3);
    assert_eq!(body["model_version"], "v1");
    let r = client
        .get(format!("http://{addr}/v1/customers/nobody/profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": {"code": "customer_not_found", "message": "unknown customer \"nobody\""}})
    );
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hot_swap_under_load_fails_no_request() {
    let models = private_models();
    common::copy_bundle(models.path(), "v1", "v2");
    // Serve v1 explicitly although v2 is newest.
    let config = kindred::config::Config {
        models_dir: models.path().to_owned(),
        ..kindred::config::Config::default()
    };
    let state = AppState::new(
        config,
        Some(kindred::serving::Model::load(&models.path().join("v1")).unwrap()),
    );
    let (addr, stop, handle) = start(state).await;
    let client = reqwest::Client::new();
    let m = common::small_model();
    let items: Vec<String> = m
        .items
        .items
        .iter()
        .take(50)
        .map(|i| i.item_id.clone())
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let seen_v2 = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for w in 0..8 {
        let (client, items, done, ok, failed, seen_v2) = (
            client.clone(),
            items.clone(),
            done.clone(),
            ok.clone(),
            failed.clone(),
            seen_v2.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut i = w;
            while !done.load(Ordering::Relaxed) {
                let item = &items[i % items.len()];
                i += 1;
                let r = client
                    .get(format!("http://{addr}/v1/items/{item}/similar?k=10"))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => {
                        let body: Value = r.json().await.unwrap();
                        if body["items"].as_array().map(|a| a.len()) == Some(10) {
                            ok.fetch_add(1, Ordering::Relaxed);
                            if body["model_version"] == "v2" {
                                seen_v2.fetch_add(1, Ordering::Relaxed);
                            }
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Swap v2 in, back to v1, and to the newest again, under load.
    for body in [None, Some(r#"{"version": "v1"}"#), None] {
        let mut req = client.post(format!("http://{addr}/admin/reload"));
        if let Some(b) = body {
            req = req.body(b).header("content-type", "application/json");
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    done.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let (ok, failed, seen_v2) = (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        seen_v2.load(Ordering::Relaxed),
    );
    eprintln!("hot swap under load: {ok} requests ok, {failed} failed, {seen_v2} answered by v2");
    assert_eq!(failed, 0);
    assert!(ok > 100, "{ok}");
    assert!(seen_v2 > 0);
    let r: Value = client
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["model_version"], "v2");
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}
