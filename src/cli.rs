//! The `kindred` command line: generate, train, split, eval, inspect, export.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use kindred_training::bundle::{self, BundleReader};
use kindred_training::data::read::{self, Format, RatingsColumns, ReadOptions};
use kindred_training::eval::{SplitParams, TestSet, temporal_split};
use kindred_training::generate::{GenerateParams, generate_shop};
use kindred_training::interactions::{EventWeights, resolve};
use kindred_training::models::tune::TuneParams;
use kindred_training::pipeline::{self, TrainInputs, TrainParams};
use kindred_training::progress::Progress;
use std::path::{Path, PathBuf};

/// kindred: recommendations and similarity for online shops.
#[derive(Debug, Parser)]
#[command(name = "kindred", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Hide progress bars.
    #[arg(long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a synthetic shop (items, events, identities + hidden ground truth) as Parquet.
    Generate(GenerateArgs),
    /// Train a model bundle from events and the catalog.
    Train(TrainArgs),
    /// Split interactions into train.parquet and test.parquet by the evaluation protocol.
    Split(SplitArgs),
    /// Self-tune on a validation split, then evaluate on the test part beside popularity.
    Eval(EvalArgs),
    /// Print a bundle's manifest and segments.
    Inspect(InspectArgs),
    /// Write the events and identity links of a server's data directory as Parquet.
    Export(ExportArgs),
    /// Serve the newest model bundle over HTTP.
    Serve(crate::server::command::ServeArgs),
    /// Train on datasets/demo if there is no bundle yet, then serve it on 127.0.0.1:8080.
    Demo(crate::server::command::DemoArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of customers.
    #[arg(long)]
    pub customers: Option<usize>,
    /// Number of catalog items.
    #[arg(long)]
    pub items: Option<usize>,
    /// Days of history.
    #[arg(long)]
    pub days: Option<u32>,
    /// Target number of events (default: 20 per customer).
    #[arg(long)]
    pub events: Option<usize>,
    /// Random seed: the same seed gives the same shop.
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// By file extension (`u.data` is MovieLens).
    Auto,
    Parquet,
    Csv,
    Jsonl,
    /// MovieLens `u.data` (user, item, rating, timestamp; tab separated).
    Movielens,
    /// A CSV of ratings or purchases whose column names are given by --user-col etc.
    RatingsCsv,
}

/// How event files are read.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Input format.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,
    /// Ratings CSV: the user column.
    #[arg(long, default_value = "user")]
    pub user_col: String,
    /// Ratings CSV: the item column.
    #[arg(long, default_value = "item")]
    pub item_col: String,
    /// Ratings CSV: the timestamp column (epoch seconds or RFC 3339).
    #[arg(long)]
    pub ts_col: Option<String>,
    /// Ratings CSV: the rating column, if any.
    #[arg(long)]
    pub rating_col: Option<String>,
}

