//! The release commands, shared by the CLI and the console: deploy (a new run, or
//! `--resume`), promote, abort, rollback, status and history. Each takes the operator lease
//! before it changes anything and releases it when it stops driving.

use super::drive::{self, DriveEnd, DriveOptions, Progress};
use super::prepare::{self, Overrides};
use super::{now_ms, now_rfc3339, EngineError, Session};
use crate::cluster::{lease, records, ClusterError};
use crate::config::{CanaryStep, StrategyKind};
use crate::domain::record::{ChartInfo, ReleaseRecord};
use crate::domain::run::{plan, CanaryAmount, Event, PlanInput, PlannedCanaryStep, Run, Status};
use crate::domain::strategy::Color;
use crate::render::Renderer;
use serde::Serialize;

#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub strategy: Option<StrategyKind>,
    pub overrides: Overrides,
    pub wait: bool,
    pub resume: bool,
}

/// The revision serving now, read from the records (newest first): a healthy run's own
/// revision; for a run that was rolled back, aborted, or failed before promotion, the one it
/// started from.
pub fn live_revision(recs: &[ReleaseRecord]) -> Option<&ReleaseRecord> {
    for r in recs.iter().rev() {
        let own = match r.run.status {
            Status::Healthy => true,
            Status::RolledBack | Status::Aborted => false,
            Status::Degraded | Status::Progressing | Status::Paused => {
                r.run.promoted() || r.strategy == StrategyKind::Rolling || r.previous.is_none()
            }
        };
        if own {
            return Some(r);
        }
        match r.previous {
            Some(p) => return recs.iter().find(|x| x.revision == p),
            None => continue,
        }
    }
    None
}

/// The active (not finished) run of a release, if any.
pub fn active(recs: &[ReleaseRecord]) -> Option<&ReleaseRecord> {
    recs.iter().rev().find(|r| !r.run.status.is_terminal())
}

fn canary_plan(steps: &[CanaryStep]) -> Vec<PlannedCanaryStep> {
    let steps: Vec<CanaryStep> = if steps.is_empty() {
        vec![
            CanaryStep::Percent(20),
            CanaryStep::Pause(Default::default()),
        ]
    } else {
        steps.to_vec()
    };
    steps
        .iter()
        .filter_map(|s| match s {
            CanaryStep::Replicas(n) => Some(PlannedCanaryStep::Pods(CanaryAmount::Replicas(*n))),
            CanaryStep::Percent(p) => Some(PlannedCanaryStep::Pods(CanaryAmount::Percent(*p))),
            CanaryStep::Pause(p) => Some(PlannedCanaryStep::Pause(
                p.duration.map(|d| d.as_duration().as_millis() as u64),
            )),
            // Verification gates arrive with issue #7.
            CanaryStep::Verify(_) => None,
        })
        .collect()
}

/// Runs `f` holding the lease of the release; releases it afterwards whatever happened.
async fn with_lease<T, F>(
    s: &Session,
    progress: &(dyn Fn(Progress) + Send + Sync),
    f: F,
) -> Result<T, EngineError>
where
    F: std::future::Future<Output = Result<T, EngineError>>,
{
    match lease::acquire(&s.cluster, s.release(), &s.operator).await? {
        lease::Taken::TookOver { previous } => progress(Progress::Warning(format!(
            "took over the expired lease of {previous}"
        ))),
        lease::Taken::Fresh | lease::Taken::Reentered => {}
    }
    let out = f.await;
    if let Err(e) = lease::release(&s.cluster, s.release(), &s.operator).await {
        progress(Progress::Warning(format!(
            "could not release the lease: {e}"
        )));
    }
    out
}

