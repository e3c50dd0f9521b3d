//! The release commands, shared by the CLI, the console and the agent: [`act`] — deploy (a
//! new run, or `--resume`), promote, abort, rollback — which also writes the audit line,
//! and the read-only status and history. Acting takes the operator lease before it changes
//! anything and releases it when it stops driving.

use super::audit::{self, AuditEntry};
use super::drive::{self, DriveEnd, DriveOptions, Progress};
use super::prepare::{self, Overrides};
use super::{now_ms, now_rfc3339, EngineError, Session};
use crate::cluster::fence::TermState;
use crate::cluster::requests::{self, Ask};
use crate::cluster::{lease, records, ClusterError};
use crate::config::{CanaryStep, StrategyKind};
use crate::domain::act::{Act, Surface};
use crate::domain::record::{ChartInfo, HelmParts, Manifests, ReleaseRecord};
use crate::domain::run::{
    plan, CanaryAmount, Event, Lifecycle, PlanInput, PlannedCanaryStep, Run, Status, StepOverrides,
};
use crate::domain::strategy::Color;
use crate::render::Renderer;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub strategy: Option<StrategyKind>,
    pub overrides: Overrides,
    pub wait: bool,
    pub resume: bool,
    /// Canary steps (and blue/green auto-promotion) for this run instead of the service's
    /// configured ones; recorded in the run.
    pub steps: StepOverrides,
    /// Stops driving at the next safe point when cancelled (the console quitting): the run
    /// keeps its recorded phase and the lease is released.
    pub cancel: Option<CancellationToken>,
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

/// The events a recorded revision has hooks for.
pub fn hook_events_of(rec: &ReleaseRecord) -> Vec<crate::domain::hooks::HookEvent> {
    let bodies = rec.helm.hooks.values().unwrap_or_default();
    let objs: Vec<crate::domain::manifest::Object> = bodies
        .into_iter()
        .filter_map(|b| crate::domain::manifest::Object::from_body(b, &rec.namespace))
        .collect();
    crate::domain::hooks::events(&crate::domain::hooks::parse(&objs).0)
}

/// The active (not finished) run of a release, if any.
pub fn active(recs: &[ReleaseRecord]) -> Option<&ReleaseRecord> {
    recs.iter().rev().find(|r| !r.run.status.is_terminal())
}

fn canary_plan(steps: &[CanaryStep]) -> Vec<PlannedCanaryStep> {
    let steps: Vec<CanaryStep> = if steps.is_empty() {
        crate::domain::run::default_canary_steps()
    } else {
        steps.to_vec()
    };
    steps
        .iter()
        .map(|s| match s {
            CanaryStep::Replicas(n) => PlannedCanaryStep::Pods(CanaryAmount::Replicas(*n)),
            CanaryStep::Percent(p) => PlannedCanaryStep::Pods(CanaryAmount::Percent(*p)),
            CanaryStep::Pause(p) => {
                PlannedCanaryStep::Pause(p.duration.map(|d| d.as_duration().as_millis() as u64))
            }
            CanaryStep::Verify(checks) => PlannedCanaryStep::Verify(checks.clone()),
        })
        .collect()
}

fn drive_options(wait: bool, cancel: &Option<CancellationToken>) -> DriveOptions {
    DriveOptions {
        wait,
        cancel: cancel.clone(),
    }
}

