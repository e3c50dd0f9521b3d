//! One async function per effect of the console: the I/O only (sources, Helm, the cluster,
//! the engine). What they fetch is shaped for the screen by the pure `tui::rows`; what
//! fails comes back as a typed [`Problem`]. Every job finds its cluster client through
//! the shared [`Sessions`].

use crate::cli::Failure;
use crate::cluster::watch::NamespaceWatch;
use crate::cluster::{lease, records};
use crate::domain::act::Act;
use crate::domain::mask::Redactor;
use crate::engine::drive::{DriveEnd, Progress};
use crate::engine::inspect::{self, Against};
use crate::engine::prepare::{self, Overrides};
use crate::engine::release::{self, ActOptions, ActionResult};
use crate::engine::sessions::Sessions;
use crate::engine::{EngineError, Session};
use crate::render::Renderer;
use crate::tui::msg::RunEnd;
use crate::tui::rows;
use crate::tui::state::{
    DiffView, EventKind, HistoryEntry, KubeEvent, PodRow, Preview, Problem, ProblemKind,
    ReleaseRow, RolloutSnapshot, RunView, WorkloadBar,
};
use crate::tui::Msg;
use futures::{StreamExt, TryStreamExt};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;

/// Releases whose status is read at once when the release list loads: enough to load 200
/// services in a blink, few enough that an API server's flow control (429) stays quiet.
pub const RELEASES_AT_ONCE: usize = 8;

/// Kubernetes Events the "recent events" pane keeps.
const RECENT_EVENTS: usize = 50;

/// A failure as the console shows it; the kind follows the exit code the CLI would give.
pub fn problem(f: Failure) -> Problem {
    use crate::cli::Exit;
    let kind = match f.exit {
        Exit::BadInput => ProblemKind::Input,
        Exit::Unreachable => ProblemKind::Unreachable,
        Exit::Locked => ProblemKind::Locked,
        Exit::Done | Exit::Failed | Exit::Paused => ProblemKind::Failed,
    };
    Problem::new(kind, f.message, f.hint)
}

/// An engine error on `env`: the shared client is dropped when the API server refused its
/// credentials, and the error becomes a problem (redacted when a redactor is known).
fn engine_problem(
    sessions: &Sessions,
    env: &str,
    e: EngineError,
    red: Option<&Redactor>,
) -> Problem {
    sessions.settle::<()>(env, &Err(e.clone()));
    let mut p = problem(e.into());
    if let Some(r) = red {
        p.message = r.redact(&p.message).into_owned();
        p.hint = r.redact(&p.hint).into_owned();
    }
    p
}

async fn open(sessions: &Sessions, service: &str, env: &str) -> Result<Session, Problem> {
    sessions
        .open(service, env)
        .await
        .map_err(|e| engine_problem(sessions, env, e, None))
}

/// A sources progress callback that reports to the console as `SourceProgress` messages,
/// at most ten a second (and never waits: a full queue drops a report, the next one
/// carries the newer count).
pub fn progress_to(
    tx: &mpsc::Sender<Msg>,
    gen: u64,
) -> impl Fn(u64, Option<u64>) + Send + Sync + 'static {
    let tx = tx.clone();
    let last = Mutex::new(None::<std::time::Instant>);
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

/// The Manifests and Values tabs: the chart rendered with the environment's values.
pub async fn preview(
    sessions: &Sessions,
    renderer: &Renderer,
    service: &str,
    env: &str,
    progress: crate::sources::Progress<'_>,
) -> Result<Preview, Problem> {
    let cfg = sessions.config();
    let prepared = prepare::prepare(cfg, service, env, &Overrides::default(), progress)
        .await
        .map_err(|e| problem(e.into()))?;
    let red = &prepared.redactor;
    let rendered = renderer
        .render(&prepared.render_request())
        .await
        .map_err(|e| engine_problem(sessions, env, EngineError::Prepare(e.into()), Some(red)))?;
    Ok(rows::preview(
        format!("{}-{}", prepared.chart.name, prepared.chart.version),
        rendered.manifests.all(),
        prepared.effective.explain(),
        &prepared.warnings,
        red,
    ))
}

