//! Real-time ingestion figures: durable batches from concurrent clients, single-event
//! requests beside `/healthz`, the memory of live profiles at 1M visitors and the time to
//! rebuild them from the store.
//!
//! Run with `cargo bench --bench ingest`. The harness
//! 1. trains the demo shop into `target/bench-data/load-models` (a fresh bundle each run)
//!    (the same bundle as `benches/load.rs`),
//! 2. starts the release `kindred serve` on a free loopback port with a fresh event store
//!    in a temp folder, and waits for `/readyz`,
//! 3. for `KINDRED_INGEST_SECONDS` (default 10) each, with `KINDRED_INGEST_CLIENTS` (default
//!    8) concurrent keep-alive clients: `POST /v1/events` with batches of 100 events (unique
//!    `event_id`s, ~1,000 visitors, the demo's items), then single-event requests, then
//!    `GET /healthz` from the same client code, and reports events/s, requests/s, p50/p99
//!    and the single-event ratio to `/healthz`,
//! 4. in process: applies 8 item events each for 1,000,000 visitors to a [`Live`] table and
//!    reports bytes per visitor (the table's own count and the process's RSS growth), then
//!    stores 1,000,000 events and times [`Live::rebuild`] from the store.
//!
//! The clients share the machine's cores with the server, so absolute figures are a floor.

mod common;

use common::{ServerGuard, ensure_bundle, free_port};
use kindred::live::{Live, LiveParams};
use kindred::store::{Store, StoreOptions};
use kindred_training::data::EventType;
use kindred_training::data::write::EventRow;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env_num(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{name}={v:?}: expected a positive number")),
        Err(_) => Ok(default),
    }
}

fn run() -> Result<(), String> {
    let seconds = env_num("KINDRED_INGEST_SECONDS", 10)?;
    let clients = env_num("KINDRED_INGEST_CLIENTS", 8)? as usize;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = Path::new(env!("CARGO_BIN_EXE_kindred"));
    let models = root.join("target/bench-data/load-models");
    ensure_bundle(exe, root, &models)?;
    let items = item_ids(&models)?;
    let store_dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;

    let port = free_port()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let child = Command::new(exe)
        .args(["serve", "--addr", &addr.to_string(), "--models"])
        .arg(&models)
        .arg("--data")
        .arg(store_dir.path())
        .env_remove("KINDRED_ADDR")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: cannot start server: {e}", exe.display()))?;
    let _server = ServerGuard(child);
    wait_ready(addr)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let base = format!("http://{addr}");
    println!(
        "kindred ingest: {clients} clients × {seconds} s per phase against the release server (store in a temp folder)"
    );
    let items = Arc::new(items);
    let batch = rt.block_on(phase(
        &base,
        clients,
        seconds,
        Load::Batch(100),
        items.clone(),
    ))?;
    let single = rt.block_on(phase(
        &base,
        clients,
        seconds,
        Load::Batch(1),
        items.clone(),
    ))?;
    let health = rt.block_on(phase(&base, clients, seconds, Load::Healthz, items.clone()))?;
    println!();
    println!("| load | requests/s | events/s | p50 ms | p99 ms | × /healthz |");
    println!("|---|---|---|---|---|---|");
    for (name, r) in [
        ("POST /v1/events, 100 per batch", &batch),
        ("POST /v1/events, 1 event", &single),
        ("GET /healthz", &health),
    ] {
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} |",
            r.requests_per_sec,
            r.events_per_sec,
            r.p50_ms,
            r.p99_ms,
            r.requests_per_sec / health.requests_per_sec
        );
    }
    let goal = batch.events_per_sec >= 20_000.0;
    println!(
        "goal: durable batches ≥ 20,000 events/s: {:.0} events/s — {}",
        batch.events_per_sec,
        if goal { "met" } else { "NOT met" }
    );
    drop(_server);

    memory_and_rebuild(&items)
}

enum Load {
    Batch(usize),
    Healthz,
}

