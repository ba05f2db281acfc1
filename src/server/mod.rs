//! The HTTP server: axum routes over the current [`Model`], swapped atomically on reload.
//!
//! [`app`] builds the router that `kindred serve` and the tests share; [`with_layers`] adds
//! the cross-cutting layers once (request timeout, body limit, panic guard, tracing, and
//! per-route metrics). [`serve`] runs it with graceful shutdown; [`shutdown_signal`] waits
//! for ctrl-c or SIGTERM.

pub mod auth;
pub mod command;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod routes;

use crate::config::Config;
use crate::events::Limits;
use crate::live::{Live, LiveParams};
use crate::serving::{LoadError, Model, Visitor};
use crate::store::{Store, StoreError, StoreOptions};
use arc_swap::ArcSwapOption;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use error::{ApiError, BodyLimit};
use metrics::{Metrics, ModelGauges};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Shared server state: the configuration, the current model (behind an atomic pointer
/// swap) and the metrics. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    model: ArcSwapOption<Model>,
    metrics: Metrics,
    reload: tokio::sync::Mutex<()>,
    store: Option<Store>,
    live: Live,
    limits: Limits,
}

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReloadOut {
    /// The version now serving.
    pub version: String,
    /// The version served before, if any.
    pub previous: Option<String>,
    /// Seconds the load took.
    pub load_seconds: f64,
}

/// The newest bundle under `models_dir`, loaded.
pub fn load_newest(models_dir: &Path) -> Result<Model, LoadError> {
    let dir = kindred_training::bundle::newest(models_dir)?;
    Model::load(&dir)
}

impl AppState {
    /// A read-only state serving `model` (or nothing yet: `/readyz` answers 503 until a
    /// reload), without an event store: ingestion answers 503 `no_event_store`.
    pub fn new(config: Config, model: Option<Model>) -> AppState {
        AppState::build(config, model, None)
    }

    /// A state with the event store `store`; the live profiles are rebuilt from it first.
    pub fn with_store(
        config: Config,
        model: Option<Model>,
        store: Store,
    ) -> Result<AppState, StoreError> {
        let state = AppState::build(config, model, Some(store.clone()));
        let started = Instant::now();
        let replayed = state.live().rebuild(&store)?;
        if let Ok(model) = state.model() {
            state.withhold_erased(&model);
        }
        tracing::info!(
            events = replayed,
            visitors = state.live().len(),
            seconds = started.elapsed().as_secs_f64(),
            "live profiles rebuilt from the event store"
        );
        Ok(state)
    }

    fn build(config: Config, model: Option<Model>, store: Option<Store>) -> AppState {
        let live = Live::new(LiveParams {
            max_recent: config.live_recent_items,
            intent_weight: config.live_intent_weight,
            ..LiveParams::default()
        });
        let limits = Limits {
            max_batch: config.max_batch_events,
            ..Limits::default()
        };
        AppState {
            inner: Arc::new(Inner {
                config,
                model: ArcSwapOption::new(model.map(Arc::new)),
                metrics: Metrics::default(),
                reload: tokio::sync::Mutex::new(()),
                store,
                live,
                limits,
            }),
        }
    }

    /// The event store, or 503 `no_event_store` for a read-only server.
    pub fn store(&self) -> Result<&Store, ApiError> {
        self.inner.store.as_ref().ok_or(ApiError::NoStore)
    }

    /// The live profiles.
    pub fn live(&self) -> &Live {
        &self.inner.live
    }

    /// The bounds incoming events must respect.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The current model; a request holds this `Arc` to its end, so a swap never changes
    /// the model under it.
    pub fn model(&self) -> Result<Arc<Model>, ApiError> {
        self.inner.model.load_full().ok_or(ApiError::NotReady)
    }

