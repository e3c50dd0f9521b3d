//! What an operator asks of a release — deploy, promote, roll back, abort — in one enum that
//! the CLI, the console and the agent all hand to `engine::release::act`, which acts and
//! writes the audit line. Pure data: the console builds an `Act` in `update`.

use crate::domain::run::{Status, StepOverrides, StrategyKind};
use crate::domain::values::SetOverride;
use std::path::PathBuf;

/// One-off overrides given at launch (`-f` and Helm's `--set*` flags), applied last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub files: Vec<PathBuf>,
    pub sets: Vec<SetOverride>,
}

impl Overrides {
    /// Override expressions as the launch dialog takes them: `a=1` (Helm's `--set`) or
    /// `FLAG EXPR` (`--set-json b=[1]`, `--set-string c=007`, …).
    pub fn sets(words: impl IntoIterator<Item = String>) -> Overrides {
        Overrides {
            files: Vec::new(),
            sets: words
                .into_iter()
                .map(|w| SetOverride::from_word(&w))
                .collect(),
        }
    }
}

/// A deploy: a new run of the service (or, with `resume`, the active one continued).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deploy {
    /// The strategy for this run (default: the service's).
    pub strategy: Option<StrategyKind>,
    pub overrides: Overrides,
    /// Canary steps (and blue/green auto-promotion) for this run instead of the
    /// service's; recorded in the run.
    pub steps: StepOverrides,
    /// Continue the active run from its recorded phase.
    pub resume: bool,
}

/// What an operator asks of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    Deploy(Deploy),
    /// The active run past its pause; with `full`, past every step before promotion; with
    /// `past_gate`, past a gate that failed or was inconclusive (naming its check confirms).
    Promote {
        full: bool,
        past_gate: Option<String>,
    },
    /// The active run back, or (`to`, or no active run) a past revision re-applied.
    Rollback {
        to: Option<u32>,
    },
    /// The active run stopped: the new version out, the old one untouched.
    Abort,
    /// The live revision's `test` hooks run (`helm test`).
    Test,
}

impl Act {
    /// A plain promote.
    pub fn promote() -> Act {
        Act::Promote {
            full: false,
            past_gate: None,
        }
    }

    /// The verb, for sentences: `deploy`, `promote`, `roll back`, `abort`.
    pub fn verb(&self) -> &'static str {
        match self {
            Act::Deploy(_) => "deploy",
            Act::Promote { .. } => "promote",
            Act::Rollback { .. } => "roll back",
            Act::Abort => "abort",
            Act::Test => "test",
        }
    }

    /// The past participle: `deployed`, `promoted`, `rolled back`, `aborted`.
    pub fn done(&self) -> &'static str {
        match self {
            Act::Deploy(_) => "deployed",
            Act::Promote { .. } => "promoted",
            Act::Rollback { .. } => "rolled back",
            Act::Abort => "aborted",
            Act::Test => "tested",
        }
    }

    /// As a command line would say it (the audit's `action`): `deploy --resume`,
    /// `promote --full`, `promote --past-gate smoke`, `rollback --to 3`, `abort`.
    pub fn command(&self) -> String {
        match self {
            Act::Deploy(d) if d.resume => "deploy --resume".into(),
            Act::Deploy(_) => "deploy".into(),
            Act::Promote { full, past_gate } => {
                let mut s = "promote".to_string();
                if *full {
                    s.push_str(" --full");
                }
                if let Some(c) = past_gate {
                    s.push_str(&format!(" --past-gate {c}"));
                }
                s
            }
            Act::Rollback { to: Some(n) } => format!("rollback --to {n}"),
            Act::Rollback { to: None } => "rollback".into(),
            Act::Abort => "abort".into(),
            Act::Test => "test".into(),
        }
    }

    /// The check of a paused gate this act goes past, if any.
    pub fn past_gate(&self) -> Option<&str> {
        match self {
            Act::Promote { past_gate, .. } => past_gate.as_deref(),
            _ => None,
        }
    }

    /// How a run should end for this act to have done what it meant (a deploy that ends
    /// rolled back did not).
    pub fn intended(&self) -> &'static [Status] {
        match self {
            Act::Deploy(_) | Act::Promote { .. } => &[Status::Healthy],
            Act::Rollback { .. } => &[Status::RolledBack, Status::Healthy],
            Act::Abort => &[Status::Aborted],
            // A test changes no run: whatever it finds is what it meant to find.
            Act::Test => &[],
        }
    }
}

/// Which face of helmdeck asked (written in the audit line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    #[default]
    Cli,
    Console,
    Agent,
}

impl Surface {
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Cli => "cli",
            Surface::Console => "console",
            Surface::Agent => "agent",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_act_reads_as_its_command_line() {
        assert_eq!(
            Act::Promote {
                full: true,
                past_gate: Some("smoke".into())
            }
            .command(),
            "promote --full --past-gate smoke"
        );
        assert_eq!(Act::Rollback { to: Some(3) }.command(), "rollback --to 3");
        let resume = Act::Deploy(Deploy {
            resume: true,
            ..Default::default()
        });
        assert_eq!(resume.command(), "deploy --resume");
        assert_eq!(Act::Abort.intended(), &[Status::Aborted]);
    }
}
