//! The `kindred` command line end to end: split → eval --json, train → inspect, and bad
//! input, run as a real process.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kindred(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kindred"))
        .args(args)
        .arg("--quiet")
        .output()
        .unwrap()
}

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("datasets/demo")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn split_then_eval_prints_the_protocol_json() {
    let tmp = tempfile::tempdir().unwrap();
    let events = demo().join("events.parquet");
    let identities = demo().join("identities.parquet");
    let out = kindred(&[
        "split",
        "--events",
        p(&events),
        "--identities",
        p(&identities),
        "--out",
        p(tmp.path()),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let train = tmp.path().join("train.parquet");
    let test = tmp.path().join("test.parquet");
    assert!(train.is_file() && test.is_file());
    let out = kindred(&["eval", "--train", p(&train), "--test", p(&test), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["users", "recall@10", "ndcg@10", "hr@10", "coverage"] {
        assert!(json[key].is_number(), "{key} missing in {json}");
        assert!(
            json["baseline"][key].is_number(),
            "baseline {key} missing in {json}"
        );
    }
    let ndcg = json["ndcg@10"].as_f64().unwrap();
    let base = json["baseline"]["ndcg@10"].as_f64().unwrap();
    assert!(json["users"].as_u64().unwrap() > 1000, "{json}");
    assert!(ndcg > 2.0 * base, "kindred {ndcg} vs popularity {base}");

    // The same figures straight from the events (split internally by the same protocol).
    let out = kindred(&[
        "eval",
        "--events",
        p(&events),
        "--identities",
        p(&identities),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let direct: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(direct["users"], json["users"]);
    assert!((direct["ndcg@10"].as_f64().unwrap() - ndcg).abs() < 1e-9);
}

#[test]
fn train_then_inspect() {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    let out = kindred(&[
        "train",
        "--events",
        p(&demo().join("events.parquet")),
        "--items",
        p(&demo().join("items.parquet")),
        "--identities",
        p(&demo().join("identities.parquet")),
        "--out",
        p(&models),
        "--no-eval",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("59877 read, 0 rejected"), "{report}");
    assert!(report.contains("Segments:"), "{report}");
    let out = kindred(&["inspect", p(&models)]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("format 1") && shown.contains("What sets them apart"),
        "{shown}"
    );
}

#[test]
fn bad_input_fails_with_a_message_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("events.csv");
    std::fs::write(
        &events,
        "ts,customer_id,type,item_id\n2026-01-01T00:00:00Z,c1,view,i1\nnot-a-time,c2,view,i2\n",
    )
    .unwrap();
    let items = tmp.path().join("items.csv");
    std::fs::write(&items, "item_id,title,category\ni1,A,shoes\ni1,B,shoes\n").unwrap();
    let models = tmp.path().join("models");
    let out = kindred(&[
        "train",
        "--events",
        p(&events),
        "--items",
        p(&items),
        "--out",
        p(&models),
    ]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("items.csv") && err.contains("duplicate item id \"i1\""),
        "{err}"
    );
    assert!(!models.exists(), "nothing is written on bad input");

    let out = kindred(&["inspect", p(tmp.path())]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no model bundle found"),
        "{}",
        text(&out)
    );

    let out = kindred(&["eval", "--events", p(&tmp.path().join("missing.parquet"))]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.parquet"),
        "{}",
        text(&out)
    );
}
