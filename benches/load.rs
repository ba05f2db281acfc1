//! HTTP load on a release `kindred serve` over the demo bundle, measured with `wrk`.
//!
//! Run with `cargo bench --bench load`. The harness
//! 1. makes sure `wrk` is installed (tries `apt-get install -y wrk`; if that fails it says
//!    so and exits 0),
//! 2. trains the demo shop into `target/bench-data/load-models` (a fresh bundle each run),
//! 3. starts `kindred serve` on a free loopback port and waits for `/readyz`,
//! 4. runs `wrk -t2 -c32 -d<N>s --latency` against `/healthz`, every read endpoint and
//!    `POST /v1/landing-page` (the server runs with `kindred.toml.sample`), with a
//!    Lua script rotating over ~200 real item / customer ids,
//! 5. posts three live views for every rotated customer (`POST /v1/events`) and runs the
//!    landing page again: those customers' pages then search their nearest customers online
//!    rather than reading the trainer's stored lists (a row of its own, no goal),
//! 6. stops the server (always, also on failure) and prints req/s, p50, p99 and the ratio of
//!    each endpoint's throughput to `/healthz` measured on the same server in the same run,
//!    with the goal checks `similar` ≥ 0.5×, `recommendations` ≥ 0.3× and the landing page
//!    ≥ 0.25× `/healthz`.
//!
//! Environment: `KINDRED_LOAD_SECONDS` (default 10) is the duration of each endpoint's run.

mod common;

use common::{ServerGuard, ensure_bundle, free_port};
use kindred_training::bundle::{BundleReader, newest};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Ids per endpoint that the Lua script rotates over.
const IDS_PER_ENDPOINT: usize = 200;
/// wrk threads and connections.
const WRK_THREADS: usize = 2;
const WRK_CONNECTIONS: usize = 32;

