//! The engine's API for the console, through the library against the simulated cluster:
//! per-run step overrides, cancelling a drive at a safe point, and progress that announces a
//! step once while a timed pause is waited out.

mod support;

use helmdeck::config::Config;
use helmdeck::domain::run::{CanaryStep, Pause, Status, Step, StepOverrides};
use helmdeck::engine::drive::{DriveEnd, Progress};
use helmdeck::engine::release::{self, DeployOptions};
use helmdeck::engine::Session;
use helmdeck::render::{Helm, Renderer};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const SCENARIO: &str = "speed: 20\nseed: 3\npod_start: { min: 1s, max: 2s }\nfaults:\n  - match: { image: \"*:*-crash\" }\n    fault: crashloop\n    after: 1s\n";

/// The project every test here runs in, and its configuration.
async fn setup() -> (support::SimProject, Config) {
    let cfg = format!(
        r#"repositories:
  - {{ name: demo, type: local, path: "{charts}" }}
services:
  - name: web
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: canary
    canary: {{ steps: [ {{ replicas: 1 }}, {{ pause: {{}} }} ] }}
    workloads: [ web ]
  - name: webgate
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: canary
    canary:
      steps:
        - {{ replicas: 1 }}
        - verify: [ {{ name: slow, command: [ sh, -c, "exit 0" ], interval: 300ms, count: 5 }} ]
  - name: webwatch
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: canary
    canary:
      steps:
        - {{ replicas: 1 }}
        - verify: [ {{ name: long, command: [ sh, -c, "exit 0" ], interval: 200ms, count: 100 }} ]
environments:
  - name: test
    cluster: {{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: api }}
    policy: {{ auto_rollback: true, progress_deadline: 60s }}
"#,
        charts = support::charts_dir().display()
    );
    let project = support::SimProject::start(
        SCENARIO,
        &[
            ("helmdeck.yaml", &cfg),
            (
                "web.yaml",
                "replicaCount: 2\nredis:\n  enabled: false\nautoscaling:\n  enabled: false\ndatabase:\n  password: pw-for-tests\n",
            ),
        ],
        "api",
        &[],
    )
    .await;
    support::kubectl_ok(&project.kubeconfig, &["create", "namespace", "api"]);
    let config = Config::load(&project.path().join("helmdeck.yaml")).expect("config loads");
    (project, config)
}

fn renderer() -> Renderer {
    Renderer::new(Helm {
        path: support::helm(),
    })
}

/// A session on `service` whose first revision is deployed.
async fn first_deployed(cfg: &Config, service: &str) -> Session {
    let s = Session::open(cfg, service, "test").await.expect("session");
    release::deploy(&s, &renderer(), &DeployOptions::default(), &|_| {})
        .await
        .expect("first deploy");
    s
}

