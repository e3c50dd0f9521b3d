//! helmdeck's entry point: parses the command line and runs the TUI or a headless command.
//! Exit codes are DESIGN.md's: 0 done, 1 failed, 2 bad input, 3 unreachable, 4 locked,
//! 10 paused.

use clap::{Parser, Subcommand};
use helmdeck::cli::{self, Exit, Failure};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "helmdeck",
    version,
    about = "A terminal deployment console for Helm charts on Kubernetes",
    long_about = "A terminal deployment console for Helm charts on Kubernetes: previews, canary and blue/green rollouts, rollout tracking and automatic rollback, for unmodified charts.\n\nExit codes: 0 done, 1 failed (rollout failed or rolled back), 2 bad input (config, arguments, chart), 3 cluster or network unreachable, 4 locked by another operator, 10 paused waiting for the operator."
)]
struct Cli {
    /// Configuration file (default: ./helmdeck.yaml, then the user's config directory)
    #[arg(long, global = true, env = "HELMDECK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render a service for an environment (or a chart with --chart), Secret values masked
    Render(cli::render::RenderArgs),
    /// The effective values of a release; --explain names the layer that set each key
    Values(cli::values::ValuesArgs),
    /// What would change: the rendered release against a manifest file
    Diff(cli::diff::DiffArgs),
    /// Chart repositories: list, search, pull
    #[command(subcommand)]
    Repo(cli::repo::RepoCommand),
    /// Deploy a service to an environment (rolling, canary or blue/green)
    Deploy(cli::deploy::DeployArgs),
    /// Where the release's newest run stands
    Status(cli::status::StatusArgs),
    /// The release's kept revisions and their outcomes
    History(cli::status::StatusArgs),
    /// Promote the active run past its pause (--full: past every remaining step)
    Promote(cli::promote::ActArgs),
    /// Abort the active run (canaries deleted, primary untouched)
    Abort(cli::promote::ActArgs),
    /// Roll back the active run, or re-apply a past revision (--to N)
    Rollback(cli::promote::ActArgs),
    /// Run the live revision's Helm `test` hooks (exit 1 when one fails)
    Test(cli::test::TestArgs),
    /// Serve a simulated Kubernetes cluster on loopback (for demos and tests)
    Sim(cli::sim::SimArgs),
    /// Write a commented starter helmdeck.yaml from the charts, kubeconfig contexts and Helm releases found
    Init(cli::init::InitArgs),
    /// A simulated cluster with the demo charts deployed, and the console on it
    Demo,
}

fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = helmdeck::engine::audit::data_dir().join("logs");
    if std::fs::create_dir_all(&dir).is_err() {
        return None;
    }
    let appender = tracing_appender::rolling::daily(dir, "helmdeck.log");
    // The default buffer holds 128k lines in a channel allocated up front (4 MB); a
    // command logs a few lines a second, so a small one does.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(1024)
        .finish(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("HELMDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Some(guard)
}

async fn run(cli: Cli) -> Result<Exit, Failure> {
    let config = cli.config.as_deref();
    match cli.command {
        Some(Command::Render(args)) => cli::render::run(config, &args).await,
        Some(Command::Values(args)) => cli::values::run(config, &args).await,
        Some(Command::Diff(args)) => cli::diff::run(config, &args).await,
        Some(Command::Repo(cmd)) => cli::repo::run(config, &cmd).await,
        Some(Command::Deploy(args)) => cli::deploy::run(config, &args).await,
        Some(Command::Status(args)) => cli::status::run(config, &args).await,
        Some(Command::History(args)) => cli::status::history(config, &args).await,
        Some(Command::Promote(args)) => cli::promote::promote(config, &args).await,
        Some(Command::Abort(args)) => cli::promote::abort(config, &args).await,
        Some(Command::Rollback(args)) => cli::promote::rollback(config, &args).await,
        Some(Command::Test(args)) => cli::test::run(config, &args).await,
        Some(Command::Sim(args)) => cli::sim::run(&args).await,
        Some(Command::Init(args)) => cli::init::run(config, &args).await,
        Some(Command::Demo) => helmdeck::demo::run().await,
        None => helmdeck::app::console(config).await,
    }
}

fn main() {
    let cli = Cli::parse();
    let _guard = init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(Exit::Failed as i32);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(exit) => exit as i32,
        Err(f) => {
            tracing::warn!(message = %f.message, "command failed");
            f.report();
            f.exit as i32
        }
    };
    drop(runtime);
    std::process::exit(code);
}
