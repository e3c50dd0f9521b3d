//! Fixture states of the console for snapshot and flow tests: the demo's services and
//! environments, a preview, a diff, a history, and rollouts (paused canary, auto-rollback).
#![allow(dead_code)]

use helmdeck::domain::diff::LineTag;
use helmdeck::domain::run::{Outcome, Reverse, Status, StrategyKind};
use helmdeck::domain::strategy::Track;
use helmdeck::domain::values::LayerKind;
use helmdeck::tui::state::*;
use helmdeck::tui::State;

/// 2026-11-25 08:15:00 UTC.
pub const NOW: u64 = 1_795_594_500_000;

pub fn services() -> Vec<ServiceInfo> {
    let s = |name: &str, strategy, steps: &[&str]| ServiceInfo {
        name: name.into(),
        release: name.into(),
        chart: "demo/web ^1.2".into(),
        strategy,
        canary_steps: if steps.is_empty() {
            Vec::new()
        } else {
            helmdeck::tui::steps::parse_steps(&steps.join(", "), &[]).expect("fixture steps")
        },
        auto_promote: false,
    };
    vec![
        s(
            "web",
            StrategyKind::Canary,
            &["1 pod", "pause", "50%", "pause 30s"],
        ),
        s(
            "checkout",
            StrategyKind::Canary,
            &["1 pod", "pause", "50%", "pause 30s"],
        ),
        s("payments", StrategyKind::Bluegreen, &[]),
        s("worker", StrategyKind::Rolling, &[]),
    ]
}

pub fn environments() -> Vec<EnvInfo> {
    vec![
        EnvInfo {
            name: "staging".into(),
            context: "helmdeck-sim".into(),
            namespace: "demo".into(),
            protected: false,
            auto_rollback: true,
        },
        EnvInfo {
            name: "production".into(),
            context: "helmdeck-sim".into(),
            namespace: "demo-production".into(),
            protected: true,
            auto_rollback: true,
        },
    ]
}

pub fn releases() -> Vec<ReleaseRow> {
    let r = |service: &str, revision: u32, status| ReleaseRow {
        service: service.into(),
        revision: Some(revision),
        live_revision: Some(revision),
        status: Some(status),
        strategy: Some(StrategyKind::Canary),
        current_step: None,
        lease_holder: None,
    };
    vec![
        r("web", 2, Status::Paused),
        r("checkout", 2, Status::RolledBack),
        r("payments", 1, Status::Healthy),
        r("worker", 1, Status::Healthy),
    ]
}

