//! A run — one deployment attempt of a revision — as a pure state machine: a plan of
//! idempotent steps built from the strategy, a cursor, and the events that move it
//! (a step done, a step failed, promote, abort, rollback). The engine executes the step
//! under the cursor and reports back; the run is persisted after every transition so that
//! a killed process loses nothing and any helmdeck can resume it.

use crate::domain::duration::HumanDuration;
use crate::domain::gate::{Check, GateRecord, GateStage, Verdict};
use crate::domain::hooks::{HookEvent, HookRun};
use crate::domain::strategy::Color;
use serde::{Deserialize, Serialize};

/// A canary step as written in `helmdeck.yaml` (or given for one run).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum CanaryStep {
    Replicas(u32),
    Percent(u32),
    Pause(Pause),
    Verify(Vec<Check>),
}

/// The canary steps of a service that configures none: 20% of the primary's pods, then a
/// pause for the operator's promote.
pub fn default_canary_steps() -> Vec<CanaryStep> {
    vec![CanaryStep::Percent(20), CanaryStep::Pause(Pause::default())]
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    /// None waits for the operator's promote.
    pub duration: Option<HumanDuration>,
}

/// What a deploy asked for instead of the service's configured steps, for this run only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_steps: Option<Vec<CanaryStep>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promote: Option<bool>,
}

impl StepOverrides {
    pub fn is_empty(&self) -> bool {
        self.canary_steps.is_none() && self.auto_promote.is_none()
    }
}

/// The delivery strategies (DESIGN.md "Strategies").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyKind {
    #[default]
    Rolling,
    Canary,
    Bluegreen,
}

impl StrategyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::Rolling => "rolling",
            StrategyKind::Canary => "canary",
            StrategyKind::Bluegreen => "bluegreen",
        }
    }
}

/// What one step does. Every step is idempotent: executing it twice is harmless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// Apply the revision's versioned ConfigMaps and Secrets (new names, nothing uses them yet).
    ApplyConfig { revision: u32 },
    /// Apply every object of `revision` to the primaries (rolling, first deploy, canary
    /// promotion, rollback), then prune what it no longer renders.
    ApplyAll { revision: u32 },
    /// Create or scale the `-canary` Deployments of `revision`.
    ApplyCanary { revision: u32, amount: CanaryAmount },
    /// Wait until `target` is healthy.
    WaitHealthy { target: Target },
    /// Wait for the operator (`duration_ms` None) or for a time.
    Pause { duration_ms: Option<u64> },
    /// Delete the `-canary` Deployments and Services.
    DeleteCanaries,
    /// Deploy `revision` into the slot `color` (and point the `-stage` Services at it).
    ApplySlot { revision: u32, color: Color },
    /// Point the chart's Services at `color` (and apply the revision's other objects).
    SwitchServices { revision: u32, color: Color },
    /// Scale the slot `color` to `replicas` (0 retires the old slot; None restores the
    /// replicas its revision asks for).
    ScaleSlot { color: Color, replicas: Option<u32> },
    /// Run a verification gate: each check until its verdict (see `domain::gate`).
    Verify {
        stage: GateStage,
        checks: Vec<Check>,
    },
    /// Run the hooks `revision` has for `event`, in Helm's order (`domain::hooks`).
    Hooks { revision: u32, event: HookEvent },
    /// Apply the CRDs of the chart's `crds/` folder (first install, or `policy.crds:
    /// upgrade`) and wait until they are Established.
    ApplyCrds { revision: u32 },
}

/// How many canary pods a step asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CanaryAmount {
    Replicas(u32),
    /// Of the primary's replicas, rounded up, at least one pod.
    Percent(u32),
}

impl CanaryAmount {
    /// Canary pods for a primary of `primary_replicas`.
    pub fn pods(self, primary_replicas: u32) -> u32 {
        match self {
            CanaryAmount::Replicas(n) => n,
            CanaryAmount::Percent(p) => (u64::from(primary_replicas) * u64::from(p))
                .div_ceil(100)
                .max(1) as u32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Target {
    /// The primary workloads.
    Primaries,
    Canaries,
    Slot {
        color: Color,
    },
}

impl Step {
    /// A short description for timelines and logs.
    pub fn describe(&self) -> String {
        match self {
            Step::ApplyConfig { revision } => format!("apply config of r{revision}"),
            Step::ApplyAll { revision } => format!("apply r{revision}"),
            Step::ApplyCanary {
                amount: CanaryAmount::Replicas(n),
                ..
            } => format!("canary to {n} pod{}", if *n == 1 { "" } else { "s" }),
            Step::ApplyCanary {
                amount: CanaryAmount::Percent(p),
                ..
            } => format!("canary to {p}%"),
            Step::WaitHealthy { target } => match target {
                Target::Primaries => "wait healthy".into(),
                Target::Canaries => "wait canary healthy".into(),
                Target::Slot { color } => format!("wait {color} healthy"),
            },
            Step::Pause { duration_ms: None } => "pause (promote to continue)".into(),
            Step::Pause {
                duration_ms: Some(ms),
            } => format!(
                "pause {}",
                crate::domain::duration::HumanDuration(std::time::Duration::from_millis(*ms))
            ),
            Step::DeleteCanaries => "delete canaries".into(),
            Step::ApplySlot { color, .. } => format!("deploy to {color}"),
            Step::SwitchServices { color, .. } => format!("switch traffic to {color}"),
            Step::ScaleSlot {
                color,
                replicas: Some(n),
            } => format!("scale {color} to {n}"),
            Step::ScaleSlot {
                color,
                replicas: None,
            } => format!("scale {color} back up"),
            Step::Verify { stage, checks } => format!(
                "verify ({}): {}",
                stage.as_str(),
                checks
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Step::Hooks { revision, event } => format!("{event} hooks of r{revision}"),
            Step::ApplyCrds { revision } => format!("install the CRDs of r{revision} (crds/)"),
        }
    }

    /// Whether the step changes what workloads run or where traffic goes (a step that only
    /// adds new config, runs hooks, waits or verifies does not).
    pub fn changes_workloads(&self) -> bool {
        matches!(
            self,
            Step::ApplyAll { .. }
                | Step::ApplyCanary { .. }
                | Step::ApplySlot { .. }
                | Step::SwitchServices { .. }
                | Step::ScaleSlot { .. }
                | Step::DeleteCanaries
        )
    }
}

/// What a run does to the release, which decides the hooks it runs (Helm's install,
/// upgrade and rollback).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lifecycle {
    #[default]
    Install,
    Upgrade,
    Rollback,
}

impl Lifecycle {
    pub fn pre(self) -> HookEvent {
        match self {
            Lifecycle::Install => HookEvent::PreInstall,
            Lifecycle::Upgrade => HookEvent::PreUpgrade,
            Lifecycle::Rollback => HookEvent::PreRollback,
        }
    }

    pub fn post(self) -> HookEvent {
        match self {
            Lifecycle::Install => HookEvent::PostInstall,
            Lifecycle::Upgrade => HookEvent::PostUpgrade,
            Lifecycle::Rollback => HookEvent::PostRollback,
        }
    }
}

/// Where a run stands, in the words of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum Status {
    Progressing,
    Paused,
    Healthy,
    Degraded,
    Aborted,
    RolledBack,
}

impl Status {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Healthy | Status::Degraded | Status::Aborted | Status::RolledBack
        )
    }
}

