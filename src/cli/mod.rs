//! Headless commands: one file per command, each thin — parse → engine → print (text, yaml
//! or json). This file holds what they share: exit codes, error reporting, output helpers.

pub mod deploy;
pub mod diff;
pub mod init;
pub mod promote;
pub mod render;
pub mod repo;
pub mod sim;
pub mod status;
pub mod test;
pub mod values;

use crate::config::ConfigError;
use crate::engine::prepare::{Overrides, PrepareError};
use crate::render::RenderError;
use crate::sources::SourceError;
use std::io::IsTerminal;

/// Exit codes (DESIGN.md "Command line").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Done = 0,
    Failed = 1,
    BadInput = 2,
    Unreachable = 3,
    Locked = 4,
    Paused = 10,
}

/// A command that did not succeed: what happened, what to do next, and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    pub hint: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn bad_input(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure::new(Exit::BadInput, message, hint)
    }

    /// Prints to stderr as `error: …` and `  hint: …`.
    pub fn report(&self) {
        let color = color_enabled(false, std::io::stderr().is_terminal());
        let (red, dim, reset) = if color {
            ("\x1b[1;31m", "\x1b[2m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        eprintln!("{red}error:{reset} {}", self.message);
        if !self.hint.is_empty() {
            eprintln!("{dim}  hint:{reset} {}", self.hint);
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        let message = match &e.location {
            Some(l) => format!("{l}: {}", e.message),
            None => e.message.clone(),
        };
        Failure::bad_input(message, e.hint)
    }
}

impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Self {
        let exit = if e.is_unreachable() {
            Exit::Unreachable
        } else {
            Exit::BadInput
        };
        Failure::new(exit, e.to_string(), e.hint())
    }
}

impl From<RenderError> for Failure {
    fn from(e: RenderError) -> Self {
        Failure::bad_input(e.to_string(), e.hint())
    }
}

impl From<PrepareError> for Failure {
    fn from(e: PrepareError) -> Self {
        match e {
            PrepareError::Config(c) => c.into(),
            PrepareError::Source(s) => s.into(),
            PrepareError::Render(r) => r.into(),
        }
    }
}

pub type CmdResult = Result<Exit, Failure>;

/// Output format of commands that print data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Yaml,
    Json,
}

/// Colour on a terminal unless `NO_COLOR` is set or `--no-color` was given.
pub fn color_enabled(no_color_flag: bool, is_terminal: bool) -> bool {
    !no_color_flag && is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Helm's one-off override flags, shared by render, values, diff and deploy. Helm applies
/// them files first, then `--set-json`, `--set`, `--set-string`, `--set-file`,
/// `--set-literal`, each kind in the order given.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OverrideArgs {
    /// Values file applied after the configured ones (repeatable)
    #[arg(long = "values", short = 'f', value_name = "FILE")]
    pub values_files: Vec<std::path::PathBuf>,
    /// Helm-style override, applied after every file (repeatable): a.b=1,list={x,y}
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Like --set, but values stay strings
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    pub set_strings: Vec<String>,
    /// Like --set, each value a JSON document (or a whole JSON object)
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    pub set_jsons: Vec<String>,
    /// Like --set, each value read from a file: tls.crt=./cert.pem
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    pub set_files: Vec<String>,
    /// One key set to the rest of the argument verbatim (commas, braces and all)
    #[arg(long = "set-literal", value_name = "KEY=VALUE")]
    pub set_literals: Vec<String>,
}

impl OverrideArgs {
    pub fn overrides(&self) -> Overrides {
        use crate::domain::values::{SetKind, SetOverride};
        let mut sets = Vec::new();
        for (kind, exprs) in [
            (SetKind::Json, &self.set_jsons),
            (SetKind::Typed, &self.sets),
            (SetKind::String, &self.set_strings),
            (SetKind::File, &self.set_files),
            (SetKind::Literal, &self.set_literals),
        ] {
            sets.extend(exprs.iter().map(|e| SetOverride::new(kind, e.clone())));
        }
        Overrides {
            files: self.values_files.clone(),
            sets,
        }
    }
}

