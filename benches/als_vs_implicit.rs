//! kindred's ALS against the `implicit` Python library's ALS: time per iteration on the
//! same matrix, with the same factors, conjugate-gradient steps and thread count.
//!
//! ```text
//! cargo bench --bench als_vs_implicit
//! ```
//!
//! 1. A synthetic shop (100k customers, 20k items, 2M events) is generated once and cached
//!    in `target/bench-data/shop-100k`; it is read, resolved and turned into the training
//!    matrix exactly as `kindred train` does ([`training_matrix`]).
//! 2. kindred's [`Als`] is fitted with 64 factors and 3 CG steps on 2 rayon threads; the
//!    first iteration is a warm-up, the median of the next 7 is reported.
//! 3. The same CSR matrix, with every value `v` replaced by the confidence `1 + alpha·v`
//!    (what implicit's solver reads as `C`), goes to `benches/implicit_als.py`, which fits
//!    `implicit.cpu.als.AlternatingLeastSquares` with the same factors, regularisation, CG
//!    steps and `num_threads=2`, BLAS limited to one thread. The Python environment is
//!    `target/bench-venv`, created with `pip install implicit` when missing.
//! 4. Both run twice, interleaved, so that load from other processes hits both alike.
//!
//! The goal is a ratio (ours / implicit) of at most 1.0. The figures also go to
//! `target/bench-data/als_vs_implicit.json`.
//!
//! `ALS_BENCH_SMALL=1` uses a shop a tenth of the size, for a quick check of the harness.

use kindred_training::data::read::{ReadOptions, read_events, read_identities};
use kindred_training::generate::{END_MS, GenerateParams, generate_shop};
use kindred_training::interactions::{EventWeights, SparseMatrix, resolve};
use kindred_training::models::als::{Als, AlsParams};
use kindred_training::models::tune::training_matrix;
use kindred_training::progress::Progress;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// Threads on both sides (rayon for kindred, OpenMP for implicit).
const THREADS: usize = 2;
/// Leading iterations of each fit that are not timed.
const WARMUP: usize = 1;
/// Timed iterations of each fit.
const TIMED: usize = 7;
/// Interleaved fits of each library.
const ROUNDS: usize = 2;
/// The `implicit` releases whose API `implicit_als.py` uses.
const IMPLICIT_REQUIREMENT: &str = "implicit>=0.7,<0.8";

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    // rayon reads its thread count when the global pool starts: run ourselves again with it
    // set, rather than touching the environment of a running process.
    if std::env::var("RAYON_NUM_THREADS").ok().as_deref() != Some(&THREADS.to_string()) {
        return reexec_with_threads();
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("als_vs_implicit: {e}");
            ExitCode::FAILURE
        }
    }
}

