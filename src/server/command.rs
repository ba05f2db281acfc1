//! The `kindred serve` and `kindred demo` subcommands.

use super::load_newest;
use crate::config::Config;
use clap::Args;
use kindred_training::pipeline::{TrainInputs, TrainParams, train};
use kindred_training::progress::Progress;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `kindred serve`: serve the newest bundle over HTTP.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Folder of model bundles (default: `models_dir` of the configuration, `models`).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Address to listen on (default: `addr` of the configuration, 127.0.0.1:8080).
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Folder of the event store (default: `data_dir` of the configuration, `data`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// TOML configuration file (see kindred.toml.sample); KINDRED_… variables override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// `kindred demo`: train on the demo shop if needed and serve it.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The demo shop folder.
    #[arg(long, default_value = "datasets/demo")]
    pub data: PathBuf,
    /// Where bundles are written and read.
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Folder of the event store the demo's events go to.
    #[arg(long, default_value = "data")]
    pub store: PathBuf,
}

fn config_from(path: Option<&Path>) -> anyhow::Result<Config> {
    Ok(Config::load(path, |v| std::env::var(v).ok())?)
}

/// Runs `kindred serve`; flags win over the environment, which wins over the file.
pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let mut config = config_from(a.config.as_deref())?;
    if let Some(m) = a.models {
        config.models_dir = m;
    }
    if let Some(addr) = a.addr {
        config.addr = addr;
    }
    if let Some(d) = a.data {
        config.data_dir = d;
    }
    config.validate()?;
    if !config.models_dir.is_dir() {
        anyhow::bail!(
            "{}: no such folder; train a bundle first (kindred train ... --models {})",
            config.models_dir.display(),
            config.models_dir.display()
        );
    }
    super::run(config, |addr| eprintln!("kindred serving on http://{addr}"))
}

/// Runs `kindred demo`.
pub fn demo(a: DemoArgs, progress: Progress) -> anyhow::Result<()> {
    if load_newest(&a.models).is_err() {
        let events = a.data.join("events.parquet");
        if !events.is_file() {
            anyhow::bail!(
                "{}: not found; run kindred demo from the repository root or pass --data",
                events.display()
            );
        }
        eprintln!(
            "no bundle in {}: training one on {} ...",
            a.models.display(),
            a.data.display()
        );
        let inputs = TrainInputs {
            events: vec![events],
            items: Some(a.data.join("items.parquet")).filter(|p| p.is_file()),
            identities: Some(a.data.join("identities.parquet")).filter(|p| p.is_file()),
            ..TrainInputs::default()
        };
        let params = TrainParams {
            evaluate: false,
            ..TrainParams::default()
        };
        let report = train(&inputs, &params, &a.models, progress)?;
        println!("{report}");
    }
    let model = load_newest(&a.models)?;
    let item = model
        .items
        .items
        .first()
        .map(|i| i.item_id.clone())
        .unwrap_or_default();
    let customer = model
        .customers
        .ids()
        .iter()
        .find(|c| !c.starts_with("anon:"))
        .cloned()
        .unwrap_or_default();
    let category = model
        .items
        .items
        .first()
        .map(|i| i.top_category().to_owned())
        .unwrap_or_default();
    drop(model);
    // The sample configuration's landing pages and campaigns are made for the demo shop.
    let sample = Path::new("kindred.toml.sample");
    let config = Config {
        addr: a.addr,
        models_dir: a.models.clone(),
        data_dir: a.store.clone(),
        ..config_from(sample.is_file().then_some(sample))?
    };
    config.validate()?;
    super::run(config, move |addr| {
        let base = format!("http://{addr}");
        println!("kindred demo serving on {base} (ctrl-c to stop). Try:");
        println!("  curl '{base}/v1/items/{item}/similar?k=5'");
        println!("  curl '{base}/v1/items/{item}/similar?k=5&category={category}&in_stock=true'");
        println!("  curl '{base}/v1/customers/{customer}/recommendations?k=5'");
        println!("  curl '{base}/v1/customers/{customer}/also-want?k=5'");
        println!("  curl '{base}/v1/customers/{customer}/lookalikes?k=5'");
        println!("  curl '{base}/v1/customers/{customer}/profile'");
        println!("  curl '{base}/v1/segments'");
        println!(
            "  curl -X POST '{base}/v1/events' -H 'content-type: application/json' \\\n       -d '[{{\"type\": \"view\", \"anonymous_id\": \"visitor-1\", \"item_id\": \"{item}\", \"ts\": \"'$(date -u +%FT%TZ)'\"}}]'"
        );
        println!("  curl '{base}/v1/sessions/visitor-1/recommendations?k=5'");
        println!(
            "  curl -X POST '{base}/v1/identify' -H 'content-type: application/json' -d '{{\"anonymous_id\": \"visitor-1\", \"customer_id\": \"{customer}\"}}'"
        );
        println!(
            "  curl -X POST '{base}/v1/landing-page' -H 'content-type: application/json' -d '{{\"customer_id\": \"{customer}\", \"page\": \"home\"}}'"
        );
        println!("  open {base}/v1/landing-page/preview");
        println!("  curl '{base}/metrics'");
    })
}