/// One `wrk` run, parsed.
#[derive(Debug, Clone, PartialEq)]
struct WrkResult {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    total_requests: u64,
    non_2xx: u64,
    socket_errors: String,
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; nothing else to parse.
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    if !ensure_wrk() {
        println!(
            "load bench skipped: `wrk` is not installed and `apt-get install -y wrk` failed; \
             install wrk (https://github.com/wg/wrk) and rerun `cargo bench --bench load`"
        );
        return Ok(());
    }
    let seconds: u64 = match std::env::var("KINDRED_LOAD_SECONDS") {
        Ok(v) => v
            .trim()
            .parse()
            .ok()
            .filter(|s| (1..=600).contains(s))
            .ok_or_else(|| format!("KINDRED_LOAD_SECONDS={v:?}: expected 1..=600 seconds"))?,
        Err(_) => 10,
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = Path::new(env!("CARGO_BIN_EXE_kindred"));
    let data_dir = root.join("target/bench-data");
    let models = data_dir.join("load-models");
    ensure_bundle(exe, root, &models)?;
    let (items, customers) = sample_ids(&models)?;

    let port = free_port()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let log_path = data_dir.join("load-server.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let store = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let child = Command::new(exe)
        .arg("serve")
        .arg("--models")
        .arg(&models)
        .arg("--data")
        .arg(store.path())
        .arg("--config")
        .arg(root.join("kindred.toml.sample"))
        .arg("--addr")
        .arg(addr.to_string())
        .env_remove("KINDRED_ADDR")
        .env_remove("KINDRED_MODELS_DIR")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("{}: cannot start server: {e}", exe.display()))?;
    let mut server = ServerGuard(child);
    wait_ready(&mut server, addr, &log_path)?;

    let endpoints: Vec<(&str, Vec<String>)> = vec![
        ("/healthz", vec!["/healthz".to_owned()]),
        (
            "/v1/items/{id}/similar?k=10",
            paths(&items, |id| format!("/v1/items/{id}/similar?k=10")),
        ),
        (
            "/v1/customers/{id}/recommendations?k=10",
            paths(&customers, |id| {
                format!("/v1/customers/{id}/recommendations?k=10")
            }),
        ),
        (
            "/v1/customers/{id}/also-want?k=10",
            paths(&customers, |id| {
                format!("/v1/customers/{id}/also-want?k=10")
            }),
        ),
        (
            "/v1/customers/{id}/lookalikes?k=10",
            paths(&customers, |id| {
                format!("/v1/customers/{id}/lookalikes?k=10")
            }),
        ),
        (
            "/v1/customers/{id}/profile",
            paths(&customers, |id| format!("/v1/customers/{id}/profile")),
        ),
        ("/v1/segments", vec!["/v1/segments".to_owned()]),
        (
            "POST /v1/landing-page (home)",
            customers
                .iter()
                .map(|id| {
                    format!(
                        "POST /v1/landing-page {{\"customer_id\": \"{id}\", \"page\": \"home\"}}"
                    )
                })
                .collect(),
        ),
    ];

    // A smoke request per endpoint so that a 404 is reported rather than timed.
    for (name, ps) in endpoints
        .iter()
        .filter(|(_, ps)| !ps[0].starts_with("POST "))
    {
        let (status, _) = http_get(addr, &ps[0], Duration::from_secs(5))
            .map_err(|e| format!("GET {}: {e}", ps[0]))?;
        if !(200..300).contains(&status) {
            eprintln!("warning: {name}: GET {} answered {status}", ps[0]);
        }
    }

    println!(
        "kindred load: wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{seconds}s --latency on http://{addr} \
         ({} item ids, {} customer ids rotated)",
        items.len(),
        customers.len()
    );
    let scratch = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let mut results = Vec::new();
    for (i, (name, ps)) in endpoints.iter().enumerate() {
        let script = scratch.path().join(format!("endpoint{i}.lua"));
        std::fs::write(&script, lua_script(ps))
            .map_err(|e| format!("{}: {e}", script.display()))?;
        eprintln!("running {name} for {seconds} s ...");
        let r = run_wrk(addr, &script, seconds)?;
        results.push((*name, r));
    }

    // The same pages once every customer has fresh live events: their embedding is then a
    // fold-in of the merged history, so the page searches their nearest customers online
    // instead of reading the trainer's stored lists, and adds the intent of the clicks.
    let events = live_events(&customers, &items);
    let (status, text) = http_request(addr, "POST", "/v1/events", &events, Duration::from_secs(10))
        .map_err(|e| format!("POST /v1/events: {e}"))?;
    if status != 200 {
        return Err(format!("POST /v1/events answered {status}: {text:.300}"));
    }
    let (name, ps) = endpoints
        .iter()
        .find(|(n, _)| n.starts_with("POST /v1/landing-page"))
        .ok_or("no landing-page endpoint")?;
    let script = scratch.path().join("landing-live.lua");
    std::fs::write(&script, lua_script(ps)).map_err(|e| format!("{}: {e}", script.display()))?;
    eprintln!("running {name} for customers with live events for {seconds} s ...");
    results.push((LIVE_LANDING, run_wrk(addr, &script, seconds)?));
    drop(server);

    print_table(&results);
    Ok(())
}

/// True when `wrk` is on the PATH, installing it with apt-get if needed.
fn ensure_wrk() -> bool {
    let have = || {
        Command::new("wrk")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if have() {
        return true;
    }
    eprintln!("wrk not found: trying apt-get install -y wrk ...");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "wrk"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if install() {
        return have();
    }
    let updated = Command::new("apt-get")
        .arg("update")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    updated && install() && have()
}

/// Up to [`IDS_PER_ENDPOINT`] item ids and known (non-`anon:`) customer ids, spread over the lists.
fn sample_ids(models: &Path) -> Result<(Vec<String>, Vec<String>), String> {
    let dir = newest(models).map_err(|e| format!("{}: {e}", models.display()))?;
    let reader = BundleReader::open(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (items, _) = reader
        .read_embeddings("item_embeddings.parquet")
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let (customers, _) = reader
        .read_embeddings("customer_embeddings.parquet")
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let customers: Vec<String> = customers
        .into_iter()
        .filter(|c| !c.starts_with("anon:"))
        .collect();
    let items = spread(items, IDS_PER_ENDPOINT);
    let customers = spread(customers, IDS_PER_ENDPOINT);
    if items.is_empty() || customers.is_empty() {
        return Err(format!(
            "{}: the bundle has {} items and {} known customers; need at least one of each",
            dir.display(),
            items.len(),
            customers.len()
        ));
    }
    Ok((items, customers))
}

/// At most `n` elements of `v`, evenly spaced.
fn spread(v: Vec<String>, n: usize) -> Vec<String> {
    let step = v.len().div_ceil(n).max(1);
    v.into_iter().step_by(step).take(n).collect()
}

/// Request paths built from `ids` (percent-encoded path segments).
fn paths(ids: &[String], f: impl Fn(&str) -> String) -> Vec<String> {
    ids.iter().map(|id| f(&encode_segment(id))).collect()
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so the id is safe in a
/// path and inside a Lua string literal.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A wrk script whose `request` rotates over `paths` (each wrk thread starts at its own offset).
fn lua_script(paths: &[String]) -> String {
    // `POST <path> <json body>` entries are sent as JSON POSTs, the rest as GETs.
    let post = paths.first().is_some_and(|p| p.starts_with("POST "));
    let mut s = String::from("local paths = {\n");
    let mut bodies = String::from("local bodies = {\n");
    for p in paths {
        match p.strip_prefix("POST ").and_then(|r| r.split_once(' ')) {
            Some((path, body)) => {
                // Bodies hold JSON with ids of unreserved characters: a Lua long string.
                s.push_str(&format!("  \"{path}\",\n"));
                bodies.push_str(&format!("  [[{body}]],\n"));
            }
            // Paths hold only unreserved characters, '/', '?', '=', '&' and '%XX'.
            None => s.push_str(&format!("  \"{p}\",\n")),
        }
    }
    s.push_str("}\n");
    bodies.push_str("}\n");
    s.push_str(&bodies);
    let request = if post {
        "wrk.format(\"POST\", paths[i], {[\"Content-Type\"] = \"application/json\"}, bodies[i])"
    } else {
        "wrk.format(\"GET\", paths[i])"
    };
    s.push_str(&format!(
        "local n = #paths\n\
         local i = 0\n\
         local thread_no = 0\n\
         setup = function(thread)\n\
         \x20 thread:set(\"offset\", thread_no * 97)\n\
         \x20 thread_no = thread_no + 1\n\
         end\n\
         init = function(args)\n\
         \x20 i = (offset or 0) % n\n\
         end\n\
         request = function()\n\
         \x20 i = i % n + 1\n\
         \x20 return {request}\n\
         end\n",
    ));
    s
}

/// Runs wrk against `addr` with `script` for `seconds` and parses its report.
fn run_wrk(addr: SocketAddr, script: &Path, seconds: u64) -> Result<WrkResult, String> {
    let out = Command::new("wrk")
        .arg(format!("-t{WRK_THREADS}"))
        .arg(format!("-c{WRK_CONNECTIONS}"))
        .arg(format!("-d{seconds}s"))
        .args(["--timeout", "5s", "--latency", "-s"])
        .arg(script)
        .arg(format!("http://{addr}"))
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "wrk failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse_wrk(&stdout).ok_or_else(|| format!("cannot parse wrk output:\n{stdout}"))
}

/// Parses requests/sec, p50, p99, request count, non-2xx count and socket errors from
/// `wrk --latency` output.
fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut total = None;
    let mut non_2xx = 0;
    let mut socket_errors = String::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            rps = v.trim().parse().ok();
        } else if let Some(v) = t.strip_prefix("50%") {
            p50 = parse_duration_ms(v.trim());
        } else if let Some(v) = t.strip_prefix("99%") {
            p99 = parse_duration_ms(v.trim());
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = v.trim().parse().ok()?;
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            socket_errors = v.trim().to_owned();
        } else if let Some((n, rest)) = t.split_once(" requests in ")
            && rest.contains(',')
        {
            total = n.trim().parse().ok();
        }
    }
    Some(WrkResult {
        requests_per_sec: rps?,
        p50_ms: p50?,
        p99_ms: p99?,
        total_requests: total?,
        non_2xx,
        socket_errors,
    })
}

/// "635.91us" / "1.01ms" / "2.00s" / "1.5m" as milliseconds.
fn parse_duration_ms(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        _ => return None,
    };
    Some(n * factor)
}