pub fn preview() -> Preview {
    let obj = |kind: &str, name: &str, source: &str, yaml: &str| ObjectEntry {
        kind: kind.into(),
        name: name.into(),
        source: Some(source.into()),
        yaml: yaml.into(),
    };
    let v = |key: &str, value: &str, layer, source: &str, line, secret| ValueRow {
        key: key.into(),
        value: value.into(),
        layer,
        source: source.into(),
        line,
        secret,
    };
    Preview {
        chart: "web-1.2.0".into(),
        objects: vec![
            obj("ServiceAccount", "web", "web/templates/serviceaccount.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n"),
            obj("Secret", "web", "web/templates/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web\ntype: Opaque\ndata:\n  DATABASE_PASSWORD: '********'\n  API_TOKEN: '********'\n"),
            obj("ConfigMap", "web", "web/templates/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  CACHE_TTL_SECONDS: '300'\n  LOG_LEVEL: debug\n"),
            obj("Deployment", "web", "web/templates/deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app.kubernetes.io/name: web\n    app.kubernetes.io/instance: web\nspec:\n  replicas: 4\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: web\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:1.2.0\n          ports:\n            - containerPort: 8080\n"),
            obj("Service", "web", "web/templates/service.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n    - port: 80\n"),
            obj("HorizontalPodAutoscaler", "web", "web/templates/hpa.yaml", "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\n"),
            obj("Ingress", "web", "web/templates/ingress.yaml", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n"),
        ],
        values: vec![
            v("replicaCount", "4", LayerKind::Service, "/work/assets/demo/values/web.yaml", Some(2), false),
            v("image.repository", "ghcr.io/acme/web", LayerKind::Service, "/work/assets/demo/values/web.yaml", Some(5), false),
            v("image.tag", "1.2.0", LayerKind::Service, "/work/assets/demo/values/web.yaml", Some(6), false),
            v("image.pullPolicy", "IfNotPresent", LayerKind::ChartDefaults, "web-1.2.0/values.yaml", Some(19), false),
            v("config.LOG_LEVEL", "debug", LayerKind::Environment, "/work/assets/demo/env/staging/common.yaml", Some(13), false),
            v("database.password", "********", LayerKind::Secret, "secret database.password (env DEMO_DB_PASSWORD)", None, true),
            v("api.token", "********", LayerKind::Secret, "secret api.token (file ./secrets/staging-api-token)", None, true),
            v("ingress.enabled", "true", LayerKind::Environment, "/work/assets/demo/env/staging/common.yaml", Some(8), false),
            v("image.tag", "1.3.0", LayerKind::Override, "--set image.tag=1.3.0", None, false),
        ],
        warnings: Vec::new(),
    }
}

pub fn diff() -> DiffView {
    let l = |t, s: &str| (t, s.to_string());
    DiffView {
        added: 0,
        changed: 2,
        removed: 0,
        unchanged: 5,
        lines: vec![
            l(LineTag::FileHeader, "~ ConfigMap demo/web"),
            l(LineTag::HunkHeader, "@@ -5,3 +5,3 @@"),
            l(LineTag::Context, " data:"),
            l(LineTag::Delete, "-  CACHE_TTL_SECONDS: '60'"),
            l(LineTag::Insert, "+  CACHE_TTL_SECONDS: '300'"),
            l(LineTag::FileHeader, "~ Secret demo/web"),
            l(LineTag::HunkHeader, "@@ -6,2 +6,2 @@"),
            l(LineTag::Delete, "-  API_TOKEN: '********' (old)"),
            l(LineTag::Insert, "+  API_TOKEN: '********' (new)"),
        ],
        against: "live".into(),
    }
}

pub fn history() -> Vec<HistoryEntry> {
    vec![
        HistoryEntry {
            revision: 1,
            status: Status::Healthy,
            strategy: StrategyKind::Canary,
            chart: "web-1.2.0".into(),
            operator: "alice@deck".into(),
            updated: "2026-11-25T08:01:12Z".into(),
            reason: None,
        },
        HistoryEntry {
            revision: 2,
            status: Status::RolledBack,
            strategy: StrategyKind::Canary,
            chart: "web-1.2.0".into(),
            operator: "alice@deck".into(),
            updated: "2026-11-25T08:09:40Z".into(),
            reason: Some("web-canary: CrashLoopBackOff in container web".into()),
        },
    ]
}

/// The browse screen on web → staging, preview loaded, services focused.
pub fn browse() -> State {
    let mut s = State::new(
        services(),
        environments(),
        vec![RepoInfo {
            name: "demo".into(),
            kind: "local".into(),
            location: "../charts".into(),
        }],
    );
    s.browse.releases = Loadable::Ready {
        gen: 1,
        value: releases(),
    };
    s.browse.preview = Loadable::Ready {
        gen: 2,
        value: preview(),
    };
    s.browse.diff = Loadable::Ready {
        gen: 3,
        value: diff(),
    };
    s.browse.history = Loadable::Ready {
        gen: 4,
        value: history(),
    };
    s.browse.object = 7;
    s.shell.connection = Connection::Connected;
    s.shell.clock = "08:15:00".into();
    s.shell.now_ms = NOW;
    s.shell.next_gen = 10;
    s
}

/// A track by its word (`stable`, `canary`, `primary`…).
pub fn track_of(word: &str) -> Track {
    Track::of(
        |k| (k == helmdeck::domain::strategy::LABEL_TRACK).then_some(word),
        "",
    )
}

fn pod(
    name: &str,
    track: &str,
    phase: &str,
    ready: (u32, u32),
    restarts: u32,
    age_s: u64,
    reason: Option<&str>,
) -> PodRow {
    PodRow {
        name: name.into(),
        track: track_of(track),
        phase: phase.into(),
        ready,
        restarts,
        created_ms: NOW - age_s * 1000,
        reason: reason.map(str::to_string),
    }
}

fn steps(done: usize, plan: &[&str]) -> Vec<StepRow> {
    plan.iter()
        .enumerate()
        .map(|(i, t)| StepRow {
            text: t.to_string(),
            state: if i < done {
                StepState::Done
            } else if i == done {
                StepState::Current
            } else {
                StepState::Pending
            },
            outcome: if i < done { Some(Outcome::Done) } else { None },
        })
        .collect()
}

const CANARY_PLAN: [&str; 10] = [
    "apply config of r2",
    "canary to 1 pod",
    "wait canary healthy",
    "pause (promote to continue)",
    "canary to 50%",
    "wait canary healthy",
    "pause 30s",
    "apply r2",
    "wait healthy",
    "delete canaries",
];

/// web r2 paused after its first canary pod.
pub fn rollout_paused() -> State {
    let mut s = browse();
    s.screen = helmdeck::tui::state::Screen::Rollout;
    s.rollout = Some(Rollout {
        service: "web".into(),
        env: "staging".into(),
        gen: 20,
        snapshot: RolloutSnapshot {
            pods: vec![
                pod(
                    "web-6f5b66657d-24k7n",
                    "stable",
                    "Running",
                    (1, 1),
                    0,
                    320,
                    None,
                ),
                pod(
                    "web-6f5b66657d-pd6lk",
                    "stable",
                    "Running",
                    (1, 1),
                    0,
                    320,
                    None,
                ),
                pod(
                    "web-6f5b66657d-rqxgh",
                    "stable",
                    "Running",
                    (1, 1),
                    0,
                    318,
                    None,
                ),
                pod(
                    "web-6f5b66657d-sc55m",
                    "stable",
                    "Running",
                    (1, 1),
                    0,
                    318,
                    None,
                ),
                pod(
                    "web-canary-55f5d8578c-gn2np",
                    "canary",
                    "Running",
                    (1, 1),
                    0,
                    42,
                    None,
                ),
                pod(
                    "web-redis-d7d455d5c-l2sn4",
                    "primary",
                    "Running",
                    (1, 1),
                    0,
                    320,
                    None,
                ),
            ],
            workloads: vec![
                WorkloadBar {
                    name: "web".into(),
                    track: track_of("stable"),
                    ready: 4,
                    desired: 4,
                    updated: 4,
                },
                WorkloadBar {
                    name: "web-canary".into(),
                    track: track_of("canary"),
                    ready: 1,
                    desired: 1,
                    updated: 1,
                },
                WorkloadBar {
                    name: "web-redis".into(),
                    track: track_of("primary"),
                    ready: 1,
                    desired: 1,
                    updated: 1,
                },
            ],
            run: Some(RunView {
                revision: 2,
                strategy: StrategyKind::Canary,
                status: Status::Paused,
                steps: steps(3, &CANARY_PLAN),
                reason: None,
                reverse: None,
                started_ms: NOW - 47_000,
                pause_until_ms: None,
                operator: "alice@deck".into(),
                gate: None,
                paused_gate_check: None,
            }),
            run_read_ms: NOW - 500,
            lease_holder: None,
            watch_error: None,
        },
        events: vec![
            EventLine {
                at_ms: NOW,
                kind: EventKind::Info,
                text: "launching web → staging (canary)".into(),
            },
            EventLine {
                at_ms: NOW,
                kind: EventKind::Step,
                text: "▸ [3] wait canary healthy".into(),
            },
            EventLine {
                at_ms: NOW,
                kind: EventKind::Done,
                text: "  web-canary: healthy".into(),
            },
            EventLine {
                at_ms: NOW,
                kind: EventKind::Step,
                text: "▸ [4] pause (promote to continue)".into(),
            },
            EventLine {
                at_ms: NOW,
                kind: EventKind::Done,
                text: "web r2 paused in staging: P promotes, R rolls back, A aborts".into(),
            },
        ],
        driving: false,
        pod_selected: 4,
        logs: None,
        last_end: None,
        cluster_events: paused_cluster_events(),
        show_cluster_events: false,
        pause: None,
        show_gate: false,
    });
    s.shell.status = Some(StatusLine {
        text: "web r2 paused in staging: P promotes, R rolls back, A aborts".into(),
        error: false,
    });
    s
}

/// checkout r2 rolled back automatically: its canary crash-looped.
pub fn rollout_auto_rollback() -> State {
    let mut s = browse();
    s.browse.service = 1;
    s.browse.cursor[0] = 1;
    s.screen = helmdeck::tui::state::Screen::Rollout;
    let reason =
        "checkout-canary: CrashLoopBackOff in container web (pod checkout-canary-74d5d8458d-85766)";
    let mut st = steps(2, &CANARY_PLAN[..3]);
    st[2].state = StepState::Failed;
    st[2].outcome = Some(Outcome::Failed(reason.to_string()));
    st.push(StepRow {
        text: "delete canaries".into(),
        state: StepState::Current,
        outcome: None,
    });
    s.rollout = Some(Rollout {
        service: "checkout".into(),
        env: "staging".into(),
        gen: 21,
        snapshot: RolloutSnapshot {
            pods: vec![
                pod(
                    "checkout-86d849f5bd-dn5nl",
                    "stable",
                    "Running",
                    (1, 1),
                    0,
                    600,
                    None,
                ),
                pod(
                    "checkout-86d849f5bd-gw457",
                    "stable",
                    "Running",
                    (1, 1),
                    0,
                    600,
                    None,
                ),
                pod(
                    "checkout-86d849f5bd-ll2ps",
                    "stable",
                    "Running",
                    (1, 1),
                    0,
                    600,
                    None,
                ),
                pod(
                    "checkout-86d849f5bd-xpp68",
                    "stable",
                    "Running",
                    (1, 1),
                    0,
                    600,
                    None,
                ),
                pod(
                    "checkout-canary-74d5d8458d-85766",
                    "canary",
                    "Running",
                    (0, 1),
                    4,
                    35,
                    Some("CrashLoopBackOff"),
                ),
            ],
            workloads: vec![
                WorkloadBar {
                    name: "checkout".into(),
                    track: track_of("stable"),
                    ready: 4,
                    desired: 4,
                    updated: 4,
                },
                WorkloadBar {
                    name: "checkout-canary".into(),
                    track: track_of("canary"),
                    ready: 0,
                    desired: 1,
                    updated: 1,
                },
            ],
            run: Some(RunView {
                revision: 2,
                strategy: StrategyKind::Canary,
                status: Status::Progressing,
                steps: st,
                reason: Some(reason.into()),
                reverse: Some(Reverse::AutoRollback),
                started_ms: NOW - 38_000,
                pause_until_ms: None,
                operator: "alice@deck".into(),
                gate: None,
                paused_gate_check: None,
            }),
            run_read_ms: NOW - 500,
            lease_holder: Some("alice@deck (pid 4242)".into()),
            watch_error: None,
        },
        events: vec![
            EventLine {
                at_ms: NOW,
                kind: EventKind::Health,
                text: "  checkout-canary: 0 of 1 updated replicas available".into(),
            },
            EventLine {
                at_ms: NOW,
                kind: EventKind::Error,
                text: format!("  {reason}"),
            },
            EventLine {
                at_ms: NOW,
                kind: EventKind::Reversing,
                text: format!("↩ going back: {reason}"),
            },
            EventLine {
                at_ms: NOW,
                kind: EventKind::Step,
                text: "▸ [1] delete canaries".into(),
            },
        ],
        driving: true,
        pod_selected: 4,
        logs: None,
        last_end: None,
        cluster_events: crash_cluster_events(),
        show_cluster_events: false,
        pause: None,
        show_gate: false,
    });
    s
}

/// A canary paused at a failed http gate: two of three measurements answered 500.
pub fn rollout_paused_at_gate() -> State {
    use helmdeck::domain::gate::{
        CheckKind, CheckRecord, GateRecord, GateStage, Measurement, Outcome, Verdict,
    };
    let mut s = rollout_paused();
    let m = |secs_ago: u64, outcome, value: &str, detail: &str| Measurement {
        at_ms: NOW - secs_ago * 1000,
        outcome,
        value: Some(value.into()),
        detail: detail.into(),
    };
    let detail = "HTTP 500 from web-canary:http/healthz (expected 200)";
    let gate = GateRecord {
        step: 3,
        stage: GateStage::Canary,
        started_ms: NOW - 40_000,
        ended_ms: Some(NOW - 5_000),
        checks: vec![CheckRecord {
            name: "smoke".into(),
            kind: Some(CheckKind::Http),
            measurements: vec![
                m(35, Outcome::Pass, "200", "HTTP 200 {\"status\":\"ok\"}"),
                m(25, Outcome::Fail, "500", detail),
                m(15, Outcome::Fail, "500", detail),
            ],
        }],
        verdict: Some(Verdict::Failed {
            check: "smoke".into(),
            detail: format!("2 of 3 measurements failed (limit 1): {detail}"),
        }),
    };
    if let Some(run) = s.rollout.as_mut().and_then(|r| r.snapshot.run.as_mut()) {
        run.reason = Some(format!(
            "canary gate: check `smoke` failed: 2 of 3 measurements failed (limit 1): {detail}"
        ));
        run.gate = Some(gate);
        run.paused_gate_check = Some("smoke".into());
    }
    s
}

fn kube_event(
    secs_ago: u64,
    warning: bool,
    reason: &str,
    object: &str,
    message: &str,
) -> KubeEvent {
    KubeEvent {
        warning,
        reason: reason.into(),
        object: object.into(),
        message: message.into(),
        last_ms: NOW - secs_ago * 1000,
        count: 1,
    }
}

/// What the cluster said while the canary of `web` came up.
pub fn paused_cluster_events() -> Vec<KubeEvent> {
    let pod = "Pod/web-canary-55f5d8578c-gn2np";
    vec![
        kube_event(46, false, "ScalingReplicaSet", "Deployment/web-canary", "Scaled up replica set web-canary-55f5d8578c from 0 to 1"),
        kube_event(46, false, "SuccessfulCreate", "ReplicaSet/web-canary-55f5d8578c", "Created pod: web-canary-55f5d8578c-gn2np"),
        kube_event(45, false, "Scheduled", pod, "Successfully assigned demo/web-canary-55f5d8578c-gn2np to helmdeck-sim-node"),
        kube_event(44, false, "Pulling", pod, "Pulling image \"ghcr.io/acme/web:1.3.0\""),
        kube_event(43, false, "Pulled", pod, "Successfully pulled image \"ghcr.io/acme/web:1.3.0\" in 1.2s (1.2s including waiting). Image size: 19314220 bytes."),
        kube_event(43, false, "Created", pod, "Created container: web"),
        kube_event(43, false, "Started", pod, "Started container web"),
    ]
}

/// What the cluster said while the canary of `checkout` crash-looped.
pub fn crash_cluster_events() -> Vec<KubeEvent> {
    let pod = "Pod/checkout-canary-74d5d8458d-85766";
    let mut b = kube_event(
        8,
        true,
        "BackOff",
        pod,
        "Back-off restarting failed container web in pod checkout-canary-74d5d8458d-85766_demo(5f0c…)",
    );
    b.count = 3;
    vec![
        kube_event(
            37,
            false,
            "Scheduled",
            pod,
            "Successfully assigned demo/checkout-canary-74d5d8458d-85766 to helmdeck-sim-node",
        ),
        kube_event(35, false, "Started", pod, "Started container web"),
        kube_event(
            20,
            false,
            "Pulled",
            pod,
            "Container image \"ghcr.io/acme/checkout:1.3.0-crash\" already present on machine",
        ),
        b,
        kube_event(
            2,
            false,
            "ScalingReplicaSet",
            "Deployment/checkout-canary",
            "Scaled down replica set checkout-canary-74d5d8458d from 1 to 0",
        ),
    ]
}
