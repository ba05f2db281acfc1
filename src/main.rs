use clap::Parser;

/// mimalloc instead of glibc's malloc: a request allocates many short-lived strings and
/// buffers on several worker threads, and glibc spent about a fifth of a landing page's CPU
/// in malloc, free and their consolidation (perf, `benches/README.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = kindred::cli::Cli::parse();
    kindred::cli::run(cli)
}