/// Runs `f` holding the lease of the release, with a session whose writes go through the
/// lease's fence; releases the lease afterwards whatever happened. When the lease is lost
/// (someone took it over after it lapsed, or changed the run), `f` is dropped at once and
/// the error names the new holder and what the run is now: nothing more is written.
pub(crate) async fn with_lease<T, F>(
    s: &Session,
    progress: &(dyn Fn(Progress) + Send + Sync),
    f: F,
) -> Result<T, EngineError>
where
    F: AsyncFnOnce(Session) -> Result<T, EngineError>,
{
    let notice = |m: String| progress(Progress::Waiting { what: m });
    let (held, taken) = lease::take(&s.cluster, s.release(), &s.operator, &notice).await?;
    if let lease::Taken::TookOver { previous } = taken {
        progress(Progress::Warning(format!(
            "took over the lease of {previous}"
        )));
    }
    let fence = held.fence.clone();
    let fenced = Session {
        cluster: s.cluster.fenced(fence.clone()),
        ..s.clone()
    };
    let work = f(fenced);
    tokio::pin!(work);
    let mut states = fence.subscribe();
    let mut away: Option<std::time::Instant> = None;
    let out = loop {
        tokio::select! {
            out = &mut work => break out,
            lost = fence.lost() => break Err(EngineError::Cluster(ClusterError::LeaseLost {
                release: s.release().to_string(),
                holder: lost.holder,
                since: lost.since,
                run: None,
            })),
            changed = states.changed() => {
                if changed.is_err() {
                    continue;
                }
                let st = states.borrow_and_update().clone();
                match st {
                    TermState::Confirming { why, .. }
                        if why.starts_with("cluster unreachable") && away.is_none() =>
                    {
                        away = Some(std::time::Instant::now());
                        progress(Progress::Unreachable { detail: why });
                    }
                    TermState::Valid { .. } => {
                        if let Some(a) = away.take() {
                            progress(Progress::Reachable { after_ms: a.elapsed().as_millis() as u64 });
                        }
                    }
                    _ => {}
                }
            }
        }
    };
    match out {
        Err(EngineError::Cluster(ClusterError::LeaseLost {
            release,
            holder,
            since,
            run,
        })) => {
            drop(held);
            // What the run is now, read (not written) for the message.
            let run = match run {
                Some(r) => Some(r),
                None => run_now(s, &fence).await,
            };
            Err(EngineError::Cluster(ClusterError::LeaseLost {
                release,
                holder,
                since,
                run,
            }))
        }
        out => {
            if let Err(e) = held.release(&s.cluster).await {
                progress(Progress::Warning(format!(
                    "could not release the lease: {e}"
                )));
            }
            out
        }
    }
}

/// Where the run a lost term last wrote stands now.
async fn run_now(s: &Session, fence: &crate::cluster::fence::Fence) -> Option<String> {
    let (name, _) = fence.record()?;
    let revision = name.rsplit(".r").next()?.parse::<u32>().ok()?;
    let rec = records::get(&s.cluster, s.release(), revision)
        .await
        .ok()??;
    Some(records::run_now(&rec))
}

