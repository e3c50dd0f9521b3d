//! The console's loop — the only place where the TUI meets I/O: terminal events and I/O
//! messages in, effects out to executor tasks, one draw after the queue is drained.
//! Tasks report through a bounded channel with typed messages carrying generation numbers.

use crate::cli::{self, CmdResult, Exit, Failure};
use crate::cluster::watch::NamespaceWatch;
use crate::cluster::{lease, records};
use crate::config::Config;
use crate::domain::diff::LineTag;
use crate::domain::health::Health;
use crate::domain::record::ReleaseRecord;
use crate::domain::run::{Reverse, Step, StepOverrides, StrategyKind};
use crate::domain::values::SetOverride;
use crate::engine::drive::{DriveEnd, Progress};
use crate::engine::inspect::{self, Against};
use crate::engine::prepare::{self, Overrides};
use crate::engine::release::{self, ActOptions, ActionResult, DeployOptions};
use crate::engine::{EngineError, Session};
use crate::render::{Helm, Renderer};
use crate::tui::input::{self, InputEvent};
use crate::tui::msg::RunEnd;
use crate::tui::state::{
    DiffView, EnvInfo, EventKind, HistoryEntry, KubeEvent, ObjectEntry, PodRow, Preview,
    ReleaseRow, RepoInfo, RolloutSnapshot, RunView, ServiceInfo, StepRow, StepState, ValueRow,
    WorkloadBar,
};
use crate::tui::{update, Effect, Msg, State, Theme};
use futures::StreamExt;
use ratatui::backend::Backend;
use ratatui::Terminal;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Capacity of the message channel: results queue here until the loop drains them.
pub const CHANNEL: usize = 1024;

/// Where terminal events come from: the real terminal, or a test's script.
pub trait InputSource: Send {
    /// The next event; None when the source has ended.
    fn next(&mut self) -> impl std::future::Future<Output = Option<InputEvent>> + Send;
}

/// Keys and resizes from the terminal (crossterm's event stream needs a TTY).
pub struct TerminalInput(crossterm::event::EventStream);

impl TerminalInput {
    pub fn new() -> Self {
        TerminalInput(crossterm::event::EventStream::new())
    }
}

impl Default for TerminalInput {
    fn default() -> Self {
        TerminalInput::new()
    }
}

impl InputSource for TerminalInput {
    async fn next(&mut self) -> Option<InputEvent> {
        loop {
            match self.0.next().await? {
                Ok(ev) => {
                    if let Some(e) = input::from_crossterm(&ev) {
                        return Some(e);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "terminal input failed");
                    return None;
                }
            }
        }
    }
}

/// Events fed by a test (or any other task).
pub struct ChannelInput(pub mpsc::Receiver<InputEvent>);

impl InputSource for ChannelInput {
    async fn next(&mut self) -> Option<InputEvent> {
        self.0.recv().await
    }
}

/// The console's view of a configuration: services, environments, repositories.
pub fn state_from_config(cfg: &Config) -> State {
    let services = cfg
        .file
        .services
        .iter()
        .map(|s| ServiceInfo {
            name: s.name.clone(),
            release: s.release_name().to_string(),
            chart: format!(
                "{}/{}{}",
                s.chart.repository,
                s.chart.name,
                s.chart
                    .version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default()
            ),
            strategy: s.strategy,
            canary_steps: s
                .canary
                .as_ref()
                .map(|c| c.steps.clone())
                .unwrap_or_default(),
            auto_promote: s.bluegreen.as_ref().is_some_and(|b| b.auto_promote),
        })
        .collect();
    let environments = cfg
        .file
        .environments
        .iter()
        .map(|e| EnvInfo {
            name: e.name.clone(),
            context: e
                .cluster
                .context
                .clone()
                .unwrap_or_else(|| "(current)".into()),
            namespace: e.cluster.namespace.clone(),
            protected: e.policy.protected,
            auto_rollback: e.policy.auto_rollback,
        })
        .collect();
    let repositories = cfg
        .file
        .repositories
        .iter()
        .map(|r| RepoInfo {
            name: r.name.clone(),
            kind: r.kind.as_str().to_string(),
            location: r.url.clone().or_else(|| r.path.clone()).unwrap_or_default(),
        })
        .collect();
    State::new(services, environments, repositories)
}

/// An engine error as one status line: what happened — what to do.
fn explain(e: EngineError) -> String {
    let f: Failure = e.into();
    if f.hint.is_empty() {
        f.message
    } else {
        format!("{} — {}", f.message, f.hint)
    }
}

/// Turns effects into tasks; each task reports back through `tx`.
pub struct Executor {
    cfg: Arc<Config>,
    renderer: Result<Renderer, String>,
    tx: mpsc::Sender<Msg>,
    /// The drive of this console, per release: a new one for the same release replaces it
    /// (steps are idempotent, so a drive stopped between two requests loses nothing).
    drives: Vec<Drive>,
    /// The rollout view's watch of a release: its pods, Deployments, run and Kubernetes
    /// Events.
    watch: Option<JoinHandle<()>>,
    logs: Option<JoinHandle<()>>,
}

impl Drop for Executor {
    fn drop(&mut self) {
        if let Some(l) = &self.logs {
            l.abort();
        }
        for d in &self.drives {
            d.cancel.cancel();
            d.task.abort();
        }
        if let Some(w) = &self.watch {
            w.abort();
        }
    }
}

