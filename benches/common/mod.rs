//! What the HTTP harnesses (`load.rs`, `ingest.rs`) share: the demo bundle they serve and a
//! free loopback port.
#![allow(dead_code)]

use kindred_training::bundle::newest;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Trains the demo shop into `models` with the release binary unless a bundle is there.
pub fn ensure_bundle(exe: &Path, root: &Path, models: &Path) -> Result<(), String> {
    if newest(models).is_ok() {
        return Ok(());
    }
    let shop = root.join("datasets/demo");
    eprintln!(
        "no bundle in {}: training the demo shop ...",
        models.display()
    );
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
