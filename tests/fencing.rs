//! Fencing end to end: a driver frozen past its lease (SIGSTOP, as a laptop lid closing
//! does) while another operator aborts the run must, once woken, write nothing more and
//! exit 4 — the aborted version never reaches the primaries or live traffic. Checked from
//! the simulated cluster's write log, which names the process behind every write.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::{code, explain, image_of, Running};

const SCENARIO: &str = "speed: 20\nseed: 11\npod_start: { min: 1s, max: 2s }\n";
const VALUES: &str = "replicaCount: 2\nredis:\n  enabled: false\nautoscaling:\n  enabled: false\n";
/// A short lease so that the tests need not wait 30 s for one to lapse.
const LEASE: &str = "4";

type Env = support::SimProject;

async fn start() -> Env {
    let charts = support::charts_dir();
    let cfg = format!(
        r#"repositories:
  - {{ name: demo, type: local, path: "{charts}" }}
services:
  - name: web
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: canary
    canary: {{ steps: [ {{ replicas: 1 }}, {{ pause: {{ duration: 30s }} }}, {{ percent: 50 }}, {{ pause: {{ duration: 30s }} }} ] }}
  - name: bg
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: bluegreen
    bluegreen:
      auto_promote: true
      scale_down_delay: 30s
      pre_promotion: [ {{ name: soak, command: [ "sleep", "4" ], timeout: 20s }} ]
environments:
  - name: test
    cluster: {{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: fence }}
    policy: {{ auto_rollback: true, progress_deadline: 60s }}
"#,
        charts = charts.display()
    );
    let env = Env::start(
        SCENARIO,
        &[("helmdeck.yaml", &cfg), ("web.yaml", VALUES)],
        "fence",
        &[("HELMDECK_LEASE_SECONDS", LEASE)],
    )
    .await;
    env.kubectl(&["create", "namespace", "fence"]).await;
    env
}

const ALICE: (&str, &str) = ("USER", "alice");
const BOB: (&str, &str) = ("USER", "bob");

async fn status(env: &Env, service: &str) -> Value {
    let out = env
        .helmdeck(&["status", service, "--env", "test", "-o", "json"])
        .await;
    assert_eq!(code(&out), 0, "{}", explain(&out));
    serde_json::from_str(&support::stdout(&out)).expect("status json")
}