impl Executor {
    pub fn new(cfg: Config, tx: mpsc::Sender<Msg>) -> Executor {
        let renderer = Helm::locate(cfg.file.helm.binary.as_deref())
            .map(Renderer::new)
            .map_err(|e| format!("{e} — {}", e.hint()));
        Executor {
            cfg: Arc::new(cfg),
            renderer,
            tx,
            drives: Vec::new(),
            watch: None,
            logs: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Releases whose drive task is still running here.
    pub fn driving(&self) -> Vec<(String, String)> {
        self.drives
            .iter()
            .filter(|d| !d.task.is_finished())
            .map(|d| d.key.clone())
            .collect()
    }

    /// Stops every drive of this console at its next safe point (the drive's cancellation:
    /// the run keeps its recorded phase and the lease is released), waiting up to `within`
    /// for them; then says, per release, where each run was left and how to go on.
    pub async fn shutdown(&mut self, within: Duration) -> Vec<String> {
        let drives: Vec<Drive> = std::mem::take(&mut self.drives)
            .into_iter()
            .filter(|d| !d.task.is_finished())
            .collect();
        for d in &drives {
            d.cancel.cancel();
        }
        let deadline = tokio::time::Instant::now() + within;
        let mut out = Vec::new();
        for d in drives {
            let (service, env) = d.key;
            let mut task = d.task;
            let stopped = tokio::time::timeout_at(deadline, &mut task).await.is_ok();
            if !stopped {
                // A step that changes objects took too long to reach a safe point: the
                // record still holds its phase (each step is idempotent), the lease expires.
                task.abort();
            }
            out.push(left_line(&self.cfg, &service, &env, stopped).await);
        }
        out
    }

    pub fn run(&mut self, effect: Effect) {
        let cfg = self.cfg.clone();
        let tx = self.tx.clone();
        let renderer = self.renderer.clone();
        match effect {
            Effect::Quit => {}
            Effect::LoadPreview { gen, service, env } => {
                tokio::spawn(async move {
                    let progress = progress_to(&tx, gen);
                    let result = match renderer {
                        Ok(r) => load_preview(&cfg, &r, &service, &env, &progress).await,
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Msg::PreviewLoaded { gen, result }).await;
                });
            }
            Effect::LoadDiff {
                gen,
                service,
                env,
                against,
            } => {
                tokio::spawn(async move {
                    let result = match renderer {
                        Ok(r) => load_diff(&cfg, &r, &service, &env, against).await,
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Msg::DiffLoaded { gen, result }).await;
                });
            }
            Effect::LoadChanges {
                gen,
                service,
                env,
                sets,
            } => {
                tokio::spawn(async move {
                    let result = match renderer {
                        Ok(r) => load_changes(&cfg, &r, &service, &env, sets).await,
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Msg::ChangesLoaded { gen, result }).await;
                });
            }
            Effect::LoadHistory { gen, service, env } => {
                tokio::spawn(async move {
                    let result = load_history(&cfg, &service, &env).await;
                    let _ = tx.send(Msg::HistoryLoaded { gen, result }).await;
                });
            }
            Effect::LoadReleases { gen, env } => {
                tokio::spawn(async move {
                    let result = load_releases(&cfg, &env).await;
                    let _ = tx.send(Msg::ReleasesLoaded { gen, result }).await;
                });
            }
            Effect::WatchRelease { gen, service, env } => {
                if let Some(w) = self.watch.take() {
                    w.abort();
                }
                self.watch = Some(tokio::spawn(async move {
                    let stopped = |e: String| Msg::RunProgress {
                        gen,
                        kind: EventKind::Error,
                        text: format!("watch stopped: {e}"),
                    };
                    // One session (one client) for the rollout watch and the events.
                    let s = match Session::open(&cfg, &service, &env).await {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = tx.send(stopped(explain(e))).await;
                            return;
                        }
                    };
                    let watch = async {
                        if let Err(e) = watch_release(&s, gen, &tx).await {
                            let _ = tx.send(stopped(e)).await;
                        }
                    };
                    tokio::join!(watch, follow_events(&s, gen, &tx));
                }));
            }
            Effect::Launch {
                gen,
                service,
                env,
                strategy,
                sets,
                steps,
            } => {
                let key = (service.clone(), env.clone());
                let cancel = CancellationToken::new();
                let token = cancel.clone();
                let task = tokio::spawn(async move {
                    let result = match renderer {
                        Ok(r) => {
                            let what = LaunchRequest {
                                strategy,
                                sets,
                                steps,
                                cancel: token,
                            };
                            launch(&cfg, &r, &service, &env, what, gen, &tx).await
                        }
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Msg::RunEnded { gen, result }).await;
                });
                self.replace_drive(key, task, cancel);
            }
            Effect::StopLogs => {
                if let Some(l) = self.logs.take() {
                    l.abort();
                }
            }
            Effect::FollowLogs {
                gen,
                service,
                env,
                pod,
            } => {
                if let Some(l) = self.logs.take() {
                    l.abort();
                }
                self.logs = Some(tokio::spawn(async move {
                    let error = follow_logs(&cfg, &service, &env, &pod, gen, &tx)
                        .await
                        .err()
                        .or_else(|| Some("the log ended".into()));
                    let _ = tx
                        .send(Msg::LogLines {
                            gen,
                            lines: Vec::new(),
                            error,
                        })
                        .await;
                }));
            }
            Effect::Promote {
                gen,
                service,
                env,
                past_gate,
            } => {
                let opts = ActOptions {
                    past_gate,
                    ..Default::default()
                };
                self.act(Act::Promote, opts, gen, service, env)
            }
            Effect::Rollback {
                gen,
                service,
                env,
                to,
            } => self.act(Act::Rollback(to), ActOptions::default(), gen, service, env),
            Effect::Abort { gen, service, env } => {
                self.act(Act::Abort, ActOptions::default(), gen, service, env)
            }
        }
    }

    fn act(&mut self, act: Act, opts: ActOptions, gen: u64, service: String, env: String) {
        let cfg = self.cfg.clone();
        let tx = self.tx.clone();
        let key = (service.clone(), env.clone());
        // A drive of this console on the same release stops first: the action drives on.
        let cancel = CancellationToken::new();
        let opts = ActOptions {
            cancel: Some(cancel.clone()),
            ..opts
        };
        let task = tokio::spawn(async move {
            let result = drive_action(&cfg, act, &service, &env, opts, gen, &tx).await;
            let _ = tx.send(Msg::RunEnded { gen, result }).await;
        });
        self.replace_drive(key, task, cancel);
    }

    fn stop_drive(&mut self, key: &(String, String)) {
        self.drives.retain(|d| {
            if &d.key == key {
                d.cancel.cancel();
                d.task.abort();
                false
            } else {
                !d.task.is_finished()
            }
        });
    }

    fn replace_drive(
        &mut self,
        key: (String, String),
        task: JoinHandle<()>,
        cancel: CancellationToken,
    ) {
        self.stop_drive(&key);
        self.drives.push(Drive { key, task, cancel });
    }
}

/// A drive task of this console and the token that stops it at a safe point.
struct Drive {
    key: (String, String),
    task: JoinHandle<()>,
    cancel: CancellationToken,
}

/// Where a run was left when the console stopped driving it, and how to go on.
async fn left_line(cfg: &Config, service: &str, env: &str, stopped: bool) -> String {
    let resume =
        format!("resume with `helmdeck deploy {service} --env {env} --resume` or from the console");
    let report = match Session::open(cfg, service, env).await {
        Ok(s) => release::status(&s).await.map_err(explain),
        Err(e) => Err(explain(e)),
    };
    let lease = if stopped {
        "lease released"
    } else {
        "stopped mid-step, the lease expires on its own"
    };
    match report {
        Ok(r) => match r.status {
            Some(st) if !st.is_terminal() => {
                let step = r
                    .current_step
                    .map(|c| format!(" at step {} ({c})", r.phases.len().max(1)))
                    .unwrap_or_default();
                format!(
                    "{service}/{env} left {}{step}, {lease}; {resume}",
                    format!("{st:?}").to_lowercase()
                )
            }
            Some(st) => format!("{service}/{env}: the run ended ({st:?}) as the console quit"),
            None => format!("{service}/{env}: no run recorded"),
        },
        Err(e) => format!("{service}/{env}: the run stays in its recorded phase ({e}); {resume}"),
    }
}

/// Kubernetes Events the "recent events" pane keeps.
const RECENT_EVENTS: usize = 50;

/// Follows the Kubernetes Events about a release for the rollout view.
async fn follow_events(s: &Session, gen: u64, tx: &mpsc::Sender<Msg>) {
    let release = s.release().to_string();
    crate::cluster::events::follow(
        &s.cluster,
        &release,
        RECENT_EVENTS,
        |events| {
            let events = events
                .into_iter()
                .map(|e| KubeEvent {
                    warning: e.kind == "Warning",
                    reason: e.reason,
                    object: e.object,
                    message: e.message,
                    last_ms: e.last_ms,
                    count: e.count,
                })
                .collect();
            // Never blocks the watch: a full queue drops this report, the next one follows.
            !matches!(
                tx.try_send(Msg::ClusterEvents { gen, events }),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        },
        |e| tracing::debug!(error = %e, "event watch error; re-listing"),
    )
    .await;
}

/// Follows a pod's log (the last 200 lines, then live), in batches of what is ready.
async fn follow_logs(
    cfg: &Config,
    service: &str,
    env: &str,
    pod: &str,
    gen: u64,
    tx: &mpsc::Sender<Msg>,
) -> Result<(), String> {
    use futures::AsyncBufReadExt;
    let s = Session::open(cfg, service, env).await.map_err(explain)?;
    // Secrets never reach the screen: without the redactor, no log.
    let redactor = environment_redactor(&s)
        .await
        .map_err(|e| format!("the log stays hidden: {e}"))?;
    let api: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(s.cluster.client.clone(), &s.cluster.namespace);
    let params = kube::api::LogParams {
        follow: true,
        tail_lines: Some(200),
        ..Default::default()
    };
    let reader = api
        .log_stream(pod, &params)
        .await
        .map_err(|e| format!("cannot read the log of {pod}: {e}"))?;
    let mut chunks = std::pin::pin!(reader.lines().ready_chunks(200));
    while let Some(chunk) = chunks.next().await {
        let mut lines = Vec::with_capacity(chunk.len());
        for l in chunk {
            let l = l.map_err(|e| format!("log of {pod}: {e}"))?;
            lines.push(redactor.redact(&l).into_owned());
        }
        if tx
            .send(Msg::LogLines {
                gen,
                lines,
                error: None,
            })
            .await
            .is_err()
        {
            return Ok(());
        }
    }
    Ok(())
}

/// A redactor for every secret value of the session's environment: those from variables
/// and files, and those read from cluster Secrets.
async fn environment_redactor(s: &Session) -> Result<crate::domain::mask::Redactor, String> {
    use base64::Engine as _;
    let (local, in_cluster) = crate::config::secrets::resolve_local(&s.cfg, s.env_index, &s.env)
        .map_err(|e| e.to_string())?;
    let mut values: Vec<String> = local.into_iter().map(|r| r.value).collect();
    for c in in_cluster {
        let secret = s
            .cluster
            .get("v1", "Secret", None, &c.name)
            .await
            .map_err(|e| format!("cannot read Secret {}: {e}", c.name))?;
        if let Some(v) = secret
            .as_ref()
            .and_then(|x| x.pointer(&crate::domain::yaml::child_pointer("/data", &c.key)))
            .and_then(Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok())
        {
            values.push(v);
        }
    }
    Ok(crate::domain::mask::Redactor::new(values))
}

/// Which run action a task performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Past a pause, or past a paused gate when the operator confirmed its check (in
    /// [`ActOptions::past_gate`]).
    Promote,
    /// Of the active run, or to a past revision.
    Rollback(Option<u32>),
    Abort,
}

/// A value as one line of the Values tab: strings bare, anything else as compact JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// A sources progress callback that reports to the console as `SourceProgress` messages,
/// at most ten a second (and never waits: a full queue drops a report, the next one
/// carries the newer count).
fn progress_to(
    tx: &mpsc::Sender<Msg>,
    gen: u64,
) -> impl Fn(u64, Option<u64>) + Send + Sync + 'static {
    let tx = tx.clone();
    let last = std::sync::Mutex::new(None::<std::time::Instant>);
    move |done, total| {
        let Ok(mut last) = last.lock() else { return };
        let finished = total.is_some_and(|t| done >= t);
        if !finished && last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
            return;
        }
        *last = Some(std::time::Instant::now());
        let _ = tx.try_send(Msg::SourceProgress { gen, done, total });
    }
}