/// Flags shared by render, values and diff: the ad-hoc chart form and one-off overrides.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// Service from helmdeck.yaml
    pub service: Option<String>,
    /// Environment from helmdeck.yaml
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    /// Render a chart folder or package directly instead of a configured service
    #[arg(long, conflicts_with_all = ["service", "env"])]
    pub chart: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// Release name for --chart (default: the chart's name)
    #[arg(long)]
    pub release: Option<String>,
    /// Namespace for --chart (default: "default")
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
}

impl TargetArgs {
    pub fn overrides(&self) -> Overrides {
        self.overrides.overrides()
    }
}

/// Prepares the target named by the flags: a configured service in an environment, or an
/// ad-hoc chart.
pub async fn prepare_target(
    config: Option<&std::path::Path>,
    t: &TargetArgs,
) -> Result<(crate::engine::prepare::Prepared, crate::render::Helm), Failure> {
    let overrides = t.overrides();
    if let Some(chart) = &t.chart {
        let (name, _, _, _) = crate::sources::chart::read_meta(chart).map_err(Failure::from)?;
        let release = t.release.clone().unwrap_or(name);
        let ns = t.namespace.clone().unwrap_or_else(|| "default".into());
        let prepared =
            crate::engine::prepare::prepare_adhoc(chart, &release, &ns, &overrides).await?;
        return Ok((prepared, crate::render::Helm::locate(None)?));
    }
    let cfg = crate::config::discover(config)?;
    let (services, envs) = crate::engine::prepare::names(&cfg);
    let service = t.service.clone().ok_or_else(|| {
        Failure::bad_input(
            "no service given",
            format!("name one of: {} (or use --chart PATH)", services.join(", ")),
        )
    })?;
    let env = t.env.clone().ok_or_else(|| {
        Failure::bad_input(
            "no environment given",
            format!("add --env with one of: {}", envs.join(", ")),
        )
    })?;
    if t.release.is_some() || t.namespace.is_some() {
        return Err(Failure::bad_input(
            "--release and --namespace go with --chart",
            "a configured service takes its release name and namespace from helmdeck.yaml",
        ));
    }
    let bar = DownloadBar::new();
    let progress = |done: u64, total: Option<u64>| bar.update(done, total);
    let prepared =
        crate::engine::prepare::prepare(&cfg, &service, &env, &overrides, &progress).await;
    bar.finish();
    let prepared = prepared?;
    let helm = crate::engine::locate_helm(&cfg)?;
    Ok((prepared, helm))
}

/// A download progress bar on stderr when it is a terminal; silent otherwise.
pub struct DownloadBar {
    bar: Option<indicatif::ProgressBar>,
}

