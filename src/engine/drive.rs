//! Drives a run: executes the step under the cursor, turns what happened into an event for
//! the run's state machine, and persists the record after every transition (its lease is
//! kept by the keeper task of `cluster::lease`; every write goes through its fence). Waits
//! are driven by watches, not polling. Requests other terminals leave for the run
//! (`cluster::requests`: promote, abort, rollback) are picked up between and during steps.

use super::health::{Judge, Watched};
use super::objects::{self, RevisionObjects};
use super::{now_ms, now_rfc3339, EngineError, Session};
use crate::cluster::requests::{self, Ask};
use crate::cluster::watch::NamespaceWatch;
use crate::cluster::{records, ClusterError};
use crate::domain::health::Health;
use crate::domain::record::ReleaseRecord;
use crate::domain::run::{Event, Outcome, ReverseInput, Status, Step};
use std::collections::HashMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use crate::domain::progress::Progress;

/// How a drive ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveEnd {
    Finished(Status),
    /// Stopped at a manual pause or a paused gate (exit 10).
    Paused,
    /// The caller cancelled: the run holds its recorded phase; any helmdeck can resume it.
    Stopped,
}

#[derive(Debug, Clone, Default)]
pub struct DriveOptions {
    /// Keep driving through manual pauses, waiting for a promote from anywhere.
    pub wait: bool,
    /// Stop driving at the next safe point: between steps, or while waiting (health, pauses,
    /// gates between measurements). A step that changes objects is never cut in half.
    pub cancel: Option<CancellationToken>,
}

/// Resolves when `cancel` is cancelled (never without one).
pub async fn cancelled(cancel: &Option<CancellationToken>) {
    match cancel {
        Some(c) => c.cancelled().await,
        None => std::future::pending().await,
    }
}

fn is_cancelled(cancel: &Option<CancellationToken>) -> bool {
    cancel.as_ref().is_some_and(CancellationToken::is_cancelled)
}

pub fn reverse_input(s: &Session, rec: &ReleaseRecord) -> ReverseInput {
    ReverseInput {
        strategy: rec.strategy,
        previous: rec.previous,
        auto_rollback: s.env.policy.auto_rollback,
        live_before: rec.live_before,
        previous_hooks: rec.helm.previous_hooks.clone(),
    }
}

/// Takes the requests other terminals of this operator left for this run (see
/// `cluster::requests`), marking them taken in the record. An abort or rollback is the event
/// to apply; a promote is remembered until the run reaches a pause or a paused gate.
pub(super) async fn pick_up_requests(
    s: &Session,
    rec: &mut ReleaseRecord,
) -> Result<Option<Event>, EngineError> {
    if rec.run.abort_requested {
        return Ok(Some(Event::Abort));
    }
    if rec.run.rollback_requested {
        return Ok(Some(Event::Rollback));
    }
    let pending =
        requests::pending(&s.cluster, &rec.release, rec.revision, rec.run.last_request).await?;
    for r in pending {
        rec.run.last_request = r.id;
        match r.ask {
            Ask::Abort => return Ok(Some(Event::Abort)),
            Ask::Rollback => return Ok(Some(Event::Rollback)),
            Ask::Promote { full, past_gate } => {
                if let Err(e) = super::release::confirm_past_gate(rec, past_gate.as_deref()) {
                    tracing::warn!(by = %r.by, error = %e, "promote request refused");
                    continue;
                }
                rec.run.promote_requested = true;
                rec.run.promote_full = full;
            }
        }
    }
    Ok(None)
}

/// What the operator asked of a paused run: an abort or rollback left in the record, or a
/// promote (from the record or this process).
async fn operator_request(
    s: &Session,
    rec: &mut ReleaseRecord,
) -> Result<Option<Event>, EngineError> {
    if let Some(ev) = pick_up_requests(s, rec).await? {
        return Ok(Some(ev));
    }
    Ok(rec.run.promote_requested.then_some(Event::Promote {
        full: rec.run.promote_full,
    }))
}