    /// Who a personal query about customer `id` is about: what `model` knows of them merged
    /// with their live events. 404 `unknown_customer` when neither knows them.
    pub fn visitor<'m>(&self, model: &'m Model, id: &str) -> Result<Visitor<'m>, ApiError> {
        self.live()
            .visitor(model, id, true)
            .ok_or_else(|| ApiError::UnknownCustomer(id.to_owned()))
    }

    /// The visitor behind anonymous id `anonymous_id` (a session not yet identified). A
    /// session nobody has seen yet is a visitor without history, not an error.
    pub fn session_visitor<'m>(&self, model: &'m Model, anonymous_id: &str) -> Visitor<'m> {
        let id = crate::live::anonymous_key(anonymous_id);
        self.live()
            .visitor(model, &id, true)
            .unwrap_or_else(|| Visitor::unknown(id))
    }

    /// Swaps in `model`, returning the previous one. Customers erased before it are
    /// withheld from it first.
    pub fn swap(&self, model: Model) -> Option<Arc<Model>> {
        self.withhold_erased(&model);
        self.inner.model.swap(Some(Arc::new(model)))
    }

    /// Withholds from `model` the bundle data of every erased customer and session: the
    /// queries leave them out as neighbours until a training without them.
    pub fn withhold_erased(&self, model: &Model) {
        for key in self.live().erased_keys() {
            model.withhold(&key);
        }
    }

    /// Loads the newest bundle (or `version`) on a blocking thread and swaps it in. On
    /// failure the current model keeps serving.
    pub async fn reload(&self, version: Option<String>) -> Result<ReloadOut, ApiError> {
        let Ok(_guard) = self.inner.reload.try_lock() else {
            return Err(ApiError::ReloadInProgress);
        };
        let models_dir: PathBuf = self.config().models_dir.clone();
        if let Some(v) = &version
            && (v.is_empty() || v.starts_with('.') || v.contains(['/', '\\']))
        {
            return Err(ApiError::InvalidParameter {
                name: "version".into(),
                message: format!("version {v:?} is not a bundle folder name"),
            });
        }
        let started = Instant::now();
        let loaded = tokio::task::spawn_blocking(move || match version {
            Some(v) => Model::load(&models_dir.join(v)),
            None => load_newest(&models_dir),
        })
        .await
        .map_err(|e| ApiError::Internal(format!("reload task failed: {e}")))?;
        match loaded {
            Ok(model) => {
                let version = model.version.clone();
                let previous = self.swap(model).map(|m| m.version.clone());
                self.metrics().record_reload(true);
                tracing::info!(%version, ?previous, "model reloaded");
                Ok(ReloadOut {
                    version,
                    previous,
                    load_seconds: started.elapsed().as_secs_f64(),
                })
            }
            Err(e) => {
                self.metrics().record_reload(false);
                tracing::error!(error = %e, "reload failed; the previous model keeps serving");
                Err(ApiError::ReloadFailed(e.to_string()))
            }
        }
    }

    /// The model figures of `/metrics`.
    pub fn model_gauges(&self) -> Option<ModelGauges> {
        let m = self.inner.model.load_full()?;
        let age = chrono::DateTime::parse_from_rfc3339(&m.created_at)
            .map(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1e3
            })
            .unwrap_or(f64::NAN);
        Some(ModelGauges {
            version: m.version.clone(),
            bundle_age_seconds: age,
        })
    }
}

/// The router of the whole API with its layers; `main` and the tests share it.
pub fn app(state: AppState) -> Router {
    with_layers(routes::router(), state)
}

/// Adds the cross-cutting layers to `router`: metrics per matched route, the request
/// timeout, the body limit, a panic guard and request tracing. Unmatched paths answer 404
/// `route_not_found` in the API's error shape.
pub fn with_layers(router: Router<AppState>, state: AppState) -> Router {
    let limit = state.config().body_limit_bytes;
    router
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), auth::layer))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn fallback(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::RouteNotFound {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("a request handler panicked".into()).into_response()
}

/// Times the request out, records its metrics under the matched route template.
async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Both are cheap clones (a standard method is a tag, a matched path an `Arc<str>`).
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    req.extensions_mut()
        .insert(BodyLimit(state.config().body_limit_bytes));
    let timeout = state.config().request_timeout();
    let response = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::Timeout(state.config().request_timeout_ms).into_response(),
    };
    state.metrics().record(
        method.as_str(),
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then lets requests in
/// flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// `kindred serve`: loads the newest bundle of `config.models_dir`, binds `config.addr` and
/// serves until ctrl-c or SIGTERM. `on_ready` is called with the bound address.
pub fn run(config: Config, on_ready: impl FnOnce(std::net::SocketAddr)) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let model = match load_newest(&config.models_dir) {
        Ok(m) => {
            tracing::info!(version = %m.version, items = m.items.len(), customers = m.customers.len(), "model loaded");
            Some(m)
        }
        Err(e) => {
            tracing::warn!(error = %e, "no model loaded; /readyz answers 503 until POST /admin/reload succeeds");
            eprintln!("warning: no model loaded ({e}); POST /admin/reload once a bundle exists");
            None
        }
    };
    let addr = config.addr;
    let store = Store::open(&config.data_dir, StoreOptions::default())
        .map_err(|e| anyhow::anyhow!("cannot open the event store: {e}"))?;
    if config.api_keys.is_empty() {
        tracing::warn!(
            "no API keys configured: every route is open to anyone who can reach {addr}"
        );
        eprintln!(
            "warning: no API keys configured, every route is open (fine for the demo; see api_keys in kindred.toml.sample)"
        );
    } else {
        tracing::info!(keys = config.api_keys.len(), "API keys required");
    }
    let state = AppState::with_store(config, model, store)
        .map_err(|e| anyhow::anyhow!("cannot rebuild live profiles from the event store: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        on_ready(listener.local_addr()?);
        serve(listener, state, shutdown_signal()).await?;
        Ok(())
    })
}