/// Why the run is going backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reverse {
    /// A failure, rolled back automatically.
    AutoRollback,
    /// The operator asked for a rollback.
    Rollback,
    /// The operator aborted.
    Abort,
}

impl Reverse {
    /// As the record spells it: `auto-rollback`, `rollback`, `abort`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reverse::AutoRollback => "auto-rollback",
            Reverse::Rollback => "rollback",
            Reverse::Abort => "abort",
        }
    }
}

/// One line of the run's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseEntry {
    pub step: Step,
    pub started_ms: u64,
    pub ended_ms: Option<u64>,
    /// How the step ended (None while it runs).
    pub outcome: Option<Outcome>,
}

/// How a step of the run ended. Recorded (and printed by `status -o json`) as the words
/// helmdeck always wrote: `done`, `failed: …`, `inconclusive: …`, `promoted`,
/// `promoted past the gate by the operator`, `skipped (promote --full)`, `aborted`,
/// `rolled back`; words it does not know (an older or newer helmdeck's) are kept as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed(String),
    Inconclusive(String),
    Promoted,
    PromotedPastGate,
    /// Skipped by `promote --full`.
    Skipped,
    Aborted,
    RolledBack,
    Other(String),
}

impl Outcome {
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            Outcome::Done => Cow::Borrowed("done"),
            Outcome::Failed(r) => Cow::Owned(format!("failed: {r}")),
            Outcome::Inconclusive(r) => Cow::Owned(format!("inconclusive: {r}")),
            Outcome::Promoted => Cow::Borrowed("promoted"),
            Outcome::PromotedPastGate => Cow::Borrowed("promoted past the gate by the operator"),
            Outcome::Skipped => Cow::Borrowed("skipped (promote --full)"),
            Outcome::Aborted => Cow::Borrowed("aborted"),
            Outcome::RolledBack => Cow::Borrowed("rolled back"),
            Outcome::Other(s) => Cow::Borrowed(s),
        }
    }

    /// Reads the recorded words back.
    pub fn parse(s: &str) -> Outcome {
        if let Some(r) = s.strip_prefix("failed: ") {
            return Outcome::Failed(r.to_string());
        }
        if let Some(r) = s.strip_prefix("inconclusive: ") {
            return Outcome::Inconclusive(r.to_string());
        }
        match s {
            "done" => Outcome::Done,
            "promoted" => Outcome::Promoted,
            "promoted past the gate by the operator" => Outcome::PromotedPastGate,
            "skipped (promote --full)" => Outcome::Skipped,
            "aborted" => Outcome::Aborted,
            "rolled back" => Outcome::RolledBack,
            other => Outcome::Other(other.to_string()),
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.text())
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Outcome::parse(&s))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub plan: Vec<Step>,
    pub cursor: usize,
    pub status: Status,
    /// Set when the run goes backwards; the plan then is the reverse plan.
    pub reverse: Option<Reverse>,
    /// Why it failed, rolled back or was aborted.
    pub reason: Option<String>,
    /// Index in `plan` of the first step that changes what the primaries run (promotion);
    /// before it, the primaries are untouched.
    pub promotion_index: Option<usize>,
    pub phases: Vec<PhaseEntry>,
    /// Set by a `promote` from any terminal; the driver consumes it at the next pause.
    pub promote_requested: bool,
    pub promote_full: bool,
    /// Set by an `abort` or `rollback` left in the record by helmdeck before requests had
    /// a place of their own; still honoured when a run recorded so is resumed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub abort_requested: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback_requested: bool,
    /// The id of the last operator request (see `cluster::requests`) the driver took.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub last_request: u64,
    /// Every gate this run ran, with its measurements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateRecord>,
    /// The steps the deploy gave instead of the service's configured ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<StepOverrides>,
    /// Every hook this run ran, with its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookRun>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the strategy needs to build a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInput {
    pub strategy: StrategyKind,
    pub revision: u32,
    /// The revision running now; None for the first deploy of a release.
    pub previous: Option<u32>,
    /// Canary: replicas of each step (already resolved from `percent`) or pauses.
    pub canary_steps: Vec<PlannedCanaryStep>,
    /// Blue/green: the live slot now, auto-promotion and the scale-down delay.
    pub live: Option<Color>,
    pub auto_promote: bool,
    pub scale_down_delay_ms: u64,
    /// Blue/green gates before and after the switch.
    pub pre_promotion: Vec<Check>,
    pub post_promotion: Vec<Check>,
    /// Rolling: the gate once healthy.
    pub verify: Vec<Check>,
    /// Install, upgrade (also a take-over of a release Helm installed) or rollback.
    pub lifecycle: Lifecycle,
    /// The events the revision has hooks for.
    pub hooks: Vec<HookEvent>,
    /// Apply the chart's `crds/` first.
    pub install_crds: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedCanaryStep {
    Pods(CanaryAmount),
    Pause(Option<u64>),
    Verify(Vec<Check>),
}

