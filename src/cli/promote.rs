//! `helmdeck promote`, `abort` and `rollback`: act on the active run (or, for rollback
//! `--to N`, re-apply a past revision). When another terminal of the same operator drives
//! the run, the request is left in the release record for it.

use super::{open_session, CmdResult, OutputFormat, ReleaseArgs};
use crate::domain::act::Act;

#[derive(Debug, Clone, clap::Args)]
pub struct ActArgs {
    #[command(flatten)]
    pub release: ReleaseArgs,
    /// promote: skip every remaining step and promote now
    #[arg(long)]
    pub full: bool,
    /// Keep driving through manual pauses
    #[arg(long)]
    pub wait: bool,
    /// rollback: re-apply this revision
    #[arg(long)]
    pub to: Option<u32>,
    /// promote: go past a gate that failed or was inconclusive; name its check to confirm
    #[arg(long, value_name = "CHECK")]
    pub past_gate: Option<String>,
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// `helmdeck promote`.
pub async fn promote(config: Option<&std::path::Path>, args: &ActArgs) -> CmdResult {
    let act = Act::Promote {
        full: args.full,
        past_gate: args.past_gate.clone(),
    };
    run(config, args, act).await
}

/// `helmdeck abort`.
pub async fn abort(config: Option<&std::path::Path>, args: &ActArgs) -> CmdResult {
    run(config, args, Act::Abort).await
}

/// `helmdeck rollback`.
pub async fn rollback(config: Option<&std::path::Path>, args: &ActArgs) -> CmdResult {
    run(config, args, Act::Rollback { to: args.to }).await
}

async fn run(config: Option<&std::path::Path>, args: &ActArgs, act: Act) -> CmdResult {
    let s = open_session(config, &args.release).await?;
    super::act(&s, act, args.wait, args.output).await
}