impl InputArgs {
    fn options(&self, progress: Progress) -> ReadOptions {
        let format = match self.format {
            FormatArg::Auto => Format::Auto,
            FormatArg::Parquet => Format::Parquet,
            FormatArg::Csv => Format::Csv,
            FormatArg::Jsonl => Format::JsonLines,
            FormatArg::Movielens => Format::MovieLens,
            FormatArg::RatingsCsv => {
                let mut cols = RatingsColumns::new(&self.user_col, &self.item_col);
                if let Some(ts) = &self.ts_col {
                    cols = cols.ts(ts);
                }
                if let Some(rating) = &self.rating_col {
                    cols = cols.rating(rating);
                }
                Format::RatingsCsv(cols)
            }
        };
        ReadOptions {
            format,
            progress,
            ..ReadOptions::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Event files (Parquet, CSV, JSON lines, MovieLens u.data, ratings CSV); repeatable.
    /// Without --events, the bundled demo shop in datasets/demo is used.
    #[arg(long, num_args = 1..)]
    pub events: Vec<PathBuf>,
    /// The catalog (Parquet, CSV or JSON lines).
    #[arg(long)]
    pub items: Option<PathBuf>,
    /// Identity links (anonymous_id → customer_id).
    #[arg(long)]
    pub identities: Option<PathBuf>,
    /// Folder that receives the bundle as <out>/<version>/.
    #[arg(long, default_value = "models")]
    pub out: PathBuf,
    /// Skip the held-out evaluation (faster; the bundle then has no test metrics).
    #[arg(long)]
    pub no_eval: bool,
    /// Cut-off of the reported metrics.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Nearest neighbours stored per customer and per item, which the server reads instead
    /// of searching (8 bytes each: 400 bytes per customer and item at 50); 0 stores none.
    #[arg(long, default_value_t = 50)]
    pub neighbour_lists: usize,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug, Args)]
pub struct SplitArgs {
    /// Event or interaction file to split.
    #[arg(long)]
    pub events: PathBuf,
    /// Identity links applied before splitting.
    #[arg(long)]
    pub identities: Option<PathBuf>,
    /// Output folder for train.parquet and test.parquet.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Training interactions (user, item, ts[, weight]) as written by `kindred split`.
    #[arg(long, requires = "test", conflicts_with = "events")]
    pub train: Option<PathBuf>,
    /// Test interactions.
    #[arg(long, requires = "train")]
    pub test: Option<PathBuf>,
    /// Events to split by the protocol first.
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Identity links applied to --events.
    #[arg(long)]
    pub identities: Option<PathBuf>,
    /// Cut-off K.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A bundle folder, or a models folder (its newest bundle is shown).
    pub path: PathBuf,
    /// Print the manifest as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The server's data directory (holds events.sqlite3); read only, fine while serving.
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder for events.parquet and identities.parquet.
    #[arg(long)]
    pub out: PathBuf,
    /// Only events at or after this time: RFC 3339 (2024-05-01T00:00:00Z) or epoch
    /// milliseconds. Identity links are always exported in full.
    #[arg(long, value_parser = parse_since)]
    pub since: Option<i64>,
}

/// `--since`: RFC 3339 or epoch milliseconds, as epoch milliseconds.
fn parse_since(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            format!(
                "expected RFC 3339 (like 2024-05-01T00:00:00Z) or epoch milliseconds, got {s:?} ({e})"
            )
        })
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let progress = if cli.quiet {
        Progress::Hidden
    } else {
        Progress::Bars
    };
    match cli.command {
        Command::Generate(a) => generate(a, progress),
        Command::Train(a) => train(a, progress),
        Command::Split(a) => split(a, progress),
        Command::Eval(a) => eval(a, progress),
        Command::Inspect(a) => inspect(a),
        Command::Export(a) => export(a, progress),
        Command::Serve(a) => crate::server::command::serve(a),
        Command::Demo(a) => crate::server::command::demo(a, progress),
    }
}

fn generate(a: GenerateArgs, progress: Progress) -> anyhow::Result<()> {
    let mut p = GenerateParams::demo();
    if let Some(v) = a.customers {
        p.customers = v;
    }
    if let Some(v) = a.items {
        p.items = v;
    }
    if let Some(v) = a.days {
        p.days = v;
    }
    if let Some(v) = a.seed {
        p.seed = v;
    }
    if a.events.is_some() {
        p.events = a.events;
    }
    p.check()?;
    let report = generate_shop(&p, &a.out, progress)?;
    println!("{report}");
    Ok(())
}

/// The committed demo shop, used when `kindred train` gets no --events.
pub const DEMO_DIR: &str = "datasets/demo";

fn train(mut a: TrainArgs, progress: Progress) -> anyhow::Result<()> {
    if a.events.is_empty() {
        let demo = Path::new(DEMO_DIR);
        if !demo.join("events.parquet").is_file() {
            bail!(
                "no --events given and no demo shop at {DEMO_DIR} (run from the repository root, or pass --events)"
            );
        }
        eprintln!("no --events given: training on the demo shop in {DEMO_DIR}");
        a.events = vec![demo.join("events.parquet")];
        a.items.get_or_insert_with(|| demo.join("items.parquet"));
        a.identities
            .get_or_insert_with(|| demo.join("identities.parquet"));
    }
    let inputs = TrainInputs {
        events: a.events.clone(),
        items: a.items.clone(),
        identities: a.identities.clone(),
        read: a.input.options(progress),
    };
    let params = TrainParams {
        evaluate: !a.no_eval,
        tune: TuneParams {
            k: a.k,
            ..TuneParams::default()
        },
        neighbour_lists: a.neighbour_lists,
        ..TrainParams::default()
    };
    let report = pipeline::train(&inputs, &params, &a.out, progress)?;
    println!("{report}");
    Ok(())
}

