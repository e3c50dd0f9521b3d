//! `helmdeck test`: runs the live revision's `test` hooks like `helm test` (exit 0 when every
//! test passed, 1 when one failed, with its pod's log tail).

use super::{open_session, CmdResult, OutputFormat, ReleaseArgs};
use crate::domain::act::Act;
use crate::engine::lifecycle::TestReport;
use std::io::Write;

#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub release: ReleaseArgs,
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: OutputFormat,
}

pub async fn run(config: Option<&std::path::Path>, args: &TestArgs) -> CmdResult {
    let s = open_session(config, &args.release).await?;
    super::act(&s, Act::Test, false, args.output).await
}

/// The report of a test run: each test's line and its log tail (text), or the report as
/// data.
pub fn print_report(report: &TestReport, output: OutputFormat) {
    let outcome = if report.passed { "passed" } else { "failed" };
    let text = match output {
        OutputFormat::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
        OutputFormat::Yaml => {
            crate::domain::yaml::to_string(&serde_json::to_value(report).unwrap_or_default())
        }
        OutputFormat::Text => {
            let mut t = format!(
                "{} revision {}: {}\n",
                report.release,
                report.revision,
                if report.tests.is_empty() {
                    "no tests"
                } else {
                    outcome
                }
            );
            for r in &report.tests {
                t.push_str(&format!("  {}\n", r.line()));
                for l in r.log.iter().flat_map(|l| l.lines()) {
                    t.push_str(&format!("    | {l}\n"));
                }
            }
            t
        }
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
