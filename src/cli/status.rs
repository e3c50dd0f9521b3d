//! `helmdeck status` and `helmdeck history`: where the release's newest run stands (phases,
//! lease holder), and its kept revisions with their outcomes.

use super::{open_session, CmdResult, Exit, OutputFormat, ReleaseArgs};
use crate::domain::record::ReleaseRecord;
use crate::engine::drive::DriveEnd;
use crate::engine::release;
use std::io::Write;

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub release: ReleaseArgs,
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: OutputFormat,
}

fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn data<T: serde::Serialize>(v: &T, out: OutputFormat) -> Option<String> {
    match out {
        OutputFormat::Json => Some(serde_json::to_string_pretty(v).unwrap_or_default() + "\n"),
        OutputFormat::Yaml => Some(crate::domain::yaml::to_string(
            &serde_json::to_value(v).unwrap_or_default(),
        )),
        OutputFormat::Text => None,
    }
}

/// The closing lines of a command that drove a run.
pub fn print_outcome(rec: &ReleaseRecord, end: DriveEnd, out: OutputFormat) {
    #[derive(serde::Serialize)]
    struct Outcome<'a> {
        release: &'a str,
        revision: u32,
        status: crate::domain::run::Status,
        paused: bool,
        reason: Option<&'a str>,
        current_step: Option<String>,
        gates: &'a [crate::domain::gate::GateRecord],
        hooks: &'a [crate::domain::hooks::HookRun],
    }
    let o = Outcome {
        release: &rec.release,
        revision: rec.revision,
        status: rec.run.status,
        paused: end == DriveEnd::Paused,
        reason: rec.run.reason.as_deref(),
        current_step: rec.run.current().map(|s| s.describe()),
        gates: &rec.run.gates,
        hooks: &rec.run.hooks,
    };
    if let Some(t) = data(&o, out) {
        print(&t);
        return;
    }
    let mut t = format!(
        "{} revision {}: {:?}",
        rec.release, rec.revision, rec.run.status
    );
    if let Some(r) = &rec.run.reason {
        t.push_str(&format!(" — {r}"));
    }
    t.push('\n');
    t.push_str(&gate_lines(&rec.run.gates, "  "));
    t.push_str(&hook_lines(
        rec.run.hooks.iter().filter(|h| {
            matches!(
                h.outcome,
                Some(crate::domain::hooks::HookOutcome::Failed { .. })
            )
        }),
        "  ",
    ));
    if let (DriveEnd::Paused, Some(check)) = (end, rec.run.paused_gate_check()) {
        t.push_str(&format!(
            "paused at a gate — promote past it with `helmdeck promote {} --env {} --past-gate {check}`, or rollback/abort\n",
            rec.service, rec.environment
        ));
    } else if end == DriveEnd::Paused {
        t.push_str(&format!(
            "paused at: {} — continue with `helmdeck promote {} --env {}` (or rollback/abort)\n",
            rec.run.current().map(|s| s.describe()).unwrap_or_default(),
            rec.service,
            rec.environment
        ));
    }
    print(&t);
}

/// Hook lines (`✓ pre-upgrade Job/migrate (weight -5)`), a failed hook's log tail under it.
pub fn hook_lines<'a>(
    hooks: impl Iterator<Item = &'a crate::domain::hooks::HookRun>,
    indent: &str,
) -> String {
    let mut t = String::new();
    for h in hooks {
        t.push_str(&format!("{indent}{}\n", h.line()));
        for l in h.log.iter().flat_map(|l| l.lines()) {
            t.push_str(&format!("{indent}  | {l}\n"));
        }
    }
    t
}

