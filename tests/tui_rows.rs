//! The pure row functions of the console's executor: a pod's JSON as a table row, a run's
//! record as a timeline.

use helmdeck::app::{pod_row, run_view};
use helmdeck::domain::record::{ChartInfo, ReleaseRecord};
use helmdeck::domain::run::{CanaryAmount, Run, Status, Step, StrategyKind, Target};
use helmdeck::tui::state::StepState;
use serde_json::json;

#[test]
fn a_crash_looping_canary_pod_shows_its_reason_track_and_restarts() {
    let pod = json!({
        "metadata": {
            "name": "web-canary-7c9-abcde",
            "creationTimestamp": "2026-11-25T08:00:00Z",
            "labels": { "helmdeck.io/track": "canary", "app.kubernetes.io/instance": "web" }
        },
        "spec": { "containers": [ { "name": "web" }, { "name": "sidecar" } ] },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                { "name": "web", "ready": false, "restartCount": 4,
                  "state": { "waiting": { "reason": "CrashLoopBackOff" } } },
                { "name": "sidecar", "ready": true, "restartCount": 1, "state": { "running": {} } }
            ]
        }
    });
    let row = pod_row(&pod);
    assert_eq!(row.name, "web-canary-7c9-abcde");
    assert_eq!(row.track, "canary");
    assert_eq!(row.phase, "Running");
    assert_eq!(row.ready, (1, 2));
    assert_eq!(row.restarts, 5);
    assert_eq!(row.reason.as_deref(), Some("CrashLoopBackOff"));
    assert_eq!(row.created_ms, 1_795_593_600_000);
}

#[test]
fn a_pod_being_deleted_is_terminating_and_a_slot_is_its_track() {
    let pod = json!({
        "metadata": {
            "name": "payments-green-1",
            "deletionTimestamp": "2026-11-25T08:00:00Z",
            "labels": { "helmdeck.io/slot": "green" }
        },
        "status": { "phase": "Running" }
    });
    let row = pod_row(&pod);
    assert_eq!(row.phase, "Terminating");
    assert_eq!(row.track, "green");
    assert_eq!(row.reason, None);
}

fn record(run: Run) -> ReleaseRecord {
    ReleaseRecord {
        release: "web".into(),
        namespace: "demo".into(),
        revision: 2,
        service: "web".into(),
        environment: "staging".into(),
        chart: ChartInfo {
            repository: "demo".into(),
            name: "web".into(),
            version: "1.2.0".into(),
            digest: "sha256:0".into(),
            revision: None,
        },
        values_layers: Vec::new(),
        manifests: Vec::new(),
        strategy: StrategyKind::Canary,
        slot: None,
        previous: Some(1),
        live_before: None,
        workloads: Vec::new(),
        run,
        operator: "alice@deck".into(),
        created: "2026-11-25T08:00:00Z".into(),
        updated: "2026-11-25T08:00:00Z".into(),
    }
}

#[test]
fn the_timeline_shows_done_current_and_pending_steps() {
    let plan = vec![
        Step::ApplyCanary {
            revision: 2,
            amount: CanaryAmount::Replicas(1),
        },
        Step::WaitHealthy {
            target: Target::Canaries,
        },
        Step::Pause {
            duration_ms: Some(30_000),
        },
        Step::DeleteCanaries,
    ];
    let mut run = Run::new(plan, Some(3), 1_000);
    let ctx = helmdeck::domain::run::ReverseInput {
        strategy: StrategyKind::Canary,
        previous: Some(1),
        auto_rollback: true,
        live_before: None,
    };
    run.apply(helmdeck::domain::run::Event::StepDone, &ctx, 2_000)
        .expect("step done");
    run.apply(helmdeck::domain::run::Event::StepDone, &ctx, 3_000)
        .expect("step done");
    let view = run_view(&record(run));
    let states: Vec<StepState> = view.steps.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        vec![
            StepState::Done,
            StepState::Done,
            StepState::Current,
            StepState::Pending
        ]
    );
    assert_eq!(view.status, Status::Progressing);
    assert_eq!(
        view.pause_until_ms,
        Some(33_000),
        "a timed pause counts down"
    );
    assert_eq!(view.started_ms, 1_000);
    assert_eq!(view.reverse, None);
}
