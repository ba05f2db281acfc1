//! `kindred train` at scale: wall time and peak memory of the release binary on a generated
//! shop of 100k customers / 20k items / 2M events (targets: ≤ 2 minutes, ≤ 4 GB peak RSS on
//! a 2-core machine).
//!
//! Run with `cargo bench --bench train`. The shop is generated once into
//! `target/bench-data/train-100k` (about 10 s). `KINDRED_BENCH_RUNS` sets the number of
//! timed runs (default 3); the median is reported.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Peak resident set (VmHWM) of a running process in KiB, if readable.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn ensure_shop(dir: &Path, bin: &str) {
    if dir.join("events.parquet").is_file() {
        return;
    }
    eprintln!("generating the 100k-customer shop into {}", dir.display());
    let status = Command::new(bin)
        .args(["generate", "--customers", "100000", "--items", "20000"])
        .args([
            "--events", "2000000", "--days", "180", "--seed", "1", "--quiet", "--out",
        ])
        .arg(dir)
        .status()
        .expect("kindred generate runs");
    assert!(status.success(), "kindred generate failed");
}

struct Run {
    wall: Duration,
    peak_kib: u64,
    report: String,
}

fn run_once(bin: &str, shop: &Path, models: &Path) -> Run {
    let _ = std::fs::remove_dir_all(models);
    let start = Instant::now();
    let mut child = Command::new(bin)
        .arg("train")
        .arg("--events")
        .arg(shop.join("events.parquet"))
        .arg("--items")
        .arg(shop.join("items.parquet"))
        .arg("--identities")
        .arg(shop.join("identities.parquet"))
        .arg("--out")
        .arg(models)
        .arg("--quiet")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("kindred train starts");
    let pid = child.id();
    let mut peak = 0;
    loop {
        if let Some(kib) = peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let wall = start.elapsed();
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success(), "kindred train failed");
    Run {
        wall,
        peak_kib: peak,
        report: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

fn main() {
    // `cargo bench` passes --bench; a filter argument that does not match skips the run.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !filter.is_empty() && !filter.iter().any(|f| "train".contains(f.as_str())) {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_kindred");
    let data = target_dir().join("bench-data");
    let shop = data.join("train-100k");
    ensure_shop(&shop, bin);
    let runs: usize = std::env::var("KINDRED_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let models = data.join("train-100k-models");
    let mut results: Vec<Run> = (0..runs.max(1))
        .map(|_| run_once(bin, &shop, &models))
        .collect();
    if let Some(first) = results.first() {
        println!("{}", first.report);
    }
    results.sort_by_key(|r| r.wall);
    let walls: Vec<String> = results
        .iter()
        .map(|r| format!("{:.1}s", r.wall.as_secs_f64()))
        .collect();
    let median = &results[results.len() / 2];
    let peak = results.iter().map(|r| r.peak_kib).max().unwrap_or(0);
    println!(
        "kindred train, 100k customers / 20k items / 2M events, {} runs: {}",
        results.len(),
        walls.join(", ")
    );
    println!(
        "  median wall {:.1}s (target ≤ 120 s), peak RSS {:.2} GB (target ≤ 4 GB)",
        median.wall.as_secs_f64(),
        peak as f64 / 1024.0 / 1024.0
    );
}
