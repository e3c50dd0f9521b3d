//! `helmdeck deploy`: starts a run of a service in an environment (or resumes the active
//! one) and drives it until it ends, or reaches a manual pause (exit 10) unless `--wait`.

use super::{open_session, CmdResult, Failure, OutputFormat, ReleaseArgs};
use crate::domain::act::{Act, Deploy};
use std::io::{BufRead, IsTerminal, Write};

#[derive(Debug, Clone, clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub release: ReleaseArgs,
    /// rolling, canary or bluegreen (default: the service's)
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// One-off overrides for this deploy only
    #[command(flatten)]
    pub overrides: super::OverrideArgs,
    /// Confirm a deploy to a protected environment without a prompt
    #[arg(long)]
    pub yes: bool,
    /// Keep driving through manual pauses, waiting for a promote from anywhere
    #[arg(long)]
    pub wait: bool,
    /// Continue the active run from its recorded phase
    #[arg(long)]
    pub resume: bool,
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    Rolling,
    Canary,
    Bluegreen,
}

impl From<StrategyArg> for crate::config::StrategyKind {
    fn from(s: StrategyArg) -> Self {
        match s {
            StrategyArg::Rolling => crate::config::StrategyKind::Rolling,
            StrategyArg::Canary => crate::config::StrategyKind::Canary,
            StrategyArg::Bluegreen => crate::config::StrategyKind::Bluegreen,
        }
    }
}

/// A protected environment needs `--yes`, or its name typed on a terminal.
fn confirm(env: &str) -> Result<(), Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::bad_input(
            format!("environment `{env}` is protected"),
            "confirm with --yes (or run on a terminal and type the environment name)",
        ));
    }
    eprint!("environment `{env}` is protected: type its name to deploy: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if line.trim() == env {
        Ok(())
    } else {
        Err(Failure::bad_input(
            "not confirmed: nothing was deployed",
            format!("type `{env}` exactly, or pass --yes"),
        ))
    }
}

pub async fn run(config: Option<&std::path::Path>, args: &DeployArgs) -> CmdResult {
    let s = open_session(config, &args.release).await?;
    if s.env.policy.protected && !args.yes && !args.resume {
        confirm(&s.env.name)?;
    }
    let act = Act::Deploy(Deploy {
        strategy: args.strategy.map(Into::into),
        overrides: args.overrides.overrides(),
        resume: args.resume,
        ..Default::default()
    });
    super::act(&s, act, args.wait, args.output).await
}
