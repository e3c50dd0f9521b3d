//! The pure row functions of the console's executor: a pod's JSON as a table row, a run's
//! record as a timeline.

use helmdeck::domain::record::{ChartInfo, ReleaseRecord};
use helmdeck::domain::run::{CanaryAmount, Run, Status, Step, StrategyKind, Target};
use helmdeck::domain::strategy::Track;
use helmdeck::tui::rows::{pod_row, run_view};
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
    assert_eq!(row.track, Track::Canary);
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
    assert_eq!(row.track, Track::Green);
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
            dependencies: Vec::new(),
        },
        values_layers: Vec::new(),
        manifests: helmdeck::domain::record::Manifests::new(&[]),
        helm: Default::default(),
        strategy: StrategyKind::Canary,
        slot: None,
        previous: Some(1),
        live_before: None,
        workloads: Vec::new(),
        run,
        operator: "alice@deck".into(),
        created: "2026-11-25T08:00:00Z".into(),
        updated: "2026-11-25T08:00:00Z".into(),
        driven_by: None,
        resource_version: None,
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
        previous_hooks: vec![],
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

#[test]
fn a_gate_in_the_timeline_shows_a_mark_per_measurement_and_the_last_value() {
    use helmdeck::domain::gate::{Check, GateRecord, GateStage, Measurement, Outcome};
    let check = Check {
        name: "smoke".into(),
        http: None,
        prometheus: None,
        command: Some(vec!["./e2e.sh".into()]),
        interval: None,
        count: Some(3),
        failure_limit: Some(1),
        initial_delay: None,
        timeout: None,
    };
    let plan = vec![
        Step::Verify {
            stage: GateStage::Canary,
            checks: vec![check.clone()],
        },
        Step::DeleteCanaries,
    ];
    let mut run = Run::new(plan, Some(1), 1_000);
    let mut gate = GateRecord::new(0, GateStage::Canary, &[check], 1_000);
    gate.checks[0].measurements = [(Outcome::Pass, "200"), (Outcome::Fail, "500")]
        .iter()
        .enumerate()
        .map(|(i, (outcome, v))| Measurement {
            at_ms: 1_000 + i as u64 * 100,
            outcome: *outcome,
            value: Some(v.to_string()),
            detail: String::new(),
        })
        .collect();
    run.gates.push(gate);
    let view = run_view(&record(run));
    assert_eq!(view.steps[0].text, "verify (canary): smoke · smoke ✓✗ 500");
    assert_eq!(view.steps[0].state, StepState::Current);
}

#[test]
fn a_prometheus_gate_in_the_timeline_shows_its_trend() {
    use helmdeck::domain::gate::{
        Check, GateRecord, GateStage, Measurement, Outcome, PrometheusCheck,
    };
    let check = Check {
        name: "errors".into(),
        http: None,
        prometheus: Some(PrometheusCheck {
            query: "x".into(),
            condition: "result < 1".into(),
            address: None,
            token_env: None,
        }),
        command: None,
        interval: None,
        count: Some(5),
        failure_limit: None,
        initial_delay: None,
        timeout: None,
    };
    let plan = vec![Step::Verify {
        stage: GateStage::Canary,
        checks: vec![check.clone()],
    }];
    let mut run = Run::new(plan, Some(1), 1_000);
    let mut gate = GateRecord::new(0, GateStage::Canary, &[check], 1_000);
    gate.checks[0].measurements = ["0.001", "0.004", "0.007"]
        .iter()
        .map(|v| Measurement {
            at_ms: 1_000,
            outcome: Outcome::Pass,
            value: Some(v.to_string()),
            detail: String::new(),
        })
        .collect();
    run.gates.push(gate);
    let view = run_view(&record(run));
    assert_eq!(
        view.steps[0].text,
        "verify (canary): errors · errors ✓✓✓ 0.007 ▁▅█"
    );
}
