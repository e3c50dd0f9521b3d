//! Helm hooks end to end: the real binary deploys a chart written like real ones (a
//! pre-install/pre-upgrade migration Job at weight -5, the ServiceAccount it runs as at
//! -10, a pre-install-only bootstrap, a post-upgrade Job, `hook-succeeded` and
//! `before-hook-creation` policies, a test Pod) into the simulated cluster. The order the
//! cluster saw the objects created in is read from a watch (the sim's resourceVersions
//! are one sequence); a failing migration leaves the primary untouched in every strategy
//! and names the Job with its log; `helmdeck test` passes and fails as its pods do.

mod support;

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, WatchEvent, WatchParams};
use kube::core::GroupVersionKind;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use support::{code, explain, image_of};

const SCENARIO: &str = "speed: 20\nseed: 3\npod_start: { min: 1s, max: 2s }\nfaults:\n  - match: { image: \"*:*-crash\" }\n    fault: crashloop\n    after: 1s\n";
const NS: &str = "hooks";

async fn start() -> support::SimProject {
    let charts = support::root().join("tests/charts");
    let cfg = format!(
        r#"repositories:
  - {{ name: fixtures, type: local, path: "{charts}" }}
services:
  - name: roll
    chart: {{ repository: fixtures, name: hooked }}
    strategy: rolling
  - name: can
    chart: {{ repository: fixtures, name: hooked }}
    strategy: canary
    canary: {{ steps: [ {{ replicas: 1 }}, {{ pause: {{}} }} ] }}
  - name: bg
    chart: {{ repository: fixtures, name: hooked }}
    strategy: bluegreen
    bluegreen: {{ auto_promote: true, scale_down_delay: 1s }}
environments:
  - name: test
    cluster: {{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: {NS} }}
    policy: {{ auto_rollback: true, progress_deadline: 60s, hook_timeout: 60s }}
"#,
        charts = charts.display()
    );
    let env = support::SimProject::start(SCENARIO, &[("helmdeck.yaml", &cfg)], NS, &[]).await;
    env.kubectl(&["create", "namespace", NS]).await;
    env
}

/// (resourceVersion at creation, kind, name, object) of everything created while it runs.
type Created = Arc<Mutex<Vec<(u64, String, String, Value)>>>;

/// Watches ServiceAccounts, Jobs and ReplicaSets of the namespace and records each creation.
async fn watch_creations(
    kubeconfig: &std::path::Path,
) -> (Created, Vec<tokio::task::JoinHandle<()>>) {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(cfg).expect("client");
    let created: Created = Arc::default();
    let mut tasks = Vec::new();
    for (g, v, k, plural) in [
        ("", "v1", "ServiceAccount", "serviceaccounts"),
        ("batch", "v1", "Job", "jobs"),
        ("apps", "v1", "ReplicaSet", "replicasets"),
    ] {
        let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(g, v, k), plural);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NS, &ar);
        let rv = api
            .list(&ListParams::default())
            .await
            .expect("list")
            .metadata
            .resource_version
            .unwrap_or_default();
        let mut stream = api
            .watch(&WatchParams::default(), &rv)
            .await
            .expect("watch")
            .boxed();
        let created = Arc::clone(&created);
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(ev)) = stream.next().await {
                if let WatchEvent::Added(o) = ev {
                    let rv = o
                        .metadata
                        .resource_version
                        .as_deref()
                        .and_then(|r| r.parse().ok())
                        .unwrap_or(0);
                    let name = o.metadata.name.clone().unwrap_or_default();
                    let v = serde_json::to_value(&o).unwrap_or_default();
                    created
                        .lock()
                        .expect("lock")
                        .push((rv, k.to_string(), name, v));
                }
            }
        }));
    }
    (created, tasks)
}

/// The creations recorded so far, in the order the cluster made them.
fn order(created: &Created) -> Vec<(String, String, Value)> {
    let mut c = created.lock().expect("lock").clone();
    c.sort_by_key(|(rv, ..)| *rv);
    c.into_iter().map(|(_, k, n, v)| (k, n, v)).collect()
}

fn position(seen: &[(String, String, Value)], kind: &str, name: &str) -> usize {
    seen.iter()
        .position(|(k, n, _)| k == kind && n.starts_with(name))
        .unwrap_or_else(|| {
            panic!(
                "{kind} {name} was not created; seen: {:?}",
                seen.iter()
                    .map(|(k, n, _)| format!("{k}/{n}"))
                    .collect::<Vec<_>>()
            )
        })
}

