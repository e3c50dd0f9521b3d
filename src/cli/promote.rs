//! `helmdeck promote`, `abort` and `rollback`: act on the active run (or, for rollback
//! `--to N`, re-apply a past revision). When another terminal of the same operator drives
//! the run, the request is left in the release record for it.

use super::{
    audit, exit_for, open_session, progress_printer, CmdResult, Exit, Failure, OutputFormat,
    ReleaseArgs,
};
use crate::domain::run::Status;
use crate::engine::release::{self, ActionResult};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Promote,
    Abort,
    Rollback,
}

pub async fn run(config: Option<&std::path::Path>, args: &ActArgs, action: Action) -> CmdResult {
    let s = open_session(config, &args.release).await?;
    let redactor = crate::engine::secrets::redactor_for(&s).await;
    let printer = progress_printer(redactor.clone());
    let opts = release::ActOptions {
        full: args.full,
        wait: args.wait,
        past_gate: args.past_gate.clone(),
        ..Default::default()
    };
    let (name, result, intended) = match action {
        Action::Promote => (
            "promote",
            release::promote(&s, &opts, &printer).await,
            vec![Status::Healthy],
        ),
        Action::Abort => (
            "abort",
            release::abort(&s, &opts, &printer).await,
            vec![Status::Aborted],
        ),
        Action::Rollback => (
            "rollback",
            release::rollback(&s, args.to, &opts, &printer).await,
            vec![Status::RolledBack, Status::Healthy],
        ),
    };
    let past = args
        .past_gate
        .as_ref()
        .map(|c| format!("promote --past-gate {c}"));
    let name = match (action, &past) {
        (Action::Promote, Some(p)) => p.as_str(),
        _ => name,
    };
    match result {
        Err(e) => {
            audit(
                &s,
                name,
                None,
                redactor.redact(&format!("error: {e}")).into_owned(),
            );
            Err(Failure::from(e).redacted(&redactor))
        }
        Ok(ActionResult::Requested { holder, revision }) => {
            audit(&s, name, Some(revision), format!("requested from {holder}"));
            println!(
                "{name} requested: {holder} is driving revision {revision} and will act on it"
            );
            Ok(Exit::Done)
        }
        Ok(ActionResult::Drove(rec, end)) => {
            audit(
                &s,
                name,
                Some(rec.revision),
                format!("{:?}", rec.run.status),
            );
            super::status::print_outcome(&rec, end, args.output);
            Ok(exit_for(end, &intended))
        }
    }
}
