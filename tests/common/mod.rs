//! Shared fixtures of the server tests: a small generated shop trained once per test binary.
#![allow(clippy::unwrap_used, dead_code)]

use kindred::config::Config;
use kindred::server::AppState;
use kindred::serving::Model;
use kindred_training::generate::{GenerateParams, generate_shop};
use kindred_training::pipeline::{TrainInputs, TrainParams, train};
use kindred_training::progress::Progress;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A models folder holding one bundle, `v1`, of a small generated shop.
pub struct Fixture {
    _tmp: tempfile::TempDir,
    pub models: PathBuf,
    pub shop: PathBuf,
}

/// Trains `shop` (a folder with events/items/identities.parquet) into `models/<version>`.
pub fn train_into(shop: &Path, models: &Path, version: &str) {
    train_with(shop, models, version, TrainParams::default());
}

/// [`train_into`] with other parameters (evaluation off, a small recall sample and the
/// version are set here).
pub fn train_with(shop: &Path, models: &Path, version: &str, params: TrainParams) {
    let inputs = TrainInputs {
        events: vec![shop.join("events.parquet")],
        items: Some(shop.join("items.parquet")),
        identities: Some(shop.join("identities.parquet")),
        ..TrainInputs::default()
    };
    let params = TrainParams {
        evaluate: false,
        recall_sample: 200,
        version: Some(version.to_owned()),
        ..params
    };
    train(&inputs, &params, models, Progress::Hidden).unwrap();
}

/// The small shop (600 customers, 200 items), trained once per test binary.
pub fn small() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let shop = tmp.path().join("shop");
        let p = GenerateParams {
            customers: 600,
            items: 200,
            days: 60,
            seed: 7,
            events: None,
            groups: 4,
        };
        generate_shop(&p, &shop, Progress::Hidden).unwrap();
        let models = tmp.path().join("models");
        train_into(&shop, &models, "v1");
        Fixture {
            _tmp: tmp,
            models,
            shop,
        }
    })
}

/// A copy of bundle `from` as `to` (same files, manifest version renamed).
pub fn copy_bundle(models: &Path, from: &str, to: &str) -> PathBuf {
    let src = models.join(from);
    let dst_tmp = models.join(format!(".copy-{to}"));
    std::fs::create_dir_all(&dst_tmp).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dst_tmp.join(entry.file_name())).unwrap();
    }
    let manifest = dst_tmp.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replacen(
        &format!("\"version\": \"{from}\""),
        &format!("\"version\": \"{to}\""),
        1,
    );
    std::fs::write(&manifest, text).unwrap();
    let dst = models.join(to);
    std::fs::rename(&dst_tmp, &dst).unwrap();
    dst
}

/// The loaded model of the small fixture (loaded once).
pub fn small_model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| Model::load(&small().models.join("v1")).unwrap())
}

/// A state serving bundle `v1` of the small fixture, with `models_dir` pointing at `models`.
pub fn state_for(models: &Path) -> AppState {
    let config = Config {
        models_dir: models.to_owned(),
        ..Config::default()
    };
    let model = Model::load(&kindred_training::bundle::newest(models).unwrap()).unwrap();
    AppState::new(config, Some(model))
}

/// A state serving the newest bundle of `models`, with an event store in `data` (live
/// profiles rebuilt from it).
pub fn live_state(models: &Path, data: &Path) -> AppState {
    live_state_with(models, data, Config::default())
}

/// [`live_state`] with other settings (`models_dir` and `data_dir` are set here).
pub fn live_state_with(models: &Path, data: &Path, config: Config) -> AppState {
    let config = Config {
        models_dir: models.to_owned(),
        data_dir: data.to_owned(),
        ..config
    };
    let model = Model::load(&kindred_training::bundle::newest(models).unwrap()).unwrap();
    let store = kindred::store::Store::open(data, kindred::store::StoreOptions::default()).unwrap();
    AppState::with_store(config, Some(model), store).unwrap()
}

/// A private copy of the small fixture's models folder (bundle `v1`), for tests that
/// reload or train into it.
pub fn private_models() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let v1 = tmp.path().join("v1");
    std::fs::create_dir_all(&v1).unwrap();
    for e in std::fs::read_dir(small().models.join("v1")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), v1.join(e.file_name())).unwrap();
    }
    tmp
}

/// Serves `state` on 127.0.0.1:0; send on the returned channel to stop.
pub async fn start(
    state: AppState,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(kindred::server::serve(listener, state, async {
        let _ = rx.await;
    }));
    (addr, tx, handle)
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