async fn load_preview(
    cfg: &Config,
    renderer: &Renderer,
    service: &str,
    env: &str,
    progress: crate::sources::Progress<'_>,
) -> Result<Preview, String> {
    let prepared = prepare::prepare(cfg, service, env, &Overrides::default(), progress)
        .await
        .map_err(|e| explain(e.into()))?;
    let rendered = renderer
        .render(&prepared.render_request())
        .await
        .map_err(|e| explain(EngineError::Prepare(e.into())))?;
    let red = &prepared.redactor;
    let objects = rendered
        .manifests
        .all()
        .map(|o| ObjectEntry {
            kind: o.kind.clone(),
            name: o.name.clone(),
            source: o.source.clone(),
            yaml: red
                .redact(&crate::domain::yaml::to_string(&cli::render::masked(o)))
                .into_owned(),
        })
        .collect();
    let values = prepared
        .effective
        .explain()
        .into_iter()
        .map(|e| ValueRow {
            key: e.key,
            value: red.redact(&value_text(&e.value)).into_owned(),
            layer: e.layer,
            source: e.source,
            line: e.line,
            secret: e.secret,
        })
        .collect();
    Ok(Preview {
        chart: format!("{}-{}", prepared.chart.name, prepared.chart.version),
        objects,
        values,
        warnings: prepared
            .warnings
            .iter()
            .map(|w| red.redact(w).into_owned())
            .collect(),
    })
}