/// Builds the forward plan of a run: the strategy's steps, with the chart's `crds/` first
/// when they are installed, and the lifecycle's hooks where DESIGN.md "Helm lifecycle"
/// puts them — pre-hooks before anything changes (after the revision's new config, which
/// they may read), post-hooks once the release is healthy (after a promotion or a switch).
pub fn plan(input: &PlanInput) -> (Vec<Step>, Option<usize>) {
    let (mut steps, mut promotion) = strategy_plan(input);
    let r = input.revision;
    let has = |e: HookEvent| input.hooks.contains(&e);
    let post = input.lifecycle.post();
    if has(post) {
        let from = promotion.unwrap_or(0);
        let healthy = steps.iter().enumerate().skip(from).find_map(|(i, st)| {
            matches!(
                st,
                Step::WaitHealthy {
                    target: Target::Primaries
                }
            )
            .then_some(i)
        });
        let at = healthy.map(|i| i + 1).unwrap_or(steps.len());
        steps.insert(
            at,
            Step::Hooks {
                revision: r,
                event: post,
            },
        );
    }
    let mut prefix = Vec::new();
    if input.install_crds {
        prefix.push(Step::ApplyCrds { revision: r });
    }
    let pre = input.lifecycle.pre();
    if has(pre) {
        if steps.first() == Some(&Step::ApplyConfig { revision: r }) {
            steps.insert(
                1,
                Step::Hooks {
                    revision: r,
                    event: pre,
                },
            );
            promotion = promotion.map(|p| p + 1);
        } else {
            prefix.push(Step::ApplyConfig { revision: r });
            prefix.push(Step::Hooks {
                revision: r,
                event: pre,
            });
        }
    }
    let shift = prefix.len();
    prefix.extend(steps);
    (prefix, promotion.map(|p| p + shift))
}

/// The strategy's own steps.
fn strategy_plan(input: &PlanInput) -> (Vec<Step>, Option<usize>) {
    use StrategyKind as S;
    let r = input.revision;
    let first = input.previous.is_none();
    match input.strategy {
        S::Rolling => {
            let mut steps = vec![
                Step::ApplyAll { revision: r },
                Step::WaitHealthy {
                    target: Target::Primaries,
                },
            ];
            if !input.verify.is_empty() {
                steps.push(Step::Verify {
                    stage: GateStage::Rolling,
                    checks: input.verify.clone(),
                });
            }
            (steps, Some(0))
        }
        S::Canary if first => (
            vec![
                Step::ApplyAll { revision: r },
                Step::WaitHealthy {
                    target: Target::Primaries,
                },
            ],
            Some(0),
        ),
        S::Canary => {
            let mut steps = vec![Step::ApplyConfig { revision: r }];
            for s in &input.canary_steps {
                match s {
                    PlannedCanaryStep::Pods(amount) => {
                        steps.push(Step::ApplyCanary {
                            revision: r,
                            amount: *amount,
                        });
                        steps.push(Step::WaitHealthy {
                            target: Target::Canaries,
                        });
                    }
                    PlannedCanaryStep::Pause(d) => steps.push(Step::Pause { duration_ms: *d }),
                    PlannedCanaryStep::Verify(checks) if !checks.is_empty() => {
                        steps.push(Step::Verify {
                            stage: GateStage::Canary,
                            checks: checks.clone(),
                        })
                    }
                    PlannedCanaryStep::Verify(_) => {}
                }
            }
            let promotion = steps.len();
            steps.push(Step::ApplyAll { revision: r });
            steps.push(Step::WaitHealthy {
                target: Target::Primaries,
            });
            steps.push(Step::DeleteCanaries);
            (steps, Some(promotion))
        }
        S::Bluegreen if first => {
            let color = Color::Blue;
            (
                vec![
                    Step::ApplySlot { revision: r, color },
                    Step::WaitHealthy {
                        target: Target::Slot { color },
                    },
                    Step::SwitchServices { revision: r, color },
                    // The chart's other workloads (StatefulSets, DaemonSets, Jobs …) roll
                    // with the switch.
                    Step::WaitHealthy {
                        target: Target::Primaries,
                    },
                ],
                Some(0),
            )
        }
        S::Bluegreen => {
            let live = input.live.unwrap_or(Color::Blue);
            let idle = live.other();
            let mut steps = vec![
                Step::ApplyConfig { revision: r },
                Step::ApplySlot {
                    revision: r,
                    color: idle,
                },
                Step::WaitHealthy {
                    target: Target::Slot { color: idle },
                },
            ];
            if !input.pre_promotion.is_empty() {
                steps.push(Step::Verify {
                    stage: GateStage::PrePromotion,
                    checks: input.pre_promotion.clone(),
                });
            }
            if !input.auto_promote {
                steps.push(Step::Pause { duration_ms: None });
            }
            let promotion = steps.len();
            steps.push(Step::SwitchServices {
                revision: r,
                color: idle,
            });
            steps.push(Step::WaitHealthy {
                target: Target::Primaries,
            });
            if !input.post_promotion.is_empty() {
                steps.push(Step::Verify {
                    stage: GateStage::PostPromotion,
                    checks: input.post_promotion.clone(),
                });
            }
            steps.push(Step::Pause {
                duration_ms: Some(input.scale_down_delay_ms),
            });
            steps.push(Step::ScaleSlot {
                color: live,
                replicas: Some(0),
            });
            (steps, Some(promotion))
        }
    }
}

/// What moves a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The step under the cursor is done (applied, healthy, pause elapsed).
    StepDone,
    /// The step under the cursor failed and will not get better.
    StepFailed {
        reason: String,
    },
    /// The operator promotes past a pause (`full`: skip every remaining step to promotion).
    Promote {
        full: bool,
    },
    Abort,
    Rollback,
    /// The gate under the cursor failed: go back (policy `auto_rollback`), else pause for
    /// the operator.
    GateFailed {
        reason: String,
    },
    /// The gate under the cursor could not decide (errors reaching a check): pause for the
    /// operator, who may promote past it, roll back or abort.
    GateInconclusive {
        reason: String,
    },
}

/// Context for building reverse plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseInput {
    pub strategy: StrategyKind,
    pub previous: Option<u32>,
    pub auto_rollback: bool,
    /// Blue/green: the slot that was live before this run.
    pub live_before: Option<Color>,
    /// The events the revision a rollback returns to has hooks for (its pre/post-rollback
    /// hooks run, as Helm's rollback runs the target's).
    pub previous_hooks: Vec<HookEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("the run is {status:?}: nothing to {action}")]
    Finished {
        status: Status,
        action: &'static str,
    },
    #[error("the run is not paused (it is at: {at}); promote acts on a pause")]
    NotPaused { at: String },
    #[error("the run is already going back ({0:?})")]
    Reversing(Reverse),
}

