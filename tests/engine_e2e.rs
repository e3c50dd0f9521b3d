//! The delivery engine end to end: the real binary against the simulated cluster (started
//! in-process on loopback), for every strategy, with faults.

mod support;

use serde_json::Value;
use support::{code, explain, image_of};

const SCENARIO: &str = "speed: 20\nseed: 7\npod_start: { min: 1s, max: 2s }\nfaults:\n  - match: { image: \"*:*-crash\" }\n    fault: crashloop\n    after: 1s\n";

const WEB_VALUES: &str =
    "replicaCount: 3\nredis:\n  enabled: false\nautoscaling:\n  enabled: false\n";

type Env = support::SimProject;

/// The project every test here runs in, on a cluster started with `scenario`.
async fn start(scenario: &str) -> Env {
    let charts = support::charts_dir();
    let cfg = format!(
        r#"repositories:
  - {{ name: demo, type: local, path: "{charts}" }}
services:
  - name: web
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: canary
    canary: {{ steps: [ {{ replicas: 1 }}, {{ pause: {{}} }}, {{ percent: 50 }} ] }}
    workloads: [ web ]
  - name: roll
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: rolling
  - name: blue
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: bluegreen
    bluegreen: {{ auto_promote: false, scale_down_delay: 10m }}
  - name: quickbg
    chart: {{ repository: demo, name: web }}
    values: [ ./web.yaml ]
    strategy: bluegreen
    bluegreen: {{ auto_promote: true, scale_down_delay: 2s }}
environments:
  - name: test
    cluster: {{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: e2e }}
    secrets:
      - {{ path: database.password, from: {{ env: E2E_DB_PASSWORD }} }}
    policy: {{ auto_rollback: true, progress_deadline: 60s, keep_revisions: 10 }}
"#,
        charts = charts.display()
    );
    let env = Env::start(
        scenario,
        &[("helmdeck.yaml", &cfg), ("web.yaml", WEB_VALUES)],
        "e2e",
        // Debug logs: the most a log holds, so the secret scan of the logs has text to read.
        &[
            ("E2E_DB_PASSWORD", "e2e-secret-db-pw-9911"),
            ("HELMDECK_LOG", "debug"),
        ],
    )
    .await;
    env.kubectl(&["create", "namespace", "e2e"]).await;
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_deploys_healthy_and_rolls_back_a_crash_loop() {
    let env = start(SCENARIO).await;
    let first = env.helmdeck(&["deploy", "roll", "--env", "test"]).await;
    assert_eq!(code(&first), 0, "{}", explain(&first));
    let dep = env.get_json(&["deployment", "roll-web"]).await;
    let good = image_of(&dep);
    assert!(good.ends_with(":1.2.0"), "{good}");

    let bad = env
        .helmdeck(&[
            "deploy",
            "roll",
            "--env",
            "test",
            "--set",
            "image.tag=1.3.0-crash",
        ])
        .await;
    assert_eq!(code(&bad), 1, "{}", explain(&bad));
    let err = support::stderr(&bad);
    assert!(
        err.contains("CrashLoopBackOff") || err.contains("RestartLimit"),
        "{err}"
    );
    let dep = env.get_json(&["deployment", "roll-web"]).await;
    assert_eq!(image_of(&dep), good, "previous revision serving again");
    let history = env
        .helmdeck(&["history", "roll", "--env", "test", "-o", "json"])
        .await;
    let rows: Value = serde_json::from_str(&support::stdout(&history)).expect("json");
    let statuses: Vec<&str> = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(statuses, vec!["Healthy", "RolledBack"]);
    let all = support::stdout(&first)
        + &support::stderr(&first)
        + &support::stdout(&bad)
        + &support::stderr(&bad);
    assert!(!all.contains("e2e-secret-db-pw-9911"), "secret leaked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_pauses_then_promotes_and_a_crashing_canary_never_touches_the_primary() {
    let env = start(SCENARIO).await;
    let first = env.helmdeck(&["deploy", "web", "--env", "test"]).await;
    assert_eq!(
        code(&first),
        0,
        "first revision goes straight in: {}",
        explain(&first)
    );
    let primary_rs_before = env
        .get_json(&["replicasets", "-l", "app.kubernetes.io/name=web"])
        .await;

    // Revision 2: the canary reaches its manual pause (exit 10).
    let paused = env
        .helmdeck(&["deploy", "web", "--env", "test", "--set", "image.tag=1.2.1"])
        .await;
    assert_eq!(code(&paused), 10, "{}", explain(&paused));
    let canary = env.get_json(&["deployment", "web-canary"]).await;
    assert_eq!(canary["spec"]["replicas"], 1);
    assert!(image_of(&canary).ends_with(":1.2.1"));
    assert!(
        image_of(&env.get_json(&["deployment", "web"]).await).ends_with(":1.2.0"),
        "primary untouched while paused"
    );
    let status = env
        .helmdeck(&["status", "web", "--env", "test", "-o", "json"])
        .await;
    let st: Value = serde_json::from_str(&support::stdout(&status)).expect("json");
    assert_eq!(st["status"], "Paused", "{st}");

    let promoted = env.helmdeck(&["promote", "web", "--env", "test"]).await;
    assert_eq!(code(&promoted), 0, "{}", explain(&promoted));
    assert!(
        image_of(&env.get_json(&["deployment", "web"]).await).ends_with(":1.2.1"),
        "primary runs the new image"
    );
    let gone = env
        .kubectl(&["-n", "e2e", "get", "deployment", "web-canary"])
        .await;
    assert!(
        gone.contains("NotFound") || gone.contains("not found"),
        "canary deleted: {gone}"
    );

    // Revision 3 crash-loops in the canary: rolled back, the primary's ReplicaSets untouched.
    let rs_before = env
        .get_json(&[
            "replicasets",
            "-l",
            "app.kubernetes.io/name=web,helmdeck.io/track=stable",
        ])
        .await;
    let bad = env
        .helmdeck(&[
            "deploy",
            "web",
            "--env",
            "test",
            "--set",
            "image.tag=1.3.0-crash",
        ])
        .await;
    assert_eq!(code(&bad), 1, "{}", explain(&bad));
    assert!(
        support::stderr(&bad).contains("CrashLoopBackOff")
            || support::stderr(&bad).contains("RestartLimit"),
        "{}",
        explain(&bad)
    );
    let rs_after = env
        .get_json(&[
            "replicasets",
            "-l",
            "app.kubernetes.io/name=web,helmdeck.io/track=stable",
        ])
        .await;
    let names = |v: &Value| -> Vec<(String, Value)> {
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    r["spec"]["replicas"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        names(&rs_before),
        names(&rs_after),
        "primary ReplicaSets unchanged"
    );
    assert!(image_of(&env.get_json(&["deployment", "web"]).await).ends_with(":1.2.1"));
    let gone = env
        .kubectl(&["-n", "e2e", "get", "deployment", "web-canary"])
        .await;
    assert!(
        gone.contains("NotFound") || gone.contains("not found"),
        "canary deleted: {gone}"
    );
    let _ = primary_rs_before;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluegreen_stages_then_switches_and_rolls_back_by_selector() {
    let env = start(SCENARIO).await;
    let first = env.helmdeck(&["deploy", "blue", "--env", "test"]).await;
    assert_eq!(code(&first), 0, "{}", explain(&first));
    let svc = env.get_json(&["service", "blue-web"]).await;
    assert_eq!(svc["spec"]["selector"]["helmdeck.io/slot"], "blue");

    let paused = env
        .helmdeck(&[
            "deploy",
            "blue",
            "--env",
            "test",
            "--set",
            "image.tag=1.2.1",
        ])
        .await;
    assert_eq!(code(&paused), 10, "{}", explain(&paused));
    assert_eq!(
        env.get_json(&["service", "blue-web-stage"]).await["spec"]["selector"]["helmdeck.io/slot"],
        "green"
    );
    assert_eq!(
        env.get_json(&["service", "blue-web"]).await["spec"]["selector"]["helmdeck.io/slot"],
        "blue",
        "live stays blue before promotion"
    );

    // Promote: the scale-down delay (10m) keeps blue up; --wait is not given, so the
    // driver stops... it keeps driving through the timed pause, so run promote in the
    // background and check the switch once it happened.
    let promote = {
        let args: Vec<String> = ["promote", "blue", "--env", "test"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let dir = env.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            support::helmdeck(&refs, &dir, &[("E2E_DB_PASSWORD", "e2e-secret-db-pw-9911")])
        })
    };
    let mut switched = false;
    for _ in 0..100 {
        if env.get_json(&["service", "blue-web"]).await["spec"]["selector"]["helmdeck.io/slot"]
            == "green"
        {
            switched = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(switched, "live Service switched to green");
    let pods_before = env.get_json(&["pods"]).await["items"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    let rollback = env.helmdeck(&["rollback", "blue", "--env", "test"]).await;
    assert_eq!(
        code(&rollback),
        0,
        "rollback requested or done: {}",
        explain(&rollback)
    );
    let promoted = promote.await.expect("join");
    assert!(matches!(code(&promoted), 0 | 1), "{}", explain(&promoted));
    assert_eq!(
        env.get_json(&["service", "blue-web"]).await["spec"]["selector"]["helmdeck.io/slot"],
        "blue",
        "traffic back on blue"
    );
    let pods_after = env.get_json(&["pods"]).await["items"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    assert!(
        pods_after <= pods_before,
        "no pod created by the switch back ({pods_before} → {pods_after})"
    );
}

fn spawn_helmdeck(env: &Env, args: &[&str]) -> std::process::Child {
    let cache = env.path().join("cache");
    std::process::Command::new(support::bin())
        .args(args)
        .current_dir(env.path())
        .env("HELMDECK_HELM", support::helm())
        .env("HELMDECK_CACHE_DIR", &cache)
        .env("HELMDECK_DATA_DIR", env.path().join("data"))
        .env("NO_COLOR", "1")
        .env("E2E_DB_PASSWORD", "e2e-secret-db-pw-9911")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn helmdeck")
}

async fn status_of(env: &Env, service: &str) -> Value {
    let out = env
        .helmdeck(&["status", service, "--env", "test", "-o", "json"])
        .await;
    serde_json::from_str(&support::stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}", explain(&out)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_canary_resumes_promotes_or_rolls_back() {
    let env = start(SCENARIO).await;
    assert_eq!(
        code(&env.helmdeck(&["deploy", "web", "--env", "test"]).await),
        0
    );
    for (round, finish) in ["resume", "promote", "rollback"].iter().enumerate() {
        let tag = format!("image.tag=1.2.{}", round + 1);
        let mut child = spawn_helmdeck(
            &env,
            &["deploy", "web", "--env", "test", "--wait", "--set", &tag],
        );
        // Kill it once the canary exists (mid-run).
        let mut seen = false;
        for _ in 0..150 {
            if env
                .kubectl(&["-n", "e2e", "get", "deployment", "web-canary", "-o", "name"])
                .await
                .trim()
                == "deployment.apps/web-canary"
            {
                seen = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(seen, "round {round}: the canary never appeared");
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let st = status_of(&env, "web").await;
        assert!(
            matches!(st["status"].as_str(), Some("Progressing") | Some("Paused")),
            "round {round}: {st}"
        );
        // The killed process held the lease: same operator, so it is taken over at once.
        let out = match *finish {
            "resume" => {
                let r = env
                    .helmdeck(&["deploy", "web", "--env", "test", "--resume"])
                    .await;
                assert!(matches!(code(&r), 0 | 10), "{}", explain(&r));
                if code(&r) == 10 {
                    env.helmdeck(&["promote", "web", "--env", "test", "--full"])
                        .await
                } else {
                    r
                }
            }
            "promote" => {
                env.helmdeck(&["promote", "web", "--env", "test", "--full"])
                    .await
            }
            _ => env.helmdeck(&["rollback", "web", "--env", "test"]).await,
        };
        assert_eq!(code(&out), 0, "round {round} ({finish}): {}", explain(&out));
        let st = status_of(&env, "web").await;
        let want = if *finish == "rollback" {
            "RolledBack"
        } else {
            "Healthy"
        };
        assert_eq!(st["status"], want, "round {round}: {st}");
        let gone = env
            .kubectl(&["-n", "e2e", "get", "deployment", "web-canary"])
            .await;
        assert!(
            gone.contains("NotFound") || gone.contains("not found"),
            "round {round}: canary left behind: {gone}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_operator_is_refused_with_the_holders_name() {
    let env = start(SCENARIO).await;
    assert_eq!(
        code(&env.helmdeck(&["deploy", "web", "--env", "test"]).await),
        0
    );
    let mut child = spawn_helmdeck(
        &env,
        &[
            "deploy",
            "web",
            "--env",
            "test",
            "--wait",
            "--set",
            "image.tag=1.2.9",
        ],
    );
    for _ in 0..100 {
        if env
            .kubectl(&[
                "-n",
                "e2e",
                "get",
                "lease",
                "helmdeck-web",
                "-o",
                "jsonpath={.spec.holderIdentity}",
            ])
            .await
            .contains("pid")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let second = {
        let dir = env.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            support::helmdeck(
                &["deploy", "web", "--env", "test"],
                &dir,
                &[("E2E_DB_PASSWORD", "x"), ("USER", "someone-else")],
            )
        })
        .await
        .expect("join")
    };
    child.kill().expect("kill");
    let _ = child.wait();
    assert_eq!(code(&second), 4, "{}", explain(&second));
    let err = support::stderr(&second);
    assert!(err.contains("locked by") && err.contains("pid"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_rollback_to_and_an_empty_diff_afterwards_without_leaking_secrets() {
    let env = start(SCENARIO).await;
    assert_eq!(
        code(&env.helmdeck(&["deploy", "roll", "--env", "test"]).await),
        0
    );
    assert_eq!(
        code(
            &env.helmdeck(&[
                "deploy",
                "roll",
                "--env",
                "test",
                "--set",
                "image.tag=1.2.5,replicaCount=2"
            ])
            .await
        ),
        0
    );
    let diff_now = env.helmdeck(&["diff", "roll", "--env", "test"]).await;
    assert_eq!(code(&diff_now), 0, "{}", explain(&diff_now));
    let text = support::stdout(&diff_now);
    assert!(
        text.contains("~ apps/Deployment e2e/roll-web"),
        "the live cluster runs 1.2.5 × 2: {text}"
    );

    let back = env
        .helmdeck(&["rollback", "roll", "--env", "test", "--to", "1"])
        .await;
    assert_eq!(code(&back), 0, "{}", explain(&back));
    assert!(image_of(&env.get_json(&["deployment", "roll-web"]).await).ends_with(":1.2.0"));
    let after = env.helmdeck(&["diff", "roll", "--env", "test"]).await;
    assert_eq!(code(&after), 0, "{}", explain(&after));
    let text = support::stdout(&after);
    assert!(text.contains("0 added, 0 changed, 0 removed"), "{text}");

    let against_2 = env
        .helmdeck(&["diff", "roll", "--env", "test", "--revision", "2"])
        .await;
    assert!(
        support::stdout(&against_2).contains("~ apps/Deployment e2e/roll-web"),
        "{}",
        explain(&against_2)
    );

    let history = env.helmdeck(&["history", "roll", "--env", "test"]).await;
    let h = support::stdout(&history);
    assert!(h.contains("rollback to revision 1"), "{h}");
    for o in [&diff_now, &after, &against_2, &history, &back] {
        let all = support::stdout(o) + &support::stderr(o);
        assert!(
            !all.contains("e2e-secret-db-pw-9911"),
            "secret leaked: {all}"
        );
        use base64::Engine as _;
        assert!(!all
            .contains(&base64::engine::general_purpose::STANDARD.encode("e2e-secret-db-pw-9911")));
    }
    // The data directory: the daily logs under data/logs/ (which must exist and hold
    // something: a check of no file proves nothing) and the audit log beside them.
    let data = env.path().join("data");
    let files = support::files_under(&data);
    let logs: Vec<_> = files
        .iter()
        .filter(|f| f.starts_with(data.join("logs")))
        .collect();
    assert!(
        logs.iter()
            .any(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 0)),
        "no log written under {} (files: {files:?})",
        data.join("logs").display()
    );
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode("e2e-secret-db-pw-9911");
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).expect("read")).into_owned();
        assert!(
            !text.contains("e2e-secret-db-pw-9911") && !text.contains(&b64),
            "secret in {}",
            f.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strategy_completes_with_dropped_watches_and_failing_writes() {
    let scenario = format!("{SCENARIO}  - api: {{ verbs: [patch, create, update, delete], rate: 0.1, status: 500 }}\n  - api: {{ drop_watches_every: 2s }}\n");
    let env = start(&scenario).await;
    for svc in ["roll", "web", "quickbg"] {
        let first = env.helmdeck(&["deploy", svc, "--env", "test"]).await;
        assert_eq!(code(&first), 0, "{svc} first: {}", explain(&first));
        let second = env
            .helmdeck(&["deploy", svc, "--env", "test", "--set", "image.tag=1.2.7"])
            .await;
        let second = if code(&second) == 10 {
            env.helmdeck(&["promote", svc, "--env", "test", "--full"])
                .await
        } else {
            second
        };
        assert!(
            matches!(code(&second), 0),
            "{svc} second: {}",
            explain(&second)
        );
    }
}