async fn load_diff(
    cfg: &Config,
    renderer: &Renderer,
    service: &str,
    env: &str,
    revision: Option<u32>,
) -> Result<DiffView, String> {
    let s = Session::open(cfg, service, env).await.map_err(explain)?;
    let against = match revision {
        Some(n) => Against::Revision(n),
        None => Against::Live,
    };
    let (d, prepared, git_values) =
        inspect::diff_with_values(&s, renderer, &Overrides::default(), against)
            .await
            .map_err(explain)?;
    let red = &prepared.redactor;
    // Values files from git that moved to another commit come first: often they are why
    // the objects below changed.
    let mut lines: Vec<_> = git_values
        .iter()
        .map(|g| (LineTag::HunkHeader, g.line()))
        .collect();
    for e in d.changes() {
        lines.push((
            LineTag::FileHeader,
            format!(
                "{} {}",
                e.change.sigil(),
                crate::domain::diff::key_label(&e.key)
            ),
        ));
        if let Some(u) = &e.unified {
            for l in u.lines() {
                if l.tag == LineTag::FileHeader {
                    continue;
                }
                lines.push((l.tag, red.redact(l.text).into_owned()));
            }
        }
    }
    Ok(DiffView {
        added: d.counts.added,
        changed: d.counts.changed,
        removed: d.counts.removed,
        unchanged: d.counts.unchanged,
        lines,
        against: match revision {
            Some(n) => format!("r{n}"),
            None => "live".into(),
        },
    })
}

/// The launch dialog's Changes line: the configuration with `sets` (the overrides the
/// deploy would get) against the live cluster.
async fn load_changes(
    cfg: &Config,
    renderer: &Renderer,
    service: &str,
    env: &str,
    sets: Vec<String>,
) -> Result<crate::domain::diff::DiffCounts, String> {
    let s = Session::open(cfg, service, env).await.map_err(explain)?;
    let (d, _, _) = inspect::diff_with_values(&s, renderer, &set_overrides(sets), Against::Live)
        .await
        .map_err(explain)?;
    Ok(d.counts)
}

/// The launch dialog's `--set` expressions as the engine takes them (Helm's `--set`, typed).
fn set_overrides(sets: Vec<String>) -> Overrides {
    Overrides {
        files: Vec::new(),
        sets: sets
            .into_iter()
            .map(|expr| SetOverride {
                expr,
                string: false,
            })
            .collect(),
    }
}

async fn load_history(cfg: &Config, service: &str, env: &str) -> Result<Vec<HistoryEntry>, String> {
    let s = Session::open(cfg, service, env).await.map_err(explain)?;
    let rows = release::history(&s).await.map_err(explain)?;
    Ok(rows
        .into_iter()
        .map(|r| HistoryEntry {
            revision: r.revision,
            status: r.status,
            strategy: r.strategy,
            chart: r.chart,
            operator: r.operator,
            updated: r.updated,
            reason: r.reason,
        })
        .collect())
}

async fn load_releases(cfg: &Config, env: &str) -> Result<Vec<ReleaseRow>, String> {
    let mut out = Vec::new();
    for svc in &cfg.file.services {
        let s = Session::open(cfg, &svc.name, env).await.map_err(explain)?;
        let st = release::status(&s).await.map_err(explain)?;
        out.push(ReleaseRow {
            service: svc.name.clone(),
            revision: st.revision,
            live_revision: st.live_revision,
            status: st.status,
            strategy: st.strategy,
            current_step: st.current_step,
            lease_holder: st.lease_holder,
        });
    }
    Ok(out)
}