fn print_table(results: &[(&str, WrkResult)]) {
    let health = results
        .iter()
        .find(|(n, _)| *n == "/healthz")
        .map(|(_, r)| r.requests_per_sec)
        .unwrap_or(f64::NAN);
    println!();
    println!(
        "| {:<42} | {:>10} | {:>8} | {:>8} | {:>9} | {:>7} |",
        "endpoint", "req/s", "p50 ms", "p99 ms", "× healthz", "non-2xx"
    );
    println!(
        "|{:-<44}|{:->12}|{:->10}|{:->10}|{:->11}|{:->9}|",
        "", "", "", "", "", ""
    );
    for (name, r) in results {
        println!(
            "| {:<42} | {:>10.0} | {:>8.3} | {:>8.3} | {:>9.2} | {:>7} |",
            name,
            r.requests_per_sec,
            r.p50_ms,
            r.p99_ms,
            r.requests_per_sec / health,
            r.non_2xx
        );
    }
    println!();
    for (name, r) in results {
        if r.non_2xx > 0 || !r.socket_errors.is_empty() {
            println!(
                "errors on {name}: {} non-2xx of {} requests; socket errors: {}",
                r.non_2xx,
                r.total_requests,
                if r.socket_errors.is_empty() {
                    "none"
                } else {
                    &r.socket_errors
                }
            );
        }
    }
    for (prefix, goal, label) in [
        ("/v1/items/{id}/similar", 0.5, "similar"),
        ("/v1/customers/{id}/recommendations", 0.3, "recommendations"),
        ("POST /v1/landing-page", 0.25, "landing page"),
    ] {
        if let Some((_, r)) = results.iter().find(|(n, _)| n.starts_with(prefix)) {
            let ratio = r.requests_per_sec / health;
            println!(
                "goal {label} >= {goal}x /healthz: {ratio:.3}x -> {}",
                if ratio >= goal { "MET" } else { "NOT MET" }
            );
        }
    }
}