/// The gates of a run, one line per gate and one per check: marks for its measurements
/// (✓ pass, ✗ fail, ? inconclusive) and the last value and detail.
pub fn gate_lines(gates: &[crate::domain::gate::GateRecord], indent: &str) -> String {
    use crate::domain::gate::Verdict;
    let mut t = String::new();
    for g in gates {
        let verdict = match &g.verdict {
            None => "running".to_string(),
            Some(Verdict::Passed) => "passed".into(),
            Some(Verdict::Failed { check, .. }) => format!("failed on `{check}`"),
            Some(Verdict::Inconclusive { check, .. }) => format!("inconclusive on `{check}`"),
        };
        t.push_str(&format!(
            "{indent}gate ({}) at step {}: {verdict}\n",
            g.stage.as_str(),
            g.step + 1
        ));
        for c in &g.checks {
            let marks: String = c.measurements.iter().map(|m| m.outcome.mark()).collect();
            let last = c
                .measurements
                .last()
                .map(|m| {
                    format!(
                        " last {}: {}",
                        m.value.as_deref().unwrap_or("-"),
                        m.detail.lines().next().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            t.push_str(&format!("{indent}  {} {marks}{last}\n", c.name));
        }
    }
    t
}

pub async fn run(config: Option<&std::path::Path>, args: &StatusArgs) -> CmdResult {
    let s = open_session(config, &args.release).await?;
    let report = release::status(&s).await?;
    if let Some(t) = data(&report, args.output) {
        print(&t);
        return Ok(Exit::Done);
    }
    let mut t = format!(
        "release {} in {} ({})\n",
        report.release, report.namespace, s.cluster.server
    );
    match (report.revision, report.status) {
        (Some(r), Some(st)) => {
            t.push_str(&format!("revision {r}: {st:?}"));
            if let Some(strategy) = report.strategy {
                t.push_str(&format!(" ({})", strategy.as_str()));
            }
            if let Some(live) = report.live_revision {
                t.push_str(&format!(", serving revision {live}"));
            }
            t.push('\n');
            if let Some(reason) = &report.reason {
                t.push_str(&format!("reason: {reason}\n"));
            }
            if let Some(c) = &report.current_step {
                t.push_str(&format!("at: {c}\n"));
            }
            for (i, p) in report.phases.iter().enumerate() {
                let mark = match &p.outcome {
                    None => "▸",
                    Some(o) if o.is_failure() => "✗",
                    Some(_) => "✓",
                };
                t.push_str(&format!(
                    "  {mark} {}{}\n",
                    p.step.describe(),
                    p.outcome
                        .as_ref()
                        .map(|o| format!(" — {o}"))
                        .unwrap_or_default()
                ));
                t.push_str(&hook_lines(
                    report.hooks.iter().filter(|h| h.phase == i),
                    "      ",
                ));
            }
            t.push_str(&gate_lines(&report.gates, "  "));
        }
        _ => t.push_str("never deployed\n"),
    }
    if let Some(h) = &report.lease_holder {
        t.push_str(&format!(
            "lease: held by {h} since {}\n",
            report.lease_since.clone().unwrap_or_default()
        ));
    }
    print(&t);
    Ok(Exit::Done)
}

pub async fn history(config: Option<&std::path::Path>, args: &StatusArgs) -> CmdResult {
    let s = open_session(config, &args.release).await?;
    let rows = release::history(&s).await?;
    if let Some(t) = data(&rows, args.output) {
        print(&t);
        return Ok(Exit::Done);
    }
    let mut t = format!(
        "{:<9}{:<12}{:<11}{:<16}{:<28}{}\n",
        "REVISION", "STATUS", "STRATEGY", "CHART", "UPDATED", "REASON"
    );
    for r in &rows {
        t.push_str(&format!(
            "{:<9}{:<12}{:<11}{:<16}{:<28}{}\n",
            r.revision,
            format!("{:?}", r.status),
            r.strategy.as_str(),
            r.chart,
            r.updated,
            r.reason.clone().unwrap_or_default()
        ));
        t.push_str(&gate_lines(&r.gates, "    "));
        t.push_str(&hook_lines(r.hooks.iter(), "    "));
    }
    print(&t);
    Ok(Exit::Done)
}