/// A progress callback that forwards a drive's events as messages. Never blocks: when the
/// queue is full an event is dropped (the live watch still shows where the run stands).
fn progress_sink(tx: mpsc::Sender<Msg>, gen: u64) -> impl Fn(Progress) + Send + Sync {
    let last_wait = Mutex::new(String::new());
    move |p: Progress| {
        let (kind, text) = match p {
            // The engine sends it once per step.
            Progress::StepStarted { index, step } => (
                EventKind::Step,
                format!("▸ [{}] {}", index + 1, step.describe()),
            ),
            Progress::StepEnded { step, outcome } => {
                let kind = if outcome.starts_with("failed") {
                    EventKind::Error
                } else {
                    EventKind::Info
                };
                (kind, format!("  {} — {outcome}", step.describe()))
            }
            Progress::Waiting { what } => {
                // Timed pauses count down every second; the header shows that.
                if what.starts_with("pause:") {
                    return;
                }
                let mut lw = last_wait.lock().unwrap_or_else(|e| e.into_inner());
                if *lw == what {
                    return;
                }
                *lw = what.clone();
                (EventKind::Info, format!("  … {what}"))
            }
            Progress::Health { workload, health } => {
                let kind = match &health {
                    Health::Failed { .. } => EventKind::Error,
                    Health::Current => EventKind::Done,
                    Health::InProgress { .. } => EventKind::Health,
                };
                (kind, format!("  {workload}: {}", health.summary()))
            }
            Progress::Reversing { reason } => {
                (EventKind::Reversing, format!("↩ going back: {reason}"))
            }
            Progress::Warning(w) => (EventKind::Warning, format!("warning: {w}")),
            // Timed pauses count down in the header.
            Progress::PauseTick {
                index,
                elapsed_ms,
                total_ms,
            } => {
                let _ = tx.try_send(Msg::PauseTick {
                    gen,
                    index,
                    elapsed_ms,
                    total_ms,
                });
                return;
            }
            Progress::GateStarted { .. } => (EventKind::Step, p.gate_line().unwrap_or_default()),
            Progress::GateMeasured {
                ref measurement, ..
            } => {
                use crate::domain::gate::Outcome;
                let kind = match measurement.outcome {
                    Outcome::Pass => EventKind::Done,
                    Outcome::Fail => EventKind::Error,
                    Outcome::Inconclusive => EventKind::Warning,
                };
                (kind, p.gate_line().unwrap_or_default())
            }
            Progress::GateEnded { ref verdict, .. } => {
                use crate::domain::gate::Verdict;
                let kind = match verdict {
                    Verdict::Passed => EventKind::Done,
                    Verdict::Failed { .. } => EventKind::Error,
                    Verdict::Inconclusive { .. } => EventKind::Warning,
                };
                (kind, p.gate_line().unwrap_or_default())
            }
            Progress::Unreachable { .. } => {
                (EventKind::Warning, p.connection_line().unwrap_or_default())
            }
            Progress::Reachable { .. } => {
                (EventKind::Info, p.connection_line().unwrap_or_default())
            }
        };
        let _ = tx.try_send(Msg::RunProgress { gen, kind, text });
    }
}

fn run_end(rec: &ReleaseRecord, end: DriveEnd) -> RunEnd {
    RunEnd {
        revision: Some(rec.revision),
        status: Some(rec.run.status),
        strategy: Some(rec.strategy),
        paused: end == DriveEnd::Paused,
        note: rec.run.reason.clone().unwrap_or_default(),
        at_ms: now_ms(),
    }
}

/// What the launch dialog asked for.
struct LaunchRequest {
    strategy: StrategyKind,
    sets: Vec<String>,
    steps: StepOverrides,
    cancel: CancellationToken,
}

async fn launch(
    cfg: &Config,
    renderer: &Renderer,
    service: &str,
    env: &str,
    what: LaunchRequest,
    gen: u64,
    tx: &mpsc::Sender<Msg>,
) -> Result<RunEnd, String> {
    let s = Session::open(cfg, service, env).await.map_err(explain)?;
    let LaunchRequest {
        strategy,
        sets,
        steps,
        cancel,
    } = what;
    let opts = DeployOptions {
        strategy: Some(strategy),
        steps,
        cancel: Some(cancel),
        overrides: set_overrides(sets),
        wait: false,
        resume: false,
    };
    let sink = progress_sink(tx.clone(), gen);
    match release::deploy(&s, renderer, &opts, &sink).await {
        Ok((rec, end)) => {
            cli::audit(
                &s,
                "deploy (console)",
                Some(rec.revision),
                format!("{:?}", rec.run.status),
            );
            Ok(run_end(&rec, end))
        }
        Err(e) => {
            cli::audit(&s, "deploy (console)", None, format!("error: {e}"));
            Err(explain(e))
        }
    }
}

async fn drive_action(
    cfg: &Config,
    act: Act,
    service: &str,
    env: &str,
    opts: ActOptions,
    gen: u64,
    tx: &mpsc::Sender<Msg>,
) -> Result<RunEnd, String> {
    let s = Session::open(cfg, service, env).await.map_err(explain)?;
    let sink = progress_sink(tx.clone(), gen);
    let (name, result) = match act {
        Act::Promote => (
            "promote (console)",
            release::promote(&s, &opts, &sink).await,
        ),
        Act::Rollback(to) => (
            "rollback (console)",
            release::rollback(&s, to, &opts, &sink).await,
        ),
        Act::Abort => ("abort (console)", release::abort(&s, &opts, &sink).await),
    };
    match result {
        Ok(ActionResult::Drove(rec, end)) => {
            cli::audit(
                &s,
                name,
                Some(rec.revision),
                format!("{:?}", rec.run.status),
            );
            Ok(run_end(&rec, end))
        }
        Ok(ActionResult::Requested { holder, revision }) => {
            cli::audit(&s, name, Some(revision), format!("requested from {holder}"));
            Ok(RunEnd {
                revision: Some(revision),
                status: None,
                strategy: None,
                paused: false,
                note: format!("asked {holder}, which drives the run, to do it"),
                at_ms: now_ms(),
            })
        }
        Err(e) => {
            cli::audit(&s, name, None, format!("error: {e}"));
            Err(explain(e))
        }
    }
}

