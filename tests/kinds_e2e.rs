//! Health of every workload kind, end to end: the real binary deploys a chart with a
//! StatefulSet (with volume claims), a DaemonSet, a Job, a PersistentVolumeClaim and a
//! Deployment into the simulated cluster, waits for each, and fails fast naming the
//! StatefulSet's pod when its new pods crash-loop.

mod support;

use serde_json::Value;
use support::{code, explain};

const SCENARIO: &str = "speed: 20\nseed: 11\npod_start: { min: 1s, max: 2s }\nfaults:\n  - match: { image: \"*:*-crash\" }\n    fault: crashloop\n    after: 1s\n";

async fn start(auto_rollback: bool) -> support::SimProject {
    let charts = support::root().join("tests/charts");
    let cfg = format!(
        r#"repositories:
  - {{ name: fixtures, type: local, path: "{charts}" }}
services:
  - name: kinds
    chart: {{ repository: fixtures, name: kinds }}
    strategy: rolling
  - name: kinds-bg
    release: kbg
    chart: {{ repository: fixtures, name: kinds }}
    strategy: bluegreen
    bluegreen: {{ auto_promote: true, scale_down_delay: 1s }}
environments:
  - name: test
    cluster: {{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: kinds }}
    policy: {{ auto_rollback: {auto_rollback}, progress_deadline: 90s }}
"#,
        charts = charts.display()
    );
    let env = support::SimProject::start(SCENARIO, &[("helmdeck.yaml", &cfg)], "kinds", &[]).await;
    env.kubectl(&["create", "namespace", "kinds"]).await;
    env
}

fn int(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_waits_for_every_kind_and_fails_fast_naming_the_statefulsets_pod() {
    let env = start(false).await;
    let first = env.helmdeck(&["deploy", "kinds", "--env", "test"]).await;
    assert_eq!(code(&first), 0, "{}", explain(&first));
    let err = support::stderr(&first);
    for healthy in [
        "kinds-web: healthy",
        "StatefulSet/kinds-db: healthy",
        "DaemonSet/kinds-agent: healthy",
        "Job/kinds-seed-1: healthy",
        "PersistentVolumeClaim/kinds-uploads: healthy",
    ] {
        assert!(err.contains(healthy), "{healthy} in:\n{err}");
    }
    // What the wait saw is what the cluster says.
    let sts = env.get_json(&["statefulset", "kinds-db"]).await;
    assert_eq!(int(&sts, "/status/readyReplicas"), 2, "{sts}");
    assert_eq!(
        sts["status"]["currentRevision"],
        sts["status"]["updateRevision"]
    );
    let job = env.get_json(&["job", "kinds-seed-1"]).await;
    assert_eq!(int(&job, "/status/succeeded"), 1, "{job}");
    let pvc = env.get_json(&["pvc", "kinds-uploads"]).await;
    assert_eq!(pvc["status"]["phase"], "Bound", "{pvc}");
    let claim = env.get_json(&["pvc", "data-kinds-db-1"]).await;
    assert_eq!(
        claim["status"]["phase"], "Bound",
        "volumeClaimTemplates: {claim}"
    );
    let ds = env.get_json(&["daemonset", "kinds-agent"]).await;
    assert_eq!(int(&ds, "/status/numberReady"), 1, "{ds}");

    // The StatefulSet's new pods crash-loop: the highest ordinal is replaced first, and
    // the rollout fails on its pod, not at the progress deadline.
    let bad = env
        .helmdeck(&[
            "deploy",
            "kinds",
            "--env",
            "test",
            "--set",
            "db.tag=2.0.0-crash",
        ])
        .await;
    assert_eq!(code(&bad), 1, "{}", explain(&bad));
    let err = support::stderr(&bad);
    assert!(
        err.contains("StatefulSet/kinds-db: ")
            && err.contains("(pod kinds-db-1)")
            && (err.contains("CrashLoopBackOff") || err.contains("RestartLimit")),
        "{err}"
    );
    assert!(!err.contains("progress deadline"), "{err}");
    let sts = env.get_json(&["statefulset", "kinds-db"]).await;
    assert_ne!(
        sts["status"]["currentRevision"], sts["status"]["updateRevision"],
        "the update stopped at the crashing pod: {sts}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluegreen_rolls_the_other_workloads_at_the_switch() {
    let env = start(true).await;
    let first = env.helmdeck(&["deploy", "kinds-bg", "--env", "test"]).await;
    assert_eq!(code(&first), 0, "{}", explain(&first));
    let err = support::stderr(&first);
    let switch = err.find("switch traffic to blue").expect("switch step");
    let sts_healthy = err
        .find("StatefulSet/kbg-db: healthy")
        .expect("StatefulSet waited for");
    assert!(sts_healthy > switch, "waited after the switch:\n{err}");
    assert!(err.contains("kbg-web-blue: healthy"), "{err}");
}