fn reexec_with_threads() -> ExitCode {
    let status = std::env::current_exe().and_then(|exe| {
        Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("RAYON_NUM_THREADS", THREADS.to_string())
            .status()
    });
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("als_vs_implicit: cannot run itself with RAYON_NUM_THREADS={THREADS}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Shop size, by `ALS_BENCH_SMALL`.
struct Scale {
    name: &'static str,
    params: GenerateParams,
}

fn scale() -> Scale {
    let small = std::env::var("ALS_BENCH_SMALL").is_ok_and(|v| v != "0" && !v.is_empty());
    let (name, customers, items, events) = if small {
        ("shop-10k", 10_000, 2_000, 200_000)
    } else {
        ("shop-100k", 100_000, 20_000, 2_000_000)
    };
    Scale {
        name,
        params: GenerateParams {
            customers,
            items,
            days: 180,
            seed: 7,
            events: Some(events),
            groups: 6,
        },
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn run() -> Result<(), Error> {
    let scale = scale();
    let data_root = target_dir().join("bench-data");
    let shop = data_root.join(scale.name);
    ensure_shop(&scale.params, &shop)?;

    let started = Instant::now();
    let matrix = load_matrix(&shop)?;
    println!(
        "matrix: {} users x {} items, {} non-zeros ({:.1} per user), built in {:.1} s",
        matrix.n_rows,
        matrix.n_cols,
        matrix.nnz(),
        matrix.nnz() as f64 / matrix.n_rows.max(1) as f64,
        started.elapsed().as_secs_f64()
    );

    let params = AlsParams {
        factors: 64,
        cg_steps: 3,
        iterations: WARMUP + TIMED,
        ..AlsParams::default()
    };
    let exchange = tempfile::tempdir()?;
    write_confidence(&matrix, params.alpha, exchange.path())?;
    let python = python_env(&target_dir().join("bench-venv"));

    let mut ours_times = Vec::new();
    let mut ours_cpu = Vec::new();
    let mut theirs_cpu = Vec::new();
    let mut ours_model = None;
    let mut theirs_times = Vec::new();
    let mut theirs_report: Option<serde_json::Value> = None;
    let mut theirs_error = python.as_ref().err().cloned();
    for round in 1..=ROUNDS {
        let cpu_before = process_cpu_seconds();
        let als = Als::fit(&matrix, params, Progress::Hidden)?;
        if let (Some(before), Some(after)) = (cpu_before, process_cpu_seconds()) {
            ours_cpu.push((after - before) / params.iterations as f64);
        }
        let timed = &als.iteration_times[WARMUP.min(als.iteration_times.len())..];
        println!("round {round}: kindred  {}", format_times(timed));
        ours_times.extend_from_slice(timed);
        ours_model = Some(als);

        if let Ok(python) = &python {
            match run_implicit(python, exchange.path(), &params) {
                Ok(report) => {
                    let timed: Vec<Duration> = report["iteration_seconds"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect::<Vec<_>>())
                        .unwrap_or_default()
                        .into_iter()
                        .skip(WARMUP)
                        .map(Duration::from_secs_f64)
                        .collect();
                    println!("round {round}: implicit {}", format_times(&timed));
                    theirs_times.extend(timed);
                    if let Some(cpu) = report["fit_cpu_seconds"].as_f64() {
                        theirs_cpu.push(cpu / (WARMUP + TIMED) as f64);
                    }
                    theirs_report = Some(report);
                }
                Err(e) => {
                    theirs_error = Some(e);
                    break;
                }
            }
        }
    }

    let ours_median = median(&ours_times);
    let theirs_median = (!theirs_times.is_empty()).then(|| median(&theirs_times));
    let (ours_loss, ours_finite) = match &ours_model {
        Some(als) => (implicit_loss(&matrix, als), finite(als)),
        None => (f64::NAN, false),
    };

    println!();
    println!("ALS time per iteration (users + items), factors 64, CG steps 3, {THREADS} threads");
    println!(
        "  matrix            {} x {}, nnz {}",
        matrix.n_rows,
        matrix.n_cols,
        matrix.nnz()
    );
    println!(
        "  kindred           {:>9.1} ms/iteration   loss {ours_loss:.6}   factors finite: {ours_finite}",
        ms(ours_median)
    );
    match (theirs_median, &theirs_report) {
        (Some(m), Some(report)) => {
            println!(
                "  implicit {:<8} {:>9.1} ms/iteration   loss {:.6}   factors finite: {}",
                report["implicit_version"].as_str().unwrap_or("?"),
                ms(m),
                report["loss"].as_f64().unwrap_or(f64::NAN),
                report["finite"].as_bool().unwrap_or(false)
            );
            let ratio = ours_median.as_secs_f64() / m.as_secs_f64();
            let verdict = if ratio <= 1.0 {
                "goal met"
            } else {
                "goal NOT met"
            };
            println!(
                "  ratio             {ratio:>9.2}   (kindred / implicit; goal <= 1.0: {verdict})"
            );
            if let (Some(o), Some(t)) = (mean(&ours_cpu), mean(&theirs_cpu)) {
                println!(
                    "  CPU/iteration     kindred {:.0} ms, implicit {:.0} ms: ratio {:.2} \
                     (whole fits, all threads; steadier than wall time on a busy machine)",
                    o * 1e3,
                    t * 1e3,
                    o / t
                );
            }
            println!("  implicit BLAS     {}", report["blas"]);
        }
        _ => println!(
            "  implicit          not run: {}",
            theirs_error.as_deref().unwrap_or("no timings came back")
        ),
    }
    println!(
        "  (median of {} timed iterations each, after {WARMUP} warm-up per fit; load average at the end: {})",
        ours_times.len(),
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into())
    );

    let summary = serde_json::json!({
        "matrix": {"n_rows": matrix.n_rows, "n_cols": matrix.n_cols, "nnz": matrix.nnz()},
        "params": {"factors": params.factors, "cg_steps": params.cg_steps,
                   "regularization": params.regularization, "alpha": params.alpha,
                   "threads": THREADS},
        "kindred": {"median_ms": ms(ours_median),
                    "iteration_ms": ours_times.iter().map(|t| ms(*t)).collect::<Vec<_>>(),
                    "loss": ours_loss, "finite": ours_finite},
        "implicit": theirs_report,
        "implicit_error": theirs_error,
        "ratio": theirs_median.map(|m| ours_median.as_secs_f64() / m.as_secs_f64()),
        "cpu_ms_per_iteration": {"kindred": mean(&ours_cpu).map(|c| c * 1e3),
                                 "implicit": mean(&theirs_cpu).map(|c| c * 1e3)},
    });
    let out = data_root.join("als_vs_implicit.json");
    std::fs::write(&out, serde_json::to_string_pretty(&summary)?)?;
    println!("  figures written to {}", out.display());
    Ok(())
}

/// Generates the shop into `dir` unless a complete copy of the same parameters is there.
fn ensure_shop(params: &GenerateParams, dir: &Path) -> Result<(), Error> {
    let marker = dir.join("complete");
    let wanted = format!("{params:?}");
    if std::fs::read_to_string(&marker).is_ok_and(|s| s == wanted) {
        return Ok(());
    }
    println!(
        "generating {} customers, {} items, {:?} events into {} (once) ...",
        params.customers,
        params.items,
        params.events,
        dir.display()
    );
    let report = generate_shop(params, dir, Progress::Bars)?;
    println!("{report}");
    std::fs::write(&marker, wanted)?;
    Ok(())
}

/// Reads, resolves and builds the matrix the way training does.
fn load_matrix(shop: &Path) -> Result<SparseMatrix, Error> {
    let opts = ReadOptions {
        // The shop's clock stops at END_MS; judge "future" events against that, not today.
        now: Some(END_MS / 1000 + 86_400),
        ..ReadOptions::default()
    };
    let (events, _) = read_events(&shop.join("events.parquet"), &opts)?;
    let (links, _) = read_identities(&shop.join("identities.parquet"), &opts)?;
    let (log, _) = resolve(&events, &links, &EventWeights::default());
    Ok(training_matrix(&log))
}

/// Writes the CSR arrays for `implicit_als.py`, values turned into confidences `1 + alpha·v`.
fn write_confidence(m: &SparseMatrix, alpha: f32, dir: &Path) -> Result<(), Error> {
    let indptr: Vec<u8> = m
        .indptr
        .iter()
        .flat_map(|&p| (p as i64).to_le_bytes())
        .collect();
    let indices: Vec<u8> = m
        .indices
        .iter()
        .flat_map(|&c| (c as i32).to_le_bytes())
        .collect();
    let data: Vec<u8> = m
        .values
        .iter()
        .flat_map(|&v| (1.0 + alpha * v).to_le_bytes())
        .collect();
    std::fs::write(dir.join("indptr.bin"), indptr)?;
    std::fs::write(dir.join("indices.bin"), indices)?;
    std::fs::write(dir.join("data.bin"), data)?;
    let meta = serde_json::json!({"n_rows": m.n_rows, "n_cols": m.n_cols, "nnz": m.nnz()});
    std::fs::write(dir.join("meta.json"), meta.to_string())?;
    Ok(())
}

/// The venv's python with `implicit` importable, creating the venv when needed.
fn python_env(venv: &Path) -> Result<PathBuf, String> {
    let python = venv.join("bin").join("python");
    let importable = |python: &Path| {
        Command::new(python)
            .args(["-c", "import implicit.cpu.als, threadpoolctl, scipy"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if python.exists() && importable(&python) {
        return Ok(python);
    }
    println!(
        "setting up {} with {IMPLICIT_REQUIREMENT} (once) ...",
        venv.display()
    );
    if !python.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .map_err(|e| format!("python3 -m venv failed to start: {e}"))?;
        if !made.success() {
            return Err(format!(
                "`python3 -m venv {}` failed ({made})",
                venv.display()
            ));
        }
    }
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            IMPLICIT_REQUIREMENT,
            "threadpoolctl",
        ])
        .status()
        .map_err(|e| format!("pip failed to start: {e}"))?;
    if !installed.success() || !importable(&python) {
        return Err(format!(
            "`pip install {IMPLICIT_REQUIREMENT} threadpoolctl` into {} failed ({installed}); \
             only kindred's figures are reported",
            venv.display()
        ));
    }
    Ok(python)
}

/// Runs `implicit_als.py` and parses its JSON report.
fn run_implicit(
    python: &Path,
    dir: &Path,
    params: &AlsParams,
) -> Result<serde_json::Value, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches")
        .join("implicit_als.py");
    let output = Command::new(python)
        .arg(&script)
        .arg("--dir")
        .arg(dir)
        .args(["--factors", &params.factors.to_string()])
        .args(["--regularization", &params.regularization.to_string()])
        .args(["--iterations", &(WARMUP + TIMED).to_string()])
        .args(["--warmup", &WARMUP.to_string()])
        .args(["--cg-steps", &params.cg_steps.to_string()])
        .args(["--threads", &THREADS.to_string()])
        .args(["--seed", &params.seed.to_string()])
        // implicit's parallelism is its own OpenMP loop over rows; BLAS stays single-threaded
        // as implicit recommends (the script also limits it through threadpoolctl).
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .env("OMP_NUM_THREADS", THREADS.to_string())
        // Some machines pin OpenBLAS to an older kernel set (OPENBLAS_CORETYPE, with
        // OPENBLAS_L2_SIZE) to dodge bugs of old builds; for a fair timing of a current
        // numpy/scipy both are unset together, for this command only. The kernel it then
        // runs is printed (threadpoolctl's "architecture").
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output()
        .map_err(|e| format!("{} failed to start: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("");
    serde_json::from_str(line)
        .map_err(|e| format!("unreadable report from {}: {e}: {stdout}", script.display()))
}

/// implicit's training loss (`implicit.cpu._als.calculate_loss`) of a kindred model, so the
/// two fits can be compared: `(Σ c·(p − x·y)² + λ(‖X‖² + ‖Y‖²)) / (Σ c + n_users·n_items − nnz)`
/// over every cell, with `c = 1 + alpha·v` and `p = 1` on the matrix's cells, `c = 1` and
/// `p = 0` elsewhere.
fn implicit_loss(m: &SparseMatrix, als: &Als) -> f64 {
    let k = als.params.factors;
    let (Some(x), Some(y)) = (als.user_factors.as_slice(), als.item_factors.as_slice()) else {
        return f64::NAN;
    };
    let mut yty = vec![0f64; k * k];
    for yi in y.chunks_exact(k) {
        for (p, &a) in yi.iter().enumerate() {
            for (q, &b) in yi.iter().enumerate() {
                yty[p * k + q] += f64::from(a) * f64::from(b);
            }
        }
    }
    let alpha = f64::from(als.params.alpha);
    let (mut loss, mut total_confidence) = (0f64, 0f64);
    for (u, xu) in x.chunks_exact(k).enumerate() {
        // Every cell as if unobserved: Σ_i (x·y_i)² = xᵀ(YᵀY)x.
        for (p, &a) in xu.iter().enumerate() {
            let row = &yty[p * k..(p + 1) * k];
            loss += f64::from(a)
                * row
                    .iter()
                    .zip(xu)
                    .map(|(g, &b)| g * f64::from(b))
                    .sum::<f64>();
        }
        let (cols, vals) = m.row(u);
        for (&i, &v) in cols.iter().zip(vals) {
            let c = 1.0 + alpha * f64::from(v);
            let yi = &y[i as usize * k..(i as usize + 1) * k];
            let s: f64 = yi
                .iter()
                .zip(xu)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            // Replace the unobserved term s² by c·(1 − s)².
            loss += c * (1.0 - s) * (1.0 - s) - s * s;
            total_confidence += c;
        }
    }
    let norms: f64 = x
        .iter()
        .chain(y)
        .map(|&v| f64::from(v) * f64::from(v))
        .sum();
    loss += f64::from(als.params.regularization) * norms;
    let cells = m.n_rows as f64 * m.n_cols as f64;
    loss / (total_confidence + cells - m.nnz() as f64)
}

fn finite(als: &Als) -> bool {
    als.user_factors
        .iter()
        .chain(als.item_factors.iter())
        .all(|v| v.is_finite())
}

/// CPU seconds (user + system, all threads) this process has used, from `/proc/self/stat`
/// (clock ticks of 1/100 s); `None` where that file is missing.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name start at field 3 (state); utime and stime
    // are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn format_times(times: &[Duration]) -> String {
    let list: Vec<String> = times.iter().map(|t| format!("{:.0}", ms(*t))).collect();
    format!("[{}] ms", list.join(", "))
}