impl Run {
    pub fn new(plan: Vec<Step>, promotion_index: Option<usize>, now_ms: u64) -> Run {
        let mut run = Run {
            plan,
            cursor: 0,
            status: Status::Progressing,
            reverse: None,
            reason: None,
            promotion_index,
            phases: Vec::new(),
            promote_requested: false,
            promote_full: false,
            abort_requested: false,
            rollback_requested: false,
            last_request: 0,
            gates: Vec::new(),
            overrides: None,
            hooks: Vec::new(),
        };
        run.enter(now_ms);
        run
    }

    pub fn current(&self) -> Option<&Step> {
        if self.status.is_terminal() {
            return None;
        }
        self.plan.get(self.cursor)
    }

    /// True once the primaries (or live traffic) run the new revision.
    pub fn promoted(&self) -> bool {
        self.reverse.is_none() && self.promotion_index.is_some_and(|p| self.cursor > p)
    }

    /// The gate the run is paused at (failed without auto-rollback, or inconclusive).
    pub fn paused_gate(&self) -> Option<&GateRecord> {
        if self.status != Status::Paused || self.reverse.is_some() {
            return None;
        }
        match self.current() {
            Some(Step::Verify { .. }) => self
                .gates
                .iter()
                .rev()
                .find(|g| g.step == self.cursor && g.verdict.is_some()),
            _ => None,
        }
    }

    /// The check a paused gate stopped on, which a promote past it must name.
    pub fn paused_gate_check(&self) -> Option<&str> {
        match &self.paused_gate()?.verdict {
            Some(Verdict::Failed { check, .. } | Verdict::Inconclusive { check, .. }) => {
                Some(check)
            }
            _ => None,
        }
    }

    /// When the current step started (for timed pauses).
    pub fn current_started_ms(&self) -> Option<u64> {
        self.phases
            .last()
            .filter(|p| p.ended_ms.is_none())
            .map(|p| p.started_ms)
    }

    fn enter(&mut self, now_ms: u64) {
        match self.plan.get(self.cursor) {
            Some(step) => {
                self.status = match step {
                    Step::Pause { duration_ms: None } => Status::Paused,
                    _ if self.status == Status::Paused => Status::Progressing,
                    _ => self.status,
                };
                self.phases.push(PhaseEntry {
                    step: step.clone(),
                    started_ms: now_ms,
                    ended_ms: None,
                    outcome: None,
                });
            }
            None => {
                self.status = match self.reverse {
                    None => Status::Healthy,
                    Some(Reverse::Abort) => Status::Aborted,
                    Some(Reverse::AutoRollback | Reverse::Rollback) => Status::RolledBack,
                };
            }
        }
    }

    fn close(&mut self, now_ms: u64, outcome: Outcome) {
        if let Some(p) = self.phases.last_mut().filter(|p| p.ended_ms.is_none()) {
            p.ended_ms = Some(now_ms);
            p.outcome = Some(outcome);
        }
    }

    fn go_back(&mut self, why: Reverse, plan: Vec<Step>, reason: Option<String>, now_ms: u64) {
        self.reverse = Some(why);
        if reason.is_some() {
            self.reason = reason;
        }
        self.plan = plan;
        self.cursor = 0;
        self.promote_requested = false;
        self.abort_requested = false;
        self.rollback_requested = false;
        if self.status == Status::Paused {
            self.status = Status::Progressing;
        }
        self.enter(now_ms);
    }

    /// The steps that undo this run from where it stands.
    pub fn reverse_plan(&self, ctx: &ReverseInput) -> Vec<Step> {
        use StrategyKind as S;
        if self.reverse.is_none() && !self.touched() {
            // Only new config applied and hooks run (a failed pre-hook): nothing to undo.
            return Vec::new();
        }
        let promoted =
            self.promotion_index.is_some_and(|p| self.cursor > p) && self.reverse.is_none();
        let rollback_hooks = |prev: u32, core: Vec<Step>| -> Vec<Step> {
            let mut steps = Vec::new();
            let has = |e: HookEvent| ctx.previous_hooks.contains(&e);
            if has(HookEvent::PreRollback) {
                steps.push(Step::Hooks {
                    revision: prev,
                    event: HookEvent::PreRollback,
                });
            }
            steps.extend(core);
            if has(HookEvent::PostRollback) {
                steps.push(Step::Hooks {
                    revision: prev,
                    event: HookEvent::PostRollback,
                });
            }
            steps
        };
        match ctx.strategy {
            S::Canary if !promoted && self.promotion_index.is_some_and(|p| p > 0) => {
                vec![Step::DeleteCanaries]
            }
            S::Bluegreen if ctx.live_before.is_some() => {
                let live = ctx.live_before.unwrap_or(Color::Blue);
                let idle = live.other();
                let mut steps = Vec::new();
                if promoted {
                    // Instant: traffic back to the old slot, which is still up.
                    let mut back = vec![
                        Step::ScaleSlot {
                            color: live,
                            replicas: None,
                        },
                        Step::WaitHealthy {
                            target: Target::Slot { color: live },
                        },
                    ];
                    if let Some(prev) = ctx.previous {
                        back.push(Step::SwitchServices {
                            revision: prev,
                            color: live,
                        });
                        back.push(Step::WaitHealthy {
                            target: Target::Primaries,
                        });
                        back = rollback_hooks(prev, back);
                    }
                    steps.extend(back);
                }
                steps.push(Step::ScaleSlot {
                    color: idle,
                    replicas: Some(0),
                });
                steps
            }
            _ => match ctx.previous {
                Some(prev) => {
                    let mut steps = rollback_hooks(
                        prev,
                        vec![
                            Step::ApplyAll { revision: prev },
                            Step::WaitHealthy {
                                target: Target::Primaries,
                            },
                        ],
                    );
                    if matches!(ctx.strategy, S::Canary) {
                        steps.push(Step::DeleteCanaries);
                    }
                    steps
                }
                None => Vec::new(),
            },
        }
    }

    /// Whether any step so far (the one under the cursor included, which may have run in
    /// part) changed workloads or traffic.
    pub fn touched(&self) -> bool {
        let end = (self.cursor + 1).min(self.plan.len());
        self.plan[..end].iter().any(Step::changes_workloads)
    }

