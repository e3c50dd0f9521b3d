//! `helmdeck test`: runs the live revision's `test` hooks like `helm test` (exit 0 when every
//! test passed, 1 when one failed, with its pod's log tail).

use super::{audit, open_session, progress_printer, CmdResult, Exit, OutputFormat, ReleaseArgs};
use crate::engine::lifecycle;
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
    let printer = progress_printer(crate::domain::mask::Redactor::default());
    let report = match lifecycle::test(&s, &printer).await {
        Ok(r) => r,
        Err(e) => {
            audit(&s, "test", None, format!("error: {e}"));
            return Err(e.into());
        }
    };
    let outcome = if report.passed { "passed" } else { "failed" };
    audit(&s, "test", Some(report.revision), outcome.to_string());
    let text = match args.output {
        OutputFormat::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        OutputFormat::Yaml => {
            crate::domain::yaml::to_string(&serde_json::to_value(&report).unwrap_or_default())
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
    Ok(if report.passed {
        Exit::Done
    } else {
        Exit::Failed
    })
}