impl DownloadBar {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::hidden();
            b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} downloading {bytes}/{total_bytes} {bar:30} {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        DownloadBar { bar }
    }

    pub fn update(&self, done: u64, total: Option<u64>) {
        if let Some(b) = &self.bar {
            if let Some(t) = total {
                b.set_length(t);
            }
            b.set_position(done);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Default for DownloadBar {
    fn default() -> Self {
        Self::new()
    }
}

/// Prints warnings to stderr, redacted.
pub fn warn_all(warnings: &[String], redactor: &crate::domain::mask::Redactor) {
    for w in warnings {
        eprintln!("warning: {}", redactor.redact(w));
    }
}

impl From<crate::cluster::ClusterError> for Failure {
    fn from(e: crate::cluster::ClusterError) -> Self {
        use crate::cluster::ClusterError as C;
        let exit = match &e {
            C::Unreachable { .. } | C::NoAnswer { .. } | C::Api { .. } => Exit::Unreachable,
            C::Locked { .. } | C::LeaseLost { .. } => Exit::Locked,
            C::Conflict { .. } => Exit::Failed,
            _ => Exit::BadInput,
        };
        Failure::new(exit, e.to_string(), e.hint())
    }
}

impl From<crate::engine::EngineError> for Failure {
    fn from(e: crate::engine::EngineError) -> Self {
        use crate::engine::EngineError as E;
        match e {
            E::Prepare(p) => p.into(),
            E::Cluster(c) => c.into(),
            E::Run(r) => Failure::bad_input(
                r.to_string(),
                "`helmdeck status` shows where the run stands",
            ),
            E::Input { message, hint } => Failure::bad_input(message, hint),
        }
    }
}

/// The service/environment pair every release command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ReleaseArgs {
    /// Service from helmdeck.yaml
    pub service: String,
    /// Environment from helmdeck.yaml
    #[arg(long, short = 'e')]
    pub env: String,
}

/// Connects to the environment's cluster for the service.
pub async fn open_session(
    config: Option<&std::path::Path>,
    r: &ReleaseArgs,
) -> Result<crate::engine::Session, Failure> {
    let cfg = crate::config::discover(config)?;
    Ok(crate::engine::Session::open(&cfg, &r.service, &r.env).await?)
}

/// Prints the run's progress to stderr, one line per event (the lines of
/// [`Progress::line`](crate::engine::drive::Progress::line)), redacting secrets.
pub fn progress_printer(
    redactor: crate::domain::mask::Redactor,
) -> impl Fn(crate::engine::drive::Progress) + Send + Sync {
    use crate::engine::drive::Progress as P;
    let color = color_enabled(false, std::io::stderr().is_terminal());
    let last_wait = std::sync::Mutex::new(String::new());
    // The drive and the lease keeper both notice an outage: one line for it, one for its end.
    let away = std::sync::atomic::AtomicBool::new(false);
    move |p| {
        use std::sync::atomic::Ordering;
        match &p {
            P::Waiting { what } => {
                let mut lw = last_wait.lock().unwrap_or_else(|e| e.into_inner());
                if *lw == *what {
                    return;
                }
                what.clone_into(&mut lw);
            }
            P::Unreachable { .. } if away.swap(true, Ordering::SeqCst) => return,
            P::Reachable { .. } if !away.swap(false, Ordering::SeqCst) => return,
            // One line when the pause starts; the countdown is for the console.
            P::PauseTick { elapsed_ms, .. } if *elapsed_ms > 1000 => return,
            _ => {}
        }
        let mut line = p.line();
        // The step and going-back marks in colour.
        if color && (line.starts_with('▸') || line.starts_with('↩')) {
            let mark = line.remove(0);
            line = format!("\x1b[36m{mark}\x1b[0m{line}");
        }
        eprintln!("{}", redactor.redact(&line));
    }
}

/// Exit code for how a run ended, from the point of view of the command that drove it.
pub fn exit_for(
    end: crate::engine::drive::DriveEnd,
    intended: &[crate::domain::run::Status],
) -> Exit {
    use crate::domain::run::Status;
    use crate::engine::drive::DriveEnd;
    match end {
        DriveEnd::Paused | DriveEnd::Stopped => Exit::Paused,
        DriveEnd::Finished(s) if intended.contains(&s) => Exit::Done,
        DriveEnd::Finished(Status::Healthy) => Exit::Done,
        DriveEnd::Finished(_) => Exit::Failed,
    }
}

/// Acts on the session's release through the engine's one action path (which writes the
/// audit line), printing progress to stderr and what came of it to stdout; the exit code
/// says whether the act did what it meant.
pub async fn act(
    s: &crate::engine::Session,
    act: crate::domain::act::Act,
    wait: bool,
    output: OutputFormat,
) -> CmdResult {
    use crate::engine::release::{self, ActOptions, ActionResult};
    let printer = progress_printer(crate::domain::mask::Redactor::default());
    let opts = ActOptions {
        wait,
        ..Default::default()
    };
    let intended = act.intended();
    let command = act.command();
    match release::act(s, act, &opts, &printer).await? {
        ActionResult::Requested { holder, revision } => {
            println!(
                "{command} requested: {holder} is driving revision {revision} and will act on it"
            );
            Ok(Exit::Done)
        }
        ActionResult::Drove(rec, end) => {
            status::print_outcome(&rec, end, output);
            Ok(exit_for(end, intended))
        }
        ActionResult::Tested(report) => {
            test::print_report(&report, output);
            Ok(if report.passed {
                Exit::Done
            } else {
                Exit::Failed
            })
        }
    }
}