/// Waits (up to 60 s) for `GET /readyz` to answer 200, failing early if the server exits.
fn wait_ready(server: &mut ServerGuard, addr: SocketAddr, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = server.0.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("server exited ({status}) before ready:\n{text}"));
        }
        if let Ok((200, _)) = http_get(addr, "/readyz", Duration::from_secs(2)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "server on {addr} not ready after 60 s (log: {})",
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Row name of the landing page of customers with live events.
const LIVE_LANDING: &str = "POST /v1/landing-page (home), live events";

/// Three views per customer, now (newer than any bundle of the demo shop), as one JSON
/// batch for `POST /v1/events`.
fn live_events(customers: &[String], items: &[String]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut events = Vec::new();
    for (n, c) in customers.iter().enumerate() {
        for v in 0..3 {
            let item = &items[(n * 7 + v * 31) % items.len()];
            events.push(format!(
                "{{\"type\": \"view\", \"customer_id\": \"{c}\", \"item_id\": \"{item}\", \"ts\": {}}}",
                now - 1000 + v as u128
            ));
        }
    }
    format!("[{}]", events.join(","))
}

/// A minimal HTTP/1.1 GET with `Connection: close`: the status code and the raw response.
fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    http_request(addr, "GET", path, "", timeout)
}

/// A minimal HTTP/1.1 request with a JSON body (none when empty) and `Connection: close`.
fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {text:.80}")))?;
    Ok((status, text))
}