struct PhaseResult {
    requests_per_sec: f64,
    events_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn phase(
    base: &str,
    clients: usize,
    seconds: u64,
    load: Load,
    items: Arc<Vec<String>>,
) -> Result<PhaseResult, String> {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let per_batch = match load {
        Load::Batch(n) => Some(n),
        Load::Healthz => None,
    };
    for c in 0..clients {
        let (client, stop, events, items) = (
            reqwest::Client::new(),
            stop.clone(),
            events.clone(),
            items.clone(),
        );
        let url = match per_batch {
            Some(_) => format!("{base}/v1/events"),
            None => format!("{base}/healthz"),
        };
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let ok = match per_batch {
                    Some(size) => {
                        let mut body = String::with_capacity(size * 150);
                        body.push('[');
                        let ts = now_ms();
                        for i in 0..size {
                            if i > 0 {
                                body.push(',');
                            }
                            let visitor = (n as usize * size + i) % 1000;
                            let item = &items[(n as usize * 7 + i * 13 + c) % items.len()];
                            body.push_str(&format!(
                                r#"{{"event_id":"r{run}-c{c}-{n}-{i}","type":"view","anonymous_id":"bench-{c}-{visitor}","item_id":"{item}","ts":{ts}}}"#
                            ));
                        }
                        body.push(']');
                        let r = client
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await;
                        match r {
                            Ok(r) if r.status() == 200 => {
                                events.fetch_add(size as u64, Ordering::Relaxed);
                                r.bytes().await.is_ok()
                            }
                            _ => false,
                        }
                    }
                    None => match client.get(&url).send().await {
                        Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                        _ => false,
                    },
                };
                if !ok {
                    return Err(format!("a request to {url} failed"));
                }
                latencies.push(started.elapsed().as_secs_f64() * 1e3);
                n += 1;
            }
            Ok(latencies)
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok(PhaseResult {
        requests_per_sec: all.len() as f64 / elapsed,
        events_per_sec: events.load(Ordering::Relaxed) as f64 / elapsed,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    })
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn row(visitor: usize, item: &str, ts_ms: i64) -> EventRow {
    EventRow {
        anonymous_id: Some(format!("visitor-{visitor}")),
        item_id: Some(item.to_owned()),
        ..EventRow::new(ts_ms, EventType::View)
    }
}

fn memory_and_rebuild(items: &[String]) -> Result<(), String> {
    const VISITORS: usize = 1_000_000;
    const EVENTS_EACH: usize = 8;
    let before = rss_bytes();
    let live = Live::new(LiveParams::default());
    let started = Instant::now();
    let t0 = now_ms() - 86_400_000;
    for v in 0..VISITORS {
        for e in 0..EVENTS_EACH {
            live.apply(&row(
                v,
                &items[(v * 31 + e * 7) % items.len()],
                t0 + e as i64 * 1000,
            ));
        }
    }
    let applied = started.elapsed().as_secs_f64();
    let after = rss_bytes();
    println!();
    println!(
        "live profiles: {VISITORS} visitors × {EVENTS_EACH} item events applied in {applied:.1} s ({:.0} events/s on one thread)",
        (VISITORS * EVENTS_EACH) as f64 / applied
    );
    println!(
        "  memory: {:.0} bytes per visitor by the table's own count, {:.0} bytes per visitor of RSS growth ({:.0} MB)",
        live.heap_bytes() as f64 / VISITORS as f64,
        after.saturating_sub(before) as f64 / VISITORS as f64,
        after.saturating_sub(before) as f64 / 1e6
    );
    drop(live);

    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let store = Store::open(dir.path(), StoreOptions::default()).map_err(|e| e.to_string())?;
    let total = 1_000_000usize;
    let started = Instant::now();
    for chunk in 0..total / 10_000 {
        let rows: Vec<EventRow> = (0..10_000)
            .map(|i| {
                let n = chunk * 10_000 + i;
                row(n % 125_000, &items[n % items.len()], t0 + n as i64)
            })
            .collect();
        store.append_blocking(rows).map_err(|e| e.to_string())?;
    }
    let stored = started.elapsed().as_secs_f64();
    let live = Live::new(LiveParams::default());
    let started = Instant::now();
    let replayed = live.rebuild(&store).map_err(|e| e.to_string())?;
    let rebuilt = started.elapsed().as_secs_f64();
    println!(
        "restart: {replayed} stored events ({total} written in {stored:.1} s in batches of 10,000) rebuilt into {} live profiles in {rebuilt:.1} s",
        live.len()
    );
    Ok(())
}

fn wait_ready(addr: SocketAddr) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if TcpStream::connect(addr).is_ok() {
            use std::io::{Read, Write};
            if let Ok(mut s) = TcpStream::connect(addr) {
                let _ =
                    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.1 200") {
                    return Ok(());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("the server on {addr} did not become ready in 60 s"))
}

fn item_ids(models: &Path) -> Result<Vec<String>, String> {
    let dir = kindred_training::bundle::newest(models).map_err(|e| e.to_string())?;
    let reader = kindred_training::bundle::BundleReader::open(&dir).map_err(|e| e.to_string())?;
    let (items, _) = reader
        .read_embeddings("item_embeddings.parquet")
        .map_err(|e| e.to_string())?;
    Ok(items)
}