fn overrides(pause: Option<&str>) -> StepOverrides {
    StepOverrides {
        canary_steps: Some(vec![
            CanaryStep::Replicas(1),
            CanaryStep::Pause(Pause {
                duration: pause.map(|p| {
                    helmdeck::domain::duration::HumanDuration::parse(p).expect("duration")
                }),
            }),
        ]),
        auto_promote: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_overrides_replace_the_configured_steps_and_a_timed_pause_starts_once() {
    let (_project, cfg) = setup().await;
    let s = Session::open(&cfg, "web", "test").await.expect("session");
    let (first, end) = release::deploy(&s, &renderer(), &DeployOptions::default(), &|_| {})
        .await
        .expect("first deploy");
    assert_eq!(end, DriveEnd::Finished(Status::Healthy), "{:?}", first.run);

    let events: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let sink = {
        let events = events.clone();
        move |p: Progress| events.lock().expect("lock").push(p)
    };
    let opts = DeployOptions {
        steps: overrides(Some("3s")),
        ..Default::default()
    };
    let (rec, end) = release::deploy(&s, &renderer(), &opts, &sink)
        .await
        .expect("deploy with overrides");
    // The configured manual pause would have stopped here (exit 10); the override's timed
    // pause runs through to promotion.
    assert_eq!(end, DriveEnd::Finished(Status::Healthy), "{:?}", rec.run);
    assert!(rec.run.plan.contains(&Step::Pause {
        duration_ms: Some(3000)
    }));
    assert_eq!(rec.run.overrides, Some(overrides(Some("3s"))));
    let stored = helmdeck::cluster::records::get(&s.cluster, "web", rec.revision)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        stored.run.overrides,
        Some(overrides(Some("3s"))),
        "recorded in the cluster"
    );

    let events = events.lock().expect("lock");
    let pause_index = rec
        .run
        .plan
        .iter()
        .position(|st| matches!(st, Step::Pause { .. }))
        .expect("pause step");
    let starts = events
        .iter()
        .filter(|e| matches!(e, Progress::StepStarted { index, .. } if *index == pause_index))
        .count();
    assert_eq!(starts, 1, "the pause is announced once: {events:?}");
    let ticks: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Progress::PauseTick {
                index,
                elapsed_ms,
                total_ms,
            } if *index == pause_index => Some((*elapsed_ms, *total_ms)),
            _ => None,
        })
        .collect();
    assert!(ticks.len() >= 2, "ticks while waiting: {ticks:?}");
    assert!(ticks.iter().all(|(_, t)| *t == 3000));
    assert!(
        ticks.windows(2).all(|w| w[0].0 <= w[1].0),
        "elapsed grows: {ticks:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_drive_stops_at_a_safe_point_and_releases_the_lease() {
    let (_project, cfg) = setup().await;
    let s = first_deployed(&cfg, "web").await;

    let cancel = CancellationToken::new();
    let opts = DeployOptions {
        steps: overrides(Some("10m")),
        cancel: Some(cancel.clone()),
        ..Default::default()
    };
    // Cancel once the run is waiting out its pause.
    let sink = {
        let cancel = cancel.clone();
        move |p: Progress| {
            if matches!(p, Progress::PauseTick { .. }) {
                cancel.cancel();
            }
        }
    };
    let started = std::time::Instant::now();
    let (rec, end) = release::deploy(&s, &renderer(), &opts, &sink)
        .await
        .expect("deploy");
    assert_eq!(end, DriveEnd::Stopped);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "stopped promptly"
    );
    let stored = helmdeck::cluster::records::get(&s.cluster, "web", rec.revision)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.run.status, Status::Progressing);
    assert!(
        matches!(
            stored.run.current(),
            Some(Step::Pause {
                duration_ms: Some(600_000)
            })
        ),
        "holds its phase: {:?}",
        stored.run.current()
    );
    assert_eq!(
        helmdeck::cluster::lease::holder_of(&s.cluster, "web")
            .await
            .expect("lease"),
        None,
        "the lease is released"
    );
    // Canary up, primary untouched: nothing half-applied.
    let pods: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(s.cluster.client.clone(), "api");
    assert!(pods.get_opt("web-canary").await.expect("get").is_some());

    // Another drive picks it up where it stood.
    let full = helmdeck::domain::act::Act::Promote {
        full: true,
        past_gate: None,
    };
    let (rec, end) = release::act(&s, full, &release::ActOptions::default(), &|_| {})
        .await
        .map(|r| match r {
            release::ActionResult::Drove(rec, end) => (rec, end),
            other => panic!("{other:?}"),
        })
        .expect("promote");
    assert_eq!(end, DriveEnd::Finished(Status::Healthy), "{:?}", rec.run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_cancelled_half_way_resumes_with_the_measurements_it_had() {
    let (_project, cfg) = setup().await;
    let s = first_deployed(&cfg, "webgate").await;
    let cancel = CancellationToken::new();
    let sink = {
        let cancel = cancel.clone();
        let seen = Arc::new(Mutex::new(0));
        move |p: Progress| {
            if matches!(p, Progress::GateMeasured { .. }) {
                let mut n = seen.lock().expect("lock");
                *n += 1;
                if *n == 2 {
                    cancel.cancel();
                }
            }
        }
    };
    let opts = DeployOptions {
        cancel: Some(cancel.clone()),
        ..Default::default()
    };
    let (rec, end) = release::deploy(&s, &renderer(), &opts, &sink)
        .await
        .expect("deploy");
    assert_eq!(end, DriveEnd::Stopped);
    let stored = helmdeck::cluster::records::get(&s.cluster, "webgate", rec.revision)
        .await
        .expect("read")
        .expect("stored");
    assert!(matches!(stored.run.current(), Some(Step::Verify { .. })));
    assert_eq!(stored.run.gates.len(), 1);
    assert_eq!(stored.run.gates[0].checks[0].measurements.len(), 2);
    assert_eq!(stored.run.gates[0].verdict, None);

    let resumed = DeployOptions {
        resume: true,
        ..Default::default()
    };
    let (rec, end) = release::deploy(&s, &renderer(), &resumed, &|_| {})
        .await
        .expect("resume");
    assert_eq!(end, DriveEnd::Finished(Status::Healthy), "{:?}", rec.run);
    assert_eq!(rec.run.gates.len(), 1, "the same gate went on");
    assert_eq!(rec.run.gates[0].checks[0].measurements.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_that_crashes_during_its_gate_fails_the_step_at_once() {
    let (project, cfg) = setup().await;
    let s = first_deployed(&cfg, "webwatch").await;
    let kubeconfig = project.kubeconfig.clone();
    let sink = move |p: Progress| {
        if matches!(p, Progress::GateStarted { .. }) {
            let kc = kubeconfig.clone();
            std::thread::spawn(move || {
                support::kubectl_ok(
                    &kc,
                    &[
                        "-n",
                        "api",
                        "set",
                        "image",
                        "deployment/webwatch-canary",
                        "*=ghcr.io/acme/web:9-crash",
                    ],
                );
            });
        }
    };
    let started = std::time::Instant::now();
    let (rec, end) = release::deploy(&s, &renderer(), &DeployOptions::default(), &sink)
        .await
        .expect("deploy");
    assert_eq!(end, DriveEnd::Finished(Status::RolledBack), "{:?}", rec.run);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "long before the gate's 20 s of measurements"
    );
    let g = &rec.run.gates[0];
    assert!(
        matches!(&g.verdict, Some(helmdeck::domain::gate::Verdict::Failed { check, .. }) if check == "workload health"),
        "{g:?}"
    );
    assert!(
        rec.run
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("webwatch-canary")),
        "{:?}",
        rec.run.reason
    );
}
