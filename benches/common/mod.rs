//! What the benches share: the demo bundle (trained in process, or by the release binary
//! for the HTTP harnesses), a free loopback port, and a guard that stops a server.
#![allow(dead_code, clippy::unwrap_used)]

use kindred_training::bundle::newest;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Trains the demo shop into `models` (emptied first) with the release binary. A fresh
/// bundle each run takes 1 to 2 s, and the bench then measures what this build's trainer
/// writes (a bundle kept from an older build could lack what the server now reads).
pub fn ensure_bundle(exe: &Path, root: &Path, models: &Path) -> Result<(), String> {
    if models.exists() {
        std::fs::remove_dir_all(models).map_err(|e| format!("{}: {e}", models.display()))?;
    }
    let shop = root.join("datasets/demo");
    eprintln!("training the demo shop into {} ...", models.display());
    let started = Instant::now();
    let status = Command::new(exe)
        .arg("train")
        .arg("--events")
        .arg(shop.join("events.parquet"))
        .arg("--items")
        .arg(shop.join("items.parquet"))
        .arg("--identities")
        .arg(shop.join("identities.parquet"))
        .arg("--out")
        .arg(models)
        .args(["--no-eval", "--quiet"])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("{}: cannot run train: {e}", exe.display()))?;
    if !status.success() {
        return Err(format!("kindred train failed ({status})"));
    }
    eprintln!("trained in {:.1} s", started.elapsed().as_secs_f64());
    newest(models)
        .map(|_| ())
        .map_err(|e| format!("{}: no bundle after training: {e}", models.display()))
}

/// A free loopback port: bind port 0, read the port, release it.
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("bind: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

/// Kills the server when dropped, whatever path leaves the harness.
pub struct ServerGuard(pub Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The demo shop trained in process into a temporary folder (kept alive by the returned
/// guard) and loaded, for the in-process criterion benches.
pub fn demo_model() -> (tempfile::TempDir, kindred::serving::Model) {
    use kindred_training::pipeline::{TrainInputs, TrainParams, train};
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/demo");
    let tmp = tempfile::tempdir().unwrap();
    let inputs = TrainInputs {
        events: vec![shop.join("events.parquet")],
        items: Some(shop.join("items.parquet")),
        identities: Some(shop.join("identities.parquet")),
        ..TrainInputs::default()
    };
    let params = TrainParams {
        evaluate: false,
        version: Some("bench".into()),
        ..TrainParams::default()
    };
    train(
        &inputs,
        &params,
        tmp.path(),
        kindred_training::progress::Progress::Hidden,
    )
    .unwrap();
    let m = kindred::serving::Model::load(&tmp.path().join("bench")).unwrap();
    (tmp, m)
}

/// Every 13th known customer of `m` (anonymous visitors left out): the ids the in-process
/// benches rotate over.
pub fn sample_customers(m: &kindred::serving::Model) -> Vec<String> {
    m.customers
        .ids()
        .iter()
        .filter(|c| !c.starts_with("anon:"))
        .step_by(13)
        .cloned()
        .collect()
}
