//! The delivery engine end to end: the real binary against the simulated cluster (started
//! in-process on loopback), for every strategy, with faults.

mod support;

use helmdeck::sim::{self, Scenario, SimOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

const SCENARIO: &str = "speed: 20\nseed: 7\npod_start: { min: 1s, max: 2s }\nfaults:\n  - match: { image: \"*:*-crash\" }\n    fault: crashloop\n    after: 1s\n";

struct Env {
    _sim: sim::SimHandle,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Env {
    async fn start(scenario: &str) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let scenario = Scenario::from_yaml(scenario).expect("scenario");
        let handle = sim::start(SimOptions { scenario: Some(scenario), kubeconfig_path: Some(kubeconfig.clone()), ..Default::default() })
            .await
            .expect("sim starts");
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
environments:
  - name: test
    cluster: {{ kubeconfig: ./kubeconfig, context: helmdeck-sim, namespace: e2e }}
    secrets:
      - {{ path: database.password, from: {{ env: E2E_DB_PASSWORD }} }}
    policy: {{ auto_rollback: true, progress_deadline: 60s, keep_revisions: 10 }}
"#,
            charts = charts.display()
        );
        std::fs::write(dir.path().join("helmdeck.yaml"), cfg).expect("config");
        std::fs::write(dir.path().join("web.yaml"), "replicaCount: 3\nredis:\n  enabled: false\nautoscaling:\n  enabled: false\n").expect("values");
        let env = Env { _sim: handle, dir, kubeconfig };
        env.kubectl(&["create", "namespace", "e2e"]).await;
        env
    }

    async fn helmdeck(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let dir = self.dir.path().to_path_buf();
        let data = dir.join("data");
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            support::helmdeck(&refs, &dir, &[("E2E_DB_PASSWORD", "e2e-secret-db-pw-9911"), ("HELMDECK_DATA_DIR", data.to_str().unwrap_or("."))])
        })
        .await
        .expect("join")
    }

    async fn kubectl(&self, args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let kc = self.kubeconfig.clone();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new("kubectl").args(&args).env("KUBECONFIG", &kc).output().expect("kubectl");
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
        })
        .await
        .expect("join")
    }

    async fn get_json(&self, what: &[&str]) -> Value {
        let mut args = vec!["-n", "e2e", "get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", "json"]);
        let text = self.kubectl(&args).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("kubectl {what:?}: {e}: {text}"))
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn explain(o: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", o.status.code(), support::stdout(o), support::stderr(o))
}

fn image_of(dep: &Value) -> String {
    dep.pointer("/spec/template/spec/containers/0/image").and_then(Value::as_str).unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_deploys_healthy_and_rolls_back_a_crash_loop() {
    let env = Env::start(SCENARIO).await;
    let first = env.helmdeck(&["deploy", "roll", "--env", "test"]).await;
    assert_eq!(code(&first), 0, "{}", explain(&first));
    let dep = env.get_json(&["deployment", "roll-web"]).await;
    let good = image_of(&dep);
    assert!(good.ends_with(":1.2.0"), "{good}");

    let bad = env.helmdeck(&["deploy", "roll", "--env", "test", "--set", "image.tag=1.3.0-crash"]).await;
    assert_eq!(code(&bad), 1, "{}", explain(&bad));
    let err = support::stderr(&bad);
    assert!(err.contains("CrashLoopBackOff") || err.contains("RestartLimit"), "{err}");
    let dep = env.get_json(&["deployment", "roll-web"]).await;
    assert_eq!(image_of(&dep), good, "previous revision serving again");
    let history = env.helmdeck(&["history", "roll", "--env", "test", "-o", "json"]).await;
    let rows: Value = serde_json::from_str(&support::stdout(&history)).expect("json");
    let statuses: Vec<&str> = rows.as_array().expect("rows").iter().filter_map(|r| r["status"].as_str()).collect();
    assert_eq!(statuses, vec!["Healthy", "RolledBack"]);
    let all = support::stdout(&first) + &support::stderr(&first) + &support::stdout(&bad) + &support::stderr(&bad);
    assert!(!all.contains("e2e-secret-db-pw-9911"), "secret leaked");
}