/// Freezes `a` and waits until its lease has lapsed by anyone's clock.
async fn freeze(a: &Running) {
    a.signal(libc::SIGSTOP);
    for _ in 0..100 {
        if a.stopped() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(a.stopped(), "the driver did not stop");
    // Longer than the lease plus the second `renewTime` is rounded to.
    tokio::time::sleep(Duration::from_secs(6)).await;
}

/// Bob aborts: he waits out the lapsed lease, takes it over and drives the abort.
async fn bob_aborts(env: &Env, service: &str) {
    let b = env
        .helmdeck_with(&["abort", service, "--env", "test"], &[BOB])
        .await;
    assert_eq!(code(&b), 0, "bob's abort: {}", explain(&b));
    let err = support::stderr(&b);
    assert!(err.contains("took over the lease of alice@"), "{err}");
}

/// Alice, woken, stops at once with exit 4 naming the loss, and the run stays Aborted.
async fn alice_wakes_and_stops(env: &Env, a: Running, service: &str) {
    a.signal(libc::SIGCONT);
    let (exit, err) = a.finish(Duration::from_secs(60)).await;
    assert_eq!(exit, 4, "the stale driver exits 4:\n{err}");
    assert!(err.contains("lost to"), "{err}");
    assert!(err.contains("the run is now Aborted"), "{err}");
    let st = status(env, service).await;
    assert_eq!(st["status"], "Aborted", "{st}");
    assert_eq!(st["lease_holder"], Value::Null, "{st}");
}

/// No write by a process outside its lease terms, per the sim's write log.
fn no_overlapping_terms(env: &Env, release: &str) {
    let log = env.writes();
    let found = helmdeck::sim::writelog::overlapping_terms(&log, release, &|_| true);
    assert!(
        found.is_empty(),
        "writes outside their lease terms: {found:#?}"
    );
    assert!(
        log.iter()
            .any(|w| w.is_lease() && w.holder.as_deref().is_some_and(|h| h.starts_with("bob@"))),
        "bob took the lease"
    );
}

async fn first_deploy(env: &Env, service: &str) {
    let first = env.helmdeck(&["deploy", service, "--env", "test"]).await;
    assert_eq!(code(&first), 0, "{}", explain(&first));
}

async fn primary_image(env: &Env, name: &str) -> String {
    image_of(&env.get_json(&["deployment", name]).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_driver_frozen_at_a_timed_pause_never_promotes_what_was_aborted() {
    let env = start().await;
    first_deploy(&env, "web").await;
    let good = primary_image(&env, "web").await;
    let a = env.spawn(
        &[
            "deploy",
            "web",
            "--env",
            "test",
            "--set",
            "image.tag=1.2.1",
            "--wait",
        ],
        &[ALICE],
    );
    a.wait_for("pause: 30s left", Duration::from_secs(60)).await;
    freeze(&a).await;
    bob_aborts(&env, "web").await;
    alice_wakes_and_stops(&env, a, "web").await;
    assert_eq!(primary_image(&env, "web").await, good, "primary untouched");
    let canaries = env
        .get_json(&["deployments", "-l", "helmdeck.io/track=canary"])
        .await;
    assert_eq!(
        canaries["items"].as_array().map(Vec::len),
        Some(0),
        "{canaries}"
    );
    no_overlapping_terms(&env, "web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bluegreen_driver_frozen_in_a_gate_never_switches_traffic_to_what_was_aborted() {
    let env = start().await;
    first_deploy(&env, "bg").await;
    let svc_before = env.get_json(&["service", "bg-web"]).await;
    let a = env.spawn(
        &[
            "deploy",
            "bg",
            "--env",
            "test",
            "--set",
            "image.tag=1.2.1",
            "--wait",
        ],
        &[ALICE],
    );
    a.wait_for("gate (pre-promotion)", Duration::from_secs(60))
        .await;
    freeze(&a).await;
    bob_aborts(&env, "bg").await;
    alice_wakes_and_stops(&env, a, "bg").await;
    let svc = env.get_json(&["service", "bg-web"]).await;
    assert_eq!(
        svc["spec"]["selector"], svc_before["spec"]["selector"],
        "traffic stays on the live slot"
    );
    no_overlapping_terms(&env, "bg");
}

/// The freeze lands exactly between the driver's lease check and the write that follows
/// it (a failpoint stops the process there): the write is checked against the term as it
/// is sent, so it never lands.
async fn frozen_between_check_and_write(env: &Env, service: &str, failpoint: &str) {
    first_deploy(env, service).await;
    let fp = format!("stop-before-write:{failpoint}");
    let a = env.spawn(
        &[
            "deploy",
            service,
            "--env",
            "test",
            "--set",
            "image.tag=1.2.1",
            "--wait",
        ],
        &[ALICE, ("HELMDECK_FAILPOINT", &fp)],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !a.stopped() {
        assert!(
            std::time::Instant::now() < deadline,
            "the failpoint never stopped the driver:\n{}",
            a.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    bob_aborts(env, service).await;
    alice_wakes_and_stops(env, a, service).await;
    no_overlapping_terms(env, service);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_between_the_lease_check_and_the_canary_write_lands_nothing() {
    let env = start().await;
    // The first write of the canary Deployment: its first pod.
    frozen_between_check_and_write(&env, "web", "Deployment fence/web-canary#1").await;
    assert!(primary_image(&env, "web").await.ends_with(":1.2.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_between_the_lease_check_and_the_traffic_switch_lands_nothing() {
    let env = start().await;
    frozen_between_check_and_write(&env, "bg", "Service fence/bg-web").await;
    let svc = env.get_json(&["service", "bg-web"]).await;
    assert_eq!(svc["spec"]["selector"]["helmdeck.io/slot"], "blue", "{svc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_whose_lease_lapsed_with_nobody_taking_it_goes_on() {
    let env = start().await;
    first_deploy(&env, "web").await;
    let a = env.spawn(
        &[
            "deploy",
            "web",
            "--env",
            "test",
            "--set",
            "image.tag=1.2.1",
            "--wait",
        ],
        &[ALICE],
    );
    a.wait_for("pause: 30s left", Duration::from_secs(60)).await;
    freeze(&a).await;
    a.signal(libc::SIGCONT);
    // Its term is confirmed again (nobody touched the lease) and it drives on.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let st = status(&env, "web").await;
    assert_eq!(st["status"], "Progressing", "{st}");
    assert!(
        st["lease_holder"]
            .as_str()
            .is_some_and(|h| h.starts_with("alice@")),
        "{st}"
    );
    // Promote the rest from another of alice's terminals: a request, not a take-over.
    let p = env
        .helmdeck_with(&["promote", "web", "--env", "test", "--full"], &[ALICE])
        .await;
    assert_eq!(code(&p), 0, "{}", explain(&p));
    assert!(support::stdout(&p).contains("requested"), "{}", explain(&p));
    let (exit, err) = a.finish(Duration::from_secs(60)).await;
    assert_eq!(exit, 0, "{err}");
    assert!(primary_image(&env, "web").await.ends_with(":1.2.1"));
    let log = env.writes();
    let found = helmdeck::sim::writelog::overlapping_terms(&log, "web", &|_| true);
    assert!(found.is_empty(), "{found:#?}");
}