/// Reads events (any supported format) and resolves them into interactions.
fn read_interactions_from_events(
    events: &Path,
    identities: Option<&Path>,
    input: &InputArgs,
    progress: Progress,
) -> anyhow::Result<kindred_training::interactions::InteractionLog> {
    let opts = input.options(progress);
    let is_interactions = matches!(
        input.format,
        FormatArg::Auto | FormatArg::Parquet | FormatArg::Csv
    ) && read::looks_like_interactions(events).unwrap_or(false);
    if is_interactions {
        let (log, rejected) = read::read_interactions(events)?;
        report_rejections(&rejected);
        return Ok(log);
    }
    let (log, rejected) = read::read_events(events, &opts)?;
    report_rejections(&rejected);
    let links = match identities {
        Some(p) => {
            let (links, rejected) = read::read_identities(p, &opts)?;
            report_rejections(&rejected);
            links
        }
        None => Default::default(),
    };
    let (interactions, _) = resolve(&log, &links, &EventWeights::default());
    if interactions.is_empty() {
        bail!("{}: no item interactions found", events.display());
    }
    Ok(interactions)
}

fn report_rejections(r: &kindred_training::data::Rejections) {
    if r.total == 0 {
        return;
    }
    eprintln!("rejected {} rows:", r.total);
    for (reason, n) in &r.counts {
        eprintln!("  {n:>8}  {reason}");
    }
    for ex in &r.examples {
        eprintln!("  e.g. {ex}");
    }
}

fn split(a: SplitArgs, progress: Progress) -> anyhow::Result<()> {
    let log =
        read_interactions_from_events(&a.events, a.identities.as_deref(), &a.input, progress)?;
    let parts = temporal_split(&log, &SplitParams::default());
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let train_path = a.out.join("train.parquet");
    let test_path = a.out.join("test.parquet");
    read::write_interactions(&train_path, &parts.train)?;
    read::write_interactions(&test_path, &parts.test)?;
    println!(
        "wrote {} ({} interactions) and {} ({} interactions, {} users with a test set)",
        train_path.display(),
        parts.train.len(),
        test_path.display(),
        parts.test.len(),
        parts.test_set().n_users()
    );
    Ok(())
}

fn eval(a: EvalArgs, progress: Progress) -> anyhow::Result<()> {
    let progress = if a.json { Progress::Hidden } else { progress };
    let tune = TuneParams {
        k: a.k,
        ..TuneParams::default()
    };
    let outcome = match (&a.train, &a.test, &a.events) {
        (Some(train), Some(test), None) => {
            let (train_log, r1) = read::read_interactions(train)?;
            let (test_log, r2) = read::read_interactions(test)?;
            report_rejections(&r1);
            report_rejections(&r2);
            let test_set = TestSet::from_logs(&train_log, &test_log);
            pipeline::evaluate_split(&train_log, &test_set, test_log.len(), &tune, progress)?
        }
        (None, None, Some(events)) => {
            let log =
                read_interactions_from_events(events, a.identities.as_deref(), &a.input, progress)?;
            pipeline::evaluate_log(&log, &SplitParams::default(), &tune, progress)?
        }
        _ => bail!("give either --train and --test, or --events"),
    };
    if a.json {
        println!("{}", serde_json::to_string(&outcome.to_json())?);
    } else {
        print!("{outcome}");
    }
    Ok(())
}

fn inspect(a: InspectArgs) -> anyhow::Result<()> {
    let dir = if a.path.join(bundle::MANIFEST).is_file() {
        a.path.clone()
    } else {
        bundle::newest(&a.path)?
    };
    let reader = BundleReader::open(&dir)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&reader.manifest)?);
        return Ok(());
    }
    print!("{}", pipeline::train::describe_bundle(&reader)?);
    Ok(())
}

fn export(a: ExportArgs, progress: Progress) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let report = crate::store::export(&a.data, &a.out, a.since, progress)?;
    let since = match a.since.and_then(chrono::DateTime::from_timestamp_millis) {
        Some(t) => format!(
            " since {}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => String::new(),
    };
    println!(
        "exported {} events{since} and {} identity links in {:.1}s\n  {}\n  {}",
        report.events,
        report.links,
        started.elapsed().as_secs_f64(),
        report.events_path.display(),
        report.identities_path.display(),
    );
    Ok(())
}