async fn exists(env: &support::SimProject, what: &str) -> bool {
    let out = env.kubectl(&["-n", NS, "get", what, "-o", "name"]).await;
    !(out.contains("NotFound") || out.contains("not found"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_in_helms_order_with_their_delete_policies() {
    let env = start().await;
    let (created, tasks) = watch_creations(&env.kubeconfig).await;

    // Install: the pre-install hooks by weight (-10, -5, 0), then the release.
    let first = env.helmdeck(&["deploy", "roll", "--env", "test"]).await;
    assert_eq!(code(&first), 0, "{}", explain(&first));
    let seen = order(&created);
    let sa = position(&seen, "ServiceAccount", "roll-migrator");
    let migrate = position(&seen, "Job", "roll-migrate");
    let bootstrap = position(&seen, "Job", "roll-bootstrap");
    let rs = position(&seen, "ReplicaSet", "roll-");
    assert!(
        sa < migrate && migrate < bootstrap && bootstrap < rs,
        "{sa} {migrate} {bootstrap} {rs}"
    );
    // The migration reads the revision's versioned config, and runs on the `hook` track.
    let job = &seen[migrate].2;
    let cm = job
        .pointer("/spec/template/spec/containers/0/envFrom/0/configMapRef/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(
        cm.starts_with("roll-config-") && cm.len() > "roll-config-".len(),
        "{cm}"
    );
    assert_eq!(
        job.pointer("/spec/template/metadata/labels/helmdeck.io~1track"),
        Some(&Value::from("hook"))
    );
    // Policies: hook-succeeded took the migration; the default (before-hook-creation) kept
    // the account and the bootstrap.
    assert!(
        !exists(&env, "job/roll-migrate").await,
        "hook-succeeded deletes it"
    );
    assert!(exists(&env, "serviceaccount/roll-migrator").await);
    assert!(exists(&env, "job/roll-bootstrap").await);

    // Upgrade: pre-upgrade hooks (the account recreated, not the pre-install bootstrap),
    // the new ReplicaSet, then the post-upgrade notification once healthy.
    created.lock().expect("lock").clear();
    let second = env
        .helmdeck(&[
            "deploy",
            "roll",
            "--env",
            "test",
            "--set",
            "image.tag=1.1.0",
        ])
        .await;
    assert_eq!(code(&second), 0, "{}", explain(&second));
    let seen = order(&created);
    let sa = position(&seen, "ServiceAccount", "roll-migrator");
    let migrate = position(&seen, "Job", "roll-migrate");
    let rs = position(&seen, "ReplicaSet", "roll-");
    let notify = position(&seen, "Job", "roll-notify");
    assert!(sa < migrate && migrate < rs && rs < notify, "{seen:?}");
    assert!(
        !seen.iter().any(|(_, n, _)| n == "roll-bootstrap"),
        "a pre-install hook does not run on upgrade"
    );
    assert!(!exists(&env, "job/roll-notify").await, "hook-succeeded");
    let err = support::stderr(&second);
    assert!(
        err.contains("✓ pre-upgrade Job/roll-migrate (weight -5)"),
        "{err}"
    );
    assert!(
        err.contains("✓ post-upgrade Job/roll-notify (weight 0)"),
        "{err}"
    );

    // The record has them as phases.
    let status = env
        .helmdeck(&["status", "roll", "--env", "test", "-o", "json"])
        .await;
    let st: Value = serde_json::from_str(&support::stdout(&status)).expect("json");
    let hooks: Vec<String> = st["hooks"]
        .as_array()
        .expect("hooks")
        .iter()
        .map(|h| {
            format!(
                "{} {}/{}",
                h["event"].as_str().unwrap_or(""),
                h["kind"].as_str().unwrap_or(""),
                h["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        hooks,
        vec![
            "pre-upgrade ServiceAccount/roll-migrator",
            "pre-upgrade Job/roll-migrate",
            "post-upgrade Job/roll-notify"
        ]
    );
    let phases: Vec<&str> = st["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .filter_map(|p| p["step"]["step"].as_str())
        .collect();
    assert_eq!(
        phases,
        vec![
            "apply-config",
            "hooks",
            "apply-all",
            "wait-healthy",
            "hooks"
        ]
    );
    let text = env.helmdeck(&["status", "roll", "--env", "test"]).await;
    assert!(
        support::stdout(&text).contains("✓ pre-upgrade hooks of r2"),
        "{}",
        support::stdout(&text)
    );
    for t in tasks {
        t.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_migration_leaves_the_primary_untouched_in_every_strategy() {
    let env = start().await;
    for service in ["roll", "can", "bg"] {
        let first = env.helmdeck(&["deploy", service, "--env", "test"]).await;
        assert_eq!(code(&first), 0, "{service}: {}", explain(&first));
        let live = match service {
            "bg" => "bg-blue",
            other => other,
        };
        let before = env.get_json(&["deployment", live]).await;
        let bad = env
            .helmdeck(&[
                "deploy",
                service,
                "--env",
                "test",
                "--set",
                "migrate.tag=2.0.0-crash",
                "--set",
                "image.tag=2.0.0",
            ])
            .await;
        assert_eq!(code(&bad), 1, "{service}: {}", explain(&bad));
        let err = support::stderr(&bad);
        assert!(
            err.contains(&format!("pre-upgrade hook Job/{service}-migrate failed")),
            "{service}: {err}"
        );
        assert!(
            err.contains("| FATAL exiting with code 1"),
            "the Job's log tail: {err}"
        );
        let after = env.get_json(&["deployment", live]).await;
        assert_eq!(
            image_of(&after),
            image_of(&before),
            "{service}: primary untouched"
        );
        assert_eq!(
            after["metadata"]["generation"], before["metadata"]["generation"],
            "{service}: not even re-applied"
        );
        for never in [
            format!("deployment/{service}-canary"),
            "deployment/bg-green".into(),
        ] {
            assert!(!exists(&env, &never).await, "{service}: {never} created");
        }
        // The failed Job stays for inspection (its policy has no hook-failed).
        assert!(exists(&env, &format!("job/{service}-migrate")).await);
        let history = env
            .helmdeck(&["history", service, "--env", "test", "-o", "json"])
            .await;
        let rows: Value = serde_json::from_str(&support::stdout(&history)).expect("json");
        let last = rows
            .as_array()
            .and_then(|r| r.last())
            .cloned()
            .unwrap_or_default();
        assert_eq!(last["status"], "RolledBack", "{service}: {last}");
        let failed = last["hooks"]
            .as_array()
            .and_then(|h| h.iter().find(|h| h["outcome"]["result"] == "failed"))
            .cloned()
            .unwrap_or_default();
        assert!(
            failed["log"]
                .as_str()
                .is_some_and(|l| l.contains("simulated crash")),
            "{service}: {failed}"
        );
        // The next deploy (fixed) goes through: the failed Job is replaced.
        let fixed = env
            .helmdeck(&[
                "deploy",
                service,
                "--env",
                "test",
                "--set",
                "image.tag=2.0.0",
            ])
            .await;
        let want = if service == "can" { 10 } else { 0 };
        assert_eq!(code(&fixed), want, "{service}: {}", explain(&fixed));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helmdeck_test_passes_and_fails_as_its_pods_do() {
    let env = start().await;
    let first = env.helmdeck(&["deploy", "roll", "--env", "test"]).await;
    assert_eq!(code(&first), 0, "{}", explain(&first));
    let ok = env.helmdeck(&["test", "roll", "--env", "test"]).await;
    assert_eq!(code(&ok), 0, "{}", explain(&ok));
    assert!(
        support::stdout(&ok).contains("✓ test Pod/roll-test"),
        "{}",
        explain(&ok)
    );
    let pod = env.get_json(&["pod", "roll-test"]).await;
    assert_eq!(pod["status"]["phase"], "Succeeded");
    assert_eq!(pod["metadata"]["labels"]["helmdeck.io/track"], "hook");

    let broken = env
        .helmdeck(&[
            "deploy",
            "roll",
            "--env",
            "test",
            "--set",
            "test.tag=1.36-crash",
        ])
        .await;
    assert_eq!(code(&broken), 0, "{}", explain(&broken));
    let bad = env
        .helmdeck(&["test", "roll", "--env", "test", "-o", "json"])
        .await;
    assert_eq!(code(&bad), 1, "{}", explain(&bad));
    let report: Value = serde_json::from_str(&support::stdout(&bad)).expect("json");
    assert_eq!(report["passed"], false);
    assert!(
        report["reason"]
            .as_str()
            .is_some_and(|r| r.contains("test hook Pod/roll-test failed")),
        "{report}"
    );
    assert!(
        report["tests"][0]["log"]
            .as_str()
            .is_some_and(|l| l.contains("FATAL")),
        "{report}"
    );
}
