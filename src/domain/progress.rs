//! What a driver reports as it goes, and how each report reads as one line of text: the
//! CLI prints the lines, the console lists them (the same words on both faces).

use crate::domain::gate::{GateStage, Measurement, Verdict};
use crate::domain::health::Health;
use crate::domain::hooks::HookRun;
use crate::domain::run::{Outcome, Step};

/// What a driver reports as it goes (the CLI prints it; the TUI shows it).
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Sent once each time a step starts (or a resumed drive finds it under way).
    StepStarted {
        index: usize,
        step: Step,
    },
    StepEnded {
        step: Step,
        outcome: Outcome,
    },
    Waiting {
        what: String,
    },
    /// A timed pause counting down, about once a second.
    PauseTick {
        index: usize,
        elapsed_ms: u64,
        total_ms: u64,
    },
    Health {
        workload: String,
        health: Health,
    },
    Reversing {
        reason: String,
    },
    Warning(String),
    /// A verification gate starts (or resumes) at step `index`.
    GateStarted {
        index: usize,
        stage: GateStage,
        checks: Vec<String>,
    },
    /// One measurement of one check (detail bounded and redacted).
    GateMeasured {
        index: usize,
        check: String,
        measurement: Measurement,
    },
    GateEnded {
        index: usize,
        stage: GateStage,
        verdict: Verdict,
    },
    /// A Helm hook started or ended (its record as it stands).
    Hook {
        run: HookRun,
    },
    /// The API server stopped answering; the driver retries (its writes wait for the lease
    /// term to be confirmed) and goes on where it was once it answers again.
    Unreachable {
        detail: String,
    },
    /// The API server answers again after `after_ms` away.
    Reachable {
        after_ms: u64,
    },
}

impl Progress {
    /// The report as one line (unstyled, not yet redacted).
    pub fn line(&self) -> String {
        match self {
            Progress::StepStarted { index, step } => {
                format!("▸ [{}] {}", index + 1, step.describe())
            }
            Progress::StepEnded { step, outcome } => format!("  {} — {outcome}", step.describe()),
            Progress::Waiting { what } => format!("  … {what}"),
            Progress::PauseTick {
                elapsed_ms,
                total_ms,
                ..
            } => format!(
                "  … pause: {}s left",
                total_ms.saturating_sub(*elapsed_ms).div_ceil(1000)
            ),
            Progress::Health { workload, health } => format!("  {workload}: {}", health.summary()),
            Progress::Reversing { reason } => format!("↩ going back: {reason}"),
            Progress::Warning(w) => format!("warning: {w}"),
            Progress::GateStarted { .. }
            | Progress::GateMeasured { .. }
            | Progress::GateEnded { .. } => self.gate_line().unwrap_or_default(),
            Progress::Hook { .. } => self.hook_lines().unwrap_or_default().join("\n"),
            Progress::Unreachable { detail } => {
                format!("warning: cluster unreachable, retrying: {detail}")
            }
            Progress::Reachable { after_ms } => format!(
                "  cluster reachable again after {} s",
                after_ms.div_ceil(1000)
            ),
        }
    }

    /// The lines a hook's progress reads as: `  ✓ pre-upgrade Job/migrate (weight -5)`,
    /// then on failure the tail of its pod's log. None for progress that is not a hook's.
    pub fn hook_lines(&self) -> Option<Vec<String>> {
        let Progress::Hook { run } = self else {
            return None;
        };
        let mut lines = vec![format!("  {}", run.line())];
        if let Some(log) = &run.log {
            lines.extend(log.lines().map(|l| format!("    | {l}")));
        }
        Some(lines)
    }

    /// The line a gate's progress reads as (the CLI prints it, the console lists it); None
    /// for progress that is not a gate's.
    pub fn gate_line(&self) -> Option<String> {
        Some(match self {
            Progress::GateStarted { stage, checks, .. } => {
                format!("  gate ({}): {}", stage.as_str(), checks.join(", "))
            }
            Progress::GateMeasured {
                check, measurement, ..
            } => {
                let first = measurement.detail.lines().next().unwrap_or_default();
                format!(
                    "    {} {check} {} {first}",
                    measurement.outcome.mark(),
                    measurement.value.as_deref().unwrap_or("")
                )
            }
            Progress::GateEnded { stage, verdict, .. } => format!("  {}", verdict.describe(*stage)),
            _ => return None,
        })
    }
}