/// A run paused for the operator: without `wait` the drive stops here (the record saved);
/// with it, waits a little — for a watch change when the paused step also keeps an eye on
/// the workloads, else a second — and the caller looks again (None).
async fn hold(
    s: &Session,
    rec: &mut ReleaseRecord,
    opts: &DriveOptions,
    watch: Option<&mut NamespaceWatch>,
    what: &str,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Option<DriveEnd>, EngineError> {
    if !opts.wait {
        records::put(&s.cluster, rec).await?;
        return Ok(Some(DriveEnd::Paused));
    }
    progress(Progress::Waiting { what: what.into() });
    let wake = async {
        match watch {
            Some(w) => w.changed(Duration::from_secs(1)).await,
            None => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    tokio::select! {
        _ = cancelled(&opts.cancel) => {}
        _ = wake => {}
    }
    Ok(None)
}

/// Drives `rec` until it ends, or until a manual pause when not waiting. While the API
/// server does not answer, the drive waits and goes on from where it was (every step is
/// idempotent; its writes stay inside the lease term).
pub async fn drive(
    s: &Session,
    rec: &mut ReleaseRecord,
    opts: DriveOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<DriveEnd, EngineError> {
    let mut away: Option<std::time::Instant> = None;
    loop {
        match drive_once(s, rec, &opts, progress).await {
            Err(EngineError::Cluster(e)) if e.is_unreachable() => {
                if away.is_none() {
                    away = Some(std::time::Instant::now());
                    progress(Progress::Unreachable {
                        detail: e.to_string(),
                    });
                }
                // Wait until it answers again (or the caller stops the drive).
                loop {
                    tokio::select! {
                        _ = cancelled(&opts.cancel) => return Ok(DriveEnd::Stopped),
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    if s.cluster.reachable().await {
                        break;
                    }
                }
                let after = away.take().map(|a| a.elapsed()).unwrap_or_default();
                progress(Progress::Reachable {
                    after_ms: after.as_millis() as u64,
                });
            }
            other => return other,
        }
    }
}

async fn drive_once(
    s: &Session,
    rec: &mut ReleaseRecord,
    opts: &DriveOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<DriveEnd, EngineError> {
    let mut watch = NamespaceWatch::start(&s.cluster).await;
    let mut revisions: HashMap<u32, RevisionObjects> = HashMap::new();
    let ctx = reverse_input(s, rec);
    // (cursor, phases) of the step last announced: a step that waits loops here without
    // starting again.
    let mut announced: Option<(usize, usize)> = None;
    let mut watched_by_step: Option<((usize, usize), Vec<String>)> = None;
    loop {
        if is_cancelled(&opts.cancel) {
            records::put(&s.cluster, rec).await?;
            return Ok(DriveEnd::Stopped);
        }
        let Some(step) = rec.run.current().cloned() else {
            return Ok(DriveEnd::Finished(rec.run.status));
        };
        let index = rec.run.cursor;
        if announced != Some((index, rec.run.phases.len())) {
            announced = Some((index, rec.run.phases.len()));
            progress(Progress::StepStarted {
                index,
                step: step.clone(),
            });
        }
        let event = match &step {
            Step::Pause { duration_ms } => {
                let watched =
                    watched_workloads(s, rec, index, &mut revisions, &mut watched_by_step).await?;
                if let Some(reason) = failing(&watch, &watched) {
                    Event::StepFailed { reason }
                } else if let Some(ev) = operator_request(s, rec).await? {
                    ev
                } else {
                    match duration_ms {
                        Some(ms) => {
                            let started = rec.run.current_started_ms().unwrap_or_else(now_ms);
                            let until = started + ms;
                            let now = now_ms();
                            if now >= until {
                                Event::StepDone
                            } else {
                                progress(Progress::PauseTick {
                                    index,
                                    elapsed_ms: now.saturating_sub(started),
                                    total_ms: *ms,
                                });
                                tokio::select! {
                                    _ = cancelled(&opts.cancel) => continue,
                                    _ = tokio::time::sleep(Duration::from_millis((until - now).min(1000))) => {}
                                }
                                continue;
                            }
                        }
                        None => {
                            let what = "paused: waiting for a promote";
                            match hold(s, rec, opts, Some(&mut watch), what, progress).await? {
                                Some(end) => return Ok(end),
                                None => continue,
                            }
                        }
                    }
                }
            }
            Step::Verify { .. } if rec.run.status == Status::Paused => {
                // Paused at a gate that failed (no auto-rollback) or was inconclusive: the
                // operator promotes past it, rolls back or aborts.
                // Nothing the watch sees changes that: requests are looked for once a second.
                if let Some(ev) = operator_request(s, rec).await? {
                    ev
                } else {
                    let what =
                        "paused at a gate: waiting for a promote past it, a rollback or an abort";
                    match hold(s, rec, opts, None, what, progress).await? {
                        Some(end) => return Ok(end),
                        None => continue,
                    }
                }
            }
            Step::Verify { stage, checks } => {
                let watched =
                    watched_workloads(s, rec, index, &mut revisions, &mut watched_by_step).await?;
                match super::gates::run_gate(
                    s,
                    rec,
                    &mut revisions,
                    super::gates::GateWatch {
                        index,
                        watch: &mut watch,
                        workloads: &watched,
                    },
                    *stage,
                    checks,
                    progress,
                    &opts.cancel,
                )
                .await?
                {
                    Some(ev) => ev,
                    None => continue,
                }
            }
            Step::Hooks { revision, event } => {
                match super::hooks::run_step(
                    s,
                    rec,
                    &mut revisions,
                    &mut watch,
                    *revision,
                    *event,
                    progress,
                    &opts.cancel,
                )
                .await?
                {
                    Some(ev) => ev,
                    None => continue,
                }
            }
            Step::WaitHealthy { target } => {
                let targets = objects::target_objects(s, rec, target, &mut revisions).await?;
                match wait_healthy(s, rec, &mut watch, &targets, progress, &opts.cancel).await? {
                    Some(ev) => ev,
                    None => continue,
                }
            }
            other => match objects::execute(s, rec, &mut revisions, other).await {
                Ok(()) => Event::StepDone,
                Err(EngineError::Cluster(
                    e @ (ClusterError::Invalid { .. }
                    | ClusterError::Forbidden { .. }
                    | ClusterError::UnknownKind { .. }
                    | ClusterError::Conflict { .. }),
                )) => Event::StepFailed {
                    reason: format!("{}: {e}", other.describe()),
                },
                Err(e) => return Err(e),
            },
        };
        let outcome = match &event {
            Event::StepDone => Outcome::Done,
            Event::StepFailed { reason } | Event::GateFailed { reason } => {
                Outcome::Failed(reason.clone())
            }
            Event::GateInconclusive { reason } => Outcome::Inconclusive(reason.clone()),
            Event::Promote { .. } => Outcome::Promoted,
            Event::Abort => Outcome::Aborted,
            Event::Rollback => Outcome::RolledBack,
        };
        let was_reversing = rec.run.reverse.is_some();
        let open_phase = rec.run.phases.len().checked_sub(1);
        rec.run.apply(event, &ctx, now_ms())?;
        // A gate that pauses the run keeps its step open.
        if open_phase.is_some_and(|i| rec.run.phases[i].ended_ms.is_some()) {
            progress(Progress::StepEnded { step, outcome });
        }
        if !was_reversing && rec.run.reverse.is_some() {
            progress(Progress::Reversing {
                reason: rec.run.reason.clone().unwrap_or_default(),
            });
        }
        rec.updated = now_rfc3339();
        records::put(&s.cluster, rec).await?;
    }
}

/// The workloads a pause or a gate at `index` keeps an eye on: those of the last health wait
/// before it (none while going back). Worked out once per step (`known` keeps them, keyed
/// by cursor and phase count): they cannot change within one, and a pause looks at them on
/// every tick and watch wake.
async fn watched_workloads(
    s: &Session,
    rec: &ReleaseRecord,
    index: usize,
    revisions: &mut HashMap<u32, RevisionObjects>,
    known: &mut Option<((usize, usize), Vec<String>)>,
) -> Result<Vec<String>, EngineError> {
    let key = (index, rec.run.phases.len());
    if let Some((k, names)) = known {
        if *k == key {
            return Ok(names.clone());
        }
    }
    let target = rec.run.plan[..index.min(rec.run.plan.len())]
        .iter()
        .rev()
        .find_map(|st| match st {
            Step::WaitHealthy { target } => Some(target.clone()),
            _ => None,
        });
    let names = match target {
        Some(target) if rec.run.reverse.is_none() => {
            objects::target_deployments(s, rec, &target, revisions).await?
        }
        _ => Vec::new(),
    };
    *known = Some((key, names.clone()));
    Ok(names)
}

async fn wait_healthy(
    s: &Session,
    rec: &mut ReleaseRecord,
    watch: &mut NamespaceWatch,
    targets: &[Watched],
    progress: &(dyn Fn(Progress) + Send + Sync),
    cancel: &Option<CancellationToken>,
) -> Result<Option<Event>, EngineError> {
    let deadline = std::time::Instant::now() + s.env.policy.progress_deadline.as_duration();
    let mut last: HashMap<String, Health> = HashMap::new();
    let mut last_check = std::time::Instant::now();
    let mut judge = Judge::start(s, targets).await?;
    loop {
        let mut all = true;
        let index = watch.pod_index();
        for t in targets {
            let name = t.label();
            let h = judge.health(watch, &index, t);
            if last.get(&name) != Some(&h) {
                progress(Progress::Health {
                    workload: name.clone(),
                    health: h.clone(),
                });
                last.insert(name.clone(), h.clone());
            }
            match h {
                Health::Current => {}
                Health::InProgress { .. } => all = false,
                Health::Failed { reason, pod } => {
                    let at = pod.map(|p| format!(" (pod {p})")).unwrap_or_default();
                    return Ok(Some(Event::StepFailed {
                        reason: format!("{name}: {reason}{at}"),
                    }));
                }
            }
        }
        if all {
            // Availability already waited for `minReadySeconds`, Kubernetes' own guard against
            // containers that start and then crash.
            return Ok(Some(Event::StepDone));
        }
        if std::time::Instant::now() > deadline {
            return Ok(Some(Event::StepFailed {
                reason: format!(
                    "no healthy rollout within the progress deadline ({})",
                    s.env.policy.progress_deadline
                ),
            }));
        }
        if last_check.elapsed() > Duration::from_secs(2) && rec.run.reverse.is_none() {
            if let Some(ev) = pick_up_requests(s, rec).await? {
                return Ok(Some(ev));
            }
            last_check = std::time::Instant::now();
        }
        tokio::select! {
            _ = cancelled(cancel) => return Ok(None),
            _ = judge.changed(watch, Duration::from_millis(250)) => {}
        }
    }
}

/// Health of the workloads a paused run keeps an eye on (the last waited-for target):
/// the first failure, if any.
pub(super) fn failing(watch: &NamespaceWatch, names: &[String]) -> Option<String> {
    let index = watch.pod_index();
    for name in names {
        if watch.deployment(name).is_some() {
            if let Health::Failed { reason, pod } =
                super::health::deployment(watch, &index, name, None)
            {
                let at = pod.map(|p| format!(" (pod {p})")).unwrap_or_default();
                return Some(format!("{name}: {reason}{at}"));
            }
        }
    }
    None
}