/// The Diff tab: the chart rendered now against the live cluster or a recorded revision.
pub async fn diff(
    sessions: &Sessions,
    renderer: &Renderer,
    service: &str,
    env: &str,
    revision: Option<u32>,
) -> Result<DiffView, Problem> {
    let s = open(sessions, service, env).await?;
    let against = match revision {
        Some(n) => Against::Revision(n),
        None => Against::Live,
    };
    let (d, prepared, git_values) =
        inspect::diff_with_values(&s, renderer, &Overrides::default(), against)
            .await
            .map_err(|e| engine_problem(sessions, env, e, None))?;
    let moved = git_values.iter().map(|g| g.line()).collect();
    Ok(rows::diff_view(&d, moved, &prepared.redactor, revision))
}

/// The launch dialog's Changes line: the configuration with `sets` (the overrides the
/// deploy would get) against the live cluster.
pub async fn changes(
    sessions: &Sessions,
    renderer: &Renderer,
    service: &str,
    env: &str,
    sets: Vec<String>,
) -> Result<crate::domain::diff::DiffCounts, Problem> {
    let s = open(sessions, service, env).await?;
    let (d, _, _) = inspect::diff_with_values(&s, renderer, &Overrides::sets(sets), Against::Live)
        .await
        .map_err(|e| engine_problem(sessions, env, e, None))?;
    Ok(d.counts)
}