    /// Applies an event. `ctx` decides how to go back when needed.
    pub fn apply(&mut self, event: Event, ctx: &ReverseInput, now_ms: u64) -> Result<(), RunError> {
        if self.status.is_terminal() {
            let action = match event {
                Event::StepDone
                | Event::StepFailed { .. }
                | Event::GateFailed { .. }
                | Event::GateInconclusive { .. } => "advance",
                Event::Promote { .. } => "promote",
                Event::Abort => "abort",
                Event::Rollback => "roll back",
            };
            return Err(RunError::Finished {
                status: self.status,
                action,
            });
        }
        match event {
            Event::StepDone => {
                self.close(now_ms, Outcome::Done);
                self.cursor += 1;
                self.enter(now_ms);
            }
            Event::StepFailed { reason } => {
                self.close(now_ms, Outcome::Failed(reason.clone()));
                if self.reverse.is_some() {
                    // Failing while going back: stop and say so; nothing more is safe to do.
                    self.reason = Some(format!(
                        "{} — then the way back failed: {reason}",
                        self.reason.clone().unwrap_or_default()
                    ));
                    self.status = Status::Degraded;
                    return Ok(());
                }
                let back = self.reverse_plan(ctx);
                if !self.touched() {
                    // Nothing changed (a pre-hook failed): the release stays as it was.
                    self.go_back(Reverse::AutoRollback, Vec::new(), Some(reason), now_ms);
                } else if ctx.auto_rollback && !back.is_empty() {
                    self.go_back(Reverse::AutoRollback, back, Some(reason), now_ms);
                } else {
                    self.reason = Some(reason);
                    self.status = Status::Degraded;
                }
            }
            Event::GateFailed { reason } => {
                if self.reverse.is_some() {
                    return self.apply(Event::StepFailed { reason }, ctx, now_ms);
                }
                let back = self.reverse_plan(ctx);
                // Before promotion a failed gate always takes the new version out of traffic
                // (canaries deleted, or the idle slot scaled down): the primaries / the live
                // slot were never touched. After it, going back is the policy's call.
                let before_promotion =
                    matches!(ctx.strategy, StrategyKind::Canary | StrategyKind::Bluegreen)
                        && !self.promoted();
                if (ctx.auto_rollback || before_promotion) && !back.is_empty() {
                    self.close(now_ms, Outcome::Failed(reason.clone()));
                    self.go_back(Reverse::AutoRollback, back, Some(reason), now_ms);
                } else {
                    // Without auto-rollback (or nothing to go back to) the operator decides:
                    // promote past the gate, roll back or abort.
                    self.reason = Some(reason);
                    self.status = Status::Paused;
                }
            }
            Event::GateInconclusive { reason } => {
                if self.reverse.is_some() {
                    return self.apply(Event::StepFailed { reason }, ctx, now_ms);
                }
                self.reason = Some(reason);
                self.status = Status::Paused;
            }
            Event::Promote { full } => {
                if let Some(r) = self.reverse {
                    return Err(RunError::Reversing(r));
                }
                // `--full` skips every remaining step before promotion, from wherever the
                // run stands.
                let skip_to = self.promotion_index.filter(|p| full && *p > self.cursor);
                let outcome = match self.plan.get(self.cursor) {
                    Some(Step::Pause { .. }) => Outcome::Promoted,
                    Some(Step::Verify { .. }) if self.status == Status::Paused => {
                        self.reason = None;
                        Outcome::PromotedPastGate
                    }
                    Some(_) if skip_to.is_some() => Outcome::Skipped,
                    Some(other) => {
                        return Err(RunError::NotPaused {
                            at: other.describe(),
                        })
                    }
                    None => {
                        return Err(RunError::Finished {
                            status: self.status,
                            action: "promote",
                        })
                    }
                };
                self.close(now_ms, outcome);
                self.cursor = skip_to.unwrap_or(self.cursor + 1);
                // The request is used up: a later pause waits for a promote of its own.
                self.promote_requested = false;
                self.enter(now_ms);
            }
            Event::Abort | Event::Rollback => {
                if let Some(r) = self.reverse {
                    return Err(RunError::Reversing(r));
                }
                let why = if event == Event::Abort {
                    Reverse::Abort
                } else {
                    Reverse::Rollback
                };
                self.close(
                    now_ms,
                    if why == Reverse::Abort {
                        Outcome::Aborted
                    } else {
                        Outcome::RolledBack
                    },
                );
                let back = self.reverse_plan(ctx);
                let reason = Some(match why {
                    Reverse::Abort => "aborted by the operator".to_string(),
                    _ => "rolled back by the operator".to_string(),
                });
                self.go_back(why, back, reason, now_ms);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StrategyKind as S;

    fn input(strategy: S, previous: Option<u32>) -> PlanInput {
        PlanInput {
            strategy,
            revision: 2,
            previous,
            canary_steps: vec![
                PlannedCanaryStep::Pods(CanaryAmount::Replicas(1)),
                PlannedCanaryStep::Pause(None),
                PlannedCanaryStep::Pods(CanaryAmount::Percent(50)),
                PlannedCanaryStep::Pause(Some(30_000)),
            ],
            live: Some(Color::Blue),
            auto_promote: false,
            scale_down_delay_ms: 600_000,
            pre_promotion: vec![],
            post_promotion: vec![],
            verify: vec![],
            lifecycle: if previous.is_some() {
                Lifecycle::Upgrade
            } else {
                Lifecycle::Install
            },
            hooks: vec![],
            install_crds: false,
        }
    }

    fn ctx(strategy: S, previous: Option<u32>) -> ReverseInput {
        ReverseInput {
            strategy,
            previous,
            auto_rollback: true,
            live_before: Some(Color::Blue),
            previous_hooks: vec![],
        }
    }

    fn run_for(strategy: S, previous: Option<u32>) -> Run {
        let (p, promo) = plan(&input(strategy, previous));
        Run::new(p, promo, 0)
    }

    #[test]
    fn first_revision_deploys_directly_whatever_the_strategy() {
        for s in [S::Rolling, S::Canary] {
            let (p, _) = plan(&input(s, None));
            assert_eq!(
                p,
                vec![
                    Step::ApplyAll { revision: 2 },
                    Step::WaitHealthy {
                        target: Target::Primaries
                    }
                ]
            );
        }
        let (p, _) = plan(&input(S::Bluegreen, None));
        assert!(matches!(
            p[0],
            Step::ApplySlot {
                color: Color::Blue,
                ..
            }
        ));
    }

    #[test]
    fn canary_stops_at_a_manual_pause_and_promote_finishes() {
        let mut r = run_for(S::Canary, Some(1));
        let c = ctx(S::Canary, Some(1));
        while r.status == Status::Progressing {
            r.apply(Event::StepDone, &c, 1).expect("advance");
        }
        assert_eq!(r.status, Status::Paused);
        assert!(!r.promoted(), "primary untouched before promotion");
        r.apply(Event::Promote { full: false }, &c, 2)
            .expect("promote");
        assert_eq!(
            r.current(),
            Some(&Step::ApplyCanary {
                revision: 2,
                amount: CanaryAmount::Percent(50)
            })
        );
        r.promote_requested = true;
        r.apply(Event::Promote { full: true }, &c, 3)
            .expect("full promote skips the rest");
        assert_eq!(r.current(), Some(&Step::ApplyAll { revision: 2 }));
        assert!(!r.promote_requested, "the request is used up");
        assert_eq!(r.phases[r.phases.len() - 2].outcome, Some(Outcome::Skipped));
        assert_eq!(
            r.apply(Event::Promote { full: false }, &c, 3),
            Err(RunError::NotPaused {
                at: Step::ApplyAll { revision: 2 }.describe()
            }),
            "nothing left to skip and not paused"
        );
        while !r.status.is_terminal() {
            r.apply(Event::StepDone, &c, 4).expect("advance");
        }
        assert_eq!(r.status, Status::Healthy);
    }

    #[test]
    fn failing_canary_deletes_canaries_and_never_touches_the_primary() {
        let mut r = run_for(S::Canary, Some(1));
        let c = ctx(S::Canary, Some(1));
        r.apply(Event::StepDone, &c, 1).expect("config");
        r.apply(Event::StepDone, &c, 2).expect("canary applied");
        r.apply(
            Event::StepFailed {
                reason: "CrashLoopBackOff in web-canary-x".into(),
            },
            &c,
            3,
        )
        .expect("fail");
        assert_eq!(r.reverse, Some(Reverse::AutoRollback));
        assert_eq!(r.plan, vec![Step::DeleteCanaries]);
        r.apply(Event::StepDone, &c, 4).expect("deleted");
        assert_eq!(r.status, Status::RolledBack);
        assert!(r
            .reason
            .as_deref()
            .is_some_and(|s| s.contains("CrashLoopBackOff")));
        assert!(
            !r.phases
                .iter()
                .any(|p| matches!(p.step, Step::ApplyAll { .. })),
            "primary never applied"
        );
    }

    #[test]
    fn rolling_failure_reapplies_the_previous_revision() {
        let mut r = run_for(S::Rolling, Some(1));
        let c = ctx(S::Rolling, Some(1));
        r.apply(Event::StepDone, &c, 1).expect("applied");
        r.apply(
            Event::StepFailed {
                reason: "ImagePullBackOff".into(),
            },
            &c,
            2,
        )
        .expect("fail");
        assert_eq!(r.plan[0], Step::ApplyAll { revision: 1 });
        r.apply(Event::StepDone, &c, 3).expect("applied");
        r.apply(Event::StepDone, &c, 4).expect("healthy");
        assert_eq!(r.status, Status::RolledBack);
    }

    #[test]
    fn without_auto_rollback_a_failure_is_degraded() {
        let mut r = run_for(S::Rolling, Some(1));
        let mut c = ctx(S::Rolling, Some(1));
        c.auto_rollback = false;
        r.apply(Event::StepDone, &c, 1).expect("applied");
        r.apply(Event::StepFailed { reason: "x".into() }, &c, 2)
            .expect("fail");
        assert_eq!(r.status, Status::Degraded);
        assert!(
            r.apply(Event::StepDone, &c, 3).is_err(),
            "a finished run does not move"
        );
    }

    #[test]
    fn abort_before_promotion_only_deletes_canaries() {
        let mut r = run_for(S::Canary, Some(1));
        let c = ctx(S::Canary, Some(1));
        r.apply(Event::StepDone, &c, 1).expect("config");
        r.apply(Event::Abort, &c, 2).expect("abort");
        assert_eq!(r.plan, vec![Step::DeleteCanaries]);
        r.apply(Event::StepDone, &c, 3).expect("deleted");
        assert_eq!(r.status, Status::Aborted);
    }

    #[test]
    fn bluegreen_rollback_after_switch_is_a_selector_switch_back() {
        let mut r = run_for(S::Bluegreen, Some(1));
        let c = ctx(S::Bluegreen, Some(1));
        while r.status == Status::Progressing {
            r.apply(Event::StepDone, &c, 1).expect("advance");
        }
        assert_eq!(r.status, Status::Paused);
        r.apply(Event::Promote { full: false }, &c, 2)
            .expect("promote");
        r.apply(Event::StepDone, &c, 3).expect("switched");
        assert!(r.promoted());
        r.apply(Event::StepDone, &c, 3)
            .expect("the other workloads healthy");
        assert!(matches!(
            r.current(),
            Some(Step::Pause {
                duration_ms: Some(600_000)
            })
        ));
        r.apply(Event::Rollback, &c, 4).expect("rollback");
        assert!(r.plan.contains(&Step::SwitchServices {
            revision: 1,
            color: Color::Blue
        }));
        assert!(
            !r.plan
                .iter()
                .any(|s| matches!(s, Step::ApplySlot { .. } | Step::ApplyAll { .. })),
            "no pod created: {:?}",
            r.plan
        );
    }

    #[test]
    fn canary_percent_rounds_up_and_keeps_one_pod() {
        let cases = [
            (50, 4, 2),
            (50, 3, 2),
            (10, 3, 1),
            (1, 1, 1),
            (100, 5, 5),
            (34, 3, 2),
            (20, 0, 1),
        ];
        for (pct, primary, want) in cases {
            assert_eq!(
                CanaryAmount::Percent(pct).pods(primary),
                want,
                "{pct}% of {primary}"
            );
        }
        assert_eq!(CanaryAmount::Replicas(2).pods(10), 2);
    }

    #[test]
    fn promote_is_refused_when_not_paused() {
        let mut r = run_for(S::Rolling, Some(1));
        let c = ctx(S::Rolling, Some(1));
        assert!(matches!(
            r.apply(Event::Promote { full: false }, &c, 1),
            Err(RunError::NotPaused { .. })
        ));
    }

    #[test]
    fn a_run_survives_serialization_at_every_step() {
        let mut r = run_for(S::Canary, Some(1));
        let c = ctx(S::Canary, Some(1));
        for i in 0..3 {
            let text = serde_json::to_string(&r).expect("json");
            let back: Run = serde_json::from_str(&text).expect("back");
            assert_eq!(back, r);
            r.apply(Event::StepDone, &c, i).expect("advance");
        }
    }

    fn check(name: &str) -> Check {
        Check {
            name: name.into(),
            http: None,
            prometheus: None,
            command: Some(vec!["true".into()]),
            interval: None,
            count: None,
            failure_limit: None,
            initial_delay: None,
            timeout: None,
        }
    }

    #[test]
    fn gates_sit_where_the_strategy_puts_them() {
        let mut i = input(S::Canary, Some(1));
        i.canary_steps
            .insert(1, PlannedCanaryStep::Verify(vec![check("smoke")]));
        let (p, promo) = plan(&i);
        let at = p
            .iter()
            .position(|s| {
                matches!(
                    s,
                    Step::Verify {
                        stage: GateStage::Canary,
                        ..
                    }
                )
            })
            .expect("verify step");
        assert!(matches!(
            p[at - 1],
            Step::WaitHealthy {
                target: Target::Canaries
            }
        ));
        assert!(at < promo.expect("promotion"));

        let mut i = input(S::Bluegreen, Some(1));
        i.pre_promotion = vec![check("pre")];
        i.post_promotion = vec![check("post")];
        let (p, promo) = plan(&i);
        let promo = promo.expect("promotion");
        assert!(matches!(p[promo], Step::SwitchServices { .. }));
        assert_eq!(
            p[promo + 1],
            Step::WaitHealthy {
                target: Target::Primaries
            },
            "the other workloads roll with the switch"
        );
        assert!(matches!(
            p[promo + 2],
            Step::Verify {
                stage: GateStage::PostPromotion,
                ..
            }
        ));
        assert!(p[..promo].iter().any(|s| matches!(
            s,
            Step::Verify {
                stage: GateStage::PrePromotion,
                ..
            }
        )));

        let mut i = input(S::Rolling, Some(1));
        i.verify = vec![check("e2e")];
        let (p, _) = plan(&i);
        assert!(matches!(
            p.last(),
            Some(Step::Verify {
                stage: GateStage::Rolling,
                ..
            })
        ));
        i.verify.clear();
        assert_eq!(plan(&i).0.len(), 2, "no gate without checks");
    }

    fn run_to_gate(r: &mut Run, c: &ReverseInput) {
        while !matches!(r.current(), Some(Step::Verify { .. })) {
            match r.current() {
                Some(Step::Pause { .. }) => r.apply(Event::Promote { full: false }, c, 1),
                _ => r.apply(Event::StepDone, c, 1),
            }
            .expect("advance");
        }
    }

    #[test]
    fn a_failed_canary_gate_deletes_the_canaries_and_names_the_check() {
        let mut i = input(S::Canary, Some(1));
        i.canary_steps
            .insert(1, PlannedCanaryStep::Verify(vec![check("smoke")]));
        let (p, promo) = plan(&i);
        let mut r = Run::new(p, promo, 0);
        let c = ctx(S::Canary, Some(1));
        run_to_gate(&mut r, &c);
        r.apply(
            Event::GateFailed {
                reason: "canary gate: check `smoke` failed".into(),
            },
            &c,
            2,
        )
        .expect("fail");
        assert_eq!(r.plan, vec![Step::DeleteCanaries]);
        r.apply(Event::StepDone, &c, 3).expect("deleted");
        assert_eq!(r.status, Status::RolledBack);
        assert!(r.reason.as_deref().is_some_and(|t| t.contains("smoke")));
    }

    #[test]
    fn a_failed_post_promotion_gate_switches_back() {
        let mut i = input(S::Bluegreen, Some(1));
        i.post_promotion = vec![check("post")];
        let (p, promo) = plan(&i);
        let mut r = Run::new(p, promo, 0);
        let c = ctx(S::Bluegreen, Some(1));
        run_to_gate(&mut r, &c);
        assert!(r.promoted());
        r.apply(Event::GateFailed { reason: "x".into() }, &c, 2)
            .expect("fail");
        assert!(r.plan.contains(&Step::SwitchServices {
            revision: 1,
            color: Color::Blue
        }));
    }

    #[test]
    fn an_inconclusive_gate_pauses_and_promote_goes_past_it() {
        let mut i = input(S::Rolling, Some(1));
        i.verify = vec![check("e2e")];
        let (p, promo) = plan(&i);
        let mut r = Run::new(p, promo, 0);
        let c = ctx(S::Rolling, Some(1));
        run_to_gate(&mut r, &c);
        r.apply(
            Event::GateInconclusive {
                reason: "unreachable".into(),
            },
            &c,
            2,
        )
        .expect("inconclusive");
        assert_eq!(r.status, Status::Paused);
        assert!(
            r.current_started_ms().is_some(),
            "the gate's phase stays open"
        );
        r.apply(Event::Promote { full: false }, &c, 3)
            .expect("promote past");
        assert_eq!(r.status, Status::Healthy);
        assert_eq!(r.reason, None);
        assert_eq!(
            r.phases.last().and_then(|p| p.outcome.clone()),
            Some(Outcome::PromotedPastGate)
        );
    }

    #[test]
    fn without_auto_rollback_a_failed_gate_waits_for_the_operator() {
        let mut i = input(S::Rolling, Some(1));
        i.verify = vec![check("e2e")];
        let (p, promo) = plan(&i);
        let mut r = Run::new(p, promo, 0);
        let mut c = ctx(S::Rolling, Some(1));
        c.auto_rollback = false;
        run_to_gate(&mut r, &c);
        r.apply(Event::GateFailed { reason: "x".into() }, &c, 2)
            .expect("fail");
        assert_eq!(r.status, Status::Paused);
        assert_eq!(r.reverse, None);
        r.apply(Event::Rollback, &c, 3).expect("rollback");
        assert_eq!(r.plan[0], Step::ApplyAll { revision: 1 });
    }

    #[test]
    fn without_auto_rollback_a_failed_canary_gate_still_deletes_the_canaries() {
        let mut i = input(S::Canary, Some(1));
        i.canary_steps
            .insert(1, PlannedCanaryStep::Verify(vec![check("smoke")]));
        let (p, promo) = plan(&i);
        let mut r = Run::new(p, promo, 0);
        let mut c = ctx(S::Canary, Some(1));
        c.auto_rollback = false;
        run_to_gate(&mut r, &c);
        r.apply(
            Event::GateFailed {
                reason: "smoke".into(),
            },
            &c,
            2,
        )
        .expect("fail");
        assert_eq!(r.plan, vec![Step::DeleteCanaries]);
        r.apply(Event::StepDone, &c, 3).expect("deleted");
        assert_eq!(r.status, Status::RolledBack);
    }

    fn hooked(strategy: S, previous: Option<u32>, events: &[HookEvent]) -> PlanInput {
        let mut i = input(strategy, previous);
        i.hooks = events.to_vec();
        i
    }

    fn hook(event: HookEvent) -> Step {
        Step::Hooks { revision: 2, event }
    }

    #[test]
    fn hooks_sit_where_design_puts_them_in_every_strategy() {
        use HookEvent as H;
        let both = [H::PreUpgrade, H::PostUpgrade, H::PreInstall, H::PostInstall];
        // Rolling: pre before the apply (after the new config), post once healthy.
        let (p, promo) = plan(&hooked(S::Rolling, Some(1), &both));
        assert_eq!(
            p,
            vec![
                Step::ApplyConfig { revision: 2 },
                hook(H::PreUpgrade),
                Step::ApplyAll { revision: 2 },
                Step::WaitHealthy {
                    target: Target::Primaries
                },
                hook(H::PostUpgrade),
            ]
        );
        assert_eq!(promo, Some(2));
        // Canary: pre before the first canary, post after the primaries are healthy.
        let (p, promo) = plan(&hooked(S::Canary, Some(1), &both));
        assert_eq!(p[1], hook(H::PreUpgrade));
        assert!(matches!(p[2], Step::ApplyCanary { .. }));
        let promo = promo.expect("promotion");
        assert_eq!(p[promo], Step::ApplyAll { revision: 2 });
        assert_eq!(p[promo + 2], hook(H::PostUpgrade));
        assert_eq!(p[promo + 3], Step::DeleteCanaries);
        // Blue/green: pre before the idle slot, post after the switch.
        let (p, promo) = plan(&hooked(S::Bluegreen, Some(1), &both));
        assert_eq!(p[1], hook(H::PreUpgrade));
        assert!(matches!(p[2], Step::ApplySlot { .. }));
        let promo = promo.expect("promotion");
        assert!(matches!(p[promo], Step::SwitchServices { .. }));
        assert_eq!(p[promo + 2], hook(H::PostUpgrade));
        // A first deploy runs the install hooks, after the chart's crds/.
        let mut first = hooked(S::Bluegreen, None, &both);
        first.install_crds = true;
        let (p, promo) = plan(&first);
        assert_eq!(p[0], Step::ApplyCrds { revision: 2 });
        assert_eq!(p[2], hook(H::PreInstall));
        assert_eq!(promo, Some(3));
        assert_eq!(p.last(), Some(&hook(H::PostInstall)));
        // No hooks of the lifecycle's events: the strategy's plan alone.
        assert_eq!(
            plan(&hooked(S::Rolling, Some(1), &[H::PreInstall, H::Test]))
                .0
                .len(),
            2
        );
    }

    #[test]
    fn a_failed_pre_hook_leaves_everything_as_it_was() {
        use HookEvent as H;
        for strategy in [S::Rolling, S::Canary, S::Bluegreen] {
            let (p, promo) = plan(&hooked(strategy, Some(1), &[H::PreUpgrade]));
            let mut r = Run::new(p, promo, 0);
            let c = ctx(strategy, Some(1));
            r.apply(Event::StepDone, &c, 1).expect("config applied");
            r.apply(
                Event::StepFailed {
                    reason: "pre-upgrade hook Job/migrate failed".into(),
                },
                &c,
                2,
            )
            .expect("fail");
            assert_eq!(r.status, Status::RolledBack, "{strategy:?}");
            assert!(r.plan.is_empty(), "nothing to undo: {:?}", r.plan);
            assert!(r
                .reason
                .as_deref()
                .is_some_and(|t| t.contains("Job/migrate")));
        }
    }

    #[test]
    fn a_failed_post_hook_goes_back_with_the_previous_revisions_rollback_hooks() {
        use HookEvent as H;
        let (p, promo) = plan(&hooked(S::Rolling, Some(1), &[H::PostUpgrade]));
        let mut r = Run::new(p, promo, 0);
        let mut c = ctx(S::Rolling, Some(1));
        c.previous_hooks = vec![H::PreRollback, H::PostRollback];
        r.apply(Event::StepDone, &c, 1).expect("applied");
        r.apply(Event::StepDone, &c, 2).expect("healthy");
        r.apply(Event::StepFailed { reason: "x".into() }, &c, 3)
            .expect("post hook failed");
        assert_eq!(r.reverse, Some(Reverse::AutoRollback));
        let rb = |event| Step::Hooks { revision: 1, event };
        assert_eq!(
            r.plan,
            vec![
                rb(H::PreRollback),
                Step::ApplyAll { revision: 1 },
                Step::WaitHealthy {
                    target: Target::Primaries
                },
                rb(H::PostRollback),
            ]
        );
        // Aborting a canary before promotion runs no hooks.
        let (p, promo) = plan(&input(S::Canary, Some(1)));
        let mut r = Run::new(p, promo, 0);
        let mut c = ctx(S::Canary, Some(1));
        c.previous_hooks = vec![H::PreRollback];
        r.apply(Event::StepDone, &c, 1).expect("config");
        r.apply(Event::StepDone, &c, 2).expect("canary");
        r.apply(Event::Abort, &c, 3).expect("abort");
        assert_eq!(r.plan, vec![Step::DeleteCanaries]);
    }

    #[test]
    fn a_rollback_runs_the_target_revisions_rollback_hooks() {
        use HookEvent as H;
        let mut i = hooked(
            S::Rolling,
            Some(1),
            &[H::PreRollback, H::PostRollback, H::PreUpgrade],
        );
        i.lifecycle = Lifecycle::Rollback;
        let (p, _) = plan(&i);
        assert_eq!(p[1], hook(H::PreRollback));
        assert_eq!(p.last(), Some(&hook(H::PostRollback)));
        assert!(!p.contains(&hook(H::PreUpgrade)));
    }
}