fn label<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// Whether an object labelled as `label` tells is part of `release` (Helm's instance label
/// or helmdeck's release label).
fn of_release<'a>(label: impl Fn(&str) -> Option<&'a str>, release: &str) -> bool {
    label("app.kubernetes.io/instance") == Some(release)
        || label(crate::domain::strategy::LABEL_RELEASE) == Some(release)
}

fn track_of(v: &Value, name: &str) -> String {
    if let Some(t) = label(v, crate::domain::strategy::LABEL_TRACK) {
        return t.to_string();
    }
    if let Some(s) = label(v, crate::domain::strategy::LABEL_SLOT) {
        return s.to_string();
    }
    for suffix in ["canary", "blue", "green"] {
        if name.ends_with(&format!("-{suffix}")) {
            return suffix.to_string();
        }
    }
    "primary".into()
}

fn ms_of(ts: Option<&str>) -> u64 {
    ts.and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .map(|t| t.as_millisecond().max(0) as u64)
        .unwrap_or(0)
}

fn track_rank(t: &str) -> u8 {
    match t {
        "stable" | "primary" => 0,
        "canary" => 1,
        "blue" => 2,
        "green" => 3,
        _ => 4,
    }
}

/// One pod as the table shows it (a pure row of the pod's JSON).
pub fn pod_row(p: &Value) -> PodRow {
    let name = p
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let statuses = p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let containers = p
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(statuses.len()) as u32;
    let ready = statuses
        .iter()
        .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
        .count() as u32;
    let restarts = statuses
        .iter()
        .filter_map(|c| c.get("restartCount").and_then(Value::as_u64))
        .sum::<u64>() as u32;
    let reason = statuses.iter().find_map(|c| {
        c.pointer("/state/waiting/reason")
            .or_else(|| c.pointer("/state/terminated/reason"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let phase = if p.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating".to_string()
    } else {
        p.pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("Pending")
            .to_string()
    };
    PodRow {
        track: track_of(p, ""),
        created_ms: ms_of(
            p.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str),
        ),
        name,
        phase,
        ready: (ready, containers),
        restarts,
        reason,
    }
}

fn workload_bar(d: &Value) -> WorkloadBar {
    let name = d
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let n = |ptr: &str| d.pointer(ptr).and_then(Value::as_u64).unwrap_or(0) as u32;
    let template = d.pointer("/spec/template").cloned().unwrap_or_default();
    WorkloadBar {
        track: track_of(&template, &name),
        ready: n("/status/readyReplicas"),
        desired: n("/spec/replicas"),
        updated: n("/status/updatedReplicas"),
        name,
    }
}

/// A gate's measurements for its timeline line: per check, a mark for each measurement
/// (✓ pass, ✗ fail, ? inconclusive) and the last value — ` · smoke ✓✓✗ 500`.
fn gate_marks(run: &crate::domain::run::Run, started_ms: u64, ended_ms: Option<u64>) -> String {
    let Some(g) = run
        .gates
        .iter()
        .rev()
        .find(|g| g.started_ms >= started_ms && ended_ms.is_none_or(|e| g.started_ms <= e))
    else {
        return String::new();
    };
    g.checks
        .iter()
        .map(|c| {
            let marks: String = c
                .measurements
                .iter()
                .rev()
                .take(12)
                .rev()
                .map(|m| m.outcome.mark())
                .collect();
            let last = c
                .measurements
                .last()
                .and_then(|m| m.value.clone())
                .map(|v| format!(" {v}"))
                .unwrap_or_default();
            // Numbers a query measures read better as a trend.
            let trend = (c.kind == Some(crate::domain::gate::CheckKind::Prometheus))
                .then(|| {
                    let values: Vec<f64> =
                        c.measurements.iter().filter_map(|m| m.number()).collect();
                    crate::domain::gate::sparkline(&values[values.len().saturating_sub(12)..])
                })
                .flatten()
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            format!(" · {} {marks}{last}{trend}", c.name)
        })
        .collect()
}

/// Measurements per check the gate pane keeps (the record keeps them all).
const GATE_MEASUREMENTS_SHOWN: usize = 20;

/// The run of a record as the timeline shows it: what was done, what runs, what is left.
pub fn run_view(rec: &ReleaseRecord) -> RunView {
    let run = &rec.run;
    let mut steps: Vec<StepRow> = run
        .phases
        .iter()
        .map(|p| StepRow {
            text: match &p.step {
                Step::Verify { .. } => format!(
                    "{}{}",
                    p.step.describe(),
                    gate_marks(run, p.started_ms, p.ended_ms)
                ),
                other => other.describe(),
            },
            state: match (&p.ended_ms, &p.outcome) {
                (None, _) => StepState::Current,
                (Some(_), Some(o)) if o.starts_with("failed") => StepState::Failed,
                _ => StepState::Done,
            },
            outcome: p.outcome.clone(),
        })
        .collect();
    let open = run.phases.last().is_some_and(|p| p.ended_ms.is_none());
    if !run.status.is_terminal() {
        let from = if open { run.cursor + 1 } else { run.cursor };
        steps.extend(run.plan.iter().skip(from).map(|s| StepRow {
            text: s.describe(),
            state: StepState::Pending,
            outcome: None,
        }));
    }
    let pause_until_ms = match (run.current(), run.current_started_ms()) {
        (
            Some(Step::Pause {
                duration_ms: Some(ms),
            }),
            Some(started),
        ) => Some(started + ms),
        _ => None,
    };
    RunView {
        revision: rec.revision,
        strategy: rec.strategy,
        status: run.status,
        steps,
        reason: run.reason.clone(),
        reverse: run.reverse.map(|r| {
            match r {
                Reverse::AutoRollback => "auto-rollback",
                Reverse::Rollback => "rollback",
                Reverse::Abort => "abort",
            }
            .to_string()
        }),
        started_ms: run.phases.first().map(|p| p.started_ms).unwrap_or(0),
        pause_until_ms,
        operator: rec.operator.clone(),
        gate: run.gates.last().map(|g| {
            let mut g = g.clone();
            for c in &mut g.checks {
                let extra = c.measurements.len().saturating_sub(GATE_MEASUREMENTS_SHOWN);
                c.measurements.drain(..extra);
            }
            g
        }),
        paused_gate_check: run.paused_gate_check().map(str::to_string),
    }
}

/// What the namespace watch shows of one release.
fn snapshot_of(watch: &NamespaceWatch, release: &str) -> RolloutSnapshot {
    let mut pods: Vec<PodRow> = watch
        .pods
        .state()
        .iter()
        .filter(|p| of_release(|k| p.label(k), release))
        .map(|p| pod_row(&p.to_value()))
        .collect();
    pods.sort_by(|a, b| {
        track_rank(&a.track)
            .cmp(&track_rank(&b.track))
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut workloads: Vec<WorkloadBar> = watch
        .deployments
        .state()
        .iter()
        .filter(|d| {
            let labels = d.metadata.labels.as_ref();
            of_release(|k| labels?.get(k).map(String::as_str), release)
        })
        .map(|d| workload_bar(&d.to_value()))
        .collect();
    workloads.sort_by(|a, b| a.name.cmp(&b.name));
    RolloutSnapshot {
        pods,
        workloads,
        run: None,
        run_read_ms: 0,
        lease_holder: None,
        watch_error: watch.errors.borrow().clone(),
    }
}

/// Follows a release for the rollout view: pods and Deployments from the namespace watch
/// (no polling), the run from its record and the lease holder re-read at most once a second.
async fn watch_release(s: &Session, gen: u64, tx: &mpsc::Sender<Msg>) -> Result<(), String> {
    let release = s.release().to_string();
    let mut watch = NamespaceWatch::start(&s.cluster).await;
    let mut run: Option<RunView> = None;
    let mut run_read_ms = 0;
    let mut holder: Option<String> = None;
    let mut last_read: Option<std::time::Instant> = None;
    loop {
        if last_read.is_none_or(|t| t.elapsed() >= Duration::from_millis(900)) {
            let reading = now_ms();
            match records::list(&s.cluster, &release).await {
                Ok((recs, _)) => {
                    run = recs.last().map(run_view);
                    run_read_ms = reading;
                }
                Err(e) => tracing::debug!(error = %e, "cannot read release records"),
            }
            holder = lease::holder_of(&s.cluster, &release)
                .await
                .ok()
                .flatten()
                .map(|h| h.0);
            last_read = Some(std::time::Instant::now());
        }
        let mut snapshot = snapshot_of(&watch, &release);
        snapshot.run = run.clone();
        snapshot.run_read_ms = run_read_ms;
        snapshot.lease_holder = holder.clone();
        if tx
            .send(Msg::RolloutUpdated {
                gen,
                snapshot: Box::new(snapshot),
            })
            .await
            .is_err()
        {
            return Ok(());
        }
        watch.changed(Duration::from_secs(1)).await;
        // Coalesce bursts of pod events into one snapshot.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn now_ms() -> u64 {
    crate::engine::now_ms()
}

fn clock() -> String {
    let now = k8s_openapi::jiff::Zoned::now();
    now.strftime("%H:%M:%S").to_string()
}

/// Applies a message and hands its effects to the executor.
pub fn dispatch(state: &mut State, exec: &mut Executor, msg: Msg) {
    for effect in update::update(state, msg) {
        exec.run(effect);
    }
}

/// The loop: draw, wait for an input event, a message or the clock, update, repeat.
/// Ends when the state asks to quit, the input ends, or SIGTERM arrives.
pub async fn run_loop<B: Backend, I: InputSource>(
    terminal: &mut Terminal<B>,
    mut input: I,
    state: &mut State,
    exec: &mut Executor,
    rx: &mut mpsc::Receiver<Msg>,
    theme: Theme,
) -> Result<(), String> {
    for effect in update::init(state) {
        exec.run(effect);
    }
    dispatch(
        state,
        exec,
        Msg::Tick {
            now_ms: now_ms(),
            clock: clock(),
        },
    );
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
    loop {
        terminal
            .draw(|f| crate::tui::ui::draw(state, &theme, f))
            .map_err(|e| format!("cannot draw: {e}"))?;
        if state.quit {
            return Ok(());
        }
        // A debounce (the launch dialog's --set) wants a tick before the regular one.
        let wake =
            update::wake_at(state).map(|at| Duration::from_millis(at.saturating_sub(now_ms())));
        tokio::select! {
            ev = input.next() => match ev {
                Some(InputEvent::Key(k)) => dispatch(state, exec, Msg::Key(k)),
                Some(InputEvent::Resize(w, h)) => dispatch(state, exec, Msg::Resize(w, h)),
                None => return Ok(()),
            },
            Some(msg) = rx.recv() => dispatch(state, exec, msg),
            _ = ticker.tick() => dispatch(state, exec, Msg::Tick { now_ms: now_ms(), clock: clock() }),
            _ = tokio::time::sleep(wake.unwrap_or(Duration::from_secs(3600))), if wake.is_some() => {
                dispatch(state, exec, Msg::Tick { now_ms: now_ms(), clock: clock() })
            }
            _ = term.recv() => return Ok(()),
        }
        while let Ok(msg) = rx.try_recv() {
            dispatch(state, exec, msg);
        }
    }
}

/// Runs the console on a real terminal; restores it on exit, error and panic.
async fn on_terminal(cfg: Config, setup: Option<DemoSetup>) -> CmdResult {
    let theme = Theme::from_env();
    // A bad keymap stops here, before the terminal is taken over.
    let keymap = crate::tui::keymap::Keymap::load(user_keymap_path().as_deref()).map_err(|e| {
        Failure::new(
            Exit::BadInput,
            format!("{}:{}: {}", e.file, e.line, e.message),
            e.hint,
        )
    })?;
    let (tx, mut rx) = mpsc::channel(CHANNEL);
    let mut state = state_from_config(&cfg);
    state.color = theme.color;
    state.keymap = Arc::new(keymap);
    let mut exec = Executor::new(cfg.clone(), tx.clone());
    let mut terminal = ratatui::try_init().map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot open the terminal: {e}"),
            "run helmdeck in an interactive terminal (headless commands work anywhere)",
        )
    })?;
    // The first revisions deploy behind the first frame.
    let demo_task = setup.map(|_| {
        tokio::spawn(async move {
            demo_deploys(&cfg, &demo_targets(&cfg), &tx).await;
        })
    });
    let result = run_loop(
        &mut terminal,
        TerminalInput::new(),
        &mut state,
        &mut exec,
        &mut rx,
        theme,
    )
    .await;
    ratatui::restore();
    if let Some(t) = demo_task {
        t.abort();
    }
    if !exec.driving().is_empty() {
        eprintln!("stopping the console's drives at a safe point…");
    }
    for line in exec.shutdown(Duration::from_secs(20)).await {
        eprintln!("{line}");
    }
    drop(exec);
    result.map_err(|e| Failure::new(Exit::Failed, e, "see the log in the data directory"))?;
    Ok(Exit::Done)
}

/// The user's keymap file: `$HELMDECK_KEYMAP`, else `<config dir>/keymap.yaml`.
pub fn user_keymap_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HELMDECK_KEYMAP").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    directories::ProjectDirs::from("io", "helmdeck", "helmdeck")
        .map(|d| d.config_dir().join("keymap.yaml"))
}

/// `helmdeck [--config FILE]`: the console on a configuration.
pub async fn console(config: Option<&Path>) -> CmdResult {
    let cfg = crate::config::discover(config)?;
    on_terminal(cfg, None).await
}

/// What `helmdeck demo` set up before the console opens.
#[derive(Debug, Clone)]
pub struct DemoSetup {
    /// Kubeconfig of the simulated cluster (context `helmdeck-sim`).
    pub kubeconfig: PathBuf,
}

/// The demo configuration: `$HELMDECK_DEMO_CONFIG`, `./assets/demo/helmdeck.yaml`, or the
/// one of the source tree helmdeck was built from.
pub fn demo_config_path() -> PathBuf {
    if let Some(p) = std::env::var_os("HELMDECK_DEMO_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("assets/demo/helmdeck.yaml");
    if local.is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/helmdeck.yaml")
}

/// Loads the demo configuration with every environment pointed at the simulated cluster.
pub fn demo_config(kubeconfig: &Path) -> Result<Config, Failure> {
    let mut cfg = Config::load(&demo_config_path())?;
    for e in &mut cfg.file.environments {
        e.cluster.kubeconfig = Some(kubeconfig.display().to_string());
        e.cluster.context = Some("helmdeck-sim".into());
    }
    Ok(cfg)
}

/// The demo's secret from the environment, with a fake value when unset.
pub fn demo_secret_env() {
    if std::env::var_os("DEMO_DB_PASSWORD").is_none_or(|v| v.is_empty()) {
        // Set before any task reads it; the value is a placeholder, not a secret.
        std::env::set_var("DEMO_DB_PASSWORD", "demo-db-password-not-secret");
    }
}

/// Every service in every environment: what the demo deploys first.
pub fn demo_targets(cfg: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in &cfg.file.environments {
        for svc in &cfg.file.services {
            out.push((svc.name.clone(), e.name.clone()));
        }
    }
    out
}

/// Creates the namespaces of `targets` and deploys their first revision, one after the
/// other, reporting on the status line (and asking for the release list to be reloaded).
/// Returns how many failed.
pub async fn demo_deploys(
    cfg: &Config,
    targets: &[(String, String)],
    tx: &mpsc::Sender<Msg>,
) -> usize {
    let notice = |text: String, error: bool| {
        let _ = tx.try_send(Msg::Notice { text, error });
    };
    let helm = match Helm::locate(cfg.file.helm.binary.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            notice(format!("demo: {e} — {}", e.hint()), true);
            return targets.len();
        }
    };
    let renderer = Renderer::new(helm);
    let mut namespaces_done: Vec<String> = Vec::new();
    let mut failures = 0;
    for (svc, env) in targets {
        if !namespaces_done.contains(env) {
            if let Err(e) = create_namespace(cfg, svc, env).await {
                notice(format!("demo: namespace for {env}: {e}"), true);
                return targets.len();
            }
            namespaces_done.push(env.clone());
        }
        notice(format!("demo: deploying {svc} to {env}…"), false);
        let result = async {
            let s = Session::open(cfg, svc, env).await?;
            release::deploy(&s, &renderer, &DeployOptions::default(), &|_| {}).await
        }
        .await;
        if let Err(e) = result {
            failures += 1;
            notice(format!("demo: {svc} in {env}: {}", explain(e)), true);
        }
        let _ = tx.try_send(Msg::Reload);
    }
    if failures == 0 {
        notice(
            "demo ready: every service runs its first revision — pick one and press d (try --set image.tag=1.3.0-crash on checkout)".into(),
            false,
        );
    }
    failures
}

async fn create_namespace(cfg: &Config, service: &str, env: &str) -> Result<(), String> {
    let s = Session::open(cfg, service, env).await.map_err(explain)?;
    let ns = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": s.cluster.namespace },
    });
    s.cluster
        .apply(&ns)
        .await
        .map(|_| ())
        .map_err(|e| explain(e.into()))
}

/// `helmdeck demo`, once the simulated cluster runs: the console on the demo configuration.
pub async fn demo(setup: DemoSetup) -> CmdResult {
    demo_secret_env();
    let cfg = demo_config(&setup.kubeconfig)?;
    on_terminal(cfg, Some(setup)).await
}
