use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = kindred::cli::Cli::parse();
    kindred::cli::run(cli)
}