/// Acts on the release as the operator asked: deploys, promotes, rolls back or aborts, and
/// drives the run until it ends or pauses (through pauses with `wait`); or, when another
/// process of the same operator drives the run, leaves the request for it. Every act —
/// whatever the face that asked (`opts.surface`), whatever came of it — appends its line to
/// the audit log.
pub async fn act(
    s: &Session,
    act: Act,
    opts: &ActOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<ActionResult, EngineError> {
    let result = match &act {
        Act::Deploy(d) => {
            let renderer = match &opts.renderer {
                Some(r) => r.clone(),
                None => {
                    Renderer::new(super::locate_helm(&s.cfg).map_err(prepare::PrepareError::from)?)
                }
            };
            let deploy_opts = DeployOptions {
                strategy: d.strategy,
                overrides: d.overrides.clone(),
                wait: opts.wait,
                resume: d.resume,
                steps: d.steps.clone(),
                cancel: opts.cancel.clone(),
            };
            deploy(s, &renderer, &deploy_opts, progress)
                .await
                .map(|(rec, end)| ActionResult::Drove(Box::new(rec), end))
        }
        Act::Promote { full, past_gate } => {
            on_run(
                s,
                Event::Promote { full: *full },
                past_gate.as_deref(),
                opts,
                progress,
            )
            .await
        }
        Act::Abort => on_run(s, Event::Abort, None, opts, progress).await,
        Act::Rollback { to } => rollback(s, *to, opts, progress).await,
        Act::Test => super::lifecycle::test(s, progress)
            .await
            .map(|r| ActionResult::Tested(Box::new(r))),
    };
    write_audit(s, &act, opts.surface, &result);
    result
}

/// The audit line of an act: who, from where, what (as a command line would say it, the
/// gate gone past named on its own too), on which release and revision, and what came of it.
fn write_audit(
    s: &Session,
    act: &Act,
    surface: Surface,
    result: &Result<ActionResult, EngineError>,
) {
    let (revision, outcome) = match result {
        Ok(ActionResult::Drove(rec, _)) => (Some(rec.revision), format!("{:?}", rec.run.status)),
        Ok(ActionResult::Requested { holder, revision }) => {
            (Some(*revision), format!("requested from {holder}"))
        }
        Ok(ActionResult::Tested(r)) => (
            Some(r.revision),
            if r.passed { "passed" } else { "failed" }.to_string(),
        ),
        Err(e) => (None, format!("error: {e}")),
    };
    audit::append(&AuditEntry {
        time: now_rfc3339(),
        operator: &s.operator.user_host,
        surface: surface.as_str(),
        action: &act.command(),
        past_gate: act.past_gate(),
        service: &s.service.name,
        environment: &s.env.name,
        release: s.release(),
        namespace: &s.cluster.namespace,
        revision,
        outcome,
    });
}

/// Starts a new run of the service in the environment (or resumes the active one): the
/// drive of [`Act::Deploy`], without the audit line (tests and [`act`] call it).
pub async fn deploy(
    s: &Session,
    renderer: &Renderer,
    opts: &DeployOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<(ReleaseRecord, DriveEnd), EngineError> {
    with_lease(s, progress, async |s: Session| {
        let s = &s;
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
            let end = drive::drive(
                s,
                &mut rec,
                drive_options(opts.wait, &opts.cancel),
                progress,
            )
            .await?;
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
        // Only the live revision's number and slot are needed: the records (each with its
        // rendered objects) are let go before the drive.
        let (live_revision_no, live_slot, previous_hooks) = match live_revision(&recs) {
            Some(l) => (Some(l.revision), l.slot, hook_events_of(l)),
            None => (None, None, Vec::new()),
        };
        let next_revision = recs.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
        drop(recs);
        req.is_upgrade = live_revision_no.is_some();
        let mut rendered = renderer
            .render(&req)
            .await
            .map_err(prepare::PrepareError::from)?;
        crate::domain::strategy::keep_lookup_names(
            &mut rendered.manifests.objects,
            &prepared.lookup_templates,
        );
        let (hooks, skipped) = crate::domain::hooks::parse(&rendered.manifests.hooks);
        for h in &skipped {
            progress(Progress::Warning(h.to_string()));
        }
        let lifecycle = if live_revision_no.is_some() {
            Lifecycle::Upgrade
        } else {
            Lifecycle::Install
        };
        let install_crds = !rendered.manifests.crds.is_empty()
            && (lifecycle == Lifecycle::Install
                || s.env.policy.crds == crate::config::CrdPolicy::Upgrade);
        let revision = next_revision;
        let strategy = opts.strategy.unwrap_or(s.service.strategy);
        let bg = s.service.bluegreen.clone();
        let input = PlanInput {
            strategy,
            revision,
            previous: live_revision_no,
            canary_steps: canary_plan(match &opts.steps.canary_steps {
                Some(steps) => steps.as_slice(),
                None => s
                    .service
                    .canary
                    .as_ref()
                    .map(|c| c.steps.as_slice())
                    .unwrap_or(&[]),
            }),
            live: live_slot,
            auto_promote: opts
                .steps
                .auto_promote
                .or(bg.as_ref().map(|b| b.auto_promote))
                .unwrap_or(false),
            scale_down_delay_ms: bg
                .as_ref()
                .map(|b| b.scale_down_delay.as_duration().as_millis() as u64)
                .unwrap_or(600_000),
            pre_promotion: bg
                .as_ref()
                .map(|b| b.pre_promotion.clone())
                .unwrap_or_default(),
            post_promotion: bg
                .as_ref()
                .map(|b| b.post_promotion.clone())
                .unwrap_or_default(),
            verify: s.service.verify.clone(),
            lifecycle,
            hooks: crate::domain::hooks::events(&hooks),
            install_crds,
        };
        let (steps, promotion) = plan(&input);
        let slot = match strategy {
            StrategyKind::Bluegreen => Some(match (live_slot, live_revision_no.is_some()) {
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
                dependencies: prepared.chart.dependencies.clone(),
            },
            values_layers: prepared.effective.layers.clone(),
            manifests: {
                let bodies: Vec<Value> = rendered
                    .manifests
                    .objects
                    .into_iter()
                    .map(|o| o.body)
                    .collect();
                Manifests::new(&bodies)
            },
            helm: HelmParts {
                crds: {
                    let bodies: Vec<Value> = rendered
                        .manifests
                        .crds
                        .into_iter()
                        .map(|o| o.body)
                        .collect();
                    Manifests::new(&bodies)
                },
                hooks: {
                    let bodies: Vec<Value> = rendered
                        .manifests
                        .hooks
                        .into_iter()
                        .map(|o| o.body)
                        .collect();
                    Manifests::new(&bodies)
                },
                previous_hooks,
            },
            strategy,
            slot,
            previous: live_revision_no,
            live_before: live_slot,
            workloads: s.service.workloads.clone(),
            run: Run::new(steps, promotion, now_ms()),
            operator: s.operator.user_host.clone(),
            created: now.clone(),
            updated: now,
            driven_by: None,
            resource_version: None,
        };
        if !opts.steps.is_empty() {
            rec.run.overrides = Some(opts.steps.clone());
        }
        records::put(&s.cluster, &mut rec).await?;
        match records::prune(&s.cluster, s.release(), s.env.policy.keep_revisions).await {
            Ok(pruned) if !pruned.is_empty() => {
                tracing::info!(?pruned, "pruned old release records")
            }
            Ok(_) => {}
            Err(e) => progress(Progress::Warning(format!(
                "could not prune old records: {e}"
            ))),
        }
        let end = drive::drive(
            s,
            &mut rec,
            drive_options(opts.wait, &opts.cancel),
            progress,
        )
        .await?;
        Ok((rec, end))
    })
    .await
}

/// What [`act`] did.
#[derive(Debug, Clone)]
pub enum ActionResult {
    /// This process drove the run to here.
    Drove(Box<ReleaseRecord>, DriveEnd),
    /// Another process of the same operator drives the run; the request was left in the
    /// record for it.
    Requested { holder: String, revision: u32 },
    /// The live revision's tests ran.
    Tested(Box<super::lifecycle::TestReport>),
}

/// Leaves a request for the run when another live process of this operator drives it
/// (its lease is fresh): written to the release's requests (see `cluster::requests`), never
/// to the record or the Lease, so it is not a take-over.
async fn request_from_driver(s: &Session, ask: Ask) -> Result<Option<ActionResult>, EngineError> {
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
    let revision = a.revision;
    requests::send(
        &s.cluster,
        s.release(),
        revision,
        ask,
        &s.operator.identity(),
    )
    .await?;
    Ok(Some(ActionResult::Requested { holder, revision }))
}

/// How [`act`] acts, whatever the act.
#[derive(Debug, Clone, Default)]
pub struct ActOptions {
    /// Keep driving through manual pauses.
    pub wait: bool,
    /// Stops driving at the next safe point (see [`DeployOptions::cancel`]).
    pub cancel: Option<CancellationToken>,
    /// Who asked, for the audit line.
    pub surface: Surface,
    /// The renderer a deploy renders with (its cache shared with the caller's previews);
    /// None: the configured Helm.
    pub renderer: Option<Renderer>,
}

/// Refuses to promote past a paused gate unless the operator named its check.
pub(super) fn confirm_past_gate(
    rec: &ReleaseRecord,
    named: Option<&str>,
) -> Result<(), EngineError> {
    let Some(check) = rec.run.paused_gate_check() else {
        return Ok(());
    };
    if named == Some(check) {
        return Ok(());
    }
    Err(EngineError::input(
        format!(
            "revision {} is paused at a gate: {}",
            rec.revision,
            rec.run.reason.clone().unwrap_or_default()
        ),
        format!(
            "promote past it only if you are sure: `promote --past-gate {check}`; otherwise `rollback` or `abort`"
        ),
    ))
}

/// Promote, abort or rollback of the active run (`past_gate`: the check a promote past a
/// paused gate names).
async fn on_run(
    s: &Session,
    event: Event,
    past_gate: Option<&str>,
    opts: &ActOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<ActionResult, EngineError> {
    let wait = opts.wait;
    let promoting = matches!(event, Event::Promote { .. });
    // A promote past a gate not named is refused before anything is written: no request
    // to a driver, no lease taken. Under the lease it is checked again on the fresh record.
    if promoting {
        let (recs, _) = records::list(&s.cluster, s.release()).await?;
        if let Some(a) = active(&recs) {
            confirm_past_gate(a, past_gate)?;
        }
    }
    let ask = match &event {
        Event::Promote { full } => Some(Ask::Promote {
            full: *full,
            past_gate: past_gate.map(str::to_string),
        }),
        Event::Abort => Some(Ask::Abort),
        Event::Rollback => Some(Ask::Rollback),
        _ => None,
    };
    if let Some(ask) = ask {
        if let Some(done) = request_from_driver(s, ask).await? {
            return Ok(done);
        }
    }
    with_lease(s, progress, async |s: Session| {
        let s = &s;
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
        if promoting {
            confirm_past_gate(&rec, past_gate)?;
        }
        rec.run.apply(event, &ctx, now_ms())?;
        rec.updated = now_rfc3339();
        records::put(&s.cluster, &mut rec).await?;
        let end = drive::drive(s, &mut rec, drive_options(wait, &opts.cancel), progress).await?;
        Ok(ActionResult::Drove(Box::new(rec), end))
    })
    .await
}

/// Rolls back the active run, or (with no active run, or with `to`) re-applies a past
/// revision exactly as a new revision.
async fn rollback(
    s: &Session,
    to: Option<u32>,
    opts: &ActOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<ActionResult, EngineError> {
    let wait = opts.wait;
    if to.is_none() {
        let (recs, _) = records::list(&s.cluster, s.release()).await?;
        if active(&recs).is_some() {
            return on_run(s, Event::Rollback, None, opts, progress).await;
        }
    }
    with_lease(s, progress, async |s: Session| {
        let s = &s;
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
        let live_rev = live_revision(&recs).map(|l| l.revision);
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
            None => recs
                .iter()
                .rev()
                .filter(|r| Some(r.revision) != live_rev && r.run.status == Status::Healthy)
                .find(|r| live_rev.is_none_or(|l| r.revision < l))
                .cloned()
                .ok_or_else(|| {
                    EngineError::input(
                        "no earlier healthy revision to roll back to",
                        "`history` lists the revisions; pass --to N",
                    )
                })?,
        };
        let revision = recs.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
        let (steps, promotion) = plan(&PlanInput {
            strategy: StrategyKind::Rolling,
            revision,
            previous: live_rev,
            canary_steps: vec![],
            live: None,
            auto_promote: false,
            scale_down_delay_ms: 0,
            pre_promotion: vec![],
            post_promotion: vec![],
            verify: vec![],
            // Helm's rollback runs the target revision's rollback hooks.
            lifecycle: Lifecycle::Rollback,
            hooks: hook_events_of(&target),
            install_crds: false,
        });
        let previous_hooks = recs
            .iter()
            .find(|r| Some(r.revision) == live_rev)
            .map(hook_events_of)
            .unwrap_or_default();
        let now = now_rfc3339();
        let target_revision = target.revision;
        let mut rec = ReleaseRecord {
            revision,
            strategy: StrategyKind::Rolling,
            slot: None,
            previous: live_rev,
            live_before: None,
            run: Run::new(steps, promotion, now_ms()),
            operator: s.operator.user_host.clone(),
            created: now.clone(),
            updated: now,
            helm: HelmParts {
                previous_hooks,
                ..target.helm.clone()
            },
            driven_by: None,
            resource_version: None,
            ..target
        };
        drop(recs);
        rec.run.reason = Some(format!("rollback to revision {target_revision}"));
        records::put(&s.cluster, &mut rec).await?;
        let end = drive::drive(s, &mut rec, drive_options(wait, &opts.cancel), progress).await?;
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
    /// The run's verification gates with every measurement.
    pub gates: Vec<crate::domain::gate::GateRecord>,
    /// The Helm hooks the run ran.
    pub hooks: Vec<crate::domain::hooks::HookRun>,
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
            gates: r.run.gates.clone(),
            hooks: r.run.hooks.clone(),
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
    /// The run's verification gates with every measurement.
    pub gates: Vec<crate::domain::gate::GateRecord>,
    /// The Helm hooks the run ran, with their outcomes.
    pub hooks: Vec<crate::domain::hooks::HookRun>,
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
        gates: last.map(|r| r.run.gates.clone()).unwrap_or_default(),
        hooks: last.map(|r| r.run.hooks.clone()).unwrap_or_default(),
        lease_holder: holder.as_ref().map(|h| h.0.clone()),
        lease_since: holder.map(|h| h.1),
    })
}