/// Starts a new run of the service in the environment (or resumes the active one).
pub async fn deploy(
    s: &Session,
    renderer: &Renderer,
    opts: &DeployOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<(ReleaseRecord, DriveEnd), EngineError> {
    with_lease(s, progress, async {
        let (recs, warnings) = records::list(&s.cluster, s.release()).await?;
        for w in warnings {
            progress(Progress::Warning(w));
        }
        if let Some(a) = active(&recs) {
            if !opts.resume {
                return Err(EngineError::input(
                    format!(
                        "release {} has a run of revision {} that is {:?}",
                        s.release(),
                        a.revision,
                        a.run.status
                    ),
                    "continue it with `deploy --resume`, or `promote`, `rollback` or `abort` it",
                ));
            }
            let mut rec = a.clone();
            let end = drive::drive(s, &mut rec, DriveOptions { wait: opts.wait }, progress).await?;
            return Ok((rec, end));
        }
        if opts.resume {
            return Err(EngineError::input(
                format!("release {} has no run to resume", s.release()),
                "start one with `deploy` (without --resume)",
            ));
        }
        if !s.cluster.namespace_exists().await? {
            return Err(EngineError::Cluster(ClusterError::NotFound {
                what: format!("namespace {}", s.cluster.namespace),
            }));
        }
        let prepared = prepare::prepare(
            &s.cfg,
            &s.service.name,
            &s.env.name,
            &opts.overrides,
            crate::sources::no_progress(),
        )
        .await?;
        let mut req = prepared.render_request();
        let live = live_revision(&recs).cloned();
        req.is_upgrade = live.is_some();
        let rendered = renderer
            .render(&req)
            .await
            .map_err(prepare::PrepareError::from)?;
        if !rendered.manifests.hooks.is_empty() {
            progress(Progress::Warning(format!(
                "{} Helm hook object(s) are not applied (helmdeck runs no hooks)",
                rendered.manifests.hooks.len()
            )));
        }
        let revision = recs.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
        let strategy = opts.strategy.unwrap_or(s.service.strategy);
        let bg = s.service.bluegreen.clone();
        let live_slot = live.as_ref().and_then(|l| l.slot);
        let input = PlanInput {
            strategy,
            revision,
            previous: live.as_ref().map(|l| l.revision),
            canary_steps: canary_plan(
                s.service
                    .canary
                    .as_ref()
                    .map(|c| c.steps.as_slice())
                    .unwrap_or(&[]),
            ),
            live: live_slot,
            auto_promote: bg.as_ref().map(|b| b.auto_promote).unwrap_or(false),
            scale_down_delay_ms: bg
                .as_ref()
                .map(|b| b.scale_down_delay.as_duration().as_millis() as u64)
                .unwrap_or(600_000),
        };
        let (steps, promotion) = plan(&input);
        let slot = match strategy {
            StrategyKind::Bluegreen => Some(match (live_slot, live.is_some()) {
                (Some(c), true) => c.other(),
                _ => Color::Blue,
            }),
            _ => None,
        };
        let now = now_rfc3339();
        let mut rec = ReleaseRecord {
            release: s.release().to_string(),
            namespace: s.cluster.namespace.clone(),
            revision,
            service: s.service.name.clone(),
            environment: s.env.name.clone(),
            chart: ChartInfo {
                repository: prepared.chart.repository.clone(),
                name: prepared.chart.name.clone(),
                version: prepared.chart.version.clone(),
                digest: prepared.chart.digest.clone(),
                revision: prepared.chart.revision.clone(),
            },
            values_layers: prepared.effective.layers.clone(),
            manifests: rendered
                .manifests
                .crds
                .iter()
                .chain(rendered.manifests.objects.iter())
                .map(|o| o.body.clone())
                .collect(),
            strategy,
            slot,
            previous: live.as_ref().map(|l| l.revision),
            live_before: live_slot,
            workloads: s.service.workloads.clone(),
            run: Run::new(steps, promotion, now_ms()),
            operator: s.operator.user_host.clone(),
            created: now.clone(),
            updated: now,
        };
        records::put(&s.cluster, &rec).await?;
        match records::prune(&s.cluster, s.release(), s.env.policy.keep_revisions).await {
            Ok(pruned) if !pruned.is_empty() => {
                tracing::info!(?pruned, "pruned old release records")
            }
            Ok(_) => {}
            Err(e) => progress(Progress::Warning(format!(
                "could not prune old records: {e}"
            ))),
        }
        let end = drive::drive(s, &mut rec, DriveOptions { wait: opts.wait }, progress).await?;
        Ok((rec, end))
    })
    .await
}

/// What `promote`, `abort` and `rollback` did.
#[derive(Debug, Clone)]
pub enum ActionResult {
    /// This process drove the run to here.
    Drove(Box<ReleaseRecord>, DriveEnd),
    /// Another process of the same operator drives the run; the request was left in the
    /// record for it.
    Requested { holder: String, revision: u32 },
}

/// Leaves a request in the active record when another process of this operator drives it.
async fn request_from_driver(
    s: &Session,
    set: impl Fn(&mut Run),
) -> Result<Option<ActionResult>, EngineError> {
    let Some((holder, _)) = lease::holder_of(&s.cluster, s.release()).await? else {
        return Ok(None);
    };
    if holder == s.operator.identity()
        || !lease::same_operator(&holder, &s.operator)
        || !lease::holder_alive(&holder, &s.operator)
    {
        return Ok(None);
    }
    let (recs, _) = records::list(&s.cluster, s.release()).await?;
    let Some(a) = active(&recs) else {
        return Ok(None);
    };
    let mut rec = a.clone();
    set(&mut rec.run);
    rec.updated = now_rfc3339();
    records::put(&s.cluster, &rec).await?;
    Ok(Some(ActionResult::Requested {
        holder,
        revision: rec.revision,
    }))
}

async fn act(
    s: &Session,
    event: Event,
    wait: bool,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<ActionResult, EngineError> {
    let set = {
        let event = event.clone();
        move |r: &mut Run| match &event {
            Event::Promote { full } => {
                r.promote_requested = true;
                r.promote_full = *full;
            }
            Event::Abort => r.abort_requested = true,
            Event::Rollback => r.rollback_requested = true,
            _ => {}
        }
    };
    if let Some(done) = request_from_driver(s, set).await? {
        return Ok(done);
    }
    with_lease(s, progress, async {
        let (recs, _) = records::list(&s.cluster, s.release()).await?;
        let Some(a) = active(&recs) else {
            return Err(EngineError::input(
                format!("release {} has no active run", s.release()),
                match event {
                    Event::Rollback => "use `rollback --to N` to re-apply a past revision",
                    _ => "`status` shows the last run; `deploy` starts a new one",
                },
            ));
        };
        let mut rec = a.clone();
        let ctx = drive::reverse_input(s, &rec);
        rec.run.apply(event, &ctx, now_ms())?;
        rec.updated = now_rfc3339();
        records::put(&s.cluster, &rec).await?;
        let end = drive::drive(s, &mut rec, DriveOptions { wait }, progress).await?;
        Ok(ActionResult::Drove(Box::new(rec), end))
    })
    .await
}

pub async fn promote(
    s: &Session,
    full: bool,
    wait: bool,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<ActionResult, EngineError> {
    act(s, Event::Promote { full }, wait, progress).await
}

pub async fn abort(
    s: &Session,
    wait: bool,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<ActionResult, EngineError> {
    act(s, Event::Abort, wait, progress).await
}

/// Rolls back the active run, or (with no active run, or with `to`) re-applies a past
/// revision exactly as a new revision.
pub async fn rollback(
    s: &Session,
    to: Option<u32>,
    wait: bool,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<ActionResult, EngineError> {
    if to.is_none() {
        let (recs, _) = records::list(&s.cluster, s.release()).await?;
        if active(&recs).is_some() {
            return act(s, Event::Rollback, wait, progress).await;
        }
    }
    with_lease(s, progress, async {
        let (recs, _) = records::list(&s.cluster, s.release()).await?;
        if let Some(a) = active(&recs) {
            return Err(EngineError::input(
                format!(
                    "release {} has an active run of revision {}",
                    s.release(),
                    a.revision
                ),
                "roll it back first with `rollback` (without --to), or abort it",
            ));
        }
        let live = live_revision(&recs).cloned();
        let target = match to {
            Some(n) => recs
                .iter()
                .find(|r| r.revision == n)
                .cloned()
                .ok_or_else(|| {
                    EngineError::input(
                        format!("release {} has no revision {n}", s.release()),
                        format!(
                            "`history` lists the kept revisions: {}",
                            recs.iter()
                                .map(|r| r.revision.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?,
            None => {
                let live_rev = live.as_ref().map(|l| l.revision);
                recs.iter()
                    .rev()
                    .filter(|r| Some(r.revision) != live_rev && r.run.status == Status::Healthy)
                    .find(|r| live_rev.is_none_or(|l| r.revision < l))
                    .cloned()
                    .ok_or_else(|| {
                        EngineError::input(
                            "no earlier healthy revision to roll back to",
                            "`history` lists the revisions; pass --to N",
                        )
                    })?
            }
        };
        let revision = recs.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
        let (steps, promotion) = plan(&PlanInput {
            strategy: StrategyKind::Rolling,
            revision,
            previous: live.as_ref().map(|l| l.revision),
            canary_steps: vec![],
            live: None,
            auto_promote: false,
            scale_down_delay_ms: 0,
        });
        let now = now_rfc3339();
        let mut rec = ReleaseRecord {
            revision,
            strategy: StrategyKind::Rolling,
            slot: None,
            previous: live.as_ref().map(|l| l.revision),
            live_before: None,
            run: Run::new(steps, promotion, now_ms()),
            operator: s.operator.user_host.clone(),
            created: now.clone(),
            updated: now,
            ..target.clone()
        };
        rec.run.reason = Some(format!("rollback to revision {}", target.revision));
        records::put(&s.cluster, &rec).await?;
        let end = drive::drive(s, &mut rec, DriveOptions { wait }, progress).await?;
        Ok(ActionResult::Drove(Box::new(rec), end))
    })
    .await
}

/// One line of `history`.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub revision: u32,
    pub status: Status,
    pub strategy: StrategyKind,
    pub chart: String,
    pub operator: String,
    pub created: String,
    pub updated: String,
    pub reason: Option<String>,
}

pub async fn history(s: &Session) -> Result<Vec<HistoryRow>, EngineError> {
    let (recs, _) = records::list(&s.cluster, s.release()).await?;
    Ok(recs
        .iter()
        .map(|r| HistoryRow {
            revision: r.revision,
            status: r.run.status,
            strategy: r.strategy,
            chart: format!("{}-{}", r.chart.name, r.chart.version),
            operator: r.operator.clone(),
            created: r.created.clone(),
            updated: r.updated.clone(),
            reason: r.run.reason.clone(),
        })
        .collect())
}

/// `status`: the newest run and who holds the lease.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub release: String,
    pub namespace: String,
    pub revision: Option<u32>,
    pub live_revision: Option<u32>,
    pub status: Option<Status>,
    pub strategy: Option<StrategyKind>,
    pub reason: Option<String>,
    pub current_step: Option<String>,
    pub phases: Vec<crate::domain::run::PhaseEntry>,
    pub lease_holder: Option<String>,
    pub lease_since: Option<String>,
}

pub async fn status(s: &Session) -> Result<StatusReport, EngineError> {
    let (recs, _) = records::list(&s.cluster, s.release()).await?;
    let last = recs.last();
    let holder = lease::holder_of(&s.cluster, s.release()).await?;
    Ok(StatusReport {
        release: s.release().to_string(),
        namespace: s.cluster.namespace.clone(),
        revision: last.map(|r| r.revision),
        live_revision: live_revision(&recs).map(|r| r.revision),
        status: last.map(|r| r.run.status),
        strategy: last.map(|r| r.strategy),
        reason: last.and_then(|r| r.run.reason.clone()),
        current_step: last.and_then(|r| r.run.current()).map(|s| s.describe()),
        phases: last.map(|r| r.run.phases.clone()).unwrap_or_default(),
        lease_holder: holder.as_ref().map(|h| h.0.clone()),
        lease_since: holder.map(|h| h.1),
    })
}