/// The History tab: the release's kept revisions.
pub async fn history(
    sessions: &Sessions,
    service: &str,
    env: &str,
) -> Result<Vec<HistoryEntry>, Problem> {
    let s = open(sessions, service, env).await?;
    let rows = release::history(&s)
        .await
        .map_err(|e| engine_problem(sessions, env, e, None))?;
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

/// The Releases section: where every service's newest run stands in `env`, read
/// [`RELEASES_AT_ONCE`] at a time on the environment's one client.
pub async fn releases(sessions: &Sessions, env: &str) -> Result<Vec<ReleaseRow>, Problem> {
    let services: Vec<String> = sessions
        .config()
        .file
        .services
        .iter()
        .map(|s| s.name.clone())
        .collect();
    // Connect once before the fan-out (and fail once when the cluster is away).
    sessions
        .cluster(env)
        .await
        .map_err(|e| engine_problem(sessions, env, e, None))?;
    futures::stream::iter(services)
        .map(|service| async move {
            let s = open(sessions, &service, env).await?;
            let st = release::status(&s)
                .await
                .map_err(|e| engine_problem(sessions, env, e, None))?;
            Ok::<_, Problem>(ReleaseRow {
                service,
                revision: st.revision,
                live_revision: st.live_revision,
                status: st.status,
                strategy: st.strategy,
                current_step: st.current_step,
                lease_holder: st.lease_holder,
            })
        })
        .buffered(RELEASES_AT_ONCE)
        .try_collect()
        .await
}

/// What the namespace watch shows of one release.
fn snapshot_of(watch: &NamespaceWatch, release: &str) -> RolloutSnapshot {
    let mut pods: Vec<PodRow> = watch
        .pods
        .state()
        .iter()
        .filter(|p| rows::of_release(|k| p.label(k), release))
        .map(|p| rows::pod_row(&p.to_value()))
        .collect();
    rows::sort_pods(&mut pods);
    let mut workloads: Vec<WorkloadBar> = watch
        .deployments
        .state()
        .iter()
        .filter(|d| {
            let labels = d.metadata.labels.as_ref();
            rows::of_release(|k| labels?.get(k).map(String::as_str), release)
        })
        .map(|d| rows::workload_bar(&d.to_value()))
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

/// The rollout view's watch: pods, Deployments, the run and the Kubernetes Events of a
/// release, on one session; says `watch stopped` when it cannot go on.
pub async fn watch(
    sessions: &Sessions,
    service: &str,
    env: &str,
    gen: u64,
    tx: &mpsc::Sender<Msg>,
) {
    let stopped = |e: String| Msg::RunProgress {
        gen,
        kind: EventKind::Error,
        text: format!("watch stopped: {e}"),
    };
    let s = match open(sessions, service, env).await {
        Ok(s) => s,
        Err(p) => {
            let _ = tx.send(stopped(p.text())).await;
            return;
        }
    };
    let watch = async {
        if let Err(e) = watch_release(&s, gen, tx).await {
            let _ = tx.send(stopped(e)).await;
        }
    };
    tokio::join!(watch, follow_events(&s, gen, tx));
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
            let reading = crate::engine::now_ms();
            match records::list(&s.cluster, &release).await {
                Ok((recs, _)) => {
                    run = recs.last().map(rows::run_view);
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
pub async fn follow_logs(
    sessions: &Sessions,
    service: &str,
    env: &str,
    pod: &str,
    gen: u64,
    tx: &mpsc::Sender<Msg>,
) -> Result<(), String> {
    use futures::AsyncBufReadExt;
    let s = open(sessions, service, env).await.map_err(|p| p.text())?;
    // Secrets never reach the screen: without the redactor, no log.
    let redactor = crate::engine::environment_redactor(&s)
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

/// A progress callback that forwards a drive's events as messages, redacted. Never blocks:
/// when the queue is full an event is dropped (the live watch still shows where the run
/// stands).
fn progress_sink(
    tx: mpsc::Sender<Msg>,
    gen: u64,
    red: Redactor,
) -> impl Fn(Progress) + Send + Sync {
    let last_wait = Mutex::new(String::new());
    move |p: Progress| {
        match &p {
            Progress::PauseTick {
                index,
                elapsed_ms,
                total_ms,
            } => {
                let _ = tx.try_send(Msg::PauseTick {
                    gen,
                    index: *index,
                    elapsed_ms: *elapsed_ms,
                    total_ms: *total_ms,
                });
                return;
            }
            Progress::Waiting { what } => {
                let mut lw = last_wait.lock().unwrap_or_else(|e| e.into_inner());
                if *lw == *what {
                    return;
                }
                what.clone_into(&mut lw);
            }
            _ => {}
        }
        if let Some((kind, text)) = rows::progress_event(&p) {
            let text = red.redact(&text).into_owned();
            let _ = tx.try_send(Msg::RunProgress { gen, kind, text });
        }
    }
}

/// Deploy, promote, roll back or abort through the engine's one action path (which
/// writes the audit line, surface `console`), driven here until the run ends or pauses —
/// or asked of the process that drives it.
pub async fn act(
    sessions: &Sessions,
    act: Act,
    service: &str,
    env: &str,
    opts: &ActOptions,
    gen: u64,
    tx: &mpsc::Sender<Msg>,
) -> Result<RunEnd, Problem> {
    let s = open(sessions, service, env).await?;
    let red = crate::engine::environment_redactor(&s)
        .await
        .unwrap_or_default();
    let sink = progress_sink(tx.clone(), gen, red.clone());
    match release::act(&s, act, opts, &sink).await {
        Ok(ActionResult::Drove(rec, end)) => Ok(rows::run_end(
            &rec,
            end == DriveEnd::Paused,
            crate::engine::now_ms(),
        )),
        Ok(ActionResult::Requested { holder, revision }) => Ok(RunEnd {
            revision: Some(revision),
            status: None,
            strategy: None,
            paused: false,
            note: format!("asked {holder}, which drives the run, to do it"),
            at_ms: crate::engine::now_ms(),
        }),
        Ok(ActionResult::Tested(r)) => Ok(RunEnd {
            revision: Some(r.revision),
            status: None,
            strategy: None,
            paused: false,
            note: match (&r.reason, r.passed) {
                (_, true) => format!("the tests of r{} passed", r.revision),
                (Some(why), false) => format!("the tests of r{} failed: {why}", r.revision),
                (None, false) => format!("the tests of r{} failed", r.revision),
            },
            at_ms: crate::engine::now_ms(),
        }),
        Err(e) => Err(engine_problem(sessions, env, e, Some(&red))),
    }
}

/// Where a run was left when the console stopped driving it, and how to go on.
pub async fn left_line(sessions: &Sessions, service: &str, env: &str, stopped: bool) -> String {
    let resume =
        format!("resume with `helmdeck deploy {service} --env {env} --resume` or from the console");
    let report = match open(sessions, service, env).await {
        Ok(s) => release::status(&s)
            .await
            .map_err(|e| engine_problem(sessions, env, e, None).text()),
        Err(p) => Err(p.text()),
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
